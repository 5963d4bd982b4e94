//! The data path when the kernel shards (live capture in a `PACKET_FANOUT` group,
//! [`crate::capture::fanout`]): each worker thread reads its own socket and analyses what it
//! reads, with no capture thread and no batch hand-over between threads. The alert writer and
//! the summary are the same as [`super::run`]'s.

use super::*;
use crate::capture::{BATCH_PACKETS, CaptureStats};
use crate::run_info::TrafficSeries;
use crate::time::Timestamp;

/// What the workers share about the capture: its time span and traffic series.
#[derive(Default)]
struct Seen {
    first: Option<Timestamp>,
    last: Timestamp,
    traffic: TrafficSeries,
}

/// What one worker thread hands back.
type WorkerEnd = (crate::worker::WorkerStats, Option<CaptureStats>, Option<CaptureError>, Vec<String>);

/// Runs one worker per source, each reading its own (the sockets of one fanout group), until
/// every source ends or `opts.stop` is set.
pub fn run_fanout(
    sources: Vec<Box<dyn PacketSource>>,
    config: &Config,
    sink: Box<dyn AlertSink>,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let n = sources.len().max(1);
    let (alert_tx, alert_rx) = bounded::<Out>(ALERT_QUEUE);
    let (log_flows, event_kinds) =
        (opts.flow_events || opts.netflow_events, (opts.flow_events, opts.netflow_events));
    let writer_live = opts.live.clone();
    let dopts = decode_options(config);
    let addrs = sources.first().map(|s| s.local_addrs()).unwrap_or_default();
    let mirror = Arc::new(MirrorShared::new(&config.general, addrs));
    let budget = Arc::new(crate::flow::budget::MemoryBudget::new(config.memory.cap.0, n));
    let sink = Mutex::new(Some(sink));
    let across = (n > 1).then(|| Suppressor::new(config.alerts.clone()));
    let seen = Mutex::new(Seen::default());
    // Kernel counters per socket, summed into the live counters.
    let kernel: Vec<[AtomicU64; 2]> = (0..n).map(|_| [AtomicU64::new(0), AtomicU64::new(0)]).collect();
    let (writer_stop, reopen, counters) = (opts.stop.clone(), opts.reopen.clone(), opts.counters.clone());

    std::thread::scope(|scope| {
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
        let mut handles = Vec::with_capacity(n);
        for (slot, mut src) in sources.into_iter().enumerate() {
            let (alert_tx, mirror, budget) = (alert_tx.clone(), mirror.clone(), budget.clone());
            let (dopts, seen, kernel) = (&dopts, &seen, &kernel);
            let (stop, counters, live) = (opts.stop.clone(), opts.counters.clone(), opts.live.clone());
            handles.push(scope.spawn(move || -> WorkerEnd {
                let mut w = Worker::with_shared(config, mirror, budget, slot);
                if log_flows {
                    w.log_flows();
                }
                let tx = alert_tx.clone();
                let mut emit = |a: Alert| {
                    let _ = tx.send(Out::Alert(a));
                };
                let hist = super::new_histogram();
                let mut published = Instant::now();
                let mut batch = Batch::default();
                let mut scratch = Anomalies::default();
                let mut error = None;
                while !stop.load(Ordering::Relaxed) {
                    batch.clear();
                    let res = src.read(BATCH_PACKETS, &mut |p| {
                        batch.push(p, crate::worker::flow_hint(p.link, p.data, dopts, &mut scratch));
                    });
                    if !batch.is_empty() {
                        if let Ok(mut s) = seen.lock() {
                            for m in &batch.meta {
                                s.first = Some(s.first.map_or(m.ts, |f| f.min(m.ts)));
                                s.last = s.last.max(m.ts);
                                s.traffic.add(m.ts, m.wire_len);
                            }
                        }
                        let bytes = w.process_batch(&batch, &mut emit);
                        send_flows(&mut w, &alert_tx);
                        counters.packets.fetch_add(batch.len() as u64, Ordering::Relaxed);
                        counters.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                    if let Some(l) = live.as_deref()
                        && published.elapsed() >= crate::metrics::PUBLISH_EVERY
                    {
                        w.refresh_stats();
                        l.publish_worker(slot, &w.stats, &hist);
                        published = Instant::now();
                    }
                    if let (Some(k), Some(mine)) = (src.stats(), kernel.get(slot)) {
                        mine[0].store(k.received, Ordering::Relaxed);
                        mine[1].store(k.dropped + k.if_dropped, Ordering::Relaxed);
                        let sum = |i: usize| kernel.iter().map(|c| c[i].load(Ordering::Relaxed)).sum::<u64>();
                        counters.kernel_received.store(sum(0), Ordering::Relaxed);
                        counters.kernel_dropped.store(sum(1), Ordering::Relaxed);
                    }
                    match res {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(_) if stop.load(Ordering::Relaxed) => break,
                        Err(e) => {
                            error = Some(e);
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                w.finish(&mut emit);
                send_flows(&mut w, &alert_tx);
                if let Some(l) = live.as_deref() {
                    l.publish_worker(slot, &w.stats, &hist);
                }
                (w.stats, src.stats(), error, src.warnings())
            }));
        }
        drop(alert_tx);
        let mut summary = Summary::new();
        let mut input_error = None;
        let mut capture: Option<CaptureStats> = None;
        for h in handles {
            if let Ok((stats, kernel, error, warnings)) = h.join() {
                summary.workers.merge(&stats);
                if let Some(k) = kernel {
                    let c = capture.get_or_insert_with(CaptureStats::default);
                    c.received += k.received;
                    c.dropped += k.dropped;
                    c.if_dropped += k.if_dropped;
                }
                input_error = input_error.or(error);
                summary.input_warnings.extend(warnings);
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
        summary.capture = capture;
        summary.elapsed_secs = started.elapsed().as_secs_f64();
        let seen = seen.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        summary.capture_span_secs = seen.first.map_or(0.0, |f| seen.last.since(f).as_secs_f64());
        summary.input_error = input_error.as_ref().map(|e| e.to_string());
        summary.run = crate::run_info::RunInfo {
            first_packet: seen.first.map(|t| t.to_eve()),
            last_packet: seen.first.map(|_| seen.last.to_eve()),
            traffic: seen.traffic,
            ..crate::run_info::RunInfo::for_config(config)
        };
        if let Some(e) = w.error {
            return Err(RunError::Output(e));
        }
        Ok(RunOutcome { summary, broken_pipe: w.broken_pipe, input_error, sink: w.sink.take() })
    })
}
