#![no_main]
//! Fuzz target: `siphon::harness::netflow_exports` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::netflow_exports(data));
