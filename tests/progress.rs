//! The `-r` progress bar: drawn on stderr when it is a terminal (a pty made by `script`), never
//! when stderr is a pipe or a file, and never with `-q`.

mod common;

use common::{pcap, siphon};
use std::process::Command;

/// The bar's own words (the summary has "pkt/s" too, never these).
const MARK: &str = "alerts so far";

fn demo_args() -> Vec<String> {
    ["dns_iodine_null.pcap", "icmp_ptunnel.pcap", "scan_nmap_sS.pcap"]
        .iter()
        .flat_map(|n| ["-r".to_owned(), pcap(n).display().to_string()])
        .collect()
}

#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let out = siphon().args(demo_args()).args(["-o", "/dev/null"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(MARK) && !err.contains('\x1b') && !err.contains('\r'), "{err}");
    assert!(err.contains("siphon: alerts:"), "the summary is still printed: {err}");
}

/// Runs siphon with `args` in a pseudo-terminal (`script -qec`); returns what the terminal got.
fn in_pty(args: &[String]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        println!("SKIPPED: `script` (util-linux) is not installed: the terminal case was not run");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("typescript");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let cmd = format!("'{}' {}", env!("CARGO_BIN_EXE_siphon"), quoted.join(" "));
    let out = Command::new("script").arg("-qec").arg(&cmd).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned())
}

#[test]
fn progress_on_a_terminal_and_silenced_by_quiet() {
    let mut args = demo_args();
    args.extend(["-o".into(), "/dev/null".into()]);
    let Some(tty) = in_pty(&args) else { return };
    assert!(tty.contains(MARK), "the bar is drawn on a terminal:\n{tty}");
    assert!(tty.contains("B/440.09 KiB ETA"), "bytes read of the inputs' 440.09 KiB, ETA:\n{tty}");
    assert!(tty.contains("siphon: alerts:"), "then the summary");
    args.push("-q".into());
    let Some(tty) = in_pty(&args) else { return };
    assert!(!tty.contains(MARK), "-q silences the bar:\n{tty}");
}
