//! The data path when the kernel shards (live capture in a `PACKET_FANOUT` group,
//! [`crate::capture::fanout`]): each worker thread reads its own socket and analyses what it
//! reads, with no capture thread and no batch hand-over between threads. The alert writer and
//! the summary are the same as [`super::run`]'s.

use super::*;
use crate::capture::{BATCH_PACKETS, CaptureStats};
use std::sync::Mutex;

/// What one worker thread hands back: its counters and latency, its socket's kernel counters,
/// the error that ended its input, its input warnings.
type WorkerEnd = (
    (crate::worker::WorkerStats, hdrhistogram::Histogram<u64>),
    Option<CaptureStats>,
    Option<CaptureError>,
    Vec<String>,
);

/// Runs one worker per source, each reading its own (the sockets of one fanout group), until
/// every source ends or `opts.stop` is set.
pub fn run_fanout(
    sources: Vec<Box<dyn PacketSource>>,
    config: &Config,
    sink: Box<dyn AlertSink>,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let n = sources.len().max(1);
    let dopts = decode_options(config);
    let addrs = sources.first().map(|s| s.local_addrs()).unwrap_or_default();
    let run = Run::new(config, opts, n, addrs);
    let seen = Mutex::new(Seen::default());
    // Kernel counters per socket, summed into the live counters.
    let kernel: Vec<[AtomicU64; 2]> = (0..n).map(|_| [AtomicU64::new(0), AtomicU64::new(0)]).collect();

    std::thread::scope(|scope| {
        let (alert_tx, writer) = run.spawn_writer(scope, sink);
        let mut handles = Vec::with_capacity(n);
        for (slot, mut src) in sources.into_iter().enumerate() {
            let (alert_tx, run, dopts, seen, kernel) = (alert_tx.clone(), &run, &dopts, &seen, &kernel);
            let (stop, counters) = (opts.stop.clone(), opts.counters.clone());
            handles.push(scope.spawn(move || -> WorkerEnd {
                let (mut w, mut link) = run.worker(slot, alert_tx);
                let mut emit = link.emitter();
                let mut batch = Batch::default();
                let mut scratch = Anomalies::default();
                let mut error = None;
                while !stop.load(Ordering::Relaxed) {
                    batch.clear();
                    let res = src.read(BATCH_PACKETS, &mut |p| {
                        batch.push(p, crate::worker::flow_hint(p.link, p.data, dopts, &mut scratch));
                    });
                    let mut bytes = 0;
                    if !batch.is_empty() {
                        if let Ok(mut s) = seen.lock() {
                            for m in &batch.meta {
                                s.packet(m.ts, m.wire_len);
                            }
                        }
                        bytes = w.process_batch(&batch, &mut emit);
                    }
                    link.after_batch(&mut w, batch.len() as u64, bytes);
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
                (link.finish(w), src.stats(), error, src.warnings())
            }));
        }
        drop(alert_tx);
        let mut summary = Summary::new();
        let mut input_error = None;
        let mut capture: Option<CaptureStats> = None;
        for h in handles {
            if let Ok((end, kernel, error, warnings)) = h.join() {
                merge_worker(&mut summary, &end);
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
        summary.capture = capture;
        let seen = seen.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        run.finish(writer, summary, seen, input_error)
    })
}
