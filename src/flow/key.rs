//! The flow key: a `Copy`, fixed-size, direction-normalised 5-tuple (plus VLAN).

use crate::decode::{Decoded, L4};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// A direction-normalised flow key: the lower (address, port) pair is `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Lower endpoint address.
    pub a: IpAddr,
    /// Higher endpoint address.
    pub b: IpAddr,
    /// Port of `a` (ICMP echo: the identifier; other ICMP: 0).
    pub a_port: u16,
    /// Port of `b`.
    pub b_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// VLAN id (0 if untagged), so overlapping address plans on different VLANs stay apart.
    pub vlan: u16,
}

impl FlowKey {
    /// The key of a decoded packet, and whether its source is endpoint `a`.
    // Forced inline: as a call its 40-byte key came back through memory (issue 25).
    #[inline(always)]
    pub fn of(d: &Decoded<'_>) -> (FlowKey, bool) {
        let (sp, dp) = match d.l4 {
            L4::Tcp(t) => (t.sport, t.dport),
            L4::Udp { sport, dport } => (sport, dport),
            // Echo request/reply share an identifier: one flow per ping session.
            L4::Icmp(i) if matches!((i.v6, i.icmp_type), (false, 0 | 8) | (true, 128 | 129)) => {
                let id = u16::from_be_bytes([i.rest[0], i.rest[1]]);
                (id, id)
            }
            _ => (0, 0),
        };
        let (proto, vlan) = (d.ip_proto, d.vlan.unwrap_or(0));
        // IPv4 both ways (most packets): ordered and built as two words, without going through
        // `IpAddr` matching and copying twice (issue 25: ~100 instructions a packet before).
        if let (IpAddr::V4(s), IpAddr::V4(t)) = (d.src, d.dst) {
            let (ks, kt) = (v4_order(s, sp), v4_order(t, dp));
            let src_is_a = ks <= kt;
            let (a, a_port, b, b_port) = if src_is_a { (s, sp, t, dp) } else { (t, dp, s, sp) };
            let key = FlowKey { a: IpAddr::V4(a), b: IpAddr::V4(b), a_port, b_port, proto, vlan };
            return (key, src_is_a);
        }
        FlowKey::from_tuple(d.src, sp, d.dst, dp, proto, vlan)
    }

    /// The key of a packet from `(src, sport)` to `(dst, dport)`, and whether `src` is endpoint
    /// `a`. For ICMP echo pass the identifier as both ports (as [`FlowKey::of`] does). Used to
    /// find the flow an ICMP error quotes.
    pub fn from_tuple(
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        proto: u8,
        vlan: u16,
    ) -> (FlowKey, bool) {
        // IpAddr's order, as integers (the derived tuple comparison was 2 % of the worker).
        let src_is_a = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => v4_order(s, sport) <= v4_order(d, dport),
            (IpAddr::V6(s), IpAddr::V6(d)) => (u128::from(s), sport) <= (u128::from(d), dport),
            _ => (src, sport) <= (dst, dport),
        };
        let (a, a_port, b, b_port) =
            if src_is_a { (src, sport, dst, dport) } else { (dst, dport, src, sport) };
        (FlowKey { a, b, a_port, b_port, proto, vlan }, src_is_a)
    }
}

/// An IPv4 endpoint as one integer, in the order `(IpAddr, u16)` tuples compare.
#[inline]
fn v4_order(ip: std::net::Ipv4Addr, port: u16) -> u64 {
    u64::from(u32::from(ip)) << 16 | u64::from(port)
}

fn fold(ip: &IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(*v4)),
        IpAddr::V6(v6) => {
            let x = u128::from(*v6);
            (x as u64) ^ ((x >> 64) as u64).rotate_left(29) ^ 0x9e37_79b9
        }
    }
}

impl FlowKey {
    /// One well-mixed word: the table's probe sequences stay short under floods of
    /// near-identical tuples (sequential addresses and ports), which a byte-wise hash of the enum
    /// fields is not.
    pub fn hash64(&self) -> u64 {
        let addrs = fold(&self.a).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ fold(&self.b).rotate_left(32);
        let rest = (u64::from(self.a_port) << 48)
            | (u64::from(self.b_port) << 32)
            | (u64::from(self.proto) << 16)
            | u64::from(self.vlan);
        let mut h = addrs ^ rest.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

impl Hash for FlowKey {
    /// [`FlowKey::hash64`] as one word.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash64());
    }
}

/// A stable 63-bit id for EVE's `flow_id` from addresses and a discriminator.
pub(crate) fn stable_id(addrs: &[IpAddr], salt: u32) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    addrs.hash(&mut h);
    salt.hash(&mut h);
    h.finish() & 0x7fff_ffff_ffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Anomalies, LinkType, decode, packet::DecodeOptions};

    /// `of` (with its IPv4 shortcut) gives the key and side `from_tuple` gives, both ways, for
    /// IPv4 and IPv6, equal addresses ordered by port, tagged or not.
    #[test]
    fn of_agrees_with_from_tuple() {
        let v4 = |s: [u8; 4], sp, d: [u8; 4], dp, vlan: Option<u16>| {
            let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]);
            let b = match vlan {
                Some(v) => b.single_vlan(v.try_into().unwrap()).ipv4(s, d, 64),
                None => b.ipv4(s, d, 64),
            };
            let mut out = Vec::new();
            b.tcp(sp, dp, 1, 1000).syn().write(&mut out, &[]).unwrap();
            out
        };
        let v6 = |s: [u8; 16], sp, d: [u8; 16], dp| {
            let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]).ipv6(s, d, 64);
            let mut out = Vec::new();
            b.udp(sp, dp).write(&mut out, &[1, 2, 3]).unwrap();
            out
        };
        let mut lo6 = [0u8; 16];
        lo6[15] = 1;
        let mut hi6 = [0u8; 16];
        hi6[0] = 0x20;
        let frames = [
            v4([10, 0, 0, 1], 40000, [203, 0, 113, 5], 443, None),
            v4([203, 0, 113, 5], 443, [10, 0, 0, 1], 40000, None),
            v4([10, 0, 0, 1], 80, [10, 0, 0, 1], 79, Some(7)),
            v4([10, 0, 0, 1], 79, [10, 0, 0, 1], 80, Some(7)),
            v4([10, 0, 0, 1], 80, [10, 0, 0, 1], 80, None),
            v6(lo6, 53, hi6, 5353),
            v6(hi6, 5353, lo6, 53),
        ];
        let (opts, mut an) = (DecodeOptions::default(), Anomalies::default());
        for f in &frames {
            let d = decode(LinkType::Ethernet, f, &opts, &mut an).expect("decodes");
            let (sp, dp) = d.ports();
            let want = FlowKey::from_tuple(d.src, sp, d.dst, dp, d.ip_proto, d.vlan.unwrap_or(0));
            assert_eq!(FlowKey::of(&d), want);
        }
    }

    #[test]
    fn endpoints_are_ordered_as_ip_addr_orders_them() {
        let ips: Vec<IpAddr> = [
            "10.0.0.1",
            "10.0.0.2",
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "2001:db8::9",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
        for &s in &ips {
            for &d in &ips {
                for (sp, dp) in [(1, 2), (2, 1), (7, 7), (0, 65535)] {
                    let (_, src_is_a) = FlowKey::from_tuple(s, sp, d, dp, 6, 0);
                    assert_eq!(src_is_a, (s, sp) <= (d, dp), "{s}:{sp} {d}:{dp}");
                }
            }
        }
    }
}
