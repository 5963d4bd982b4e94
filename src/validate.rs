//! Range checks for every config key, and syntax checks for every address, network, endpoint and
//! name list, run once when the config is read (after `-c` and every `--set`): a typo is an error
//! naming the key, the value and where it came from (the file's line, or `--set`), never a
//! silently ignored entry or a detector quietly switched off.
//!
//! Each section checks its own keys: the core sections here, each detector's in its
//! `DetectorConfig::validate` (in its folder's `config.rs`), reached through the detector table;
//! [`Config::problems`] calls them all, in one place.

use crate::config::{AlertConfig, CaptureConfig, Config, FlowConfig, GeneralConfig};
use crate::units::{Dur, Size};
use std::fmt::Display;
use std::time::Duration;

/// One bad value.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted key, `dns_tunnel.score_threshold`.
    pub key: String,
    /// The value as siphon read it.
    pub value: String,
    /// What it must be.
    pub reason: String,
}

/// Collects problems while each section checks its keys.
#[derive(Debug, Default)]
pub struct Checker {
    section: &'static str,
    /// What was found wrong, in key order.
    pub problems: Vec<Problem>,
}

/// One million.
pub(crate) const MILLION: u64 = 1_000_000;
/// A table cap above this is a typo (each entry costs tens to hundreds of bytes per worker).
pub(crate) const MAX_CAP: u64 = 100 * MILLION;
/// A day.
pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// `n` milliseconds.
pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Checker {
    /// Keys that follow belong to `[section]`.
    pub fn section(&mut self, section: &'static str) -> &mut Self {
        self.section = section;
        self
    }

    /// Records a problem with `key` of the current section.
    pub fn fail(&mut self, key: &str, value: impl Display, reason: impl Into<String>) {
        self.problems.push(Problem {
            key: format!("{}.{key}", self.section),
            value: value.to_string(),
            reason: reason.into(),
        });
    }

    /// `lo <= v <= hi`.
    pub fn range<T: PartialOrd + Display + Copy>(&mut self, key: &str, v: T, lo: T, hi: T) {
        // Written so that NaN fails too.
        if !(v >= lo && v <= hi) {
            self.fail(key, v, format!("must be between {lo} and {hi}"));
        }
    }

    /// A count or cap: `lo <= v <= hi`.
    pub fn count(&mut self, key: &str, v: impl TryInto<u64> + Display + Copy, lo: u64, hi: u64) {
        let n = v.try_into().unwrap_or(u64::MAX);
        if !(lo..=hi).contains(&n) {
            self.fail(key, v, format!("must be between {lo} and {hi}"));
        }
    }

    /// A table cap: at least 1, at most [`MAX_CAP`].
    pub fn cap(&mut self, key: &str, v: impl TryInto<u64> + Display + Copy) {
        self.count(key, v, 1, MAX_CAP);
    }

    /// A probability or share, `0..=1`.
    pub fn share(&mut self, key: &str, v: f64) {
        self.range(key, v, 0.0, 1.0);
    }

    /// A duration between `lo` and `hi`.
    pub fn dur(&mut self, key: &str, v: Dur, lo: Duration, hi: Duration) {
        if v.0 < lo || v.0 > hi {
            self.fail(key, v, format!("must be between {} and {}", Dur(lo), Dur(hi)));
        }
    }

    /// A size of at least `lo` bytes (and at most a petabyte).
    pub fn size(&mut self, key: &str, v: Size, lo: u64) {
        if v.0 < lo || v.0 > 1_000_000_000_000_000 {
            self.fail(key, v, format!("must be between {} and 1PB", Size(lo)));
        }
    }

    /// Ports: none may be 0.
    pub fn ports(&mut self, key: &str, ports: &[u16]) {
        if ports.contains(&0) {
            self.fail(key, "0", "ports are 1..65535");
        }
    }

    /// Each entry an IP address.
    pub fn addrs(&mut self, key: &str, items: &[String]) {
        for s in items {
            if s.trim().parse::<std::net::IpAddr>().is_err() {
                self.fail(key, format!("{s:?}"), "not an IP address");
            }
        }
    }

    /// Each entry an IP address or a CIDR network.
    pub fn nets_or_addrs(&mut self, key: &str, items: &[String]) {
        for s in items {
            let s2 = s.trim();
            if s2.parse::<ipnet::IpNet>().is_err() && s2.parse::<std::net::IpAddr>().is_err() {
                self.fail(key, format!("{s:?}"), "not an IP address or CIDR network");
            }
        }
    }

    /// Each entry `ADDR` or `ADDR:PORT` (`[v6]:PORT`).
    pub fn endpoints(&mut self, key: &str, items: &[String]) {
        for s in items {
            let s2 = s.trim();
            if s2.parse::<std::net::SocketAddr>().is_err() && s2.parse::<std::net::IpAddr>().is_err() {
                self.fail(key, format!("{s:?}"), "not ADDR or ADDR:PORT ([ADDR]:PORT for IPv6)");
            }
        }
    }

    /// Each entry a DNS name (labels of letters, digits, `-` and `_`, 1..63 bytes; 253 in all).
    pub fn names<'a>(&mut self, key: &str, items: impl IntoIterator<Item = &'a String>) {
        for s in items {
            if !is_dns_name(s) {
                self.fail(key, format!("{s:?}"), "not a DNS name (like example.com)");
            }
        }
    }
}

/// A plausible DNS name: dot-separated labels of `[A-Za-z0-9_-]`, 1..=63 bytes, 253 in all; a
/// trailing dot is allowed.
pub(crate) fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Config {
    /// Every bad value in the config, each section checked by its own `validate`.
    pub fn problems(&self) -> Vec<Problem> {
        let mut ck = Checker::default();
        self.general.validate(ck.section("general"));
        self.capture.validate(ck.section("capture"));
        self.flow.validate(ck.section("flow"));
        self.alerts.validate(ck.section("alerts"));
        self.netflow.validate(ck.section("netflow"));
        self.outputs.validate(&mut ck);
        // [egress] (the shared policy) holds only typed lists, parsed as they are read.
        self.detectors.validate(&mut ck);
        ck.problems
    }
}

impl GeneralConfig {
    /// Checks `[general]`.
    pub fn validate(&self, ck: &mut Checker) {
        ck.count("max_mirror_pairs", self.max_mirror_pairs, 0, MAX_CAP);
        ck.ports("vxlan_ports", &self.vxlan_ports);
        ck.count("max_tunnel_depth", self.max_tunnel_depth, 1, 16);
    }
}

impl CaptureConfig {
    /// Checks `[capture]`.
    pub fn validate(&self, ck: &mut Checker) {
        ck.dur("flush_interval", self.flush_interval, ms(1), ms(10_000));
    }
}

impl FlowConfig {
    /// Checks `[flow]`.
    pub fn validate(&self, ck: &mut Checker) {
        ck.cap("max_flows", self.max_flows);
        ck.dur("idle_timeout", self.idle_timeout, ms(1000), 7 * DAY);
        ck.dur("closed_timeout", self.closed_timeout, ms(0), DAY);
        ck.dur("tick_interval", self.tick_interval, ms(10), Duration::from_secs(3600));
        ck.count("max_tls_reassembly", self.max_tls_reassembly, 0, MAX_CAP);
        ck.count("max_fragmented", self.max_fragmented, 0, MAX_CAP);
        ck.dur("fragment_timeout", self.fragment_timeout, ms(100), Duration::from_secs(3600));
    }
}

impl crate::config::NetflowConfig {
    /// Checks `[netflow]`.
    pub fn validate(&self, ck: &mut Checker) {
        ck.ports("ports", &self.ports);
        ck.count("sampling", self.sampling, 1, MILLION);
        ck.count("max_templates", self.max_templates, 1, 65_536);
        ck.count("max_pending", self.max_pending, 1, 65_536);
        ck.count("max_exporters", self.max_exporters, 1, MILLION);
        ck.dur("flow_timeout", self.flow_timeout, ms(1000), 7 * DAY);
        ck.count("reorder_records", self.reorder_records, 1, 10 * MILLION);
    }
}

impl AlertConfig {
    /// Checks `[alerts]`.
    pub fn validate(&self, ck: &mut Checker) {
        ck.dur("episode_timeout", self.episode_timeout, ms(0), 365 * DAY);
        if !(self.escalation_factor == 0.0 || (1.0..=1e9).contains(&self.escalation_factor)) {
            ck.fail("escalation_factor", self.escalation_factor, "must be 0 (off) or between 1 and 1e9");
        }
        ck.count("max_per_minute", self.max_per_minute, 1, MILLION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass() {
        assert_eq!(Config::default().problems(), []);
    }

    #[test]
    fn out_of_range_and_mistyped_values_are_named() {
        use crate::detect::{dns_tunnel::DnsTunnelConfig, icmp_tunnel::IcmpTunnelConfig};
        use crate::detect::{proxyware::ProxywareConfig, scan::ScanConfig};
        let mut c = Config::default();
        c.general.max_tunnel_depth = 99;
        let d = c.detectors.get_mut::<DnsTunnelConfig>().unwrap();
        d.score_threshold = -3.0;
        d.resolvers = vec!["10.0.0.53".into(), "10.0.0.5e".into()];
        d.allow_domains_extra = vec!["bad domain.com".into()];
        c.detectors.get_mut::<IcmpTunnelConfig>().unwrap().allow_hosts = vec!["10.99.0.1OO".into()];
        c.detectors.get_mut::<ProxywareConfig>().unwrap().tor_relays =
            vec!["192.0.2.1:9001".into(), "192.0.2.1:99999".into()];
        c.detectors.get_mut::<ScanConfig>().unwrap().theta1 = 0.9;
        let keys: Vec<String> = c.problems().into_iter().map(|p| format!("{}={}", p.key, p.value)).collect();
        assert_eq!(
            keys,
            [
                "general.max_tunnel_depth=99",
                "dns_tunnel.score_threshold=-3",
                "dns_tunnel.allow_domains_extra=\"bad domain.com\"",
                "dns_tunnel.resolvers=\"10.0.0.5e\"",
                "icmp_tunnel.allow_hosts=\"10.99.0.1OO\"",
                "proxyware.tor_relays=\"192.0.2.1:99999\"",
                "scan.theta1=0.9",
            ]
        );
    }

    #[test]
    fn dns_names() {
        for ok in ["example.com", "local", "_dmarc.example.com", "a-b.example.", "xn--bcher-kva.example"] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in ["", ".", "a..b", "bad domain.com", "a/b", &"x".repeat(64)] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
