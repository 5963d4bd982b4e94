//! Unit tests: a worker fed hand-built echo packets on injected packet time.

use super::*;
use crate::config::Config;
use crate::decode::LinkType;
use crate::worker::Worker;
use etherparse::PacketBuilder;

const HOME: [u8; 4] = [10, 99, 0, 50];
const PEER: [u8; 4] = [203, 0, 113, 9];

struct Harness {
    w: Worker,
    alerts: Vec<Alert>,
}

impl Harness {
    fn new(f: impl FnOnce(&mut IcmpTunnelConfig)) -> Harness {
        let mut c = Config::default();
        f(c.detectors.get_mut::<IcmpTunnelConfig>().expect("icmp_tunnel section"));
        Harness { w: Worker::new(&c), alerts: Vec::new() }
    }
    fn feed(&mut self, ms: u64, frame: &[u8]) {
        let ts = Timestamp::from_parts(1_700_000_000 + ms / 1000, (ms % 1000) * 1_000_000);
        let alerts = &mut self.alerts;
        self.w.process(ts, LinkType::RawIp, frame, frame.len() as u32, &mut |a| alerts.push(a));
    }
    /// A request from `a` to `b` and, if `reply` is given, the reply 1 ms later.
    fn ping(&mut self, ms: u64, a: [u8; 4], b: [u8; 4], seq: u16, req: &[u8], reply: Option<&[u8]>) {
        self.feed(ms, &v4(a, b, true, seq, req));
        if let Some(r) = reply {
            self.feed(ms + 1, &v4(b, a, false, seq, r));
        }
    }
    fn ours(&mut self) -> Vec<Alert> {
        let alerts = &mut self.alerts;
        self.w.finish(&mut |a| alerts.push(a));
        self.alerts.iter().filter(|a| a.siphon.detector == NAME).cloned().collect()
    }
}

fn v4(src: [u8; 4], dst: [u8; 4], req: bool, seq: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src, dst, 64);
    let b = if req { b.icmpv4_echo_request(0x4242, seq) } else { b.icmpv4_echo_reply(0x4242, seq) };
    let mut v = Vec::new();
    b.write(&mut v, payload).expect("builds");
    v
}

/// xorshift bytes: stands in for encrypted or compressed data.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An iputils payload of `len` bytes with a timestamp that changes every packet.
fn iputils(seq: u64, len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| i as u8).collect();
    for (i, b) in (seq * 1_000_003).to_le_bytes().iter().enumerate() {
        if let Some(x) = p.get_mut(8 + i) {
            *x = *b;
        }
    }
    p
}

fn ev<'a>(a: &'a Alert, k: &str) -> &'a serde_json::Value {
    &a.siphon.evidence[k]
}

#[test]
fn ordinary_ping_of_every_implementation_is_quiet() {
    let mut h = Harness::new(|_| {});
    let windows: Vec<u8> = (0..1472).map(|i| b'a' + (i % 23) as u8).collect();
    let mut bsd: Vec<u8> = noise(1, 8);
    bsd.extend(8u8..56);
    for s in 0..300u16 {
        let t = u64::from(s) * 200;
        for (i, p) in
            [iputils(s.into(), 56), iputils(s.into(), 1400), windows.clone(), bsd.clone()].iter().enumerate()
        {
            let peer = [203, 0, 113, 10 + i as u8];
            h.ping(t, HOME, peer, s, p, Some(p));
        }
        // Linux traceroute -I and Windows tracert.
        let tr: Vec<u8> = (0..32).map(|i| 0x40 | ((i + 8) & 0x3f) as u8).collect();
        h.ping(t + 50, HOME, [198, 51, 100, 1], s, &tr, None);
        h.ping(t + 60, HOME, [198, 51, 100, 2], s, &[0u8; 64], None);
    }
    let a = h.ours();
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn an_admins_ping_p_and_a_constant_custom_payload_are_quiet() {
    let mut h = Harness::new(|_| {});
    // `ping -p ff` 50 times, then three more patterns: 4 distinct patterns, 6 points.
    for s in 0..50u16 {
        let mut p = iputils(s.into(), 16);
        p.extend([0xFFu8; 40]);
        h.ping(u64::from(s) * 1000, HOME, PEER, s, &p, Some(&p));
    }
    for (i, pat) in [0xAAu8, 0x55, 0x0F].iter().enumerate() {
        let mut p = iputils(i as u64, 16);
        p.extend([*pat; 40]);
        h.ping(60_000 + i as u64 * 1000, HOME, PEER, 100 + i as u16, &p, Some(&p));
    }
    // A monitoring probe: 1400 bytes of fixed custom data after a changing timestamp.
    let body = noise(7, 1384);
    for s in 0..500u16 {
        let mut p = iputils(s.into(), 16);
        p.extend(&body);
        h.ping(u64::from(s) * 500, HOME, [192, 0, 2, 77], s, &p, Some(&p));
    }
    // pro-bing (Telegraf) with a new UUID tracker for every probe.
    for s in 0..200u16 {
        let mut p = (1_700_000_000_000_000_000u64 + u64::from(s) * 10_000_000_000).to_be_bytes().to_vec();
        let mut uuid = noise(u64::from(s) + 1000, 16);
        uuid[6] = 0x40 | (uuid[6] & 0x0F);
        uuid[8] = 0x80 | (uuid[8] & 0x3F);
        p.extend(uuid);
        h.ping(u64::from(s) * 1000, HOME, [192, 0, 2, 78], 1, &p, Some(&p));
    }
    let a = h.ours();
    assert!(a.is_empty(), "{:?}", a.iter().map(|a| &a.siphon.evidence).collect::<Vec<_>>());
}

#[test]
fn a_file_in_echo_requests_is_exfiltration_within_a_few_requests() {
    let mut h = Harness::new(|_| {});
    for s in 0..40u16 {
        let p = noise(u64::from(s), 1000);
        h.ping(u64::from(s) * 300, HOME, PEER, s, &p, Some(&p));
    }
    let a = h.ours();
    let first = a.first().expect("alert");
    assert_eq!(first.alert.signature_id, SIG_EXFIL.id);
    assert_eq!(first.src_ip, IpAddr::from(HOME));
    assert_eq!(first.dest_ip, IpAddr::from(PEER));
    // 1000 random bytes weigh 1 + 1 (large) + 3 (bytes) + 1 (entropy): two echoes.
    assert_eq!(ev(first, "requests_to_detect"), 2, "{:?}", first.siphon.evidence);
    assert_eq!(ev(first, "replies_echoing_request"), 1);
    assert!(a.len() <= 3, "one alert per episode (+ one escalation per order of magnitude)");
}

#[test]
fn replies_carrying_their_own_data_are_a_tunnel() {
    // icmpsh-like: command output in requests, the next command in replies.
    let mut h = Harness::new(|_| {});
    for s in 0..20u16 {
        let out = format!("Volume in drive C has no label. Serial {s:04} Directory of C:\\Users\\{s}");
        let cmd = format!("dir C:\\Users\\victim\\Documents\\{s}\\*.docx /s /b");
        h.ping(u64::from(s) * 200, HOME, PEER, s, out.as_bytes(), Some(cmd.as_bytes()));
    }
    let a = h.ours();
    let first = a.first().expect("alert");
    assert_eq!(first.alert.signature_id, SIG_TUNNEL.id);
    assert_eq!(first.src_ip, IpAddr::from(HOME));
    assert!(ev(first, "requests_to_detect").as_u64().unwrap() <= 10);
    assert!(ev(first, "replies_not_echoing_request").as_u64().unwrap() >= 1);
}

#[test]
fn an_inbound_tunnel_is_about_the_home_server() {
    // An outside client drives a ptunnel proxy on a home server; the proxy answers itself.
    let mut h = Harness::new(|_| {});
    for s in 0..10u16 {
        let mut req = vec![0xD5, 0x20, 0x08, 0x80, 10, 1, 1, 1, 0, 0, 0, 22, 0x40, 0, 0, 2, 0, 0, 0, 0];
        req.extend(200u32.to_be_bytes());
        req.extend(s.to_be_bytes());
        req.extend([0x12, 0x34]);
        req.extend(noise(u64::from(s), 200));
        let mut rep = req.clone();
        rep[12] = 0x80;
        if let Some(x) = rep.get_mut(40) {
            *x ^= 0xFF;
        }
        h.ping(u64::from(s) * 100, PEER, HOME, s, &req, Some(&rep));
    }
    let a = h.ours();
    let first = a.first().expect("alert");
    assert_eq!(first.src_ip, IpAddr::from(HOME), "the alert is about the home host");
    assert_eq!(first.alert.signature_id, SIG_TUNNEL.id);
    assert_eq!(ev(first, "tunnel_tool"), "ptunnel");
    assert!(ev(first, "echoes_to_detect").as_u64().unwrap() <= 4);
}

#[test]
fn icmpv6_tunnel_is_caught() {
    let mut h = Harness::new(|_| {});
    let home: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    let peer: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
    for s in 0..10u16 {
        let mut p = b"hanc\x07".to_vec();
        p.extend(noise(u64::from(s), 300));
        let mut f = Vec::new();
        PacketBuilder::ipv6(home, peer, 64).icmpv6_echo_request(7, s).write(&mut f, &p).expect("builds");
        h.feed(u64::from(s) * 100, &f);
    }
    let a = h.ours();
    let first = a.first().expect("alert");
    assert_eq!(first.src_ip, IpAddr::from(home));
    assert_eq!(ev(first, "icmpv6"), true);
    assert_eq!(ev(first, "tunnel_tool"), "hans");
}

#[test]
fn allow_hosts_silences_a_pair() {
    let mut h = Harness::new(|c| c.allow_hosts = vec!["203.0.113.0/28".into()]);
    for s in 0..40u16 {
        let p = noise(u64::from(s), 1000);
        h.ping(u64::from(s) * 300, HOME, PEER, s, &p, Some(&p));
    }
    assert!(h.ours().is_empty());
}

#[test]
fn a_new_episode_after_an_idle_window_alerts_again() {
    let mut h = Harness::new(|_| {});
    for s in 0..10u16 {
        let p = noise(u64::from(s), 500);
        h.ping(u64::from(s) * 300, HOME, PEER, s, &p, None);
    }
    // Forty minutes later (past the window and the episode timeout), another transfer.
    for s in 0..10u16 {
        let p = noise(u64::from(s) + 100, 500);
        h.ping(2_400_000 + u64::from(s) * 300, HOME, PEER, s, &p, None);
    }
    let a = h.ours();
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(ev(&a[1], "requests_to_detect"), ev(&a[0], "requests_to_detect"));
}

#[test]
fn data_in_an_unusual_type_alerts_once() {
    let mut h = Harness::new(|_| {});
    for s in 0..20u8 {
        let mut f = Vec::new();
        PacketBuilder::ipv4(HOME, PEER, 64)
            .icmpv4_raw(47, 0, [0, 0, 0, s])
            .write(&mut f, &noise(u64::from(s), 100))
            .expect("builds");
        h.feed(u64::from(s) * 100, &f);
    }
    // A port unreachable quoting the probe is ordinary.
    let mut f = Vec::new();
    let quoted = v4(HOME, PEER, true, 1, b"probe");
    PacketBuilder::ipv4(PEER, HOME, 64).icmpv4_raw(3, 3, [0; 4]).write(&mut f, &quoted).expect("builds");
    h.feed(5000, &f);
    let a = h.ours();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].alert.signature_id, SIG_ODD_TYPE.id);
    assert_eq!(ev(&a[0], "reason"), "data_in_unassigned_type");
    assert_eq!(a[0].src_ip, IpAddr::from(HOME));
}

#[test]
fn pairs_are_capped_and_evictions_counted() {
    let mut h = Harness::new(|c| c.max_pairs = 4);
    for i in 0..10u8 {
        h.ping(u64::from(i), HOME, [198, 51, 100, i], 1, &noise(u64::from(i), 56), None);
    }
    // Ordinary pings to many peers create no state at all.
    for i in 0..100u8 {
        h.ping(100 + u64::from(i), HOME, [192, 0, 2, i], 1, &iputils(1, 56), None);
    }
    h.w.refresh_stats();
    let s = h.w.stats.detectors[NAME];
    assert!(s.tracked <= 4 && s.evicted >= 6, "{s:?}");
}

#[test]
fn short_timestamp_probes_are_quiet_and_empty_replies_to_data_are_not_echoes() {
    let mut h = Harness::new(|_| {});
    // Java isReachable: a 16-byte struct timeval and nothing else, every 2 s.
    for s in 0..300u16 {
        let p = (u128::from(s) * 2_000_003 + 17).to_le_bytes();
        h.ping(u64::from(s) * 2000, HOME, PEER, s, &p, Some(&p));
    }
    assert!(h.ours().is_empty());
    // icmpsh: command output in requests; the master answers with empty replies while idle.
    let mut h = Harness::new(|_| {});
    for s in 0..20u16 {
        let out = format!("C:\\Windows\\system32>whoami /all | chunk {s:03} of the output......");
        h.ping(u64::from(s) * 200, HOME, PEER, s, out.as_bytes(), Some(b""));
    }
    let a = h.ours();
    let first = a.first().expect("alert");
    assert_eq!(first.alert.signature_id, SIG_TUNNEL.id);
    assert!(ev(first, "requests_to_detect").as_u64().unwrap() <= 5, "{:?}", first.siphon.evidence);
}

#[test]
fn a_device_that_answers_a_constant_probe_oddly_is_quiet() {
    // A monitoring probe with a constant custom payload, answered with an empty reply (some
    // embedded stacks do not copy the data).
    let mut h = Harness::new(|_| {});
    for s in 0..300u16 {
        let mut p = iputils(s.into(), 16);
        p.extend(b"SolarWinds probe payload, the same every time");
        h.ping(u64::from(s) * 1000, HOME, PEER, s, &p, Some(b""));
    }
    let a = h.ours();
    assert!(a.is_empty(), "{:?}", a.iter().map(|a| &a.siphon.evidence).collect::<Vec<_>>());
}

#[test]
fn text_non_zero_codes_and_banners_weigh_more_than_their_size() {
    // One 130-byte text message: exfiltration on the spot.
    let mut h = Harness::new(|_| {});
    let msg = b"The wire goes out Friday 09:00 to account DE44 5001 0517 5407 3249 31; confirm with the usual code word before you call the bank.";
    h.ping(0, HOME, PEER, 1, msg, Some(msg));
    let a = h.ours();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].alert.signature_id, SIG_EXFIL.id);
    assert!(ev(&a[0], "text_bytes").as_u64().unwrap() >= 128);
    // 60 bytes of text is not enough alone.
    let mut h = Harness::new(|_| {});
    h.ping(0, HOME, PEER, 1, &msg[..60], Some(&msg[..60]));
    assert!(h.ours().is_empty());
    // Replies only, both ways, code 5, an HTTP request inside: a tunnel within two echoes.
    let mut h = Harness::new(|_| {});
    let reply = |src: [u8; 4], dst: [u8; 4], seq: u16, p: &[u8]| {
        let mut v = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .icmpv4_raw(0, 5, [0x12, 0x34, 0, seq as u8])
            .write(&mut v, p)
            .expect("builds");
        v
    };
    h.feed(0, &reply(HOME, PEER, 1, b"GET /tasks HTTP/1.1\r\nHost: c2\r\n\r\n"));
    h.feed(5, &reply(PEER, HOME, 1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nls"));
    let a = h.ours();
    let first = a.first().expect("alert");
    assert_eq!(first.alert.signature_id, SIG_TUNNEL.id);
    assert_eq!(ev(first, "protocol_banner"), "http");
    assert_eq!(ev(first, "echo_requests"), 0);
    assert_eq!(ev(first, "echoes_to_detect"), 2);
    // nmap -O's echo probes: zeros with code 9, never scored.
    let mut h = Harness::new(|_| {});
    for s in 0..50u8 {
        let mut v = Vec::new();
        PacketBuilder::ipv4(HOME, PEER, 64)
            .icmpv4_raw(8, 9, [0, 1, 0, s])
            .write(&mut v, &[0u8; 120])
            .expect("builds");
        h.feed(u64::from(s) * 100, &v);
    }
    assert!(h.ours().is_empty());
}

#[test]
fn kind_index_is_each_kinds_position_by_name() {
    use crate::decode::icmp::{PayloadKind as K, TunnelTool};
    let all = [
        K::Empty,
        K::Iputils,
        K::Bsd,
        K::Windows,
        K::Traceroute,
        K::Zeros,
        K::Cisco,
        K::GoPing,
        K::Pattern { period: 3 },
        K::Tunnel(TunnelTool::Hans),
        K::Unknown,
    ];
    for k in all {
        assert_eq!(state::KINDS.get(state::kind_index(k)), Some(&k.name()), "{k:?}");
    }
}
