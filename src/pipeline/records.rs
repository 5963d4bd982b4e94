//! The data path for flow records: collector thread (export files or a UDP socket, decoded by
//! [`crate::capture::netflow`]) → bounded channels of record batches, sharded by home host as
//! packets are → workers ([`Worker::process_record`]) → the same alert writer.
//!
//! Flow records and packets are not mixed in one run: an exporter's view of a flow and a
//! sensor's packets of the same flow would count its traffic twice.

use super::shared::{Run, Seen, WorkerLink, merge_worker};
use super::{RunError, RunOptions, RunOutcome};
use crate::alert::sink::AlertSink;
use crate::capture::netflow::FlowRecord;
use crate::capture::netflow::source::RecordSource;
use crate::config::Config;
use crate::flow::HomeNet;
use crate::stats::Summary;
use crate::worker::Worker;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;

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
pub(crate) fn record_config(config: &Config) -> Config {
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
    let config = &record_config(config);
    let n = opts.workers.max(1);
    let run = Run::new(config, opts, n, Vec::new());
    let home = HomeNet::new(config.general.home_net.clone());
    std::thread::scope(|scope| {
        let (alert_tx, writer) = run.spawn_writer(scope, sink);
        let mut senders: Vec<Sender<Vec<FlowRecord>>> = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for slot in 0..n {
            let (tx, rx) = bounded::<Vec<FlowRecord>>(IN_FLIGHT);
            senders.push(tx);
            let (alert_tx, run) = (alert_tx.clone(), &run);
            handles.push(scope.spawn(move || {
                let (w, link) = run.worker(slot, alert_tx);
                work_records(w, link, rx)
            }));
        }
        drop(alert_tx);
        let mut current: Vec<Vec<FlowRecord>> = (0..n).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut read = Vec::with_capacity(BATCH);
        let mut input_error = None;
        let mut seen = Seen::default();
        loop {
            if opts.stop.load(Ordering::Relaxed) {
                break;
            }
            read.clear();
            let res = source.read(&mut read);
            for r in &read {
                seen.span(r.start, r.end);
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
        let mut summary = Summary::new();
        summary.netflow = Some(source.stats());
        drop(senders);
        for h in handles {
            if let Ok(end) = h.join() {
                merge_worker(&mut summary, &end);
            }
        }
        run.finish(writer, summary, seen, input_error)
    })
}

fn work_records(
    mut w: Worker,
    mut link: WorkerLink<'_>,
    rx: Receiver<Vec<FlowRecord>>,
) -> (crate::worker::WorkerStats, hdrhistogram::Histogram<u64>) {
    let mut emit = link.emitter();
    for batch in rx {
        let mut bytes = 0;
        for r in &batch {
            w.process_record(r, &mut emit);
            bytes += r.bytes;
        }
        link.after_batch(&mut w, batch.len() as u64, bytes);
    }
    link.finish(w)
}
