//! A bounded map with O(1) eviction of its least recently used entry, for detector state keyed
//! by host, pair or (client, domain).
//!
//! Why: picking an eviction victim from `HashMap::iter().take(k)` walks the map's buckets from
//! the start; after many removals the first buckets are long runs of empty ones, and under a
//! flood of new keys that walk took ~40 % of the CPU (issue 19). Here entries live in a dense
//! slab threaded on an intrusive doubly linked list (oldest at the head): insert, lookup,
//! touch, remove and evict are each one hash lookup plus a few index writes, whatever the
//! history. Removal swaps the slab's last entry into the hole, so the slab stays dense and
//! sweeps ([`Bounded::retain`]) touch only live entries.
//!
//! Order is recency of [`Bounded::touch`] / [`Bounded::get_mut_touch`] / insertion; a caller
//! that never touches gets first-in first-out (what fragment reassembly wants).

use super::hash::Mixed;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

/// No entry.
const NIL: u32 = u32::MAX;

struct Entry<K, V> {
    key: K,
    value: V,
    /// The key's hash, computed once: removal and rehashing never hash a key again.
    hash: u64,
    /// Older neighbour.
    prev: u32,
    /// Newer neighbour.
    next: u32,
}

/// A map of at most `cap` entries that evicts its least recently used one in O(1).
///
/// The index is a `hashbrown::HashTable` of slab positions (4 bytes an entry; the key lives in
/// the slab, with its hash): a new key at the cap is hashed once, and its insert and the
/// evicted key's removal need no second hash nor key comparison (the evicted entry is found by
/// its stored hash and its slot number).
pub(crate) struct Bounded<K, V> {
    index: HashTable<u32>,
    slab: Vec<Entry<K, V>>,
    /// Oldest.
    head: u32,
    /// Newest.
    tail: u32,
    cap: usize,
}

/// The hash a key is filed under: FxHash, then mixed so that both ends of the word vary with
/// every input bit ([`super::hash::Mixed`], issue 25: FxHash alone gave IPv6 hosts of one prefix
/// 2 distinct tags, and every lookup of proxyware's hosts walked one long probe run).
#[inline]
fn hash_of<K: Hash>(key: &K) -> u64 {
    Mixed.hash_one(key)
}

impl<K: Copy + Eq + Hash, V> Bounded<K, V> {
    /// An empty map holding at most `cap` entries (at least one). Nothing is allocated until the
    /// first insert.
    pub(crate) fn new(cap: usize) -> Self {
        Bounded { index: HashTable::new(), slab: Vec::new(), head: NIL, tail: NIL, cap: cap.max(1) }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Full: the next insert of a new key evicts.
    pub(crate) fn is_full(&self) -> bool {
        self.slab.len() >= self.cap
    }

    /// Bytes the map's own structures hold (slab and index), not counting what values own on the
    /// heap: for the memory budget.
    pub(crate) fn overhead_bytes(&self) -> usize {
        self.slab.capacity() * std::mem::size_of::<Entry<K, V>>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }

    /// The slot of `key` hashing to `hash`.
    fn find(&self, key: &K, hash: u64) -> Option<u32> {
        let slab = &self.slab;
        self.index.find(hash, |&i| slab[i as usize].key == *key).copied()
    }

    /// Is `key` held?
    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.find(key, hash_of(key)).is_some()
    }

    /// The value of `key`, without changing its age.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.find(key, hash_of(key)).map(|i| &self.slab[i as usize].value)
    }

    /// The value of `key` to change, without changing its age.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.find(key, hash_of(key))?;
        Some(&mut self.slab[i as usize].value)
    }

    /// The value of `key` to change, made the most recently used.
    pub(crate) fn get_mut_touch(&mut self, key: &K) -> Option<&mut V> {
        let i = self.find(key, hash_of(key))?;
        self.move_to_tail(i);
        Some(&mut self.slab[i as usize].value)
    }

    /// Makes `key` the most recently used.
    #[cfg(test)]
    pub(crate) fn touch(&mut self, key: &K) {
        if let Some(i) = self.find(key, hash_of(key)) {
            self.move_to_tail(i);
        }
    }

    /// Where `key`'s entry lives, for [`Bounded::at`] / [`Bounded::at_mut`]: one hash lookup
    /// for a caller that reads an entry several times. Valid until the next insert or removal
    /// (an insert may reuse the slot of the entry it evicts).
    pub(crate) fn slot(&self, key: &K) -> Option<u32> {
        self.find(key, hash_of(key))
    }

    /// The slot of `key` if it is the most recently used entry, found without hashing: a
    /// caller whose packets mostly repeat the last key (one pair's flood) skips the lookup.
    pub(crate) fn newest_slot(&self, key: &K) -> Option<u32> {
        self.slab.get(self.tail as usize).filter(|e| e.key == *key).map(|_| self.tail)
    }

    /// The value in `slot` (from [`Bounded::slot`], with no insert or removal since).
    pub(crate) fn at(&self, slot: u32) -> &V {
        &self.slab[slot as usize].value
    }

    /// The value in `slot` to change (from [`Bounded::slot`], with no insert or removal since).
    pub(crate) fn at_mut(&mut self, slot: u32) -> &mut V {
        &mut self.slab[slot as usize].value
    }

    /// [`Bounded::get_or_insert_with`], returning the entry's slot for [`Bounded::at_mut`].
    pub(crate) fn get_or_insert_slot(&mut self, key: K, make: impl FnOnce(Option<(K, V)>) -> V) -> u32 {
        self.get_or_insert_sparing(key, 0, |_| false, make)
    }

    /// [`Bounded::get_or_insert_slot`], but a new key that finds the map full first gives a
    /// second chance (a move to the newest end) to up to `spare` entries at the oldest end for
    /// which `keep` holds, without a hash lookup: the eviction and the lookup
    /// share one hash and one probe.
    pub(crate) fn get_or_insert_sparing(
        &mut self,
        key: K,
        spare: usize,
        keep: impl Fn(&V) -> bool,
        make: impl FnOnce(Option<(K, V)>) -> V,
    ) -> u32 {
        let hash = hash_of(&key);
        match self.find(&key, hash) {
            Some(i) => {
                self.move_to_tail(i);
                i
            }
            None if self.slab.len() >= self.cap && self.head != NIL => {
                for _ in 0..spare {
                    if !keep(&self.slab[self.head as usize].value) {
                        break;
                    }
                    self.move_to_tail(self.head);
                }
                let i = self.head;
                let old_key = self.slab[i as usize].key;
                self.reuse_oldest(key, hash);
                replace_with_or_abort(&mut self.slab[i as usize].value, |old| make(Some((old_key, old))));
                i
            }
            None => self.push_new(key, hash, make(None)),
        }
    }

    /// The value of `key`, made the most recently used; inserted if absent. When the map is full,
    /// the least recently used entry is evicted first and handed to `make` (to count it, or to
    /// recycle its allocations into the new value); `make` gets `None` when nothing was evicted.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce(Option<(K, V)>) -> V) -> &mut V {
        let i = self.get_or_insert_slot(key, make);
        &mut self.slab[i as usize].value
    }

    /// Inserts or replaces `key`'s value, making it the most recently used. Returns the entry
    /// evicted to make room, if any (never the one replaced).
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        let hash = hash_of(&key);
        if let Some(i) = self.find(&key, hash) {
            self.slab[i as usize].value = value;
            self.move_to_tail(i);
            return None;
        }
        if self.slab.len() >= self.cap && self.head != NIL {
            let i = self.head;
            let old_key = self.slab[i as usize].key;
            self.reuse_oldest(key, hash);
            let old = std::mem::replace(&mut self.slab[i as usize].value, value);
            return Some((old_key, old));
        }
        self.push_new(key, hash, value);
        None
    }

    /// Removes `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let slab = &self.slab;
        let (i, _) = self.index.find_entry(hash_of(key), |&i| slab[i as usize].key == *key).ok()?.remove();
        Some(self.take_slot(i).1)
    }

    /// The least recently used entry.
    pub(crate) fn oldest(&self) -> Option<(&K, &V)> {
        self.slab.get(self.head as usize).map(|e| (&e.key, &e.value))
    }

    /// Entries from the least recently used on, following the age order: `take(k)` of it
    /// costs k steps whatever the map's history.
    #[cfg(test)]
    pub(crate) fn oldest_first(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut i = self.head;
        std::iter::from_fn(move || {
            let e = self.slab.get(i as usize)?;
            i = e.next;
            Some((&e.key, &e.value))
        })
    }

    /// Removes and returns the least recently used entry.
    pub(crate) fn pop_oldest(&mut self) -> Option<(K, V)> {
        if self.head == NIL {
            return None;
        }
        let i = self.head;
        self.unindex(i);
        Some(self.take_slot(i))
    }

    /// Keeps the entries `keep` says to keep; one pass over the dense slab.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.retain_with(keep, |_, _| {});
    }

    /// [`Bounded::retain`], handing the entries dropped to `dropped`.
    pub(crate) fn retain_with(
        &mut self,
        mut keep: impl FnMut(&K, &mut V) -> bool,
        mut dropped: impl FnMut(K, V),
    ) {
        let mut i = 0;
        while i < self.slab.len() {
            let e = &mut self.slab[i];
            if keep(&e.key, &mut e.value) {
                i += 1;
            } else {
                self.unindex(i as u32);
                // The last entry moves into `i`: look at `i` again.
                let (k, v) = self.take_slot(i as u32);
                dropped(k, v);
            }
        }
    }

    /// Drops about `share` (0-1, rounded up) of the entries, least recently used first, handing
    /// each to `dropped`; returns how many. For the memory budget's emergencies.
    pub(crate) fn shed(&mut self, share: f64, mut dropped: impl FnMut(K, V)) -> u64 {
        let n = (self.slab.len() as f64 * share.clamp(0.0, 1.0)).ceil() as usize;
        for _ in 0..n {
            match self.pop_oldest() {
                Some((k, v)) => dropped(k, v),
                None => break,
            }
        }
        self.slab.shrink_to(self.slab.len() * 2);
        let slab = &self.slab;
        self.index.shrink_to(slab.len() * 2, |&i| slab[i as usize].hash);
        n as u64
    }

    /// Every key, in slab order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.slab.iter().map(|e| &e.key)
    }

    /// Every value to change, in slab order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slab.iter_mut().map(|e| &mut e.value)
    }

    /// Every value, in slab order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.slab.iter().map(|e| &e.value)
    }

    /// Files slot `i` in the index under `hash` (the key is known to be absent).
    fn index_slot(&mut self, hash: u64, i: u32) {
        let slab = &self.slab;
        self.index.insert_unique(hash, i, |&j| slab[j as usize].hash);
    }

    /// Takes slot `i`'s entry out of the index: found by its stored hash and its slot number,
    /// no key compared.
    fn unindex(&mut self, i: u32) {
        let hash = self.slab[i as usize].hash;
        if let Ok(e) = self.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
    }

    fn push_new(&mut self, key: K, hash: u64, value: V) -> u32 {
        let i = self.slab.len() as u32;
        // Doubling past the cap would hold up to twice the room the map may ever use.
        if self.slab.len() == self.slab.capacity() && self.slab.capacity() * 2 > self.cap {
            self.slab.reserve_exact(self.cap.saturating_sub(self.slab.len()).max(1));
        }
        self.slab.push(Entry { key, value, hash, prev: self.tail, next: NIL });
        match self.tail {
            NIL => self.head = i,
            t => self.slab[t as usize].next = i,
        }
        self.tail = i;
        self.index_slot(hash, i);
        i
    }

    /// Gives the least recently used entry's slot (`head`, which must be an entry) to `key`, as
    /// the most recently used: only the two keys' index entries and the list's ends change, no
    /// entry moves (evicting through [`Bounded::pop_oldest`] moved the slab's last entry into the
    /// hole, relinking its neighbours and re-indexing its key: three more cache misses under a
    /// flood). The caller replaces the value.
    fn reuse_oldest(&mut self, key: K, hash: u64) {
        let i = self.head;
        self.unindex(i);
        let e = &mut self.slab[i as usize];
        e.key = key;
        e.hash = hash;
        self.move_to_tail(i);
        self.index_slot(hash, i);
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let e = &self.slab[i as usize];
            (e.prev, e.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.slab[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slab[n as usize].prev = prev,
        }
    }

    fn move_to_tail(&mut self, i: u32) {
        if self.tail == i {
            return;
        }
        self.unlink(i);
        let e = &mut self.slab[i as usize];
        e.prev = self.tail;
        e.next = NIL;
        match self.tail {
            NIL => self.head = i,
            t => self.slab[t as usize].next = i,
        }
        self.tail = i;
    }

    /// Unlinks slot `i` (already out of the index) and fills the hole with the last slot.
    fn take_slot(&mut self, i: u32) -> (K, V) {
        self.unlink(i);
        let last = (self.slab.len() - 1) as u32;
        if i != last {
            // Relink the last entry at its new position `i`, and re-file it under `i`.
            let (prev, next, hash) = {
                let e = &self.slab[last as usize];
                (e.prev, e.next, e.hash)
            };
            match prev {
                NIL => self.head = i,
                p => self.slab[p as usize].next = i,
            }
            match next {
                NIL => self.tail = i,
                n => self.slab[n as usize].prev = i,
            }
            if let Some(slot) = self.index.find_mut(hash, |&j| j == last) {
                *slot = i;
            }
        }
        let e = self.slab.swap_remove(i as usize);
        (e.key, e.value)
    }
}

/// Replaces `*slot` with `f` of its old value; aborts the process if `f` panics (the old value
/// has been moved out, and must not be dropped twice). What `replace_with::replace_with_or_abort`
/// does, in eight lines instead of a dependency.
fn replace_with_or_abort<V>(slot: &mut V, f: impl FnOnce(V) -> V) {
    struct AbortOnUnwind;
    impl Drop for AbortOnUnwind {
        fn drop(&mut self) {
            std::process::abort();
        }
    }
    let guard = AbortOnUnwind;
    // SAFETY: the value read out of `slot` is written back before `slot` is used again, and if
    // `f` unwinds in between the guard aborts, so the moved-out value is never dropped twice.
    unsafe {
        let old = std::ptr::read(slot);
        std::ptr::write(slot, f(old));
    }
    std::mem::forget(guard);
}

impl<K: Copy + Eq + Hash, V> std::ops::Index<&K> for Bounded<K, V> {
    type Output = V;
    /// The value of `key`; panics when absent, like `HashMap`'s index (tests only use it).
    fn index(&self, key: &K) -> &V {
        self.get(key).expect("key in the map")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut m = Bounded::new(3);
        assert!(m.insert(1, "a").is_none());
        m.insert(2, "b");
        m.insert(3, "c");
        m.touch(&1);
        assert_eq!(m.insert(4, "d"), Some((2, "b")));
        assert_eq!(m.len(), 3);
        let mut out = Vec::new();
        *m.get_or_insert_with(5, |ev| {
            out.extend(ev);
            "e"
        }) = "E";
        assert_eq!(out, vec![(3, "c")]);
        assert_eq!(m.get(&5), Some(&"E"));
        assert_eq!(m.pop_oldest(), Some((1, "a")));
        assert_eq!(m.remove(&4), Some("d"));
        assert_eq!(m.pop_oldest(), Some((5, "E")));
        assert!(m.is_empty());
    }

    /// A new key at the cap spares up to `spare` kept entries at the oldest end (moved to the
    /// newest end, in order) and evicts the next; a held key is found, spares nothing.
    #[test]
    fn get_or_insert_sparing_gives_kept_entries_a_second_chance() {
        let mut m = Bounded::new(4);
        for k in 1..=4u32 {
            m.insert(k, k * 10);
        }
        let keep = |v: &u32| *v == 10 || *v == 20;
        let mut ev = Vec::new();
        let i = m.get_or_insert_sparing(3, 8, keep, |_| unreachable!());
        assert_eq!(*m.at(i), 30);
        let i = m.get_or_insert_sparing(5, 8, keep, |old| {
            ev.extend(old);
            50
        });
        assert_eq!(*m.at(i), 50);
        assert_eq!(ev, vec![(4, 40)]);
        let order: Vec<u32> = m.oldest_first().map(|(k, _)| *k).collect();
        assert_eq!(order, vec![3, 1, 2, 5]);
        // At most `spare` second chances: with 1, key 3 is spared and key 1 goes, kept or not.
        m.get_or_insert_sparing(
            6,
            1,
            |_| true,
            |old| {
                ev.extend(old);
                60
            },
        );
        assert_eq!(ev, vec![(4, 40), (1, 10)]);
        let order: Vec<u32> = m.oldest_first().map(|(k, _)| *k).collect();
        assert_eq!(order, vec![2, 5, 3, 6]);
    }

    /// A model: a deque in age order. Random operations must agree with it at every step.
    #[test]
    fn agrees_with_a_naive_model_under_random_operations() {
        let mut rng = crate::synth::Rng::new(7);
        for cap in [1usize, 2, 5, 17] {
            let mut m: Bounded<u32, u64> = Bounded::new(cap);
            let mut model: VecDeque<(u32, u64)> = VecDeque::new();
            for step in 0..20_000u64 {
                let k = rng.below(40) as u32;
                match rng.below(6) {
                    0 | 1 => {
                        let ev = m.insert(k, step);
                        let mev = if let Some(p) = model.iter().position(|e| e.0 == k) {
                            model.remove(p);
                            None
                        } else if model.len() >= cap {
                            model.pop_front()
                        } else {
                            None
                        };
                        model.push_back((k, step));
                        assert_eq!(ev, mev);
                    }
                    2 => {
                        let mev = model.iter().position(|e| e.0 == k).and_then(|p| model.remove(p));
                        assert_eq!(m.remove(&k), mev.map(|e| e.1));
                    }
                    3 => {
                        m.touch(&k);
                        if let Some(p) = model.iter().position(|e| e.0 == k) {
                            let e = model.remove(p).unwrap();
                            model.push_back(e);
                        }
                    }
                    4 if step % 2 == 0 => assert_eq!(m.pop_oldest(), model.pop_front()),
                    4 => {
                        // get_or_insert_with: a touch when held, else an insert evicting the
                        // oldest at the cap; the slot it returns reads the same entry.
                        let mut ev = None;
                        let slot = m.get_or_insert_slot(k, |old| {
                            ev = old;
                            step
                        });
                        let mev = if let Some(p) = model.iter().position(|e| e.0 == k) {
                            let e = model.remove(p).unwrap();
                            model.push_back(e);
                            None
                        } else {
                            let out = if model.len() >= cap { model.pop_front() } else { None };
                            model.push_back((k, step));
                            out
                        };
                        assert_eq!(ev, mev);
                        assert_eq!(m.slot(&k), Some(slot));
                        assert_eq!(*m.at(slot), model.back().unwrap().1);
                    }
                    _ => {
                        let odd = |k: &u32| k % 2 == 1 || k % 7 == step as u32 % 7;
                        let mut dropped = 0;
                        m.retain_with(|k, _| !odd(k), |_, _| dropped += 1);
                        let before = model.len();
                        model.retain(|e| !odd(&e.0));
                        assert_eq!(dropped, before - model.len());
                    }
                }
                assert_eq!(m.len(), model.len());
                assert_eq!(m.oldest().map(|(k, v)| (*k, *v)), model.front().copied());
                assert!(m.oldest_first().map(|(k, v)| (*k, *v)).eq(model.iter().copied()));
                for (k, v) in &model {
                    assert_eq!(m.get(k), Some(v));
                }
            }
        }
    }
}
