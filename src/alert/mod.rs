//! Alerts: the EVE type, how detectors build one, suppression per episode, and the sinks.

pub mod eve;
pub mod sink;
pub mod suppress;
pub mod syslog;

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
                },
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

impl AlertBuilder {
    /// IP protocol number.
    pub fn proto(mut self, p: u8) -> Self {
        self.alert.proto = eve::proto_name(p);
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
    /// The encapsulation the packet came in. (The worker adds it to alerts raised while a
    /// tunnelled packet or flow is handled, so detectors need not call this.)
    pub fn tunnel(mut self, t: Option<&TunnelInfo>) -> Self {
        if let Some(t) = t {
            self.alert.set_tunnel(t);
        }
        self
    }
    /// ICMP type and code.
    pub fn icmp(mut self, ty: u8, code: u8) -> Self {
        self.alert.icmp_type = Some(ty);
        self.alert.icmp_code = Some(code);
        self
    }
    /// The DNS query that fired.
    pub fn dns(mut self, id: u16, rrname: String, qtype: u16) -> Self {
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
    /// One figure of evidence.
    pub fn evidence(mut self, key: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
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
    /// The alert.
    pub fn finish(mut self) -> Alert {
        if self.alert.proto.is_empty() {
            self.alert.proto = "IP".into();
        }
        if self.alert.flow_id == 0 {
            self.alert.flow_id = crate::flow::key::stable_id(
                &[self.alert.src_ip, self.alert.dest_ip],
                self.alert.alert.signature_id,
            );
        }
        self.alert
    }
}
