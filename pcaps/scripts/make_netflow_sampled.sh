#!/usr/bin/env bash
# Sampled exports from a real exporter: softflowd 1.1.0 (Debian) with `-s 10` (systematic
# sampling, one packet in ten) reads the 30 MB upload (egress_curl_upload) plus two benign
# twins (benign_download, 30 MB inbound; benign_small_upload, 100 KB out) and exports NetFlow
# v9 and IPFIX. Its counters are the sampled packets' only; the rate travels in options data:
#   v9:    an options template (scope: interface) with SAMPLING_INTERVAL (34) = 10 and
#          SAMPLING_ALGORITHM (35) = 1 (deterministic);
#   IPFIX: an options template (scope: meteringProcessId) with the PSAMP elements
#          samplingPacketInterval (305) = 1 and samplingPacketSpace (306) = 9 (RFC 5477: one
#          packet selected, nine skipped, so 1 in 10) and selectorAlgorithm (304) = 1.
# The exports are recorded with tcpdump on loopback in the private namespace `netflow2-smp`
# while nfcapd receives them. Writes netflow_sampled_v9.pcap and netflow_sampled_ipfix.pcap.
# Same softflowd -r quirks as make_netflow.sh (poked with softflowctl until it exits). Run as
# root. Needs softflowd, nfdump, tcpdump, mergecap.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/nfsmp.XXXXXX)
ns=netflow2-smp
cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.5
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up
mergecap -F pcap -w "$work/capture.pcap" egress_curl_upload.pcap benign_download.pcap benign_small_upload.pcap

export_sampled() {
  local version=$1 port=$2 out=$3
  local extra=()
  [ "$version" = 10 ] && extra=(-A milli)
  rm -rf "$work/nfc" "$work/sf.ctl"
  mkdir -p "$work/nfc"
  ip netns exec "$ns" nfcapd -p "$port" -w "$work/nfc" -D -P "$work/nfcapd.pid" >/dev/null 2>&1
  ip netns exec "$ns" tcpdump -i lo -w "$work/out.pcap" -U -s 0 "udp port $port" 2>/dev/null &
  local td=$!
  sleep 1
  (cd "$work" && exec ip netns exec "$ns" softflowd -r capture.pcap -n "127.0.0.1:$port" \
    -v "$version" -s 10 -d "${extra[@]}" -p "$work/sf.pid" -c "$work/sf.ctl" >"$work/sf.log" 2>&1) &
  local sf=$!
  while kill -0 "$sf" 2>/dev/null; do
    ip netns exec "$ns" softflowctl -c "$work/sf.ctl" statistics >/dev/null 2>&1 || true
    sleep 0.3
  done
  sleep 1
  kill "$td"
  wait "$td" 2>/dev/null || true
  kill "$(cat "$work/nfcapd.pid")"
  sleep 1
  cp "$work/out.pcap" "$out"
  echo "$out: softflowd $(grep -E 'Packets processed|Packets non-sampled|Flows exported' "$work/sf.log" | tr '\n' ' ')"
  echo "$out: nfdump $(nfdump -R "$work/nfc" -q -o 'fmt:%pr' 2>/dev/null | wc -l) records"
}

export_sampled 9 2055 netflow_sampled_v9.pcap
export_sampled 10 4739 netflow_sampled_ipfix.pcap
