//! How the worker's cost per packet grows with concurrent flows and with capture duration
//! (issue 25; run on demand, not in CI):
//!
//! ```sh
//! cargo bench --bench growth                  # both tables
//! SIPHON_GROWTH=flows cargo bench --bench growth
//! SIPHON_GROWTH=duration cargo bench --bench growth
//! ```
//!
//! One worker with every detector, packets replayed from memory as `worker_replay` does (the
//! flow hints set as the capture thread sets them), the packets generated in chunks between
//! timed stretches so generation is never timed.
//!
//! - **flows**: N concurrent TCP sessions (N = 10 k, 100 k, 1 M; mid-stream, 200-byte segments
//!   both ways, 4,000 home hosts). A first round gives every session one packet (creation,
//!   reported apart); then rounds in a fresh random order, each session one packet per round,
//!   until at least 2 M packets: the steady-state ns per packet. A round is 200 ms of capture
//!   time whatever N (each session sends 5 packets a second; the packet rate grows with N, 50 k
//!   to 5 M packets per second of capture time), so the per-flow work per packet (volume
//!   hand-overs once a second) is the same and what grows is the cost of holding N flows. `flow.max_flows` is raised to 2 M and `memory.cap` to 8 GiB, so that what
//!   is measured is the cost of holding the flows, not of evicting them.
//! - **duration**: the pipeline bench's day profile (`siphon::synth::day`) over 600 s of
//!   capture time, ns per packet for each minute, with the flows open at the minute's end.

use etherparse::PacketBuilder;
use siphon::Config;
use siphon::Timestamp;
use siphon::decoding::{Anomalies, LinkType};
use siphon::input::PcapWriter;
use siphon::input::{Batch, RawPacket};
use siphon::running::{Worker, decode_options, flow_hint};
use siphon::synth::Rng;
use siphon::synth::day::{DayProfile, DayTraffic};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Packets per generated chunk (generated, then replayed and timed).
const CHUNK: usize = 262_144;

/// Frames of one chunk, batched as the capture thread batches them.
fn batches(frames: &[(u64, Vec<u8>)]) -> Vec<Batch> {
    let opts = decode_options(&Config::default());
    let mut scratch = Anomalies::default();
    let mut out = Vec::new();
    let mut b = Batch::default();
    for (ts, f) in frames {
        let p = RawPacket { ts: Timestamp(*ts), data: f, wire_len: f.len() as u32, link: LinkType::Ethernet };
        b.push(&p, flow_hint(LinkType::Ethernet, f, &opts, &mut scratch));
        if b.is_full() {
            out.push(std::mem::take(&mut b));
        }
    }
    if !b.is_empty() {
        out.push(b);
    }
    out
}

/// Replays `bs` through `w`; returns the seconds it took.
fn replay(w: &mut Worker, bs: &[Batch]) -> f64 {
    let t = Instant::now();
    for b in bs {
        w.process_batch(b, &mut |a| {
            std::hint::black_box(a);
        });
    }
    t.elapsed().as_secs_f64()
}

/// One packet of session `i` of `n`: home host, external server and ports from `i`.
fn session_packet(i: u32, round: u32, out: &mut Vec<u8>) {
    let h = i % 4000;
    let home = [10, 1 + (h >> 8) as u8, h as u8, 10];
    let s = (i / 4000) % 500;
    let server = if s.is_multiple_of(2) {
        [198, 51, 100, (s / 2) as u8 + 1]
    } else {
        [203, 0, 113, (s / 2) as u8 + 1]
    };
    // (home, server) pairs are distinct up to 2 M sessions.
    let sport = 40_000;
    let seq = round.wrapping_mul(200);
    let b = if round.is_multiple_of(2) {
        PacketBuilder::ethernet2([2; 6], [4; 6]).ipv4(home, server, 64).tcp(sport, 443, seq, 64240).ack(seq)
    } else {
        PacketBuilder::ethernet2([4; 6], [2; 6]).ipv4(server, home, 64).tcp(443, sport, seq, 64240).ack(seq)
    };
    out.clear();
    let _ = b.psh().write(out, &[0x17; 200]);
}

fn flows_table(config: &Config) {
    println!("concurrent flows: one worker, every detector; ns per packet");
    println!("{:>10} {:>14} {:>14} {:>12} {:>10}", "flows", "creation ns", "steady ns", "packets", "vs 10k");
    let mut base = 0.0;
    for n in [10_000u32, 100_000, 1_000_000] {
        let mut w = Worker::new(config);
        let mut rng = Rng::new(u64::from(n));
        let mut ts = 1_700_000_000_000_000_000u64;
        let (mut created, mut create_secs, mut steady, mut steady_secs) = (0u64, 0.0, 0u64, 0.0);
        let rounds = (2_000_000 / n).max(1) + 1;
        let mut order: Vec<u32> = (0..n).collect();
        let mut frames: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK);
        for round in 0..=rounds {
            if round > 0 {
                // A fresh order each round (Fisher-Yates).
                for k in (1..order.len()).rev() {
                    order.swap(k, rng.below(k as u64 + 1) as usize);
                }
            }
            for chunk in order.chunks(CHUNK) {
                frames.clear();
                for &i in chunk {
                    let mut f = Vec::with_capacity(270);
                    session_packet(i, round, &mut f);
                    ts += 200_000_000 / u64::from(n); // a round is 200 ms of capture time
                    frames.push((ts, f));
                }
                let bs = batches(&frames);
                let secs = replay(&mut w, &bs);
                if round == 0 {
                    (created, create_secs) = (created + chunk.len() as u64, create_secs + secs);
                } else {
                    (steady, steady_secs) = (steady + chunk.len() as u64, steady_secs + secs);
                }
            }
        }
        w.refresh_stats();
        let (c, s) = (create_secs * 1e9 / created as f64, steady_secs * 1e9 / steady as f64);
        if n == 10_000 {
            base = s;
        }
        println!("{n:>10} {c:>14.0} {s:>14.0} {steady:>12} {:>9.2}x", s / base);
        let open = w.stats.flows.created - w.stats.flows.expired - w.stats.flows.evicted;
        assert!(open >= u64::from(n) * 9 / 10, "flows held: {}", w.stats.flows.created);
    }
}

fn duration_table(config: &Config) {
    println!("capture duration: the day profile over 600 s; ns per packet per minute of capture time");
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>14}",
        "minute", "packets", "ns/packet", "flows open", "flows created"
    );
    let start = 1_700_000_000_000_000u64;
    let mut g = DayTraffic::new(0xda7, DayProfile { span_secs: 600, ..DayProfile::default() }, start);
    let mut w = Worker::new(config);
    let mut frames: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK);
    let mut minute = 0u64;
    let (mut pkts, mut secs) = (0u64, 0.0);
    let (mut all_pkts, mut all_secs) = (0u64, 0.0);
    let mut more = true;
    while more {
        frames.clear();
        let mut f = Vec::with_capacity(1600);
        while frames.len() < CHUNK {
            more = g.next_frame(&mut f);
            if !more {
                break;
            }
            let m = (g.ts_micros - start) / 60_000_000;
            if m != minute && !frames.is_empty() {
                // Close the chunk at the minute's boundary, keeping this frame for the next.
                let bs = batches(&frames);
                secs += replay(&mut w, &bs);
                pkts += frames.len() as u64;
                frames.clear();
            }
            if m != minute {
                w.refresh_stats();
                let open = w.stats.flows.created - w.stats.flows.expired - w.stats.flows.evicted;
                println!(
                    "{:>8} {pkts:>10} {:>10.0} {open:>12} {:>14}",
                    minute + 1,
                    secs * 1e9 / pkts.max(1) as f64,
                    w.stats.flows.created
                );
                (all_pkts, all_secs) = (all_pkts + pkts, all_secs + secs);
                (pkts, secs, minute) = (0, 0.0, m);
            }
            frames.push((g.ts_micros * 1000, f.clone()));
        }
        if !frames.is_empty() {
            let bs = batches(&frames);
            secs += replay(&mut w, &bs);
            pkts += frames.len() as u64;
        }
    }
    w.refresh_stats();
    let open = w.stats.flows.created - w.stats.flows.expired - w.stats.flows.evicted;
    println!(
        "{:>8} {pkts:>10} {:>10.0} {open:>12} {:>14}",
        minute + 1,
        secs * 1e9 / pkts.max(1) as f64,
        w.stats.flows.created
    );
    (all_pkts, all_secs) = (all_pkts + pkts, all_secs + secs);
    println!("all {all_pkts} packets: {:.0} ns/packet", all_secs * 1e9 / all_pkts.max(1) as f64);
    // A copy of the first minute for siphon -r, if asked (to compare with the pipeline bench).
    if let Ok(p) = std::env::var("SIPHON_GROWTH_WRITE") {
        let mut g = DayTraffic::new(0xda7, DayProfile { span_secs: 600, ..DayProfile::default() }, start);
        let mut w = PcapWriter::new(std::io::BufWriter::new(std::fs::File::create(p).expect("create")))
            .expect("pcap");
        let mut f = Vec::new();
        while g.next_frame(&mut f) {
            w.write(g.ts_micros, &f, usize::MAX).expect("write");
        }
        w.finish().expect("finish");
    }
}

fn main() {
    let which = std::env::var("SIPHON_GROWTH").unwrap_or_default();
    if which.is_empty() || which == "flows" {
        let set = ["flow.max_flows=2000000".to_owned(), "memory.cap=8GiB".to_owned()];
        flows_table(&Config::load(None, &set).expect("config"));
    }
    if which.is_empty() || which == "duration" {
        duration_table(&Config::default());
    }
}
