#!/usr/bin/env bash
# Scans that get no answer, IP-protocol scans, a client failing over between a name's dropped
# addresses, and an IPv6 scan between two non-home addresses (issue 20), each with its benign
# twin; made with real tools inside two network namespaces (netns.sh and its scenario helpers,
# prefix `sc`, or $NS_PREFIX). Run as root:
#
#   pcaps/scripts/make_scan_silent.sh                    # every scenario
#   pcaps/scripts/make_scan_silent.sh scan_silent_udp_dark scan_ipproto   # only these
#
# Needs: tcpdump tshark nmap masscan hping3 iptables dnsmasq-base curl dig python3.
# Home addresses 10.99.0.161-.179 (one per scenario), listed in pcaps/README.md. Dark space:
# 192.0.2.0/24 is taken away from the fake internet and blackholed there (forwarding on), so
# probes to it are silently dropped and nothing leaves the namespaces.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
# shellcheck source=netns.sh
source "$HERE/netns.sh"
set +o pipefail

PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/siphon-scan-silent.XXXXXX)
LOG=$WORK/log
cleanup() {
  set +e
  [ -n "${CAP_PID:-}" ] && kill -INT "$CAP_PID" 2>/dev/null
  kill_bg
  rm -rf "/etc/netns/${NS_HOME:-schome}"
  netns_down
  rm -rf "$WORK"
}
count() { tshark -r "$OUT/$1" -Y "$2" 2>/dev/null | wc -l; }
distinct() { tshark -r "$OUT/$1" -Y "$2" -T fields -e "$3" 2>/dev/null | sort -u | wc -l; }
nmap_() { H nmap -n -e "$VH" -S "$SRC" "$@" >>"$LOG" 2>&1 || true; }
router_mac() { ip -n "$NS_NET" -br link show "$VN" | awk '{print $3}'; }
# An HTTP server on ADDR:80 in the fake internet (an answered connection for the benign twins).
http_at() { i_bg "$PY" -m http.server 80 --bind "$1" --directory "$WORK"; sleep 0.7; }

# ---------------------------------------------------------------- item 1: nothing answers
scan_silent_udp_dark() {   # nmap -sU of 1,000 ports of an address that does not exist
  use_src 10.99.0.161
  start_cap scan_silent_udp_dark.pcap 0 host "$SRC"
  H timeout 40 nmap -n -e "$VH" -S "$SRC" -Pn -sU --top-ports 1000 --max-retries 1 192.0.2.77 >>"$LOG" 2>&1 || true
  stop_cap
  echo "UDP probes: $(count scan_silent_udp_dark.pcap "udp && ip.src==$SRC"), distinct ports: $(distinct scan_silent_udp_dark.pcap "udp && ip.src==$SRC" udp.dstport), answers: $(count scan_silent_udp_dark.pcap "ip.dst==$SRC")"
}
scan_silent_udp_firewall() {   # the same against a live host whose firewall drops everything
  use_src 10.99.0.162
  I iptables -A INPUT -d 203.0.113.80 -j DROP
  start_cap scan_silent_udp_firewall.pcap 0 host "$SRC"
  H timeout 40 nmap -n -e "$VH" -S "$SRC" -Pn -sU --top-ports 1000 --max-retries 1 203.0.113.80 >>"$LOG" 2>&1 || true
  stop_cap
  I iptables -D INPUT -d 203.0.113.80 -j DROP
  echo "UDP probes: $(count scan_silent_udp_firewall.pcap "udp && ip.src==$SRC"), answers: $(count scan_silent_udp_firewall.pcap "ip.dst==$SRC")"
}
scan_silent_udp_ping_sweep() {   # nmap -sn -PU: empty datagrams to one high port across a /24
  use_src 10.99.0.163
  start_cap scan_silent_udp_ping_sweep.pcap 0 host "$SRC"
  nmap_ -sn -PU 192.0.2.0/24
  stop_cap
  echo "UDP probes: $(count scan_silent_udp_ping_sweep.pcap "udp && ip.src==$SRC"), distinct hosts: $(distinct scan_silent_udp_ping_sweep.pcap "udp && ip.src==$SRC" ip.dst)"
  tsum "$OUT/scan_silent_udp_ping_sweep.pcap" "ip.src==$SRC" udp.dstport udp.length
}
scan_silent_ack_ping_sweep() {   # nmap -sn -PA: bare ACKs to port 80 across a /24
  use_src 10.99.0.164
  start_cap scan_silent_ack_ping_sweep.pcap 96 host "$SRC"
  nmap_ -sn -PA 192.0.2.0/24
  stop_cap
  echo "ACK probes: $(count scan_silent_ack_ping_sweep.pcap "tcp.flags==0x010 && ip.src==$SRC"), distinct hosts: $(distinct scan_silent_ack_ping_sweep.pcap "ip.src==$SRC" ip.dst)"
}
scan_silent_masscan_udp() {   # masscan UDP sweep of 1,000 ports of one host that does not exist
  use_src 10.99.0.165
  start_cap scan_silent_masscan_udp.pcap 0 host "$SRC"
  H timeout -s KILL 10 masscan 192.0.2.78 -pU:1-1000 --rate 300 -e "$VH" --source-ip "$SRC" \
    --router-mac "$(router_mac)" --wait 2 >>"$LOG" 2>&1 || true
  stop_cap
  echo "UDP probes: $(count scan_silent_masscan_udp.pcap "udp && ip.src==$SRC"), distinct ports: $(distinct scan_silent_masscan_udp.pcap "udp && ip.src==$SRC" udp.dstport)"
  tsum "$OUT/scan_silent_masscan_udp.pcap" "ip.src==$SRC" udp.length
}
# Benign twin: a laptop whose DNS and NTP servers are down, retrying one dead web service, and a
# P2P/WebRTC-like client whose datagrams to a few ports of two peers go unanswered; it also has
# answered connections (so silence is known to be meaningful on this tap).
scan_benign_silent_udp() {
  use_src 10.99.0.166
  http_at 203.0.113.82
  start_cap scan_benign_silent_udp.pcap 0 host "$SRC"
  local r p
  H curl -s -m 2 -o /dev/null http://203.0.113.82/ || true
  for r in 1 2 3; do
    H dig +tries=2 +time=1 @192.0.2.53 "www.example.org" A >/dev/null 2>&1 || true
    H dig +tries=2 +time=1 @192.0.2.54 "mail.example.org" A >/dev/null 2>&1 || true
    # SNTP client requests (48-byte mode-3 header) to two dead servers.
    for s in 192.0.2.123 192.0.2.124; do
      H bash -c "printf '\\x23\\x00\\x06\\x20%44s' '' >/dev/udp/$s/123" || true
    done
    H curl -s -m 2 -o /dev/null https://192.0.2.90/ || true
    for p in 3478 19302 50000 50001; do
      H bash -c "echo binding-request-$r >/dev/udp/192.0.2.100/$p" || true
    done
    H bash -c "echo binding-request-$r >/dev/udp/192.0.2.101/3478" || true
    H curl -s -m 2 -o /dev/null "http://203.0.113.82/?r=$r" || true
    sleep 2
  done
  stop_cap
  tsum "$OUT/scan_benign_silent_udp.pcap" "ip.src==$SRC && !tcp.flags.ack==1" ip.dst udp.dstport tcp.dstport
}

# ---------------------------------------------------------------- item 2: IP-protocol scans
scan_ipproto() {   # nmap -sO: raw IP with protocol numbers 0-255, refused by protocol-unreachable
  use_src 10.99.0.167
  start_cap scan_ipproto.pcap 0 host "$SRC"
  nmap_ -sO -Pn --max-retries 1 203.0.113.83
  stop_cap
  echo "protocols probed: $(distinct scan_ipproto.pcap "ip.src==$SRC" ip.proto), protocol unreachables: $(count scan_ipproto.pcap "icmp.type==3 && icmp.code==2")"
  # What a tap seeing only the return path gives: the unreachables, not the probes.
  tcpdump -r "$OUT/scan_ipproto.pcap" -w "$OUT/scan_oneway_ipproto_replies.pcap" "dst host $SRC" 2>/dev/null
  chmod 644 "$OUT/scan_oneway_ipproto_replies.pcap"
  echo "--- scan_oneway_ipproto_replies.pcap: $(tshark -r "$OUT/scan_oneway_ipproto_replies.pcap" 2>/dev/null | wc -l) pkts"
}
# Benign twin: a host sending ESP (protocol 50) and SCTP (132) datagrams to one peer that
# refuses both with protocol unreachables, plus ordinary traffic: two protocols, not a scan.
scan_benign_ipproto() {
  use_src 10.99.0.168
  http_at 203.0.113.84
  start_cap scan_benign_ipproto.pcap 0 host "$SRC"
  H curl -s -m 2 -o /dev/null http://203.0.113.84/ || true
  H timeout 10 hping3 -I "$VH" -a "$SRC" --rawip -H 50 -d 120 -c 20 -i u200000 203.0.113.85 >>"$LOG" 2>&1 || true
  H timeout 5 hping3 -I "$VH" -a "$SRC" --rawip -H 132 -d 40 -c 3 -i u300000 203.0.113.85 >>"$LOG" 2>&1 || true
  H curl -s -m 2 -o /dev/null http://203.0.113.84/?again || true
  stop_cap
  tsum "$OUT/scan_benign_ipproto.pcap" "ip" ip.src ip.proto icmp.type icmp.code
}
# The UDP scan of scan_nmap_sU.pcap as a tap seeing only the return path: the port unreachables.
scan_oneway_udp_replies() {
  tcpdump -r "$OUT/scan_nmap_sU.pcap" -w "$OUT/scan_oneway_udp_replies.pcap" "icmp and dst host 10.99.0.35" 2>/dev/null
  chmod 644 "$OUT/scan_oneway_udp_replies.pcap"
  echo "--- scan_oneway_udp_replies.pcap: $(tshark -r "$OUT/scan_oneway_udp_replies.pcap" 2>/dev/null | wc -l) pkts"
}

# ---------------------------------------------------------------- item 7: failover
# dnsmasq answers shop.example.net with four A records whose hosts drop everything (iptables);
# curl and a connect() loop fail over between them with kernel SYN retransmissions.
failover_up() {
  I iptables -A INPUT -d 203.0.113.90/31 -j DROP
  I iptables -A INPUT -d 203.0.113.92/31 -j DROP
  i_bg dnsmasq -k -C /dev/null --no-resolv --no-hosts --bind-interfaces --listen-address=198.51.100.53 \
    --host-record=shop.example.net,203.0.113.90 --host-record=shop.example.net,203.0.113.91 \
    --host-record=shop.example.net,203.0.113.92 --host-record=shop.example.net,203.0.113.93 \
    --host-record=www.example.com,203.0.113.86 --address=/#/203.0.113.86 --local=/#/
  mkdir -p "/etc/netns/$NS_HOME"
  echo "nameserver 198.51.100.53" >"/etc/netns/$NS_HOME/resolv.conf"
  http_at 203.0.113.86
  sleep 0.5
}
failover_down() {
  I iptables -D INPUT -d 203.0.113.90/31 -j DROP
  I iptables -D INPUT -d 203.0.113.92/31 -j DROP
  rm -rf "/etc/netns/$NS_HOME"
}
scan_benign_failover() {
  use_src 10.99.0.169; failover_up
  start_cap scan_benign_failover.pcap 0 host "$SRC"
  H curl -s -m 2 -o /dev/null http://www.example.com/ || true
  H curl -s --connect-timeout 12 -o /dev/null http://shop.example.net/ || true
  H curl -s -m 2 -o /dev/null http://www.example.com/again || true
  H "$PY" -c '
import socket
try:
    socket.create_connection(("shop.example.net", 443), timeout=2.5)
except OSError as e:
    print("connect:", e)
' >>"$LOG" 2>&1 || true
  stop_cap; failover_down
  tsum "$OUT/scan_benign_failover.pcap" "tcp.flags==0x002" ip.dst tcp.dstport tcp.srcport
}
scan_failover_then_scan() {   # the twin: the same name resolved, then its address port-scanned
  use_src 10.99.0.170; failover_up
  start_cap scan_failover_then_scan.pcap 96 host "$SRC"
  H curl -s -m 2 -o /dev/null http://www.example.com/ || true
  H dig +short shop.example.net A >>"$LOG" 2>&1 || true
  nmap_ -sS -Pn -p 1-200 --max-retries 0 203.0.113.90
  stop_cap; failover_down
  echo "SYNs: $(count scan_failover_then_scan.pcap "tcp.flags==0x002 && ip.src==$SRC")"
}

# ---------------------------------------------------------------- item 8: IPv6, neither side home
scan_ipv6_external() {
  ip -n "$NS_HOME" -6 addr add 2001:db8:99::171/64 dev "$VH" nodad 2>/dev/null || true
  ip -n "$NS_NET" -6 addr add 2001:db8:99::254/64 dev "$VN" nodad 2>/dev/null || true
  ip -n "$NS_HOME" -6 route replace default via 2001:db8:99::254
  ip -n "$NS_NET" -6 route add local 2001:db8:1::/64 dev lo 2>/dev/null || true
  i_bg "$PY" -m http.server 80 --bind 2001:db8:1::10 --directory "$WORK"
  sleep 2
  start_cap scan_ipv6_external.pcap 96 host 2001:db8:99::171
  H nmap -6 -n -e "$VH" -S 2001:db8:99::171 -sS -Pn --top-ports 100 2001:db8:1::10 >>"$LOG" 2>&1 || true
  stop_cap
  echo "SYNs: $(count scan_ipv6_external.pcap "tcp.flags==0x002"), RSTs: $(count scan_ipv6_external.pcap "tcp.flags.reset==1")"
}

ALL=(scan_silent_udp_dark scan_silent_udp_firewall scan_silent_udp_ping_sweep
     scan_silent_ack_ping_sweep scan_silent_masscan_udp scan_benign_silent_udp
     scan_ipproto scan_benign_ipproto scan_oneway_udp_replies
     scan_benign_failover scan_failover_then_scan scan_ipv6_external)

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
netns_up "${NS_PREFIX:-sc}"
trap cleanup EXIT
I sysctl -qw net.ipv4.icmp_ratelimit=0
I sysctl -qw net.ipv6.icmp.ratelimit=0 2>/dev/null || true
# Dark space: 192.0.2.0/24 is no longer the fake internet's; it is routed into a blackhole.
ip -n "$NS_NET" route del local 192.0.2.0/24 dev lo table local 2>/dev/null || true
I sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS_NET" route add blackhole 192.0.2.0/24
trap 'exit 130' INT TERM
[ $# -gt 0 ] && ALL=("$@")
for s in "${ALL[@]}"; do
  say "$s"
  "$s"
done
say "done"
