//! ICMP and ICMPv6: echo (the fields the ICMP tunnel detector needs) and errors with the packet
//! they quote (the scan detector attributes refused probes with them).

use super::entropy;
pub(crate) use super::icmp_data::printable_text;
pub(crate) use super::icmp_data::protocol_banner;
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
pub(crate) fn echo<'a>(d: &Decoded<'a>) -> Option<IcmpEcho<'a>> {
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

/// Tunnel tools recognised by a header at the start of the echo payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TunnelTool {
    /// ptunnel: magic 0xD5200880, then a 28-byte header.
    Ptunnel,
    /// ptunnel-ng: magic 0xDEADC0DE (default), or any magic with ptunnel's header layout.
    PtunnelNg,
    /// hans: `hanc` (client) / `hans` (server), or the `hnc2`/`hns2`/`hnc3`/`hns3` variants,
    /// then a one-byte packet type (1..=9).
    Hans,
    /// icmptunnel (jamesbarlow): `LNUT` (client) / `TUNL` (server), flags, type (0..=5).
    IcmpTunnel,
    /// A whole IPv4 or IPv6 packet as the payload (icmptunnel by DhavalKapil, icmptx).
    IpInIcmp,
}

impl TunnelTool {
    /// Stable name for evidence.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TunnelTool::Ptunnel => "ptunnel",
            TunnelTool::PtunnelNg => "ptunnel-ng",
            TunnelTool::Hans => "hans",
            TunnelTool::IcmpTunnel => "icmptunnel",
            TunnelTool::IpInIcmp => "ip-in-icmp",
        }
    }
}

/// What an echo payload looks like: a known implementation's default fill, a user pattern,
/// a tunnel header, or none of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadKind {
    /// No payload (nmap `-sn`, many monitoring probes).
    Empty,
    /// Linux iputils `ping`/`ping6`: a 16-byte timestamp, then byte *i* = *i* (0x10, 0x11, ...).
    /// Payloads shorter than 16 bytes carry no timestamp and are 0x00, 0x01, ... throughout.
    Iputils,
    /// BSD and macOS `ping`: an 8-byte timestamp (24 bytes of timestamp and MAC on OpenBSD),
    /// then byte *i* = *i* (0x08, 0x09, ...).
    Bsd,
    /// Windows `ping`: the alphabet `abcdefghijklmnopqrstuvw` repeated (32 bytes by default).
    Windows,
    /// Linux `traceroute -I`: 0x40 + ((*i* + k) mod 64), "HIJK...".
    Traceroute,
    /// Zeros after at most a timestamp: Windows `tracert`, busybox, fping, mtr, hping3.
    Zeros,
    /// Cisco IOS `ping`: 0xABCD repeated.
    Cisco,
    /// Go ping libraries (go-ping, pro-bing: Telegraf, smokeping_prober): 8-byte timestamp,
    /// 8-byte tracker or 16-byte UUID, then 0x01 padding.
    GoPing,
    /// A 1-16 byte pattern repeated after the timestamp that is no implementation's default:
    /// `ping -p HEX`. Bytes repeat, yet the pattern itself is data.
    Pattern {
        /// Pattern length in bytes.
        period: u8,
    },
    /// The header of a known tunnel tool.
    Tunnel(TunnelTool),
    /// None of the above.
    Unknown,
}

impl PayloadKind {
    /// Stable name for evidence.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PayloadKind::Empty => "empty",
            PayloadKind::Iputils => "iputils",
            PayloadKind::Bsd => "bsd",
            PayloadKind::Windows => "windows",
            PayloadKind::Traceroute => "traceroute",
            PayloadKind::Zeros => "zeros",
            PayloadKind::Cisco => "cisco",
            PayloadKind::GoPing => "go-ping",
            PayloadKind::Pattern { .. } => "pattern",
            PayloadKind::Tunnel(_) => "tunnel",
            PayloadKind::Unknown => "unknown",
        }
    }

    /// Is this the default fill of a known ping/traceroute implementation (no data carried)?
    pub(crate) fn is_default(self) -> bool {
        matches!(
            self,
            PayloadKind::Empty
                | PayloadKind::Iputils
                | PayloadKind::Bsd
                | PayloadKind::Windows
                | PayloadKind::Traceroute
                | PayloadKind::Zeros
                | PayloadKind::Cisco
                | PayloadKind::GoPing
        )
    }
}

/// ptunnel's magic (`kPing_tunnel_magic`).
pub(crate) const PTUNNEL_MAGIC: [u8; 4] = [0xD5, 0x20, 0x08, 0x80];
/// ptunnel-ng's default magic.
pub(crate) const PTUNNEL_NG_MAGIC: [u8; 4] = [0xDE, 0xAD, 0xC0, 0xDE];
/// ptunnel's header: magic, dst ip, dst port, state, ack, data length (u32 each), seq, id (u16).
pub(crate) const PTUNNEL_HEADER_LEN: usize = 28;
/// Longest timestamp-and-tag prefix before a known fill starts (OpenBSD: 8 + 16 bytes).
const MAX_PREFIX: usize = 24;
/// Fewest fill bytes after a timestamp that make a pattern match trustworthy (2^-32 by chance).
const MIN_FILL: usize = 4;
/// Windows ping's alphabet.
const WINDOWS_ALPHABET: &[u8; 23] = b"abcdefghijklmnopqrstuvw";

/// The part of a payload after the timestamp most ping implementations put first: what is
/// compared when deciding whether two payloads carry different data.
pub(crate) fn body(payload: &[u8]) -> &[u8] {
    let skip = if payload.len() >= 24 {
        16
    } else if payload.len() >= 16 {
        8
    } else {
        0
    };
    payload.get(skip..).unwrap_or(&[])
}

/// Classifies an echo payload. `wire_len` is its length on the wire (the capture may have cut
/// `payload`). Pure and allocation-free: every index is checked.
pub(crate) fn classify(payload: &[u8], wire_len: u32) -> PayloadKind {
    if payload.is_empty() {
        return PayloadKind::Empty;
    }
    if let Some(t) = tunnel_header(payload, wire_len) {
        return PayloadKind::Tunnel(t);
    }
    if let Some(k) = incrementing(payload) {
        return k;
    }
    if payload.iter().enumerate().all(|(i, &b)| WINDOWS_ALPHABET.get(i % 23) == Some(&b)) {
        return PayloadKind::Windows;
    }
    if is_traceroute(payload) {
        return PayloadKind::Traceroute;
    }
    if is_go_ping(payload) {
        return PayloadKind::GoPing;
    }
    let b = body(payload);
    if !b.is_empty() && b.iter().all(|&x| x == 0) {
        return PayloadKind::Zeros;
    }
    if let Some(p) = period(b) {
        let cisco = p == 2 && b.iter().all(|&x| x == 0xAB || x == 0xCD) && b.first() != b.get(1);
        return if cisco { PayloadKind::Cisco } else { PayloadKind::Pattern { period: p as u8 } };
    }
    PayloadKind::Unknown
}

/// A known tunnel's header at the start of the payload.
pub(crate) fn tunnel_header(p: &[u8], wire_len: u32) -> Option<TunnelTool> {
    let magic = p.get(..4)?;
    if magic == PTUNNEL_MAGIC && p.len() >= PTUNNEL_HEADER_LEN {
        return Some(TunnelTool::Ptunnel);
    }
    if magic == PTUNNEL_NG_MAGIC && p.len() >= PTUNNEL_HEADER_LEN {
        return Some(TunnelTool::PtunnelNg);
    }
    if ptunnel_layout(p, wire_len) {
        // ptunnel-ng with a custom magic (`--magic`): the header layout still gives it away.
        return Some(TunnelTool::PtunnelNg);
    }
    let ty = p.get(4).copied();
    if matches!(magic, b"hanc" | b"hans" | b"hnc2" | b"hns2" | b"hnc3" | b"hns3")
        && ty.is_some_and(|t| (1..=9).contains(&t))
    {
        return Some(TunnelTool::Hans);
    }
    if matches!(magic, b"LNUT" | b"TUNL") && p.get(5).is_some_and(|t| *t <= 5) {
        return Some(TunnelTool::IcmpTunnel);
    }
    if ip_packet(p, wire_len) {
        return Some(TunnelTool::IpInIcmp);
    }
    None
}

fn be32(p: &[u8], at: usize) -> Option<u32> {
    let b = p.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// ptunnel's header: state = user (0x4000_0000) or proxy (0x8000_0000) flag with a small
/// state number, and a data length equal to what follows the header.
fn ptunnel_layout(p: &[u8], wire_len: u32) -> bool {
    let (Some(state), Some(data_len)) = (be32(p, 12), be32(p, 20)) else { return false };
    let flag = state & 0xC000_0000;
    (flag == 0x4000_0000 || flag == 0x8000_0000)
        && state & 0x3FFF_FFFF <= 8
        && u64::from(data_len) + PTUNNEL_HEADER_LEN as u64 == u64::from(wire_len.max(p.len() as u32))
}

/// An IPv4 or IPv6 header whose length field covers exactly the payload.
fn ip_packet(p: &[u8], wire_len: u32) -> bool {
    let len = u64::from(wire_len.max(p.len() as u32));
    match p.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(p[0] & 0x0F) * 4;
            let total = p.get(2..4).map(|b| u64::from(u16::from_be_bytes([b[0], b[1]])));
            ihl >= 20 && len >= 20 && total == Some(len)
        }
        Some(6) => {
            let plen = p.get(4..6).map(|b| u64::from(u16::from_be_bytes([b[0], b[1]])));
            len >= 40 && plen.map(|l| l + 40) == Some(len)
        }
        _ => false,
    }
}

/// iputils / BSD fill: byte *i* = *i* from some offset within the timestamp prefix to the end.
fn incrementing(p: &[u8]) -> Option<PayloadKind> {
    // Walk back from the end while byte i == i: `start` is where the fill begins.
    let mut start = p.len();
    while start > 0 && p[start - 1] == (start - 1) as u8 {
        start -= 1;
    }
    let fill = p.len() - start;
    if start == 0 {
        return Some(PayloadKind::Iputils);
    }
    if start > MAX_PREFIX || fill < MIN_FILL {
        return None;
    }
    // The fill starts right after the timestamp; an earlier start is a coincidence of the
    // timestamp's last bytes. BSD: 8 (24 on OpenBSD); iputils: 16 (8 on 32-bit systems).
    Some(if start <= 8 || (17..=24).contains(&start) { PayloadKind::Bsd } else { PayloadKind::Iputils })
}

/// Linux traceroute -I fill: every byte in 0x40..0x80, each the previous + 1 modulo 64.
fn is_traceroute(p: &[u8]) -> bool {
    p.len() >= MIN_FILL
        && p.iter().all(|&b| (0x40..0x80).contains(&b))
        && p.windows(2).all(|w| w[1] == 0x40 | (w[0].wrapping_add(1) & 0x3F))
}

/// go-ping / pro-bing: 8-byte big-endian nanosecond timestamp, a tracker (8 bytes, or a
/// 16-byte version-4 UUID), then 0x01 padding.
fn is_go_ping(p: &[u8]) -> bool {
    let uuid_v4 = p.len() >= 24
        && p.get(14).is_some_and(|b| b >> 4 == 4)
        && p.get(16).is_some_and(|b| b & 0xC0 == 0x80)
        && p.get(24..).is_some_and(|t| t.iter().all(|&b| b == 1));
    if uuid_v4 {
        return true;
    }
    // Older go-ping: timestamp + 8-byte tracker + padding; the timestamp must be 2015..2040.
    let ns = p.get(..8).map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
    let plausible = ns.is_some_and(|n| (1_420_070_400_000_000_000..2_208_988_800_000_000_000).contains(&n));
    plausible && p.len() > 16 && p.get(16..).is_some_and(|t| t.iter().all(|&b| b == 1))
}

/// Bytes an ICMP error may carry beyond the datagram it quotes: RFC 4884 pads the quote to 128
/// bytes and appends an extension structure (MPLS label stacks, interface information).
const ERROR_EXTENSION_ROOM: u32 = 64;

/// Why a non-echo ICMP/ICMPv6 message looks like it carries data of its own, if it does:
/// an error that does not quote an IP header, an error longer than the datagram it quotes (or
/// than any stack sends), or bytes in a type that has a fixed size or no assigned meaning.
/// Echo types return `None`.
pub(crate) fn odd_type_data(v6: bool, ty: u8, payload: &[u8], wire_len: u32) -> Option<&'static str> {
    let len = wire_len.max(payload.len() as u32);
    if len == 0 {
        return None;
    }
    if v6 {
        match ty {
            128 | 129 => None,
            // Errors quote as much of the invoking packet as fits in 1280 bytes.
            1..=4 => error_data(payload, len, 6, 1280 - 48),
            // MLD, NDP, router renumbering, node information, mobility, SEND, RPL, ...
            130..=161 => None,
            _ => Some("data_in_unassigned_type"),
        }
    } else {
        match ty {
            0 | 8 | 9 => None,
            // Errors quote the IP header and at least 8 bytes (Linux: up to 576 bytes in all).
            3 | 4 | 5 | 11 | 12 => error_data(payload, len, 4, 576 - 28),
            // Timestamp (20-byte header), information, router solicitation: nothing follows;
            // address mask: 4 bytes.
            13..=16 | 10 => Some("data_in_fixed_size_type"),
            17 | 18 if len > 4 => Some("data_in_fixed_size_type"),
            17 | 18 => None,
            // Traceroute, Photuris, Seamoby, extended echo (RFC 8335): small structures.
            30 | 40 | 41 | 42 | 43 if len > 64 => Some("oversized_message"),
            30 | 40 | 41 | 42 | 43 => None,
            _ => Some("data_in_unassigned_type"),
        }
    }
}

/// An error message's payload: the quoted datagram (IP version `ver`), at most `max_quote`
/// bytes of it, plus room for RFC 4884 extensions.
fn error_data(payload: &[u8], len: u32, ver: u8, max_quote: u32) -> Option<&'static str> {
    let first = payload.first()?;
    if first >> 4 != ver {
        return Some("error_without_quoted_ip");
    }
    // Length of the quoted datagram as its own header states it.
    let quoted = if ver == 4 {
        payload.get(2..4).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
    } else {
        payload.get(4..6).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])) + 40)
    };
    let allowed = quoted.unwrap_or(max_quote).clamp(128, max_quote) + ERROR_EXTENSION_ROOM;
    (len > allowed).then_some("error_longer_than_quoted_datagram")
}

/// The shortest period (1..=16) of `b` if it repeats at least twice and is at least 8 bytes.
///
/// Asked of every echo payload no fill explains (all of a random-payload flood): a period `p`
/// must repeat the first byte at `p`, so one 16-byte compare of `b[1..=16]` against `b[0]`
/// leaves the few candidates (none, on most random payloads) to compare in full.
pub(crate) fn period(b: &[u8]) -> Option<usize> {
    let (Some(&first), true) = (b.first(), b.len() >= 8) else { return None };
    let max = (b.len() / 2).min(16);
    // b[1..=16], zero-padded when shorter (padding lies past `max`, masked off below).
    let next: [u8; 16] = match b.get(1..17).and_then(|w| w.try_into().ok()) {
        Some(w) => w,
        None => {
            let mut w = [0u8; 16];
            for (d, s) in w.iter_mut().zip(b.iter().skip(1)) {
                *d = *s;
            }
            w
        }
    };
    // Byte k of `x` is zero where b[k + 1] == first; `cand` has bit 8k + 7 set exactly there
    // (no carry crosses a byte: 0x7f + 0x7f < 0x100), for k < max.
    const LOW7: u128 = u128::MAX / 255 * 0x7f;
    let x = u128::from_le_bytes(next) ^ (u128::MAX / 255 * u128::from(first));
    let mut cand = !(((x & LOW7) + LOW7) | x | LOW7);
    if max < 16 {
        cand &= (1u128 << (8 * max)) - 1;
    }
    while cand != 0 {
        let p = (cand.trailing_zeros() / 8) as usize + 1;
        if b.get(p..) == b.get(..b.len() - p) {
            return Some(p);
        }
        cand &= cand - 1;
    }
    None
}

/// Shannon entropy of `b` in bits per byte, and that ÷ the most `b`'s length allows
/// (log2(min(256, len))), so short payloads are comparable with long ones.
pub(crate) fn entropy(b: &[u8]) -> (f64, f64) {
    if b.len() < 2 {
        return (0.0, 0.0);
    }
    let mut counts = [0u32; 256];
    for &x in b {
        counts[usize::from(x)] += 1;
    }
    // H = log2(n) - Σ c·log2(c) / n, by table (a libm log2 per distinct byte was 2.5 % of an
    // echo flood's time).
    let table = entropy::c_log2_c_table();
    let (mut sum, mut distinct) = (0.0, 0);
    for &c in counts.iter().filter(|c| **c > 0) {
        sum += entropy::c_log2_c(table, c as usize);
        distinct += 1;
    }
    if distinct < 2 {
        return (0.0, 0.0);
    }
    let n = b.len();
    let h = (entropy::log2_of(n) - sum / n as f64).max(0.0);
    let max = entropy::log2_of(n.min(256));
    (h, (h / max).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// iputils ping, default 56 bytes (pcaps/icmp_benign.pcap, first request): 8-byte tv_sec,
    /// 8-byte tv_usec, then 0x10..0x37.
    const IPUTILS_56: &str = "dcbc046b0000000017b1040000000000\
        101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

    #[test]
    fn iputils_default_and_large() {
        let p = hex(IPUTILS_56);
        assert_eq!(classify(&p, 56), PayloadKind::Iputils);
        // -s 1400: the fill wraps at 256 (pcaps/icmp_benign.pcap).
        let mut big = p[..16].to_vec();
        big.extend((16..1400).map(|i| i as u8));
        assert_eq!(classify(&big, 1400), PayloadKind::Iputils);
        // -s 8: too short for a timestamp, 0x00..0x07 throughout.
        assert_eq!(classify(&[0, 1, 2, 3, 4, 5, 6, 7], 8), PayloadKind::Iputils);
        // The linux ping payload has more byte entropy than many tunnels: not a signal alone.
        assert!(entropy(&p).0 > 5.0);
    }

    #[test]
    fn bsd_and_macos() {
        // FreeBSD/macOS: 8-byte tv32 timestamp, then 0x08..0x37 (56 bytes).
        let mut p = vec![0x66, 0x1a, 0x2b, 0x3c, 0x00, 0x0b, 0x71, 0x2f];
        p.extend(8u8..56);
        assert_eq!(classify(&p, 56), PayloadKind::Bsd);
        // OpenBSD: 24 bytes of timestamp and MAC, then byte i = i.
        let mut o: Vec<u8> = (0..24).map(|i| (i * 37 + 11) as u8).collect();
        o.extend(24u8..56);
        assert_eq!(classify(&o, 56), PayloadKind::Bsd);
    }

    #[test]
    fn windows_ping_and_tracert() {
        assert_eq!(classify(b"abcdefghijklmnopqrstuvwabcdefghi", 32), PayloadKind::Windows);
        let long: Vec<u8> = (0..1472).map(|i| b'a' + (i % 23) as u8).collect();
        assert_eq!(classify(&long, 1472), PayloadKind::Windows);
        assert_eq!(classify(&[0u8; 64], 64), PayloadKind::Zeros);
    }

    #[test]
    fn traceroute_busybox_cisco_goping() {
        // traceroute -I (pcaps/icmp_benign.pcap): "HIJK..." 32 bytes.
        let t = hex("48494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656667");
        assert_eq!(classify(&t, 32), PayloadKind::Traceroute);
        let wrap: Vec<u8> = (0..100).map(|i| 0x40 | ((i + 8) & 0x3f) as u8).collect();
        assert_eq!(classify(&wrap, 100), PayloadKind::Traceroute);
        // busybox: 4-byte timestamp, zeros.
        let mut bb = vec![0x12, 0x34, 0x56, 0x78];
        bb.extend([0u8; 52]);
        assert_eq!(classify(&bb, 56), PayloadKind::Zeros);
        // Cisco IOS: 0xABCD repeated after an 8-byte header.
        let mut c = vec![0, 0, 0, 0, 0x01, 0x2f, 0x55, 0x10];
        c.extend([0xAB, 0xCD].iter().cycle().take(64));
        assert_eq!(classify(&c, 72), PayloadKind::Cisco);
        // pro-bing: BE ns timestamp, UUIDv4 tracker (24 bytes), 0x01 padding.
        let mut g = hex("17a2b3c4d5e6f708");
        g.extend(hex("3f2a9c104e7b4d2a9f1e0c2b3a4d5e6f"));
        assert_eq!(classify(&g, 24), PayloadKind::GoPing);
        g.extend([1u8; 32]);
        assert_eq!(classify(&g, 56), PayloadKind::GoPing);
    }

    #[test]
    fn ping_p_pattern_is_not_default() {
        // `ping -p 64625f686f73743d31302e312e342e32` ("db_host=10.1.4.2", pcaps/icmp_ping_p.pcap).
        let p = hex("c9bc046b00000000bb890e0000000000\
             64625f686f73743d31302e312e342e3264625f686f73743d31302e312e342e3264625f686f73743d");
        let k = classify(&p, 56);
        assert_eq!(k, PayloadKind::Pattern { period: 16 });
        assert!(!k.is_default());
        // An admin's `ping -p ff`.
        let mut ff = p[..16].to_vec();
        ff.extend([0xFFu8; 40]);
        assert_eq!(classify(&ff, 56), PayloadKind::Pattern { period: 1 });
    }

    #[test]
    fn tunnel_headers() {
        // ptunnel-ng (pcaps/icmp_ptunnel.pcap): magic, dst ip, dst port, state, ack, len, seq, id.
        let ng = hex("deadc0dec633645200002328400000000000ffff000000000000436a");
        assert_eq!(classify(&ng, 28), PayloadKind::Tunnel(TunnelTool::PtunnelNg));
        // The same header with a custom magic (--magic): recognised by its layout.
        let mut custom = ng.clone();
        custom[..4].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(classify(&custom, 28), PayloadKind::Tunnel(TunnelTool::PtunnelNg));
        let mut data = hex("deadc0de0000000000000000400000020000ffff000004000001436a");
        data[..4].copy_from_slice(&[9, 9, 9, 9]);
        data.extend((0..1024).map(|i| (i * 7) as u8));
        assert_eq!(classify(&data, 1052), PayloadKind::Tunnel(TunnelTool::PtunnelNg));
        // A length field that does not match is no ptunnel header.
        assert_ne!(classify(&data[..1000], 1000), PayloadKind::Tunnel(TunnelTool::PtunnelNg));
        // Original ptunnel.
        let mut pt = ng.clone();
        pt[..4].copy_from_slice(&PTUNNEL_MAGIC);
        assert_eq!(classify(&pt, 28), PayloadKind::Tunnel(TunnelTool::Ptunnel));
        // hans: magic + type; icmptunnel: magic + flags + type.
        assert_eq!(classify(b"hanc\x07\x45\x00\x00\x54", 9), PayloadKind::Tunnel(TunnelTool::Hans));
        assert_eq!(classify(b"hans\x08", 5), PayloadKind::Tunnel(TunnelTool::Hans));
        assert_eq!(classify(b"TUNL\x00\x03E\x00", 8), PayloadKind::Tunnel(TunnelTool::IcmpTunnel));
        // A whole IPv4 packet (icmptx): total length == payload length.
        let mut ip = hex("4500003c694d000001111bac0a630018c633640a");
        ip.resize(60, 0x41);
        assert_eq!(classify(&ip, 60), PayloadKind::Tunnel(TunnelTool::IpInIcmp));
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        ip6.resize(60, 0x11);
        assert_eq!(classify(&ip6, 60), PayloadKind::Tunnel(TunnelTool::IpInIcmp));
    }

    #[test]
    fn random_and_text_are_unknown() {
        // hping3 --file with random bytes (pcaps/icmp_hping3.pcap, first 32 bytes).
        let h = hex("1f69bd19a38b2321202b4b0cf3df96051fb6a3c5d3080492620268227e25ac7f");
        assert_eq!(classify(&h, 32), PayloadKind::Unknown);
        assert_eq!(classify(b"Prometheus Blackbox Exporter", 28), PayloadKind::Unknown);
        assert_eq!(classify(b"", 0), PayloadKind::Empty);
        // Cut by the snaplen: classified on what was captured.
        assert_eq!(classify(&hex(IPUTILS_56)[..40], 56), PayloadKind::Iputils);
    }

    #[test]
    fn classify_never_panics_on_any_short_input() {
        // Every 0..=3-byte input, and pseudo-random inputs of every length up to 300.
        for len in 0..=2usize {
            for v in 0..(1u32 << (8 * len)) {
                let b = v.to_le_bytes();
                let _ = classify(&b[..len], len as u32);
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = vec![0u8; 300];
        for len in 0..300 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            for wire in [0u32, len as u32, 65_535] {
                let k = classify(&buf[..len], wire);
                if len >= 32 {
                    assert!(!k.is_default(), "random {len} bytes classed {k:?}");
                }
            }
        }
    }

    /// The definition [`period`] implements with one 16-byte compare.
    fn period_by_definition(b: &[u8]) -> Option<usize> {
        if b.len() < 8 {
            return None;
        }
        (1..=16usize)
            .filter(|&p| b.len() >= 2 * p)
            .find(|&p| b.iter().skip(p).zip(b.iter()).all(|(x, y)| x == y))
    }

    #[test]
    fn period_matches_its_definition() {
        // Every length to 80, over alphabets of 1, 2, 3 and 256 symbols (small alphabets make
        // many candidates), and every period 1..=20 repeated with and without a broken byte.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in 0..80usize {
            for alphabet in [1u64, 2, 3, 256] {
                for _ in 0..50 {
                    let b: Vec<u8> = (0..len).map(|_| (next() % alphabet) as u8 * 0x55).collect();
                    assert_eq!(period(&b), period_by_definition(&b), "{b:02x?}");
                }
            }
            for p in 1..=20usize {
                let unit: Vec<u8> = (0..p).map(|_| next() as u8).collect();
                let mut b: Vec<u8> = unit.iter().copied().cycle().take(len).collect();
                assert_eq!(period(&b), period_by_definition(&b), "{b:02x?}");
                if let Some(last) = b.last_mut() {
                    *last ^= 1;
                }
                assert_eq!(period(&b), period_by_definition(&b), "{b:02x?}");
            }
        }
    }

    #[test]
    fn odd_types() {
        // Port unreachable quoting the UDP probe (pcaps/icmp_benign.pcap).
        let q = hex("4500003c694d000001111bac0a630018c633640ad9bd829a00287988");
        assert_eq!(odd_type_data(false, 3, &q, 60), None);
        assert_eq!(odd_type_data(false, 3, b"secret data here", 16), Some("error_without_quoted_ip"));
        // hping3 -C 3 --file (pcaps/icmp_hping3_unreach.pcap): a 28-byte quoted datagram, then
        // 1200 bytes of file.
        let mut h = hex("4500001c0000000040110000cb0071190a630019");
        h.extend([0u8; 8]);
        h.extend([0x5Au8; 1200]);
        assert_eq!(odd_type_data(false, 3, &h, 1228), Some("error_longer_than_quoted_datagram"));
        // A full 576-byte Linux quote of a large packet, and one with an RFC 4884 extension.
        let mut big = hex("450005dc00000000401100000a6300190a630001");
        big.resize(548, 0);
        assert_eq!(odd_type_data(false, 11, &big, 548), None);
        assert_eq!(odd_type_data(false, 11, &q[..28], 128 + 20), None);
        assert_eq!(odd_type_data(false, 13, &[], 0), None, "nmap timestamp probe");
        assert_eq!(odd_type_data(false, 13, b"xxxx", 4), Some("data_in_fixed_size_type"));
        assert_eq!(odd_type_data(false, 47, b"x", 1), Some("data_in_unassigned_type"));
        assert_eq!(odd_type_data(false, 8, b"anything", 8), None);
        assert_eq!(odd_type_data(true, 135, &[0u8; 24], 24), None, "neighbour solicitation");
        assert_eq!(odd_type_data(true, 1, &[0x60, 0, 0, 0], 48), None);
        assert_eq!(odd_type_data(true, 200, b"data", 4), Some("data_in_unassigned_type"));
    }

    #[test]
    fn entropy_is_normalised_by_length() {
        let (h, n) = entropy(&(0u8..=255).collect::<Vec<_>>());
        assert!((h - 8.0).abs() < 1e-9 && (n - 1.0).abs() < 1e-9);
        assert_eq!(entropy(&[7u8; 100]), (0.0, 0.0));
        let (_, n) = entropy(&(0u8..16).collect::<Vec<_>>());
        assert!((n - 1.0).abs() < 1e-9);
    }
}

/// The packet an ICMP/ICMPv6 error message quotes: who sent what to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quoted {
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
pub(crate) struct IcmpError {
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

/// Is ICMP type `ty` an error, which quotes the packet it is about: destination unreachable,
/// source quench, redirect, time exceeded, parameter problem (v4); unreachable, packet too
/// big, time exceeded, parameter problem (v6)? ([`error`] reads all but redirects and packet
/// too big; the mirror filter looks at all of them for quoted tunnels.)
#[inline]
pub(crate) fn is_error(v6: bool, ty: u8) -> bool {
    if v6 { matches!(ty, 1..=4) } else { matches!(ty, 3 | 4 | 5 | 11 | 12) }
}

/// The error in `d`, if it is an ICMP/ICMPv6 error whose quote holds an IP header and the first
/// 4 bytes of its transport header (RFC 792 guarantees 8). Lax: a quote cut by the snaplen or a
/// non-first fragment yields `None`, never a panic.
pub(crate) fn error(d: &Decoded<'_>) -> Option<IcmpError> {
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
mod error_tests {
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
