//! `[long_session]`: how long and how fast a home host's session to an external host must be
//! to be reported (who is home and external is the shared `[egress]` policy).

use crate::units::{Dur, Size};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LongSessionConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Flows active this long are reported while still open. Shorter finds more beacons and
    /// interactive sessions, and more benign long-lived connections.
    pub min_duration: Dur,
    /// A long session is reported only once the home host has sent this much payload in it.
    /// Higher keeps idle push channels and keep-alives quiet; lower also reports sessions that
    /// only receive (a slow drip of a few hundred bytes a second sends ~1 MB an hour).
    pub min_payload_out: Size,
    /// Outbound payload rate, bytes per second, that counts as sustained throughput. Lower
    /// catches throttled uploads, and more backups and video calls.
    pub sustained_rate: Size,
    /// How long the rate must hold without a break. Shorter detects sooner but flags bursts.
    pub sustained_for: Dur,
    /// Also judge flows an external host opened to a home host (a server's long inbound
    /// sessions and the downloads it serves). Off: only sessions the home host opened count.
    pub include_inbound: bool,
    /// Most flows remembered as already reported per worker (evicted ones may re-alert; the
    /// alert suppression still holds them to one per episode).
    pub max_flows: usize,
    /// Most (home host, destination) rate states per worker; the stalest is evicted (counted).
    pub max_pairs: usize,
}

impl Default for LongSessionConfig {
    fn default() -> Self {
        LongSessionConfig {
            enabled: true,
            min_duration: Dur::secs(3600),
            min_payload_out: Size(10_000),
            sustained_rate: Size(1_000_000),
            sustained_for: Dur::secs(600),
            include_inbound: false,
            max_flows: 65_536,
            max_pairs: 50_000,
        }
    }
}

impl crate::detect::DetectorConfig for LongSessionConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
}
