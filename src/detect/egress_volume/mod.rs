//! Excessive egress (T1048): bytes leaving the network per (home host, external destination)
//! and per home host, over several sliding windows at once, each with its own threshold.
//!
//! Observe → reduce → threshold. Every packet between a home host and an external address (see
//! [`crate::policy`]) adds its IP total length — the true size, even when the capture
//! cut the frame — to the "out" or "in" side of a ring of time slots per window. The alert fires
//! on the packet that takes a window's outbound sum to its threshold, not at the end of the flow:
//! one upload of gigabytes, or a slow drip that adds up over hours (Elastic's hunt: ≥ 1 GiB out
//! per source and destination in 8 hours). One alert per episode; it re-fires only when the
//! volume has grown by `alerts.escalation_factor`.
//!
//! Needs: every flow's traffic (`on_flow_volume`, handed over per flow about once a second,
//! and exactly when a flow's bytes could cross a threshold), but an unanswered inbound probe's
//! ([`crate::detect::VolumeInterest::Answered`]: it carried nothing out). Memory: one tally per (home host, destination) and per
//! home host, each a ring of 8 slots per window (about 150 bytes per window), capped at
//! `max_pairs` / `max_hosts` with counted eviction of the stalest.

mod config;
mod signatures;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use config::EgressVolumeConfig;
pub(crate) use signatures::SIG_GEO;
pub(crate) use signatures::SIG_HOST;
pub(crate) use signatures::SIG_PAIR;

use super::{Build, Detector, DetectorStats, Env, Events, Interest, Spec, VolumeCtx, VolumeInterest};
use crate::alert::Alert;
use crate::decode::app::AppProto;
use crate::flow::FlowTable;
use crate::flow::host::hash_ip;
use crate::policy;
use crate::time::Timestamp;
use crate::units::WindowLimit;
use state::{Accounted, Fired, Tallies, Tally};

const NAME: &str = "egress_volume";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<EgressVolume>(
    NAME,
    "Excessive egress: bytes from a home host to one external destination, or to all of them, \
     over sliding windows",
    (9_100_400, 9_100_449),
    signatures::ALL,
);

impl Build for EgressVolume {
    type Config = EgressVolumeConfig;
    fn build(config: &EgressVolumeConfig, env: &Env) -> Self {
        let mut d = EgressVolume::new(config.clone(), env.escalation.0);
        // Watched countries' and networks' windows are slotted like the others.
        let watched = env.egress.geo.limits().map(|l| state::slot_width(l.window.nanos()));
        d.resolution_ns = d.resolution_ns.min(watched.min().unwrap_or(u64::MAX));
        d
    }
}

/// The detector.
pub(crate) struct EgressVolume {
    cfg: EgressVolumeConfig,
    escalation: f64,
    /// Keyed by the hashes of (home host, destination): a 16-byte key instead of 34 (IPv4
    /// addresses hash without collision, IPv6 ones collide about once in 2^64).
    pairs: Tallies<(u64, u64)>,
    /// Keyed by the home host's hash.
    hosts: Tallies<u64>,
    shed: u64,
    /// Per watched country or network ([`crate::policy::Watch::key`]), keyed by the home
    /// host's hash: one table per rule (the rules' count is the config's), each with its own
    /// thresholds and capped at `max_hosts`.
    watched: rustc_hash::FxHashMap<u64, Tallies<u64>>,
    /// The narrowest ring slot of any window, in nanoseconds ([`Detector::volume_resolution_ns`]).
    resolution_ns: u64,
}

impl EgressVolume {
    /// A detector with its section and `alerts.escalation_factor`.
    pub(crate) fn new(cfg: EgressVolumeConfig, escalation: f64) -> Self {
        EgressVolume {
            escalation,
            pairs: Tallies::new(&cfg.volume, cfg.max_pairs),
            hosts: Tallies::new(&cfg.host_volume, cfg.max_hosts),
            shed: 0,
            watched: rustc_hash::FxHashMap::default(),
            resolution_ns: cfg
                .volume
                .iter()
                .chain(&cfg.host_volume)
                .map(|l| state::slot_width(l.window.nanos()))
                .min()
                .unwrap_or(u64::MAX),
            cfg,
        }
    }
}

/// The figures every volume alert carries.
fn volume_evidence(
    b: crate::alert::AlertBuilder,
    t: &Tally,
    f: &Fired,
    l: WindowLimit,
    ratio: f64,
    ts: Timestamp,
) -> crate::alert::AlertBuilder {
    let (out, inb) = t.rings.as_ref().and_then(|r| r.get(f.i)).map_or((0, 0), |r| (r.out, r.inb));
    let span = ts.since(t.first).as_secs_f64().min(l.window.0.as_secs_f64());
    b.score(f.out as f64, l.bytes.0 as f64)
        .evidence("window", l.window.to_string())
        .evidence("window_secs", l.window.0.as_secs())
        .evidence("bytes_out", out)
        .evidence("bytes_in", inb)
        .evidence("threshold_bytes", l.bytes.0)
        .evidence("out_in_ratio", ratio_of(out, inb))
        .evidence("min_out_in_ratio", ratio)
        .evidence("rate_bytes_per_sec", policy::rate(out, span))
        .evidence("duration_secs", round3(ts.since(t.first).as_secs_f64()))
        .evidence("first_seen", t.first.to_eve())
        .evidence("total_bytes_out", t.total_out)
        .evidence("total_bytes_in", t.total_in)
        .evidence("flows", t.flows)
}

/// What a hand-over adds to the tallies. A flow counts from the first hand-over in which its
/// home host has sent something: egress is what the home host sends, and a flow from outside
/// that it never answered (a flood's one-packet datagram, a scanner's probe with payload)
/// builds no tally, as an unanswered bare probe builds none ([`VolumeInterest::Answered`]).
/// When the home host first sends, the flow's traffic in so far is counted with it, so an
/// answered flow's figures are those it had when every hand-over was counted.
#[derive(Clone, Copy)]
struct Counted {
    /// Bytes out (from the home host).
    o: u64,
    /// Bytes in.
    i: u64,
    /// The flow is counted for the first time.
    new_flow: bool,
    /// When a tally created now was first seen: the flow's first packet, when it waited.
    since: Timestamp,
}

impl Counted {
    /// `None` while the flow's home host has sent nothing (the flow waits).
    #[inline]
    fn of(v: &VolumeCtx<'_>, home_dir: usize) -> Option<Counted> {
        let o = v.delta.bytes(home_dir);
        let sent = v.flow.bytes.get(home_dir).copied().unwrap_or(0);
        // The home host's bytes before this hand-over: none, and none now, and it waits. (A
        // flow record over 4 GiB comes in several hand-overs, each seeing the whole record in
        // the flow's totals: its first is counted as the flow's first, as before.)
        let before = sent.saturating_sub(o);
        if before > 0 {
            return Some(Counted { o, i: v.delta.bytes(1 - home_dir), new_flow: v.first, since: v.ts });
        }
        if o == 0 {
            return None;
        }
        // The first hand-over with bytes out: the flow's traffic in so far comes with it.
        let i = v.flow.bytes.get(1 - home_dir).copied().unwrap_or(0);
        let since = if v.first { v.ts } else { v.flow.first };
        Some(Counted { o, i, new_flow: true, since })
    }
}

impl EgressVolume {
    /// The headroom a waiting flow's keys have (nothing is accounted): what
    /// [`Detector::on_flow_volume`] would return had the flow been counted, so the worker hands
    /// its first bytes out over as soon as they could matter.
    #[inline(never)]
    fn waiting_room(&self, v: &VolumeCtx<'_>, s: &policy::Sides) -> u64 {
        let esc = self.escalation;
        let home = || hash_ip(&s.home);
        let mut room = u64::MAX;
        if !self.cfg.volume.is_empty() {
            room = room.min(self.pairs.room(|| (home(), hash_ip(&s.remote)), esc));
        }
        if let Some((w, limits)) = v.env.egress.geo.watched(v.flow.geo) {
            room = room.min(match self.watched.get(&w.key()) {
                Some(t) => t.room(home, esc),
                None => state::promote_at(limits),
            });
        }
        if !self.cfg.host_volume.is_empty() {
            room = room.min(self.hosts.room(home, esc));
        }
        room
    }
}

impl EgressVolume {
    /// Accounts a flow's volume to its watched country or network; the dedicated signature
    /// when a window's threshold is reached. Returns the headroom.
    fn watch(
        &mut self,
        v: &VolumeCtx<'_>,
        s: &policy::Sides,
        c: &Counted,
        w: policy::Watch,
        limits: &[WindowLimit],
        out: &mut Vec<Alert>,
    ) -> u64 {
        let Counted { o, i, new_flow, since } = *c;
        let (ts, ratio) = (v.ts, self.cfg.min_out_in_ratio);
        let max = self.cfg.max_hosts;
        let t = self.watched.entry(w.key()).or_insert_with(|| Tallies::new(limits, max));
        let key = hash_ip(&s.home);
        let Accounted { fired, room, .. } = t.account(key, since, ts, o, i, ratio, self.escalation, |t| {
            if new_flow {
                t.flows += 1;
            }
        });
        if let Some(f) = fired
            && let Some(tally) = t.map.get(&key)
            && let Some(&l) = limits.get(f.i)
        {
            let (kind, name) = w.describe();
            let b = Alert::build(NAME, &SIG_GEO, ts, s.home, s.remote)
                .flow(v.flow, ts)
                .evidence("last_destination", s.remote.to_string())
                .evidence("service_port", s.service_port)
                .evidence("watched", kind)
                .evidence(if kind == "asn" { "watched_asn" } else { "watched_country" }, &name)
                .evidence("windows", t.windows(tally))
                .episode(format!("{}|{}", s.home, name), f.out as f64);
            let b = volume_evidence(b, tally, &f, l, ratio, ts);
            out.push(v.env.egress.stamp(b, ts, SIG_GEO.severity).finish());
        }
        room
    }
}

impl EgressVolume {
    // The alerts, out of line and cold: built a few times a run, while the accounting around
    // them runs at every hand-over and should keep its code small in the instruction cache.

    /// A pair's window fired.
    #[cold]
    #[inline(never)]
    fn pair_alert(
        &self,
        v: &VolumeCtx<'_>,
        s: &policy::Sides,
        key: (u64, u64),
        f: &Fired,
        out: &mut Vec<Alert>,
    ) {
        let (ts, ratio) = (v.ts, self.cfg.min_out_in_ratio);
        let (Some(t), Some(&l)) = (self.pairs.map.get(&key), self.cfg.volume.get(f.i)) else { return };
        let b = Alert::build(NAME, &SIG_PAIR, ts, s.home, s.remote)
            .flow(v.flow, ts)
            .evidence("destination", s.remote.to_string())
            .evidence("service_port", s.service_port)
            .evidence("app_proto", t.app.name())
            .evidence("windows", self.pairs.windows(t))
            .episode(format!("{}|{}", s.home, s.remote), f.out as f64);
        let b = volume_evidence(b, t, f, l, ratio, ts);
        out.push(v.env.egress.stamp(b, ts, SIG_PAIR.severity).finish());
    }

    /// A home host's window fired.
    #[cold]
    #[inline(never)]
    fn host_alert(&self, v: &VolumeCtx<'_>, s: &policy::Sides, f: &Fired, out: &mut Vec<Alert>) {
        let (ts, ratio) = (v.ts, self.cfg.min_out_in_ratio);
        let (Some(t), Some(&l)) = (self.hosts.map.get(&hash_ip(&s.home)), self.cfg.host_volume.get(f.i))
        else {
            return;
        };
        let b = Alert::build(NAME, &SIG_HOST, ts, s.home, s.remote)
            .flow(v.flow, ts)
            .evidence("last_destination", s.remote.to_string())
            .evidence("destinations", t.dests)
            .evidence("windows", self.hosts.windows(t))
            .episode(s.home.to_string(), f.out as f64);
        let b = volume_evidence(b, t, f, l, ratio, ts);
        out.push(v.env.egress.stamp(b, ts, SIG_HOST.severity).finish());
    }
}

impl Detector for EgressVolume {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        // Bytes leaving a home host: an unanswered inbound probe (a flood's SYN) carried none,
        // and counting it would fill `max_pairs` with scanners and count them as destinations.
        VolumeInterest::Answered
    }

    fn event_interest(&self) -> Events {
        Events::NONE
    }

    fn wants_flow_ends(&self) -> bool {
        false
    }

    fn volume_resolution_ns(&self) -> u64 {
        self.resolution_ns
    }

    fn packet_interest(&self) -> Interest {
        // Volumes come by the flow ([`VolumeCtx`]), never by the packet.
        Interest::NONE
    }

    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, out: &mut Vec<Alert>) -> u64 {
        let Some(s) = v.env.egress.volume_sides(v.flow) else { return u64::MAX };
        let Some(c) = Counted::of(v, s.home_dir) else { return self.waiting_room(v, &s) };
        let Counted { o, i, new_flow, since } = c;
        let ts = v.ts;
        let ratio = self.cfg.min_out_in_ratio;
        let app = v.flow.app;
        let mut pair_fresh = false;
        let mut room = u64::MAX;
        if !self.cfg.volume.is_empty() {
            let key = (hash_ip(&s.home), hash_ip(&s.remote));
            let Accounted { fired, fresh, room: r } =
                self.pairs.account(key, since, ts, o, i, ratio, self.escalation, |t| {
                    if new_flow {
                        t.flows += 1;
                    }
                    if app != AppProto::Unknown {
                        t.app = app;
                    }
                });
            pair_fresh = fresh;
            room = room.min(r);
            if let Some(f) = fired {
                self.pair_alert(v, &s, key, &f, out);
            }
        }
        if let Some((w, limits)) = v.env.egress.geo.watched(v.flow.geo) {
            room = room.min(self.watch(v, &s, &c, w, limits, out));
        }
        if !self.cfg.host_volume.is_empty() {
            let Accounted { fired, room: r, .. } =
                self.hosts.account(hash_ip(&s.home), since, ts, o, i, ratio, self.escalation, |t| {
                    if new_flow {
                        t.flows += 1;
                    }
                    if pair_fresh {
                        t.dests += 1;
                    }
                });
            room = room.min(r);
            if let Some(f) = fired {
                self.host_alert(v, &s, &f, out);
            }
        }
        room
    }

    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        if !now.secs().is_multiple_of(60) {
            return;
        }
        let before = self.pairs.map.len();
        self.pairs.expire(now);
        if before != self.pairs.map.len() {
            // Destinations per host are recounted from the pairs left.
            for h in self.hosts.map.values_mut() {
                h.dests = 0;
            }
            for (home, _) in self.pairs.map.keys() {
                if let Some(h) = self.hosts.map.get_mut(home) {
                    h.dests += 1;
                }
            }
        }
        self.hosts.expire(now);
        for t in self.watched.values_mut() {
            t.expire(now);
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.pairs.map.len()
                + self.hosts.map.len()
                + self.watched.values().map(|t| t.map.len()).sum::<usize>()) as u64,
            evicted: self.pairs.evicted
                + self.hosts.evicted
                + self.watched.values().map(|t| t.evicted).sum::<u64>(),
            memory: (self.pairs.memory()
                + self.hosts.memory()
                + self.watched.values().map(|t| t.memory()).sum::<usize>()) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        let n = self.pairs.map.shed(share, |_, _| {}) + self.hosts.map.shed(share, |_, _| {});
        self.shed += n;
        n
    }
}

fn ratio_of(out: u64, inb: u64) -> f64 {
    if inb == 0 { out as f64 } else { round3(out as f64 / inb as f64) }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
