//! `--format text`: one line per alert, as Suricata's fast.log, for a person reading a terminal
//! or a ticket: time, `[gid:sid:rev]`, signature, classification, priority, protocol,
//! source → destination, then the two to four figures that matter for that detector.

use super::Alert;
use super::sink::AlertSink;
use crate::error::OutputError;
use serde_json::Value;
use std::io::Write;

/// The figures each detector's line shows (the rest stay in EVE's evidence).
const KEY_FIGURES: &[(&str, &[&str])] = &[
    ("dns_tunnel", &["domain", "queries", "distinct_subdomains", "longest_label"]),
    ("icmp_tunnel", &["tunnel_tool", "echo_requests", "payload_bytes_out", "max_payload_len"]),
    ("scan", &["technique", "tool", "probes", "failed_probes"]),
    ("proxyware", &["service", "name", "source"]),
    ("egress_volume", &["window", "bytes_out", "threshold_bytes"]),
    ("long_session", &["duration_secs", "bytes_out", "rate_bytes_per_sec"]),
    ("alt_protocol", &["seen_protocol", "expected_protocol", "method", "bytes"]),
];

/// The fast.log line of `a` (without the newline).
pub(crate) fn fast_line(a: &Alert) -> String {
    let time = chrono::DateTime::from_timestamp(
        i64::try_from(a.ts.secs()).unwrap_or(0),
        (a.ts.0 % crate::time::NANOS_PER_SEC) as u32,
    )
    .map(|t| t.format("%m/%d/%Y-%H:%M:%S%.6f").to_string())
    .unwrap_or_default();
    let ep = |ip: &std::net::IpAddr, port: Option<u16>| match (ip, port) {
        (std::net::IpAddr::V6(v6), Some(p)) => format!("[{v6}]:{p}"),
        (ip, Some(p)) => format!("{ip}:{p}"),
        (ip, None) => ip.to_string(),
    };
    let mut s = format!(
        "{time}  [**] [{}:{}:{}] {} [**] [Classification: {}] [Priority: {}] {{{}}} {} -> {}",
        a.alert.gid,
        a.alert.signature_id,
        a.alert.rev,
        a.alert.signature,
        a.alert.category,
        a.alert.severity,
        a.proto,
        ep(&a.src_ip, a.src_port),
        ep(&a.dest_ip, a.dest_port),
    );
    let keys = KEY_FIGURES.iter().find(|(d, _)| *d == a.siphon.detector).map_or(&[][..], |(_, k)| *k);
    let mut shown = 0;
    for k in keys {
        if let Some(v) = a.siphon.evidence.get(*k).filter(|v| !v.is_null()) {
            s += &format!(" {k}={}", plain(v));
            shown += 1;
        }
    }
    if shown == 0 {
        s += &format!(" score={}", a.siphon.score);
    }
    if let Some(e) = &a.siphon.escalation {
        s += &format!(" escalated={}->{}", e.previous, e.current);
    }
    s
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().any(char::is_whitespace) => format!("\"{s}\""),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// fast.log lines on any writer.
pub struct TextLines<W: Write + Send> {
    out: std::io::BufWriter<W>,
}

impl<W: Write + Send> TextLines<W> {
    /// Wraps a writer.
    pub fn new(w: W) -> Self {
        TextLines { out: std::io::BufWriter::with_capacity(64 * 1024, w) }
    }
}

impl<W: Write + Send> AlertSink for TextLines<W> {
    fn write(&mut self, alert: &Alert) -> Result<(), OutputError> {
        writeln!(self.out, "{}", fast_line(alert))?;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        Ok(())
    }
}
