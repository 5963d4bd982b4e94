//! The data path for flow records: collector thread (export files or a UDP socket, decoded by
//! [`crate::capture::netflow`]) → bounded channels of record batches, sharded by home host as
//! packets are → workers ([`Worker::process_record`]) → the same alert writer.
//!
//! Flow records and packets are not mixed in one run: an exporter's view of a flow and a
//! sensor's packets of the same flow would count its traffic twice.

use super::{
    LiveCounters, Out, RunError, RunOptions, RunOutcome, SharedVec, WriterResult, send_flows, write_alerts,
};
use crate::alert::Alert;
use crate::alert::sink::{AlertSink, VecSink};
use crate::alert::suppress::Suppressor;
use crate::capture::netflow::FlowRecord;
use crate::capture::netflow::source::{ExportFiles, RecordSource};
use crate::config::Config;
use crate::error::CaptureError;
use crate::flow::HomeNet;
use crate::mirror::MirrorShared;
use crate::stats::{Summary, new_histogram};
use crate::worker::Worker;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Records per batch handed to a worker.
const BATCH: usize = 256;
/// Batches in flight per worker.
const IN_FLIGHT: usize = 8;

/// The worker owning a record: its home-side address, as for packets.
fn shard(r: &FlowRecord, n: usize, home: &HomeNet) -> usize {
    if n <= 1 {
        return 0;
    }
    let key = match (home.contains(&r.src), home.contains(&r.dst)) {
        (true, false) => r.src,
        (false, true) => r.dst,
        _ => r.src.min(r.dst),
    };
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    (h.finish() % n as u64) as usize
}

/// The config the workers of a flow-record run use: flows end `netflow.flow_timeout` after
/// their last record rather than after `flow.idle_timeout` of packet silence.
pub fn record_config(config: &Config) -> Config {
    let mut c = config.clone();
    c.flow.idle_timeout = c.netflow.flow_timeout;
    c
}

/// Runs the detectors over the flow records of `source` until it ends or `opts.stop` is set.
pub fn run_records(
    source: &mut dyn RecordSource,
    config: &Config,
    sink: Box<dyn AlertSink>,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let config = &record_config(config);
    let n = opts.workers.max(1);
    let (alert_tx, alert_rx) = bounded::<Out>(super::ALERT_QUEUE);
    let (log_flows, event_kinds) =
        (opts.flow_events || opts.netflow_events, (opts.flow_events, opts.netflow_events));
    let writer_live = opts.live.clone();
    let home = HomeNet::new(config.general.home_net.clone());
    let mirror = Arc::new(MirrorShared::new(&config.general, Vec::new()));
    let budget = Arc::new(crate::flow::budget::MemoryBudget::new(config.memory.cap.0, n));
    let sink = Mutex::new(Some(sink));
    let across = (n > 1).then(|| Suppressor::new(config.alerts.clone()));
    let (writer_stop, reopen, counters) = (opts.stop.clone(), opts.reopen.clone(), opts.counters.clone());
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            let Some(mut sink) = sink.lock().ok().and_then(|mut s| s.take()) else {
                return WriterResult::default();
            };
            let mut r = write_alerts(
                &mut *sink,
                &alert_rx,
                &writer_stop,
                &reopen,
                &counters,
                across,
                writer_live.as_deref(),
                event_kinds,
            );
            r.sink = Some(sink);
            r
        });
        let mut senders: Vec<Sender<Vec<FlowRecord>>> = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for slot in 0..n {
            let (tx, rx) = bounded::<Vec<FlowRecord>>(IN_FLIGHT);
            senders.push(tx);
            let (alert_tx, counters, mirror, budget) =
                (alert_tx.clone(), opts.counters.clone(), mirror.clone(), budget.clone());
            let live = opts.live.clone();
            handles.push(scope.spawn(move || {
                let mut w = Worker::with_shared(config, mirror, budget, slot);
                if log_flows {
                    w.log_flows();
                }
                work_records(w, rx, alert_tx, &counters, live.as_deref().map(|l| (l, slot)))
            }));
        }
        drop(alert_tx);
        let mut current: Vec<Vec<FlowRecord>> = (0..n).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut read = Vec::with_capacity(BATCH);
        let mut input_error = None;
        let (mut first_ts, mut last_ts) = (None::<crate::time::Timestamp>, crate::time::Timestamp(0));
        loop {
            if opts.stop.load(Ordering::Relaxed) {
                break;
            }
            read.clear();
            let res = source.read(&mut read);
            for r in &read {
                first_ts = Some(first_ts.map_or(r.start, |f| f.min(r.start)));
                last_ts = last_ts.max(r.end);
                let s = shard(r, n, &home);
                if let Some(b) = current.get_mut(s) {
                    b.push(*r);
                    if b.len() >= BATCH
                        && let Some(tx) = senders.get(s)
                    {
                        let _ = tx.send(std::mem::replace(b, Vec::with_capacity(BATCH)));
                    }
                }
            }
            let more = match res {
                Ok(m) => m,
                Err(_) if opts.stop.load(Ordering::Relaxed) => false,
                Err(e) => {
                    input_error = Some(e);
                    false
                }
            };
            // A quiet socket, or the end: hand partial batches over now, for low latency.
            if read.len() < BATCH || !more {
                for (s, b) in current.iter_mut().enumerate() {
                    if !b.is_empty()
                        && let Some(tx) = senders.get(s)
                    {
                        let _ = tx.send(std::mem::replace(b, Vec::with_capacity(BATCH)));
                    }
                }
            }
            if !more {
                break;
            }
        }
        let netflow = source.stats();
        drop(senders);
        let mut summary = Summary::new();
        for h in handles {
            if let Ok((stats, hist)) = h.join() {
                summary.workers.merge(&stats);
                let _ = summary.latency.add(&hist);
            }
        }
        let mut w = writer.join().unwrap_or_default();
        for (det, k) in &w.dropped {
            if let Some(v) = summary.workers.alerts.get_mut(det) {
                *v = v.saturating_sub(*k);
            }
        }
        summary.workers.suppressed.merge(&w.suppressed);
        summary.alerts_written = w.written;
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        summary.capture_span_secs = first_ts.map_or(0.0, |f| last_ts.since(f).as_secs_f64());
        summary.input_error = input_error.as_ref().map(|e| e.to_string());
        summary.netflow = Some(netflow);
        summary.run = crate::run_info::RunInfo {
            first_packet: first_ts.map(|t| t.to_eve()),
            last_packet: first_ts.map(|_| last_ts.to_eve()),
            ..crate::run_info::RunInfo::for_config(config)
        };
        if let Some(e) = w.error {
            return Err(RunError::Output(e));
        }
        Ok(RunOutcome { summary, broken_pipe: w.broken_pipe, input_error, sink: w.sink.take() })
    })
}

fn work_records(
    mut w: Worker,
    rx: Receiver<Vec<FlowRecord>>,
    alerts: Sender<Out>,
    counters: &LiveCounters,
    live: Option<(&crate::metrics::Live, usize)>,
) -> (crate::worker::WorkerStats, hdrhistogram::Histogram<u64>) {
    let hist = new_histogram();
    let tx = alerts.clone();
    let mut emit = |a: Alert| {
        let _ = tx.send(Out::Alert(a));
    };
    let mut published = Instant::now();
    for batch in rx {
        for r in &batch {
            w.process_record(r, &mut emit);
            counters.bytes.fetch_add(r.bytes, Ordering::Relaxed);
        }
        send_flows(&mut w, &alerts);
        counters.packets.fetch_add(batch.len() as u64, Ordering::Relaxed);
        // Once per batch at most, and only every PUBLISH_EVERY.
        if let Some((l, slot)) = live
            && published.elapsed() >= crate::metrics::PUBLISH_EVERY
        {
            w.refresh_stats();
            l.publish_worker(slot, &w.stats, &hist);
            published = Instant::now();
        }
    }
    w.finish(&mut emit);
    send_flows(&mut w, &alerts);
    if let Some((l, slot)) = live {
        l.publish_worker(slot, &w.stats, &hist);
    }
    (w.stats, hist)
}

/// Reads export captures (`--netflow -r`) with `config` and returns the alerts (the test seam).
pub fn run_export_capture(paths: &[PathBuf], config: &Config) -> Result<(Vec<Alert>, Summary), CaptureError> {
    let mut src = ExportFiles::new(paths.to_vec(), &config.netflow)?;
    let shared = Arc::new(Mutex::new(VecSink::default()));
    let out = run_records(&mut src, config, Box::new(SharedVec(shared.clone())), &RunOptions::default())
        .map_err(|e| CaptureError::Read { path: PathBuf::new(), packets: 0, reason: e.to_string() })?;
    let alerts = shared.lock().map(|mut v| std::mem::take(&mut v.alerts)).unwrap_or_default();
    match out.input_error {
        Some(e) => Err(e),
        None => Ok((alerts, out.summary)),
    }
}
