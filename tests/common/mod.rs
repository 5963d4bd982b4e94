//! Shared helpers for the pcap-driven integration tests: run the built binary on a capture in
//! `pcaps/`, parse its EVE lines, and validate every alert against the project's schema.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The captures `scripts/demo.sh` reads, in time order.
pub const DEMO: [&str; 5] = [
    "proxy_tls_sni.pcap",
    "dns_iodine_null.pcap",
    "icmp_ptunnel.pcap",
    "egress_ssh_443.pcap",
    "scan_nmap_sS.pcap",
];

/// Path of a bundled capture.
pub fn pcap(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps").join(name)
}

/// The built `siphon` binary.
pub fn siphon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_siphon"))
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schema/eve-alert.schema.json");
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(p).expect("schema")).expect("schema json");
        jsonschema::validator_for(&schema).expect("schema compiles")
    })
}

/// Panics with the reasons if `alert` does not match the schema.
pub fn validate(alert: &Value) {
    let errors: Vec<String> =
        validator().iter_errors(alert).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "alert does not match tests/schema/eve-alert.schema.json: {errors:?}\n{alert}"
    );
}

/// Parses EVE lines, validating every alert.
pub fn parse_alerts(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .filter(|v| v["event_type"] == "alert")
        .inspect(validate)
        .collect()
}

/// Runs `siphon -r pcaps/NAME ARGS...`, asserts exit 0, returns the validated alerts.
pub fn run(name: &str, args: &[&str]) -> Vec<Value> {
    let out = run_raw(&[name], args);
    assert!(out.status.success(), "siphon failed on {name}: {}", String::from_utf8_lossy(&out.stderr));
    parse_alerts(&out.stdout)
}

/// Runs siphon on several captures with extra args; returns the raw output.
pub fn run_raw(names: &[&str], args: &[&str]) -> Output {
    let mut c = siphon();
    for n in names {
        c.arg("-r").arg(pcap(n));
    }
    c.args(args).output().expect("siphon runs")
}

/// Alerts of one detector.
pub fn of<'a>(alerts: &'a [Value], detector: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["siphon"]["detector"] == detector).collect()
}

/// One-line description of each alert, for assertion messages.
pub fn describe(alerts: &[Value]) -> String {
    alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} -> {} {}",
                a["siphon"]["detector"], a["src_ip"], a["dest_ip"], a["alert"]["signature"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
pub mod netflow;
pub mod servers;
pub mod veth;

/// Waits until the siphon process `pid` has its signal handlers in place (SIGTERM in the
/// process's caught set): by then its capture is open and its pipeline about to read, and a
/// SIGTERM ends the run cleanly. Opening a live capture's buffer can take seconds (the kernel
/// finding the ring's pages), so a fixed sleep before sending traffic is not enough. Returns at
/// once if the process is gone.
pub fn wait_ready(pid: u32) {
    let status = format!("/proc/{pid}/status");
    let start = std::time::Instant::now();
    loop {
        let Ok(text) = std::fs::read_to_string(&status) else { return };
        if signal_set(&text, "SigCgt").unwrap_or(0) & (1 << (libc::SIGTERM - 1)) != 0 {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "siphon {pid} not ready in 60 s");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The pipeline's threads start right after the handlers.
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// A signal set (`SigBlk`, `SigCgt`, ...) of a `/proc/.../status` text, bit `n - 1` for signal `n`.
pub fn signal_set(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    u64::from_str_radix(line.trim(), 16).ok()
}
