//! Proxyjacking and bandwidth hijacking (T1496.002), and the miners and proxies that ride along
//! on hijacked hosts (T1496.001, T1090).
//!
//! A network sensor cannot see process names, so this detector reads what the wire shows:
//! - **names**: DNS queries and answers, TLS SNI and HTTP `Host` (and `CONNECT` targets) matched
//!   by domain suffix against a curated, configurable list of proxyware services; the alert
//!   names the service ([`names`]).
//! - **protocols**: SOCKS4/4a/5 and HTTP `CONNECT` handshakes followed to the proxy's answer, so
//!   a home host *serving* a proxy to the internet and one *using* an outside proxy are told
//!   apart ([`handshake`]); Stratum mining logins on any port; Tor, from a configured relay list
//!   or from the shape of a Tor client's ClientHello ([`wire`]).
//! - **shape**: a home host relaying traffic (many concurrent long-lived sessions with many
//!   outside peers, bytes passed through, in ≈ out), outside clients using a home host on a
//!   proxy port, and sustained outbound throughput from a host whose baseline is quiet
//!   ([`state`], [`relay`]).
//!
//! One alert per host and service (or protocol, or figure) per episode. Needs: DNS, TLS and
//! HTTP events, packets and flow volumes from the spine. Memory: home hosts capped at `max_hosts`, proxy
//! handshakes in flight at `max_handshakes`, each counting what it drops; distinct peers are
//! fixed 64-byte sketches per host ([`state::Distinct`]).

pub(crate) mod config;
mod handshake;
mod identify;
pub(crate) mod names;
mod relay;
pub(crate) mod signatures;
pub(crate) mod state;
pub(crate) mod wire;

#[cfg(test)]
mod tests;

pub(crate) use config::ProxywareConfig;
pub(crate) use signatures::SIG_PROXY_PORT;
pub(crate) use signatures::SIG_PROXY_SERVED;
pub(crate) use signatures::SIG_PROXY_USED;
pub(crate) use signatures::SIG_RATE;
pub(crate) use signatures::SIG_RELAY;

use super::{
    Build, Detector, DetectorStats, Env, Events, Interest, PacketCtx, Spec, VolumeCtx, VolumeInterest,
};
use crate::alert::{Alert, Signature};
use crate::decode::dns::DnsMessage;
use crate::decode::http::HttpRequest;
use crate::decode::tls::ClientHello;
use crate::flow::bounded::Bounded;
use crate::flow::hash::MixedHashMap;
use crate::flow::host::is_group;
use crate::flow::{Dir, EndReason, Flow, FlowKey, FlowTable};
use crate::time::Timestamp;
use handshake::Handshake;
use identify::NameSource;
use names::NameMatcher;
use rustc_hash::{FxHashMap, FxHasher};
use state::{Host, RateLimits, RateRun};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

const NAME: &str = "proxyware";

/// Most (host, signature, subject) episodes remembered to avoid rebuilding repeat alerts.
const MAX_RECENT: usize = 65_536;
/// Seconds between relay-shape evaluations (each walks the open flows once).
const EVAL_EVERY_NS: u64 = 5_000_000_000;
/// A proxy handshake not finished in this long is forgotten.
const HANDSHAKE_TIMEOUT_NS: u64 = 60_000_000_000;

/// An `addr` or `addr:port` from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoint {
    addr: IpAddr,
    port: Option<u16>,
}

impl Endpoint {
    fn parse(s: &str) -> Option<Endpoint> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Some(Endpoint { addr: sa.ip(), port: Some(sa.port()) });
        }
        s.parse::<IpAddr>().ok().map(|addr| Endpoint { addr, port: None })
    }
    fn matches(&self, addr: IpAddr, port: u16) -> bool {
        self.addr == addr && self.port.is_none_or(|p| p == port)
    }
}

fn hash_of(x: impl Hash) -> u64 {
    let mut h = FxHasher::default();
    x.hash(&mut h);
    h.finish()
}

fn lossy(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len().min(256));
    for &c in b.iter().take(256) {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

/// The home side of a flow that one endpoint-pair analysis is about: the home endpoint if
/// exactly one side is home, else the initiator. Returns (subject, other, subject initiated).
fn subject_of(f: &Flow) -> (IpAddr, IpAddr, bool) {
    if f.resp_home && !f.orig_home {
        (f.resp_addr(), f.orig_addr(), false)
    } else {
        (f.orig_addr(), f.resp_addr(), true)
    }
}

/// The episode memory behind [`Proxyware::fresh`], usable while other fields are borrowed.
fn fresh_in(
    recent: &mut MixedHashMap<(IpAddr, u32, u64), Timestamp>,
    hold: u64,
    key: (IpAddr, u32, u64),
    ts: Timestamp,
) -> bool {
    if let Some(t) = recent.get_mut(&key) {
        if ts.0.saturating_sub(t.0) < hold {
            return false;
        }
        *t = ts;
        return true;
    }
    if recent.len() >= MAX_RECENT {
        recent.retain(|_, t| ts.0.saturating_sub(t.0) < hold);
        if recent.len() >= MAX_RECENT {
            recent.clear();
        }
    }
    recent.insert(key, ts);
    true
}

/// The detector.
pub(crate) struct Proxyware {
    cfg: ProxywareConfig,
    names: NameMatcher,
    ignore_clients: Vec<IpAddr>,
    allow_proxies: Vec<Endpoint>,
    tor_relays: MixedHashMap<IpAddr, Vec<Option<u16>>>,
    limits: RateLimits,
    hosts: Bounded<IpAddr, Host>,
    /// The host [`Proxyware::host_mut`] gave last and its slot: still the most recently used,
    /// where it was, until another host is asked for or the table is swept or shed (consecutive
    /// hand-overs for one host, a flood's at its target, cost no lookup).
    last_host: Option<(IpAddr, u32)>,
    handshakes: FxHashMap<FlowKey, Handshake>,
    recent: MixedHashMap<(IpAddr, u32, u64), Timestamp>,
    /// Scratch of [`Proxyware::eval_relay`]: each home host's place in `open_list`.
    open: MixedHashMap<IpAddr, u32>,
    /// Scratch of [`Proxyware::eval_relay`]: the home hosts with open sessions, in the order
    /// the flow table gave them (the order their alerts go out in, whatever the hasher).
    open_list: Vec<(IpAddr, relay::OpenSessions)>,
    next_eval: Timestamp,
    evicted: u64,
    shed: u64,
    handshakes_dropped: u64,
}

/// Where a rate alert comes from.
struct RateCtx {
    ts: Timestamp,
    home: IpAddr,
    remote: IpAddr,
    proto: u8,
}

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<Proxyware>(
    NAME,
    "Proxyjacking and bandwidth hijacking: proxyware service names, proxies served or used, Tor, \
     Stratum mining, relay shape, quiet hosts turned into sustained uploaders",
    (9_100_300, 9_100_399),
    signatures::ALL,
);

impl Build for Proxyware {
    type Config = ProxywareConfig;
    fn build(config: &ProxywareConfig, _env: &Env) -> Self {
        Proxyware::new(config.clone())
    }
}

impl Proxyware {
    /// A detector with `cfg`.
    pub(crate) fn new(cfg: ProxywareConfig) -> Self {
        let max_hosts = cfg.max_hosts;
        let names = NameMatcher::new([&cfg.domains, &cfg.domains_extra]);
        let ignore_clients = cfg.ignore_clients.iter().filter_map(|s| s.trim().parse().ok()).collect();
        let allow_proxies = cfg.allow_proxies.iter().filter_map(|s| Endpoint::parse(s)).collect();
        let mut tor_relays: MixedHashMap<IpAddr, Vec<Option<u16>>> = MixedHashMap::default();
        for e in cfg.tor_relays.iter().filter_map(|s| Endpoint::parse(s)) {
            tor_relays.entry(e.addr).or_default().push(e.port);
        }
        let bucket = state::RATE_BUCKET_NS as f64;
        let limits = RateLimits {
            threshold: cfg.rate_threshold.0 as f64,
            sustain_ns: cfg.rate_sustain.nanos(),
            quiet: cfg.quiet_rate.0 as f64,
            alpha: (bucket / cfg.baseline_window.nanos().max(1) as f64).min(1.0),
            min_history_ns: cfg.baseline_min_history.nanos(),
        };
        Proxyware {
            cfg,
            names,
            ignore_clients,
            allow_proxies,
            tor_relays,
            limits,
            hosts: Bounded::new(max_hosts),
            last_host: None,
            handshakes: FxHashMap::default(),
            recent: MixedHashMap::default(),
            open: MixedHashMap::default(),
            open_list: Vec::new(),
            next_eval: Timestamp(0),
            evicted: 0,
            shed: 0,
            handshakes_dropped: 0,
        }
    }

    /// True the first time (per episode hold) `subject` raises `sig` about `sub`; alerts are
    /// built only then, so a chatty host does not cost an alert per packet.
    fn fresh(&mut self, subject: IpAddr, sig: &Signature, sub: u64, ts: Timestamp) -> bool {
        fresh_in(&mut self.recent, self.cfg.window.nanos(), (subject, sig.id, sub), ts)
    }

    fn allowed_proxy(&self, addr: IpAddr, port: u16) -> bool {
        self.allow_proxies.iter().any(|e| e.matches(addr, port))
    }

    fn host_mut(&mut self, ip: IpAddr, ts: Timestamp) -> &mut Host {
        let slot = self.host_slot(ip, ts);
        self.hosts.at_mut(slot)
    }

    /// The slot of `ip`'s host (created if new), made the most recently used: one hash lookup,
    /// none when it is the host asked for last. At the cap the least recently seen host goes,
    /// in O(1).
    fn host_slot(&mut self, ip: IpAddr, ts: Timestamp) -> u32 {
        if let Some((last, slot)) = self.last_host
            && last == ip
        {
            // Nothing was inserted, touched or removed since: it is still the most recently
            // used (a touch would not move it) and in the same slot.
            return slot;
        }
        let evicted = &mut self.evicted;
        let slot = self.hosts.get_or_insert_slot(ip, |old| {
            *evicted += u64::from(old.is_some());
            Host::new(ts)
        });
        self.last_host = Some((ip, slot));
        slot
    }

    /// Throughput accounting for a flow between a home host and an outside peer.
    fn account(&mut self, v: &VolumeCtx<'_>, out: &mut Vec<Alert>) {
        let f = v.flow;
        let (home, remote, home_dir) = match (f.orig_home, f.resp_home) {
            (true, false) if !is_group(&f.resp_addr()) => (f.orig_addr(), f.resp_addr(), 0),
            (false, true) if !is_group(&f.orig_addr()) => (f.resp_addr(), f.orig_addr(), 1),
            _ => return,
        };
        // Uploads to an allowed country or network (`egress.allow_countries`, `allow_asns`:
        // the company's cloud provider) are not bandwidth hijacking.
        if v.env.egress.geo.allowed(f.geo).is_some() {
            return;
        }
        let slot = self.host_slot(home, v.ts);
        let limits = self.limits;
        let h = self.hosts.at_mut(slot);
        // Hand-overs can come out of order (an unanswered inbound probe's waits for its flow's
        // end): the history begins at the earliest seen.
        h.first_seen = h.first_seen.min(v.ts);
        h.last_seen = h.last_seen.max(v.ts);
        let sent = v.delta.bytes(home_dir);
        if sent == 0 {
            return;
        }
        let first = h.first_seen;
        if let Some(run) = h.rate.add_out(v.ts, sent, first, &limits) {
            let c = RateCtx { ts: v.ts, home, remote, proto: f.key.proto };
            self.rate_alert(&c, run, out);
        }
    }

    fn rate_alert(&mut self, c: &RateCtx, run: RateRun, out: &mut Vec<Alert>) {
        let home = c.home;
        if !self.fresh(home, &SIG_RATE, 0, c.ts) {
            return;
        }
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        out.push(
            Alert::build(NAME, &SIG_RATE, c.ts, home, c.remote)
                .proto(c.proto)
                .score(run.rate / 1e6, self.cfg.rate_threshold.0 as f64 / 1e6)
                .evidence("rate_mb_per_s", round(run.rate / 1e6))
                .evidence("rate_threshold_mb_per_s", self.cfg.rate_threshold.0 as f64 / 1e6)
                .evidence("sustained_secs", round(run.secs))
                .evidence("rate_sustain_secs", self.cfg.rate_sustain.0.as_secs())
                .evidence("bytes_out", run.bytes)
                .evidence("baseline_kb_per_s", round(run.baseline / 1e3))
                .evidence("quiet_rate_kb_per_s", self.cfg.quiet_rate.0 as f64 / 1e3)
                .evidence("history_secs", round(run.history_secs))
                .evidence("baseline_min_history_secs", self.cfg.baseline_min_history.0.as_secs())
                .evidence("run_start", run.start.to_eve())
                .episode(format!("{home}|rate"), 1.0)
                .finish(),
        );
    }

    /// A two-way inbound session on a proxy port, at the server's first payload.
    fn proxy_port(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let f = c.flow;
        let (home, client, port) = (f.resp_addr(), f.orig_addr(), f.resp_port());
        if !self.cfg.proxy_ports.contains(&port)
            || is_group(&client)
            || self.allowed_proxy(client, f.orig_port())
        {
            return;
        }
        let window = self.cfg.window.nanos();
        let h = self.host_mut(home, c.ts);
        h.slide(c.ts, window);
        let clients = h.add_port_client(&client);
        if clients < self.cfg.inbound_min_clients || !self.fresh(home, &SIG_PROXY_PORT, u64::from(port), c.ts)
        {
            return;
        }
        out.push(
            Alert::build(NAME, &SIG_PROXY_PORT, c.ts, home, client)
                .proto(c.pkt.ip_proto)
                .flow(f, c.ts)
                .score(clients as f64, self.cfg.inbound_min_clients as f64)
                .evidence("service", format!("tcp/{port}"))
                .evidence("port", port)
                .evidence("distinct_clients", clients)
                .evidence("inbound_min_clients", self.cfg.inbound_min_clients)
                .evidence("window_secs", self.cfg.window.0.as_secs())
                .evidence("protocol", f.app.name())
                .episode(format!("{home}|proxy_port|{port}"), 1.0)
                .finish(),
        );
    }
}

impl Proxyware {
    /// [`Detector::on_packet`] of a payload packet past its quick tests.
    #[inline(never)]
    fn payload_packet(&mut self, c: &PacketCtx<'_, '_>, tcp: bool, first_of_dir: bool, out: &mut Vec<Alert>) {
        if c.dir == Dir::ToServer && first_of_dir {
            use crate::decode::app::AppProto;
            match c.flow.app {
                AppProto::Stratum | AppProto::Other => self.stratum(c, out),
                AppProto::Socks4 | AppProto::Socks5 if tcp => self.start_socks(c),
                _ => {}
            }
            return;
        }
        if tcp
            && c.dir == Dir::ToClient
            && first_of_dir
            && c.flow.resp_home
            && !c.flow.orig_home
            && c.flow.payload[0] > 0
        {
            use crate::decode::app::AppProto;
            let eligible = match c.flow.app {
                AppProto::Other | AppProto::Unknown => true,
                AppProto::Http => self.handshakes.get(&c.flow.key).is_some_and(Handshake::is_proxyish_http),
                _ => false,
            };
            if eligible {
                self.proxy_port(c, out);
            }
        }
        if tcp && !self.handshakes.is_empty() {
            self.progress(c, out);
        }
    }
}

impl Detector for Proxyware {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_resolution_ns(&self) -> u64 {
        state::RATE_BUCKET_NS
    }

    fn volume_interest(&self) -> VolumeInterest {
        // What a home host sends: an unanswered inbound probe (a flood's SYN or datagram) carried
        // none, and counting it only made the probed host's entry (and its history) for nothing
        // (a tenth of a SYN flood's worker time, on a cache miss).
        VolumeInterest::Answered
    }

    fn event_interest(&self) -> Events {
        Events::DNS.or(Events::TLS).or(Events::HTTP)
    }

    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, out: &mut Vec<Alert>) -> u64 {
        self.account(v, out);
        u64::MAX
    }

    fn packet_interest(&self) -> Interest {
        // The Tor relay list looks at new TCP flows; everything else at payload.
        Interest::PAYLOAD.or(Interest::TCP.and(Interest::NEW_FLOW))
    }

    #[inline]
    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let tcp = c.pkt.ip_proto == 6;
        if c.new_flow && tcp && !self.tor_relays.is_empty() {
            self.tor_relay_list(c, out);
        }
        if c.pkt.payload.is_empty() {
            return;
        }
        // Past each direction's first payload only handshakes in progress are followed (the
        // rest out of line: no registers to save for the common case).
        let first_of_dir = c.flow.payload[c.dir.idx()] == u64::from(c.pkt.payload_wire_len);
        if first_of_dir || (tcp && !self.handshakes.is_empty()) {
            self.payload_packet(c, tcp, first_of_dir, out);
        }
    }

    fn on_dns(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, out: &mut Vec<Alert>) {
        let (client, server, source) = if m.is_response {
            (c.pkt.dst, c.pkt.src, NameSource::DnsAnswer)
        } else {
            (c.pkt.src, c.pkt.dst, NameSource::DnsQuery)
        };
        if self.ignore_clients.contains(&client) || is_group(&client) {
            return;
        }
        self.name_hit(c, client, server, m.qname.as_bytes(), source, Some(m), None, out);
    }

    fn on_tls(&mut self, c: &PacketCtx<'_, '_>, h: &ClientHello<'_>, out: &mut Vec<Alert>) {
        let Some(sni) = h.sni else { return };
        self.name_hit(c, c.pkt.src, c.pkt.dst, sni, NameSource::TlsSni, None, None, out);
        self.tor_shape(c, h, sni, out);
    }

    fn on_http(&mut self, c: &PacketCtx<'_, '_>, r: &HttpRequest<'_>, out: &mut Vec<Alert>) {
        let connect = r.method.eq_ignore_ascii_case("CONNECT");
        let absolute = r.target.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("http://"));
        if let Some(host) = r.host {
            let host = wire::host_part(host);
            self.name_hit(c, c.pkt.src, c.pkt.dst, host, NameSource::HttpHost, None, Some(r), out);
        }
        if connect || absolute {
            let t = r.target.as_bytes();
            let t = if absolute { t.get(7..).unwrap_or_default() } else { t };
            let t = &t[..t.iter().position(|&b| b == b'/').unwrap_or(t.len())];
            self.name_hit(
                c,
                c.pkt.src,
                c.pkt.dst,
                wire::host_part(t),
                NameSource::HttpTarget,
                None,
                Some(r),
                out,
            );
            self.http_proxy_request(c, r, connect, out);
        }
    }

    fn on_flow_end(&mut self, f: &Flow, why: EndReason, _env: &Env, _out: &mut Vec<Alert>) {
        if !self.handshakes.is_empty() {
            self.handshakes.remove(&f.key);
        }
        // At the end of the capture no relay evaluation follows: the window is not fed.
        if why != EndReason::Shutdown {
            self.add_finished_session(f);
        }
    }

    fn on_tick(&mut self, now: Timestamp, flows: &FlowTable, _env: &Env, out: &mut Vec<Alert>) {
        if now >= self.next_eval {
            self.next_eval = Timestamp(now.0 - now.0 % EVAL_EVERY_NS + EVAL_EVERY_NS);
            self.eval_relay(now, flows, out);
        }
        if now.secs().is_multiple_of(10) {
            let hold = self.cfg.window.nanos();
            self.recent.retain(|_, t| now.0.saturating_sub(t.0) < hold);
            self.handshakes.retain(|_, h| now.0.saturating_sub(h.started.0) < HANDSHAKE_TIMEOUT_NS);
            let keep = self
                .cfg
                .window
                .nanos()
                .saturating_mul(2)
                .max(self.cfg.baseline_window.nanos().saturating_mul(2))
                .max(self.cfg.baseline_min_history.nanos().saturating_add(self.cfg.rate_sustain.nanos()));
            self.hosts.retain(|_, h| now.0.saturating_sub(h.last_seen.0) < keep);
            self.last_host = None;
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.hosts.len() + self.handshakes.len()) as u64,
            evicted: self.evicted + self.handshakes_dropped,
            memory: (self.hosts.overhead_bytes()
                + self.handshakes.capacity() * (std::mem::size_of::<(FlowKey, Handshake)>() + 1)
                + self.recent.capacity() * 41) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        let n = self.hosts.shed(share, |_, _| {});
        self.last_host = None;
        self.shed += n;
        n
    }
}
