//! Issue 20: classes of behaviour siphon missed, or misread, on traffic it was never tuned on —
//! ICMP data in a few large echoes and reply-only echo tunnels, trickle sessions, a tunnel seen
//! through a home resolver, NetBIOS/LLMNR/mDNS — each on a real-tool capture made by
//! `pcaps/scripts/make_unseen.sh`, with its benign twin that must stay quiet. Each detection's
//! time to detect (capture's first packet → alert) is measured and printed (`--nocapture`); the
//! README's "Detection on unseen traffic" table quotes them.

mod common;
use common::*;
use serde_json::Value;

const ICMP_TUNNEL: u64 = 9_100_100;
const ICMP_EXFIL: u64 = 9_100_101;
const LONG: u64 = 9_100_450;
const DNS_TUNNEL: u64 = 9_100_001;
const DNS_PORT: u64 = 9_100_003;

/// Seconds since the epoch of the capture's first packet (classic pcap, µs or ns).
fn first_packet(name: &str) -> f64 {
    let b = std::fs::read(pcap(name)).expect("capture");
    let le = matches!(b[..4], [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]);
    let ns = matches!(b[..4], [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d]);
    let word = |at: usize| {
        let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        f64::from(if le { u32::from_le_bytes(w) } else { u32::from_be_bytes(w) })
    };
    word(24) + word(28) / if ns { 1e9 } else { 1e6 }
}

/// Seconds from the capture's first packet to `alert`.
fn time_to_detect(name: &str, alert: &Value) -> f64 {
    let ts = alert["timestamp"].as_str().expect("timestamp");
    let t = chrono::DateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f%z").expect("EVE time");
    let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9;
    let d = secs - first_packet(name);
    println!(
        "{name}: {} {} -> {}: {d:.3} s to detect",
        alert["alert"]["signature_id"], alert["src_ip"], alert["dest_ip"]
    );
    d
}

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

fn only<'a>(alerts: &'a [Value], detector: &str, sig: u64, src: &str) -> &'a Value {
    let ours: Vec<&Value> = of(alerts, detector).into_iter().filter(|a| a["src_ip"] == src).collect();
    let first =
        ours.first().unwrap_or_else(|| panic!("no {detector} alert about {src}:\n{}", describe(alerts)));
    assert_eq!(first["alert"]["signature_id"], sig, "{}", describe(alerts));
    first
}

// ------------------------------------------------------------------ item 3: ICMP

#[test]
fn a_file_in_three_or_five_large_echoes_is_exfiltration_at_the_first_echo() {
    let alerts = run("icmp_file_echoes.pcap", &["-q"]);
    for (host, peer) in [("10.99.0.120", "203.0.113.80"), ("10.99.0.121", "198.51.100.80")] {
        let a = only(&alerts, "icmp_tunnel", ICMP_EXFIL, host);
        assert_eq!(a["dest_ip"], peer);
        assert_eq!(ev(a, "requests_to_detect"), 1, "{a}");
        assert!(ev(a, "text_bytes").as_u64().unwrap() >= 300, "{a}");
        assert!(a["siphon"]["score"].as_f64().unwrap() >= ev(a, "score_threshold").as_f64().unwrap());
        assert!(time_to_detect("icmp_file_echoes.pcap", a) < 2.0);
    }
    // The file's own figures, not the config's weights, are the evidence.
    assert!(of(&alerts, "icmp_tunnel").iter().all(|a| ev(a, "score_weights").is_null()));
}

#[test]
fn a_140_byte_text_message_in_one_echo_is_caught() {
    let alerts = run("icmp_text_message.pcap", &["-q"]);
    let a = only(&alerts, "icmp_tunnel", ICMP_EXFIL, "10.99.0.122");
    assert_eq!(ev(a, "echo_requests"), 1);
    assert!(ev(a, "text_bytes").as_u64().unwrap() >= 128, "{a}");
    assert_eq!(time_to_detect("icmp_text_message.pcap", a), 0.0);
}

#[test]
fn an_echo_reply_tunnel_carrying_ssh_is_a_tunnel() {
    let alerts = run("icmp_reply_tunnel.pcap", &["-q"]);
    let a = only(&alerts, "icmp_tunnel", ICMP_TUNNEL, "10.99.0.123");
    assert_eq!(a["dest_ip"], "203.0.113.81");
    assert_eq!(ev(a, "echo_requests"), 0);
    assert_eq!(ev(a, "protocol_banner"), "ssh");
    assert!(ev(a, "nonzero_code_payloads").as_u64().unwrap() >= 1);
    assert!(ev(a, "echoes_to_detect").as_u64().unwrap() <= 2, "{a}");
    let why: Vec<&str> =
        ev(a, "two_way_because").as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(
        why.contains(&"protocol_banner") && why.contains(&"replies_both_ways_without_requests"),
        "{why:?}"
    );
    assert!(time_to_detect("icmp_reply_tunnel.pcap", a) < 1.0);
}

#[test]
fn large_os_style_and_monitoring_pings_are_quiet() {
    // ping -s 1400; 3000 default pings at 500/s; Windows (32 and 1472 bytes) and macOS (56 and
    // 1400 bytes) layouts; ping -p ff.
    let alerts = run("icmp_benign_unseen.pcap", &["-q"]);
    assert!(of(&alerts, "icmp_tunnel").is_empty(), "{}", describe(&alerts));
}

// ------------------------------------------------------------------ item 4: trickle sessions

#[test]
fn a_75_minute_trickle_is_reported_by_its_duration_alone() {
    let alerts = run("trickle_75min.pcap", &["-q"]);
    let a = only(&alerts, "long_session", LONG, "10.99.0.129");
    assert_eq!(a["dest_ip"], "203.0.113.90");
    assert_eq!(ev(a, "tier"), 1);
    assert!(ev(a, "payload_out").as_u64().unwrap() < 10_000, "under the old 10 KB gate");
    assert_eq!(a["alert"]["severity"], 3, "duration alone: bytes and rate did not raise it");
    let t = time_to_detect("trickle_75min.pcap", a);
    assert!((3600.0..3640.0).contains(&t), "{t}");
    assert_eq!(of(&alerts, "long_session").len(), 1);
}

#[test]
fn a_reverse_shell_kept_open_for_75_minutes_is_reported() {
    let alerts = run("trickle_shell.pcap", &["-q"]);
    let a = only(&alerts, "long_session", LONG, "10.99.0.133");
    assert_eq!(a["dest_ip"], "203.0.113.91");
    assert_eq!(a["dest_port"], 4445);
    let t = time_to_detect("trickle_shell.pcap", a);
    assert!((3600.0..3700.0).contains(&t), "{t}");
}

#[test]
fn tiers_report_again_and_bytes_raise_the_severity() {
    // The 75-minute trickle with tiers at 20, 40 and 60 minutes, and a payload that raises.
    let alerts = run(
        "trickle_75min.pcap",
        &[
            "-q",
            "--set",
            "long_session.min_duration=20m",
            "--set",
            "long_session.report_tiers=40m,60m",
            "--set",
            "long_session.raise_payload_out=1KB",
        ],
    );
    let ours = of(&alerts, "long_session");
    let tiers: Vec<u64> = ours.iter().map(|a| ev(a, "tier").as_u64().unwrap()).collect();
    assert_eq!(tiers, [1, 2, 3], "{}", describe(&alerts));
    assert!(ours.iter().all(|a| a["alert"]["severity"] == 2));
}

#[test]
fn the_same_session_short_or_to_a_home_host_is_quiet() {
    // The trickle as recorded (60 s), and its chatter to a home server stretched to 75 minutes.
    for p in ["trickle_short.pcap", "trickle_home_75min.pcap"] {
        let alerts = run(p, &["-q"]);
        assert!(alerts.is_empty(), "{p}:\n{}", describe(&alerts));
    }
    // NTP polling (one UDP flow for 10 minutes) is no session, even with a 1-minute threshold.
    let alerts = run("benign_sntp.pcap", &["-q", "--set", "long_session.min_duration=60s"]);
    assert!(of(&alerts, "long_session").is_empty(), "{}", describe(&alerts));
}

// ------------------------------------------------------------------ item 5: the resolver path

fn assert_client_not_resolver(alerts: &[Value]) {
    let ours = of(alerts, "dns_tunnel");
    assert!(!ours.is_empty(), "{}", describe(alerts));
    for a in &ours {
        assert_eq!(a["src_ip"], "10.99.0.140", "every alert names the client:\n{}", describe(alerts));
    }
    let a = ours.iter().find(|a| a["alert"]["signature_id"] == DNS_TUNNEL).expect("tunnel alert");
    assert_eq!(ev(a, "resolver"), "10.99.1.53");
    assert_eq!(ev(a, "domain"), "pl-tunnel.net");
}

#[test]
fn a_tunnel_through_a_home_resolver_names_the_client_not_the_resolver() {
    let alerts = run("resolver_iodine.pcap", &["-q"]);
    assert_client_not_resolver(&alerts);
    let a = of(&alerts, "dns_tunnel").into_iter().find(|a| a["alert"]["signature_id"] == DNS_TUNNEL).unwrap();
    assert_eq!(ev(a, "resolver_learned"), true, "{a}");
    assert!(ev(a, "resolver_forwards").as_u64().unwrap() >= 1);
    assert_eq!(ev(a, "resolver_forwarded_to"), "203.0.113.56");
    time_to_detect("resolver_iodine.pcap", a);
    // Configured instead of learned, and with several workers (the resolver's clients and its
    // forwards are sharded together): the same.
    let alerts = run("resolver_iodine.pcap", &["-q", "--set", "dns_tunnel.resolvers=10.99.1.53"]);
    assert_client_not_resolver(&alerts);
    let alerts = run("resolver_iodine.pcap", &["-q", "--workers", "3"]);
    assert_client_not_resolver(&alerts);
}

#[test]
fn a_resolver_forwarding_ordinary_lookups_is_quiet() {
    let alerts = run("resolver_benign.pcap", &["-q"]);
    assert!(alerts.is_empty(), "{}", describe(&alerts));
    let alerts = run("resolver_benign.pcap", &["-q", "--set", "dns_tunnel.resolvers=10.99.1.53"]);
    assert!(alerts.is_empty(), "{}", describe(&alerts));
}

// ------------------------------------------------------------------ item 6: NBNS, LLMNR, mDNS

#[test]
fn netbios_llmnr_and_mdns_are_not_dns_on_an_odd_port() {
    // nmblookup (broadcast NB, node status), nmap -sU -p137 with and without nbstat, LLMNR and
    // mDNS queries to their multicast groups.
    let alerts = run("nbns_llmnr_mdns.pcap", &["-q"]);
    assert!(of(&alerts, "dns_tunnel").is_empty(), "{}", describe(&alerts));
    // nmap -sU's NetBIOS probes (NBSTAT to port 137) no longer raise it; its DNS-format probes
    // to external hosts' port 5353 do, as any DNS to an outside mDNS port (no mDNS leaves the link).
    let alerts = run("scan_nmap_sU.pcap", &["-q"]);
    let port: Vec<&Value> = alerts.iter().filter(|a| a["alert"]["signature_id"] == DNS_PORT).collect();
    assert!(port.iter().all(|a| a["dest_port"] == 5353), "{}", describe(&alerts));
}

#[test]
fn dns_to_an_external_host_on_port_5353_is_still_caught() {
    let alerts = run("dns_5353_external.pcap", &["-q"]);
    let p = only(&alerts, "dns_tunnel", DNS_PORT, "10.99.0.135");
    assert_eq!(p["dest_port"], 5353);
    time_to_detect("dns_5353_external.pcap", p);
    let t = of(&alerts, "dns_tunnel").into_iter().find(|a| a["alert"]["signature_id"] == DNS_TUNNEL);
    let t = t.unwrap_or_else(|| panic!("{}", describe(&alerts)));
    time_to_detect("dns_5353_external.pcap", t);
}
