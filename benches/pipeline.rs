//! Whole-pipeline benchmark (run on demand, not in CI):
//!
//! ```sh
//! cargo bench --bench pipeline            # SIPHON_BENCH_BYTES=1000000000 by default
//! SIPHON_BIN=$(scripts/build-pgo.sh) cargo bench --bench pipeline   # the PGO build (README)
//! ```
//!
//! Two profiles, each generated once deterministically into `target/bench/` and reused:
//!
//! - `mixed`: ~1 GB of interleaved TLS/HTTP sessions, DNS, ping and QUIC-like UDP in 7.4 s of
//!   capture time (`siphon::synth::MixedTraffic`);
//! - `day`: an office's day, 180 s of capture time with sessions starting and ending
//!   throughout, 2,500 dual-stack home hosts, VLAN tags, DNS at ~5 % of packets with CNAME
//!   chains, NXDOMAIN and EDNS, QUIC, long TLS sessions and uploads
//!   (`siphon::synth::day::DayTraffic`).
//!
//! On each file it runs a bare libpcap read loop (the reference) and `siphon -r` with every
//! detector, each once first and discarded (warm-up), then alternating
//! (`SIPHON_BENCH_ROUNDS`, default 7), and prints each round, the best and the median of the
//! per-round ratios, packets/s and siphon's peak RSS over every run, then one line per profile,
//! and the round trip of a cache line between the first two CPUs before, between and after
//! the profiles (on a VM whose vCPUs the host moves between last-level caches, the phase each
//! profile ran in).
//! `SIPHON_BENCH_WORKERS` sets `--workers` (default: siphon's own default, one per core); `SIPHON_BENCH_PROFILE=mixed|day` runs
//! one profile only.

use siphon::input::PcapWriter;
use siphon::synth::MixedTraffic;
use siphon::synth::day::{DayProfile, DayTraffic};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn generate(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let f = std::fs::File::create(path)?;
    let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, f))?;
    let mut g = MixedTraffic::new(0x5eed, 4000, 1_700_000_000_000_000);
    let mut frame = Vec::with_capacity(1600);
    let mut written = 24u64;
    let mut n = 0u64;
    while written < bytes {
        g.next_frame(&mut frame);
        w.write(g.ts_micros, &frame, usize::MAX)?;
        written += 16 + frame.len() as u64;
        n += 1;
    }
    w.finish()?;
    Ok(n)
}

fn generate_day(path: &Path) -> std::io::Result<u64> {
    let f = std::fs::File::create(path)?;
    let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, f))?;
    let mut g = DayTraffic::new(0xda7, DayProfile::default(), 1_700_000_000_000_000);
    let mut frame = Vec::with_capacity(1600);
    let mut n = 0u64;
    while g.next_frame(&mut frame) {
        w.write(g.ts_micros, &frame, usize::MAX)?;
        n += 1;
    }
    w.finish()?;
    eprintln!("day: {} sessions started", g.sessions_started);
    Ok(n)
}

/// CPU seconds (user + system) in `ru`.
fn cpu(ru: &libc::rusage) -> f64 {
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds this process used so far.
fn own_cpu() -> f64 {
    // SAFETY: getrusage fills a plain-data struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    cpu(&ru)
}

/// Packets, bytes, wall seconds and CPU seconds of a bare libpcap read loop over `path`.
fn bare_loop(path: &Path) -> (u64, u64, f64, f64) {
    let mut cap = pcap::Capture::from_file(path).expect("open");
    let (t, c) = (Instant::now(), own_cpu());
    let (mut n, mut b) = (0u64, 0u64);
    while let Ok(p) = cap.next_packet() {
        n += 1;
        b += u64::from(p.header.len);
    }
    (n, b, t.elapsed().as_secs_f64(), own_cpu() - c)
}

/// The siphon binary measured: `SIPHON_BIN` (the PGO build, `scripts/build-pgo.sh`), else the
/// one cargo built for this bench.
fn siphon_bin() -> PathBuf {
    std::env::var_os("SIPHON_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_siphon")), PathBuf::from)
}

/// The round trip of a cache line between the first two CPUs the process may run on (two
/// threads pinned there passing a counter back and forth), in ns; `None` with one CPU.
fn core_round_trip_ns() -> Option<f64> {
    use siphon::running::{allowed_cpus, pin_current_thread};
    use std::sync::atomic::{AtomicU64, Ordering};
    let cpus = allowed_cpus();
    let (&a, &b) = (cpus.first()?, cpus.get(1)?);
    const TRIPS: u64 = 200_000;
    let flag = AtomicU64::new(0);
    let elapsed = std::thread::scope(|s| {
        s.spawn(|| {
            let _ = pin_current_thread(b);
            for i in 0..TRIPS {
                while flag.load(Ordering::Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                flag.store(2 * i + 2, Ordering::Release);
            }
        });
        s.spawn(|| {
            let _ = pin_current_thread(a);
            let t = Instant::now();
            for i in 0..TRIPS {
                flag.store(2 * i + 1, Ordering::Release);
                while flag.load(Ordering::Acquire) != 2 * i + 2 {
                    std::hint::spin_loop();
                }
            }
            t.elapsed()
        })
        .join()
        .ok()
    })?;
    Some(elapsed.as_secs_f64() * 1e9 / TRIPS as f64)
}

/// Wall seconds, peak RSS, CPU seconds (all threads) and stderr of `siphon -r path`.
fn run_siphon(path: &Path, extra: &[&str]) -> (f64, u64, f64, String) {
    let t = Instant::now();
    let mut child = std::process::Command::new(siphon_bin())
        .args(["-r"])
        .arg(path)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn siphon");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let secs = t.elapsed().as_secs_f64();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.try_wait(); // already reaped by wait4
    (secs, ru.ru_maxrss as u64 * 1024, cpu(&ru), err)
}

/// One profile's figures.
struct Outcome {
    name: &'static str,
    packets: u64,
    bare_best: f64,
    siphon_best: f64,
    median: f64,
    rss: u64,
    /// Median CPU ns per packet: bare loop, siphon (all its threads).
    cpu_ns: (f64, f64),
}

fn measure(name: &'static str, path: &Path, workers: Option<&str>, rounds: usize) -> Outcome {
    // Warm-up, discarded: the page cache, so both readers see the same storage, and the
    // memory a new process gets (on a VM the first touch of pages the host took back is slow,
    // and only siphon keeps tables).
    let _ = bare_loop(path);
    let args: Vec<&str> = workers.map_or_else(Vec::new, |w| vec!["--workers", w]);
    let (warm_secs, warm_rss, _, _) = run_siphon(path, &args);
    // Alternate the two readers, so that a machine whose speed drifts (a VM) slows both alike;
    // keep each one's best time, and the ratio of every pair.
    let (mut n, mut b) = (0, 0);
    let (mut bare_best, mut siphon_best, mut rss_max) = (f64::MAX, f64::MAX, warm_rss);
    let mut ratios = Vec::new();
    let mut times = Vec::new();
    let (mut bare_cpu, mut siphon_cpu) = (Vec::new(), Vec::new());
    let mut err = String::new();
    for _ in 0..rounds {
        let (pn, pb, bare_secs, bc) = bare_loop(path);
        (n, b) = (pn, pb);
        let (secs, rss, sc, e) = run_siphon(path, &args);
        bare_cpu.push(bc);
        siphon_cpu.push(sc);
        bare_best = bare_best.min(bare_secs);
        siphon_best = siphon_best.min(secs);
        rss_max = rss_max.max(rss);
        ratios.push(bare_secs / secs);
        times.push(format!("{bare_secs:.3}/{secs:.3}"));
        err = e;
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0) * 1e9 / n.max(1) as f64
    };
    let cpu_ns = (med(&mut bare_cpu), med(&mut siphon_cpu));
    let mpps = |secs: f64| n as f64 / secs / 1e6;
    let gbps = |secs: f64| b as f64 * 8.0 / secs / 1e9;
    println!("== profile {name}: {}", path.display());
    println!("capture: {} packets, {:.2} GB, avg {:.0} B/packet", n, b as f64 / 1e9, b as f64 / n as f64);
    println!("{rounds} alternating rounds, best of each:");
    println!(
        "bare libpcap loop: {:.3}s  {:.2} Mpkt/s  {:.2} Gbit/s",
        bare_best,
        mpps(bare_best),
        gbps(bare_best)
    );
    println!(
        "siphon -r (--workers {}): {:.3}s  {:.2} Mpkt/s  {:.2} Gbit/s  peak RSS {:.1} MiB",
        workers.unwrap_or("default"),
        siphon_best,
        mpps(siphon_best),
        gbps(siphon_best),
        rss_max as f64 / (1 << 20) as f64
    );
    println!(
        "ratio siphon/bare: {:.1}% of the bare loop's packets/s (best vs best); per round: median {:.1}%, {}",
        100.0 * bare_best / siphon_best,
        100.0 * median,
        ratios.iter().map(|r| format!("{:.1}%", 100.0 * r)).collect::<Vec<_>>().join(" ")
    );
    println!("rounds in order, bare/siphon seconds: {} (siphon's warm-up: {warm_secs:.3})", times.join(" "));
    println!(
        "CPU time per packet, median: bare loop {:.0} ns, siphon {:.0} ns (all threads; what load does not inflate)",
        cpu_ns.0, cpu_ns.1
    );
    eprintln!("{err}");
    Outcome { name, packets: n, bare_best, siphon_best, median, rss: rss_max, cpu_ns }
}

fn main() {
    let bytes: u64 =
        std::env::var("SIPHON_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let which = std::env::var("SIPHON_BENCH_PROFILE").unwrap_or_default();
    let mut files: Vec<(&'static str, PathBuf)> = Vec::new();
    if which.is_empty() || which == "mixed" {
        let path = dir.join(format!("mixed-{bytes}.pcap"));
        if !path.exists() {
            let t = Instant::now();
            let n = generate(&path, bytes).expect("generate");
            eprintln!("generated {} ({n} packets) in {:.1}s", path.display(), t.elapsed().as_secs_f64());
        }
        files.push(("mixed", path));
    }
    if which.is_empty() || which == "day" {
        // The generator's version is in the name: a changed generator writes a new file.
        let path = dir.join("day-v2.pcap");
        if !path.exists() {
            let t = Instant::now();
            let n = generate_day(&path).expect("generate");
            eprintln!("generated {} ({n} packets) in {:.1}s", path.display(), t.elapsed().as_secs_f64());
        }
        files.push(("day", path));
    }
    println!("siphon: {}", siphon_bin().display());
    let workers = std::env::var("SIPHON_BENCH_WORKERS").ok();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    println!(
        "siphon --workers {} ({})",
        workers.as_deref().unwrap_or(&cores.to_string()),
        match &workers {
            Some(_) => "SIPHON_BENCH_WORKERS",
            None => "siphon's default: one per core",
        }
    );
    let rounds: usize = std::env::var("SIPHON_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    let mut trips = vec![core_round_trip_ns()];
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (name, p) in &files {
        outcomes.push(measure(name, p, workers.as_deref(), rounds));
        trips.push(core_round_trip_ns());
    }
    let trips: Vec<String> = trips.iter().map(|t| t.map_or("-".into(), |ns| format!("{ns:.0} ns"))).collect();
    println!(
        "core-to-core round trip before, between and after the profiles: {} (tens of ns: the two \
         CPUs share a last-level cache; several hundred: the VM's vCPUs sit on different ones, \
         which slows every hand-over between siphon's workers and not the one-thread loop)",
        trips.join(", ")
    );
    println!();
    println!(
        "profile  packets    bare best  siphon best  ratio best  ratio median  peak RSS    CPU ns/pkt bare/siphon"
    );
    for o in &outcomes {
        println!(
            "{:<8} {:>9}  {:>8.3}s  {:>10.3}s  {:>9.1}%  {:>11.1}%  {:>6.1} MiB  {:>5.0} / {:.0}",
            o.name,
            o.packets,
            o.bare_best,
            o.siphon_best,
            100.0 * o.bare_best / o.siphon_best,
            100.0 * o.median,
            o.rss as f64 / (1 << 20) as f64,
            o.cpu_ns.0,
            o.cpu_ns.1
        );
    }
}
