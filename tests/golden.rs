//! Golden alerts: every bundled capture in `pcaps/`, run with the default config, gives exactly
//! the alerts listed in `tests/golden/alerts.tsv` (config, capture, detector, signature id,
//! source, destination, packet time, tunnel), and again with low egress thresholds (`sensitive`,
//! so `egress_volume` and `long_session` fire on the small bundled uploads). It pins behaviour across refactors: a change that moves,
//! adds or loses an alert shows here as a line diff.
//!
//! Regenerate after an intended behaviour change, and say why in the commit:
//! `SIPHON_BLESS=1 cargo test --release --test golden`.

use siphon::Config;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One line per alert, sorted within each capture (worker order is not stable).
fn golden_lines() -> String {
    let mut names: Vec<String> = std::fs::read_dir(root().join("pcaps"))
        .expect("pcaps/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    let sensitive = [
        "egress_volume.volume=5m:4MB",
        "long_session.min_duration=60s",
        "long_session.sustained_rate=1MB",
        "long_session.sustained_for=5s",
    ]
    .map(String::from);
    let configs = [
        ("default", Config::default()),
        ("sensitive", Config::load(None, &sensitive).expect("sensitive config")),
    ];
    let mut out =
        String::from("# config\tcapture\tdetector\tsignature_id\tsrc_ip\tdest_ip\ttimestamp\ttunnel\n");
    for (label, config) in &configs {
        for name in &names {
            let path = root().join("pcaps").join(name);
            let (alerts, _) = siphon::run_capture(&[path], config).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut lines: Vec<String> = alerts
                .iter()
                .map(|a| {
                    let tunnel = a
                        .tunnel
                        .as_ref()
                        .map(|t| format!("{}>{}/{}", t.src_ip, t.dest_ip, t.proto))
                        .unwrap_or_else(|| "-".into());
                    format!(
                        "{label}\t{name}\t{}\t{}\t{}\t{}\t{}\t{tunnel}",
                        a.siphon.detector, a.alert.signature_id, a.src_ip, a.dest_ip, a.timestamp
                    )
                })
                .collect();
            lines.sort();
            if lines.is_empty() {
                lines.push(format!("{label}\t{name}\t(no alerts)"));
            }
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn every_bundled_capture_gives_its_golden_alerts() {
    let file = root().join("tests/golden/alerts.tsv");
    let got = golden_lines();
    if std::env::var_os("SIPHON_BLESS").is_some() {
        std::fs::write(&file, &got).expect("write golden file");
        return;
    }
    let want = std::fs::read_to_string(&file).expect("tests/golden/alerts.tsv (bless with SIPHON_BLESS=1)");
    if got != want {
        let g: Vec<&str> = got.lines().collect();
        let w: Vec<&str> = want.lines().collect();
        let missing: Vec<&&str> = w.iter().filter(|l| !g.contains(l)).collect();
        let extra: Vec<&&str> = g.iter().filter(|l| !w.contains(l)).collect();
        panic!(
            "alerts differ from tests/golden/alerts.tsv\nmissing ({}):\n{}\nextra ({}):\n{}\n\
             (if intended: SIPHON_BLESS=1 cargo test --release --test golden, and say why in the commit)",
            missing.len(),
            missing.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"),
            extra.len(),
            extra.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"),
        );
    }
}
