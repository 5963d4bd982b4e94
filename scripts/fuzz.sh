#!/usr/bin/env bash
# Runs every fuzz target with cargo-fuzz (libFuzzer), seeded from pcaps/.
#   scripts/fuzz.sh [RUNS] [SECONDS] [TARGET...]   default: 10,000,000 inputs or 900 s per
#   target, every target
# packet_sequence inputs are capped at 4 KiB (a few frames each): a fresh worker per input
# keeps inputs independent, and short sequences keep it near 10k inputs/s.
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 for libFuzzer's -Z flags, and `-s none`
# (no sanitizer; the sanitizers need a nightly std). Installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
secs=${2:-900}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
cargo run --release --quiet --example fuzz_seeds
cargo fuzz build -s none -O
shift $(( $# < 2 ? $# : 2 ))
targets=${*:-dns_message tls_client_hello http_request tunnels decode_frame capture_file packet_sequence fragment_sequence netflow_exports}
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  max_len=()
  [ "$t" = packet_sequence ] && max_len=(-max_len=4096)
  out=$(cargo fuzz run -s none -O "$t" "fuzz/corpus/$t" -- -runs="$runs" -max_total_time="$secs" "${max_len[@]}" \
        -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 2>&1) || { echo "$out" | tail -40; echo "FUZZ FAILURE: $t"; exit 1; }
  n=$(echo "$out" | sed -n 's/^stat::number_of_executed_units: *//p')
  rate=$(echo "$out" | sed -n 's/^stat::average_exec_per_sec: *//p')
  cov=$(echo "$out" | grep -oE 'cov: [0-9]+' | tail -1)
  echo "fuzz $t: $n inputs, $rate/s, $cov, 0 crashes"
done
