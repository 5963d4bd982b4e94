//! A set of DNS name suffixes (allow-lists, ignore-lists), asked per name in a few hash lookups.
//!
//! [`SuffixSet::matches`] answers what `list.iter().any(|s| name_is_under(name, s))` answers,
//! but looks up each of the name's own suffixes (one per label boundary) instead of comparing
//! the name against every entry: a name of four labels costs four lookups whether the list has
//! three entries or three hundred. The lists of `dns_tunnel` and `beacon` were asked for every
//! DNS message, TLS server name and HTTP host (~35 comparisons each on the default lists).

use super::dns::name_is_under;
use rustc_hash::FxHashSet;

/// Longest name looked up without falling back to comparing entry by entry: every DNS name
/// fits (255 bytes); a TLS server name or HTTP host longer than this is compared the slow way.
const WINDOW: usize = 256;

/// Suffixes matched ASCII case-insensitively on label boundaries, as [`name_is_under`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SuffixSet {
    /// Lower-cased entries without a trailing dot; empty entries (which match nothing) dropped.
    set: FxHashSet<Box<[u8]>>,
    /// The same entries, for the fallback on over-long names.
    list: Vec<Box<[u8]>>,
    /// Length of the longest entry: no suffix of a name longer than this can be in the set.
    longest: usize,
}

impl SuffixSet {
    /// The set of `entries` (a trailing dot is ignored, case is not significant).
    pub(crate) fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut s = SuffixSet::default();
        for e in entries {
            let e = e.as_ref();
            let e = e.strip_suffix(b".").unwrap_or(e);
            if e.is_empty() {
                continue;
            }
            let lower: Box<[u8]> = e.to_ascii_lowercase().into();
            s.longest = s.longest.max(lower.len());
            if s.set.insert(lower.clone()) {
                s.list.push(lower);
            }
        }
        s
    }

    /// Number of distinct entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    /// True if `name` equals an entry or ends with `.entry` (ASCII case-insensitive).
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        if self.set.is_empty() {
            return false;
        }
        let name = name.strip_suffix(b".").unwrap_or(name);
        // Only the last `longest` bytes can hold an entry.
        let start = name.len().saturating_sub(self.longest);
        let tail = &name[start..];
        if tail.len() > WINDOW {
            return self.list.iter().any(|s| name_is_under(name, s));
        }
        let mut buf = [0u8; WINDOW];
        let lower = &mut buf[..tail.len()];
        lower.copy_from_slice(tail);
        lower.make_ascii_lowercase();
        // The suffixes of `name` that start a label: the whole name, and after each dot.
        if start == 0 && self.set.contains(&*lower) {
            return true;
        }
        let before = if start == 0 { None } else { name.get(start - 1) };
        if before == Some(&b'.') && self.set.contains(&*lower) {
            return true;
        }
        lower.iter().enumerate().any(|(i, &b)| b == b'.' && self.set.contains(&lower[i + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set answers exactly what comparing against every entry answers.
    #[test]
    fn same_answers_as_name_is_under() {
        let entries: &[&[u8]] =
            &[b"honeygain.com", b"Example.ORG.", b"local", b"", b".", b"arpa", b"a.b.c", b".lead", b"x"];
        let names: &[&[u8]] = &[
            b"honeygain.com",
            b"api.honeygain.com",
            b"API.HoneyGain.Com.",
            b"nothoneygain.com",
            b"honeygain.com.evil.net",
            b"example.org",
            b"www.example.org.",
            b"printer.local",
            b"local",
            b"1.0.0.192.in-addr.arpa",
            b"c",
            b"b.c",
            b"a.b.c",
            b"za.b.c",
            b"z.a.b.c",
            b"",
            b".",
            b"..",
            b"x..lead",
            b"lead",
            b"x",
            b"y.x",
            b"yx",
            b"com",
        ];
        let set = SuffixSet::new(entries);
        assert_eq!(set.len(), 7);
        for n in names {
            let slow = entries.iter().any(|s| name_is_under(n, s));
            assert_eq!(set.matches(n), slow, "{}", String::from_utf8_lossy(n));
        }
        assert!(!SuffixSet::new::<_, &[u8]>([]).matches(b"a.com"));
    }

    /// Names longer than the window (a long TLS server name) still match, the slow way.
    #[test]
    fn long_entries_and_names() {
        let long = format!("{}.com", "a".repeat(300));
        let set = SuffixSet::new([long.as_bytes(), b"example.com".as_slice()]);
        assert!(set.matches(format!("x.{long}").as_bytes()));
        assert!(set.matches(long.as_bytes()));
        assert!(!set.matches(format!("x{long}").as_bytes()));
        let name = format!("{}.example.com", "b".repeat(400));
        assert!(set.matches(name.as_bytes()));
        assert!(SuffixSet::new(["example.com"]).matches(name.as_bytes()));
    }
}
