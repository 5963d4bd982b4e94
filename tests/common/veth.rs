//! A veth pair into a network namespace the test makes (needs root), torn down on drop, and
//! ways to put DNS tunnel traffic on it: real `dig` queries, or a fast burst of crafted ones.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `dev` (10.99.T.1/30) here, `peer` (10.99.T.2/30) in namespace `ns`.
pub struct Veth {
    pub ns: String,
    pub dev: String,
    pub peer: String,
    pub host_ip: String,
    pub peer_ip: String,
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.dev]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// Runs a command quietly; true on success.
pub fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True when running as root; else says loudly that the test did not run.
pub fn root_or_say(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("\n!!! {what} DID NOT RUN: it needs root to create a veth pair !!!\n");
        return false;
    }
    true
}

impl Veth {
    /// Creates the pair; `tag` (1..=150) keeps the names and subnet apart from other tests.
    pub fn new(tag: u8) -> Veth {
        let id = std::process::id() % 10_000;
        let net = 100 + u32::from(tag);
        let v = Veth {
            ns: format!("siphon-sv{id}-{tag}"),
            dev: format!("sv{id}x{tag}a"),
            peer: format!("sv{id}x{tag}b"),
            host_ip: format!("10.99.{net}.1"),
            peer_ip: format!("10.99.{net}.2"),
        };
        // Leftovers of an interrupted run.
        sh(&["ip", "link", "del", &v.dev]);
        sh(&["ip", "netns", "del", &v.ns]);
        assert!(sh(&["ip", "netns", "add", &v.ns]));
        assert!(sh(&["ip", "link", "add", &v.dev, "type", "veth", "peer", "name", &v.peer]));
        assert!(sh(&["ip", "link", "set", &v.peer, "netns", &v.ns]));
        assert!(sh(&["ip", "addr", "add", &format!("{}/30", v.host_ip), "dev", &v.dev]));
        assert!(sh(&["ip", "link", "set", &v.dev, "up"]));
        assert!(sh(&["ip", "-n", &v.ns, "addr", "add", &format!("{}/30", v.peer_ip), "dev", &v.peer]));
        assert!(sh(&["ip", "-n", &v.ns, "link", "set", &v.peer, "up"]));
        assert!(sh(&["ip", "-n", &v.ns, "link", "set", "lo", "up"]));
        // Wait for the link (and its address) to be usable.
        for _ in 0..50 {
            if std::net::UdpSocket::bind(format!("{}:0", v.host_ip)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        v
    }

    /// `queries` real `dig` TXT queries for long random labels under `domain`, `gap` apart,
    /// to the peer (nobody answers: the tunnel's upstream leg alone). Returns the dig
    /// processes (reap them with [`reap`]).
    pub fn dig_tunnel(&self, domain: &str, queries: usize, gap: Duration, seed: u64) -> Vec<Child> {
        let mut x = seed | 1;
        (0..queries)
            .map(|i| {
                let label: String = (0..50)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        char::from(b"0123456789abcdefghijklmnopqrstuv"[(x % 32) as usize])
                    })
                    .collect();
                let c = Command::new("dig")
                    .args(["+tries=1", "+timeout=1", "-b", &self.host_ip])
                    .arg(format!("@{}", self.peer_ip))
                    .arg(format!("{label}.{i}.{domain}"))
                    .arg("TXT")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("dig runs (scripts/setup.sh installs bind9-dnsutils)");
                std::thread::sleep(gap);
                c
            })
            .collect()
    }

    /// A fast burst of crafted DNS TXT queries: `per` queries for each of `domains` domains
    /// (`d<N>-<suffix>`, each its own registered domain), from the host side to the peer: one
    /// dns_tunnel alert per domain.
    pub fn query_burst(&self, suffix: &str, domains: usize, per: usize) {
        let sock = std::net::UdpSocket::bind(format!("{}:0", self.host_ip)).expect("bind on the veth");
        let mut x: u64 = 0x243f6a8885a308d3;
        for d in 0..domains {
            for i in 0..per {
                let label: String = (0..60)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        char::from(b"0123456789abcdef"[(x % 16) as usize])
                    })
                    .collect();
                let name = format!("{label}.{i}.d{d}-{suffix}");
                let q = siphon::synth::dns_message((d * per + i) as u16, &name, false);
                let _ = sock.send_to(&q, format!("{}:53", self.peer_ip));
                if i % 16 == 15 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
}

/// Waits for every process in `children`.
pub fn reap(children: Vec<Child>) {
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Sends `sig` to `child`.
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill on a child process id.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Polls `path` every millisecond until a line satisfies `pred`; returns it with the wall time
/// it was seen, or None after `timeout`.
pub fn wait_for_line(
    path: &std::path::Path,
    timeout: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> Option<(serde_json::Value, std::time::SystemTime)> {
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        if let Ok(text) = std::fs::read_to_string(path) {
            for l in text.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
                    && pred(&v)
                {
                    return Some((v, std::time::SystemTime::now()));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}
