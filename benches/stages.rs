//! Criterion benchmarks of the pipeline's stages on realistic frames:
//!
//! ```sh
//! cargo bench --bench stages
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siphon::Config;
use siphon::Timestamp;
use siphon::decoding::DecodeOptions;
use siphon::decoding::{self as decode, Anomalies, LinkType, dns, tls};
use siphon::running::Worker;
use siphon::synth::{MixedTraffic, Rng, client_hello, dns_message};
use std::hint::black_box;

fn mixed_frames(n: usize) -> Vec<Vec<u8>> {
    let mut g = MixedTraffic::new(7, 2000, 1_700_000_000_000_000);
    (0..n)
        .map(|_| {
            let mut f = Vec::new();
            g.next_frame(&mut f);
            f
        })
        .collect()
}

/// DNS frames as a tunnel and a browser mix them: hex-label TXT queries and ordinary lookups,
/// each with its response.
fn dns_frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(11);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let name = if i % 2 == 0 {
            let hex: String =
                (0..48).map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize])).collect();
            format!("{hex}.{i}.exfil.example.net")
        } else {
            format!("host{}.example.com", rng.below(50))
        };
        let q = dns_message(i as u16, &name, i % 4 == 3);
        let client = [10, 1, 0, (i % 200) as u8 + 1];
        let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(client, [10, 0, 0, 53], 64)
            .udp(40000 + (i % 1000) as u16, 53);
        let mut f = Vec::new();
        b.write(&mut f, &q).expect("frame");
        out.push(f);
    }
    out
}

fn bench_decode(c: &mut Criterion) {
    let frames = mixed_frames(10_000);
    let opts = DecodeOptions::default();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("mixed_frames", |b| {
        let mut an = Anomalies::default();
        b.iter(|| {
            for f in &frames {
                black_box(decode::decode(LinkType::Ethernet, f, &opts, &mut an));
            }
        })
    });
    g.finish();
}

fn bench_app_layer(c: &mut Criterion) {
    let queries: Vec<Vec<u8>> =
        (0..1000).map(|i| dns_message(i, &format!("{i:x}abcdef0123456789.t.exfil.co.uk"), false)).collect();
    let hello = client_hello("www.example.com");
    let mut g = c.benchmark_group("app_layer");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("dns_parse", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(dns::parse(q).ok());
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("tls_client_hello", |b| b.iter(|| black_box(tls::parse_client_hello(&hello).ok())));
    g.finish();
}

fn bench_worker(c: &mut Criterion) {
    let config = Config::default();
    let mut g = c.benchmark_group("worker");
    let dns = dns_frames(10_000);
    g.throughput(Throughput::Elements(dns.len() as u64));
    g.bench_function("dns_messages_all_detectors", |b| {
        let mut w = Worker::new(&config);
        let mut t = 1_700_000_000u64 * 1_000_000_000;
        b.iter(|| {
            for f in &dns {
                t += 10_000;
                w.process(Timestamp(t), LinkType::Ethernet, f, f.len() as u32, &mut |a| {
                    black_box(a);
                });
            }
        })
    });
    let mixed = mixed_frames(10_000);
    g.throughput(Throughput::Elements(mixed.len() as u64));
    g.bench_function("mixed_frames_all_detectors", |b| {
        let mut w = Worker::new(&config);
        let mut t = 1_700_000_000u64 * 1_000_000_000;
        b.iter(|| {
            for f in &mixed {
                t += 10_000;
                w.process(Timestamp(t), LinkType::Ethernet, f, f.len() as u32, &mut |a| {
                    black_box(a);
                });
            }
        })
    });
    g.finish();
}

/// TCP SYNs, each opening a new flow from one of 200 home hosts to one of 500 external servers.
fn syn_frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(5);
    (0..n)
        .map(|i| {
            let client = [10, 1, (i % 200 / 100) as u8, (i % 100) as u8 + 1];
            let server = [203, 0, 113, rng.below(250) as u8 + 1];
            let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(client, server, 64)
                .tcp(10_000 + (i / 200) as u16, [80, 443, 8443][i % 3], i as u32, 64_240)
                .syn();
            let mut f = Vec::new();
            b.write(&mut f, &[]).expect("frame");
            f
        })
        .collect()
}

/// The beacon detector's cost per flow start: the same SYNs through a worker with and without it
/// (the difference, divided by the SYNs, is its lookup and check-in), and the score alone.
fn bench_beacon(c: &mut Criterion) {
    let syns = syn_frames(20_000);
    let mut g = c.benchmark_group("beacon");
    g.throughput(Throughput::Elements(syns.len() as u64));
    for on in [false, true] {
        let mut config = Config::default();
        set_beacon(&mut config, on);
        let name = if on { "flow_starts_beacon_on" } else { "flow_starts_beacon_off" };
        // One worker, warmed by a first pass so every table is at its steady size (the beacon
        // tables at their caps, evicting); SYNs 10 ms apart, so a pass (200 s) outlasts the flow
        // idle timeout and every SYN of the next pass opens a new flow again.
        let mut w = Worker::new(&config);
        let mut t = 1_700_000_000u64 * 1_000_000_000;
        let pass = |w: &mut Worker, t: &mut u64| {
            for f in &syns {
                *t += 10_000_000;
                w.process(Timestamp(*t), LinkType::Ethernet, f, f.len() as u32, &mut |a| {
                    black_box(a);
                });
            }
        };
        pass(&mut w, &mut t);
        g.bench_function(name, |b| b.iter(|| pass(&mut w, &mut t)));
    }
    let mut rng = Rng::new(9);
    let gaps: Vec<f64> = (0..32).map(|_| 10.0 + rng.below(3000) as f64 / 1000.0).collect();
    let sizes: Vec<f64> = (0..32).map(|_| 400.0 + rng.below(50) as f64).collect();
    g.throughput(Throughput::Elements(1));
    g.bench_function("score_32_gaps", |b| {
        b.iter(|| black_box(siphon::detectors::beacon_score(black_box(&gaps), black_box(&sizes), 0.35)))
    });
    g.finish();
}

fn set_beacon(config: &mut Config, on: bool) {
    if let Some(b) = config.detectors.get_mut::<siphon::detectors::BeaconConfig>() {
        b.enabled = on;
    }
}

criterion_group!(benches, bench_decode, bench_app_layer, bench_worker, bench_beacon);
criterion_main!(benches);
