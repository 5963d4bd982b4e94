//! What the egress family (`egress_volume`, `long_session`, `alt_protocol`) agrees on: which
//! remote addresses are "external", who is allow-listed, what `WINDOW:BYTES` means, and when a
//! finding falls outside allowed hours.
//!
//! "External" is: not in the home network and not in `egress.exclude_nets` (Elastic's list of
//! private and reserved ranges from its "Egress Network Connections with Total Bytes Greater
//! than Threshold" hunt, minus the three documentation ranges — see the README). Address lists
//! are merged into sorted ranges once, so a lookup is a binary search, not a scan of CIDRs.

use super::PacketCtx;
use crate::alert::AlertBuilder;
use crate::flow::{Dir, EgressSide, Flow};
use crate::time::Timestamp;
use crate::units::{Dur, Size};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::IpAddr;

/// Parses a CIDR or a bare address (a /32 or /128).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("bad network {s:?} (use a CIDR such as 10.0.0.0/8 or an address)"))
}

/// Deserializes a list (or comma-separated string) of CIDRs or addresses.
pub fn de_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let v = crate::config::de_string_list(d)?;
    v.iter().map(|s| parse_net(s).map_err(serde::de::Error::custom)).collect()
}

/// A set of address ranges, merged and sorted for binary search.
#[derive(Debug, Clone, Default)]
pub struct RangeSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
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
    pub fn new(nets: &[IpNet]) -> RangeSet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in nets {
            match n {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        RangeSet { v4: merge(v4), v6: merge(v6) }
    }
    /// Is `ip` in the set?
    #[inline]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(*a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(*a)),
        }
    }
    /// No ranges at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// One sliding-window volume limit, written `WINDOW:BYTES` (`8h:1GiB`, `5m:10MB`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    /// The window.
    pub window: Dur,
    /// Bytes that must be reached inside it.
    pub bytes: Size,
}

impl fmt::Debug for WindowLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.window, self.bytes)
    }
}

impl WindowLimit {
    /// Parses `8h:1GiB`.
    pub fn parse(s: &str) -> Result<WindowLimit, String> {
        let (w, b) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("bad volume limit {s:?} (use WINDOW:BYTES, e.g. 8h:1GiB)"))?;
        let window = Dur::parse(w)?;
        let bytes = Size::parse(b)?;
        if window.0.is_zero() || bytes.0 == 0 {
            return Err(format!("bad volume limit {s:?}: window and bytes must be above zero"));
        }
        Ok(WindowLimit { window, bytes })
    }
}

/// Most windows per list (each costs a ring of buckets per tracked key).
pub const MAX_WINDOWS: usize = 6;

/// Deserializes a comma-separated string (or a list) of `WINDOW:BYTES`, sorted by window.
pub fn de_limits<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WindowLimit>, D::Error> {
    let v = crate::config::de_string_list(d)?;
    let mut out = v
        .iter()
        .map(|s| WindowLimit::parse(s).map_err(serde::de::Error::custom))
        .collect::<Result<Vec<_>, _>>()?;
    if out.len() > MAX_WINDOWS {
        return Err(serde::de::Error::custom(format!("at most {MAX_WINDOWS} windows")));
    }
    out.sort_by_key(|l| l.window);
    Ok(out)
}

/// Minutes since local midnight, start inclusive, end exclusive; wraps past midnight when
/// `end <= start` (`22:00-06:00`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HourRange {
    start: u16,
    end: u16,
}

impl fmt::Debug for HourRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}-{:02}:{:02}", self.start / 60, self.start % 60, self.end / 60, self.end % 60)
    }
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':').unwrap_or((s.trim(), "0"));
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

impl HourRange {
    /// Parses `08:00-18:00` (or `8-18`).
    pub fn parse(s: &str) -> Result<HourRange, String> {
        let bad = || format!("bad hours {s:?} (use HH:MM-HH:MM, e.g. 08:00-18:00)");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        Ok(HourRange { start: parse_hhmm(a).ok_or_else(bad)?, end: parse_hhmm(b).ok_or_else(bad)? })
    }
    /// Does the minute of day `m` fall inside?
    pub fn contains(&self, m: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }
}

/// Deserializes allowed hours (`08:00-18:00`, list or comma-separated).
pub fn de_hours<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HourRange>, D::Error> {
    let v = crate::config::de_string_list(d)?;
    v.iter().map(|s| HourRange::parse(s).map_err(serde::de::Error::custom)).collect()
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A set of weekdays (bit 0 = Monday), written `mon-fri`, `sat`, `sun`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(pub u8);

impl fmt::Debug for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            DAYS.iter().enumerate().filter(|(i, _)| self.0 & (1 << i) != 0).map(|(_, d)| *d).collect();
        write!(f, "{}", names.join(","))
    }
}

impl Weekdays {
    fn day(s: &str) -> Option<u8> {
        let l = s.trim().to_ascii_lowercase();
        DAYS.iter().position(|d| l.starts_with(d)).map(|i| i as u8)
    }
    /// Parses entries such as `mon-fri`, `sat`, `fri-mon`.
    pub fn parse(items: &[String]) -> Result<Weekdays, String> {
        let mut m = 0u8;
        for s in items {
            let bad = || format!("bad day {s:?} (use mon..sun or a range such as mon-fri)");
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let (a, b) = (Self::day(a).ok_or_else(bad)?, Self::day(b).ok_or_else(bad)?);
            let mut d = a;
            loop {
                m |= 1 << d;
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        Ok(Weekdays(m))
    }
}

/// Deserializes weekdays (`mon-fri`, list or comma-separated).
pub fn de_days<'de, D: Deserializer<'de>>(d: D) -> Result<Weekdays, D::Error> {
    let v = crate::config::de_string_list(d)?;
    Weekdays::parse(&v).map_err(serde::de::Error::custom)
}

/// A time zone: `UTC`, a fixed offset (`+02:00`, `-0530`), an IANA name read from the system's
/// zoneinfo (`Europe/Paris`), or a POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`).
#[derive(Clone, PartialEq, Eq)]
pub struct TimeZoneName(pub String);

impl fmt::Debug for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn fixed_offset(s: &str) -> Option<i32> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..).filter(|x| !x.is_empty()).map_or(Some(0), |x| x.parse().ok())?;
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

impl TimeZoneName {
    /// Loads the zone (reads zoneinfo for IANA names).
    pub fn load(&self) -> Result<tz::TimeZone, String> {
        let s = self.0.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(tz::TimeZone::utc());
        }
        if let Some(off) = fixed_offset(s) {
            return tz::TimeZone::fixed(off).map_err(|e| format!("bad time zone {s:?}: {e}"));
        }
        tz::TimeZone::from_posix_tz(s).map_err(|e| {
            format!("unknown time zone {s:?} ({e}); use UTC, an offset such as +02:00, or a name in /usr/share/zoneinfo")
        })
    }
}

impl<'de> Deserialize<'de> for TimeZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = TimeZoneName(String::deserialize(d)?);
        n.load().map_err(serde::de::Error::custom)?;
        Ok(n)
    }
}

/// Local time of an event, when it fell outside the allowed hours.
#[derive(Debug, Clone)]
pub struct OffHours {
    /// Local time, `2026-11-23T23:05:00+01:00`.
    pub local: String,
}

/// The shared policy, built from `[egress]` once per worker ([`super::Env::egress`]): the
/// worker stores each flow's verdict in the flow, and the egress family reads it from there.
#[derive(Debug, Clone)]
pub struct Policy {
    exclude: RangeSet,
    allow_dst: RangeSet,
    allow_hosts: RangeSet,
    hours: Vec<HourRange>,
    days: Weekdays,
    tz: Option<tz::TimeZone>,
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
    pub fn new(c: &super::egress::EgressConfig) -> Policy {
        Policy {
            exclude: RangeSet::new(&c.exclude_nets),
            allow_dst: RangeSet::new(&c.allow_destinations),
            allow_hosts: RangeSet::new(&c.allow_hosts),
            hours: c.allowed_hours.clone(),
            days: c.allowed_days,
            tz: if c.allowed_hours.is_empty() { None } else { c.timezone.load().ok() },
        }
    }

    /// Is `ip` outside the home network, the excluded ranges and the allowed destinations?
    /// (`home` says whether the home network holds it, as the flow table already knows.)
    #[inline]
    pub fn external(&self, ip: &IpAddr, home: bool) -> bool {
        !home && !self.exclude.contains(ip) && !self.allow_dst.contains(ip)
    }

    /// Home host and external peer of a flow, or `None` if the flow is not home ↔ external
    /// or its home host is allow-listed. Reads the verdict the worker stored in the flow when
    /// it opened ([`Flow::egress`]), and works it out only for a flow without one.
    #[inline]
    pub fn sides(&self, f: &Flow) -> Option<Sides> {
        let side = match f.egress {
            EgressSide::Unknown => self.side(f),
            s => s,
        };
        match side {
            EgressSide::HomeOrig => Some(Sides {
                home: f.orig_addr(),
                remote: f.resp_addr(),
                service_port: f.resp_port(),
                home_dir: 0,
            }),
            EgressSide::HomeResp => Some(Sides {
                home: f.resp_addr(),
                remote: f.orig_addr(),
                service_port: f.resp_port(),
                home_dir: 1,
            }),
            EgressSide::None | EgressSide::Unknown => None,
        }
    }

    /// Works out which side of `f` is the home host talking to an external one (ignoring any
    /// verdict already stored in the flow).
    pub fn side(&self, f: &Flow) -> EgressSide {
        let (side, home) = match (f.orig_home, f.resp_home) {
            (true, false) if self.external(&f.resp_addr(), false) => (EgressSide::HomeOrig, f.orig_addr()),
            (false, true) if self.external(&f.orig_addr(), false) => (EgressSide::HomeResp, f.resp_addr()),
            _ => return EgressSide::None,
        };
        if self.allow_hosts.contains(&home) {
            return EgressSide::None;
        }
        side
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
pub fn rate(bytes: u64, secs: f64) -> u64 {
    if secs > 0.0 { (bytes as f64 / secs).round() as u64 } else { bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(r.contains(&"::1".parse().unwrap()));
        assert!(r.contains(&"fe80::1".parse().unwrap()));
        assert!(!r.contains(&"2001:db8::1".parse().unwrap()));
        assert!(parse_net("nope").is_err());
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
        let c = super::super::egress::EgressConfig {
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
