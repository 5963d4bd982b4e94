#!/usr/bin/env bash
# Sets up, builds, and runs siphon on a bundled capture, printing its EVE alerts.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --quiet
./target/release/siphon -r "${1:-pcaps/dns_iodine_null.pcap}"
