//! The flow table's expiry schedule: a timing wheel of one-second buckets, so that a tick looks
//! only at flows whose deadline may have come, not at every open flow (issue 25: with a sweep
//! of the whole table every tick, the cost per packet grew with the number of flows open).
//!
//! Each flow is filed under the second of its deadline as it was when filed (its last packet
//! plus its timeout). Deadlines only move later as packets arrive, except when a TCP flow
//! closes (the shorter `closed_timeout` then applies: the table files it again). A bucket's
//! entries are checked when its second comes: a flow past its deadline is due, one whose
//! deadline moved is filed again under its new second, an entry whose flow left its slot (or
//! was filed again since) is dropped. So an active flow is looked at about once per timeout,
//! an idle one once.

/// Buckets in the wheel (seconds per revolution; a deadline further out waits for its
/// revolution in its bucket).
const BUCKETS: usize = 512;

/// Filings each bucket has room for from the start.
const BUCKET_START: usize = 64;

/// One filing: the flow's slot, and the second it was filed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Slot in the flow table.
    pub slot: u32,
    /// Second (of capture time) of the deadline it was filed under.
    pub at: u32,
}

/// The wheel.
pub(crate) struct Wheel {
    buckets: Vec<Vec<Entry>>,
    /// The second of the last visit (`None` before the first).
    visited: Option<u64>,
    /// Entries held (including stale ones).
    len: usize,
}

impl Default for Wheel {
    fn default() -> Self {
        // Buckets get their room at their first filing ([`Wheel::file`]): a short capture uses
        // a few of them, and a run's start-up does not fault in 256 KiB per table.
        let buckets = (0..BUCKETS).map(|_| Vec::new()).collect();
        Wheel { buckets, visited: None, len: 0 }
    }
}

/// The second of a deadline in nanoseconds, as filed (clamped to `u32`).
pub(crate) fn second_of(nanos: u64) -> u32 {
    u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX)
}

impl Wheel {
    /// Files `slot` under second `at`.
    pub(crate) fn file(&mut self, slot: u32, at: u32) {
        if let Some(b) = self.buckets.get_mut(at as usize % BUCKETS) {
            if b.capacity() == 0 {
                // Room for 64 filings at once, so a steady run does not reallocate a bucket
                // through its small sizes as flows come and go (tests/no_alloc).
                b.reserve_exact(BUCKET_START);
            }
            b.push(Entry { slot, at });
            self.len += 1;
        }
    }

    /// The buckets to visit at second `now` (every bucket whose second passed since the last
    /// visit, the last visit's again, since entries due later in that second stay there), and
    /// marks them visited.
    pub(crate) fn due_buckets(&mut self, now: u64) -> impl Iterator<Item = usize> + use<> {
        let from = match self.visited {
            Some(v) if now >= v && now - v < BUCKETS as u64 => v,
            Some(v) if now < v => now,
            _ => (now + 1).saturating_sub(BUCKETS as u64),
        };
        self.visited = Some(now.max(self.visited.unwrap_or(0)));
        (from..=now).map(|s| (s % BUCKETS as u64) as usize)
    }

    /// Takes bucket `b`'s entries out to look at (put the keepers back with
    /// [`Wheel::put_back`]).
    pub(crate) fn take(&mut self, b: usize) -> Vec<Entry> {
        let v = self.buckets.get_mut(b).map(std::mem::take).unwrap_or_default();
        self.len -= v.len();
        v
    }

    /// Returns entries kept from [`Wheel::take`] to bucket `b` (after any filed there since).
    pub(crate) fn put_back(&mut self, b: usize, mut kept: Vec<Entry>) {
        if let Some(x) = self.buckets.get_mut(b) {
            self.len += kept.len();
            if x.is_empty() {
                *x = kept;
            } else {
                x.append(&mut kept);
            }
        }
    }

    /// Keeps the entries `keep` says to keep, in every bucket (to drop stale filings at once).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        self.len = 0;
        for b in &mut self.buckets {
            b.retain(&mut keep);
            self.len += b.len();
        }
    }

    /// Forgets every entry.
    pub(crate) fn clear(&mut self) {
        for b in &mut self.buckets {
            b.clear();
        }
        self.len = 0;
    }

    /// Bytes held, by capacity.
    pub(crate) fn memory(&self) -> usize {
        self.buckets.iter().map(|b| b.capacity() * std::mem::size_of::<Entry>()).sum::<usize>()
            + BUCKETS * std::mem::size_of::<Vec<Entry>>()
    }

    /// Entries held, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// No entries.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Gives back the buckets' spare capacity (after a memory emergency).
    pub(crate) fn shrink(&mut self) {
        for b in &mut self.buckets {
            b.shrink_to(b.len() * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_cover_every_second_once_and_the_last_again() {
        let mut w = Wheel::default();
        assert_eq!(w.due_buckets(1000).count(), BUCKETS);
        assert_eq!(w.due_buckets(1000).collect::<Vec<_>>(), vec![1000 % BUCKETS]);
        assert_eq!(
            w.due_buckets(1003).collect::<Vec<_>>(),
            (1000..=1003).map(|s| s % BUCKETS).collect::<Vec<_>>()
        );
        // A jump past a revolution visits every bucket once.
        assert_eq!(w.due_buckets(1003 + 10 * BUCKETS as u64).count(), BUCKETS);
        w.file(3, 7);
        assert_eq!(w.len(), 1);
        let e = w.take(7);
        assert_eq!(e, vec![Entry { slot: 3, at: 7 }]);
        assert!(w.is_empty());
        w.put_back(7, e);
        assert_eq!(w.len(), 1);
    }
}
