//! Scans made by real tools (nmap -sS/-sT/-sU/-sF/-sN/-sX/-sA/-sn, masscan, a curl loop, nmap
//! from outside) are each caught once, with the right scanner, technique and shape, within 10
//! failed probes; busy benign hosts and every capture made for another detector stay quiet.
//! Captures: pcaps/README.md and pcaps/scripts/dns_icmp_scan.md.

mod common;
use common::*;
use serde_json::Value;

/// Runs one capture with one worker (an external scanner's targets are sharded over workers).
fn scan_alerts(pcap: &str) -> Vec<Value> {
    let alerts = run(pcap, &["-q", "--workers", "1"]);
    of(&alerts, "scan").into_iter().cloned().collect()
}

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

/// Asserts one alert about `src` with `sig`, `technique` and `shape`, decided within
/// `max_failed` failed probes; returns it.
fn caught(pcap: &str, src: &str, sig: u64, technique: &str, shape: &str, max_failed: u64) -> Value {
    let all = scan_alerts(pcap);
    assert_eq!(all.len(), 1, "{pcap}: one alert per episode:\n{}", describe(&all));
    let a = all[0].clone();
    assert_eq!(a["src_ip"], src, "{pcap}: the alert is about the scanner");
    assert_eq!(a["alert"]["signature_id"], sig, "{pcap}");
    assert_eq!(ev(&a, "technique"), technique, "{pcap}");
    assert_eq!(ev(&a, "shape"), shape, "{pcap}");
    let failed = ev(&a, "failed_probes").as_u64().unwrap();
    assert!(failed <= max_failed, "{pcap}: needed {failed} failed probes (> {max_failed})");
    assert!(ev(&a, "score_threshold").as_f64().unwrap() > 0.0);
    for k in ["probes", "failure_ratio", "first_probe", "last_probe", "probes_per_sec", "sample_targets"] {
        assert!(!ev(&a, k).is_null(), "{pcap}: evidence {k}");
    }
    a
}

const OUT: u64 = 9_100_200;
const IN: u64 = 9_100_202;

#[test]
fn nmap_syn_scan() {
    let a = caught("scan_nmap_sS.pcap", "10.99.0.31", OUT, "syn", "block", 10);
    assert_eq!(ev(&a, "tool"), "nmap");
    assert_eq!(ev(&a, "return_path_visible"), true);
}

#[test]
fn nmap_connect_scan() {
    let a = caught("scan_nmap_sT.pcap", "10.99.0.32", OUT, "connect", "vertical", 10);
    assert!(ev(&a, "tool").is_null(), "connect() SYNs are the OS's own");
}

#[test]
fn nmap_ping_sweep_where_every_host_answers() {
    let a = caught("scan_nmap_sn.pcap", "10.99.0.33", OUT, "icmp_sweep", "horizontal", 10);
    assert_eq!(ev(&a, "trigger"), "icmp_sweep");
    assert!(ev(&a, "probes").as_u64().unwrap() <= 20);
}

#[test]
fn nmap_port_22_sweep() {
    let a = caught("scan_nmap_p22_sweep.pcap", "10.99.0.34", OUT, "syn", "horizontal", 10);
    assert_eq!(ev(&a, "port"), 22);
}

#[test]
fn nmap_udp_scan_refused_by_icmp() {
    let a = caught("scan_nmap_sU.pcap", "10.99.0.35", OUT, "udp", "vertical", 10);
    assert!(ev(&a, "rejected_icmp").as_u64().unwrap() > 0, "ICMP port-unreachables attributed");
}

#[test]
fn masscan_stateless_syn_scan() {
    let a = caught("scan_masscan.pcap", "10.99.0.36", OUT, "syn", "horizontal", 10);
    assert_eq!(ev(&a, "tool"), "masscan");
}

#[test]
fn outbound_connect_sweep_of_port_80() {
    let a = caught("scan_outbound_sweep80.pcap", "10.99.0.37", OUT, "connect", "horizontal", 10);
    assert_eq!(ev(&a, "port"), 80);
    assert_eq!(ev(&a, "failed_probes"), 4, "TRW's 4 net failed first contacts");
}

#[test]
fn inbound_scan_of_the_home_network() {
    let a = caught("scan_inbound.pcap", "198.51.100.66", IN, "syn", "horizontal", 10);
    assert_eq!(ev(&a, "direction"), "inbound");
    assert!(a["dest_ip"].as_str().unwrap().starts_with("10.99.0."));
}

#[test]
fn inbound_scan_with_several_workers_is_one_alert_about_the_attacker() {
    // Workers shard by home host: each sees part of the targets and may raise the alert; the
    // writer suppresses the repeats across workers, and counts them.
    for workers in ["2", "3", "4"] {
        let out = run_raw(&["scan_inbound.pcap"], &["--workers", workers]);
        let alerts = parse_alerts(&out.stdout);
        let scan = of(&alerts, "scan");
        assert_eq!(scan.len(), 1, "--workers {workers}: {}", describe(&alerts));
        assert_eq!(scan[0]["src_ip"], "198.51.100.66");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("alerts: 1 written (scan=1)"), "--workers {workers}: {err}");
    }
}

#[test]
fn nmap_stealth_and_ack_scans() {
    caught("scan_nmap_sF.pcap", "10.99.0.44", OUT, "fin", "vertical", 10);
    caught("scan_nmap_sN.pcap", "10.99.0.45", OUT, "null", "vertical", 10);
    caught("scan_nmap_sX.pcap", "10.99.0.46", OUT, "xmas", "vertical", 10);
    caught("scan_nmap_sA.pcap", "10.99.0.47", OUT, "ack", "vertical", 10);
}

#[test]
fn masscan_into_dark_space_is_a_sweep_before_any_timeout() {
    // Raw SYNs touching 10 hosts of one /24 decide before the first probe_timeout (2 s).
    let a = caught("scan_masscan_dark.pcap", "10.99.0.48", OUT, "syn", "horizontal", 10);
    assert_eq!(ev(&a, "trigger"), "host_sweep");
    assert_eq!(ev(&a, "swept_hosts"), 10);
    let t = ev(&a, "seconds_to_detect").as_f64().unwrap();
    assert!(t < 2.0, "before the probes' timeout: {t}");
}

#[test]
fn router_unreachables_are_attributed_to_the_prober() {
    let a = caught("scan_nmap_unreach.pcap", "10.99.0.49", OUT, "syn", "horizontal", 10);
    assert!(ev(&a, "unreachable_from_router").as_u64().unwrap() >= 3);
}

#[test]
fn one_way_views() {
    // Only the scanner's packets: silence weighs blind_weight, so more probes are needed.
    for (p, src) in [("scan_oneway_masscan.pcap", "10.99.0.36"), ("scan_oneway_p22_sweep.pcap", "10.99.0.34")]
    {
        let a = caught(p, src, OUT, "syn", "horizontal", 20);
        assert_eq!(ev(&a, "return_path_visible"), false, "{p}");
    }
    // Benign clients seen one way: their own ACKs imply the handshakes; unanswered UDP is no
    // evidence.
    for p in ["scan_oneway_benign_busy.pcap", "scan_oneway_benign_resolver.pcap"] {
        assert!(scan_alerts(p).is_empty(), "{p}");
    }
}

#[test]
fn busy_benign_hosts_stay_quiet() {
    for p in ["scan_benign_busy.pcap", "scan_benign_resolver.pcap", "scan_benign_monitor.pcap"] {
        let a = scan_alerts(p);
        assert!(a.is_empty(), "{p}:\n{}", describe(&a));
    }
}

#[test]
fn no_scan_alert_on_captures_made_for_other_detectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut checked = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let capture = name.ends_with(".pcap") || name.ends_with(".pcapng");
        let scan =
            name.starts_with("scan_") && !name.starts_with("scan_benign") && !name.contains("oneway_benign");
        // Mirrored copies of the nmap sweep are scans (tests/mirror.rs checks them).
        let mirrored_scan = name.starts_with("mirror_") && name.contains("nmap");
        // Scans hidden in fragments (tests/hostile.rs checks they are caught).
        let fragmented_scan =
            name.starts_with("hostile_") && (name.contains("_scan") || name.contains("_syn"));
        if !capture || scan || mirrored_scan || fragmented_scan {
            continue;
        }
        let a = scan_alerts(&name);
        assert!(a.is_empty(), "{name}:\n{}", describe(&a));
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} captures checked");
}

#[test]
fn allow_listed_scanner_is_quiet() {
    let alerts = run("scan_nmap_sS.pcap", &["-q", "--set", "scan.allow_sources=10.99.0.0/27,10.99.0.31"]);
    assert!(of(&alerts, "scan").is_empty());
}

#[test]
fn thresholds_are_configurable() {
    // TRW with a much lower false-positive target needs more failures before deciding.
    let alerts =
        run("scan_outbound_sweep80.pcap", &["-q", "--set", "scan.false_positive_probability=0.0001"]);
    let a = of(&alerts, "scan");
    assert_eq!(ev(a[0], "failed_probes"), 7, "ln(0.99 / 0.0001) / ln 4 = 6.6: 7 net failures");
}
