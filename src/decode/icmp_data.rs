//! What an echo payload carries, beyond its layout (`icmp::classify`): printable text, and a
//! known protocol's opening (an SSH banner, an HTTP line, a TLS record) — a message, a file or a
//! TCP stream pushed through echoes. Pure, allocation-free checks over borrowed bytes.

/// Bytes of printable text (ASCII 0x20-0x7e, tab, CR, LF) in `b`, if at least [`TEXT_MIN_LEN`]
/// bytes long and at least 90 % printable: a message, a file, a command's output, base64. No
/// ping implementation fills its payload with text (Windows' alphabet and traceroute's
/// `HIJK...` are recognised before this is asked). `None` otherwise.
pub(crate) fn printable_text(b: &[u8]) -> Option<usize> {
    if b.len() < TEXT_MIN_LEN {
        return None;
    }
    let n = b.iter().filter(|&&c| (0x20..0x7f).contains(&c) || matches!(c, b'\t' | b'\r' | b'\n')).count();
    (n * 10 >= b.len() * 9).then_some(n)
}

/// Shortest payload judged as text by [`printable_text`].
pub(crate) const TEXT_MIN_LEN: usize = 32;

/// A known protocol's opening inside an echo payload — an SSH banner, an HTTP request or status
/// line, a TLS handshake or application-data record — at its start or after a header of at most
/// [`BANNER_SEARCH`] bytes: a TCP stream carried in echoes. Its name, or `None`.
pub(crate) fn protocol_banner(b: &[u8]) -> Option<&'static str> {
    if tls_record(b) {
        return Some("tls");
    }
    let head = b.get(..b.len().min(BANNER_SEARCH + 8)).unwrap_or(b);
    if head.windows(8).any(|w| w == b"SSH-2.0-" || w == b"SSH-1.99") {
        return Some("ssh");
    }
    if super::app::looks_like_http(b) || head.windows(7).any(|w| w == b"HTTP/1.") {
        return Some("http");
    }
    None
}

/// Bytes searched for a banner behind a tunnel's own header.
const BANNER_SEARCH: usize = 32;

/// A TLS record header (handshake or application data, TLS 1.0-1.3) with a plausible length.
fn tls_record(b: &[u8]) -> bool {
    let (Some(&t), Some(&maj), Some(&min), Some(len)) =
        (b.first(), b.get(1), b.get(2), b.get(3..5).map(|l| u16::from_be_bytes([l[0], l[1]])))
    else {
        return false;
    };
    matches!(t, 0x16 | 0x17) && maj == 3 && min <= 4 && (1..=16_640).contains(&len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// iputils ping, default 56 bytes (pcaps/icmp_benign.pcap, first request).
    const IPUTILS_56: &str = "dcbc046b0000000017b1040000000000\
        101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

    #[test]
    fn text_and_banners() {
        // pcaps/icmp_text_message.pcap: one 140-byte message.
        let m = b"meet at the north dock 23:40; bring the drive with the Q3 ledger. password for the archive is Tr0ub4dor&3 - delete this after reading, J.\n";
        assert_eq!(super::super::icmp::classify(m, m.len() as u32), super::super::icmp::PayloadKind::Unknown);
        assert_eq!(printable_text(m), Some(m.len()));
        assert_eq!(printable_text(&m[..20]), None, "too short to judge");
        // Random bytes, an iputils fill, zeros: not text.
        assert_eq!(
            printable_text(&hex("1f69bd19a38b2321202b4b0cf3df96051fb6a3c5d3080492620268227e25ac7f")),
            None
        );
        assert_eq!(printable_text(&hex(IPUTILS_56)), None);
        assert_eq!(printable_text(&[0u8; 64]), None);
        // pcaps/icmp_reply_tunnel.pcap: the ssh client's banner in an echo reply.
        assert_eq!(protocol_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n"), Some("ssh"));
        assert_eq!(protocol_banner(b"GET /index.html HTTP/1.1\r\nHost: x\r\n"), Some("http"));
        assert_eq!(protocol_banner(b"HTTP/1.1 200 OK\r\n"), Some("http"));
        assert_eq!(protocol_banner(&[0x16, 3, 1, 0, 0xc8, 1, 0, 0, 0xc4]), Some("tls"));
        assert_eq!(protocol_banner(&[0x17, 3, 3, 0x01, 0x20, 0xaa]), Some("tls"));
        assert_eq!(protocol_banner(&hex(IPUTILS_56)), None);
        assert_eq!(protocol_banner(b"abcdefghijklmnopqrstuvwabcdefghi"), None);
        assert_eq!(protocol_banner(&[0x16, 3, 1, 0, 0]), None, "an empty record");
    }
}
