//! The hot path (decode → flow state → app layer → detectors) allocates nothing per packet in
//! steady state: after a warm-up pass over realistic mixed traffic, a second pass over the same
//! sessions' packets is counted with a counting global allocator.

use siphon::Config;
use siphon::Timestamp;
use siphon::decoding::LinkType;
use siphon::running::Worker;
use siphon::synth::MixedTraffic;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_packets_do_not_allocate() {
    // The synthetic sessions restart on a fixed cadence: a beacon by definition, and an alert
    // allocates by design (once per episode, not per packet). A score threshold above 1 keeps
    // every beacon code path (check-ins, series, scoring) but the alert itself.
    let config = Config::load(None, &["beacon.score_threshold=1.01".into()]).expect("config");
    let mut w = Worker::new(&config);
    // Frames of a fixed set of long-running sessions (ping, DNS to known names, bulk data).
    let mut g = MixedTraffic::new(3, 500, 1_700_000_000_000_000);
    let frames: Vec<Vec<u8>> = (0..200_000)
        .map(|_| {
            let mut f = Vec::new();
            g.next_frame(&mut f);
            f
        })
        .collect();
    let mut t = 1_700_000_000u64 * 1_000_000_000;
    let mut sink = |_a: siphon::Alert| {};
    // Warm-up: tables, pools and buffers reach their working size. Packets are 10 ms apart, so
    // the run spans ~33 minutes of packet time: flows and DNS groups expire and are reused.
    for f in &frames[..150_000] {
        t += 10_000_000;
        w.process(Timestamp(t), LinkType::Ethernet, f, f.len() as u32, &mut sink);
    }
    // Measure the last 50k packets: sessions continue, new ones start as old ones end.
    COUNTING.store(true, Ordering::Relaxed);
    for f in &frames[150_000..] {
        t += 10_000_000;
        w.process(Timestamp(t), LinkType::Ethernet, f, f.len() as u32, &mut sink);
    }
    COUNTING.store(false, Ordering::Relaxed);
    let n = ALLOCS.load(Ordering::Relaxed);
    // New sessions may allocate (a flow-table insert that grows, a TLS buffer from an empty
    // pool); per packet it must be far below one.
    let per_packet = n as f64 / 50_000.0;
    println!("allocations in 50000 steady-state packets: {n} ({per_packet:.4}/packet)");
    assert!(per_packet < 0.001, "{n} allocations in 50000 packets");
}
