//! Deterministic synthetic traffic for the whole-pipeline benchmark and the flood tests:
//! interleaved TCP (TLS and HTTP) sessions, DNS lookups, pings and QUIC-like UDP between home
//! clients and "internet" servers, with realistic sizes. Not used on the packet path.

use etherparse::PacketBuilder;

/// A small xorshift generator: deterministic across runs and platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (seed 0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Tls,
    Http,
    Dns,
    Ping,
    Quic,
}

#[derive(Debug, Clone)]
struct Session {
    kind: Kind,
    client: [u8; 4],
    server: [u8; 4],
    sport: u16,
    step: u32,
    len: u32,
    seq_c: u32,
    seq_s: u32,
}

const NAMES: [&str; 8] = [
    "www.example.com",
    "cdn.example.net",
    "api.example.org",
    "mail.example.com",
    "static.example.net",
    "login.example.org",
    "img.example.com",
    "news.example.net",
];

/// Generates mixed traffic frame by frame into a caller-owned buffer.
pub struct MixedTraffic {
    rng: Rng,
    sessions: Vec<Session>,
    next_port: u16,
    /// Capture time of the next frame, µs.
    pub ts_micros: u64,
    payload: Vec<u8>,
}

impl MixedTraffic {
    /// `concurrent` sessions in flight, starting at `ts_micros`.
    pub fn new(seed: u64, concurrent: usize, ts_micros: u64) -> MixedTraffic {
        let mut m = MixedTraffic {
            rng: Rng::new(seed),
            sessions: Vec::with_capacity(concurrent),
            next_port: 20000,
            ts_micros,
            payload: vec![0u8; 1500],
        };
        for _ in 0..concurrent {
            let s = m.new_session();
            m.sessions.push(s);
        }
        for (i, b) in m.payload.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        m
    }

    fn new_session(&mut self) -> Session {
        let r = self.rng.below(100);
        let kind = match r {
            0..=39 => Kind::Tls,
            40..=54 => Kind::Http,
            55..=79 => Kind::Dns,
            80..=84 => Kind::Ping,
            _ => Kind::Quic,
        };
        self.next_port = self.next_port.wrapping_add(1).max(1024);
        let c = self.rng.next_u64();
        let s = self.rng.next_u64();
        let server = match kind {
            Kind::Dns => [10, 0, 0, 53],
            _ => [198, 51, 100, (s % 250) as u8 + 1],
        };
        let len = match kind {
            Kind::Tls => 6 + self.rng.below(60) as u32,
            Kind::Http => 5 + self.rng.below(20) as u32,
            Kind::Dns => 2,
            Kind::Ping => 8,
            Kind::Quic => 10 + self.rng.below(40) as u32,
        };
        Session {
            kind,
            client: [10, 1, ((c >> 8) % 64) as u8, (c % 250) as u8 + 1],
            server,
            sport: self.next_port,
            step: 0,
            len,
            seq_c: c as u32,
            seq_s: s as u32,
        }
    }

    /// Writes the next frame into `out` (cleared first).
    pub fn next_frame(&mut self, out: &mut Vec<u8>) {
        out.clear();
        self.ts_micros += 8;
        let i = self.rng.below(self.sessions.len() as u64) as usize;
        let mut s = self.sessions[i].clone();
        let big = 1448usize;
        let mac_c = [2, 0, 0, 0, 0, 1];
        let mac_s = [2, 0, 0, 0, 0, 2];
        let ok = match s.kind {
            Kind::Tls | Kind::Http => {
                let dport = if matches!(s.kind, Kind::Tls) { 443 } else { 80 };
                let last = s.len;
                let (from_client, flags, size) = match s.step {
                    0 => (true, 0x02, 0),
                    1 => (false, 0x12, 0),
                    2 => (true, 0x10, 0),
                    3 => (true, 0x18, 0),
                    n if n == last => (true, 0x11, 0),
                    n if n % 7 == 0 => (true, 0x10, 0),
                    _ => (false, 0x10, big),
                };
                let hello;
                let payload: &[u8] = if s.step == 3 {
                    if matches!(s.kind, Kind::Tls) {
                        hello = client_hello(NAMES[(s.sport % 8) as usize]);
                        &hello
                    } else {
                        hello = format!(
                            "GET /index.html HTTP/1.1\r\nHost: {}\r\nUser-Agent: bench\r\n\r\n",
                            NAMES[(s.sport % 8) as usize]
                        )
                        .into_bytes();
                        &hello
                    }
                } else {
                    &self.payload[..size]
                };
                let b = if from_client {
                    PacketBuilder::ethernet2(mac_c, mac_s)
                        .ipv4(s.client, s.server, 64)
                        .tcp(s.sport, dport, s.seq_c, 64240)
                } else {
                    PacketBuilder::ethernet2(mac_s, mac_c)
                        .ipv4(s.server, s.client, 64)
                        .tcp(dport, s.sport, s.seq_s, 64240)
                };
                let b = match flags {
                    0x02 => b.syn(),
                    0x12 => b.syn().ack(s.seq_c.wrapping_add(1)),
                    0x11 => b.fin().ack(s.seq_s),
                    0x18 => b.psh().ack(s.seq_s),
                    _ => b.ack(if from_client { s.seq_s } else { s.seq_c }),
                };
                if from_client {
                    s.seq_c = s.seq_c.wrapping_add(payload.len() as u32 + u32::from(flags & 0x03 != 0));
                } else {
                    s.seq_s = s.seq_s.wrapping_add(payload.len() as u32 + u32::from(flags & 0x02 != 0));
                }
                b.write(out, payload).is_ok()
            }
            Kind::Dns => {
                let name = NAMES[(s.sport % 8) as usize];
                let q = dns_message(s.sport, name, s.step == 1);
                let b = if s.step == 0 {
                    PacketBuilder::ethernet2(mac_c, mac_s).ipv4(s.client, s.server, 64).udp(s.sport, 53)
                } else {
                    PacketBuilder::ethernet2(mac_s, mac_c).ipv4(s.server, s.client, 64).udp(53, s.sport)
                };
                b.write(out, &q).is_ok()
            }
            Kind::Ping => {
                let mut p = [0u8; 56];
                for (j, b) in p.iter_mut().enumerate().skip(16) {
                    *b = j as u8;
                }
                let id = s.sport;
                let seq = (s.step / 2) as u16;
                let b = if s.step.is_multiple_of(2) {
                    PacketBuilder::ethernet2(mac_c, mac_s)
                        .ipv4(s.client, s.server, 64)
                        .icmpv4_echo_request(id, seq)
                } else {
                    PacketBuilder::ethernet2(mac_s, mac_c)
                        .ipv4(s.server, s.client, 64)
                        .icmpv4_echo_reply(id, seq)
                };
                b.write(out, &p).is_ok()
            }
            Kind::Quic => {
                let size = 1200;
                let b = if s.step.is_multiple_of(3) {
                    PacketBuilder::ethernet2(mac_c, mac_s).ipv4(s.client, s.server, 64).udp(s.sport, 443)
                } else {
                    PacketBuilder::ethernet2(mac_s, mac_c).ipv4(s.server, s.client, 64).udp(443, s.sport)
                };
                let mut p = self.payload[..size].to_vec();
                p[0] = 0x40;
                b.write(out, &p).is_ok()
            }
        };
        debug_assert!(ok);
        s.step += 1;
        self.sessions[i] = if s.step > s.len { self.new_session() } else { s };
    }
}

/// A DNS query or response for `name` (type A).
pub fn dns_message(id: u16, name: &str, response: bool) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(if response {
        &[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
    } else {
        &[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
    });
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if response {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 7]);
    }
    m
}

/// A TLS 1.2/1.3 ClientHello record with `sni`.
pub fn client_hello(sni: &str) -> Vec<u8> {
    client_hello_with(sni.as_bytes(), None)
}

/// A ClientHello record with `sni` and, if given, one ALPN protocol.
pub fn client_hello_with(sni: &[u8], alpn: Option<&[u8]>) -> Vec<u8> {
    let mut list = vec![0u8];
    list.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    list.extend_from_slice(sni);
    let mut exts = 0u16.to_be_bytes().to_vec();
    exts.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
    exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
    exts.extend_from_slice(&list);
    if let Some(proto) = alpn {
        let n = proto.len();
        exts.extend_from_slice(&[0, 16]);
        exts.extend_from_slice(&((n + 3) as u16).to_be_bytes());
        exts.extend_from_slice(&((n + 1) as u16).to_be_bytes());
        exts.push(n as u8);
        exts.extend_from_slice(proto);
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7u8; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Mutates `seed` into `out` the way hostile input does: truncations, bit flips, random bytes,
/// forged DNS length bytes, compression-pointer loops, trailing garbage (robustness checks).
pub fn mutate(rng: &mut Rng, seed: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(seed);
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            out.push(0);
        }
        let at = rng.below(out.len() as u64) as usize;
        match rng.below(6) {
            0 => out.truncate(at),
            1 => out[at] ^= 1 << rng.below(8),
            2 => out[at] = rng.next_u64() as u8,
            3 => {
                // A compression pointer to itself or to an earlier pointer: a loop.
                let target = if rng.below(2) == 0 { at } else { 12 };
                if at + 1 < out.len() {
                    out[at] = 0xc0 | ((target >> 8) as u8 & 0x3f);
                    out[at + 1] = target as u8;
                }
            }
            4 => out[at] = (rng.below(64) as u8) | if rng.below(4) == 0 { 0x40 } else { 0 },
            _ => {
                let extra = rng.below(64) as usize;
                for _ in 0..extra {
                    out.push(rng.next_u64() as u8);
                }
            }
        }
    }
}

pub mod day;
