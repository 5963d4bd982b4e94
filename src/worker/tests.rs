//! The worker adds the mirror's `tunnel` to every alert about tunnelled traffic, whichever hook
//! raised it and whether or not the detector recorded it, and drops mirror transport before
//! any detector sees it.

use super::*;
use crate::alert::Signature;
use crate::decode::testutil::{eth, ipv4, udp, vxlan};
use crate::detect::{PacketCtx, VolumeInterest};
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
    w.set_detectors(vec![Box::new(Probe { packets: seen.clone() })]);
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

type Log = std::sync::Arc<std::sync::Mutex<Vec<(Timestamp, Timestamp, Volume, bool)>>>;

/// Records every volume hand-over, and asks for one every `budget` bytes.
struct VolumeLog {
    log: Log,
    budget: u64,
    interest: VolumeInterest,
}

impl VolumeLog {
    fn new(log: &Log, budget: u64, interest: VolumeInterest) -> VolumeLog {
        VolumeLog { log: log.clone(), budget, interest }
    }
}

impl Detector for VolumeLog {
    fn name(&self) -> &'static str {
        "volume_log"
    }
    fn volume_interest(&self) -> VolumeInterest {
        self.interest
    }
    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, _out: &mut Vec<Alert>) -> u64 {
        if let Ok(mut l) = self.log.lock() {
            l.push((v.ts, v.since, v.delta, v.first));
        }
        self.budget
    }
}

#[test]
fn flow_traffic_reaches_the_volume_hook_first_at_budget_after_a_pause_per_period_and_at_the_end() {
    let mut w = Worker::new(&Config::default());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    w.set_detectors(vec![Box::new(VolumeLog::new(&log, 1000, VolumeInterest::Every))]);
    assert_eq!(w.volume_period, 5, "no slots asked for: the longest period");
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
    feed(&mut w, 101, 0, &back); // under a second later, same period (100-104 s): still pending
    feed(&mut w, 103, 0, &back); // after a 2 s pause: the two before go first, with their times
    feed(&mut w, 105, 500_000_000, &back); // a new period: its first tick hands the 103 s one over
    feed(&mut w, 105, 700_000_000, &back); // pending...
    w.finish(&mut |_| {}); // the rest at the end
    let l = log.lock().map(|l| l.clone()).unwrap_or_default();
    let got: Vec<_> =
        l.iter().map(|(ts, since, v, first)| (ts.0, since.0, v.bytes, v.pkts, *first)).collect();
    let t = |s: u64, n: u64| Timestamp::from_parts(s, n).0;
    assert_eq!(
        got,
        vec![
            (t(100, 0), t(100, 0), [500, 0], [1, 0], true),
            // (`since` is kept in whole microseconds: here the nanoseconds between are lost.)
            (t(100, 3), t(100, 3), [1000, 30], [2, 1], false),
            (t(101, 0), t(100, 1_000), [0, 60], [0, 2], false),
            (t(103, 0), t(103, 0), [0, 30], [0, 1], false),
            (t(105, 700_000_000), t(105, 500_000_000), [0, 60], [0, 2], false),
        ]
    );
    // Nothing lost or counted twice.
    let total: u64 = l.iter().map(|(_, _, v, _)| v.total_bytes()).sum();
    assert_eq!(total, 3 * 500 + 6 * 30);
}

#[test]
fn the_volume_period_divides_every_subscribers_slot() {
    use super::volume_period;
    let s = 1_000_000_000;
    assert_eq!(volume_period(None), 5);
    assert_eq!(volume_period(Some(u64::MAX)), 5);
    assert_eq!(volume_period(Some(10 * s)), 5, "proxyware's 10 s buckets");
    assert_eq!(volume_period(Some(450 * s)), 5, "egress's 1 h windows: 7.5 min slots");
    assert_eq!(volume_period(Some(8 * s)), 4);
    assert_eq!(volume_period(Some(3 * s)), 3);
    assert_eq!(volume_period(Some(7 * s)), 1);
    assert_eq!(volume_period(Some(1_250_000_000)), 1, "a 10 s window's slots");
    assert_eq!(volume_period(Some(s / 2)), 1, "finer than a second: the finest there is");
    // The default detectors.
    let w = Worker::new(&Config::default());
    assert_eq!(w.volume_period, 5);
}

/// A TCP segment between `src` and `dst` with `flags` and `payload` (checksums left zero).
fn tcp_frame(src: [u8; 4], dst: [u8; 4], ports: (u16, u16), flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&ports.0.to_be_bytes());
    t.extend_from_slice(&ports.1.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    eth(&[], 0x0800, &ipv4(src, dst, 6, &t))
}

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

fn log_of(l: &Log) -> Vec<(u64, [u32; 2], [u32; 2], bool)> {
    let l = l.lock().map(|l| l.clone()).unwrap_or_default();
    l.iter().map(|(ts, _, v, first)| (ts.0, v.bytes, v.pkts, *first)).collect()
}

#[test]
fn an_unanswered_inbound_syn_is_handed_only_to_detectors_that_want_probes_at_its_end() {
    let mut w = Worker::new(&Config::default());
    let (every, answered) = (Log::default(), Log::default());
    w.set_detectors(vec![
        Box::new(VolumeLog::new(&every, 1000, VolumeInterest::Every)),
        Box::new(VolumeLog::new(&answered, 1000, VolumeInterest::Answered)),
    ]);
    // Outside → home, bare SYNs (a retransmission a second later), never answered.
    let syn = tcp_frame([203, 0, 113, 9], [10, 99, 0, 5], (40000, 22), SYN, b"");
    for secs in [100, 101] {
        w.process(Timestamp::from_parts(secs, 0), LinkType::Ethernet, &syn, syn.len() as u32, &mut |_| {});
    }
    w.run_tick();
    assert!(log_of(&every).is_empty() && log_of(&answered).is_empty(), "held while unanswered");
    w.finish(&mut |_| {});
    let t = |s: u64| Timestamp::from_parts(s, 0).0;
    assert_eq!(log_of(&every), vec![(t(101), [80, 0], [2, 0], true)], "all of it, once, at the end");
    assert!(log_of(&answered).is_empty(), "an unanswered probe never reaches `Answered`");
}

#[test]
fn unanswered_inbound_datagrams_are_held_like_bare_syns_until_the_home_host_answers() {
    // A UDP flood's datagrams carry payload, but the home host sends nothing back: held, and
    // handed only to `Every` at the end (issue 19). A datagram the home host answers is a
    // session: everything held goes to both, with its own time.
    let mut w = Worker::new(&Config::default());
    let (every, answered) = (Log::default(), Log::default());
    w.set_detectors(vec![
        Box::new(VolumeLog::new(&every, 1000, VolumeInterest::Every)),
        Box::new(VolumeLog::new(&answered, 1000, VolumeInterest::Answered)),
    ]);
    let (outside, home) = ([203, 0, 113, 9], [10, 99, 0, 5]);
    let flood = eth(&[], 0x0800, &ipv4(outside, home, 17, &udp(40000, 7000, &[0x42; 32])));
    let query = eth(&[], 0x0800, &ipv4(outside, home, 17, &udp(40001, 123, &[0x23; 48])));
    let reply = eth(&[], 0x0800, &ipv4(home, outside, 17, &udp(123, 40001, &[0x24; 48])));
    let at = |s: u64| Timestamp::from_parts(s, 0);
    for (secs, f) in [(100, &flood), (100, &query), (101, &flood), (102, &reply)] {
        w.process(at(secs), LinkType::Ethernet, f, f.len() as u32, &mut |_| {});
    }
    w.run_tick();
    w.finish(&mut |_| {});
    let (t, ip) = (|s: u64| at(s).0, 20 + 8);
    let (flood_len, query_len) = ((ip + 32) as u32, (ip + 48) as u32);
    let session = vec![(t(100), [query_len, 0], [1, 0], true), (t(102), [0, query_len], [0, 1], false)];
    assert_eq!(log_of(&answered), session, "only the answered datagram reaches `Answered`");
    let mut all = log_of(&every);
    all.sort();
    let mut want = session.clone();
    want.push((t(101), [2 * flood_len, 0], [2, 0], true));
    want.sort();
    assert_eq!(all, want, "the unanswered datagrams go to `Every`, once, at the end");
}

#[test]
fn an_answered_inbound_syn_is_counted_in_full_with_its_flow() {
    let mut w = Worker::new(&Config::default());
    let (every, answered) = (Log::default(), Log::default());
    w.set_detectors(vec![
        Box::new(VolumeLog::new(&every, 1000, VolumeInterest::Every)),
        Box::new(VolumeLog::new(&answered, 1000, VolumeInterest::Answered)),
    ]);
    let (client, server, ports) = ([203, 0, 113, 9], [10, 99, 0, 5], (40000, 22));
    let frames = [
        (100, tcp_frame(client, server, ports, SYN, b"")),
        (101, tcp_frame(server, client, (ports.1, ports.0), SYN_ACK, b"")),
        (101, tcp_frame(client, server, ports, ACK, b"")),
        (102, tcp_frame(client, server, ports, PSH_ACK, &[7; 60])),
    ];
    for (secs, f) in &frames {
        w.process(Timestamp::from_parts(*secs, 0), LinkType::Ethernet, f, f.len() as u32, &mut |_| {});
    }
    w.finish(&mut |_| {});
    let t = |s: u64| Timestamp::from_parts(s, 0).0;
    // The SYN waits for the answer, then goes first with its own time and counts the flow;
    // nothing is lost or counted twice.
    let want = vec![
        (t(100), [40, 0], [1, 0], true),
        (t(101), [40, 40], [1, 1], false),
        (t(102), [100, 0], [1, 0], false),
    ];
    assert_eq!(log_of(&answered), want);
    assert_eq!(log_of(&every), want);
}

#[test]
fn a_flood_of_bare_inbound_syns_builds_no_egress_state_and_an_answered_one_is_counted_in_full() {
    let sets = ["egress_volume.volume=1h:10KB".to_string(), "egress_volume.host_volume=1h:10KB".to_string()];
    let config = Config::load(None, &sets).unwrap_or_default();
    let section = config.detectors.get::<crate::detect::egress_volume::EgressVolumeConfig>();
    assert_eq!(section.map(|c| c.volume.len()), Some(1), "the overrides took");
    let mut w = Worker::new(&config);
    let feed = |w: &mut Worker, nanos: u64, f: &[u8], alerts: &mut Vec<Alert>| {
        let ts = Timestamp(Timestamp::from_parts(100, 0).0 + nanos);
        w.process(ts, LinkType::Ethernet, f, f.len() as u32, &mut |a| alerts.push(a));
    };
    let mut alerts = Vec::new();
    let home = [10, 99, 0, 5];
    for i in 0..200u16 {
        let f = tcp_frame([203, 0, 113, i as u8], home, (1024 + i, 80), SYN, b"");
        feed(&mut w, u64::from(i), &f, &mut alerts);
    }
    w.refresh_stats();
    assert_eq!(w.stats.detectors["egress_volume"].tracked, 0, "no pair or host for unanswered SYNs");
    // One of them answered, then 10 × 1500 IP bytes out of the home host: the pair counts the
    // flow from its SYN on, and the host one destination, not the 200 sources that probed it.
    let (client, ports) = ([203, 0, 113, 7], (80, 1024 + 7));
    feed(&mut w, 1000, &tcp_frame(home, client, ports, SYN_ACK, b""), &mut alerts);
    for k in 0..10 {
        feed(&mut w, 2000 + k, &tcp_frame(home, client, ports, PSH_ACK, &[7; 1460]), &mut alerts);
    }
    w.refresh_stats();
    assert_eq!(w.stats.detectors["egress_volume"].tracked, 2, "one pair and its home host");
    let pair = alerts.iter().find(|a| a.siphon.evidence.get("destination").is_some());
    let host = alerts.iter().find(|a| a.siphon.evidence.get("destinations").is_some());
    let (Some(pair), Some(host)) = (pair, host) else { panic!("both windows fire: {alerts:?}") };
    for a in [pair, host] {
        assert_eq!(a.siphon.evidence["flows"], 1);
        assert_eq!(a.siphon.evidence["total_bytes_in"], 40, "the SYN's IP bytes");
    }
    assert_eq!(host.siphon.evidence["destinations"], 1);
}

#[test]
fn unanswered_inbound_syns_to_many_home_hosts_build_no_proxyware_hosts_at_their_end() {
    let mut w = Worker::new(&Config::default());
    for i in 0..200u16 {
        let home = [10, 99, (i >> 8) as u8 + 1, i as u8];
        let f = tcp_frame([203, 0, 113, 9], home, (40000, 443), SYN, b"");
        let ts = Timestamp(Timestamp::from_parts(100, 0).0 + u64::from(i));
        w.process(ts, LinkType::Ethernet, &f, f.len() as u32, &mut |_| {});
    }
    // Every probe ends here and its traffic goes to the detectors that want probes: not
    // `proxyware`, which counts what home hosts send (these sent nothing).
    w.finish(&mut |_| {});
    assert_eq!(w.stats.detectors["proxyware"].tracked, 0, "no host entry for a probed host");
}
