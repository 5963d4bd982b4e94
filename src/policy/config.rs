//! `[egress]`: the egress family's shared policy — which remote addresses count as external,
//! who is allow-listed, and the allowed hours — and the hour, day and zone types it is written in.

use super::geo::{AsnLimits, CountryLimits, de_asn_volume, de_asns, de_countries, de_country_volume};
use crate::units::{Dur, WindowLimit, de_limits, de_nets, de_string_list};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// `[egress]`: the policy `egress_volume`, `long_session` and `alt_protocol` share (each
/// detector's own thresholds are in its own section).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressPolicyConfig {
    /// Remote ranges that are never "external": Elastic's private and reserved list minus the
    /// documentation ranges 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (labs use them
    /// as "the internet"; add them back to match Elastic exactly).
    #[serde(deserialize_with = "de_nets")]
    pub exclude_nets: Vec<IpNet>,
    /// External destinations that never count (backup targets, cloud sync, update servers).
    #[serde(deserialize_with = "de_nets")]
    pub allow_destinations: Vec<IpNet>,
    /// Home hosts that are never reported by the egress family (backup servers, mail relays).
    #[serde(deserialize_with = "de_nets")]
    pub allow_hosts: Vec<IpNet>,
    /// Allowed local hours (`08:00-18:00`, several allowed); outside them the family's alerts
    /// are raised one severity level and say so. Empty: no off-hours handling.
    #[serde(deserialize_with = "de_hours")]
    pub allowed_hours: Vec<HourRange>,
    /// Days on which `allowed_hours` apply (`mon-fri`, `sat`); every hour of other days is off.
    #[serde(deserialize_with = "de_days")]
    pub allowed_days: Weekdays,
    /// Time zone of `allowed_hours`: `UTC`, an offset (`+01:00`), or a zoneinfo name
    /// (`Europe/Paris`, daylight saving included).
    pub timezone: TimeZoneName,
    /// Countries (ISO codes) whose traffic never raises `egress_volume` or `long_session`, nor
    /// counts toward proxyware's sustained-upload signal (needs `general.geoip_country_db`). Quiets bulk to the home country or a provider's
    /// region, and also any exfiltration that lands there.
    #[serde(deserialize_with = "de_countries")]
    pub allow_countries: Vec<[u8; 2]>,
    /// Countries whose traffic raises `egress_volume`'s dedicated signature at `alert_volume`.
    /// Catches smaller transfers there, at the cost of alerts on benign services hosted there.
    #[serde(deserialize_with = "de_countries")]
    pub alert_countries: Vec<[u8; 2]>,
    /// Thresholds per country (`{ RU = "1h:50MB" }`) for the dedicated signature; a country here
    /// is watched even if not in `alert_countries`.
    #[serde(deserialize_with = "de_country_volume")]
    pub country_volume: CountryLimits,
    /// Networks (AS numbers, `64496` or `"AS64496"`) never raising `egress_volume` or
    /// `long_session` (needs `general.geoip_asn_db`): the company's cloud provider. Wins over
    /// a country rule, so one cloud region can be allowed inside a watched country.
    #[serde(deserialize_with = "de_asns")]
    pub allow_asns: Vec<u32>,
    /// Networks raising the dedicated signature at `alert_volume`.
    #[serde(deserialize_with = "de_asns")]
    pub alert_asns: Vec<u32>,
    /// Thresholds per network (`{ AS64496 = "1h:50MB" }`) for the dedicated signature.
    #[serde(deserialize_with = "de_asn_volume")]
    pub asn_volume: AsnLimits,
    /// `WINDOW:BYTES` thresholds of the dedicated signature for `alert_countries` and
    /// `alert_asns`, per (home host, watched country or network): lower than `egress_volume`'s
    /// to catch smaller transfers to where none should go.
    #[serde(deserialize_with = "de_limits")]
    pub alert_volume: Vec<WindowLimit>,
    /// Prevalence window (with a GeoIP database): a destination network's share of home hosts
    /// is counted over the last one to two of these. Longer remembers rare visitors longer.
    pub prevalence_window: Dur,
    /// A destination network at most this share of the home hosts talked to is "rare": the
    /// egress family's and proxyware's alerts about it are raised one severity level. Higher
    /// flags more networks as rare.
    pub rare_prevalence: f64,
    /// Prevalence is judged only once this many home hosts were seen in the window (with a
    /// handful of hosts, every network is rare).
    pub rare_min_home_hosts: u32,
    /// Most destination networks in the prevalence table per window (about 100 bytes each plus
    /// 8 per home host); beyond it new networks are not counted.
    pub max_prevalence_networks: usize,
}

impl Default for EgressPolicyConfig {
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
        EgressPolicyConfig {
            exclude_nets: exclude.iter().filter_map(|s| crate::units::parse_net(s).ok()).collect(),
            allow_destinations: Vec::new(),
            allow_hosts: Vec::new(),
            allowed_hours: Vec::new(),
            allowed_days: Weekdays(0b1_1111),
            timezone: TimeZoneName("UTC".into()),
            allow_countries: Vec::new(),
            alert_countries: Vec::new(),
            country_volume: Vec::new(),
            allow_asns: Vec::new(),
            alert_asns: Vec::new(),
            asn_volume: Vec::new(),
            alert_volume: WindowLimit::parse("1h:10MB").into_iter().collect(),
            prevalence_window: Dur::secs(86_400),
            rare_prevalence: 0.05,
            rare_min_home_hosts: 20,
            max_prevalence_networks: 100_000,
        }
    }
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
fn de_hours<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HourRange>, D::Error> {
    let v = de_string_list(d)?;
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
fn de_days<'de, D: Deserializer<'de>>(d: D) -> Result<Weekdays, D::Error> {
    let v = de_string_list(d)?;
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

pub(super) fn fixed_offset(s: &str) -> Option<i32> {
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
