#!/usr/bin/env bash
# The Kafka output's test, apart from CI (scripts/test.sh) because of what it builds: librdkafka
# from source for siphon's `kafka` feature (gcc, make, zlib1g-dev; 18 min on a busy 2-core VM)
# and the tansu broker (a Kafka-protocol broker in Rust, with in-memory storage; about 2 h at
# nice 19 on a busy 2-core VM, once). tests/kafka.rs starts tansu on a free loopback port, creates the topic, runs siphon on
# bundled captures with [outputs.kafka] on and reads the alerts back with librdkafka's consumer.
#
#   scripts/test-kafka.sh            # TANSU_ROOT (default ~/.cache/siphon/tansu) holds tansu
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
root="${TANSU_ROOT:-$HOME/.cache/siphon/tansu}"
if [ ! -x "$root/bin/tansu" ]; then
  echo "test-kafka: building tansu (once) into $root" >&2
  cargo install tansu --version 0.6.0 --features dynostore --root "$root"
fi
TANSU="$root/bin/tansu" cargo test --release --features kafka --test kafka
