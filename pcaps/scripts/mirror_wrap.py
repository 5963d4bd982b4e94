#!/usr/bin/python3
"""Wraps the frames of real captures the way ERSPAN and GRE mirrors deliver them.

This machine's kernel has no GRE modules (`ip link add ... type gretap|erspan` fails with
"Unknown device type"), so the GRE, ERSPAN type II and ERSPAN type III captures are made by
wrapping every frame of a real capture in scapy's GRE / ERSPAN_II / ERSPAN_III layers, keeping
each frame's bytes and timestamp. The version field is set explicitly (1 for type II, 2 for
type III): scapy's ERSPAN_II default is 0, which no switch or ESXi host sends.

Usage (Debian's python3-scapy, so /usr/bin/python3):
    mirror_wrap.py PCAP_DIR            # writes every capture below into PCAP_DIR

Addresses (documentation and 10.99.0.0/16 ranges only):
    10.99.250.2   the sensor / ERSPAN collector (MAC 02:00:0a:63:fa:02)
    192.0.2.250   a remote switch sending ERSPAN II, session 7, VLAN 10 (en=2: tag stripped)
    10.99.250.3   a switch sending ERSPAN III, session 302, over QinQ 100/200; frames tagged 30
    10.99.250.4   an ESXi host sending GRE transparent Ethernet bridging, key 42 + sequence,
                  over 802.1Q 300
"""
import sys

from scapy.all import GRE, IP, UDP, Dot1AD, Dot1Q, Ether, ICMP, Raw, rdpcap, wrpcap
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.layers.vxlan import VXLAN

SENSOR = "10.99.250.2"
SENSOR_MAC = "02:00:0a:63:fa:02"
SWITCH_MAC = "02:00:0a:63:fa:01"


def tag(frame: bytes, vlan: int) -> bytes:
    """Inserts an 802.1Q tag after the MAC addresses."""
    return frame[:12] + b"\x81\x00" + vlan.to_bytes(2, "big") + frame[12:]


def stamp(pkt, t):
    pkt.time = t
    return pkt


def unreachable(outer, code, t):
    """The collector's ICMP error about a mirror packet, quoting what Linux quotes (576 bytes
    of ICMP datagram at most)."""
    quoted = bytes(outer[IP])[:548]
    err = (
        Ether(src=SENSOR_MAC, dst=SWITCH_MAC)
        / IP(src=SENSOR, dst=outer[IP].src, ttl=64)
        / ICMP(type=3, code=code)
        / Raw(quoted)
    )
    return stamp(err, t + 0.000020)


def with_unreachables(out, code):
    """Adds one ICMP error per second of capture, like Linux's per-destination rate limit: a
    collector with no GRE support answers 'protocol unreachable' (code 2)."""
    res, last = [], None
    for p in out:
        res.append(p)
        if last is None or p.time - last >= 1:
            res.append(unreachable(p, code, p.time))
            last = p.time
    return res


def erspan2(frames):
    out = []
    for n, f in enumerate(frames):
        p = (
            Ether(src=SWITCH_MAC, dst=SENSOR_MAC)
            / IP(src="192.0.2.250", dst=SENSOR, ttl=62, id=n & 0xFFFF, flags="DF")
            / GRE(seqnum_present=1, sequence_number=n)
            / ERSPAN_II(ver=1, vlan=10, cos=0, en=2, t=0, session_id=7, index=3)
            / Raw(bytes(f))
        )
        out.append(stamp(p, f.time))
    return with_unreachables(out, 2)


def erspan3(frames):
    out = []
    for n, f in enumerate(frames):
        opt = n % 2  # every other packet carries the platform-specific subheader
        t100ns = int(f.time * 10_000_000) & 0xFFFFFFFF
        e = ERSPAN_III(ver=2, vlan=30, cos=0, bso=0, t=0, session_id=302, timestamp=t100ns,
                       sgt_other=0, p=1, ft=0, hw=5, d=n % 2, gra=1, o=opt)
        if opt:
            e = e / ERSPAN_PlatformSpecific(platf_id=3, info1=0x12345, info2=0xABCDEF)
        p = (
            Ether(src=SWITCH_MAC, dst=SENSOR_MAC)
            / Dot1AD(vlan=100)
            / Dot1Q(vlan=200)
            / IP(src="10.99.250.3", dst=SENSOR, ttl=63, id=n & 0xFFFF)
            / GRE(seqnum_present=1, sequence_number=n)
            / e
            / Raw(tag(bytes(f), 30))
        )
        out.append(stamp(p, f.time))
    return out


def gre_teb(frames):
    out = []
    for n, f in enumerate(frames):
        p = (
            Ether(src=SWITCH_MAC, dst=SENSOR_MAC)
            / Dot1Q(vlan=300)
            / IP(src="10.99.250.4", dst=SENSOR, ttl=64, id=n & 0xFFFF)
            / GRE(proto=0x6558, key_present=1, key=42, seqnum_present=1, sequence_number=n)
            / Raw(bytes(f))
        )
        out.append(stamp(p, f.time))
    return out


def ip_frames(frames):
    return [f for f in frames if IP in f]


def malformed(frames):
    """Cut and garbled encapsulations from three mirrors whose pairs were learned first, a GRE
    keepalive, an ICMP error about a mirror packet, a VXLAN nesting bomb, and one cut GRE
    packet between two hosts that are not a mirror. Counts are in mirror.md."""
    dns = ip_frames(frames)[:2]  # one query and its answer: one flow
    t0 = dns[0].time
    out = []

    def add(pkt):
        out.append(stamp(pkt, t0 + 0.001 * len(out)))

    def ether():
        return Ether(src=SWITCH_MAC, dst=SENSOR_MAC)

    a = lambda: ether() / IP(src="192.0.2.250", dst=SENSOR)  # noqa: E731  ERSPAN II
    b = lambda: ether() / IP(src="10.99.250.1", dst=SENSOR)  # noqa: E731  VXLAN
    c = lambda: ether() / IP(src="10.99.250.4", dst=SENSOR)  # noqa: E731  plain GRE
    # Valid prelude: each mirror delivers the query and its answer (6 decapsulated packets).
    for f in dns:
        add(a() / GRE(seqnum_present=1, sequence_number=1) / ERSPAN_II(ver=1, session_id=9) / Raw(bytes(f)))
    for f in dns:
        add(b() / UDP(sport=51000, dport=4789) / VXLAN(vni=4242) / Raw(bytes(f)))
    for f in dns:
        add(c() / GRE(proto=0x0800) / Raw(bytes(f[IP])))
    inner = bytes(dns[0])
    seq = b"\x00\x00\x00\x05"

    def a_raw(raw, proto=47):  # pair A, hand-made encapsulation bytes
        return ether() / IP(src="192.0.2.250", dst=SENSOR, proto=proto) / Raw(raw)

    # Pair A (ERSPAN II): 8 malformed, 1 unsupported.
    add(a_raw(b"\x10\x00"))  # A1 GRE header cut at 2 bytes
    add(a_raw(b"\x20\x00\x65\x58\x00\x00"))  # A2 key flag, key cut
    add(a_raw(b"\x00\x03\x88\xbe" + b"\x00" * 20))  # A3 GRE version 3
    add(a_raw(b"\x10\x00\x88\xbe" + seq + b"\x10\x0a\x00"))  # A4 ERSPAN II header cut (3 of 8)
    add(a_raw(b"\x10\x00\x88\xbe" + seq + b"\x70\x0a\x00\x09\x00\x00\x00\x00" + inner))  # A5 version 7
    add(a_raw(b"\x10\x00\x22\xeb" + seq + b"\x20\x00\x00\x09" + b"\x00" * 6))  # A6 ERSPAN III cut (10 of 12)
    add(a_raw(b"\x10\x00\x22\xeb" + seq + b"\x20\x00\x00\x09" + b"\x00" * 7 + b"\x01" + b"\x00" * 4))  # A7 o=1, subheader cut
    add(a_raw(b"\x10\x00\x88\xbe" + seq + b"\x10\x00\x00\x09" + b"\x00" * 4 + b"\xde\xad\xbe\xef\x00\x01"))  # A8 frame cut
    add(a_raw(b"\x30\x01\x88\x0b\x00\x10\x00\x00\x00\x00\x00\x01"))  # A9 enhanced GRE (PPTP): unsupported
    # Pair B (VXLAN): 3 malformed, then a nesting bomb 6 deep (tunnel_too_deep).
    add(b() / UDP(sport=51000, dport=4789) / Raw(b"\x00\x00\x00\x00\x00\x10\x92\x00" + inner))  # B1 no I flag
    add(b() / UDP(sport=51000, dport=4789) / Raw(b"\x08\x00\x00\x00\x00"))  # B2 header cut
    add(b() / UDP(sport=51000, dport=4789) / VXLAN(vni=4242) / Raw(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"))  # B3 frame cut
    bomb = dns[0][IP]
    for k in range(6):
        bomb = IP(src=f"10.99.9.{2 * k + 1}", dst=f"10.99.9.{2 * k + 2}") / UDP(sport=51000, dport=4789) / VXLAN(vni=k) / Ether(src=SWITCH_MAC, dst=SENSOR_MAC) / bomb
    add(ether() / IP(src="10.99.250.1", dst=SENSOR) / UDP(sport=51000, dport=4789) / VXLAN(vni=99) / Ether(src=SWITCH_MAC, dst=SENSOR_MAC) / bomb)
    # Pair C (plain GRE): IP-in-IP garbage, GRE with a garbage inner IP, a keepalive.
    add(ether() / IP(src="10.99.250.4", dst=SENSOR, proto=4) / Raw(b"garbage!"))  # C1 IP-in-IP, inner not IP
    add(c() / GRE(proto=0x0800) / Raw(b"\x00" * 24))  # C2 GRE inner IP version 0
    add(c() / GRE(proto=0x0800) / IP(src=SENSOR, dst="10.99.250.4", proto=47) / GRE(proto=0))  # C3 keepalive
    # The collector's protocol-unreachable about an ERSPAN packet.
    add(unreachable(out[0], 2, 0))
    # Not a mirror: a cut GRE packet between two hosts siphon learned nothing about.
    add(Ether() / IP(src="198.51.100.77", dst="10.99.0.50", proto=47) / Raw(b"\x10\x00"))
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "pcaps"
    dig = rdpcap(f"{d}/dns_dig_loop.pcap")
    sweep = rdpcap(f"{d}/scan_nmap_p22_sweep.pcap")
    wrpcap(f"{d}/mirror_erspan2_dig_loop.pcap", erspan2(dig))
    wrpcap(f"{d}/mirror_erspan3_dig_loop.pcap", erspan3(dig))
    wrpcap(f"{d}/mirror_erspan3_nmap_sweep.pcap", erspan3(sweep))
    wrpcap(f"{d}/mirror_gre_teb_dig_loop.pcap", gre_teb(dig))
    wrpcap(f"{d}/mirror_malformed.pcap", malformed(dig))


if __name__ == "__main__":
    main()
