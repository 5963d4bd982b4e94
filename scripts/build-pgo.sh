#!/usr/bin/env bash
# Builds the release siphon with profile-guided optimisation (PGO) at target/pgo/siphon.
#
# 1. an instrumented build (target/pgo/gen) reads every bundled capture in pcaps/ (made by real
#    tools: the training set; the benchmarks' generated captures are never part of it), with
#    one and with two workers, and the NetFlow/IPFIX captures as exports too;
# 2. llvm-profdata merges the counts (target/pgo/siphon.profdata);
# 3. the release build with `-Cprofile-use` (target/pgo/use) reads the same captures again, and
#    its alerts must be those of the instrumented build, byte for byte, or the script fails
#    (one worker's: with two, which worker's alert about a scanner of hosts on both comes first
#    depends on their timing, in either build).
#
# PGO only changes the compiler's layout and inlining choices, not what the code does (step 3
# checks it). llvm-profdata must match rustc's LLVM: the toolchain's `llvm-tools` component
# (added with rustup when missing), else Debian's llvm-N for rustc's LLVM major N (installed
# when run as root). With neither, or with SIPHON_PGO=0, target/pgo/siphon is the plain release
# build, said on stderr. Prints the binary's path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=target/pgo
mkdir -p "$out"

plain() {
  echo "build-pgo: $1; building without PGO" >&2
  cargo build --release --quiet
  cp target/release/siphon "$out/siphon"
  echo "$out/siphon"
  exit 0
}

[ "${SIPHON_PGO:-1}" = 0 ] && plain "SIPHON_PGO=0"

host=$(rustc -vV | sed -n 's/^host: //p')
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ] && command -v rustup >/dev/null 2>&1; then
  # (Bounded: an offline machine must not hang the build.)
  timeout 300 rustup component add llvm-tools >/dev/null 2>&1 || true
fi
if [ ! -x "$profdata" ]; then
  profdata=/usr/lib/llvm-$llvm_major/bin/llvm-profdata
  if [ ! -x "$profdata" ] && [ "$(id -u)" = 0 ] && apt-cache show "llvm-$llvm_major" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq "llvm-$llvm_major" >/dev/null || true
  fi
fi
[ -x "$profdata" ] || plain "no llvm-profdata for LLVM $llvm_major"

# The training set, and how each file is read.
runs=()
for f in pcaps/*.pcap pcaps/*.pcapng; do
  runs+=("-r $f --workers 1" "-r $f --workers 2")
  case $f in pcaps/netflow_*) runs+=("--netflow -r $f --workers 1") ;; esac
done

# Runs binary $1 on every training run; one worker's alerts to directory $2.
train() {
  rm -rf "$2"
  mkdir -p "$2"
  local i=0
  for r in "${runs[@]}"; do
    # (Word splitting of $r is wanted: the paths have no spaces.)
    # shellcheck disable=SC2086
    case $r in
      *"--workers 2") "$1" -q $r >/dev/null 2>&1 || true ;;
      *) "$1" -q $r >"$2/$i.json" 2>/dev/null || echo "exit $?" >>"$2/$i.json" ;;
    esac
    i=$((i + 1))
  done
}

# Each step only when its input changed: cargo rebuilds when the sources (or, for the PGO build,
# the profile) changed; training and the check run again only for a new binary.
# (CARGO_ENCODED_RUSTFLAGS: one flag, whatever spaces the checkout's path holds.)
CARGO_ENCODED_RUSTFLAGS="-Cprofile-generate=$root/$out/raw" CARGO_TARGET_DIR="$out/gen" \
  cargo build --release --quiet
if [ ! "$out/siphon.profdata" -nt "$out/gen/release/siphon" ] || [ ! -d "$out/alerts-gen" ]; then
  rm -rf "$out/raw"
  train "$out/gen/release/siphon" "$out/alerts-gen"
  "$profdata" merge -o "$out/siphon.profdata" "$out/raw"
fi
CARGO_ENCODED_RUSTFLAGS="-Cprofile-use=$root/$out/siphon.profdata" CARGO_TARGET_DIR="$out/use" \
  cargo build --release --quiet
if [ ! "$out/siphon" -nt "$out/use/release/siphon" ]; then
  train "$out/use/release/siphon" "$out/alerts-use"
  if ! diff -rq "$out/alerts-gen" "$out/alerts-use" >&2; then
    echo "build-pgo: the PGO build's alerts differ from the instrumented build's (above)" >&2
    exit 1
  fi
fi
cp -p "$out/use/release/siphon" "$out/siphon"
touch "$out/siphon"
echo "build-pgo: $out/siphon built with PGO (${#runs[@]} training runs, same alerts)" >&2
echo "$out/siphon"
