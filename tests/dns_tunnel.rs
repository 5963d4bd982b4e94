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

#[test]
fn dns_on_a_non_standard_port_is_flagged() {
    use siphon::input::PcapWriter;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dns5300.pcap");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).unwrap();
    for i in 0..5u16 {
        let q = siphon::synth::dns_message(i, &format!("host{i}.example.com"), false);
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 99, 0, 40], [198, 51, 100, 53], 64)
            .udp(40000, 5300)
            .write(&mut frame, &q)
            .unwrap();
        w.write(1_700_000_000_000_000 + u64::from(i) * 1000, &frame, usize::MAX).unwrap();
    }
    w.finish().unwrap();
    let out = siphon().args(["-q", "-r"]).arg(&p).output().unwrap();
    let alerts = parse_alerts(&out.stdout);
    let port = of(&alerts, "dns_tunnel");
    assert_eq!(port.len(), 1, "one alert per episode:\n{}", describe(&alerts));
    assert_eq!(port[0]["alert"]["signature_id"], 9_100_003);
    assert_eq!(port[0]["src_ip"], "10.99.0.40");
    assert_eq!(port[0]["dest_port"], 5300);
}

#[test]
fn direct_to_authoritative_when_resolvers_are_configured() {
    let alerts = run("dns_dig_loop.pcap", &["-q", "--set", "dns_tunnel.resolvers=10.99.0.1"]);
    let direct: Vec<_> =
        of(&alerts, "dns_tunnel").into_iter().filter(|a| a["alert"]["signature_id"] == 9_100_004).collect();
    assert_eq!(direct.len(), 1, "{}", describe(&alerts));
    assert_eq!(direct[0]["src_ip"], "10.99.0.14");
    let none = run("dns_dig_loop.pcap", &["-q"]);
    assert!(of(&none, "dns_tunnel").iter().all(|a| a["alert"]["signature_id"] != 9_100_004));
}
