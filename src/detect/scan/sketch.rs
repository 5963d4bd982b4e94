//! Fixed-size sketches for per-source state that must not grow with the scan: a two-generation
//! Bloom filter (which targets were already contacted) and a small HyperLogLog (how many
//! distinct hosts and ports failed). Both cost the same bytes for ten targets or a /8.

use super::spare::Shelf;
use crate::flow::host::mix;

/// A hash of a (protocol, port) pair.
pub(crate) fn hash_port(proto: u8, port: u16) -> u64 {
    mix((u64::from(proto) << 16 | u64::from(port)) ^ 0x5ca1_ab1e)
}

/// Bits per Bloom generation.
const BLOOM_WORDS: usize = 16;
const BLOOM_BITS: u64 = (BLOOM_WORDS * 64) as u64;
/// Insertions per generation before it rotates: with 3 probes into 1024 bits, 1.5 % false
/// "seen" at the fullest (a missed first contact, never a false one).
const BLOOM_CAPACITY: u32 = 96;

/// Two-generation Bloom filter: the current generation takes inserts; when full it becomes the
/// previous one and a fresh one starts, so memory is fixed and old targets age out by volume.
#[derive(Clone, Default)]
pub(crate) struct Seen {
    cur: [u64; BLOOM_WORDS],
    prev: [u64; BLOOM_WORDS],
    n: u32,
}

fn bits(h: u64) -> [u64; 3] {
    [h % BLOOM_BITS, (h >> 21) % BLOOM_BITS, (h >> 42) % BLOOM_BITS]
}

fn has(g: &[u64; BLOOM_WORDS], h: u64) -> bool {
    bits(h).iter().all(|b| g[(b / 64) as usize] & (1 << (b % 64)) != 0)
}

impl Seen {
    /// Inserts `h`; `true` if it was not there (a new target).
    pub(crate) fn insert(&mut self, h: u64) -> bool {
        if has(&self.cur, h) || has(&self.prev, h) {
            return false;
        }
        if self.n >= BLOOM_CAPACITY {
            self.prev = self.cur;
            self.cur = [0; BLOOM_WORDS];
            self.n = 0;
        }
        for b in bits(h) {
            self.cur[(b / 64) as usize] |= 1 << (b % 64);
        }
        self.n += 1;
        true
    }
}

/// Targets a source contacted: the first few exactly, inline; past them, a [`Seen`] filter
/// borrowed from the detector's shelf at the first spill and given back when the source's
/// episode ends (most sources never contact more than a few targets; in steady state nothing
/// allocates).
#[derive(Clone, Default)]
pub(crate) struct Targets {
    few: [u64; 4],
    n: u8,
    spilled: bool,
    many: Option<Box<Seen>>,
}

impl Targets {
    /// Forgets every target, the filter going back to `shelf`.
    pub(crate) fn clear(&mut self, shelf: &mut Shelf<Box<Seen>>) {
        self.n = 0;
        self.spilled = false;
        if let Some(many) = self.many.take() {
            shelf.give(many);
        }
    }

    /// Inserts `h`; `true` if it was not there (a new target). A filter, when needed, comes
    /// from `shelf`.
    pub(crate) fn insert(&mut self, h: u64, shelf: &mut Shelf<Box<Seen>>) -> bool {
        if self.spilled
            && let Some(many) = &mut self.many
        {
            return many.insert(h);
        }
        let n = usize::from(self.n);
        if self.few[..n].contains(&h) {
            return false;
        }
        if n < self.few.len() {
            self.few[n] = h;
            self.n += 1;
            return true;
        }
        let many = self.many.insert(shelf.take(Box::default));
        **many = Seen::default();
        for x in self.few {
            many.insert(x);
        }
        self.spilled = true;
        many.insert(h)
    }
}

/// Registers of the HyperLogLog (2^6): ±13 % standard error, exact-ish by linear counting
/// for the small counts that matter at detection time.
const HLL_P: u32 = 6;
const HLL_M: usize = 1 << HLL_P;

/// A HyperLogLog distinct counter over 64-bit hashes.
#[derive(Clone)]
pub(crate) struct Distinct {
    reg: [u8; HLL_M],
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct { reg: [0; HLL_M] }
    }
}

impl Distinct {
    /// Adds a (well-mixed) hash.
    pub(crate) fn add(&mut self, h: u64) {
        let i = (h >> (64 - HLL_P)) as usize;
        let rank = ((h << HLL_P) | (1 << (HLL_P - 1))).leading_zeros() as u8 + 1;
        if let Some(r) = self.reg.get_mut(i) {
            *r = (*r).max(rank);
        }
    }

    /// Estimated distinct count.
    pub(crate) fn estimate(&self) -> u64 {
        let m = HLL_M as f64;
        let zeros = self.reg.iter().filter(|r| **r == 0).count();
        let sum: f64 = self.reg.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
        let raw = 0.709 * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw };
        e.round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_is_near_exact_for_small_sets_and_forgets_by_volume() {
        let mut s = Seen::default();
        let new = (0..90u64).filter(|i| s.insert(mix(*i))).count();
        assert!(new >= 88, "about 1 % taken for seen at the fullest: {new}");
        for i in 0..90u64 {
            assert!(!s.insert(mix(i)), "{i} was seen");
        }
        // A /8's worth later, the first targets have aged out: memory stayed 264 bytes.
        for i in 1000..1_000_000u64 {
            s.insert(mix(i));
        }
        assert!((0..90u64).filter(|i| s.insert(mix(*i))).count() > 80);
    }

    #[test]
    fn targets_are_exact_inline_then_spill_to_the_filter() {
        let mut shelf = Shelf::new(std::mem::size_of::<Seen>());
        let mut t = Targets::default();
        for i in 0..4u64 {
            assert!(t.insert(mix(i), &mut shelf) && !t.insert(mix(i), &mut shelf));
        }
        assert!(!t.spilled && t.many.is_none(), "four targets are kept exactly, nothing borrowed");
        assert!(t.insert(mix(4), &mut shelf));
        assert!((0..5u64).all(|i| !t.insert(mix(i), &mut shelf)), "spilled targets are still known");
        t.clear(&mut shelf);
        assert!(t.many.is_none() && (0..5u64).all(|i| t.insert(mix(i), &mut shelf)), "forgotten");
    }

    #[test]
    fn distinct_counts_small_exactly_and_large_roughly() {
        let mut d = Distinct::default();
        for i in 0..5u64 {
            d.add(mix(i));
            d.add(mix(i));
        }
        assert_eq!(d.estimate(), 5);
        let mut d = Distinct::default();
        for i in 0..16_777_216u64 / 16 {
            d.add(mix(i));
        }
        let e = d.estimate() as f64 / (16_777_216.0 / 16.0);
        assert!((0.6..1.4).contains(&e), "{e}");
    }
}
