//! `[beacon]`: when a series of check-ins from a home host to one destination is periodic enough
//! to report, and what is periodic by design and stays quiet.

use crate::units::{Dur, de_nets, de_ports, de_string_list};
use ipnet::IpNet;
use serde::Deserialize;

/// `[beacon]`: what makes a series of check-ins a beacon, what never counts, and the caps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeaconConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Check-ins a series needs before it is scored. Fewer detects sooner (a 60 s beacon needs
    /// `min_checkins` minutes) and reports more chance regularities of a few connections.
    pub min_checkins: u32,
    /// A series must span at least this long (first to latest check-in) to alert: a few seconds
    /// of scripted requests are not a check-in schedule. Longer delays fast beacons (a 10 s one
    /// needs 7 gaps = 70 s anyway) and quiets longer bursts of automation.
    pub min_duration: Dur,
    /// Score (0-1) at which a series is a beacon. Lower catches more jittered beacons, and more
    /// software that polls (mail clients, chat, dashboards).
    pub score_threshold: f64,
    /// A gap "fits" when within this fraction of the median gap of one, two or three medians
    /// (missed check-ins). Wider tolerates more jitter (a 50 % jitter needs ~0.35 for most gaps
    /// to fit) and lets more irregular series fit.
    pub jitter_tolerance: f64,
    /// Check-ins closer than this to the previous one merge into it (a page's parallel
    /// connections, a beacon's retry), so intervals below it are never scored. Lower scores
    /// faster strobes and more bursts of ordinary traffic.
    pub min_interval: Dur,
    /// A gap longer than this restarts the series (and a series this idle is forgotten after
    /// twice as long). Longer follows slow beacons (hourly, daily) and holds more state.
    pub max_interval: Dur,
    /// Inside one connection, home-sent payload after at least this much silence of the pair is
    /// a check-in (heartbeats in a persistent session). Shorter splits chatty sessions into many
    /// check-ins; longer misses fast heartbeats.
    pub burst_silence: Dur,
    /// Destinations with at most this many home hosts talking to them raise severity to 1 (a
    /// beacon only one machine has is worse than a service the whole office polls).
    pub rare_hosts: usize,
    /// Destinations with at least this many home hosts (at most 8 are counted) lower severity
    /// to 3.
    pub common_hosts: usize,
    /// Names (TLS SNI, HTTP Host, DNS names) under these suffixes never form a series, and the
    /// addresses they resolve to or are served from are muted: NTP, OS and browser updates,
    /// telemetry, push channels, connectivity checks, certificate status, monitoring agents.
    /// Replacing the list drops the defaults; use `allow_names_extra` to add.
    #[serde(deserialize_with = "de_string_list")]
    pub allow_names: Vec<String>,
    /// Extra suffixes for `allow_names`.
    #[serde(deserialize_with = "de_string_list")]
    pub allow_names_extra: Vec<String>,
    /// Destination addresses (CIDRs) never scored: multicast and broadcast by default; add your
    /// own NTP servers, proxies, resolvers, collectors.
    #[serde(deserialize_with = "de_nets")]
    pub allow_addrs: Vec<IpNet>,
    /// Home hosts (CIDRs) never scored (your own pollers and monitoring servers).
    #[serde(deserialize_with = "de_nets")]
    pub allow_hosts: Vec<IpNet>,
    /// Server ports whose flows are never check-ins: DNS (judged per domain instead), DHCP,
    /// NTP, NetBIOS, SSDP, mDNS — periodic by design.
    #[serde(deserialize_with = "de_ports")]
    pub allow_ports: Vec<u16>,
    /// Most (home host, destination) series per worker (~450 bytes each); a full table evicts
    /// the stalest of a few sampled (counted).
    pub max_pairs: usize,
    /// Most remembered address → name mappings (from DNS answers, SNI, Host) and muted
    /// addresses per worker.
    pub max_names: usize,
    /// Most destinations whose home hosts are counted for prevalence, per worker.
    pub max_dests: usize,
}

/// Suffixes periodic by design (see [`BeaconConfig::allow_names`]).
pub(crate) const DEFAULT_ALLOW_NAMES: &[&str] = &[
    // time
    "ntp.org",
    "time.windows.com",
    "time.apple.com",
    "time.google.com",
    "ntp.ubuntu.com",
    // OS and browser updates
    "windowsupdate.com",
    "update.microsoft.com",
    "delivery.mp.microsoft.com",
    "mesu.apple.com",
    "swscan.apple.com",
    "deb.debian.org",
    "security.debian.org",
    "archive.ubuntu.com",
    "security.ubuntu.com",
    "api.snapcraft.io",
    "update.googleapis.com",
    "clients2.google.com",
    "aus5.mozilla.org",
    // telemetry, push channels, connectivity and certificate checks
    "events.data.microsoft.com",
    "settings-win.data.microsoft.com",
    "telemetry.mozilla.org",
    "push.services.mozilla.com",
    "push.apple.com",
    "mtalk.google.com",
    "connectivitycheck.gstatic.com",
    "detectportal.firefox.com",
    "msftconnecttest.com",
    "captive.apple.com",
    "ocsp.digicert.com",
    "ocsp.pki.goog",
    "ocsp.apple.com",
    // monitoring agents
    "datadoghq.com",
    "datadoghq.eu",
    "nr-data.net",
    "newrelic.com",
    "ingest.sentry.io",
    "grafana.net",
];

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            enabled: true,
            min_checkins: 8,
            min_duration: Dur::secs(60),
            score_threshold: 0.75,
            jitter_tolerance: 0.35,
            min_interval: Dur::secs(1),
            max_interval: Dur::secs(6 * 3600),
            burst_silence: Dur::secs(5),
            rare_hosts: 2,
            common_hosts: 8,
            allow_names: DEFAULT_ALLOW_NAMES.iter().map(|s| s.to_string()).collect(),
            allow_names_extra: Vec::new(),
            allow_addrs: ["224.0.0.0/4", "255.255.255.255/32", "ff00::/8"]
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            allow_hosts: Vec::new(),
            allow_ports: vec![53, 67, 68, 123, 137, 138, 1900, 5353],
            max_pairs: 16_384,
            max_names: 16_384,
            max_dests: 16_384,
        }
    }
}

impl crate::detect::DetectorConfig for BeaconConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        use crate::validate::{DAY, ms};
        ck.count("min_checkins", self.min_checkins, 3, 32);
        ck.dur("min_duration", self.min_duration, ms(0), 7 * DAY);
        ck.range("score_threshold", self.score_threshold, 0.0, 1.01);
        ck.range("jitter_tolerance", self.jitter_tolerance, 0.0, 1.0);
        ck.dur("min_interval", self.min_interval, ms(1), DAY);
        ck.dur("max_interval", self.max_interval, ms(1000), 7 * DAY);
        if self.min_interval.0 >= self.max_interval.0 {
            ck.fail(
                "min_interval",
                humantime::format_duration(self.min_interval.0),
                "must be shorter than max_interval",
            );
        }
        ck.dur("burst_silence", self.burst_silence, ms(100), DAY);
        ck.count("rare_hosts", self.rare_hosts, 1, 1_000_000);
        ck.count("common_hosts", self.common_hosts, 1, 1_000_000);
        ck.names("allow_names", &self.allow_names);
        ck.names("allow_names_extra", &self.allow_names_extra);
        ck.ports("allow_ports", &self.allow_ports);
        ck.cap("max_pairs", self.max_pairs);
        ck.cap("max_names", self.max_names);
        ck.cap("max_dests", self.max_dests);
    }
}
