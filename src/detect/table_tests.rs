//! Tests that walk the detector table: signature ids, config sections, the README's detector
//! and signature tables, the EVE schema's detector list, and a dummy detector registered in a
//! test-only table that runs through the whole pipeline.
//!
//! The README tables are generated from [`ALL`]: after changing the table, run
//! `SIPHON_BLESS=1 cargo test --release --lib detect::table_tests` to rewrite them.

use super::*;
use crate::alert::Signature;
use crate::config::{CORE_SECTIONS, EXAMPLE_CONFIG};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Sections of `ALL` that a TOML document lacks, by name.
fn missing_sections(text: &str, specs: &[Spec]) -> Vec<&'static str> {
    let table: toml::Table = text.parse().expect("TOML");
    specs.iter().map(|s| s.name).filter(|n| !table.contains_key(*n)).collect()
}

#[test]
fn signature_ids_are_unique_and_inside_their_block() {
    let mut seen = BTreeSet::new();
    let mut blocks: Vec<(u32, u32, &str)> = Vec::new();
    let mut names = BTreeSet::new();
    for s in ALL {
        assert!(names.insert(s.name), "detector name {} twice in ALL", s.name);
        let (lo, hi) = s.ids;
        assert!(lo < hi && lo >= 9_100_000, "{}: bad block {lo}..={hi}", s.name);
        for (a, b, n) in &blocks {
            assert!(hi < *a || lo > *b, "{}'s block {lo}..={hi} overlaps {n}'s", s.name);
        }
        blocks.push((lo, hi, s.name));
        assert!(!s.signatures.is_empty(), "{} lists no signature", s.name);
        for sig in s.signatures {
            assert!((lo..=hi).contains(&sig.id), "{}: signature {} outside {lo}..={hi}", s.name, sig.id);
            assert!(seen.insert(sig.id), "signature id {} used twice", sig.id);
            assert!((1..=3).contains(&sig.severity), "{}: severity of {}", s.name, sig.id);
            assert!(!sig.mitre.is_empty() && sig.msg.starts_with("SIPHON"), "{}: {}", s.name, sig.id);
        }
        assert!(!s.summary.is_empty(), "{} has no summary", s.name);
    }
}

#[test]
fn example_config_has_a_section_per_detector_and_a_deleted_one_is_caught() {
    assert_eq!(missing_sections(EXAMPLE_CONFIG, ALL), Vec::<&str>::new(), "config/siphon.toml");
    for s in ALL {
        assert!(!CORE_SECTIONS.contains(&s.name), "{} collides with a core section", s.name);
        // Delete `[name]` and its keys: the check names it.
        let mut out = String::new();
        let mut skip = false;
        for line in EXAMPLE_CONFIG.lines() {
            if line.starts_with('[') {
                let header = line.trim_matches(|c| c == '[' || c == ']');
                skip = header == s.name || header.starts_with(&format!("{}.", s.name));
            }
            if !skip {
                out.push_str(line);
                out.push('\n');
            }
        }
        assert_eq!(missing_sections(&out, ALL), [s.name]);
    }
}

#[test]
fn sections_parse_by_name_and_errors_keep_their_line() {
    let text = "[flow]\nmax_flows = 10\n\n[scan]\nenabled = false\n\n[dns_tunnel]\nwindow = \"5m\"\nlong_lable = 3\n";
    let e = crate::config::Config::from_toml(text).unwrap_err().to_string();
    assert!(e.contains("long_lable") && e.contains("line 9"), "{e}");
    let c = crate::config::Config::from_toml("[scan]\nenabled = false\n").unwrap();
    assert!(!c.detectors.get::<scan::ScanConfig>().unwrap().enabled);
    let names: Vec<&str> = c.detectors.build(&Env::from_config(&c)).iter().map(|d| d.name()).collect();
    assert!(!names.contains(&"scan") && names.len() == ALL.len() - 1, "{names:?}");
    let e = crate::config::Config::from_toml("[sacn]\nenabled = false\n").unwrap_err().to_string();
    assert!(e.contains("sacn") && e.contains("scan"), "{e}");
}

#[test]
fn detect_never_imports_the_config() {
    // The config reads the detector table (`Sections`); `detect` and the detectors' folders get
    // their own sections and `Env`, never the config: no import cycle (tests aside).
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(&p, found);
            } else if name.ends_with(".rs") && !name.contains("tests") {
                let text = std::fs::read_to_string(&p).unwrap();
                if text.contains("crate::config") || text.contains("super::config::Config") {
                    found.push(p.display().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/detect"), &mut found);
    assert!(found.is_empty(), "detect imports the config: {found:?}");
}

#[test]
fn eve_schema_lists_every_detector() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema/eve-alert.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let got: BTreeSet<&str> = schema["properties"]["siphon"]["properties"]["detector"]["enum"]
        .as_array()
        .expect("detector enum")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let want: BTreeSet<&str> = ALL.iter().map(|s| s.name).collect();
    assert_eq!(got, want, "update DETECTORS in tests/schema/make_schema.py and regenerate the schema");
}

/// The README's detector and signature tables, rendered from `ALL`.
fn readme_tables() -> String {
    let mut t = String::from("| detector | what it catches | signature ids | config |\n|---|---|---|---|\n");
    for s in ALL {
        t.push_str(&format!(
            "| `{}` | {} | {}–{} | `[{}]` |\n",
            s.name,
            s.summary.split_whitespace().collect::<Vec<_>>().join(" "),
            s.ids.0,
            s.ids.1,
            s.name
        ));
    }
    t.push_str("\n| id | detector | severity | MITRE ATT&CK | signature |\n|---|---|---|---|---|\n");
    for s in ALL {
        for sig in s.signatures {
            t.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                sig.id,
                s.name,
                sig.severity,
                sig.mitre.join(", "),
                sig.msg
            ));
        }
    }
    t
}

#[test]
fn readme_tables_are_generated_from_the_table() {
    const BEGIN: &str = "<!-- detectors: generated from src/detect/mod.rs ALL -->\n";
    const END: &str = "<!-- end of generated detectors -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme.find(BEGIN).expect("README.md: detectors marker") + BEGIN.len();
    let end = start + readme[start..].find(END).expect("README.md: end-of-detectors marker");
    let want = readme_tables();
    if std::env::var_os("SIPHON_BLESS").is_some() {
        std::fs::write(path, format!("{}{want}{}", &readme[..start], &readme[end..])).unwrap();
        return;
    }
    assert_eq!(
        &readme[start..end],
        want,
        "README.md's detector tables differ from ALL: SIPHON_BLESS=1 cargo test --release --lib detect::table_tests"
    );
}

// --- A dummy detector, registered in a test-only table, run through the pipeline. ---

const DUMMY_SIG: Signature = Signature {
    id: 9_199_900,
    rev: 1,
    msg: "SIPHON dummy: a flow opened",
    category: "Not Suspicious Traffic",
    severity: 3,
    mitre: &["T1046"],
};

/// `[dummy]`: alert on flows whose first packet is at least `min_len` bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DummyConfig {
    enabled: bool,
    min_len: u32,
}

impl Default for DummyConfig {
    fn default() -> Self {
        DummyConfig { enabled: true, min_len: 0 }
    }
}

impl DetectorConfig for DummyConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
}

struct Dummy(DummyConfig);

impl Detector for Dummy {
    fn name(&self) -> &'static str {
        "dummy"
    }
    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        if c.new_flow && c.pkt.ip_len >= self.0.min_len {
            let a = Alert::build("dummy", &DUMMY_SIG, c.ts, c.pkt.src, c.pkt.dst)
                .flow(c.flow, c.ts)
                .score(1.0, 1.0)
                .evidence("ip_len", c.pkt.ip_len)
                .episode(format!("{}|{}", c.pkt.src, c.pkt.dst), 1.0)
                .finish();
            out.push(a);
        }
    }
}

impl Build for Dummy {
    type Config = DummyConfig;
    fn build(config: &DummyConfig, _env: &Env) -> Self {
        Dummy(config.clone())
    }
}

/// The test-only table: the dummy, one line.
const TEST_ALL: &[Spec] = &[Spec::of::<Dummy>("dummy", "flows opened", (9_199_900, 9_199_999), &[DUMMY_SIG])];

#[test]
fn a_dummy_detector_in_a_test_table_runs_through_the_pipeline() {
    let pcap = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/scan_nmap_sT.pcap"));
    let config = crate::config::Config::from_toml_with("[dummy]\nmin_len = 40\n", TEST_ALL).unwrap();
    assert_eq!(config.detectors.get::<DummyConfig>().map(|c| c.min_len), Some(40));
    let (alerts, _) = crate::run_capture(std::slice::from_ref(&pcap), &config).unwrap();
    assert!(!alerts.is_empty(), "the dummy saw no flow");
    assert!(alerts.iter().all(|a| a.siphon.detector == "dummy" && a.alert.signature_id == 9_199_900));
    // Switched off by its section: nothing runs.
    let off = crate::config::Config::from_toml_with("[dummy]\nenabled = false\n", TEST_ALL).unwrap();
    assert!(crate::run_capture(&[pcap], &off).unwrap().0.is_empty());
    // Its section is unknown to the real table, and the real ones to the test table.
    assert!(crate::config::Config::from_toml("[dummy]\n").is_err());
    assert!(crate::config::Config::from_toml_with("[scan]\n", TEST_ALL).is_err());
}
