#!/usr/bin/env bash
# Shared helpers for the capture scripts: a "home" namespace and a "fake internet" namespace joined
# by one veth pair. The fake internet owns the documentation ranges with AnyIP local routes, so
# every address answers and no packet can leave this machine.
#
#   home  (NS_HOME): veth $VH, 10.99.0.0/24 (scenario hosts add their own 10.99.0.X), default via .254
#   inet  (NS_NET):  veth $VN, 10.99.0.254/24, owns 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24
#
# Usage: source netns.sh; netns_up PREFIX; ... ; netns_down (also trapped on EXIT).
# The scenario helpers at the end (H, I, i_bg, kill_bg, use_src, start_cap, stop_cap, ...) need
# OUT (where captures go) and LOG (where daemons write) set by the script.
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

# ---------------------------------------------------------------- scenario helpers
BG_PIDS=()
say() { printf '\n=== %s\n' "$*"; }
H() { ip netns exec "$NS_HOME" "$@"; }   # run in the home namespace
I() { ip netns exec "$NS_NET" "$@"; }    # run in the fake internet
# Background daemons; `ip netns exec` execs the command, so $! is the daemon itself.
h_bg() { ip netns exec "$NS_HOME" "$@" >>"$LOG" 2>&1 & BG_PIDS+=($!); }
i_bg() { ip netns exec "$NS_NET" "$@" >>"$LOG" 2>&1 & BG_PIDS+=($!); }
kill_bg() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BG_PIDS=()
}
# Every scenario gets its own home source address; the default route's src makes every tool use it.
use_src() {
  SRC=$1
  home_addr "$SRC"
  ip -n "$NS_HOME" route replace default via 10.99.0.254 src "$SRC"
}
# start_cap FILE SNAPLEN [FILTER...]: capture into $OUT/FILE; stop_cap ends it and the daemons.
start_cap() { CAP_FILE=$OUT/$1; rm -f "$CAP_FILE"; capture_start "$CAP_FILE" "$2" "${@:3}"; }
stop_cap() {
  capture_stop; CAP_PID=
  kill_bg
  chmod 644 "$CAP_FILE"
  echo "--- $(basename "$CAP_FILE"): $(stat -c %s "$CAP_FILE") bytes, $(tshark -r "$CAP_FILE" 2>/dev/null | wc -l) pkts"
}
# tsum FILE FILTER FIELD...: the most common values of FIELDs among the packets FILTER keeps.
tsum() {
  local f=$1 flt=$2; shift 2
  local args=(); for x in "$@"; do args+=(-e "$x"); done
  tshark -r "$f" -Y "$flt" -T fields "${args[@]}" 2>/dev/null | sort | uniq -c | sort -rn | head -8 || true
}
# wait_until SECONDS CMD...: poll until CMD succeeds.
wait_until() {
  local t=$1; shift
  for _ in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out waiting for: $*" >&2; return 1
}
