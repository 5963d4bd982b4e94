#!/usr/bin/python3
"""Hostile variants of real captures (issue 19), written beside them in pcaps/:

hostile_vlan6_dig_loop.pcap    dns_dig_loop.pcap with 6 stacked tags (802.1ad 100, then
                               802.1Q 101-105): etherparse alone stops after 3.
hostile_vlan12_dig_loop.pcap   the same with 12 tags: deeper than decode.max_vlan_depth (8).
hostile_frag_overlap_syn.pcap  scan_nmap_p22_sweep.pcap's SYNs, each in two fragments: the first
                               (offset 0, 16 bytes, SYN) and an overlapping last one (offset 8)
                               whose copy of the flags byte says RST+ACK. First wins (Linux, BSD,
                               siphon): a SYN sweep. Last wins: RSTs, no scan.
hostile_frag_overlap_dns.pcap  dns_dig_loop.pcap's queries, each in two fragments: the first
                               holds the tunnel name; an overlapping last one from offset 8
                               carries a benign name of the same length. First wins: the tunnel.
"""
from scapy.all import Ether, Dot1Q, Dot1AD, IP, UDP, TCP, rdpcap, wrpcap, raw

def vlan_stack(src, dst, depth):
    out = []
    for p in rdpcap(src):
        if Ether not in p:
            continue
        inner = p[Ether].payload
        f = Ether(src=p.src, dst=p.dst)
        f = f / Dot1AD(vlan=100)
        for i in range(1, depth):
            f = f / Dot1Q(vlan=100 + i)
        f = f / inner
        f.time = p.time
        out.append(f)
    wrpcap(dst, out)

def overlap(src, dst, pick, rewrite, first_len):
    """Each packet `pick` accepts becomes two fragments: bytes [0, first_len) of its transport
    segment (MF), then bytes [8, end) of `rewrite(segment)` (last)."""
    out = []
    for p in rdpcap(src):
        if IP not in p or not pick(p):
            continue
        ip = p[IP]
        seg = raw(ip.payload)
        other = rewrite(seg)
        assert len(other) == len(seg)
        hdr = dict(src=ip.src, dst=ip.dst, id=ip.id, proto=ip.proto, ttl=ip.ttl)
        a = Ether(src=p.src, dst=p.dst) / IP(flags="MF", frag=0, **hdr) / seg[:first_len]
        b = Ether(src=p.src, dst=p.dst) / IP(flags=0, frag=1, **hdr) / other[8:]
        a.time = p.time
        b.time = p.time
        out += [a, b]
    wrpcap(dst, out)

def rst_ack(seg):
    s = bytearray(seg)
    s[13] = 0x14
    return bytes(s)

def benign_name(seg):
    # UDP header (8) + DNS header (12), then the 60-char label: same length, short words.
    s = bytearray(seg)
    assert s[20] == 60
    words = b"".join(bytes([9]) + b"mailhost%d" % i for i in range(5)) + bytes([10]) + b"cdnstatic1"
    s[20:81] = words
    return bytes(s)

vlan_stack("../dns_dig_loop.pcap", "../hostile_vlan6_dig_loop.pcap", 6)
vlan_stack("../dns_dig_loop.pcap", "../hostile_vlan12_dig_loop.pcap", 12)
overlap("../scan_nmap_p22_sweep.pcap", "../hostile_frag_overlap_syn.pcap",
        lambda p: TCP in p and p[TCP].flags == "S", rst_ack, 16)
overlap("../dns_dig_loop.pcap", "../hostile_frag_overlap_dns.pcap",
        lambda p: UDP in p and p[UDP].dport == 53, benign_name, 88)
