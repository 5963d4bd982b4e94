//! ICMP and ICMPv6: echo (the fields the ICMP tunnel detector needs) and errors with the packet
//! they quote (the scan detector attributes refused probes with them).

use super::packet::{Decoded, L4};

/// An echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpEcho<'a> {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// A request (type 8 / 128) rather than a reply (0 / 129).
    pub is_request: bool,
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub seq: u16,
    /// Payload as captured.
    pub payload: &'a [u8],
    /// Payload length on the wire.
    pub wire_len: u32,
}

/// The echo in `d`, if it is an ICMP/ICMPv6 echo request or reply.
pub fn echo<'a>(d: &Decoded<'a>) -> Option<IcmpEcho<'a>> {
    let L4::Icmp(i) = d.l4 else { return None };
    let is_request = match (i.v6, i.icmp_type) {
        (false, 8) | (true, 128) => true,
        (false, 0) | (true, 129) => false,
        _ => return None,
    };
    Some(IcmpEcho {
        v6: i.v6,
        is_request,
        id: u16::from_be_bytes([i.rest[0], i.rest[1]]),
        seq: u16::from_be_bytes([i.rest[2], i.rest[3]]),
        payload: d.payload,
        wire_len: d.payload_wire_len,
    })
}

/// The packet an ICMP/ICMPv6 error message quotes: who sent what to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Source of the quoted packet (the host the error is reported to).
    pub src: std::net::IpAddr,
    /// Destination of the quoted packet.
    pub dst: std::net::IpAddr,
    /// IP protocol of the quoted packet.
    pub proto: u8,
    /// Source port (TCP/UDP), or the echo identifier for a quoted echo request; else 0.
    pub sport: u16,
    /// Destination port (TCP/UDP), or the echo identifier for a quoted echo request; else 0.
    pub dport: u16,
}

/// An ICMP error (destination unreachable, time exceeded, parameter problem) and what it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// Destination unreachable (ICMP 3 / ICMPv6 1): the quoted packet was refused or undeliverable.
    pub unreachable: bool,
    /// Type.
    pub icmp_type: u8,
    /// Code (port unreachable is 3 for ICMP, 4 for ICMPv6).
    pub code: u8,
    /// The quoted packet.
    pub quoted: Quoted,
}

/// Deepest IPv6 extension-header chain followed inside a quote.
const MAX_QUOTED_EXT: usize = 4;

/// The error in `d`, if it is an ICMP/ICMPv6 error whose quote holds an IP header and the first
/// 4 bytes of its transport header (RFC 792 guarantees 8). Lax: a quote cut by the snaplen or a
/// non-first fragment yields `None`, never a panic.
pub fn error(d: &Decoded<'_>) -> Option<IcmpError> {
    let L4::Icmp(i) = d.l4 else { return None };
    let unreachable = match (i.v6, i.icmp_type) {
        (false, 3) | (true, 1) => true,
        (false, 11 | 12 | 4) | (true, 3 | 4) => false,
        _ => return None,
    };
    let quoted = if i.v6 { quote_v6(d.payload)? } else { quote_v4(d.payload)? };
    Some(IcmpError { v6: i.v6, unreachable, icmp_type: i.icmp_type, code: i.code, quoted })
}

fn ports(proto: u8, t: &[u8], echo_type: u8) -> Option<(u16, u16)> {
    match proto {
        6 | 17 | 132 => Some((
            u16::from_be_bytes([*t.first()?, *t.get(1)?]),
            u16::from_be_bytes([*t.get(2)?, *t.get(3)?]),
        )),
        1 | 58 => {
            if *t.first()? == echo_type {
                let id = u16::from_be_bytes([*t.get(4)?, *t.get(5)?]);
                Some((id, id))
            } else {
                Some((0, 0))
            }
        }
        _ => Some((0, 0)),
    }
}

fn quote_v4(q: &[u8]) -> Option<Quoted> {
    let vihl = *q.first()?;
    if vihl >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    let frag_off = u16::from_be_bytes([*q.get(6)?, *q.get(7)?]) & 0x1fff;
    if frag_off != 0 {
        return None;
    }
    let proto = *q.get(9)?;
    let src: [u8; 4] = q.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = q.get(16..20)?.try_into().ok()?;
    let (sport, dport) = ports(proto, q.get(ihl..)?, 8)?;
    Some(Quoted { src: src.into(), dst: dst.into(), proto, sport, dport })
}

fn quote_v6(q: &[u8]) -> Option<Quoted> {
    if *q.first()? >> 4 != 6 {
        return None;
    }
    let src: [u8; 16] = q.get(8..24)?.try_into().ok()?;
    let dst: [u8; 16] = q.get(24..40)?.try_into().ok()?;
    let mut next = *q.get(6)?;
    let mut off = 40usize;
    for _ in 0..MAX_QUOTED_EXT {
        match next {
            0 | 43 | 60 => {
                next = *q.get(off)?;
                off += (usize::from(*q.get(off + 1)?) + 1) * 8;
            }
            44 => {
                let frag_off = u16::from_be_bytes([*q.get(off + 2)?, *q.get(off + 3)?]) >> 3;
                if frag_off != 0 {
                    return None;
                }
                next = *q.get(off)?;
                off += 8;
            }
            _ => break,
        }
    }
    let (sport, dport) = ports(next, q.get(off..)?, 128)?;
    Some(Quoted { src: src.into(), dst: dst.into(), proto: next, sport, dport })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Anomalies, LinkType, decode, packet::DecodeOptions};

    fn dec(frame: &[u8]) -> Option<IcmpError> {
        let mut an = Anomalies::default();
        let d = decode(LinkType::Ethernet, frame, &DecodeOptions::default(), &mut an)?;
        error(&d)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn port_unreachable_quotes_the_udp_probe() {
        // scan_nmap_sU.pcap frame 28: 198.51.100.11 -> 10.99.0.35, ICMP 3/3 quoting
        // 10.99.0.35:33936 -> 198.51.100.11:162 (an empty nmap UDP probe).
        let f = hex("cebe9a29c7e1 6e6aa7ab5250 0800
             45c00038 9704 0000 40 01 ae3c c633640b 0a630023
             0303 31db 00000000
             4500001c 14cf 0000 26 11 4b3e 0a630023 c633640b
             8490 00a2 0008 45e7");
        let e = dec(&f).expect("an ICMP error");
        assert!(e.unreachable && !e.v6 && e.code == 3);
        assert_eq!(e.quoted.src, "10.99.0.35".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(e.quoted.dst, "198.51.100.11".parse::<std::net::IpAddr>().unwrap());
        assert_eq!((e.quoted.proto, e.quoted.sport, e.quoted.dport), (17, 33936, 162));
        // Every prefix decodes without panic, and a quote cut before the ports is no error.
        for n in 0..f.len() {
            let _ = dec(&f[..n]);
        }
        assert!(dec(&f[..f.len() - 5]).is_none());
    }

    #[test]
    fn icmpv6_unreachable_quotes_an_echo() {
        let mut f = hex("020000000001 020000000002 86dd 60000000 0038 3a 40");
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&hex("0103 0000 00000000"));
        f.extend_from_slice(&hex("60000000 0008 3a 40"));
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        f.extend_from_slice(&hex("8000 0000 1234 0001"));
        let e = dec(&f).expect("an ICMPv6 error");
        assert!(e.unreachable && e.v6);
        assert_eq!((e.quoted.proto, e.quoted.sport, e.quoted.dport), (58, 0x1234, 0x1234));
        assert_eq!(e.quoted.dst, "2001:db8::9".parse::<std::net::IpAddr>().unwrap());
    }
}
