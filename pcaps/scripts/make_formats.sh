#!/usr/bin/env bash
# Derives the format-test captures from dns_dig_loop.pcap (editcap, from wireshark-common):
# the same packets as pcapng and as nanosecond-resolution classic pcap.
set -euo pipefail
cd "$(dirname "$0")/.."
editcap -F pcapng dns_dig_loop.pcap fmt_dig_loop.pcapng
editcap -F nsecpcap dns_dig_loop.pcap fmt_dig_loop_ns.pcap
