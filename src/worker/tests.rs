//! The worker adds the mirror's `tunnel` to every alert about tunnelled traffic, whichever hook
//! raised it and whether or not the detector recorded it, and drops mirror transport before
//! any detector sees it.

use super::*;
use crate::alert::Signature;
use crate::decode::testutil::{eth, ipv4, udp, vxlan};
use crate::detect::PacketCtx;
use std::net::IpAddr;

const SIG: Signature = Signature {
    id: 9_199_999,
    rev: 1,
    msg: "SIPHON test",
    category: "Not Suspicious Traffic",
    severity: 3,
    mitre: &[],
};

/// Raises one alert per packet and, once it has seen one, one per tick about 10.99.0.14, never touching the tunnel;
/// counts the packets it was shown.
struct Probe {
    packets: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Detector for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        self.packets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out.push(Alert::build("probe", &SIG, c.ts, c.pkt.src, c.pkt.dst).episode("p".into(), 1.0).finish());
    }
    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, _e: &Env, out: &mut Vec<Alert>) {
        if self.packets.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return;
        }
        let client = IpAddr::from([10, 99, 0, 14]);
        let server = IpAddr::from([198, 51, 100, 53]);
        out.push(Alert::build("probe", &SIG, now, client, server).episode("t".into(), 1.0).finish());
    }
}

fn mirrored_query() -> Vec<u8> {
    let inner = ipv4([10, 99, 0, 14], [198, 51, 100, 53], 17, &udp(40000, 53, b"\x12\x34\x01\x00\x00\x01"));
    let outer = ipv4(
        [10, 99, 250, 1],
        [10, 99, 250, 2],
        17,
        &udp(51000, 4789, &vxlan(42, &eth(&[], 0x0800, &inner))),
    );
    eth(&[], 0x0800, &outer)
}

fn port_unreachable() -> Vec<u8> {
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&mirrored_query()[14..14 + 28]);
    eth(&[], 0x0800, &ipv4([10, 99, 250, 2], [10, 99, 250, 1], 1, &icmp))
}

#[test]
fn alerts_from_packets_and_ticks_carry_the_tunnel_and_transport_is_never_seen() {
    let mut config = Config::default();
    config.alerts.max_per_minute = 1000;
    let mut w = Worker::new(&config);
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    w.detectors = vec![Box::new(Probe { packets: seen.clone() })];
    // The probe wants every packet; the lists by class were built for the default detectors
    // (whose first, dns_tunnel, wants none).
    w.packet_subs = std::array::from_fn(|_| vec![0]);
    let mut alerts = Vec::new();
    let f = mirrored_query();
    let u = port_unreachable();
    w.process(Timestamp::from_parts(100, 0), LinkType::Ethernet, &f, f.len() as u32, &mut |a| alerts.push(a));
    w.process(Timestamp::from_parts(100, 1000), LinkType::Ethernet, &u, u.len() as u32, &mut |a| {
        alerts.push(a)
    });
    w.process(Timestamp::from_parts(103, 0), LinkType::Ethernet, &u, u.len() as u32, &mut |a| alerts.push(a));
    w.finish(&mut |a| alerts.push(a));
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1, "the ICMP errors never reach a detector");
    assert_eq!(w.stats.mirror.transport_icmp_error, 2);
    assert_eq!(w.stats.flows.created, 1);
    let by_episode =
        |e: &str| alerts.iter().find(|a| a.episode == e).unwrap_or_else(|| panic!("{e}: {alerts:?}"));
    for e in ["p", "t"] {
        let a = by_episode(e);
        let t = a.tunnel.as_ref().unwrap_or_else(|| panic!("{e}: no tunnel"));
        assert_eq!(
            (t.src_ip.as_str(), t.dest_ip.as_str(), t.proto.as_str()),
            ("10.99.250.1", "10.99.250.2", "VXLAN")
        );
        assert_eq!(a.siphon.evidence["vxlan_vni"], 42);
    }
}

/// Records every volume hand-over, and asks for one every `budget` bytes.
struct VolumeLog {
    log: std::sync::Arc<std::sync::Mutex<Vec<(Timestamp, Volume, bool)>>>,
    budget: u64,
}

impl Detector for VolumeLog {
    fn name(&self) -> &'static str {
        "volume_log"
    }
    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, _out: &mut Vec<Alert>) -> u64 {
        if let Ok(mut l) = self.log.lock() {
            l.push((v.ts, v.delta, v.first));
        }
        self.budget
    }
}

#[test]
fn flow_traffic_reaches_the_volume_hook_first_at_budget_per_second_and_at_the_end() {
    let mut w = Worker::new(&Config::default());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    w.detectors = vec![Box::new(VolumeLog { log: log.clone(), budget: 1000 })];
    let out = |n: usize| {
        eth(&[], 0x0800, &ipv4([10, 99, 0, 5], [203, 0, 113, 9], 17, &udp(40000, 9999, &vec![7; n])))
    };
    let back = eth(&[], 0x0800, &ipv4([203, 0, 113, 9], [10, 99, 0, 5], 17, &udp(9999, 40000, b"ok")));
    let feed = |w: &mut Worker, secs: u64, nanos: u64, f: &[u8]| {
        w.process(Timestamp::from_parts(secs, nanos), LinkType::Ethernet, f, f.len() as u32, &mut |_| {})
    };
    let big = out(472); // 500 IP bytes
    feed(&mut w, 100, 0, &big); // first packet: handed over at once
    feed(&mut w, 100, 1, &back); // 30 bytes in, under the budget
    feed(&mut w, 100, 2, &big); // 530 unflushed
    feed(&mut w, 100, 3, &big); // 1030 ≥ 1000: handed over
    feed(&mut w, 100, 4, &back); // pending...
    feed(&mut w, 101, 0, &back); // new second: the pending packet goes first, with its own time
    w.finish(&mut |_| {}); // the rest at the end
    let l = log.lock().map(|l| l.clone()).unwrap_or_default();
    let got: Vec<(u64, [u32; 2], [u32; 2], bool)> =
        l.iter().map(|(ts, v, first)| (ts.0, v.bytes, v.pkts, *first)).collect();
    let t = |s: u64, n: u64| Timestamp::from_parts(s, n).0;
    assert_eq!(
        got,
        vec![
            (t(100, 0), [500, 0], [1, 0], true),
            (t(100, 3), [1000, 30], [2, 1], false),
            (t(100, 4), [0, 30], [0, 1], false),
            (t(101, 0), [0, 30], [0, 1], false),
        ]
    );
    // Nothing lost or counted twice.
    let total: u64 = l.iter().map(|(_, v, _)| v.total_bytes()).sum();
    assert_eq!(total, 3 * 500 + 3 * 30);
}
