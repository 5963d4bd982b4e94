//! EVE `flow` and `netflow` events (`--eve-types flow,netflow`), with Suricata's field names,
//! so a fleet can total egress per host across sensors in its own store.
//!
//! A worker records each ended flow as a small, fixed-size [`FlowRecord`] into a reused buffer
//! (no allocation once warm); the alert writer turns it into JSON, off the packet path.

use super::community_id::community_id_v1;
use super::eve::proto_name;
use crate::flow::{EndReason, Flow};
use crate::time::Timestamp;
use serde_json::{Value, json};
use std::net::IpAddr;

/// One ended flow, as the worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// EVE `flow_id`.
    pub id: u64,
    /// Initiator.
    pub src: IpAddr,
    /// Responder.
    pub dst: IpAddr,
    /// Initiator port (TCP/UDP), else 0.
    pub sport: u16,
    /// Responder port (TCP/UDP), else 0.
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// An ICMP flow keyed by an echo identifier.
    pub icmp_echo: bool,
    /// VLAN of the first packet.
    pub vlan: Option<u16>,
    /// First and last packet.
    pub first: Timestamp,
    /// Last packet.
    pub last: Timestamp,
    /// Packets to the responder, to the initiator.
    pub pkts: [u64; 2],
    /// IP bytes to the responder, to the initiator.
    pub bytes: [u64; 2],
    /// TCP flags seen each way.
    pub flags: [u8; 2],
    /// Application protocol.
    pub app: crate::decode::app::AppProto,
    /// Why it ended.
    pub reason: EndReason,
}

impl FlowRecord {
    /// The record of `f`, ended for `why`.
    pub fn of(f: &Flow, why: EndReason) -> FlowRecord {
        FlowRecord {
            id: f.id,
            src: f.orig_addr(),
            dst: f.resp_addr(),
            sport: f.orig_port(),
            dport: f.resp_port(),
            proto: f.key.proto,
            icmp_echo: matches!(f.key.proto, 1 | 58) && (f.key.a_port != 0 || f.key.b_port != 0),
            vlan: f.vlan,
            first: f.first,
            last: f.last,
            pkts: f.pkts,
            bytes: f.bytes,
            flags: f.flags,
            app: f.app,
            reason: why,
        }
    }

    fn ports(&self) -> Option<(u16, u16)> {
        match self.proto {
            6 | 17 | 132 => Some((self.sport, self.dport)),
            1 if self.icmp_echo => Some((8, 0)),
            58 if self.icmp_echo => Some((128, 0)),
            _ => None,
        }
    }

    fn header(
        &self,
        event_type: &str,
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
    ) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("timestamp".into(), json!(self.first.to_eve()));
        m.insert("flow_id".into(), json!(self.id));
        m.insert("event_type".into(), json!(event_type));
        if let Some(v) = self.vlan {
            m.insert("vlan".into(), json!([v]));
        }
        m.insert("src_ip".into(), json!(src.to_string()));
        if matches!(self.proto, 6 | 17 | 132) {
            m.insert("src_port".into(), json!(sport));
        }
        m.insert("dest_ip".into(), json!(dst.to_string()));
        if matches!(self.proto, 6 | 17 | 132) {
            m.insert("dest_port".into(), json!(dport));
        }
        m.insert("proto".into(), json!(proto_name(self.proto)));
        if !matches!(self.app, crate::decode::app::AppProto::Unknown | crate::decode::app::AppProto::Other) {
            m.insert("app_proto".into(), json!(self.app.name()));
        }
        let cid = community_id_v1(0, self.src, self.dst, self.proto, self.ports());
        if let Some(c) = cid {
            m.insert("community_id".into(), json!(c));
        }
        m
    }

    fn tcp(&self, flags: u8) -> Value {
        json!({
            "tcp_flags": format!("{flags:02x}"),
            "syn": flags & 0x02 != 0,
            "fin": flags & 0x01 != 0,
            "rst": flags & 0x04 != 0,
            "psh": flags & 0x08 != 0,
            "ack": flags & 0x10 != 0,
        })
    }

    /// Suricata's `reason` (`timeout`, `forced`, `shutdown`) and `state`.
    fn reason_state(&self) -> (&'static str, &'static str) {
        let reason = match self.reason {
            EndReason::Idle | EndReason::Closed => "timeout",
            EndReason::Evicted => "forced",
            EndReason::Shutdown => "shutdown",
        };
        let any = self.flags[0] | self.flags[1];
        let state = if self.proto == 6 && any & 0x05 != 0 {
            "closed"
        } else if self.pkts[1] > 0 {
            "established"
        } else {
            "new"
        };
        (reason, state)
    }

    /// The EVE `flow` event: both directions in one record.
    pub fn to_flow_event(self) -> Value {
        let mut m = self.header("flow", self.src, self.dst, self.sport, self.dport);
        let (reason, state) = self.reason_state();
        m.insert(
            "flow".into(),
            json!({
                "pkts_toserver": self.pkts[0],
                "pkts_toclient": self.pkts[1],
                "bytes_toserver": self.bytes[0],
                "bytes_toclient": self.bytes[1],
                "start": self.first.to_eve(),
                "end": self.last.to_eve(),
                "age": self.last.since(self.first).as_secs(),
                "state": state,
                "reason": reason,
            }),
        );
        if self.proto == 6 {
            let mut t = self.tcp(self.flags[0] | self.flags[1]);
            t["tcp_flags_ts"] = json!(format!("{:02x}", self.flags[0]));
            t["tcp_flags_tc"] = json!(format!("{:02x}", self.flags[1]));
            m.insert("tcp".into(), t);
        }
        Value::Object(m)
    }

    /// The EVE `netflow` events: one per direction that carried packets, each from its sender.
    pub fn to_netflow_events(self) -> Vec<Value> {
        let dirs = [
            (self.src, self.dst, self.sport, self.dport, 0usize),
            (self.dst, self.src, self.dport, self.sport, 1),
        ];
        dirs.iter()
            .filter(|d| self.pkts[d.4] > 0)
            .map(|&(s, d, sp, dp, i)| {
                let mut m = self.header("netflow", s, d, sp, dp);
                m.insert(
                    "netflow".into(),
                    json!({
                        "pkts": self.pkts[i],
                        "bytes": self.bytes[i],
                        "start": self.first.to_eve(),
                        "end": self.last.to_eve(),
                        "age": self.last.since(self.first).as_secs(),
                    }),
                );
                if self.proto == 6 {
                    m.insert("tcp".into(), self.tcp(self.flags[i]));
                }
                Value::Object(m)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> FlowRecord {
        FlowRecord {
            id: 7,
            src: "10.0.0.1".parse().unwrap(),
            dst: "192.0.2.9".parse().unwrap(),
            sport: 40000,
            dport: 443,
            proto: 6,
            icmp_echo: false,
            vlan: None,
            first: Timestamp(1_000_000_000),
            last: Timestamp(4_500_000_000),
            pkts: [10, 8],
            bytes: [5000, 900],
            flags: [0x1b, 0x1b],
            app: crate::decode::app::AppProto::Tls,
            reason: EndReason::Closed,
        }
    }

    #[test]
    fn flow_event_has_suricatas_fields() {
        let v = rec().to_flow_event();
        assert_eq!(v["event_type"], "flow");
        assert_eq!((v["src_port"].as_u64(), v["dest_port"].as_u64()), (Some(40000), Some(443)));
        assert_eq!(v["app_proto"], "tls");
        assert_eq!(v["flow"]["bytes_toserver"], 5000);
        assert_eq!(v["flow"]["age"], 3);
        assert_eq!(
            (v["flow"]["state"].as_str(), v["flow"]["reason"].as_str()),
            (Some("closed"), Some("timeout"))
        );
        assert_eq!(v["tcp"]["tcp_flags"], "1b");
        let want = community_id_v1(0, rec().dst, rec().src, 6, Some((443, 40000)));
        assert_eq!(v["community_id"].as_str(), want.as_deref());
    }

    #[test]
    fn netflow_is_one_record_per_direction_from_its_sender() {
        let v = rec().to_netflow_events();
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0]["src_ip"].as_str(), v[0]["netflow"]["bytes"].as_u64()),
            (Some("10.0.0.1"), Some(5000))
        );
        assert_eq!(
            (v[1]["src_ip"].as_str(), v[1]["netflow"]["bytes"].as_u64()),
            (Some("192.0.2.9"), Some(900))
        );
        assert_eq!(v[0]["community_id"], v[1]["community_id"]);
        let mut one_way = rec();
        one_way.pkts[1] = 0;
        assert_eq!(one_way.to_netflow_events().len(), 1);
    }
}
