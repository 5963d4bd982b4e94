#![no_main]
//! Fuzz target: `siphon::harness::fragment_sequence` (see src/harness/fragments.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::fragment_sequence(data));
