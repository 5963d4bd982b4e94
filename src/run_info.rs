//! What a run covered, for the stats event and the report's header and timeline: the inputs,
//! the capture-time span, the traffic volume over capture time, the version and a digest of the
//! effective config. Kept in the EVE `stats` event so `siphon report eve.json` needs nothing
//! else.

use crate::config::Config;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Buckets in the traffic series: enough for a timeline a screen wide, small in the stats event.
pub(crate) const TRAFFIC_BUCKETS: usize = 240;

/// Bytes and packets per bucket of capture time, over a bounded number of buckets: when the
/// capture outgrows them, the bucket width doubles and neighbours merge (O(1) per packet,
/// amortised; fixed memory).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrafficSeries {
    /// Start of the first bucket, whole seconds since the epoch (0: no packet yet).
    pub start_secs: u64,
    /// Width of one bucket, seconds (a power of two).
    pub bucket_secs: u64,
    /// Wire bytes per bucket.
    pub bytes: Vec<u64>,
    /// Packets per bucket.
    pub packets: Vec<u64>,
}

impl TrafficSeries {
    /// Counts one packet. A packet earlier than the series' start moves the start back (files
    /// read out of time order still give one timeline).
    #[inline]
    pub fn add(&mut self, ts: Timestamp, wire_len: u32) {
        self.add_n(ts, u64::from(wire_len), 1);
    }

    /// Counts `packets` packets of `bytes` wire bytes in all, of the second of `ts`.
    pub fn add_n(&mut self, ts: Timestamp, bytes: u64, packets: u64) {
        if self.bucket_secs == 0 {
            self.start_secs = ts.secs();
            self.bucket_secs = 1;
        }
        if ts.secs() < self.start_secs {
            self.extend_back(ts.secs());
        }
        let off = ts.secs().saturating_sub(self.start_secs);
        let mut i = off / self.bucket_secs;
        while i >= TRAFFIC_BUCKETS as u64 {
            self.widen();
            i = off / self.bucket_secs;
        }
        let i = i as usize;
        if self.bytes.len() <= i {
            self.bytes.resize(i + 1, 0);
            self.packets.resize(i + 1, 0);
        }
        self.bytes[i] += bytes;
        self.packets[i] += packets;
    }

    fn extend_back(&mut self, secs: u64) {
        let k = (self.start_secs - secs).div_ceil(self.bucket_secs);
        let k = usize::try_from(k).unwrap_or(usize::MAX).min(TRAFFIC_BUCKETS * 2);
        self.start_secs = self.start_secs.saturating_sub(k as u64 * self.bucket_secs);
        for v in [&mut self.bytes, &mut self.packets] {
            v.splice(0..0, std::iter::repeat_n(0, k));
        }
        while self.bytes.len() > TRAFFIC_BUCKETS || self.start_secs > secs {
            if self.start_secs > secs {
                self.start_secs = self.start_secs.saturating_sub(self.bucket_secs);
                self.bytes.insert(0, 0);
                self.packets.insert(0, 0);
            }
            if self.bytes.len() > TRAFFIC_BUCKETS {
                self.widen();
            }
        }
    }

    fn widen(&mut self) {
        self.bucket_secs *= 2;
        for v in [&mut self.bytes, &mut self.packets] {
            let merged: Vec<u64> = v.chunks(2).map(|c| c.iter().sum()).collect();
            *v = merged;
        }
    }
}

/// The packets of one second of capture time gathered before they go into a
/// [`TrafficSeries`]: one `add_n` per second (per change of second) instead of one `add` per
/// packet on the capture thread. Call [`TrafficRun::flush`] before reading the series.
#[derive(Debug, Default)]
pub(crate) struct TrafficRun {
    ts: Timestamp,
    bytes: u64,
    packets: u64,
}

impl TrafficRun {
    /// Counts one packet.
    #[inline]
    pub(crate) fn add(&mut self, series: &mut TrafficSeries, ts: Timestamp, wire_len: u32) {
        if self.packets != 0 && ts.secs() != self.ts.secs() {
            self.flush(series);
        }
        if self.packets == 0 {
            self.ts = ts;
        }
        self.bytes += u64::from(wire_len);
        self.packets += 1;
    }

    /// Hands what was gathered to `series`.
    pub(crate) fn flush(&mut self, series: &mut TrafficSeries) {
        if self.packets != 0 {
            series.add_n(self.ts, self.bytes, self.packets);
            (self.bytes, self.packets) = (0, 0);
        }
    }
}

/// One input of the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputInfo {
    /// The path as given (`-` for stdin), or the interface name.
    pub name: String,
    /// Its size in bytes, for a regular file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What the run covered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    /// siphon's version.
    pub version: String,
    /// A digest of the effective configuration (defaults, file and overrides), so two reports
    /// can be told apart by their settings: FNV-1a 64 of its debug form, in hex.
    pub config_digest: String,
    /// Home networks.
    pub home_net: Vec<String>,
    /// Capture files (or the interface) read, in order.
    pub inputs: Vec<InputInfo>,
    /// First packet's capture time (EVE form), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_packet: Option<String>,
    /// Last packet's capture time (EVE form), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_packet: Option<String>,
    /// Traffic over capture time.
    pub traffic: TrafficSeries,
}

impl RunInfo {
    /// The version, config digest and home networks of `config`.
    pub fn for_config(config: &Config) -> RunInfo {
        RunInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config_digest: config_digest(config),
            home_net: config.general.home_net.iter().map(ToString::to_string).collect(),
            ..RunInfo::default()
        }
    }
}

/// FNV-1a 64 of the config's debug form, in hex (stable for a given build and config).
pub(crate) fn config_digest(config: &Config) -> String {
    let text = format!("{config:?}");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_widens_and_keeps_totals() {
        let mut s = TrafficSeries::default();
        for t in 0..10_000u64 {
            s.add(Timestamp::from_secs(1_000 + t), 100);
        }
        assert!(s.bytes.len() <= TRAFFIC_BUCKETS);
        assert_eq!(s.bytes.iter().sum::<u64>(), 1_000_000);
        assert_eq!(s.packets.iter().sum::<u64>(), 10_000);
        assert_eq!(s.start_secs, 1_000);
        assert_eq!(s.bucket_secs, 64, "10000 s over 240 buckets: 64 s each");
        // An earlier packet moves the start back, within the bucket budget.
        s.add(Timestamp::from_secs(10), 1);
        assert_eq!(s.packets.iter().sum::<u64>(), 10_001);
        assert!(s.start_secs <= 10 && s.bytes.len() <= TRAFFIC_BUCKETS);
        assert_eq!(s.packets[0], 1);
        let total_span = s.bucket_secs * s.bytes.len() as u64;
        assert!(s.start_secs + total_span >= 11_000, "the later packets are still covered");
    }

    /// Gathering a second's packets first gives the series packet-by-packet adds give, with
    /// packets out of order, several per second and widening.
    #[test]
    fn run_gives_the_same_series() {
        let (mut one, mut gathered, mut run) =
            (TrafficSeries::default(), TrafficSeries::default(), TrafficRun::default());
        let mut x = 7u64;
        for i in 0..20_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let secs = if i % 997 == 0 { 500 + (x >> 60) } else { 1_000 + i / 3 };
            let ts = Timestamp::from_parts(secs, (x >> 33) % 1_000_000_000);
            let len = (x >> 40) as u32 % 1500;
            one.add(ts, len);
            run.add(&mut gathered, ts, len);
        }
        run.flush(&mut gathered);
        assert_eq!(one, gathered);
    }

    #[test]
    fn digest_follows_the_config() {
        let a = Config::default();
        let mut b = Config::default();
        assert_eq!(config_digest(&a), config_digest(&b));
        b.general.home_net.clear();
        assert_ne!(config_digest(&a), config_digest(&b));
    }
}
