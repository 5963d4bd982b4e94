//! Scanning: horizontal, vertical and block scans and ICMP sweeps, from or against the home
//! network (T1046, T1595, T1496.002 when a hijacked host scans the internet).
//!
//! Observe → reduce → threshold, after Threshold Random Walk (Jung et al., 2004). Every flow's
//! first packet is classified ([`probe`]): SYN from a raw socket or from the OS stack, FIN,
//! NULL, Xmas, odd flags, bare ACK, UDP, ICMP echo or timestamp, another IP protocol. A source's *first contact* with
//! a target (host, protocol, port) is then decided, on packet time:
//! - success: SYN-ACK, any UDP or echo answer, or, when only the prober's side is visible, its
//!   own ACK or data after the SYN (the handshake must have completed);
//! - failure: RST, an ICMP/ICMPv6 unreachable quoting the probe (the quote names the prober and
//!   target), no answer within `probe_timeout`, or a stealth probe (failed by construction).
//!
//! Each outcome steps log-likelihood walks of the source: one per port over hosts (horizontal),
//! one per host over ports (vertical), and one over everything (block). A failure adds
//! ln((1-θ1)/(1-θ0)) — more for crafted probes no OS sends — a success subtracts ln(θ0/θ1), and
//! a walk is held at TRW's lower threshold so past success cannot excuse a later scan. A walk
//! crossing ln(P_D/P_F) (times a factor for vertical and block) raises one alert per episode.
//! Failure ratio, not volume, decides: busy hosts whose contacts succeed never accumulate.
//! Faster than TRW: refusals decide at once instead of on connection end, stealth and crafted
//! probes weigh more, and three walks see scans TRW's per-host first contacts miss. An echo
//! sweep where every host answers is caught by counting distinct hosts per /24.
//!
//! When the return path is invisible (one-way tap), silence is weak evidence: unanswered TCP
//! counts `blind_weight`, unanswered UDP/ICMP nothing — until the source's silent contacts fan
//! out over `fanout_ports` ports of one host, which no client does: then silence counts fully.
//! Distinct hosts touched per /24 (/64) are counted for every probe kind (crafted probes when
//! sent, others when nothing answers them), so a sweep nothing answers alerts without any
//! answer seen.
//! An ICMP unreachable whose probe was out of view (asymmetric routing, a one-way tap) is itself
//! a refused first contact. Addresses a host resolved moments before are one target per name
//! and port ([`resolved`]): failing over between them is not a scan.
//!
//! Needs: every packet (`on_packet`) or flow record (`on_flow_record`, [`records`]), DNS
//! answers (`on_dns`) and ticks (timeouts). Memory: a source's first contact is held in a
//! fixed table of newcomers ([`admit`]); from its second, one entry per source, capped at
//! `max_sources` with counted eviction; per source, fixed-size sketches (a two-generation
//! Bloom filter of targets seen, HyperLogLogs of failed hosts and ports) and short capped
//! lists, the common case inline and the rest borrowed while needed from shelves the detector
//! reuses ([`spare`]); first contacts awaiting an answer capped at `max_pending`; resolved
//! addresses capped at `max_resolved` (LRU). `stats().memory` counts all of it. A /8 scan
//! costs the same memory as a /24. Limitation: workers shard by home host, so an external source scanning many home
//! hosts is seen by every worker, each with its share of the targets (and may alert once each).

mod admit;
mod alert;
pub(crate) mod config;
mod contact;
pub(crate) mod probe;
mod records;
pub(crate) mod resolved;
mod signatures;
pub(crate) mod sketch;
mod spare;
pub(crate) mod state;
#[cfg(test)]
mod tests;
mod walk;

pub(crate) use config::ScanConfig;

use super::{Build, Detector, DetectorStats, Env, Events, PacketCtx, RecordCtx, Spec, VolumeInterest};
use crate::alert::Alert;
use crate::decode::dns::DnsMessage;
use crate::decode::icmp;
use crate::decode::{Decoded, L4};
use crate::flow::bounded::Bounded;
use crate::flow::host::is_group;
use crate::flow::{EndReason, Flow, FlowTable};
use crate::time::Timestamp;
use admit::Newcomers;
use config::Walk;
use ipnet::IpNet;
use probe::Kind;
use resolved::Resolved;
use rustc_hash::FxHashMap;
use spare::Spare;
use state::{Source, Target};
use std::collections::VecDeque;
use std::net::IpAddr;

const NAME: &str = "scan";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<Scan>(
    NAME,
    "Scanning from, inside or against the home network: horizontal, vertical and block walks \
     judged by failed first contacts (TRW), ICMP sweeps",
    (9_100_200, 9_100_299),
    signatures::ALL,
);

impl Build for Scan {
    type Config = ScanConfig;
    fn build(config: &ScanConfig, _env: &Env) -> Self {
        Scan::new(config.clone())
    }
}

/// How a first contact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered: open port, live host. `implied`: only the prober's ACK showed it.
    Success { implied: bool },
    /// RST.
    Rejected,
    /// ICMP unreachable quoting the probe, sent by the target.
    Unreachable,
    /// ICMP unreachable quoting the probe, sent by a router: weighed like silence.
    UnreachableRouter,
    /// No answer within the timeout.
    Unanswered,
    /// Stealth probe: failed by construction.
    Definite,
    /// No evidence either way.
    Neutral,
}

impl Outcome {
    /// Silence, or a router's word for it.
    fn silent(self) -> bool {
        matches!(self, Outcome::Unanswered | Outcome::UnreachableRouter)
    }
}

/// A first contact: who probed what, how.
#[derive(Debug, Clone, Copy)]
struct Contact {
    prober: IpAddr,
    /// The probe's source port (TCP/UDP), for the alert.
    sport: u16,
    target: Target,
    kind: Kind,
    crafted: bool,
}

/// A first contact awaiting its answer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    c: Contact,
    ts: Timestamp,
}

/// The detector.
pub(crate) struct Scan {
    cfg: ScanConfig,
    walk: Walk,
    allow: Vec<IpNet>,
    sources: Bounded<IpAddr, Box<Source>>,
    /// Forgotten sources whose allocations the next new ones reuse. Boxed: a source moves
    /// between the map and the pool without being copied or reallocated.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Source>>,
    /// Buffers sources borrow while they need them (lists past their inline items, failure
    /// records, targets filters).
    spare: Spare,
    /// First contacts awaiting an answer, by their flow key's hash ([`crate::flow::FlowKey::hash64`];
    /// two open flows share one about once in 2^64): 8-byte keys, and 16-byte entries in
    /// `order`, which every new flow appends to.
    pending: FxHashMap<u64, Pending>,
    order: VecDeque<(Timestamp, u64)>,
    /// Addresses each host resolved lately, grouped by name.
    resolved: Resolved,
    /// Sources seen once, with their first contact ([`admit`]).
    newcomers: Newcomers,
    /// Whether the tap was blind when a newcomer's outcome being replayed was decided.
    blind_then: Option<bool>,
    /// Last time a flow was seen answered (both directions visible).
    two_way_at: Option<Timestamp>,
    /// Latest packet time seen.
    now: Timestamp,
    /// When the oldest queued first contact (in `order` or the newcomers' queue) was opened,
    /// `u64::MAX` when none is queued: the packet path tests this one field for a due timeout
    /// instead of the fronts of two queues. Kept by [`Scan::refresh_due`] at the end of every
    /// hook that may queue or dequeue a contact.
    due: u64,
    /// `probe_timeout` in nanoseconds.
    timeout: u64,
    evicted_sources: u64,
    evicted_pending: u64,
    shed: u64,
}

impl Scan {
    /// A detector with `cfg`.
    pub(crate) fn new(cfg: ScanConfig) -> Self {
        let max_sources = cfg.max_sources;
        let timeout = cfg.probe_timeout.nanos();
        let walk = Walk::from_config(&cfg);
        Scan {
            newcomers: Newcomers::new(Scan::newcomer_slots(&cfg, &walk)),
            blind_then: None,
            walk,
            allow: cfg.allow_sources.clone(),
            resolved: Resolved::new(cfg.max_resolved, cfg.resolved_window.nanos()),
            spare: Spare::new(cfg.max_walks_per_source, cfg.sample_size),
            cfg,
            sources: Bounded::new(max_sources),
            pool: Vec::new(),
            pending: FxHashMap::default(),
            order: VecDeque::new(),
            two_way_at: None,
            now: Timestamp(0),
            due: u64::MAX,
            timeout,
            evicted_sources: 0,
            evicted_pending: 0,
            shed: 0,
        }
    }

    fn worth(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        // IPv4, the common case, in a few integer tests: the same as below.
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            let (s, d) = (u32::from(*s), u32::from(*d));
            return s != 0
                && d != 0
                && s >> 24 != 127
                && d >> 28 != 0xe
                && d & 0xff != 0xff
                && s != d
                && (self.allow.is_empty() || !self.allow.iter().any(|n| n.contains(src)));
        }
        !(src.is_unspecified()
            || dst.is_unspecified()
            || src.is_loopback()
            || is_group(dst)
            || src == dst
            || self.allow.iter().any(|n| n.contains(src)))
    }

    /// The slot of the source's state in `sources` ([`Bounded::at_mut`]; valid until the next
    /// source is inserted or dropped), starting a new episode if it was quiet for `window`. A
    /// newcomer is promoted first ([`Scan::promote`], which may raise nothing but needs `env`
    /// and `out` for the calls it replays).
    fn source(&mut self, src: IpAddr, ts: Timestamp, env: &Env, out: &mut Vec<Alert>) -> u32 {
        if let Some(x) = self.newcomers.take(&src, ts, self.cfg.window.nanos()) {
            self.promote(x, env, out);
        }
        self.source_slot(src, ts)
    }

    /// [`Scan::source`] of a source that is no newcomer.
    fn source_slot(&mut self, src: IpAddr, ts: Timestamp) -> u32 {
        let window = self.cfg.window.nanos();
        // When full, the least recently seen source goes, in O(1), and its box becomes the new
        // one's in place (its borrowed buffers back on their shelves): a flood of one-probe
        // sources cannot pin an old scanner in place for long, nor slow the table down.
        let Scan { pool, spare, evicted_sources: evicted, sources, .. } = self;
        let i = sources.get_or_insert_slot(src, |old| {
            let mut b = match old {
                Some((_, b)) => {
                    *evicted += 1;
                    b
                }
                None => match pool.pop() {
                    Some(b) => b,
                    None => return Box::new(Source::new(ts)),
                },
            };
            b.reset(ts, spare);
            b.pending = 0;
            b
        });
        let s = sources.at_mut(i);
        if ts.0.saturating_sub(s.last.0) > window {
            s.reset(ts, spare);
        }
        i
    }

    /// When the oldest queued first contact was opened (`u64::MAX`: none is queued).
    fn earliest_queued(&self) -> u64 {
        let pending = self.order.front().map_or(u64::MAX, |f| f.0.0);
        pending.min(self.newcomers.oldest_waiting().map_or(u64::MAX, |t| t.0))
    }

    /// Brings [`Scan::due`] up to date, after a hook that may have queued or dequeued.
    pub(super) fn refresh_due(&mut self) {
        self.due = self.earliest_queued();
    }

    /// A packet [`Detector::on_packet`] found worth a look: an ICMP error, a flow's first
    /// packet, the first answer, or one of the prober's first few with nothing back. Out of
    /// line: the packets of established flows (most) never pay for its registers.
    #[inline(never)]
    fn packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d: &Decoded<'_> = c.pkt;
        if let L4::Icmp(_) = d.l4
            && let Some(e) = icmp::error(d)
            // ICMPv6 parameter problem, unrecognised next header: IPv6's protocol unreachable.
            && (e.unreachable || (e.v6 && e.icmp_type == 4 && e.code == 1))
        {
            self.unreachable(c, &e, out);
        }
        if c.new_flow {
            self.opened(c, out);
        } else {
            let me = c.dir.idx();
            let (mine, theirs) = (c.flow.pkts[me], c.flow.pkts[1 - me]);
            if mine == 1 {
                if theirs > 0 {
                    self.two_way_at = Some(c.ts);
                }
                self.answered(c, out);
            } else if theirs == 0 && mine <= 4 {
                self.followed_up(c, out);
            }
        }
        self.refresh_due();
    }

    fn pool_cap(&self) -> usize {
        self.cfg.max_sources.min(4096)
    }
}

impl Detector for Scan {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        VolumeInterest::Nothing
    }

    fn event_interest(&self) -> Events {
        Events::DNS
    }

    #[inline]
    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        // (Checked by the unit tests, which drive the detector through every hook.)
        #[cfg(any(test, debug_assertions))]
        assert_eq!(self.due, self.earliest_queued(), "`due` is kept up to date");
        self.now = self.now.max(c.ts);
        // Timeouts are decided on ticks, and sooner when packets keep coming (one comparison).
        if c.ts.0.saturating_sub(self.due) >= self.timeout && self.due != u64::MAX {
            self.expire(c.ts, c.env, out);
        }
        // Most packets belong to flows whose first contact was decided: nothing to do.
        let me = c.dir.idx();
        let (mine, theirs) = (c.flow.pkts[me], c.flow.pkts[1 - me]);
        let icmp_error = matches!(c.pkt.l4, L4::Icmp(i) if icmp::is_error(i.v6, i.icmp_type));
        if c.new_flow || mine == 1 || (theirs == 0 && mine <= 4) || icmp_error {
            self.packet(c, out);
        }
    }

    fn on_dns(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, _out: &mut Vec<Alert>) {
        if m.is_response && m.rcode == 0 && m.answer_addrs[0].is_some() {
            self.resolved.record(c.pkt.dst, m, c.ts);
        }
    }

    fn on_flow_record(&mut self, r: &RecordCtx<'_>, out: &mut Vec<Alert>) {
        self.on_record(r, out);
        self.refresh_due();
    }

    fn on_flow_end(&mut self, f: &Flow, why: EndReason, env: &Env, out: &mut Vec<Alert>) {
        // The capture ended: an answer that never came is not coming — but a contact younger
        // than `probe_timeout` had not yet failed (its answer may just be out of the capture).
        // (Nothing pending, the flood's case: not even the key's hash.)
        if why == EndReason::Shutdown
            && !self.pending.is_empty()
            && let Some(p) = self.take(&f.key.hash64())
        {
            let due = self.now.0.saturating_sub(p.ts.0) >= self.cfg.probe_timeout.nanos();
            let outcome = if due { Outcome::Unanswered } else { Outcome::Neutral };
            self.resolve(self.now.max(f.last), p.c, outcome, env, out);
            self.refresh_due();
        }
    }

    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, env: &Env, out: &mut Vec<Alert>) {
        self.now = self.now.max(now);
        self.expire(now, env, out);
        if now.secs().is_multiple_of(10) {
            let window = self.cfg.window.nanos();
            let cap = self.pool_cap();
            let Scan { sources, pool, spare, .. } = self;
            sources.retain_with(
                |_, s| now.0.saturating_sub(s.last.0) <= window,
                |_, mut s| {
                    // Idle boxes hold nothing borrowed.
                    s.reset(now, spare);
                    if pool.len() < cap {
                        pool.push(s);
                    }
                },
            );
            self.resolved.expire(now);
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.sources.len() + self.newcomers.len() + self.pending.len() + self.resolved.len())
                as u64,
            evicted: self.evicted_sources
                + self.newcomers.forgotten
                + self.evicted_pending
                + self.resolved.evicted(),
            memory: (self.sources.overhead_bytes()
                + (self.sources.len() + self.pool.len()) * std::mem::size_of::<Source>()
                + self.pool.capacity() * std::mem::size_of::<Box<Source>>()
                + self.spare.bytes()
                + self.newcomers.memory()
                + self.pending.capacity() * (std::mem::size_of::<(u64, Pending)>() + 1)
                + self.order.capacity() * std::mem::size_of::<(Timestamp, u64)>()
                + self.resolved.memory()) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        self.pool = Vec::new();
        let spare = &mut self.spare;
        let n = self.sources.shed(share, |_, mut s| s.reset(Timestamp(0), spare)) + self.resolved.shed(share);
        self.spare.drop_free();
        self.shed += n;
        n
    }
}
