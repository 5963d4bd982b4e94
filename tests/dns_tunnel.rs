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

/// A group whose set of distinct names is full (`max_names_per_group`) counts no more names
/// until its window slides, so their figures are not computed (issue 19: a flood of random
/// names under one domain paid for each); the figures an alert shows are of the names counted.
#[test]
fn a_full_name_set_counts_nothing_until_the_window_slides() {
    use siphon::input::PcapWriter;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("full_set.pcap");
    let f = std::fs::File::create(&p).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).unwrap();
    let mut rng = siphon::synth::Rng::new(19);
    let mut label = |n: usize| -> String {
        (0..n).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[rng.below(32) as usize])).collect()
    };
    // Seconds 0-1: 20 ordinary names fill the set; 1-9: 50 tunnel-like names with 60-byte
    // labels that it has no room for; 10.5-12: 20 with 40-byte labels, counted once the
    // window (10 s) slid.
    let mut names: Vec<(u64, String)> = (0..20).map(|i| (i * 50, format!("host{i}.t.example.com"))).collect();
    names.extend((0..50).map(|i| (1_000 + i * 160, format!("{}.t.example.com", label(60)))));
    names.extend((0..20).map(|i| (10_500 + i * 50, format!("{}.t.example.com", label(40)))));
    for (i, (ms, name)) in names.iter().enumerate() {
        let q = siphon::synth::dns_message(i as u16, name, false);
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 99, 0, 41], [198, 51, 100, 53], 64)
            .udp(40000 + i as u16, 53)
            .write(&mut frame, &q)
            .unwrap();
        w.write(1_700_000_000_000_000 + ms * 1000, &frame, usize::MAX).unwrap();
    }
    w.finish().unwrap();
    let set = ["dns_tunnel.max_names_per_group=20", "dns_tunnel.window=10s", "dns_tunnel.score_threshold=10"];
    let mut args = vec!["-q"];
    for s in &set {
        args.extend(["--set", s]);
    }
    let out = siphon().args(&args).arg("-r").arg(&p).output().unwrap();
    let alerts = parse_alerts(&out.stdout);
    let dns = of(&alerts, "dns_tunnel");
    assert_eq!(dns.len(), 1, "{}", describe(&alerts));
    let e = &dns[0]["siphon"]["evidence"];
    assert_eq!(dns[0]["alert"]["signature_id"], 9_100_001);
    // The 20 ordinary names and 10 of the counted tunnel names: none of the 50 uncounted.
    assert_eq!(e["distinct_subdomains"], 30, "{e}");
    assert_eq!(e["suspicious_subdomains"], 10, "{e}");
    assert_eq!(e["longest_label"], 40, "only the counted names' figures: {e}");
    // Every query is still counted as a query, and its length seen.
    assert_eq!(e["queries"], 80, "{e}");
    assert_eq!(e["longest_name"], 60 + ".t.example.com".len(), "{e}");
}
