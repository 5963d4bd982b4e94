//! `--detectors NAME,...` runs only those detectors, `--no-detectors NAME,...` all but those;
//! the names come from the detector table, and an unknown one is a usage error naming it.

mod common;

use common::{DEMO, parse_alerts, pcap, siphon};
use std::collections::BTreeSet;

fn detectors_firing(args: &[&str]) -> BTreeSet<String> {
    let mut c = siphon();
    for n in DEMO {
        c.arg("-r").arg(pcap(n));
    }
    let out = c.arg("-q").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    parse_alerts(&out.stdout).iter().map(|a| a["siphon"]["detector"].as_str().unwrap().to_owned()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn only_the_chosen_detectors_run() {
    let all = detectors_firing(&[]);
    assert_eq!(all, set(&["alt_protocol", "dns_tunnel", "icmp_tunnel", "proxyware", "scan"]));
    assert_eq!(detectors_firing(&["--detectors", "dns_tunnel,scan"]), set(&["dns_tunnel", "scan"]));
    assert_eq!(
        detectors_firing(&["--no-detectors", "proxyware,alt_protocol"]),
        set(&["dns_tunnel", "icmp_tunnel", "scan"])
    );
}

#[test]
fn an_unknown_detector_is_a_usage_error_listing_the_valid_ones() {
    for flag in ["--detectors", "--no-detectors"] {
        let out =
            siphon().arg("-r").arg(pcap("scan_nmap_sS.pcap")).args([flag, "scan,dns"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("{flag}: unknown detector `dns`")), "{err}");
        for d in siphon::detectors::ALL {
            assert!(err.contains(d.name), "lists {}: {err}", d.name);
        }
    }
}
