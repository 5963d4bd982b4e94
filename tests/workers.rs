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
    run_lines(&[path], workers, None)
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

/// The alert lines (one per alert, sorted) of one run of siphon reading `args` with `workers`,
/// `stdin` fed to it.
fn run_lines(args: &[&Path], workers: usize, stdin: Option<&Path>) -> Vec<String> {
    let mut cmd = siphon();
    for a in args {
        cmd.arg("-r").arg(a);
    }
    cmd.args(["--workers", &workers.to_string()]);
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).expect("open stdin capture"));
    }
    let out = cmd.output().expect("run siphon");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<String> = parse_alerts(&out.stdout).iter().map(identity).collect();
    lines.sort();
    lines
}

/// With several workers a capture file is read by the workers in turn (no capture thread),
/// classic pcap in blocks and pcapng through libpcap, one file after another; stdin keeps a
/// capture thread (its reads wait for the writer). Four workers on two cores, against one.
#[test]
fn a_list_of_captures_and_stdin_give_the_same_alerts_with_1_and_4_workers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let list: Vec<PathBuf> =
        ["proxy_dns_names.pcap", "fmt_dig_loop.pcapng", "icmp_ptunnel.pcap", "scan_nmap_sU.pcap"]
            .iter()
            .map(|n| dir.join(n))
            .collect();
    let paths: Vec<&Path> = list.iter().map(PathBuf::as_path).collect();
    let one = run_lines(&paths, 1, None);
    assert!(one.len() >= 10, "the list raises alerts: {one:#?}");
    assert_eq!(one, run_lines(&paths, 4, None), "a list of files, --workers 4");

    let piped = dir.join("proxy_tls_sni.pcap");
    let from_file = run_lines(&[piped.as_path()], 1, None);
    assert!(!from_file.is_empty());
    for n in [2, 4] {
        assert_eq!(from_file, run_lines(&[Path::new("-")], n, Some(&piped)), "stdin, --workers {n}");
    }
}
