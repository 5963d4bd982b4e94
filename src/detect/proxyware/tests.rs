//! Whole-path tests: synthetic frames through a [`Worker`], for what no bundled capture holds
//! (hours of baseline, SOCKS4, refused handshakes, caps).

use super::*;
use crate::config::Config;
use crate::decode::LinkType;
use crate::units::{Dur, Size};
use crate::worker::Worker;
use etherparse::PacketBuilder;

const HOME: [u8; 4] = [10, 1, 1, 1];

fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, syn: bool, ack: bool, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64).tcp(sport, dport, 1000, 64000);
    let b = match (syn, ack) {
        (true, true) => b.syn().ack(1),
        (true, false) => b.syn(),
        (false, true) => b.ack(1).psh(),
        (false, false) => b.psh(),
    };
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn udp(src: [u8; 4], dst: [u8; 4], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .udp(40000, 5000)
        .write(&mut out, &vec![0u8; len])
        .unwrap();
    out
}

struct Run {
    w: Worker,
    alerts: Vec<Alert>,
}

impl Run {
    fn new(f: impl FnOnce(&mut ProxywareConfig)) -> Run {
        Run::with(Config::default(), f)
    }
    fn with(mut c: Config, f: impl FnOnce(&mut ProxywareConfig)) -> Run {
        f(c.detectors.get_mut::<ProxywareConfig>().expect("proxyware section"));
        Run { w: Worker::new(&c), alerts: Vec::new() }
    }
    fn feed(&mut self, ts_ms: u64, frame: &[u8]) {
        let alerts = &mut self.alerts;
        self.w.process(
            Timestamp(ts_ms * 1_000_000),
            LinkType::Ethernet,
            frame,
            frame.len() as u32,
            &mut |a| {
                if a.siphon.detector == "proxyware" {
                    alerts.push(a);
                }
            },
        );
    }
    fn finish(mut self) -> Vec<Alert> {
        let alerts = &mut self.alerts;
        self.w.finish(&mut |a| {
            if a.siphon.detector == "proxyware" {
                alerts.push(a);
            }
        });
        self.alerts
    }
    /// A TCP session from `c` to `s`: handshake, then payloads alternating from `msgs`
    /// (client first), 10 ms apart from `t0`.
    fn session(&mut self, t0: u64, c: ([u8; 4], u16), s: ([u8; 4], u16), msgs: &[&[u8]]) {
        self.feed(t0, &tcp(c.0, c.1, s.0, s.1, true, false, &[]));
        self.feed(t0 + 1, &tcp(s.0, s.1, c.0, c.1, true, true, &[]));
        for (i, m) in msgs.iter().enumerate() {
            let t = t0 + 10 * (i as u64 + 1);
            if i % 2 == 0 {
                self.feed(t, &tcp(c.0, c.1, s.0, s.1, false, true, m));
            } else {
                self.feed(t, &tcp(s.0, s.1, c.0, c.1, false, true, m));
            }
        }
    }
}

fn evidence<'a>(a: &'a Alert, k: &str) -> &'a serde_json::Value {
    a.siphon.evidence.get(k).unwrap_or(&serde_json::Value::Null)
}

fn rate_config(p: &mut ProxywareConfig) {
    p.rate_threshold = Size(100_000);
    p.rate_sustain = Dur::secs(60);
    p.quiet_rate = Size(5_000);
    p.baseline_window = Dur::secs(600);
    p.baseline_min_history = Dur::secs(1200);
}

#[test]
fn quiet_host_with_sustained_heavy_upload_is_reported_once() {
    let mut r = Run::new(rate_config);
    let quiet = udp(HOME, [203, 0, 113, 9], 200);
    let heavy = udp(HOME, [203, 0, 113, 9], 1372); // 1400 bytes of IP
    let mut t = 1_000_000_000u64;
    for _ in 0..240 {
        r.feed(t, &quiet); // 40 minutes, one small packet every 10 s
        t += 10_000;
    }
    let start = t;
    for _ in 0..9_000 {
        r.feed(t, &heavy); // 90 s at 140 kB/s
        t += 10;
    }
    let alerts = r.finish();
    let rate: Vec<_> = alerts.iter().filter(|a| a.alert.signature_id == SIG_RATE.id).collect();
    assert_eq!(rate.len(), 1, "{alerts:?}");
    let a = rate[0];
    assert_eq!(a.src_ip, IpAddr::from(HOME));
    assert!(evidence(a, "rate_mb_per_s").as_f64().unwrap() > 0.1);
    assert!(evidence(a, "baseline_kb_per_s").as_f64().unwrap() < 5.0);
    let detect_secs = (a.ts.0 / 1_000_000 - start) as f64 / 1000.0;
    assert!((60.0..=80.0).contains(&detect_secs), "reported {detect_secs} s into the run");
    assert!(alerts.iter().all(|a| a.alert.signature_id == SIG_RATE.id), "{alerts:?}");
}

/// The sustained-upload signal skips traffic to an allowed network (`egress.allow_asns`): the
/// same quiet-then-heavy host as above, its peer 203.0.113.9 in AS64500 of the test databases
/// (tests/geoip/make_mmdb.pl, written by MaxMind's writer), stays quiet.
#[test]
fn sustained_upload_to_an_allowed_network_is_not_hijacking() {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/geoip/make_mmdb.pl");
    let ok = std::process::Command::new("perl").arg(script).arg(dir.path()).status().expect("perl runs");
    assert!(ok.success(), "make_mmdb.pl (scripts/setup.sh installs libmaxmind-db-writer-perl)");
    let toml = format!(
        "[general]\ngeoip_asn_db = {:?}\n[egress]\nallow_asns = [\"AS64500\"]\n",
        dir.path().join("asn.mmdb")
    );
    let mut r = Run::with(Config::from_toml(&toml).unwrap(), rate_config);
    let quiet = udp(HOME, [203, 0, 113, 9], 200);
    let heavy = udp(HOME, [203, 0, 113, 9], 1372);
    let mut t = 1_000_000_000u64;
    for _ in 0..240 {
        r.feed(t, &quiet);
        t += 10_000;
    }
    for _ in 0..9_000 {
        r.feed(t, &heavy);
        t += 10;
    }
    let alerts = r.finish();
    assert!(alerts.iter().all(|a| a.alert.signature_id != SIG_RATE.id), "{alerts:?}");
}

#[test]
fn heavy_host_without_quiet_history_is_not() {
    let mut r = Run::new(rate_config);
    let heavy = udp(HOME, [203, 0, 113, 9], 1372);
    let mut t = 1_000_000_000u64;
    for _ in 0..40_000 {
        r.feed(t, &heavy); // 400 s at 140 kB/s, first seen busy
        t += 10;
    }
    assert!(r.finish().is_empty());
}

#[test]
fn socks4_served_to_an_outside_client() {
    let mut r = Run::new(|_| {});
    let client = ([198, 51, 100, 7], 40001);
    let proxy = (HOME, 1080);
    let req = [4, 1, 0, 80, 203, 0, 113, 50, b'u', 0];
    let grant = [0, 0x5a, 0, 0, 0, 0, 0, 0];
    r.session(1_000, client, proxy, &[&req, &grant, b"GET / HTTP/1.0\r\n\r\n"]);
    let alerts = r.finish();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a.alert.signature_id, SIG_PROXY_SERVED.id);
    assert_eq!(a.src_ip, IpAddr::from(HOME));
    assert_eq!(evidence(a, "service"), "socks4");
    assert_eq!(evidence(a, "target"), "203.0.113.50:80");
}

#[test]
fn probes_that_get_no_proxy_answer_are_quiet() {
    let mut r = Run::new(|_| {});
    // SOCKS5 greeting refused (no acceptable method), then one answered by a non-SOCKS server.
    r.session(1_000, ([198, 51, 100, 7], 40001), (HOME, 1080), &[&[5, 1, 0], &[5, 0xff]]);
    r.session(
        2_000,
        ([198, 51, 100, 8], 40002),
        (HOME, 1080),
        &[&[5, 1, 0], b"HTTP/1.1 400 Bad Request\r\n"],
    );
    // A CONNECT to a home web server that answers 403.
    r.session(
        3_000,
        ([198, 51, 100, 9], 40003),
        (HOME, 8080),
        &[b"CONNECT 203.0.113.5:443 HTTP/1.1\r\n\r\n", b"HTTP/1.1 403 Forbidden\r\n"],
    );
    let alerts = r.finish();
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[test]
fn internal_proxies_are_policy_not_proxyjacking() {
    let mut r = Run::new(|_| {});
    let req = [4, 1, 0, 80, 203, 0, 113, 50, b'u', 0];
    r.session(1_000, ([10, 1, 1, 2], 40001), (HOME, 1080), &[&req, &[0, 0x5a, 0, 0, 0, 0, 0, 0]]);
    assert!(r.finish().is_empty());
}

#[test]
fn host_table_is_capped_and_evictions_are_counted() {
    let mut c = Config::default();
    c.detectors.get_mut::<ProxywareConfig>().expect("proxyware section").max_hosts = 2;
    let mut w = Worker::new(&c);
    for i in 1..=5u8 {
        let f = udp([10, 1, 1, i], [203, 0, 113, 9], 10);
        w.process(Timestamp::from_secs(u64::from(i)), LinkType::Ethernet, &f, f.len() as u32, &mut |_| {});
    }
    w.refresh_stats();
    let s = w.stats.detectors.get("proxyware").copied().unwrap_or_default();
    assert_eq!((s.tracked, s.evicted), (2, 3));
}

#[test]
fn the_host_handed_last_is_reused_only_while_it_is_the_most_recent() {
    let mut p = Proxyware::new(ProxywareConfig { max_hosts: 2, ..ProxywareConfig::default() });
    let ip = |n: u8| IpAddr::from([10, 1, 1, n]);
    let (t1, t9) = (Timestamp::from_secs(1), Timestamp::from_secs(9));
    p.host_mut(ip(1), t1).last_seen = t9;
    // Asked again at once: the same host, not a new one.
    assert_eq!(p.host_mut(ip(1), t1).last_seen, t9);
    p.host_mut(ip(2), t1);
    // Host 1 asked after host 2 becomes the most recent again, so host 3 pushes out host 2.
    p.host_mut(ip(1), t1);
    p.host_mut(ip(3), t1);
    let held = |p: &Proxyware, n: u8| p.hosts.contains_key(&ip(n));
    assert!(held(&p, 1) && !held(&p, 2) && held(&p, 3));
    assert_eq!(p.evicted, 1);
    // Shedding takes the least recent (host 1) and forgets the last one asked: both are
    // looked up again, host 1 as a new host.
    assert_eq!(p.shed(0.5), 1);
    assert!(!held(&p, 1) && held(&p, 3));
    assert_eq!(p.host_mut(ip(3), t1).last_seen, t1);
    assert_eq!(p.host_mut(ip(1), t9).last_seen, t9);
    assert_eq!((p.hosts.len(), p.evicted), (2, 1));
}
