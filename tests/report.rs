//! The HTML report (`--report FILE` and `siphon report EVE.json -o FILE`) on the demo captures
//! (the ones `scripts/demo.sh` reads), and a real headless Chromium loading it.

mod common;

use common::{DEMO, of, parse_alerts, pcap, siphon};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs siphon on the demo captures with `--report` and `--stats-json -o eve.json`; returns the
/// HTML, the EVE lines and the directory.
fn demo_report(extra: &[&str]) -> (String, Vec<Value>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (html, eve) = (dir.path().join("report.html"), dir.path().join("eve.json"));
    let mut c = siphon();
    for n in DEMO {
        c.arg("-r").arg(pcap(n));
    }
    let out = c
        .args(["-q", "--stats-json", "-o"])
        .arg(&eve)
        .arg("--report")
        .arg(&html)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = std::fs::read(&eve).unwrap();
    (std::fs::read_to_string(&html).unwrap(), parse_alerts(&lines), dir)
}

/// The text of the element that starts with `start` up to its `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let i = html.find(start).unwrap_or_else(|| panic!("no {start} in the report"));
    let j = html[i..].find(end).unwrap_or_else(|| panic!("no {end} after {start}"));
    &html[i..i + j + end.len()]
}

fn detectors(alerts: &[Value]) -> BTreeSet<String> {
    alerts.iter().map(|a| a["siphon"]["detector"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn demo_report_holds_the_timeline_the_host_table_and_a_section_per_detector() {
    let (html, alerts, _dir) = demo_report(&[]);
    assert!(alerts.len() >= 10, "the demo fires: {}", common::describe(&alerts));
    // Header: captures, span, packets, version, config digest.
    for n in DEMO {
        assert!(html.contains(n), "header names {n}");
    }
    assert!(html.contains("2026-11-23T22:25:26"), "the span starts with the earliest capture");
    assert!(html.contains("1655"), "packets");
    assert!(html.contains(&format!("version {}", env!("CARGO_PKG_VERSION"))));
    assert!(html.contains("config digest "));
    assert!(html.contains("10.0.0.0/8"), "home nets");
    // Timeline: one mark per alert, and the traffic area behind.
    let timeline = between(&html, "<svg id=\"timeline\"", "</svg>");
    assert_eq!(timeline.matches("<circle").count(), alerts.len(), "one mark per alert");
    assert!(timeline.contains("<path"), "traffic volume drawn");
    // Hosts: every host an alert is about, worst first.
    let hosts = between(&html, "<table id=\"host-table\"", "</table>");
    for a in &alerts {
        assert!(hosts.contains(a["src_ip"].as_str().unwrap()), "host table lists {}", a["src_ip"]);
    }
    let first_row = between(hosts, "<td class=\"num\">1</td>", "</tr>");
    assert!(first_row.contains("high"), "severity-1 hosts come first: {first_row}");
    // A section per detector that fired, with its figures.
    for d in detectors(&alerts) {
        assert!(html.contains(&format!("id=\"detector-{d}\"")), "section for {d}");
    }
    let dns = between(&html, "id=\"detector-dns_tunnel\"", "</section>");
    assert!(dns.contains("exfil-test.net") && dns.contains("longest label"), "{dns}");
    let scan = between(&html, "id=\"detector-scan\"", "</section>");
    assert!(scan.contains("class=\"scatter\"") && scan.contains("203.0.113.11"), "scan scatter");
    // Blind spots: the truncated-capture anomalies of the snaplen-96 capture.
    let blind = between(&html, "id=\"blind-spots\"", "</table>");
    assert!(blind.contains("anomalies.ip_truncated"), "{blind}");
    // Self-contained: nothing to fetch, no script.
    for bad in ["<script", "<link", "<img", "src=", "url(", "https://", "@import"] {
        assert!(!html.contains(bad), "the report must not contain {bad}");
    }
    assert_eq!(html.matches("http://").count(), html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
}

#[test]
fn report_from_the_eve_file_shows_what_the_run_showed() {
    let (html, _, dir) = demo_report(&[]);
    let out = dir.path().join("from-eve.html");
    let r = siphon().arg("report").arg(dir.path().join("eve.json")).arg("-o").arg(&out).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let again = std::fs::read_to_string(&out).unwrap();
    for (start, end) in [
        ("<svg id=\"timeline\"", "</svg>"),
        ("<table id=\"host-table\"", "</table>"),
        ("<h2>Detectors", "<h2 id=\"blind-spots\""),
    ] {
        assert_eq!(between(&html, start, end), between(&again, start, end), "{start} differs");
    }
    // A missing file is an input error naming it.
    let r = siphon().args(["report", "/nonexistent/eve.json", "-o"]).arg(&out).output().unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("/nonexistent/eve.json"));
}

#[test]
fn egress_volume_section_draws_bytes_against_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let out = siphon()
        .arg("-r")
        .arg(pcap("egress_curl_upload.pcap"))
        .args(["-q", "--set", "egress_volume.volume=5m:10MB", "--report"])
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success());
    let alerts = parse_alerts(&out.stdout);
    assert_eq!(of(&alerts, "egress_volume").len(), 1);
    let html = std::fs::read_to_string(&html).unwrap();
    let sec = between(&html, "id=\"detector-egress_volume\"", "</section>");
    assert!(sec.contains("class=\"bars\""), "{sec}");
    assert!(sec.contains("9.5 MiB"), "10,004,102 bytes out: {sec}");
    assert!(sec.contains("9.5 MiB against a threshold of 9.5 MiB"), "{sec}");
}

/// Debian's `chromium` (or `chromium-browser` elsewhere), if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

fn headless(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn chromium_renders_the_report_without_console_errors() {
    let Some(bin) = chromium() else {
        println!(
            "SKIPPED: chromium is not installed (scripts/setup.sh installs it); the report was not loaded in a browser"
        );
        return;
    };
    let (_, _, dir) = demo_report(&[]);
    let html = dir.path().join("report.html");
    let url = format!("file://{}", html.display());
    // The DOM as Chromium parsed it, with the console on stderr.
    let profile = tempfile::tempdir().unwrap();
    let out = headless(&bin, profile.path())
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    assert!(dom.contains("id=\"host-table\"") && dom.contains("id=\"timeline\""), "parsed DOM: {dom}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    // A screenshot, as the README's.
    let png = dir.path().join("report.png");
    let profile = tempfile::tempdir().unwrap();
    let out = headless(&bin, profile.path())
        .args(["--window-size=1300,2400"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = std::fs::read(&png).unwrap();
    assert!(img.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // 1300 wide, 2400 high (IHDR), and not blank: a rendered page compresses far less.
    assert_eq!(u32::from_be_bytes(img[16..20].try_into().unwrap()), 1300);
    assert_eq!(u32::from_be_bytes(img[20..24].try_into().unwrap()), 2400);
    assert!(img.len() > 50_000, "screenshot of {} bytes looks blank", img.len());
}
