//! Live capture on the underlay of a real VXLAN mirror: siphon, listening on the sensor's
//! underlay interface, catches a DNS tunnel on the mirrored link and says which mirror saw it;
//! the mirror's transport (a garbled VXLAN packet addressed to the sensor, the sensor's
//! port-unreachables) raises nothing.
//!
//! Three namespaces: home (`sg<id>h`) ↔ switch (`sg<id>n`) over the watched veth; the switch
//! mirrors that veth both ways (tc u32 match-all + mirred; matchall/flower are not built here)
//! into a kernel VXLAN device whose remote is the sensor (`sg<id>s`) over an underlay veth.
//! siphon runs in the sensor namespace with `-i` on the underlay. Needs root; when it cannot
//! run it says so loudly instead of passing silently. The namespaces are always deleted.

mod common;
use common::*;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

const HOME: &str = "10.99.78.1";
const SERVER: &str = "10.99.78.2";
const VTEP: &str = "10.99.79.1";
const SENSOR: &str = "10.99.79.2";
const VNI: &str = "4243";

/// Deletes the namespaces (and with them every interface inside) when dropped.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("command runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `f` on a thread inside network namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("netns handle");
        // SAFETY: setns on this thread only, with a valid namespace fd.
        let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// A DNS query for `<label>.<seq>.mirror-exfil.net` type TXT.
fn query(id: u16, label: &str, seq: usize) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let seq = seq.to_string();
    for l in [label, seq.as_str(), "mirror-exfil", "net"] {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 16, 0, 1]);
    m
}

#[test]
fn live_capture_on_a_vxlan_underlay_catches_the_inner_tunnel() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "\n!!! LIVE MIRROR TEST DID NOT RUN: it needs root to create namespaces and a VXLAN mirror !!!\n"
        );
        return;
    }
    let id = std::process::id() % 100_000;
    let (h, n, s) = (format!("sg{id}h"), format!("sg{id}n"), format!("sg{id}s"));
    let (w0, w1, u0, u1, vx) = (
        format!("sg{id}w0"),
        format!("sg{id}w1"),
        format!("sg{id}u0"),
        format!("sg{id}u1"),
        format!("sg{id}x"),
    );
    let _guard = Namespaces(vec![h.clone(), n.clone(), s.clone()]);
    for ns in [&h, &n, &s] {
        sh(&["ip", "netns", "add", ns]);
        sh(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    // The watched link: home ↔ switch.
    sh(&["ip", "-n", &h, "link", "add", &w0, "type", "veth", "peer", "name", &w1, "netns", &n]);
    sh(&["ip", "-n", &h, "addr", "add", &format!("{HOME}/30"), "dev", &w0]);
    sh(&["ip", "-n", &n, "addr", "add", &format!("{SERVER}/30"), "dev", &w1]);
    sh(&["ip", "-n", &h, "link", "set", &w0, "up"]);
    sh(&["ip", "-n", &n, "link", "set", &w1, "up"]);
    // The underlay: switch (VTEP) ↔ sensor.
    sh(&[
        "ip", "-n", &n, "link", "add", &u0, "mtu", "1600", "type", "veth", "peer", "name", &u1, "netns", &s,
    ]);
    sh(&["ip", "-n", &n, "addr", "add", &format!("{VTEP}/30"), "dev", &u0]);
    sh(&["ip", "-n", &s, "addr", "add", &format!("{SENSOR}/30"), "dev", &u1]);
    sh(&["ip", "-n", &n, "link", "set", &u0, "up"]);
    sh(&["ip", "-n", &s, "link", "set", &u1, "mtu", "1600", "up"]);
    // The mirror.
    sh(&[
        "ip", "-n", &n, "link", "add", &vx, "type", "vxlan", "id", VNI, "local", VTEP, "remote", SENSOR,
        "dstport", "4789", "dev", &u0,
    ]);
    sh(&["ip", "-n", &n, "link", "set", &vx, "up"]);
    sh(&["ip", "netns", "exec", &n, "tc", "qdisc", "add", "dev", &w1, "clsact"]);
    for dir in ["ingress", "egress"] {
        sh(&[
            "ip", "netns", "exec", &n, "tc", "filter", "add", "dev", &w1, dir, "protocol", "all", "u32",
            "match", "u8", "0", "0", "action", "mirred", "egress", "mirror", "dev", &vx,
        ]);
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &s,
            env!("CARGO_BIN_EXE_siphon"),
            "-i",
            &u1,
            "--stats-interval",
            "1",
            "--stats-json",
        ])
        .arg("-o")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("siphon -i starts");
    wait_ready(child.id());

    // A garbled VXLAN packet to the sensor before any valid one: mirror transport because it is
    // addressed to the sensor's own address.
    in_netns(&n, || {
        let sock = UdpSocket::bind(format!("{VTEP}:0")).expect("bind on the VTEP address");
        sock.send_to(&[0u8; 30], format!("{SENSOR}:4789")).expect("send");
    });
    // The tunnel: 40 TXT queries with 60 hex characters of data each, from home to the switch.
    in_netns(&h, || {
        let sock = UdpSocket::bind(format!("{HOME}:0")).expect("bind on the home address");
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
            let _ = sock.send_to(&query(i as u16, &label, i), format!("{SERVER}:53"));
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().expect("siphon exits");
    let mut stderr = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0: {stderr}");

    let text = std::fs::read_to_string(&out).unwrap();
    let alerts = parse_alerts(text.as_bytes());
    let a = of(&alerts, "dns_tunnel")
        .into_iter()
        .find(|a| a["src_ip"] == HOME && a["siphon"]["evidence"]["domain"] == "mirror-exfil.net")
        .unwrap_or_else(|| panic!("inner tunnel not caught: {}\n{stderr}", describe(&alerts)));
    let t = &a["tunnel"];
    assert_eq!((t["src_ip"].as_str(), t["dest_ip"].as_str()), (Some(VTEP), Some(SENSOR)), "{a}");
    assert_eq!(
        (t["proto"].as_str(), t["depth"].as_u64(), t["dest_port"].as_u64()),
        (Some("VXLAN"), Some(1), Some(4789))
    );
    assert_eq!(a["siphon"]["evidence"]["vxlan_vni"], 4243);
    eprintln!(
        "live mirror: caught after {} queries, {} s",
        a["siphon"]["evidence"]["queries"], a["siphon"]["evidence"]["seconds_to_detect"]
    );
    for a in &alerts {
        for side in ["src_ip", "dest_ip"] {
            assert!(a[side] != VTEP && a[side] != SENSOR, "alert about the underlay: {a}");
        }
    }
    let stats = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event");
    let m = &stats["siphon"]["mirror"];
    assert!(m["decapsulated"].as_u64().unwrap() >= 40, "{m}");
    assert!(m["transport_undecapsulated"].as_u64().unwrap() >= 1, "garbled VXLAN to the sensor: {m}");
    assert!(m["transport_icmp_error"].as_u64().unwrap() >= 1, "the sensor's port-unreachables: {m}");
    assert_eq!(stats["siphon"]["anomalies"]["tunnel_malformed"], 1, "{stats}");
}
