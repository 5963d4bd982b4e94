//! The capture thread's own ceiling: what it does for `siphon -r FILE --workers N` (read a block,
//! decode each frame for its flow hint and shard, add it to its worker's batch by reference, as
//! the pipeline does for a classic pcap) with the batches thrown away instead of sent, so no
//! worker sets the pace:
//! `cargo run --release --example capture_ceiling -- FILE [N]` (N = 2 by default; prints the
//! best of `SIPHON_ROUNDS` runs, 3, in wall and in CPU time). `SIPHON_COPY=1` copies each packet
//! into its worker's batch instead (what the pipeline did before, and still does for files
//! libpcap reads).

use siphon::Config;
use siphon::HomeNet;
use siphon::input::FileSource;
use siphon::input::{BATCH_PACKETS, Batch, PacketSource};
use std::sync::Arc;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or_else(|| anyhow::anyhow!("usage: capture_ceiling FILE [WORKERS]"))?;
    let n: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2).max(2);
    let config = Config::default();
    let home = HomeNet::new(config.general.home_net.clone());
    let opts = siphon::running::decode_options(&config);
    let rounds: usize = std::env::var("SIPHON_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let copy = std::env::var("SIPHON_COPY").is_ok_and(|v| v == "1");
    let (mut best, mut best_cpu, mut packets) = (f64::MAX, f64::MAX, 0u64);
    for _ in 0..rounds {
        let mut src = FileSource::new(vec![path.into()], None)?;
        let mut current: Vec<Batch> = (0..n).map(|_| Batch::default()).collect();
        let mut scratch = siphon::decoding::Anomalies::default();
        let mut per = vec![0u64; n];
        let t = Instant::now();
        let c = cpu_secs();
        let mut block = Arc::new(Batch::default());
        loop {
            if !copy && let Some(res) = Arc::get_mut(&mut block).and_then(|b| src.fill_batch(b)) {
                for m in &block.meta {
                    let p = siphon::input::RawPacket {
                        ts: m.ts,
                        data: block.frame(m),
                        wire_len: m.wire_len,
                        link: m.link,
                    };
                    let (s, hint) = siphon::running::shard_of(&p, n, &home, &opts, &mut scratch);
                    current[s].push_ref(&block, m, hint);
                    per[s] += 1;
                }
                for b in &mut current {
                    std::hint::black_box(&*b);
                    b.clear();
                }
                if !res? {
                    break;
                }
                continue;
            }
            let more = src.read(BATCH_PACKETS, &mut |p| {
                let (s, hint) = siphon::running::shard_of(p, n, &home, &opts, &mut scratch);
                current[s].push(p, hint);
                per[s] += 1;
                if current[s].is_full() {
                    std::hint::black_box(&current[s]);
                    current[s].clear();
                }
            })?;
            if !more {
                break;
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_secs() - c);
        packets = per.iter().sum();
        println!("packets per shard: {per:?}");
    }
    println!(
        "{packets} packets sharded {n} ways ({}): best {best:.3} s, {:.0} ns/packet, {:.2} Mpkt/s; CPU best {best_cpu:.3} s, {:.0} ns/packet, {:.2} Mpkt/s",
        if copy { "copied" } else { "by reference" },
        best * 1e9 / packets as f64,
        packets as f64 / best / 1e6,
        best_cpu * 1e9 / packets as f64,
        packets as f64 / best_cpu / 1e6
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
