//! Prometheus metrics (`--metrics-listen ADDR`): the run's counters served at `/metrics` while
//! siphon runs, for a monitoring system to scrape from every sensor of a fleet.
//!
//! Nothing is counted twice: the figures are the ones the summary and the EVE `stats` event
//! print. Each worker publishes a copy of its counters ([`crate::worker::WorkerStats`]) and its
//! latency histogram at most every [`PUBLISH_EVERY`] (wall time, per batch: never per packet)
//! and once more when it finishes; the alert writer counts what it wrote per signature; the
//! output queues are read at scrape time. A scrape merges the latest copies
//! ([`Live::snapshot`]) and encodes them ([`encode`]).

pub(crate) mod encode;
pub(crate) mod server;

use crate::alert::output::OutputQueue;
use crate::capture::CaptureStats;
use crate::pipeline::LiveCounters;
use crate::stats::new_histogram;
use crate::worker::WorkerStats;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a worker copies its counters out (wall time). A scrape sees figures at most this
/// old; shorter costs a few more copies of small maps.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// Alerts written, per (detector, signature id): the signature's text and the count.
pub(crate) type AlertCounts = BTreeMap<(&'static str, u32), (String, u64)>;

/// What one worker published last: its counters and latency histogram.
type Published = Option<(WorkerStats, Histogram<u64>)>;

/// What the run shares with the metrics endpoint.
pub struct Live {
    /// Packets, bytes, kernel counters, updated by the pipeline as it goes.
    pub counters: Arc<LiveCounters>,
    workers: Mutex<Vec<Published>>,
    alerts: Mutex<AlertCounts>,
    outputs: Mutex<Vec<Arc<OutputQueue>>>,
    kernel: Mutex<Option<CaptureStats>>,
    started: Instant,
    input_done: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The merged figures one scrape encodes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Packets seen by the capture (counted as the workers take them).
    pub packets: u64,
    /// Wire bytes.
    pub bytes: u64,
    /// Every worker's counters, merged.
    pub workers: WorkerStats,
    /// Per-packet latency, every worker's.
    pub latency: Histogram<u64>,
    /// Alerts written per signature.
    pub alerts: AlertCounts,
    /// Kernel counters (live capture).
    pub kernel: Option<CaptureStats>,
    /// Each output's name, queue depth and counters.
    pub outputs: Vec<(&'static str, usize, crate::alert::output::OutputStats)>,
    /// Seconds since the run started.
    pub uptime_secs: f64,
    /// Every input has been read and the figures are final.
    pub input_done: bool,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("counters", &self.counters).finish_non_exhaustive()
    }
}

impl Live {
    /// Shares `counters` (the pipeline's own).
    pub fn new(counters: Arc<LiveCounters>) -> Live {
        Live {
            counters,
            workers: Mutex::new(Vec::new()),
            alerts: Mutex::new(BTreeMap::new()),
            outputs: Mutex::new(Vec::new()),
            kernel: Mutex::new(None),
            started: Instant::now(),
            input_done: AtomicBool::new(false),
        }
    }

    /// The network outputs whose queues are read at each scrape.
    pub fn set_outputs(&self, q: Vec<Arc<OutputQueue>>) {
        *lock(&self.outputs) = q;
    }

    /// Worker `slot`'s counters and latency so far (replacing what it published before).
    pub fn publish_worker(&self, slot: usize, stats: &WorkerStats, latency: &Histogram<u64>) {
        let mut w = lock(&self.workers);
        if w.len() <= slot {
            w.resize_with(slot + 1, || None);
        }
        w[slot] = Some((stats.clone(), latency.clone()));
    }

    /// One alert written by the writer.
    pub fn alert_written(&self, detector: &'static str, sid: u32, signature: &str) {
        let mut a = lock(&self.alerts);
        a.entry((detector, sid)).or_insert_with(|| (signature.to_owned(), 0)).1 += 1;
    }

    /// The kernel's counters (live capture), as the capture thread last read them.
    pub fn set_kernel(&self, k: CaptureStats) {
        *lock(&self.kernel) = Some(k);
    }

    /// Every input has been read, the workers have finished and the outputs are closed: the
    /// figures a scrape sees from now on are the run's final ones.
    pub fn set_input_done(&self) {
        self.input_done.store(true, Ordering::Release);
    }

    /// The figures now.
    pub fn snapshot(&self) -> Snapshot {
        let mut workers = WorkerStats::default();
        let mut latency = new_histogram();
        for (s, h) in lock(&self.workers).iter().flatten() {
            workers.merge(s);
            let _ = latency.add(h);
        }
        let outputs = lock(&self.outputs).iter().map(|q| (q.name(), q.depth(), q.stats())).collect();
        // Read first: once it is set, every figure below is final.
        let input_done = self.input_done.load(Ordering::Acquire);
        Snapshot {
            input_done,
            packets: self.counters.packets.load(Ordering::Relaxed),
            bytes: self.counters.bytes.load(Ordering::Relaxed),
            workers,
            latency,
            alerts: lock(&self.alerts).clone(),
            kernel: *lock(&self.kernel),
            outputs,
            uptime_secs: self.started.elapsed().as_secs_f64(),
        }
    }
}
