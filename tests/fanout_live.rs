//! Kernel sharding of a live capture (`capture.fanout`, issue 25), on a veth into a namespace the
//! test makes (`pf-*`): traffic of many home hosts, six of them running DNS tunnels, is replayed
//! onto the veth while `siphon -i --workers 2` (one `PACKET_FANOUT` socket per worker) and
//! tcpdump both capture it. Then:
//!
//! - every alert of `siphon -r` on tcpdump's copy (same packets, same kernel timestamps) is
//!   raised live exactly once: none lost, none duplicated;
//! - two sockets joined to a group with siphon's program each get only their own home hosts,
//!   and both get some.
//!
//! Needs root, tcpreplay and tcpdump; says so loudly when it cannot run.

mod common;
use common::veth::*;
use common::*;
use etherparse::PacketBuilder;
use siphon::input::PacketSource;
use siphon::input::PcapWriter;
use siphon::input::{LiveOptions, LiveSource};
use siphon::synth::{MixedTraffic, Rng, dns_message};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Net {
    ns: String,
    dev: String,
    peer: String,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.dev]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn net(tag: &str) -> Net {
    let id = std::process::id() % 100_000;
    let n = Net { ns: format!("pf-{tag}{id}"), dev: format!("pf{tag}{id}a"), peer: format!("pf{tag}{id}b") };
    sh(&["ip", "link", "del", &n.dev]);
    sh(&["ip", "netns", "del", &n.ns]);
    assert!(sh(&["ip", "netns", "add", &n.ns]));
    assert!(sh(&["ip", "link", "add", &n.dev, "type", "veth", "peer", "name", &n.peer]));
    assert!(sh(&["ip", "link", "set", &n.peer, "netns", &n.ns]));
    assert!(sh(&["ip", "link", "set", &n.dev, "up"]));
    assert!(sh(&["ip", "-n", &n.ns, "link", "set", &n.peer, "up"]));
    n
}

fn ready(what: &str) -> bool {
    if !root_or_say(what) {
        return false;
    }
    if !sh(&["which", "tcpreplay"]) || !sh(&["which", "tcpdump"]) {
        eprintln!("\n!!! {what} DID NOT RUN: it needs tcpreplay and tcpdump (scripts/setup.sh) !!!\n");
        return false;
    }
    true
}

/// Background traffic of ~2,000 home hosts, with six DNS tunnels (one per host and domain)
/// woven in.
fn write_traffic(path: &std::path::Path, packets: usize) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).unwrap();
    let mut g = MixedTraffic::new(25, 1500, 1_700_000_000_000_000);
    let mut rng = Rng::new(9);
    let mut frame = Vec::new();
    for i in 0..packets {
        if i % 20 == 7 {
            // A tunnel query: host 10.1.200.(10+t) under t<t>.exfil.example.
            let t = (i / 20) % 6;
            let label: String = (0..48)
                .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[rng.below(32) as usize]))
                .collect();
            let q = dns_message(i as u16, &format!("{label}.t{t}.exfil-example.net"), false);
            frame.clear();
            PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 1, 200, 10 + t as u8], [198, 51, 100, 53], 64)
                .udp(40000 + (i % 1000) as u16, 53)
                .write(&mut frame, &q)
                .unwrap();
        } else {
            g.next_frame(&mut frame);
        }
        w.write(g.ts_micros, &frame, usize::MAX).unwrap();
    }
    w.finish().unwrap();
}

fn replay(n: &Net, path: &std::path::Path) {
    let out = Command::new("ip")
        .args(["netns", "exec", &n.ns, "tcpreplay", "--pps", "20000", "-i", &n.peer])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&out.stderr));
}

/// What identifies an alert: detector, signature, subject, peer and the domain or figure key.
fn keys(alerts: &[serde_json::Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for a in alerts {
        let k = format!(
            "{} {} {} {} {}",
            a["siphon"]["detector"],
            a["alert"]["signature_id"],
            a["src_ip"],
            a["dest_ip"],
            a["siphon"]["evidence"]["domain"]
        );
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[test]
fn two_fanout_workers_raise_what_r_raises_once() {
    if !ready("FANOUT LIVE TEST") {
        return;
    }
    let n = net("w");
    let dir = tempfile::tempdir().unwrap();
    let traffic = dir.path().join("traffic.pcap");
    write_traffic(&traffic, 40_000);
    let rec = dir.path().join("rec.pcap");
    let live_out = dir.path().join("live.json");
    let mut dump = Command::new("tcpdump")
        .args(["-i", &n.dev, "-s", "0", "-B", "65536", "--time-stamp-precision=nano", "-U", "-w"])
        .arg(&rec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let live = siphon()
        .args(["-i", &n.dev, "--workers", "2", "-q", "--stats-json", "--stats-interval", "0", "-o"])
        .arg(&live_out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(live.id());
    // (tcpdump, started first, has had at least as long.)
    std::thread::sleep(Duration::from_millis(500));
    replay(&n, &traffic);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&live, libc::SIGTERM);
    signal(&dump, libc::SIGINT);
    let out = live.wait_with_output().unwrap();
    let _ = dump.wait();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read(&live_out).unwrap();
    let live_alerts = parse_alerts(&text);
    let stats = String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event");
    let s = &stats["siphon"];
    assert_eq!(s["capture"]["dropped"], 0, "no kernel drops at this rate: {}", s["capture"]);
    assert!(s["packets"].as_u64().unwrap() >= 40_000, "every packet read: {}", s["packets"]);

    let offline = siphon().args(["-q", "-r"]).arg(&rec).output().unwrap();
    assert_eq!(offline.status.code(), Some(0));
    let r_alerts = parse_alerts(&offline.stdout);
    let (lk, rk) = (keys(&live_alerts), keys(&r_alerts));
    let tunnels = rk.keys().filter(|k| k.contains("dns_tunnel") && k.contains("exfil-example")).count();
    assert!(tunnels >= 6, "the six tunnels are caught by -r: {rk:#?}");
    assert_eq!(lk, rk, "live with two fanout workers = -r: nothing lost, nothing doubled");
}

#[test]
fn each_fanout_socket_gets_its_own_home_hosts() {
    if !ready("FANOUT SHARDING TEST") {
        return;
    }
    let n = net("s");
    let dir = tempfile::tempdir().unwrap();
    let traffic = dir.path().join("traffic.pcap");
    write_traffic(&traffic, 20_000);
    let home = siphon::Config::default().general.home_net;
    let prog = siphon::input::fanout_program(&home, 2).unwrap();
    let group = ((std::process::id() + 7) & 0xffff) as u16;
    let o = LiveOptions {
        iface: n.dev.clone(),
        snaplen: 65535,
        buffer_size: 64 << 20,
        promisc: true,
        filter: None,
        flush_interval: Duration::from_millis(50),
    };
    let socks: Vec<LiveSource> = (0..2)
        .map(|_| {
            let s = LiveSource::open(&o).unwrap();
            s.join_fanout(group, &prog).unwrap();
            s
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = socks
        .into_iter()
        .map(|mut s| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let opts = siphon::running::decode_options(&siphon::Config::default());
                let mut an = siphon::decoding::Anomalies::default();
                let homes = siphon::HomeNet::new(siphon::Config::default().general.home_net);
                let mut hosts = BTreeSet::<IpAddr>::new();
                let mut packets = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    s.read(256, &mut |p| {
                        packets += 1;
                        if let Some(d) = siphon::decoding::decode(p.link, p.data, &opts, &mut an) {
                            // The home side of home <-> outside packets (a packet between two
                            // home hosts goes with the lower address, as with -r).
                            match (homes.contains(&d.src), homes.contains(&d.dst)) {
                                (true, false) => hosts.insert(d.src),
                                (false, true) => hosts.insert(d.dst),
                                _ => false,
                            };
                        }
                    })
                    .unwrap();
                }
                (packets, hosts)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    replay(&n, &traffic);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let got: Vec<(u64, BTreeSet<IpAddr>)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    println!(
        "socket 0: {} packets, {} hosts; socket 1: {} packets, {} hosts",
        got[0].0,
        got[0].1.len(),
        got[1].0,
        got[1].1.len()
    );
    assert!(got[0].0 + got[1].0 >= 20_000, "the replay arrived");
    assert!(got[0].1.len() > 100 && got[1].1.len() > 100, "both sockets get hosts");
    let both: Vec<_> = got[0].1.intersection(&got[1].1).collect();
    assert!(both.is_empty(), "a home host on both sockets: {both:?}");
}
