//! The flow table's index: key hash → slot, in an open-addressing table of 8-byte entries with
//! linear probing (load at most one half) and backward-shift deletion (no tombstones, so probe
//! runs stay short however many flows come and go).
//!
//! Why not a general hash map: a packet's lookup is a chain of dependent cache misses (index
//! entry, then the flow's slot) that costs more than the rest of its flow accounting. Here the
//! position of a key's entry is known from its hash alone, so the worker can prefetch it several
//! packets ahead ([`FlowIndex::prefetch`]), and then the slot it names
//! ([`FlowIndex::candidate`]), before the packet's turn comes.

/// An empty entry: zero, so a new or grown table is zeroed memory (`alloc_zeroed`: fresh pages
/// from the system need no fill; a flood grew the index by writing every entry of it).
const EMPTY: u64 = 0;
/// Smallest table.
const MIN_ENTRIES: usize = 1024;

/// Entry layout: the hash's low 32 bits (its home position and a tag) above the slot number,
/// stored inverted so that no entry is zero (slot `u32::MAX` never exists).
fn entry(h32: u32, slot: u32) -> u64 {
    !((u64::from(h32) << 32) | u64::from(slot))
}

fn h32_of(e: u64) -> u32 {
    (!e >> 32) as u32
}

fn slot_of(e: u64) -> u32 {
    !e as u32
}

/// The index.
pub(crate) struct FlowIndex {
    entries: Vec<u64>,
    mask: usize,
    len: usize,
    /// The size asked for: below it the index grows at a quarter full, not a half, so it
    /// starts small (a run's start-up zeroes 8 KiB, not 1 MiB per table) and still runs no
    /// fuller on its way there than an index made at that size.
    planned: usize,
}

impl FlowIndex {
    /// Bytes the index holds.
    pub(crate) fn memory(&self) -> usize {
        self.entries.capacity() * 8
    }

    /// An index for about `flows` flows before it first grows at half full (it starts at
    /// [`MIN_ENTRIES`] and grows at a quarter full on its way there).
    pub(crate) fn with_capacity(flows: usize) -> FlowIndex {
        let planned = (flows.saturating_mul(2)).next_power_of_two().max(MIN_ENTRIES);
        FlowIndex { entries: vec![EMPTY; MIN_ENTRIES], mask: MIN_ENTRIES - 1, len: 0, planned }
    }

    /// Entries in use.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// No entries.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn home(&self, h32: u32) -> usize {
        h32 as usize & self.mask
    }

    /// The slot whose entry matches `hash` and for which `is_key` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let h32 = hash as u32;
        let mut i = self.home(h32);
        loop {
            let e = *self.entries.get(i)?;
            if e == EMPTY {
                return None;
            }
            if h32_of(e) == h32 && is_key(slot_of(e)) {
                return Some(slot_of(e));
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `slot` under `hash` (not present yet).
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        let n = self.entries.len();
        if (self.len + 1) * 2 > n || (n < self.planned && (self.len + 1) * 4 > n) {
            self.grow();
        }
        self.place(entry(hash as u32, slot));
        self.len += 1;
    }

    fn place(&mut self, e: u64) {
        let mut i = self.home(h32_of(e));
        while let Some(x) = self.entries.get_mut(i) {
            if *x == EMPTY {
                *x = e;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::replace(&mut self.entries, vec![EMPTY; (self.mask + 1) * 2]);
        self.mask = self.entries.len() - 1;
        for e in old.into_iter().filter(|&e| e != EMPTY) {
            self.place(e);
        }
    }

    /// Rebuilds the index at the size it would have for `flows` flows, if smaller (after a
    /// memory emergency shed flows).
    pub(crate) fn shrink_for(&mut self, flows: usize) {
        let n = (flows.max(self.len).saturating_mul(2)).next_power_of_two().max(MIN_ENTRIES);
        if n >= self.entries.len() {
            return;
        }
        let old = std::mem::replace(&mut self.entries, vec![EMPTY; n]);
        self.mask = n - 1;
        for e in old.into_iter().filter(|&e| e != EMPTY) {
            self.place(e);
        }
    }

    /// Removes the entry of `slot` under `hash`, shifting later entries of its run back.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) {
        let h32 = hash as u32;
        let mut i = self.home(h32);
        loop {
            match self.entries.get(i) {
                None => return,
                Some(&EMPTY) => return,
                Some(&e) if h32_of(e) == h32 && slot_of(e) == slot => break,
                Some(_) => i = (i + 1) & self.mask,
            }
        }
        self.len -= 1;
        // Backward shift: move up every later entry of the run that may live at `i`.
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let Some(&e) = self.entries.get(j) else { return };
            if e == EMPTY {
                break;
            }
            let k = self.home(h32_of(e));
            // `e` may move to `i` unless its home lies cyclically in (i, j].
            if (j.wrapping_sub(k) & self.mask) >= (j.wrapping_sub(i) & self.mask) {
                if let Some(x) = self.entries.get_mut(i) {
                    *x = e;
                }
                i = j;
            }
        }
        if let Some(x) = self.entries.get_mut(i) {
            *x = EMPTY;
        }
    }

    /// Some slot in use, chosen by `r` (eviction: not steerable by one chosen tuple).
    pub(crate) fn any(&self, r: u64) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let start = r as usize & self.mask;
        (0..self.entries.len())
            .map(|k| (start + k) & self.mask)
            .find_map(|i| self.entries.get(i).filter(|&&e| e != EMPTY).map(|&e| slot_of(e)))
    }

    /// Starts loading the entry where `hash`'s probe begins.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        if let Some(e) = self.entries.get(self.home(hash as u32)) {
            prefetch_line(std::ptr::from_ref(e).cast());
        }
    }

    /// The slot of the first entry of `hash`'s probe run with `hash`'s tag, if the run's first
    /// entries hold one: the flow most likely its key's (to prefetch; [`FlowIndex::find`]
    /// decides).
    #[inline]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        let h32 = hash as u32;
        let mut i = self.home(h32);
        for _ in 0..4 {
            let e = *self.entries.get(i)?;
            if e == EMPTY {
                return None;
            }
            if h32_of(e) == h32 {
                return Some(slot_of(e));
            }
            i = (i + 1) & self.mask;
        }
        None
    }
}

/// Starts loading the cache line at `p` (a hint: never faults, whatever the address).
#[inline]
pub(crate) fn prefetch_line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator.
    fn next(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn matches_a_model_through_inserts_removes_and_growth() {
        let mut idx = FlowIndex::with_capacity(16);
        // (slot, hash) of every entry in the index.
        let mut model: Vec<(u32, u64)> = Vec::new();
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next_slot = 0u32;
        for round in 0..100_000 {
            let r = next(&mut s);
            if !r.is_multiple_of(3) || model.is_empty() {
                // Some equal hashes, runs at the table's end that wrap around, the rest random.
                let h = match round % 8 {
                    0 => r % 512,
                    1 => r | 0xffff_ff00,
                    _ => r,
                };
                idx.insert(h, next_slot);
                model.push((next_slot, h));
                next_slot += 1;
            } else {
                let (slot, h) = model.swap_remove((r as usize >> 8) % model.len());
                idx.remove(h, slot);
                assert_eq!(idx.find(h, |s| s == slot), None);
            }
            if round % 4999 == 0 {
                for &(slot, h) in &model {
                    assert_eq!(idx.find(h, |s| s == slot), Some(slot), "round {round}");
                }
                assert_eq!(idx.len(), model.len());
            }
        }
        for &(slot, h) in &model {
            assert_eq!(idx.find(h, |s| s == slot), Some(slot));
            idx.remove(h, slot);
        }
        assert!(idx.is_empty());
        assert!(idx.entries.iter().all(|&e| e == EMPTY));
    }

    #[test]
    fn starts_small_and_runs_no_fuller_than_an_index_made_at_its_planned_size() {
        let mut idx = FlowIndex::with_capacity(65_536);
        assert_eq!(idx.memory(), MIN_ENTRIES * 8);
        let mut s = 7u64;
        for slot in 0..100_000u32 {
            idx.insert(next(&mut s), slot);
            let n = idx.entries.len();
            // A quarter full at most below the planned 131,072 entries, a half above.
            assert!(idx.len() * if n < 131_072 { 4 } else { 2 } <= n, "{} in {n}", idx.len());
        }
        assert_eq!(idx.entries.len(), 262_144);
    }

    #[test]
    fn candidate_and_any_name_slots_in_use() {
        let mut idx = FlowIndex::with_capacity(4);
        assert_eq!(idx.any(7), None);
        idx.insert(42, 9);
        assert_eq!(idx.candidate(42), Some(9));
        assert_eq!(idx.candidate(43), None);
        assert_eq!(idx.any(12345), Some(9));
        idx.prefetch(42);
    }
}
