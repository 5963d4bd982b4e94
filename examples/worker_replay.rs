//! Replays a capture through one worker, from memory, to measure the worker alone (no capture
//! thread, no channels): `cargo run --release --example worker_replay -- FILE [PACKETS]`.
//! `SIPHON_OFF=scan,egress` disables detectors; prints the best of `SIPHON_ROUNDS` runs (3), in
//! wall and in CPU time (the figure to use on a loaded machine), and the worker's peak heap.

use siphon::Config;
use siphon::input::FileSource;
use siphon::input::{Batch, PacketSource};
use siphon::running::Worker;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

// The binary's allocator (src/main.rs), so the figures are the binary's, wrapped to report the
// worker's peak heap (live bytes; pages touched are more).
#[global_allocator]
static GLOBAL: Counting = Counting;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to mimalloc unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let now = LIVE.fetch_add(new, Relaxed) + new;
        PEAK.fetch_max(now, Relaxed);
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or_else(|| anyhow::anyhow!("usage: worker_replay FILE [PACKETS]"))?;
    let limit: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    let mut src = FileSource::new(vec![path.into()], None)?;
    let mut batches = Vec::new();
    let mut packets = 0;
    while packets < limit {
        let mut b = Batch::default();
        match src.fill_batch(&mut b) {
            Some(Ok(more)) => {
                packets += b.len();
                batches.push(b);
                if !more {
                    break;
                }
            }
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("{path}: not a classic pcap file"),
        }
    }
    // As the reading side does: each packet's flow hint (and a DNS message's registrable
    // domain), worked out before the worker's turn.
    let opts = siphon::running::decode_options(&Config::default());
    for b in &mut batches {
        siphon::running::hint_batch(b, &opts);
    }
    let off: Vec<String> = std::env::var("SIPHON_OFF")
        .unwrap_or_default()
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{d}.enabled=false"))
        .collect();
    let config = Config::load(None, &off)?;
    let rounds: usize = std::env::var("SIPHON_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut peak = 0;
    for _ in 0..rounds {
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let mut w = Worker::new(&config);
        let t = Instant::now();
        let c = cpu_secs();
        for b in &batches {
            w.process_batch(b, &mut |a| {
                std::hint::black_box(a);
            });
        }
        w.finish(&mut |a| {
            std::hint::black_box(a);
        });
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_secs() - c);
        peak = PEAK.load(Relaxed) - base;
    }
    println!(
        "{packets} packets: best {best:.3} s, {:.0} ns/packet; CPU best {best_cpu:.3} s, {:.0} ns/packet; worker's peak heap {:.1} MiB",
        best * 1e9 / packets as f64,
        best_cpu * 1e9 / packets as f64,
        peak as f64 / (1 << 20) as f64
    );
    Ok(())
}

/// This process's CPU time (user + system), seconds: on a machine shared with other jobs it
/// moves far less with the load than the wall clock does.
fn cpu_secs() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the plain struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}
