//! `--format text`: one fast.log line per alert, compared line for line with
//! `tests/golden/fast.log` (the demo captures, one worker). Regenerate after an intended change:
//! `SIPHON_BLESS=1 cargo test --release --test text_format`.

mod common;

use common::{DEMO, pcap, siphon};
use std::path::PathBuf;

#[test]
fn text_lines_match_the_golden_fast_log() {
    let mut c = siphon();
    for n in DEMO {
        c.arg("-r").arg(pcap(n));
    }
    let out = c.args(["-q", "--workers", "1", "--format", "text"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = String::from_utf8(out.stdout).unwrap();
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fast.log");
    if std::env::var_os("SIPHON_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "number of lines:\n{got}");
    // The figures that matter are on the line, binary names never are.
    assert!(got.contains("{UDP} 10.99.0.11:54940 -> 203.0.113.53:53 domain=exfil-test.net"));
    assert!(got.contains("escalated="), "a re-fired alert says it grew");
    assert!(!got.contains("\\x"));
}

#[test]
fn text_format_writes_to_a_file_and_keeps_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (log, html) = (dir.path().join("fast.log"), dir.path().join("r.html"));
    let out = siphon()
        .arg("-r")
        .arg(pcap("scan_nmap_sS.pcap"))
        .args(["-q", "--format", "text", "-o"])
        .arg(&log)
        .arg("--report")
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains("[1:9100200:1] SIPHON scan"), "{text}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("id=\"detector-scan\""));
    let bad = siphon().args(["-r", "x.pcap", "--format", "xml"]).output().unwrap();
    assert!(!bad.status.success(), "an unknown format is a usage error");
}
