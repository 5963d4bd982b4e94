#!/usr/bin/env bash
# ip_fragments.pcap: `ping -s 4000` and a large UDP datagram (ncat) across a 1500-byte MTU veth,
# so the kernel fragments them. Namespaces prefixed sx.
set -euo pipefail
cd "$(dirname "$0")"
. ./netns.sh
netns_up sx
home_addr 10.99.0.51
capture_start ../ip_fragments.pcap 0
ip netns exec "$NS_HOME" ping -c 3 -s 4000 -I 10.99.0.51 -W 1 203.0.113.51 >/dev/null || true
head -c 3000 /dev/urandom | ip netns exec "$NS_HOME" ncat -u -s 10.99.0.51 --send-only 203.0.113.52 9999 || true
capture_stop
