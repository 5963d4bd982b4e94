//! `[long_session]`: how long and how fast a home host's session to an external host must be
//! to be reported (who is home and external is the shared `[egress]` policy).

use crate::units::{Dur, Size, de_list};
use serde::Deserialize;

/// Most entries of `report_tiers`.
const MAX_TIERS: usize = 8;

/// `[long_session]` config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LongSessionConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Flows active this long are reported while still open, by duration alone (RITA's first
    /// tier; Zeek's long-connections package starts at 10 min). Shorter finds more beacons and
    /// interactive sessions, and more benign long-lived connections (push channels, VPNs).
    pub min_duration: Dur,
    /// Further ages (longer than `min_duration`) at which a still-open flow is reported again,
    /// each a new alert (RITA: 4, 8, 12 h). More tiers say more about a session that never ends;
    /// none reports it once.
    #[serde(deserialize_with = "de_list")]
    pub report_tiers: Vec<Dur>,
    /// Payload the home host sent in the session from which its alert is raised one severity
    /// level (it never gates a TCP session's alert: a command channel or a shell sends a few KB
    /// an hour). UDP and ICMP flows, which polling keeps open, are reported only past it. Lower
    /// raises more keep-alive channels and reports more pollers; higher only sessions that upload.
    pub raise_payload_out: Size,
    /// Mean outbound payload rate, bytes per second over the session, from which the alert is
    /// raised one more level. Lower raises slow drips; higher only bulk sessions.
    pub raise_rate_out: Size,
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
            report_tiers: vec![Dur::secs(4 * 3600), Dur::secs(8 * 3600), Dur::secs(12 * 3600)],
            raise_payload_out: Size(10_000),
            raise_rate_out: Size(1_000),
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
    fn validate(&self, ck: &mut crate::validate::Checker) {
        use crate::validate::{DAY, ms};
        ck.dur("min_duration", self.min_duration, ms(1000), 365 * DAY);
        if self.report_tiers.len() > MAX_TIERS {
            ck.fail("report_tiers", self.report_tiers.len(), format!("at most {MAX_TIERS} tiers"));
        }
        for t in &self.report_tiers {
            ck.dur("report_tiers", *t, ms(1000), 365 * DAY);
        }
        ck.size("raise_payload_out", self.raise_payload_out, 0);
        ck.size("raise_rate_out", self.raise_rate_out, 1);
        ck.size("sustained_rate", self.sustained_rate, 1);
        ck.dur("sustained_for", self.sustained_for, ms(1000), 365 * DAY);
        ck.cap("max_flows", self.max_flows);
        ck.cap("max_pairs", self.max_pairs);
    }
}
