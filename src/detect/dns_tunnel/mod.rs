//! DNS tunneling and exfiltration (T1071.004, T1048, T1572).
//!
//! Observe → reduce → threshold. Every query is reduced to a few figures about its subdomain
//! part (the name left of the registrable domain, found with the Public Suffix List): label and
//! name length, Shannon entropy normalised by the alphabet the subdomain uses (hex can never
//! exceed 4 bits/char, so a fixed cut-off misses hex tunnels), bytes outside the hostname
//! alphabet (iodine's base128 and raw codecs), and the query type. Per (client, registered
//! domain), over a sliding window, the distinct suspicious names are weighted and summed; the
//! group alerts when that score crosses the threshold and suspicious names are a large enough
//! share of the group's distinct names. Both sides count distinct names only, so repeating a
//! query (retransmissions, or an attacker padding a tunnel with repeats) never lowers the
//! score or the share. Ordinary DNS has short, low-entropy, repeated names: it never
//! accumulates a score. A second signature catches high volumes of distinct names even when each
//! looks harmless, and a third flags DNS on a port that is not DNS's.
//!
//! A home resolver on the path (the sensor sees client → resolver and resolver → authoritative)
//! is recognised by its forwards — the names a client asked it, repeated seconds later — and
//! learned (`resolver.rs`): its forwards are attributed to the client that asked, so the tunnel
//! raises one alert naming the client with the resolver in the evidence, none about the resolver.
//!
//! Needs: DNS messages (UDP or TCP, any port) from the spine. Memory: one group per (client,
//! domain), capped at `max_groups` with counted eviction of the least recently used group in
//! O(1) ([`crate::flow::bounded::Bounded`]); distinct names are 64-bit hashes in a
//! set capped at `max_names_per_group`. Once a group's set is full, no name is counted (nor
//! reduced to figures) until its window slides: a flood of random names under one domain
//! costs a lookup a query, not a reduction.

mod config;
mod figures;
mod flows;
mod resolver;
mod signatures;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use config::DnsTunnelConfig;
pub(crate) use figures::SubdomainFigures;
pub(crate) use figures::figures;
pub(crate) use signatures::SIG_DIRECT;
pub(crate) use signatures::SIG_PORT;
pub(crate) use signatures::SIG_TUNNEL;
pub(crate) use signatures::SIG_VOLUME;

use super::{
    Build, Detector, DetectorStats, Env, Events, Interest, PacketCtx, RecordCtx, Spec, VolumeInterest,
};
use crate::alert::Alert;
use crate::alert::suppress::Escalation;
use crate::decode::dns::{DnsMessage, DnsName};
use crate::decode::suffix::SuffixSet;
use crate::flow::bounded::Bounded;
use crate::flow::hash::hash_lower;
use crate::flow::host::hash_ip;
use crate::time::Timestamp;
use resolver::Forward;
use state::{Bucket, Example, Group, MAX_SPARE, rare_qtype_weight};
use std::net::IpAddr;

const NAME: &str = "dns_tunnel";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<DnsTunnel>(
    NAME,
    "DNS tunnels and exfiltration: long, high-entropy or binary subdomains, rare query types, \
     very many distinct names under one domain; DNS on other ports or to unlisted resolvers",
    (9_100_000, 9_100_099),
    signatures::ALL,
);

impl Build for DnsTunnel {
    type Config = DnsTunnelConfig;
    fn build(config: &DnsTunnelConfig, env: &Env) -> Self {
        DnsTunnel::new(config.clone(), env.escalation)
    }
}

/// Is a subdomain with figures `f` suspicious under `cfg`?
fn suspicious_figures(cfg: &DnsTunnelConfig, f: &SubdomainFigures) -> bool {
    f.longest_label >= cfg.long_label
        || f.len >= cfg.long_subdomain
        || f.non_hostname_bytes > 0
        || (f.len >= cfg.entropy_min_len && f.normalised_entropy >= cfg.entropy_threshold)
}

/// The detector.
pub(crate) struct DnsTunnel {
    cfg: DnsTunnelConfig,
    escalation: Escalation,
    /// `allow_domains` (with `allow_domains_extra`) and `ignore_suffixes` in one set: a query
    /// under either is not scored, and one lookup answers both.
    skip: SuffixSet,
    allow_clients: Vec<IpAddr>,
    resolvers: Vec<IpAddr>,
    /// Boxed: a group is ~330 bytes, and a table of pointers grows without moving (or leaving
    /// behind, as a hole the next, bigger table does not fit) the groups themselves.
    /// Keyed by the client's [`hash_ip`] and the domain's hash: two words, where an `IpAddr`
    /// in the key was copied through the stack at every query and stalled its loads.
    groups: Bounded<(u64, u64), Box<Group>>,
    /// Forgotten groups, with their name sets' allocations, kept for reuse (boxed: they move
    /// between the table and the pool without being copied).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Group>>,
    /// Forwards by home resolvers, recognised and attributed to their clients.
    path: resolver::ResolverPath,
    /// The flow-record signal's (client, server) tallies ([`flows`]).
    flow_pairs: Bounded<(IpAddr, IpAddr), flows::Pair>,
    evicted: u64,
    shed: u64,
}

impl DnsTunnel {
    /// A detector with `cfg`, re-alerting inside an episode by `escalation`.
    pub(crate) fn new(cfg: DnsTunnelConfig, escalation: Escalation) -> Self {
        let skip = SuffixSet::new(
            cfg.allow_domains.iter().chain(&cfg.allow_domains_extra).chain(&cfg.ignore_suffixes),
        );
        let allow_clients = cfg.allow_clients.iter().filter_map(|s| s.parse().ok()).collect();
        let resolvers = cfg.resolvers.iter().filter_map(|s| s.parse().ok()).collect();
        let cfg_groups = cfg.max_groups.max(1);
        let path = resolver::ResolverPath::new(
            cfg.forward_window.nanos(),
            cfg.learned_resolver_ttl.nanos(),
            cfg.max_forward_names,
            cfg.max_learned_resolvers,
        );
        let cfg_flow_pairs = cfg.max_flow_pairs.max(1);
        DnsTunnel {
            path,
            cfg,
            escalation,
            skip,
            allow_clients,
            resolvers,
            groups: Bounded::new(cfg_groups),
            spare: Vec::new(),
            flow_pairs: Bounded::new(cfg_flow_pairs),
            evicted: 0,
            shed: 0,
        }
    }

    #[cfg(test)]
    fn is_suspicious(&self, f: &SubdomainFigures) -> bool {
        suspicious_figures(&self.cfg, f)
    }

    fn evict_stalest(&mut self) {
        // The least recently queried group: O(1) whatever the table's history.
        if let Some((_, g)) = self.groups.pop_oldest() {
            if self.spare.len() < MAX_SPARE {
                self.spare.push(g);
            }
            self.evicted += 1;
        }
    }

    fn query(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, fwd: Option<Forward>, out: &mut Vec<Alert>) {
        let client = c.pkt.src;
        let server = c.pkt.dst;
        if self.allow_clients.contains(&client) {
            return;
        }
        let name = m.qname.as_bytes();
        let domain = m.qname.registrable();
        if self.skip.matches_name(&m.qname) {
            return;
        }
        if let Some(f) = fwd {
            // A resolver forwarding its client's question: the client's own query was scored;
            // its group learns where the resolver sent it.
            if let Some(g) = self.groups.get_mut(&(hash_ip(&f.client), m.qname.registrable_hash())) {
                g.forwards += 1;
                g.forwarded_to = Some(server);
            }
            return;
        }
        let sub_len = name.len().saturating_sub(domain.len() + 1);
        let sub = if domain.len() < name.len() { &name[..sub_len] } else { &[][..] };
        let key = (hash_ip(&client), m.qname.registrable_hash());
        if self.groups.is_full() && !self.groups.contains_key(&key) {
            self.evict_stalest();
        }
        let window = self.cfg.window.nanos();
        let ts = c.ts;
        let spare = &mut self.spare;
        let g = self.groups.get_or_insert_with(key, |_| {
            // Reuse an expired group and its sets: no allocation once the pool is warm.
            let (mut names, mut prev_names, slot) = match spare.pop() {
                Some(mut b) => (std::mem::take(&mut b.names), std::mem::take(&mut b.prev_names), Some(b)),
                None => Default::default(),
            };
            names.clear();
            prev_names.clear();
            let g = Group {
                start: ts,
                last: ts,
                cur: Bucket::default(),
                prev: Bucket::default(),
                names,
                prev_names,
                longest_label: 0,
                longest_name: 0,
                entropy_sum: 0.0,
                entropy_n: 0,
                first_query: ts,
                server,
                example: None,
                alerted_score: 0.0,
                forwards: 0,
                forwarded_to: None,
            };
            match slot {
                Some(mut b) => {
                    *b = g;
                    b
                }
                None => Box::new(g),
            }
        });
        // Slide: two half-overlapping buckets; figures are the sum of both.
        if ts.0.saturating_sub(g.start.0) >= window {
            let idle = ts.0.saturating_sub(g.last.0) >= window;
            g.prev = if idle { Bucket::default() } else { g.cur };
            std::mem::swap(&mut g.prev_names, &mut g.names);
            g.names.clear();
            if idle {
                g.prev_names.clear();
                g.first_query = ts;
                g.alerted_score = 0.0;
            }
            g.cur = Bucket::default();
            g.start = ts;
        }
        g.last = ts;
        g.server = server;
        g.cur.queries += 1;
        g.cur.query_bytes += m.len as u64;
        let (w, kind) = rare_qtype_weight(m.qtype);
        match kind {
            "txt" => g.cur.qtype_txt += 1,
            "null" | "private" => g.cur.qtype_null += 1,
            "rare" => g.cur.qtype_other_rare += 1,
            _ => {}
        }
        g.longest_name = g.longest_name.max(name.len());
        // A full name set counts no name as fresh until the window slides: the figures of a
        // name would change nothing but the group's longest label and mean entropy, which are
        // of the names counted. Not reducing it keeps a flood of random names under one
        // domain (issue 19) from paying ~900 instructions a query for nothing.
        let counting = !sub.is_empty() && g.names.len() < self.cfg.max_names_per_group;
        let mut fresh = false;
        let mut reduced = None;
        if counting {
            let f = figures(sub);
            reduced = Some(f);
            g.longest_label = g.longest_label.max(f.longest_label);
            if f.len >= self.cfg.entropy_min_len.min(12) {
                g.entropy_sum += f.normalised_entropy;
                g.entropy_n += 1;
            }
            let h = hash_lower(sub);
            fresh = !g.prev_names.contains(&h) && g.names.insert(h);
        }
        if fresh {
            g.cur.distinct += 1;
        }
        if let Some(f) = reduced
            && fresh
            && suspicious_figures(&self.cfg, &f)
        {
            g.cur.suspicious += 1;
            g.cur.suspicious_bytes += sub.len() as u64;
            let mut weight = 1.0;
            if f.non_hostname_bytes > 0 {
                weight += 1.0;
            }
            weight += w;
            g.cur.score += weight;
            Example::keep(&mut g.example, m, f);
        }
        let mut t = g.cur;
        t.add(&g.prev);
        // Of the distinct names, not of the queries: repeats must not dilute a tunnel.
        let share = if t.distinct > 0 { t.suspicious as f64 / t.distinct as f64 } else { 0.0 };
        let tunnel = t.score >= self.cfg.score_threshold && share >= self.cfg.min_suspicious_share;
        let volume = u64::from(t.distinct) >= self.cfg.unique_subdomains;
        if !(tunnel || volume) {
            return;
        }
        // Inside an episode, only an escalation can pass the suppressor: skip building an alert
        // it would drop (keeps the hot path cheap during a tunnel).
        let magnitude = if tunnel { t.score } else { t.distinct as f64 };
        if g.alerted_score > 0.0 && !self.escalation.due(g.alerted_score, magnitude) {
            return;
        }
        g.alerted_score = magnitude;
        let f = reduced.unwrap_or_else(|| figures(sub));
        if g.example.is_none() {
            Example::keep(&mut g.example, m, f);
        }
        let sig = if tunnel { &SIG_TUNNEL } else { &SIG_VOLUME };
        let score = if tunnel { t.score } else { t.distinct as f64 };
        let threshold = if tunnel { self.cfg.score_threshold } else { self.cfg.unique_subdomains as f64 };
        let (ef, example_name, example_qtype, example_id) = match g.example.as_deref() {
            Some(e) => (e.figures, &e.name, e.qtype, e.id),
            None => (f, &m.qname, m.qtype, m.id),
        };
        let mean_entropy = if g.entropy_n > 0 { g.entropy_sum / g.entropy_n as f64 } else { 0.0 };
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        // The group's domain is this query's (the group is keyed by it).
        let domain_text = DnsName::from_labels(domain.split(|b| *b == b'.'))
            .unwrap_or_default()
            .to_lossy_string()
            .to_ascii_lowercase();
        let direct = !self.resolvers.is_empty() && !self.resolvers.contains(&server);
        let a = Alert::build(NAME, sig, ts, client, server)
            .proto(c.pkt.ip_proto)
            .flow(c.flow, ts)
            .dns(example_id, example_name.to_lossy_string(), example_qtype)
            .score(score, threshold)
            .evidence("domain", &domain_text)
            .evidence("window_secs", self.cfg.window.0.as_secs())
            .evidence("queries", t.queries)
            .evidence("distinct_subdomains", t.distinct)
            .evidence("suspicious_subdomains", t.suspicious)
            .evidence("suspicious_share", round(share))
            .evidence("suspicious_bytes", t.suspicious_bytes)
            .evidence("min_suspicious_share", self.cfg.min_suspicious_share)
            .evidence("unique_subdomains_threshold", self.cfg.unique_subdomains)
            .evidence("longest_label", g.longest_label)
            .evidence("long_label_threshold", self.cfg.long_label)
            .evidence("longest_name", g.longest_name)
            .evidence("example_subdomain_len", ef.len)
            .evidence("long_subdomain_threshold", self.cfg.long_subdomain)
            .evidence("example_entropy_bits", round(ef.entropy))
            .evidence("example_normalised_entropy", round(ef.normalised_entropy))
            .evidence("example_alphabet", ef.alphabet)
            .evidence("entropy_threshold", self.cfg.entropy_threshold)
            .evidence("mean_normalised_entropy", round(mean_entropy))
            .evidence("example_non_hostname_bytes", ef.non_hostname_bytes)
            .evidence("qtype_txt", t.qtype_txt)
            .evidence("qtype_null_or_private", t.qtype_null)
            .evidence("qtype_cname_mx_srv_any", t.qtype_other_rare)
            .evidence("query_bytes", t.query_bytes)
            .evidence("answer_bytes", t.answer_bytes)
            .evidence("largest_answer", t.max_answer)
            .evidence("responses", t.responses)
            .evidence("first_query", g.first_query.to_eve())
            .evidence("seconds_to_detect", round(ts.since(g.first_query).as_secs_f64()))
            .evidence("resolver", server.to_string())
            .evidence("resolver_configured", self.resolvers.contains(&server))
            .evidence("resolver_learned", self.path.learned(&server).is_some())
            .evidence("resolver_forwards", g.forwards)
            .evidence("resolver_forwarded_to", g.forwarded_to.map(|a| a.to_string()))
            .evidence("direct_to_authoritative", direct)
            .episode(format!("{client}|{domain_text}"), score)
            .finish();
        out.push(a);
    }

    fn response(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage) {
        let client = c.pkt.dst;
        if let Some(g) = self.groups.get_mut(&(hash_ip(&client), m.qname.registrable_hash())) {
            g.cur.responses += 1;
            g.cur.answer_bytes += u64::from(m.answer_bytes);
            g.cur.max_answer = g.cur.max_answer.max(u64::from(m.largest_answer));
        }
    }
}

/// DNS's own port, or mDNS (5353) and LLMNR (5355) where they live: multicast groups, link-local
/// and home addresses. mDNS/LLMNR to an external host is DNS on a non-standard port (a tunnel
/// server listening on 5353 does not get a pass). NetBIOS name service (137) never reaches here:
/// the sniffer tells it apart by its encoded names ([`crate::decode::app::is_nbns`]).
fn standard_port(c: &PacketCtx<'_, '_>, sport: u16, dport: u16) -> bool {
    if sport == 53 || dport == 53 {
        return true;
    }
    let local_scope = |p: u16| matches!(p, 5353 | 5355);
    (local_scope(sport) || local_scope(dport)) && (c.dst_home() || link_scope(&c.pkt.dst))
}

/// Multicast or link-local: traffic that never leaves the link.
fn link_scope(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_multicast() || v.is_link_local() || v.is_broadcast(),
        IpAddr::V6(v) => v.is_multicast() || (v.segments()[0] & 0xffc0) == 0xfe80,
    }
}

impl Detector for DnsTunnel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        VolumeInterest::Nothing
    }

    fn event_interest(&self) -> Events {
        Events::DNS
    }

    fn wants_flow_ends(&self) -> bool {
        false
    }

    fn packet_interest(&self) -> Interest {
        // DNS messages come by `on_dns`; the packet itself tells this detector nothing.
        Interest::NONE
    }

    fn on_dns(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, out: &mut Vec<Alert>) {
        if m.is_response {
            self.response(c, m);
            return;
        }
        if m.opcode != 0 {
            return;
        }
        // A home resolver forwarding a name a client asked it (seconds ago) is no client itself.
        let fwd =
            self.path.query(c.ts, &c.pkt.src, &c.pkt.dst, c.dst_home(), || hash_lower(m.qname.as_bytes()));
        let (sport, dport) = c.pkt.ports();
        let std_port = |p: u16| matches!(p, 53 | 5353 | 5355);
        if self.cfg.alert_nonstandard_port && !standard_port(c, sport, dport) && c.src_home() {
            let a = Alert::build(NAME, &SIG_PORT, c.ts, c.pkt.src, c.pkt.dst)
                .proto(c.pkt.ip_proto)
                .ports(sport, dport)
                .flow(c.flow, c.ts)
                .dns(m.id, m.qname.to_lossy_string(), m.qtype)
                .score(1.0, 1.0)
                .evidence("port", dport)
                .evidence("expected_ports", [53, 5353, 5355])
                .evidence(
                    "local_scope_ports",
                    "5353 (mDNS) and 5355 (LLMNR) only to multicast, link-local or home addresses",
                )
                .episode(format!("{}|{}|{}", c.pkt.src, c.pkt.dst, dport), 1.0)
                .finish();
            out.push(a);
        }
        if !self.resolvers.is_empty()
            && c.src_home()
            && !c.dst_home()
            && !self.resolvers.contains(&c.pkt.dst)
            && !self.resolvers.contains(&c.pkt.src)
            && fwd.is_none()
            && self.path.learned(&c.pkt.src).is_none()
            && std_port(dport)
            && dport == 53
        {
            let a = Alert::build(NAME, &SIG_DIRECT, c.ts, c.pkt.src, c.pkt.dst)
                .proto(c.pkt.ip_proto)
                .ports(sport, dport)
                .flow(c.flow, c.ts)
                .dns(m.id, m.qname.to_lossy_string(), m.qtype)
                .score(1.0, 1.0)
                .evidence("configured_resolvers", &self.cfg.resolvers)
                .episode(format!("{}|{}", c.pkt.src, c.pkt.dst), 1.0)
                .finish();
            out.push(a);
        }
        self.query(c, m, fwd, out);
    }

    fn on_tick(&mut self, now: Timestamp, _f: &crate::flow::FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        let keep = self.cfg.window.nanos().saturating_mul(2);
        if now.secs().is_multiple_of(10) {
            self.path.expire(now);
            let DnsTunnel { groups, spare, .. } = self;
            groups.retain_with(
                |_, g| now.0.saturating_sub(g.last.0) < keep,
                |_, g| {
                    if spare.len() < MAX_SPARE {
                        spare.push(g);
                    }
                },
            );
            if !self.flow_pairs.is_empty() {
                self.expire_flow_pairs(now);
            }
        }
    }

    fn on_flow_record(&mut self, r: &RecordCtx<'_>, out: &mut Vec<Alert>) {
        self.on_record(r, out);
    }

    fn stats(&self) -> DetectorStats {
        // Charged by what each group's name sets really hold, not by their cap.
        let group = |g: &Group| {
            std::mem::size_of::<Group>()
                + (g.names.capacity() + g.prev_names.capacity()) * 9
                + g.example.as_ref().map_or(0, |_| std::mem::size_of::<state::Example>())
        };
        let memory = self.groups.overhead_bytes()
            + self.path.memory()
            + self.flow_pairs.overhead_bytes()
            + self.groups.values().map(|g| group(g)).sum::<usize>()
            + self.spare.iter().map(|g| group(g)).sum::<usize>();
        DetectorStats {
            tracked: (self.groups.len() + self.path.len() + self.flow_pairs.len()) as u64,
            evicted: self.evicted + self.path.evicted,
            memory: memory as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        self.spare = Vec::new();
        let n = self.groups.shed(share, |_, _| {})
            + self.path.shed(share)
            + self.flow_pairs.shed(share, |_, _| {});
        self.shed += n;
        n
    }
}
