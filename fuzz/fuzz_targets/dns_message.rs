#![no_main]
//! Fuzz target: `siphon::harness::dns_message` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::dns_message(data));
