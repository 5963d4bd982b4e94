//! Flows opened from outside, held apart from the flow table until a second packet (issue 19).
//!
//! A flow an outside host opens to a home host often never gets a second packet: a scan's probe,
//! or one packet of a flood from spoofed sources (SYNs, UDP datagrams). Such a flow waits here,
//! in a direct-mapped array of flow records indexed by its key's hash, until a second packet of
//! the same flow (the home host's answer, or more from the outside host) moves it into the
//! table as it is: the same record, id and counters, so nothing downstream tells the difference
//! (its first packet was analysed as any flow's first). A new flow whose place is taken ends the
//! one there (counted as evicted), and flows waiting here expire at the table's timeouts,
//! looked for at each tick in an array of their deadlines (4 bytes a place).
//!
//! So a flood of new keys from outside costs one array write a packet instead of an index
//! insert, an eviction from the table and a flow end, and it never pushes an established flow
//! out of the table: `flow.max_flows` is left to flows that got a second packet. Under such a
//! flood an outside host's genuine first packet can lose its place before the answer comes;
//! the answer then opens the flow (its record lacks that first packet).
//!
//! The array starts at [`FIRST_PLACES`] places and doubles while more than half are taken, up to
//! a ceiling set from `flow.max_flows` (one sixteenth, at most [`MAX_PLACES`]: 3 MiB of records).

use super::table::{EndReason, Flow};
use super::wheel::second_of;
use crate::time::Timestamp;

/// Places the array starts with (192 KiB of records) once a first probe comes.
pub(super) const FIRST_PLACES: usize = 1024;
/// Places at most (16,384 records of at most 192 bytes: 3 MiB).
pub(super) const MAX_PLACES: usize = 16_384;

/// The flows opened from outside waiting for a second packet ("probes").
pub(super) struct Probes {
    /// Direct-mapped by key hash; empty until the first probe.
    places: Vec<Option<Flow>>,
    /// Per place, the second its probe's deadline falls in ([`second_of`]); 0: empty.
    due_at: Vec<u32>,
    /// Probes held.
    held: usize,
    /// Places the array may grow to (a power of two).
    max_places: usize,
}

impl Probes {
    /// No probes yet, an array that may grow to `max_places` (rounded to a power of two, at
    /// least [`FIRST_PLACES`]).
    pub(super) fn new(max_places: usize) -> Self {
        let max_places = max_places.clamp(FIRST_PLACES, MAX_PLACES).next_power_of_two();
        Probes { places: Vec::new(), due_at: Vec::new(), held: 0, max_places }
    }

    /// Probes held.
    pub(super) fn len(&self) -> usize {
        self.held
    }

    #[inline]
    fn place_of(&self, hash: u64) -> usize {
        // The top bits: the index takes the low ones.
        (hash >> 40) as usize & (self.places.len().wrapping_sub(1))
    }

    /// Loads the place a flow of `hash` would wait in (when any probe waits).
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if self.held > 0
            && let Some(p) = self.places.get(self.place_of(hash))
        {
            // Every line of the place: `find` reads the tag and the key, `put` writes it all.
            let p: *const u8 = std::ptr::from_ref(p).cast();
            for line in (0..std::mem::size_of::<Option<Flow>>()).step_by(64) {
                super::index::prefetch_line(p.wrapping_add(line));
            }
        }
    }

    /// The place of the probe of `key` (whose hash is `hash`), if it waits here.
    #[inline]
    pub(super) fn find(&self, key: &super::FlowKey, hash: u64) -> Option<u32> {
        if self.held == 0 {
            return None;
        }
        let i = self.place_of(hash);
        self.places.get(i)?.as_ref().is_some_and(|f| f.key == *key).then_some(i as u32)
    }

    /// Takes the probe of `key` (its second packet came), if it waits here.
    #[inline]
    pub(super) fn take(&mut self, key: &super::FlowKey, hash: u64) -> Option<Flow> {
        let i = self.find(key, hash)? as usize;
        let f = self.places.get_mut(i)?.take()?;
        if let Some(d) = self.due_at.get_mut(i) {
            *d = 0;
        }
        self.held -= 1;
        Some(f)
    }

    /// Empties the place of a new probe of `hash`: the probe there goes to `ended` as evicted.
    /// Returns the place (for [`Probes::hold`]) and whether one was evicted.
    #[inline]
    pub(super) fn vacate(&mut self, hash: u64, ended: &mut Vec<(Flow, EndReason)>) -> (u32, bool) {
        if self.places.is_empty()
            || (self.held * 2 > self.places.len() && self.places.len() < self.max_places)
        {
            self.grow();
        }
        let i = self.place_of(hash);
        let old = self.places.get_mut(i).and_then(Option::take);
        let evicted = old.is_some();
        if let Some(old) = old {
            ended.push((old, EndReason::Evicted));
            self.held -= 1;
        }
        (i as u32, evicted)
    }

    /// Holds `flow` (opened from outside) in the empty place `i` ([`Probes::vacate`]); its
    /// deadline follows ([`Probes::set_deadline`]).
    #[inline(always)]
    pub(super) fn hold(&mut self, i: u32, flow: Flow) {
        if let Some(place) = self.places.get_mut(i as usize) {
            *place = Some(flow);
            self.held += 1;
        }
    }

    /// The probe in place `i` (held there).
    #[inline]
    pub(super) fn at_mut(&mut self, i: u32) -> &mut Flow {
        match self.places.get_mut(i as usize) {
            Some(Some(f)) => f,
            _ => unreachable!("a probe was just held in this place"),
        }
    }

    /// Files the deadline (ns) of the probe in place `i`.
    #[inline]
    pub(super) fn set_deadline(&mut self, i: u32, deadline: u64) {
        if let Some(d) = self.due_at.get_mut(i as usize) {
            // (0 means empty: a deadline in the first second of 1970 waits one more.)
            *d = second_of(deadline).max(1);
        }
    }

    /// Doubles the array (or makes the first one), placing every probe again.
    #[cold]
    fn grow(&mut self) {
        let n =
            if self.places.is_empty() { FIRST_PLACES.min(self.max_places) } else { self.places.len() * 2 };
        let old = std::mem::replace(&mut self.places, (0..n).map(|_| None).collect());
        let old_due = std::mem::replace(&mut self.due_at, vec![0; n]);
        self.held = 0;
        for (p, d) in old.into_iter().zip(old_due) {
            if let Some(f) = p {
                let i = self.place_of(f.key.hash64());
                if let (Some(place @ None), Some(due)) = (self.places.get_mut(i), self.due_at.get_mut(i)) {
                    *place = Some(f);
                    *due = d;
                    self.held += 1;
                }
                // (Two probes of one place after doubling cannot happen: the bits that placed
                // them apart before still do.)
            }
        }
    }

    /// Ends the probes whose deadline passed at `now` (`deadline(flow)` in ns) into `ended`,
    /// with `reason(flow)`; returns how many.
    pub(super) fn expire(
        &mut self,
        now: Timestamp,
        deadline: impl Fn(&Flow) -> u64,
        reason: impl Fn(&Flow) -> EndReason,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> u64 {
        if self.held == 0 {
            return 0;
        }
        let now_sec = second_of(now.0);
        let mut n = 0;
        for (place, due) in self.places.iter_mut().zip(self.due_at.iter_mut()) {
            if *due == 0 || *due > now_sec {
                continue;
            }
            let Some(f) = place else { continue };
            if deadline(f) > now.0 {
                continue; // later in this second: looked at again next tick
            }
            if let Some(f) = place.take() {
                let why = reason(&f);
                ended.push((f, why));
                *due = 0;
                n += 1;
            }
        }
        self.held -= n as usize;
        n
    }

    /// Every probe held, with its place (for [`Probes::get_mut`]).
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Flow)> {
        let n = if self.held == 0 { 0 } else { self.places.len() };
        self.places[..n].iter().enumerate().filter_map(|(i, p)| p.as_ref().map(|f| (i as u32, f)))
    }

    /// The probe in place `i`.
    pub(super) fn get_mut(&mut self, i: u32) -> Option<&mut Flow> {
        self.places.get_mut(i as usize)?.as_mut()
    }

    /// Lets every probe go (after [`Probes::iter`] handed them out), keeping the array.
    pub(super) fn clear(&mut self) {
        if self.held > 0 {
            self.places.iter_mut().for_each(|p| *p = None);
            self.due_at.iter_mut().for_each(|d| *d = 0);
            self.held = 0;
        }
    }

    /// Bytes held (by capacity).
    pub(super) fn memory(&self) -> usize {
        self.places.capacity() * std::mem::size_of::<Option<Flow>>() + self.due_at.capacity() * 4
    }
}
