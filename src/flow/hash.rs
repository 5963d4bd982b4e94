//! FxHash with a finishing mix, for maps keyed by addresses (issue 25).
//!
//! `hashbrown` (behind `std::collections::HashMap`) takes a key's 7-bit tag from the hash's top
//! bits and its home position from the low ones. FxHash alone leaves both nearly constant for
//! keys that differ only in a few bytes: the day profile's 1,954 IPv6 hosts of one prefix got 2
//! distinct tags and 8 distinct low 12 bits, so every lookup walked one long probe run comparing
//! ~25 keys (~670 instructions). A multiply-xorshift finish (4 instructions) spreads them as
//! random keys. [`Mixed`] is that hasher; [`MixedHashMap`] and [`MixedHashSet`] are the maps.

use rustc_hash::FxHasher;
use std::hash::{BuildHasher, Hasher};

/// Spreads every bit of `h` over both ends of the word.
#[inline]
pub(crate) fn mix(h: u64) -> u64 {
    let h = (h ^ (h >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 32)
}

/// `b` (at most 8 bytes) as a little-endian word, zero-padded: what copying it into a zeroed
/// `[u8; 8]` and reading that gives, but from at most three loads of `b` itself. Copying a short
/// tail to the stack and reading it back as one word stalls the load on the stores (no store
/// forwarding from several narrow stores to one wide load): ~15 cycles a hashed name, a third
/// of a memo lookup's time in a random-subdomain flood (`perf annotate`).
#[inline(always)]
pub(crate) fn word_of(b: &[u8]) -> u64 {
    let n = b.len();
    if let Ok(w) = <[u8; 8]>::try_from(b) {
        return u64::from_le_bytes(w);
    }
    if n >= 4 {
        // Two overlapping 4-byte loads: the bytes they share land on the same places.
        let lo = b.first_chunk::<4>().map_or(0, |w| u64::from(u32::from_le_bytes(*w)));
        let hi = b.last_chunk::<4>().map_or(0, |w| u64::from(u32::from_le_bytes(*w)));
        return lo | (hi << ((n - 4) * 8));
    }
    match b {
        [] => 0,
        [a] => u64::from(*a),
        [a, c] => u64::from(*a) | (u64::from(*c) << 8),
        [a, m, c, ..] => u64::from(*a) | (u64::from(*m) << 8) | (u64::from(*c) << 16),
    }
}

/// The eight bytes of `w` ASCII-lower-cased (`A`-`Z` to `a`-`z`, every other byte kept), with no
/// branch: a byte's high bit marks it, below, once `A` or more and once past `Z`.
#[inline(always)]
pub(crate) fn lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = w & !HIGH;
    // No carry crosses a byte: each is at most 0x7f + 0x3f.
    let at_least_a = low7 + ONES * u64::from(0x80 - b'A');
    let past_z = low7 + ONES * u64::from(0x7f - b'Z');
    let upper = at_least_a & !past_z & !w & HIGH;
    w | (upper >> 2)
}

/// A case-insensitive hash of `b`: eight bytes at a time, each word lower-cased in registers
/// ([`lower_word`]) and hashed whole (a byte at a time cost ~5 instructions a byte, twice a
/// query; a stack copy lower-cased by the standard library ~3).
pub(crate) fn hash_lower(b: &[u8]) -> u64 {
    hash_lower_words(b, |_, _| {})
}

/// [`hash_lower`], handing each lower-cased word to `word` with its position (eight bytes
/// each; the last, short or empty, zero-padded) as it goes.
#[inline(always)]
pub(crate) fn hash_lower_words(b: &[u8], mut word: impl FnMut(usize, u64)) -> u64 {
    let mut h = FxHasher::default();
    let mut words = b.chunks_exact(8);
    for (i, w) in (&mut words).enumerate() {
        let w = lower_word(word_of(w));
        word(i, w);
        h.write_u64(w);
    }
    let last = lower_word(word_of(words.remainder()));
    word(b.len() / 8, last);
    h.write_u64(last);
    // The length tells a name apart from the same name with NUL bytes after it.
    h.write_usize(b.len());
    h.finish()
}

/// Builds [`MixedHasher`]s: FxHash, then [`mix`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mixed;

/// FxHash whose result goes through [`mix`].
#[derive(Default)]
pub(crate) struct MixedHasher(FxHasher);

impl BuildHasher for Mixed {
    type Hasher = MixedHasher;

    #[inline]
    fn build_hasher(&self) -> MixedHasher {
        MixedHasher(FxHasher::default())
    }
}

impl Hasher for MixedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.write_u8(i);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.0.write_u16(i);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.write_u32(i);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.write_u64(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0.write_u128(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.write_usize(i);
    }
    #[inline]
    fn finish(&self) -> u64 {
        mix(self.0.finish())
    }
}

/// A `HashMap` hashed by [`Mixed`].
pub(crate) type MixedHashMap<K, V> = std::collections::HashMap<K, V, Mixed>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{IpAddr, Ipv6Addr};

    #[test]
    fn names_hash_alike_whatever_their_case_and_differ_otherwise() {
        let long = "Ab0-".repeat(50);
        for name in ["a.example.com", "MiXeD.ExAmPlE.CoM", long.as_str(), ""] {
            let lower = name.to_ascii_lowercase();
            assert_eq!(hash_lower(name.as_bytes()), hash_lower(lower.as_bytes()), "{name}");
        }
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            assert!(seen.insert(hash_lower(format!("{i:x}.example.com").as_bytes())), "{i}");
        }
        // Past the 64-byte buffer: a difference in the second chunk still counts.
        let (a, b) = (format!("{long}x"), format!("{long}y"));
        assert_ne!(hash_lower(a.as_bytes()), hash_lower(b.as_bytes()));
    }

    #[test]
    fn a_word_is_lower_cased_as_the_standard_library_does_it() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b, b'Q', 0x80 | b, b'z', b'@', b'[', b, 0xff]);
            let mut want = w.to_le_bytes();
            want.make_ascii_lowercase();
            assert_eq!(lower_word(w).to_le_bytes(), want, "{b:#x}");
        }
    }

    /// `word_of` is the zero-padded little-endian word of every slice up to 8 bytes long,
    /// whatever the bytes and wherever the slice starts.
    #[test]
    fn word_of_is_the_zero_padded_word() {
        let bytes: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(0x9e37_79b9) >> 13) as u8 | 1).collect();
        for start in 0..16 {
            for n in 0..=8 {
                let b = &bytes[start..start + n];
                let mut x = [0u8; 8];
                x[..n].copy_from_slice(b);
                assert_eq!(word_of(b), u64::from_le_bytes(x), "{b:?}");
            }
        }
    }

    /// Regression (issue 25): IPv6 hosts of one prefix, numbered from 1 as the day profile's
    /// are, must spread over the tags (top 7 bits) and home positions (low bits) `hashbrown`
    /// reads; FxHash alone gave them 2 tags and 8 distinct low 12 bits. Also as the first field
    /// of a tuple key, as proxyware's alert memory files them.
    #[test]
    fn ipv6_hosts_of_one_prefix_spread_over_tags_and_positions() {
        let host = |i: u128| IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i));
        let spread = |hashes: Vec<u64>| {
            let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
            let low: HashSet<u64> = hashes.iter().map(|h| h & 4095).collect();
            assert_eq!(tags.len(), 128);
            assert!(low.len() > 1400, "{} distinct low 12 bits", low.len());
        };
        spread((1..=2000u128).map(|i| Mixed.hash_one(host(i))).collect());
        spread((1..=2000u128).map(|i| Mixed.hash_one((host(i), 7u32, 0u64))).collect());
        spread((1..=2000u128).map(|i| Mixed.hash_one(Ipv6Addr::from(0xfe80_u128 << 112 | i))).collect());
    }

    /// What the mix is for: FxHash alone does not spread these (if it ever does, the mix may
    /// be unnecessary, not wrong).
    #[test]
    fn fxhash_alone_leaves_them_bunched() {
        let tags: HashSet<u64> = (1..=2000u128)
            .map(|i| {
                rustc_hash::FxBuildHasher.hash_one(IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | i)))
                    >> 57
            })
            .collect();
        assert!(tags.len() < 16, "{} tags", tags.len());
    }
}
