//! The detector end to end on synthetic frames through a [`Worker`] (flow table, ticks,
//! suppression): outcomes, timeouts, ICMP attribution, one-way views, allow-list, sweeps, and
//! bounded memory under a scan far larger than any table.

use crate::alert::Alert;
use crate::config::Config;
use crate::decode::LinkType;
use crate::detect::scan::ScanConfig;
use crate::time::Timestamp;
use crate::worker::Worker;
use etherparse::{PacketBuilder, TcpOptionElement};
use serde_json::Value;

type Ip = [u8; 4];

struct Net {
    w: Worker,
    t: u64,
    alerts: Vec<Alert>,
}

fn config(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::default();
    c.detectors.get_mut::<crate::detect::dns_tunnel::DnsTunnelConfig>().expect("dns_tunnel").enabled = false;
    f(&mut c);
    c
}

impl Net {
    fn new(c: Config) -> Net {
        Net { w: Worker::new(&c), t: 1_000_000_000_000, alerts: Vec::new() }
    }
    /// Advances packet time by `us` microseconds.
    fn wait_us(&mut self, us: u64) {
        self.t += us * 1000;
    }
    fn send(&mut self, frame: &[u8]) {
        self.t += 10_000;
        let alerts = &mut self.alerts;
        self.w.process(Timestamp(self.t), LinkType::Ethernet, frame, frame.len() as u32, &mut |a| {
            alerts.push(a)
        });
    }
    /// Lets packet time pass with a tick every second (a packet of unrelated noise carries it).
    fn idle(&mut self, secs: u64) {
        for _ in 0..secs {
            self.wait_us(1_000_000);
            let noise = udp([192, 168, 77, 1], 5353, [224, 0, 0, 251], 5353, b"x");
            self.send(&noise);
        }
    }
    fn scan_alerts(&self) -> Vec<Value> {
        self.alerts
            .iter()
            .filter(|a| a.siphon.detector == "scan")
            .map(|a| serde_json::to_value(a).unwrap())
            .collect()
    }
}

fn build(b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn ip4(src: Ip, dst: Ip) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64)
}

/// An operating system's SYN (Linux options), or nmap's raw SYN.
fn syn(src: Ip, sport: u16, dst: Ip, dport: u16, raw: bool) -> Vec<u8> {
    use TcpOptionElement::*;
    let b = if raw {
        ip4(src, dst).tcp(sport, dport, 7, 1024).syn().options(&[MaximumSegmentSize(1460)]).unwrap()
    } else {
        let opts = [
            MaximumSegmentSize(1460),
            SelectiveAcknowledgementPermitted,
            Timestamp(1, 0),
            Noop,
            WindowScale(7),
        ];
        ip4(src, dst).tcp(sport, dport, 7, 64240).syn().options(&opts).unwrap()
    };
    build(b, &[])
}

fn tcp(src: Ip, sport: u16, dst: Ip, dport: u16, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = ip4(src, dst).tcp(sport, dport, 100, 501);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(8),
            'R' => b.rst(),
            'F' => b.fin(),
            'P' => b.psh(),
            'U' => b.urg(0),
            _ => b,
        };
    }
    build(b, payload)
}

fn udp(src: Ip, sport: u16, dst: Ip, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ip4(src, dst).udp(sport, dport).write(&mut out, payload).unwrap();
    out
}

fn echo(src: Ip, dst: Ip, id: u16, reply: bool) -> Vec<u8> {
    let b = ip4(src, dst);
    let b = if reply { b.icmpv4_echo_reply(id, 1) } else { b.icmpv4_echo_request(id, 1) };
    let mut out = Vec::new();
    b.write(&mut out, &[0x61; 56]).unwrap();
    out
}

/// ICMP port (code 3) or host (code 1) unreachable from `from` to `prober`, quoting a UDP
/// datagram `prober:sport -> target:dport`.
fn unreachable(from: Ip, prober: Ip, sport: u16, target: Ip, dport: u16, code: u8) -> Vec<u8> {
    let mut quote = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0];
    quote.extend_from_slice(&prober);
    quote.extend_from_slice(&target);
    quote.extend_from_slice(&sport.to_be_bytes());
    quote.extend_from_slice(&dport.to_be_bytes());
    quote.extend_from_slice(&[0, 8, 0, 0]);
    let mut out = Vec::new();
    let ty = etherparse::Icmpv4Type::DestinationUnreachable(if code == 3 {
        etherparse::icmpv4::DestUnreachableHeader::Port
    } else {
        etherparse::icmpv4::DestUnreachableHeader::Host
    });
    ip4(from, prober).icmpv4(ty).write(&mut out, &quote).unwrap();
    out
}

const HOME: Ip = [10, 99, 0, 31];

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

#[test]
fn connect_sweep_alerts_after_four_refusals_once() {
    let mut n = Net::new(config(|_| {}));
    for h in 1..=40u8 {
        n.send(&syn(HOME, 40000 + u16::from(h), [203, 0, 113, h], 80, false));
        n.send(&tcp([203, 0, 113, h], 80, HOME, 40000 + u16::from(h), "RA", &[]));
    }
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1, "one alert per episode: {a:?}");
    let a = &a[0];
    assert_eq!(a["src_ip"], "10.99.0.31");
    assert_eq!(a["alert"]["signature_id"], 9_100_200);
    assert_eq!(ev(a, "technique"), "connect");
    assert_eq!(ev(a, "shape"), "horizontal");
    assert_eq!(ev(a, "failed_probes"), 4, "TRW: 4 net failed first contacts");
    assert_eq!(ev(a, "port"), 80);
}

#[test]
fn busy_client_with_a_few_dead_peers_stays_quiet() {
    let mut n = Net::new(config(|_| {}));
    // 200 distinct servers on 443, one in seven refuses: a proxy or NAT gateway on a bad day.
    for i in 0..200u32 {
        let dst = [203, 0, (i / 250) as u8 + 113, (i % 250) as u8 + 1];
        let sport = 30000 + i as u16;
        n.send(&syn(HOME, sport, dst, 443, false));
        if i % 7 == 3 {
            n.send(&tcp(dst, 443, HOME, sport, "RA", &[]));
        } else {
            n.send(&tcp(dst, 443, HOME, sport, "SA", &[]));
            n.send(&tcp(HOME, sport, dst, 443, "A", &[]));
        }
    }
    assert!(n.scan_alerts().is_empty(), "{:?}", n.scan_alerts());
}

#[test]
fn retries_to_one_dead_service_are_one_first_contact() {
    let mut n = Net::new(config(|_| {}));
    for i in 0..50u16 {
        n.send(&syn(HOME, 50000 + i, [203, 0, 113, 9], 8443, false));
        n.send(&tcp([203, 0, 113, 9], 8443, HOME, 50000 + i, "RA", &[]));
    }
    assert!(n.scan_alerts().is_empty());
}

#[test]
fn silence_fails_on_timeout_when_the_return_path_is_visible() {
    let mut n = Net::new(config(|_| {}));
    // One answered connection: replies are visible on this tap.
    n.send(&syn(HOME, 1000, [198, 51, 100, 1], 443, false));
    n.send(&tcp([198, 51, 100, 1], 443, HOME, 1000, "SA", &[]));
    for h in 1..=6u8 {
        n.send(&syn(HOME, 2000, [192, 0, 2, h], 23, true));
    }
    assert!(n.scan_alerts().is_empty(), "undecided before the timeout");
    n.idle(4);
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1);
    assert_eq!(ev(&a[0], "technique"), "syn");
    assert_eq!(ev(&a[0], "unanswered"), 3, "3 crafted failures cross 4.6");
    assert!(ev(&a[0], "seconds_to_detect").as_f64().unwrap() >= 2.0);
    assert_eq!(ev(&a[0], "return_path_visible"), true);
}

#[test]
fn contacts_pending_when_the_capture_ends_are_no_evidence() {
    let mut n = Net::new(config(|_| {}));
    n.send(&syn(HOME, 1000, [198, 51, 100, 1], 443, false));
    n.send(&tcp([198, 51, 100, 1], 443, HOME, 1000, "SA", &[]));
    // Four OS SYNs to port 23 of hosts in four /24s; the capture ends before any timeout.
    for h in 1..=4u8 {
        n.send(&syn(HOME, 2000 + u16::from(h), [192, 0, h, 9], 23, false));
    }
    let alerts = &mut n.alerts;
    n.w.finish(&mut |a| alerts.push(a));
    assert!(n.scan_alerts().is_empty(), "{:?}", n.scan_alerts());
}

#[test]
fn icmp_unreachable_is_attributed_to_the_prober_and_target() {
    let mut n = Net::new(config(|_| {}));
    let target = [203, 0, 113, 12];
    // An unreachable sent to someone else counts nothing; one quoting a datagram never seen is
    // a refusal whose probe was out of view (asymmetric routing, a one-way tap).
    n.send(&udp([10, 99, 0, 77], 1111, target, 9, &[]));
    n.send(&unreachable(target, HOME, 1111, target, 9, 3));
    n.send(&unreachable(target, [10, 99, 0, 78], 1111, target, 9, 3));
    for (i, port) in [67u16, 68, 69, 135, 137, 138, 445, 520].iter().enumerate() {
        n.send(&udp(HOME, 46924, target, *port, &[]));
        n.send(&unreachable(target, HOME, 46924, target, *port, 3));
        let a = n.scan_alerts();
        if !a.is_empty() {
            assert_eq!(a[0]["src_ip"], "10.99.0.31");
            assert_eq!(ev(&a[0], "technique"), "udp");
            assert_eq!(ev(&a[0], "shape"), "vertical");
            assert_eq!(ev(&a[0], "rejected_icmp"), i as u64 + 2);
            assert_eq!(ev(&a[0], "refused_out_of_view"), 1);
            assert!(i < 5, "empty UDP probes are crafted: 5 refusals at most");
            return;
        }
    }
    panic!("no alert for a refused UDP port scan");
}

#[test]
fn router_unreachables_count_as_failures_once_answers_are_seen() {
    let mut n = Net::new(config(|_| {}));
    let router = [10, 99, 0, 254];
    // A router's unreachable says the path failed, not the host: like silence, it only counts
    // once this source is known to get answers.
    n.send(&udp(HOME, 5000, [192, 0, 2, 1], 161, b"\x30\x26"));
    n.send(&unreachable(router, HOME, 5000, [192, 0, 2, 1], 161, 1));
    n.send(&udp(HOME, 5001, [192, 0, 2, 2], 161, b"\x30\x26"));
    n.send(&unreachable(router, HOME, 5001, [192, 0, 2, 2], 161, 1));
    n.send(&syn(HOME, 1000, [198, 51, 100, 1], 443, false));
    n.send(&tcp([198, 51, 100, 1], 443, HOME, 1000, "SA", &[]));
    for h in 1..=4u8 {
        n.send(&udp(HOME, 5000, [192, 0, 2, 128 + h], 161, b"\x30\x26"));
        n.send(&unreachable(router, HOME, 5000, [192, 0, 2, 128 + h], 161, 1));
    }
    // SNMP with a payload weighs udp_weight: 4 refusals are not yet a scan ...
    assert!(n.scan_alerts().is_empty());
    for h in 5..=12u8 {
        n.send(&udp(HOME, 5000, [192, 0, 2, 128 + h], 161, b"\x30\x26"));
        n.send(&unreachable(router, HOME, 5000, [192, 0, 2, 128 + h], 161, 1));
    }
    // ... 7 are.
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1);
    assert_eq!(ev(&a[0], "failed_probes"), 7);
    assert_eq!(ev(&a[0], "unreachable_from_router"), 7);
}

#[test]
fn one_way_view_client_handshakes_are_implied_successes() {
    let mut n = Net::new(config(|_| {}));
    // Only the client's side is mirrored: SYN, then its own ACK and request.
    for h in 1..=60u8 {
        let dst = [203, 0, 113, h];
        n.send(&syn(HOME, 3000 + u16::from(h), dst, 80, false));
        n.send(&tcp(HOME, 3000 + u16::from(h), dst, 80, "A", &[]));
        n.send(&tcp(HOME, 3000 + u16::from(h), dst, 80, "PA", b"GET / HTTP/1.1\r\n\r\n"));
    }
    n.idle(5);
    assert!(n.scan_alerts().is_empty(), "{:?}", n.scan_alerts());
}

#[test]
fn one_way_view_stateless_scan_needs_more_silence() {
    let mut n = Net::new(config(|_| {}));
    for h in 1..=20u8 {
        n.send(&syn(HOME, 61000, [198, 51, 100, h], 3389, false));
    }
    n.idle(4);
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1);
    let f = ev(&a[0], "failed_probes").as_u64().unwrap();
    assert!((10..=20).contains(&f), "blind: unanswered weigh blind_weight ({f})");
    assert_eq!(ev(&a[0], "return_path_visible"), false);
}

#[test]
fn stealth_probes_fail_by_construction() {
    let mut n = Net::new(config(|_| {}));
    for h in 1..=3u8 {
        n.send(&tcp(HOME, 4444, [203, 0, 113, h], 22, "FPU", &[]));
    }
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1, "3 Xmas probes to distinct hosts: 3 × 1.5 failures");
    assert_eq!(ev(&a[0], "technique"), "xmas");
    assert_eq!(ev(&a[0], "stealth"), 3);
}

#[test]
fn allow_listed_scanner_is_quiet() {
    let mut n = Net::new(config(|c| {
        c.detectors.get_mut::<ScanConfig>().expect("scan section").allow_sources =
            vec!["10.99.0.0/28".parse().unwrap(), "10.99.0.31/32".parse().unwrap()]
    }));
    for h in 1..=40u8 {
        n.send(&syn(HOME, 40000, [203, 0, 113, h], 80, true));
        n.send(&tcp([203, 0, 113, h], 80, HOME, 40000, "RA", &[]));
    }
    assert!(n.scan_alerts().is_empty());
}

#[test]
fn inbound_and_internal_scans_get_their_signatures() {
    let mut n = Net::new(config(|_| {}));
    let atk = [198, 51, 100, 66];
    for h in 1..=5u8 {
        n.send(&syn(atk, 47048, [10, 99, 0, h], 445, true));
        n.send(&tcp([10, 99, 0, h], 445, atk, 47048, "RA", &[]));
        n.send(&syn(HOME, 47048, [10, 99, 0, 100 + h], 445, true));
        n.send(&tcp([10, 99, 0, 100 + h], 445, HOME, 47048, "RA", &[]));
    }
    let a = n.scan_alerts();
    let sig = |ip: &str| a.iter().find(|x| x["src_ip"] == ip).map(|x| x["alert"]["signature_id"].clone());
    assert_eq!(sig("198.51.100.66"), Some(9_100_202.into()));
    assert_eq!(sig("10.99.0.31"), Some(9_100_201.into()));
    assert_eq!(a.len(), 2);
}

#[test]
fn echo_sweep_of_live_hosts_alerts_monitoring_of_a_few_does_not() {
    let mut n = Net::new(config(|_| {}));
    for h in 1..=15u8 {
        n.send(&echo([10, 99, 0, 50], [198, 51, 100, h], u16::from(h), false));
        n.send(&echo([198, 51, 100, h], [10, 99, 0, 50], u16::from(h), true));
    }
    assert!(n.scan_alerts().is_empty(), "15 pinged hosts: monitoring");
    for h in 16..=40u8 {
        n.send(&echo([10, 99, 0, 50], [198, 51, 100, h], u16::from(h), false));
        n.send(&echo([198, 51, 100, h], [10, 99, 0, 50], u16::from(h), true));
    }
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1);
    assert_eq!(ev(&a[0], "technique"), "icmp_sweep");
    assert_eq!(ev(&a[0], "swept_hosts"), 20);
}

#[test]
fn memory_stays_bounded_under_a_huge_scan_and_a_source_flood() {
    let mut n = Net::new(config(|c| {
        c.flow.max_flows = 4096;
        c.detectors.get_mut::<ScanConfig>().expect("scan section").max_pending = 1000;
        c.detectors.get_mut::<ScanConfig>().expect("scan section").max_sources = 500;
    }));
    // 600k raw SYNs to distinct addresses (a /8's worth would be 16.7M; the state is the same),
    // a sixth of them refused, the rest silent; interleaved with 50k one-probe sources.
    for i in 0..600_000u32 {
        let dst = (0x0b00_0000u32 + i * 27).to_be_bytes();
        n.send(&syn(HOME, 40000, dst, 23, true));
        if i % 6 == 0 {
            n.send(&tcp(dst, 23, HOME, 40000, "RA", &[]));
        }
        if i % 12 == 0 {
            let src = (0xc633_0000u32 + i / 12).to_be_bytes();
            n.send(&syn(src, 1234, [10, 99, 0, 9], 22, false));
        }
        if i % 50_000 == 0 {
            n.idle(1);
        }
    }
    n.w.refresh_stats();
    let d = n.w.stats.detectors["scan"];
    assert!(d.tracked <= 500 + 1000, "sources + pending stay under their caps: {d:?}");
    assert!(d.evicted > 0, "evictions are counted");
    let a = n.scan_alerts();
    assert_eq!(a.iter().filter(|a| a["src_ip"] == "10.99.0.31").count(), 1);
}

#[test]
fn ping_sweep_into_dead_hosts_is_an_icmp_sweep() {
    let mut n = Net::new(config(|_| {}));
    n.send(&syn(HOME, 1000, [198, 51, 100, 1], 443, false));
    n.send(&tcp([198, 51, 100, 1], 443, HOME, 1000, "SA", &[]));
    n.send(&echo(HOME, [198, 51, 100, 1], 1, false));
    n.send(&echo([198, 51, 100, 1], HOME, 1, true));
    for h in 2..=9u8 {
        n.send(&echo(HOME, [198, 51, 100, h], u16::from(h), false));
    }
    n.idle(3);
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1);
    assert_eq!(ev(&a[0], "technique"), "icmp_sweep");
    assert_eq!(ev(&a[0], "trigger"), "horizontal_walk");
    assert_eq!(ev(&a[0], "failed_probes"), 5, "one success to make up, then 4 net");
}

#[test]
fn ipv6_scan_is_caught() {
    let mut n = Net::new(config(|_| {}));
    let me: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x31];
    for h in 1..=5u8 {
        let mut dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        dst[15] = h;
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6(me, dst, 64)
            .tcp(41000, 22, 7, 1024)
            .syn()
            .options(&[TcpOptionElement::MaximumSegmentSize(1440)])
            .unwrap()
            .write(&mut f, &[])
            .unwrap();
        n.send(&f);
        let mut r = Vec::new();
        PacketBuilder::ethernet2([2; 6], [1; 6])
            .ipv6(dst, me, 64)
            .tcp(22, 41000, 0, 0)
            .rst()
            .ack(8)
            .write(&mut r, &[])
            .unwrap();
        n.send(&r);
    }
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["src_ip"], "fd00::31");
    assert_eq!(ev(&a[0], "failed_probes"), 3);
    assert_eq!(ev(&a[0], "sample_targets")[0], "[2001:db8::1]:22/tcp");
}

#[test]
fn busy_mixed_network_raises_nothing() {
    // The benchmark's synthetic network: 16k clients, TLS/HTTP/DNS/QUIC/ping sessions to 250
    // servers and a resolver, 2000 in flight, every one answered.
    let mut n = Net::new(config(|_| {}));
    let mut g = crate::synth::MixedTraffic::new(7, 2000, 1_700_000_000_000_000);
    let mut f = Vec::new();
    for _ in 0..300_000 {
        g.next_frame(&mut f);
        let ts = Timestamp(g.ts_micros * 1000);
        let alerts = &mut n.alerts;
        n.w.process(ts, LinkType::Ethernet, &f, f.len() as u32, &mut |a| alerts.push(a));
    }
    assert!(n.scan_alerts().is_empty(), "{:?}", n.scan_alerts().first());
}

#[test]
fn a_scanner_flooding_the_pending_table_is_decided_before_its_timeouts() {
    let mut n =
        Net::new(config(|c| c.detectors.get_mut::<ScanConfig>().expect("scan section").max_pending = 1000));
    n.send(&syn(HOME, 1000, [198, 51, 100, 1], 443, false));
    n.send(&tcp([198, 51, 100, 1], 443, HOME, 1000, "SA", &[]));
    // A slow benign contact in flight from another host while the scanner floods.
    let other = [10, 99, 0, 60];
    n.send(&syn(other, 2000, [198, 51, 100, 2], 443, false));
    for i in 0..1200u32 {
        let dst = (0xc000_0200u32 + i).to_be_bytes();
        n.send(&syn(HOME, 40000, dst, 23, true));
    }
    let a = n.scan_alerts();
    assert_eq!(a.len(), 1, "decided by the flood's own evictions, not by 2 s timeouts");
    assert_eq!(a[0]["src_ip"], "10.99.0.31");
    assert!(n.t < 1_000_000_000_000 + 100_000_000, "within 0.1 s of packet time");
    n.send(&tcp([198, 51, 100, 2], 443, other, 2000, "SA", &[]));
    n.idle(3);
    assert_eq!(n.scan_alerts().len(), 1, "the other host's contact was not made a failure");
}

/// Three sources whose first contact is decided before their second (A: refused; B:
/// unanswered), or still awaits its answer then (C), each going on to scan.
fn newcomer_traffic(n: &mut Net) {
    // Replies are visible on this tap.
    n.send(&syn(HOME, 1000, [198, 51, 100, 1], 443, false));
    n.send(&tcp([198, 51, 100, 1], 443, HOME, 1000, "SA", &[]));
    let (a, b, c): (Ip, Ip, Ip) = ([10, 99, 0, 41], [10, 99, 0, 42], [10, 99, 0, 43]);
    n.send(&syn(a, 4000, [192, 0, 2, 1], 22, false));
    n.send(&tcp([192, 0, 2, 1], 22, a, 4000, "RA", &[]));
    n.send(&syn(b, 4000, [192, 0, 2, 1], 23, true));
    n.send(&syn(c, 4000, [192, 0, 2, 1], 25, true));
    n.idle(3);
    n.send(&syn(c, 4001, [192, 0, 2, 2], 25, true));
    n.send(&tcp([192, 0, 2, 1], 25, c, 4000, "RA", &[]));
    for h in 2..=7u8 {
        n.send(&syn(a, 4000 + u16::from(h), [192, 0, 2, h], 22, false));
        n.send(&tcp([192, 0, 2, h], 22, a, 4000 + u16::from(h), "RA", &[]));
        n.send(&syn(b, 4000 + u16::from(h), [192, 0, 2, h], 23, true));
        n.send(&syn(c, 4010 + u16::from(h), [192, 0, 2, h + 1], 25, true));
        n.send(&tcp([192, 0, 2, h + 1], 25, c, 4010 + u16::from(h), "RA", &[]));
    }
    // B's raw SYNs touch a tenth host of the /24 (twice each): a sweep.
    for h in 8..=10u8 {
        n.send(&syn(b, 4000 + u16::from(h), [192, 0, 2, h], 23, true));
    }
    n.idle(3);
}

#[test]
fn newcomers_are_judged_as_tracked_sources_once_they_contact_a_second_target() {
    // Admission off (every source tracked from its first contact) against on: the first
    // contacts held as newcomers are replayed, outcomes included.
    let alerts = |admit: bool| {
        let mut n = Net::new(config(|_| {}));
        let mut scan = super::Scan::new(ScanConfig::default());
        if !admit {
            scan.newcomers = super::admit::Newcomers::new(0);
        }
        n.w.set_detectors(vec![Box::new(scan)]);
        newcomer_traffic(&mut n);
        n.scan_alerts()
    };
    let (tracked, admitted) = (alerts(false), alerts(true));
    assert_eq!(tracked.len(), 3, "{tracked:#?}");
    assert_eq!(admitted, tracked);
    let probes: Vec<u64> = admitted.iter().map(|a| ev(a, "probes").as_u64().unwrap()).collect();
    assert!(probes.iter().all(|p| *p >= 4), "the first contact counted: {probes:?}");
}

#[test]
fn a_flood_of_one_probe_sources_builds_no_source() {
    let mut n = Net::new(config(|_| {}));
    for i in 0..5000u32 {
        n.send(&syn([100, 64, (i >> 8) as u8, i as u8], 1024, [10, 0, 0, 5], 80, true));
    }
    n.w.refresh_stats();
    let s = n.w.stats.detectors["scan"];
    assert!(s.tracked <= 5000, "newcomers only, their contacts held with them: {s:?}");
    assert!(s.evicted > 0, "newcomers overwritten in their slots are counted: {s:?}");
}
