//! Beaconing: periodic command-and-control check-ins, scored as they stream (T1071, T1573,
//! T1029).
//!
//! A check-in is the start of a connection from a home host to an external destination, a burst
//! of home-sent payload after `burst_silence` inside a long connection (heartbeats), or a DNS
//! query. Each (home host, destination) pair keeps a fixed ring of its last gaps and sizes
//! ([`state::Series`]); the destination is the server address, and also the registered domain of
//! the name it goes by — TLS SNI, HTTP Host, or the DNS name the address was resolved from (a
//! bounded cache) — so a beacon to a CDN name whose addresses rotate is one series; DNS queries
//! form a third kind of series per resolver and registered domain. Once a series has `min_checkins`
//! check-ins, every new one re-scores it ([`score::score`]: gaps that fit the median interval or
//! a multiple of it, MAD, Bowley skew, size dispersion) and it alerts when the score passes
//! `score_threshold`, again when its check-ins double.
//!
//! What is periodic by design stays quiet: names under `allow_names` (and the addresses they
//! resolve to or are served from), `allow_addrs`, `allow_hosts`, `allow_ports` (NTP, DHCP,
//! mDNS...). Severity rises when few home hosts talk to the destination (prevalence).
//!
//! With several workers (packets sharded by home host) a series lives whole in one worker, but
//! the prevalence table and the address -> name cache hold what that worker's hosts saw: the
//! severity, and which connections a name series counts, can differ with `--workers`
//! (docs/performance.md, "Alerts and the worker count").
//!
//! Needs: flow volume hand-overs (a flow's start, and bursts), flow ends (sizes), TLS
//! ClientHellos, HTTP requests and DNS messages. Nothing per packet: a lookup when a flow starts,
//! when a long flow's payload hand-over comes (at most once a second per flow), per name event.
//! Memory: series, name caches and prevalence tables each capped, with sampled O(1) eviction
//! (counted) and expiry after twice `max_interval`.

mod config;
pub(crate) mod score;
mod signatures;
pub(crate) mod state;
#[cfg(test)]
mod tests;

pub use config::BeaconConfig;
pub(crate) use signatures::SIG_BEACON;
pub(crate) use signatures::SIG_DNS_BEACON;

use super::{
    Build, Detector, DetectorStats, Env, Events, Interest, PacketCtx, Spec, VolumeCtx, VolumeInterest,
};
use crate::alert::Alert;
use crate::decode::dns::{DnsMessage, registrable};
use crate::decode::http::HttpRequest;
use crate::decode::suffix::SuffixSet;
use crate::decode::tls::ClientHello;
use crate::flow::{EndReason, Flow, FlowTable};
use crate::time::Timestamp;
use ipnet::IpNet;
use score::RING;
use state::{
    Bounded, DestKind, FirstSeen, Prevalence, Pushed, Series, ShortName, dest_key, dns_dest_key, host_hash,
    pair_key,
};
use std::net::IpAddr;

const NAME: &str = "beacon";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<Beacon>(
    NAME,
    "Periodic check-ins (connections, heartbeats, DNS queries) from a home host to one destination",
    (9_100_600, 9_100_699),
    signatures::ALL,
);

impl Build for Beacon {
    type Config = BeaconConfig;
    fn build(config: &BeaconConfig, _env: &Env) -> Self {
        Beacon::new(config.clone())
    }
}

/// A name's destination: its key and registered domain.
struct Named {
    dest: u64,
    name: ShortName,
}

/// The detector.
pub(crate) struct Beacon {
    cfg: BeaconConfig,
    allow_names: SuffixSet,
    /// What a DNS query is not a check-in for: `allow_names`, reverse lookups (`arpa`) and
    /// multicast DNS (`local`), in one set (one lookup a query instead of three).
    dns_query_skip: SuffixSet,
    /// `allow_hosts` and `allow_addrs`, compiled for the membership test.
    allow_hosts: Nets,
    allow_addrs: Nets,
    series: Bounded<Series>,
    /// Address (hash) → the name it was resolved from.
    names: Bounded<Named>,
    /// Addresses (hash) that served or resolved from an allow-listed name.
    muted: Bounded<()>,
    /// Destination → distinct home hosts.
    dests: Bounded<Prevalence>,
    /// Flow id → the name series its connection counted in (its size goes there at the end).
    flow_names: Bounded<u64>,
    floor_ms: u64,
    max_gap_ms: u64,
    silence_ns: u64,
    /// Pairs seen once, waiting for a second check-in.
    seen: FirstSeen,
    /// Entries shed because the run was over `memory.cap`.
    shed: u64,
}

fn addr_hash(a: IpAddr) -> u64 {
    dest_key(DestKind::Addr, Some(a), b"")
}

impl Beacon {
    /// A detector with `[beacon]`.
    pub(crate) fn new(cfg: BeaconConfig) -> Self {
        let allowed =
            || cfg.allow_names.iter().chain(&cfg.allow_names_extra).map(|s| s.trim_end_matches('.'));
        let allow_names = SuffixSet::new(allowed());
        let dns_query_skip = SuffixSet::new(allowed().chain(["arpa", "local"]));
        Beacon {
            allow_names,
            dns_query_skip,
            allow_hosts: Nets::new(&cfg.allow_hosts),
            allow_addrs: Nets::new(&cfg.allow_addrs),
            series: Bounded::new(cfg.max_pairs),
            names: Bounded::new(cfg.max_names),
            muted: Bounded::new(cfg.max_names),
            dests: Bounded::new(cfg.max_dests),
            flow_names: Bounded::new(cfg.max_pairs),
            floor_ms: cfg.min_interval.0.as_millis() as u64,
            max_gap_ms: cfg.max_interval.0.as_millis() as u64,
            silence_ns: cfg.burst_silence.0.as_nanos() as u64,
            seen: FirstSeen::new(cfg.max_pairs),
            shed: 0,
            cfg,
        }
    }

    fn name_allowed(&self, name: &[u8]) -> bool {
        self.allow_names.matches(name)
    }

    /// The home host and external server of a flow the home host opened, unless allow-listed.
    fn sides(&self, f: &Flow) -> Option<(IpAddr, IpAddr)> {
        // TCP and UDP only: ICMP echo channels are `icmp_tunnel`'s, and a ping is not a check-in.
        if !matches!(f.key.proto, 6 | 17)
            || !f.orig_home
            || f.resp_home
            || self.cfg.allow_ports.contains(&f.resp_port())
        {
            return None;
        }
        let (host, addr) = (f.orig_addr(), f.resp_addr());
        if self.allow_hosts.contains(host) || self.allow_addrs.contains(addr) {
            return None;
        }
        Some((host, addr))
    }

    /// Mutes `addr`: it serves or resolves from an allow-listed name.
    fn mute(&mut self, host: IpAddr, addr: IpAddr, ts: Timestamp) {
        self.muted.entry(addr_hash(addr), ts, || ());
        if let Some(s) = self.series.get_mut(pair_key(host, addr_hash(addr))) {
            s.muted = true;
        }
    }

    /// One check-in of `host` to a destination; scores the series and may alert.
    #[allow(clippy::too_many_arguments)]
    fn checkin(
        &mut self,
        ts: Timestamp,
        host: IpAddr,
        addr: IpAddr,
        kind: DestKind,
        dest: u64,
        name: Option<&[u8]>,
        size: Option<u64>,
        flow: Option<&Flow>,
        out: &mut Vec<Alert>,
    ) -> u64 {
        // A DNS series is a (client, resolver, domain) one: each client-resolver pair's queries
        // are one flow, so they meet in one worker whatever `--workers` is (a home resolver's
        // clients go with the resolver), and the series does not depend on the worker count.
        let key = match kind {
            DestKind::Dns => pair_key(host, dest ^ addr_hash(addr).rotate_left(29)),
            DestKind::Addr | DestKind::Name => pair_key(host, dest),
        };
        // One lookup for a series' every check-in but its first (a DNS flood's every query).
        let s = match self.series.get_mut(key) {
            Some(s) => s,
            None => {
                // Admission: a pair gets its series at its second check-in within
                // `max_interval`; until then its first one waits in `seen` (most pairs are seen
                // once).
                let max_gap = self.max_gap_ms.saturating_mul(1_000_000);
                let Some(first) = self.seen.second(key, ts, max_gap) else { return key };
                self.dests.entry(dest, ts, Prevalence::default).add(host_hash(host));
                let mut s = Series::new(host, addr, kind, dest, first);
                s.name = name.map(ShortName::new);
                self.series.entry(key, ts, || s)
            }
        };
        s.addr = addr;
        match s.checkin(ts, self.floor_ms, self.max_gap_ms) {
            Pushed::Merged => {
                if let Some(z) = size {
                    s.add_to_last_size(z);
                }
                return key;
            }
            Pushed::New => {
                if let Some(z) = size {
                    s.size(z);
                }
            }
        }
        let (checkins, alerted_at, muted) = (s.checkins, s.alerted_at, s.muted);
        if muted
            || checkins < self.cfg.min_checkins
            || s.last.since(s.first) < self.cfg.min_duration.0
            || (alerted_at > 0 && checkins < alerted_at.saturating_mul(2))
        {
            return key;
        }
        let mut gaps = [0f64; RING];
        let mut sizes = [0f64; RING];
        let (ng, ns) = s.figures(&mut gaps, &mut sizes);
        let sc = score::score(&gaps[..ng], &sizes[..ns], self.cfg.jitter_tolerance);
        if sc.total < self.cfg.score_threshold || sc.gaps.median * 1000.0 < self.floor_ms as f64 {
            return key;
        }
        s.alerted_at = checkins;
        let s = s.clone();
        let hosts = self.dests.get(dest).map_or(1, Prevalence::hosts);
        let rita = score::rita(&gaps[..ng], &sizes[..ns]);
        out.push(self.alert(ts, &s, &sc, &rita, ng, ns, hosts, flow));
        key
    }

    #[allow(clippy::too_many_arguments)]
    fn alert(
        &self,
        ts: Timestamp,
        s: &Series,
        sc: &score::Score,
        rita: &score::Rita,
        ng: usize,
        ns: usize,
        hosts: usize,
        flow: Option<&Flow>,
    ) -> Alert {
        let sig = if s.kind == DestKind::Dns { &SIG_DNS_BEACON } else { &SIG_BEACON };
        let severity = if hosts <= self.cfg.rare_hosts {
            1
        } else if hosts >= self.cfg.common_hosts.min(state::PREVALENCE_SLOTS) {
            3
        } else {
            sig.severity
        };
        let dest = s.name.as_ref().map_or_else(|| s.addr.to_string(), |n| n.to_text());
        let mut b = Alert::build(NAME, sig, ts, s.host, s.addr);
        if let Some(f) = flow {
            b = b.flow(f, ts);
        }
        b.score(sc.total, self.cfg.score_threshold)
            .severity(severity)
            .evidence("destination", &dest)
            .evidence("destination_kind", s.kind.as_str())
            .evidence("interval_secs", r3(sc.gaps.median))
            .evidence("jitter_mad_secs", r3(sc.gaps.mad))
            .evidence("jitter_ratio", r3(sc.gaps.madm()))
            .evidence("gap_q1_secs", r3(sc.gaps.q1))
            .evidence("gap_q3_secs", r3(sc.gaps.q3))
            .evidence("bowley_skew", r3(sc.gaps.bowley()))
            .evidence("fit_share", r3(sc.fit))
            .evidence("jitter_tolerance", self.cfg.jitter_tolerance)
            .evidence("checkins", s.checkins)
            .evidence("gaps_scored", ng)
            .evidence("min_checkins", self.cfg.min_checkins)
            .evidence("duration_secs", r3(s.last.since(s.first).as_secs_f64()))
            .evidence("first_checkin", s.first.to_eve())
            .evidence("size_median_bytes", r3(sc.sizes.median))
            .evidence("size_mad_bytes", r3(sc.sizes.mad))
            .evidence("sizes_scored", ns)
            .evidence("score_fit", r3(sc.fit))
            .evidence("score_mad", r3(sc.mad_score))
            .evidence("score_skew", r3(sc.skew_score))
            .evidence("score_size", r3(sc.size_score))
            .evidence("home_hosts_to_destination", hosts)
            .evidence("rare_hosts", self.cfg.rare_hosts)
            .evidence("rita_timestamp_score", r3(rita.timestamp))
            .evidence("rita_data_size_score", r3(rita.data_size))
            .episode(format!("{}|{}|{}", s.host, s.kind.as_str(), dest), f64::from(s.checkins))
            .finish()
    }

    /// The destination key of the name `addr` was resolved from, if any.
    fn resolved(&self, addr: IpAddr) -> Option<u64> {
        self.names.get(addr_hash(addr)).map(|n| n.dest)
    }

    /// That name itself, copied only when `host` has no series for it yet (the copy names a new
    /// series; an existing one has its name).
    fn name_for_new_series(&self, host: IpAddr, addr: IpAddr, dest: u64) -> Option<ShortName> {
        if self.series.get(pair_key(host, dest)).is_some() {
            return None;
        }
        self.names.get(addr_hash(addr)).map(|n| n.name)
    }

    /// A connection's name (SNI, Host): a check-in of the name series unless the address's DNS
    /// name already counted this connection.
    fn on_name(&mut self, c: &PacketCtx<'_, '_>, raw: &[u8], out: &mut Vec<Alert>) {
        let Some((host, addr)) = self.sides(c.flow) else { return };
        let name = raw.strip_suffix(b".").unwrap_or(raw);
        if name.is_empty() {
            return;
        }
        if self.name_allowed(name) {
            self.mute(host, addr, c.ts);
            return;
        }
        let reg = registrable(name);
        let dest = dest_key(DestKind::Name, None, reg);
        if self.resolved(addr) == Some(dest) {
            return;
        }
        let key =
            self.checkin(c.flow.first, host, addr, DestKind::Name, dest, Some(reg), None, Some(c.flow), out);
        self.flow_names.entry(c.flow.id, c.ts, || key);
    }
}

/// Networks as (network, mask) integers per family: membership is a mask and a compare per
/// network of the address's family, without `IpNet`'s dispatch and mask arithmetic (it runs on
/// every flow start and end).
#[derive(Debug, Default)]
struct Nets {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl Nets {
    fn new(nets: &[IpNet]) -> Nets {
        let mut n = Nets::default();
        for net in nets {
            match net {
                IpNet::V4(x) => n.v4.push((u32::from(x.network()), u32::from(x.netmask()))),
                IpNet::V6(x) => n.v6.push((u128::from(x.network()), u128::from(x.netmask()))),
            }
        }
        n
    }

    /// Is `a` inside one of the networks? (`IpNet::contains`: the network holds exactly the
    /// addresses whose masked bits are its own.)
    #[inline]
    fn contains(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(v4) => {
                let a = u32::from(v4);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(v6) => {
                let a = u128::from(v6);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }
}

/// A Host header without its port (`name:8080`, `[2001:db8::1]:443`).
fn strip_port(host: &[u8]) -> &[u8] {
    if let Some(rest) = host.strip_prefix(b"[") {
        return rest.iter().position(|&b| b == b']').map_or(rest, |i| &rest[..i]);
    }
    match host.iter().filter(|&&b| b == b':').count() {
        1 => host.split(|&b| b == b':').next().unwrap_or(host),
        _ => host,
    }
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Detector for Beacon {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        // Check-ins are flows a home host opens: an inbound probe is never one.
        VolumeInterest::Answered
    }

    fn event_interest(&self) -> Events {
        Events::DNS.or(Events::TLS).or(Events::HTTP)
    }

    fn packet_interest(&self) -> Interest {
        // Check-ins come from volumes, names and DNS messages, never from the packet itself.
        Interest::NONE
    }

    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, out: &mut Vec<Alert>) -> u64 {
        let f = v.flow;
        let out_payload = v.delta.payload(0);
        // Only a flow's start, or a home-sent burst in a flow older than the silence. A
        // burst is timed by the hand-over's first packet (`since`: its packets follow each
        // other closely, and it may run on for a few seconds).
        if !v.first && (out_payload == 0 || v.since.0.saturating_sub(f.first.0) < self.silence_ns) {
            return u64::MAX;
        }
        let Some((host, addr)) = self.sides(f) else { return u64::MAX };
        if self.muted.get(addr_hash(addr)).is_some() {
            return u64::MAX;
        }
        let akey = pair_key(host, addr_hash(addr));
        let (ts, size) = if v.first {
            (f.first, None)
        } else {
            // A burst: a check-in only after the pair was silent long enough (a pair with no
            // series yet has only its flow start, at least `burst_silence` ago).
            if let Some(s) = self.series.get_mut(akey) {
                let quiet = v.since.0.saturating_sub(s.last.0.max(s.active.0)) >= self.silence_ns;
                s.active = s.active.max(v.ts);
                if !quiet {
                    return u64::MAX;
                }
            }
            (v.since, Some(out_payload))
        };
        self.checkin(ts, host, addr, DestKind::Addr, addr_hash(addr), None, size, Some(f), out);
        if let Some(dest) = self.resolved(addr) {
            let name = self.name_for_new_series(host, addr, dest);
            let name = name.as_ref().map(ShortName::as_bytes);
            let key = self.checkin(ts, host, addr, DestKind::Name, dest, name, size, Some(f), out);
            if v.first {
                self.flow_names.entry(f.id, ts, || key);
            }
        }
        u64::MAX
    }

    fn on_flow_end(&mut self, f: &Flow, _why: EndReason, _env: &Env, _out: &mut Vec<Alert>) {
        let name_key = if self.flow_names.is_empty() { None } else { self.flow_names.remove(f.id) };
        // A connection's size is a check-in's size; a long one's bursts were sized as they came,
        // and a connection that never carried data (an unanswered SYN) has none.
        if f.payload[0] == 0 || f.last.0.saturating_sub(f.first.0) >= self.silence_ns {
            return;
        }
        let Some((host, addr)) = self.sides(f) else { return };
        let size = f.bytes[0];
        if let Some(s) = self.series.get_mut(pair_key(host, addr_hash(addr))) {
            s.size(size);
        }
        if let Some(s) = name_key.and_then(|k| self.series.get_mut(k)) {
            s.size(size);
        }
    }

    fn on_tls(&mut self, c: &PacketCtx<'_, '_>, h: &ClientHello<'_>, out: &mut Vec<Alert>) {
        if let Some(sni) = h.sni {
            self.on_name(c, sni, out);
        }
    }

    fn on_http(&mut self, c: &PacketCtx<'_, '_>, r: &HttpRequest<'_>, out: &mut Vec<Alert>) {
        // Only a connection's first request names it (later ones are the same connection).
        if c.flow.pkts[0] > 4 {
            return;
        }
        if let Some(host) = r.host {
            self.on_name(c, strip_port(host), out);
        }
    }

    fn on_dns(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, out: &mut Vec<Alert>) {
        let name = m.qname.as_bytes();
        if m.is_response {
            // The client's answer: remember which name each address came from.
            if !c.dst_home() || m.answer_addrs[0].is_none() {
                return;
            }
            let allowed = self.name_allowed(name);
            let reg = m.qname.registrable();
            let dest = dest_key(DestKind::Name, None, reg);
            for a in m.answer_addrs.iter().flatten() {
                let k = addr_hash(*a);
                if allowed {
                    self.muted.entry(k, c.ts, || ());
                } else {
                    let n = self.names.entry(k, c.ts, || Named { dest: 0, name: ShortName::new(b"") });
                    if n.dest != dest {
                        *n = Named { dest, name: ShortName::new(reg) };
                    }
                }
            }
            return;
        }
        let host = match c.dir {
            crate::flow::Dir::ToServer => c.flow.orig_addr(),
            crate::flow::Dir::ToClient => c.flow.resp_addr(),
        };
        if !c.src_home()
            || m.opcode != 0
            || self.allow_hosts.contains(host)
            || name.is_empty()
            || self.dns_query_skip.matches_name(&m.qname)
        {
            return;
        }
        let reg = m.qname.registrable();
        let dest = dns_dest_key(m.qname.registrable_hash());
        let server =
            if c.dir == crate::flow::Dir::ToServer { c.flow.resp_addr() } else { c.flow.orig_addr() };
        self.checkin(
            c.ts,
            host,
            server,
            DestKind::Dns,
            dest,
            Some(reg),
            Some(m.len as u64),
            Some(c.flow),
            out,
        );
    }

    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        if now.secs().is_multiple_of(60) {
            let keep = self.cfg.max_interval.0.as_nanos().saturating_mul(2).min(u128::from(u64::MAX)) as u64;
            let cutoff = Timestamp(now.0.saturating_sub(keep));
            self.series.expire(cutoff);
            self.names.expire(cutoff);
            self.muted.expire(cutoff);
            self.dests.expire(cutoff);
            self.flow_names.expire(cutoff);
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.series.len() + self.names.len() + self.muted.len() + self.dests.len()) as u64,
            evicted: self.series.evicted + self.names.evicted + self.muted.evicted + self.dests.evicted,
            memory: (self.series.memory()
                + self.names.memory()
                + self.muted.memory()
                + self.dests.memory()
                + self.flow_names.memory()
                + self.seen.memory()) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        let n = self.series.shed(share)
            + self.names.shed(share)
            + self.muted.shed(share)
            + self.dests.shed(share)
            + self.flow_names.shed(share);
        self.shed += n;
        n
    }
}
