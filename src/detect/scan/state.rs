//! Per-source state: the random walks (per port, per host, over everything), the echo-sweep
//! counters, tallies, sketches and samples. Everything here is bounded: fixed-size sketches and
//! lists capped by `max_walks_per_source` / `sample_size`. The common case is held inline; the
//! rest is borrowed from the detector's [`Spare`] shelves while needed.

use super::Outcome;
use super::probe::{Kind, Tool};
use super::sketch::{Targets, hash_port};
use super::spare::{Failed, Few, Spare};
use crate::flow::host::{hash_ip, mix};
use crate::time::Timestamp;
use std::net::IpAddr;

/// One target: a host and a port (or ICMP request type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// Host probed.
    pub host: IpAddr,
    /// IP protocol.
    pub proto: u8,
    /// Port, or ICMP request type.
    pub port: u16,
}

impl Target {
    /// Hash for the seen-filter.
    pub(crate) fn hash(&self) -> u64 {
        mix(hash_ip(&self.host) ^ hash_port(self.proto, self.port))
    }
    /// Hash for the seen-filter when the host is one of the addresses of a name the prober
    /// resolved (`group`): every address of the name is one target per port.
    pub(crate) fn hash_in_group(&self, group: u64) -> u64 {
        mix(group ^ hash_port(self.proto, self.port) ^ 0x6a09_e667_f3bc_c908)
    }
    /// Hash for the seen-filter marking `host` as counted in its /24's sweep.
    pub(crate) fn host_hash(host: &IpAddr) -> u64 {
        mix(hash_ip(host) ^ 0xbb67_ae85_84ca_a73b)
    }
    /// `203.0.113.11:443/tcp`, `203.0.113.11/icmp`.
    pub(crate) fn label(&self) -> String {
        match self.proto {
            6 => format!("{}/tcp", sock(self.host, self.port)),
            17 => format!("{}/udp", sock(self.host, self.port)),
            1 | 58 => format!("{}/icmp", self.host),
            p => format!("{}/proto{p}", self.host),
        }
    }
}

fn sock(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// A log-likelihood random walk, held at its lower threshold and reset when idle. Eight bytes:
/// every source keeps up to `max_walks_per_source` of them per list.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WalkState {
    /// Current log-likelihood ratio (single precision: steps are about 1.4 and thresholds
    /// about 5, far from where 24 bits of mantissa round).
    pub value: f32,
    /// Last step, whole seconds of packet time.
    pub last_secs: u32,
}

impl WalkState {
    /// Adds `delta` at `ts`, first forgetting a walk idle for `window` nanoseconds.
    pub(crate) fn step(&mut self, ts: Timestamp, delta: f64, lower: f64, window: u64) {
        let now = u32::try_from(ts.secs()).unwrap_or(u32::MAX);
        if u64::from(now.saturating_sub(self.last_secs)).saturating_mul(1_000_000_000) > window {
            *self = WalkState::default();
        }
        self.value = (self.value + delta as f32).max(lower as f32);
        self.last_secs = now;
    }
}

/// The walk over one (protocol, port) across hosts.
pub(crate) type PortWalk = (u8, u16, WalkState);

/// The walk over one host's ports, and how many of its ports were met with silence. Twenty
/// bytes: the host is kept as its 64-bit hash ([`host_key`]; two hosts of one source's few
/// walks share one about once in 2^60).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HostWalk {
    /// The host's [`host_key`].
    pub host: [u32; 2],
    /// The walk.
    pub walk: WalkState,
    /// Distinct ports (and protocols) of the host probed that never answered.
    pub silent: u16,
}

/// The key of a host in [`HostWalk`].
pub(crate) fn host_key(ip: &IpAddr) -> [u32; 2] {
    let h = hash_ip(ip);
    [h as u32, (h >> 32) as u32]
}

/// Hosts-touched counter for one /24 (IPv6 /64), every probe kind.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sweep {
    /// Hash of the prefix.
    pub prefix: u64,
    /// First host counted.
    pub first: Timestamp,
    /// Weighted distinct hosts (crafted probes count twice).
    pub weight: u32,
    /// Distinct hosts.
    pub hosts: u32,
}

/// The prefix a sweep is counted in.
pub(crate) fn sweep_prefix(ip: &IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix(u64::from(u32::from(*v4) >> 8)),
        IpAddr::V6(v6) => mix((u128::from(*v6) >> 64) as u64 ^ 0x66),
    }
}

/// Echo-sweep prefixes counted at once per source (the stalest is replaced).
pub(crate) const SWEEP_CELLS: usize = 4;

/// What the source has done this episode.
#[derive(Clone, Default)]
pub(crate) struct Source {
    /// First new target of the episode.
    pub first: Timestamp,
    /// Last new target or outcome.
    pub last: Timestamp,
    /// Last new target.
    pub last_probe: Timestamp,
    /// Targets already contacted (first contacts only are counted).
    pub seen: Targets,
    /// Walk over every target (block scans).
    pub block: WalkState,
    /// Walks per (protocol, port) over hosts (horizontal): two inline (most sources).
    pub by_port: Few<PortWalk, 2>,
    /// Walks per host over ports (vertical): two inline.
    pub by_host: Few<HostWalk, 2>,
    /// Hosts-touched counters per /24: one inline.
    pub sweeps: Few<Sweep, 1>,
    /// First contacts (distinct targets).
    pub probes: u32,
    /// Answered with success (SYN-ACK, any UDP/echo answer, or a handshake implied by the
    /// prober's own ACK).
    pub successes: u32,
    /// Outcomes that were no evidence (mid-stream ACKs, silence on one-way UDP ports).
    pub neutral: u32,
    /// Refusals whose probe was never seen (first contacts known from the ICMP quote only).
    pub out_of_view: u32,
    /// First contacts by technique ([`Kind::idx`]).
    pub kinds: [u32; Kind::ALL.len()],
    /// Probes carrying a tool's fingerprint.
    pub tools: [u32; Tool::ALL.len()],
    /// Failures: tallies by outcome, distinct failed hosts and ports, the first failed
    /// targets. Borrowed from [`Spare`] at the first failure (most sources never fail).
    pub failed: Option<Box<Failed>>,
    /// Some target answered for real (SYN-ACK, RST, UDP/echo answer, its own ICMP refusal), per
    /// address family ([`family`]): the return path is visible for this source. Successes only
    /// implied by the prober's ACK, and routers' unreachables, do not count.
    pub answered: [bool; 2],
    /// This episode has been alerted.
    pub alerted: bool,
    /// First contacts of this source awaiting an answer.
    pub pending: u32,
}

impl Source {
    /// A fresh episode starting at `ts`. It holds nothing on the heap: lists past their inline
    /// items, the failure record and the targets filter are borrowed from [`Spare`] when needed.
    pub(crate) fn new(ts: Timestamp) -> Source {
        Source { first: ts, last: ts, last_probe: ts, ..Source::default() }
    }

    /// Starts a fresh episode at `ts` in place, keeping the count of pending contacts and giving
    /// every borrowed buffer back to `spare`. (Every field is named: a new one must be reset
    /// here.)
    pub(crate) fn reset(&mut self, ts: Timestamp, spare: &mut Spare) {
        let Source {
            first,
            last,
            last_probe,
            seen,
            block,
            by_port,
            by_host,
            sweeps,
            probes,
            successes,
            neutral,
            out_of_view,
            kinds,
            tools,
            failed,
            answered,
            alerted,
            pending: _,
        } = self;
        (*first, *last, *last_probe) = (ts, ts, ts);
        seen.clear(&mut spare.seen);
        *block = WalkState::default();
        by_port.clear(&mut spare.ports);
        by_host.clear(&mut spare.hosts);
        sweeps.clear(&mut spare.sweeps);
        for n in [probes, successes, neutral, out_of_view] {
            *n = 0;
        }
        *kinds = [0; Kind::ALL.len()];
        *tools = [0; Tool::ALL.len()];
        if let Some(f) = failed.take() {
            spare.give_failed(f);
        }
        *answered = [false; 2];
        *alerted = false;
    }

    /// The walk of (`proto`, `port`), replacing the stalest when `cap` are kept (a scan of many
    /// ports churns through them; the source-wide walk keeps the total).
    pub(crate) fn port_walk(&mut self, proto: u8, port: u16, spare: &mut Spare) -> &mut WalkState {
        let cap = spare.walks();
        let i = match self.by_port.as_slice().iter().position(|(p, q, _)| *p == proto && *q == port) {
            Some(i) => i,
            None => {
                if self.by_port.len() >= cap {
                    let old = stalest(self.by_port.as_slice().iter().map(|w| w.2.last_secs));
                    self.by_port.swap_remove(old);
                }
                self.by_port.push((proto, port, WalkState::default()), cap, &mut spare.ports);
                self.by_port.len() - 1
            }
        };
        &mut self.by_port.as_mut_slice()[i].2
    }

    /// The walk of `host`, replacing the stalest when `cap` are kept.
    pub(crate) fn host_walk(&mut self, host: &IpAddr, spare: &mut Spare) -> &mut HostWalk {
        let cap = spare.walks();
        let key = host_key(host);
        let i = match self.by_host.as_slice().iter().position(|h| h.host == key) {
            Some(i) => i,
            None => {
                if self.by_host.len() >= cap {
                    let old = stalest(self.by_host.as_slice().iter().map(|w| w.walk.last_secs));
                    self.by_host.swap_remove(old);
                }
                let w = HostWalk { host: key, walk: WalkState::default(), silent: 0 };
                self.by_host.push(w, cap, &mut spare.hosts);
                self.by_host.len() - 1
            }
        };
        &mut self.by_host.as_mut_slice()[i]
    }

    /// The walk of `host`, if the source keeps one.
    pub(crate) fn host_walk_of(&self, host: &IpAddr) -> Option<&HostWalk> {
        let key = host_key(host);
        self.by_host.as_slice().iter().find(|h| h.host == key)
    }

    /// Counts `host` (`weight` times) in its prefix's sweep; returns the cell after counting.
    pub(crate) fn sweep(
        &mut self,
        host: &IpAddr,
        weight: u32,
        ts: Timestamp,
        window: u64,
        spare: &mut Spare,
    ) -> Sweep {
        let prefix = sweep_prefix(host);
        let i = match self.sweeps.as_slice().iter().position(|s| s.prefix == prefix) {
            Some(i) => i,
            None => {
                if self.sweeps.len() >= SWEEP_CELLS {
                    let old = stalest(self.sweeps.as_slice().iter().map(|s| s.first));
                    self.sweeps.swap_remove(old);
                }
                self.sweeps.push(
                    Sweep { prefix, first: ts, weight: 0, hosts: 0 },
                    SWEEP_CELLS,
                    &mut spare.sweeps,
                );
                self.sweeps.len() - 1
            }
        };
        let s = &mut self.sweeps.as_mut_slice()[i];
        if ts.0.saturating_sub(s.first.0) > window {
            *s = Sweep { prefix, first: ts, weight: 0, hosts: 0 };
        }
        s.weight += weight;
        s.hosts += 1;
        *s
    }

    /// Records a failed target and how it failed: tallies, distinct counts and the sample (of
    /// `sample_size`), the record borrowed from `spare` at the first failure.
    pub(crate) fn failed(&mut self, t: &Target, outcome: Outcome, sample_size: usize, spare: &mut Spare) {
        let f = self.failed.get_or_insert_with(|| spare.failed());
        f.failures += 1;
        match outcome {
            Outcome::Rejected => f.rejected += 1,
            Outcome::Unreachable => f.unreachable += 1,
            Outcome::UnreachableRouter => f.unreachable_router += 1,
            Outcome::Unanswered => f.unanswered += 1,
            _ => f.definite += 1,
        }
        f.hosts.add(hash_ip(&t.host));
        if matches!(t.proto, 6 | 17) {
            f.ports.add(hash_port(t.proto, t.port));
        }
        if f.sample.len() < sample_size {
            f.sample.push(*t);
        }
    }

    /// Estimated distinct failed hosts and ports.
    pub(crate) fn failed_counts(&self) -> (u64, u64) {
        self.failed.as_ref().map_or((0, 0), |f| (f.hosts.estimate(), f.ports.estimate()))
    }

    /// The first failed targets.
    pub(crate) fn sample(&self) -> &[Target] {
        self.failed.as_ref().map_or(&[], |f| &f.sample)
    }

    /// Failed first contacts.
    pub(crate) fn failures(&self) -> u32 {
        self.failed.as_ref().map_or(0, |f| f.failures)
    }

    /// The technique to report: the deciding probe's, if it scans ports; else the most used
    /// technique other than echo/timestamp discovery (an ACK scan decides with ACKs, but so
    /// does nmap's ACK ping before a SYN scan), ties going to the deciding probe's.
    pub(crate) fn technique(&self, deciding: Kind) -> Kind {
        // Echo failures only feed the echo walk: an echo decided a sweep.
        if deciding.port_scan() || deciding == Kind::IcmpEcho {
            return deciding;
        }
        let mut best: Option<(Kind, u32)> = None;
        for k in Kind::ALL.iter().copied().filter(|k| !matches!(k, Kind::IcmpEcho | Kind::IcmpProbe)) {
            let n = self.kinds[k.idx()];
            let better = match best {
                None => n > 0,
                Some((b, bn)) => n > bn || (n == bn && k == deciding && b != deciding),
            };
            if better {
                best = Some((k, n));
            }
        }
        best.map_or(deciding, |b| b.0)
    }

    /// The tool whose fingerprint most first contacts carried, if at least half did.
    pub(crate) fn tool(&self) -> Option<Tool> {
        let (t, n) = Tool::ALL.iter().map(|t| (*t, self.tools[*t as usize])).max_by_key(|x| x.1)?;
        (n > 0 && n * 2 >= self.probes).then_some(t)
    }
}

/// 0 for IPv4, 1 for IPv6.
pub(crate) fn family(ip: &IpAddr) -> usize {
    usize::from(ip.is_ipv6())
}

fn stalest<T: Ord + Copy>(it: impl Iterator<Item = T>) -> usize {
    it.enumerate().min_by_key(|(_, t)| *t).map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_is_held_at_its_lower_threshold_and_forgets_when_idle() {
        let mut w = WalkState::default();
        let t = |s| Timestamp::from_secs(s);
        for _ in 0..50 {
            w.step(t(1), -1.386, -4.6, 300_000_000_000);
        }
        assert_eq!(w.value, -4.6, "fifty successes cannot excuse a later scan for ever");
        w.step(t(1000), 1.386, -4.6, 300_000_000_000);
        assert!((w.value - 1.386).abs() < 1e-6 && w.last_secs == 1000, "an idle walk starts over");
    }

    #[test]
    fn technique_is_the_deciding_port_probe_or_the_most_used() {
        let mut s = Source::new(Timestamp::from_secs(1));
        s.kinds[Kind::Ack.idx()] = 3;
        s.kinds[Kind::Syn.idx()] = 2;
        s.kinds[Kind::IcmpProbe.idx()] = 9;
        assert_eq!(s.technique(Kind::Connect), Kind::Connect, "the probe that decided");
        assert_eq!(s.technique(Kind::Ack), Kind::Ack, "nmap -sA: ACKs outnumber the SYN-443 ping");
        s.kinds[Kind::Syn.idx()] = 3;
        assert_eq!(s.technique(Kind::IcmpProbe), Kind::Syn, "tie: kind order");
        let mut e = Source::new(Timestamp::from_secs(1));
        e.kinds[Kind::IcmpEcho.idx()] = 9;
        e.kinds[Kind::Syn.idx()] = 9;
        assert_eq!(e.technique(Kind::IcmpEcho), Kind::IcmpEcho, "a ping sweep into dead hosts");
    }
}
