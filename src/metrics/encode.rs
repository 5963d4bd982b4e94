//! A [`Snapshot`] in the Prometheus/OpenMetrics text format, through `prometheus-client`'s
//! encoder (names, escaping, `_total` suffixes and `# EOF` are its business). Names follow
//! Prometheus conventions: a `siphon_` prefix, the unit in the name (`_bytes`, `_seconds`,
//! `_packets`), counters ending in `_total`.

use super::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::fmt::Error;

/// The content type of [`encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency histogram's buckets, seconds (the last is +Inf).
const LATENCY_BUCKETS: [f64; 12] =
    [1e-6, 1e-5, 1e-4, 2.5e-4, 1e-3, 2.5e-3, 0.01, 0.025, 0.1, 0.25, 1.0, 10.0];

type Labels = Vec<(&'static str, String)>;

/// Encodes the snapshot with the build's facts (`version`, `config_digest`).
pub(crate) fn encode(s: &Snapshot, version: &str, config_digest: &str) -> Result<String, Error> {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(Figures {
        s: s.clone(),
        version: version.to_owned(),
        digest: config_digest.to_owned(),
    }));
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &reg)?;
    Ok(out)
}

#[derive(Debug)]
struct Figures {
    s: Snapshot,
    version: String,
    digest: String,
}

/// Writes one metric family: its descriptor, then each labelled value.
fn family<M: EncodeMetric>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    values: impl IntoIterator<Item = (Labels, M)>,
) -> Result<(), Error> {
    let mut m = e.encode_descriptor(name, help, None, kind)?;
    for (labels, v) in values {
        if labels.is_empty() {
            // One unlabelled value: `name 1`, not `name{} 1`.
            return v.encode(m);
        }
        v.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> Result<(), Error> {
    family(e, name, help, MetricType::Counter, [(Labels::new(), ConstCounter::new(v))])
}

fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: f64) -> Result<(), Error> {
    family(e, name, help, MetricType::Gauge, [(Labels::new(), ConstGauge::new(v))])
}

fn counters<'a>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: impl IntoIterator<Item = (Labels, u64)> + 'a,
) -> Result<(), Error> {
    family(e, name, help, MetricType::Counter, v.into_iter().map(|(l, n)| (l, ConstCounter::new(n))))
}

fn gauges<'a>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: impl IntoIterator<Item = (Labels, f64)> + 'a,
) -> Result<(), Error> {
    family(e, name, help, MetricType::Gauge, v.into_iter().map(|(l, n)| (l, ConstGauge::new(n))))
}

fn l1(k: &'static str, v: impl ToString) -> Labels {
    vec![(k, v.to_string())]
}

impl Collector for Figures {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), Error> {
        let s = &self.s;
        let w = &s.workers;
        let e = &mut e;
        family(
            e,
            "siphon_build_info",
            "siphon's version and the digest of its effective configuration (always 1).",
            MetricType::Gauge,
            [(
                vec![("version", self.version.clone()), ("config_digest", self.digest.clone())],
                ConstGauge::new(1),
            )],
        )?;
        gauge(e, "siphon_uptime_seconds", "Seconds since the run started.", s.uptime_secs)?;
        gauge(
            e,
            "siphon_input_done",
            "1 once every input has been read and the figures are final (a capture file's run), else 0.",
            if s.input_done { 1.0 } else { 0.0 },
        )?;
        counter(e, "siphon_packets", "Packets analysed.", s.packets)?;
        counter(e, "siphon_bytes", "Wire bytes of the packets analysed.", s.bytes)?;
        counter(e, "siphon_decoded_packets", "Packets that decoded to IP.", w.decoded)?;
        if let Some(k) = &s.kernel {
            counter(
                e,
                "siphon_capture_received_packets",
                "Packets the kernel delivered (live).",
                k.received,
            )?;
            counters(
                e,
                "siphon_capture_dropped_packets",
                "Packets dropped before siphon saw them (live): kernel buffer full, or the interface.",
                [(l1("stage", "kernel"), k.dropped), (l1("stage", "interface"), k.if_dropped)],
            )?;
        }
        counters(
            e,
            "siphon_decode_anomalies",
            "Malformed or unsupported input, by kind.",
            crate::decode::Anomaly::ALL.iter().map(|a| (l1("kind", a.name()), w.anomalies.get(*a))),
        )?;
        gauge(e, "siphon_flows_active", "Flows open now.", w.flows.active as f64)?;
        counter(e, "siphon_flows_created", "Flows created.", w.flows.created)?;
        counter(e, "siphon_flows_expired", "Flows ended by idle or close timeouts.", w.flows.expired)?;
        counter(
            e,
            "siphon_flows_evicted",
            "Flows evicted because the flow table was full.",
            w.flows.evicted,
        )?;
        counters(
            e,
            "siphon_alerts",
            "Alerts written, by detector and signature.",
            s.alerts.iter().map(|((det, sid), (sig, n))| {
                (
                    vec![
                        ("detector", det.to_string()),
                        ("signature_id", sid.to_string()),
                        ("signature", sig.clone()),
                    ],
                    *n,
                )
            }),
        )?;
        counters(
            e,
            "siphon_alerts_suppressed",
            "Alerts not written: repeats inside an episode, or over the per-detector rate limit.",
            [
                (l1("reason", "repeat"), w.suppressed.repeats),
                (l1("reason", "rate_limit"), w.suppressed.rate_limited),
            ],
        )?;
        let dets = || w.detectors.iter();
        gauges(
            e,
            "siphon_detector_tracked_keys",
            "Keys (hosts, groups, pairs) each detector tracks now.",
            dets().map(|(d, v)| (l1("detector", d), v.tracked as f64)),
        )?;
        counters(
            e,
            "siphon_detector_evicted_keys",
            "Keys evicted because a detector's table hit its cap.",
            dets().map(|(d, v)| (l1("detector", d), v.evicted)),
        )?;
        counters(
            e,
            "siphon_detector_shed_keys",
            "Keys shed because the run was over memory.cap.",
            dets().map(|(d, v)| (l1("detector", d), v.shed)),
        )?;
        let tables = [("flows", w.flows.memory), ("defrag", w.defrag.memory)]
            .into_iter()
            .map(|(t, m)| (l1("table", t), m as f64))
            .chain(dets().map(|(d, v)| (l1("table", d), v.memory as f64)));
        gauges(e, "siphon_memory_held_bytes", "Bytes each table holds (by capacity), all workers.", tables)?;
        gauge(
            e,
            "siphon_memory_cap_bytes",
            "memory.cap: the bytes all tables may hold together.",
            w.memory.cap as f64,
        )?;
        gauge(
            e,
            "siphon_memory_peak_bytes",
            "Most bytes held at a tick, all workers.",
            w.memory.peak as f64,
        )?;
        counter(
            e,
            "siphon_memory_emergencies",
            "Ticks at which state was shed over memory.cap.",
            w.memory.emergencies,
        )?;
        let outs = || s.outputs.iter();
        gauges(
            e,
            "siphon_output_queue_depth",
            "Events waiting in each network output's queue.",
            outs().map(|(n, d, _)| (l1("output", n), *d as f64)),
        )?;
        counters(
            e,
            "siphon_output_sent",
            "Events handed to each network output's server.",
            outs().map(|(n, _, o)| (l1("output", n), o.sent)),
        )?;
        counters(
            e,
            "siphon_output_dropped",
            "Events each network output lost: queue full, failed write, or left at exit.",
            outs().map(|(n, _, o)| (l1("output", n), o.dropped)),
        )?;
        counters(
            e,
            "siphon_output_reconnects",
            "Connection attempts after a failure, per network output.",
            outs().map(|(n, _, o)| (l1("output", n), o.reconnects)),
        )?;
        self.latency(e)
    }
}

impl Figures {
    /// The capture-to-verdict latency per packet: a histogram (aggregatable across sensors)
    /// and the quantiles siphon measures exactly.
    fn latency(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
        let h = &self.s.latency;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len() + 1);
        let mut below = 0u64;
        for b in LATENCY_BUCKETS {
            let upto = if h.is_empty() { 0 } else { h.count_between(0, (b * 1e9) as u64) };
            buckets.push((b, upto.saturating_sub(below)));
            below = below.max(upto);
        }
        buckets.push((f64::MAX, h.len().saturating_sub(below)));
        let sum = h.mean() * h.len() as f64 / 1e9;
        let mut m = e.encode_descriptor(
            "siphon_packet_latency_seconds",
            "Capture-to-verdict latency per packet (measured per batch).",
            None,
            MetricType::Histogram,
        )?;
        m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, h.len(), &buckets, None)?;
        let q = [(0.5, "0.5"), (0.99, "0.99"), (0.999, "0.999"), (1.0, "1")];
        gauges(
            e,
            "siphon_packet_latency_quantile_seconds",
            "Capture-to-verdict latency per packet at these quantiles, over the whole run.",
            q.iter().map(|(x, l)| (l1("quantile", l), h.value_at_quantile(*x) as f64 / 1e9)),
        )
    }
}
