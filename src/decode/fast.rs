//! The fast path of [`super::packet::decode`]: the common case, decoded by hand in a few bounds
//! checks instead of through etherparse's lax slicer (VLAN arrays, extension-header loops, large
//! struct copies), which cost ~3x more per packet.
//!
//! It handles only: Ethernet II with at most one 802.1Q/802.1ad tag (or the cooked, raw-IP and
//! null link headers) → an unfragmented IPv4 packet (any header length) or an IPv6 packet with no
//! extension headers → TCP, UDP (not on a VXLAN port), ICMP or ICMPv6 with the whole transport
//! header captured. The IP packet may be cut short by the snaplen (`-s 96` captures are common):
//! like the slow path, it is then marked `truncated` and counted as `ip_truncated`, the one
//! anomaly the fast path adds. Anything else (tunnels, fragments, extension headers, a cut
//! transport header, impossible lengths, other protocols) returns `None` with nothing counted,
//! and the caller runs the lax slow path.
//!
//! The result must equal the slow path's field for field; `fast_tests` proves it on every frame
//! of the bundled captures, synthetic traffic and every prefix of assorted frames, and the
//! `decode_frame` fuzz target checks it on arbitrary bytes.

use super::packet::{DecodeOptions, Decoded, IcmpInfo, LinkType, TcpInfo};
use super::{Anomalies, Anomaly, L4};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EtherTypes after which the slow path slices an IP header (either version: it goes by the
/// version nibble, not the EtherType).
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Tag EtherTypes etherparse reads as one VLAN header each (802.1Q, 802.1ad, the old QinQ).
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// ICMPv4 timestamp and timestamp reply: with code 0 etherparse gives them a 20-byte header and
/// rejects any other length, so they go to the slow path.
const ICMP_TIMESTAMP: u8 = 13;
const ICMP_TIMESTAMP_REPLY: u8 = 14;

/// Decodes `frame` when it is the common case; `None` means "use the slow path", never "not IP",
/// and counts nothing.
#[inline]
pub(crate) fn decode<'a>(
    link: LinkType,
    frame: &'a [u8],
    opts: &DecodeOptions,
    anomalies: &mut Anomalies,
) -> Option<Decoded<'a>> {
    // Returned as it is (a re-wrapped `Decoded`, 240 bytes, would be copied).
    let d = link_layer(link, frame, opts);
    if d.as_ref().is_some_and(|d| d.truncated) {
        anomalies.add(Anomaly::IpTruncated);
    }
    d
}

/// The payload of the UDP datagram `pl` (header included, at least 8 bytes): etherparse's lax
/// UDP slice ends at the UDP length when that is plausible, else at the end of the IP payload.
/// (Shared with the capture thread's light parse, which cuts the same payload.)
#[inline(always)]
pub(crate) fn udp_payload(pl: &[u8]) -> Option<&[u8]> {
    let udp_len = usize::from(u16::from_be_bytes([*pl.get(4)?, *pl.get(5)?]));
    let end = if (8..=pl.len()).contains(&udp_len) { udp_len } else { pl.len() };
    pl.get(8..end)
}

/// What follows a frame's link-layer header: an EtherType and its payload, or IP directly.
pub(crate) enum LinkPayload<'a> {
    /// Ethernet and Linux cooked captures: the EtherType and the bytes after the header.
    Ether(u16, &'a [u8]),
    /// Raw IP and BSD loopback: the IP header starts here.
    Ip(&'a [u8]),
}

/// Strips the link-layer header of `frame` (shared by this fast path and the capture thread's
/// light parse, so both take the same frames).
#[inline]
pub(crate) fn link_payload(link: LinkType, frame: &[u8]) -> Option<LinkPayload<'_>> {
    match link {
        LinkType::Ethernet => {
            let (h, rest) = frame.split_first_chunk::<14>()?;
            Some(LinkPayload::Ether(u16::from_be_bytes([h[12], h[13]]), rest))
        }
        LinkType::LinuxSll => {
            let (h, rest) = frame.split_first_chunk::<16>()?;
            Some(LinkPayload::Ether(u16::from_be_bytes([h[14], h[15]]), rest))
        }
        LinkType::LinuxSll2 => {
            let (h, rest) = frame.split_first_chunk::<20>()?;
            Some(LinkPayload::Ether(u16::from_be_bytes([h[0], h[1]]), rest))
        }
        LinkType::RawIp => Some(LinkPayload::Ip(frame)),
        // The slow path does not read the address family either: IP follows the 4 bytes.
        LinkType::Null => Some(LinkPayload::Ip(frame.get(4..)?)),
        LinkType::Unsupported(_) => None,
    }
}

#[inline]
fn link_layer<'a>(link: LinkType, frame: &'a [u8], opts: &DecodeOptions) -> Option<Decoded<'a>> {
    match link_payload(link, frame)? {
        LinkPayload::Ether(ether_type, rest) => ether(ether_type, rest, opts),
        LinkPayload::Ip(pkt) => ip(pkt, None, opts),
    }
}

#[inline(always)]
fn ether<'a>(ether_type: u16, payload: &'a [u8], opts: &DecodeOptions) -> Option<Decoded<'a>> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip(payload, None, opts),
        // (Compared one by one: `contains` on the array is an out-of-line call.)
        t if (t == ETHERTYPE_VLAN[0] || t == ETHERTYPE_VLAN[1] || t == ETHERTYPE_VLAN[2])
            && opts.max_vlan_depth > 0 =>
        {
            let (tag, rest) = payload.split_first_chunk::<4>()?;
            let vlan = u16::from_be_bytes([tag[0] & 0x0f, tag[1]]);
            match u16::from_be_bytes([tag[2], tag[3]]) {
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip(rest, Some(vlan), opts),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The IP layer's figures, handed to the transport layer.
struct Net {
    src: IpAddr,
    dst: IpAddr,
    ip_len: u32,
    ip_header_len: u32,
    ttl: u8,
    ip_id: u16,
    vlan: Option<u16>,
    /// The capture ends before the IP packet does.
    truncated: bool,
}

// `ip` and `transport` are forced inline into `link_layer`: as calls, each saved and restored
// its registers and `Net` went through the stack (issue 25: ~40 instructions a packet).
#[inline(always)]
fn ip<'a>(pkt: &'a [u8], vlan: Option<u16>, opts: &DecodeOptions) -> Option<Decoded<'a>> {
    match pkt.first()? >> 4 {
        4 => {
            let h = pkt.first_chunk::<20>()?;
            let header_len = usize::from(h[0] & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            // Fragments (MF set or an offset) go to reassembly; a total length shorter than the
            // header is sized from the capture by the slow path.
            let fragment = h[6] & 0x3f != 0 || h[7] != 0;
            if header_len < 20 || total_len < header_len || fragment || !matches!(h[9], 1 | 6 | 17) {
                return None;
            }
            // Trailing bytes (Ethernet padding) are not payload; a snaplen cut keeps what there is.
            let (payload, truncated) = match pkt.get(header_len..total_len) {
                Some(p) => (p, false),
                None => (pkt.get(header_len..)?, true),
            };
            let net = Net {
                src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
                dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
                ip_len: total_len as u32,
                ip_header_len: header_len as u32,
                ttl: h[8],
                ip_id: u16::from_be_bytes([h[4], h[5]]),
                vlan,
                truncated,
            };
            transport(h[9], payload, net, opts)
        }
        6 => {
            let h = pkt.first_chunk::<40>()?;
            let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // A zero payload length (jumbogram or unset) is sized from the capture by the slow
            // path; any other next header may be an extension header.
            if payload_len == 0 || !matches!(h[6], 6 | 17 | 58) {
                return None;
            }
            let (payload, truncated) = match pkt.get(40..40 + payload_len) {
                Some(p) => (p, false),
                None => (pkt.get(40..)?, true),
            };
            let addr = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(|a| IpAddr::V6(Ipv6Addr::from(a)));
            let net = Net {
                src: addr(h.get(8..24)?)?,
                dst: addr(h.get(24..40)?)?,
                ip_len: 40 + payload_len as u32,
                ip_header_len: 40,
                ttl: h[7],
                ip_id: 0,
                vlan,
                truncated,
            };
            transport(h[6], payload, net, opts)
        }
        _ => None,
    }
}

// (`manual_contains`: `contains` on the ports is an out-of-line call per UDP packet here.)
#[allow(clippy::manual_contains)]
#[inline(always)]
fn transport<'a>(ip_proto: u8, pl: &'a [u8], net: Net, opts: &DecodeOptions) -> Option<Decoded<'a>> {
    let (l4, payload, l4_header_len) = match ip_proto {
        6 => {
            let t = pl.first_chunk::<20>()?;
            let data_offset = t[12] >> 4;
            let header_len = usize::from(data_offset) * 4;
            if header_len < 20 {
                return None;
            }
            let info = TcpInfo {
                sport: u16::from_be_bytes([t[0], t[1]]),
                dport: u16::from_be_bytes([t[2], t[3]]),
                flags: t[13] & 0x3f,
                seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                window: u16::from_be_bytes([t[14], t[15]]),
                header_len: data_offset * 4,
            };
            (L4::Tcp(info), pl.get(header_len..)?, header_len as u32)
        }
        17 => {
            let u = pl.first_chunk::<8>()?;
            let (sport, dport) = (u16::from_be_bytes([u[0], u[1]]), u16::from_be_bytes([u[2], u[3]]));
            // (An inline loop: `contains` is an out-of-line call for each UDP packet.)
            if opts.vxlan_ports.iter().any(|&p| p == dport) {
                return None;
            }
            (L4::Udp { sport, dport }, udp_payload(pl)?, 8)
        }
        1 | 58 => {
            let i = pl.first_chunk::<8>()?;
            let v6 = ip_proto == 58;
            if !v6 && matches!(i[0], ICMP_TIMESTAMP | ICMP_TIMESTAMP_REPLY) && i[1] == 0 {
                return None;
            }
            let info = IcmpInfo { v6, icmp_type: i[0], code: i[1], rest: [i[4], i[5], i[6], i[7]] };
            (L4::Icmp(info), pl.get(8..)?, 8)
        }
        _ => return None,
    };
    Some(Decoded {
        src: net.src,
        dst: net.dst,
        ip_proto,
        ip_len: net.ip_len,
        ttl: net.ttl,
        ip_id: net.ip_id,
        l4,
        payload,
        payload_wire_len: net.ip_len.saturating_sub(net.ip_header_len).saturating_sub(l4_header_len),
        truncated: net.truncated,
        vlan: net.vlan,
        tunnel: None,
        undecapsulated: None,
        frag: None,
    })
}
