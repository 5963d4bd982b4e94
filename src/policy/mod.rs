//! What the egress family (`egress_volume`, `long_session`, `alt_protocol`) agrees on: which
//! remote addresses are "external", who is allow-listed, what `WINDOW:BYTES` means, and when a
//! finding falls outside allowed hours.
//!
//! "External" is: not in the home network and not in `egress.exclude_nets` (Elastic's list of
//! private and reserved ranges from its "Egress Network Connections with Total Bytes Greater
//! than Threshold" hunt, minus the three documentation ranges — see docs/detectors.md). Address lists
//! are merged into sorted ranges once, so a lookup is a binary search, not a scan of CIDRs.

mod config;
pub(crate) mod geo;
mod side;

pub(crate) use config::EgressPolicyConfig;
pub(crate) use config::HourRange;
#[cfg(test)]
pub(crate) use config::TimeZoneName;
pub(crate) use config::Weekdays;
pub(crate) use geo::GeoPolicy;
pub(crate) use geo::Watch;
pub(crate) use side::Side;

use crate::alert::AlertBuilder;
use crate::detect::PacketCtx;
use crate::flow::{Dir, Flow};
use crate::time::Timestamp;
use ipnet::IpNet;
use side::SideCache;
use std::net::IpAddr;

/// A set of address ranges, merged and sorted for binary search.
#[derive(Debug, Clone, Default)]
pub(crate) struct RangeSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    /// Bit `n` set when some IPv4 range holds an address whose first byte is `n`: most
    /// addresses outside the set (every new flow's remote is looked up) are turned away by one
    /// load and a bit test, before the binary search.
    v4_first: [u64; 4],
}

fn merge<T: Ord + Copy + Into<u128>>(mut r: Vec<(T, T)>) -> Vec<(T, T)> {
    r.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(r.len());
    for (s, e) in r {
        match out.last_mut() {
            // Adjacent or overlapping ranges fold into one.
            Some(last) if s.into() <= last.1.into().saturating_add(1) => {
                if e > last.1 {
                    last.1 = e;
                }
            }
            _ => out.push((s, e)),
        }
    }
    out
}

fn find<T: Ord + Copy>(r: &[(T, T)], x: T) -> bool {
    let i = r.partition_point(|&(s, _)| s <= x);
    i > 0 && r.get(i - 1).is_some_and(|&(_, e)| x <= e)
}

impl RangeSet {
    /// From CIDRs.
    pub(crate) fn new(nets: &[IpNet]) -> RangeSet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in nets {
            match n {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        let v4 = merge(v4);
        let mut v4_first = [0u64; 4];
        for &(s, e) in &v4 {
            for n in (s >> 24)..=(e >> 24) {
                if let Some(w) = v4_first.get_mut((n >> 6) as usize) {
                    *w |= 1 << (n & 63);
                }
            }
        }
        RangeSet { v4, v6: merge(v6), v4_first }
    }
    /// Is `ip` in the set?
    #[inline]
    pub(crate) fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let x = u32::from(*a);
                let n = x >> 24;
                let w = self.v4_first.get((n >> 6) as usize).copied().unwrap_or(0);
                w & (1 << (n & 63)) != 0 && find(&self.v4, x)
            }
            IpAddr::V6(a) => find(&self.v6, u128::from(*a)),
        }
    }
}

/// Local time of an event, when it fell outside the allowed hours.
#[derive(Debug, Clone)]
pub struct OffHours {
    /// Local time, `2026-11-23T23:05:00+01:00`.
    pub local: String,
}

/// The shared policy, built from `[egress]` once per worker ([`crate::detect::Env::egress`]).
/// It keeps its own verdict on each flow it was asked about ([`Side`]), so the flow record
/// carries none of the family's state.
#[derive(Debug, Clone)]
pub struct Policy {
    sides: SideCache,
    exclude: RangeSet,
    allow_dst: RangeSet,
    allow_hosts: RangeSet,
    hours: Vec<HourRange>,
    days: Weekdays,
    tz: Option<tz::TimeZone>,
    /// The rules by country and network.
    pub geo: GeoPolicy,
}

/// The two sides of a flow as the egress family sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    /// The home host.
    pub home: IpAddr,
    /// The external peer.
    pub remote: IpAddr,
    /// The responder's port: the external service, or the home host's when the peer initiated.
    pub service_port: u16,
    /// Direction index (`Dir::idx`) of the home host's packets.
    pub home_dir: usize,
}

impl Policy {
    /// From the shared keys of `[egress]`.
    pub fn new(c: &EgressPolicyConfig) -> Policy {
        Policy {
            sides: SideCache::default(),
            exclude: RangeSet::new(&c.exclude_nets),
            allow_dst: RangeSet::new(&c.allow_destinations),
            allow_hosts: RangeSet::new(&c.allow_hosts),
            hours: c.allowed_hours.clone(),
            days: c.allowed_days,
            tz: if c.allowed_hours.is_empty() { None } else { c.timezone.load().ok() },
            geo: GeoPolicy::new(c),
        }
    }

    /// Is `ip` outside the home network, the excluded ranges and the allowed destinations?
    /// (`home` says whether the home network holds it, as the flow table already knows.)
    #[inline]
    pub fn external(&self, ip: &IpAddr, home: bool) -> bool {
        !home && !self.exclude.contains(ip) && !self.allow_dst.contains(ip)
    }

    /// Home host and external peer of a flow, or `None` if the flow is not home ↔ external
    /// or its home host is allow-listed. The verdict is worked out once a flow and remembered
    /// ([`Side`]); later asks for the same flow read it back.
    #[inline(always)]
    pub fn sides(&self, f: &Flow) -> Option<Sides> {
        let side = match self.sides.get(f) {
            Some(s) => s,
            None => self.judge(f),
        };
        match side {
            Side::HomeOrig => Some(Sides {
                home: f.orig_addr(),
                remote: f.resp_addr(),
                service_port: f.resp_port(),
                home_dir: 0,
            }),
            Side::HomeResp => Some(Sides {
                home: f.resp_addr(),
                remote: f.orig_addr(),
                service_port: f.resp_port(),
                home_dir: 1,
            }),
            Side::None => None,
        }
    }

    /// Works out the verdict on a flow not in the cache, and remembers it (once a flow, or
    /// again after a collision: kept out of line so the asks stay small enough to inline).
    #[cold]
    #[inline(never)]
    fn judge(&self, f: &Flow) -> Side {
        let s = self.side(f);
        self.sides.put(f, s);
        s
    }

    /// [`Policy::sides`] for the volume detectors (`egress_volume`, `long_session`): `None`
    /// also when the peer's country or network is allow-listed (`allow_countries`,
    /// `allow_asns`; the worker tagged the flow when it opened).
    #[inline(always)]
    pub fn volume_sides(&self, f: &Flow) -> Option<Sides> {
        let s = self.sides(f)?;
        if self.geo.allowed(f.geo).is_some() {
            return None;
        }
        Some(s)
    }

    /// Works out which side of `f` is the home host talking to an external one (without the
    /// remembered verdicts).
    pub fn side(&self, f: &Flow) -> Side {
        let (side, home) = match (f.orig_home, f.resp_home) {
            (true, false) if self.external(&f.resp_addr(), false) => (Side::HomeOrig, f.orig_addr()),
            (false, true) if self.external(&f.orig_addr(), false) => (Side::HomeResp, f.resp_addr()),
            _ => return Side::None,
        };
        if self.allow_hosts.contains(&home) {
            return Side::None;
        }
        side
    }

    /// Bytes the policy holds per worker (its remembered verdicts; the ranges are a few KiB).
    pub fn memory(&self) -> u64 {
        SideCache::BYTES as u64
    }

    /// Does this packet go from the home host out (`true`) or in (`false`)?
    #[inline]
    pub fn outbound(c: &PacketCtx<'_, '_>, s: &Sides) -> bool {
        let d = match c.dir {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        };
        d == s.home_dir
    }

    /// `Some(local time)` when allowed hours are set and `ts` falls outside them.
    pub fn off_hours(&self, ts: Timestamp) -> Option<OffHours> {
        let tz = self.tz.as_ref()?;
        let secs = i64::try_from(ts.secs()).ok()?;
        let off = tz.find_local_time_type(secs).map(|t| t.ut_offset()).unwrap_or(0);
        let local = secs + i64::from(off);
        let minute = u16::try_from(local.rem_euclid(86_400) / 60).ok()?;
        // 1970-01-01 was a Thursday (index 3 with Monday = 0).
        let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7) as u8;
        let inside = self.days.0 & (1 << weekday) != 0 && self.hours.iter().any(|h| h.contains(minute));
        if inside {
            return None;
        }
        let fo = chrono::FixedOffset::east_opt(off)?;
        let dt = chrono::DateTime::from_timestamp(secs, 0)?.with_timezone(&fo);
        Some(OffHours { local: dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string() })
    }

    /// Adds the off-hours figures to an alert, raising its severity by one when outside.
    pub fn stamp(&self, b: AlertBuilder, ts: Timestamp, severity: u8) -> AlertBuilder {
        if self.tz.is_none() {
            return b;
        }
        match self.off_hours(ts) {
            Some(o) => b
                .severity(severity.saturating_sub(1).max(1))
                .evidence("off_hours", true)
                .evidence("local_time", o.local)
                .evidence("allowed_hours", format!("{:?}", self.hours))
                .evidence("allowed_days", format!("{:?}", self.days)),
            None => b.evidence("off_hours", false),
        }
    }
}

/// Bytes per second, rounded, for evidence.
pub(crate) fn rate(bytes: u64, secs: f64) -> u64 {
    if secs > 0.0 { (bytes as f64 / secs).round() as u64 } else { bytes }
}

#[cfg(test)]
mod tests {
    use super::config::fixed_offset;
    use super::*;
    use crate::units::{Dur, Size, WindowLimit, parse_net};

    #[test]
    fn ranges_merge_and_match() {
        let nets: Vec<IpNet> = ["10.0.0.0/8", "192.0.0.0/24", "192.0.0.8/32", "::1", "fe80::/10"]
            .iter()
            .map(|s| parse_net(s).unwrap())
            .collect();
        let r = RangeSet::new(&nets);
        assert!(r.contains(&"10.255.1.1".parse().unwrap()));
        assert!(r.contains(&"192.0.0.8".parse().unwrap()));
        assert!(!r.contains(&"192.0.2.1".parse().unwrap()));
        assert!(!r.contains(&"11.0.0.0".parse().unwrap()));
        // The first-byte filter agrees with the search on every first byte, edges included.
        let edges =
            RangeSet::new(&[parse_net("9.255.255.255/32").unwrap(), parse_net("100.64.0.0/10").unwrap()]);
        for n in 0..=255u32 {
            for low in [0, 0x0040_0000, 0x007f_ffff, 0x00ff_ffff] {
                let ip = IpAddr::V4((n << 24 | low).into());
                assert_eq!(edges.contains(&ip), find(&edges.v4, n << 24 | low), "{ip}");
            }
        }
        assert!(
            edges.contains(&"9.255.255.255".parse().unwrap()) && !edges.contains(&"9.0.0.0".parse().unwrap())
        );
        assert!(
            edges.contains(&"100.127.0.1".parse().unwrap())
                && !edges.contains(&"100.128.0.0".parse().unwrap())
        );
        assert!(r.contains(&"::1".parse().unwrap()));
        assert!(r.contains(&"fe80::1".parse().unwrap()));
        assert!(!r.contains(&"2001:db8::1".parse().unwrap()));
        assert!(parse_net("nope").is_err());
    }

    /// A flow from a record `src:sport -> dst:dport` (TCP), with home 10.0.0.0/8.
    fn flow(src: &str, sport: u16, dst: &str, dport: u16) -> Flow {
        let r = crate::capture::netflow::FlowRecord {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            proto: 6,
            flags: 0,
            icmp_type: 0,
            pkts: 1,
            bytes: 60,
            start: Timestamp::from_secs(1),
            end: Timestamp::from_secs(1),
            exporter: "192.0.2.1".parse().unwrap(),
            domain: 0,
            sampling: 1,
            version: 5,
        };
        let home = crate::flow::HomeNet::new(vec![parse_net("10.0.0.0/8").unwrap()]);
        let mut t = crate::flow::FlowTable::new(crate::config::FlowConfig::default());
        t.update_record(&r, &home, &mut Vec::new()).0.clone()
    }

    #[test]
    fn verdicts_are_remembered_per_flow_and_survive_collisions() {
        let p = Policy::new(&EgressPolicyConfig::default());
        let out = flow("10.0.0.5", 40000, "203.0.113.9", 443);
        let inbound = flow("198.51.100.7", 40000, "10.0.0.6", 22);
        let local = flow("10.0.0.5", 40000, "10.0.0.7", 445);
        // Same slot as `out` (ids equal in their low bits), other verdicts: each ask must still
        // give each flow its own.
        let (mut twin_in, mut twin_local) = (inbound.clone(), local.clone());
        twin_in.id = out.id ^ (1 << 40);
        twin_local.id = out.id ^ (1 << 41);
        // The initiator's side is part of the tag: same flow id, other initiator, other verdict.
        let mut flipped = out.clone();
        flipped.orig_is_a = !out.orig_is_a;
        (flipped.orig_home, flipped.resp_home) = (out.resp_home, out.orig_home);
        assert_eq!(p.side(&flipped), Side::HomeResp);
        for _ in 0..3 {
            for f in [&out, &inbound, &local, &twin_in, &twin_local, &flipped] {
                let want = match p.side(f) {
                    Side::None => None,
                    Side::HomeOrig => Some((f.orig_addr(), f.resp_addr(), 0)),
                    Side::HomeResp => Some((f.resp_addr(), f.orig_addr(), 1)),
                };
                assert_eq!(p.sides(f).map(|s| (s.home, s.remote, s.home_dir)), want, "{:?}", f.key);
            }
        }
        let s = p.sides(&out).unwrap();
        assert_eq!(
            (s.home, s.remote, s.service_port, s.home_dir),
            (out.orig_addr(), out.resp_addr(), 443, 0)
        );
        assert_eq!(p.side(&inbound), Side::HomeResp);
        assert_eq!(p.side(&local), Side::None);
    }

    #[test]
    fn limits_hours_days_and_zones_parse() {
        let l = WindowLimit::parse("8h:1GiB").unwrap();
        assert_eq!((l.window, l.bytes), (Dur::secs(8 * 3600), Size(1 << 30)));
        assert!(WindowLimit::parse("8h").is_err() && WindowLimit::parse("0s:1MB").is_err());
        let h = HourRange::parse("22:00-06:00").unwrap();
        assert!(h.contains(23 * 60) && h.contains(60) && !h.contains(12 * 60));
        assert!(HourRange::parse("8-18").unwrap().contains(8 * 60));
        assert_eq!(Weekdays::parse(&["mon-fri".into()]).unwrap(), Weekdays(0b1_1111));
        assert_eq!(Weekdays::parse(&["fri-mon".into()]).unwrap(), Weekdays(0b111_0001));
        assert_eq!(fixed_offset("+02:00"), Some(7200));
        assert_eq!(fixed_offset("-0530"), Some(-(5 * 3600 + 1800)));
        assert!(TimeZoneName("Mars/Olympus".into()).load().is_err());
    }

    #[test]
    fn off_hours_uses_the_zone_and_days() {
        let c = EgressPolicyConfig {
            allowed_hours: vec![HourRange::parse("08:00-18:00").unwrap()],
            timezone: TimeZoneName("+02:00".into()),
            ..Default::default()
        };
        let p = Policy::new(&c);
        // Monday 2026-11-23 07:00 UTC = 09:00 at +02:00: inside.
        let mon_0700 = Timestamp::from_secs(1_795_417_200);
        assert!(p.off_hours(mon_0700).is_none());
        // 17:00 UTC = 19:00 local: outside.
        let o = p.off_hours(mon_0700.plus(std::time::Duration::from_secs(10 * 3600))).unwrap();
        assert!(o.local.starts_with("2026-11-23T19:00:00+02:00"), "{}", o.local);
        // Saturday 09:00 local: outside (mon-fri by default).
        assert!(p.off_hours(mon_0700.plus(std::time::Duration::from_secs(5 * 86_400))).is_some());
    }
}
