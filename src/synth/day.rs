//! A capture that looks like an office's day rather than a few busy seconds (issue 25): minutes
//! of capture time with sessions starting and ending throughout (so idle and close timeouts
//! fire and windows slide), thousands of home hosts, dual-stack clients, a VLAN-tagged share,
//! DNS at about 5 % of packets with real-looking names (CNAME chains, NXDOMAIN, EDNS), QUIC,
//! long TLS sessions, downloads and some uploads. Deterministic; events ordered by time through
//! a heap, so packets of concurrent sessions interleave as on a wire.

use super::{Rng, client_hello};
use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The shape of a day capture.
#[derive(Debug, Clone, Copy)]
pub struct DayProfile {
    /// Capture time covered, seconds (new sessions stop arriving at its end; the generator
    /// stops there too, leaving long sessions open).
    pub span_secs: u64,
    /// Home hosts (each dual-stack; ~4 % on a tagged VLAN).
    pub hosts: u32,
    /// New sessions per second of capture time (~72 % of them DNS lookups).
    pub sessions_per_sec: f64,
}

impl Default for DayProfile {
    /// 180 s, 2,500 hosts, 300 sessions/s: ~1.45 M packets, ~54,000 sessions (flows), ~1 GB.
    fn default() -> Self {
        DayProfile { span_secs: 180, hosts: 2_500, sessions_per_sec: 300.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dns,
    Web,
    Download,
    Upload,
    LongTls,
    Http,
    Quic,
    Ping,
}

#[derive(Debug, Clone, Copy)]
enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

#[derive(Debug, Clone)]
struct Session {
    kind: Kind,
    client: Addr,
    server: Addr,
    vlan: Option<u16>,
    sport: u16,
    dport: u16,
    step: u32,
    /// Data packets (TCP, QUIC), echo pairs (ping).
    len: u32,
    seq_c: u32,
    seq_s: u32,
    name: u32,
    /// Gap between data packets, µs.
    gap: u64,
    /// Round-trip time, µs.
    rtt: u64,
    /// Ends without FIN (left to the idle timeout).
    abandoned: bool,
    /// Long sessions: packets left in the current burst, and when the session ends.
    burst: u32,
    until: u64,
}

/// Registered domains of the name vocabulary (documentation-style names).
const DOMAINS: [&str; 24] = [
    "example.com",
    "example.net",
    "example.org",
    "example-cdn.net",
    "example-mail.com",
    "example-office.com",
    "example-video.net",
    "example-news.org",
    "example-shop.com",
    "example-bank.com",
    "example-cloud.net",
    "example-maps.com",
    "example-social.net",
    "example-docs.org",
    "example-chat.com",
    "example-music.net",
    "example-games.com",
    "example-ads.net",
    "example-stats.org",
    "example-update.com",
    "example-travel.com",
    "example-weather.net",
    "example-school.org",
    "example-health.com",
];
const HOSTS: [&str; 16] = [
    "www",
    "api",
    "cdn",
    "static",
    "img",
    "login",
    "mail",
    "update",
    "telemetry",
    "assets",
    "m",
    "app",
    "auth",
    "media",
    "ws",
    "push",
];

/// A query name from the vocabulary (384 names; low indices are the popular ones).
fn name_of(i: u32) -> String {
    let d = DOMAINS[(i as usize / HOSTS.len()) % DOMAINS.len()];
    format!("{}.{d}", HOSTS[i as usize % HOSTS.len()])
}

/// Generates the day frame by frame into a caller-owned buffer.
pub struct DayTraffic {
    p: DayProfile,
    rng: Rng,
    sessions: Vec<Option<Session>>,
    free: Vec<u32>,
    /// (time of the session's next packet µs, session).
    events: BinaryHeap<Reverse<(u64, u32)>>,
    start: u64,
    next_arrival: u64,
    next_port: u16,
    /// Capture time of the frame just written, µs.
    pub ts_micros: u64,
    /// Sessions started so far.
    pub sessions_started: u64,
    pattern: Vec<u8>,
}

fn exp_gap(rng: &mut Rng, mean_us: f64) -> u64 {
    let u = (rng.below(1 << 20) as f64 + 0.5) / f64::from(1u32 << 20);
    (-u.ln() * mean_us) as u64 + 1
}

impl DayTraffic {
    /// A day starting at `start_micros`.
    pub fn new(seed: u64, p: DayProfile, start_micros: u64) -> DayTraffic {
        let mut pattern = vec![0u8; 1500];
        let mut r = Rng::new(seed ^ 0xa5a5);
        for b in pattern.iter_mut() {
            *b = r.next_u64() as u8;
        }
        DayTraffic {
            p,
            rng: Rng::new(seed),
            sessions: Vec::new(),
            free: Vec::new(),
            events: BinaryHeap::new(),
            start: start_micros,
            next_arrival: start_micros,
            next_port: 1024,
            ts_micros: start_micros,
            sessions_started: 0,
            pattern,
        }
    }

    fn end(&self) -> u64 {
        self.start + self.p.span_secs * 1_000_000
    }

    fn host(&mut self, v6: bool) -> (Addr, Option<u16>) {
        // Skewed: a few busy hosts, a long tail of quiet ones.
        let n = u64::from(self.p.hosts.max(1));
        let a = self.rng.below(n);
        let h = if self.rng.below(3) == 0 { a % (n / 20).max(1) } else { a } as u32;
        let vlan = h.is_multiple_of(25).then_some(20 + (h % 7) as u16);
        let addr = if v6 {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&[0xfd, 0, 0, 1]);
            b[12..].copy_from_slice(&(h + 1).to_be_bytes());
            Addr::V6(b)
        } else {
            Addr::V4([10, 1, (h >> 8) as u8, h as u8])
        };
        (addr, vlan)
    }

    fn server(&mut self, v6: bool, popular: bool) -> Addr {
        let s = if popular { self.rng.below(40) } else { self.rng.below(3000) } as u32;
        if v6 {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            b[12..].copy_from_slice(&(s + 1).to_be_bytes());
            Addr::V6(b)
        } else {
            let net = if s.is_multiple_of(2) { [198, 51, 100] } else { [203, 0, 113] };
            Addr::V4([net[0], net[1], net[2], (s / 2 % 250) as u8 + 1])
        }
    }

    fn new_session(&mut self, now: u64) -> Session {
        let r = self.rng.below(1000);
        let kind = match r {
            0..=719 => Kind::Dns,
            720..=859 => Kind::Web,
            860..=884 => Kind::Download,
            885..=894 => Kind::Upload,
            895..=904 => Kind::LongTls,
            905..=939 => Kind::Http,
            940..=989 => Kind::Quic,
            _ => Kind::Ping,
        };
        let v6 = self.rng.below(100) < 20;
        let (client, vlan) = self.host(v6);
        let server = match kind {
            Kind::Dns => match (v6, self.rng.below(10) < 7) {
                (false, true) => Addr::V4([10, 0, 0, 53]),
                (true, true) => Addr::V6([0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]),
                (false, false) => Addr::V4([203, 0, 113, 53]),
                (true, false) => Addr::V6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]),
            },
            Kind::LongTls | Kind::Web => {
                let popular = self.rng.below(2) == 0;
                self.server(v6, popular)
            }
            _ => self.server(v6, false),
        };
        self.next_port = if self.next_port >= 65000 { 1024 } else { self.next_port + 1 };
        let (dport, len, gap) = match kind {
            Kind::Dns => (53, 1, 0),
            Kind::Web => (443, 6 + self.rng.below(50) as u32, 500 + self.rng.below(3000)),
            Kind::Download => (443, 60 + self.rng.below(500) as u32, 80 + self.rng.below(400)),
            Kind::Upload => (443, 50 + self.rng.below(750) as u32, 100 + self.rng.below(500)),
            Kind::LongTls => (443, 0, 2000),
            Kind::Http => (80, 4 + self.rng.below(30) as u32, 300 + self.rng.below(2000)),
            Kind::Quic => (443, 20 + self.rng.below(280) as u32, 100 + self.rng.below(1500)),
            Kind::Ping => (0, 4 + self.rng.below(7) as u32, 1_000_000),
        };
        // Popular names first: the product of two uniforms leans low.
        let a = self.rng.below(384);
        let b = self.rng.below(384);
        let name = (a * b / 384) as u32;
        self.sessions_started += 1;
        Session {
            kind,
            client,
            server,
            vlan,
            sport: self.next_port,
            dport,
            step: 0,
            len,
            seq_c: self.rng.next_u64() as u32,
            seq_s: self.rng.next_u64() as u32,
            name,
            gap,
            rtt: 5_000 + self.rng.below(70_000),
            abandoned: self.rng.below(100) < 4,
            burst: 0,
            until: now + 30_000_000 + self.rng.below(400_000_000),
        }
    }

    fn schedule(&mut self, at: u64, s: Session) {
        let i = match self.free.pop() {
            Some(i) => {
                self.sessions[i as usize] = Some(s);
                i
            }
            None => {
                self.sessions.push(Some(s));
                (self.sessions.len() - 1) as u32
            }
        };
        self.events.push(Reverse((at, i)));
    }

    /// Writes the next frame into `out` (cleared first); `false` once the span is over.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> bool {
        out.clear();
        let end = self.end();
        loop {
            let next_event = self.events.peek().map_or(u64::MAX, |e| e.0.0);
            if self.next_arrival <= next_event && self.next_arrival < end {
                let now = self.next_arrival;
                let s = self.new_session(now);
                self.next_arrival = now + exp_gap(&mut self.rng, 1e6 / self.p.sessions_per_sec.max(1e-3));
                self.schedule(now, s);
                continue;
            }
            let Some(Reverse((at, i))) = self.events.pop() else { return false };
            if at >= end {
                return false;
            }
            let Some(mut s) = self.sessions.get_mut(i as usize).and_then(Option::take) else { continue };
            self.ts_micros = at;
            let next = self.emit(&mut s, at, out);
            match next {
                Some(t) => {
                    self.sessions[i as usize] = Some(s);
                    self.events.push(Reverse((t, i)));
                }
                None => self.free.push(i),
            }
            if !out.is_empty() {
                return true;
            }
        }
    }

    fn builder(s: &Session, from_client: bool) -> PacketBuilderStep<IpHeaders> {
        let (mc, ms) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let (src, dst, smac, dmac) =
            if from_client { (s.client, s.server, mc, ms) } else { (s.server, s.client, ms, mc) };
        let eth = PacketBuilder::ethernet2(smac, dmac);
        match (s.vlan.and_then(|v| etherparse::VlanId::try_new(v).ok()), src, dst) {
            (Some(v), Addr::V4(a), Addr::V4(b)) => eth.single_vlan(v).ipv4(a, b, 64),
            (Some(v), Addr::V6(a), Addr::V6(b)) => eth.single_vlan(v).ipv6(a, b, 64),
            (None, Addr::V4(a), Addr::V4(b)) => eth.ipv4(a, b, 64),
            (None, Addr::V6(a), Addr::V6(b)) => eth.ipv6(a, b, 64),
            (_, Addr::V4(a), _) => eth.ipv4(a, a, 64),
            (_, Addr::V6(a), _) => eth.ipv6(a, a, 64),
        }
    }

    /// Writes session `s`'s packet due at `at`; returns when its next one is due (`None`: done).
    fn emit(&mut self, s: &mut Session, at: u64, out: &mut Vec<u8>) -> Option<u64> {
        let step = s.step;
        s.step += 1;
        match s.kind {
            Kind::Dns => {
                let from_client = step == 0;
                let m = self.dns(s, !from_client);
                let b = Self::builder(s, from_client);
                let b = if from_client { b.udp(s.sport, 53) } else { b.udp(53, s.sport) };
                let _ = b.write(out, &m);
                (step == 0).then(|| at + 2_000 + self.rng.below(40_000))
            }
            Kind::Quic => {
                let from_client = step == 0 || step % 4 == 3;
                let size = if step == 0 {
                    1200
                } else if from_client {
                    40 + self.rng.below(30) as usize
                } else {
                    1000 + self.rng.below(250) as usize
                };
                let b = Self::builder(s, from_client);
                let b = if from_client { b.udp(s.sport, 443) } else { b.udp(443, s.sport) };
                let mut p = [0u8; 1250];
                p[..size].copy_from_slice(&self.pattern[..size]);
                p[0] = if step < 2 { 0xc3 } else { 0x43 };
                let _ = b.write(out, &p[..size]);
                let gap = if step < 2 { s.rtt } else { s.gap / 2 + self.rng.below(s.gap) };
                (step < s.len).then(|| at + gap)
            }
            Kind::Ping => {
                let from_client = step.is_multiple_of(2);
                let b = Self::builder(s, from_client);
                let seq = (step / 2) as u16;
                let b = if from_client {
                    b.icmpv4_echo_request(s.sport, seq)
                } else {
                    b.icmpv4_echo_reply(s.sport, seq)
                };
                if matches!(s.client, Addr::V6(_)) {
                    // ICMPv6 echo through the same builder.
                    let b = Self::builder(s, from_client);
                    let b = if from_client {
                        b.icmpv6_echo_request(s.sport, seq)
                    } else {
                        b.icmpv6_echo_reply(s.sport, seq)
                    };
                    let _ = b.write(out, &self.pattern[..56]);
                } else {
                    let _ = b.write(out, &self.pattern[..56]);
                }
                let next = if from_client { at + s.rtt } else { at + s.gap - s.rtt };
                (step + 1 < s.len * 2).then_some(next)
            }
            _ => self.tcp(s, step, at, out),
        }
    }

    /// One packet of a TCP session: handshake, request, data (download, upload or long-lived
    /// bursts), then FIN both ways unless abandoned.
    fn tcp(&mut self, s: &mut Session, step: u32, at: u64, out: &mut Vec<u8>) -> Option<u64> {
        let upload = s.kind == Kind::Upload;
        let long = s.kind == Kind::LongTls;
        let data_end = 4 + s.len;
        enum P {
            Syn,
            SynAck,
            Ack,
            Request,
            Data(bool, usize),
            Fin(bool),
        }
        let p = match step {
            0 => P::Syn,
            1 => P::SynAck,
            2 => P::Ack,
            3 => P::Request,
            _ if long => {
                if at >= s.until {
                    if step.is_multiple_of(2) { P::Fin(true) } else { P::Fin(false) }
                } else {
                    let from_client = self.rng.below(3) == 0;
                    P::Data(from_client, 60 + self.rng.below(900) as usize)
                }
            }
            n if n < data_end => {
                let k = n - 4;
                // The receiver acknowledges every other segment.
                if k % 3 == 2 { P::Data(!upload, 0) } else { P::Data(upload, 1448) }
            }
            n if n == data_end => P::Fin(true),
            _ => P::Fin(false),
        };
        let from_client = match p {
            P::Syn | P::Ack | P::Request => true,
            P::SynAck => false,
            P::Data(c, _) | P::Fin(c) => c,
        };
        let b = Self::builder(s, from_client);
        let b = if from_client {
            b.tcp(s.sport, s.dport, s.seq_c, 64240)
        } else {
            b.tcp(s.dport, s.sport, s.seq_s, 64240)
        };
        let request;
        let payload: &[u8] = match p {
            P::Request => {
                let name = name_of(s.name);
                request = match s.kind {
                    Kind::Http => {
                        format!("GET /index.html HTTP/1.1\r\nHost: {name}\r\nUser-Agent: bench\r\n\r\n")
                            .into_bytes()
                    }
                    _ => client_hello(&name),
                };
                &request
            }
            P::Data(_, n) => &self.pattern[..n],
            _ => &[],
        };
        let (ack_c, ack_s) = (s.seq_s, s.seq_c);
        let b = match p {
            P::Syn => b.syn(),
            P::SynAck => b.syn().ack(s.seq_c.wrapping_add(1)),
            P::Fin(true) => b.fin().ack(ack_c),
            P::Fin(false) => b.fin().ack(ack_s),
            _ if from_client => b.psh().ack(ack_c),
            _ => b.ack(ack_s),
        };
        let _ = b.write(out, payload);
        let adv = payload.len() as u32 + u32::from(matches!(p, P::Syn | P::SynAck | P::Fin(_)));
        if from_client {
            s.seq_c = s.seq_c.wrapping_add(adv);
        } else {
            s.seq_s = s.seq_s.wrapping_add(adv);
        }
        match p {
            P::Syn | P::SynAck => Some(at + s.rtt / 2),
            P::Ack => Some(at + 100),
            P::Request => Some(at + s.rtt),
            P::Data(..) if long => {
                if s.burst == 0 {
                    s.burst = 3 + self.rng.below(20) as u32;
                }
                s.burst -= 1;
                if s.burst == 0 {
                    Some(at + 5_000_000 + self.rng.below(25_000_000))
                } else {
                    Some(at + 500 + self.rng.below(10_000))
                }
            }
            P::Data(..) if s.abandoned && step + 1 == data_end => None,
            P::Data(..) => Some(at + s.gap / 2 + self.rng.below(s.gap)),
            P::Fin(_) if long && step.is_multiple_of(2) => Some(at + s.rtt / 2),
            P::Fin(true) => Some(at + s.rtt / 2),
            P::Fin(false) => None,
        }
    }

    /// A DNS query or its response for session `s`: EDNS on most queries, CNAME chains, ~8 %
    /// NXDOMAIN with the zone's SOA.
    fn dns(&mut self, s: &Session, response: bool) -> Vec<u8> {
        let name = name_of(s.name);
        let v6 = matches!(s.client, Addr::V6(_));
        // The session's own figures decide the answer, so query and response agree.
        let salt = u64::from(s.sport) * 31 + u64::from(s.name);
        let qtype: u16 = match salt % 20 {
            0 => 65,
            1..=6 => 28,
            _ => 1,
        };
        let edns = !salt.is_multiple_of(5);
        let nx = salt % 13 == 0;
        let cnames = if s.name < 64 { (salt % 4) as usize } else { 0 };
        let mut m = s.sport.to_be_bytes().to_vec();
        let (flags, an, ns) = match (response, nx) {
            (false, _) => ([0x01, 0x20], 0u16, 0u16),
            (true, true) => ([0x81, 0x83], 0, 1),
            (true, false) => ([0x81, 0x80], (cnames + 2) as u16, 0),
        };
        m.extend_from_slice(&flags);
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&an.to_be_bytes());
        m.extend_from_slice(&ns.to_be_bytes());
        m.extend_from_slice(&u16::from(edns).to_be_bytes());
        push_name(&mut m, &name);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        if response {
            if nx {
                // SOA of the registered domain: owner points into the question name.
                let dot = name.find('.').unwrap_or(0) + 1;
                m.extend_from_slice(&[0xc0, (12 + dot) as u8, 0, 6, 0, 1, 0, 0, 3, 0x84]);
                let mut rd = Vec::new();
                push_name(&mut rd, "ns1.example.net");
                push_name(&mut rd, "hostmaster.example.net");
                for v in [2026u32, 7200, 900, 1_209_600, 300] {
                    rd.extend_from_slice(&v.to_be_bytes());
                }
                m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
                m.extend_from_slice(&rd);
            } else {
                let mut owner = 12u16;
                for k in 0..cnames {
                    let target = format!("e{}.{}.edge.example-cdn.net", (salt + k as u64) % 16, k);
                    m.extend_from_slice(&(0xc000 | owner).to_be_bytes());
                    m.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60]);
                    let mut rd = Vec::new();
                    push_name(&mut rd, &target);
                    m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
                    owner = m.len() as u16;
                    m.extend_from_slice(&rd);
                }
                for k in 0..2u8 {
                    let (t, rd): (u16, Vec<u8>) = if qtype == 28 || (qtype == 65 && v6) {
                        (
                            28,
                            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, k, (salt % 250) as u8]
                                .to_vec(),
                        )
                    } else {
                        (1, vec![198, 51, 100, (salt % 250) as u8 + k])
                    };
                    m.extend_from_slice(&(0xc000 | owner).to_be_bytes());
                    m.extend_from_slice(&t.to_be_bytes());
                    m.extend_from_slice(&[0, 1, 0, 0, 1, 0x2c]);
                    m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
                    m.extend_from_slice(&rd);
                }
            }
        }
        if edns {
            m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        }
        m
    }
}

fn push_name(m: &mut Vec<u8>, name: &str) {
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Anomalies, L4, LinkType, decode, dns, packet::DecodeOptions};

    #[test]
    fn a_short_day_has_every_ingredient_and_well_formed_dns() {
        let p = DayProfile { span_secs: 20, hosts: 300, sessions_per_sec: 200.0 };
        let mut g = DayTraffic::new(7, p, 1_700_000_000_000_000);
        let (mut n, mut v6, mut vlan, mut dns_msgs, mut nx, mut cname, mut last) = (0, 0, 0, 0, 0, 0, 0);
        let mut frame = Vec::new();
        let opts = DecodeOptions::default();
        let mut an = Anomalies::default();
        while g.next_frame(&mut frame) {
            assert!(g.ts_micros >= last, "time never goes back");
            last = g.ts_micros;
            n += 1;
            let d = decode(LinkType::Ethernet, &frame, &opts, &mut an).expect("decodes");
            v6 += usize::from(d.src.is_ipv6());
            vlan += usize::from(d.vlan.is_some());
            if let L4::Udp { sport: 53, .. } | L4::Udp { dport: 53, .. } = d.l4 {
                let m = dns::parse(d.payload).expect("well-formed DNS");
                dns_msgs += 1;
                nx += usize::from(m.rcode == 3);
                cname += usize::from(usize::from(m.ancount) > m.answer_addrs.iter().flatten().count());
                assert!(m.is_response || m.ancount == 0);
            }
        }
        assert!(last - 1_700_000_000_000_000 > 19_000_000);
        assert!(v6 * 100 / n >= 15, "{v6} of {n} IPv6");
        assert!(vlan > 0 && nx > 0 && cname > 0, "{vlan} {nx} {cname}");
        let share = dns_msgs * 1000 / n;
        assert!((25..=90).contains(&share), "DNS {share}‰ of packets");
    }
}
