//! GeoIP enrichment and policy (docs/geoip.md) on real MaxMind DB files written at test time by
//! MaxMind's own writer (Debian's libmaxmind-db-writer-perl, `tests/geoip/make_mmdb.pl`), and
//! on uploads made by curl (pcaps/README.md): the `geoip` object, allow and alert policies by
//! country and network, severity by prevalence, and the errors for missing and corrupt files.

mod common;
use common::*;
use serde_json::Value;
use siphon::GeoIp;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The two databases, written once per test run.
fn dbs() -> &'static (PathBuf, PathBuf) {
    static D: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    let d = D.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/geoip/make_mmdb.pl");
        let out = std::process::Command::new("perl").arg(script).arg(dir.path()).output().expect("perl runs");
        assert!(
            out.status.success(),
            "tests/geoip/make_mmdb.pl failed (scripts/setup.sh installs libmaxmind-db-writer-perl): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (c, a) = (dir.path().join("country.mmdb"), dir.path().join("asn.mmdb"));
        (dir, c, a)
    });
    static P: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    P.get_or_init(|| (d.1.clone(), d.2.clone()))
}

/// `--set` arguments loading both databases, plus `extra`.
fn with_dbs(extra: &[&str]) -> Vec<String> {
    let (c, a) = dbs();
    let mut v = vec![
        "-q".to_owned(),
        "--set".into(),
        format!("general.geoip_country_db={}", c.display()),
        "--set".into(),
        format!("general.geoip_asn_db={}", a.display()),
    ];
    for e in extra {
        v.push("--set".into());
        v.push((*e).to_owned());
    }
    v
}

fn run_geo(names: &[&str], extra: &[&str]) -> Vec<Value> {
    let args = with_dbs(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_raw(names, &args);
    assert!(out.status.success(), "siphon failed: {}", String::from_utf8_lossy(&out.stderr));
    parse_alerts(&out.stdout)
}

fn sids(alerts: &[Value], detector: &str) -> Vec<u64> {
    of(alerts, detector).iter().filter_map(|a| a["alert"]["signature_id"].as_u64()).collect()
}

#[test]
fn lookups_answer_for_ipv4_and_ipv6_from_real_databases() {
    let (c, a) = dbs();
    let g = GeoIp::open(Some(c), Some(a)).unwrap().unwrap();
    let t = g.tag("192.0.2.77".parse().unwrap());
    assert_eq!((t.country, t.asn), (*b"DE", 64_496));
    let t = g.tag("2001:db8:5::1".parse().unwrap());
    assert_eq!((t.country, t.asn), (*b"JP", 64_501));
    // The ASN database splits 203.0.113.16/28 off its /24; the country database does not.
    let t = g.tag("203.0.113.23".parse().unwrap());
    assert_eq!((t.country, t.asn), (*b"NL", 64_502));
    assert_eq!(g.tag("203.0.113.99".parse().unwrap()).asn, 64_500);
    let d = g.describe("198.51.100.5".parse().unwrap()).unwrap();
    assert_eq!(d.country_code2.as_deref(), Some("FR"));
    assert_eq!(d.country_name.as_deref(), Some("France"));
    assert_eq!(d.as_org.as_deref(), Some("Example Hosting FR"));
    let d = g.describe("2001:db8::1".parse().unwrap()).unwrap();
    assert_eq!((d.asn, d.as_org.as_deref()), (Some(64_501), Some("Example IPv6 JP")));
    // Outside every range: nothing known, no object.
    assert!(g.describe("100.64.0.1".parse().unwrap()).is_none());
    assert_eq!(g.errors(), 0);
}

#[test]
fn every_alert_names_the_external_sides_country_and_network() {
    let alerts = run_geo(&["egress_http_post.pcap"], &["egress_volume.volume=1h:1MB"]);
    assert!(alerts.len() >= 2, "{}", describe(&alerts));
    for a in &alerts {
        let g = &a["geoip"];
        assert_eq!(g["ip"], "203.0.113.23", "the external side, not the home host");
        assert_eq!(g["country_code2"], "NL");
        assert_eq!(g["country_name"], "Netherlands");
        assert_eq!(g["asn"], 64_502);
        assert_eq!(g["as_org"], "Upload Sinks NL");
    }
    // Without a database nothing changes: no geoip object, and the same alerts.
    let plain = run("egress_http_post.pcap", &["-q", "--set", "egress_volume.volume=1h:1MB"]);
    assert!(plain.iter().all(|a| a.get("geoip").is_none()));
    assert_eq!(plain.len(), alerts.len());
}

#[test]
fn an_allowed_country_or_network_keeps_volume_alerts_quiet() {
    // The 5 MB POST crosses a 1 MB window: the benign twin of the allow rule.
    let low =
        ["egress_volume.volume=1h:1MB", "long_session.sustained_rate=500KB", "long_session.sustained_for=2s"];
    let fired = run_geo(&["egress_http_post.pcap"], &low);
    assert_eq!(sids(&fired, "egress_volume"), [9_100_400], "{}", describe(&fired));
    for allow in ["egress.allow_countries=NL", "egress.allow_countries=nl,de", "egress.allow_asns=AS64502"] {
        let mut set = low.to_vec();
        set.push(allow);
        let alerts = run_geo(&["egress_http_post.pcap"], &set);
        assert!(of(&alerts, "egress_volume").is_empty(), "{allow}: {}", describe(&alerts));
        assert!(of(&alerts, "long_session").is_empty(), "{allow}: {}", describe(&alerts));
    }
    // Another country allowed: still fires.
    let mut set = low.to_vec();
    set.push("egress.allow_countries=DE");
    assert_eq!(sids(&run_geo(&["egress_http_post.pcap"], &set), "egress_volume"), [9_100_400]);
}

#[test]
fn an_alert_country_fires_the_dedicated_signature_at_the_lower_threshold() {
    // Default egress_volume windows (500 MB) stay quiet on a 5 MB POST; NL watched at 2 MB fires.
    let alerts =
        run_geo(&["egress_http_post.pcap"], &["egress.alert_countries=NL", "egress.alert_volume=1h:2MB"]);
    let ours = of(&alerts, "egress_volume");
    let geo: Vec<&&Value> = ours.iter().filter(|a| a["alert"]["signature_id"] == 9_100_402).collect();
    assert_eq!(geo.len(), 1, "{}", describe(&alerts));
    let a = geo[0];
    assert_eq!(a["src_ip"], "10.99.0.115");
    assert_eq!(a["siphon"]["evidence"]["watched_country"], "NL");
    assert_eq!(a["siphon"]["evidence"]["threshold_bytes"], 2_000_000);
    assert!(a["siphon"]["evidence"]["bytes_out"].as_u64().unwrap() >= 2_000_000);
    assert_eq!(sids(&alerts, "egress_volume"), [9_100_402], "only the dedicated signature");
    // A per-network threshold wins for that network, and says so.
    let alerts = run_geo(&["egress_http_post.pcap"], &["egress.asn_volume={ AS64502 = \"1h:3MB\" }"]);
    let a = of(&alerts, "egress_volume")[0];
    assert_eq!(
        (
            a["siphon"]["evidence"]["watched_asn"].as_str(),
            a["siphon"]["evidence"]["threshold_bytes"].as_u64()
        ),
        (Some("AS64502"), Some(3_000_000))
    );
    // Benign twins: a 100 KB upload to the watched country, and the POST with another country
    // watched, stay quiet.
    let small =
        run_geo(&["benign_small_upload.pcap"], &["egress.alert_countries=NL", "egress.alert_volume=1h:2MB"]);
    assert!(of(&small, "egress_volume").is_empty(), "{}", describe(&small));
    let other =
        run_geo(&["egress_http_post.pcap"], &["egress.alert_countries=DE", "egress.alert_volume=1h:2MB"]);
    assert!(of(&other, "egress_volume").is_empty(), "{}", describe(&other));
    // Allow wins over alert for the same peer.
    let both = run_geo(
        &["egress_http_post.pcap"],
        &["egress.alert_countries=NL", "egress.alert_volume=1h:2MB", "egress.allow_asns=64502"],
    );
    assert!(of(&both, "egress_volume").is_empty(), "{}", describe(&both));
}

#[test]
fn a_network_few_home_hosts_talk_to_raises_the_severity() {
    // Four home hosts of four captures: all talk to AS64500 (203.0.113.0/24), only 10.99.0.115
    // to AS64502 (the upload sinks, 203.0.113.16/28). Files are read in capture-time order, so
    // the three others are captures made before the upload (all seen when its alert is judged).
    let names =
        ["proxy_tls_sni.pcap", "proxy_benign_tls.pcap", "proxy_socks_relay.pcap", "egress_http_post.pcap"];
    let set = ["egress_volume.volume=1h:1MB", "egress.rare_min_home_hosts=4", "egress.rare_prevalence=0.3"];
    // One worker: the prevalence table is shared by the workers, but with several a worker can
    // judge its alert before another has analysed the earlier files' hosts (workers run at their
    // own pace; docs/performance.md, "Alerts and the worker count").
    let args = with_dbs(&set);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--workers", "1"]);
    let out = run_raw(&names, &args);
    assert!(out.status.success(), "siphon failed: {}", String::from_utf8_lossy(&out.stderr));
    let alerts = parse_alerts(&out.stdout);
    let v = of(&alerts, "egress_volume");
    assert_eq!(v.len(), 1, "{}", describe(&alerts));
    let e = &v[0]["siphon"]["evidence"];
    assert_eq!(e["destination_network"], "AS64502");
    assert_eq!((e["network_home_hosts"].as_u64(), e["home_hosts"].as_u64()), (Some(1), Some(4)));
    assert_eq!(e["prevalence"], 0.25);
    assert_eq!(e["rare_network"], true);
    assert_eq!(v[0]["alert"]["severity"], 1, "raised from 2");
    // Benign twin: the upload alone (one home host, fewer than rare_min_home_hosts) keeps its
    // severity.
    let alone = run_geo(&["egress_http_post.pcap"], &set);
    let a = of(&alone, "egress_volume")[0];
    assert_eq!(
        (a["alert"]["severity"].as_u64(), a["siphon"]["evidence"]["rare_network"].as_bool()),
        (Some(2), Some(false))
    );
}

fn fails_naming(args: &[&str], needles: &[&str]) {
    let out = run_raw(&["egress_http_post.pcap"], args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit 1 expected: {err}");
    assert!(out.stdout.is_empty());
    for n in needles {
        assert!(err.contains(n), "stderr must name {n:?}: {err}");
    }
}

#[test]
fn missing_corrupt_or_mismatched_databases_stop_with_exit_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("GeoLite2-Country.mmdb");
    let m = format!("general.geoip_country_db={}", missing.display());
    fails_naming(
        &["-q", "--set", &m],
        &["general.geoip_country_db", "GeoLite2-Country.mmdb", "No such file"],
    );
    // A file cut in half loses its metadata section.
    let (c, a) = dbs();
    let bytes = std::fs::read(a).unwrap();
    let cut = dir.path().join("asn-cut.mmdb");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let s = format!("general.geoip_asn_db={}", cut.display());
    fails_naming(&["-q", "--set", &s], &["general.geoip_asn_db", "asn-cut.mmdb", "not a MaxMind DB"]);
    // Garbage with the metadata marker at the end: the header "parses", the tree does not.
    let junk = dir.path().join("junk.mmdb");
    let mut j = vec![0xffu8; 4096];
    j.extend_from_slice(&bytes[bytes.len() - 400..]);
    std::fs::write(&junk, &j).unwrap();
    let s = format!("general.geoip_asn_db={}", junk.display());
    let out = run_raw(&["egress_http_post.pcap"], &["-q", "--set", &s]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.mmdb"));
    // A country database given as the network one.
    let s = format!("general.geoip_asn_db={}", c.display());
    fails_naming(&["-q", "--set", &s], &["general.geoip_asn_db", "GeoLite2-Country", "ASN"]);
}

#[test]
fn country_codes_and_as_numbers_are_checked_when_read() {
    fails_naming(
        &["-q", "--set", "egress.allow_countries=NL,XX"],
        &["egress.allow_countries", "\"XX\"", "ISO 3166"],
    );
    fails_naming(&["-q", "--set", "egress.alert_asns=AS0"], &["egress.alert_asns", "\"AS0\"", "AS number"]);
    fails_naming(
        &["-q", "--set", "egress.country_volume={ ZZ = \"1h:1MB\" }"],
        &["country_volume", "\"ZZ\""],
    );
    // In a file, the error names the key and its line.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    std::fs::write(&p, "[egress]\nallow_asns = [64496, \"AS4294967295\"]\n").unwrap();
    let out = siphon().arg("-c").arg(&p).arg("-r").arg(pcap("egress_http_post.pcap")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("allow_asns") && err.contains("line 2") && err.contains("AS4294967295"), "{err}");
}

#[test]
fn the_report_shows_bytes_out_by_country_and_network() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.html");
    let r = report.to_str().expect("utf-8 path");
    let args = with_dbs(&["egress_volume.volume=1h:2MB"]);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--report", r]);
    let out = run_raw(&["egress_http_post.pcap"], &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(html.contains("Where the data went"), "no places section");
    assert!(html.contains("Bytes out by country") && html.contains("Bytes out by network"));
    // The upload sink 203.0.113.23 is NL, AS64502 in the test databases.
    assert!(html.contains("NL (Netherlands)"), "country row missing");
    assert!(html.contains("AS64502"), "network row missing");
    // Benign twin: without databases the section is absent.
    let plain = dir.path().join("plain.html");
    let out = run_raw(
        &["egress_http_post.pcap"],
        &["-q", "--set", "egress_volume.volume=1h:2MB", "--report", plain.to_str().expect("utf-8")],
    );
    assert!(out.status.success());
    let html = std::fs::read_to_string(&plain).expect("report written");
    assert!(!html.contains("Where the data went"));
}
