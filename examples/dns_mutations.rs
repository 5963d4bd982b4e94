//! Robustness check of the DNS extraction: mutated messages (truncations, bit flips, random
//! bytes, forged length bytes, compression-pointer loops) through `decode::dns::parse` and the
//! TCP splitter, seeded and reproducible. A panic aborts the run; the slowest message is
//! reported so a hang would show.
//!
//! ```sh
//! cargo run --release --example dns_mutations -- 10000000
//! ```

use siphon::decoding::DecodeOptions;
use siphon::decoding::{self as decode, Anomalies, dns};
use siphon::input::FileSource;
use siphon::input::PacketSource;
use siphon::synth::{Rng, mutate};
use std::time::Instant;

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    for name in [
        "dns_iodine_null.pcap",
        "dns_iodine_txt.pcap",
        "dns_dns2tcp.pcap",
        "dns_dig_loop.pcap",
        "dns_benign.pcap",
    ] {
        let Ok(mut src) = FileSource::new(vec![dir.join(name)], None) else { continue };
        let opts = DecodeOptions::default();
        let mut an = Anomalies::default();
        let _ = src.read(usize::MAX, &mut |p| {
            if let Some(d) = decode::decode(p.link, p.data, &opts, &mut an)
                && !d.payload.is_empty()
                && out.len() < 4000
            {
                out.push(d.payload.to_vec());
            }
        });
    }
    out
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let seeds = seeds();
    assert!(!seeds.is_empty(), "no seed messages found in pcaps/");
    let mut rng = Rng::new(0xd15ea5e);
    let mut buf = Vec::with_capacity(2048);
    let (mut ok, mut err, mut slowest) = (0u64, 0u64, 0u128);
    let started = Instant::now();
    for i in 0..n {
        let seed = &seeds[(i % seeds.len() as u64) as usize];
        mutate(&mut rng, seed, &mut buf);
        let t = if i % 1024 == 0 { Some(Instant::now()) } else { None };
        match dns::parse(&buf) {
            Ok(m) => {
                ok += 1;
                std::hint::black_box(m.qname.registrable());
            }
            Err(_) => err += 1,
        }
        for m in dns::tcp_messages(&buf) {
            std::hint::black_box(dns::parse(m).ok());
        }
        if let Some(t) = t {
            slowest = slowest.max(t.elapsed().as_nanos());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} mutated DNS messages from {} seeds in {secs:.1}s ({:.0}/s): {ok} parsed, {err} rejected, 0 panics; slowest sampled message {slowest} ns",
        seeds.len(),
        n as f64 / secs
    );
}
