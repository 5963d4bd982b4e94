//! Packet time: the only clock on the packet path.
//!
//! Every window, timeout, duration and suppression in siphon runs on the timestamps of the
//! packets themselves, so an offline replay gives the same alerts on any machine at any speed.

use std::fmt;

/// A capture timestamp, nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

/// Nanoseconds in one second.
pub(crate) const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Timestamp {
    /// Builds a timestamp from seconds and nanoseconds.
    pub fn from_parts(secs: u64, nanos: u64) -> Self {
        Timestamp(secs.saturating_mul(NANOS_PER_SEC).saturating_add(nanos))
    }

    /// Builds a timestamp from whole seconds (for tests and config).
    pub fn from_secs(secs: u64) -> Self {
        Timestamp::from_parts(secs, 0)
    }

    /// Whole seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// Seconds since the epoch, as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later (packets can arrive out of order).
    pub fn since(self, earlier: Timestamp) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// This timestamp moved forward by `d`.
    pub fn plus(self, d: std::time::Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_nanos() as u64))
    }

    /// This timestamp moved back by `d` (saturating at the epoch).
    pub fn minus(self, d: std::time::Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.as_nanos() as u64))
    }

    /// EVE's timestamp form, `2026-11-23T22:07:29.123456+0000`, in UTC.
    pub fn to_eve(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = i64::try_from(self.secs()).unwrap_or(i64::MAX);
        let nanos = (self.0 % NANOS_PER_SEC) as u32;
        match chrono::DateTime::from_timestamp(secs, nanos) {
            Some(dt) => write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%S%.6f+0000")),
            None => write!(f, "1970-01-01T00:00:00.000000+0000"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eve_form_has_microseconds_and_offset() {
        let t = Timestamp::from_parts(1_700_000_000, 123_456_789);
        assert_eq!(t.to_eve(), "2023-11-14T22:13:20.123456+0000");
    }

    #[test]
    fn since_saturates_when_out_of_order() {
        let a = Timestamp::from_secs(10);
        let b = Timestamp::from_secs(5);
        assert_eq!(b.since(a), std::time::Duration::ZERO);
        assert_eq!(a.since(b).as_secs(), 5);
    }
}
