//! The run summary: counters from capture, decode, flows, detectors and output, with
//! per-packet latency percentiles. Printed on stderr; also an EVE `stats` event.

use crate::capture::CaptureStats;
use crate::run_info::RunInfo;
use crate::worker::WorkerStats;
use hdrhistogram::Histogram;
use serde_json::json;

/// Everything a run counted.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Merged worker counters.
    pub workers: WorkerStats,
    /// Kernel counters (live).
    pub capture: Option<CaptureStats>,
    /// Alerts written to the output.
    pub alerts_written: u64,
    /// Wall-clock seconds the run took.
    pub elapsed_secs: f64,
    /// Capture-to-verdict latency per packet, nanoseconds (measured per batch).
    pub latency: Histogram<u64>,
    /// Packet time span covered, seconds.
    pub capture_span_secs: f64,
    /// The input ended early with an error (a truncated file): what it said.
    pub input_error: Option<String>,
    /// Network outputs (syslog): what each sent, dropped and how often it reconnected.
    pub outputs: Vec<(&'static str, crate::alert::output::OutputStats)>,
    /// What the run covered (inputs, capture span, traffic over time, version, config digest).
    pub run: RunInfo,
    /// Warnings about the input: capture files out of time order or overlapping.
    pub input_warnings: Vec<String>,
    /// The flow-record collector's counters (`--netflow` runs only).
    pub netflow: Option<crate::capture::netflow::NetflowStats>,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Summary {
        Summary {
            workers: WorkerStats::default(),
            capture: None,
            alerts_written: 0,
            elapsed_secs: 0.0,
            latency: new_histogram(),
            capture_span_secs: 0.0,
            input_error: None,
            outputs: Vec::new(),
            run: RunInfo::default(),
            input_warnings: Vec::new(),
            netflow: None,
        }
    }

    /// Packets per second over the wall-clock run.
    pub fn pps(&self) -> f64 {
        if self.elapsed_secs > 0.0 { self.workers.packets as f64 / self.elapsed_secs } else { 0.0 }
    }

    /// Gbit/s of wire bytes over the wall-clock run.
    pub fn gbps(&self) -> f64 {
        if self.elapsed_secs > 0.0 { self.workers.bytes as f64 * 8.0 / self.elapsed_secs / 1e9 } else { 0.0 }
    }

    /// The figures as JSON (the `siphon` part of the stats event).
    pub fn to_json(&self) -> serde_json::Value {
        let l = &self.latency;
        json!({
            "packets": self.workers.packets,
            "bytes": self.workers.bytes,
            "decoded": self.workers.decoded,
            "anomalies": self.workers.anomalies,
            "capture": self.capture,
            "flows": self.workers.flows,
            "alerts": self.workers.alerts,
            "alerts_written": self.alerts_written,
            "suppressed": self.workers.suppressed,
            "detectors": self.workers.detectors,
            "tls_reassembly_refused": self.workers.tls_reassembly_refused,
            "defrag": self.workers.defrag,
            "memory": self.workers.memory,
            "mirror": self.workers.mirror,
            "elapsed_secs": self.elapsed_secs,
            "packets_per_sec": self.pps().round(),
            "gbit_per_sec": (self.gbps() * 1000.0).round() / 1000.0,
            "outputs": self.outputs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "input_error": self.input_error,
            "input_warnings": self.input_warnings,
            "netflow": self.netflow,
            "run": self.run,
            "latency_ns": {
                "p50": l.value_at_quantile(0.5),
                "p99": l.value_at_quantile(0.99),
                "p99_9": l.value_at_quantile(0.999),
                "max": l.max(),
            },
        })
    }

    /// An EVE `stats` event.
    pub fn to_eve(&self, timestamp: &str) -> serde_json::Value {
        json!({
            "timestamp": timestamp,
            "event_type": "stats",
            "stats": {
                "uptime": self.elapsed_secs.round() as u64,
                "decoder": { "pkts": self.workers.packets, "bytes": self.workers.bytes },
            },
            "siphon": self.to_json(),
        })
    }

    /// Human-readable lines for stderr.
    pub fn to_text(&self) -> String {
        let w = &self.workers;
        let mut s = format!(
            "siphon: {} packets, {} bytes, {} decoded in {:.2}s ({:.0} pkt/s, {:.3} Gbit/s)\n",
            w.packets,
            w.bytes,
            w.decoded,
            self.elapsed_secs,
            self.pps(),
            self.gbps()
        );
        if let Some(n) = &self.netflow {
            s += &format!(
                "siphon: netflow: {} export packets, records {:?}, {} templates, {} waiting for a template ({} replayed, {} dropped), {} exporters, sequence gaps {:?}, malformed {:?}, {} unusable records\n",
                n.packets,
                n.records,
                n.templates,
                n.pending,
                n.replayed,
                n.pending_dropped,
                n.exporters,
                n.sequence_gaps,
                n.malformed,
                n.records_unusable
            );
        }
        if let Some(c) = &self.capture {
            s += &format!(
                "siphon: kernel: {} received, {} dropped, {} dropped by interface\n",
                c.received, c.dropped, c.if_dropped
            );
        }
        let anomalies: Vec<String> = crate::decode::Anomaly::ALL
            .iter()
            .filter(|a| w.anomalies.get(**a) > 0)
            .map(|a| format!("{}={}", a.name(), w.anomalies.get(*a)))
            .collect();
        s += &format!(
            "siphon: anomalies: {}\n",
            if anomalies.is_empty() { "none".to_owned() } else { anomalies.join(" ") }
        );
        s += &format!(
            "siphon: flows: {} created, {} expired, {} evicted, {} active\n",
            w.flows.created, w.flows.expired, w.flows.evicted, w.flows.active
        );
        let f = &w.defrag;
        if f.fragments > 0 {
            s += &format!(
                "siphon: fragments: {} in, {} reassembled, {} timed out, {} evicted, {} invalid, {} discarded (too many); peak {} KiB held\n",
                f.fragments,
                f.reassembled,
                f.timed_out,
                f.evicted,
                f.invalid,
                f.discarded,
                f.memory_peak / 1024
            );
        }
        let m = &w.mirror;
        if m.decapsulated > 0 || m.transport > 0 {
            s += &format!(
                "siphon: mirror: {} decapsulated, {} mirror_transport (configured={} icmp_error={} keepalive={} undecapsulated={}), {} pairs learned\n",
                m.decapsulated,
                m.transport,
                m.transport_configured,
                m.transport_icmp_error,
                m.transport_keepalive,
                m.transport_undecapsulated,
                m.pairs_learned
            );
        }
        let per: Vec<String> = w.alerts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s += &format!(
            "siphon: alerts: {} written ({}); suppressed: {} repeats, {} rate-limited\n",
            self.alerts_written,
            if per.is_empty() { "none".to_owned() } else { per.join(" ") },
            w.suppressed.repeats,
            w.suppressed.rate_limited
        );
        let evicted: Vec<String> = w
            .detectors
            .iter()
            .map(|(k, v)| format!("{k}={}/{}/{}/{}KiB", v.tracked, v.evicted, v.shed, v.memory / 1024))
            .collect();
        if !evicted.is_empty() {
            s += &format!("siphon: detector state tracked/evicted/shed/held: {}\n", evicted.join(" "));
        }
        for (name, o) in &self.outputs {
            s += &format!(
                "siphon: outputs.{name}: {} sent, {} dropped, {} reconnects\n",
                o.sent, o.dropped, o.reconnects
            );
        }
        let m = &w.memory;
        s += &format!(
            "siphon: memory: {} KiB held at the end, peak {} KiB (sum over workers) of memory.cap {} KiB; {} emergencies shed {} entries\n",
            m.held / 1024,
            m.peak / 1024,
            m.cap / 1024,
            m.emergencies,
            m.shed
        );
        let l = &self.latency;
        s += &format!(
            "siphon: latency per packet: p50={}us p99={}us p99.9={}us max={}us\n",
            l.value_at_quantile(0.5) / 1000,
            l.value_at_quantile(0.99) / 1000,
            l.value_at_quantile(0.999) / 1000,
            l.max() / 1000
        );
        s
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary::new()
    }
}

/// A latency histogram: 1 ns to 60 s, 2 significant digits (a percentile within 1 %). Three
/// digits took 221 KB of counters each, zeroed at start (one a worker and one for the run):
/// 160 page faults before the first packet, for a precision no reader of `p99=1290us` needs.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 2)
        .unwrap_or_else(|_| Histogram::new(2).unwrap_or_else(|_| unreachable!()))
}
