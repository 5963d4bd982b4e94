//! The second output: alerts as RFC 5424 syslog over UDP and TCP (octet-counted) to a local
//! collector the test runs on loopback.

mod common;

use common::*;
use std::io::Read;
use std::time::Duration;

#[test]
fn alerts_reach_a_udp_syslog_collector() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let url = format!("udp://{}", sock.local_addr().unwrap());
    let alerts = run("dns_dig_loop.pcap", &["-q", "--syslog", &url]);
    assert!(!alerts.is_empty());
    let mut buf = [0u8; 65_536];
    let n = sock.recv(&mut buf).expect("a syslog datagram");
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(msg.starts_with("<130>1 "), "local0.crit, version 1: {msg}");
    let json = &msg[msg.find('{').unwrap()..];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    validate(&v);
    assert_eq!(v["siphon"]["detector"], "dns_tunnel");
}

#[test]
fn the_stats_event_and_the_summary_count_what_syslog_sent() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://{}", sock.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let o = run_raw(&["dns_dig_loop.pcap"], &["--syslog", &url, "--stats-json", "-o", out.to_str().unwrap()]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let alerts = parse_alerts(text.as_bytes());
    let stats: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(stats["event_type"], "stats");
    let s = &stats["siphon"]["outputs"]["syslog"];
    assert_eq!(s["sent"].as_u64(), Some(alerts.len() as u64), "{stats}");
    assert_eq!((s["dropped"].as_u64(), s["reconnects"].as_u64()), (Some(0), Some(0)));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("outputs.syslog: {} sent, 0 dropped, 0 reconnects", alerts.len())),
        "{err}"
    );
}

#[test]
fn alerts_reach_a_tcp_syslog_collector_octet_counted() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        s
    });
    let alerts = run("dns_dig_loop.pcap", &["-q", "--syslog", &url]);
    let got = h.join().unwrap();
    let (len, rest) = got.split_once(' ').unwrap();
    let len: usize = len.parse().unwrap();
    assert!(rest.len() >= len && rest.starts_with("<130>1 "), "{got}");
    assert_eq!(got.matches("<130>1 ").count(), alerts.len());
}

/// Live siphon on a veth with a TCP syslog target, fed `domains` tunnel alerts, then SIGTERM:
/// returns (exit code, stderr, time to exit, alerts in -o).
fn live_run_with_syslog(
    tag: u8,
    target: &str,
    domains: usize,
    route: Option<&str>,
    linger: Duration,
    sig: i32,
) -> (Option<i32>, String, Duration, usize) {
    use common::veth::*;
    let v = Veth::new(tag);
    if let Some(dst) = route {
        // The peer's namespace does not forward: what is routed to it is silently dropped.
        assert!(sh(&["ip", "route", "add", dst, "via", &v.peer_ip, "dev", &v.dev]));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let mut child = siphon()
        .args([
            "-i",
            &v.dev,
            "--stats-interval",
            "0",
            "--set",
            "alerts.max_per_minute=100000",
            "--syslog",
            target,
            "-o",
        ])
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(child.id());
    v.query_burst("syslog.example", domains, 10);
    let n = |out: &std::path::Path| std::fs::read_to_string(out).map(|t| t.lines().count()).unwrap_or(0);
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while n(&out) < domains && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(n(&out) >= domains, "one alert per tunnel domain in -o while running: {}", n(&out));
    std::thread::sleep(linger);
    let t = std::time::Instant::now();
    signal(&child, sig);
    let status = child.wait().unwrap();
    let took = t.elapsed();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code(), err, took, n(&out))
}

/// `outputs.syslog: S sent, D dropped, R reconnects` from the summary.
fn syslog_counts(err: &str) -> (u64, u64, u64) {
    let l =
        err.lines().find(|l| l.starts_with("siphon: outputs.syslog: ")).unwrap_or_else(|| panic!("{err}"));
    let n: Vec<u64> = l.split_whitespace().filter_map(|w| w.trim_end_matches(',').parse().ok()).collect();
    (n[0], n[1], n[2])
}

/// A collector that accepts and never reads: writes stall once the socket buffers fill, yet
/// SIGTERM exits within 2 s, -o has every alert, and the dropped count is printed.
#[test]
fn a_collector_that_never_reads_cannot_hold_siphon() {
    if !common::veth::root_or_say("STUCK SYSLOG LIVE TEST") {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // A tiny receive buffer (inherited by the accepted socket) so the stall comes quickly.
    let small: libc::c_int = 2048;
    // SAFETY: setsockopt on the listener's descriptor with an int option.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::setsockopt(
            l.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&small as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let target = format!("tcp://{}", l.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(8));
        drop(c);
    });
    let (code, err, took, written) =
        live_run_with_syslog(11, &target, 100, None, Duration::ZERO, libc::SIGTERM);
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2), "exit took {took:?}\n{err}");
    let (sent, dropped, _) = syslog_counts(&err);
    assert!(written >= 100, "-o has every alert: {written}\n{err}");
    assert!(dropped > 0, "a stalled collector loses messages, counted: {err}");
    assert_eq!(sent + dropped, written as u64, "{err}");
    drop(held);
}

/// A refused port: nothing is sent, every message is counted as dropped, retries are counted,
/// and the exit is prompt.
#[test]
fn a_refused_collector_is_retried_and_every_loss_counted() {
    if !common::veth::root_or_say("REFUSED SYSLOG LIVE TEST") {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, err, took, written) = live_run_with_syslog(
        12,
        &format!("tcp://127.0.0.1:{port}"),
        20,
        None,
        Duration::from_millis(600),
        libc::SIGTERM,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2), "exit took {took:?}\n{err}");
    let (sent, dropped, reconnects) = syslog_counts(&err);
    assert_eq!((sent, dropped), (0, written as u64), "{err}");
    assert!(reconnects >= 1, "{err}");
}

/// A blackholed collector (its SYNs vanish): connect would hang for minutes without a timeout;
/// SIGINT still exits within 2 s with the losses counted.
#[test]
fn a_blackholed_collector_cannot_hold_siphon() {
    if !common::veth::root_or_say("BLACKHOLED SYSLOG LIVE TEST") {
        return;
    }
    let (code, err, took, written) = live_run_with_syslog(
        13,
        "tcp://192.0.2.77:6514",
        20,
        Some("192.0.2.77/32"),
        Duration::from_millis(600),
        libc::SIGINT,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2), "exit took {took:?}\n{err}");
    let (sent, dropped, _) = syslog_counts(&err);
    assert_eq!((sent, dropped), (0, written as u64), "{err}");
}
