//! The report's data: alerts read back from their EVE form (so a live run and an EVE file give
//! the same report), the run's stats event, and the host ranking derived from them.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One alert, as the report uses it.
#[derive(Debug, Clone)]
pub struct AlertRow {
    /// Capture time, seconds since the epoch.
    pub ts: f64,
    /// The EVE timestamp text.
    pub time: String,
    /// Detector name.
    pub detector: String,
    /// Signature id.
    pub sid: u64,
    /// Signature text.
    pub signature: String,
    /// 1 high .. 3 low.
    pub severity: u8,
    /// The host the alert is about.
    pub src: String,
    /// The other side.
    pub dst: String,
    /// Destination port.
    pub dport: Option<u64>,
    /// Protocol.
    pub proto: String,
    /// Flow id.
    pub flow_id: u64,
    /// Bytes from the initiator in the alert's flow, when it has one.
    pub flow_bytes_out: Option<u64>,
    /// Score.
    pub score: f64,
    /// A name involved: DNS query, TLS SNI, HTTP host, or the evidence's domain.
    pub name: Option<String>,
    /// `escalation` object, when the alert re-fired on growth.
    pub escalation: Option<Value>,
    /// The evidence.
    pub evidence: Map<String, Value>,
    /// Where the external side is (the alert's `geoip` object), when a database was loaded.
    pub geo: Option<Geo>,
}

/// The external side's country and network, as the alert's `geoip` object gives them.
#[derive(Debug, Clone, Default)]
pub struct Geo {
    /// ISO country code (`country_code2`).
    pub country: Option<String>,
    /// Country name.
    pub country_name: Option<String>,
    /// AS number.
    pub asn: Option<u64>,
    /// AS organisation.
    pub as_org: Option<String>,
}

/// EVE timestamp (`2026-11-23T22:26:10.596601+0000`) to seconds since the epoch.
pub(crate) fn parse_time(s: &str) -> Option<f64> {
    let dt = chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok()?;
    Some(dt.timestamp() as f64 + f64::from(dt.timestamp_subsec_nanos()) / 1e9)
}

impl AlertRow {
    /// Reads an EVE alert event; `None` if it is not one.
    pub fn from_eve(v: &Value) -> Option<AlertRow> {
        if v.get("event_type")?.as_str()? != "alert" {
            return None;
        }
        let time = v.get("timestamp")?.as_str()?.to_owned();
        let a = v.get("alert")?;
        let s = v.get("siphon");
        let evidence =
            s.and_then(|s| s.get("evidence")).and_then(Value::as_object).cloned().unwrap_or_default();
        let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let name = text("/dns/queries/0/rrname")
            .or_else(|| text("/tls/sni"))
            .or_else(|| text("/http/hostname"))
            .or_else(|| evidence.get("domain").and_then(Value::as_str).map(str::to_owned));
        Some(AlertRow {
            ts: parse_time(&time)?,
            time,
            detector: s
                .and_then(|s| s.get("detector"))
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            sid: a.get("signature_id").and_then(Value::as_u64).unwrap_or(0),
            signature: a.get("signature").and_then(Value::as_str).unwrap_or("").to_owned(),
            severity: a.get("severity").and_then(Value::as_u64).unwrap_or(3).clamp(1, 3) as u8,
            src: v.get("src_ip").and_then(Value::as_str).unwrap_or("?").to_owned(),
            dst: v.get("dest_ip").and_then(Value::as_str).unwrap_or("?").to_owned(),
            dport: v.get("dest_port").and_then(Value::as_u64),
            proto: v.get("proto").and_then(Value::as_str).unwrap_or("").to_owned(),
            flow_id: v.get("flow_id").and_then(Value::as_u64).unwrap_or(0),
            flow_bytes_out: v.pointer("/flow/bytes_toserver").and_then(Value::as_u64),
            score: s.and_then(|s| s.get("score")).and_then(Value::as_f64).unwrap_or(0.0),
            name,
            escalation: v.get("escalation").cloned(),
            evidence,
            geo: v.get("geoip").map(|g| Geo {
                country: g.get("country_code2").and_then(Value::as_str).map(str::to_owned),
                country_name: g.get("country_name").and_then(Value::as_str).map(str::to_owned),
                asn: g.get("asn").and_then(Value::as_u64),
                as_org: g.get("as_org").and_then(Value::as_str).map(str::to_owned),
            }),
        })
    }

    /// A number from the evidence.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.evidence.get(key).and_then(Value::as_f64)
    }

    /// A string from the evidence.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.evidence.get(key).and_then(Value::as_str)
    }

    /// Bytes this alert says the host sent: the detector's own count when it has one, else the
    /// alert flow's bytes from the initiator.
    pub fn bytes_out(&self) -> Option<u64> {
        ["bytes_out", "payload_bytes_out", "bytes", "query_bytes"]
            .iter()
            .find_map(|k| self.evidence.get(*k).and_then(Value::as_u64))
            .or(self.flow_bytes_out)
    }
}

/// A flagged host, RITA-style.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostRow {
    /// Address.
    pub addr: String,
    /// Worst severity (1 high).
    pub severity: u8,
    /// Alerts about it.
    pub alerts: usize,
    /// Alerts per detector.
    pub detectors: BTreeMap<String, usize>,
    /// First alert, seconds.
    pub first: f64,
    /// Last alert, seconds.
    pub last: f64,
    /// First and last alert, EVE text.
    pub first_text: String,
    /// Last alert, EVE text.
    pub last_text: String,
    /// Bytes out: the largest figure per (detector, destination), summed.
    pub bytes_out: u64,
    /// Destinations.
    pub destinations: BTreeSet<String>,
    /// Domains and names.
    pub names: BTreeSet<String>,
}

/// The hosts alerts are about, worst first: severity, then detectors, alerts and bytes out.
pub(crate) fn rank_hosts(alerts: &[AlertRow]) -> Vec<HostRow> {
    let mut hosts: BTreeMap<&str, HostRow> = BTreeMap::new();
    let mut out_per_pair: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for a in alerts {
        let h = hosts.entry(&a.src).or_insert_with(|| HostRow {
            addr: a.src.clone(),
            severity: 3,
            first: f64::MAX,
            last: f64::MIN,
            ..HostRow::default()
        });
        h.severity = h.severity.min(a.severity);
        h.alerts += 1;
        *h.detectors.entry(a.detector.clone()).or_insert(0) += 1;
        if a.ts < h.first {
            h.first = a.ts;
            h.first_text.clone_from(&a.time);
        }
        if a.ts > h.last {
            h.last = a.ts;
            h.last_text.clone_from(&a.time);
        }
        h.destinations.insert(a.dst.clone());
        if let Some(n) = a.evidence.get("domain").and_then(Value::as_str).or(a.name.as_deref()) {
            h.names.insert(crate::report::short_name(n, 60));
        }
        if let Some(b) = a.bytes_out() {
            let e = out_per_pair.entry((&a.src, &a.detector, &a.dst)).or_insert(0);
            *e = (*e).max(b);
        }
    }
    for ((src, _, _), b) in out_per_pair {
        if let Some(h) = hosts.get_mut(src) {
            h.bytes_out += b;
        }
    }
    let mut v: Vec<HostRow> = hosts.into_values().collect();
    v.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.detectors.len().cmp(&a.detectors.len()))
            .then(b.alerts.cmp(&a.alerts))
            .then(b.bytes_out.cmp(&a.bytes_out))
            .then(a.addr.cmp(&b.addr))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(ts: &str, src: &str, det: &str, sev: u8, ev: Value) -> AlertRow {
        AlertRow::from_eve(&json!({
            "timestamp": ts, "event_type": "alert", "src_ip": src, "dest_ip": "203.0.113.1",
            "alert": {"signature_id": 1, "signature": "s", "severity": sev},
            "siphon": {"detector": det, "score": 1.0, "evidence": ev},
        }))
        .unwrap()
    }

    #[test]
    fn parses_eve_time() {
        let t = parse_time("2026-11-23T22:26:10.596601+0000").unwrap();
        assert!((t - 1_795_472_770.596_601).abs() < 1e-5, "{t}");
    }

    #[test]
    fn hosts_rank_by_severity_then_breadth() {
        let a = [
            alert("2026-11-23T22:26:10.0+0000", "10.0.0.2", "scan", 2, json!({})),
            alert("2026-11-23T22:26:11.0+0000", "10.0.0.2", "scan", 2, json!({})),
            alert("2026-11-23T22:26:12.0+0000", "10.0.0.1", "dns_tunnel", 1, json!({"query_bytes": 500})),
            alert("2026-11-23T22:26:13.0+0000", "10.0.0.1", "dns_tunnel", 1, json!({"query_bytes": 900})),
        ];
        let h = rank_hosts(&a);
        assert_eq!(h[0].addr, "10.0.0.1");
        assert_eq!(h[0].bytes_out, 900, "the largest figure, not the sum of repeats");
        assert_eq!(h[1].alerts, 2);
        assert!(h[0].first < h[0].last);
    }
}

/// One row of "where the data went": a country or a network, over the alerts placed there.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaceRow {
    /// `NL (Netherlands)` or `AS64502 (Example Org)`.
    pub place: String,
    /// Alerts whose external side is there.
    pub alerts: usize,
    /// Distinct home hosts alerted about with it.
    pub hosts: usize,
    /// Bytes out the alerts report (per home host and destination, the largest figure).
    pub bytes_out: u64,
}

/// Bytes out by country and by network, from the alerts' `geoip` objects (largest figure first);
/// empty when no alert carries one (no database loaded).
pub(crate) fn by_place(alerts: &[AlertRow]) -> (Vec<PlaceRow>, Vec<PlaceRow>) {
    use std::collections::{BTreeMap, BTreeSet};
    #[derive(Default)]
    struct Acc {
        alerts: usize,
        hosts: BTreeSet<String>,
        pairs: BTreeMap<(String, String), u64>,
    }
    let mut countries: BTreeMap<String, Acc> = BTreeMap::new();
    let mut networks: BTreeMap<String, Acc> = BTreeMap::new();
    for a in alerts {
        let Some(g) = &a.geo else { continue };
        let add = |m: &mut BTreeMap<String, Acc>, key: String| {
            let acc = m.entry(key).or_default();
            acc.alerts += 1;
            acc.hosts.insert(a.src.clone());
            let b = acc.pairs.entry((a.src.clone(), a.dst.clone())).or_default();
            *b = (*b).max(a.bytes_out().unwrap_or(0));
        };
        if let Some(c) = &g.country {
            add(&mut countries, g.country_name.as_ref().map_or(c.clone(), |n| format!("{c} ({n})")));
        }
        if let Some(n) = g.asn {
            add(&mut networks, g.as_org.as_ref().map_or(format!("AS{n}"), |o| format!("AS{n} ({o})")));
        }
    }
    let rows = |m: BTreeMap<String, Acc>| {
        let mut v: Vec<PlaceRow> = m
            .into_iter()
            .map(|(place, a)| PlaceRow {
                place,
                alerts: a.alerts,
                hosts: a.hosts.len(),
                bytes_out: a.pairs.values().sum(),
            })
            .collect();
        v.sort_by(|a, b| b.bytes_out.cmp(&a.bytes_out).then(b.alerts.cmp(&a.alerts)));
        v
    };
    (rows(countries), rows(networks))
}
