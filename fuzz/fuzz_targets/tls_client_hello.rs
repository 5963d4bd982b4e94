#![no_main]
//! Fuzz target: `siphon::harness::tls_client_hello` (see src/harness.rs).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| siphon::harness::tls_client_hello(data));
