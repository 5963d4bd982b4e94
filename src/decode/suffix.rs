//! A set of DNS name suffixes (allow-lists, ignore-lists), asked per name in a few hash lookups.
//!
//! [`SuffixSet::matches`] answers what `list.iter().any(|s| name_is_under(name, s))` answers,
//! but looks up each of the name's own suffixes (one per label boundary) instead of comparing
//! the name against every entry: a name of four labels costs four lookups whether the list has
//! three entries or three hundred. The lists of `dns_tunnel` and `beacon` were asked for every
//! DNS message, TLS server name and HTTP host (~35 comparisons each on the default lists).

use super::dns::DnsName;
use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::Cell;

/// Bits in the filter that turns away most suffixes before the map is asked: 1,024 (128
/// bytes) keep false hits near 3 % for the ~35 entries of the default lists.
const FILTER_BITS: usize = 1024;

/// Suffixes matched ASCII case-insensitively on label boundaries, as
/// [`name_is_under`](super::dns::name_is_under).
///
/// A name is hashed once, from its last byte towards its first, lower-casing as it goes: at
/// each label boundary the hash so far is that of the suffix after it, so every candidate
/// suffix costs a bit test in a small filter (a map lookup and a comparison only when the bit
/// is set), with no copy of the name and no second walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct SuffixSet {
    /// Lower-cased entries without a trailing dot, each once; empty entries (which match
    /// nothing) dropped.
    list: Vec<Box<[u8]>>,
    /// Entry positions in `list` by [`suffix_hash`] (several when hashes collide).
    by_hash: FxHashMap<u64, Vec<u32>>,
    /// Bit [`filter_bit`] of every entry's hash.
    filter: Vec<u64>,
    /// Bit [`filter_bit`] of the hash of every entry's suffixes that start a label (the entry
    /// itself included): a name's suffix without its bit ends the walk, as no longer suffix
    /// can be an entry (`example.com` of a random name under it, when only `microsoft.com`
    /// and `google.com` are listed: two labels looked at, not the name's last 25 bytes).
    tails: Vec<u64>,
    /// Length of the longest entry: no suffix of a name longer than this can be in the set.
    longest: usize,
    /// The suffixes of entries that start a label after the entry's first (exactly, not as
    /// filter bits): a domain is one of them when an entry lies deeper under it.
    deeper: FxHashSet<Box<[u8]>>,
    /// Verdicts by registrable domain ([`SuffixSet::matches_under`]), direct-mapped; each
    /// keeps the domain's bytes, so a hit is never another domain's.
    memo: Box<[Cell<Verdict>]>,
}

/// Places in a set's verdict memo: the DNS of a network asks about a few hundred domains.
const MEMO_PLACES: usize = 256;
/// Longest registrable domain kept in the memo (longer ones are walked every time).
const MEMO_DOMAIN: usize = 40;

/// Words of a memo's domain.
const MEMO_WORDS: usize = MEMO_DOMAIN / 8;

/// What every name under one registrable domain gets ([`SuffixSet::matches_under`]).
#[derive(Debug, Clone, Copy, Default)]
struct Verdict {
    /// The domain's key: a hit is its length and five word compares.
    domain: DomainKey,
    /// Every name under the domain matches (`Some(true)`) or none does (`Some(false)`);
    /// `None`: entries lie deeper under the domain, so each name is walked.
    matches: Option<bool>,
}

/// A registrable domain made ready, once per DNS message, for every set's memo and every
/// table keyed by it ([`crate::decode::dns::DnsName::cache_registrable`]): its case-insensitive
/// hash ([`crate::flow::hash::hash_lower`]) and, when it is at most [`MEMO_DOMAIN`] bytes, its
/// bytes lower-cased as little-endian words, zero after them. Three detectors ask their sets
/// about every query's domain; each hashed and read the domain's bytes again (~135
/// instructions a set, a tenth of a random-subdomain flood's worker; with the key the flood's
/// run took 0.224 s, not 0.237 s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DomainKey {
    hash: u64,
    words: [u64; MEMO_WORDS],
    /// The domain's length; 0 (no memo) when it is longer than [`MEMO_DOMAIN`].
    len: u8,
}

impl DomainKey {
    /// The key of `domain`, in one pass over its bytes.
    pub(crate) fn of(domain: &[u8]) -> DomainKey {
        let mut key = DomainKey::default();
        key.set(domain);
        key
    }

    /// Makes this the key of `domain`, in place (built on the stack and copied out, its words'
    /// narrow stores stalled the copy's wide loads: ~4 % of a subdomain flood's worker).
    #[inline]
    pub(crate) fn set(&mut self, domain: &[u8]) {
        let key = self;
        key.words = [0; MEMO_WORDS];
        let words = &mut key.words;
        key.hash = crate::flow::hash::hash_lower_words(domain, |i, w| {
            if let Some(k) = words.get_mut(i) {
                *k = w;
            }
        });
        if domain.len() <= MEMO_DOMAIN {
            key.len = domain.len() as u8;
        } else {
            key.len = 0;
            key.words = [0; MEMO_WORDS];
        }
    }

    /// [`crate::flow::hash::hash_lower`] of the domain.
    #[inline]
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// The same domain, ignoring case (both 1 to [`MEMO_DOMAIN`] bytes): no branch per word.
    #[inline(always)]
    fn same(&self, other: &DomainKey) -> bool {
        let diff = self.words.iter().zip(&other.words).fold(0, |d, (a, b)| d | (a ^ b));
        diff == 0 && self.len == other.len
    }

    /// Its place in a set's memo (the hash's top bits: FxHash's last multiply mixes them best).
    #[inline(always)]
    fn memo_place(&self) -> usize {
        (self.hash >> 56) as usize % MEMO_PLACES
    }
}

/// The hash of the empty suffix.
const BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// Each byte ASCII-lower-cased, by table (one load, where the test and the or took four
/// instructions a byte).
const LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// One more byte (towards the name's start) into a suffix's hash, lower-cased: a rotation and
/// an exclusive or, two cycles a byte where FNV-1a's multiply took four. The hash is mixed
/// where it is used ([`filter_bit`] multiplies it, the map hashes it again), and a hit is
/// confirmed by comparing the bytes, so its weakness only costs a rare wasted lookup.
#[inline(always)]
fn step(h: u64, b: u8) -> u64 {
    h.rotate_left(5) ^ u64::from(LOWER[usize::from(b)])
}

/// Sets `h`'s bit in `filter`.
fn set_bit(filter: &mut [u64], h: u64) {
    let (w, bit) = filter_bit(h);
    if let Some(word) = filter.get_mut(w) {
        *word |= bit;
    }
}

/// Is `h`'s bit set in `filter`?
#[inline(always)]
fn has_bit(filter: &[u64], h: u64) -> bool {
    let (w, bit) = filter_bit(h);
    filter.get(w).is_some_and(|&word| word & bit != 0)
}

/// The hash of a suffix, its bytes taken from last to first, case folded.
fn suffix_hash(s: &[u8]) -> u64 {
    s.iter().rev().fold(BASIS, |h, &b| step(h, b))
}

/// The filter bit of a hash (its well-mixed high bits).
#[inline(always)]
fn filter_bit(h: u64) -> (usize, u64) {
    let i = (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize;
    (i / 64, 1 << (i % 64))
}

impl SuffixSet {
    /// The set of `entries` (a trailing dot is ignored, case is not significant).
    pub(crate) fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let words = FILTER_BITS / 64;
        let mut s = SuffixSet {
            filter: vec![0; words],
            tails: vec![0; words],
            memo: (0..MEMO_PLACES).map(|_| Cell::new(Verdict::default())).collect(),
            ..SuffixSet::default()
        };
        for e in entries {
            let e = e.as_ref();
            let e = e.strip_suffix(b".").unwrap_or(e);
            if e.is_empty() {
                continue;
            }
            let lower: Box<[u8]> = e.to_ascii_lowercase().into();
            if s.list.contains(&lower) {
                continue;
            }
            let h = suffix_hash(&lower);
            set_bit(&mut s.filter, h);
            set_bit(&mut s.tails, h);
            for (i, _) in lower.iter().enumerate().filter(|&(_, &b)| b == b'.') {
                set_bit(&mut s.tails, suffix_hash(&lower[i + 1..]));
                s.deeper.insert(lower[i + 1..].into());
            }
            s.longest = s.longest.max(lower.len());
            s.by_hash.entry(h).or_default().push(s.list.len() as u32);
            s.list.push(lower);
        }
        s
    }

    /// Number of distinct entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Is `suffix` (hashing to `h`) an entry?
    #[inline(always)]
    fn holds(&self, h: u64, suffix: &[u8]) -> bool {
        if !has_bit(&self.filter, h) {
            return false;
        }
        self.by_hash.get(&h).is_some_and(|ix| {
            ix.iter().any(|&i| self.list.get(i as usize).is_some_and(|e| e.eq_ignore_ascii_case(suffix)))
        })
    }

    /// True if `name` equals an entry or ends with `.entry` (ASCII case-insensitive).
    pub(crate) fn matches(&self, name: &[u8]) -> bool {
        if self.list.is_empty() {
            return false;
        }
        let name = name.strip_suffix(b".").unwrap_or(name);
        // Only the last `longest` bytes can hold an entry.
        let start = name.len().saturating_sub(self.longest);
        let tail = &name[start..];
        // The suffixes of `name` that start a label: after each dot, and the whole name.
        let mut h = BASIS;
        let mut i = tail.len();
        while i > 0 {
            i -= 1;
            let Some(&b) = tail.get(i) else { break };
            if b == b'.' {
                let after = tail.get(i + 1..).unwrap_or_default();
                if !has_bit(&self.tails, h) {
                    return false;
                }
                if self.holds(h, after) {
                    return true;
                }
            }
            h = step(h, b);
        }
        let at_label = start == 0 || name.get(start - 1) == Some(&b'.');
        at_label && self.holds(h, tail)
    }

    /// [`SuffixSet::matches`] for a name whose registrable domain is `domain` (a suffix of it
    /// that starts a label, as [`crate::decode::dns::DnsName::registrable`] gives) with `key`
    /// its [`DomainKey`]: one answer serves every name under the domain, so it is worked out
    /// once and remembered. An entry the domain falls under matches every name under it; with
    /// no such entry, and no entry deeper under the domain, no name under it matches; only a
    /// domain with entries deeper under it (`s3.amazonaws.com` listed, `amazonaws.com` asked)
    /// needs each name walked. A random-subdomain flood's names cost a memo hit each, not a
    /// walk of their last labels.
    pub(crate) fn matches_under(&self, name: &[u8], domain: &[u8], key: &DomainKey) -> bool {
        let bare = name.strip_suffix(b".").unwrap_or(name);
        let Some(rest) = bare.len().checked_sub(domain.len()) else { return self.matches(name) };
        let at_label = rest == 0 || (rest > 1 && bare.get(rest - 1) == Some(&b'.'));
        // The name's own bytes (the registrable domain of a `DnsName` is a slice of it): no
        // comparison needed.
        let tail = &bare[rest..];
        let same = std::ptr::eq(tail.as_ptr(), domain.as_ptr()) || tail.eq_ignore_ascii_case(domain);
        if key.len == 0
            || usize::from(key.len) != domain.len()
            || domain.ends_with(b".")
            || !at_label
            || !same
        {
            return self.matches(name);
        }
        let Some(place) = self.memo.get(key.memo_place()) else { return self.matches(name) };
        let v = place.get();
        let matches = if v.domain.same(key) {
            v.matches
        } else {
            let matches = self.verdict(domain);
            place.set(Verdict { domain: *key, matches });
            matches
        };
        matches.unwrap_or_else(|| self.matches(name))
    }

    /// [`SuffixSet::matches_under`] for a DNS name, with its registrable domain and that
    /// domain's key as [`DnsName::cache_registrable`] left them.
    #[inline]
    pub(crate) fn matches_name(&self, name: &DnsName) -> bool {
        self.matches_under(name.as_bytes(), name.registrable(), &name.registrable_key())
    }

    /// What every name under `domain` (at most [`MEMO_DOMAIN`] bytes) gets: `Some` answer for
    /// them all, or `None` when entries lie deeper under it.
    fn verdict(&self, domain: &[u8]) -> Option<bool> {
        if self.matches(domain) {
            return Some(true);
        }
        // (Lower-cased on the stack, for the exact set.)
        let mut lower = [0u8; MEMO_DOMAIN];
        let lower = lower.get_mut(..domain.len())?;
        lower.copy_from_slice(domain);
        lower.make_ascii_lowercase();
        (!self.deeper.contains(&*lower)).then_some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::name_is_under;

    /// [`SuffixSet::matches_under`] with the domain's key made here.
    fn under(set: &SuffixSet, name: &[u8], domain: &[u8]) -> bool {
        set.matches_under(name, domain, &DomainKey::of(domain))
    }

    /// A domain's key hashes as `hash_lower` (the tables keyed by it) and is the same key in
    /// any case; domains that differ, in bytes or in length, have different keys.
    #[test]
    fn domain_keys_ignore_case_only() {
        let domains: &[&[u8]] = &[
            b"",
            b"a",
            b"example.com",
            b"EXAMPLE.Com",
            b"example.co",
            b"example.com\0",
            b"exactly-forty-bytes-long-domain-name.com",
            b"longer-than-forty-bytes-registrable-domain.com",
            b"longer-than-forty-bytes-registrable-domain.COM",
        ];
        for d in domains {
            let k = DomainKey::of(d);
            assert_eq!(k.hash(), crate::flow::hash::hash_lower(d), "{}", String::from_utf8_lossy(d));
            // (Only keys that can be remembered are compared: 1 to 40 bytes.)
            let memo = |x: &[u8]| (1..=MEMO_DOMAIN).contains(&x.len());
            for e in domains.iter().filter(|e| memo(e) && memo(d)) {
                assert_eq!(k.same(&DomainKey::of(e)), d.eq_ignore_ascii_case(e), "{d:?} {e:?}");
            }
        }
    }

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

    /// Deterministic random numbers, and words of them over a small alphabet (dots, cases).
    struct Words(u64);

    impl Words {
        fn next(&mut self) -> u64 {
            self.0 = crate::flow::host::mix(self.0);
            self.0
        }
        fn word(&mut self, n: u64) -> Vec<u8> {
            (0..n).map(|_| b"aAbB.c"[(self.next() % 6) as usize]).collect()
        }
    }

    /// Random names from a small alphabet (dots, cases) against random lists: the same answers
    /// as comparing against every entry.
    #[test]
    fn same_answers_on_random_names_and_lists() {
        let mut r = Words(0x1234_5678_9abc_def0);
        let mut hits = 0;
        for _ in 0..300 {
            let n = 1 + r.next() % 6;
            let entries: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = 1 + r.next() % 5;
                    r.word(len)
                })
                .collect();
            let set = SuffixSet::new(&entries);
            for _ in 0..50 {
                let len = r.next() % 12;
                let name = r.word(len);
                let slow = entries.iter().any(|s| name_is_under(&name, s));
                hits += usize::from(slow);
                assert_eq!(set.matches(&name), slow, "{:?} in {:?}", String::from_utf8_lossy(&name), entries);
            }
        }
        assert!(hits > 500, "{hits}");
    }

    /// Asked with a domain the name falls under (any label suffix, as a registrable domain is),
    /// again and again so the memo answers, in other cases, with domains that share memo
    /// places: the same answers as the walk.
    #[test]
    fn answers_under_a_domain_are_the_walks() {
        let mut r = Words(0x0bad_cafe_1234_5678);
        let (mut hits, mut asked) = (0, 0);
        for _ in 0..200 {
            let n = 1 + r.next() % 6;
            let entries: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = 1 + r.next() % 7;
                    r.word(len)
                })
                .collect();
            let set = SuffixSet::new(&entries);
            for _ in 0..3 {
                for _ in 0..60 {
                    let len = r.next() % 14;
                    let name = r.word(len);
                    let slow = entries.iter().any(|s| name_is_under(&name, s));
                    let starts = std::iter::once(0)
                        .chain(name.iter().enumerate().filter(|&(_, &b)| b == b'.').map(|(i, _)| i + 1));
                    for start in starts {
                        let domain = &name[start..];
                        asked += 1;
                        hits += usize::from(slow);
                        assert_eq!(
                            under(&set, &name, domain),
                            slow,
                            "{:?} under {:?} in {:?}",
                            String::from_utf8_lossy(&name),
                            String::from_utf8_lossy(domain),
                            entries
                        );
                    }
                }
            }
        }
        assert!(hits > 1000 && asked > 20_000, "{hits} of {asked}");
        // Entries deeper under the domain: each name is walked.
        let set = SuffixSet::new(["s3.amazonaws.com", "Local"]);
        for _ in 0..2 {
            assert!(under(&set, b"x.s3.amazonaws.com", b"amazonaws.com"));
            assert!(!under(&set, b"x.ec2.amazonaws.com", b"amazonaws.com"));
            assert!(under(&set, b"printer.LOCAL", b"LOCAL"));
            assert!(!under(&set, b"a.example.com", b"example.com"));
        }
        // A domain the name does not end with is not trusted: the walk answers.
        assert!(under(&set, b"a.s3.amazonaws.com", b"example.com"));
        // Many domains in few places: each verdict is the domain's own.
        let set = SuffixSet::new(["d7.example"]);
        for round in 0..3 {
            for i in 0..2000 {
                let d = format!("d{i}.example");
                let name = format!("q{round}.{d}");
                assert_eq!(under(&set, name.as_bytes(), d.as_bytes()), i == 7, "{name}");
            }
        }
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
