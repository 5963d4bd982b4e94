//! What the three run loops share — [`super::run`] (packets through a capture thread),
//! [`super::run_fanout`] (one socket a worker) and [`super::run_records`] (flow records): the
//! alert writer thread, each worker's setup and its hand-over of alerts, flow events, live
//! counters and `/metrics` figures, and the end-of-run summary. The loops differ only in how
//! input reaches the workers.

use super::writer::{Out, WriterResult, write_alerts};
use super::{ALERT_QUEUE, LiveCounters, RunError, RunOptions, RunOutcome};
use crate::alert::Alert;
use crate::alert::sink::{AlertSink, VecSink};
use crate::alert::suppress::Suppressor;
use crate::config::Config;
use crate::error::{CaptureError, OutputError};
use crate::flow::budget::MemoryBudget;
use crate::mirror::MirrorShared;
use crate::run_info::{RunInfo, TrafficRun, TrafficSeries};
use crate::stats::{Summary, new_histogram};
use crate::time::Timestamp;
use crate::worker::{Worker, WorkerStats};
use crossbeam_channel::{Sender, bounded};
use hdrhistogram::Histogram;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;

/// A run's shared parts, made before its threads start.
pub(super) struct Run<'a> {
    config: &'a Config,
    opts: &'a RunOptions,
    workers: usize,
    mirror: Arc<MirrorShared>,
    budget: Arc<MemoryBudget>,
    started: Instant,
}

impl<'a> Run<'a> {
    /// A run of `workers` workers; `local_addrs` are the capture interface's own addresses
    /// (for the mirror filter; none for files and flow records).
    pub(super) fn new(
        config: &'a Config,
        opts: &'a RunOptions,
        workers: usize,
        local_addrs: Vec<IpAddr>,
    ) -> Self {
        Run {
            config,
            opts,
            workers,
            mirror: Arc::new(MirrorShared::new(&config.general, local_addrs)),
            budget: Arc::new(MemoryBudget::new(config.memory.cap.0, workers)),
            started: Instant::now(),
        }
    }

    /// Starts the alert writer on `scope`, owning `sink`. Returns the channel the workers send
    /// to (give each a clone, then drop it: the writer ends when every sender is gone) and the
    /// writer's handle for [`Run::finish`].
    pub(super) fn spawn_writer<'scope>(
        &self,
        scope: &'scope Scope<'scope, '_>,
        mut sink: Box<dyn AlertSink>,
    ) -> (Sender<Out>, ScopedJoinHandle<'scope, WriterResult>) {
        let (tx, rx) = bounded::<Out>(ALERT_QUEUE);
        // Each worker suppresses its own repeats. With several workers, an alert whose subject
        // is not the home host packets are sharded by (an outside scanner probing many home
        // hosts) can be raised by each of them: the writer suppresses once more across workers.
        let across = (self.workers > 1).then(|| Suppressor::new(self.config.alerts.clone()));
        let o = self.opts;
        let (stop, reopen, counters, live) =
            (o.stop.clone(), o.reopen.clone(), o.counters.clone(), o.live.clone());
        let kinds = (o.flow_events, o.netflow_events);
        let writer = scope.spawn(move || {
            let mut r =
                write_alerts(&mut *sink, &rx, &stop, &reopen, &counters, across, live.as_deref(), kinds);
            r.sink = Some(sink);
            r
        });
        (tx, writer)
    }

    /// The worker of `slot`, sharing the run's mirror pairs and memory budget, keeping its
    /// ended flows when flow or netflow events are asked for; and its link to the writer.
    pub(super) fn worker(&self, slot: usize, alerts: Sender<Out>) -> (Worker, WorkerLink<'a>) {
        // (Called first on the worker's own thread.)
        if self.config.capture.pin_workers
            && let Some(cpu) = super::affinity::cpu_for(slot, self.workers, &super::affinity::allowed_cpus())
        {
            let _ = super::affinity::pin_current_thread(cpu);
        }
        let mut w = Worker::with_shared(self.config, self.mirror.clone(), self.budget.clone(), slot);
        if self.opts.flow_events || self.opts.netflow_events {
            w.log_flows();
        }
        let o = self.opts;
        let link = WorkerLink {
            alerts,
            counters: &o.counters,
            live: o.live.as_deref(),
            slot,
            published: Instant::now(),
            hist: new_histogram(),
        };
        (w, link)
    }

    /// Ends the run once every worker is done: waits for the writer and takes its counts, the
    /// run's timing and the capture's span into `summary`. An output failure is the run's error.
    pub(super) fn finish(
        &self,
        writer: ScopedJoinHandle<'_, WriterResult>,
        mut summary: Summary,
        mut seen: Seen,
        input_error: Option<CaptureError>,
    ) -> Result<RunOutcome, RunError> {
        seen.run.flush(&mut seen.traffic);
        let mut w = writer.join().unwrap_or_default();
        for (det, k) in &w.dropped {
            if let Some(v) = summary.workers.alerts.get_mut(det) {
                *v = v.saturating_sub(*k);
            }
        }
        summary.workers.suppressed.merge(&w.suppressed);
        summary.alerts_written = w.written;
        summary.elapsed_secs = self.started.elapsed().as_secs_f64();
        summary.capture_span_secs = seen.first.map_or(0.0, |f| seen.last.since(f).as_secs_f64());
        summary.input_error = input_error.as_ref().map(|e| e.to_string());
        summary.run = RunInfo {
            first_packet: seen.first.map(|t| t.to_eve()),
            last_packet: seen.first.map(|_| seen.last.to_eve()),
            traffic: seen.traffic,
            ..RunInfo::for_config(self.config)
        };
        if let Some(e) = w.error {
            return Err(RunError::Output(e));
        }
        Ok(RunOutcome { summary, broken_pipe: w.broken_pipe, input_error, sink: w.sink.take() })
    }
}

/// A worker thread's link to the alert writer, the live counters and `/metrics`.
pub(super) struct WorkerLink<'a> {
    alerts: Sender<Out>,
    counters: &'a LiveCounters,
    live: Option<&'a crate::metrics::Live>,
    slot: usize,
    published: Instant,
    /// Batch latency per packet, capture thread to worker (ns).
    pub(super) hist: Histogram<u64>,
}

impl WorkerLink<'_> {
    /// Hands each admitted alert to the writer.
    pub(super) fn emitter(&self) -> impl FnMut(Alert) + use<> {
        let tx = self.alerts.clone();
        move |a| {
            let _ = tx.send(Out::Alert(Box::new(a)));
        }
    }

    /// After a batch of `packets` (or records) of `bytes`: the worker's ended flows to the
    /// writer, the live counters, and the worker's figures to `/metrics` at most every
    /// [`crate::metrics::PUBLISH_EVERY`] (once per batch at most: never per packet).
    pub(super) fn after_batch(&mut self, w: &mut Worker, packets: u64, bytes: u64) {
        self.send_flows(w);
        self.counters.packets.fetch_add(packets, Ordering::Relaxed);
        self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(l) = self.live
            && self.published.elapsed() >= crate::metrics::PUBLISH_EVERY
        {
            w.refresh_stats();
            l.publish_worker(self.slot, &w.stats, &self.hist);
            self.published = Instant::now();
        }
    }

    /// Ends the worker: its last alerts and flows to the writer, its final figures published.
    pub(super) fn finish(self, mut w: Worker) -> (WorkerStats, Histogram<u64>) {
        w.finish(&mut self.emitter());
        self.send_flows(&mut w);
        if let Some(l) = self.live {
            l.publish_worker(self.slot, &w.stats, &self.hist);
        }
        (w.stats, self.hist)
    }

    /// Hands the worker's ended flows to the writer.
    fn send_flows(&self, w: &mut Worker) {
        if let Some(log) = w.flow_log.as_mut() {
            for r in log.drain(..) {
                let _ = self.alerts.send(Out::Flow(Box::new(r)));
            }
        }
    }
}

/// Adds a worker's counters and batch latency to the summary.
pub(super) fn merge_worker(summary: &mut Summary, (stats, hist): &(WorkerStats, Histogram<u64>)) {
    summary.workers.merge(stats);
    let _ = summary.latency.add(hist);
}

/// The capture's time span and traffic series as the run saw them.
#[derive(Default)]
pub(super) struct Seen {
    first: Option<Timestamp>,
    last: Timestamp,
    traffic: TrafficSeries,
    /// The current second's packets, added to `traffic` once per second of capture time.
    run: TrafficRun,
}

impl Seen {
    /// A packet at `ts` of `wire_len` bytes.
    #[inline]
    pub(super) fn packet(&mut self, ts: Timestamp, wire_len: u32) {
        self.span(ts, ts);
        self.run.add(&mut self.traffic, ts, wire_len);
    }

    /// Something from `start` to `end` (a flow record; no traffic series is kept for those).
    #[inline]
    pub(super) fn span(&mut self, start: Timestamp, end: Timestamp) {
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        self.last = self.last.max(end);
    }
}

/// A sink that hands its alerts back after the run.
struct SharedVec(Arc<Mutex<VecSink>>);

impl AlertSink for SharedVec {
    fn write(&mut self, a: &Alert) -> Result<(), OutputError> {
        if let Ok(mut v) = self.0.lock() {
            v.alerts.push(a.clone());
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Runs `run` into a sink that collects the alerts, and returns them with the summary (the
/// test seams [`super::run_capture`] and [`super::run_export_capture`]).
pub(super) fn collect(
    run: impl FnOnce(Box<dyn AlertSink>) -> Result<RunOutcome, RunError>,
) -> Result<(Vec<Alert>, Summary), CaptureError> {
    let shared = Arc::new(Mutex::new(VecSink::default()));
    let out = run(Box::new(SharedVec(shared.clone()))).map_err(|e| CaptureError::Read {
        path: PathBuf::new(),
        packets: 0,
        reason: e.to_string(),
    })?;
    let alerts = shared.lock().map(|mut v| std::mem::take(&mut v.alerts)).unwrap_or_default();
    match out.input_error {
        Some(e) => Err(e),
        None => Ok((alerts, out.summary)),
    }
}
