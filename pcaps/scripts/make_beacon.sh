#!/usr/bin/env bash
# Regenerate the beaconing (command-and-control check-in, T1071 / T1573 / T1029) captures in pcaps/.
#
# Run as root:  pcaps/scripts/make_beacon.sh [scenario ...]   (no argument: every scenario)
#
# Every scenario runs at the same time (about 11.5 minutes of wall time in all), each from its own
# home source address, each recorded by its own tcpdump filtered on that address. Namespaces
# "bchome"/"bcinet" are created here; the fake internet owns 192.0.2.0/24, 198.51.100.0/24 and
# 203.0.113.0/24 with AnyIP local routes, so no packet can leave the machine.
#
#   beacon_http          10.99.0.201  curl http://beacon.c2-example.net/  every 10 s +-15 %, 8 min
#   beacon_https         10.99.0.202  curl -k https://api.c2-example.org/ (SNI, new TLS connection
#                                     each time) every 60 s +-20 %, 11 min
#   beacon_jitter50      10.99.0.203  curl http://img.c2-rotate.com/ every 10 s +-50 %, the name's
#                                     address rotating over 198.51.100.61-63 (CDN-like), 8 min
#   beacon_heartbeat     10.99.0.204  dig hb.c2-example.net, then one TCP session to :8443 writing a
#                                     line every 15 s +-15 % (python client), 8 min
#   beacon_dns_txt       10.99.0.205  dig TXT <random>.t.c2-dns.com through dnsmasq 192.0.2.53
#                                     every 20 s +-20 %, 8 min
#   benign_sntp          10.99.0.211  dig 2.debian.pool.ntp.org, then an SNTP client polling
#                                     203.0.113.123:123 every 64 s (chrony's minpoll), 11 min
#   benign_monitor       10.99.0.212  curl -k POST https://7-50-0-app.agent.datadoghq.com/ every
#                                     30 s (a monitoring agent), 11 min
#   benign_browsing      10.99.0.213  curl to 12 web names at irregular times (page + 0-4
#                                     resources, think times 2-90 s), 11 min
#   benign_update        10.99.0.214  curl -k https://update.googleapis.com/ every 300 s, address
#                                     rotating over 198.51.100.80-82, 11 min (3 checks)
#
# Snap lengths: 256 bytes for HTTP and DNS (the Host header and the query name must survive), 700
# for TLS (the ClientHello's SNI sits ~200 bytes into the record), 128 for the rest.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
NSP=${BEACON_NS_PREFIX:-bc}   # a second prefix lets two runs overlap
W=/tmp/${NSP}work
PY=/usr/bin/python3
FAST=${BEACON_FAST_SECS:-480}   # the "8 minutes" horizon of the fast beacons
SLOW=${BEACON_SLOW_SECS:-690}   # the 60 s beacon and the benign twins
# shellcheck source=netns.sh
source "$HERE/netns.sh"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in tcpdump tshark dig dnsmasq openssl curl; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done

BG_PIDS=()
bg() { local ns=$1; shift; ip netns exec "$ns" "$@" >>"$W/daemons.log" 2>&1 & BG_PIDS+=($!); }
CAPS=()
cap() {
  rm -f "$OUT/$1"
  ip netns exec "$NS_HOME" tcpdump -i "$VH" -w "$OUT/$1" -U -s "$2" -Z root host "$3" >/dev/null 2>&1 &
  CAPS+=($!)
}
in_home() { ip netns exec "$NS_HOME" "$@"; }
net_lo_addr() { ip -n "$NS_NET" addr add "$1/32" dev lo 2>/dev/null || true; }
wait_listen() {
  local i
  for i in $(seq 100); do
    [ -n "$(ip netns exec "$1" ss -lntuH "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "nothing listens on port $2 in $1" >&2; return 1
}
cleanup() {
  set +e
  local p
  for p in "${JOBS_[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${CAPS[@]:-}"; do [ -n "$p" ] && kill -INT "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  sleep 1
  netns_down
  [ -n "${BC_KEEP_WORK:-}" ] || rm -rf "$W"
}
# between LO HI: a uniform random delay in seconds (millisecond steps).
# (From two $RANDOM draws: seeding awk's srand with a large number clamps the seed in mawk, and
# about half the delays came out identical.)
between() { awk -v lo="$1" -v hi="$2" -v a=$RANDOM -v b=$RANDOM 'BEGIN{printf "%.3f", lo + (a*32768+b)/1073741824*(hi-lo)}'; }
# nap SECS END: sleep SECS, or less when the scenario's END (in $SECONDS) comes first.
nap() { local d; d=$(awk -v a="$1" -v b="$(( $2 - SECONDS ))" 'BEGIN{print (a<b)?a:(b>0?b:0)}'); sleep "$d"; }
log() { echo "$(date -u +%H:%M:%S.%N | cut -c1-12) $*" >>"$W/$1.log"; }

prepare() {
  rm -rf "$W"; mkdir -p "$W/www" "$W/tls"; chmod 755 "$W"; : >"$W/daemons.log"
  head -c 180 /dev/urandom | base64 >"$W/www/beacon.txt"
  for i in $(seq 1 12); do head -c $((3000 + i * 1700)) /dev/urandom | base64 >"$W/www/page$i.html"; done
  for i in $(seq 1 6); do head -c $((9000 + i * 5000)) /dev/urandom >"$W/www/res$i.js"; done
  echo '<html><body>ok</body></html>' >"$W/www/index.html"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -keyout "$W/tls/key.pem" -out "$W/tls/cert.pem" >/dev/null 2>&1
  # HTTPS server for GET and POST, one thread per connection (openssl s_server -www serves one
  # connection at a time: a POST left it waiting and every other client hung behind it).
  cat >"$W/tls_server.py" <<'EOF'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = b'{"status":"ok","tasks":[]}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = reply
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("0.0.0.0", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
EOF
  # Heartbeat server: answers each line with a short acknowledgement.
  cat >"$W/hb_server.py" <<'EOF'
import socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"ACK " + line[:8] + b"\n")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
S(("0.0.0.0", 8443), H).serve_forever()
EOF
  # Heartbeat client: one TCP session, one line every BASE s +-JIT, for DUR s.
  cat >"$W/hb_client.py" <<'EOF'
import os, random, socket, sys, time
addr, base, jit, dur = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection((addr, 8443), source_address=(sys.argv[5], 0))
end, seq = time.time() + dur, 0
while time.time() < end:
    seq += 1
    s.sendall(b"HB %d %s\n" % (seq, os.urandom(24).hex().encode()))
    s.recv(256)
    time.sleep(base * (1 + random.uniform(-jit, jit)))
s.close()
EOF
  # SNTP responder (mode 4 answers) and an SNTP poller (mode 3 requests at a fixed poll interval).
  cat >"$W/ntp_server.py" <<'EOF'
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.123", 123))   # its own address: an AnyIP wildcard socket answers from 10.99.0.254
while True:
    data, peer = s.recvfrom(512)
    if len(data) < 48:
        continue
    now = time.time() + 2208988800
    sec, frac = int(now), int((now % 1) * 2**32)
    reply = struct.pack("!BBBb11I", 0x24, 2, 6, -20, 0, 0, 0x7F7F0101, sec, 0,
                        *struct.unpack("!II", data[40:48]), sec, frac, sec, frac)
    s.sendto(reply, peer)
EOF
  cat >"$W/ntp_client.py" <<'EOF'
import random, socket, struct, sys, time
addr, poll, dur, src = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0)); s.settimeout(2)
end = time.time() + dur
while time.time() < end:
    now = time.time() + 2208988800
    s.sendto(struct.pack("!B47xII", 0x23, int(now), int((now % 1) * 2**32))[:48], (addr, 123))
    try:
        s.recv(512)
    except socket.timeout:
        pass
    time.sleep(poll + random.uniform(-0.5, 0.5))
EOF
}

servers() {
  local a
  for a in 192.0.2.53 203.0.113.50 203.0.113.51 203.0.113.53 203.0.113.70 203.0.113.123; do net_lo_addr $a; done
  bg "$NS_NET" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=192.0.2.53 --user=root --pid-file= \
    --address=/hb.c2-example.net/203.0.113.53 --address=/pool.ntp.org/203.0.113.123 \
    --address=/c2-dns.com/203.0.113.99 --local=/c2-dns.com/ \
    --txt-record=t.c2-dns.com,"ok" --address=/#/203.0.113.200
  bg "$NS_NET" $PY -m http.server 80 --bind 0.0.0.0 --directory "$W/www"
  bg "$NS_NET" $PY "$W/tls_server.py" "$W/tls/cert.pem" "$W/tls/key.pem"
  bg "$NS_NET" $PY "$W/hb_server.py"
  bg "$NS_NET" $PY "$W/ntp_server.py"
  wait_listen "$NS_NET" 53; wait_listen "$NS_NET" 80; wait_listen "$NS_NET" 443
  wait_listen "$NS_NET" 8443; wait_listen "$NS_NET" 123
}

# ------------------------------------------------------------------------------- the scenarios
beacon_http() {
  local src=10.99.0.201 end=$((SECONDS + FAST))
  while [ $SECONDS -lt $end ]; do
    log beacon_http check-in
    in_home curl -s --max-time 10 -o /dev/null --interface $src --resolve beacon.c2-example.net:80:203.0.113.50 \
      http://beacon.c2-example.net/beacon.txt || true
    nap "$(between 8.5 11.5)" $end
  done
}
beacon_https() {
  local src=10.99.0.202 end=$((SECONDS + SLOW))
  while [ $SECONDS -lt $end ]; do
    log beacon_https check-in
    in_home curl -sk --max-time 10 -o /dev/null --interface $src --resolve api.c2-example.org:443:203.0.113.51 \
      https://api.c2-example.org/ || true
    nap "$(between 48 72)" $end
  done
}
beacon_jitter50() {
  local src=10.99.0.203 end=$((SECONDS + FAST)) n=0
  while [ $SECONDS -lt $end ]; do
    log beacon_jitter50 check-in
    in_home curl -s --max-time 10 -o /dev/null --interface $src \
      --resolve img.c2-rotate.com:80:198.51.100.$((61 + n % 3)) http://img.c2-rotate.com/beacon.txt || true
    n=$((n + 1))
    nap "$(between 5 15)" $end
  done
}
beacon_heartbeat() {
  local src=10.99.0.204 ip
  ip=$(in_home dig -b $src @192.0.2.53 +short +tries=1 +time=2 hb.c2-example.net A | head -1)
  log beacon_heartbeat "resolved $ip"
  in_home $PY "$W/hb_client.py" "$ip" 15 0.15 "$FAST" $src
}
beacon_dns_txt() {
  local src=10.99.0.205 end=$((SECONDS + FAST))
  while [ $SECONDS -lt $end ]; do
    log beacon_dns_txt check-in
    in_home dig -b $src @192.0.2.53 +tries=1 +time=2 "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n').t.c2-dns.com" TXT >/dev/null || true
    nap "$(between 16 24)" $end
  done
}
benign_sntp() {
  local src=10.99.0.211 ip
  ip=$(in_home dig -b $src @192.0.2.53 +short +tries=1 +time=2 2.debian.pool.ntp.org A | head -1)
  in_home $PY "$W/ntp_client.py" "$ip" 64 "$SLOW" $src
}
benign_monitor() {
  local src=10.99.0.212 end=$((SECONDS + SLOW))
  while [ $SECONDS -lt $end ]; do
    in_home curl -sk --max-time 10 -o /dev/null --interface $src -d "{\"series\":[{\"metric\":\"system.load.1\",\"points\":[[$(date +%s),0.$RANDOM]]}]}" \
      --resolve 7-50-0-app.agent.datadoghq.com:443:203.0.113.70 https://7-50-0-app.agent.datadoghq.com/api/v1/series || true
    nap 30 $end
  done
}
benign_browsing() {
  local src=10.99.0.213 end=$((SECONDS + SLOW)) names i k n host ip
  names=(news.example-daily.com www.example-shop.com en.example-wiki.org video.example-tube.com
         mail.example-post.com docs.example-code.dev forum.example-talk.net maps.example-geo.com
         www.example-bank.com weather.example-sky.com blog.example-notes.io search.example-find.com)
  while [ $SECONDS -lt $end ]; do
    i=$((RANDOM % 12)); host=${names[$i]}; ip=198.51.100.$((100 + i))
    in_home curl -s --max-time 10 -o /dev/null --interface $src --resolve $host:80:$ip "http://$host/page$((i + 1)).html" || true
    n=$((RANDOM % 5))
    for k in $(seq 1 $n); do
      in_home curl -s --max-time 10 -o /dev/null --interface $src --resolve $host:80:$ip "http://$host/res$(((RANDOM % 6) + 1)).js" || true
    done
    # think time: mostly short reads, sometimes a long one
    if [ $((RANDOM % 4)) = 0 ]; then nap "$(between 40 90)" $end; else nap "$(between 2 25)" $end; fi
  done
}
benign_update() {
  local src=10.99.0.214 end=$((SECONDS + SLOW)) n=0
  while [ $SECONDS -lt $end ]; do
    in_home curl -sk --max-time 10 -o /dev/null --interface $src \
      --resolve update.googleapis.com:443:198.51.100.$((80 + n % 3)) https://update.googleapis.com/service/update2/json || true
    n=$((n + 1))
    nap 300 $end
  done
}

ALL_SCENARIOS="beacon_http beacon_https beacon_jitter50 beacon_heartbeat beacon_dns_txt benign_sntp benign_monitor benign_browsing benign_update"
RUN=${*:-$ALL_SCENARIOS}
trap cleanup EXIT
prepare
netns_up "$NSP"
trap cleanup EXIT
for a in 201 202 203 204 205 211 212 213 214; do home_addr 10.99.0.$a; done
servers
declare -A SNAP=([beacon_http]=256 [beacon_https]=700 [beacon_jitter50]=256 [beacon_heartbeat]=256
  [beacon_dns_txt]=256 [benign_sntp]=256 [benign_monitor]=700 [benign_browsing]=256 [benign_update]=700)
declare -A SRC=([beacon_http]=201 [beacon_https]=202 [beacon_jitter50]=203 [beacon_heartbeat]=204
  [beacon_dns_txt]=205 [benign_sntp]=211 [benign_monitor]=212 [benign_browsing]=213 [benign_update]=214)
for s in $RUN; do cap "$s.pcap" "${SNAP[$s]}" "10.99.0.${SRC[$s]}"; done
sleep 2
JOBS_=()
for s in $RUN; do
  $s & JOBS_+=($!)
done
for p in "${JOBS_[@]}"; do wait "$p" || true; done
JOBS_=()
sleep 2
for p in "${CAPS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
for p in "${CAPS[@]}"; do wait "$p" 2>/dev/null || true; done
CAPS=()
for f in $RUN; do
  printf '%-20s %6s packets, %4s SYNs, %3s DNS queries, %s bytes\n' "$f" \
    "$(tshark -r "$OUT/$f.pcap" 2>/dev/null | wc -l)" \
    "$(tshark -r "$OUT/$f.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' 2>/dev/null | wc -l)" \
    "$(tshark -r "$OUT/$f.pcap" -Y 'dns.flags.response==0' 2>/dev/null | wc -l)" \
    "$(stat -c %s "$OUT/$f.pcap")"
done
[ -z "${BC_KEEP_WORK:-}" ] || cp "$W"/*.log "$OUT/../target/" 2>/dev/null || true
