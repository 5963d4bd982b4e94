//! Enrichment: what siphon adds to an alert about its external side, beyond what the packets
//! say — the country and network owner of the peer ([`geoip`], from MaxMind-format databases
//! the operator provides) and how many home hosts talk to that network ([`prevalence`]).
//!
//! Lookups happen once per flow (the worker tags each new home ↔ external flow with its
//! peer's [`GeoTag`]) and once per admitted alert, never per packet.

pub(crate) mod codes;
pub(crate) mod geoip;
pub(crate) mod prevalence;

pub(crate) use geoip::EveGeoip;
pub use geoip::GeoIp;
pub(crate) use geoip::GeoTag;
pub(crate) use prevalence::Prevalence;
pub(crate) use prevalence::PrevalenceConfig;

use crate::config::GeneralConfig;
use crate::error::GeoIpError;
use crate::policy::EgressPolicyConfig;

/// The opened databases and the prevalence table, built once from the config and shared by
/// every worker built from it ([`crate::config::Config::geoip`]).
#[derive(Debug)]
pub struct Enrichment {
    /// The databases.
    pub db: GeoIp,
    /// Home hosts per destination network.
    pub prevalence: Prevalence,
}

impl std::fmt::Debug for Prevalence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prevalence")
    }
}

impl Enrichment {
    /// Opens `general.geoip_country_db` / `geoip_asn_db`; `Ok(None)` when neither is set.
    pub fn open(g: &GeneralConfig, e: &EgressPolicyConfig) -> Result<Option<Enrichment>, GeoIpError> {
        let some = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
        let (c, a) = (some(&g.geoip_country_db), some(&g.geoip_asn_db));
        let Some(db) = GeoIp::open(c.as_deref(), a.as_deref())? else { return Ok(None) };
        let prevalence = Prevalence::new(PrevalenceConfig {
            window: e.prevalence_window.nanos().max(1),
            rare: e.rare_prevalence,
            min_home_hosts: e.rare_min_home_hosts,
            max_networks: e.max_prevalence_networks.max(1),
            max_home_hosts: e.max_prevalence_networks.max(1),
        });
        Ok(Some(Enrichment { db, prevalence }))
    }
}

/// Detectors whose alerts are about a home host's traffic to an external network, and so are
/// weighed by that network's prevalence (the egress family and proxyware).
pub(crate) const PREVALENCE_DETECTORS: &[&str] =
    &["egress_volume", "long_session", "alt_protocol", "proxyware"];

impl Enrichment {
    /// Tags a flow that just opened (once per flow): its external peer's country and network,
    /// and records the home host in the prevalence table.
    pub fn on_new_flow(
        &self,
        ts: crate::time::Timestamp,
        home: std::net::IpAddr,
        remote: std::net::IpAddr,
    ) -> GeoTag {
        let tag = self.db.tag(remote);
        self.prevalence.record(
            ts,
            crate::flow::host::hash_ip(&home),
            prevalence::Network::of(remote, tag.asn),
        );
        tag
    }

    /// Adds the `geoip` object about the alert's external side (its destination, or its source
    /// when the destination is home) and, for [`PREVALENCE_DETECTORS`], the destination
    /// network's prevalence — raising the severity one level when it is rare. Once per
    /// admitted alert.
    pub fn enrich(&self, a: &mut crate::alert::Alert, home: &crate::flow::HomeNet) {
        let ip = if !home.contains(&a.dest_ip) {
            a.dest_ip
        } else if !home.contains(&a.src_ip) {
            a.src_ip
        } else {
            return;
        };
        a.geoip = self.db.describe(ip);
        if !PREVALENCE_DETECTORS.contains(&a.siphon.detector) {
            return;
        }
        let asn = a.geoip.as_ref().and_then(|g| g.asn).unwrap_or(0);
        let Some(v) = self.prevalence.judge(prevalence::Network::of(ip, asn)) else { return };
        let ev = &mut a.siphon.evidence;
        ev.insert("destination_network".into(), v.network.to_string().into());
        ev.insert("network_home_hosts".into(), v.network_hosts.into());
        ev.insert("home_hosts".into(), v.home_hosts.into());
        ev.insert("prevalence".into(), v.prevalence.into());
        ev.insert("rare_prevalence".into(), self.prevalence.rare().into());
        ev.insert("rare_network".into(), v.rare.into());
        if v.rare {
            a.alert.severity = a.alert.severity.saturating_sub(1).max(1);
        }
    }
}
