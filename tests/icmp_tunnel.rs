//! ICMP tunnels and exfiltration made by real tools (ptunnel-ng, `ping -p`, `hping3 --file`)
//! are caught with the right host; ordinary ping, traceroute and unreachables, and every
//! capture made for another detector, raise nothing. Captures: pcaps/scripts/ (the namespace
//! scripts for the real tools; icmp.md for the scapy-written ICMPv6 and OS captures and hping3 -C 3).

mod common;
use common::*;

const TUNNEL: u64 = 9_100_100;
const EXFIL: u64 = 9_100_101;
const ODD_TYPE: u64 = 9_100_102;

/// The capture's icmp_tunnel alerts are all about `host`, the first has `sig` and needed at
/// most `max_requests` echo requests. Returns the first alert's evidence.
fn assert_caught(pcap: &str, host: &str, peer: &str, sig: u64, max_requests: u64) -> serde_json::Value {
    let alerts = run(pcap, &["-q", "--home-net", "10.99.0.0/16,2001:db8:99::/48"]);
    let ours = of(&alerts, "icmp_tunnel");
    let first =
        ours.first().unwrap_or_else(|| panic!("{pcap}: no icmp_tunnel alert:\n{}", describe(&alerts)));
    for a in &ours {
        assert_eq!(a["src_ip"], host, "{pcap}: every alert is about the tunnelling host");
        assert_eq!(a["dest_ip"], peer, "{pcap}");
    }
    assert_eq!(first["alert"]["signature_id"], sig, "{pcap}");
    assert!(first["proto"] == "ICMP" || first["proto"] == "IPv6-ICMP");
    let e = &first["siphon"]["evidence"];
    // Echo requests before the alert (ICMP messages, for the unusual-type signature).
    let r = e["requests_to_detect"].as_u64().or(e["odd_packets"].as_u64()).unwrap();
    assert!(r <= max_requests, "{pcap}: needed {r} packets (> {max_requests})");
    assert!(first["siphon"]["score"].as_f64().unwrap() >= e["score_threshold"].as_f64().unwrap());
    // One alert per episode, plus at most one escalation per order of magnitude the score grows
    // (a transfer weighted by the bytes it carries grows 100x in seconds: two).
    assert!(ours.len() <= 3, "{pcap}: too many alerts:\n{}", describe(&alerts));
    e.clone()
}

#[test]
fn ptunnel_ng_is_a_tunnel() {
    let e = assert_caught("icmp_ptunnel.pcap", "10.99.0.21", "203.0.113.77", TUNNEL, 10);
    assert_eq!(e["tunnel_tool"], "ptunnel-ng");
    assert!(e["tunnel_header_payloads"].as_u64().unwrap() >= 2);
}

#[test]
fn ping_p_chunks_are_exfiltration() {
    let e = assert_caught("icmp_ping_p.pcap", "10.99.0.22", "198.51.100.23", EXFIL, 10);
    assert!(e["ping_pattern_payloads"].as_u64().unwrap() >= 5);
    assert_eq!(e["example_kind"], "pattern");
}

#[test]
fn hping3_file_is_exfiltration() {
    let e = assert_caught("icmp_hping3.pcap", "10.99.0.23", "203.0.113.24", EXFIL, 10);
    assert!(e["high_entropy_payloads"].as_u64().unwrap() >= 1);
    assert!(e["large_payloads"].as_u64().unwrap() >= 1);
}

#[test]
fn icmpv6_exfiltration_is_caught() {
    let e = assert_caught("icmp_v6_exfil.pcap", "2001:db8:99::60", "2001:db8:66::24", EXFIL, 10);
    assert_eq!(e["icmpv6"], true);
}

#[test]
fn a_file_in_icmp_errors_is_data_in_an_unusual_type() {
    let e = assert_caught("icmp_hping3_unreach.pcap", "10.99.0.25", "203.0.113.25", ODD_TYPE, 10);
    assert_eq!(e["reason"], "error_longer_than_quoted_datagram");
    assert!(e["odd_packets"].as_u64().unwrap() >= e["odd_packets_threshold"].as_u64().unwrap());
}

#[test]
fn windows_macos_busybox_cisco_go_and_ping6_are_quiet() {
    // Also with the home network covering the IPv6 host, so both address families are tracked
    // from the home side.
    let alerts = run("icmp_benign_os.pcap", &["-q", "--home-net", "10.99.0.0/16,2001:db8:99::/48"]);
    assert!(of(&alerts, "icmp_tunnel").is_empty(), "{}", describe(&alerts));
}

#[test]
fn ordinary_icmp_and_other_detectors_captures_are_quiet() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let tunnels = [
        "icmp_ptunnel.pcap",
        "icmp_ping_p.pcap",
        "icmp_hping3.pcap",
        "icmp_v6_exfil.pcap",
        "icmp_hping3_unreach.pcap",
        // tests/unseen_traffic.rs
        "icmp_file_echoes.pcap",
        "icmp_text_message.pcap",
        "icmp_reply_tunnel.pcap",
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("pcaps/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) || tunnels.contains(&name.as_str()) {
            continue;
        }
        let alerts = run(&name, &["-q"]);
        assert!(of(&alerts, "icmp_tunnel").is_empty(), "{name}:\n{}", describe(&alerts));
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} captures checked");
}

#[test]
fn threshold_and_allow_list_are_honoured() {
    let alerts = run("icmp_hping3.pcap", &["-q", "--set", "icmp_tunnel.score_threshold=100000"]);
    assert!(of(&alerts, "icmp_tunnel").is_empty(), "{}", describe(&alerts));
    let alerts = run("icmp_ptunnel.pcap", &["-q", "--set", "icmp_tunnel.allow_hosts=203.0.113.77"]);
    assert!(of(&alerts, "icmp_tunnel").is_empty(), "{}", describe(&alerts));
    let alerts = run("icmp_ping_p.pcap", &["-q", "--set", "icmp_tunnel.enabled=false"]);
    assert!(of(&alerts, "icmp_tunnel").is_empty(), "{}", describe(&alerts));
}
