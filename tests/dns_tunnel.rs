//! DNS tunnels made by real tools (iodine, dns2tcp, a dig loop) are caught with the right
//! client and domain; ordinary DNS raises nothing. Captures: pcaps/README.md.

mod common;
use common::*;

fn assert_tunnel(pcap: &str, client: &str, domain: &str, max_queries: u64) {
    let alerts = run(pcap, &["-q"]);
    let dns = of(&alerts, "dns_tunnel");
    let first = dns
        .iter()
        .find(|a| a["siphon"]["evidence"]["domain"] == domain)
        .unwrap_or_else(|| panic!("{pcap}: no dns_tunnel alert for {domain}:\n{}", describe(&alerts)));
    assert_eq!(first["src_ip"], client, "{pcap}: alert is about the tunnel client");
    assert_eq!(first["alert"]["signature_id"], 9_100_001);
    let q = first["siphon"]["evidence"]["queries"].as_u64().unwrap();
    assert!(q <= max_queries, "{pcap}: needed {q} queries (> {max_queries})");
    assert!(first["dns"]["queries"][0]["rrname"].as_str().unwrap().ends_with(domain));
    // One alert per episode (plus at most one escalation per order of magnitude).
    assert!(dns.len() <= 3, "{pcap}: too many alerts:\n{}", describe(&alerts));
}

#[test]
fn iodine_null_is_caught() {
    assert_tunnel("dns_iodine_null.pcap", "10.99.0.11", "exfil-test.net", 30);
}

#[test]
fn iodine_txt_under_a_co_uk_domain_is_grouped_by_public_suffix() {
    assert_tunnel("dns_iodine_txt.pcap", "10.99.0.12", "evil-tunnel.co.uk", 30);
}

#[test]
fn dns2tcp_is_caught() {
    assert_tunnel("dns_dns2tcp.pcap", "10.99.0.13", "tcp-relay.com", 30);
}

#[test]
fn dig_hex_loop_is_caught() {
    assert_tunnel("dns_dig_loop.pcap", "10.99.0.14", "data-sink.net", 30);
}

#[test]
fn ordinary_dns_is_quiet() {
    for p in ["dns_benign.pcap", "proxy_dns_names.pcap", "scan_benign_resolver.pcap"] {
        let alerts = run(p, &["-q"]);
        assert!(of(&alerts, "dns_tunnel").is_empty(), "{p}:\n{}", describe(&alerts));
    }
}

#[test]
fn window_and_threshold_are_configurable() {
    // With an unreachable threshold the tunnel signature stays quiet: the knob is honoured.
    let alerts = run("dns_dig_loop.pcap", &["-q", "--set", "dns_tunnel.score_threshold=100000"]);
    assert!(of(&alerts, "dns_tunnel").iter().all(|a| a["alert"]["signature_id"] != 9_100_001));
}
