//! HTTP/1.x request line and the headers detectors use (Host, Content-Length), via `httparse`.

/// A request's first line and chosen headers, borrowed from the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// Method, e.g. `GET`, `POST`, `CONNECT`.
    pub method: &'a str,
    /// Request target.
    pub target: &'a str,
    /// `Host` header, if it was in this segment.
    pub host: Option<&'a [u8]>,
    /// `Content-Length`, if present and numeric.
    pub content_length: Option<u64>,
}

/// Most headers looked at; a request with more still yields its line and the first ones.
const MAX_HEADERS: usize = 48;

/// Methods worth trying to parse (cheap pre-check before `httparse`).
/// `GET `, `POST `, `PUT `, `HEAD `, `CONNECT `, `OPTIONS `, `DELETE `, `PATCH `, `TRACE `:
/// picked by the first byte, so a payload is compared with at most three.
pub(crate) fn starts_like_request(b: &[u8]) -> bool {
    match b.first() {
        Some(b'G') => b.starts_with(b"GET "),
        Some(b'P') => b.starts_with(b"POST ") || b.starts_with(b"PUT ") || b.starts_with(b"PATCH "),
        Some(b'H') => b.starts_with(b"HEAD "),
        Some(b'C') => b.starts_with(b"CONNECT "),
        Some(b'O') => b.starts_with(b"OPTIONS "),
        Some(b'D') => b.starts_with(b"DELETE "),
        Some(b'T') => b.starts_with(b"TRACE "),
        _ => false,
    }
}

/// Parses the request at the start of `b` (complete or not).
pub(crate) fn parse_request(b: &[u8]) -> Option<HttpRequest<'_>> {
    if !starts_like_request(b) {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    // Partial parses still fill the method, target and the headers read so far.
    let _ = req.parse(b);
    let method = req.method?;
    let target = req.path.unwrap_or("");
    let mut host = None;
    let mut content_length = None;
    for h in req.headers.iter().take_while(|h| !h.name.is_empty()) {
        if h.name.eq_ignore_ascii_case("host") {
            host = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            content_length = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
        }
    }
    Some(HttpRequest { method, target, host, content_length })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_line_host_and_length() {
        let r = parse_request(b"POST /up HTTP/1.1\r\nHost: packetstream.io\r\nContent-Length: 5000\r\n\r\n")
            .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.host, Some(&b"packetstream.io"[..]));
        assert_eq!(r.content_length, Some(5000));
    }

    #[test]
    fn connect_and_partial_requests() {
        let r = parse_request(b"CONNECT 203.0.113.5:443 HTTP/1.1\r\nHost: 203.0.113.5:443\r\n").unwrap();
        assert_eq!(r.method, "CONNECT");
        assert_eq!(r.target, "203.0.113.5:443");
        assert!(parse_request(b"\x16\x03\x01").is_none());
    }

    #[test]
    fn the_first_byte_picks_the_methods_to_compare() {
        const METHODS: [&[u8]; 9] = [
            b"GET ",
            b"POST ",
            b"PUT ",
            b"HEAD ",
            b"CONNECT ",
            b"OPTIONS ",
            b"DELETE ",
            b"PATCH ",
            b"TRACE ",
        ];
        // Every method, every prefix of it, and each with one byte changed.
        for m in METHODS {
            for n in 0..=m.len() {
                for i in 0..n {
                    for c in [b' ', b'A', b'x', 0] {
                        let mut b = m[..n].to_vec();
                        b[i] = c;
                        b.extend_from_slice(b"/ HTTP/1.1");
                        let want = METHODS.iter().any(|m| b.starts_with(m));
                        assert_eq!(starts_like_request(&b), want, "{b:?}");
                    }
                }
                assert_eq!(starts_like_request(&m[..n]), n == m.len());
            }
        }
    }
}
