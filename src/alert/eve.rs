//! The alert as Suricata's EVE JSON: the fields EVE defines keep EVE's names, types and
//! meaning; siphon's own evidence sits in one extra object, `siphon`.

use crate::decode::tunnel::TunnelInfo;
use crate::time::Timestamp;
use serde::Serialize;
use std::net::IpAddr;

/// EVE `alert` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveAlert {
    /// Always `allowed`: siphon is passive.
    pub action: &'static str,
    /// Generator id; siphon uses 1 like Suricata's rule alerts.
    pub gid: u32,
    /// Stable signature id per detector signature (see the README's table).
    pub signature_id: u32,
    /// Signature revision.
    pub rev: u32,
    /// Human-readable signature.
    pub signature: String,
    /// Classification, in Suricata's classification.config wording.
    pub category: &'static str,
    /// 1 (high) to 3 (low), as Suricata.
    pub severity: u8,
}

/// EVE `dns` object (version 3 style) for alerts about a DNS query.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveDns {
    /// EVE DNS format version.
    pub version: u32,
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Transaction id.
    pub id: u16,
    /// The query (one).
    pub queries: Vec<EveDnsQuery>,
}

/// One EVE DNS query.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveDnsQuery {
    /// Query name (non-printable bytes escaped as `\xNN`).
    pub rrname: String,
    /// Query type mnemonic.
    pub rrtype: String,
}

/// EVE `tls` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveTls {
    /// Server name from the ClientHello.
    pub sni: String,
}

/// EVE `http` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveHttp {
    /// Host header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Request target.
    pub url: String,
    /// Method.
    pub http_method: String,
    /// Request body length (Content-Length).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// EVE `flow` object: the flow's counters when the alert fired.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveFlow {
    /// Packets from the initiator.
    pub pkts_toserver: u64,
    /// Packets to the initiator.
    pub pkts_toclient: u64,
    /// IP bytes from the initiator.
    pub bytes_toserver: u64,
    /// IP bytes to the initiator.
    pub bytes_toclient: u64,
    /// First packet, EVE timestamp.
    pub start: String,
    /// Seconds since the first packet.
    pub age: u64,
}

/// EVE `tunnel` object: the encapsulation the analysed packet arrived in.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EveTunnel {
    /// Outer source.
    pub src_ip: String,
    /// Outer source port (VXLAN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Outer destination.
    pub dest_ip: String,
    /// Outer destination port (VXLAN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    /// Encapsulation (`GRE`, `ERSPAN-II`, `ERSPAN-III`, `VXLAN`, `IPIP`, `GRE-TEB`).
    pub proto: String,
    /// Layers removed.
    pub depth: u32,
}

impl From<&TunnelInfo> for EveTunnel {
    fn from(t: &TunnelInfo) -> Self {
        let proto = serde_json::to_value(t.proto)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        EveTunnel {
            src_ip: t.outer_src.to_string(),
            src_port: t.outer_ports.map(|p| p.0),
            dest_ip: t.outer_dst.to_string(),
            dest_port: t.outer_ports.map(|p| p.1),
            proto,
            depth: u32::from(t.depth),
        }
    }
}

/// siphon's own evidence.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SiphonEvidence {
    /// Stable detector name (`dns_tunnel`, `icmp_tunnel`, `scan`, `proxyware`, `egress_volume`,
    /// `long_session`, `alt_protocol`).
    pub detector: &'static str,
    /// Score that crossed the threshold (detector-specific scale; the threshold is in evidence).
    pub score: f64,
    /// MITRE ATT&CK technique ids.
    pub mitre: Vec<&'static str>,
    /// The figures and the thresholds that fired.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// Set when this alert re-fires inside an episode because its figure grew.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// What the alert was judged on when not packets: `"netflow"` for flow records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// The exporter whose flow records raised it (flow-record input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporter: Option<String>,
    /// The exporter's observation domain (IPFIX) or source id (v9); 0 for v5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_domain: Option<u32>,
}

/// Why an alert of an already-reported episode was written again.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Escalation {
    /// The episode's figure (queries, bytes, probes...) when it was last reported.
    pub previous: f64,
    /// The figure now.
    pub current: f64,
    /// The growth that re-alerts (`alerts.escalation_factor`).
    pub factor: f64,
    /// Which report of the episode this is (2 for the first escalation).
    pub report: u32,
}

/// One alert, serialized as one EVE JSON line.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// Capture time of the packet that triggered it, EVE form.
    pub timestamp: String,
    /// Flow id (stable hash of the flow's 5-tuple and start).
    pub flow_id: u64,
    /// Always `alert`.
    pub event_type: &'static str,
    /// VLAN of the frame, if tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vec<u16>>,
    /// The host the alert is about: tunnel client, scanner, uploader.
    pub src_ip: IpAddr,
    /// Its port, when the alert is about one connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// The other side.
    pub dest_ip: IpAddr,
    /// Its port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    /// `TCP`, `UDP`, `ICMP`, `IPv6-ICMP` or the protocol number.
    pub proto: String,
    /// ICMP type, for ICMP alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    /// ICMP code, for ICMP alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// The Community ID (v1, seed 0) of the flow the alert is about, as Suricata and Zeek
    /// write it: the same string in their logs names the same flow. Absent when the alert is
    /// not about one flow (an aggregate over many, with no protocol or ports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<String>,
    /// The EVE alert object.
    pub alert: EveAlert,
    /// DNS query that fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<EveDns>,
    /// TLS ClientHello that fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<EveTls>,
    /// HTTP request that fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<EveHttp>,
    /// The flow's counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<EveFlow>,
    /// The encapsulation the packet arrived in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<EveTunnel>,
    /// Country and network of the alert's external side, when a GeoIP database is loaded
    /// (Logstash `geoip` names; see docs/geoip.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geoip: Option<crate::enrich::EveGeoip>,
    /// siphon's evidence.
    pub siphon: SiphonEvidence,
    /// IP protocol number, when known (for the Community ID; not serialized).
    #[serde(skip)]
    pub proto_num: Option<u8>,
    /// Packet time (for suppression and ordering; not serialized).
    #[serde(skip)]
    pub ts: Timestamp,
    /// Episode key: alerts with the same detector, signature and key are one episode.
    #[serde(skip)]
    pub episode: String,
    /// The figure whose growth re-alerts inside an episode (queries, bytes, probes...).
    #[serde(skip)]
    pub magnitude: f64,
}

/// EVE's name for an IP protocol.
pub(crate) fn proto_name(p: u8) -> String {
    match p {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "IPv6-ICMP".into(),
        47 => "GRE".into(),
        n => n.to_string(),
    }
}

/// Mnemonic of a DNS type, as EVE writes `rrtype`.
pub(crate) fn rrtype_name(t: u16) -> String {
    domain::base::iana::Rtype::from_int(t).to_string()
}
