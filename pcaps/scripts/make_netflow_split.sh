#!/usr/bin/env bash
# A real exporter splitting a long session at its active timeout: pmacct's pmacctd (Debian
# pmacct 1.7.7, nfprobe plugin, `nfprobe_timeouts: maxlife=20`: a flow alive 20 s is exported
# and a new record begins) watches a veth live while a home host trickles one random line a
# second for 90 s over one TCP session to an outside sink (the behaviour of egress_trickle.pcap).
# Two pmacctd instances watch the same wire, one exporting NetFlow v9 to udp/2055 and one IPFIX
# to udp/4739; tcpdump records the export packets on loopback; nfcapd listens on both ports so
# the exports are received and nfdump prints them.
#
# Why not softflowd: its maxlife is checked on wall time, so an offline `-r` run exports each
# flow once at EOF, and softflowd 1.1.0 live (`-i`) on a veth here receives packets in libpcap
# but processes none. Two private namespaces: `netflow2-h` (home, 10.99.0.111) and `netflow2-i`
# (the fake internet, owning 203.0.113.0/24 on lo). Writes netflow_split_v9.pcap and
# netflow_split_ipfix.pcap. Run as root; takes ~2 minutes. Needs pmacct, nfdump, tcpdump.
# MAXLIFE and SECONDS_LONG (defaults 20 and 90) change the timeout and the session's length.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/nfsplit.XXXXXX)
home=netflow2-h
inet=netflow2-i
cleanup() {
  for ns in "$home" "$inet"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  sleep 0.5
  ip netns del "$home" 2>/dev/null || true
  ip netns del "$inet" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$home" 2>/dev/null || true
ip netns del "$inet" 2>/dev/null || true
ip netns add "$home"
ip netns add "$inet"
ip -n "$home" link set lo up
ip -n "$inet" link set lo up
ip -n "$home" link add netflow2h type veth peer name netflow2i netns "$inet"
ip -n "$home" addr add 10.99.0.111/24 dev netflow2h
ip -n "$inet" addr add 10.99.0.1/24 dev netflow2i
ip -n "$home" link set netflow2h up
ip -n "$inet" link set netflow2i up
ip -n "$home" route add default via 10.99.0.1
ip -n "$inet" route add local 203.0.113.0/24 dev lo
mkdir -p "$work/nfc9" "$work/nfc10"
ip netns exec "$inet" nfcapd -p 2055 -w "$work/nfc9" -D -P "$work/nfc9.pid" >/dev/null 2>&1
ip netns exec "$inet" nfcapd -p 4739 -w "$work/nfc10" -D -P "$work/nfc10.pid" >/dev/null 2>&1
ip netns exec "$inet" tcpdump -i lo -w "$work/v9.pcap" -U -s 0 udp port 2055 2>/dev/null &
ip netns exec "$inet" tcpdump -i lo -w "$work/ipfix.pcap" -U -s 0 udp port 4739 2>/dev/null &
pm=()
for v in 9 10; do
  port=2055
  [ "$v" = 10 ] && port=4739
  cat >"$work/pm$v.conf" <<CONF
daemonize: false
pcap_interface: netflow2i
aggregate: src_host, dst_host, src_port, dst_port, proto, tcpflags
pcap_filter: ip
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:$port
nfprobe_version: $v
nfprobe_timeouts: maxlife=${MAXLIFE:-20}:expint=1
CONF
  ip netns exec "$inet" pmacctd -f "$work/pm$v.conf" >"$work/pm$v.log" 2>&1 &
  pm+=($!)
done
# The server reads and discards.
ip netns exec "$inet" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.30", 4444)); s.listen(1); c, _ = s.accept()
while c.recv(4096): pass
' &
sleep 1
# The client: one TCP session, a random line a second for 90 s.
ip netns exec "$home" bash -c '
exec 3<>/dev/tcp/203.0.113.30/4444
for i in $(seq ${SECONDS_LONG:-90}); do head -c $((200 + RANDOM % 150)) /dev/urandom | base64 -w0 >&3; echo >&3; sleep 1; done
exec 3>&-'
sleep 3
# pmacctd exports what is still open when it stops.
kill -INT "${pm[@]}"
sleep 3
kill "$(cat "$work/nfc9.pid")" "$(cat "$work/nfc10.pid")"
sleep 1
cp "$work/v9.pcap" netflow_split_v9.pcap
cp "$work/ipfix.pcap" netflow_split_ipfix.pcap
for v in 9 10; do
  echo "v$v: nfdump records:"
  nfdump -R "$work/nfc$v" -q -o 'fmt:%ts %td %sa %sp %da %dp %pkt %byt' 2>/dev/null
done
