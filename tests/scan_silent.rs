//! Scans on traffic the detector was not tuned on (issue 20), each a real-tool capture made by
//! `pcaps/scripts/make_scan_silent.sh`, with its benign twin: scans nothing answers (nmap -sU
//! of a dark address and of a dropping firewall, nmap -PU/-PA sweeps, masscan UDP), IP-protocol
//! scans (nmap -sO) and refusals whose probes were out of view, a client failing over between a
//! name's dropped addresses, and an IPv6 scan between two non-home addresses.

mod common;
use common::*;
use serde_json::Value;

fn scan_alerts(pcap: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["-q", "--workers", "1"];
    all.extend_from_slice(args);
    let alerts = run(pcap, &all);
    of(&alerts, "scan").into_iter().cloned().collect()
}

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

fn num(a: &Value, k: &str) -> f64 {
    ev(a, k).as_f64().unwrap_or_else(|| panic!("evidence {k}: {a}"))
}

/// One alert about `src` with `technique` and `trigger`, within `max_secs` of the first probe.
fn caught(pcap: &str, src: &str, technique: &str, trigger: &str, max_secs: f64) -> Value {
    let all = scan_alerts(pcap, &[]);
    assert_eq!(all.len(), 1, "{pcap}: one alert per episode:\n{}", describe(&all));
    let a = all[0].clone();
    assert_eq!(a["src_ip"], src, "{pcap}");
    assert_eq!(a["alert"]["signature_id"], 9_100_200, "{pcap}");
    assert_eq!(ev(&a, "technique"), technique, "{pcap}");
    assert_eq!(ev(&a, "trigger"), trigger, "{pcap}");
    let t = num(&a, "seconds_to_detect");
    assert!(t <= max_secs, "{pcap}: {t} s to detect");
    a
}

fn quiet(pcap: &str, args: &[&str]) {
    let a = scan_alerts(pcap, args);
    assert!(a.is_empty(), "{pcap} {args:?}:\n{}", describe(&a));
}

#[test]
fn udp_scans_nothing_answers_are_caught_by_their_silent_fan_out() {
    // nmap -sU -Pn --top-ports 1000: an address that does not exist, a host whose firewall
    // drops everything; masscan -pU:1-1000 of a dark address. No answer of any kind.
    for (pcap, src) in [
        ("scan_silent_udp_dark.pcap", "10.99.0.161"),
        ("scan_silent_udp_firewall.pcap", "10.99.0.162"),
        ("scan_silent_masscan_udp.pcap", "10.99.0.165"),
    ] {
        let a = caught(pcap, src, "udp", "vertical_walk", 8.0);
        assert_eq!(ev(&a, "shape"), "vertical", "{pcap}");
        assert_eq!(num(&a, "successes"), 0.0, "{pcap}: nothing ever answered");
        assert_eq!(ev(&a, "return_path_visible"), false, "{pcap}");
        assert!(num(&a, "silent_ports") >= num(&a, "fanout_ports_threshold"), "{pcap}");
        assert_eq!(num(&a, "unanswered"), num(&a, "failed_probes"), "{pcap}");
    }
}

#[test]
fn ping_sweeps_nothing_answers_are_host_sweeps() {
    // nmap -sn -PU (empty datagrams to port 40125) and -PA (ACKs to port 80) across a dark /24.
    for (pcap, src, technique) in [
        ("scan_silent_udp_ping_sweep.pcap", "10.99.0.163", "udp"),
        ("scan_silent_ack_ping_sweep.pcap", "10.99.0.164", "ack"),
    ] {
        let a = caught(pcap, src, technique, "host_sweep", 1.0);
        assert_eq!(ev(&a, "shape"), "horizontal");
        assert_eq!(num(&a, "swept_hosts"), 10.0, "{pcap}: crafted probes count twice toward 20");
    }
}

#[test]
fn unanswered_dns_ntp_retries_and_p2p_ports_stay_quiet() {
    // Two dead resolvers, two dead NTP servers, one dead HTTPS service retried, STUN-like
    // datagrams to four ports of one peer and one of another; answered HTTP besides.
    quiet("scan_benign_silent_udp.pcap", &[]);
}

#[test]
fn ip_protocol_scan_is_refused_protocol_by_protocol() {
    let a = caught("scan_ipproto.pcap", "10.99.0.167", "ip_protocol", "vertical_walk", 1.0);
    assert!(num(&a, "rejected_icmp") >= 4.0, "protocol unreachables from the target");
    assert_eq!(ev(&a, "host"), "203.0.113.83");
    // ESP to a peer that refuses it, and IP-in-IP: a protocol or two, not a scan.
    quiet("scan_benign_ipproto.pcap", &[]);
}

#[test]
fn refusals_whose_probes_were_out_of_view_are_first_contacts() {
    // Only the return path: nmap -sO's protocol unreachables, nmap -sU's port unreachables.
    for (pcap, src, technique) in [
        ("scan_oneway_ipproto_replies.pcap", "10.99.0.167", "ip_protocol"),
        ("scan_oneway_udp_replies.pcap", "10.99.0.35", "udp"),
    ] {
        let all = scan_alerts(pcap, &[]);
        assert_eq!(all.len(), 1, "{pcap}:\n{}", describe(&all));
        let a = &all[0];
        assert_eq!(a["src_ip"], src, "{pcap}: the alert is about the prober, not the refuser");
        assert_eq!(ev(a, "technique"), technique, "{pcap}");
        assert_eq!(num(a, "refused_out_of_view"), num(a, "probes"), "{pcap}: no probe was seen");
        assert!(num(a, "failed_probes") <= 12.0, "{pcap}");
    }
}

#[test]
fn failing_over_between_a_names_dropped_addresses_is_not_a_scan() {
    // curl and a connect() loop try the four addresses dnsmasq returned, all dropped, with the
    // kernel's SYN retransmissions, between answered connections.
    quiet("scan_benign_failover.pcap", &[]);
    // Without the grouping (a window shorter than the failover) the same traffic alerts: the
    // capture exercises it.
    assert_eq!(scan_alerts("scan_benign_failover.pcap", &["--set", "scan.resolved_window=1s"]).len(), 1);
    // Resolving a name does not hide a scan of its address.
    let a = caught("scan_failover_then_scan.pcap", "10.99.0.170", "syn", "vertical_walk", 3.0);
    assert_eq!(ev(&a, "host"), "203.0.113.90");
}

#[test]
fn ipv6_scan_between_non_home_addresses_claims_no_direction() {
    // 2001:db8:99::171 scans 2001:db8:1::10; neither is in the home network.
    let a = &scan_alerts("scan_ipv6_external.pcap", &[])[0];
    assert_eq!(a["alert"]["signature_id"], 9_100_203);
    assert_eq!(a["alert"]["signature"], "SIPHON scan: scan between hosts outside the home network");
    assert_eq!(ev(a, "direction"), "external");
    // With only an IPv4 home net, the evidence says the family is not covered at all.
    let a = &scan_alerts("scan_ipv6_external.pcap", &["--home-net", "10.99.0.0/24"])[0];
    assert_eq!(a["alert"]["signature_id"], 9_100_203);
    assert_eq!(ev(a, "home_net_covers_family"), false);
    // Once the scanner's network is home, it is an outbound scan.
    let a = &scan_alerts("scan_ipv6_external.pcap", &["--home-net", "10.99.0.0/24,2001:db8:99::/48"])[0];
    assert_eq!(a["alert"]["signature_id"], 9_100_200);
    assert_eq!(ev(a, "direction"), "outbound");
}
