//! DNS tunneling and exfiltration (T1071.004, T1048, T1572).
//!
//! Observe → reduce → threshold. Every query is reduced to a few figures about its subdomain
//! part (the name left of the registrable domain, found with the Public Suffix List): label and
//! name length, Shannon entropy normalised by the alphabet the subdomain uses (hex can never
//! exceed 4 bits/char, so a fixed cut-off misses hex tunnels), bytes outside the hostname
//! alphabet (iodine's base128 and raw codecs), and the query type. Per (client, registered
//! domain), over a sliding window, the distinct suspicious names are weighted and summed; the
//! group alerts when that score crosses the threshold and suspicious names are a large enough
//! share of the group's queries. Ordinary DNS has short, low-entropy, repeated names: it never
//! accumulates a score. A second signature catches high volumes of distinct names even when each
//! looks harmless, and a third flags DNS on a port that is not DNS's.
//!
//! Needs: DNS messages (UDP or TCP, any port) from the spine. Memory: one group per (client,
//! domain), capped at `max_groups` with counted eviction; distinct names are 64-bit hashes in a
//! set capped at `max_names_per_group`.

use super::{Detector, DetectorStats, Env, PacketCtx};
use crate::alert::{Alert, Signature};
use crate::config::de_string_list;
use crate::decode::dns::{DnsMessage, DnsName, name_is_under, qtype};
use crate::time::Timestamp;
use crate::units::Dur;
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde::Deserialize;
use std::hash::Hasher;
use std::net::IpAddr;

const NAME: &str = "dns_tunnel";

/// A group of queries looks like a tunnel.
pub const SIG_TUNNEL: Signature = Signature {
    id: 9_100_001,
    rev: 1,
    msg: "SIPHON DNS tunnel or exfiltration: encoded subdomains to one domain",
    category: "Potentially Bad Traffic",
    severity: 1,
    mitre: &["T1071.004", "T1048", "T1572"],
};
/// Very many distinct subdomains under one domain.
pub const SIG_VOLUME: Signature = Signature {
    id: 9_100_002,
    rev: 1,
    msg: "SIPHON DNS exfiltration: unusual number of unique subdomains to one domain",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1048", "T1071.004"],
};
/// DNS on a port that is not 53.
pub const SIG_PORT: Signature = Signature {
    id: 9_100_003,
    rev: 1,
    msg: "SIPHON DNS on a non-standard port",
    category: "Potentially Bad Traffic",
    severity: 2,
    mitre: &["T1572", "T1071.004"],
};
/// DNS sent to a server that is not a configured resolver.
pub const SIG_DIRECT: Signature = Signature {
    id: 9_100_004,
    rev: 1,
    msg: "SIPHON DNS query to a server that is not a configured resolver",
    category: "Potential Corporate Privacy Violation",
    severity: 3,
    mitre: &["T1071.004"],
};

/// `[dns_tunnel]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsTunnelConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Sliding window per (client, domain). Longer catches slower tunnels but keeps more state.
    pub window: Dur,
    /// Score (weighted distinct suspicious names in the window) that raises the alert. Each
    /// suspicious name counts 1, +1 if it carries non-hostname bytes, +1 for NULL or
    /// private-use qtypes, +0.5 for TXT/CNAME/MX/SRV/ANY. Lower detects sooner, higher is
    /// quieter on odd-but-benign names.
    pub score_threshold: f64,
    /// Least share of the group's queries that must be suspicious. Keeps large benign domains
    /// with a few odd names quiet.
    pub min_suspicious_share: f64,
    /// A label this long or longer is suspicious. Benign labels rarely exceed ~21 characters;
    /// tunnels use 34–63.
    pub long_label: usize,
    /// A subdomain part (all labels left of the registered domain) this long is suspicious.
    pub long_subdomain: usize,
    /// Subdomains at least this long are tested for entropy (short strings always look random).
    pub entropy_min_len: usize,
    /// Normalised entropy (bits per char ÷ the most the subdomain's alphabet allows) at or
    /// above which a subdomain is suspicious. 1.0 = uniformly random over its alphabet.
    pub entropy_threshold: f64,
    /// Distinct subdomains in a window that raise the volume signature on their own (RITA
    /// uses 100, Elastic 200 in 4 h). Lower catches slow short-label exfiltration sooner.
    pub unique_subdomains: u64,
    /// Most (client, domain) groups tracked per worker; the stalest is evicted (counted).
    pub max_groups: usize,
    /// Most distinct names remembered per group (as hashes).
    pub max_names_per_group: usize,
    /// Domains that are high-entropy by design (DNSBLs, anti-virus cloud lookups, CDNs):
    /// queries under them are never scored. Suffix-aware: `x.spamhaus.org` matches
    /// `spamhaus.org`; `notspamhaus.org` does not.
    #[serde(deserialize_with = "de_string_list")]
    pub allow_domains: Vec<String>,
    /// Extra entries for `allow_domains` (so a config can add without repeating the defaults).
    #[serde(deserialize_with = "de_string_list")]
    pub allow_domains_extra: Vec<String>,
    /// Names under these suffixes are ignored (multicast DNS, reverse lookups).
    #[serde(deserialize_with = "de_string_list")]
    pub ignore_suffixes: Vec<String>,
    /// Clients (resolvers, DNSBL-heavy mail servers) whose queries are not scored.
    #[serde(deserialize_with = "de_string_list")]
    pub allow_clients: Vec<String>,
    /// The network's resolvers. When set, a home host sending DNS to any other server raises
    /// the direct-to-authoritative signature. Empty: that signature is off.
    #[serde(deserialize_with = "de_string_list")]
    pub resolvers: Vec<String>,
    /// Flag DNS spoken on a port other than 53, 5353 (mDNS) and 5355 (LLMNR).
    pub alert_nonstandard_port: bool,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        let allow = [
            // DNSBL / reputation lookups
            "spamhaus.org",
            "spamcop.net",
            "sorbs.net",
            "barracudacentral.org",
            "surbl.org",
            "uribl.com",
            "dnswl.org",
            "mailspike.net",
            "senderscore.com",
            "abuseat.org",
            "spameatingmonkey.net",
            "junkemailfilter.com",
            "hostkarma.com",
            "dnsbl.info",
            "cymru.com",
            "mailshell.net",
            // anti-virus and security cloud lookups
            "sophosxl.net",
            "avqs.mcafee.com",
            "avts.mcafee.com",
            "trendmicro.com",
            "e5.sk",
            "eset.com",
            "kaspersky-labs.com",
            "bitdefender.net",
            "webroot.com",
            "brightmail.com",
            "symantec.com",
            "norton.com",
            "crowdstrike.com",
            // CDN and cloud hostnames
            "akamaiedge.net",
            "akamai.net",
            "akadns.net",
            "edgekey.net",
            "edgesuite.net",
            "cloudfront.net",
            "amazonaws.com",
            "azureedge.net",
            "trafficmanager.net",
            "cloudapp.net",
            "windows.net",
            "googleusercontent.com",
            "googlevideo.com",
            "1e100.net",
            "gvt1.com",
            "fastly.net",
            "fastlylb.net",
            "msedge.net",
            "azurefd.net",
            "cloudflare.net",
            "cdn77.org",
            "llnwd.net",
        ];
        DnsTunnelConfig {
            enabled: true,
            window: Dur::secs(300),
            score_threshold: 10.0,
            min_suspicious_share: 0.3,
            long_label: 24,
            long_subdomain: 48,
            entropy_min_len: 20,
            entropy_threshold: 0.9,
            unique_subdomains: 300,
            max_groups: 50_000,
            max_names_per_group: 1024,
            allow_domains: allow.iter().map(|s| s.to_string()).collect(),
            allow_domains_extra: Vec::new(),
            ignore_suffixes: ["local", "arpa"].iter().map(|s| s.to_string()).collect(),
            allow_clients: Vec::new(),
            resolvers: Vec::new(),
            alert_nonstandard_port: true,
        }
    }
}

/// Figures of one subdomain part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubdomainFigures {
    /// Bytes in the subdomain part (dots included).
    pub len: usize,
    /// Longest label.
    pub longest_label: usize,
    /// Shannon entropy, bits per character (dots excluded).
    pub entropy: f64,
    /// Entropy ÷ the most the alphabet and length allow.
    pub normalised_entropy: f64,
    /// Size of the alphabet the characters fit in (16 hex, 32 base32, 36 alnum, 64, 256).
    pub alphabet: u32,
    /// Bytes outside `[A-Za-z0-9-_]`.
    pub non_hostname_bytes: usize,
}

/// Reduces a subdomain part to its figures. Allocation-free.
pub fn figures(sub: &[u8]) -> SubdomainFigures {
    let mut counts = [0u32; 256];
    let mut n = 0usize;
    let mut longest = 0usize;
    let mut cur = 0usize;
    let (mut hex, mut b32, mut alnum, mut b64) = (true, true, true, true);
    let mut non_host = 0usize;
    for &b in sub {
        if b == b'.' {
            longest = longest.max(cur);
            cur = 0;
            continue;
        }
        cur += 1;
        n += 1;
        counts[usize::from(b)] += 1;
        let l = b.to_ascii_lowercase();
        hex &= l.is_ascii_hexdigit();
        b32 &= l.is_ascii_lowercase() || (b'2'..=b'7').contains(&l);
        alnum &= l.is_ascii_alphanumeric();
        b64 &= b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'+' || b == b'/' || b == b'=';
        if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            non_host += 1;
        }
    }
    longest = longest.max(cur);
    let mut entropy = 0.0;
    if n > 0 {
        for &c in counts.iter().filter(|c| **c > 0) {
            let p = f64::from(c) / n as f64;
            entropy -= p * p.log2();
        }
    }
    let has_upper = sub.iter().any(|b| b.is_ascii_uppercase());
    let alphabet: u32 = if hex {
        16
    } else if b32 && !has_upper {
        32
    } else if alnum && !has_upper {
        36
    } else if b64 {
        64
    } else {
        256
    };
    let max_bits = (f64::from(alphabet)).min(n as f64).max(2.0).log2();
    let normalised = if n > 1 { (entropy / max_bits).min(1.0) } else { 0.0 };
    SubdomainFigures {
        len: sub.len(),
        longest_label: longest,
        entropy,
        normalised_entropy: normalised,
        alphabet,
        non_hostname_bytes: non_host,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    queries: u64,
    suspicious: u64,
    score: f64,
    distinct: u64,
    qtype_txt: u64,
    qtype_null: u64,
    qtype_other_rare: u64,
    query_bytes: u64,
    answer_bytes: u64,
    responses: u64,
    max_answer: u64,
}

impl Bucket {
    fn add(&mut self, o: &Bucket) {
        self.queries += o.queries;
        self.suspicious += o.suspicious;
        self.score += o.score;
        self.distinct += o.distinct;
        self.qtype_txt += o.qtype_txt;
        self.qtype_null += o.qtype_null;
        self.qtype_other_rare += o.qtype_other_rare;
        self.query_bytes += o.query_bytes;
        self.answer_bytes += o.answer_bytes;
        self.responses += o.responses;
        self.max_answer = self.max_answer.max(o.max_answer);
    }
}

struct Group {
    start: Timestamp,
    last: Timestamp,
    cur: Bucket,
    prev: Bucket,
    names: FxHashSet<u64>,
    prev_names: FxHashSet<u64>,
    longest_label: usize,
    longest_name: usize,
    entropy_sum: f64,
    entropy_n: u64,
    first_query: Timestamp,
    server: IpAddr,
    /// The latest suspicious query, kept for the alert (boxed: groups are many, examples
    /// few, and a small entry keeps the table dense).
    example: Option<Box<Example>>,
    alerted_score: f64,
}

/// A query an alert shows as its example.
struct Example {
    name: DnsName,
    qtype: u16,
    id: u16,
    figures: SubdomainFigures,
}

impl Example {
    /// Keeps `m` (reusing the allocation already there).
    fn keep(slot: &mut Option<Box<Example>>, m: &DnsMessage, figures: SubdomainFigures) {
        let e = Example { name: m.qname, qtype: m.qtype, id: m.id, figures };
        match slot {
            Some(b) => **b = e,
            None => *slot = Some(Box::new(e)),
        }
    }
}

/// The detector.
pub struct DnsTunnel {
    cfg: DnsTunnelConfig,
    allow: Vec<Vec<u8>>,
    ignore: Vec<Vec<u8>>,
    allow_clients: Vec<IpAddr>,
    resolvers: Vec<IpAddr>,
    /// Boxed: a group is ~330 bytes, and a table of pointers grows without moving (or leaving
    /// behind, as a hole the next, bigger table does not fit) the groups themselves.
    groups: FxHashMap<(IpAddr, u64), Box<Group>>,
    /// Forgotten groups, with their name sets' allocations, kept for reuse (boxed: they move
    /// between the table and the pool without being copied).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Group>>,
    evicted: u64,
}

/// Most forgotten groups kept for reuse (with their name sets' allocations).
const MAX_SPARE: usize = 4096;

fn hash_bytes_lower(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    for c in b {
        h.write_u8(c.to_ascii_lowercase());
    }
    h.finish()
}

fn rare_qtype_weight(t: u16) -> (f64, &'static str) {
    match t {
        qtype::NULL => (1.0, "null"),
        t if t >= qtype::PRIVATE_START => (1.0, "private"),
        qtype::TXT => (0.5, "txt"),
        qtype::CNAME | qtype::MX | qtype::SRV | qtype::ANY => (0.5, "rare"),
        _ => (0.0, ""),
    }
}

impl DnsTunnel {
    /// A detector with `cfg`.
    pub fn new(cfg: DnsTunnelConfig) -> Self {
        let allow =
            cfg.allow_domains.iter().chain(&cfg.allow_domains_extra).map(|s| s.as_bytes().to_vec()).collect();
        let ignore = cfg.ignore_suffixes.iter().map(|s| s.as_bytes().to_vec()).collect();
        let allow_clients = cfg.allow_clients.iter().filter_map(|s| s.parse().ok()).collect();
        let resolvers = cfg.resolvers.iter().filter_map(|s| s.parse().ok()).collect();
        DnsTunnel {
            cfg,
            allow,
            ignore,
            allow_clients,
            resolvers,
            groups: FxHashMap::default(),
            spare: Vec::new(),
            evicted: 0,
        }
    }

    fn is_suspicious(&self, f: &SubdomainFigures) -> bool {
        f.longest_label >= self.cfg.long_label
            || f.len >= self.cfg.long_subdomain
            || f.non_hostname_bytes > 0
            || (f.len >= self.cfg.entropy_min_len && f.normalised_entropy >= self.cfg.entropy_threshold)
    }

    fn evict_stalest(&mut self) {
        // Sample a handful of entries and drop the stalest: O(1), and a flood of fresh groups
        // cannot pin one old tunnel group in place for long.
        let victim = self.groups.iter().take(8).min_by_key(|(_, g)| g.last).map(|(k, _)| *k);
        if let Some(k) = victim {
            if let Some(g) = self.groups.remove(&k)
                && self.spare.len() < MAX_SPARE
            {
                self.spare.push(g);
            }
            self.evicted += 1;
        }
    }

    fn query(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, out: &mut Vec<Alert>) {
        let client = c.pkt.src;
        let server = c.pkt.dst;
        if self.allow_clients.contains(&client) {
            return;
        }
        let name = m.qname.as_bytes();
        if self.ignore.iter().any(|s| name_is_under(name, s))
            || self.allow.iter().any(|s| name_is_under(name, s))
        {
            return;
        }
        let domain = m.qname.registrable();
        let sub_len = name.len().saturating_sub(domain.len() + 1);
        let sub = if domain.len() < name.len() { &name[..sub_len] } else { &[][..] };
        let f = figures(sub);
        let suspicious = !sub.is_empty() && self.is_suspicious(&f);
        let key = (client, hash_bytes_lower(domain));
        if self.groups.len() >= self.cfg.max_groups && !self.groups.contains_key(&key) {
            self.evict_stalest();
        }
        let window = self.cfg.window.nanos();
        let ts = c.ts;
        let spare = &mut self.spare;
        let g = self.groups.entry(key).or_insert_with(|| {
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
        g.longest_label = g.longest_label.max(f.longest_label);
        g.longest_name = g.longest_name.max(name.len());
        if f.len >= self.cfg.entropy_min_len.min(12) {
            g.entropy_sum += f.normalised_entropy;
            g.entropy_n += 1;
        }
        let h = hash_bytes_lower(sub);
        let fresh = !sub.is_empty()
            && !g.prev_names.contains(&h)
            && g.names.len() < self.cfg.max_names_per_group
            && g.names.insert(h);
        if fresh {
            g.cur.distinct += 1;
        }
        if suspicious && fresh {
            g.cur.suspicious += 1;
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
        let share = if t.queries > 0 { t.suspicious as f64 / t.queries as f64 } else { 0.0 };
        let tunnel = t.score >= self.cfg.score_threshold && share >= self.cfg.min_suspicious_share;
        let volume = t.distinct >= self.cfg.unique_subdomains;
        if !(tunnel || volume) {
            return;
        }
        // Inside an episode, only a doubled figure can become an escalation: skip building an
        // alert the suppressor would drop (keeps the hot path cheap during a tunnel).
        let magnitude = if tunnel { t.score } else { t.distinct as f64 };
        if g.alerted_score > 0.0 && magnitude < g.alerted_score * 2.0 {
            return;
        }
        g.alerted_score = magnitude;
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
            .tunnel(c.pkt.tunnel.as_ref())
            .dns(example_id, example_name.to_lossy_string(), example_qtype)
            .score(score, threshold)
            .evidence("domain", &domain_text)
            .evidence("window_secs", self.cfg.window.0.as_secs())
            .evidence("queries", t.queries)
            .evidence("distinct_subdomains", t.distinct)
            .evidence("suspicious_subdomains", t.suspicious)
            .evidence("suspicious_share", round(share))
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
            .evidence("direct_to_authoritative", direct)
            .episode(format!("{client}|{domain_text}"), score)
            .finish();
        out.push(a);
    }

    fn response(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage) {
        let client = c.pkt.dst;
        let domain = m.qname.registrable();
        if let Some(g) = self.groups.get_mut(&(client, hash_bytes_lower(domain))) {
            g.cur.responses += 1;
            g.cur.answer_bytes += u64::from(m.answer_bytes);
            g.cur.max_answer = g.cur.max_answer.max(u64::from(m.largest_answer));
        }
    }
}

impl Detector for DnsTunnel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_dns(&mut self, c: &PacketCtx<'_, '_>, m: &DnsMessage, out: &mut Vec<Alert>) {
        if m.is_response {
            self.response(c, m);
            return;
        }
        if m.opcode != 0 {
            return;
        }
        let (sport, dport) = c.pkt.ports();
        let std_port = |p: u16| matches!(p, 53 | 5353 | 5355);
        if self.cfg.alert_nonstandard_port && !std_port(sport) && !std_port(dport) && c.src_home() {
            let a = Alert::build(NAME, &SIG_PORT, c.ts, c.pkt.src, c.pkt.dst)
                .proto(c.pkt.ip_proto)
                .ports(sport, dport)
                .flow(c.flow, c.ts)
                .tunnel(c.pkt.tunnel.as_ref())
                .dns(m.id, m.qname.to_lossy_string(), m.qtype)
                .score(1.0, 1.0)
                .evidence("port", dport)
                .evidence("expected_ports", [53, 5353, 5355])
                .episode(format!("{}|{}|{}", c.pkt.src, c.pkt.dst, dport), 1.0)
                .finish();
            out.push(a);
        }
        if !self.resolvers.is_empty()
            && c.src_home()
            && !c.dst_home()
            && !self.resolvers.contains(&c.pkt.dst)
            && !self.resolvers.contains(&c.pkt.src)
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
        self.query(c, m, out);
    }

    fn on_tick(&mut self, now: Timestamp, _f: &crate::flow::FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        let keep = self.cfg.window.nanos().saturating_mul(2);
        if now.secs().is_multiple_of(10) {
            let DnsTunnel { groups, spare, .. } = self;
            for (_, g) in groups.extract_if(|_, g| now.0.saturating_sub(g.last.0) >= keep) {
                if spare.len() < MAX_SPARE {
                    spare.push(g);
                }
            }
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats { tracked: self.groups.len() as u64, evicted: self.evicted }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_normalised_by_its_alphabet() {
        // 20 random bytes as hex, as `xxd -p` writes them.
        let f = figures(b"9f3c71e0a4b2d85c6e17f0a93b4d2c8e51f67a0b");
        assert_eq!(f.alphabet, 16);
        assert!(f.entropy < 4.0, "hex never exceeds 4 bits/char");
        assert!(f.normalised_entropy > 0.9, "{f:?}");
        // Hex of ASCII text has lower entropy, but its label length still gives it away.
        let text = figures(b"4a6f686e20446f6520736563726574206b65793a2031323334");
        assert!(text.longest_label >= DnsTunnelConfig::default().long_label);
    }

    #[test]
    fn ordinary_names_are_not_suspicious() {
        let d = DnsTunnel::new(DnsTunnelConfig::default());
        for s in [&b"www"[..], b"mail", b"login.accounts", b"fonts", b"clients6", b"r3---sn-4g5e6nzz"] {
            assert!(!d.is_suspicious(&figures(s)), "{}", String::from_utf8_lossy(s));
        }
        for s in [&b"vaaaakaa2xbeaqkfwg2mj6qfmd3xnp2zrjz5cvvlkbq4mrtgmfe"[..], b"a\xc3\xa9\x01bc"] {
            assert!(d.is_suspicious(&figures(s)), "{}", String::from_utf8_lossy(s));
        }
    }
}
