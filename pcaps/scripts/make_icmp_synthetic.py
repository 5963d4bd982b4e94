#!/usr/bin/python3
"""Writes two ICMP captures with scapy, byte-for-byte in the payload layouts of ping
implementations that cannot run here (Windows, macOS, busybox, Cisco IOS, Go's pro-bing) and
of ICMPv6, which the namespace scripts do not carry. No packet is sent: scapy only writes files.

    /usr/bin/python3 pcaps/scripts/make_icmp_synthetic.py      # writes into pcaps/

icmp_benign_os.pcap   benign: must raise no icmp_tunnel alert (see icmp.md)
icmp_v6_exfil.pcap    a 24 KB file pushed out in ICMPv6 echo requests (replies echo them)

Addresses: home 10.99.0.60 and 2001:db8:99::60; peers in 192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24 and 2001:db8::/32 (documentation ranges only). Deterministic: fixed seed and
fixed start time, so a rerun writes identical files.
"""
import os
import random
import struct
import uuid

from scapy.all import (ICMP, IP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA,
                       ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6TimeExceeded, ICMPv6NDOptSrcLLAddr,
                       IPv6, IPerror, Raw, wrpcap)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HOME4, HOME6 = "10.99.0.60", "2001:db8:99::60"
MAC_H, MAC_R = "02:00:00:00:00:60", "02:00:00:00:00:fe"
T0 = 1_760_000_000.0
rng = random.Random(4)
pkts = []


def at(t, p):
    p.time = T0 + t
    pkts.append(p)


def v4(src, dst, ttl=64):
    mac = (MAC_H, MAC_R) if src == HOME4 else (MAC_R, MAC_H)
    return Ether(src=mac[0], dst=mac[1]) / IP(src=src, dst=dst, ttl=ttl)


def v6(src, dst, hlim=64):
    mac = (MAC_H, MAC_R) if src == HOME6 else (MAC_R, MAC_H)
    return Ether(src=mac[0], dst=mac[1]) / IPv6(src=src, dst=dst, hlim=hlim)


def echo4(t, dst, ident, seq, payload, ttl=64, reply=True):
    at(t, v4(HOME4, dst, ttl) / ICMP(type=8, id=ident, seq=seq) / Raw(payload))
    if reply:
        at(t + 0.012, v4(dst, HOME4) / ICMP(type=0, id=ident, seq=seq) / Raw(payload))


def echo6(t, dst, ident, seq, payload, reply=True):
    at(t, v6(HOME6, dst) / ICMPv6EchoRequest(id=ident, seq=seq, data=payload))
    if reply:
        at(t + 0.012, v6(dst, HOME6) / ICMPv6EchoReply(id=ident, seq=seq, data=payload))


def tv64(t):  # Linux struct timeval, 64-bit: tv_sec, tv_usec as little-endian u64
    return struct.pack("<QQ", int(T0 + t), int((t % 1) * 1e6))


def tv32(t):  # BSD struct tv32: network order u32 seconds and microseconds
    return struct.pack(">II", int(T0 + t) & 0xFFFFFFFF, int((t % 1) * 1e6))


def iputils(t, size):
    return (tv64(t) + bytes(i & 0xFF for i in range(16, size)))[:size] if size >= 16 else bytes(range(size))


WIN = b"abcdefghijklmnopqrstuvw"


def windows(size):
    return bytes(WIN[i % 23] for i in range(size))


def benign():
    # Windows 10 `ping -n 10` and `ping -l 1472 -f` (path MTU), identifier 1, TTL 128.
    for s in range(10):
        echo4(s * 1.0, "203.0.113.40", 1, 100 + s, windows(32), ttl=128)
    for s in range(10):
        echo4(12 + s * 1.0, "203.0.113.40", 1, 200 + s, windows(1472), ttl=128)
    # Windows `tracert -d -h 5`: 3 probes per hop, 64 zero bytes; routers answer time-exceeded.
    seq = 300
    for hop in range(1, 6):
        for k in range(3):
            t = 25 + hop * 1.5 + k * 0.2
            probe = IP(src=HOME4, dst="198.51.100.50", ttl=hop) / ICMP(type=8, id=1, seq=seq) / Raw(bytes(64))
            at(t, v4(HOME4, "198.51.100.50", hop) / ICMP(type=8, id=1, seq=seq) / Raw(bytes(64)))
            if hop < 5:
                router = f"192.0.2.{hop}"
                at(t + 0.004, v4(router, HOME4) / ICMP(type=11, code=0) / IPerror(bytes(probe)[:28]))
            else:
                at(t + 0.010, v4("198.51.100.50", HOME4) / ICMP(type=0, id=1, seq=seq) / Raw(bytes(64)))
            seq += 1
    # macOS `ping -c 10` and `ping -s 1400`: 8-byte tv32, then byte i = i.
    for s in range(10):
        echo4(40 + s, "198.51.100.60", 0x5A11, s, tv32(s) + bytes(range(8, 56)))
    for s in range(10):
        echo4(52 + s, "198.51.100.60", 0x5A12, s, tv32(s) + bytes(i & 0xFF for i in range(8, 1400)))
    # busybox `ping -c 10`: 4-byte monotonic timestamp, then zeros.
    for s in range(10):
        echo4(65 + s, "203.0.113.41", 0x0B0B, s, struct.pack("<I", 123456 + s * 1000003) + bytes(52))
    # Cisco IOS `ping` (5 x 100-byte datagrams): 0xABCD repeated after an 8-byte header.
    for s in range(5):
        echo4(78 + s * 0.002, "203.0.113.42", 0x2C, s, struct.pack(">II", 0, 0x01020304 + s) + b"\xab\xcd" * 32)
    # Telegraf's ping input (pro-bing): a new pinger, so a new UUID tracker, every 10 s.
    for s in range(30):
        ns = int((T0 + 80 + s * 10) * 1e9)
        echo4(80 + s * 10, "192.0.2.80", 0x7E00 + s, 0, struct.pack(">Q", ns) + uuid.UUID(int=rng.getrandbits(128), version=4).bytes)
    # Prometheus blackbox_exporter: constant text payload.
    for s in range(30):
        echo4(81 + s * 10, "192.0.2.81", 0x6000 + s, s, b"Prometheus Blackbox Exporter")
    # An admin's `ping -c 5 -p ff` and `ping -c 5 -p aa55`.
    for s in range(5):
        echo4(400 + s, "203.0.113.43", 0x1111, s, tv64(s) + b"\xff" * 40)
    for s in range(5):
        echo4(406 + s, "203.0.113.43", 0x1112, s, tv64(s) + b"\xaa\x55" * 20)
    # nmap -O echo probes (IE1/IE2): 120 and 150 zero bytes, odd codes.
    at(420, v4(HOME4, "198.51.100.70") / ICMP(type=8, code=9, id=0x33, seq=295) / Raw(bytes(120)))
    at(420.1, v4(HOME4, "198.51.100.70") / ICMP(type=8, code=0, id=0x34, seq=296) / Raw(bytes(150)))
    # IPv6: iputils `ping -6 -c 10` and `-s 1232`, Windows `ping -6`, NDP, a hop-limit error.
    for s in range(10):
        echo6(430 + s, "2001:db8:50::10", 0x6601, s + 1, iputils(s, 56))
    for s in range(10):
        echo6(442 + s, "2001:db8:50::10", 0x6602, s + 1, iputils(s, 1232))
    for s in range(10):
        echo6(455 + s, "2001:db8:50::11", 1, 50 + s, windows(32))
    at(470, v6(HOME6, "ff02::1:ff00:1") / ICMPv6ND_NS(tgt="2001:db8:99::1") / ICMPv6NDOptSrcLLAddr(lladdr=MAC_H))
    at(470.001, v6("2001:db8:99::1", HOME6) / ICMPv6ND_NA(tgt="2001:db8:99::1", R=1, S=1))
    at(471, v6("fe80::1", "ff02::1") / ICMPv6ND_RA())
    probe6 = IPv6(src=HOME6, dst="2001:db8:50::12", hlim=1) / ICMPv6EchoRequest(id=0x6603, seq=1, data=iputils(0, 56))
    at(472, v6(HOME6, "2001:db8:50::12", 1) / probe6[ICMPv6EchoRequest])
    at(472.003, v6("2001:db8:99::1", HOME6) / ICMPv6TimeExceeded() / bytes(probe6))
    pkts.sort(key=lambda p: p.time)
    wrpcap(os.path.join(OUT, "icmp_benign_os.pcap"), pkts)


def exfil6():
    pkts.clear()
    data = bytes(rng.getrandbits(8) for _ in range(24_000))
    chunk = 1000
    for s, off in enumerate(range(0, len(data), chunk)):
        echo6(s * 0.25, "2001:db8:66::24", 0x4D2, s, data[off:off + chunk])
    wrpcap(os.path.join(OUT, "icmp_v6_exfil.pcap"), pkts)


if __name__ == "__main__":
    benign()
    exfil6()
