//! ICMP and ICMPv6 echo: the fields the ICMP tunnel detector needs.

use super::packet::{Decoded, L4};

/// An echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpEcho<'a> {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// A request (type 8 / 128) rather than a reply (0 / 129).
    pub is_request: bool,
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
    /// Payload as captured.
    pub payload: &'a [u8],
    /// Payload length on the wire.
    pub wire_len: u32,
}

/// The echo in `d`, if it is an ICMP/ICMPv6 echo request or reply.
pub fn echo<'a>(d: &Decoded<'a>) -> Option<IcmpEcho<'a>> {
    let L4::Icmp(i) = d.l4 else { return None };
    let is_request = match (i.v6, i.icmp_type) {
        (false, 8) | (true, 128) => true,
        (false, 0) | (true, 129) => false,
        _ => return None,
    };
    Some(IcmpEcho {
        v6: i.v6,
        is_request,
        id: u16::from_be_bytes([i.rest[0], i.rest[1]]),
        seq: u16::from_be_bytes([i.rest[2], i.rest[3]]),
        payload: d.payload,
        wire_len: d.payload_wire_len,
    })
}
