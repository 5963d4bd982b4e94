//! The fuzz smoke CI runs without a fuzzer: every fuzz entry point (`siphon::harness`) gets its
//! seeds from the real captures plus seeded mutations of them. `fuzz/` runs the same entry
//! points coverage-guided with libFuzzer (see docs/robustness.md).

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
    smoke("fragment_sequence", &s.fragment_sequence, 20_000, harness::fragment_sequence);
    smoke("netflow_exports", &s.netflow_exports, 1_000, harness::netflow_exports);
}

/// A fuzz entry point.
type Target = fn(&[u8]);

/// Every input in `fuzz/regressions/<target>/` once failed that target; each must pass now.
#[test]
fn every_fuzz_regression_input_passes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let targets: [(&str, Target); 9] = [
        ("decode_frame", harness::decode_frame),
        ("tunnels", harness::tunnels),
        ("dns_message", harness::dns_message),
        ("tls_client_hello", harness::tls_client_hello),
        ("http_request", harness::http_request),
        ("packet_sequence", harness::packet_sequence),
        ("capture_file", harness::capture_file),
        ("fragment_sequence", harness::fragment_sequence),
        ("netflow_exports", harness::netflow_exports),
    ];
    let mut replayed = 0;
    for (name, f) in targets {
        let Ok(dir) = std::fs::read_dir(root.join(name)) else { continue };
        for entry in dir.flatten() {
            let data = std::fs::read(entry.path()).expect("regression input readable");
            f(&data);
            replayed += 1;
        }
    }
    assert!(replayed >= 2, "fuzz/regressions holds the capture_file reproducers");
}
