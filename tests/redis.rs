//! The Redis output against a real `redis-server` started here on a free loopback port: every
//! mode Suricata offers (list with LPUSH or RPUSH, pub/sub channel, stream) delivers valid EVE,
//! with ACL credentials and pipelining; a server killed mid-run and restarted costs counted
//! losses, never a stalled or stuck siphon.

mod common;

use common::servers::{Redis, free_port};
use common::*;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const CAPTURE: &str = "proxy_dns_names.pcap";

/// `--set` arguments for the Redis output.
fn redis_args(port: u16, mode: &str, key: &str, extra: &[String]) -> Vec<String> {
    let mut v = vec![
        "outputs.redis.enabled=true".to_owned(),
        format!("outputs.redis.port={port}"),
        format!("outputs.redis.mode={mode}"),
        format!("outputs.redis.key={key}"),
    ];
    v.extend(extra.iter().cloned());
    v.into_iter().flat_map(|s| ["--set".to_owned(), s]).collect()
}

/// Runs siphon on the capture with the Redis output; returns the alerts of `-o` (as JSON
/// lines, in order) and stderr.
fn run_with(args: &[String]) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let o = siphon().arg("-r").arg(pcap(CAPTURE)).arg("-o").arg(&out).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    let lines: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(str::to_owned).collect();
    assert!(lines.len() >= 5, "the capture raises alerts: {lines:?}");
    (lines, err)
}

/// Parses and validates what Redis held; returns the alerts as JSON values.
fn eve(docs: &[String]) -> Vec<Value> {
    docs.iter()
        .map(|d| {
            let v: Value = serde_json::from_str(d).unwrap_or_else(|e| panic!("not JSON ({e}): {d}"));
            validate(&v);
            assert!(v["community_id"].as_str().is_some_and(|c| c.starts_with("1:")), "{v}");
            v
        })
        .collect()
}

/// `outputs.redis: S sent, D dropped, R reconnects` from stderr.
fn counts(err: &str) -> (u64, u64, u64) {
    let line =
        err.lines().find(|l| l.contains("outputs.redis:")).unwrap_or_else(|| panic!("no counts: {err}"));
    let n: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (n[0], n[1], n[2])
}

#[test]
fn lists_get_every_alert_in_order_as_valid_eve() {
    let r = Redis::start(free_port(), &[]);
    let mut c = r.conn_as(None);
    // RPUSH keeps the order, LPUSH ("list", Suricata's default) reverses it; pipelined by 3.
    let (lines, err) =
        run_with(&redis_args(r.port, "rpush", "siphon-r", &["outputs.redis.batch_size=3".into()]));
    let got: Vec<String> = redis::cmd("LRANGE").arg("siphon-r").arg(0).arg(-1).query(&mut c).unwrap();
    assert_eq!(got, lines);
    eve(&got);
    assert_eq!(counts(&err), (lines.len() as u64, 0, 0), "{err}");
    let (lines, _) = run_with(&redis_args(r.port, "list", "siphon-l", &[]));
    let mut got: Vec<String> = redis::cmd("LRANGE").arg("siphon-l").arg(0).arg(-1).query(&mut c).unwrap();
    got.reverse();
    assert_eq!(got, lines);
}

#[test]
fn a_stream_gets_every_alert_under_the_eve_field_trimmed_to_maxlen() {
    let r = Redis::start(free_port(), &[]);
    let mut c = r.conn_as(None);
    let (lines, _) = run_with(&redis_args(r.port, "stream", "siphon-s", &[]));
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg("siphon-s").arg("-").arg("+").query(&mut c).unwrap();
    let docs: Vec<String> = entries
        .iter()
        .map(|(_, fields)| {
            assert_eq!(fields.len(), 1);
            assert_eq!(fields[0].0, "eve");
            fields[0].1.clone()
        })
        .collect();
    assert_eq!(docs, lines);
    eve(&docs);
    // Exact trimming (MAXLEN with `~` trims whole nodes only): a small cap still bounds it.
    for _ in 0..30 {
        run_with(&redis_args(r.port, "xadd", "siphon-t", &["outputs.redis.stream_maxlen=5".into()]));
    }
    let len: u64 = redis::cmd("XLEN").arg("siphon-t").query(&mut c).unwrap();
    assert!(len < 30 * lines.len() as u64, "trimmed: {len}");
}

#[test]
fn a_channel_subscriber_gets_every_alert_with_acl_credentials() {
    let port = free_port();
    // An ACL user allowed to PUBLISH on siphon-* only; the default user is off.
    let acl =
        ["--user", "default", "off", "--user", "sensor", "on", ">s3cret", "~siphon-*", "&siphon-*", "+@all"];
    let r = Redis::start(port, &acl);
    let mut sub = r.conn_as(Some(("sensor", "s3cret")));
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = std::thread::spawn(move || {
        let mut ps = sub.as_pubsub();
        ps.subscribe("siphon-c").unwrap();
        tx.send(()).unwrap();
        let mut got = Vec::new();
        while let Ok(m) = ps.get_message() {
            got.push(m.get_payload::<String>().unwrap());
            if got.len() == 9 {
                break;
            }
        }
        got
    });
    rx.recv().unwrap();
    let creds = ["outputs.redis.username=sensor".to_owned(), "outputs.redis.password=s3cret".to_owned()];
    let (lines, err) = run_with(&redis_args(port, "channel", "siphon-c", &creds));
    assert_eq!(lines.len(), 9, "the capture's nine alerts");
    let got = listener.join().unwrap();
    assert_eq!(got, lines);
    eve(&got);
    assert_eq!(counts(&err).0, 9);
    // Wrong credentials: nothing sent, every alert counted as dropped, exit 0 within the grace.
    let bad = ["outputs.redis.username=sensor".to_owned(), "outputs.redis.password=wrong".to_owned()];
    let t = Instant::now();
    let (lines, err) = run_with(&redis_args(port, "channel", "siphon-c", &bad));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let (sent, dropped, _) = counts(&err);
    assert_eq!((sent, dropped), (0, lines.len() as u64), "{err}");
}

/// The capture's records, after its 24-byte file header.
fn records(file: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut i = 24;
    while i + 16 <= file.len() {
        let incl = u32::from_le_bytes(file[i + 8..i + 12].try_into().unwrap()) as usize;
        v.push(&file[i..i + 16 + incl]);
        i += 16 + incl;
    }
    v
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_redis_killed_and_restarted_mid_run_costs_counted_losses_only() {
    let port = free_port();
    let mut r = Redis::start(port, &[]);
    let file = std::fs::read(pcap(CAPTURE)).unwrap();
    let recs = records(&file);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    // A queue of one: what comes while Redis is away overflows it, and is counted.
    let args = redis_args(port, "rpush", "siphon-k", &["outputs.redis.queue=1".into()]);
    let mut child = siphon()
        .args(["-r", "-", "-o"])
        .arg(&out)
        .args(&args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let third = recs.len() / 3;
    let feed = |w: &mut std::process::ChildStdin, part: &[&[u8]]| {
        for r in part {
            w.write_all(r).unwrap();
        }
        w.flush().unwrap();
    };
    stdin.write_all(&file[..24]).unwrap();
    feed(&mut stdin, &recs[..third]);
    let llen =
        |r: &Redis| -> u64 { redis::cmd("LLEN").arg("siphon-k").query(&mut r.conn_as(None)).unwrap_or(0) };
    wait_for("the first alerts in Redis", 10, || llen(&r) > 0);
    r.kill();
    feed(&mut stdin, &recs[third..2 * third]);
    std::thread::sleep(Duration::from_millis(700));
    let r = Redis::start(port, &[]);
    feed(&mut stdin, &recs[2 * third..]);
    wait_for("alerts in the restarted Redis", 40, || llen(&r) > 0);
    // SIGTERM with stdin still open: siphon stops at once.
    let t = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let took = t.elapsed();
    drop(stdin);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?} {err}");
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    let written = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
    let (sent, dropped, reconnects) = counts(&err);
    assert_eq!(sent + dropped, written, "every alert sent or counted as dropped: {err}");
    assert!(reconnects >= 1, "{err}");
    assert!(dropped >= 1, "the alerts of the outage overflowed the queue: {err}");
    assert!(sent >= llen(&r), "{err}");
    eprintln!("{written} alerts: {sent} sent, {dropped} dropped, {reconnects} reconnects; exit in {took:?}");
}

#[test]
fn no_redis_at_all_costs_one_grace_period_and_counts_everything() {
    let t = Instant::now();
    let (lines, err) = run_with(&redis_args(free_port(), "list", "siphon", &[]));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(counts(&err).0, 0);
    assert_eq!(counts(&err).1, lines.len() as u64, "{err}");
}

#[test]
fn bad_redis_settings_are_errors_naming_the_key() {
    for (set, key) in [
        ("outputs.redis.mode=lpop", "mode"),
        ("outputs.redis.batch_size=0", "outputs.redis.batch_size"),
        ("outputs.redis.server=rediss://h:1", "outputs.redis.server"),
        ("outputs.redis.nope=1", "nope"),
    ] {
        let o = siphon().args(["-r"]).arg(pcap(CAPTURE)).args(["--set", set]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{set}: {err}");
        assert!(err.contains(key), "{set}: {err}");
    }
}
