//! TLS ClientHello: the server name (SNI) and ALPN, from a complete handshake record.
//!
//! A small zero-copy reader of its own: `tls-parser` builds `Vec`s of ciphers and extensions
//! for every hello, and siphon needs two extensions, borrowed. Records spanning TCP segments
//! (post-quantum hellos are ~1.8 KB) are joined by the flow stage before this is called; see
//! [`record_len`].

/// What a ClientHello tells about where the client is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// Legacy version from the hello body (0x0303 for TLS 1.2 and 1.3).
    pub version: u16,
    /// The first host name in the server_name extension.
    pub sni: Option<&'a [u8]>,
    /// The first ALPN protocol offered.
    pub alpn: Option<&'a [u8]>,
}

/// Why a record is not a usable ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsError {
    /// More bytes are needed: the record is longer than what was given.
    Incomplete,
    /// Not a handshake record carrying a ClientHello, or a field overruns its parent.
    Malformed,
}

/// If `b` starts a TLS handshake record, its total length including the 5-byte header.
pub(crate) fn record_len(b: &[u8]) -> Option<usize> {
    if b.len() >= 5 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04 {
        Some(5 + usize::from(u16::from_be_bytes([b[3], b[4]])))
    } else {
        None
    }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        if n > self.b.len() {
            return Err(TlsError::Malformed);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, TlsError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, TlsError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn vec8(&mut self) -> Result<&'a [u8], TlsError> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], TlsError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

/// Parses a ClientHello from the start of a TLS record.
pub fn parse_client_hello(b: &[u8]) -> Result<ClientHello<'_>, TlsError> {
    let total = record_len(b).ok_or(TlsError::Malformed)?;
    if b.len() < total {
        return Err(TlsError::Incomplete);
    }
    let mut r = Reader { b: &b[5..total] };
    if r.u8()? != 1 {
        return Err(TlsError::Malformed); // not a ClientHello
    }
    let hs_len = r.take(3)?;
    let hs_len = (usize::from(hs_len[0]) << 16) | (usize::from(hs_len[1]) << 8) | usize::from(hs_len[2]);
    // A hello fragmented over several records: read what this record holds.
    let body = &r.b[..hs_len.min(r.b.len())];
    let mut r = Reader { b: body };
    let version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // session id
    r.vec16()?; // cipher suites
    r.vec8()?; // compression methods
    let mut hello = ClientHello { version, sni: None, alpn: None };
    if r.b.is_empty() {
        return Ok(hello);
    }
    let mut exts = Reader { b: r.vec16()? };
    while !exts.b.is_empty() {
        let ty = exts.u16()?;
        let mut data = Reader { b: exts.vec16()? };
        match ty {
            0 => {
                let mut list = Reader { b: data.vec16()? };
                while !list.b.is_empty() {
                    let kind = list.u8()?;
                    let name = list.vec16()?;
                    if kind == 0 && hello.sni.is_none() {
                        hello.sni = Some(name);
                    }
                }
            }
            16 => {
                let mut list = Reader { b: data.vec16()? };
                if !list.b.is_empty() {
                    hello.alpn = Some(list.vec8()?);
                }
            }
            _ => {}
        }
    }
    Ok(hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(sni: &[u8]) -> Vec<u8> {
        crate::synth::client_hello_with(sni, Some(b"h2"))
    }

    #[test]
    fn reads_sni_and_alpn() {
        let h = hello(b"honeygain.com");
        let ch = parse_client_hello(&h).unwrap();
        assert_eq!(ch.sni, Some(&b"honeygain.com"[..]));
        assert_eq!(ch.alpn, Some(&b"h2"[..]));
    }

    #[test]
    fn cut_record_is_incomplete_and_prefixes_never_panic() {
        let h = hello(b"example.com");
        assert_eq!(parse_client_hello(&h[..h.len() - 1]), Err(TlsError::Incomplete));
        for n in 0..h.len() {
            let mut x = h.clone();
            x[n] ^= 0xff;
            let _ = parse_client_hello(&x);
            let _ = parse_client_hello(&h[..n]);
        }
    }
}
