//! Alerts do not depend on `--workers` (issue 25): every bundled capture (the golden set), and a
//! small generated day (`siphon::synth::day`: minutes of capture time, sessions starting and
//! ending throughout, a home resolver and outside ones, DNS, TLS, QUIC), give the same alerts with
//! 1, 2 and 3 workers.
//!
//! An alert is compared by detector, signature, source, destination, severity, packet time and
//! tunnel — everything but the fields a worker fills on its own (flow id, order). One difference
//! is inherent and compared more loosely: an alert whose subject is an outside host (an inbound
//! scanner probing many home hosts) is raised by whichever worker holding some of its targets
//! crosses the threshold first, and the writer keeps the first; which probe (destination, time)
//! crossed it depends on how the targets were shared out, so such an alert is compared by
//! detector, signature and source (docs/performance.md, "Alerts and the worker count").

mod common;

use common::{parse_alerts, siphon};
use serde_json::Value;
use siphon::input::PcapWriter;
use siphon::synth::day::{DayProfile, DayTraffic};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// One line per alert, sorted.
fn alert_lines(path: &Path, workers: usize) -> Vec<String> {
    let out =
        siphon().arg("-r").arg(path).args(["--workers", &workers.to_string()]).output().expect("run siphon");
    assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<String> = parse_alerts(&out.stdout).iter().map(identity).collect();
    lines.sort();
    lines
}

/// An alert without what one worker fills on its own.
fn identity(a: &Value) -> String {
    let (det, sig, src) = (&a["siphon"]["detector"], &a["alert"]["signature_id"], &a["src_ip"]);
    let outside_subject = a["siphon"]["evidence"]["direction"] == "inbound";
    if outside_subject {
        return format!("{det} {sig} {src} (inbound: trigger target and time are the worker's)");
    }
    // The beacon detector's severity rises for destinations few home hosts talk to, counted
    // among the home hosts of the alert's worker.
    let severity = if det == "beacon" { Value::Null } else { a["alert"]["severity"].clone() };
    format!(
        "{det} {sig} {src} > {} severity {severity} at {} tunnel {}",
        a["dest_ip"], a["timestamp"], a["tunnel"]
    )
}

/// Asserts `path` gives the same alerts with 1, 2 and 3 workers; returns them.
fn same_alerts(path: &Path) -> Vec<String> {
    let one = alert_lines(path, 1);
    for n in [2, 3] {
        let many = alert_lines(path, n);
        let lost: Vec<&String> = one.iter().filter(|l| !many.contains(l)).collect();
        let gained: Vec<&String> = many.iter().filter(|l| !one.contains(l)).collect();
        assert!(
            one == many,
            "{}: --workers {n} differs from --workers 1\nonly with 1: {lost:#?}\nonly with {n}: {gained:#?}",
            path.display()
        );
    }
    one
}

#[test]
fn every_bundled_capture_gives_the_same_alerts_with_1_2_and_3_workers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("pcaps/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    names.sort();
    assert!(names.len() > 20, "bundled captures: {}", names.len());
    let mut alerts = 0;
    for p in &names {
        alerts += same_alerts(p).len();
    }
    assert!(alerts > 50, "the bundled captures raise alerts: {alerts}");
}

/// A small day: 2 minutes of capture time, 40 home hosts, so pairs repeat enough for the beacon
/// detector's series and the scan detector's windows, and flows expire during the run.
#[test]
fn a_generated_day_gives_the_same_alerts_with_1_2_and_3_workers() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("workers-day.pcap");
    let f = std::fs::File::create(&path).expect("create capture");
    let mut w = PcapWriter::new(BufWriter::new(f)).expect("pcap header");
    let profile = DayProfile { span_secs: 120, hosts: 40, sessions_per_sec: 40.0 };
    let mut g = DayTraffic::new(0x5a3e, profile, 1_700_000_000_000_000);
    let mut frame = Vec::with_capacity(1600);
    let mut packets = 0;
    while g.next_frame(&mut frame) {
        w.write(g.ts_micros, &frame, usize::MAX).expect("write frame");
        packets += 1;
    }
    w.finish().expect("flush capture");
    assert!(packets > 10_000, "packets: {packets}");
    let alerts = same_alerts(&path);
    let _ = std::fs::remove_file(&path);
    assert!(!alerts.is_empty(), "the generated day raises alerts");
}
