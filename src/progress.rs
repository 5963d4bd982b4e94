//! The progress bar of a long `-r` read: bytes read of the inputs' size, packets per second,
//! alerts so far and the time left, on stderr. Only on a terminal (never in a pipe or a log),
//! and never with `-q`; the periodic stats line of live runs is separate (main's edge thread).

use crate::pipeline::LiveCounters;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// How often the bar is updated.
const TICK: Duration = Duration::from_millis(200);

/// A running progress bar; dropping it clears the line.
pub struct Progress {
    /// Dropped to stop the bar at once.
    done: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar for `total` input bytes if stderr is a terminal; `None` otherwise.
    pub fn start(total: u64, counters: Arc<LiveCounters>) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(5));
        let style = ProgressStyle::with_template(
            "siphon: [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let (done, d) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("siphon-progress".into())
            .spawn(move || {
                let started = Instant::now();
                loop {
                    let packets = counters.packets.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    bar.set_position(counters.input_bytes.load(Ordering::Relaxed).min(total));
                    bar.set_message(format!(
                        "{:.0} pkt/s, {} alerts so far",
                        packets as f64 / secs,
                        counters.alerts.load(Ordering::Relaxed)
                    ));
                    if !matches!(d.recv_timeout(TICK), Err(RecvTimeoutError::Timeout)) {
                        break;
                    }
                }
                bar.finish_and_clear();
            })
            .ok()?;
        Some(Progress { done: Some(done), thread: Some(thread) })
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
