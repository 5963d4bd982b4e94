//! Network outputs (syslog today; Redis, Kafka and the like behind the same seam later): every
//! one sits behind a bounded, non-blocking [`OutputQueue`] drained by its own thread, so a slow,
//! stuck or absent collector never holds back the data path or the process's exit.
//!
//! The data path only ever calls [`OutputQueue::push`], which takes a short lock and returns:
//! when the queue is full the *oldest* message is dropped (the newest alerts matter most to a
//! SOC) and counted. The drain thread connects with a timeout, writes with a timeout, and after
//! a failure reconnects with exponential backoff. At exit the queue gets a short grace period to
//! drain; whatever is still queued (or blocked in a write) then is counted as dropped and the
//! thread is abandoned. Every output reports `sent`, `dropped` and `reconnects`
//! ([`OutputStats`]), printed on stderr at exit and in the EVE `stats` event.

pub(crate) mod config;
#[cfg(feature = "kafka")]
pub(crate) mod kafka;
pub(crate) mod redis;
pub(crate) mod syslog;
pub(crate) mod tee;

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A network destination for formatted messages: what an output implements to sit behind an
/// [`OutputQueue`]. Calls come from the queue's own thread only and may block up to the
/// timeouts the transport was built with.
pub trait Transport: Send + 'static {
    /// Opens (or re-opens) the connection, giving up after `timeout`.
    fn connect(&mut self, timeout: Duration) -> io::Result<()>;
    /// Sends one message on the open connection (framing is the transport's business).
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Most messages handed to [`Transport::send_batch`] at once (pipelining); 1 by default.
    fn batch_size(&self) -> usize {
        1
    }
    /// Sends several messages, all or none counted as sent: by default one [`Transport::send`]
    /// each; a pipelining transport sends them in one round trip.
    fn send_batch(&mut self, msgs: &[Vec<u8>]) -> io::Result<()> {
        msgs.iter().try_for_each(|m| self.send(m))
    }
    /// Drops the connection after a failure; the next message reconnects first.
    fn disconnect(&mut self);
}

/// How an output's queue and thread behave.
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// Messages held at most; beyond it the oldest is dropped (counted).
    pub capacity: usize,
    /// Longest a connection attempt may take.
    pub connect_timeout: Duration,
    /// First wait after a failed connection or write; doubled after each further failure.
    pub backoff_min: Duration,
    /// Longest wait between reconnection attempts.
    pub backoff_max: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            // About 8 MB at ~2 KB a message: minutes of a busy sensor's alerts.
            capacity: 4096,
            // Long enough for a collector across a WAN, short enough that a blackholed one
            // costs little.
            connect_timeout: Duration::from_secs(3),
            backoff_min: Duration::from_millis(100),
            // A collector back after a restart is used again within half a minute.
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// What one output did: the counters operators read at exit and in the stats event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutputStats {
    /// Messages handed to the collector.
    pub sent: u64,
    /// Messages lost: queue full (oldest dropped), a failed write, or still queued at exit.
    pub dropped: u64,
    /// Connection attempts after the first (each retry after a failure counts).
    pub reconnects: u64,
}

struct State {
    queue: VecDeque<Vec<u8>>,
    stats: OutputStats,
    /// Messages being written by the drain thread.
    in_flight: u64,
    /// No more messages will come; drain and stop.
    closed: bool,
    /// The grace period ran out: the thread must stop at once and count nothing more.
    abandoned: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    done: Mutex<bool>,
    done_cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A bounded queue in front of one [`Transport`], drained by its own thread.
pub struct OutputQueue {
    name: &'static str,
    shared: Arc<Shared>,
    capacity: usize,
}

impl OutputQueue {
    /// Starts the drain thread for `transport` (named `name` in counters and thread names).
    pub fn start(name: &'static str, transport: impl Transport, o: QueueOptions) -> io::Result<OutputQueue> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(o.capacity.min(1024)),
                stats: OutputStats::default(),
                in_flight: 0,
                closed: false,
                abandoned: false,
            }),
            wake: Condvar::new(),
            done: Mutex::new(false),
            done_cv: Condvar::new(),
        });
        let s = shared.clone();
        std::thread::Builder::new().name(format!("siphon-{name}")).spawn(move || {
            drain(&s, transport, o);
            *s.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
            s.done_cv.notify_all();
        })?;
        Ok(OutputQueue { name, shared, capacity: o.capacity.max(1) })
    }

    /// The output's name (`syslog`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Queues one message without ever blocking on the collector; drops the oldest when full.
    pub fn push(&self, msg: Vec<u8>) {
        let mut st = self.shared.lock();
        if st.closed {
            st.stats.dropped += 1;
            return;
        }
        if st.queue.len() >= self.capacity {
            st.queue.pop_front();
            st.stats.dropped += 1;
        }
        st.queue.push_back(msg);
        drop(st);
        self.shared.wake.notify_one();
    }

    /// Messages waiting now.
    pub fn depth(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> OutputStats {
        self.shared.lock().stats
    }

    /// Stops taking messages and lets the thread drain for at most `grace`; what is left then
    /// (queued or blocked in a write) is counted as dropped and the thread is abandoned.
    /// Returns the final counters. Idempotent.
    pub fn close(&self, grace: Duration) -> OutputStats {
        {
            let mut st = self.shared.lock();
            if st.abandoned {
                return st.stats;
            }
            st.closed = true;
        }
        self.shared.wake.notify_all();
        let deadline = Instant::now() + grace;
        let mut done = self.shared.done.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            done = match self.shared.done_cv.wait_timeout(done, left) {
                Ok((d, _)) => d,
                Err(p) => p.into_inner().0,
            };
        }
        drop(done);
        let mut st = self.shared.lock();
        if !st.abandoned {
            let left = st.queue.len() as u64 + st.in_flight;
            st.stats.dropped += left;
            st.queue.clear();
            st.abandoned = true;
        }
        st.stats
    }
}

impl Drop for OutputQueue {
    fn drop(&mut self) {
        self.close(Duration::from_secs(1));
    }
}

/// The drain thread: connect (with backoff), send (a batch at a time), count.
fn drain(shared: &Shared, mut t: impl Transport, o: QueueOptions) {
    let mut connected = false;
    let mut attempts = 0u64;
    let mut backoff = o.backoff_min;
    let mut next_attempt = Instant::now();
    let batch_size = t.batch_size().max(1);
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(batch_size);
    loop {
        // Wait for a message (or the end), and for the backoff to pass when not connected.
        {
            let mut st = shared.lock();
            loop {
                if st.abandoned || (st.closed && st.queue.is_empty()) {
                    return;
                }
                let now = Instant::now();
                let ready = !st.queue.is_empty() && (connected || now >= next_attempt);
                if ready {
                    break;
                }
                // Not connected and backing off: at exit, give up on the rest (counted by close).
                if st.closed && !connected {
                    return;
                }
                let wait = if st.queue.is_empty() {
                    Duration::from_secs(3600)
                } else {
                    next_attempt.saturating_duration_since(now)
                };
                st = match shared.wake.wait_timeout(st, wait) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
            if !connected {
                attempts += 1;
                if attempts > 1 {
                    st.stats.reconnects += 1;
                }
            } else {
                let n = st.queue.len().min(batch_size);
                batch.extend(st.queue.drain(..n));
                st.in_flight = n as u64;
            }
        }
        if !connected {
            // Connect outside the lock.
            match t.connect(o.connect_timeout) {
                Ok(()) => {
                    connected = true;
                    backoff = o.backoff_min;
                }
                Err(_) => {
                    next_attempt = Instant::now() + backoff;
                    backoff = (backoff * 2).min(o.backoff_max);
                }
            }
            continue;
        }
        let res = t.send_batch(&batch);
        let n = batch.len() as u64;
        batch.clear();
        let mut st = shared.lock();
        st.in_flight = 0;
        if st.abandoned {
            return;
        }
        match res {
            Ok(()) => st.stats.sent += n,
            Err(_) => {
                st.stats.dropped += n;
                drop(st);
                t.disconnect();
                connected = false;
                next_attempt = Instant::now() + backoff;
                backoff = (backoff * 2).min(o.backoff_max);
            }
        }
    }
}

#[cfg(test)]
mod tests;
