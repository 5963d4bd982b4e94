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
