#![no_main]
//! Fuzz target: `siphon::harness::packet_sequence` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::packet_sequence(data));
