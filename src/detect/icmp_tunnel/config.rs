//! `[icmp_tunnel]`: window, score threshold, payload size and entropy cut-offs, allow-list.

use crate::units::{Dur, Size, de_string_list};
use serde::Deserialize;

/// `[icmp_tunnel]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct IcmpTunnelConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Sliding window per (host, peer). Longer catches slower tunnels (one echo a minute) but
    /// keeps state longer and lets unrelated odd payloads add up.
    pub window: Dur,
    /// Score (weighted distinct non-default payloads in the window) that raises the tunnel or
    /// exfiltration alert. Lower detects in fewer echoes; higher is quieter on unusual but
    /// benign ping tools whose payload changes every probe.
    pub score_threshold: f64,
    /// A non-default payload at least this long on the wire counts +1. Lower flags small
    /// tunnels sooner; higher spares monitoring tools with mid-sized custom payloads.
    pub large_payload: Size,
    /// Non-default payloads shorter than this never score unless they carry a tunnel header:
    /// too little room for data, and short custom probes (Go, Java) vary by timestamp alone.
    pub min_payload: usize,
    /// Payloads at least this long are tested for entropy (short ones always look random).
    pub entropy_min_len: usize,
    /// Normalised entropy (bits per byte ÷ log2(min(256, length))) at or above which a
    /// non-default payload counts +1. Encrypted or compressed data sits near 1.0; text ~0.6.
    pub entropy_threshold: f64,
    /// ICMP messages of a type that carries no data (see `odd_type_data`) that raise the
    /// unusual-type signature, together with `odd_type_min_bytes`. Lower catches a single
    /// crafted packet; higher spares a broken stack that sends a few malformed errors.
    pub odd_type_min_packets: u64,
    /// Payload bytes in such messages that, with `odd_type_min_packets`, raise the signature.
    pub odd_type_min_bytes: Size,
    /// Most (host, peer) pairs tracked per worker; the stalest is evicted (counted). Each pair
    /// holds ~1.5 KiB (a ring of recent requests, examples): 8192 pairs ≈ 12 MiB. Only pairs
    /// exchanging non-default payloads get one, so ordinary ping never fills it.
    pub max_pairs: usize,
    /// Most distinct payloads remembered per pair (as hashes). A tunnel crosses the threshold
    /// long before this; larger only costs memory on pairs that are already alerting.
    pub max_payloads_per_pair: usize,
    /// Hosts or networks (`192.0.2.10`, `10.1.0.0/24`) whose ICMP is never scored, on either
    /// side: monitoring systems that ping with large or custom payloads, ICMP-based services.
    #[serde(deserialize_with = "de_string_list")]
    pub allow_hosts: Vec<String>,
}

impl Default for IcmpTunnelConfig {
    fn default() -> Self {
        IcmpTunnelConfig {
            enabled: true,
            window: Dur::secs(300),
            score_threshold: 10.0,
            large_payload: Size(128),
            min_payload: 20,
            entropy_min_len: 64,
            entropy_threshold: 0.9,
            odd_type_min_packets: 3,
            odd_type_min_bytes: Size(64),
            max_pairs: 8192,
            max_payloads_per_pair: 1024,
            allow_hosts: Vec::new(),
        }
    }
}

impl crate::detect::DetectorConfig for IcmpTunnelConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        use crate::validate::{DAY, MAX_CAP, ms};
        ck.dur("window", self.window, ms(1000), 7 * DAY);
        ck.range("score_threshold", self.score_threshold, 0.001, 1e6);
        ck.size("large_payload", self.large_payload, 1);
        ck.count("min_payload", self.min_payload, 0, 65_535);
        ck.count("entropy_min_len", self.entropy_min_len, 1, 65_535);
        ck.share("entropy_threshold", self.entropy_threshold);
        ck.count("odd_type_min_packets", self.odd_type_min_packets, 1, MAX_CAP);
        ck.size("odd_type_min_bytes", self.odd_type_min_bytes, 0);
        ck.cap("max_pairs", self.max_pairs);
        ck.cap("max_payloads_per_pair", self.max_payloads_per_pair);
        ck.nets_or_addrs("allow_hosts", &self.allow_hosts);
    }
}
