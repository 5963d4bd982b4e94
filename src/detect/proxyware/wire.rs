//! Pure recognisers for what proxies, miners and Tor put on the wire: SOCKS4/4a/5 handshakes,
//! HTTP proxy answers, Stratum JSON-RPC logins, and the shape of a Tor client's TLS server name.
//!
//! Borrowed byte slices in, small `Copy` views out; no allocation, no state, no panics on any
//! input (every index is checked). State across packets lives in `mod.rs`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Where a proxy client asked to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// IPv4 address and port.
    V4(Ipv4Addr, u16),
    /// IPv6 address and port.
    V6(Ipv6Addr, u16),
    /// Host name (SOCKS4a, SOCKS5 ATYP 3) and port.
    Name(&'a [u8], u16),
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::V4(a, p) => write!(f, "{a}:{p}"),
            Target::V6(a, p) => write!(f, "[{a}]:{p}"),
            Target::Name(n, p) => {
                for &b in n.iter().take(255) {
                    if b.is_ascii_graphic() {
                        write!(f, "{}", b as char)?;
                    } else {
                        write!(f, "\\x{b:02x}")?;
                    }
                }
                write!(f, ":{p}")
            }
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// A SOCKS5 greeting (RFC 1928 §3): `05 NMETHODS METHODS...`, exactly that long.
/// Returns the offered methods.
pub(crate) fn socks5_greeting(b: &[u8]) -> Option<&[u8]> {
    let (&ver, rest) = b.split_first()?;
    let (&n, methods) = rest.split_first()?;
    (ver == 5 && n > 0 && methods.len() == usize::from(n)).then_some(methods)
}

/// A SOCKS5 method selection reply: `05 METHOD`. Returns the method (0xff = none acceptable).
pub(crate) fn socks5_method_reply(b: &[u8]) -> Option<u8> {
    match b {
        [5, m] => Some(*m),
        _ => None,
    }
}

/// A SOCKS5 request (RFC 1928 §4): `05 CMD 00 ATYP DST.ADDR DST.PORT`. Returns the command
/// (1 CONNECT, 2 BIND, 3 UDP ASSOCIATE) and the target.
pub(crate) fn socks5_request(b: &[u8]) -> Option<(u8, Target<'_>)> {
    let (&[ver, cmd, rsv, atyp], rest) = b.split_first_chunk::<4>()?;
    if ver != 5 || rsv != 0 || !(1..=3).contains(&cmd) {
        return None;
    }
    let t = match atyp {
        1 => {
            let a: [u8; 4] = rest.get(..4)?.try_into().ok()?;
            Target::V4(Ipv4Addr::from(a), be16(rest, 4)?)
        }
        4 => {
            let a: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            Target::V6(Ipv6Addr::from(a), be16(rest, 16)?)
        }
        3 => {
            let n = usize::from(*rest.first()?);
            let name = rest.get(1..1 + n)?;
            Target::Name(name, be16(rest, 1 + n)?)
        }
        _ => return None,
    };
    Some((cmd, t))
}

/// A SOCKS4/4a request: `04 CMD PORT IPV4 USERID 00 [HOST 00]` (4a when the address is
/// 0.0.0.x, x != 0). Returns the command (1 CONNECT, 2 BIND) and the target.
pub(crate) fn socks4_request(b: &[u8]) -> Option<(u8, Target<'_>)> {
    let (&[ver, cmd, p0, p1, a, bb, c, d], rest) = b.split_first_chunk::<8>()?;
    if ver != 4 || (cmd != 1 && cmd != 2) {
        return None;
    }
    let port = u16::from_be_bytes([p0, p1]);
    let user_end = rest.iter().position(|&x| x == 0)?;
    if a == 0 && bb == 0 && c == 0 && d != 0 {
        let host = rest.get(user_end + 1..)?;
        let host_end = host.iter().position(|&x| x == 0)?;
        let name = host.get(..host_end)?;
        return (!name.is_empty()).then_some((cmd, Target::Name(name, port)));
    }
    (user_end + 1 == rest.len()).then_some((cmd, Target::V4(Ipv4Addr::new(a, bb, c, d), port)))
}

/// A SOCKS4 reply: `00 STATUS PORT IPV4` (8 bytes). Returns the status (0x5a granted).
pub(crate) fn socks4_reply(b: &[u8]) -> Option<u8> {
    match b {
        [0, s @ 0x5a..=0x5d, _, _, _, _, _, _] => Some(*s),
        _ => None,
    }
}

/// Most bytes of a JSON-RPC line searched for a Stratum method.
const STRATUM_SCAN: usize = 1024;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The string value following `"key"` and a colon, if it is a string.
fn json_string_after<'a>(b: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find(b, key)? + key.len();
    let rest = b.get(at..)?;
    let rest = rest.get(rest.iter().position(|c| !c.is_ascii_whitespace())?..)?;
    let rest = rest.strip_prefix(b":")?;
    let rest = rest.get(rest.iter().position(|c| !c.is_ascii_whitespace())?..)?;
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&c| c == b'"')?;
    rest.get(..end)
}

/// A miner's opening JSON-RPC request on a Stratum connection, any port: Bitcoin-style
/// `mining.subscribe` / `mining.authorize` (and other `mining.*`), Monero-style `login` naming
/// its miner `agent` (XMRig, xmr-stak, SRBMiner all do; a bare `login` is too common a word in
/// other JSON protocols), and Ethereum-proxy `eth_submitLogin`. Returns the method.
pub(crate) fn stratum_method(b: &[u8]) -> Option<&[u8]> {
    let b = &b[..b.len().min(STRATUM_SCAN)];
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    if b.get(start) != Some(&b'{') {
        return None;
    }
    let m = json_string_after(b, b"\"method\"")?;
    let ok = m.starts_with(b"mining.")
        || m == b"eth_submitLogin"
        || (m == b"login" && find(b, b"\"agent\"").is_some());
    ok.then_some(m)
}

/// The miner software a Stratum login names, when it does (`"agent":"XMRig/6.21"`, or the
/// first parameter of `mining.subscribe`, e.g. `"cpuminer/2.5"`).
pub(crate) fn stratum_agent(b: &[u8]) -> Option<&[u8]> {
    let b = &b[..b.len().min(STRATUM_SCAN)];
    if let Some(a) = json_string_after(b, b"\"agent\"") {
        return Some(a);
    }
    let m = json_string_after(b, b"\"method\"")?;
    if m != b"mining.subscribe" {
        return None;
    }
    let at = find(b, b"\"params\"")? + 8;
    let rest = b.get(at..)?;
    let open = rest.iter().position(|&c| c == b'[')?;
    let rest = rest.get(open + 1..)?;
    let rest = rest.get(rest.iter().position(|c| !c.is_ascii_whitespace())?..)?;
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&c| c == b'"')?;
    rest.get(..end)
}

/// Does `sni` look like the server name a Tor client puts in its ClientHello? Tor makes one up
/// per connection: `www.` + 4–25 random base32 characters (`a-z`, `2-7`) + `.com`
/// (`tor_tls_new`: `crypto_random_hostname(4, 25, "www.", ".com")`). A name of that form counts
/// when its middle part does not read like a word: it holds a digit, or — from 8 characters,
/// where a vowel count means something — fewer than a quarter of its letters are vowels (random
/// base32 has ~19 %, English ~40 %). Finds about 56 % of 4-character names, 77 % of 7-character
/// ones and ~90 % or more from 8 on; callers add the ALPN and port conditions that keep
/// ordinary sites out.
pub(crate) fn tor_like_sni(sni: &[u8]) -> bool {
    let Some(mid) = sni.strip_prefix(b"www.").and_then(|r| r.strip_suffix(b".com")) else {
        return false;
    };
    if !(4..=25).contains(&mid.len())
        || !mid.iter().all(|&c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
    {
        return false;
    }
    let digits = mid.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = mid.len() - digits;
    let vowels = mid.iter().filter(|c| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')).count();
    digits > 0 || (mid.len() >= 8 && letters > 0 && vowels * 4 < letters)
}

/// The host part of an HTTP `Host` header or request target: port and trailing dot removed.
/// IPv6 literals (`[..]`) come back empty: they never name a service.
pub(crate) fn host_part(h: &[u8]) -> &[u8] {
    let h = h.trim_ascii();
    if h.first() == Some(&b'[') {
        return &[];
    }
    let h = match h.iter().rposition(|&c| c == b':') {
        Some(i) => &h[..i],
        None => h,
    };
    h.strip_suffix(b".").unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socks5_handshake_from_curl_through_microsocks() {
        // pcaps/proxy_socks_relay.pcap, first session: greeting, method reply, CONNECT request.
        let greeting = [0x05, 0x02, 0x00, 0x01];
        assert_eq!(socks5_greeting(&greeting), Some(&[0u8, 1][..]));
        assert_eq!(socks5_method_reply(&[0x05, 0x00]), Some(0));
        let req = [0x05, 0x01, 0x00, 0x01, 0xcb, 0x00, 0x71, 0x65, 0x00, 0x50];
        let (cmd, t) = socks5_request(&req).unwrap();
        assert_eq!(cmd, 1);
        assert_eq!(t.to_string(), "203.0.113.101:80");
        // Domain target (ATYP 3), as `curl --socks5-hostname` sends.
        let mut d = vec![5, 1, 0, 3, 13];
        d.extend_from_slice(b"honeygain.com");
        d.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(socks5_request(&d).unwrap().1.to_string(), "honeygain.com:443");
        // Not SOCKS: wrong length, wrong version, cut requests.
        assert_eq!(socks5_greeting(&[5, 2, 0]), None);
        assert_eq!(socks5_greeting(b"\x16\x03\x01"), None);
        assert_eq!(socks5_request(&req[..9]), None);
        assert_eq!(socks5_method_reply(&[5, 0, 0]), None);
    }

    #[test]
    fn socks4_and_4a() {
        let r = [4, 1, 0, 80, 203, 0, 113, 7, b'u', 0];
        assert_eq!(socks4_request(&r).unwrap().1.to_string(), "203.0.113.7:80");
        let mut a = vec![4, 1, 1, 187, 0, 0, 0, 1, 0];
        a.extend_from_slice(b"pawns.app\0");
        assert_eq!(socks4_request(&a).unwrap().1.to_string(), "pawns.app:443");
        assert_eq!(socks4_reply(&[0, 0x5a, 0, 0, 0, 0, 0, 0]), Some(0x5a));
        assert_eq!(socks4_reply(&[0, 0x10, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(socks4_request(&[4, 1, 0, 80, 1, 2, 3, 4]), None, "no user id terminator");
    }

    #[test]
    fn stratum_logins() {
        // pcaps/proxy_stratum.pcap, first line.
        let sub = br#"{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}"#;
        assert_eq!(stratum_method(sub), Some(&b"mining.subscribe"[..]));
        assert_eq!(stratum_agent(sub), Some(&b"cpuminer/2.5"[..]));
        // XMRig's login (Monero stratum), spaces allowed around the colon.
        let xmrig = br#"{"id":1,"jsonrpc":"2.0","method" : "login","params":{"login":"4Abc","pass":"x","agent":"XMRig/6.21.0 (Linux x86_64)"}}"#;
        assert_eq!(stratum_method(xmrig), Some(&b"login"[..]));
        assert_eq!(stratum_agent(xmrig), Some(&b"XMRig/6.21.0 (Linux x86_64)"[..]));
        let eth = br#"{"id":1,"jsonrpc":"2.0","method":"eth_submitLogin","params":["0xabc"]}"#;
        assert_eq!(stratum_method(eth), Some(&b"eth_submitLogin"[..]));
        // Ordinary JSON-RPC and web logins are not mining.
        assert_eq!(stratum_method(br#"{"jsonrpc":"2.0","method":"eth_blockNumber","id":1}"#), None);
        assert_eq!(stratum_method(br#"{"method":"login","params":{"user":"bob"}}"#), None);
        assert_eq!(stratum_method(br#"{"method":"login","params":{"login":"bob","pass":"hunter2"}}"#), None);
        assert_eq!(stratum_method(b"GET / HTTP/1.1"), None);
        for n in 0..sub.len() {
            let _ = stratum_method(&sub[..n]);
            let _ = stratum_agent(&sub[..n]);
        }
    }

    #[test]
    fn tor_names_and_words() {
        for n in [
            "www.k2jd7xq4mfa3.com",
            "www.xwqzsrtbnv.com",
            "www.mz5ptkdaqw7fl3gyb2cdefhjk.com",
            "www.x7qz.com",
        ] {
            assert!(tor_like_sni(n.as_bytes()), "{n}");
        }
        for n in [
            "www.facebook.com",
            "www.example.com",
            "www.wikipedia.org",
            "www.xkcd.com",
            "api.k2jd7xq4mfa3.com",
            "www.ab.com",
            "www.k2jd7xq4mfa3.net",
            "www.K2JD7XQ4MFA3.com",
            "www.k2jd7xq4mfa3.com.evil",
            "www.mz5ptkdaqw7fl3gyb2cdefhjkq.com",
        ] {
            assert!(!tor_like_sni(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn host_header_forms() {
        assert_eq!(host_part(b"packetstream.io"), b"packetstream.io");
        assert_eq!(host_part(b" packetstream.io:80 "), b"packetstream.io");
        assert_eq!(host_part(b"honeygain.com."), b"honeygain.com");
        assert_eq!(host_part(b"[2001:db8::1]:443"), b"");
    }
}
