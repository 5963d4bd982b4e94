//! Several capture files as one timeline: read in the order of their first packet whatever
//! order they were given in (with a warning), overlapping files warned about, and `-r DIR`
//! reading every capture in a directory.

mod common;

use common::{parse_alerts, pcap, siphon};

fn times(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts.iter().map(|a| a["timestamp"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn files_given_out_of_order_are_read_in_time_order_with_a_warning() {
    // scan_nmap_sS (22:28:40) before proxy_tls_sni (22:25:26).
    let out = siphon()
        .args(["--workers", "1", "-r"])
        .arg(pcap("scan_nmap_sS.pcap"))
        .arg("-r")
        .arg(pcap("proxy_tls_sni.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let alerts = parse_alerts(&out.stdout);
    let t = times(&alerts);
    let mut sorted = t.clone();
    sorted.sort();
    assert_eq!(t, sorted, "alerts in capture-time order");
    assert_eq!(alerts[0]["siphon"]["detector"], "proxyware");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("siphon: warning: capture files were not given in time order"), "{err}");
    assert!(!err.contains("overlap"), "{err}");
    // In time order: no warning.
    let out = siphon()
        .arg("-r")
        .arg(pcap("proxy_tls_sni.pcap"))
        .arg("-r")
        .arg(pcap("scan_nmap_sS.pcap"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn overlapping_files_are_warned_about() {
    let f = pcap("dns_iodine_null.pcap");
    let out = siphon().arg("-r").arg(&f).arg("-r").arg(&f).args(["-o", "/dev/null"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("starts at 2026-11-23T22:26:10.591027+0000, before the files read earlier ended"),
        "{err}"
    );
}

#[test]
fn a_directory_reads_every_capture_in_it_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    // Names sort against time order; a non-capture file is left out.
    std::fs::copy(pcap("scan_nmap_sS.pcap"), dir.path().join("a.pcap")).unwrap();
    std::fs::copy(pcap("proxy_tls_sni.pcap"), dir.path().join("b.pcap")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a capture").unwrap();
    let out = siphon().args(["--workers", "1", "-r"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts = parse_alerts(&out.stdout);
    let detectors: Vec<&str> = alerts.iter().map(|a| a["siphon"]["detector"].as_str().unwrap()).collect();
    assert_eq!(detectors.first(), Some(&"proxyware"));
    assert_eq!(detectors.last(), Some(&"scan"));
    // An empty directory is an input error naming it.
    let empty = tempfile::tempdir().unwrap();
    let out = siphon().arg("-r").arg(empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&empty.path().display().to_string()) && err.contains("no pcap or pcapng file"),
        "{err}"
    );
}
