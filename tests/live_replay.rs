//! Live capture under load: `tcpreplay --topspeed` replays a generated capture onto a veth (in a
//! namespace the test creates); siphon's drop figures are libpcap's `pcap_stats`, and every
//! packet the kernel delivered was analysed: processed + dropped = received. Needs root; says so
//! loudly when it cannot run.

mod common;
use common::*;
use siphon::input::PcapWriter;
use siphon::synth::MixedTraffic;
use std::process::{Command, Stdio};
use std::time::Duration;

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn num_after(text: &str, prefix: &str, word: &str) -> Option<f64> {
    let line = text.lines().rev().find(|l| l.contains(prefix))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| w.trim_end_matches(',') == word)?;
    words.get(i.checked_sub(1)?)?.trim_end_matches(',').parse().ok()
}

#[test]
fn tcpreplay_topspeed_drops_match_pcap_stats() {
    if unsafe { libc::geteuid() } != 0 || !sh(&["which", "tcpreplay"]) {
        eprintln!("\n!!! LIVE REPLAY TEST DID NOT RUN: it needs root and tcpreplay !!!\n");
        return;
    }
    let id = std::process::id() % 100_000;
    let ns = format!("siphon-rp-{id}");
    let a = format!("sr{id}a");
    let b = format!("sr{id}b");
    struct Cleanup(String, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["link", "del", &self.1]).status();
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _c = Cleanup(ns.clone(), a.clone());
    assert!(sh(&["ip", "netns", "add", &ns]));
    assert!(sh(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]));
    assert!(sh(&["ip", "link", "set", &b, "netns", &ns]));
    assert!(sh(&["ip", "link", "set", &a, "up"]));
    assert!(sh(&["ip", "-n", &ns, "link", "set", &b, "up"]));

    let dir = tempfile::tempdir().unwrap();
    let pcap_path = dir.path().join("replay.pcap");
    {
        let f = std::fs::File::create(&pcap_path).unwrap();
        let mut w = PcapWriter::new(std::io::BufWriter::new(f)).unwrap();
        let mut g = MixedTraffic::new(21, 1000, 1_700_000_000_000_000);
        let mut frame = Vec::new();
        for _ in 0..200_000 {
            g.next_frame(&mut frame);
            w.write(g.ts_micros, &frame, usize::MAX).unwrap();
        }
        w.finish().unwrap();
    }
    let child = siphon()
        .args(["-i", &a, "-q", "--stats-json", "--stats-interval", "0", "-B", "256MiB"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(child.id());
    let replay = Command::new("ip")
        .args(["netns", "exec", &ns, "tcpreplay", "--topspeed", "-i", &b])
        .arg(&pcap_path)
        .output()
        .unwrap();
    let replay_out = String::from_utf8_lossy(&replay.stdout).to_string();
    std::thread::sleep(Duration::from_millis(2000));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stats = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event");
    let s = &stats["siphon"];
    let processed = s["packets"].as_u64().unwrap();
    let received = s["capture"]["received"].as_u64().unwrap();
    let dropped = s["capture"]["dropped"].as_u64().unwrap();
    let rate = num_after(&replay_out, "Rated:", "pps").unwrap_or(0.0);
    println!("tcpreplay: {}", replay_out.lines().find(|l| l.contains("Rated")).unwrap_or(""));
    println!("siphon: kernel received {received}, dropped {dropped}, processed {processed}");
    assert!(received >= 200_000, "the kernel saw the replay: {received}");
    // libpcap counts every packet the filter accepted in `received`, including the dropped ones.
    assert_eq!(processed + dropped, received, "every delivered packet analysed, every drop counted");
    assert!(rate > 0.0);
}
