#![no_main]
//! Fuzz target: `siphon::harness::capture_file` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::capture_file(data));
