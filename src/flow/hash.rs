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
