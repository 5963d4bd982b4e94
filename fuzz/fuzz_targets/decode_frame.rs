#![no_main]
//! Fuzz target: `siphon::harness::decode_frame` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::decode_frame(data));
