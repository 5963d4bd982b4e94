//! The one payload sniffer: what a flow's payload speaks, from its first bytes in each
//! direction, whatever the port — and the prefix checks detectors ask about a payload
//! (`looks_like_*`, [`http_status`]), so every part of siphon agrees on what HTTP, TLS, DNS
//! and QUIC look like.
//!
//! Cheap prefix checks only; the full parsers (`dns`, `tls`, `http`) run later on flows
//! classified here. The DNS message a client's first payload parsed into is handed back
//! ([`sniff_client`]) so the worker does not parse it twice.

use super::{dns, http, tls};

/// An application protocol recognised from payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppProto {
    /// No payload yet.
    #[default]
    Unknown,
    /// DNS.
    Dns,
    /// TLS.
    Tls,
    /// HTTP/1.x request.
    Http,
    /// SSH banner.
    Ssh,
    /// FTP control.
    Ftp,
    /// SMTP.
    Smtp,
    /// SOCKS4 or SOCKS4a.
    Socks4,
    /// SOCKS5.
    Socks5,
    /// Cryptocurrency-mining Stratum (JSON-RPC `mining.*`).
    Stratum,
    /// NetBIOS name service (UDP 137): DNS's wire format, but NetBIOS names (RFC 1002).
    Nbns,
    /// Payload seen but none of the above.
    Other,
}

impl AppProto {
    /// Stable lower-case name, for evidence.
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Unknown => "unknown",
            AppProto::Dns => "dns",
            AppProto::Tls => "tls",
            AppProto::Http => "http",
            AppProto::Ssh => "ssh",
            AppProto::Ftp => "ftp",
            AppProto::Smtp => "smtp",
            AppProto::Socks4 => "socks4",
            AppProto::Socks5 => "socks5",
            AppProto::Stratum => "stratum",
            AppProto::Nbns => "nbns",
            AppProto::Other => "other",
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Classifies the first payload a client (flow initiator) sent. `udp` picks DNS over UDP.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn classify_client(b: &[u8], udp: bool) -> AppProto {
    sniff_client(b, udp).0
}

/// [`classify_client`], with the first DNS message the payload parsed into (whatever the
/// verdict).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn sniff_client(b: &[u8], udp: bool) -> (AppProto, Option<dns::DnsMessage>) {
    let mut msg = dns::DnsMessage::default();
    let (app, parsed) = sniff_client_into(b, udp, &mut msg);
    (app, parsed.then_some(msg))
}

/// [`sniff_client`] for the worker: the first DNS message the payload parsed into goes into
/// `msg` (then `true`, whatever the verdict), to hand to detectors without parsing it again.
pub(crate) fn sniff_client_into(b: &[u8], udp: bool, msg: &mut dns::DnsMessage) -> (AppProto, bool) {
    let Some(&first) = b.first() else { return (AppProto::Unknown, false) };
    // Every protocol but DNS starts with a byte of its own: one branch on it sends a payload
    // to the only checks it could pass (random bytes, most of a flood's, to none of them).
    if let Some(app) = by_first_byte(b, first) {
        return (app, false);
    }
    let m = if udp { Some(b) } else { dns::tcp_messages(b).next() };
    let Some(m) = m.filter(|m| could_hold_question(m)) else { return (AppProto::Other, false) };
    if dns::parse_into(m, msg).is_err() {
        return (AppProto::Other, false);
    }
    let app = if udp && is_nbns(msg) {
        AppProto::Nbns
    } else if !msg.is_response && dns::looks_like_dns(msg) {
        AppProto::Dns
    } else {
        AppProto::Other
    };
    (app, true)
}

/// The protocols recognised by their first bytes (all but DNS), in the order they are tried:
/// TLS, HTTP, SSH, SMTP, FTP, Stratum, SOCKS5, SOCKS4. Each needs its own first byte, so only
/// the checks that byte allows run.
fn by_first_byte(b: &[u8], first: u8) -> Option<AppProto> {
    match first {
        0x16 if tls::record_len(b).is_some() && b.get(5) == Some(&1) => Some(AppProto::Tls),
        b'A'..=b'Z' | b'-' | b'_' => {
            if looks_like_http(b) {
                return Some(AppProto::Http);
            }
            match first {
                b'S' if b.starts_with(b"SSH-") => Some(AppProto::Ssh),
                b'E' if b.starts_with(b"EHLO ") => Some(AppProto::Smtp),
                b'H' if b.starts_with(b"HELO ") => Some(AppProto::Smtp),
                b'U' if b.starts_with(b"USER ") => Some(AppProto::Ftp),
                b'A' if b.starts_with(b"AUTH TLS") => Some(AppProto::Ftp),
                _ => None,
            }
        }
        b'e' if b.starts_with(b"ehlo ") => Some(AppProto::Smtp),
        b'{' if contains(&b[..b.len().min(512)], b"\"mining.") => Some(AppProto::Stratum),
        // SOCKS5 greeting: version 5, n methods, exactly n method bytes.
        5 if b.len() >= 3 && (1..=9).contains(&b[1]) && b.len() == 2 + usize::from(b[1]) => {
            Some(AppProto::Socks5)
        }
        // SOCKS4 request: version 4, CONNECT/BIND, port, IPv4, user id, NUL.
        4 if b.len() >= 9 && (b[1] == 1 || b[1] == 2) && b.last() == Some(&0) => Some(AppProto::Socks4),
        _ => None,
    }
}

/// What [`dns::parse`] needs before it can succeed, checked in a few instructions (a parse
/// costs ~140 under a flood of random datagrams): a 12-byte header, a question count, room for a
/// question (a name of at least one byte, type and class), and a first label byte that is a
/// length (0-63) or a compression pointer (0xC0-0xFF) — 0x40-0xBF are rejected by the parser.
fn could_hold_question(b: &[u8]) -> bool {
    b.len() >= 17 && (b[4] | b[5]) != 0 && !(0x40..=0xbf).contains(&b[12])
}

/// A NetBIOS name service message (RFC 1002 §4.2): its question is a NetBIOS name in the
/// first-level encoding — exactly 32 characters `A`–`P` (each nibble + 'A'), then an optional
/// scope — asked as NB (0x20) or NBSTAT (0x21) in class IN. DNS never asks those types, and a
/// DNS name's first label is never that shape by chance (16^32 of 37^32 labels of that length).
pub(crate) fn is_nbns(m: &dns::DnsMessage) -> bool {
    const NB: u16 = 0x20;
    const NBSTAT: u16 = 0x21;
    if !matches!(m.qtype, NB | NBSTAT) || m.qclass != 1 {
        return false;
    }
    let name = m.qname.as_bytes();
    let first = name.split(|&c| c == b'.').next().unwrap_or(&[]);
    first.len() == 32 && first.iter().all(|c| (b'A'..=b'P').contains(c))
}

/// Classifies the first payload a server sent, for protocols where the server speaks first.
pub(crate) fn classify_server(b: &[u8]) -> AppProto {
    if b.starts_with(b"SSH-") {
        return AppProto::Ssh;
    }
    if b.starts_with(b"220") {
        let head = &b[..b.len().min(256)];
        if contains(head, b"SMTP") || contains(head, b"smtp") || contains(head, b"Postfix") {
            return AppProto::Smtp;
        }
        if contains(head, b"FTP") || contains(head, b"ftp") {
            return AppProto::Ftp;
        }
    }
    AppProto::Unknown
}

fn first_line(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(b.len());
    &b[..end]
}

/// An HTTP/1.x request line, or HTTP/2's cleartext preface, with any method token (`GET`,
/// `PROPFIND`, `PRI * HTTP/2.0`); the common methods are recognised before the line is whole.
pub(crate) fn looks_like_http(b: &[u8]) -> bool {
    // Every method ends with a space within the first 17 bytes: a payload without one (a run
    // of letters, most random bytes) is turned away first, found a word at a time.
    let head = &b[..b.len().min(17)];
    let Some(sp) = first_space(head) else { return false };
    if http::starts_like_request(b) {
        return true;
    }
    // A method token (1-16 of `A-Z-_`) then a space: the first byte outside the token's
    // alphabet, within 17 bytes, must be that space. That is: the first space within 17 bytes
    // follows a token. No payload is walked past 17 bytes unless it has a method.
    if sp == 0 || !head[..sp].iter().all(|&c| c.is_ascii_uppercase() || c == b'-' || c == b'_') {
        return false;
    }
    // The request line holds " HTTP/" (at the earliest, at the method's space).
    contains(first_line(&b[sp..]), b" HTTP/")
}

/// Position of the first space in `b`, eight bytes at a time.
fn first_space(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let Ok(w) = <[u8; 8]>::try_from(w) else { break };
        // Bytes equal to a space become zero; the lowest zero byte sets the lowest flag bit
        // (borrows can set flags only above it).
        let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b' '));
        let zero = x.wrapping_sub(ONES) & !x & (ONES * 0x80);
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&c| c == b' ').map(|p| at + p)
}

/// The status code of an HTTP/1.x response line.
pub(crate) fn http_status(b: &[u8]) -> Option<u16> {
    let rest = b.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

/// A TLS handshake record header, even when the ClientHello is split over segments.
pub(crate) fn looks_like_tls(b: &[u8]) -> bool {
    b.len() >= 3 && b[0] == 0x16 && b[1] == 3 && b[2] <= 4
}

/// A plausible DNS query header, for what [`classify_client`] leaves unclassified: a
/// header-only status request (nmap's UDP probe), an unusual opcode. Over TCP, after the length
/// prefix. Random bytes pass with odds of about 2^-35 (four counts whose high bytes are zero).
pub(crate) fn looks_like_dns_header(b: &[u8], udp: bool) -> bool {
    let m = if udp { b } else { b.get(2..).unwrap_or(&[]) };
    let Some(h) = m.get(..12) else { return false };
    let opcode = (h[2] >> 3) & 0x0f;
    let count = |i: usize| u32::from(u16::from_be_bytes([h[i], h[i + 1]]));
    let records = count(4) + count(6) + count(8) + count(10);
    h[2] & 0x80 == 0
        && matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6)
        && records <= 64
        && (records > 0 || m.len() == 12)
}

/// A QUIC long-header packet (a client's first datagram is always one).
pub(crate) fn looks_like_quic(b: &[u8]) -> bool {
    b.len() >= 20 && b[0] & 0xc0 == 0xc0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_by_payload_not_port() {
        assert_eq!(classify_client(b"SSH-2.0-OpenSSH_9.2\r\n", false), AppProto::Ssh);
        assert_eq!(classify_client(b"GET / HTTP/1.1\r\n", false), AppProto::Http);
        assert_eq!(classify_client(&[5, 1, 0], false), AppProto::Socks5);
        assert_eq!(
            classify_client(br#"{"id":1,"method":"mining.subscribe","params":[]}"#, false),
            AppProto::Stratum
        );
        assert_eq!(classify_client(b"random bytes", false), AppProto::Other);
        assert_eq!(classify_server(b"220 mail ESMTP Postfix\r\n"), AppProto::Smtp);
        assert_eq!(classify_server(b"220 (vsFTPd 3.0.3)\r\n"), AppProto::Ftp);
    }

    #[test]
    fn http_status_lines() {
        // tinyproxy's answer in pcaps/proxy_http_connect.pcap.
        assert_eq!(
            http_status(b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n"),
            Some(200)
        );
        assert_eq!(http_status(b"HTTP/1.1 407 Proxy Authentication Required\r\n"), Some(407));
        assert_eq!(http_status(b"HTTP/2 200"), None);
        assert_eq!(http_status(b"HTTP/1.1 2"), None);
    }

    #[test]
    fn first_payload_shapes() {
        assert!(looks_like_http(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assert!(looks_like_http(b"PROPFIND /dav HTTP/1.1\r\n"));
        assert!(looks_like_http(b"POST /up"), "a common method before the line is whole");
        assert!(!looks_like_http(b"SSH-2.0-OpenSSH_9.2\r\n"));
        assert!(!looks_like_http(b"{\"id\":1,\"method\":\"mining.subscribe\"} HTTP/"));
        assert!(looks_like_tls(&[0x16, 3, 1, 0, 0xc8]));
        // nmap -sU's DNS status request (pcaps/scan_nmap_sU.pcap) is DNS; iodine's raw-mode
        // header (0x10 0xd1 0x9e ...) has the response bit set and is not.
        assert!(looks_like_dns_header(b"\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00", true));
        assert!(!looks_like_dns_header(b"\x10\xd1\x9e\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", true));
        assert!(!looks_like_dns_header(b"GET / HTTP/1.1\r\n", true));
        assert!(!looks_like_tls(b"GET"));
        // The sniffer hands back the DNS message it parsed, for the worker to reuse.
        let q = crate::synth::dns_message(7, "www.example.com", false);
        let (app, m) = sniff_client(&q, true);
        assert_eq!(app, AppProto::Dns);
        assert_eq!(m.map(|m| m.id), Some(7));
    }

    /// `looks_like_http` as first written (two walks of the whole first line).
    fn http_reference(b: &[u8]) -> bool {
        if http::starts_like_request(b) {
            return true;
        }
        let line = first_line(b);
        let Some(sp) = line.iter().position(|&c| c == b' ') else { return false };
        let method = &line[..sp];
        !method.is_empty()
            && method.len() <= 16
            && method.iter().all(|c| c.is_ascii_uppercase() || *c == b'-' || *c == b'_')
            && line.windows(6).any(|w| w == b" HTTP/")
    }

    #[test]
    fn the_cheap_checks_agree_with_the_full_ones() {
        // Payloads built from pieces of requests, DNS queries and noise: the short HTTP walk
        // decides as the original did, and no payload the DNS pre-check turns away would parse.
        let pieces: [&[u8]; 12] = [
            b"GET",
            b"M-SEARCH",
            b"PROPFIND",
            b" ",
            b" HTTP/1.1",
            b"\r\n",
            b"/x",
            b"ABCDEFGHIJKLMNOPQ",
            b"_-",
            &[0x42; 20],
            &[0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1],
            &[0xc0, 0x0c, 0x3f, 0x40, 0xbf, 0xff],
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x = crate::flow::host::mix(x);
            x
        };
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut b = Vec::new();
            for _ in 0..next() % 6 {
                b.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            if next() % 3 == 0 {
                b.extend((0..next() % 40).map(|_| next() as u8));
            }
            assert_eq!(looks_like_http(&b), http_reference(&b), "{b:?}");
            let mut q = crate::synth::dns_message(next() as u16, "a.example.com", false);
            let (i, v) = ((next() % q.len() as u64) as usize, next() as u8);
            q[i] = v;
            q.truncate(q.len() - (next() % 4) as usize);
            for m in [&b[..], &q[..]] {
                if !could_hold_question(m) {
                    assert!(dns::parse(m).is_err(), "{m:?}");
                } else if dns::parse(m).is_ok() {
                    parsed += 1;
                }
            }
        }
        assert!(parsed > 1000, "the mutated queries mostly parse: {parsed}");
    }

    /// `sniff_client` as first written: every check in turn, whatever the first byte.
    fn sniff_reference(b: &[u8], udp: bool) -> AppProto {
        if b.is_empty() {
            return AppProto::Unknown;
        }
        if tls::record_len(b).is_some() && b.get(5) == Some(&1) {
            return AppProto::Tls;
        }
        if http_reference(b) {
            return AppProto::Http;
        }
        if b.starts_with(b"SSH-") {
            return AppProto::Ssh;
        }
        if b.starts_with(b"EHLO ") || b.starts_with(b"HELO ") || b.starts_with(b"ehlo ") {
            return AppProto::Smtp;
        }
        if b.starts_with(b"USER ") || b.starts_with(b"AUTH TLS") {
            return AppProto::Ftp;
        }
        if b[0] == b'{' && contains(&b[..b.len().min(512)], b"\"mining.") {
            return AppProto::Stratum;
        }
        if b.len() >= 3 && b[0] == 5 && (1..=9).contains(&b[1]) && b.len() == 2 + usize::from(b[1]) {
            return AppProto::Socks5;
        }
        if b.len() >= 9 && b[0] == 4 && (b[1] == 1 || b[1] == 2) && b.last() == Some(&0) {
            return AppProto::Socks4;
        }
        let m = if udp {
            dns::parse(b).ok()
        } else {
            dns::tcp_messages(b).next().and_then(|m| dns::parse(m).ok())
        };
        match m {
            Some(m) if udp && is_nbns(&m) => AppProto::Nbns,
            Some(m) if !m.is_response && dns::looks_like_dns(&m) => AppProto::Dns,
            _ => AppProto::Other,
        }
    }

    #[test]
    fn the_first_byte_dispatch_classifies_as_every_check_in_turn() {
        // Each protocol's opening, cut, mutated and followed by noise or spaces, over UDP and
        // TCP: the same verdict as trying every check in turn.
        let q = crate::synth::dns_message(3, "www.example.com", false);
        let mut tcp_q = (q.len() as u16).to_be_bytes().to_vec();
        tcp_q.extend_from_slice(&q);
        let openings: [&[u8]; 16] = [
            &[0x16, 3, 1, 0, 0xc8, 1, 0, 0],
            b"GET / HTTP/1.1\r\n",
            b"M-SEARCH * HTTP/1.1\r\n",
            b"SSH-2.0-x\r\n",
            b"EHLO a\r\n",
            b"HELO a",
            b"ehlo a",
            b"USER x\r\n",
            b"AUTH TLS\r\n",
            br#"{"id":1,"method":"mining.subscribe"}"#,
            &[5, 2, 0, 2],
            &[4, 1, 0, 80, 1, 2, 3, 4, b'u', 0],
            &q,
            &tcp_q,
            &[0x42; 32],
            b"SSH HTTP/",
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x = crate::flow::host::mix(x);
            x
        };
        for _ in 0..20_000 {
            let mut b = openings[(next() % openings.len() as u64) as usize].to_vec();
            match next() % 4 {
                0 => b.truncate((next() % (b.len() as u64 + 1)) as usize),
                1 => {
                    let i = (next() % b.len() as u64) as usize;
                    b[i] = if next() % 2 == 0 { b' ' } else { next() as u8 };
                }
                2 => b.extend((0..next() % 24).map(|_| next() as u8)),
                _ => {}
            }
            for udp in [true, false] {
                assert_eq!(sniff_client(&b, udp).0, sniff_reference(&b, udp), "{b:?} udp={udp}");
            }
            let n = (next() % 20) as usize;
            let noise: Vec<u8> = (0..n)
                .map(|_| if next() % 5 == 0 { b' ' } else { b"AZ_-a "[(next() % 6) as usize] })
                .collect();
            assert_eq!(first_space(&noise), noise.iter().position(|&c| c == b' '), "{noise:?}");
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn netbios_name_service_is_not_dns() {
        // pcaps/nbns_llmnr_mdns.pcap: nmap -sU -p137's NBSTAT query for "*", and nmblookup's
        // broadcast NB query for WORKSTATION7.
        let nbstat = hex(
            "01910000000100000000000020434b4141414141414141414141414141414141414141414141414141414141410000210001",
        );
        let nb = hex(
            "57430110000100000000000020464845504643454c4644464545424645454a4550454f444843414341434141410000200001",
        );
        for q in [&nbstat, &nb] {
            let (app, m) = sniff_client(q, true);
            assert_eq!(app, AppProto::Nbns);
            assert!(m.is_some_and(|m| is_nbns(&m)));
        }
        // A DNS query whose first label happens to be 32 letters A-P, asked as A: still DNS.
        let q = crate::synth::dns_message(9, "ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP.example.com", false);
        assert_eq!(sniff_client(&q, true).0, AppProto::Dns);
        // A character outside A-P is no NetBIOS name.
        let mut bad = nb.clone();
        bad[13] = b'Z';
        assert_ne!(sniff_client(&bad, true).0, AppProto::Nbns);
    }
}
