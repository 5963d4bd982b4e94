//! Excessive egress (T1048): bytes leaving the network per (home host, external destination)
//! and per home host, over several sliding windows at once, each with its own threshold.
//!
//! Observe → reduce → threshold. Every packet between a home host and an external address (see
//! [`super::egress_policy`]) adds its IP total length — the true size, even when the capture
//! cut the frame — to the "out" or "in" side of a ring of time slots per window. The alert fires
//! on the packet that takes a window's outbound sum to its threshold, not at the end of the flow:
//! one upload of gigabytes, or a slow drip that adds up over hours (Elastic's hunt: ≥ 1 GiB out
//! per source and destination in 8 hours). One alert per episode; it re-fires only when the
//! volume has grown by `alerts.escalation_factor`.
//!
//! Needs: every flow's traffic (`on_flow_volume`, handed over per flow about once a second,
//! and exactly when a flow's bytes could cross a threshold). Memory: one tally per (home host, destination) and per
//! home host, each a ring of 8 slots per window (about 150 bytes per window), capped at
//! `max_pairs` / `max_hosts` with counted eviction of the stalest.

use super::egress_policy::{self as policy, HourRange, TimeZoneName, Weekdays, WindowLimit};
use super::{Detector, DetectorStats, Env, VolumeCtx};
use crate::alert::{Alert, Signature};
use crate::config::Config;
use crate::decode::app::AppProto;
use crate::flow::FlowTable;
use crate::flow::host::hash_ip;
use crate::time::Timestamp;
use crate::units::Dur;
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::hash::Hash;

const NAME: &str = "egress_volume";

/// One home host sent more than a window's threshold to one external destination.
pub const SIG_PAIR: Signature = Signature {
    id: 9_100_400,
    rev: 1,
    msg: "SIPHON Excessive egress: volume to one external destination over threshold",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048", "T1041", "T1030"],
};
/// One home host sent more than a window's threshold to external destinations together.
pub const SIG_HOST: Signature = Signature {
    id: 9_100_401,
    rev: 1,
    msg: "SIPHON Excessive egress: total volume from one host to external destinations over threshold",
    category: "Potential Corporate Privacy Violation",
    severity: 2,
    mitre: &["T1048", "T1041"],
};

/// `[egress]` config: the egress family's shared keys, and the `egress_volume` detector's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Run the `egress_volume` detector (`long_session` and `alt_protocol` have their own
    /// `enabled`, and use the shared keys below).
    pub enabled: bool,
    /// Sliding windows per (home host, external destination), as `WINDOW:BYTES` pairs: an alert
    /// when the bytes out within any window reach its threshold. Short windows with lower
    /// thresholds catch bursts sooner; long windows catch slow drips, at the cost of more
    /// benign bulk (backups, cloud sync, video calls) crossing them.
    #[serde(deserialize_with = "policy::de_limits")]
    pub volume: Vec<WindowLimit>,
    /// The same per home host, all external destinations together: catches exfiltration spread
    /// over many addresses (cloud storage front ends). Empty disables it.
    #[serde(deserialize_with = "policy::de_limits")]
    pub host_volume: Vec<WindowLimit>,
    /// Least bytes-out ÷ bytes-in in the window for the volume alerts (0 = off). 2.0 keeps
    /// symmetric sessions (video calls) quiet, but also a tunnel that echoes its data back.
    pub min_out_in_ratio: f64,
    /// Flows active this long are reported by `long_session` while still open. Shorter finds
    /// more beacons and interactive sessions, and more benign long-lived connections.
    pub long_session: Dur,
    /// Remote ranges that are never "external": Elastic's private and reserved list minus the
    /// documentation ranges 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (labs use them
    /// as "the internet"; add them back to match Elastic exactly).
    #[serde(deserialize_with = "policy::de_nets")]
    pub exclude_nets: Vec<IpNet>,
    /// External destinations that never count (backup targets, cloud sync, update servers).
    #[serde(deserialize_with = "policy::de_nets")]
    pub allow_destinations: Vec<IpNet>,
    /// Home hosts that are never reported by the egress family (backup servers, mail relays).
    #[serde(deserialize_with = "policy::de_nets")]
    pub allow_hosts: Vec<IpNet>,
    /// Allowed local hours (`08:00-18:00`, several allowed); outside them the family's alerts
    /// are raised one severity level and say so. Empty: no off-hours handling.
    #[serde(deserialize_with = "policy::de_hours")]
    pub allowed_hours: Vec<HourRange>,
    /// Days on which `allowed_hours` apply (`mon-fri`, `sat`); every hour of other days is off.
    #[serde(deserialize_with = "policy::de_days")]
    pub allowed_days: Weekdays,
    /// Time zone of `allowed_hours`: `UTC`, an offset (`+01:00`), or a zoneinfo name
    /// (`Europe/Paris`, daylight saving included).
    pub timezone: TimeZoneName,
    /// Most (home host, destination) pairs tracked per worker (about 120 bytes each, plus the
    /// rings of the few that carry volume); the stalest of a sample, light ones first, is
    /// evicted (counted).
    pub max_pairs: usize,
    /// Most home hosts tracked per worker; the stalest is evicted (counted).
    pub max_hosts: usize,
}

impl Default for EgressConfig {
    fn default() -> Self {
        let exclude = [
            "10.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.0.0/29",
            "192.0.0.8/32",
            "192.0.0.9/32",
            "192.0.0.10/32",
            "192.0.0.170/32",
            "192.0.0.171/32",
            "192.31.196.0/24",
            "192.52.193.0/24",
            "192.168.0.0/16",
            "192.88.99.0/24",
            "224.0.0.0/4",
            "100.64.0.0/10",
            "192.175.48.0/24",
            "198.18.0.0/15",
            "240.0.0.0/4",
            "::1",
            "fe80::/10",
            "ff00::/8",
        ];
        let lim = |s: &str| WindowLimit::parse(s).ok();
        EgressConfig {
            enabled: true,
            volume: ["1h:500MB", "8h:1GiB"].iter().filter_map(|s| lim(s)).collect(),
            host_volume: ["8h:2GiB"].iter().filter_map(|s| lim(s)).collect(),
            min_out_in_ratio: 0.0,
            long_session: Dur::secs(3600),
            exclude_nets: exclude.iter().filter_map(|s| policy::parse_net(s).ok()).collect(),
            allow_destinations: Vec::new(),
            allow_hosts: Vec::new(),
            allowed_hours: Vec::new(),
            allowed_days: Weekdays(0b1_1111),
            timezone: TimeZoneName("UTC".into()),
            max_pairs: 50_000,
            max_hosts: 20_000,
        }
    }
}

/// Slots per window ring: the window's trailing edge is known to 1/8 of its length.
const SLOTS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    out: u64,
    inb: u64,
}

/// A sliding window as a ring of slots, with running sums.
#[derive(Debug, Clone, Copy, Default)]
struct Ring {
    head: u64,
    slots: [Slot; SLOTS],
    out: u64,
    inb: u64,
}

impl Ring {
    /// Adds bytes at slot index `idx` (packet time ÷ slot width), sliding old slots out.
    fn add(&mut self, idx: u64, out: u64, inb: u64) {
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

/// Traffic of one key (a pair or a host). Light until its bytes out reach `1/PROMOTE` of the
/// smallest threshold — most pairs never do — then it gets a ring per window (from a pool).
struct Tally {
    rings: Option<Box<[Ring]>>,
    first: Timestamp,
    last: Timestamp,
    total_out: u64,
    total_in: u64,
    flows: u32,
    app: AppProto,
    /// Bytes out when the episode last alerted (0 = armed).
    alerted: u64,
    /// Destinations (host tallies only).
    dests: u32,
}

/// A key's bytes before it has rings are at most this fraction of the smallest threshold; on
/// promotion they are put in the newest slot (an overcount of at most that fraction).
const PROMOTE: u64 = 64;

impl Tally {
    fn new(ts: Timestamp) -> Tally {
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

/// Most spare rings kept for reuse.
const POOL: usize = 1024;

/// A table of tallies for one list of windows, with a cap and counted eviction.
struct Tallies<K> {
    map: FxHashMap<K, Tally>,
    limits: Vec<WindowLimit>,
    promote_at: u64,
    longest: u64,
    pool: Vec<Box<[Ring]>>,
    cap: usize,
    evicted: u64,
}

/// What accounting one packet or flow volume to a tally gave.
struct Accounted {
    /// The window that fired, if any.
    fired: Option<Fired>,
    /// The tally was created.
    fresh: bool,
    /// Its headroom after the accounting ([`Tallies::headroom`]).
    room: u64,
}

/// What fired, for the alert.
struct Fired {
    i: usize,
    out: u64,
}

impl<K: Hash + Eq + Copy> Tallies<K> {
    fn new(limits: &[WindowLimit], cap: usize) -> Self {
        let smallest = limits.iter().map(|l| l.bytes.0).min().unwrap_or(1);
        Tallies {
            map: FxHashMap::default(),
            limits: limits.to_vec(),
            promote_at: (smallest / PROMOTE).max(1),
            longest: limits.iter().map(|l| l.window.nanos()).max().unwrap_or(1),
            pool: Vec::new(),
            cap: cap.max(1),
            evicted: 0,
        }
    }

    fn recycle(pool: &mut Vec<Box<[Ring]>>, t: &mut Tally) {
        if let Some(r) = t.rings.take()
            && pool.len() < POOL
        {
            pool.push(r);
        }
    }

    /// Accounts one packet to `k`'s windows (creating its tally, and evicting the stalest of a
    /// sample first if the table is full), after `touch` has updated the tally's counters.
    /// One hash lookup.
    #[allow(clippy::too_many_arguments)]
    fn account(
        &mut self,
        k: K,
        ts: Timestamp,
        out: u64,
        inb: u64,
        ratio: f64,
        escalation: f64,
        touch: impl FnOnce(&mut Tally),
    ) -> Accounted {
        if self.map.len() >= self.cap && !self.map.contains_key(&k) {
            // A handful of entries is a fair sample: O(1), and a flood of new keys cannot pin
            // one old tally in place for long. Light tallies go first: a flood of new pairs
            // does not push out the few that carry volume.
            if let Some(v) =
                self.map.iter().take(8).min_by_key(|(_, t)| (t.rings.is_some(), t.last)).map(|(k, _)| *k)
                && let Some(mut t) = self.map.remove(&v)
            {
                Self::recycle(&mut self.pool, &mut t);
                self.evicted += 1;
            }
        }
        let Tallies { map, limits, promote_at, longest, pool, .. } = self;
        let mut fresh = false;
        let t = map.entry(k).or_insert_with(|| {
            fresh = true;
            Tally::new(ts)
        });
        touch(t);
        let fired = Self::slide(t, limits, *promote_at, *longest, pool, ts, out, inb, ratio, escalation);
        Accounted { fired, fresh, room: Self::headroom(t, limits, *promote_at, escalation) }
    }

    #[allow(clippy::too_many_arguments)]
    fn slide(
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
            let width = (l.window.nanos() / SLOTS as u64).max(1);
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

    /// Bytes out `t` may still send before a window could fire (or escalate): how long the
    /// worker may accumulate a flow of its key before handing its traffic over.
    fn headroom(t: &Tally, limits: &[WindowLimit], promote_at: u64, escalation: f64) -> u64 {
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

    /// Drops keys quiet for longer than the longest window.
    fn expire(&mut self, now: Timestamp) {
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
    fn windows(&self, t: &Tally) -> Vec<serde_json::Value> {
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

/// The detector.
pub struct EgressVolume {
    cfg: EgressConfig,
    escalation: f64,
    /// Keyed by the hashes of (home host, destination): a 16-byte key instead of 34 (IPv4
    /// addresses hash without collision, IPv6 ones collide about once in 2^64).
    pairs: Tallies<(u64, u64)>,
    /// Keyed by the home host's hash.
    hosts: Tallies<u64>,
}

impl EgressVolume {
    /// A detector with the whole config (for `[egress]` and `alerts.escalation_factor`).
    pub fn new(c: &Config) -> Self {
        let cfg = c.egress.clone();
        EgressVolume {
            escalation: c.alerts.escalation_factor,
            pairs: Tallies::new(&cfg.volume, cfg.max_pairs),
            hosts: Tallies::new(&cfg.host_volume, cfg.max_hosts),
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

impl Detector for EgressVolume {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, out: &mut Vec<Alert>) -> u64 {
        let Some(s) = v.env.egress.sides(v.flow) else { return u64::MAX };
        let (o, i) = (v.delta.bytes(s.home_dir), v.delta.bytes(1 - s.home_dir));
        let ts = v.ts;
        let ratio = self.cfg.min_out_in_ratio;
        let (new_flow, app) = (v.first, v.flow.app);
        let mut pair_fresh = false;
        let mut room = u64::MAX;
        if !self.cfg.volume.is_empty() {
            let key = (hash_ip(&s.home), hash_ip(&s.remote));
            let Accounted { fired, fresh, room: r } =
                self.pairs.account(key, ts, o, i, ratio, self.escalation, |t| {
                    if new_flow {
                        t.flows += 1;
                    }
                    if app != AppProto::Unknown {
                        t.app = app;
                    }
                });
            pair_fresh = fresh;
            room = room.min(r);
            if let Some(f) = fired
                && let Some(t) = self.pairs.map.get(&key)
                && let Some(&l) = self.cfg.volume.get(f.i)
            {
                let b = Alert::build(NAME, &SIG_PAIR, ts, s.home, s.remote)
                    .flow(v.flow, ts)
                    .evidence("destination", s.remote.to_string())
                    .evidence("service_port", s.service_port)
                    .evidence("app_proto", t.app.name())
                    .evidence("windows", self.pairs.windows(t))
                    .episode(format!("{}|{}", s.home, s.remote), f.out as f64);
                let b = volume_evidence(b, t, &f, l, ratio, ts);
                out.push(v.env.egress.stamp(b, ts, SIG_PAIR.severity).finish());
            }
        }
        if !self.cfg.host_volume.is_empty() {
            let Accounted { fired, room: r, .. } =
                self.hosts.account(hash_ip(&s.home), ts, o, i, ratio, self.escalation, |t| {
                    if new_flow {
                        t.flows += 1;
                    }
                    if pair_fresh {
                        t.dests += 1;
                    }
                });
            room = room.min(r);
            if let Some(f) = fired
                && let Some(t) = self.hosts.map.get(&hash_ip(&s.home))
                && let Some(&l) = self.cfg.host_volume.get(f.i)
            {
                let b = Alert::build(NAME, &SIG_HOST, ts, s.home, s.remote)
                    .flow(v.flow, ts)
                    .evidence("last_destination", s.remote.to_string())
                    .evidence("destinations", t.dests)
                    .evidence("windows", self.hosts.windows(t))
                    .episode(s.home.to_string(), f.out as f64);
                let b = volume_evidence(b, t, &f, l, ratio, ts);
                out.push(v.env.egress.stamp(b, ts, SIG_HOST.severity).finish());
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
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.pairs.map.len() + self.hosts.map.len()) as u64,
            evicted: self.pairs.evicted + self.hosts.evicted,
        }
    }
}

fn ratio_of(out: u64, inb: u64) -> f64 {
    if inb == 0 { out as f64 } else { round3(out as f64 / inb as f64) }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(s: &str) -> WindowLimit {
        WindowLimit::parse(s).unwrap()
    }

    #[test]
    fn ring_slides_old_slots_out() {
        let mut r = Ring::default();
        r.add(10, 100, 1);
        r.add(12, 50, 0);
        assert_eq!((r.out, r.inb), (150, 1));
        // Slot 18 is 8 slots after 10: slot 10 leaves the window, 12 stays.
        r.add(18, 5, 0);
        assert_eq!(r.out, 55);
        // A jump of more than a whole ring empties it.
        r.add(100, 1, 0);
        assert_eq!(r.out, 1);
    }

    #[test]
    fn fires_on_the_crossing_packet_once_then_escalates() {
        let limits = [lim("1m:1000B"), lim("1h:5000B")];
        let mut t: Tallies<u8> = Tallies::new(&limits, 10);
        let mut fired = Vec::new();
        for k in 0..100u64 {
            if let Some(f) = t.account(0, Timestamp::from_secs(k), 100, 10, 0.0, 10.0, |_| {}).fired {
                fired.push((k, f.i, f.out));
            }
        }
        // The 10th packet takes the minute window to 1000 B: it fires then, once; 10× the
        // first figure (10 000 B) is reached by the hour window with the 100th packet.
        assert_eq!(fired, [(9, 0, 1000), (99, 1, 10_000)]);
        // The ratio knob: inbound matching outbound keeps it quiet.
        let mut t: Tallies<u8> = Tallies::new(&limits[..1], 10);
        assert!(
            (0..100u64)
                .all(|k| t.account(0, Timestamp::from_secs(k), 100, 100, 2.0, 10.0, |_| {}).fired.is_none())
        );
    }

    #[test]
    fn light_tallies_promote_and_evict_with_count() {
        // 64 000 B threshold: rings from 1000 B on; the first 900 B stay light.
        let limits = [lim("1m:64000B")];
        let mut t: Tallies<u8> = Tallies::new(&limits, 2);
        t.account(0, Timestamp::from_secs(0), 900, 0, 0.0, 10.0, |_| {});
        assert!(t.map[&0].rings.is_none());
        t.account(0, Timestamp::from_secs(1), 100, 0, 0.0, 10.0, |_| {});
        assert_eq!(t.map[&0].rings.as_ref().map(|r| r[0].out), Some(1000));
        t.account(1, Timestamp::from_secs(2), 0, 0, 0.0, 10.0, |_| {});
        t.account(2, Timestamp::from_secs(3), 0, 0, 0.0, 10.0, |_| {});
        assert_eq!((t.map.len(), t.evicted), (2, 1));
    }
}
