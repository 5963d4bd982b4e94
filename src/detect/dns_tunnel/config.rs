//! `[dns_tunnel]`: thresholds and allow-lists of the DNS tunnel detector.

use crate::units::{Dur, de_string_list};
use serde::Deserialize;

/// `[dns_tunnel]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DnsTunnelConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Sliding window per (client, domain). Longer catches slower tunnels but keeps more state.
    pub window: Dur,
    /// Score (weighted distinct suspicious names in the window) that raises the alert. Each
    /// suspicious name counts 1, +1 if it carries non-hostname bytes, +1 for NULL or
    /// private-use qtypes, +0.5 for TXT/CNAME/MX/SRV/ANY. Lower detects sooner, higher is
    /// quieter on odd-but-benign names.
    pub score_threshold: f64,
    /// Least share of the group's distinct names that must be suspicious. Keeps large benign
    /// domains with a few odd names quiet. Distinct names, not queries: repeating a query
    /// changes neither side, so padding a tunnel with repeats cannot dilute it.
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
    /// Flag DNS spoken on a port other than 53, 5353 (mDNS) and 5355 (LLMNR); the latter two
    /// only to multicast, link-local or home addresses. NetBIOS name service is not DNS.
    pub alert_nonstandard_port: bool,
    /// A query that repeats a name its sender (a home server) was asked this recently is a
    /// resolver forwarding it: attributed to the client that asked, not scored again, and the
    /// sender learned as a resolver. Longer matches slow upstreams and retries; shorter keeps
    /// fewer names (the table holds one entry per question to a home server in this time).
    pub forward_window: Dur,
    /// A learned resolver is forgotten after this long without a forward.
    pub learned_resolver_ttl: Dur,
    /// Most recent questions to home servers remembered per worker for matching forwards
    /// (~40 B each); the oldest goes first (counted). Too few on a busy network misses forwards,
    /// and the resolver's leg is scored as its own.
    pub max_forward_names: usize,
    /// Most learned resolvers per worker; the least recently active goes (counted).
    pub max_learned_resolvers: usize,
    /// Flow records only (no names to read): the window over which one home client's DNS
    /// traffic (UDP/TCP 53) to one server is summed. Longer catches slower tunnels.
    pub flow_window: Dur,
    /// Flow records only: query bytes (IP) from one client to one server in `flow_window` that,
    /// with large queries, raise the flow-volume signature. Lower catches smaller exfiltration
    /// sooner; a busy client's lookups reach it too, so the query size decides.
    pub flow_min_bytes_out: crate::units::Size,
    /// Flow records only: mean IP size of those queries (bytes per packet) at or above which
    /// they carry data. A lookup of a usual name is 60-100 bytes; tunnels fill their labels
    /// (iodine's ~250, 60-hex-character labels ~150). Lower catches shorter encodings but
    /// flags clients resolving long names.
    pub flow_min_query_bytes: u64,
    /// Flow records only: (client, server) pairs tracked at once (least recently seen go).
    pub max_flow_pairs: usize,
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
            forward_window: Dur::secs(10),
            learned_resolver_ttl: Dur::secs(3600),
            max_forward_names: 16_384,
            max_learned_resolvers: 1024,
            flow_window: Dur(std::time::Duration::from_secs(600)),
            flow_min_bytes_out: crate::units::Size(12_000),
            flow_min_query_bytes: 120,
            max_flow_pairs: 65_536,
        }
    }
}

impl crate::detect::DetectorConfig for DnsTunnelConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        use crate::validate::{DAY, ms};
        ck.dur("window", self.window, ms(1000), 7 * DAY);
        ck.range("score_threshold", self.score_threshold, 0.001, 1e6);
        ck.share("min_suspicious_share", self.min_suspicious_share);
        ck.count("long_label", self.long_label, 1, 63);
        ck.count("long_subdomain", self.long_subdomain, 1, 253);
        ck.count("entropy_min_len", self.entropy_min_len, 1, 253);
        ck.share("entropy_threshold", self.entropy_threshold);
        ck.cap("unique_subdomains", self.unique_subdomains);
        ck.cap("max_groups", self.max_groups);
        ck.cap("max_names_per_group", self.max_names_per_group);
        ck.names("allow_domains", &self.allow_domains);
        ck.names("allow_domains_extra", &self.allow_domains_extra);
        ck.names("ignore_suffixes", &self.ignore_suffixes);
        ck.addrs("allow_clients", &self.allow_clients);
        ck.addrs("resolvers", &self.resolvers);
        ck.dur("forward_window", self.forward_window, ms(100), ms(120_000));
        ck.dur("learned_resolver_ttl", self.learned_resolver_ttl, ms(1000), 7 * DAY);
        ck.cap("max_forward_names", self.max_forward_names);
        ck.cap("max_learned_resolvers", self.max_learned_resolvers);
        ck.dur("flow_window", self.flow_window, ms(1000), 7 * DAY);
        ck.count("flow_min_bytes_out", self.flow_min_bytes_out.0, 1, 1 << 40);
        ck.count("flow_min_query_bytes", self.flow_min_query_bytes, 29, 65_535);
        ck.cap("max_flow_pairs", self.max_flow_pairs);
    }
}
