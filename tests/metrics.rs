//! `--metrics-listen`: the run's counters at `/metrics`, scraped by a real `prometheus` started
//! here on a free loopback port and read back through its HTTP API, and the text itself.

mod common;

use common::servers::{Prometheus, http_get};
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const CAPTURE: &str = "proxy_dns_names.pcap";

/// Starts `siphon -r CAPTURE --metrics-listen 127.0.0.1:0 --metrics-linger 60s ARGS`, and
/// returns it with the port it serves on (read from its stderr) and the rest of stderr's lines.
fn lingering_siphon(args: &[&str]) -> (Child, u16, std::sync::mpsc::Receiver<String>) {
    let mut child = siphon()
        .arg("-r")
        .arg(pcap(CAPTURE))
        .args(["--metrics-listen", "127.0.0.1:0", "--metrics-linger", "60s", "-o", "/dev/null"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let t = Instant::now();
    let port = loop {
        let l = rx.recv_timeout(Duration::from_secs(10)).expect("siphon says where metrics are");
        if let Some(rest) = l.strip_prefix("siphon: metrics at http://") {
            break rest.trim_end_matches("/metrics").rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
        assert!(t.elapsed() < Duration::from_secs(10));
    };
    (child, port, rx)
}

/// SIGTERM, then the exit status and how long it took.
fn stop(mut child: Child) -> (std::process::ExitStatus, Duration) {
    let t = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let s = child.wait().unwrap();
    (s, t.elapsed())
}

/// The value of metric line `name` (exact, with labels) in the text.
fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

#[test]
fn metrics_text_has_the_runs_figures_in_prometheus_names() {
    let (child, port, _err) = lingering_siphon(&[]);
    // The figures are final once siphon says every input is read; poll until then.
    let t = Instant::now();
    let text = loop {
        let body = http_get(port, "/metrics").expect("/metrics answers");
        if value(&body, "siphon_input_done") == Some(1.0) {
            break body;
        }
        assert_eq!(value(&body, "siphon_input_done"), Some(0.0), "{body}");
        assert!(t.elapsed() < Duration::from_secs(20), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(value(&text, "siphon_packets_total"), Some(50.0), "{text}");
    assert_eq!(
        value(
            &text,
            "siphon_alerts_total{detector=\"proxyware\",signature_id=\"9100300\",signature=\"SIPHON Proxyware: host looks up or contacts a bandwidth-sharing (proxyware) service\"}",
        ),
        Some(9.0),
        "{text}"
    );
    assert_eq!(value(&text, "siphon_flows_active"), Some(0.0), "{text}");
    assert!(value(&text, "siphon_bytes_total").is_some_and(|b| b > 3000.0), "{text}");
    for l in [
        "# TYPE siphon_packets counter",
        "# TYPE siphon_flows_active gauge",
        "# TYPE siphon_packet_latency_seconds histogram",
        "siphon_packet_latency_seconds_bucket{le=\"+Inf\"} 50",
        "siphon_decode_anomalies_total{kind=\"not_ip\"} ",
        "siphon_alerts_suppressed_total{reason=\"repeat\"} ",
        "siphon_memory_held_bytes{table=\"flows\"} ",
        "siphon_detector_tracked_keys{detector=\"dns_tunnel\"} ",
        "siphon_packet_latency_quantile_seconds{quantile=\"0.99\"} ",
        "siphon_build_info{version=\"",
        "# EOF",
    ] {
        assert!(text.contains(l), "missing {l:?} in:\n{text}");
    }
    assert!(value(&text, "siphon_flows_created_total").is_some_and(|n| n >= 1.0), "{text}");
    assert!(http_get(port, "/").is_some_and(|b| b.contains("/metrics")));
    let (s, took) = stop(child);
    assert!(s.success() && took < Duration::from_secs(2), "{s:?} {took:?}");
}

#[test]
fn prometheus_scrapes_siphon_and_answers_queries_about_it() {
    let (child, port, _err) = lingering_siphon(&[]);
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(dir.path(), &[format!("127.0.0.1:{port}")]);
    let t = Instant::now();
    let scalar = |q: &str| -> Option<f64> {
        let v = prom.query(q);
        let r = v["data"]["result"].as_array()?.first()?.clone();
        r["value"][1].as_str()?.parse().ok()
    };
    // Prometheus's latest sample of each series: final once it has scraped `siphon_input_done 1`.
    let packets = loop {
        if scalar("siphon_input_done") == Some(1.0)
            && let Some(p) = scalar("siphon_packets_total")
        {
            break p;
        }
        assert!(t.elapsed() < Duration::from_secs(45), "no final scrape in prometheus");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(packets, 50.0);
    let alerts = scalar("sum(siphon_alerts_total{detector=\"proxyware\"})");
    assert_eq!(alerts, Some(9.0));
    let v = prom.query("siphon_alerts_total");
    let labels = &v["data"]["result"][0]["metric"];
    assert_eq!(
        (labels["signature_id"].as_str(), labels["job"].as_str()),
        (Some("9100300"), Some("siphon")),
        "{v}"
    );
    assert_eq!(scalar("up{job=\"siphon\"}"), Some(1.0));
    let (s, took) = stop(child);
    assert!(s.success() && took < Duration::from_secs(2), "{s:?} {took:?}");
}

#[test]
fn metrics_flags_are_checked() {
    let o = siphon().arg("-r").arg(pcap(CAPTURE)).args(["--metrics-linger", "5s"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs --metrics-listen"));
    let o = siphon().arg("-r").arg(pcap(CAPTURE)).args(["--metrics-listen", "256.0.0.1:1"]).output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("metrics"), "{}", String::from_utf8_lossy(&o.stderr));
}
