#!/usr/bin/env python3
"""stretch_pcap.py IN OUT FACTOR: rewrites a classic pcap with every gap between packets
multiplied by FACTOR (the first packet keeps its time). Bytes are untouched: the tools made the
packets, only the clock is rescaled, so a one-minute real session becomes a 75-minute one for
the detectors that measure duration. Standard library only; pcap (not pcapng) in, pcap out."""
import struct
import sys


def main():
    src, dst, factor = sys.argv[1], sys.argv[2], float(sys.argv[3])
    data = open(src, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit("not a classic pcap")
    unit = 1e9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e6
    out = bytearray(data[:24])
    off, t0 = 24, None
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off : off + 16])
        t = sec * unit + frac
        if t0 is None:
            t0 = t
        t = t0 + round((t - t0) * factor)
        out += struct.pack(e + "IIII", int(t // unit), int(t % unit), incl, orig)
        out += data[off + 16 : off + 16 + incl]
        off += 16 + incl
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
