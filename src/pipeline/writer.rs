//! The alert writer: the one thread that writes alerts and flow events to the run's sink
//! (`-o`/stdout and the network outputs behind it), suppresses repeats across workers, and
//! reopens the output on SIGHUP.

use super::LiveCounters;
use crate::alert::Alert;
use crate::alert::sink::AlertSink;
use crate::alert::suppress::Suppressor;
use crate::error::OutputError;
use crossbeam_channel::Receiver;
use std::sync::atomic::{AtomicBool, Ordering};

/// How often an idle writer looks at the reopen flag: a SIGHUP with no alert flowing takes
/// effect within this.
pub(super) const REOPEN_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// What workers hand the writer. Boxed: the channel's slots (`ALERT_QUEUE`) are allocated and
/// written at start-up, and an alert inline made each ~810 bytes: 100 page faults a run before
/// its first packet, a tenth of a small capture's. An alert owns several allocations already,
/// and alerts are few (suppression keeps them to a trickle); a flow record one more, and only
/// when flow events are asked for.
pub(super) enum Out {
    /// An admitted alert.
    Alert(Box<Alert>),
    /// An ended flow, for `flow`/`netflow` events.
    Flow(Box<crate::alert::flow_event::FlowRecord>),
}

/// What the writer thread reports.
#[derive(Default)]
pub(super) struct WriterResult {
    /// The sink, handed back for the stats event and to close its network outputs.
    pub(super) sink: Option<Box<dyn AlertSink>>,
    pub(super) written: u64,
    pub(super) error: Option<OutputError>,
    pub(super) broken_pipe: bool,
    /// Alerts the cross-worker suppression dropped, per detector.
    pub(super) dropped: std::collections::BTreeMap<&'static str, u64>,
    /// What the cross-worker suppression counted.
    pub(super) suppressed: crate::alert::suppress::SuppressStats,
}

#[allow(clippy::too_many_arguments)] // the writer's inputs, each owned elsewhere
pub(super) fn write_alerts(
    sink: &mut dyn AlertSink,
    rx: &Receiver<Out>,
    stop: &AtomicBool,
    reopen: &AtomicBool,
    counters: &LiveCounters,
    mut across: Option<Suppressor>,
    live: Option<&crate::metrics::Live>,
    (flow_events, netflow_events): (bool, bool),
) -> WriterResult {
    let mut r = WriterResult::default();
    let mut failed = false;
    loop {
        if reopen.swap(false, Ordering::Relaxed)
            && !failed
            && let Err(e) = sink.reopen()
        {
            // The old file stays in use: nothing is lost, the operator is told.
            eprintln!("siphon: SIGHUP: cannot reopen the output, still writing the old file: {e}");
        }
        let out = match rx.recv_timeout(REOPEN_POLL) {
            Ok(a) => a,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        if failed {
            continue; // keep draining so workers never block on a dead output
        }
        let mut a = match out {
            Out::Alert(a) => *a,
            Out::Flow(f) => {
                let mut res = Ok(());
                if flow_events {
                    res = sink.write_event(&f.to_flow_event());
                }
                if netflow_events {
                    for e in f.to_netflow_events() {
                        res = res.and_then(|()| sink.write_event(&e));
                    }
                }
                if res.is_ok() && rx.is_empty() {
                    res = sink.flush();
                }
                if let Err(e) = res {
                    failed = true;
                    stop.store(true, Ordering::Relaxed);
                    match &e {
                        OutputError::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                            r.broken_pipe = true
                        }
                        _ => r.error = Some(e),
                    }
                }
                continue;
            }
        };
        if let Some(s) = across.as_mut()
            && !s.admit(&mut a)
        {
            *r.dropped.entry(a.siphon.detector).or_insert(0) += 1;
            continue;
        }
        let mut res = sink.write(&a);
        if res.is_ok() && rx.is_empty() {
            res = sink.flush();
        }
        match res {
            Ok(()) => {
                r.written += 1;
                counters.alerts.fetch_add(1, Ordering::Relaxed);
                if let Some(l) = live {
                    l.alert_written(a.siphon.detector, a.alert.signature_id, &a.alert.signature);
                }
            }
            Err(e) => {
                failed = true;
                stop.store(true, Ordering::Relaxed);
                match &e {
                    OutputError::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                        r.broken_pipe = true
                    }
                    _ => r.error = Some(e),
                }
            }
        }
    }
    if let Some(s) = across {
        r.suppressed = s.stats;
    }
    if !failed && let Err(e) = sink.flush() {
        match &e {
            OutputError::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe => r.broken_pipe = true,
            _ => r.error = Some(e),
        }
    }
    r
}
