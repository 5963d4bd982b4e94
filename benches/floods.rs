//! Hostile-input benchmark (issue 19; run on demand, not in CI):
//!
//! ```sh
//! cargo bench --bench floods                 # SIPHON_BENCH_ROUNDS=3 by default
//! SIPHON_BENCH_GENERATE_ONLY=1 cargo bench --bench floods   # only write the files (profiling)
//! SIPHON_BIN=$(scripts/build-pgo.sh) cargo bench --bench floods   # the PGO build (README)
//! ```
//!
//! Generates each flood deterministically (`target/bench/flood-*.pcap`), then per file runs a
//! bare libpcap read loop and `siphon -r` alternately (after one discarded warm-up of each),
//! and prints the best time of each, siphon's time as a multiple of the bare loop's, and its
//! peak RSS. The floods: 1 M SYNs from random sources, 1 M random subdomains under one domain,
//! 1 M one-packet UDP flows, 100 k random-payload echo requests, 200,000 16-byte fragments of
//! one datagram beside 200,000 plain UDP packets of the same size, and all of them plus 3,000
//! DNS groups of 100 tunnel-like names each in one file, read with `--workers 2` (and again under
//! `memory.cap=64MiB`).

use etherparse::PacketBuilder;
use siphon::input::PcapWriter;
use siphon::synth::Rng;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Gen = Box<dyn FnMut(u32, &mut Vec<u8>)>;
/// A flood file: name, packets, generator.
type Flood = (&'static str, u32, fn() -> Gen);

fn write(path: &Path, n: u32, mut frame: impl FnMut(u32, &mut Vec<u8>)) {
    let f = std::fs::File::create(path).expect("create");
    let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, f)).expect("writer");
    let mut buf = Vec::with_capacity(256);
    for i in 0..n {
        buf.clear();
        frame(i, &mut buf);
        // 100k packets per second of capture time.
        w.write(1_700_000_000_000_000 + u64::from(i) * 10, &buf, usize::MAX).expect("write");
    }
    w.finish().expect("finish");
}

fn syn(seed: u64) -> Gen {
    let mut rng = Rng::new(seed);
    Box::new(move |i, out| {
        let src = (rng.next_u64() as u32 | 0x0100_0000).to_be_bytes();
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, [10, 0, 0, 5], 64);
        b.tcp(1024 + (i % 60000) as u16, 80, i, 1024).syn().write(out, &[]).expect("syn");
    })
}

fn subdomains(seed: u64) -> Gen {
    let mut rng = Rng::new(seed);
    Box::new(move |i, out| {
        let label: String = (0..40)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[rng.below(32) as usize]))
            .collect();
        let q = siphon::synth::dns_message(i as u16, &format!("{label}.flood.example.com"), false);
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 7], [198, 51, 100, 53], 64);
        b.udp(30000 + (i % 30000) as u16, 53).write(out, &q).expect("dns");
    })
}

fn udp_flows(seed: u64) -> Gen {
    let mut rng = Rng::new(seed);
    Box::new(move |_, out| {
        let src = (rng.next_u64() as u32 | 0x0100_0000).to_be_bytes();
        let (sp, dp) = (rng.below(65535) as u16 + 1, rng.below(65535) as u16 + 1);
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, [10, 0, 0, 11], 64);
        b.udp(sp, dp).write(out, &[0x42; 32]).expect("udp");
    })
}

fn echoes(seed: u64) -> Gen {
    let mut rng = Rng::new(seed);
    Box::new(move |i, out| {
        let payload: Vec<u8> = (0..64).map(|_| rng.next_u64() as u8).collect();
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 9], [203, 0, 113, 9], 64);
        b.icmpv4_echo_request(7, i as u16).write(out, &payload).expect("echo");
    })
}

/// 16-byte fragments of one datagram (10.0.0.13 → 203.0.113.13, id 0x4242): 4,095 distinct
/// offsets, then duplicates; never complete.
fn fragments() -> Gen {
    Box::new(move |i, out| {
        let off = (i % 4095) * 2; // in 8-byte units
        let mut ip = vec![0x45, 0, 0, 36, 0x42, 0x42, 0x20 | (off >> 8) as u8, off as u8, 64, 17, 0, 0];
        ip.extend_from_slice(&[10, 0, 0, 13, 203, 0, 113, 13]);
        ip.extend_from_slice(&[0x5a; 16]);
        out.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        out.extend_from_slice(&ip);
    })
}

/// Plain UDP packets the size of [`fragments`]' (50-byte frames), in 64 flows.
fn plain_like_fragments() -> Gen {
    Box::new(move |i, out| {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([10, 0, 0, 13], [203, 0, 113, 13], 64);
        b.udp(40000 + (i % 64) as u16, 9999).write(out, &[0x5a; 8]).expect("udp");
    })
}

/// 3,000 clients each querying 100 distinct tunnel-like names under its own domain.
fn dns_groups() -> Gen {
    Box::new(move |i, out| {
        let (client, k) = (i % 3000, i / 3000);
        let name =
            format!("{:060x}.{k}.g{client}.example.net", u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let q = siphon::synth::dns_message(i as u16, &name, false);
        let src = [10, 1, (client >> 8) as u8, client as u8];
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, [198, 51, 100, 53], 64);
        b.udp(30000 + (k % 30000) as u16, 53).write(out, &q).expect("dns");
    })
}

fn bare_loop(path: &Path) -> (u64, f64) {
    let mut cap = pcap::Capture::from_file(path).expect("open");
    let t = Instant::now();
    let mut n = 0u64;
    while let Ok(p) = cap.next_packet() {
        n += 1;
        std::hint::black_box(p.data);
    }
    (n, t.elapsed().as_secs_f64())
}

/// The siphon binary measured: `SIPHON_BIN` (the PGO build, `scripts/build-pgo.sh`), else the
/// one cargo built for this bench.
fn siphon_bin() -> PathBuf {
    std::env::var_os("SIPHON_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_siphon")), PathBuf::from)
}

fn run_siphon(path: &Path, extra: &[&str]) -> (f64, u64) {
    let t = Instant::now();
    let mut child = std::process::Command::new(siphon_bin())
        .args(["-q", "-r"])
        .arg(path)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn siphon");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let _ = child.try_wait(); // already reaped by wait4
    (t.elapsed().as_secs_f64(), ru.ru_maxrss as u64 * 1024)
}

/// Best bare and siphon times over alternating rounds, and siphon's peak RSS.
fn measure(path: &Path, extra: &[&str], rounds: usize) -> (u64, f64, f64, u64) {
    let _ = bare_loop(path);
    let (_, mut rss) = run_siphon(path, extra);
    let (mut n, mut bare, mut ours) = (0, f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let (pn, b) = bare_loop(path);
        let (s, r) = run_siphon(path, extra);
        (n, bare, ours, rss) = (pn, bare.min(b), ours.min(s), rss.max(r));
    }
    (n, bare, ours, rss)
}

fn main() {
    let rounds: usize = std::env::var("SIPHON_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let files: Vec<Flood> = vec![
        ("syn", 1_000_000, || syn(1)),
        ("subdomains", 1_000_000, || subdomains(2)),
        ("udp_flows", 1_000_000, || udp_flows(3)),
        ("echoes", 100_000, || echoes(4)),
        ("fragments", 200_000, fragments),
        ("plain_like_fragments", 200_000, plain_like_fragments),
        ("dns_groups", 300_000, dns_groups),
    ];
    let mut paths = Vec::new();
    for (name, n, make) in &files {
        let p = dir.join(format!("flood-{name}.pcap"));
        if !p.exists() {
            write(&p, *n, make());
        }
        paths.push((*name, p));
    }
    // Everything interleaved in one file, for the memory figure with two workers.
    let combined = dir.join("flood-combined.pcap");
    if !combined.exists() {
        let mut gens: Vec<(u32, Gen)> = files
            .iter()
            .filter(|(name, ..)| *name != "plain_like_fragments")
            .map(|(_, n, make)| (*n, make()))
            .collect();
        let total: u32 = gens.iter().map(|g| g.0).sum();
        let mut counters = vec![0u32; gens.len()];
        let mut k = 0usize;
        write(&combined, total, |_, out| {
            loop {
                k = (k + 1) % gens.len();
                if counters[k] < gens[k].0 {
                    (gens[k].1)(counters[k], out);
                    counters[k] += 1;
                    return;
                }
            }
        });
    }
    if std::env::var_os("SIPHON_BENCH_GENERATE_ONLY").is_some() {
        println!("flood files in {}", dir.display());
        return;
    }
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    println!("siphon: {}", siphon_bin().display());
    println!(
        "{rounds} alternating rounds per file, best of each; siphon -q -r FILE (default --workers: {workers}, one per core)"
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>7} {:>9}",
        "flood", "packets", "bare s", "siphon s", "x bare", "RSS MiB"
    );
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let mut plain = 0.0;
    for (name, p) in &paths {
        let (n, bare, ours, rss) = measure(p, &[], rounds);
        println!("{name:<22} {n:>9} {bare:>9.3} {ours:>9.3} {:>7.2} {:>9.1}", ours / bare, mib(rss));
        if *name == "plain_like_fragments" {
            plain = ours;
        }
    }
    let (_, _, frag, _) = measure(&dir.join("flood-fragments.pcap"), &[], rounds);
    println!("fragments vs plain packets of the same size (siphon time): {:.2}x", frag / plain);
    let every = ["--set", "flow.max_fragments_per_datagram=65535"];
    let (_, _, frag_all, _) = measure(&dir.join("flood-fragments.pcap"), &every, rounds);
    println!(
        "  the same with max_fragments_per_datagram=65535 (every fragment through the bitmap): {:.2}x",
        frag_all / plain
    );
    let (n, bare, ours, rss) = measure(&combined, &["--workers", "2"], rounds);
    println!(
        "combined ({n} packets) --workers 2: bare {bare:.3}s, siphon {ours:.3}s ({:.2}x), peak RSS {:.1} MiB",
        ours / bare,
        mib(rss)
    );
    // A tighter budget must mean less memory, not more (shedding once reallocated the flow slab).
    let (_, _, ours, rss) = measure(&combined, &["--workers", "2", "--set", "memory.cap=64MiB"], rounds);
    println!(
        "combined --workers 2 --set memory.cap=64MiB: siphon {ours:.3}s ({:.2}x), peak RSS {:.1} MiB",
        ours / bare,
        mib(rss)
    );
}
