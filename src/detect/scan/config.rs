//! `[scan]` configuration: the random-walk parameters, the windows, the caps and the allow-list.

use crate::units::{Dur, de_nets};
use ipnet::IpNet;
use serde::Deserialize;

/// `[scan]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ScanConfig {
    /// Run this detector.
    pub enabled: bool,
    /// A source quiet (no new target) for this long ends its episode: walks, counts and the
    /// targets it has seen are forgotten. Longer catches slower scans (a probe a minute) but lets
    /// old failures add up with new ones; Zeek uses 5 minutes.
    pub window: Dur,
    /// A first contact with no answer after this long counts as failed (packet time, resolved on
    /// ticks). Shorter decides sooner on filtered targets but mistakes slow answers (satellite,
    /// congested links) for failures; TCP retransmits its SYN after 1 s.
    pub probe_timeout: Dur,
    /// TRW θ0: how often a benign host's first contacts succeed. Higher makes each failure more
    /// damning (faster detection) but busy hosts with some dead peers look worse.
    pub theta0: f64,
    /// TRW θ1: how often a scanner's first contacts succeed. Lower makes each success more
    /// exculpatory; a scanner of a well-populated range succeeds more often than this.
    pub theta1: f64,
    /// TRW P_D, the detection probability the walk's upper threshold is set for (η1 = P_D / P_F).
    /// Higher needs more failures before deciding.
    pub detection_probability: f64,
    /// TRW P_F, the false-positive probability the thresholds are set for. Lower needs more
    /// failures before deciding; the lower threshold η0 = (1 - P_D) / (1 - P_F) bounds how much
    /// past success can excuse a later scan.
    pub false_positive_probability: f64,
    /// A failed port probe that no operating-system stack sends (nmap's, masscan's and zmap's raw
    /// SYNs, FIN, NULL, Xmas, empty UDP) counts this many failures. Higher detects raw scanners
    /// sooner; 1.0 treats them like any failed connection. Host-discovery probes (ACK ping,
    /// echo, timestamp) always count 1.
    pub crafted_weight: f64,
    /// A refused or unanswered UDP probe with a payload counts this much (UDP apps probe for
    /// services legitimately: VoIP, NAT traversal, discovery). Lower is quieter on them, slower
    /// on UDP scans that send real payloads.
    pub udp_weight: f64,
    /// The per-host (vertical) walk alerts at this multiple of the TRW threshold (1.5: 5 net
    /// failed connections, 4 crafted). Above 1, because a client trying a few closed ports on
    /// one server is more common than one trying the same closed port on many servers.
    pub vertical_factor: f64,
    /// The per-source walk over every target (block scans spread over many ports and hosts)
    /// alerts at this multiple of the TRW threshold. It counts port probes only (not host
    /// discovery), and only failures on service ports or of crafted probes, so peer-to-peer
    /// clients failing to reach random high ports stay out.
    pub block_factor: f64,
    /// An unanswered TCP probe counts this much when the return path is not visible (a SPAN that
    /// sees one direction, or a source whose connections only ever show its own side): then
    /// silence is no evidence. Unanswered UDP/ICMP count nothing then. Lower is quieter on
    /// one-way taps; higher catches stateless scanners there sooner.
    pub blind_weight: f64,
    /// Sweep: distinct hosts of one /24 (IPv6 /64) touched within `sweep_window` that raise the
    /// alert: echoes and crafted probes (counting twice: empty echoes, raw SYNs, nmap's ACK
    /// ping, empty UDP) when sent, even if every host answers; other probes when they fail.
    /// Lower catches small sweeps, higher keeps monitoring servers that ping a subnet quiet.
    pub sweep_hosts: u32,
    /// Window of the echo-sweep count.
    pub sweep_window: Dur,
    /// Silent ports of one host after which silence counts fully, even from a source that never
    /// got an answer or on a one-way tap (a UDP scan of an address that does not exist, or
    /// behind a firewall that drops). Lower catches smaller silent scans; higher keeps clients
    /// trying a few dead services of one server (mail ports, STUN/WebRTC candidates) quiet.
    pub fanout_ports: u32,
    /// A connection to an address the host resolved within this long is grouped with the
    /// name's other addresses: trying them in turn (failover, happy eyeballs) is one first
    /// contact per port. Longer covers clients that cache answers longer; shorter lets a
    /// scanner that resolves names first hide less.
    pub resolved_window: Dur,
    /// Most (host, resolved address) pairs remembered per worker (about 80 bytes each); the
    /// least recently resolved goes first (counted). Higher covers busier resolvers' clients.
    pub max_resolved: usize,
    /// Most sources tracked per worker (active within `window`); the stalest is evicted
    /// (counted). A tracked source costs 312 bytes plus, while it needs them, lists past two
    /// walks (120-184 bytes each) and a targets filter past four targets (264 bytes), borrowed
    /// from shelves the detector reuses; a source's first contact is held apart, in one of
    /// `max_sources / 8` newcomer slots (about 130 bytes each). Higher remembers more quiet
    /// scanners under a flood of one-probe sources; lower bounds memory.
    pub max_sources: usize,
    /// Most first contacts awaiting an answer per worker (about 150 bytes each). When full, the
    /// oldest is decided early (counted): as unanswered if its source holds an eighth of the
    /// table (a fast scanner), else as no evidence. Higher waits for more slow answers under
    /// a flood.
    pub max_pending: usize,
    /// Most per-port and per-host walks kept per source (each list); the stalest is replaced.
    /// More keeps slow interleaved scans of many hosts apart longer; the walk over all targets
    /// catches what churns through them.
    pub max_walks_per_source: usize,
    /// Failed targets kept as a sample in the evidence.
    pub sample_size: usize,
    /// Sources never flagged: the vulnerability scanners and monitoring hosts the owner runs.
    /// Addresses or CIDRs.
    #[serde(deserialize_with = "de_nets")]
    pub allow_sources: Vec<IpNet>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            enabled: true,
            window: Dur::secs(300),
            probe_timeout: Dur::secs(2),
            theta0: 0.8,
            theta1: 0.2,
            detection_probability: 0.99,
            false_positive_probability: 0.01,
            crafted_weight: 1.5,
            udp_weight: 0.5,
            vertical_factor: 1.5,
            block_factor: 1.5,
            blind_weight: 0.25,
            sweep_hosts: 20,
            sweep_window: Dur::secs(60),
            fanout_ports: 10,
            resolved_window: Dur::secs(60),
            max_resolved: 8192,
            max_sources: 10_000,
            max_pending: 16_384,
            max_walks_per_source: 8,
            sample_size: 8,
            allow_sources: Vec::new(),
        }
    }
}

/// The TRW figures derived from the config, in natural-log units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    /// Added per failure: ln((1 - θ1) / (1 - θ0)).
    pub fail: f64,
    /// Added per success (negative): ln(θ1 / θ0).
    pub success: f64,
    /// Upper threshold ln η1 = ln(P_D / P_F): the walk decides "scanner".
    pub upper: f64,
    /// Lower threshold ln η0 = ln((1 - P_D) / (1 - P_F)): the walk is held here ("benign").
    pub lower: f64,
}

impl Walk {
    /// From the config; degenerate parameters fall back to the defaults.
    pub(crate) fn from_config(c: &ScanConfig) -> Walk {
        let ok = |p: f64| p > 0.0 && p < 1.0;
        let (t0, t1) = if ok(c.theta0) && ok(c.theta1) && c.theta1 < c.theta0 {
            (c.theta0, c.theta1)
        } else {
            (0.8, 0.2)
        };
        let (pd, pf) = if ok(c.detection_probability) && ok(c.false_positive_probability) && pf_below(c) {
            (c.detection_probability, c.false_positive_probability)
        } else {
            (0.99, 0.01)
        };
        Walk {
            fail: ((1.0 - t1) / (1.0 - t0)).ln(),
            success: (t1 / t0).ln(),
            upper: (pd / pf).ln(),
            lower: ((1.0 - pd) / (1.0 - pf)).ln(),
        }
    }

    /// Net plain failures the upper threshold needs (TRW's "about 4").
    #[cfg(test)]
    pub(crate) fn failures_needed(&self, factor: f64) -> u32 {
        (self.upper * factor / self.fail).ceil() as u32
    }
}

fn pf_below(c: &ScanConfig) -> bool {
    c.false_positive_probability < c.detection_probability
}

impl crate::detect::DetectorConfig for ScanConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        use crate::validate::{DAY, MAX_CAP, ms};
        ck.dur("window", self.window, ms(1000), 7 * DAY);
        ck.dur("probe_timeout", self.probe_timeout, ms(10), ms(600_000));
        ck.range("theta0", self.theta0, 0.001, 0.999);
        ck.range("theta1", self.theta1, 0.001, 0.999);
        if self.theta1 >= self.theta0 {
            ck.fail("theta1", self.theta1, format!("must be below theta0 ({})", self.theta0));
        }
        ck.range("detection_probability", self.detection_probability, 0.5, 0.999_999);
        ck.range("false_positive_probability", self.false_positive_probability, 0.000_001, 0.5);
        ck.range("crafted_weight", self.crafted_weight, 0.0, 100.0);
        ck.range("udp_weight", self.udp_weight, 0.0, 100.0);
        ck.range("vertical_factor", self.vertical_factor, 1.0, 100.0);
        ck.range("block_factor", self.block_factor, 1.0, 100.0);
        ck.range("blind_weight", self.blind_weight, 0.0, 100.0);
        ck.count("sweep_hosts", self.sweep_hosts, 2, MAX_CAP);
        ck.dur("sweep_window", self.sweep_window, ms(1000), 7 * DAY);
        ck.count("fanout_ports", self.fanout_ports, 2, 65_536);
        ck.dur("resolved_window", self.resolved_window, ms(1000), DAY);
        ck.cap("max_resolved", self.max_resolved);
        ck.cap("max_sources", self.max_sources);
        ck.cap("max_pending", self.max_pending);
        ck.cap("max_walks_per_source", self.max_walks_per_source);
        ck.count("sample_size", self.sample_size, 1, 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_reproduce_trw_four_failures() {
        let w = Walk::from_config(&ScanConfig::default());
        assert!((w.fail - 4f64.ln()).abs() < 1e-9 && (w.success + 4f64.ln()).abs() < 1e-9);
        assert!((w.upper - 99f64.ln()).abs() < 1e-9);
        assert_eq!(w.failures_needed(1.0), 4, "Jung et al.: about 4 net failed first contacts");
        assert_eq!(w.failures_needed(1.5), 5);
    }

    #[test]
    fn allow_sources_accepts_addresses_and_cidrs() {
        let c: ScanConfig = toml::from_str("allow_sources = \"192.0.2.7, 10.99.0.0/24\"").unwrap();
        assert_eq!(c.allow_sources.len(), 2);
        assert!(toml::from_str::<ScanConfig>("allow_sources = [\"nope\"]").is_err());
    }
}
