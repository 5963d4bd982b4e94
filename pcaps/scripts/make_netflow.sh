#!/usr/bin/env bash
# Turns bundled real-tool captures into real NetFlow v9, IPFIX and NetFlow v5 exports: softflowd
# (Debian) reads each merged capture and exports its flow records over UDP on loopback, inside a
# private network namespace (`nf-exp`), while tcpdump records the export packets. The results are
# what a collector receives from a router: `siphon --netflow -r netflow_*.pcap` replays them.
#
#   hostile set: egress_curl_upload (upload), egress_trickle (long session), scan_nmap_sS,
#                scan_masscan_dark (scans), dns_iodine_null (DNS tunnel), proxy_relay_shape (relay),
#                beacon_http, beacon_heartbeat (beacons)
#   benign set:  benign_browsing, benign_download, benign_small_upload, dns_benign,
#                scan_benign_busy, scan_benign_monitor, benign_update (not benign_monitor: its
#                datadog check-ins are quiet on packets only through the SNI allow-list, and a
#                flow record has no name: on flows it is a beacon, as the detector says)
#
# nfcapd (package nfdump) listens on the export port meanwhile, so the exports are received (a
# UDP socket with no listener gets ICMP port-unreachable and softflowd's next send fails), and
# `nfdump` prints its own flow count of the same exports as a cross-check.
#
# softflowd 1.1.0 quirks: with -r it blocks in accept() on its control socket until control
# commands arrive (the script pokes it with `softflowctl statistics` until it exits at the
# capture's EOF, after exporting every flow in one go); IPFIX needs `-A milli` or its times come
# out years off; it puts the capture's path in an options record, so the merged file gets a
# neutral name. Offline, its v9/v5 records carry packet time relative to a sysUptime that starts
# at the wall clock of the run: the difference is negative, so a collector must read it as a
# signed 32-bit offset (nfdump does not, and prints dates weeks ahead); regenerate within 24 days
# of the captures' dates or the offsets wrap. Its active timeout (maxlife) is checked on wall
# time, so an offline run never splits a long flow. Run as root. Needs softflowd, nfdump,
# tcpdump, mergecap.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/nfexp.XXXXXX)
ns=nf-exp
cleanup() {
  [ -n "${td:-}" ] && kill "$td" 2>/dev/null || true
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up

hostile=(egress_curl_upload egress_trickle scan_nmap_sS scan_masscan_dark dns_iodine_null proxy_relay_shape
  beacon_http beacon_heartbeat)
benign=(benign_browsing benign_download benign_small_upload dns_benign scan_benign_busy scan_benign_monitor
  benign_update)

# export SET_NAME VERSION PORT OUT: one softflowd run over the merged set, recorded to OUT.
export_set() {
  local set=$1 version=$2 port=$3 out=$4
  local -n files=$set
  local inputs=()
  for f in "${files[@]}"; do inputs+=("$f.pcap"); done
  mergecap -F pcap -w "$work/capture.pcap" "${inputs[@]}"
  local extra=()
  [ "$version" = 10 ] && extra=(-A milli)
  rm -rf "$work/nfc" "$work/sf.ctl"
  mkdir -p "$work/nfc"
  ip netns exec "$ns" nfcapd -p "$port" -w "$work/nfc" -D -P "$work/nfcapd.pid" >/dev/null 2>&1
  ip netns exec "$ns" tcpdump -i lo -w "$work/out.pcap" -U -s 0 "udp port $port" 2>/dev/null &
  td=$!
  sleep 1
  (cd "$work" && exec ip netns exec "$ns" softflowd -r capture.pcap -n "127.0.0.1:$port" \
    -v "$version" -d "${extra[@]}" -p "$work/sf.pid" -c "$work/sf.ctl" >"$work/sf.log" 2>&1) &
  local sf=$!
  while kill -0 "$sf" 2>/dev/null; do
    ip netns exec "$ns" softflowctl -c "$work/sf.ctl" statistics >/dev/null 2>&1 || true
    sleep 0.3
  done
  sleep 1
  kill "$td"
  wait "$td" 2>/dev/null || true
  td=
  kill "$(cat "$work/nfcapd.pid")"
  sleep 1
  cp "$work/out.pcap" "$out"
  echo "$out: softflowd $(grep -E 'Flows exported' "$work/sf.log" | head -1)"
  echo "$out: nfdump $(nfdump -R "$work/nfc" -q -o 'fmt:%pr' 2>/dev/null | wc -l) records"
}

export_set hostile 9 2055 netflow_v9.pcap
export_set hostile 10 4739 netflow_ipfix.pcap
export_set hostile 5 9995 netflow_v5.pcap
export_set benign 9 2055 netflow_benign_v9.pcap
export_set benign 10 4739 netflow_benign_ipfix.pcap
