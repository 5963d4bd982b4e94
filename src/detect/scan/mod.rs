//! Scanning: horizontal, vertical and block scans and ICMP sweeps, from or against the home
//! network (T1046, T1595, T1496.002 when a hijacked host scans the internet).
//!
//! Observe → reduce → threshold, after Threshold Random Walk (Jung et al., 2004). Every flow's
//! first packet is classified ([`probe`]): SYN from a raw socket or from the OS stack, FIN,
//! NULL, Xmas, odd flags, bare ACK, UDP, ICMP echo or timestamp. A source's *first contact* with
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
//! counts `blind_weight`, unanswered UDP/ICMP nothing.
//!
//! Needs: every packet (`on_packet`) or flow record (`on_flow_record`, [`records`]) and ticks
//! (timeouts). Memory: one entry per source, capped
//! at `max_sources` with counted eviction; per source, fixed-size sketches (a two-generation
//! Bloom filter of targets seen, HyperLogLogs of failed hosts and ports) and short capped lists;
//! first contacts awaiting an answer capped at `max_pending`. A /8 scan costs the same memory as
//! a /24. Limitation: workers shard by home host, so an external source scanning many home
//! hosts is seen by every worker, each with its share of the targets (and may alert once each).

mod alert;
pub mod config;
pub mod probe;
mod records;
mod signatures;
pub mod sketch;
pub mod state;
#[cfg(test)]
mod tests;

pub use config::ScanConfig;
pub use signatures::{SIG_INBOUND, SIG_INTERNAL, SIG_OUTBOUND};

use super::{Build, Detector, DetectorStats, Env, PacketCtx, RecordCtx, Spec};
use crate::alert::Alert;
use crate::decode::icmp::{self, IcmpError};
use crate::decode::packet::tcp_flags::{ACK, RST, SYN};
use crate::decode::{Decoded, L4};
use crate::flow::bounded::Bounded;
use crate::flow::host::is_group;
use crate::flow::{EndReason, Flow, FlowKey, FlowTable};
use crate::time::Timestamp;
use alert::Trigger;
use config::Walk;
use ipnet::IpNet;
use probe::{Kind, UDP_ONE_WAY, service_port};
use rustc_hash::FxHashMap;
use state::{Source, Target, family};
use std::collections::VecDeque;
use std::net::IpAddr;

const NAME: &str = "scan";

/// The detector's row in [`crate::detect::ALL`].
pub const SPEC: Spec = Spec::of::<Scan>(
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
enum Outcome {
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
pub struct Scan {
    cfg: ScanConfig,
    walk: Walk,
    allow: Vec<IpNet>,
    sources: Bounded<IpAddr, Box<Source>>,
    /// Forgotten sources whose allocations the next new ones reuse. Boxed: a source moves
    /// between the map and the pool without being copied or reallocated.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Source>>,
    /// First contacts awaiting an answer, by their flow key's hash ([`FlowKey::hash64`]; two
    /// open flows share one about once in 2^64): 8-byte keys, and 16-byte entries in `order`,
    /// which every new flow appends to.
    pending: FxHashMap<u64, Pending>,
    order: VecDeque<(Timestamp, u64)>,
    /// Last time a flow was seen answered (both directions visible).
    two_way_at: Option<Timestamp>,
    evicted_sources: u64,
    evicted_pending: u64,
    shed: u64,
}

impl Scan {
    /// A detector with `cfg`.
    pub fn new(cfg: ScanConfig) -> Self {
        let max_sources = cfg.max_sources;
        Scan {
            walk: Walk::from_config(&cfg),
            allow: cfg.allow_sources.clone(),
            cfg,
            sources: Bounded::new(max_sources),
            pool: Vec::new(),
            pending: FxHashMap::default(),
            order: VecDeque::new(),
            two_way_at: None,
            evicted_sources: 0,
            evicted_pending: 0,
            shed: 0,
        }
    }

    fn worth(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        !(src.is_unspecified()
            || dst.is_unspecified()
            || src.is_loopback()
            || is_group(dst)
            || src == dst
            || self.allow.iter().any(|n| n.contains(src)))
    }

    /// The source's state, starting a new episode if it was quiet for `window`.
    fn source(&mut self, src: IpAddr, ts: Timestamp) -> &mut Source {
        let window = self.cfg.window.nanos();
        if self.sources.is_full() && !self.sources.contains_key(&src) {
            // The least recently seen source goes, in O(1): a flood of one-probe sources cannot
            // pin an old scanner in place for long, nor slow the table down.
            if let Some((_, old)) = self.sources.pop_oldest() {
                self.evicted_sources += 1;
                self.recycle(old);
            }
        }
        let (pool, sample) = (&mut self.pool, self.cfg.sample_size);
        let s = self.sources.get_or_insert_with(src, |_| match pool.pop() {
            Some(mut b) => {
                b.reset(ts);
                b.pending = 0;
                b
            }
            None => Box::new(Source::new(ts, sample)),
        });
        if ts.0.saturating_sub(s.last.0) > window {
            s.reset(ts);
        }
        s
    }

    /// Keeps a forgotten source's allocations for the next new one (bounded by `max_sources`):
    /// in steady state new sources allocate nothing.
    fn recycle(&mut self, s: Box<Source>) {
        if self.pool.len() < self.pool_cap() {
            self.pool.push(s);
        }
    }

    fn pool_cap(&self) -> usize {
        self.cfg.max_sources.min(4096)
    }

    /// A flow's first packet.
    fn opened(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d = c.pkt;
        let Some(p) = probe::classify(d) else { return };
        if !self.worth(&d.src, &d.dst) {
            return;
        }
        let ts = c.ts;
        let target = Target { host: d.dst, proto: p.proto, port: p.port };
        let (sweep_window, sweep_hosts) = (self.cfg.sweep_window.nanos(), self.cfg.sweep_hosts);
        let s = self.source(d.src, ts);
        if !s.seen.insert(target.hash()) {
            return;
        }
        s.probes += 1;
        s.kinds[p.kind.idx()] += 1;
        if let Some(t) = p.tool {
            s.tools[t as usize] += 1;
        }
        s.last = ts;
        s.last_probe = ts;
        let contact = Contact { prober: d.src, sport: d.ports().0, target, kind: p.kind, crafted: p.crafted };
        if p.kind == Kind::IcmpEcho {
            let cell = s.sweep(&d.dst, p.crafted, ts, sweep_window);
            if cell.weight >= sweep_hosts && !s.alerted {
                let t = Trigger::Sweep { weight: cell.weight, hosts: cell.hosts };
                self.raise(&contact, t, ts, c.env, out);
            }
        }
        if p.kind.definite() {
            self.resolve(ts, contact, Outcome::Definite, c.env, out);
            return;
        }
        self.await_answer(c.flow.key.hash64(), contact, ts, c.env, out);
    }

    fn await_answer(&mut self, key: u64, contact: Contact, ts: Timestamp, env: &Env, out: &mut Vec<Alert>) {
        let cap = self.cfg.max_pending.max(1);
        while self.pending.len() >= cap || self.order.len() >= cap.saturating_mul(2) {
            let Some((t, k)) = self.order.pop_front() else { break };
            if self.pending.get(&k).is_some_and(|o| o.ts == t)
                && let Some(old) = self.take(&k)
            {
                // Decided early. Silence counts only against a source that fills a good part of
                // the table itself (a fast scanner): others' slow answers must not become
                // failures because someone else flooded.
                self.evicted_pending += 1;
                let flooding = self.sources.get(&old.c.prober).is_some_and(|s| s.pending as usize >= cap / 8);
                let outcome = if flooding { Outcome::Unanswered } else { Outcome::Neutral };
                self.resolve(ts, old.c, outcome, env, out);
            }
        }
        let _ = self.take(&key);
        if let Some(s) = self.sources.get_mut(&contact.prober) {
            s.pending += 1;
        }
        self.pending.insert(key, Pending { c: contact, ts });
        self.order.push_back((ts, key));
    }

    /// Removes a pending first contact, keeping its source's count.
    fn take(&mut self, key: &u64) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        if let Some(s) = self.sources.get_mut(&p.c.prober) {
            s.pending = s.pending.saturating_sub(1);
        }
        Some(p)
    }

    /// The first packet from the other side of a pending first contact.
    fn answered(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d = c.pkt;
        let key = c.flow.key.hash64();
        let Some(p) = self.pending.get(&key).copied() else { return };
        if p.c.prober == d.src {
            return;
        }
        self.take(&key);
        let outcome = match d.l4 {
            L4::Tcp(t) if t.flags & (SYN | ACK) == SYN | ACK => Outcome::Success { implied: false },
            L4::Tcp(t) if t.flags & RST != 0 => Outcome::Rejected,
            // A bare ACK answered with data or ACKs belongs to a live connection seen mid-way.
            L4::Tcp(_) if p.c.kind == Kind::Ack => Outcome::Neutral,
            _ => Outcome::Success { implied: false },
        };
        self.resolve(c.ts, p.c, outcome, c.env, out);
    }

    /// The prober's 2nd..4th packet while nothing came back: with a one-way view, its ACK or
    /// data after a SYN shows the handshake completed.
    fn followed_up(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d = c.pkt;
        let L4::Tcp(t) = d.l4 else { return };
        let key = c.flow.key.hash64();
        let Some(p) = self.pending.get(&key).copied() else { return };
        if p.c.prober != d.src {
            return;
        }
        let data = d.payload_wire_len > 0;
        let outcome = match p.c.kind {
            Kind::Syn | Kind::Connect if data || (t.flags & ACK != 0 && t.flags & (SYN | RST) == 0) => {
                Outcome::Success { implied: true }
            }
            Kind::Ack if data || c.flow.pkts[c.dir.idx()] >= 3 => Outcome::Neutral,
            _ => return,
        };
        self.take(&key);
        self.resolve(c.ts, p.c, outcome, c.env, out);
    }

    /// An ICMP unreachable: the quote names the prober and the target.
    fn unreachable(&mut self, c: &PacketCtx<'_, '_>, e: &IcmpError, out: &mut Vec<Alert>) {
        let q = e.quoted;
        if c.pkt.dst != q.src {
            return;
        }
        let (key, _) = FlowKey::from_tuple(q.src, q.sport, q.dst, q.dport, q.proto, c.pkt.vlan.unwrap_or(0));
        let key = key.hash64();
        let Some(p) = self.pending.get(&key).copied() else { return };
        if p.c.prober != q.src {
            return;
        }
        self.take(&key);
        let outcome = if c.pkt.src == q.dst { Outcome::Unreachable } else { Outcome::UnreachableRouter };
        self.resolve(c.ts, p.c, outcome, c.env, out);
    }

    /// Weight of a failure in units of the walk's failure step; 0 = no evidence.
    fn failure_weight(
        &self,
        s: &Source,
        t: &Target,
        kind: Kind,
        crafted: bool,
        outcome: Outcome,
        now: Timestamp,
    ) -> f64 {
        // Host-discovery probes (ACK ping, echo, timestamp) count plainly: nmap sends them
        // before any scan, and the alert should come from, and name, the scan itself.
        let mut w = if crafted && kind.port_scan() { self.cfg.crafted_weight } else { 1.0 };
        if t.proto == 17 && !crafted {
            w = self.cfg.udp_weight;
        }
        if matches!(outcome, Outcome::Unanswered | Outcome::UnreachableRouter) {
            if t.proto == 17 && (UDP_ONE_WAY.contains(&t.port) || (t.port >= 1024 && !crafted)) {
                return 0.0;
            }
            // Silence (or a router's word) only counts fully where answers are known to be
            // visible: replies seen on this tap lately, and by this source in this family.
            if self.blind(now) || !s.answered[family(&t.host)] {
                return if t.proto == 6 { w * self.cfg.blind_weight } else { 0.0 };
            }
        }
        w
    }

    /// No answered flow seen on this tap within `window`: a one-way view, or nothing answers.
    fn blind(&self, now: Timestamp) -> bool {
        self.two_way_at.is_none_or(|at| now.0.saturating_sub(at.0) > self.cfg.window.nanos())
    }

    fn resolve(
        &mut self,
        ts: Timestamp,
        contact: Contact,
        outcome: Outcome,
        env: &Env,
        out: &mut Vec<Alert>,
    ) {
        let Contact { prober, target: t, kind, crafted, .. } = contact;
        let window = self.cfg.window.nanos();
        let cap = self.cfg.max_walks_per_source;
        let walk = self.walk;
        let Some(s) = self.sources.get(&prober) else { return };
        let w = match outcome {
            Outcome::Success { .. } | Outcome::Neutral => 0.0,
            _ => self.failure_weight(s, &t, kind, crafted, outcome, ts),
        };
        // Echo is host discovery: its outcomes live in the echo port walk (sweeps) only, they
        // neither excuse nor add to port failures. The block walk measures the port scan
        // proper: host discovery (ACK ping, timestamp) precedes every nmap scan and would
        // otherwise decide before, and name, the scan itself.
        let echo = kind == Kind::IcmpEcho;
        let blockable = kind.port_scan() && (crafted || service_port(t.port));
        let sample_size = self.cfg.sample_size;
        let Some(s) = self.sources.get_mut(&prober) else { return };
        s.last = s.last.max(ts);
        match outcome {
            Outcome::Success { implied } => {
                s.successes += 1;
                s.answered[family(&t.host)] |= !implied;
                s.port_walk(t.proto, t.port, cap).step(ts, walk.success, walk.lower, window);
                if !echo {
                    s.host_walk(t.host, cap).step(ts, walk.success, walk.lower, window);
                    s.block.step(ts, walk.success, walk.lower, window);
                }
                return;
            }
            Outcome::Neutral => {
                s.neutral += 1;
                return;
            }
            Outcome::Rejected | Outcome::Unreachable => s.answered[family(&t.host)] = true,
            _ => {}
        }
        if w <= 0.0 {
            s.neutral += 1;
            return;
        }
        s.failures += 1;
        match outcome {
            Outcome::Rejected => s.rejected += 1,
            Outcome::Unreachable => s.unreachable += 1,
            Outcome::UnreachableRouter => s.unreachable_router += 1,
            Outcome::Unanswered => s.unanswered += 1,
            _ => s.definite += 1,
        }
        s.failed(&t, sample_size);
        let delta = w * walk.fail;
        let h = s.port_walk(t.proto, t.port, cap);
        h.step(ts, delta, walk.lower, window);
        let hv = f64::from(h.value);
        let mut vv = 0.0;
        if !echo {
            let v = s.host_walk(t.host, cap);
            v.step(ts, delta, walk.lower, window);
            vv = f64::from(v.value);
        }
        if blockable {
            s.block.step(ts, delta, walk.lower, window);
        }
        if s.alerted {
            return;
        }
        let (hu, vu, bu) =
            (walk.upper, walk.upper * self.cfg.vertical_factor, walk.upper * self.cfg.block_factor);
        let trigger = if hv >= hu {
            Trigger::Horizontal { value: hv, threshold: hu }
        } else if vv >= vu {
            Trigger::Vertical { value: vv, threshold: vu }
        } else if f64::from(s.block.value) >= bu {
            Trigger::Block { value: f64::from(s.block.value), threshold: bu }
        } else {
            return;
        };
        self.raise(&contact, trigger, ts, env, out);
    }
}

impl Scan {
    /// Decides the first contacts whose timeout has passed at `now` as unanswered.
    fn expire(&mut self, now: Timestamp, env: &Env, out: &mut Vec<Alert>) {
        let timeout = self.cfg.probe_timeout.nanos();
        while let Some(&(ts, key)) = self.order.front() {
            if now.0.saturating_sub(ts.0) < timeout {
                break;
            }
            self.order.pop_front();
            if self.pending.get(&key).is_some_and(|p| p.ts == ts)
                && let Some(p) = self.take(&key)
            {
                self.resolve(now, p.c, Outcome::Unanswered, env, out);
            }
        }
    }
}

impl Detector for Scan {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        // Timeouts are decided on ticks, and sooner when packets keep coming (one comparison).
        if self.order.front().is_some_and(|f| c.ts.0.saturating_sub(f.0.0) >= self.cfg.probe_timeout.nanos())
        {
            self.expire(c.ts, c.env, out);
        }
        let d: &Decoded<'_> = c.pkt;
        if let L4::Icmp(_) = d.l4
            && let Some(e) = icmp::error(d)
            && e.unreachable
        {
            self.unreachable(c, &e, out);
        }
        if c.new_flow {
            self.opened(c, out);
            return;
        }
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

    fn on_flow_record(&mut self, r: &RecordCtx<'_>, out: &mut Vec<Alert>) {
        self.on_record(r, out);
    }

    fn on_flow_end(&mut self, f: &Flow, why: EndReason, env: &Env, out: &mut Vec<Alert>) {
        // The capture ended: an answer that never came is not coming.
        if why == EndReason::Shutdown
            && let Some(p) = self.take(&f.key.hash64())
        {
            self.resolve(f.last, p.c, Outcome::Unanswered, env, out);
        }
    }

    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, env: &Env, out: &mut Vec<Alert>) {
        self.expire(now, env, out);
        if now.secs().is_multiple_of(10) {
            let window = self.cfg.window.nanos();
            let cap = self.pool_cap();
            let Scan { sources, pool, .. } = self;
            sources.retain_with(
                |_, s| now.0.saturating_sub(s.last.0) <= window,
                |_, s| {
                    if pool.len() < cap {
                        pool.push(s);
                    }
                },
            );
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.sources.len() + self.pending.len()) as u64,
            evicted: self.evicted_sources + self.evicted_pending,
            memory: (self.sources.overhead_bytes()
                + (self.sources.len() + self.pool.len()) * std::mem::size_of::<Source>()
                + self.pending.capacity() * (std::mem::size_of::<(u64, Pending)>() + 1))
                as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        self.pool = Vec::new();
        let n = self.sources.shed(share, |_, _| {});
        self.shed += n;
        n
    }
}
