//! Suppression: one alert per episode, re-alert on an order-of-magnitude growth, and a per
//! detector rate limit, all on packet time. Suppressed alerts are counted, never silently lost.

use super::Alert;
use crate::config::AlertConfig;
use crate::time::Timestamp;
use rustc_hash::FxHashMap;

/// The escalation rule, one for the whole sensor: an episode re-alerts when its main figure
/// has grown by `alerts.escalation_factor` since it last alerted (0 never re-alerts). The
/// suppressor applies it to every alert; a detector may ask it too, to skip building an alert
/// the suppressor would drop ([`crate::detect::Env::escalation`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Escalation(pub f64);

impl Escalation {
    /// Does `magnitude` re-alert an episode that last alerted at `alerted`?
    #[inline]
    pub fn due(self, alerted: f64, magnitude: f64) -> bool {
        self.0 > 0.0 && magnitude >= alerted * self.0
    }
}

/// Most episodes remembered; the oldest are forgotten first when full (counted).
const MAX_EPISODES: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Episode {
    last_seen: Timestamp,
    alerted_magnitude: f64,
    /// Alerts of the episode written so far.
    reports: u32,
}

/// Counters of what suppression did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SuppressStats {
    /// Repeats inside an episode.
    pub repeats: u64,
    /// Alerts over the per-detector rate limit.
    pub rate_limited: u64,
    /// Episodes forgotten because the table was full.
    pub episodes_evicted: u64,
}

impl SuppressStats {
    /// Adds another suppressor's figures.
    pub fn merge(&mut self, o: &SuppressStats) {
        self.repeats += o.repeats;
        self.rate_limited += o.rate_limited;
        self.episodes_evicted += o.episodes_evicted;
    }
}

/// Per-worker suppression state.
pub(crate) struct Suppressor {
    cfg: AlertConfig,
    episodes: FxHashMap<(u32, String), Episode>,
    minute: u64,
    per_detector: FxHashMap<&'static str, u32>,
    /// What was suppressed.
    pub stats: SuppressStats,
}

impl Suppressor {
    /// A suppressor with the `[alerts]` config.
    pub(crate) fn new(cfg: AlertConfig) -> Self {
        Suppressor {
            cfg,
            episodes: FxHashMap::default(),
            minute: 0,
            per_detector: FxHashMap::default(),
            stats: SuppressStats::default(),
        }
    }

    /// Should `a` be emitted? Updates the episode either way; an alert that re-fires because
    /// its figure grew gets its `escalation`.
    pub(crate) fn admit(&mut self, a: &mut Alert) -> bool {
        let timeout = self.cfg.episode_timeout.nanos();
        let key = (a.alert.signature_id, a.episode.clone());
        let fresh = match self.episodes.get_mut(&key) {
            Some(ep) if a.ts.0.saturating_sub(ep.last_seen.0) < timeout => {
                ep.last_seen = ep.last_seen.max(a.ts);
                let f = self.cfg.escalation_factor;
                if Escalation(f).due(ep.alerted_magnitude, a.magnitude) {
                    ep.reports += 1;
                    a.siphon.escalation = Some(super::eve::Escalation {
                        previous: ep.alerted_magnitude,
                        current: a.magnitude,
                        factor: f,
                        report: ep.reports,
                    });
                    ep.alerted_magnitude = a.magnitude;
                    true
                } else {
                    self.stats.repeats += 1;
                    return false;
                }
            }
            Some(ep) => {
                *ep = Episode { last_seen: a.ts, alerted_magnitude: a.magnitude, reports: 1 };
                true
            }
            None => {
                if self.episodes.len() >= MAX_EPISODES {
                    self.expire(a.ts);
                    if self.episodes.len() >= MAX_EPISODES {
                        self.episodes.clear();
                        self.stats.episodes_evicted += MAX_EPISODES as u64;
                    }
                }
                self.episodes
                    .insert(key, Episode { last_seen: a.ts, alerted_magnitude: a.magnitude, reports: 1 });
                true
            }
        };
        let minute = a.ts.secs() / 60;
        if minute != self.minute {
            self.minute = minute;
            self.per_detector.clear();
            self.expire(a.ts);
        }
        let n = self.per_detector.entry(a.siphon.detector).or_insert(0);
        if *n >= self.cfg.max_per_minute {
            self.stats.rate_limited += 1;
            return false;
        }
        *n += 1;
        fresh
    }

    /// Forgets episodes that ended before `now`.
    pub(crate) fn expire(&mut self, now: Timestamp) {
        let timeout = self.cfg.episode_timeout.nanos();
        self.episodes.retain(|_, e| now.0.saturating_sub(e.last_seen.0) < timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Signature;

    const SIG: Signature = Signature { id: 1, rev: 1, msg: "t", category: "c", severity: 2, mitre: &[] };

    fn alert(t: u64, mag: f64) -> Alert {
        Alert::build("test", &SIG, Timestamp::from_secs(t), [10, 0, 0, 1].into(), [192, 0, 2, 1].into())
            .episode("h".into(), mag)
            .finish()
    }

    #[test]
    fn one_alert_per_episode_and_escalation() {
        let mut s = Suppressor::new(AlertConfig::default());
        let mut first = alert(100, 10.0);
        assert!(s.admit(&mut first));
        assert!(first.siphon.escalation.is_none());
        assert!(!s.admit(&mut alert(110, 20.0)));
        let mut grown = alert(120, 100.0);
        assert!(s.admit(&mut grown), "10x growth re-alerts");
        let e = grown.siphon.escalation.clone().expect("an escalation says so");
        assert_eq!((e.previous, e.current, e.factor, e.report), (10.0, 100.0, 10.0, 2));
        let json = serde_json::to_value(&grown).unwrap();
        assert_eq!(json["siphon"]["escalation"]["report"], 2);
        assert!(!s.admit(&mut alert(130, 150.0)));
        let mut fresh = alert(100 + 7200, 1.0);
        assert!(s.admit(&mut fresh), "a new episode after the timeout");
        assert!(fresh.siphon.escalation.is_none());
        assert_eq!(s.stats.repeats, 2);
    }
}
