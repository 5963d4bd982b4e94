//! Decoding through encapsulations, end to end on built frames: IP-in-IP, GRE over IPv6,
//! 802.1Q/QinQ outside and inside a tunnel, ERSPAN VLANs, nesting bombs, keepalives, cut
//! headers, and packets reassembled from fragments of a tunnel.

use super::packet::{DecodeOptions, LinkType, Undecapsulated, decode, decode_reassembled};
use super::testutil::{eth, ipv4, ipv6, udp, vxlan};
use super::tunnel::TunnelProto;
use super::{Anomalies, Anomaly, L4};
use std::net::{IpAddr, Ipv4Addr};

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// The home host's DNS query: 10.99.0.14:40000 → 198.51.100.53:53.
fn inner_dns_ip() -> Vec<u8> {
    ipv4([10, 99, 0, 14], [198, 51, 100, 53], 17, &udp(40000, 53, b"\x12\x34\x01\x00\x00\x01"))
}

fn run(link: LinkType, f: &[u8]) -> (Option<super::Decoded<'_>>, Anomalies) {
    let mut an = Anomalies::default();
    let d = decode(link, f, &DecodeOptions::default(), &mut an);
    (d, an)
}

#[test]
fn ip_in_ip_v4_and_v6() {
    let outer = ipv4([192, 0, 2, 1], [10, 99, 250, 2], 4, &inner_dns_ip());
    let (d, an) = run(LinkType::RawIp, &outer);
    let d = d.unwrap();
    assert_eq!((d.src, d.dst, d.ports()), (v4([10, 99, 0, 14]), v4([198, 51, 100, 53]), (40000, 53)));
    let t = d.tunnel.unwrap();
    assert_eq!(
        (t.outer_src, t.outer_dst, t.outer_proto, t.depth),
        (v4([192, 0, 2, 1]), v4([10, 99, 250, 2]), 4, 1)
    );
    assert_eq!(t.proto, TunnelProto::IpInIp);
    assert_eq!(an.total(), 0);

    // IPv6 in IPv4 (protocol 41), and IPv4 in IPv6 (next header 4).
    let six = ipv6(1, 2, 17, &udp(1234, 53, b"x"));
    let frame = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 41, &six);
    let (d, _) = run(LinkType::RawIp, &frame);
    assert!(matches!(d.unwrap().dst, IpAddr::V6(a) if a.segments()[7] == 2));
    let frame = ipv6(7, 8, 4, &inner_dns_ip());
    let (d, _) = run(LinkType::RawIp, &frame);
    let d = d.unwrap();
    assert_eq!(d.src, v4([10, 99, 0, 14]));
    assert!(matches!(d.tunnel.unwrap().outer_src, IpAddr::V6(_)));

    // IP-in-IP whose inner packet is garbage: the outer packet is analysed, marked.
    let frame = ipv4([192, 0, 2, 1], [192, 0, 2, 2], 4, b"garbage");
    let (d, an) = run(LinkType::RawIp, &frame);
    let d = d.unwrap();
    assert_eq!(d.undecapsulated, Some(Undecapsulated::Malformed));
    assert_eq!((d.ip_proto, d.tunnel), (4, None));
    assert_eq!(an.get(Anomaly::TunnelMalformed), 1);
}

#[test]
fn gre_over_ipv6_with_key() {
    let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7];
    gre.extend_from_slice(&inner_dns_ip());
    let frame = ipv6(1, 2, 47, &gre);
    let (d, an) = run(LinkType::RawIp, &frame);
    let d = d.unwrap();
    let t = d.tunnel.unwrap();
    assert_eq!((t.proto, t.ids.gre_key, t.outer_proto), (TunnelProto::Gre, Some(7), 47));
    assert_eq!(d.src, v4([10, 99, 0, 14]));
    assert_eq!(an.total(), 0);
}

#[test]
fn qinq_outside_and_inside_vxlan() {
    // Underlay: 802.1ad 100 / 802.1Q 200 / IPv4 / UDP 4789 / VXLAN 4242 /
    // inner Ethernet 802.1ad 30 / 802.1Q 31 / IPv4 / UDP 53.
    let inner = eth(&[(0x88a8, 30), (0x8100, 31)], 0x0800, &inner_dns_ip());
    let outer_ip = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 17, &udp(51000, 4789, &vxlan(4242, &inner)));
    let f = eth(&[(0x88a8, 100), (0x8100, 200)], 0x0800, &outer_ip);
    let (d, an) = run(LinkType::Ethernet, &f);
    let d = d.unwrap();
    assert_eq!(an.total(), 0);
    assert_eq!((d.src, d.ports()), (v4([10, 99, 0, 14]), (40000, 53)));
    assert_eq!(d.vlan, Some(30), "the inner frame's outermost tag, not the underlay's");
    let t = d.tunnel.unwrap();
    assert_eq!((t.proto, t.ids.vni, t.outer_ports), (TunnelProto::Vxlan, Some(4242), Some((51000, 4789))));

    // The same mirror with an untagged inner frame: the underlay VLAN does not leak inside.
    let inner = eth(&[], 0x0800, &inner_dns_ip());
    let outer_ip = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 17, &udp(51000, 4789, &vxlan(1, &inner)));
    let f = eth(&[(0x8100, 200)], 0x0800, &outer_ip);
    assert_eq!(run(LinkType::Ethernet, &f).0.unwrap().vlan, None);
}

#[test]
fn vxlan_port_is_configurable() {
    let inner = eth(&[], 0x0800, &inner_dns_ip());
    let f = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 17, &udp(51000, 8472, &vxlan(1, &inner)));
    let (d, _) = run(LinkType::RawIp, &f);
    assert_eq!(d.unwrap().dst, v4([10, 99, 250, 2]), "8472 is not VXLAN by default");
    let opts = DecodeOptions { vxlan_ports: vec![4789, 8472], ..DecodeOptions::default() };
    let d = decode(LinkType::RawIp, &f, &opts, &mut Anomalies::default()).unwrap();
    assert_eq!(d.src, v4([10, 99, 0, 14]));
}

#[test]
fn erspan_vlan_applies_to_untagged_frames() {
    let inner = eth(&[], 0x0800, &inner_dns_ip());
    let mut g = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1, 0x10, 0x0a, 0x10, 0x07, 0, 0, 0, 0];
    g.extend_from_slice(&inner);
    let f = ipv4([192, 0, 2, 250], [10, 99, 250, 2], 47, &g);
    let d = run(LinkType::RawIp, &f).0.unwrap();
    assert_eq!(d.vlan, Some(10));
    assert_eq!(d.tunnel.unwrap().ids.erspan_session, Some(7));
    // A tag in the frame wins over the header.
    let inner = eth(&[(0x8100, 44)], 0x0800, &inner_dns_ip());
    let mut g = g[..16].to_vec();
    g.extend_from_slice(&inner);
    let f = ipv4([192, 0, 2, 250], [10, 99, 250, 2], 47, &g);
    assert_eq!(run(LinkType::RawIp, &f).0.unwrap().vlan, Some(44));
}

#[test]
fn nesting_bomb_stops_at_the_configured_depth() {
    let mut p = inner_dns_ip();
    for _ in 0..6 {
        let frame = eth(&[], 0x0800, &p);
        p = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 17, &udp(1, 4789, &vxlan(9, &frame)));
    }
    let (d, an) = run(LinkType::RawIp, &p);
    let d = d.unwrap();
    assert_eq!(an.get(Anomaly::TunnelTooDeep), 1);
    assert_eq!(d.undecapsulated, Some(Undecapsulated::TooDeep));
    assert_eq!(d.tunnel.unwrap().depth, 4);
    // A depth far above the ceiling is clamped, not followed.
    let opts = DecodeOptions { max_tunnel_depth: 255, ..DecodeOptions::default() };
    let mut p = inner_dns_ip();
    for _ in 0..40 {
        p = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 4, &p);
    }
    let mut an = Anomalies::default();
    let d = decode(LinkType::RawIp, &p, &opts, &mut an).unwrap();
    assert_eq!(d.tunnel.unwrap().depth, super::packet::MAX_TUNNEL_DEPTH);
    assert_eq!(an.get(Anomaly::TunnelTooDeep), 1);
}

#[test]
fn gre_keepalive_is_marked_not_malformed() {
    // Cisco keepalive: A → B GRE carrying B → A GRE with protocol 0 and nothing after it.
    let reply = ipv4([10, 99, 250, 2], [10, 99, 250, 5], 47, &[0, 0, 0, 0]);
    let mut g = vec![0x00, 0x00, 0x08, 0x00];
    g.extend_from_slice(&reply);
    let frame = ipv4([10, 99, 250, 5], [10, 99, 250, 2], 47, &g);
    let (d, an) = run(LinkType::RawIp, &frame);
    let d = d.unwrap();
    assert_eq!(an.total(), 0);
    assert_eq!(d.undecapsulated, Some(Undecapsulated::Keepalive));
    assert_eq!((d.src, d.dst), (v4([10, 99, 250, 2]), v4([10, 99, 250, 5])));
    assert_eq!(d.tunnel.unwrap().depth, 1);
}

#[test]
fn cut_and_garbage_encapsulations_mark_the_outer_packet() {
    let cases: [(&[u8], u8, Anomaly); 4] = [
        (&[0x30, 0x00], 47, Anomaly::TunnelMalformed),
        (&[0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1, 0x10, 0x0a], 47, Anomaly::TunnelMalformed),
        (&[0x00, 0x00, 0x65, 0x58, 1, 2, 3], 47, Anomaly::TunnelMalformed), // TEB, frame cut
        (&[0x00, 0x01, 0x88, 0x0b, 0, 0, 0, 0], 47, Anomaly::TunnelUnsupported),
    ];
    for (payload, proto, anomaly) in cases {
        let frame = ipv4([10, 99, 250, 5], [10, 99, 250, 2], proto, payload);
        let (d, an) = run(LinkType::RawIp, &frame);
        let d = d.unwrap();
        assert_eq!(an.get(anomaly), 1, "{payload:02x?}");
        assert!(d.undecapsulated.is_some() && d.tunnel.is_none());
        assert_eq!(d.src, v4([10, 99, 250, 5]));
    }
    let f = ipv4([10, 99, 250, 6], [10, 99, 250, 2], 17, &udp(1, 4789, &[0, 0, 0, 0, 0, 0, 1, 0]));
    let (d, an) = run(LinkType::RawIp, &f);
    assert_eq!(an.get(Anomaly::TunnelMalformed), 1);
    assert!(matches!(d.unwrap().l4, L4::Udp { dport: 4789, .. }));
    // Every prefix of a nested frame decodes without panicking.
    let inner = eth(&[(0x8100, 5)], 0x0800, &inner_dns_ip());
    let mut g = vec![0x10, 0x00, 0x22, 0xEB, 0, 0, 0, 1, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    g.extend_from_slice(&[0; 8]);
    g.extend_from_slice(&inner);
    let f = eth(&[(0x8100, 9)], 0x0800, &ipv4([10, 99, 250, 3], [10, 99, 250, 2], 47, &g));
    for n in 0..=f.len() {
        let _ = run(LinkType::Ethernet, &f[..n]);
    }
    assert_eq!(run(LinkType::Ethernet, &f).0.unwrap().vlan, Some(5));
}

#[test]
fn reassembled_packet_keeps_the_fragments_tunnel() {
    // A VXLAN packet delivered in IPv4 fragments: the reassembled packet is looked through.
    let inner = eth(&[], 0x0800, &inner_dns_ip());
    let whole = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 17, &udp(1, 4789, &vxlan(77, &inner)));
    let fragment = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 17, &[0; 8]);
    let mut an = Anomalies::default();
    let opts = DecodeOptions::default();
    let like = decode(LinkType::RawIp, &fragment, &opts, &mut an).unwrap();
    let d = decode_reassembled(&whole, &like, &opts, &mut an).unwrap();
    assert_eq!(d.src, v4([10, 99, 0, 14]));
    assert_eq!(d.tunnel.unwrap().ids.vni, Some(77));
    // An inner fragment: the reassembled packet keeps the tunnel it was found in.
    let tunnelled = ipv4([10, 99, 250, 1], [10, 99, 250, 2], 4, &inner_dns_ip());
    let like = decode(LinkType::RawIp, &tunnelled, &opts, &mut an).unwrap();
    let plain = inner_dns_ip();
    let d = decode_reassembled(&plain, &like, &opts, &mut an).unwrap();
    assert_eq!(d.tunnel.unwrap().proto, TunnelProto::IpInIp);
}

#[test]
fn vlan_stacks_up_to_the_limit_are_looked_through_and_deeper_ones_counted() {
    // 1 to 8 tags (802.1ad outermost, then 802.1Q): analysed, with the outermost VLAN id; more
    // than decode.max_vlan_depth: vlan_too_deep, never not_ip.
    for depth in 1..=10u16 {
        let tags: Vec<(u16, u16)> =
            (0..depth).map(|i| (if i == 0 { 0x88a8 } else { 0x8100 }, 100 + i)).collect();
        let f = eth(&tags, 0x0800, &inner_dns_ip());
        let (d, an) = run(LinkType::Ethernet, &f);
        if depth <= 8 {
            let d = d.unwrap_or_else(|| panic!("{depth} tags decode"));
            assert_eq!((d.ports(), d.vlan), ((40000, 53), Some(100)), "{depth} tags");
            assert_eq!(an.total(), 0, "{depth} tags");
        } else {
            assert!(d.is_none());
            assert_eq!((an.get(Anomaly::VlanTooDeep), an.get(Anomaly::NotIp)), (1, 0), "{depth} tags");
        }
    }
    // The limit is a setting, and a deep stack inside a VXLAN mirror obeys it too.
    let tags = [(0x8100, 7); 5];
    let f = eth(&tags, 0x0800, &inner_dns_ip());
    let opts = DecodeOptions { max_vlan_depth: 4, ..DecodeOptions::default() };
    let mut an = Anomalies::default();
    assert!(decode(LinkType::Ethernet, &f, &opts, &mut an).is_none());
    assert_eq!(an.get(Anomaly::VlanTooDeep), 1);
    let outer = eth(&[], 0x0800, &ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, &udp(5000, 4789, &vxlan(9, &f))));
    let (d, an) = run(LinkType::Ethernet, &outer);
    assert_eq!(d.map(|d| (d.ports(), d.vlan)), Some(((40000, 53), Some(7))));
    assert_eq!(an.total(), 0);
    let mut an = Anomalies::default();
    assert!(decode(LinkType::Ethernet, &outer, &opts, &mut an).is_none());
    assert_eq!(an.get(Anomaly::VlanTooDeep), 1);
}
