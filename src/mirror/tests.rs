use super::*;
use crate::decode::packet::DecodeOptions;
use crate::decode::testutil::{eth, ipv4, udp, vxlan};
use crate::decode::{Anomalies, LinkType, decode};
use std::sync::Arc;

const VTEP: [u8; 4] = [10, 99, 250, 1];
const SENSOR: [u8; 4] = [10, 99, 250, 2];

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

fn dns() -> Vec<u8> {
    ipv4([10, 99, 0, 14], [198, 51, 100, 53], 17, &udp(40000, 53, b"\x12\x34\x01\x00\x00\x01"))
}

fn vxlan_packet(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    ipv4(src, dst, 17, &udp(51000, 4789, &vxlan(42, &eth(&[], 0x0800, &dns()))))
}

/// The sensor's port-unreachable about a VXLAN packet: IP header + 8 bytes quoted.
fn port_unreachable() -> Vec<u8> {
    let quoted = &vxlan_packet(VTEP, SENSOR)[..28];
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(quoted);
    ipv4(SENSOR, VTEP, 1, &icmp)
}

fn filter(g: &GeneralConfig, sensor: Vec<IpAddr>) -> MirrorFilter {
    MirrorFilter::new(g, Arc::new(MirrorShared::new(g, sensor)))
}

fn check(f: &mut MirrorFilter, packet: &[u8]) -> Option<Transport> {
    let d = decode(LinkType::RawIp, packet, &DecodeOptions::default(), &mut Anomalies::default()).unwrap();
    let before = f.stats.transport;
    let admitted = f.admit(&d);
    assert_eq!(admitted, f.stats.transport == before);
    if admitted { None } else { f.classify(&d) }
}

#[test]
fn decapsulated_packets_are_analysed_and_teach_their_pair() {
    let mut f = filter(&GeneralConfig::default(), Vec::new());
    assert_eq!(check(&mut f, &vxlan_packet(VTEP, SENSOR)), None);
    assert_eq!(f.stats.decapsulated, 1);
    assert!(f.shared.pairs.contains(ip(SENSOR), ip(VTEP)), "either direction");
    // A garbled VXLAN packet of the learned pair is transport...
    let garbled = ipv4(VTEP, SENSOR, 17, &udp(51000, 4789, &[0, 0, 0, 0, 0, 0, 42, 0]));
    assert_eq!(check(&mut f, &garbled), Some(Transport::Undecapsulated));
    // ...from another pair it is analysed as ordinary UDP (a mirror we know nothing about).
    let stranger = ipv4([192, 0, 2, 9], SENSOR, 17, &udp(51000, 4789, &[0, 0, 0, 0, 0, 0, 42, 0]));
    assert_eq!(check(&mut f, &stranger), None);
    // Ordinary traffic between the learned pair is still analysed: learning cannot hide traffic.
    assert_eq!(check(&mut f, &ipv4(VTEP, SENSOR, 17, &udp(5000, 80, b"x"))), None);
    f.refresh_stats();
    assert_eq!(f.stats.pairs_learned, 1);
    assert_eq!(f.stats.transport_undecapsulated, 1);
}

#[test]
fn icmp_errors_about_tunnels_are_transport() {
    let mut f = filter(&GeneralConfig::default(), Vec::new());
    assert_eq!(check(&mut f, &port_unreachable()), Some(Transport::IcmpError));
    // Protocol unreachable about GRE (a collector without GRE support).
    let mut gre = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 1];
    gre.extend_from_slice(&[0; 20]);
    let quoted = &ipv4([192, 0, 2, 250], SENSOR, 47, &gre)[..28];
    let mut icmp = vec![3, 2, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(quoted);
    assert_eq!(check(&mut f, &ipv4(SENSOR, [192, 0, 2, 250], 1, &icmp)), Some(Transport::IcmpError));
    // A port-unreachable about a DNS query is traffic.
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&dns()[..28]);
    assert_eq!(check(&mut f, &ipv4([198, 51, 100, 53], [10, 99, 0, 14], 1, &icmp)), None);
    // An echo request is traffic; a cut quote is traffic.
    assert_eq!(check(&mut f, &ipv4(SENSOR, VTEP, 1, &[8, 0, 0, 0, 0, 1, 0, 1, 0x45])), None);
    assert_eq!(check(&mut f, &ipv4(SENSOR, VTEP, 1, &[3, 3, 0, 0, 0, 0, 0, 0, 0x45, 0])), None);
}

#[test]
fn icmpv6_errors_about_tunnels_are_transport() {
    use crate::decode::testutil::ipv6;
    let mut f = filter(&GeneralConfig::default(), Vec::new());
    let quoted = ipv6(1, 2, 17, &udp(51000, 4789, &[0x08, 0, 0, 0, 0, 0, 42, 0]));
    let mut icmp = vec![1, 4, 0, 0, 0, 0, 0, 0]; // destination unreachable, port unreachable
    icmp.extend_from_slice(&quoted[..48]);
    assert_eq!(check(&mut f, &ipv6(2, 1, 58, &icmp)), Some(Transport::IcmpError));
    let mut echo = vec![128, 0, 0, 0, 0, 1, 0, 1];
    echo.extend_from_slice(&quoted[..48]);
    assert_eq!(check(&mut f, &ipv6(2, 1, 58, &echo)), None);
}

#[test]
fn keepalives_are_transport() {
    let mut f = filter(&GeneralConfig::default(), Vec::new());
    let reply = ipv4(SENSOR, VTEP, 47, &[0, 0, 0, 0]);
    let mut g = vec![0, 0, 0x08, 0x00];
    g.extend_from_slice(&reply);
    assert_eq!(check(&mut f, &ipv4(VTEP, SENSOR, 47, &g)), Some(Transport::Keepalive));
}

#[test]
fn configured_sources_exclude_everything_not_decapsulated() {
    let g =
        GeneralConfig { mirror_sources: vec!["10.99.250.0/29".parse().unwrap()], ..GeneralConfig::default() };
    let mut f = filter(&g, Vec::new());
    assert_eq!(check(&mut f, &ipv4(SENSOR, VTEP, 17, &udp(5000, 161, b"x"))), Some(Transport::Configured));
    assert_eq!(check(&mut f, &vxlan_packet(VTEP, SENSOR)), None, "the inner packet is analysed");
    assert_eq!(check(&mut f, &ipv4([10, 99, 0, 5], [192, 0, 2, 1], 6, &[0; 20])), None);
    assert_eq!(f.stats.transport_configured, 1);
}

#[test]
fn the_sensors_own_address_makes_failed_tunnels_transport_before_any_is_learned() {
    let mut f = filter(&GeneralConfig::default(), vec![ip(SENSOR)]);
    let cut = ipv4([192, 0, 2, 250], SENSOR, 47, &[0x10, 0]);
    assert_eq!(check(&mut f, &cut), Some(Transport::Undecapsulated));
    let elsewhere = ipv4([192, 0, 2, 250], [192, 0, 2, 251], 47, &[0x10, 0]);
    assert_eq!(check(&mut f, &elsewhere), None);
}

#[test]
fn auto_off_learns_nothing() {
    let g = GeneralConfig { mirror_auto: false, ..GeneralConfig::default() };
    let mut f = filter(&g, vec![ip(SENSOR)]);
    assert_eq!(check(&mut f, &vxlan_packet(VTEP, SENSOR)), None);
    assert_eq!(check(&mut f, &port_unreachable()), None);
    assert!(f.shared.pairs.is_empty());
}

#[test]
fn pair_table_is_bounded_and_shared() {
    let pairs = MirrorPairs::new(4);
    let mut learned = 0;
    for i in 0..20u8 {
        if pairs.learn(ip([10, 99, 250, i]), ip(SENSOR)) {
            learned += 1;
        }
    }
    assert_eq!((learned, pairs.len()), (4, 4));
    assert_eq!(pairs.refused.load(Ordering::Relaxed), 16);
    assert!(pairs.contains(ip(SENSOR), ip([10, 99, 250, 0])));
    assert!(!pairs.contains(ip(SENSOR), ip([10, 99, 250, 19])));
    assert!(!pairs.learn(ip([10, 99, 250, 0]), ip(SENSOR)), "already known");
    // Two workers, one table.
    let g = GeneralConfig::default();
    let shared = Arc::new(MirrorShared::new(&g, Vec::new()));
    let mut a = MirrorFilter::new(&g, shared.clone());
    let mut b = MirrorFilter::new(&g, shared);
    assert_eq!(check(&mut a, &vxlan_packet(VTEP, SENSOR)), None);
    let garbled = ipv4(SENSOR, VTEP, 17, &udp(51000, 4789, &[0; 8]));
    assert_eq!(check(&mut b, &garbled), Some(Transport::Undecapsulated));
}

#[test]
fn inner_hosts_remember_their_last_tunnel() {
    let mut f = filter(&GeneralConfig::default(), Vec::new());
    assert_eq!(check(&mut f, &vxlan_packet(VTEP, SENSOR)), None);
    let t = f.tunnel_of(ip([10, 99, 0, 14])).expect("inner client remembered");
    assert_eq!((t.outer_src, t.ids.vni), (ip(VTEP), Some(42)));
    assert!(f.tunnel_of(ip([198, 51, 100, 53])).is_some());
    assert!(f.tunnel_of(ip(VTEP)).is_none(), "outer addresses are not inner hosts");
}
