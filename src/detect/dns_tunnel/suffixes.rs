//! A set of domain suffixes (`allow_domains`, `ignore_suffixes`) asked about every query: one
//! hash lookup per label of the query name instead of a case-insensitive compare per listed
//! suffix (with ~40 suffixes listed that compare loop took a fifth of a random-subdomain flood).
//! Answers exactly as `name_is_under` against each suffix.

use crate::decode::dns::name_is_under;
use rustc_hash::FxHashSet;

/// Lowercased suffixes, without their trailing dot.
#[derive(Debug, Default)]
pub(super) struct Suffixes {
    set: FxHashSet<Box<[u8]>>,
    /// As given, for names too long for the stack buffer (never from the DNS parser).
    list: Vec<Vec<u8>>,
}

/// Longest name looked up through the set.
const MAX: usize = 256;

impl Suffixes {
    pub(super) fn new<'a>(suffixes: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut s = Suffixes::default();
        for x in suffixes {
            s.list.push(x.to_vec());
            let x = x.strip_suffix(b".").unwrap_or(x);
            if !x.is_empty() {
                s.set.insert(x.to_ascii_lowercase().into_boxed_slice());
            }
        }
        s
    }

    /// Is `name` one of the suffixes or under one ([`name_is_under`])?
    pub(super) fn matches(&self, name: &[u8]) -> bool {
        if self.set.is_empty() {
            return false;
        }
        let name = name.strip_suffix(b".").unwrap_or(name);
        if name.len() > MAX {
            return self.list.iter().any(|s| name_is_under(name, s));
        }
        let mut buf = [0u8; MAX];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let lower = &*lower;
        self.set.contains(lower)
            || lower
                .iter()
                .enumerate()
                .any(|(i, &b)| b == b'.' && lower.get(i + 1..).is_some_and(|t| self.set.contains(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_name_is_under_each_suffix() {
        let suffixes: Vec<&[u8]> =
            vec![b"example.com", b"Example.NET.", b"arpa", b".odd", b"local", b"", b"b", b"a.b.c"];
        let s = Suffixes::new(suffixes.iter().copied());
        let names: &[&[u8]] = &[
            b"example.com",
            b"EXAMPLE.com.",
            b"www.example.com",
            b"wwwexample.com",
            b"x.example.net",
            b"example.net.evil",
            b"1.0.0.127.in-addr.arpa",
            b"a..odd",
            b"x.odd",
            b".odd",
            b"a.b",
            b"ab",
            b"x.a.b.c",
            b"xa.b.c",
            b"",
            b".",
            b"printer.LOCAL",
            b"3hbdsjk3h2jk4h.flood.example.org",
        ];
        for n in names {
            let want = suffixes.iter().any(|x| name_is_under(n, x));
            assert_eq!(s.matches(n), want, "{}", String::from_utf8_lossy(n));
        }
        let long = [b'a'; 300];
        assert!(!s.matches(&long));
        assert!(!Suffixes::new(std::iter::empty()).matches(b"example.com"));
    }
}
