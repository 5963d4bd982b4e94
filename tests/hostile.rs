//! Hostile input (issue 19): every evasion in `pcaps/hostile_*.pcap` (made by
//! `pcaps/scripts/make_hostile.sh`) is caught or counted, each beside a benign twin that stays
//! quiet; a bad file in a `-r` list hides neither the files after it nor itself.

mod common;
use common::*;
use serde_json::Value;

/// Runs siphon on `names` with --stats-json: (exit code, alerts, stats event, stderr).
fn run_stats(names: &[&str], args: &[&str]) -> (Option<i32>, Vec<Value>, Value, String) {
    let mut a = vec!["-q", "--stats-json"];
    a.extend_from_slice(args);
    let out = run_raw(names, &a);
    let stats = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event");
    (out.status.code(), parse_alerts(&out.stdout), stats, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn anomaly(stats: &Value, kind: &str) -> u64 {
    stats["siphon"]["anomalies"][kind].as_u64().unwrap_or_else(|| panic!("no anomaly {kind}: {stats}"))
}

#[test]
fn six_stacked_vlan_tags_hide_nothing_and_twelve_are_counted() {
    // dns_dig_loop.pcap's tunnel behind 802.1ad 100 + 802.1Q 101..105: caught as without tags.
    let (code, alerts, s, _) = run_stats(&["hostile_vlan6_dig_loop.pcap"], &[]);
    assert_eq!(code, Some(0));
    let dns = of(&alerts, "dns_tunnel");
    assert!(!dns.is_empty(), "{}", describe(&alerts));
    assert_eq!(dns[0]["vlan"][0], 100, "the outermost tag");
    assert_eq!(anomaly(&s, "not_ip"), 2, "the capture's two ARP frames only");
    // Twelve tags: deeper than decode.max_vlan_depth, counted by kind, never "not IP".
    let (_, alerts, s, _) = run_stats(&["hostile_vlan12_dig_loop.pcap"], &[]);
    assert!(alerts.is_empty(), "{}", describe(&alerts));
    assert_eq!((anomaly(&s, "vlan_too_deep"), anomaly(&s, "not_ip")), (202, 0), "200 IP frames and 2 ARP");
    // The limit is a setting: raised, the twelve-tag tunnel is caught too.
    let (_, alerts, _, _) =
        run_stats(&["hostile_vlan12_dig_loop.pcap"], &["--set", "decode.max_vlan_depth=12"]);
    assert!(!of(&alerts, "dns_tunnel").is_empty());
}

#[test]
fn nmap_tiny_fragments_are_counted_and_the_scan_still_seen() {
    // nmap -sS -f: 200 SYN probes, each in three fragments, the first 8 bytes of TCP header.
    let (code, alerts, s, _) = run_stats(&["hostile_nmap_frag_scan.pcap"], &[]);
    assert_eq!(code, Some(0));
    assert!(!of(&alerts, "scan").is_empty(), "{}", describe(&alerts));
    assert!(anomaly(&s, "frag_tiny") >= 200, "{}", s["siphon"]["anomalies"]);
    assert!(s["siphon"]["defrag"]["reassembled"].as_u64().unwrap() >= 200);
    assert_eq!(anomaly(&s, "frag_overlap"), 0);
}

#[test]
fn an_overlap_rewriting_syn_into_rst_is_resolved_first_wins_and_counted() {
    // 256 SYNs of a port-22 sweep, each with an overlapping last fragment whose copy of the
    // flags byte says RST+ACK. Linux and the BSDs keep the first bytes: a SYN sweep.
    let (_, alerts, s, _) = run_stats(&["hostile_frag_overlap_syn.pcap"], &[]);
    let scan = of(&alerts, "scan");
    assert!(!scan.is_empty(), "{}", describe(&alerts));
    assert_eq!(anomaly(&s, "frag_overlap"), 256);
    assert_eq!(anomaly(&s, "frag_overlap_conflict"), 256);
    assert_eq!(s["siphon"]["defrag"]["reassembled"], 256);
}

#[test]
fn an_overlap_replacing_tunnel_names_with_benign_ones_is_resolved_first_wins_and_counted() {
    let (_, alerts, s, _) = run_stats(&["hostile_frag_overlap_dns.pcap"], &[]);
    let dns = of(&alerts, "dns_tunnel");
    assert!(!dns.is_empty(), "{}", describe(&alerts));
    let name = dns[0]["dns"]["queries"][0]["rrname"].as_str().unwrap_or_default();
    assert!(name.ends_with(".exfil.data-sink.net") && !name.contains("mailhost"), "{name}");
    assert_eq!(anomaly(&s, "frag_overlap_conflict"), 100);
}

#[test]
fn kernel_fragments_are_the_quiet_twin() {
    // ping -s 4000 and a 3000-byte UDP datagram, fragmented by the kernel: no anomaly.
    let (_, alerts, s, _) = run_stats(&["ip_fragments.pcap"], &[]);
    assert!(alerts.is_empty(), "{}", describe(&alerts));
    for k in ["frag_overlap", "frag_overlap_conflict", "frag_tiny", "frag_too_many"] {
        assert_eq!(anomaly(&s, k), 0, "{k}");
    }
    assert_eq!(s["siphon"]["defrag"]["reassembled"], 7);
}

#[test]
fn repeating_each_tunnel_query_does_not_dilute_the_tunnel() {
    // 12 distinct tunnel names, each asked 5 times in a row (60 queries). Counted per query the
    // suspicious share would stay at 0.2 (under 0.3) throughout; per distinct name it is 1.
    let (_, alerts, _, _) = run_stats(&["hostile_dns_repeats.pcap"], &[]);
    let dns = of(&alerts, "dns_tunnel");
    assert!(!dns.is_empty(), "{}", describe(&alerts));
    let e = &dns[0]["siphon"]["evidence"];
    assert_eq!(e["suspicious_share"], 1.0, "{e}");
    let (queries, distinct) = (e["queries"].as_u64().unwrap(), e["distinct_subdomains"].as_u64().unwrap());
    assert!(queries >= 4 * distinct, "repeats were sent and did not dilute: {e}");
    assert!(e["suspicious_bytes"].as_u64().unwrap() >= distinct * 60, "{e}");
    // Its benign twin (dns_benign.pcap asks 30 names twice) stays quiet.
    assert!(of(&run("dns_benign.pcap", &[]), "dns_tunnel").is_empty());
}

#[test]
fn a_bad_file_in_a_list_is_named_and_the_files_after_it_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    let cut = dir.path().join("cut.pcap");
    let bytes = std::fs::read(pcap("icmp_ping_p.pcap")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 3]).unwrap();
    let out = siphon()
        .args(["-q", "-r"])
        .arg(&missing)
        .arg("-r")
        .arg(pcap("dns_dig_loop.pcap"))
        .arg("-r")
        .arg(&junk)
        .arg("-r")
        .arg(&cut)
        .arg("-r")
        .arg(pcap("scan_nmap_sS.pcap"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for name in ["missing.pcap", "junk.pcap", "cut.pcap"] {
        assert!(err.contains(name), "{name} named: {err}");
    }
    assert!(err.contains("3 of 5"), "{err}");
    let alerts = parse_alerts(&out.stdout);
    assert!(!of(&alerts, "dns_tunnel").is_empty(), "the file after a missing one is read");
    assert!(!of(&alerts, "scan").is_empty(), "the file after a junk and a cut one is read");
}

#[test]
fn one_memory_cap_is_shared_and_enforced_by_shedding_detector_state() {
    // 3,000 home clients, each with its own tunnel-like domain and 40 names (120,000 queries).
    use etherparse::PacketBuilder;
    use siphon::input::PcapWriter;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("groups.pcap");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).unwrap();
    for i in 0..120_000u32 {
        let (client, k) = (i % 3000, i / 3000);
        let name =
            format!("{:040x}.{k}.g{client}.example.net", u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let q = siphon::synth::dns_message(i as u16, &name, false);
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 1, (client >> 8) as u8, client as u8], [198, 51, 100, 53], 64)
            .udp(30000 + (k % 30000) as u16, 53)
            .write(&mut frame, &q)
            .unwrap();
        w.write(1_700_000_000_000_000 + u64::from(i) * 100, &frame, usize::MAX).unwrap();
    }
    w.finish().unwrap();
    let path = p.to_str().unwrap();
    let stats_of = |args: &[&str]| {
        let out = siphon().args(["-q", "--stats-json", "-r", path]).args(args).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["event_type"] == "stats")
            .expect("stats event")
    };
    let roomy = stats_of(&["--workers", "2"]);
    let m = &roomy["siphon"]["memory"];
    assert_eq!(m["emergencies"], 0, "{m}");
    assert!(m["peak"].as_u64().unwrap() > 1 << 20, "{m}");
    assert!(roomy["siphon"]["detectors"]["dns_tunnel"]["memory"].as_u64().unwrap() > 0);
    // Under a 4 MiB cap for both workers together, detector state is shed, and counted.
    let tight = stats_of(&["--workers", "2", "--set", "memory.cap=4MiB"]);
    let m = &tight["siphon"]["memory"];
    assert!(m["emergencies"].as_u64().unwrap() > 0 && m["shed"].as_u64().unwrap() > 0, "{m}");
    assert!(
        tight["siphon"]["detectors"]["dns_tunnel"]["shed"].as_u64().unwrap() > 0,
        "{}",
        tight["siphon"]["detectors"]
    );
    // The flow tables (120,000 one-query flows) are shed too, oldest first, and counted.
    let flows = &tight["siphon"]["flows"];
    assert!(flows["shed"].as_u64().unwrap() > 0, "{flows}");
    assert!(m["held"].as_u64().unwrap() < roomy["siphon"]["memory"]["held"].as_u64().unwrap(), "{m}");
}
