#!/usr/bin/env bash
# Sets up and runs every test: unit tests, pcap-driven integration tests (including the
# live-capture test on a veth pair in a namespace it creates, when run as root), formatting and
# lint checks, and a libFuzzer smoke of every fuzz target (10 s each).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
./scripts/fuzz-smoke.sh 10
