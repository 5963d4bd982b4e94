//! `[egress_volume]`: the volume windows and table caps of the excessive-egress detector (who
//! is home and external, allow-lists and hours are the shared `[egress]` policy).

use crate::units::{WindowLimit, de_limits};
use serde::Deserialize;

/// `[egress_volume]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EgressVolumeConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Sliding windows per (home host, external destination), as `WINDOW:BYTES` pairs: an alert
    /// when the bytes out within any window reach its threshold. Short windows with lower
    /// thresholds catch bursts sooner; long windows catch slow drips, at the cost of more
    /// benign bulk (backups, cloud sync, video calls) crossing them.
    #[serde(deserialize_with = "de_limits")]
    pub volume: Vec<WindowLimit>,
    /// The same per home host, all external destinations together: catches exfiltration spread
    /// over many addresses (cloud storage front ends). Empty disables it.
    #[serde(deserialize_with = "de_limits")]
    pub host_volume: Vec<WindowLimit>,
    /// Least bytes-out ÷ bytes-in in the window for the volume alerts (0 = off). 2.0 keeps
    /// symmetric sessions (video calls) quiet, but also a tunnel that echoes its data back.
    pub min_out_in_ratio: f64,
    /// Most (home host, destination) pairs tracked per worker (about 120 bytes each, plus the
    /// rings of the few that carry volume); the stalest of a sample, light ones first, is
    /// evicted (counted).
    pub max_pairs: usize,
    /// Most home hosts tracked per worker; the stalest is evicted (counted).
    pub max_hosts: usize,
}

impl Default for EgressVolumeConfig {
    fn default() -> Self {
        let lim = |s: &str| WindowLimit::parse(s).ok();
        EgressVolumeConfig {
            enabled: true,
            volume: ["1h:500MB", "8h:1GiB"].iter().filter_map(|s| lim(s)).collect(),
            host_volume: ["8h:2GiB"].iter().filter_map(|s| lim(s)).collect(),
            min_out_in_ratio: 0.0,
            max_pairs: 50_000,
            max_hosts: 20_000,
        }
    }
}

impl crate::detect::DetectorConfig for EgressVolumeConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        ck.range("min_out_in_ratio", self.min_out_in_ratio, 0.0, 1e9);
        ck.cap("max_pairs", self.max_pairs);
        ck.cap("max_hosts", self.max_hosts);
    }
}
