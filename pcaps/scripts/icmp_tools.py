#!/usr/bin/env python3
"""Small ICMP senders and an echo-reply tunnel, for the captures of make_unseen.sh.

Only the Python standard library (raw sockets; run as root inside the capture namespaces).
The kernel builds the IP header and, for echo requests, answers them itself, as it would a
real ping.

  icmp_tools.py ping DST --src SRC --style windows|macos [--size N] [--count N] [--interval S]
      echo requests laid out as Windows ping (the alphabet abcdefghijklmnopqrstuvw repeated) or
      macOS/BSD ping (an 8-byte timeval, then byte i = i), the layouts their sources give.
  icmp_tools.py chunks DST --src SRC --file F --chunk N [--interval S]
      a file in echo requests, each "NAME part/total\n" and then up to N bytes of the file.
  icmp_tools.py reply-client PEER --src SRC --listen PORT [--code C]
  icmp_tools.py reply-server PEER --src SRC --connect HOST:PORT [--code C]
      a TCP connection carried in ICMP echo *replies* both ways (no requests ever), with a
      non-zero echo code, as reply-only ICMP tunnels (e.g. icmpsh variants, Pingtunnel's
      server mode) do to slip past "drop unsolicited requests" rules.
"""
import argparse
import os
import select
import socket
import struct
import time


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def icmp(ty: int, code: int, ident: int, seq: int, payload: bytes) -> bytes:
    h = struct.pack("!BBHHH", ty, code, 0, ident, seq)
    c = csum(h + payload)
    return struct.pack("!BBHHH", ty, code, c, ident, seq) + payload


def raw(src: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind((src, 0))
    return s


def cmd_ping(a):
    s = raw(a.src)
    ident = os.getpid() & 0xFFFF
    for seq in range(a.count):
        if a.style == "windows":
            alpha = b"abcdefghijklmnopqrstuvw"
            p = (alpha * (a.size // len(alpha) + 1))[: a.size]
        else:  # macOS / FreeBSD: struct tv32 (sec, usec), then byte i = i
            t = time.time()
            p = struct.pack("!II", int(t), int((t % 1) * 1e6)) + bytes(i & 0xFF for i in range(8, a.size))
        s.sendto(icmp(8, 0, ident, seq, p), (a.dst, 0))
        time.sleep(a.interval)


def cmd_chunks(a):
    s = raw(a.src)
    data = open(a.file, "rb").read()
    name = os.path.basename(a.file).encode()
    parts = [data[i : i + a.chunk] for i in range(0, len(data), a.chunk)]
    ident = os.getpid() & 0xFFFF
    for i, part in enumerate(parts):
        p = b"%s %d/%d\n" % (name, i + 1, len(parts)) + part
        s.sendto(icmp(8, 0, ident, i, p), (a.dst, 0))
        time.sleep(a.interval)


def relay(sock_tcp, a, ident):
    """Moves bytes between a TCP socket and echo replies exchanged with a.peer."""
    r = raw(a.src)
    seq = 0
    while True:
        ready, _, _ = select.select([sock_tcp, r], [], [], 30)
        if not ready:
            return
        if sock_tcp in ready:
            d = sock_tcp.recv(1000)
            if not d:
                r.sendto(icmp(0, a.code, ident, seq, b"FIN"), (a.peer, 0))
                return
            r.sendto(icmp(0, a.code, ident, seq, d), (a.peer, 0))
            seq = (seq + 1) & 0xFFFF
        if r in ready:
            pkt, (addr, _) = r.recvfrom(65535)
            ihl = (pkt[0] & 0x0F) * 4
            ty, code, _, pid, _ = struct.unpack("!BBHHH", pkt[ihl : ihl + 8])
            if addr != a.peer or ty != 0 or code != a.code or pid != ident:
                continue
            body = pkt[ihl + 8 :]
            if body == b"FIN":
                return
            sock_tcp.sendall(body)


def cmd_reply_client(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(1)
    c, _ = ls.accept()
    relay(c, a, 0x5A5A)


def cmd_reply_server(a):
    host, port = a.connect.rsplit(":", 1)
    r = raw(a.src)
    # Wait for the client's first reply before connecting.
    while True:
        pkt, (addr, _) = r.recvfrom(65535)
        ihl = (pkt[0] & 0x0F) * 4
        ty, code = pkt[ihl], pkt[ihl + 1]
        if addr == a.peer and ty == 0 and code == a.code:
            break
    c = socket.create_connection((host, int(port)))
    c.sendall(pkt[ihl + 8 :])
    relay(c, a, 0x5A5A)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("ping")
    q.add_argument("dst")
    q.add_argument("--src", required=True)
    q.add_argument("--style", choices=["windows", "macos"], required=True)
    q.add_argument("--size", type=int, default=32)
    q.add_argument("--count", type=int, default=4)
    q.add_argument("--interval", type=float, default=1.0)
    q = sub.add_parser("chunks")
    q.add_argument("dst")
    q.add_argument("--src", required=True)
    q.add_argument("--file", required=True)
    q.add_argument("--chunk", type=int, default=400)
    q.add_argument("--interval", type=float, default=1.0)
    for name in ("reply-client", "reply-server"):
        q = sub.add_parser(name)
        q.add_argument("peer")
        q.add_argument("--src", required=True)
        q.add_argument("--code", type=int, default=7)
        if name == "reply-client":
            q.add_argument("--listen", type=int, required=True)
        else:
            q.add_argument("--connect", required=True)
    a = p.parse_args()
    {"ping": cmd_ping, "chunks": cmd_chunks, "reply-client": cmd_reply_client, "reply-server": cmd_reply_server}[
        a.cmd.replace("_", "-")
    ](a)


if __name__ == "__main__":
    main()
