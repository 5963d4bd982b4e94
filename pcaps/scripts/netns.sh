#!/usr/bin/env bash
# Shared helpers for the capture scripts: a "home" namespace and a "fake internet" namespace joined
# by one veth pair. The fake internet owns the documentation ranges with AnyIP local routes, so
# every address answers and no packet can leave this machine.
#
#   home  (NS_HOME): veth $VH, 10.99.0.0/24 (scenario hosts add their own 10.99.0.X), default via .254
#   inet  (NS_NET):  veth $VN, 10.99.0.254/24, owns 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
#
# Usage: source netns.sh; netns_up PREFIX; ... ; netns_down (also trapped on EXIT).
set -euo pipefail

netns_up() {
  local p=$1
  NS_HOME=${p}home NS_NET=${p}inet VH=${p}vh VN=${p}vn
  export NS_HOME NS_NET VH VN
  netns_down_quiet
  ip netns add "$NS_HOME"
  ip netns add "$NS_NET"
  ip link add "$VH" type veth peer name "$VN"
  ip link set "$VH" netns "$NS_HOME"
  ip link set "$VN" netns "$NS_NET"
  ip -n "$NS_HOME" link set lo up
  ip -n "$NS_NET" link set lo up
  ip -n "$NS_HOME" addr add 10.99.0.1/24 dev "$VH"
  ip -n "$NS_NET" addr add 10.99.0.254/24 dev "$VN"
  ip -n "$NS_HOME" link set "$VH" up
  ip -n "$NS_NET" link set "$VN" up
  ip -n "$NS_HOME" route add default via 10.99.0.254
  for r in 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24; do
    ip -n "$NS_NET" route add local "$r" dev lo
  done
  ip netns exec "$NS_HOME" ethtool -K "$VH" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip netns exec "$NS_NET" ethtool -K "$VN" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  # No reverse-path filtering surprises when a home host uses a secondary address.
  ip netns exec "$NS_NET" sysctl -qw net.ipv4.conf.all.rp_filter=0 || true
  trap netns_down EXIT
}

# Give the home namespace another host address (one per scenario, so captures can be merged).
home_addr() { ip -n "$NS_HOME" addr add "$1/24" dev "$VH" 2>/dev/null || true; }

# capture_start FILE [SNAPLEN] [FILTER...]: tcpdump on the home veth, in the home namespace.
capture_start() {
  local file=$1 snap=${2:-0}
  shift 2 || shift $#
  ip netns exec "$NS_HOME" tcpdump -i "$VH" -w "$file" -U -s "$snap" "$@" >/dev/null 2>&1 &
  CAP_PID=$!
  sleep 1
}
capture_stop() {
  sleep 1
  kill -INT "$CAP_PID" 2>/dev/null || true
  wait "$CAP_PID" 2>/dev/null || true
}

netns_down_quiet() {
  for ns in "${NS_HOME:-}" "${NS_NET:-}"; do
    [ -n "$ns" ] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
netns_down() { netns_down_quiet; }
