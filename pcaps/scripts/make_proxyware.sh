#!/usr/bin/env bash
# Regenerate the extra proxyware (T1496.002) captures in pcaps/ that the proxyware detector's
# shape, Tor, mining and served-proxy tests use (the name and handshake captures come from
# make_proxy_egress.sh).
#
# Run as root:  pcaps/scripts/make_proxyware.sh [scenario ...]
# (no argument = every scenario; a scenario is the capture name without .pcap)
#
# Everything happens inside namespaces created here (prefix "se": sehome, seinet); the fake
# internet owns 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 with AnyIP local routes, so no
# packet can leave the machine. Each scenario has its own home source address:
#
#   proxy_relay_shape        10.99.0.107  microsocks on :1080; 6 clients 198.51.100.20-25 relay 24 paced
#                                         downloads (200 kB at 8 kB/s, one a second) from 203.0.113.130-153
#   proxy_tor_shape          10.99.0.108  openssl s_client, SNI www.<random base32>.com, no ALPN -> 203.0.113.170:9001
#                                         and 198.51.100.171:443 (openssl s_server)
#   proxy_benign_tor_lookalike 10.99.0.118 the same servers: curl (ALPN) with a random www name, s_client
#                                         (no ALPN) with www.wikipedia.com and www.facebook.com
#   proxy_http_served        10.99.0.109  tinyproxy on 10.99.0.109:3128; clients 198.51.100.30-31: absolute-URI
#                                         GETs to 203.0.113.160 and CONNECT to 203.0.113.161:443
#   proxy_stratum_xmrig      10.99.0.116  XMRig-style "login" JSON-RPC -> 203.0.113.35:14444 (toy pool)
#   proxy_benign_symmetric   10.99.0.117  one symmetric 12 MB-each-way session to 198.51.100.129:5001, plus 24
#                                         concurrent paced downloads from 198.51.100.130-153 (many peers,
#                                         long sessions, in ~ out overall, but nothing passed through)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
W=/tmp/sework
PY=/usr/bin/python3
# shellcheck source=netns.sh
source "$HERE/netns.sh"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in tcpdump tshark openssl curl ncat microsocks tinyproxy; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done

BG_PIDS=()
bg() { local ns=$1; shift; ip netns exec "$ns" "$@" >>"$W/daemons.log" 2>&1 & BG_PIDS+=($!); }
stop_bg() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BG_PIDS=()
}
in_home() { ip netns exec "$NS_HOME" "$@"; }
in_net() { ip netns exec "$NS_NET" "$@"; }
wait_listen() {
  local i
  for i in $(seq 100); do
    [ -n "$(ip netns exec "$1" ss -lntuH "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "nothing listens on port $2 in $1" >&2; return 1
}
set_mtu() { ip -n "$NS_HOME" link set "$VH" mtu "$1"; ip -n "$NS_NET" link set "$VN" mtu "$1"; }
cap() { rm -f "$OUT/$1"; capture_start "$OUT/$1" "$2" -Z root host "$3"; }
cleanup() {
  set +e
  stop_bg
  [ -n "${CAP_PID:-}" ] && kill -INT "$CAP_PID" 2>/dev/null
  netns_down
  [ -n "${SE_KEEP_WORK:-}" ] || rm -rf "$W"
}

prepare() {
  rm -rf "$W"; mkdir -p "$W/www" "$W/tls"
  chmod 755 "$W"
  : >"$W/daemons.log"
  head -c 200000 /dev/urandom >"$W/www/blob.bin"
  head -c 12000000 /dev/urandom >"$W/sym12m.bin"
  head -c 300000 /dev/urandom >"$W/up300k.bin"
  echo '<html><body>ok</body></html>' >"$W/www/index.html"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=www.$(head -c 8 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z').net" \
    -keyout "$W/tls/key.pem" -out "$W/tls/cert.pem" >/dev/null 2>&1

  # Paced web server: GET streams DIR/NAME at RATE bytes/s in 8 KiB writes (long-lived sessions);
  # POST reads and discards the body.
  cat >"$W/paced.py" <<'EOF'
import http.server, os, socketserver, sys, time
DIR, RATE = sys.argv[3], int(sys.argv[4])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        try: data = open(os.path.join(DIR, os.path.basename(self.path)), "rb").read()
        except OSError: self.send_error(404); return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for i in range(0, len(data), 8192):
            self.wfile.write(data[i:i + 8192]); self.wfile.flush(); time.sleep(8192 / RATE)
    def do_POST(self):
        left = int(self.headers.get("Content-Length", 0))
        while left > 0:
            b = self.rfile.read(min(65536, left))
            if not b: break
            left -= len(b)
        body = b"ok\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF

  # Toy Monero-style pool: answers XMRig's "login" with a job, then a new job per submit.
  cat >"$W/xmrpool.py" <<'EOF'
import json, socketserver, sys
class H(socketserver.StreamRequestHandler):
    def send(self, o): self.wfile.write((json.dumps(o) + "\n").encode()); self.wfile.flush()
    def handle(self):
        for line in self.rfile:
            try: msg = json.loads(line)
            except ValueError: break
            if msg.get("method") == "login":
                self.send({"id": msg.get("id"), "jsonrpc": "2.0", "error": None, "result": {
                    "id": "worker-1", "status": "OK", "extensions": ["algo", "keepalive"],
                    "job": {"blob": "0e0e" + "00" * 74, "job_id": "j1", "target": "b88d0600",
                            "algo": "rx/0", "height": 3100000, "seed_hash": "ab" * 32}}})
            else:
                self.send({"id": msg.get("id"), "jsonrpc": "2.0", "error": None, "result": {"status": "OK"}})
class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
EOF
}

# A home host runs a SOCKS5 proxy; outside clients relay many concurrent, long-lived downloads
# through it: many peers, bytes in = bytes out, everything passed through.
proxy_relay_shape() {
  local src=10.99.0.107 i c peer pids=()
  home_addr $src; set_mtu 9000
  bg "$NS_NET" $PY "$W/paced.py" 0.0.0.0 80 "$W/www" 8000
  bg "$NS_HOME" microsocks -i $src -p 1080 -b $src
  wait_listen "$NS_NET" 80; wait_listen "$NS_HOME" 1080
  cap proxy_relay_shape.pcap 96 $src
  for i in $(seq 0 23); do
    c=198.51.100.$((20 + i % 6)); peer=203.0.113.$((130 + i))
    if [ $((i % 8)) = 7 ]; then
      in_net curl -sS --max-time 60 --interface $c --socks5 $src:1080 --limit-rate 8k \
        --data-binary @"$W/up300k.bin" -o /dev/null "http://$peer/submit" &
    else
      in_net curl -sS --max-time 60 --interface $c --socks5 $src:1080 -o /dev/null "http://$peer/blob.bin" &
    fi
    pids+=($!)
    sleep 1
  done
  for i in "${pids[@]}"; do wait "$i" || echo "socks client $i failed" >&2; done
  capture_stop
  stop_bg; set_mtu 1500
}

start_tls_servers() {
  bg "$NS_NET" openssl s_server -4 -accept 9001 -cert "$W/tls/cert.pem" -key "$W/tls/key.pem" -www -quiet
  bg "$NS_NET" openssl s_server -4 -accept 443 -cert "$W/tls/cert.pem" -key "$W/tls/key.pem" -www -quiet
  wait_listen "$NS_NET" 9001; wait_listen "$NS_NET" 443
}
# s_client SRC DST:PORT SNI: one handshake, no ALPN (as Tor's own TLS client sends).
s_client() {
  echo | in_home timeout 5 openssl s_client -quiet -connect "$2" -servername "$3" \
    -bind "$1:0" >/dev/null 2>&1 || true
}
rand_www() { echo "www.$(head -c 10 /dev/urandom | base32 | tr -d '=' | tr 'A-Z' 'a-z' | cut -c1-$1).com"; }

proxy_tor_shape() {
  local src=10.99.0.108
  home_addr $src
  start_tls_servers
  cap proxy_tor_shape.pcap 0 $src
  s_client $src 203.0.113.170:9001 "$(rand_www 14)"
  s_client $src 198.51.100.171:443 "$(rand_www 11)"
  capture_stop
  stop_bg
}

proxy_benign_tor_lookalike() {
  local src=10.99.0.118 name
  home_addr $src
  start_tls_servers
  cap proxy_benign_tor_lookalike.pcap 0 $src
  name=$(rand_www 12)
  in_home curl -sS -k --max-time 10 --interface $src --resolve "$name:9001:203.0.113.170" -o /dev/null "https://$name:9001/"
  s_client $src 198.51.100.171:443 www.wikipedia.com
  s_client $src 203.0.113.170:9001 www.facebook.com
  capture_stop
  stop_bg
}

# A home host runs an open HTTP proxy; outside clients use it (absolute-URI GETs and CONNECT).
proxy_http_served() {
  local src=10.99.0.109 c
  home_addr $src
  : >"$W/tinyproxy.log"; chmod 666 "$W/tinyproxy.log"
  cat >"$W/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 3128
Listen $src
Timeout 60
MaxClients 20
Allow 198.51.100.0/24
ConnectPort 443
LogLevel Info
LogFile "$W/tinyproxy.log"
EOF
  bg "$NS_NET" $PY -m http.server --bind 0.0.0.0 --directory "$W/www" 80
  bg "$NS_NET" openssl s_server -4 -accept 443 -cert "$W/tls/cert.pem" -key "$W/tls/key.pem" -www -quiet
  bg "$NS_HOME" tinyproxy -d -c "$W/tinyproxy.conf"
  wait_listen "$NS_NET" 80; wait_listen "$NS_NET" 443; wait_listen "$NS_HOME" 3128
  cap proxy_http_served.pcap 0 $src
  for c in 198.51.100.30 198.51.100.31; do
    in_net curl -sS --max-time 10 --interface $c -x http://$src:3128 -o /dev/null http://203.0.113.160/index.html
  done
  in_net curl -sS -k --max-time 10 --interface 198.51.100.31 -p -x http://$src:3128 -o /dev/null https://203.0.113.161/
  capture_stop
  stop_bg
}

proxy_stratum_xmrig() {
  local src=10.99.0.116
  home_addr $src
  bg "$NS_NET" $PY "$W/xmrpool.py" 14444
  wait_listen "$NS_NET" 14444
  cap proxy_stratum_xmrig.pcap 0 $src
  { printf '%s\n' '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A","pass":"x","agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","algo":["rx/0","cn/r"]}}'
    sleep 1
    printf '%s\n' '{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"worker-1","job_id":"j1","nonce":"0a0b0c0d","result":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}}'
    sleep 1
  } | in_home ncat -s $src 203.0.113.35 14444 >/dev/null
  capture_stop
  stop_bg
}

# Ordinary traffic that shares one figure each with a relay but is not one: a symmetric bulk
# session (call or sync) with one peer, and many concurrent long downloads from many peers.
proxy_benign_symmetric() {
  local src=10.99.0.117 i pids=()
  home_addr $src; set_mtu 9000
  bg "$NS_NET" $PY "$W/paced.py" 0.0.0.0 80 "$W/www" 8000
  bg "$NS_NET" ncat -l -k 198.51.100.129 5001 --sh-exec "exec 3<&0; cat <&3 >/dev/null & head -c 12000000 /dev/urandom; wait"
  wait_listen "$NS_NET" 80; wait_listen "$NS_NET" 5001
  cap proxy_benign_symmetric.pcap 96 $src
  in_home bash -c "cat '$W/sym12m.bin' | ncat -s $src 198.51.100.129 5001 >/dev/null" &
  pids+=($!)
  for i in $(seq 0 23); do
    in_home curl -sS --max-time 60 --interface $src -o /dev/null "http://198.51.100.$((130 + i))/blob.bin" &
    pids+=($!)
    sleep 1
  done
  for i in "${pids[@]}"; do wait "$i" || echo "client $i failed" >&2; done
  capture_stop
  stop_bg; set_mtu 1500
}

ALL=(proxy_relay_shape proxy_tor_shape proxy_benign_tor_lookalike proxy_http_served proxy_stratum_xmrig
     proxy_benign_symmetric)

main() {
  local s list=("$@")
  [ ${#list[@]} -gt 0 ] || list=("${ALL[@]}")
  prepare
  netns_up se
  trap cleanup EXIT
  for s in "${list[@]}"; do
    echo "== $s"
    "$s"
    ls -l "$OUT/$s.pcap"
  done
}
main "$@"
