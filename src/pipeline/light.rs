//! The capture thread's light parse: of the common case, only what sharding and the flow hint
//! need (addresses, protocol, ports or echo identifier, VLAN id), without building a 240-byte
//! [`crate::decode::Decoded`] the worker builds again anyway.
//!
//! It accepts exactly the frames the decoder's fast path (`decode/fast.rs`) accepts, and reads
//! the same fields from the same bytes; for everything else (tunnels, fragments, extension
//! headers, cut or odd headers) it returns `None` and the caller runs the full decode. The
//! `light_tests` prove it gives the same shard and hint as the full decode on every frame of the
//! bundled captures, of both bench generators, and on every prefix of assorted frames.

use crate::decode::LinkType;
use crate::decode::fast::{LinkPayload, link_payload};
use crate::decode::packet::DecodeOptions;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];
const ICMP_TIMESTAMP: u8 = 13;
const ICMP_TIMESTAMP_REPLY: u8 = 14;

/// What sharding and the flow key need of one packet.
#[derive(Debug, Clone, Copy)]
pub(super) struct Light<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// TCP/UDP ports ([`crate::decode::Decoded::ports`]; 0 for ICMP).
    pub ports: (u16, u16),
    /// The flow key's ports: the TCP/UDP ports, or an echo's identifier twice.
    pub key_ports: (u16, u16),
    pub vlan: u16,
    /// A UDP packet's payload, as the decoder's fast path cuts it (empty for other protocols):
    /// DNS is parsed from it on the reading side ([`crate::decode::dns::RegistrableHint`]).
    pub udp_payload: &'a [u8],
}

impl Light<'_> {
    /// The packet's flow hint ([`crate::flow::FlowKey::hash64`] of its key).
    #[inline]
    pub(super) fn hint(&self) -> u64 {
        let (sp, dp) = self.key_ports;
        crate::flow::FlowKey::hash_of_tuple(self.src, sp, self.dst, dp, self.proto, self.vlan)
    }
}

/// The common case's fields, or `None`: use the full decode. Forced inline into its callers:
/// returned through the stack, its addresses' narrow stores stalled the wide loads that copied
/// them out (~12 % of the reading thread's time in an echo flood, `perf annotate`).
#[inline(always)]
pub(super) fn parse<'a>(link: LinkType, frame: &'a [u8], opts: &DecodeOptions) -> Option<Light<'a>> {
    match link_payload(link, frame)? {
        LinkPayload::Ether(ether_type, rest) => ether(ether_type, rest, opts),
        LinkPayload::Ip(pkt) => ip(pkt, 0, opts),
    }
}

// `ether`, `ip` and `transport` are forced inline into `parse`, as in the decoder's fast path:
// as calls, each returned its `Option<Light>` through the stack (~60 instructions a
// packet of the reading worker's ~510 on the day profile).
#[inline(always)]
fn ether<'a>(ether_type: u16, payload: &'a [u8], opts: &DecodeOptions) -> Option<Light<'a>> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip(payload, 0, opts),
        t if ETHERTYPE_VLAN.contains(&t) && opts.max_vlan_depth > 0 => {
            let (tag, rest) = payload.split_first_chunk::<4>()?;
            let vlan = u16::from_be_bytes([tag[0] & 0x0f, tag[1]]);
            match u16::from_be_bytes([tag[2], tag[3]]) {
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip(rest, vlan, opts),
                _ => None,
            }
        }
        _ => None,
    }
}

#[inline(always)]
fn ip<'a>(pkt: &'a [u8], vlan: u16, opts: &DecodeOptions) -> Option<Light<'a>> {
    match pkt.first()? >> 4 {
        4 => {
            let h = pkt.first_chunk::<20>()?;
            let header_len = usize::from(h[0] & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let fragment = h[6] & 0x3f != 0 || h[7] != 0;
            if header_len < 20 || total_len < header_len || fragment || !matches!(h[9], 1 | 6 | 17) {
                return None;
            }
            let payload = match pkt.get(header_len..total_len) {
                Some(p) => p,
                None => pkt.get(header_len..)?,
            };
            let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
            let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
            transport(h[9], payload, src, dst, vlan, opts)
        }
        6 => {
            let h = pkt.first_chunk::<40>()?;
            let payload_len = usize::from(u16::from_be_bytes([h[4], h[5]]));
            if payload_len == 0 || !matches!(h[6], 6 | 17 | 58) {
                return None;
            }
            let payload = match pkt.get(40..40 + payload_len) {
                Some(p) => p,
                None => pkt.get(40..)?,
            };
            let addr = |b: &[u8]| <[u8; 16]>::try_from(b).ok().map(|a| IpAddr::V6(Ipv6Addr::from(a)));
            transport(h[6], payload, addr(h.get(8..24)?)?, addr(h.get(24..40)?)?, vlan, opts)
        }
        _ => None,
    }
}

// (`manual_contains`: `contains` on the ports is an out-of-line call per UDP packet here.)
#[allow(clippy::manual_contains)]
#[inline(always)]
fn transport<'a>(
    proto: u8,
    pl: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    vlan: u16,
    opts: &DecodeOptions,
) -> Option<Light<'a>> {
    let mut udp_payload: &[u8] = &[];
    let (ports, key_ports) = match proto {
        6 => {
            let t = pl.first_chunk::<20>()?;
            let header_len = usize::from(t[12] >> 4) * 4;
            // The decoder wants the whole TCP header captured.
            if header_len < 20 || pl.len() < header_len {
                return None;
            }
            let p = (u16::from_be_bytes([t[0], t[1]]), u16::from_be_bytes([t[2], t[3]]));
            (p, p)
        }
        17 => {
            let u = pl.first_chunk::<8>()?;
            let p = (u16::from_be_bytes([u[0], u[1]]), u16::from_be_bytes([u[2], u[3]]));
            if opts.vxlan_ports.iter().any(|&v| v == p.1) {
                return None;
            }
            udp_payload = crate::decode::fast::udp_payload(pl).unwrap_or_default();
            (p, p)
        }
        1 | 58 => {
            let i = pl.first_chunk::<8>()?;
            let v6 = proto == 58;
            if !v6 && matches!(i[0], ICMP_TIMESTAMP | ICMP_TIMESTAMP_REPLY) && i[1] == 0 {
                return None;
            }
            // Echo request/reply share an identifier: one flow per ping session (`FlowKey::of`).
            let echo = matches!((v6, i[0]), (false, 0 | 8) | (true, 128 | 129));
            let id = u16::from_be_bytes([i[4], i[5]]);
            ((0, 0), if echo { (id, id) } else { (0, 0) })
        }
        _ => return None,
    };
    Some(Light { src, dst, proto, ports, key_ports, vlan, udp_payload })
}
