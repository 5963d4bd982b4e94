//! From the parser's decoded records to siphon's fixed-size [`FlowRecord`]: the handful of
//! fields the detectors need, by their IANA / NetFlow v9 numbers. Every other field (vendor and
//! enterprise fields included) is skipped; a record without addresses is no flow.

use super::FlowRecord;
use crate::time::Timestamp;
use netflow_parser::variable_versions::field_value::{DataNumber, FieldValue};
use netflow_parser::variable_versions::ipfix::lookup::{IANAIPFixField, IPFixField};
use netflow_parser::variable_versions::v9::lookup::V9Field;
use std::net::IpAddr;

/// The big-endian number `b` spells (its first 8 bytes): how the fast path reads a numeric
/// field, and how raw bytes read here.
fn be_number(b: &[u8]) -> u64 {
    b.iter().take(8).fold(0u64, |a, &x| a << 8 | u64::from(x))
}

/// An unsigned number from any numeric field value (big-endian bytes fold too).
pub(crate) fn num(v: &FieldValue) -> Option<u64> {
    Some(match v {
        // A typed field of an unexpected length (a 2-byte protocol, a 3-byte flags field) comes
        // as raw bytes: read as the big-endian number they spell, as the fast path reads them
        // (`fast::readable`; the `netflow_exports` fuzz target found the two apart).
        FieldValue::Vec(b) => be_number(b),
        FieldValue::DataNumber(d) => match d {
            DataNumber::U8(x) => u64::from(*x),
            DataNumber::U16(x) => u64::from(*x),
            DataNumber::U24(x) | DataNumber::U32(x) => u64::from(*x),
            DataNumber::U64(x) => *x,
            DataNumber::U128(x) => u64::try_from(*x).unwrap_or(u64::MAX),
            DataNumber::I8(x) => u64::try_from(*x).ok()?,
            DataNumber::I16(x) => u64::try_from(*x).ok()?,
            DataNumber::I24(x) | DataNumber::I32(x) => u64::try_from(*x).ok()?,
            DataNumber::I64(x) => u64::try_from(*x).ok()?,
            DataNumber::I128(x) => u64::try_from(*x).ok()?,
            DataNumber::Vec(b) => be_number(b),
        },
        FieldValue::Duration(d) => u64::try_from(d.as_duration().as_millis()).unwrap_or(u64::MAX),
        FieldValue::ProtocolType(p) => u64::from(u8::from(*p)),
        FieldValue::TcpControlBits(b, _) => u64::from(u16::from(*b)),
        _ => return None,
    })
}

fn addr(v: &FieldValue) -> Option<IpAddr> {
    match v {
        FieldValue::Ip4Addr(a) => Some(IpAddr::V4(*a)),
        FieldValue::Ip6Addr(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// A sampling rate from a counter, capped to `u32`.
pub(crate) fn clamp_rate(n: u64) -> u32 {
    n.min(u64::from(u32::MAX)) as u32
}

/// PSAMP systematic count-based sampling (RFC 5476/5477): `interval` packets selected, then
/// `space` packets skipped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Psamp {
    pub interval: Option<u64>,
    pub space: Option<u64>,
}

impl Psamp {
    /// The sampling rate, 1 in `(interval + space) / interval` (rounded); the interval alone
    /// when no space was given.
    pub(crate) fn rate(&self) -> Option<u32> {
        let interval = self.interval.filter(|&i| i >= 1)?;
        let space = self.space.unwrap_or(0);
        let total = interval.saturating_add(space);
        Some(clamp_rate(total.saturating_add(interval / 2) / interval).max(1))
    }
}

/// The fields of one record, by meaning, before times are made absolute.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Raw {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub flags: u8,
    pub pkts: u64,
    pub bytes: u64,
    /// ICMP type and code (type × 256 + code), when the exporter gives them apart from ports.
    pub icmp: Option<u16>,
    /// Start and end as milliseconds since the Unix epoch.
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Start and end as sysUptime milliseconds (v9 FIRST/LAST_SWITCHED, IPFIX 22/21).
    pub start_up: Option<u32>,
    pub end_up: Option<u32>,
    /// Sampling interval carried in the record itself.
    pub sampling: Option<u32>,
    /// PSAMP interval and space carried in the record itself.
    pub psamp: Psamp,
    /// IPFIX systemInitTimeMilliseconds: the epoch of the uptime offsets.
    pub init_ms: Option<u64>,
}

impl Raw {
    /// Applies one field by its IANA element number (v9 numbers are the same for these).
    pub(super) fn set(&mut self, id: u16, v: &FieldValue) {
        match id {
            8 | 27 => self.src = self.src.or(addr(v)),
            12 | 28 => self.dst = self.dst.or(addr(v)),
            _ => self.set_num(id, num(v)),
        }
    }

    /// Applies one field from its bytes in a record (the fast path: big-endian numbers,
    /// addresses of 4 or 16 bytes).
    pub(super) fn set_bytes(&mut self, id: u16, b: &[u8]) {
        let ip = || -> Option<IpAddr> {
            match b.len() {
                4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
                _ => None,
            }
        };
        match id {
            8 | 27 => self.src = self.src.or(ip()),
            12 | 28 => self.dst = self.dst.or(ip()),
            _ => self.set_num(id, Some(be_number(b))),
        }
    }

    /// Applies one numeric field.
    fn set_num(&mut self, id: u16, v: Option<u64>) {
        let n = || v;
        match id {
            1 => self.bytes = n().unwrap_or(0),
            2 => self.pkts = n().unwrap_or(0),
            4 => self.proto = n().unwrap_or(0) as u8,
            6 => self.flags = n().unwrap_or(0) as u8,
            7 => self.sport = n().unwrap_or(0) as u16,
            11 => self.dport = n().unwrap_or(0) as u16,
            21 => self.end_up = n().map(|x| x as u32),
            22 => self.start_up = n().map(|x| x as u32),
            32 | 139 => self.icmp = n().map(|x| x as u16),
            34 | 50 => self.sampling = n().map(clamp_rate),
            305 => self.psamp.interval = n(),
            306 => self.psamp.space = n(),
            150 => self.start_ms = n().map(|s| s.saturating_mul(1000)),
            151 => self.end_ms = n().map(|s| s.saturating_mul(1000)),
            152 => self.start_ms = n(),
            153 => self.end_ms = n(),
            160 => self.init_ms = n(),
            _ => {}
        }
    }

    /// The flow record, with times made absolute: uptime offsets are read as signed 32-bit
    /// differences from the header's uptime (they wrap every 49.7 days, and an exporter reading
    /// old traffic gives offsets before its boot), `export_ms` when the record has no time.
    pub(super) fn finish(
        &self,
        export_ms: u64,
        uptime: Option<u32>,
        base: &FlowRecord,
    ) -> Option<FlowRecord> {
        let (src, dst) = (self.src?, self.dst?);
        let at = |abs: Option<u64>, up: Option<u32>| -> u64 {
            match (abs, up, uptime) {
                (Some(ms), _, _) => ms,
                (None, Some(t), _) if self.init_ms.is_some() => {
                    self.init_ms.unwrap_or(0).saturating_add(u64::from(t))
                }
                (None, Some(t), Some(now)) => {
                    let delta = i64::from(t.wrapping_sub(now) as i32);
                    export_ms.saturating_add_signed(delta)
                }
                _ => export_ms,
            }
        };
        let start = at(self.start_ms, self.start_up);
        let end = at(self.end_ms, self.end_up).max(start);
        let (sport, dport) = match (self.proto, self.icmp) {
            // ICMP: no ports; the type and code ride in the destination port (Cisco) or their
            // own element. Echo request and reply share one flow (ports 0), as echo sessions do.
            (1 | 58, _) => (0, 0),
            _ => (self.sport, self.dport),
        };
        let icmp_type = match (self.proto, self.icmp) {
            (1 | 58, Some(tc)) => (tc >> 8) as u8,
            (1 | 58, None) => (self.dport >> 8) as u8,
            _ => 0,
        };
        Some(FlowRecord {
            src,
            dst,
            sport,
            dport,
            proto: self.proto,
            flags: self.flags,
            icmp_type,
            pkts: self.pkts,
            bytes: self.bytes,
            start: Timestamp(start.saturating_mul(1_000_000)),
            end: Timestamp(end.saturating_mul(1_000_000)),
            sampling: self.psamp.rate().or(self.sampling).unwrap_or(base.sampling).max(1),
            ..*base
        })
    }
}

/// The element number of a v9 field.
pub(crate) fn v9_id(f: V9Field) -> u16 {
    u16::from(f)
}

/// The IANA element number of an IPFIX field this module reads (enterprise and reverse
/// elements, which carry no number siphon reads, are 0 and skipped).
pub(crate) fn ipfix_id(f: &IPFixField) -> u16 {
    let IPFixField::IANA(f) = f else { return 0 };
    match f {
        IANAIPFixField::OctetDeltaCount => 1,
        IANAIPFixField::PacketDeltaCount => 2,
        IANAIPFixField::ProtocolIdentifier => 4,
        IANAIPFixField::TcpControlBits => 6,
        IANAIPFixField::SourceTransportPort => 7,
        IANAIPFixField::SourceIpv4address => 8,
        IANAIPFixField::DestinationTransportPort => 11,
        IANAIPFixField::DestinationIpv4address => 12,
        IANAIPFixField::FlowEndSysUpTime => 21,
        IANAIPFixField::FlowStartSysUpTime => 22,
        IANAIPFixField::SourceIpv6address => 27,
        IANAIPFixField::DestinationIpv6address => 28,
        IANAIPFixField::IcmpTypeCodeIpv4 => 32,
        IANAIPFixField::SamplingInterval => 34,
        IANAIPFixField::SamplerRandomInterval => 50,
        IANAIPFixField::IcmpTypeCodeIpv6 => 139,
        IANAIPFixField::FlowStartSeconds => 150,
        IANAIPFixField::FlowEndSeconds => 151,
        IANAIPFixField::FlowStartMilliseconds => 152,
        IANAIPFixField::FlowEndMilliseconds => 153,
        IANAIPFixField::SystemInitTimeMilliseconds => 160,
        IANAIPFixField::SamplingPacketInterval => 305,
        IANAIPFixField::SamplingPacketSpace => 306,
        _ => 0,
    }
}
