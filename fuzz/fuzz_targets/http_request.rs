#![no_main]
//! Fuzz target: `siphon::harness::http_request` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::http_request(data));
