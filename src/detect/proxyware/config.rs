//! `[proxyware]` config: the service list, proxy and Tor endpoints, and the shape thresholds.

use crate::units::de_string_list;
use crate::units::{Dur, Size};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The built-in list: service → the domains its agents, dashboards and relays use. Every
/// service named in MITRE's T1496.002 material (Honeygain, IPRoyal Pawns, Peer2Profit,
/// PacketStream, Traffmonetizer, EarnApp, Repocket, Bitping, Mysterium) and the other
/// bandwidth-sharing apps shipped side by side with them in the same "passive income" bundles.
/// Matching is by domain suffix on label boundaries.
pub(crate) const DEFAULT_SERVICES: &[(&str, &[&str])] = &[
    ("Bitping", &["bitping.com"]),
    ("EarnApp", &["earnapp.com"]),
    ("EarnFM", &["earn.fm"]),
    ("GagaNode", &["gaganode.com"]),
    ("Grass", &["getgrass.io", "grass.io", "wynd.network"]),
    ("Honeygain", &["honeygain.com", "honeygain.me"]),
    ("IPRoyal Pawns", &["pawns.app", "iproyal.com"]),
    ("Mysterium", &["mysterium.network", "mystnodes.com", "mystnodes.co"]),
    ("PacketShare", &["packetshare.io"]),
    ("PacketStream", &["packetstream.io"]),
    ("Peer2Profit", &["peer2profit.com", "p2pr.me"]),
    ("ProxyBase", &["proxybase.org"]),
    ("ProxyLite", &["proxylite.ru"]),
    ("ProxyRack", &["proxyrack.com"]),
    ("Repocket", &["repocket.com", "repocket.co"]),
    ("Speedshare", &["speedshare.app"]),
    ("Traffmonetizer", &["traffmonetizer.com"]),
    ("Wipter", &["wipter.com"]),
];

/// `[proxyware]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ProxywareConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Service name → domain suffixes. A DNS name, TLS SNI or HTTP Host equal to a suffix or
    /// under it (`api.honeygain.com`) names that service; `nothoneygain.com` and
    /// `honeygain.com.evil.net` do not. Setting this table replaces the built-in list; to add
    /// to it, use `domains_extra`. A longer list catches more services but each entry is only
    /// as good as its upkeep: a domain that changes hands turns into false positives.
    pub domains: BTreeMap<String, Vec<String>>,
    /// Added to `domains` (same form), so a config can extend the built-in list.
    pub domains_extra: BTreeMap<String, Vec<String>>,
    /// Hosts whose DNS lookups are not attributed to them: the network's own recursive
    /// resolvers and forwarders look names up for every client, so the client is the one that
    /// is reported (from its own query). Leaving a resolver out costs one extra alert per
    /// service, about the resolver.
    #[serde(deserialize_with = "de_string_list")]
    pub ignore_clients: Vec<String>,
    /// Sanctioned proxies (`addr` or `addr:port`, e.g. a cloud web gateway): a home host using
    /// them is not reported, and a home host serving proxy traffic to them is not either.
    #[serde(deserialize_with = "de_string_list")]
    pub allow_proxies: Vec<String>,
    /// Report a home host that *uses* an external SOCKS or HTTP proxy (HTTP `CONNECT` or an
    /// absolute-URI request to an outside address). Off where users may pick their own proxy;
    /// on, it also catches malware and proxyware clients chaining through a proxy.
    pub alert_proxy_use: bool,
    /// Ports on which an inbound, two-way session from outside to a home host counts as proxy
    /// service even when the protocol is not recognised (SOCKS 1080, Squid 3128, Privoxy 8118,
    /// tinyproxy 8888, Shadowsocks 8388, Tor 9050). More ports find more proxies and more
    /// ordinary services that happen to use them.
    pub proxy_ports: Vec<u16>,
    /// Distinct outside clients in `window` that must hold such sessions before the proxy-port
    /// signature fires. 1 reports any single odd session; 2 keeps one curious scanner quiet.
    pub inbound_min_clients: u64,
    /// Known Tor relays (`addr` or `addr:port`, e.g. from the consensus): any TCP session of a
    /// home host with one is reported. Empty: only the ClientHello shape finds Tor.
    #[serde(deserialize_with = "de_string_list")]
    pub tor_relays: Vec<String>,
    /// Ports on which a Tor-shaped ClientHello (server name `www.<random>.com`, no ALPN) is
    /// reported. Relays listen mostly on 9001 and 443. Empty: every port (more Tor found over
    /// unusual ports, and more odd non-browser clients reported).
    pub tor_ports: Vec<u16>,
    /// Window of the relay-shape and proxy-port figures. Longer catches slower relays, keeps
    /// more state, and lets unrelated traffic add up.
    pub window: Dur,
    /// Distinct outside peers that must exchange payload with a home host in `window` before it
    /// can look like a relay. An ordinary busy client talks to a few servers; a relay to many.
    pub relay_min_peers: u64,
    /// Sessions with outside peers, open at the same time and at least `relay_min_session_age`
    /// old, that a relay must hold at some moment in `window`.
    pub relay_min_concurrent: u64,
    /// Age from which an open session counts as long-lived for `relay_min_concurrent`.
    pub relay_min_session_age: Dur,
    /// Bytes passed through in `window`: the smaller of the bytes the host took in on
    /// download-heavy sessions and gave out on upload-heavy ones. A download or an upload alone
    /// passes nothing through; a relay passes what it fetches. Lower finds quieter relays.
    pub relay_min_bytes: Size,
    /// Least ratio of bytes out to bytes in (or in to out, whichever is ≤ 1) over the host's
    /// sessions with outside peers in `window`. 1.0 = perfectly symmetric. Browsing is ~0.05,
    /// a relay ~0.8–1.0.
    pub relay_min_balance: f64,
    /// Outbound rate (bytes per second) that counts as heavy for the throughput signature.
    pub rate_threshold: Size,
    /// How long the outbound rate must stay at or above `rate_threshold`. Longer ignores
    /// backups and uploads that finish; shorter reports sooner.
    pub rate_sustain: Dur,
    /// A host is "normally quiet" when its baseline outbound rate (bytes per second, a moving
    /// average over `baseline_window`) is at most this before the heavy run starts.
    pub quiet_rate: Size,
    /// Time constant of the per-host baseline. Longer remembers quiet hours for longer.
    pub baseline_window: Dur,
    /// History a host needs before its baseline is trusted; without it, no throughput alert
    /// (a host first seen already busy has no quiet baseline to depart from).
    pub baseline_min_history: Dur,
    /// Most home hosts tracked per worker; the stalest is evicted (counted).
    pub max_hosts: usize,
    /// Most proxy handshakes followed at once per worker; further ones are dropped (counted).
    pub max_handshakes: usize,
}

impl Default for ProxywareConfig {
    fn default() -> Self {
        ProxywareConfig {
            enabled: true,
            domains: DEFAULT_SERVICES
                .iter()
                .map(|(s, d)| (s.to_string(), d.iter().map(|x| x.to_string()).collect()))
                .collect(),
            domains_extra: BTreeMap::new(),
            ignore_clients: Vec::new(),
            allow_proxies: Vec::new(),
            alert_proxy_use: true,
            proxy_ports: vec![1080, 1081, 3128, 3129, 8118, 8388, 8888, 9050],
            inbound_min_clients: 2,
            tor_relays: Vec::new(),
            tor_ports: vec![80, 443, 8443, 9001, 9002, 9030, 9100],
            window: Dur::secs(300),
            relay_min_peers: 20,
            relay_min_concurrent: 8,
            relay_min_session_age: Dur::secs(10),
            relay_min_bytes: Size(2_000_000),
            relay_min_balance: 0.5,
            rate_threshold: Size(1_000_000),
            rate_sustain: Dur::secs(300),
            quiet_rate: Size(50_000),
            baseline_window: Dur::secs(3600),
            baseline_min_history: Dur::secs(1800),
            max_hosts: 50_000,
            max_handshakes: 4096,
        }
    }
}

impl crate::detect::DetectorConfig for ProxywareConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        use crate::validate::{DAY, MAX_CAP, ms};
        ck.names("domains", self.domains.values().flatten());
        ck.names("domains_extra", self.domains_extra.values().flatten());
        ck.addrs("ignore_clients", &self.ignore_clients);
        ck.endpoints("allow_proxies", &self.allow_proxies);
        ck.ports("proxy_ports", &self.proxy_ports);
        ck.count("inbound_min_clients", self.inbound_min_clients, 1, MAX_CAP);
        ck.endpoints("tor_relays", &self.tor_relays);
        ck.ports("tor_ports", &self.tor_ports);
        ck.dur("window", self.window, ms(1000), 7 * DAY);
        ck.count("relay_min_peers", self.relay_min_peers, 1, MAX_CAP);
        ck.count("relay_min_concurrent", self.relay_min_concurrent, 1, MAX_CAP);
        ck.dur("relay_min_session_age", self.relay_min_session_age, ms(0), 7 * DAY);
        ck.size("relay_min_bytes", self.relay_min_bytes, 0);
        ck.share("relay_min_balance", self.relay_min_balance);
        ck.size("rate_threshold", self.rate_threshold, 1);
        ck.dur("rate_sustain", self.rate_sustain, ms(1000), 7 * DAY);
        ck.size("quiet_rate", self.quiet_rate, 0);
        ck.dur("baseline_window", self.baseline_window, ms(1000), 365 * DAY);
        ck.dur("baseline_min_history", self.baseline_min_history, ms(0), 365 * DAY);
        ck.cap("max_hosts", self.max_hosts);
        ck.cap("max_handshakes", self.max_handshakes);
    }
}
