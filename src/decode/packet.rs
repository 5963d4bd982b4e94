//! Link, IP and transport layers, through any encapsulation [`super::tunnel`] knows.

use super::link::slice_link;
use super::tunnel::{self, Inner, TunnelError, TunnelIds, TunnelInfo, TunnelProto};
use super::{Anomalies, Anomaly};
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::IpAddr;

/// Link types siphon decodes (libpcap DLT values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB.
    Ethernet,
    /// DLT_LINUX_SLL (cooked v1, `tcpdump -i any`).
    LinuxSll,
    /// DLT_LINUX_SLL2 (cooked v2).
    LinuxSll2,
    /// DLT_RAW / DLT_IPV4 / DLT_IPV6: the frame starts at the IP header.
    RawIp,
    /// DLT_NULL / DLT_LOOP: a 4-byte address family, then IP.
    Null,
    /// Anything else.
    Unsupported(i32),
}

impl LinkType {
    /// Maps a libpcap DLT number.
    pub fn from_dlt(dlt: i32) -> LinkType {
        match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            0 | 108 => LinkType::Null,
            other => LinkType::Unsupported(other),
        }
    }
}

/// What decoding may look through, from the config.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// UDP destination ports carrying VXLAN.
    pub vxlan_ports: Vec<u16>,
    /// Deepest encapsulation followed (at most [`MAX_TUNNEL_DEPTH`]).
    pub max_tunnel_depth: u8,
    /// Most stacked 802.1Q/802.1ad tags looked through (`decode.max_vlan_depth`); a deeper
    /// stack counts `vlan_too_deep`.
    pub max_vlan_depth: u8,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { vxlan_ports: vec![4789], max_tunnel_depth: 4, max_vlan_depth: 8 }
    }
}

/// Hard ceiling on `general.max_tunnel_depth`: each layer is a stack frame of the recursive
/// decoder, and no real mirror nests more than three.
pub(crate) const MAX_TUNNEL_DEPTH: u8 = 16;

/// Why the analysed packet is itself still an encapsulation: the layer siphon stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecapsulated {
    /// The encapsulation header is cut or impossible (`tunnel_malformed`).
    Malformed,
    /// A valid header carrying something siphon does not follow (`tunnel_unsupported`).
    Unsupported,
    /// More nesting than `general.max_tunnel_depth` (`tunnel_too_deep`).
    TooDeep,
    /// An empty GRE packet: a keepalive reply.
    Keepalive,
}

/// TCP header fields siphon uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Flag byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20).
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Window field (raw, unscaled).
    pub window: u16,
    /// Header length in bytes (20 without options); options are `header_len - 20` bytes.
    pub header_len: u8,
}

/// TCP flag bits.
pub(crate) mod tcp_flags {
    /// FIN.
    pub(crate) const FIN: u8 = 0x01;
    /// SYN.
    pub(crate) const SYN: u8 = 0x02;
    /// RST.
    pub(crate) const RST: u8 = 0x04;
    /// PSH.
    pub(crate) const PSH: u8 = 0x08;
    /// ACK.
    pub(crate) const ACK: u8 = 0x10;
    /// URG.
    pub(crate) const URG: u8 = 0x20;
}

/// ICMP / ICMPv6 header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpInfo {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Bytes 5..8 of the header (identifier and sequence for echo).
    pub rest: [u8; 4],
}

/// The transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// TCP.
    Tcp(TcpInfo),
    /// UDP with source and destination ports.
    #[allow(missing_docs)]
    Udp { sport: u16, dport: u16 },
    /// ICMP or ICMPv6.
    Icmp(IcmpInfo),
    /// Another IP protocol, or a transport header that could not be read.
    Other,
}

/// An IPv4 fragment, for the reassembly stage (`flow::defrag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frag<'a> {
    /// IP identification.
    pub id: u16,
    /// Offset of this fragment's payload in the original payload, bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// The fragment's IPv4 header (options included), first `header_len` bytes.
    pub header: [u8; 60],
    /// Length of `header`.
    pub header_len: u8,
    /// The fragment's payload as captured.
    pub payload: &'a [u8],
}

/// One decoded packet: borrowed views into the frame, plus the figures detectors need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Source address of the innermost IP header.
    pub src: IpAddr,
    /// Destination address of the innermost IP header.
    pub dst: IpAddr,
    /// IP protocol number.
    pub ip_proto: u8,
    /// IP total length on the wire (not the captured length: `-s 96` captures still count true sizes).
    pub ip_len: u32,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv4 identification (0 for IPv6): crafted-probe fingerprints live here.
    pub ip_id: u16,
    /// Transport header.
    pub l4: L4,
    /// Transport payload as captured (may be shorter than on the wire).
    pub payload: &'a [u8],
    /// Transport payload length on the wire.
    pub payload_wire_len: u32,
    /// The frame was cut before the end of its IP packet.
    pub truncated: bool,
    /// Outermost 802.1Q VLAN id of the analysed frame.
    pub vlan: Option<u16>,
    /// Encapsulation that was removed to reach this packet.
    pub tunnel: Option<TunnelInfo>,
    /// Set when this packet is itself an encapsulation (GRE, VXLAN port, IP-in-IP) that was not
    /// looked through. The mirror filter uses it: a mirror's undecapsulated transport is never
    /// analysed as traffic.
    pub undecapsulated: Option<Undecapsulated>,
    /// Set when this is an IPv4 fragment: analyse the reassembled packet instead.
    pub frag: Option<Frag<'a>>,
}

impl Decoded<'_> {
    /// Source and destination ports (0 for ICMP and others).
    pub fn ports(&self) -> (u16, u16) {
        match self.l4 {
            L4::Tcp(t) => (t.sport, t.dport),
            L4::Udp { sport, dport } => (sport, dport),
            _ => (0, 0),
        }
    }
}

/// Decodes one frame. Returns `None` (after counting why) when there is no IP packet to analyse.
///
/// The common case (no or one VLAN tag, an unfragmented IPv4 or extension-free IPv6 packet,
/// TCP/UDP/ICMP, possibly cut by the snaplen) takes a hand-written fast path (`fast.rs`);
/// everything else, and every anomaly but `ip_truncated`, goes through [`decode_slow`], whose
/// result the fast path is tested to reproduce exactly.
#[inline]
pub fn decode<'a>(
    link: LinkType,
    frame: &'a [u8],
    opts: &DecodeOptions,
    anomalies: &mut Anomalies,
) -> Option<Decoded<'a>> {
    // Returned as it is, not unwrapped and wrapped again: a `Decoded` is 240 bytes, and a
    // re-wrapped one is copied.
    let fast = super::fast::decode(link, frame, opts, anomalies);
    if fast.is_some() {
        return fast;
    }
    decode_slow(link, frame, opts, anomalies)
}

/// [`decode`] without its fast path: etherparse's lax slicer for every frame. Public only so the
/// differential tests and the `decode_frame` fuzz target can compare the two.
#[doc(hidden)]
#[inline(never)]
pub(crate) fn decode_slow<'a>(
    link: LinkType,
    frame: &'a [u8],
    opts: &DecodeOptions,
    anomalies: &mut Anomalies,
) -> Option<Decoded<'a>> {
    let (sliced, vlan) = match slice_link(link, frame, opts.max_vlan_depth) {
        Ok(s) => s,
        Err(a) => {
            anomalies.add(a);
            return None;
        }
    };
    decode_sliced(sliced, opts, anomalies, None, vlan)
}

/// Decodes an IPv4 packet reassembled from fragments that decoded as `like`: the encapsulation
/// the fragments came in carries over (the depth limit counts on from it), and so does their
/// VLAN unless the packet is itself a tunnel with a frame of its own.
pub(crate) fn decode_reassembled<'a>(
    packet: &'a [u8],
    like: &Decoded<'_>,
    opts: &DecodeOptions,
    anomalies: &mut Anomalies,
) -> Option<Decoded<'a>> {
    let sliced = match LaxSlicedPacket::from_ip(packet) {
        Ok(s) => s,
        Err(_) => {
            anomalies.add(Anomaly::IpMalformed);
            return None;
        }
    };
    decode_sliced(sliced, opts, anomalies, like.tunnel, like.vlan)
}

fn decode_sliced<'a>(
    sliced: LaxSlicedPacket<'a>,
    opts: &DecodeOptions,
    anomalies: &mut Anomalies,
    outer: Option<TunnelInfo>,
    vlan_hint: Option<u16>,
) -> Option<Decoded<'a>> {
    // The frame's own outermost tag; else the VLAN an ERSPAN header recorded for it.
    let vlan = sliced.vlan_ids().first().map(|v| v.value()).or(vlan_hint);
    let net = match &sliced.net {
        Some(LaxNetSlice::Ipv4(_)) | Some(LaxNetSlice::Ipv6(_)) => sliced.net.as_ref(),
        _ => {
            let a = match sliced.stop_err {
                Some((_, etherparse::err::Layer::Ipv4Header | etherparse::err::Layer::Ipv6Header)) => {
                    Anomaly::IpMalformed
                }
                _ => Anomaly::NotIp,
            };
            anomalies.add(a);
            return None;
        }
    }?;
    let mut frag = None;
    let mut ip_id = 0;
    let (src, dst, ip_len, ttl, ip_header_len, pl) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            if h.is_fragmenting_payload() {
                let raw = h.slice();
                let mut header = [0u8; 60];
                let n = raw.len().min(60);
                header[..n].copy_from_slice(&raw[..n]);
                frag = Some(Frag {
                    id: h.identification(),
                    offset: u32::from(h.fragments_offset().value()) * 8,
                    more: h.more_fragments(),
                    header,
                    header_len: n as u8,
                    payload: v4.payload().payload,
                });
            }
            let hl = u32::from(h.ihl()) * 4;
            ip_id = h.identification();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                u32::from(h.total_len()),
                h.ttl(),
                hl,
                v4.payload(),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            // Extension headers sit between the fixed header and the payload slice.
            let total = 40 + u32::from(h.payload_length());
            let ext = total.saturating_sub(40).saturating_sub(v6.payload().payload.len() as u32);
            let hl = if v6.payload().incomplete { 40 } else { 40 + ext };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                total,
                h.hop_limit(),
                hl,
                v6.payload(),
            )
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let ip_proto = pl.ip_number.0;
    let mut truncated = pl.incomplete;
    if truncated {
        anomalies.add(Anomaly::IpTruncated);
    }
    let depth = outer.map_or(0, |t| t.depth);

    // Encapsulation: look through it, keeping the outermost addresses for the alert. When it
    // cannot be looked through, this packet is analysed as it is, marked `undecapsulated`.
    let mut undecapsulated = None;
    if !pl.fragmented {
        let udp = match &sliced.transport {
            Some(TransportSlice::Udp(u)) => Some((u.source_port(), u.destination_port(), u.payload())),
            _ => None,
        };
        let inner = match ip_proto {
            47 => Some(tunnel::gre(pl.payload)),
            4 | 41 => Some(Ok(Inner::Ip(pl.payload, TunnelProto::IpInIp, TunnelIds::default()))),
            _ => match udp {
                Some((_, dport, p)) if opts.vxlan_ports.contains(&dport) => Some(tunnel::vxlan(p)),
                _ => None,
            },
        };
        let why = match inner {
            None => None,
            Some(Err(TunnelError::Malformed)) => Some(Undecapsulated::Malformed),
            Some(Err(TunnelError::Unsupported)) => Some(Undecapsulated::Unsupported),
            Some(Err(TunnelError::Keepalive)) => Some(Undecapsulated::Keepalive),
            Some(Ok(_)) if depth >= opts.max_tunnel_depth.min(MAX_TUNNEL_DEPTH) => {
                Some(Undecapsulated::TooDeep)
            }
            Some(Ok(inner)) => {
                let (proto, ids) = inner.proto_and_info();
                let t = match outer {
                    Some(o) => TunnelInfo { depth: o.depth + 1, ..o }.with_inner(proto, ids),
                    None => TunnelInfo {
                        outer_ports: udp.map(|(s, d, _)| (s, d)),
                        ..TunnelInfo::new(src, dst, ip_proto, 1).with_inner(proto, ids)
                    },
                };
                let inner_slice = match inner {
                    Inner::Ether(b, ..) => match slice_link(LinkType::Ethernet, b, opts.max_vlan_depth) {
                        Ok((s, vlan)) => Some((s, vlan)),
                        Err(Anomaly::VlanTooDeep) => {
                            anomalies.add(Anomaly::VlanTooDeep);
                            return None;
                        }
                        Err(_) => None,
                    },
                    Inner::Ip(b, ..) => LaxSlicedPacket::from_ip(b).ok().map(|s| (s, None)),
                };
                match inner_slice {
                    Some((s, vlan)) => {
                        return decode_sliced(s, opts, anomalies, Some(t), vlan.or(ids.erspan_vlan));
                    }
                    None => Some(Undecapsulated::Malformed),
                }
            }
        };
        match why {
            Some(Undecapsulated::Malformed) => anomalies.add(Anomaly::TunnelMalformed),
            Some(Undecapsulated::Unsupported) => anomalies.add(Anomaly::TunnelUnsupported),
            Some(Undecapsulated::TooDeep) => anomalies.add(Anomaly::TunnelTooDeep),
            Some(Undecapsulated::Keepalive) | None => {}
        }
        undecapsulated = why;
    }

    // IPv4 fragments go to reassembly (the caller checks `frag`); IPv6 fragments are counted
    // and analysed as far as their first fragment goes.
    let fragment_not_first = pl.fragmented && sliced.transport.is_none();
    if pl.fragmented && frag.is_none() {
        anomalies.add(Anomaly::IpFragment);
    }
    let (l4, payload, l4_header_len) = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => {
            let flags = t.slice().get(13).copied().unwrap_or(0) & 0x3f;
            let info = TcpInfo {
                sport: t.source_port(),
                dport: t.destination_port(),
                flags,
                seq: t.sequence_number(),
                window: t.window_size(),
                header_len: t.data_offset().saturating_mul(4),
            };
            (L4::Tcp(info), t.payload(), u32::from(t.data_offset()) * 4)
        }
        Some(TransportSlice::Udp(u)) => {
            (L4::Udp { sport: u.source_port(), dport: u.destination_port() }, u.payload(), 8)
        }
        Some(TransportSlice::Icmpv4(i)) => (
            L4::Icmp(IcmpInfo { v6: false, icmp_type: i.type_u8(), code: i.code_u8(), rest: i.bytes5to8() }),
            i.payload(),
            i.header_len() as u32,
        ),
        Some(TransportSlice::Icmpv6(i)) => (
            L4::Icmp(IcmpInfo { v6: true, icmp_type: i.type_u8(), code: i.code_u8(), rest: i.bytes5to8() }),
            i.payload(),
            8,
        ),
        _ => {
            if !fragment_not_first && matches!(ip_proto, 1 | 6 | 17 | 58) {
                anomalies.add(Anomaly::TransportMalformed);
                truncated = true;
            }
            (L4::Other, pl.payload, 0)
        }
    };
    let payload_wire_len = ip_len.saturating_sub(ip_header_len).saturating_sub(l4_header_len);
    Some(Decoded {
        src,
        dst,
        ip_proto,
        ip_len,
        ttl,
        ip_id,
        l4,
        payload,
        payload_wire_len,
        truncated,
        vlan,
        tunnel: outer,
        undecapsulated,
        frag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let b =
            PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 1], [192, 0, 2, 1], 64).udp(5555, 53);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn decodes_udp_and_counts_ip_length() {
        let f = udp_frame(b"hello");
        let mut an = Anomalies::default();
        let d = decode(LinkType::Ethernet, &f, &DecodeOptions::default(), &mut an).unwrap();
        assert_eq!(d.ports(), (5555, 53));
        assert_eq!(d.ip_len, 20 + 8 + 5);
        assert_eq!(d.payload, b"hello");
        assert_eq!(an.total(), 0);
    }

    #[test]
    fn snaplen_cut_frame_decodes_as_far_as_it_goes() {
        let f = udp_frame(&[7u8; 500]);
        let mut an = Anomalies::default();
        let d = decode(LinkType::Ethernet, &f[..96], &DecodeOptions::default(), &mut an).unwrap();
        assert_eq!(d.ip_len, 20 + 8 + 500);
        assert_eq!(d.payload_wire_len, 500);
        assert!(d.truncated);
        assert_eq!(an.get(Anomaly::IpTruncated), 1);
    }

    #[test]
    fn every_prefix_of_a_frame_decodes_without_panic() {
        let f = udp_frame(b"0123456789");
        for n in 0..f.len() {
            let mut an = Anomalies::default();
            let _ = decode(LinkType::Ethernet, &f[..n], &DecodeOptions::default(), &mut an);
            let _ = decode(LinkType::LinuxSll2, &f[..n], &DecodeOptions::default(), &mut an);
            let _ = decode(LinkType::RawIp, &f[..n], &DecodeOptions::default(), &mut an);
        }
    }
}
