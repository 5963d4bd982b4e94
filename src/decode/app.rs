//! What a flow's payload speaks, from its first bytes in each direction, whatever the port.
//!
//! Cheap prefix checks only; the full parsers run later on flows classified here.

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
            AppProto::Other => "other",
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Classifies the first payload a client (flow initiator) sent. `udp` picks DNS over UDP.
pub fn classify_client(b: &[u8], udp: bool) -> AppProto {
    if b.is_empty() {
        return AppProto::Unknown;
    }
    if tls::record_len(b).is_some() && b.get(5) == Some(&1) {
        return AppProto::Tls;
    }
    if http::starts_like_request(b) {
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
    // SOCKS5 greeting: version 5, n methods, exactly n method bytes.
    if b.len() >= 3 && b[0] == 5 && (1..=9).contains(&b[1]) && b.len() == 2 + usize::from(b[1]) {
        return AppProto::Socks5;
    }
    // SOCKS4 request: version 4, CONNECT/BIND, port, IPv4, user id, NUL.
    if b.len() >= 9 && b[0] == 4 && (b[1] == 1 || b[1] == 2) && b.last() == Some(&0) {
        return AppProto::Socks4;
    }
    let dns_msg =
        if udp { dns::parse(b).ok() } else { dns::tcp_messages(b).next().and_then(|m| dns::parse(m).ok()) };
    if dns_msg.is_some_and(|m| !m.is_response && dns::looks_like_dns(&m)) {
        return AppProto::Dns;
    }
    AppProto::Other
}

/// Classifies the first payload a server sent, for protocols where the server speaks first.
pub fn classify_server(b: &[u8]) -> AppProto {
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
}
