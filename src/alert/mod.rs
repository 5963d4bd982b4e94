//! Alerts: the EVE type, how detectors build one, suppression per episode, and the sinks.

pub(crate) mod community_id;
pub(crate) mod eve;
pub(crate) mod flow_event;
pub(crate) mod output;
pub(crate) mod sink;
pub(crate) mod suppress;
pub(crate) mod text;

pub use eve::Alert;

use crate::decode::tunnel::TunnelInfo;
use crate::flow::Flow;
use crate::time::Timestamp;
use eve::{EveAlert, EveDns, EveDnsQuery, EveFlow, EveHttp, EveTls, EveTunnel, SiphonEvidence};
use serde::Serialize;
use std::net::IpAddr;

/// A detector's signature: stable id, text, classification, severity and ATT&CK techniques.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    /// Stable id (siphon's range is 9_100_000 and up, one block of 100 per detector).
    pub id: u32,
    /// Revision.
    pub rev: u32,
    /// Text, `SIPHON <detector> <what>`.
    pub msg: &'static str,
    /// Suricata classification wording.
    pub category: &'static str,
    /// 1 high .. 3 low.
    pub severity: u8,
    /// ATT&CK technique ids.
    pub mitre: &'static [&'static str],
}

/// Builds an [`Alert`]; detectors call this only when something fires, never per packet.
pub struct AlertBuilder {
    alert: Alert,
}

impl Alert {
    /// Starts an alert about `src` (the host it is about) talking to `dst`.
    pub fn build(
        detector: &'static str,
        sig: &Signature,
        ts: Timestamp,
        src: IpAddr,
        dst: IpAddr,
    ) -> AlertBuilder {
        AlertBuilder {
            alert: Alert {
                timestamp: ts.to_eve(),
                flow_id: 0,
                event_type: "alert",
                vlan: None,
                src_ip: src,
                src_port: None,
                dest_ip: dst,
                dest_port: None,
                proto: String::new(),
                icmp_type: None,
                icmp_code: None,
                community_id: None,
                alert: EveAlert {
                    action: "allowed",
                    gid: 1,
                    signature_id: sig.id,
                    rev: sig.rev,
                    signature: sig.msg.to_owned(),
                    category: sig.category,
                    severity: sig.severity,
                },
                dns: None,
                tls: None,
                http: None,
                flow: None,
                tunnel: None,
                geoip: None,
                siphon: SiphonEvidence {
                    detector,
                    score: 0.0,
                    mitre: sig.mitre.to_vec(),
                    evidence: serde_json::Map::new(),
                    escalation: None,
                    source: None,
                    exporter: None,
                    observation_domain: None,
                },
                proto_num: None,
                ts,
                episode: String::new(),
                magnitude: 1.0,
            },
        }
    }
}

impl Alert {
    /// Records the encapsulation the alert's packet came in: EVE's `tunnel` object, and the
    /// mirror's identifiers in the evidence (`erspan_session`, `erspan_vlan`, `vxlan_vni`,
    /// `gre_key`) so an analyst knows which mirror session saw it.
    pub fn set_tunnel(&mut self, t: &TunnelInfo) {
        self.tunnel = Some(EveTunnel::from(t));
        let ids = [
            ("erspan_session", t.ids.erspan_session.map(u32::from)),
            ("erspan_vlan", t.ids.erspan_vlan.map(u32::from)),
            ("vxlan_vni", t.ids.vni),
            ("gre_key", t.ids.gre_key),
        ];
        for (k, v) in ids {
            if let Some(v) = v {
                self.siphon.evidence.insert(k.to_owned(), v.into());
            }
        }
    }

    /// [`Alert::set_tunnel`] unless the detector already recorded one.
    pub fn default_tunnel(&mut self, t: Option<&TunnelInfo>) {
        if self.tunnel.is_none()
            && let Some(t) = t
        {
            self.set_tunnel(t);
        }
    }
}

/// Longest DNS name written whole in an alert, in characters of its escaped form.
pub(crate) const MAX_RRNAME: usize = 120;

/// An escaped name cut to its first 40 and last 60 characters around `…` (never inside a
/// `\xNN` escape), with the name's length in bytes; `None` if it is short enough.
pub(crate) fn shorten_name(escaped: &str) -> Option<(String, usize)> {
    (escaped.chars().count() > MAX_RRNAME).then(|| cut_escaped(escaped, 40, 60))
}

/// `escaped` cut to at most `head` + `tail` bytes around `…`, never inside a `\xNN` escape,
/// with its length in name bytes (each escape one byte).
pub(crate) fn cut_escaped(escaped: &str, head: usize, tail: usize) -> (String, usize) {
    // One unit per name byte: `\xNN` or one character.
    let mut units: Vec<&str> = Vec::with_capacity(escaped.len());
    let mut i = 0;
    while i < escaped.len() {
        let n = if escaped[i..].starts_with("\\x") && escaped.len() >= i + 4 {
            4
        } else {
            escaped[i..].chars().next().map_or(1, char::len_utf8)
        };
        units.push(&escaped[i..i + n]);
        i += n;
    }
    if units.iter().map(|u| u.len()).sum::<usize>() <= head + tail {
        return (escaped.to_owned(), units.len());
    }
    let (mut h, mut t, mut k, mut m) = (0, 0, 0, units.len());
    while k < units.len() && h + units[k].len() <= head {
        h += units[k].len();
        k += 1;
    }
    while m > k && t + units[m - 1].len() <= tail {
        t += units[m - 1].len();
        m -= 1;
    }
    (format!("{}…{}", units[..k].concat(), units[m..].concat()), units.len())
}

/// `v` with every fraction rounded to 3 decimals (3 significant digits below 0.001).
pub(crate) fn rounded(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(0.0);
            let r = if x.abs() >= 1e-3 || x == 0.0 {
                (x * 1000.0).round() / 1000.0
            } else {
                format!("{x:.2e}").parse().unwrap_or(x)
            };
            serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(rounded).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, rounded(v))).collect()),
        v => v,
    }
}

impl AlertBuilder {
    /// IP protocol number.
    pub fn proto(mut self, p: u8) -> Self {
        self.alert.proto = eve::proto_name(p);
        self.alert.proto_num = Some(p);
        self
    }
    /// Source and destination ports.
    pub fn ports(mut self, sport: u16, dport: u16) -> Self {
        self.alert.src_port = Some(sport);
        self.alert.dest_port = Some(dport);
        self
    }
    /// The flow the alert is about: id, counters and ports (oriented so `src_ip` keeps its side).
    pub fn flow(mut self, f: &Flow, now: Timestamp) -> Self {
        self.alert.flow_id = f.id;
        if self.alert.proto.is_empty() {
            self.alert.proto = eve::proto_name(f.key.proto);
            self.alert.proto_num = Some(f.key.proto);
        }
        if self.alert.src_port.is_none() && matches!(f.key.proto, 6 | 17) {
            let (sp, dp) = if f.orig_addr() == self.alert.src_ip {
                (f.orig_port(), f.resp_port())
            } else {
                (f.resp_port(), f.orig_port())
            };
            self.alert.src_port = Some(sp);
            self.alert.dest_port = Some(dp);
        }
        self.alert.flow = Some(EveFlow {
            pkts_toserver: f.pkts[0],
            pkts_toclient: f.pkts[1],
            bytes_toserver: f.bytes[0],
            bytes_toclient: f.bytes[1],
            start: f.first.to_eve(),
            age: now.since(f.first).as_secs(),
        });
        if let Some(t) = &f.tunnel {
            self.alert.set_tunnel(t);
        }
        if let Some(v) = f.vlan {
            self.alert.vlan = Some(vec![v]);
        }
        self
    }
    /// ICMP type and code.
    pub fn icmp(mut self, ty: u8, code: u8) -> Self {
        self.alert.icmp_type = Some(ty);
        self.alert.icmp_code = Some(code);
        self
    }
    /// The DNS query that fired. A name longer than [`MAX_RRNAME`] characters (binary labels
    /// escaped as `\xNN` make tunnel names long) is cut in the middle, keeping the domain, and
    /// its length in bytes goes into the evidence as `query_name_bytes`.
    pub fn dns(mut self, id: u16, rrname: String, qtype: u16) -> Self {
        let rrname = match shorten_name(&rrname) {
            Some((short, bytes)) => {
                self = self.evidence("query_name_bytes", bytes);
                short
            }
            None => rrname,
        };
        self.alert.dns = Some(EveDns {
            version: 3,
            kind: "request",
            id,
            queries: vec![EveDnsQuery { rrname, rrtype: eve::rrtype_name(qtype) }],
        });
        self
    }
    /// The TLS server name that fired.
    pub fn tls_sni(mut self, sni: String) -> Self {
        self.alert.tls = Some(EveTls { sni });
        self
    }
    /// The HTTP request that fired.
    pub fn http(mut self, method: &str, url: &str, host: Option<String>, length: Option<u64>) -> Self {
        self.alert.http =
            Some(EveHttp { hostname: host, url: url.to_owned(), http_method: method.to_owned(), length });
        self
    }
    /// The score and the threshold it crossed (the threshold goes into evidence).
    pub fn score(mut self, score: f64, threshold: f64) -> Self {
        self.alert.siphon.score = (score * 1000.0).round() / 1000.0;
        self.evidence("score_threshold", threshold)
    }
    /// One figure of evidence (fractions rounded to 3 decimals, or 3 significant digits below
    /// 0.001: no 15-digit floats).
    pub fn evidence(mut self, key: &str, value: impl Serialize) -> Self {
        let v = rounded(serde_json::to_value(value).unwrap_or(serde_json::Value::Null));
        self.alert.siphon.evidence.insert(key.to_owned(), v);
        self
    }
    /// Episode key (with detector and signature) for suppression, and the figure whose growth
    /// by `alerts.escalation_factor` re-alerts.
    pub fn episode(mut self, key: String, magnitude: f64) -> Self {
        self.alert.episode = key;
        self.alert.magnitude = magnitude;
        self
    }
    /// Raises severity (lower number) when the alert falls outside allowed hours.
    pub fn severity(mut self, s: u8) -> Self {
        self.alert.alert.severity = s;
        self
    }
    /// The alert. A detector-named threshold equal to `score_threshold` is named once.
    pub fn finish(mut self) -> Alert {
        let ev = &mut self.alert.siphon.evidence;
        if let Some(t) = ev.get("score_threshold").cloned() {
            ev.retain(|k, v| k == "score_threshold" || !k.ends_with("_threshold") || *v != t);
        }
        if self.alert.proto.is_empty() {
            self.alert.proto = "IP".into();
        }
        let a = &self.alert;
        let ports = match (a.src_port, a.dest_port, a.icmp_type) {
            (Some(s), Some(d), _) => Some((s, d)),
            (_, _, Some(t)) => Some((u16::from(t), u16::from(a.icmp_code.unwrap_or(0)))),
            _ => None,
        };
        self.alert.community_id =
            a.proto_num.and_then(|p| community_id::community_id_v1(0, a.src_ip, a.dest_ip, p, ports));
        if self.alert.flow_id == 0 {
            self.alert.flow_id = crate::flow::key::stable_id(
                &[self.alert.src_ip, self.alert.dest_ip],
                self.alert.alert.signature_id,
            );
        }
        self.alert
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_binary_names_are_cut_whole_escapes_and_measured() {
        let name = format!("{}.t.exfil-test.net", "\\xd1a".repeat(60));
        let (short, bytes) = shorten_name(&name).unwrap();
        assert_eq!(bytes, 120 + 17, "each \\xNN is one byte");
        assert!(short.ends_with(".t.exfil-test.net"), "{short}");
        let (head, tail) = short.split_once('…').unwrap();
        assert!(head.len() <= 40 && tail.len() <= 60);
        for part in [head, tail] {
            // Every backslash still starts a whole escape.
            for (i, _) in part.match_indices('\\') {
                assert!(part[i..].len() >= 4 && part[i + 1..].starts_with('x'), "{part}");
            }
        }
        assert!(shorten_name("www.example.com").is_none());
    }

    #[test]
    fn evidence_fractions_are_rounded() {
        let v = rounded(serde_json::json!({"a": 6.892679775201884, "b": [0.000123456], "c": 3}));
        assert_eq!(v, serde_json::json!({"a": 6.893, "b": [0.000123], "c": 3}));
    }
}
