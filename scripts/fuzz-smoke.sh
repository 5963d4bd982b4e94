#!/usr/bin/env bash
# CI's fuzz smoke: every libFuzzer target in fuzz/ runs coverage-guided for a few seconds,
# seeded from pcaps/ and fuzz/regressions/; a crash, a hang (>5 s per input) or a leak past
# 2 GiB fails the run. The last line is always "FUZZ SMOKE: PASS" or "FUZZ SMOKE: FAIL (...)".
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]     default 15
# Builds the targets with the flags `cargo fuzz build -s none -O` uses, so CI needs no
# cargo-fuzz; scripts/fuzz.sh runs the long campaigns (10M inputs per target) with cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
triple=$(rustc -vV | sed -n 's/^host: //p')

# Seeds first, with the normal build (fuzz/corpus/<target>/seed-N), then every input that once
# failed a target, so libFuzzer replays it before mutating.
cargo run --release --quiet --example fuzz_seeds
for d in fuzz/regressions/*/; do
  t=$(basename "$d")
  mkdir -p "fuzz/corpus/$t"
  find "$d" -type f ! -name '*.md' -exec cp {} "fuzz/corpus/$t/" \;
done

# `--target` keeps the coverage flags off build scripts and proc macros, as cargo-fuzz does.
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
cargo build --quiet --release --manifest-path fuzz/Cargo.toml --target "$triple" --bins

failed=()
targets=(dns_message tls_client_hello http_request tunnels decode_frame capture_file packet_sequence
  fragment_sequence netflow_exports)
for t in "${targets[@]}"; do
  extra=()
  [ "$t" = packet_sequence ] && extra=(-max_len=4096)
  log=$(mktemp)
  mkdir -p "fuzz/artifacts/$t"
  if "fuzz/target/$triple/release/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
       -max_total_time="$secs" -timeout=5 \
       -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz smoke $t: $n inputs in ${secs}s, no crash"
  else
    echo "---- fuzz smoke $t FAILED; the panic and libFuzzer's report:"
    grep -m5 -E "panicked at|^thread '|ERROR: libFuzzer|SUMMARY" "$log" || true
    grep -m1 -A3 "panicked at" "$log" || true
    tail -15 "$log"
    echo "FUZZ SMOKE FAILURE: $t (reproducer in fuzz/artifacts/$t/; add it to fuzz/regressions/$t/ once fixed)"
    failed+=("$t")
  fi
  rm -f "$log"
done
if [ ${#failed[@]} -eq 0 ]; then
  echo "FUZZ SMOKE: PASS (${#targets[@]} targets, ${secs}s each)"
else
  echo "FUZZ SMOKE: FAIL (${failed[*]})"
  exit 1
fi
