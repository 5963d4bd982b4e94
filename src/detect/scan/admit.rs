//! Admission (issue 19): a source's first contact builds no [`Source`]. Under a flood of
//! one-packet sources (random-source SYNs, one-datagram UDP flows) building, resetting and
//! evicting a full source per packet, and filing its contact in the pending table, was most of
//! the detector's cost — for sources that never contact anything again.
//!
//! So a source not yet tracked is a *newcomer*: its first contact (with the target's seen-key,
//! the flow it opened, its time) is held in a small table keyed by a hash of the
//! source's address, and decided there — by the answer, the prober's follow-up, an ICMP
//! unreachable, `probe_timeout` of silence — as it would have been in the pending table, the
//! outcome kept with its time and whether the tap was blind then. On the source's second
//! distinct contact the newcomer is promoted: a full source is built and the first contact
//! replayed (its target seen, its tallies, its sweep count, then its outcome, or, still
//! awaiting an answer, filed in the pending table in time order), so every source that makes
//! two contacts is judged as before. The table is four-way set-associative: a new source takes
//! a free slot of its set or the one of the newcomer quiet longest, which is forgotten
//! (counted). Memory is fixed: one slot per eight `max_sources` (2048 by default, about 130
//! bytes each), and a queue of the waiting contacts' times twice that long. The size trades
//! memory for memory: a newcomer kept longer is promoted more often, and a tracked source costs
//! several times a newcomer. On day-v2 (`--workers 1`) the alerts are those of every source
//! tracked from its first contact with 2048 slots (and 4096, 8192); with 1024, or a
//! direct-mapped table of 4096, a scanner's first contact was forgotten (one alert's
//! `first_probe` came 1.8 s later). Mixed's peak RSS grew ~2 MiB per doubling (1024 to 4096).
//!
//! A newcomer's contact still waiting when the capture ends is left undecided: alone, it could
//! not alert. One contact alone must not be able to raise an alert for this to change nothing: with
//! thresholds that let it (`sweep_hosts` of 2, failure weights over the walk's threshold),
//! admission is off and every source is tracked from its first contact.

use super::probe::{Kind, Tool};
use super::{Contact, Outcome, Pending, Scan};
use crate::alert::Alert;
use crate::detect::Env;
use crate::flow::host::hash_ip;
use crate::time::Timestamp;
use std::collections::VecDeque;
use std::net::IpAddr;

/// What became of a newcomer's first contact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Fate {
    /// Awaiting its answer.
    Waiting,
    /// Decided at `at`; `blind`: no answered flow had been seen on the tap lately then.
    Decided { outcome: Outcome, at: Timestamp, blind: bool },
}

/// A source seen once, and its first contact.
#[derive(Debug, Clone, Copy)]
pub(super) struct Newcomer {
    /// The contact (its prober is the source).
    pub c: Contact,
    /// The tool the probe's fingerprint named.
    pub tool: Option<Tool>,
    /// Tells this newcomer from a later one in the same slot, for the timeout queue.
    serial: u32,
    /// The target's seen-filter key (per name when the prober had resolved it).
    pub key: u64,
    /// The flow it opened ([`crate::flow::FlowKey::hash64`]).
    pub flow: u64,
    /// When.
    pub ts: Timestamp,
    /// Its outcome so far.
    pub fate: Fate,
}

impl Newcomer {
    /// The first contact `c` (with its probe's `tool`, its target's seen-filter `key`, its
    /// `flow`) at `ts`, and what became of it so far.
    pub(super) fn new(
        c: Contact,
        tool: Option<Tool>,
        key: u64,
        flow: u64,
        ts: Timestamp,
        fate: Fate,
    ) -> Self {
        Newcomer { c, tool, serial: 0, key, flow, ts, fate }
    }

    /// Last time it did something: its contact, or the contact's outcome.
    fn last(&self) -> Timestamp {
        match self.fate {
            Fate::Decided { at, .. } => self.ts.max(at),
            Fate::Waiting => self.ts,
        }
    }
}

/// Slots a source may take: a set.
const WAYS: usize = 4;

/// What a set's slots are searched and chosen by, in one cache line: per slot, a tag of its
/// source's hash (never 0), or 0 when free, and its newcomer's last activity
/// ([`Newcomer::last`]). A first contact reads one line, not the newcomers.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Set {
    tags: [u32; WAYS],
    lasts: [Timestamp; WAYS],
}

impl Set {
    const EMPTY: Set = Set { tags: [0; WAYS], lasts: [Timestamp(0); WAYS] };
}

/// The newcomers of one worker.
pub(super) struct Newcomers {
    /// Slots, [`WAYS`] per set, the set picked by the source's address hash; empty until the
    /// first newcomer.
    slots: Vec<Option<Newcomer>>,
    /// The sets' tags and times (slot `i` is way `i % WAYS` of set `i / WAYS`).
    sets: Vec<Set>,
    /// Slots (a power of two, at least [`WAYS`]), 0 when admission is off.
    n: usize,
    /// Waiting contacts by time: (opened, slot, serial).
    waiting: VecDeque<(Timestamp, u32, u32)>,
    serial: u32,
    /// Newcomers held.
    held: usize,
    /// Live newcomers overwritten by another source's first contact.
    pub forgotten: u64,
}

impl Newcomers {
    /// `n` slots (rounded up to a power of two); 0 turns admission off.
    pub(super) fn new(n: usize) -> Self {
        let n = if n == 0 { 0 } else { n.next_power_of_two().max(WAYS) };
        Newcomers {
            slots: Vec::new(),
            sets: Vec::new(),
            n,
            waiting: VecDeque::new(),
            serial: 0,
            held: 0,
            forgotten: 0,
        }
    }

    /// Admission is on.
    pub(super) fn on(&self) -> bool {
        self.n > 0
    }

    /// `src`'s set, and its tag: one hash per first contact ([`Newcomers::find_in`],
    /// [`Newcomers::hold`]).
    pub(super) fn locate(&self, src: &IpAddr) -> (usize, u32) {
        let h = hash_ip(src);
        ((h as usize) & (self.n / WAYS - 1), (h >> 32) as u32 | 1)
    }

    /// The slot of newcomer `src`, of set `set` and tag `tag` ([`Newcomers::locate`]).
    pub(super) fn find_in(&self, src: &IpAddr, set: usize, tag: u32) -> Option<usize> {
        let s = self.sets.get(set)?;
        let held = |w: usize| self.slots[set * WAYS + w].as_ref().is_some_and(|x| x.c.prober == *src);
        (0..WAYS).find(|&w| s.tags[w] == tag && held(w)).map(|w| set * WAYS + w)
    }

    /// The slot of newcomer `src`.
    pub(super) fn find(&self, src: &IpAddr) -> Option<usize> {
        if self.n == 0 {
            return None;
        }
        let (set, tag) = self.locate(src);
        self.find_in(src, set, tag)
    }

    /// Newcomer `i`.
    pub(super) fn at(&self, i: usize) -> &Newcomer {
        // A slot from `find` holds one.
        self.slots[i].as_ref().expect("a slot found holds a newcomer")
    }

    /// The slot of newcomer `src` whose first contact, on `flow`, awaits its answer.
    pub(super) fn waiting_on(&self, src: &IpAddr, flow: u64) -> Option<usize> {
        self.find(src).filter(|&i| {
            let x = self.at(i);
            x.flow == flow && x.fate == Fate::Waiting
        })
    }

    /// Decides newcomer `i`'s waiting contact.
    pub(super) fn decide(&mut self, i: usize, outcome: Outcome, at: Timestamp, blind: bool) {
        if let Some(Some(x)) = self.slots.get_mut(i) {
            x.fate = Fate::Decided { outcome, at, blind };
            self.sets[i / WAYS].lasts[i % WAYS] = x.last();
        }
    }

    /// Takes newcomer `src` out, for promotion, if its episode is still running at `ts`
    /// (quiet for `window` at most); a stale one is dropped.
    pub(super) fn take(&mut self, src: &IpAddr, ts: Timestamp, window: u64) -> Option<Newcomer> {
        let i = self.find(src)?;
        let x = self.slots[i].take()?;
        self.sets[i / WAYS].tags[i % WAYS] = 0;
        self.held -= 1;
        (ts.0.saturating_sub(x.last().0) <= window).then_some(x)
    }

    /// Holds the first contact `x` of a new source in its set: in its own slot (a stale
    /// episode), else a free one, else the one of the newcomer quiet longest, forgotten unless
    /// stale at `x.ts`. Two waiting contacts per slot are queued at most: past that the oldest
    /// goes, and its slot is returned if it still waits there (to be decided as evicted).
    /// `own`: the slot of `x`'s source, if it holds one, and `(set, tag)` its set and tag
    /// ([`Newcomers::locate`], [`Newcomers::find_in`]).
    pub(super) fn hold(
        &mut self,
        mut x: Newcomer,
        own: Option<usize>,
        (set, tag): (usize, u32),
        window: u64,
    ) -> Option<usize> {
        if self.slots.is_empty() {
            self.slots = vec![None; self.n];
            self.sets = vec![Set::EMPTY; self.n / WAYS];
        }
        let s = &mut self.sets[set];
        let w = match own {
            Some(i) => i % WAYS,
            None => match s.tags.iter().position(|t| *t == 0) {
                Some(w) => w,
                None => (0..WAYS).min_by_key(|&w| s.lasts[w]).unwrap_or(0),
            },
        };
        let i = set * WAYS + w;
        if s.tags[w] == 0 {
            self.held += 1;
        } else if x.ts.0.saturating_sub(s.lasts[w].0) <= window
            && (s.tags[w] != tag || self.slots[i].as_ref().is_some_and(|old| old.c.prober != x.c.prober))
        {
            self.forgotten += 1;
        }
        self.serial = self.serial.wrapping_add(1);
        x.serial = self.serial;
        if x.fate == Fate::Waiting {
            self.waiting.push_back((x.ts, i as u32, x.serial));
        }
        s.tags[w] = tag;
        s.lasts[w] = x.last();
        self.slots[i] = Some(x);
        // At most two waiting contacts per slot are queued: past that, the oldest goes.
        if self.waiting.len() > 2 * self.n {
            return self.pop_waiting();
        }
        None
    }

    /// The oldest queued contact's slot, if it still waits there.
    fn pop_waiting(&mut self) -> Option<usize> {
        let (_, i, serial) = self.waiting.pop_front()?;
        let i = i as usize;
        match &self.slots[i] {
            Some(x) if x.serial == serial && x.fate == Fate::Waiting => Some(i),
            _ => None,
        }
    }

    /// When the oldest queued contact was opened.
    pub(super) fn oldest_waiting(&self) -> Option<Timestamp> {
        self.waiting.front().map(|f| f.0)
    }

    /// A queued contact is `timeout` old at `now`.
    pub(super) fn due(&self, now: Timestamp, timeout: u64) -> bool {
        self.waiting.front().is_some_and(|f| now.0.saturating_sub(f.0.0) >= timeout)
    }

    /// The slot of the next contact whose timeout passed at `now` and that still waits; `None`
    /// when there is no more.
    pub(super) fn next_due(&mut self, now: Timestamp, timeout: u64) -> Option<Option<usize>> {
        if !self.due(now, timeout) {
            return None;
        }
        Some(self.pop_waiting())
    }

    /// Newcomers held.
    pub(super) fn len(&self) -> usize {
        self.held
    }

    /// Bytes held.
    pub(super) fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Newcomer>>()
            + self.sets.capacity() * std::mem::size_of::<Set>()
            + self.waiting.capacity() * std::mem::size_of::<(Timestamp, u32, u32)>()
    }
}

impl Scan {
    /// Slots of the newcomers table for `cfg`: one per eight tracked sources (rounded up to a
    /// power of two), none when a single contact could raise an alert (see the module doc).
    pub(super) fn newcomer_slots(cfg: &super::ScanConfig, walk: &super::Walk) -> usize {
        let weight = cfg.crafted_weight.max(cfg.udp_weight).max(1.0) * cfg.blind_weight.max(1.0);
        let one_alerts = cfg.sweep_hosts <= 2 || weight * walk.fail >= walk.upper;
        if one_alerts { 0 } else { cfg.max_sources / 8 }
    }

    /// A first contact of a source not tracked: held as a newcomer (`true`), or, from a
    /// newcomer's second distinct target, left to the caller (`false`: [`Scan::source`]
    /// promotes it). A repeated first contact is nothing new (`true`).
    pub(super) fn admit(&mut self, x: Newcomer) -> bool {
        let window = self.cfg.window.nanos();
        let at = self.newcomers.locate(&x.c.prober);
        let own = self.newcomers.find_in(&x.c.prober, at.0, at.1);
        if let Some(i) = own {
            let n = self.newcomers.at(i);
            if x.ts.0.saturating_sub(n.last().0) <= window {
                return n.key == x.key;
            }
        }
        if let Some(i) = self.newcomers.hold(x, own, at, window) {
            // Evicted from a full queue, like a contact from a full pending table: decided
            // early, as silence only against a source that fills an eighth of the table.
            self.evicted_pending += 1;
            // (The source's other pending contacts: none.)
            let flooding = self.cfg.max_pending.max(1) / 8 == 0;
            let outcome = if flooding { Outcome::Unanswered } else { Outcome::Neutral };
            let blind = self.blind(x.ts);
            self.newcomers.decide(i, outcome, x.ts, blind);
        }
        true
    }

    /// Builds the full source of newcomer `x` and replays its first contact: what
    /// [`Scan::opened`] and [`Scan::resolve_at`] did to a source from its first contact on.
    pub(super) fn promote(&mut self, x: Newcomer, env: &Env, out: &mut Vec<Alert>) -> u32 {
        let Newcomer { c, tool, key, flow, ts, fate, .. } = x;
        let slot = self.source_slot(c.prober, ts);
        let s = self.sources.at_mut(slot);
        s.seen.insert(key, &mut self.spare.seen);
        s.probes += 1;
        s.kinds[c.kind.idx()] += 1;
        if let Some(t) = tool {
            s.tools[t as usize] += 1;
        }
        s.last = ts;
        s.last_probe = ts;
        if c.crafted || c.kind == Kind::IcmpEcho {
            self.touch_at(slot, &c, if c.crafted { 2 } else { 1 }, ts, env, out);
        }
        match fate {
            Fate::Decided { outcome, at, blind } => {
                self.blind_then = Some(blind);
                self.resolve_at(slot, at, c, outcome, env, out);
                self.blind_then = None;
            }
            Fate::Waiting => {
                if let Some(old) = self.pending.insert(flow, Pending { c, ts })
                    && let Some(s) = self.sources.get_mut(&old.c.prober)
                {
                    s.pending = s.pending.saturating_sub(1);
                }
                // In time order: the contact times out when it would have.
                let at = self.order.partition_point(|e| e.0 <= ts);
                self.order.insert(at, (ts, flow));
                self.sources.at_mut(slot).pending += 1;
            }
        }
        slot
    }

    /// Decides the newcomers' contacts whose timeout passed at `now` as unanswered.
    pub(super) fn expire_newcomers(&mut self, now: Timestamp) {
        let timeout = self.cfg.probe_timeout.nanos();
        while let Some(due) = self.newcomers.next_due(now, timeout) {
            if let Some(i) = due {
                let blind = self.blind(now);
                self.newcomers.decide(i, Outcome::Unanswered, now, blind);
            }
        }
    }
}
