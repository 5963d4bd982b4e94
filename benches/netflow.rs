//! Flow records per second (docs/netflow.md): softflowd's real v5, v9 and IPFIX exports of the
//! bundled captures (`pcaps/netflow_*.pcap`, 1080 records each) decoded by the collector, and
//! decoded then analysed by a worker with every detector; and the memory a worker holds with
//! 100,000 active record flows (printed once, before the timings).
//!
//! ```sh
//! cargo bench --bench netflow
//! # Fixed work instead of criterion: N rounds of each export, CPU time per record (the thread's
//! # own clock, steadier than wall time on a shared machine); under callgrind, instructions.
//! SIPHON_NETFLOW_ROUNDS=200 cargo bench --bench netflow
//! # The same with every packet through netflow_parser (no fast path), for comparison.
//! SIPHON_NETFLOW_ROUNDS=200 SIPHON_NETFLOW_CRATE=1 cargo bench --bench netflow
//! # Instructions: one version, under callgrind (Collector::decode and process_record inclusive).
//! SIPHON_NETFLOW_ROUNDS=20 SIPHON_NETFLOW_ONLY=v9 valgrind --tool=callgrind target/release/deps/netflow-* --bench
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siphon::Timestamp;
use siphon::decoding::{Anomalies, DecodeOptions, L4, decode};
use siphon::input::FileSource;
use siphon::input::PacketSource;
use siphon::input::{Collector, FlowRecord};
use siphon::running::Worker;
use siphon::{Config, NetflowConfig};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The export packets of a bundled capture, with their sources.
fn exports(name: &str) -> Vec<(SocketAddr, Vec<u8>)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps").join(name);
    let mut src = FileSource::new(vec![path], None).expect("capture");
    let (opts, mut an, mut out) = (DecodeOptions::default(), Anomalies::default(), Vec::new());
    while src
        .read(256, &mut |p| {
            if let Some(d) = decode(p.link, p.data, &opts, &mut an)
                && let L4::Udp { sport, .. } = d.l4
            {
                out.push((SocketAddr::new(d.src, sport), d.payload.to_vec()));
            }
        })
        .expect("read")
    {}
    out
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A worker holding 100,000 open flows built from records (1000 home hosts, 60 s flows starting
/// 1 ms apart, no FIN): what it holds by its own accounting, and the process's RSS growth.
fn memory_with_100k_flows() {
    let config = Config::default();
    let before = rss_kib();
    let mut w = Worker::new(&config);
    let t0 = 1_795_000_000u64 * 1_000_000_000;
    for i in 0..100_000u32 {
        let start = Timestamp(t0 + u64::from(i) * 1_000_000);
        let r = FlowRecord {
            src: IpAddr::V4(Ipv4Addr::new(10, 99, (i / 250 % 4) as u8, (i % 250) as u8)),
            dst: IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i / 1000 % 250) as u8)),
            sport: 30_000 + (i % 30_000) as u16,
            dport: 443,
            proto: 6,
            flags: 0x18 | 0x02,
            icmp_type: 0,
            pkts: 20,
            bytes: 6_000,
            start,
            end: Timestamp(start.0 + 60_000_000_000),
            exporter: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            domain: 0,
            sampling: 1,
            version: 10,
        };
        w.process_record(&r, &mut |_| {});
    }
    w.refresh_stats();
    let after = rss_kib();
    eprintln!(
        "netflow: 100000 records -> {} active flows; worker holds {} KiB (flow table + detectors, its own accounting, peak {} KiB); process RSS grew {} KiB",
        w.stats.flows.active,
        w.stats.memory.held / 1024,
        w.stats.memory.peak / 1024,
        after.saturating_sub(before)
    );
}

/// The thread's CPU time, in seconds.
fn cpu_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn collector() -> Collector {
    let mut c = Collector::new(&NetflowConfig::default()).expect("collector");
    c.set_fast_path(std::env::var_os("SIPHON_NETFLOW_CRATE").is_none());
    c
}

/// `rounds` of each export (or only `SIPHON_NETFLOW_ONLY`: v9, ipfix, v5) decoded, then decoded
/// and analysed, timed by CPU clock.
fn fixed_rounds(rounds: u64) {
    let only = std::env::var("SIPHON_NETFLOW_ONLY").ok();
    for (name, label) in
        [("netflow_v9.pcap", "v9"), ("netflow_ipfix.pcap", "ipfix"), ("netflow_v5.pcap", "v5")]
    {
        if only.as_deref().is_some_and(|o| o != label) {
            continue;
        }
        let packets = exports(name);
        let mut col = collector();
        let mut out = Vec::with_capacity(2048);
        let t = cpu_secs();
        let mut n = 0u64;
        for _ in 0..rounds {
            out.clear();
            for (from, p) in &packets {
                col.decode(*from, black_box(p), &mut out);
            }
            n += out.len() as u64;
        }
        let decode = cpu_secs() - t;
        let config = Config::default();
        let mut w = Worker::new(&config);
        let mut col = collector();
        let t = cpu_secs();
        for round in 1..=rounds {
            out.clear();
            for (from, p) in &packets {
                col.decode(*from, black_box(p), &mut out);
            }
            for r in &mut out {
                r.start.0 += round * 3_600_000_000_000;
                r.end.0 += round * 3_600_000_000_000;
                w.process_record(r, &mut |a| {
                    black_box(a);
                });
            }
        }
        let both = cpu_secs() - t;
        eprintln!(
            "netflow {label}: {n} records; decode {:.0} records/s CPU ({:.0} ns each, {} of {} packets fast); decode+analyse {:.0} records/s CPU ({:.0} ns each)",
            n as f64 / decode,
            decode * 1e9 / n as f64,
            col.stats.fast_packets,
            col.stats.packets,
            n as f64 / both,
            both * 1e9 / n as f64,
        );
    }
}

fn bench(c: &mut Criterion) {
    if let Some(rounds) = std::env::var("SIPHON_NETFLOW_ROUNDS").ok().and_then(|r| r.parse().ok()) {
        fixed_rounds(rounds);
        return;
    }
    memory_with_100k_flows();
    let mut group = c.benchmark_group("netflow");
    for (name, label) in
        [("netflow_v9.pcap", "v9"), ("netflow_ipfix.pcap", "ipfix"), ("netflow_v5.pcap", "v5")]
    {
        let packets = exports(name);
        let mut probe = collector();
        let mut records = Vec::new();
        for (from, p) in &packets {
            probe.decode(*from, p, &mut records);
        }
        group.throughput(Throughput::Elements(records.len() as u64));
        let mut col = collector();
        let mut out = Vec::with_capacity(2048);
        group.bench_function(
            format!("decode {label} ({} packets, {} records)", packets.len(), records.len()),
            |b| {
                b.iter(|| {
                    out.clear();
                    for (from, p) in &packets {
                        col.decode(*from, black_box(p), &mut out);
                    }
                    black_box(out.len())
                })
            },
        );
        let config = Config::default();
        let mut w = Worker::new(&config);
        let mut col = collector();
        let mut shift = 0u64;
        group.bench_function(format!("decode+analyse {label}, every detector"), |b| {
            b.iter(|| {
                out.clear();
                for (from, p) in &packets {
                    col.decode(*from, black_box(p), &mut out);
                }
                // Each round an hour later, so the flows are new ones, not repeats.
                shift += 3_600_000_000_000;
                for r in &mut out {
                    r.start.0 += shift;
                    r.end.0 += shift;
                    w.process_record(r, &mut |a| {
                        black_box(a);
                    });
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
