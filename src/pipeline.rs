//! The data path's threads: capture → (bounded channels of recycled batches, sharded by home
//! host) → workers → (bounded channel) → alert writer.
//!
//! Back-pressure everywhere, never an unbounded queue: offline reading never drops; a live
//! capture that falls behind drops in the kernel, and `pcap_stats` reports it.

use crate::alert::Alert;
use crate::alert::sink::AlertSink;
use crate::capture::file::FileSource;
use crate::capture::{Batch, PacketSource, RawPacket};
use crate::config::Config;
use crate::decode::dns::{DnsMessage, RegistrableHint, is_dns_port};
use crate::decode::{self, Anomalies};
use crate::error::{CaptureError, OutputError};
use crate::flow::HomeNet;
use crate::stats::Summary;
use crate::worker::{Worker, decode_options};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, bounded};
use shared::{Run, Seen, WorkerLink, merge_worker};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Instant;

pub(crate) mod affinity;
mod fanout;
pub use fanout::run_fanout;
pub(crate) mod records;
pub use records::run_records;
mod light;
mod shared;

/// Batches in flight per worker.
const BATCHES_PER_WORKER: usize = 8;
/// Blocks of a capture file in flight at most when they are sharded to several workers without
/// a copy (each block is cut into at most one batch per worker, so this keeps every worker's
/// queue fed): about 320 KiB each.
const BLOCKS_IN_FLIGHT: usize = BATCHES_PER_WORKER + 2;
/// How long a worker taking turns at reading waits for packets, when another worker's full
/// queue keeps it from reading, before it looks again: a flood to one worker's hosts is read by
/// the other worker, not by the busy one once its queue ran dry.
const TURN_RETRY: std::time::Duration = std::time::Duration::from_micros(100);
/// Alerts in flight to the writer (a full queue holds the workers back; suppression keeps alerts
/// to a trickle). The channel's slots are allocated and touched up front, 24 bytes each
/// (`writer::Out` boxes what it carries).
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
/// packet's flow hint ([`crate::capture::PacketMeta::flow_hint`]), from the same parse: the
/// light one for the common case ([`light`]), else the full decode.
pub fn shard_of(
    p: &RawPacket<'_>,
    n: usize,
    home: &HomeNet,
    opts: &decode::packet::DecodeOptions,
    scratch: &mut Anomalies,
) -> (usize, u64) {
    let (s, hint, _) = shard_with_dns(p, n, home, opts, scratch);
    (s, hint)
}

/// [`shard_of`], and the payload of a UDP packet to or from a DNS port (as the worker parses
/// DNS: [`crate::decode::dns::is_dns_port`]), for its [`RegistrableHint`]: the reading side
/// works the domain out while the packet is in its cache, so a flood of DNS to one host costs
/// its worker less. (The payload, not the hint, comes back: a ~70-byte hint returned for every
/// packet was ~20 instructions a packet of moves.)
fn shard_with_dns<'p>(
    p: &RawPacket<'p>,
    n: usize,
    home: &HomeNet,
    opts: &decode::packet::DecodeOptions,
    scratch: &mut Anomalies,
) -> (usize, u64, Option<&'p [u8]>) {
    if let Some(l) = light::parse(p.link, p.data, opts) {
        let dns = dns_payload(l.ports, l.udp_payload);
        return (shard_by(n, home, l.src, l.dst, l.ports), l.hint(), dns);
    }
    shard_of_decoded(p, n, home, opts, scratch)
}

/// A UDP `payload` between `ports` when one is a DNS port.
#[inline]
fn dns_payload(ports: (u16, u16), payload: &[u8]) -> Option<&[u8]> {
    (!payload.is_empty() && (is_dns_port(ports.0) || is_dns_port(ports.1))).then_some(payload)
}

/// Works out every packet's flow hint and DNS registrable hint, as the reading side does before
/// a worker's turn (to replay batches into one worker: `examples/worker_replay.rs`).
pub fn hint_batch(b: &mut Batch, opts: &decode::packet::DecodeOptions) {
    let (home, mut scratch, mut dns) =
        (HomeNet::new(Vec::new()), Anomalies::default(), DnsMessage::default());
    set_hints(b, &home, opts, &mut scratch, &mut dns);
}

/// [`hint_batch`] with the reading side's scratch space (one worker: its shard is known).
fn set_hints(
    b: &mut Batch,
    home: &HomeNet,
    opts: &decode::packet::DecodeOptions,
    scratch: &mut Anomalies,
    dns: &mut DnsMessage,
) {
    b.set_hints(
        |link, frame| {
            let p = RawPacket { ts: crate::time::Timestamp(0), data: frame, wire_len: 0, link };
            let (_, flow, payload) = shard_with_dns(&p, 1, home, opts, scratch);
            (flow, payload)
        },
        |payload| RegistrableHint::of(payload, dns),
    );
}

/// The flow hint of the frames the light parse takes ([`crate::worker::flow_hint`] of the others).
#[inline]
pub(crate) fn light_flow_hint(
    link: crate::decode::LinkType,
    frame: &[u8],
    opts: &decode::packet::DecodeOptions,
) -> Option<u64> {
    light::parse(link, frame, opts).map(|l| l.hint())
}

/// [`shard_of`] through the full decode (tunnels, fragments, anything odd).
fn shard_of_decoded<'p>(
    p: &RawPacket<'p>,
    n: usize,
    home: &HomeNet,
    opts: &decode::packet::DecodeOptions,
    scratch: &mut Anomalies,
) -> (usize, u64, Option<&'p [u8]>) {
    // Borrowed where it lies (a `Decoded` is 240 bytes).
    let decoded = decode::decode(p.link, p.data, opts, scratch);
    let Some(d) = &decoded else { return (0, 0, None) };
    // (A fragment's payload is not the message: the worker parses the reassembled datagram.)
    let dns = match (&d.l4, &d.frag) {
        (decode::L4::Udp { .. }, None) => dns_payload(d.ports(), d.payload),
        _ => None,
    };
    (shard_by(n, home, d.src, d.dst, d.ports()), crate::worker::flow_hint_of(d), dns)
}

/// The worker of a packet from `src` to `dst` with TCP/UDP `ports` (see [`shard_of`]).
#[inline]
fn shard_by(
    n: usize,
    home: &HomeNet,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    ports: (u16, u16),
) -> usize {
    if n <= 1 {
        return 0;
    }
    let key = match (home.contains(&src), home.contains(&dst)) {
        (true, false) => src,
        (false, true) => dst,
        // DNS inside the home network goes with its server: a home resolver's clients and its own
        // forwards meet in one worker, where `dns_tunnel` matches them.
        (true, true) if ports.1 == 53 => dst,
        (true, true) if ports.0 == 53 => src,
        _ => src.min(dst),
    };
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    let (h, n) = (h.finish(), n as u64);
    // The same worker as `h % n`, without a division for a power of two (2 workers on 2 cores).
    (if n.is_power_of_two() { h & (n - 1) } else { h % n }) as usize
}

/// Runs the pipeline over `source` until it ends or `opts.stop` is set.
///
/// Capture files with several workers have no capture thread: the workers take turns at reading
/// (a worker whose queue ran dry reads and shards the next block for all), so on a machine with
/// as many cores as workers no thread waits for a core while another is idle. A live source or
/// a pipe keeps a capture thread ([`PacketSource::reads_may_wait`]).
pub fn run(
    source: &mut dyn PacketSource,
    config: &Config,
    sink: Box<dyn AlertSink>,
    opts: &RunOptions,
) -> Result<RunOutcome, RunError> {
    let n = opts.workers.max(1);
    let run = Run::new(config, opts, n, source.local_addrs());
    let (pool_tx, pool_rx) = bounded::<Batch>(n * BATCHES_PER_WORKER + n);
    for _ in 0..n * BATCHES_PER_WORKER + n {
        // Room is made at a batch's first packet: a short capture uses a few of them.
        let _ = pool_tx.send(Batch::empty());
    }
    // Wake-ups for a capture thread waiting for a free block; a worker never waits to send one
    // (a full channel already holds a wake-up).
    let (freed_tx, freed_rx) = bounded::<()>(n * BATCHES_PER_WORKER + n);
    let taking_turns = n > 1 && !source.reads_may_wait();

    let mut senders: Vec<Sender<Batch>> = Vec::with_capacity(n);
    let mut receivers = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = bounded::<Batch>(BATCHES_PER_WORKER);
        senders.push(tx);
        receivers.push(rx);
    }
    let current: Vec<Batch> = (0..n).map(|_| pool_rx.recv().unwrap_or_default()).collect();
    let shared = Mutex::new(Reader {
        source,
        n,
        senders,
        pool: Pool { batches: pool_rx, wait: !taking_turns },
        blocks: BlockPool { blocks: Vec::with_capacity(BLOCKS_IN_FLIGHT), freed: freed_rx },
        current,
        home: HomeNet::new(config.general.home_net.clone()),
        dopts: decode_options(config),
        scratch: Anomalies::default(),
        dns: Box::default(),
        seen: Seen::default(),
        input_error: None,
        done: false,
    });

    std::thread::scope(|scope| {
        let (alert_tx, writer) = run.spawn_writer(scope, sink);
        let turns = taking_turns.then_some(&shared);
        let mut handles = Vec::with_capacity(n);
        for (slot, rx) in receivers.into_iter().enumerate() {
            let (alert_tx, pool_tx, freed_tx, run) =
                (alert_tx.clone(), pool_tx.clone(), freed_tx.clone(), &run);
            handles.push(scope.spawn(move || {
                let (w, link) = run.worker(slot, alert_tx);
                work(w, link, rx, pool_tx, freed_tx, turns, opts)
            }));
        }
        drop(alert_tx);
        drop(freed_tx);
        if !taking_turns {
            // Capture, on this thread.
            let mut r = shared.lock().unwrap_or_else(PoisonError::into_inner);
            while r.step(opts) {}
        }
        let mut summary = Summary::new();
        let mut ends = Vec::with_capacity(n);
        for h in handles {
            if let Ok(end) = h.join() {
                ends.push(end);
            }
        }
        let mut r = shared.lock().unwrap_or_else(PoisonError::into_inner);
        // (Every worker gone early only if they panicked.)
        r.end();
        for end in &ends {
            merge_worker(&mut summary, end);
        }
        summary.capture = r.source.stats();
        summary.input_warnings = r.source.warnings();
        let (seen, input_error) = (std::mem::take(&mut r.seen), r.input_error.take());
        run.finish(writer, summary, seen, input_error)
    })
}

/// The reading side of a run: the source, the blocks and batches being filled, the workers'
/// queues. Driven by the capture thread, or by the workers in turn ([`run`]).
struct Reader<'s> {
    source: &'s mut dyn PacketSource,
    n: usize,
    /// The workers' queues; emptied at the end of input, which ends the workers.
    senders: Vec<Sender<Batch>>,
    /// Empty batches, back from the workers.
    pool: Pool,
    blocks: BlockPool,
    /// The batch being filled for each worker.
    current: Vec<Batch>,
    home: HomeNet,
    dopts: decode::packet::DecodeOptions,
    scratch: Anomalies,
    /// DNS questions are parsed into it for their registrable hints (~550 bytes, reused).
    dns: Box<DnsMessage>,
    seen: Seen,
    input_error: Option<CaptureError>,
    /// Input ended (or the run was stopped) and every batch was handed over.
    done: bool,
}

impl Reader<'_> {
    /// Reads the next block (or batch of packets) and hands it to the workers. `false` once the
    /// input ended, failed or the run was stopped: then every batch was sent and the queues
    /// closed.
    fn step(&mut self, opts: &RunOptions) -> bool {
        if self.done {
            return false;
        }
        let go_on = self.read(opts);
        if !go_on {
            self.end();
        }
        go_on
    }

    fn read(&mut self, opts: &RunOptions) -> bool {
        if opts.stop.load(Ordering::Relaxed) {
            return false;
        }
        let (n, home, dopts, scratch) = (self.n, &self.home, &self.dopts, &mut self.scratch);
        let dns = &mut *self.dns;
        // One worker and a source that reads straight into batches: no copy at all.
        if n == 1
            && let Some(res) = self.source.fill_batch(&mut self.current[0])
        {
            let b = &mut self.current[0];
            // The flow and registrable hints are worked out here, where the frames were just
            // read and are in cache: the capture thread has time to spare, the worker has not.
            set_hints(b, home, dopts, scratch, dns);
            for m in &b.meta {
                self.seen.packet(m.ts, m.wire_len);
            }
            if !b.is_empty() {
                send_batch(b, &self.senders[0], &self.pool);
            }
            opts.counters.input_bytes.store(self.source.bytes_read(), Ordering::Relaxed);
            return self.went(res, opts);
        }
        // Several workers and a source that reads blocks: each block is read once, and every
        // worker's batch points into it.
        if n > 1 {
            let i = self.blocks.take();
            let Some(block) = self.blocks.blocks.get_mut(i) else { return false };
            // Only the pool holds it (`take`), and nothing else can clone it meanwhile. A
            // file libpcap reads (`None`) goes through `read` below.
            if let Some(res) = Arc::get_mut(block).and_then(|b| self.source.fill_batch(b)) {
                let seen = &mut self.seen;
                shard_block(
                    block,
                    &mut self.current,
                    &self.senders,
                    &self.pool,
                    |p| {
                        seen.packet(p.ts, p.wire_len);
                        shard_with_dns(p, n, home, dopts, scratch)
                    },
                    |payload| RegistrableHint::of(payload, dns),
                );
                opts.counters.input_bytes.store(self.source.bytes_read(), Ordering::Relaxed);
                return self.went(res, opts);
            }
        }
        let mut full: Vec<usize> = Vec::new();
        let mut delivered = 0usize;
        let (current, seen) = (&mut self.current, &mut self.seen);
        let res = self.source.read(crate::capture::BATCH_PACKETS, &mut |p| {
            delivered += 1;
            let (s, hint, payload) = shard_with_dns(p, n, home, dopts, scratch);
            current[s].push(p, hint);
            if let Some(h) = payload.and_then(|pl| RegistrableHint::of(pl, dns)) {
                current[s].push_registrable_hint(h);
            }
            seen.packet(p.ts, p.wire_len);
            if current[s].is_full() && !full.contains(&s) {
                full.push(s);
            }
        });
        for s in full {
            send_batch(&mut self.current[s], &self.senders[s], &self.pool);
        }
        opts.counters.input_bytes.store(self.source.bytes_read(), Ordering::Relaxed);
        if let Some(k) = self.source.stats() {
            opts.counters.kernel_received.store(k.received, Ordering::Relaxed);
            opts.counters.kernel_dropped.store(k.dropped + k.if_dropped, Ordering::Relaxed);
            if let Some(l) = &opts.live {
                l.set_kernel(k);
            }
        }
        // The source had no more packets ready (live timeout, a pipe waiting for its writer):
        // hand over partial batches now, for low latency.
        if matches!(res, Ok(true)) && delivered < crate::capture::BATCH_PACKETS {
            self.send_partial();
        }
        self.went(res, opts)
    }

    /// Whether reading goes on after `res`; an input error is kept for the summary.
    fn went(&mut self, res: Result<bool, CaptureError>, opts: &RunOptions) -> bool {
        match res {
            Ok(more) => more,
            // A read interrupted because we were asked to stop is not an input error.
            Err(_) if opts.stop.load(Ordering::Relaxed) => false,
            Err(e) => {
                self.input_error = Some(e);
                false
            }
        }
    }

    /// Whether a [`Reader::step`] can run without waiting for a worker: every queue can take
    /// what one step sends it (the batch filled before, the block's, the last) and a block is
    /// free. A worker reading in turn must never wait for another worker.
    fn ready(&self) -> bool {
        self.senders.iter().all(|s| s.len() + 3 <= BATCHES_PER_WORKER) && self.blocks.has_free()
    }

    /// Sends every batch that has packets.
    fn send_partial(&mut self) {
        for (b, tx) in self.current.iter_mut().zip(&self.senders) {
            if !b.is_empty() {
                send_batch(b, tx, &self.pool);
            }
        }
    }

    /// Hands the last batches over and closes the workers' queues.
    fn end(&mut self) {
        if !self.done {
            self.send_partial();
            self.senders.clear();
            self.done = true;
        }
    }
}

/// The capture file's blocks for sharding without a copy: at most [`BLOCKS_IN_FLIGHT`], made
/// when first needed. The capture thread keeps a reference to each and reads into one again
/// once no worker's batch points into it (each worker says when it let go of one).
struct BlockPool {
    blocks: Vec<Arc<Batch>>,
    /// A token per batch a worker let go of (a block may be free again).
    freed: Receiver<()>,
}

impl BlockPool {
    /// Whether [`BlockPool::take`] would return without waiting. (A worker's batch only ever
    /// lets go of its reference: a block free now stays free until the next `take`.)
    fn has_free(&self) -> bool {
        self.blocks.len() < BLOCKS_IN_FLIGHT
            || self.blocks.iter().any(|b| Arc::strong_count(b) == 1 && Arc::weak_count(b) == 0)
    }

    /// The index of a block no worker holds, waiting for one when all are in flight.
    fn take(&mut self) -> usize {
        loop {
            if let Some(i) = self.blocks.iter_mut().position(|b| Arc::get_mut(b).is_some()) {
                return i;
            }
            if self.blocks.len() < BLOCKS_IN_FLIGHT || self.freed.recv().is_err() {
                // (Every worker gone only if they panicked: carry on regardless.)
                self.blocks.push(Arc::new(Batch::default()));
                return self.blocks.len() - 1;
            }
        }
    }
}

/// Shards the packets of `block` (filled by [`PacketSource::fill_batch`]) to the workers'
/// batches by reference, `shard` giving each packet's worker, flow hint and DNS payload, whose
/// registrable hint `registrable` works out, and sends every batch that got packets.
fn shard_block(
    block: &Arc<Batch>,
    current: &mut [Batch],
    senders: &[Sender<Batch>],
    pool: &Pool,
    mut shard: impl for<'p> FnMut(&RawPacket<'p>) -> (usize, u64, Option<&'p [u8]>),
    mut registrable: impl FnMut(&[u8]) -> Option<RegistrableHint>,
) {
    // Packets copied in before (from a file libpcap read) go first.
    for (b, tx) in current.iter_mut().zip(senders) {
        if !b.is_empty() {
            send_batch(b, tx, pool);
        }
    }
    for m in &block.meta {
        let p = RawPacket { ts: m.ts, data: block.frame(m), wire_len: m.wire_len, link: m.link };
        let (s, hint, payload) = shard(&p);
        if let Some(b) = current.get_mut(s) {
            b.push_ref(block, m, hint);
            if let Some(h) = payload.and_then(&mut registrable) {
                b.push_registrable_hint(h);
            }
        }
    }
    for (b, tx) in current.iter_mut().zip(senders) {
        if !b.is_empty() {
            send_batch(b, tx, pool);
        }
    }
}

/// Empty batches, back from the workers.
struct Pool {
    batches: Receiver<Batch>,
    /// Wait for one when none is back (a capture thread); else make one (a worker reading in
    /// turn, which must not wait: with [`Reader::ready`] the pool is never empty then).
    wait: bool,
}

impl Pool {
    fn fresh(&self) -> Batch {
        let back = if self.wait { self.batches.recv().ok() } else { self.batches.try_recv().ok() };
        back.unwrap_or_else(Batch::empty)
    }
}

fn send_batch(b: &mut Batch, tx: &Sender<Batch>, pool: &Pool) {
    let fresh = pool.fresh();
    let mut full = std::mem::replace(b, fresh);
    full.sent_at = Some(Instant::now());
    let _ = tx.send(full);
}

/// A worker: processes its queue's batches until the queue is closed. Taking turns at reading
/// (`turns`), it reads the next block itself when its queue ran dry, and one ahead when it took
/// its last queued batch. It never waits for the reader's lock (a worker waiting for it while
/// its own queue fills would hold the blocks and queue slots the reader waits for): when
/// another worker is reading, or reading must wait for room, it waits for its own packets and
/// looks again after [`TURN_RETRY`].
fn work(
    mut w: Worker,
    mut link: WorkerLink<'_>,
    rx: Receiver<Batch>,
    pool: Sender<Batch>,
    freed: Sender<()>,
    turns: Option<&Mutex<Reader<'_>>>,
    opts: &RunOptions,
) -> (crate::worker::WorkerStats, hdrhistogram::Histogram<u64>) {
    let mut emit = link.emitter();
    loop {
        let mut batch = match (rx.try_recv(), turns) {
            (Ok(b), _) => b,
            (Err(TryRecvError::Disconnected), _) => break,
            (Err(TryRecvError::Empty), None) => match rx.recv() {
                Ok(b) => b,
                Err(_) => break,
            },
            (Err(TryRecvError::Empty), Some(reader)) => {
                if read_in_turn(reader, opts) {
                    // (At the end of input the queue is closed: the next look ends the loop.)
                    continue;
                }
                match rx.recv_timeout(TURN_RETRY) {
                    Ok(b) => b,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        if let Some(reader) = turns
            && rx.is_empty()
        {
            read_in_turn(reader, opts);
        }
        let bytes = w.process_batch(&batch, &mut emit);
        if let Some(t) = batch.sent_at {
            let _ = link.hist.record_n(t.elapsed().as_nanos() as u64, batch.len() as u64);
        }
        link.after_batch(&mut w, batch.len() as u64, bytes);
        if batch.release_block() {
            // A full channel already holds a wake-up for the capture thread.
            let _ = freed.try_send(());
        }
        batch.clear();
        let _ = pool.try_send(batch);
    }
    link.finish(w)
}

/// Reads the next block if nobody else is reading and it can be read without waiting
/// ([`Reader::ready`]); whether it did.
fn read_in_turn(reader: &Mutex<Reader<'_>>, opts: &RunOptions) -> bool {
    let mut r = match reader.try_lock() {
        Ok(r) => r,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    if r.done || !r.ready() {
        return false;
    }
    r.step(opts);
    true
}

/// Reads capture files with `config` and returns the alerts (the test seam).
pub fn run_capture(paths: &[PathBuf], config: &Config) -> Result<(Vec<Alert>, Summary), CaptureError> {
    let mut src = FileSource::new(paths.to_vec(), None)?;
    shared::collect(|sink| run(&mut src, config, sink, &RunOptions::default()))
}

#[cfg(test)]
mod light_tests;
#[cfg(test)]
mod share_tests;
