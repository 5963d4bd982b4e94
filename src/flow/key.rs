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
        mix(fold(&self.a), fold(&self.b), self.a_port, self.b_port, self.proto, self.vlan)
    }

    /// `FlowKey::from_tuple(src, sport, dst, dport, proto, vlan).0.hash64()` without building
    /// the 40-byte key: for IPv4 both ways (most packets) ordered and folded as integers. The
    /// capture side's flow hint (issue 25: building the key was ~50 instructions a packet).
    #[inline]
    pub fn hash_of_tuple(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8, vlan: u16) -> u64 {
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            let (ks, kd) = (v4_order(s, sport), v4_order(d, dport));
            let (s, d) = (u64::from(u32::from(s)), u64::from(u32::from(d)));
            return if ks <= kd {
                mix(s, d, sport, dport, proto, vlan)
            } else {
                mix(d, s, dport, sport, proto, vlan)
            };
        }
        FlowKey::from_tuple(src, sport, dst, dport, proto, vlan).0.hash64()
    }
}

/// [`FlowKey::hash64`] of a key's folded addresses and the rest of its fields.
#[inline]
fn mix(a: u64, b: u64, a_port: u16, b_port: u16, proto: u8, vlan: u16) -> u64 {
    let addrs = a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.rotate_left(32);
    let rest =
        (u64::from(a_port) << 48) | (u64::from(b_port) << 32) | (u64::from(proto) << 16) | u64::from(vlan);
    let mut h = addrs ^ rest.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
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

    /// `hash_of_tuple` is the hash of `from_tuple`'s key: IPv4, IPv6 and mixed, both ways,
    /// equal addresses ordered by port, random and edge values.
    #[test]
    fn hash_of_tuple_is_the_hash_of_the_key() {
        let mut rng = crate::synth::Rng::new(7);
        let v4 = |x: u64| IpAddr::V4(std::net::Ipv4Addr::from(x as u32));
        let v6 = |x: u64, y: u64| IpAddr::V6(std::net::Ipv6Addr::from(u128::from(x) << 64 | u128::from(y)));
        for i in 0..20_000u64 {
            let (x, y) = (rng.next_u64(), rng.next_u64());
            let (sp, dp) = (x as u16, if i % 7 == 0 { x as u16 } else { y as u16 });
            let (src, dst) = match i % 4 {
                0 => (v4(x >> 32), v4(if i % 8 == 0 { x >> 32 } else { y >> 32 })),
                1 => (v6(x, y), v6(y, x)),
                2 => (v4(x), v6(x, y)),
                _ => (v4(u64::from(u32::MAX) * (x & 1)), v4(y & 0xff)),
            };
            let (proto, vlan) = ((y >> 8) as u8, (x >> 16) as u16 & 0x0fff);
            for (s, sp, d, dp) in [(src, sp, dst, dp), (dst, dp, src, sp)] {
                let want = FlowKey::from_tuple(s, sp, d, dp, proto, vlan).0.hash64();
                assert_eq!(FlowKey::hash_of_tuple(s, sp, d, dp, proto, vlan), want, "{s}:{sp} {d}:{dp}");
            }
        }
    }

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
