//! Encapsulations a mirror delivers: GRE (with checksum, key and sequence), ERSPAN type I/II/III,
//! transparent Ethernet bridging, VXLAN and IP-in-IP.
//!
//! Each parser takes the encapsulation's bytes and returns the inner frame or packet; the
//! caller ([`super::packet`]) recurses up to `general.max_tunnel_depth`. A header that is cut
//! or impossible is [`TunnelError::Malformed`]; a valid header carrying something siphon does
//! not follow (PPTP's PPP, MPLS, routing) is [`TunnelError::Unsupported`]: the two are counted
//! apart, because the first is a signal and the second is a configuration fact.
//!
//! Header layouts: RFC 2784/2890 (GRE), draft-foschiano-erspan-03 (ERSPAN), RFC 7348 (VXLAN),
//! RFC 2003/4213 (IP-in-IP).

use serde::Serialize;
use std::net::IpAddr;

/// GRE protocol type of transparent Ethernet bridging.
const GRE_TEB: u16 = 0x6558;
/// GRE protocol type of ERSPAN type I and II.
const GRE_ERSPAN_II: u16 = 0x88BE;
/// GRE protocol type of ERSPAN type III.
const GRE_ERSPAN_III: u16 = 0x22EB;
/// GRE flag bits (first byte).
const GRE_C: u8 = 0x80;
const GRE_R: u8 = 0x40;
const GRE_K: u8 = 0x20;
const GRE_S: u8 = 0x10;
/// ERSPAN II `En` value meaning "the VLAN tag is preserved in the frame" (the header's VLAN
/// field is then undefined).
const ERSPAN_EN_TAG_IN_FRAME: u8 = 0b11;
/// ERSPAN III frame types (`FT`).
const ERSPAN_FT_ETHERNET: u8 = 0;
const ERSPAN_FT_IP: u8 = 2;

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
    /// Original VLAN of the frame, from the ERSPAN header (only when the header defines it and
    /// it is not 0).
    pub erspan_vlan: Option<u16>,
    /// VXLAN network identifier.
    pub vni: Option<u32>,
    /// GRE key.
    pub gre_key: Option<u32>,
}

/// What an encapsulation carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inner<'a> {
    /// An Ethernet frame.
    Ether(&'a [u8], TunnelProto, TunnelIds),
    /// An IP packet.
    Ip(&'a [u8], TunnelProto, TunnelIds),
}

impl Inner<'_> {
    /// The encapsulation kind and its identifiers.
    pub(crate) fn proto_and_info(&self) -> (TunnelProto, TunnelIds) {
        match *self {
            Inner::Ether(_, p, ids) | Inner::Ip(_, p, ids) => (p, ids),
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
    /// Outermost UDP source and destination ports (VXLAN).
    pub outer_ports: Option<(u16, u16)>,
    /// Layers removed.
    pub depth: u8,
    /// Innermost encapsulation kind.
    pub proto: TunnelProto,
    /// Identifiers from the headers (the innermost layer that carried each).
    pub ids: TunnelIds,
}

impl TunnelInfo {
    /// A tunnel seen first at `outer_src → outer_dst`.
    pub fn new(outer_src: IpAddr, outer_dst: IpAddr, outer_proto: u8, depth: u8) -> TunnelInfo {
        TunnelInfo {
            outer_src,
            outer_dst,
            outer_proto,
            outer_ports: None,
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

    /// Both outer addresses, lower first: the mirror pair, whichever way a packet goes.
    pub fn pair(&self) -> (IpAddr, IpAddr) {
        (self.outer_src.min(self.outer_dst), self.outer_src.max(self.outer_dst))
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// Why an encapsulation was not looked through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TunnelError {
    /// The header is cut short or holds impossible values (a GRE version that does not exist,
    /// an ERSPAN version that does not match its GRE type, VXLAN without the I flag).
    Malformed,
    /// A valid header carrying something siphon does not follow: enhanced GRE (PPTP), GRE
    /// source routing, a GRE protocol type other than IP, TEB or ERSPAN, an ERSPAN III frame
    /// type other than Ethernet or IP.
    Unsupported,
    /// A GRE header with protocol type 0 and nothing after it: the reply half of a GRE
    /// keepalive, not a malformation.
    Keepalive,
}

/// Parses a GRE header (RFC 2784/2890, the checksum/key/sequence options of RFC 1701) and
/// what it carries.
pub(crate) fn gre(b: &[u8]) -> Result<Inner<'_>, TunnelError> {
    let flags = *b.first().ok_or(TunnelError::Malformed)?;
    let version = b.get(1).ok_or(TunnelError::Malformed)? & 0x07;
    let proto = be16(b, 2).ok_or(TunnelError::Malformed)?;
    match version {
        0 => {}
        1 => return Err(TunnelError::Unsupported), // enhanced GRE (PPTP) carries PPP
        _ => return Err(TunnelError::Malformed),
    }
    let mut off = 4;
    if flags & (GRE_C | GRE_R) != 0 {
        off += 4; // checksum + offset (present if either C or R is set)
    }
    let mut ids = TunnelIds::default();
    if flags & GRE_K != 0 {
        ids.gre_key = Some(be32(b, off).ok_or(TunnelError::Malformed)?);
        off += 4;
    }
    let has_seq = flags & GRE_S != 0;
    if has_seq {
        be32(b, off).ok_or(TunnelError::Malformed)?;
        off += 4;
    }
    if flags & GRE_R != 0 {
        return Err(TunnelError::Unsupported); // RFC 1701 source routing, obsolete
    }
    let rest = b.get(off..).ok_or(TunnelError::Malformed)?;
    match proto {
        0x0800 | 0x86DD => Ok(Inner::Ip(rest, TunnelProto::Gre, ids)),
        GRE_TEB => Ok(Inner::Ether(rest, TunnelProto::GreTeb, ids)),
        GRE_ERSPAN_II if !has_seq => Ok(Inner::Ether(rest, TunnelProto::ErspanI, ids)),
        GRE_ERSPAN_II => erspan_ii(rest, ids),
        GRE_ERSPAN_III => erspan_iii(rest, ids),
        0 if rest.is_empty() => Err(TunnelError::Keepalive),
        _ => Err(TunnelError::Unsupported),
    }
}

/// ERSPAN type II: `ver(4) vlan(12) | cos(3) en(2) t(1) session(10) | reserved(12) index(20)`.
/// Version 1 is what switches and ESXi send; 0 (scapy's default) is accepted too.
fn erspan_ii(b: &[u8], mut ids: TunnelIds) -> Result<Inner<'_>, TunnelError> {
    let h = b.get(..8).ok_or(TunnelError::Malformed)?;
    if h[0] >> 4 > 1 {
        return Err(TunnelError::Malformed);
    }
    let vlan = u16::from_be_bytes([h[0] & 0x0f, h[1]]);
    let en = (h[2] >> 3) & 0x03;
    if vlan != 0 && en != ERSPAN_EN_TAG_IN_FRAME {
        ids.erspan_vlan = Some(vlan);
    }
    ids.erspan_session = Some(u16::from_be_bytes([h[2] & 0x03, h[3]]));
    Ok(Inner::Ether(&b[8..], TunnelProto::ErspanII, ids))
}

/// ERSPAN type III: `ver(4) vlan(12) | cos(3) bso(2) t(1) session(10) | timestamp(32) |
/// sgt(16) | p(1) ft(5) hw(6) d(1) gra(2) o(1)`, then 8 platform-specific bytes if `o`.
/// Version 2 is what switches and ESXi send; 0 is accepted too.
fn erspan_iii(b: &[u8], mut ids: TunnelIds) -> Result<Inner<'_>, TunnelError> {
    let h = b.get(..12).ok_or(TunnelError::Malformed)?;
    if !matches!(h[0] >> 4, 0 | 2) {
        return Err(TunnelError::Malformed);
    }
    let vlan = u16::from_be_bytes([h[0] & 0x0f, h[1]]);
    if vlan != 0 {
        ids.erspan_vlan = Some(vlan);
    }
    ids.erspan_session = Some(u16::from_be_bytes([h[2] & 0x03, h[3]]));
    let ft = (h[10] >> 2) & 0x1f;
    let optional = h[11] & 0x01 != 0;
    let start = if optional { 20 } else { 12 };
    let rest = b.get(start..).ok_or(TunnelError::Malformed)?;
    match ft {
        ERSPAN_FT_ETHERNET => Ok(Inner::Ether(rest, TunnelProto::ErspanIII, ids)),
        ERSPAN_FT_IP => Ok(Inner::Ip(rest, TunnelProto::ErspanIII, ids)),
        _ => Err(TunnelError::Unsupported),
    }
}

/// Parses a VXLAN header (RFC 7348) and returns the inner Ethernet frame.
pub(crate) fn vxlan(b: &[u8]) -> Result<Inner<'_>, TunnelError> {
    let h = b.get(..8).ok_or(TunnelError::Malformed)?;
    if h[0] & 0x08 == 0 {
        return Err(TunnelError::Malformed); // the I flag says the VNI is valid; without it this is not VXLAN
    }
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    Ok(Inner::Ether(&b[8..], TunnelProto::Vxlan, TunnelIds { vni: Some(vni), ..TunnelIds::default() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erspan_ii_session_and_vlan() {
        // GRE with S flag, proto 0x88BE, seq; ERSPAN II ver=1 vlan=10 en=2 session=0x123
        let mut b = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1];
        b.extend_from_slice(&[0x10, 0x0a, 0x11, 0x23, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xaa; 14]);
        match gre(&b).unwrap() {
            Inner::Ether(inner, TunnelProto::ErspanII, ids) => {
                assert_eq!(inner.len(), 14);
                assert_eq!(ids.erspan_session, Some(0x123));
                assert_eq!(ids.erspan_vlan, Some(10));
            }
            other => panic!("{other:?}"),
        }
        // scapy's default version 0 is accepted; en=3 (tag kept in the frame) drops the VLAN.
        b[8] = 0x00;
        b[10] = 0x19;
        match gre(&b).unwrap() {
            Inner::Ether(_, TunnelProto::ErspanII, ids) => assert_eq!(ids.erspan_vlan, None),
            other => panic!("{other:?}"),
        }
        b[8] = 0x70; // version 7 does not exist
        assert_eq!(gre(&b).unwrap_err(), TunnelError::Malformed);
    }

    #[test]
    fn erspan_i_has_no_header() {
        let mut b = vec![0x00, 0x00, 0x88, 0xBE];
        b.extend_from_slice(&[0xaa; 14]);
        assert!(matches!(gre(&b), Ok(Inner::Ether(f, TunnelProto::ErspanI, _)) if f.len() == 14));
    }

    #[test]
    fn erspan_iii_optional_subheader_and_ip_frames() {
        // GRE S flag, 0x22EB; ERSPAN III ver=2 vlan=30 session=302 ts sgt, o=1, then 8 bytes.
        let mut b = vec![0x10, 0x00, 0x22, 0xEB, 0, 0, 0, 9];
        b.extend_from_slice(&[0x20, 0x1e, 0x01, 0x2e, 0, 0, 0, 5, 0, 0, 0x00, 0x03]);
        b.extend_from_slice(&[0xee; 8]);
        b.extend_from_slice(&[0xaa; 14]);
        match gre(&b).unwrap() {
            Inner::Ether(f, TunnelProto::ErspanIII, ids) => {
                assert_eq!(f, &[0xaa; 14]);
                assert_eq!(ids.erspan_session, Some(302));
                assert_eq!(ids.erspan_vlan, Some(30));
            }
            other => panic!("{other:?}"),
        }
        b[18] = 0x08; // ft = 2: the frame is an IP packet
        assert!(matches!(gre(&b), Ok(Inner::Ip(_, TunnelProto::ErspanIII, _))));
        b[18] = 0x04; // ft = 1: not followed
        assert_eq!(gre(&b).unwrap_err(), TunnelError::Unsupported);
        b[18] = 0x00;
        // o=1 but the platform-specific bytes are cut
        assert_eq!(gre(&b[..8 + 12 + 4]).unwrap_err(), TunnelError::Malformed);
    }

    #[test]
    fn gre_options_key_sequence_checksum() {
        // C, K and S: checksum+offset, key 42, sequence 7, then IPv4.
        let mut b = vec![0xB0, 0x00, 0x08, 0x00, 0xde, 0xad, 0, 0, 0, 0, 0, 42, 0, 0, 0, 7];
        b.extend_from_slice(&[0x45; 20]);
        match gre(&b).unwrap() {
            Inner::Ip(p, TunnelProto::Gre, ids) => {
                assert_eq!(p.len(), 20);
                assert_eq!(ids.gre_key, Some(42));
            }
            other => panic!("{other:?}"),
        }
        // TEB with key only.
        let b = [0x20, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0xaa];
        assert!(
            matches!(gre(&b), Ok(Inner::Ether(f, TunnelProto::GreTeb, TunnelIds { gre_key: Some(256), .. })) if f == [0xaa])
        );
    }

    #[test]
    fn unsupported_is_not_malformed() {
        assert_eq!(gre(&[0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0]).unwrap_err(), TunnelError::Unsupported); // PPTP
        assert_eq!(gre(&[0x00, 0x00, 0x88, 0x47, 1, 2]).unwrap_err(), TunnelError::Unsupported); // MPLS
        assert_eq!(gre(&[0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 1]).unwrap_err(), TunnelError::Unsupported); // R
        assert_eq!(gre(&[0x00, 0x00, 0x00, 0x00]).unwrap_err(), TunnelError::Keepalive);
        assert_eq!(gre(&[0x00, 0x05, 0x08, 0x00]).unwrap_err(), TunnelError::Malformed); // version 5
    }

    #[test]
    fn cut_headers_are_errors_not_panics() {
        let b = [0x30u8, 0x00, 0x22, 0xEB, 0, 0, 0, 1, 0, 0, 0, 2, 0x20, 0, 0, 5];
        for n in 0..b.len() {
            let _ = gre(&b[..n]);
            let _ = vxlan(&b[..n]);
        }
        assert!(gre(&b).is_err());
        for n in 0..8 {
            assert_eq!(gre(&[0x30, 0, 0x88, 0xBE, 0, 0, 0, 1][..n]).unwrap_err(), TunnelError::Malformed);
        }
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
