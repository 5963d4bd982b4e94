//! The fuzz smoke CI runs without a fuzzer: every fuzz entry point (`siphon::harness`) gets its
//! seeds from the real captures plus seeded mutations of them. `fuzz/` runs the same entry
//! points coverage-guided with libFuzzer (see the README).

use siphon::harness;
use siphon::synth::{Rng, mutate};

fn smoke(name: &str, seeds: &[Vec<u8>], rounds: usize, f: fn(&[u8])) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let mut rng = Rng::new(0x5eed ^ name.len() as u64);
    let mut buf = Vec::new();
    for s in seeds {
        f(s);
    }
    for i in 0..rounds {
        mutate(&mut rng, &seeds[i % seeds.len()], &mut buf);
        f(&buf);
    }
}

#[test]
fn every_fuzz_entry_point_survives_seeds_and_mutations() {
    let s = harness::seeds(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps"), 32);
    smoke("decode_frame", &s.decode_frame, 200_000, harness::decode_frame);
    smoke("tunnels", &s.tunnels, 200_000, harness::tunnels);
    smoke("dns_message", &s.dns_message, 200_000, harness::dns_message);
    smoke("tls_client_hello", &s.tls_client_hello, 100_000, harness::tls_client_hello);
    smoke("http_request", &s.http_request, 100_000, harness::http_request);
    smoke("packet_sequence", &s.packet_sequence, 300, harness::packet_sequence);
    smoke("capture_file", &s.capture_file, 2_000, harness::capture_file);
}
