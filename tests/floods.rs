//! Floods, each built by the test itself: memory stays under the caps (peak RSS reported),
//! evictions are counted in the stats, and alerts are rate-limited with the suppressed count
//! reported — no alert storm.

mod common;
use common::*;
use etherparse::PacketBuilder;
use siphon::input::PcapWriter;
use siphon::synth::Rng;
use std::io::BufWriter;
use std::path::Path;

const N: u32 = 1_000_000;

fn write_capture(path: &Path, n: u32, mut frame: impl FnMut(u32, &mut Vec<u8>)) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, f)).unwrap();
    let mut buf = Vec::with_capacity(256);
    for i in 0..n {
        buf.clear();
        frame(i, &mut buf);
        // 100k packets per second of capture time.
        w.write(1_700_000_000_000_000 + u64::from(i) * 10, &buf, usize::MAX).unwrap();
    }
    w.finish().unwrap();
}

/// Runs siphon with --stats-json; returns (alerts, stats event, peak RSS bytes).
fn run_measured(path: &Path, args: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value, u64) {
    let mut child = siphon()
        .args(["-q", "--stats-json", "--workers", "1", "-r"])
        .arg(path)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: waiting for our own child; rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(status, 0, "siphon exits 0 under the flood");
    let _ = child.try_wait(); // reaped by wait4 above
    let out = reader.join().unwrap();
    let alerts = parse_alerts(&out);
    let stats = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event");
    let rss = ru.ru_maxrss as u64 * 1024;
    println!("peak RSS {:.1} MiB; stats {}", rss as f64 / 1048576.0, stats["siphon"]);
    (alerts, stats, rss)
}

const MIB: u64 = 1 << 20;

#[test]
fn syn_flood_from_a_million_random_sources_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("synflood.pcap");
    let mut rng = Rng::new(1);
    write_capture(&p, N, |i, out| {
        let src = (rng.next_u64() as u32 | 0x0100_0000).to_be_bytes();
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, [10, 0, 0, 5], 64)
            .tcp(1024 + (i % 60000) as u16, 80, i, 1024)
            .syn();
        b.write(out, &[]).unwrap();
    });
    let (alerts, stats, rss) = run_measured(&p, &["--set", "flow.max_flows=100000"]);
    let s = &stats["siphon"];
    assert_eq!(s["packets"], u64::from(N));
    assert!(s["flows"]["evicted"].as_u64().unwrap() >= 800_000, "evictions counted: {}", s["flows"]);
    assert!(rss < 192 * MIB, "peak RSS {rss}");
    assert!(alerts.len() <= 200, "no alert storm: {}", alerts.len());
}

#[test]
fn a_million_random_subdomains_under_one_domain_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("subdomains.pcap");
    let mut rng = Rng::new(2);
    write_capture(&p, N, |i, out| {
        let label: String = (0..40)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[rng.below(32) as usize]))
            .collect();
        let q = siphon::synth::dns_message(i as u16, &format!("{label}.flood.example.com"), false);
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 7], [198, 51, 100, 53], 64)
            .udp(30000 + (i % 30000) as u16, 53);
        b.write(out, &q).unwrap();
    });
    let (alerts, stats, rss) = run_measured(&p, &[]);
    let s = &stats["siphon"];
    let dns: Vec<_> = alerts.iter().filter(|a| a["siphon"]["detector"] == "dns_tunnel").collect();
    assert!(!dns.is_empty() && dns.len() <= 4, "one episode, escalations only: {}", dns.len());
    assert!(rss < 192 * MIB, "peak RSS {rss}");
    // The detector asks the suppressor's own escalation rule before building an alert, so
    // it builds none the suppressor would drop as a repeat (the count is still reported).
    assert_eq!(s["suppressed"]["repeats"].as_u64(), Some(0));
}

#[test]
fn a_million_distinct_icmp_peers_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("icmp.pcap");
    let mut rng = Rng::new(3);
    write_capture(&p, N, |i, out| {
        let src = (rng.next_u64() as u32 | 0x0100_0000).to_be_bytes();
        let payload = [0x5au8; 64];
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, [10, 0, 0, 9], 64)
            .icmpv4_echo_request(i as u16, 1);
        b.write(out, &payload).unwrap();
    });
    let (alerts, stats, rss) = run_measured(&p, &["--set", "flow.max_flows=100000"]);
    let s = &stats["siphon"];
    assert!(s["flows"]["evicted"].as_u64().unwrap() >= 800_000, "{}", s["flows"]);
    assert!(rss < 192 * MIB, "peak RSS {rss}");
    assert!(alerts.len() <= 200, "no alert storm: {}", alerts.len());
}

#[test]
fn gre_nesting_bomb_is_cut_at_the_configured_depth() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("grebomb.pcap");
    write_capture(&p, 10_000, |i, out| {
        // 40 nested IPv4/GRE layers around a UDP packet.
        let mut inner = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [198, 51, 100, 1], 64)
            .udp(1000, 2000)
            .write(&mut inner, &i.to_be_bytes())
            .unwrap();
        for _ in 0..40 {
            let mut gre = vec![0x00, 0x00, 0x08, 0x00];
            gre.extend_from_slice(&inner);
            let mut outer = Vec::new();
            PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
                .write(&mut outer, etherparse::IpNumber::GRE, &gre)
                .unwrap();
            inner = outer;
        }
        let mut f = vec![2u8, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&inner);
        out.extend_from_slice(&f);
    });
    let (_, stats, _) = run_measured(&p, &[]);
    let an = &stats["siphon"]["anomalies"];
    assert_eq!(an["tunnel_too_deep"], 10_000, "{an}");
}
