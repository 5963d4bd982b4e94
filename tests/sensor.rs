//! siphon as an unattended sensor on a veth pair the test makes (needs root): alerts come out
//! while it runs on a quiet link, log rotation by rename + SIGHUP and by copytruncate, and the
//! stats event under `-Z`. The output file is read while siphon runs, never only after exit.

mod common;
use common::veth::*;
use common::*;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn start(v: &Veth, out: &std::path::Path, extra: &[&str]) -> Child {
    let stats = if extra.contains(&"--stats-interval") { &[][..] } else { &["--stats-interval", "0"][..] };
    let c = siphon()
        .args(["-i", &v.dev])
        .args(stats)
        .args(extra)
        .arg("-o")
        .arg(out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("siphon -i starts");
    wait_ready(c.id());
    c
}

fn stop(mut c: Child) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    signal(&c, libc::SIGTERM);
    let status = c.wait().expect("siphon exits");
    let took = t.elapsed();
    let mut err = String::new();
    use std::io::Read;
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code(), err, took)
}

fn about(domain: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |v| v["event_type"] == "alert" && v["siphon"]["evidence"]["domain"] == domain
}

/// Every line is one JSON object (no torn or NUL-filled line); returns them.
fn lines_of(path: &std::path::Path) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(path).unwrap();
    assert!(!bytes.contains(&0), "{}: NUL bytes", path.display());
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {l}", path.display()))
        })
        .collect()
}

fn alerts_written(stderr: &str) -> u64 {
    let l = stderr.lines().find(|l| l.starts_with("siphon: alerts: ")).unwrap_or_else(|| panic!("{stderr}"));
    l["siphon: alerts: ".len()..].split_whitespace().next().unwrap().parse().unwrap()
}

/// A handful of real `dig` tunnel queries and then silence: the alert is in the file within a
/// second, while siphon runs. Over several episodes the capture→alert latency (from the
/// triggering packet's kernel timestamp to the line being readable) is measured and printed;
/// `SIPHON_LATENCY_EPISODES` raises the number of episodes (docs/operations.md).
#[test]
fn quiet_link_alerts_within_a_second_while_running() {
    if !root_or_say("QUIET-LINK LIVE TEST") {
        return;
    }
    let v = Veth::new(1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    // SIPHON_FLUSH_INTERVAL=10ms measures another capture.flush_interval.
    let flush = std::env::var("SIPHON_FLUSH_INTERVAL").unwrap_or_else(|_| "100ms".into());
    let set = format!("capture.flush_interval={flush}");
    let child = start(&v, &out, &["--stats-interval", "1", "--set", &set]);
    let episodes: usize =
        std::env::var("SIPHON_LATENCY_EPISODES").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let mut lat_us = Vec::new();
    for e in 0..episodes {
        let domain: &'static str = Box::leak(format!("q{e}-exfil.example").into_boxed_str());
        let digs = v.dig_tunnel(domain, 9, Duration::from_millis(30), e as u64 + 7);
        let last_query = Instant::now();
        let seen = wait_for_line(&out, Duration::from_secs(3), about(domain));
        let waited = last_query.elapsed();
        reap(digs);
        let Some((alert, at)) = seen else {
            let (_, err, _) = stop(child);
            panic!("episode {e}: no alert for {domain} 3 s after the last query\n{err}");
        };
        assert!(waited < Duration::from_secs(1), "episode {e}: alert {waited:?} after the last query");
        let ts =
            chrono::DateTime::parse_from_str(alert["timestamp"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.f%z")
                .unwrap();
        let at: chrono::DateTime<chrono::Utc> = at.into();
        lat_us.push((at - ts.to_utc()).num_microseconds().unwrap());
        // Quiet between episodes.
        std::thread::sleep(Duration::from_millis(300));
    }
    let (code, err, _) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    // The periodic stats counted the packets as they came, not at exit.
    let counted =
        |l: &str| l.starts_with("siphon: [") && l.split_whitespace().nth(2).is_some_and(|n| n != "0");
    assert!(
        err.lines().filter(|l| counted(l)).count() >= 2,
        "periodic stats count packets while running: {err}"
    );
    lat_us.sort_unstable();
    let q = |p: f64| lat_us[((lat_us.len() as f64 - 1.0) * p).round() as usize];
    eprintln!(
        "capture->alert latency on a quiet link, flush_interval {flush}, over {} episodes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat_us.len(),
        q(0.5) as f64 / 1000.0,
        q(0.99) as f64 / 1000.0,
        *lat_us.last().unwrap() as f64 / 1000.0
    );
    assert!(q(0.99) < 1_000_000, "p99 under a second: {lat_us:?}");
}

/// logrotate's default: rename the file, then SIGHUP. The old file keeps every line written
/// before, the new one every line after; none lost (the summary's count), none torn.
#[test]
fn rename_then_sighup_rotates_without_losing_or_tearing_a_line() {
    if !root_or_say("ROTATION LIVE TEST") {
        return;
    }
    let v = Veth::new(2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let rotated = dir.path().join("eve.json.1");
    let child = start(&v, &out, &["--stats-json"]);
    v.query_burst("before.example", 20, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    std::thread::sleep(Duration::from_millis(300));
    std::fs::rename(&out, &rotated).unwrap();
    signal(&child, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(out.exists(), "SIGHUP reopened {}", out.display());
    v.query_burst("after.example", 20, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    std::thread::sleep(Duration::from_millis(300));
    let (code, err, _) = stop(child);
    assert_eq!(code, Some(0), "SIGHUP does not end the run: {err}");
    let old = lines_of(&rotated);
    let new = lines_of(&out);
    let domain = |v: &serde_json::Value| v["siphon"]["evidence"]["domain"].as_str().unwrap_or("").to_owned();
    let alerts = |l: &[serde_json::Value]| l.iter().filter(|v| v["event_type"] == "alert").count() as u64;
    assert!(old.iter().filter(|v| v["event_type"] == "alert").all(|v| domain(v).ends_with("before.example")));
    assert!(new.iter().filter(|v| v["event_type"] == "alert").all(|v| domain(v).ends_with("after.example")));
    assert!(alerts(&old) >= 10 && alerts(&new) >= 10, "{} before, {} after", alerts(&old), alerts(&new));
    assert_eq!(
        alerts(&old) + alerts(&new),
        alerts_written(&err),
        "every alert written is in one file: {err}"
    );
    assert_eq!(new.last().unwrap()["event_type"], "stats", "the stats event goes to the reopened file");
}

/// logrotate's `copytruncate`: the file is copied and truncated under siphon; -o is opened
/// O_APPEND, so the next line lands at the new start, not after a hole of NUL bytes.
#[test]
fn copytruncate_leaves_no_nul_bytes() {
    if !root_or_say("COPYTRUNCATE LIVE TEST") {
        return;
    }
    let v = Veth::new(3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let child = start(&v, &out, &[]);
    v.query_burst("pre.example", 10, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    std::thread::sleep(Duration::from_millis(300));
    std::fs::copy(&out, dir.path().join("eve.json.1")).unwrap();
    std::fs::OpenOptions::new().write(true).open(&out).unwrap().set_len(0).unwrap();
    v.query_burst("post.example", 10, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    std::thread::sleep(Duration::from_millis(300));
    let (code, err, _) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.first(), Some(&b'{'), "the file starts with a line, not a hole");
    let lines = lines_of(&out);
    assert!(
        lines
            .iter()
            .all(|v| v["siphon"]["evidence"]["domain"].as_str().unwrap_or("").ends_with("post.example"))
    );
    assert!(lines_of(&dir.path().join("eve.json.1")).len() >= 10);
}

/// `-Z nobody -o FILE --stats-json`: the file is opened (and handed to the user) before
/// privileges are dropped, and the stats event goes through the open file.
#[test]
fn dropped_privileges_still_write_the_stats_event() {
    if !root_or_say("-Z STATS LIVE TEST") {
        return;
    }
    let v = Veth::new(4);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let child = start(&v, &out, &["-Z", "nobody", "--stats-json"]);
    v.query_burst("z.example", 3, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    let (code, err, _) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    let lines = lines_of(&out);
    let stats = lines.last().unwrap();
    assert_eq!(stats["event_type"], "stats", "{err}");
    assert!(stats["siphon"]["packets"].as_u64().unwrap() >= 30);
}

/// The shipped logrotate snippet (contrib/logrotate), run by the real logrotate against a live
/// siphon, its paths pointed at a temporary directory and its HUP at this siphon.
#[test]
fn the_contrib_logrotate_snippet_rotates_a_running_sensor() {
    if !root_or_say("LOGROTATE LIVE TEST") {
        return;
    }
    let v = Veth::new(5);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let child = start(&v, &out, &[]);
    v.query_burst("lr1.example", 5, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    std::thread::sleep(Duration::from_millis(200));
    let snippet = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/logrotate")).unwrap();
    let conf = snippet
        .replace("/var/log/siphon/eve.json", out.to_str().unwrap())
        .replace("create 0640 siphon siphon", "create 0640 root root")
        .replace("systemctl kill -s HUP siphon.service", &format!("kill -HUP {}", child.id()));
    let conf_path = dir.path().join("logrotate.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let st = std::process::Command::new("logrotate")
        .arg("-f")
        .arg("-s")
        .arg(dir.path().join("state"))
        .arg(&conf_path)
        .status()
        .expect("logrotate runs (scripts/setup.sh installs it)");
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(300));
    v.query_burst("lr2.example", 5, 10);
    assert!(wait_for_line(&out, Duration::from_secs(3), |v| v["event_type"] == "alert").is_some());
    std::thread::sleep(Duration::from_millis(200));
    let (code, err, _) = stop(child);
    assert_eq!(code, Some(0), "{err}");
    let rotated = lines_of(&dir.path().join("eve.json.1"));
    let current = lines_of(&out);
    assert_eq!(rotated.len() as u64 + current.len() as u64, alerts_written(&err), "{err}");
    assert!(
        rotated.iter().all(|v| v["siphon"]["evidence"]["domain"].as_str().unwrap().ends_with("lr1.example"))
    );
    assert!(
        current.iter().all(|v| v["siphon"]["evidence"]["domain"].as_str().unwrap().ends_with("lr2.example"))
    );
}
