//! Criterion benchmarks of the pipeline's stages on realistic frames:
//!
//! ```sh
//! cargo bench --bench stages
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use siphon::config::Config;
use siphon::decode::packet::DecodeOptions;
use siphon::decode::{self, Anomalies, LinkType, dns, tls};
use siphon::synth::{MixedTraffic, Rng, client_hello, dns_message};
use siphon::time::Timestamp;
use siphon::worker::Worker;
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

criterion_group!(benches, bench_decode, bench_app_layer, bench_worker);
criterion_main!(benches);
