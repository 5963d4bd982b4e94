//! Encapsulations a mirror delivers: GRE (with key and sequence), ERSPAN type I/II/III,
//! transparent Ethernet bridging, VXLAN and IP-in-IP.
//!
//! Each parser takes the encapsulation's bytes and returns the inner frame or packet; the
//! caller ([`super::packet`]) recurses up to `general.max_tunnel_depth`.

use serde::Serialize;
use std::net::IpAddr;

/// GRE protocol type of transparent Ethernet bridging.
const GRE_TEB: u16 = 0x6558;
/// GRE protocol type of ERSPAN type I and II.
const GRE_ERSPAN_II: u16 = 0x88BE;
/// GRE protocol type of ERSPAN type III.
const GRE_ERSPAN_III: u16 = 0x22EB;

/// The kind of encapsulation removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TunnelProto {
    /// Plain GRE carrying IP.
    #[serde(rename = "GRE")]
    Gre,
    /// GRE transparent Ethernet bridging (ESXi L3 mirror without ERSPAN header).
    #[serde(rename = "GRE-TEB")]
    GreTeb,
    /// ERSPAN type I (no ERSPAN header).
    #[serde(rename = "ERSPAN-I")]
    ErspanI,
    /// ERSPAN type II.
    #[serde(rename = "ERSPAN-II")]
    ErspanII,
    /// ERSPAN type III.
    #[serde(rename = "ERSPAN-III")]
    ErspanIII,
    /// VXLAN.
    #[serde(rename = "VXLAN")]
    Vxlan,
    /// IPv4/IPv6 in IP.
    #[serde(rename = "IPIP")]
    IpInIp,
}

/// Identifiers carried by the encapsulation header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TunnelIds {
    /// ERSPAN session id (which mirror session delivered the frame).
    pub erspan_session: Option<u16>,
    /// VLAN recorded in the ERSPAN header.
    pub erspan_vlan: Option<u16>,
    /// VXLAN network identifier.
    pub vni: Option<u32>,
    /// GRE key.
    pub gre_key: Option<u32>,
}

/// What an encapsulation carries.
#[derive(Debug, Clone, Copy)]
pub enum Inner<'a> {
    /// An Ethernet frame.
    Ether(&'a [u8], TunnelProto, TunnelIds),
    /// An IP packet.
    Ip(&'a [u8], TunnelProto, Option<TunnelIds>),
}

impl Inner<'_> {
    /// The encapsulation kind and its identifiers.
    pub fn proto_and_info(&self) -> (TunnelProto, TunnelIds) {
        match *self {
            Inner::Ether(_, p, ids) => (p, ids),
            Inner::Ip(_, p, ids) => (p, ids.unwrap_or_default()),
        }
    }
}

/// The encapsulation around an analysed packet: outermost addresses, innermost kind, depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Outermost source address (the mirror's sender).
    pub outer_src: IpAddr,
    /// Outermost destination address (the sensor or collector).
    pub outer_dst: IpAddr,
    /// IP protocol of the outermost encapsulation (47 GRE, 17 UDP/VXLAN, 4/41 IP-in-IP).
    pub outer_proto: u8,
    /// Layers removed.
    pub depth: u8,
    /// Innermost encapsulation kind.
    pub proto: TunnelProto,
    /// Identifiers from the headers (the last layer that carried each).
    pub ids: TunnelIds,
}

impl TunnelInfo {
    /// A tunnel seen first at `outer_src → outer_dst`.
    pub fn new(outer_src: IpAddr, outer_dst: IpAddr, outer_proto: u8, depth: u8) -> TunnelInfo {
        TunnelInfo {
            outer_src,
            outer_dst,
            outer_proto,
            depth,
            proto: TunnelProto::Gre,
            ids: TunnelIds::default(),
        }
    }

    /// Records the innermost kind and merges its identifiers.
    pub fn with_inner(mut self, proto: TunnelProto, ids: TunnelIds) -> TunnelInfo {
        self.proto = proto;
        self.ids.erspan_session = ids.erspan_session.or(self.ids.erspan_session);
        self.ids.erspan_vlan = ids.erspan_vlan.or(self.ids.erspan_vlan);
        self.ids.vni = ids.vni.or(self.ids.vni);
        self.ids.gre_key = ids.gre_key.or(self.ids.gre_key);
        self
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// An encapsulation header that is cut short or carries something siphon does not follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Parses a GRE header (RFC 2784/2890) and what it carries. `Err` when it is cut or unknown.
pub fn gre(b: &[u8]) -> Result<Inner<'_>, Malformed> {
    let flags = *b.first().ok_or(Malformed)?;
    let version = b.get(1).ok_or(Malformed)? & 0x07;
    if version != 0 {
        return Err(Malformed); // enhanced GRE (PPTP) carries PPP, not a mirror
    }
    let proto = be16(b, 2).ok_or(Malformed)?;
    let mut off = 4;
    if flags & 0x80 != 0 {
        off += 4; // checksum + reserved
    }
    let mut ids = TunnelIds::default();
    if flags & 0x20 != 0 {
        ids.gre_key = Some(be32(b, off).ok_or(Malformed)?);
        off += 4;
    }
    let has_seq = flags & 0x10 != 0;
    if has_seq {
        off += 4;
    }
    let rest = b.get(off..).ok_or(Malformed)?;
    match proto {
        0x0800 | 0x86DD => Ok(Inner::Ip(rest, TunnelProto::Gre, Some(ids))),
        GRE_TEB => Ok(Inner::Ether(rest, TunnelProto::GreTeb, ids)),
        GRE_ERSPAN_II if !has_seq => Ok(Inner::Ether(rest, TunnelProto::ErspanI, ids)),
        GRE_ERSPAN_II => {
            // ver(4) vlan(12) | cos(3) en(2) t(1) session(10) | reserved(12) index(20)
            let h = rest.get(..8).ok_or(Malformed)?;
            ids.erspan_vlan = Some(u16::from_be_bytes([h[0] & 0x0f, h[1]]));
            ids.erspan_session = Some(u16::from_be_bytes([h[2] & 0x03, h[3]]));
            Ok(Inner::Ether(&rest[8..], TunnelProto::ErspanII, ids))
        }
        GRE_ERSPAN_III => {
            // ver(4) vlan(12) | cos bso t session(10) | timestamp(32) | sgt(16) | p ft hw d gra o(16)
            let h = rest.get(..12).ok_or(Malformed)?;
            ids.erspan_vlan = Some(u16::from_be_bytes([h[0] & 0x0f, h[1]]));
            ids.erspan_session = Some(u16::from_be_bytes([h[2] & 0x03, h[3]]));
            let optional = h[11] & 0x01 != 0;
            let start = if optional { 20 } else { 12 };
            Ok(Inner::Ether(rest.get(start..).ok_or(Malformed)?, TunnelProto::ErspanIII, ids))
        }
        _ => Err(Malformed),
    }
}

/// Parses a VXLAN header (RFC 7348) and returns the inner Ethernet frame.
pub fn vxlan(b: &[u8]) -> Result<Inner<'_>, Malformed> {
    let h = b.get(..8).ok_or(Malformed)?;
    if h[0] & 0x08 == 0 {
        return Err(Malformed); // the I flag says the VNI is valid; without it this is not VXLAN
    }
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    Ok(Inner::Ether(&b[8..], TunnelProto::Vxlan, TunnelIds { vni: Some(vni), ..TunnelIds::default() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erspan_ii_session_and_vlan() {
        // GRE with S flag, proto 0x88BE, seq; ERSPAN II ver=1 vlan=10 session=0x123
        let mut b = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1];
        b.extend_from_slice(&[0x10, 0x0a, 0x01, 0x23, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xaa; 14]);
        match gre(&b).unwrap() {
            Inner::Ether(inner, TunnelProto::ErspanII, ids) => {
                assert_eq!(inner.len(), 14);
                assert_eq!(ids.erspan_session, Some(0x123));
                assert_eq!(ids.erspan_vlan, Some(10));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cut_headers_are_errors_not_panics() {
        let b = [0x30u8, 0x00, 0x22, 0xEB, 0, 0, 0, 1, 0, 0, 0, 2, 0x20, 0, 0, 5];
        for n in 0..b.len() {
            let _ = gre(&b[..n]);
            let _ = vxlan(&b[..n]);
        }
        assert!(gre(&b).is_err());
    }

    #[test]
    fn vxlan_needs_the_i_flag() {
        let mut b = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        b.extend_from_slice(&[0u8; 14]);
        assert!(matches!(
            vxlan(&b),
            Ok(Inner::Ether(_, TunnelProto::Vxlan, TunnelIds { vni: Some(42), .. }))
        ));
        b[0] = 0;
        assert!(vxlan(&b).is_err());
    }
}
