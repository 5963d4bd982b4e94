//! Beacons made by real tools (curl every 10 s ± 15 % over HTTP, every 60 s ± 20 % over HTTPS,
//! every 10 s ± 50 % to a name whose address rotates, a heartbeat inside one TCP session, TXT
//! queries through a resolver) are each caught within the check-ins stated here; their benign
//! twins (an SNTP poller, a monitoring agent posting every 30 s, irregular browsing, an update
//! check every 5 minutes) stay quiet. Captures: pcaps/README.md, pcaps/scripts/make_beacon.sh.

mod common;
use common::*;
use serde_json::Value;

fn beacon_alerts(pcap: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["-q"];
    args.extend_from_slice(extra);
    let alerts = run(pcap, &args);
    of(&alerts, "beacon").into_iter().cloned().collect()
}

fn ev<'a>(a: &'a Value, k: &str) -> &'a Value {
    &a["siphon"]["evidence"][k]
}

const BEACON: u64 = 9_100_600;
const DNS_BEACON: u64 = 9_100_601;

/// The first alert about `src` for `destination` (a name or an address): asserts its signature,
/// that it came within `max_checkins` check-ins, and the evidence every beacon alert carries.
fn caught(pcap: &str, src: &str, destination: &str, sig: u64, max_checkins: u64) -> Value {
    let all = beacon_alerts(pcap, &[]);
    let a = all
        .iter()
        .filter(|a| a["src_ip"] == src && ev(a, "destination") == destination)
        .min_by_key(|a| ev(a, "checkins").as_u64())
        .unwrap_or_else(|| panic!("{pcap}: no beacon alert for {destination}:\n{}", describe(&all)))
        .clone();
    assert_eq!(a["alert"]["signature_id"], sig, "{pcap}");
    let checkins = ev(&a, "checkins").as_u64().unwrap();
    assert!(checkins >= 8, "{pcap}: min_checkins is 8, alerted at {checkins}");
    assert!(checkins <= max_checkins, "{pcap}: needed {checkins} check-ins (> {max_checkins})");
    assert!(a["siphon"]["score"].as_f64().unwrap() >= ev(&a, "score_threshold").as_f64().unwrap());
    for k in [
        "interval_secs",
        "jitter_mad_secs",
        "jitter_ratio",
        "bowley_skew",
        "fit_share",
        "duration_secs",
        "size_median_bytes",
        "home_hosts_to_destination",
        "rita_timestamp_score",
    ] {
        assert!(!ev(&a, k).is_null(), "{pcap}: evidence {k}");
    }
    // One host talks to it: the rare-destination severity.
    assert_eq!(a["alert"]["severity"], 1, "{pcap}");
    a
}

fn interval(a: &Value) -> f64 {
    ev(a, "interval_secs").as_f64().unwrap()
}

#[test]
fn curl_every_10s_over_http() {
    let by_addr = caught("beacon_http.pcap", "10.99.0.201", "203.0.113.50", BEACON, 8);
    let by_name = caught("beacon_http.pcap", "10.99.0.201", "c2-example.net", BEACON, 8);
    assert_eq!(ev(&by_name, "destination_kind"), "name");
    for a in [&by_addr, &by_name] {
        assert!((9.0..11.0).contains(&interval(a)), "{a}");
        assert!(ev(a, "duration_secs").as_f64().unwrap() < 90.0, "within 90 s: {a}");
    }
}

#[test]
fn curl_every_60s_over_https_with_sni() {
    let a = caught("beacon_https.pcap", "10.99.0.202", "c2-example.org", BEACON, 8);
    assert!((50.0..70.0).contains(&interval(&a)), "{a}");
    caught("beacon_https.pcap", "10.99.0.202", "203.0.113.51", BEACON, 8);
}

#[test]
fn half_jitter_to_a_rotating_cdn_name_is_one_series() {
    // Three addresses in turn: the name's series sees every check-in.
    let a = caught("beacon_jitter50.pcap", "10.99.0.203", "c2-rotate.com", BEACON, 16);
    assert!((7.0..13.0).contains(&interval(&a)), "{a}");
    assert!(ev(&a, "jitter_ratio").as_f64().unwrap() > 0.15, "a loose beacon: {a}");
}

#[test]
fn heartbeat_inside_one_tcp_session() {
    let a = caught("beacon_heartbeat.pcap", "10.99.0.204", "203.0.113.53", BEACON, 8);
    assert!((13.0..18.0).contains(&interval(&a)), "{a}");
    // The address came from a DNS answer: the name's series counts the same bursts.
    caught("beacon_heartbeat.pcap", "10.99.0.204", "c2-example.net", BEACON, 8);
}

#[test]
fn txt_queries_through_a_resolver() {
    let a = caught("beacon_dns_txt.pcap", "10.99.0.205", "c2-dns.com", DNS_BEACON, 8);
    assert_eq!(ev(&a, "destination_kind"), "dns_queries");
    assert!((16.0..24.0).contains(&interval(&a)), "{a}");
    // The resolver itself is not a beacon destination (DNS is judged per domain).
    let all = beacon_alerts("beacon_dns_txt.pcap", &[]);
    assert_eq!(all.len(), 1, "{}", describe(&all));
}

#[test]
fn benign_twins_stay_quiet() {
    for pcap in ["benign_sntp.pcap", "benign_monitor.pcap", "benign_browsing.pcap", "benign_update.pcap"] {
        let all = beacon_alerts(pcap, &[]);
        assert!(all.is_empty(), "{pcap}:\n{}", describe(&all));
    }
}

#[test]
fn the_allow_lists_are_what_keeps_pollers_quiet() {
    // Without the port allow-list the SNTP poller is a beacon; without the name allow-list the
    // monitoring agent is one (by name and by address): the defaults do the work, not luck.
    // The SNTP poller is held twice: by port 123 and by its server's name (pool.ntp.org, from
    // the DNS answer). Either alone keeps it quiet; without both it is a beacon.
    let no_names = ["--set", "beacon.allow_names=example.invalid"];
    assert!(beacon_alerts("benign_sntp.pcap", &no_names).is_empty());
    assert!(beacon_alerts("benign_sntp.pcap", &["--set", "beacon.allow_ports=53"]).is_empty());
    let ntp = beacon_alerts(
        "benign_sntp.pcap",
        &["--set", "beacon.allow_ports=53", "--set", "beacon.allow_names=example.invalid"],
    );
    assert!(ntp.iter().any(|a| ev(a, "destination") == "203.0.113.123"), "{}", describe(&ntp));
    let mon = beacon_alerts("benign_monitor.pcap", &["--set", "beacon.allow_names=example.invalid"]);
    assert!(mon.iter().any(|a| ev(a, "destination") == "datadoghq.com"), "{}", describe(&mon));
    // Irregular browsing stays quiet even with no allow-list at all.
    let web = beacon_alerts("benign_browsing.pcap", &["--set", "beacon.allow_names=example.invalid"]);
    assert!(web.is_empty(), "{}", describe(&web));
}
