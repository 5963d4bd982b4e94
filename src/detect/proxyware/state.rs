//! Traffic shape per home host: what a relay and a hijacked uplink look like without names.
//!
//! Three figures, all on packet time, all per home host (the capture shards by home host, so a
//! host's state lives in one worker):
//! - **relay**: sessions with outside peers that carry payload both ways, over a two-bucket
//!   sliding window (finished sessions at their end, open ones sampled every few seconds):
//!   distinct peers, peak count of concurrent long-lived sessions, bytes in and out, and the
//!   bytes *passed through* — the smaller of what download-heavy sessions brought in and what
//!   upload-heavy sessions sent out. A download or an upload alone passes nothing through; a
//!   proxy passes on what it fetches.
//! - **proxy port**: distinct outside clients holding two-way sessions with the host on a
//!   proxy port, over the same window.
//! - **throughput**: outbound bytes in 10-second buckets; a run of buckets at or above the rate
//!   threshold, and an exponentially weighted baseline of the rate before the run.

use crate::time::Timestamp;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Width of one throughput bucket. Ten seconds smooths TCP's bursts and keeps the sustained
/// run's resolution well under any sensible `rate_sustain`.
pub(crate) const RATE_BUCKET_NS: u64 = 10_000_000_000;

/// A session is one-way (download- or upload-heavy) when one direction carries at least this
/// many times the other. Relay legs are 10× or more; calls and syncs are near 1×.
pub(crate) const ONE_WAY: u64 = 2;

/// A 64-bit hash of an address, for distinct-peer sets.
pub(crate) fn addr_hash(a: &IpAddr) -> u64 {
    let mut h = FxHasher::default();
    a.hash(&mut h);
    h.finish()
}

/// Session figures of one window bucket (or of the open sessions at one instant).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Sessions {
    /// Sessions with payload both ways.
    pub sessions: u64,
    /// Of which the outside peer opened.
    pub inbound: u64,
    /// IP bytes from outside peers to the host.
    pub bytes_in: u64,
    /// IP bytes from the host to outside peers.
    pub bytes_out: u64,
    /// Σ (in − out) over download-heavy sessions (in ≥ [`ONE_WAY`] × out).
    pub net_in: u64,
    /// Σ (out − in) over upload-heavy sessions (out ≥ [`ONE_WAY`] × in).
    pub net_out: u64,
    /// Most long-lived sessions seen open at once.
    pub peak_concurrent: u64,
}

impl Sessions {
    /// Adds one session's bytes (as the host sees them).
    pub(crate) fn add(&mut self, bytes_in: u64, bytes_out: u64, inbound: bool) {
        self.sessions += 1;
        self.inbound += u64::from(inbound);
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        // Only one-way sessions carry traffic *through*: a symmetric one (a call, a sync) is
        // consumed where it ends, and its few percent of header asymmetry must not add up.
        if bytes_in >= ONE_WAY * bytes_out {
            self.net_in += bytes_in - bytes_out;
        } else if bytes_out >= ONE_WAY * bytes_in {
            self.net_out += bytes_out - bytes_in;
        }
    }
    /// Sums two sets of figures (peaks take the larger).
    pub(crate) fn plus(&self, o: &Sessions) -> Sessions {
        Sessions {
            sessions: self.sessions + o.sessions,
            inbound: self.inbound + o.inbound,
            bytes_in: self.bytes_in + o.bytes_in,
            bytes_out: self.bytes_out + o.bytes_out,
            net_in: self.net_in + o.net_in,
            net_out: self.net_out + o.net_out,
            peak_concurrent: self.peak_concurrent.max(o.peak_concurrent),
        }
    }
    /// Bytes passed through: what came in on some sessions and went out on others.
    pub(crate) fn passed_through(&self) -> u64 {
        self.net_in.min(self.net_out)
    }
    /// min(in, out) / max(in, out): 1.0 is perfectly symmetric, 0 one-way.
    pub(crate) fn balance(&self) -> f64 {
        let (lo, hi) = (self.bytes_in.min(self.bytes_out), self.bytes_in.max(self.bytes_out));
        if hi == 0 { 0.0 } else { lo as f64 / hi as f64 }
    }
}

/// A sustained heavy outbound run that qualified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateRun {
    /// When the run began.
    pub start: Timestamp,
    /// Its length in seconds so far.
    pub secs: f64,
    /// Mean outbound rate over the run, bytes per second.
    pub rate: f64,
    /// Bytes out during the run.
    pub bytes: u64,
    /// Baseline rate (bytes per second) just before the run.
    pub baseline: f64,
    /// Seconds of history before the run.
    pub history_secs: f64,
}

/// Thresholds the throughput state needs, copied from the config once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateLimits {
    /// Bytes per second that count as heavy.
    pub threshold: f64,
    /// Run length that qualifies, nanoseconds.
    pub sustain_ns: u64,
    /// Most baseline bytes per second of a "quiet" host.
    pub quiet: f64,
    /// EWMA weight of one bucket (bucket ÷ baseline window, ≤ 1).
    pub alpha: f64,
    /// History needed before the run, nanoseconds.
    pub min_history_ns: u64,
}

/// Outbound throughput of one host.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    bucket_start: Timestamp,
    bucket_bytes: u64,
    baseline: f64,
    run_start: Option<Timestamp>,
    run_bytes: u64,
    baseline_before_run: f64,
}

impl Rate {
    /// A host first seen at `ts`.
    pub(crate) fn new(ts: Timestamp) -> Rate {
        Rate {
            bucket_start: Timestamp(ts.0 - ts.0 % RATE_BUCKET_NS),
            bucket_bytes: 0,
            baseline: 0.0,
            run_start: None,
            run_bytes: 0,
            baseline_before_run: 0.0,
        }
    }

    /// The baseline, bytes per second.
    #[cfg(test)]
    pub(crate) fn baseline(&self) -> f64 {
        self.baseline
    }

    /// Counts `bytes` sent at `ts`; returns the run when closing a bucket completes a
    /// qualifying one. `first_seen` is when the host's history began.
    pub(crate) fn add_out(
        &mut self,
        ts: Timestamp,
        bytes: u64,
        first_seen: Timestamp,
        l: &RateLimits,
    ) -> Option<RateRun> {
        let end = self.bucket_start.0 + RATE_BUCKET_NS;
        if ts.0 < end {
            self.bucket_bytes += bytes;
            return None;
        }
        let rate = self.bucket_bytes as f64 / (RATE_BUCKET_NS as f64 / 1e9);
        let mut fired = None;
        if rate >= l.threshold {
            if self.run_start.is_none() {
                self.run_start = Some(self.bucket_start);
                self.baseline_before_run = self.baseline;
                self.run_bytes = 0;
            }
            let start = self.run_start.unwrap_or(self.bucket_start);
            self.run_bytes += self.bucket_bytes;
            let run_ns = end - start.0;
            let history = start.0.saturating_sub(first_seen.0);
            if run_ns >= l.sustain_ns && self.baseline_before_run <= l.quiet && history >= l.min_history_ns {
                let secs = run_ns as f64 / 1e9;
                fired = Some(RateRun {
                    start,
                    secs,
                    rate: self.run_bytes as f64 / secs,
                    bytes: self.run_bytes,
                    baseline: self.baseline_before_run,
                    history_secs: history as f64 / 1e9,
                });
            }
        } else {
            self.run_start = None;
        }
        self.baseline += l.alpha * (rate - self.baseline);
        // Buckets with nothing sent between the closed one and `ts`.
        let empty = (ts.0 - end) / RATE_BUCKET_NS;
        if empty > 0 {
            self.run_start = None;
            self.baseline *= (1.0 - l.alpha).powi(empty.min(100_000) as i32);
        }
        self.bucket_start = Timestamp(end + empty * RATE_BUCKET_NS);
        self.bucket_bytes = bytes;
        fired
    }
}

/// Everything kept about one home host.
#[derive(Debug)]
pub(crate) struct Host {
    /// First packet with an outside peer.
    pub first_seen: Timestamp,
    /// Last packet with an outside peer.
    pub last_seen: Timestamp,
    win_start: Timestamp,
    cur: Sessions,
    prev: Sessions,
    peers: Distinct,
    prev_peers: Distinct,
    /// Outside clients of the host's proxy ports, this window and the previous one: boxed at
    /// the first such client, as few hosts serve outside clients.
    port_clients: Option<Box<[Distinct; 2]>>,
    /// Outbound throughput.
    pub rate: Rate,
}

impl Host {
    /// A host first seen at `ts`.
    pub(crate) fn new(ts: Timestamp) -> Host {
        Host {
            first_seen: ts,
            last_seen: ts,
            win_start: ts,
            cur: Sessions::default(),
            prev: Sessions::default(),
            peers: Distinct::default(),
            prev_peers: Distinct::default(),
            port_clients: None,
            rate: Rate::new(ts),
        }
    }

    /// Slides the window to `ts` (two half-overlapping buckets, as the DNS detector does).
    pub(crate) fn slide(&mut self, ts: Timestamp, window_ns: u64) {
        if ts.0.saturating_sub(self.win_start.0) < window_ns {
            return;
        }
        let idle = ts.0.saturating_sub(self.win_start.0) >= window_ns.saturating_mul(2);
        self.prev = if idle { Sessions::default() } else { self.cur };
        self.cur = Sessions::default();
        self.prev_peers = if idle { Distinct::default() } else { self.peers };
        if let Some(pc) = &mut self.port_clients {
            pc[1] = if idle { Distinct::default() } else { pc[0] };
            pc[0] = Distinct::default();
        }
        self.peers = Distinct::default();
        self.win_start = ts;
    }

    /// A finished session with an outside peer.
    pub(crate) fn add_session(&mut self, peer: &IpAddr, bytes_in: u64, bytes_out: u64, inbound: bool) {
        self.cur.add(bytes_in, bytes_out, inbound);
        self.peers.insert(addr_hash(peer));
    }

    /// Records a concurrency sample.
    pub(crate) fn sample_concurrency(&mut self, n: u64) {
        self.cur.peak_concurrent = self.cur.peak_concurrent.max(n);
    }

    /// Finished-session figures of the window.
    pub(crate) fn window(&self) -> Sessions {
        self.cur.plus(&self.prev)
    }

    /// Distinct peers of the window's finished sessions and of `open` (estimated).
    pub(crate) fn distinct_peers(&self, open: &Distinct) -> u64 {
        self.peers.union(&self.prev_peers).union(open).estimate()
    }

    /// A two-way session from outside `client` to a proxy port; returns the distinct clients
    /// of the window (estimated).
    pub(crate) fn add_port_client(&mut self, client: &IpAddr) -> u64 {
        let pc = self.port_clients.get_or_insert_with(Box::default);
        pc[0].insert(addr_hash(client));
        pc[0].union(&pc[1]).estimate()
    }
}

/// Bits in a [`Distinct`] sketch.
const DISTINCT_BITS: usize = 512;

/// Distinct addresses, counted in a fixed 512-bit linear-counting sketch (Whang et al. 1990):
/// 64 bytes, no allocation, unions by OR. Exact in practice at the thresholds used (tens: one
/// collision among 20 peers has probability ~0.4), about ±5 % near 1,000, and it saturates at
/// ~3,200 — far above any threshold, so a flood of peers cannot grow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Distinct([u64; DISTINCT_BITS / 64]);

impl Distinct {
    /// Adds a 64-bit hash.
    pub(crate) fn insert(&mut self, h: u64) {
        // Linear counting assumes random bit choices; FxHash of neighbouring addresses is too
        // evenly spread (it would over-count), so finish it with murmur3's fmix64.
        let mut x = h;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        let bit = (x >> 55) as usize % DISTINCT_BITS;
        if let Some(w) = self.0.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }
    /// The sketch of both sets.
    pub(crate) fn union(&self, o: &Distinct) -> Distinct {
        let mut u = *self;
        for (a, b) in u.0.iter_mut().zip(o.0.iter()) {
            *a |= b;
        }
        u
    }
    /// Estimated number of distinct hashes inserted.
    pub(crate) fn estimate(&self) -> u64 {
        let set: u32 = self.0.iter().map(|w| w.count_ones()).sum();
        let m = DISTINCT_BITS as f64;
        let zeros = (m - f64::from(set)).max(1.0);
        (-m * (zeros / m).ln()).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            threshold: 1e6,
            sustain_ns: 300 * 1_000_000_000,
            quiet: 5e4,
            alpha: 10.0 / 3600.0,
            min_history_ns: 1800 * 1_000_000_000,
        }
    }

    /// Feeds `rate` bytes/s for `secs` seconds from `t0`, one packet per second.
    fn feed(r: &mut Rate, first: Timestamp, t0: u64, secs: u64, rate: u64) -> Option<RateRun> {
        let mut fired = None;
        for s in t0..t0 + secs {
            if let Some(run) = r.add_out(Timestamp::from_secs(s), rate, first, &limits()) {
                fired.get_or_insert(run);
            }
        }
        fired
    }

    #[test]
    fn quiet_host_that_turns_heavy_is_reported_after_the_sustain() {
        let first = Timestamp::from_secs(1_000_000);
        let mut r = Rate::new(first);
        assert!(feed(&mut r, first, 1_000_000, 3600, 2_000).is_none(), "an hour at 2 kB/s");
        let run = feed(&mut r, first, 1_003_600, 400, 3_000_000).expect("5 minutes at 3 MB/s");
        assert!(run.secs >= 300.0 && run.secs <= 320.0, "{run:?}");
        assert!(run.rate > 2.9e6 && run.baseline < 5e4, "{run:?}");
    }

    #[test]
    fn busy_hosts_new_hosts_and_short_bursts_are_not() {
        let first = Timestamp::from_secs(1_000_000);
        // No history: first seen already heavy.
        let mut r = Rate::new(first);
        assert!(feed(&mut r, first, 1_000_000, 900, 3_000_000).is_none());
        // History, but a burst of 2 minutes only (a backup that ends).
        let mut r = Rate::new(first);
        feed(&mut r, first, 1_000_000, 3600, 1_000);
        assert!(feed(&mut r, first, 1_003_600, 120, 3_000_000).is_none());
        // Normally busy: baseline 600 kB/s for two hours.
        let mut r = Rate::new(first);
        feed(&mut r, first, 1_000_000, 7200, 600_000);
        assert!(r.baseline() > 5e4);
        assert!(feed(&mut r, first, 1_007_200, 600, 3_000_000).is_none());
    }

    #[test]
    fn a_gap_breaks_the_run_and_decays_the_baseline() {
        let first = Timestamp::from_secs(0);
        let mut r = Rate::new(first);
        feed(&mut r, first, 0, 3600, 200_000);
        let before = r.baseline();
        r.add_out(Timestamp::from_secs(3600 + 7200), 1, first, &limits());
        assert!(r.baseline() < before / 5.0, "{} -> {}", before, r.baseline());
    }

    #[test]
    fn distinct_sketch_counts_small_sets_exactly_and_stays_bounded() {
        let mut d = Distinct::default();
        for i in 0..20u8 {
            d.insert(addr_hash(&IpAddr::from([203, 0, 113, i])));
            d.insert(addr_hash(&IpAddr::from([203, 0, 113, i]))); // repeats do not count
        }
        assert!((19..=21).contains(&d.estimate()), "{}", d.estimate());
        let mut big = Distinct::default();
        for i in 0..1000u32 {
            big.insert(addr_hash(&IpAddr::from(i.to_be_bytes())));
        }
        let e = big.estimate();
        assert!((850..=1150).contains(&e), "{e}");
        assert_eq!(d.union(&Distinct::default()), d);
        assert!(d.union(&big).estimate() >= e);
        assert_eq!(Distinct::default().estimate(), 0);
    }

    #[test]
    fn pass_through_needs_both_directions() {
        let mut s = Sessions::default();
        s.add(10_000_000, 100_000, false); // a download
        assert_eq!(s.passed_through(), 0);
        s.add(50_000, 9_000_000, true); // the relay leg back to a client
        assert_eq!(s.passed_through(), 8_950_000);
        assert!(s.balance() > 0.9);
        // A symmetric session with a little header asymmetry passes nothing through.
        let mut call = Sessions::default();
        call.add(10_000_000, 100_000, false);
        call.add(12_000_000, 13_000_000, false);
        assert_eq!(call.passed_through(), 0);
    }
}
