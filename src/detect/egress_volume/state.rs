//! Per-key volume tallies: a ring of time slots per window, light until a key carries enough
//! volume to matter, in a capped table with sampled eviction.

use crate::decode::app::AppProto;
use crate::flow::bounded::Bounded;
use crate::time::Timestamp;
use crate::units::WindowLimit;
use std::hash::Hash;

pub(super) const SLOTS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) out: u64,
    pub(super) inb: u64,
}

/// A sliding window as a ring of slots, with running sums.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ring {
    pub(super) head: u64,
    pub(super) slots: [Slot; SLOTS],
    pub(super) out: u64,
    pub(super) inb: u64,
}

impl Ring {
    /// Adds bytes at slot index `idx` (packet time ÷ slot width), sliding old slots out.
    pub(super) fn add(&mut self, idx: u64, out: u64, inb: u64) {
        if idx > self.head {
            let n = (idx - self.head).min(SLOTS as u64);
            for k in 1..=n {
                let j = ((self.head + k) % SLOTS as u64) as usize;
                self.out -= self.slots[j].out;
                self.inb -= self.slots[j].inb;
                self.slots[j] = Slot::default();
            }
            self.head = idx;
        }
        // A packet older than the head (reordering across workers' clocks) joins the head slot.
        let j = (self.head % SLOTS as u64) as usize;
        self.slots[j].out += out;
        self.slots[j].inb += inb;
        self.out += out;
        self.inb += inb;
    }
}

/// Width of one of a window's ring slots, in nanoseconds.
pub(super) fn slot_width(window_ns: u64) -> u64 {
    (window_ns / SLOTS as u64).max(1)
}

/// Traffic of one key (a pair or a host). Light until its bytes out reach `1/PROMOTE` of the
/// smallest threshold — most pairs never do — then it gets a ring per window (from a pool).
pub(super) struct Tally {
    pub(super) rings: Option<Box<[Ring]>>,
    pub(super) first: Timestamp,
    pub(super) last: Timestamp,
    pub(super) total_out: u64,
    pub(super) total_in: u64,
    pub(super) flows: u32,
    pub(super) app: AppProto,
    /// Bytes out when the episode last alerted (0 = armed).
    pub(super) alerted: u64,
    /// Destinations (host tallies only).
    pub(super) dests: u32,
}

/// A key's bytes before it has rings are at most this fraction of the smallest threshold; on
/// promotion they are put in the newest slot (an overcount of at most that fraction).
pub(super) const PROMOTE: u64 = 64;

impl Tally {
    pub(super) fn new(ts: Timestamp) -> Tally {
        Tally {
            rings: None,
            first: ts,
            last: ts,
            total_out: 0,
            total_in: 0,
            flows: 0,
            app: AppProto::Unknown,
            alerted: 0,
            dests: 0,
        }
    }
}

/// Bytes out at which a key with these windows gets its rings.
pub(super) fn promote_at(limits: &[WindowLimit]) -> u64 {
    let smallest = limits.iter().map(|l| l.bytes.0).min().unwrap_or(1);
    (smallest / PROMOTE).max(1)
}

/// Most spare rings kept for reuse.
pub(super) const POOL: usize = 1024;

/// A table of tallies for one list of windows, with a cap and counted eviction.
pub(super) struct Tallies<K> {
    pub(super) map: Bounded<K, Tally>,
    pub(super) limits: Vec<WindowLimit>,
    pub(super) promote_at: u64,
    pub(super) longest: u64,
    pub(super) pool: Vec<Box<[Ring]>>,
    pub(super) evicted: u64,
}

/// What accounting one packet or flow volume to a tally gave.
pub(super) struct Accounted {
    /// The window that fired, if any.
    pub(super) fired: Option<Fired>,
    /// The tally was created.
    pub(super) fresh: bool,
    /// Its headroom after the accounting ([`Tallies::headroom`]).
    pub(super) room: u64,
}

/// What fired, for the alert.
pub(super) struct Fired {
    pub(super) i: usize,
    pub(super) out: u64,
}

impl<K: Hash + Eq + Copy> Tallies<K> {
    pub(super) fn new(limits: &[WindowLimit], cap: usize) -> Self {
        Tallies {
            map: Bounded::new(cap.max(1)),
            limits: limits.to_vec(),
            promote_at: promote_at(limits),
            longest: limits.iter().map(|l| l.window.nanos()).max().unwrap_or(1),
            pool: Vec::new(),
            evicted: 0,
        }
    }

    pub(super) fn recycle(pool: &mut Vec<Box<[Ring]>>, t: &mut Tally) {
        if let Some(r) = t.rings.take()
            && pool.len() < POOL
        {
            pool.push(r);
        }
    }

    /// Accounts one packet to `k`'s windows (creating its tally, first seen at `since`, and
    /// evicting the stalest of a sample first if the table is full), after `touch` has updated
    /// the tally's counters. One hash lookup.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn account(
        &mut self,
        k: K,
        since: Timestamp,
        ts: Timestamp,
        out: u64,
        inb: u64,
        ratio: f64,
        escalation: f64,
        touch: impl FnOnce(&mut Tally),
    ) -> Accounted {
        let Tallies { map, limits, promote_at, longest, pool, evicted, .. } = self;
        let mut fresh = false;
        // A new key at the cap evicts the least recently used, but heavy tallies (with rings) at
        // the head are moved to the tail first, up to eight of them: a flood of new pairs does
        // not push out the few that carry volume, and costs one step, not a walk of eight cold
        // entries. One hash lookup serves the eviction and the insert.
        let slot = map.get_or_insert_sparing(
            k,
            8,
            |t| t.rings.is_some(),
            |old| {
                if let Some((_, mut t)) = old {
                    Self::recycle(pool, &mut t);
                    *evicted += 1;
                }
                fresh = true;
                Tally { first: since.min(ts), ..Tally::new(ts) }
            },
        );
        let t = map.at_mut(slot);
        touch(t);
        let fired = Self::slide(t, limits, *promote_at, *longest, pool, ts, out, inb, ratio, escalation);
        Accounted { fired, fresh, room: Self::headroom(t, limits, *promote_at, escalation) }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn slide(
        t: &mut Tally,
        limits: &[WindowLimit],
        promote_at: u64,
        longest: u64,
        pool: &mut Vec<Box<[Ring]>>,
        ts: Timestamp,
        out: u64,
        inb: u64,
        ratio: f64,
        escalation: f64,
    ) -> Option<Fired> {
        if ts.0.saturating_sub(t.last.0) >= longest {
            // Quiet for longer than the longest window: a new episode.
            Self::recycle(pool, t);
            *t = Tally { dests: t.dests, flows: t.flows, ..Tally::new(ts) };
        }
        t.last = t.last.max(ts);
        t.total_out += out;
        t.total_in += inb;
        let (add_out, add_in) = match t.rings {
            Some(_) => (out, inb),
            None if t.total_out >= promote_at => {
                let mut r =
                    pool.pop().unwrap_or_else(|| vec![Ring::default(); limits.len()].into_boxed_slice());
                r.iter_mut().for_each(|x| *x = Ring::default());
                t.rings = Some(r);
                (t.total_out, t.total_in)
            }
            None => return None,
        };
        let rings = t.rings.as_mut()?;
        let mut fired = None;
        let mut any_half = false;
        for (i, (r, l)) in rings.iter_mut().zip(limits.iter()).enumerate() {
            let width = slot_width(l.window.nanos());
            r.add(ts.0 / width, add_out, add_in);
            let over = r.out >= l.bytes.0 && (ratio <= 0.0 || r.out as f64 >= ratio * r.inb as f64);
            any_half |= r.out >= l.bytes.0 / 2;
            // The window with the most bytes over its threshold speaks for the episode.
            if over && fired.as_ref().is_none_or(|f: &Fired| r.out > f.out) {
                fired = Some(Fired { i, out: r.out });
            }
        }
        if !any_half {
            t.alerted = 0;
        }
        let f = fired?;
        if out == 0 {
            return None;
        }
        let escalated = escalation > 0.0 && f.out as f64 >= t.alerted as f64 * escalation;
        if t.alerted != 0 && !escalated {
            return None;
        }
        t.alerted = f.out;
        Some(f)
    }

    /// [`Tallies::headroom`] of `k` as it stands (a key without a tally would get a fresh one),
    /// without accounting anything: one lookup, no insert.
    #[inline]
    pub(super) fn room(&self, k: impl FnOnce() -> K, escalation: f64) -> u64 {
        // (The key is worked out only when some tally could be its.)
        if self.map.is_empty() {
            return self.promote_at;
        }
        match self.map.get(&k()) {
            Some(t) => Self::headroom(t, &self.limits, self.promote_at, escalation),
            None => self.promote_at,
        }
    }

    /// Bytes out `t` may still send before a window could fire (or escalate): how long the
    /// worker may accumulate a flow of its key before handing its traffic over.
    pub(super) fn headroom(t: &Tally, limits: &[WindowLimit], promote_at: u64, escalation: f64) -> u64 {
        let Some(rings) = &t.rings else {
            return promote_at.saturating_sub(t.total_out).max(1);
        };
        let again =
            if t.alerted > 0 && escalation > 0.0 { (t.alerted as f64 * escalation) as u64 } else { 0 };
        rings
            .iter()
            .zip(limits)
            .map(|(r, l)| {
                let target = if r.out < l.bytes.0 { l.bytes.0 } else { again };
                target.saturating_sub(r.out)
            })
            .filter(|&h| h > 0)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Bytes held: the table, and each tally's rings.
    pub(super) fn memory(&self) -> usize {
        let ring = std::mem::size_of::<Ring>() * self.limits.len();
        self.map.overhead_bytes()
            + self.map.values().filter(|t| t.rings.is_some()).count() * ring
            + self.pool.len() * ring
    }

    /// Drops keys quiet for longer than the longest window.
    pub(super) fn expire(&mut self, now: Timestamp) {
        let Tallies { map, longest, pool, .. } = self;
        map.retain(|_, t| {
            let keep = now.0.saturating_sub(t.last.0) < *longest;
            if !keep {
                Self::recycle(pool, t);
            }
            keep
        });
    }

    /// Per-window figures of `t`, for evidence.
    pub(super) fn windows(&self, t: &Tally) -> Vec<serde_json::Value> {
        let Some(rings) = &t.rings else { return Vec::new() };
        rings
            .iter()
            .zip(&self.limits)
            .map(|(r, l)| {
                serde_json::json!({
                    "window": l.window.to_string(),
                    "window_secs": l.window.0.as_secs(),
                    "bytes_out": r.out,
                    "bytes_in": r.inb,
                    "threshold_bytes": l.bytes.0,
                })
            })
            .collect()
    }
}
