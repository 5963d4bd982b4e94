#!/usr/bin/env bash
# Sets up, builds, and runs siphon on bundled captures made by real tools (iodine, ptunnel-ng,
# nmap, curl to proxyware names, SSH on port 443), read in order as one timeline, printing its
# EVE alerts on stdout and its summary on stderr, and writing the HTML report to report.html
# (REPORT=path to change it). Give capture files as arguments to use others. The binary is the
# profile-guided build (scripts/build-pgo.sh, a few minutes more the first time; SIPHON_PGO=0
# builds without it).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
siphon=$(./scripts/build-pgo.sh)
if [ $# -eq 0 ]; then
  set -- pcaps/proxy_tls_sni.pcap pcaps/dns_iodine_null.pcap pcaps/icmp_ptunnel.pcap \
         pcaps/egress_ssh_443.pcap pcaps/scan_nmap_sS.pcap
fi
args=()
for f in "$@"; do args+=(-r "$f"); done
"$siphon" "${args[@]}" --report "${REPORT:-report.html}"
