//! Mirrored traffic (SPAN, ERSPAN, VXLAN): the inner traffic is analysed as if captured
//! directly, alerts say which mirror delivered it, and the mirror's own transport (its tunnel
//! packets, the sensor's ICMP errors, keepalives, garbled tunnels) raises nothing and creates no
//! flow. Captures and the figures asserted here: pcaps/scripts/mirror.md.

mod common;
use common::*;
use serde_json::Value;

/// Outer (underlay) addresses of every mirror capture: no alert may be about them.
const OUTER: [&str; 6] =
    ["10.99.250.1", "10.99.250.2", "10.99.250.3", "10.99.250.4", "192.0.2.250", "10.99.9.1"];

/// Runs siphon with `--stats-json`; returns the alerts and the `siphon` stats object.
fn run_stats(pcap_name: &str, args: &[&str]) -> (Vec<Value>, Value) {
    let mut all = vec!["-q", "--stats-json"];
    all.extend_from_slice(args);
    let out = run_raw(&[pcap_name], &all);
    assert!(out.status.success(), "{pcap_name}: {}", String::from_utf8_lossy(&out.stderr));
    let stats = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event_type"] == "stats")
        .expect("stats event");
    (parse_alerts(&out.stdout), stats["siphon"].clone())
}

/// The dig loop's tunnel alert through a mirror: same client, domain and signature as on the
/// plain capture, plus the `tunnel` object.
fn dig_loop_alert<'a>(pcap_name: &str, alerts: &'a [Value]) -> &'a Value {
    let a = of(alerts, "dns_tunnel")
        .into_iter()
        .find(|a| a["siphon"]["evidence"]["domain"] == "data-sink.net")
        .unwrap_or_else(|| panic!("{pcap_name}: no dns_tunnel alert:\n{}", describe(alerts)));
    assert_eq!(a["src_ip"], "10.99.0.14", "{pcap_name}: about the inner client");
    assert_eq!(a["dest_ip"], "198.51.100.53");
    assert_eq!(a["alert"]["signature_id"], 9_100_001);
    a
}

fn assert_tunnel(a: &Value, src: &str, dst: &str, proto: &str) {
    let t = &a["tunnel"];
    assert_eq!((t["src_ip"].as_str(), t["dest_ip"].as_str()), (Some(src), Some(dst)), "{a}");
    assert_eq!(t["proto"], proto, "{a}");
    assert_eq!(t["depth"], 1, "{a}");
}

/// Fields that must not change when traffic arrives through a mirror.
fn essence(alerts: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {} {}",
                a["alert"]["signature_id"],
                a["src_ip"],
                a["dest_ip"],
                a["dns"]["queries"][0]["rrname"],
                a["siphon"]["evidence"]["queries"],
                a["siphon"]["score"]
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn kernel_vxlan_mirror_of_the_dig_loop_is_caught_with_its_tunnel() {
    let (alerts, s) = run_stats("mirror_vxlan_dig_loop.pcap", &[]);
    let a = dig_loop_alert("mirror_vxlan_dig_loop.pcap", &alerts);
    assert_tunnel(a, "10.99.250.1", "10.99.250.2", "VXLAN");
    assert_eq!(a["tunnel"]["dest_port"], 4789);
    assert_eq!(a["siphon"]["evidence"]["vxlan_vni"], 4242);
    // tshark: 200 inner DNS packets, 99 distinct query ports, 9 port-unreachables from the sensor.
    assert_eq!(s["mirror"]["decapsulated"], 200, "{s}");
    assert_eq!(s["mirror"]["transport_icmp_error"], 9, "{s}");
    assert_eq!(s["mirror"]["transport"], 9, "{s}");
    assert_eq!(s["flows"]["created"], 99, "only inner flows: {s}");
}

#[test]
fn erspan_and_gre_mirrors_of_the_dig_loop_alert_as_the_plain_capture_does() {
    let (plain, plain_stats) = run_stats("dns_dig_loop.pcap", &[]);
    let cases = [
        ("mirror_erspan2_dig_loop.pcap", "192.0.2.250", "ERSPAN-II", Some(7u64), Some(10u64)),
        ("mirror_erspan3_dig_loop.pcap", "10.99.250.3", "ERSPAN-III", Some(302), Some(30)),
        ("mirror_gre_teb_dig_loop.pcap", "10.99.250.4", "GRE-TEB", None, None),
    ];
    for (p, src, proto, session, vlan) in cases {
        for workers in ["1", "2"] {
            let (alerts, s) = run_stats(p, &["--workers", workers]);
            let a = dig_loop_alert(p, &alerts);
            assert_tunnel(a, src, "10.99.250.2", proto);
            let ev = &a["siphon"]["evidence"];
            assert_eq!(ev["erspan_session"].as_u64(), session, "{p}: {a}");
            assert_eq!(ev["erspan_vlan"].as_u64(), vlan, "{p}: {a}");
            match vlan {
                Some(v) => assert_eq!(a["vlan"], serde_json::json!([v]), "{p}"),
                None => assert!(a.get("vlan").is_none(), "{p}: the underlay VLAN must not leak: {a}"),
            }
            if proto == "GRE-TEB" {
                assert_eq!(ev["gre_key"], 42);
            }
            assert_eq!(essence(&alerts), essence(&plain), "{p}: same alerts as the plain capture");
            assert_eq!(
                s["flows"]["created"], plain_stats["flows"]["created"],
                "{p}: outer packets made flows"
            );
            assert_eq!(s["mirror"]["decapsulated"], 200, "{p}: {s}");
        }
    }
}

#[test]
fn the_collectors_protocol_unreachables_are_mirror_transport() {
    // mirror_erspan2_dig_loop.pcap carries the collector's ICMP protocol-unreachable (one a
    // second, as Linux without GRE support sends them): 3 of them.
    let (_, s) = run_stats("mirror_erspan2_dig_loop.pcap", &[]);
    assert_eq!(s["mirror"]["transport_icmp_error"], 3, "{s}");
}

#[test]
fn nmap_sweeps_through_mirrors_are_decapsulated() {
    let (_, plain) = run_stats("scan_nmap_p22_sweep.pcap", &[]);
    assert_eq!(plain["flows"]["created"], 256);
    for (p, transport) in [("mirror_vxlan_nmap_sweep.pcap", 2), ("mirror_erspan3_nmap_sweep.pcap", 0)] {
        let (alerts, s) = run_stats(p, &[]);
        // tshark: 516 inner TCP packets (256 SYNs, 4 SYN-ACKs, 256 RSTs) and 2 inner ARPs.
        assert_eq!(s["mirror"]["decapsulated"], 516, "{p}: {s}");
        assert_eq!(s["flows"]["created"], 256, "{p}: one flow per probed address, none outer: {s}");
        assert_eq!(s["mirror"]["transport"], transport, "{p}: {s}");
        for a in &alerts {
            assert!(a.get("tunnel").is_some(), "{p}: alert without its tunnel: {a}");
        }
    }
}

#[test]
fn scan_alerts_come_through_mirrors_once_the_scan_detector_exists() {
    // Active by itself as soon as a detector named `scan` fires on the plain sweep.
    let plain = run("scan_nmap_p22_sweep.pcap", &["-q"]);
    let plain_scans = of(&plain, "scan");
    if plain_scans.is_empty() {
        eprintln!("note: no `scan` alert on the plain sweep (no scan detector yet): mirror check skipped");
        return;
    }
    for (p, src, proto) in [
        ("mirror_vxlan_nmap_sweep.pcap", "10.99.250.1", "VXLAN"),
        ("mirror_erspan3_nmap_sweep.pcap", "10.99.250.3", "ERSPAN-III"),
    ] {
        let alerts = run(p, &["-q"]);
        for want in &plain_scans {
            let got = of(&alerts, "scan")
                .into_iter()
                .find(|a| {
                    a["src_ip"] == want["src_ip"]
                        && a["alert"]["signature_id"] == want["alert"]["signature_id"]
                })
                .unwrap_or_else(|| panic!("{p}: missing {}:\n{}", want, describe(&alerts)));
            assert_eq!(got["tunnel"]["src_ip"], src, "{p}: {got}");
            assert_eq!(got["tunnel"]["proto"], proto, "{p}: {got}");
        }
    }
}

#[test]
fn nothing_is_raised_about_the_mirrors_outer_addresses() {
    for p in mirror_captures() {
        let alerts = run(&p, &["-q"]);
        for a in &alerts {
            for side in ["src_ip", "dest_ip"] {
                assert!(
                    !OUTER.contains(&a[side].as_str().unwrap_or("")),
                    "{p}: alert about the underlay: {a}"
                );
            }
            assert!(a.get("tunnel").is_some(), "{p}: alert without its tunnel object: {a}");
        }
    }
}

#[test]
fn malformed_encapsulations_are_counted_and_never_fatal() {
    // One worker: with several, a mirror pair one worker learns reaches the others a few
    // packets later or sooner depending on the threads' timing, and so do these counts.
    let out = run_raw(&["mirror_malformed.pcap"], &["--workers", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tunnel_malformed=14"), "{stderr}");
    assert!(parse_alerts(&out.stdout).is_empty());

    let (alerts, s) = run_stats("mirror_malformed.pcap", &["--workers", "1"]);
    assert!(alerts.is_empty(), "{}", describe(&alerts));
    let an = &s["anomalies"];
    assert_eq!(an["tunnel_malformed"], 14, "{s}");
    assert_eq!(an["tunnel_unsupported"], 1, "{s}");
    assert_eq!(an["tunnel_too_deep"], 1, "{s}");
    let m = &s["mirror"];
    // Every garbled packet of the three learned mirrors is transport; the one between two
    // strangers (198.51.100.77 → 10.99.0.50) is analysed as the GRE packet it is.
    assert_eq!(m["transport_undecapsulated"], 14, "{s}");
    assert_eq!(m["transport_keepalive"], 1, "{s}");
    assert_eq!(m["transport_icmp_error"], 1, "{s}");
    assert_eq!(m["transport"], 16, "{s}");
    assert_eq!(m["pairs_learned"], 3, "{s}");
    // 6 valid packets + the innermost packet the nesting bomb was followed to.
    assert_eq!(m["decapsulated"], 7, "{s}");
    // The DNS query/answer, the bomb's 4th layer, the strangers' GRE packet.
    assert_eq!(s["flows"]["created"], 3, "{s}");
}

#[test]
fn configured_mirror_sources_and_the_automatic_mode() {
    // A configured source: its transport is counted as configured; the inner alert stays.
    let (alerts, s) = run_stats("mirror_vxlan_dig_loop.pcap", &["--mirror-source", "10.99.250.0/30"]);
    dig_loop_alert("configured", &alerts);
    assert_eq!(s["mirror"]["transport_configured"], 9, "{s}");
    assert_eq!(s["flows"]["created"], 99);
    // Automatic mode off and nothing configured: the sensor's ICMP errors become a flow of their
    // own (what every detector would see without the mirror filter).
    let (alerts, s) = run_stats("mirror_vxlan_dig_loop.pcap", &["--set", "general.mirror_auto=false"]);
    dig_loop_alert("auto off", &alerts);
    assert_eq!(s["mirror"]["transport"], 0, "{s}");
    assert_eq!(s["flows"]["created"], 100, "{s}");
}

#[test]
fn vxlan_ports_are_configurable() {
    // The mirror's port not listed: nothing is decapsulated and the tunnel goes unseen...
    let (alerts, s) = run_stats("mirror_vxlan_dig_loop.pcap", &["--set", "general.vxlan_ports=8472"]);
    assert!(of(&alerts, "dns_tunnel").is_empty(), "{}", describe(&alerts));
    assert_eq!(s["mirror"]["decapsulated"], 0);
    // ...and listed among others, it is.
    let (alerts, _) = run_stats("mirror_vxlan_dig_loop.pcap", &["--set", "general.vxlan_ports=8472,4789"]);
    dig_loop_alert("8472,4789", &alerts);
}

#[test]
fn ordinary_captures_have_no_mirror_transport() {
    // nmap -sO probes the tunnel protocols too (IP-in-IP, 6in4, GRE): their refusals quote
    // what looks like a mirror's transport.
    let nmap_so = |p: &str| p.contains("ipproto") && !p.contains("benign");
    for p in all_captures().into_iter().filter(|p| !p.starts_with("mirror_") && !nmap_so(p)) {
        let (_, s) = run_stats(&p, &[]);
        assert_eq!(s["mirror"]["transport"], 0, "{p}: {s}");
        assert_eq!(s["mirror"]["decapsulated"], 0, "{p}: {s}");
    }
}

fn all_captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(pcap(""))
        .expect("pcaps/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    v.sort();
    v
}

fn mirror_captures() -> Vec<String> {
    let v: Vec<String> = all_captures().into_iter().filter(|p| p.starts_with("mirror_")).collect();
    assert!(v.len() >= 7, "mirror captures missing: {v:?}");
    v
}
