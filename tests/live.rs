//! Live capture on a veth pair the test creates: siphon -i catches a DNS tunnel sent across it,
//! and SIGTERM flushes the alerts and exits 0. Needs root (or CAP_NET_ADMIN + CAP_NET_RAW); when
//! it cannot run it says so loudly instead of passing silently.

mod common;
use common::veth::*;
use common::*;
use std::process::Stdio;
use std::time::Duration;

/// A DNS query for `<label>.<seq>.live-exfil.net` type TXT.
fn query(id: u16, label: &str, seq: usize) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let seq = seq.to_string();
    for l in [label, seq.as_str(), "live-exfil", "net"] {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 16, 0, 1]);
    m
}

#[test]
fn live_capture_on_veth_catches_a_dns_tunnel_and_sigterm_flushes() {
    if !root_or_say("LIVE CAPTURE TEST") {
        return;
    }
    let v = Veth::new(20);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let mut child = siphon()
        .args(["-i", &v.dev, "--stats-interval", "1", "-Z", "nobody", "-o"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("siphon -i starts");
    wait_ready(child.id());
    // -Z nobody: root was dropped once the capture was open.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("").to_owned();
    assert!(uid_line.split_whitespace().skip(1).all(|u| u == "65534"), "privileges dropped: {uid_line}");

    let sock = std::net::UdpSocket::bind(format!("{}:0", v.host_ip)).expect("bind on the veth address");
    let mut x: u64 = 0x243f6a8885a308d3;
    for i in 0..40 {
        let label: String = (0..60)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"0123456789abcdef"[(x % 16) as usize])
            })
            .collect();
        let _ = sock.send_to(&query(i as u16, &label, i), format!("{}:53", v.peer_ip));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, libc::SIGTERM);
    let status = child.wait().expect("siphon exits");
    let mut stderr = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0: {stderr}");
    assert!(stderr.contains("kernel:"), "live stats report pcap_stats: {stderr}");
    let alerts = parse_alerts(std::fs::read_to_string(&out).unwrap().as_bytes());
    let dns = of(&alerts, "dns_tunnel");
    assert!(
        dns.iter()
            .any(|a| a["src_ip"] == v.host_ip.as_str()
                && a["siphon"]["evidence"]["domain"] == "live-exfil.net"),
        "live tunnel caught: {}\n{stderr}",
        describe(&alerts)
    );
}
