//! The data path's threads: capture → (bounded channels of recycled batches, sharded by home
//! host) → workers → (bounded channel) → alert writer.
//!
//! Back-pressure everywhere, never an unbounded queue: offline reading never drops; a live
//! capture that falls behind drops in the kernel, and `pcap_stats` reports it.

use crate::alert::Alert;
use crate::alert::sink::{AlertSink, VecSink};
use crate::alert::suppress::Suppressor;
use crate::capture::file::FileSource;
use crate::capture::{Batch, PacketSource, RawPacket};
use crate::config::Config;
use crate::decode::{self, Anomalies};
use crate::error::{CaptureError, OutputError};
use crate::flow::HomeNet;
use crate::mirror::MirrorShared;
use crate::stats::{Summary, new_histogram};
use crate::worker::{Worker, decode_options};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use writer::{Out, WriterResult, write_alerts};

mod fanout;
pub use fanout::run_fanout;
pub mod records;
pub use records::{run_export_capture, run_records};

/// Batches in flight per worker.
const BATCHES_PER_WORKER: usize = 8;
/// Alerts in flight to the writer (a full queue holds the workers back; suppression keeps alerts
/// to a trickle). The channel's slots are allocated and touched up front, about 810 bytes each.
const ALERT_QUEUE: usize = 512;

mod writer;

/// Counters readable while the pipeline runs (periodic stats, signals).
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Packets processed.
    pub packets: AtomicU64,
    /// Wire bytes processed.
    pub bytes: AtomicU64,
    /// Alerts written.
    pub alerts: AtomicU64,
    /// Kernel drops (live).
    pub kernel_dropped: AtomicU64,
    /// Kernel received (live).
    pub kernel_received: AtomicU64,
    /// Input bytes consumed (files; for progress).
    pub input_bytes: AtomicU64,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub workers: usize,
    /// Set to stop reading (signals, output failure); everything read so far is finished.
    pub stop: Arc<AtomicBool>,
    /// Shared counters.
    pub counters: Arc<LiveCounters>,
    /// Set (by SIGHUP) to have the writer flush and reopen the output file between two alerts.
    pub reopen: Arc<AtomicBool>,
    /// Where workers and the writer publish their counters for `/metrics` (when it is served).
    pub live: Option<Arc<crate::metrics::Live>>,
    /// Write EVE `flow` events for ended flows (`--eve-types flow`).
    pub flow_events: bool,
    /// Write EVE `netflow` events for ended flows (`--eve-types netflow`).
    pub netflow_events: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            stop: Arc::new(AtomicBool::new(false)),
            counters: Arc::default(),
            reopen: Arc::default(),
            live: None,
            flow_events: false,
            netflow_events: false,
        }
    }
}

/// How a run ended badly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing alerts failed; the run stopped.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The result of a run: the summary, and whether the output pipe was closed by the reader.
pub struct RunOutcome {
    /// Counters.
    pub summary: Summary,
    /// stdout's reader went away (`siphon -r x | head -1`): not an error.
    pub broken_pipe: bool,
    /// The input ended with an error after delivering what it could.
    pub input_error: Option<CaptureError>,
    /// The alert sink, flushed, with any file reopened on SIGHUP: the stats event goes here,
    /// and its network outputs are still to be closed.
    pub sink: Option<Box<dyn AlertSink>>,
}

/// Which worker owns a packet: the home-side address (so all state about one internal host
/// lives in one worker); for DNS between home hosts, the server's; else the lower address if
/// neither or both sides are home. With it, the
/// packet's flow hint ([`crate::capture::PacketMeta::flow_hint`]), from the same decode.
pub fn shard_of(
    p: &RawPacket<'_>,
    n: usize,
    home: &HomeNet,
    opts: &decode::packet::DecodeOptions,
    scratch: &mut Anomalies,
) -> (usize, u64) {
    // Borrowed where it lies (a `Decoded` is 240 bytes).
    let decoded = decode::decode(p.link, p.data, opts, scratch);
    let Some(d) = &decoded else { return (0, 0) };
    let hint = crate::worker::flow_hint_of(d);
    if n <= 1 {
        return (0, hint);
    }
    let key = match (home.contains(&d.src), home.contains(&d.dst)) {
        (true, false) => d.src,
        (false, true) => d.dst,
        // DNS inside the home network goes with its server: a home resolver's clients and its own
        // forwards meet in one worker, where `dns_tunnel` matches them.
        (true, true) if d.ports().1 == 53 => d.dst,
        (true, true) if d.ports().0 == 53 => d.src,
        _ => d.src.min(d.dst),
    };
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    ((h.finish() % n as u64) as usize, hint)
}

/// Runs the pipeline over `source` until it ends or `opts.stop` is set.
pub fn run(
    source: &mut dyn PacketSource,
    config: &Config,
    sink: Box<dyn AlertSink>,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let n = opts.workers.max(1);
    let (alert_tx, alert_rx) = bounded::<Out>(ALERT_QUEUE);
    let log_flows = opts.flow_events || opts.netflow_events;
    let event_kinds = (opts.flow_events, opts.netflow_events);
    let (pool_tx, pool_rx) = bounded::<Batch>(n * BATCHES_PER_WORKER + n);
    for _ in 0..n * BATCHES_PER_WORKER + n {
        let _ = pool_tx.send(Batch::default());
    }
    let writer_stop = opts.stop.clone();
    let writer_live = opts.live.clone();
    let reopen = opts.reopen.clone();
    let counters = opts.counters.clone();
    let home = HomeNet::new(config.general.home_net.clone());
    let dopts = decode_options(config);
    let mirror = Arc::new(MirrorShared::new(&config.general, source.local_addrs()));
    let budget = Arc::new(crate::flow::budget::MemoryBudget::new(config.memory.cap.0, n));
    let sink = Mutex::new(Some(sink));
    // Each worker suppresses its own repeats. With several workers, an alert whose subject is
    // not the home host packets are sharded by (an outside scanner probing many home hosts)
    // can be raised by each of them: the writer suppresses once more across workers.
    let across = (n > 1).then(|| Suppressor::new(config.alerts.clone()));

    std::thread::scope(|scope| {
        // Writer.
        let writer = scope.spawn(move || {
            let mut sink = match sink.lock().ok().and_then(|mut s| s.take()) {
                Some(s) => s,
                None => return WriterResult::default(),
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
        // Workers.
        let mut senders: Vec<Sender<Batch>> = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for slot in 0..n {
            let (tx, rx) = bounded::<Batch>(BATCHES_PER_WORKER);
            let budget = budget.clone();
            senders.push(tx);
            let alert_tx = alert_tx.clone();
            let pool_tx = pool_tx.clone();
            let counters = opts.counters.clone();
            let mirror = mirror.clone();
            let live = opts.live.clone();
            handles.push(scope.spawn(move || {
                let mut w = Worker::with_shared(config, mirror, budget, slot);
                if log_flows {
                    w.log_flows();
                }
                work(w, rx, pool_tx, alert_tx, &counters, live.as_deref().map(|l| (l, slot)))
            }));
        }
        drop(alert_tx);

        // Capture, on this thread.
        let mut current: Vec<Batch> = (0..n).map(|_| pool_rx.recv().unwrap_or_default()).collect();
        let mut scratch = Anomalies::default();
        let mut input_error = None;
        let mut first_ts = None;
        let mut last_ts = crate::time::Timestamp(0);
        let mut traffic = crate::run_info::TrafficSeries::default();
        let mut run = crate::run_info::TrafficRun::default();
        loop {
            if opts.stop.load(Ordering::Relaxed) {
                break;
            }
            // One worker and a source that reads straight into batches: no copy at all.
            if n == 1
                && let Some(res) = source.fill_batch(&mut current[0])
            {
                let b = &mut current[0];
                // The flow hints are worked out here, where the frames were just read and are
                // in cache: the capture thread has time to spare, the worker has not.
                b.set_flow_hints(|link, frame| crate::worker::flow_hint(link, frame, &dopts, &mut scratch));
                for m in &b.meta {
                    first_ts = Some(first_ts.map_or(m.ts, |f: crate::time::Timestamp| f.min(m.ts)));
                    last_ts = last_ts.max(m.ts);
                    run.add(&mut traffic, m.ts, m.wire_len);
                }
                if !b.is_empty() {
                    send_batch(b, &senders[0], &pool_rx);
                }
                opts.counters.input_bytes.store(source.bytes_read(), Ordering::Relaxed);
                match res {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(_) if opts.stop.load(Ordering::Relaxed) => break,
                    Err(e) => {
                        input_error = Some(e);
                        break;
                    }
                }
            }
            let mut full: Vec<usize> = Vec::new();
            let mut delivered = 0usize;
            let res = source.read(crate::capture::BATCH_PACKETS, &mut |p| {
                delivered += 1;
                let (s, hint) = shard_of(p, n, &home, &dopts, &mut scratch);
                current[s].push(p, hint);
                first_ts = Some(first_ts.map_or(p.ts, |f: crate::time::Timestamp| f.min(p.ts)));
                last_ts = last_ts.max(p.ts);
                run.add(&mut traffic, p.ts, p.wire_len);
                if current[s].is_full() && !full.contains(&s) {
                    full.push(s);
                }
            });
            for s in full {
                send_batch(&mut current[s], &senders[s], &pool_rx);
            }
            opts.counters.input_bytes.store(source.bytes_read(), Ordering::Relaxed);
            if let Some(k) = source.stats() {
                opts.counters.kernel_received.store(k.received, Ordering::Relaxed);
                opts.counters.kernel_dropped.store(k.dropped + k.if_dropped, Ordering::Relaxed);
                if let Some(l) = &opts.live {
                    l.set_kernel(k);
                }
            }
            match res {
                Ok(true) => {
                    // The source had no more packets ready (live timeout, a pipe waiting for
                    // its writer): hand over partial batches now, for low latency.
                    if delivered < crate::capture::BATCH_PACKETS {
                        for (s, b) in current.iter_mut().enumerate() {
                            if !b.is_empty() {
                                send_batch(b, &senders[s], &pool_rx);
                            }
                        }
                    }
                }
                Ok(false) => break,
                // A read interrupted because we were asked to stop is not an input error.
                Err(_) if opts.stop.load(Ordering::Relaxed) => break,
                Err(e) => {
                    input_error = Some(e);
                    break;
                }
            }
        }
        for (s, b) in current.iter_mut().enumerate() {
            if !b.is_empty() {
                send_batch(b, &senders[s], &pool_rx);
            }
        }
        run.flush(&mut traffic);
        let kernel = source.stats();
        let input_warnings = source.warnings();
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
        summary.capture = kernel;
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        summary.capture_span_secs = first_ts.map_or(0.0, |f| last_ts.since(f).as_secs_f64());
        summary.input_error = input_error.as_ref().map(|e| e.to_string());
        summary.input_warnings = input_warnings;
        summary.run = crate::run_info::RunInfo {
            first_packet: first_ts.map(|t| t.to_eve()),
            last_packet: first_ts.map(|_| last_ts.to_eve()),
            traffic,
            ..crate::run_info::RunInfo::for_config(config)
        };
        if let Some(e) = w.error {
            return Err(RunError::Output(e));
        }
        Ok(RunOutcome { summary, broken_pipe: w.broken_pipe, input_error, sink: w.sink.take() })
    })
}

fn send_batch(b: &mut Batch, tx: &Sender<Batch>, pool: &Receiver<Batch>) {
    let fresh = pool.recv().unwrap_or_default();
    let mut full = std::mem::replace(b, fresh);
    full.sent_at = Some(Instant::now());
    let _ = tx.send(full);
}

/// Hands the worker's ended flows to the writer.
fn send_flows(w: &mut Worker, tx: &Sender<Out>) {
    if let Some(log) = w.flow_log.as_mut() {
        for r in log.drain(..) {
            let _ = tx.send(Out::Flow(r));
        }
    }
}

fn work(
    mut w: Worker,
    rx: Receiver<Batch>,
    pool: Sender<Batch>,
    alerts: Sender<Out>,
    counters: &LiveCounters,
    live: Option<(&crate::metrics::Live, usize)>,
) -> (crate::worker::WorkerStats, hdrhistogram::Histogram<u64>) {
    let mut hist = new_histogram();
    let tx = alerts.clone();
    let mut emit = |a: Alert| {
        let _ = tx.send(Out::Alert(a));
    };
    let mut published = Instant::now();
    for mut batch in rx {
        let bytes = w.process_batch(&batch, &mut emit);
        send_flows(&mut w, &alerts);
        if let Some(t) = batch.sent_at {
            let _ = hist.record_n(t.elapsed().as_nanos() as u64, batch.len() as u64);
        }
        counters.packets.fetch_add(batch.len() as u64, Ordering::Relaxed);
        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
        batch.clear();
        let _ = pool.try_send(batch);
        // Once per batch at most, and only every PUBLISH_EVERY: never per packet.
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

/// Reads capture files with `config` and returns the alerts (the test seam).
pub fn run_capture(paths: &[PathBuf], config: &Config) -> Result<(Vec<Alert>, Summary), CaptureError> {
    let mut src = FileSource::new(paths.to_vec(), None)?;
    let shared = Arc::new(Mutex::new(VecSink::default()));
    let out = run(&mut src, config, Box::new(SharedVec(shared.clone())), &RunOptions::default())
        .map_err(|e| CaptureError::Read { path: PathBuf::new(), packets: 0, reason: e.to_string() })?;
    let alerts = shared.lock().map(|mut v| std::mem::take(&mut v.alerts)).unwrap_or_default();
    match out.input_error {
        Some(e) => Err(e),
        None => Ok((alerts, out.summary)),
    }
}
