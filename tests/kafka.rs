//! The Kafka output (`--features kafka`) against a real Kafka-protocol broker, `tansu`, started
//! here on a free loopback port with in-memory storage; a consumer (librdkafka's, through
//! `rdkafka`) reads the alerts back. `scripts/test-kafka.sh` installs tansu and runs this; CI
//! does not (building tansu and librdkafka takes minutes).
#![cfg(feature = "kafka")]

mod common;

use common::servers::free_port;
use common::*;
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CAPTURE: &str = "egress_http_post.pcap";
const OTHER: &str = "proxy_dns_names.pcap";

/// The tansu binary: `$TANSU`, else `tansu` on the PATH.
fn tansu() -> String {
    std::env::var("TANSU").unwrap_or_else(|_| "tansu".into())
}

struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts tansu with memory:// storage on a free port and creates `topic` with 3 partitions.
fn broker(topic: &str) -> Broker {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu())
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/test-kafka.sh installs tansu)", tansu()));
    let b = Broker { child, port };
    let t = Instant::now();
    loop {
        let ok = Command::new(tansu())
            .args(["topic", "create", topic, "--broker", &url, "--partitions", "3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "tansu did not take the topic");
        std::thread::sleep(Duration::from_millis(200));
    }
    b
}

fn kafka_args(port: u16, topic: &str) -> Vec<String> {
    [
        "outputs.kafka.enabled=true".to_owned(),
        format!("outputs.kafka.brokers=127.0.0.1:{port}"),
        format!("outputs.kafka.topic={topic}"),
    ]
    .into_iter()
    .flat_map(|s| ["--set".to_owned(), s])
    .collect()
}

/// Reads `n` messages of `topic` from the start: (partition, key, payload).
fn consume(port: u16, topic: &str, n: usize) -> Vec<(i32, String, String)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", format!("siphon-test-{topic}"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let mut got = Vec::new();
    let t = Instant::now();
    while got.len() < n && t.elapsed() < Duration::from_secs(60) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            let payload = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
            got.push((m.partition(), key, payload));
        }
    }
    got
}

fn counts(err: &str) -> (u64, u64, u64) {
    let line =
        err.lines().find(|l| l.contains("outputs.kafka:")).unwrap_or_else(|| panic!("no counts: {err}"));
    let n: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (n[0], n[1], n[2])
}

#[test]
fn alerts_reach_kafka_keyed_by_src_ip_and_a_consumer_reads_them_back() {
    let b = broker("siphon-alerts");
    let args = kafka_args(b.port, "siphon-alerts");
    let o = run_raw(&[CAPTURE, OTHER], &args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let lines: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect();
    assert!(lines.len() >= 10, "{lines:?}");
    assert_eq!(counts(&err), (lines.len() as u64, 0, 0), "{err}");
    let got = consume(b.port, "siphon-alerts", lines.len());
    assert_eq!(got.len(), lines.len());
    let mut payloads: Vec<&String> = got.iter().map(|(_, _, p)| p).collect();
    payloads.sort();
    let mut want: Vec<&String> = lines.iter().collect();
    want.sort();
    assert_eq!(payloads, want, "every alert, byte for byte");
    for (part, key, p) in &got {
        let v: serde_json::Value = serde_json::from_str(p).unwrap();
        validate(&v);
        assert_eq!(v["src_ip"].as_str(), Some(key.as_str()), "keyed by src_ip");
        // One host, one partition: its alerts stay in order.
        let same: Vec<i32> = got.iter().filter(|g| &g.1 == key).map(|g| g.0).collect();
        assert!(same.iter().all(|q| q == part), "{key}: {same:?}");
    }
    let per_host: Vec<&str> = got.iter().filter(|g| g.1 == "10.99.0.101").map(|g| g.2.as_str()).collect();
    let want_order: Vec<&str> =
        lines.iter().filter(|l| l.contains("\"src_ip\":\"10.99.0.101\"")).map(String::as_str).collect();
    assert_eq!(per_host, want_order, "one host's alerts in order");
}

#[test]
fn no_broker_costs_one_grace_period_and_counts_everything() {
    let t = Instant::now();
    let args = kafka_args(free_port(), "nowhere");
    let o = run_raw(&[OTHER], &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let n = parse_alerts(&o.stdout).len() as u64;
    assert_eq!((counts(&err).0, counts(&err).1), (0, n), "{err}");
}
