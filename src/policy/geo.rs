//! The egress family's policy by where a peer is: `[egress]`'s country and network (AS) keys,
//! read and checked when the config is read, and [`GeoPolicy`], what the detectors consult
//! about a flow's [`GeoTag`] (which the worker looks up once when the flow opens).
//!
//! - `allow_countries` / `allow_asns`: traffic to them never raises `egress_volume` or
//!   `long_session`, nor counts toward proxyware's sustained-upload signal (the company's cloud
//!   provider, the home country).
//! - `alert_countries` / `alert_asns`: traffic to them raises `egress_volume`'s dedicated
//!   signature at the lower `alert_volume` thresholds.
//! - `country_volume` / `asn_volume`: the same dedicated signature, with thresholds per country
//!   or network.
//!
//! An AS verdict wins over a country one (a network is the more precise statement), and "allow"
//! wins over "alert" for the same key. Without a database every tag is unknown: nothing is
//! allowed or watched.

use crate::enrich::{GeoTag, codes};
use crate::units::{WindowLimit, de_limits, de_string_list};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Deserializes ISO country codes (list or comma-separated), uppercased; an unknown code is an
/// error naming it.
pub(crate) fn de_countries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 2]>, D::Error> {
    let v = de_string_list(d)?;
    v.iter()
        .map(|s| {
            codes::country(s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} is not an ISO 3166-1 alpha-2 country code (use two letters such as DE, US)"
                ))
            })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AsnItem {
    N(u64),
    S(String),
}

fn asn_of<E: serde::de::Error>(i: &AsnItem) -> Result<u32, E> {
    let s = match i {
        AsnItem::N(n) => n.to_string(),
        AsnItem::S(s) => s.clone(),
    };
    codes::asn(&s).ok_or_else(|| {
        E::custom(format!(
            "{s:?} is not an AS number (use 1..4294967294 or AS64496; 0, 23456 and 4294967295 are reserved)"
        ))
    })
}

/// Deserializes AS numbers: integers, `AS64496` strings, or one comma-separated string.
pub(crate) fn de_asns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(AsnItem),
        Many(Vec<AsnItem>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(AsnItem::S(s)) => {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| AsnItem::S(s.to_owned())).collect()
        }
        Raw::One(n) => vec![n],
        Raw::Many(v) => v,
    };
    items.iter().map(asn_of).collect()
}

/// `WINDOW:BYTES` thresholds as a map value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limits(pub Vec<WindowLimit>);

impl<'de> Deserialize<'de> for Limits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_limits(d).map(Limits)
    }
}

/// Thresholds per country code.
pub(crate) type CountryLimits = Vec<([u8; 2], Vec<WindowLimit>)>;
/// Thresholds per AS number.
pub(crate) type AsnLimits = Vec<(u32, Vec<WindowLimit>)>;

/// Deserializes `{ RU = "1h:50MB", CN = "1h:50MB,8h:200MB" }`, checking each code.
pub(crate) fn de_country_volume<'de, D: Deserializer<'de>>(d: D) -> Result<CountryLimits, D::Error> {
    let m = BTreeMap::<String, Limits>::deserialize(d)?;
    m.into_iter()
        .map(|(k, v)| {
            let c = codes::country(&k).ok_or_else(|| {
                serde::de::Error::custom(format!("{k:?} is not an ISO 3166-1 alpha-2 country code"))
            })?;
            Ok((c, v.0))
        })
        .collect()
}

/// Deserializes `{ AS64496 = "1h:50MB", 64511 = "1h:1GB" }`, checking each number.
pub(crate) fn de_asn_volume<'de, D: Deserializer<'de>>(d: D) -> Result<AsnLimits, D::Error> {
    let m = BTreeMap::<String, Limits>::deserialize(d)?;
    m.into_iter().map(|(k, v)| Ok((asn_of::<D::Error>(&AsnItem::S(k))?, v.0))).collect()
}

/// Which geographic rule a flow's peer falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// A watched country.
    Country([u8; 2]),
    /// A watched network.
    As(u32),
}

impl Watch {
    /// A stable key for per-rule tallies.
    pub fn key(&self) -> u64 {
        match self {
            Watch::Country([a, b]) => (1 << 40) | (u64::from(*a) << 8) | u64::from(*b),
            Watch::As(n) => u64::from(*n),
        }
    }
    /// The rule as evidence: `("country", "RU")` or `("asn", "AS64496")`.
    pub fn describe(&self) -> (&'static str, String) {
        match self {
            Watch::Country(c) => ("country", codes::country_str(*c)),
            Watch::As(n) => ("asn", format!("AS{n}")),
        }
    }
}

/// The geographic rules, built once per worker.
#[derive(Debug, Clone, Default)]
pub struct GeoPolicy {
    allow_countries: Vec<[u8; 2]>,
    allow_asns: Vec<u32>,
    /// Watched countries with their thresholds.
    countries: CountryLimits,
    /// Watched networks with their thresholds.
    asns: AsnLimits,
}

impl GeoPolicy {
    /// From `[egress]`'s keys.
    pub fn new(c: &super::EgressPolicyConfig) -> GeoPolicy {
        let mut countries = c.country_volume.clone();
        for cc in &c.alert_countries {
            if !countries.iter().any(|(k, _)| k == cc) {
                countries.push((*cc, c.alert_volume.clone()));
            }
        }
        let mut asns = c.asn_volume.clone();
        for n in &c.alert_asns {
            if !asns.iter().any(|(k, _)| k == n) {
                asns.push((*n, c.alert_volume.clone()));
            }
        }
        countries.retain(|(_, l)| !l.is_empty());
        asns.retain(|(_, l)| !l.is_empty());
        GeoPolicy {
            allow_countries: c.allow_countries.clone(),
            allow_asns: c.allow_asns.clone(),
            countries,
            asns,
        }
    }

    /// Any rule at all (the worker skips lookups for policy when there is none).
    pub fn is_empty(&self) -> bool {
        self.allow_countries.is_empty()
            && self.allow_asns.is_empty()
            && self.countries.is_empty()
            && self.asns.is_empty()
    }

    /// The allow rule `t` falls under, as evidence-ready text, if any.
    pub fn allowed(&self, t: GeoTag) -> Option<Watch> {
        if let Some(n) = t.asn()
            && self.allow_asns.contains(&n)
        {
            return Some(Watch::As(n));
        }
        let c = t.country()?;
        self.allow_countries.contains(&c).then_some(Watch::Country(c))
    }

    /// Every watched country's and network's thresholds.
    pub fn limits(&self) -> impl Iterator<Item = &WindowLimit> {
        let countries = self.countries.iter().flat_map(|(_, l)| l.iter());
        countries.chain(self.asns.iter().flat_map(|(_, l)| l.iter()))
    }

    /// The watch rule `t` falls under and its thresholds (never for an allowed peer).
    pub fn watched(&self, t: GeoTag) -> Option<(Watch, &[WindowLimit])> {
        if self.allowed(t).is_some() {
            return None;
        }
        if let Some(n) = t.asn()
            && let Some((_, l)) = self.asns.iter().find(|(k, _)| *k == n)
        {
            return Some((Watch::As(n), l));
        }
        let c = t.country()?;
        self.countries.iter().find(|(k, _)| *k == c).map(|(_, l)| (Watch::Country(c), l.as_slice()))
    }
}
