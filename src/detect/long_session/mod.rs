//! Long sessions and sustained throughput to external hosts (T1048, T1041, T1071).
//!
//! Two signals, both reported while the traffic is still flowing:
//! - a flow between a home host and an external address that has been active for longer than
//!   `long_session.min_duration`, reported on its first packet past that age (not when it ends)
//!   by its duration alone, and again at each of `report_tiers` (RITA's 1/4/8/12 h) — a chatty
//!   command channel, a reverse shell, an interactive session kept open. Bytes and rates do not
//!   gate the alert for a connection (TCP, SCTP): the payload sent (`raise_payload_out`) and the
//!   mean outbound rate (`raise_rate_out`) each raise its severity one level. A UDP or ICMP flow
//!   (periodic request/response such as NTP, a ping left running) must also have sent
//!   `raise_payload_out`;
//! - a (home host, external destination) pair whose outbound payload rate stays above
//!   `sustained_rate` for longer than `sustained_for`, measured in slots of a tenth of that
//!   duration (1 s to 60 s): any slot below the rate ends the run.
//!
//! Payload bytes (true wire lengths, not captured lengths) decide the rate signal and the
//! severity, so a long download's stream of bare ACKs does not look like an upload; evidence
//! gives IP bytes too.
//!
//! Needs: every packet or flow record (session age) and flow volumes (sustained rate). Memory:
//! the flows already reported with their tier (capped at `max_flows`) and one small rate state
//! per pair (capped at `max_pairs`), both with counted eviction.

mod config;
mod signatures;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use config::LongSessionConfig;
pub(crate) use signatures::SIG_LONG;
pub(crate) use signatures::SIG_SUSTAINED;

use super::{
    Build, Detector, DetectorStats, Env, Events, Interest, PacketCtx, RecordCtx, Spec, VolumeCtx,
    VolumeInterest,
};
use crate::alert::Alert;
use crate::flow::bounded::Bounded;
use crate::flow::{EndReason, Flow, FlowTable};
use crate::policy;
use crate::time::Timestamp;
use crate::units::Dur;
use rustc_hash::FxHashMap;
use state::{NO_RUN, Rate, pair_key};

const NAME: &str = "long_session";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<LongSession>(
    NAME,
    "Long sessions and sustained throughput from a home host to an external one",
    (9_100_450, 9_100_499),
    signatures::ALL,
);

impl Build for LongSession {
    type Config = LongSessionConfig;
    fn build(config: &LongSessionConfig, _env: &Env) -> Self {
        LongSession::new(config.clone())
    }
}

/// The detector.
pub(crate) struct LongSession {
    cfg: LongSessionConfig,
    /// `min_duration`, then the longer `report_tiers`, ascending.
    tiers: Vec<Dur>,
    /// The first tier in nanoseconds: younger flows are passed over without a lookup.
    first_tier_ns: u64,
    slot: u64,
    /// Flow id → tiers already reported.
    reported: FxHashMap<u64, u8>,
    rates: Bounded<u64, Rate>,
    evicted: u64,
    shed: u64,
}

impl LongSession {
    /// A detector with `[long_session]`.
    pub(crate) fn new(cfg: LongSessionConfig) -> Self {
        // A tenth of the duration, between 1 s and 60 s.
        let slot = (cfg.sustained_for.nanos() / 10).clamp(1_000_000_000, 60_000_000_000);
        let mut tiers = vec![cfg.min_duration];
        tiers.extend(cfg.report_tiers.iter().copied().filter(|t| *t > cfg.min_duration));
        tiers.sort();
        tiers.dedup();
        LongSession {
            first_tier_ns: tiers
                .first()
                .map_or(u64::MAX, |t| u64::try_from(t.0.as_nanos()).unwrap_or(u64::MAX)),
            tiers,
            slot,
            reported: FxHashMap::default(),
            rates: Bounded::new(cfg.max_pairs),
            evicted: 0,
            shed: 0,
            cfg,
        }
    }

    fn long_session(&mut self, ts: Timestamp, f: &Flow, env: &Env, s: &policy::Sides, out: &mut Vec<Alert>) {
        let age = ts.since(f.first);
        // Tiers are ascending: the next one due is the first not yet reported.
        let done = self.reported.get(&f.id).copied().unwrap_or(0);
        let Some(tier) = self.tiers.get(usize::from(done)) else { return };
        if age < tier.0 {
            return;
        }
        // Duration alone speaks for a connection (TCP, SCTP). A UDP or ICMP "flow" is only packets
        // less than the idle timeout apart: NTP polling every 64 s or a ping left running is one
        // endless flow without being a session. Those must also have sent `raise_payload_out`.
        let connection = matches!(f.key.proto, 6 | 132);
        if !connection && f.payload[s.home_dir] < self.cfg.raise_payload_out.0 {
            return;
        }
        // Every tier this packet has passed (a flow seen again after a long gap reports once).
        let reached = self.tiers.iter().take_while(|t| age >= t.0).count();
        if done == 0 && self.reported.len() >= self.cfg.max_flows.max(1) {
            self.evicted += self.reported.len() as u64;
            self.reported.clear();
        }
        self.reported.insert(f.id, reached as u8);
        let tier = self.tiers.get(reached - 1).copied().unwrap_or(*tier);
        let (o, i) = (s.home_dir, 1 - s.home_dir);
        let secs = age.as_secs_f64();
        let rate_out = policy::rate(f.payload[o], secs);
        let by_payload = f.payload[o] >= self.cfg.raise_payload_out.0;
        let by_rate = rate_out >= self.cfg.raise_rate_out.0;
        let severity = SIG_LONG.severity.saturating_sub(u8::from(by_payload) + u8::from(by_rate)).max(1);
        let raised: Vec<String> = [
            (by_payload, format!("payload_out {} >= {}", f.payload[o], self.cfg.raise_payload_out.0)),
            (by_rate, format!("payload_rate_out {rate_out} >= {}", self.cfg.raise_rate_out.0)),
        ]
        .into_iter()
        .filter_map(|(on, why)| on.then_some(why))
        .collect();
        let b = Alert::build(NAME, &SIG_LONG, ts, s.home, s.remote)
            .severity(severity)
            .flow(f, ts)
            .score(secs, tier.0.as_secs_f64())
            .evidence("destination", s.remote.to_string())
            .evidence("service_port", s.service_port)
            .evidence("app_proto", f.app.name())
            .evidence("home_initiated", s.home_dir == 0)
            .evidence("duration_secs", round3(secs))
            .evidence("tier", reached)
            .evidence("tier_secs", tier.0.as_secs_f64())
            .evidence("long_session_secs", self.tiers.first().map_or(0.0, |t| t.0.as_secs_f64()))
            .evidence("severity_raised_by", raised)
            .evidence("bytes_out", f.bytes[o])
            .evidence("bytes_in", f.bytes[i])
            .evidence("payload_out", f.payload[o])
            .evidence("payload_in", f.payload[i])
            .evidence("pkts_out", f.pkts[o])
            .evidence("pkts_in", f.pkts[i])
            .evidence("payload_rate_out_bytes_per_sec", rate_out)
            .evidence("rate_out_bytes_per_sec", policy::rate(f.bytes[o], secs))
            .evidence("rate_in_bytes_per_sec", policy::rate(f.bytes[i], secs))
            .evidence("first_seen", f.first.to_eve())
            .episode(format!("{}|{}|{}|{reached}", s.home, s.remote, s.service_port), secs);
        out.push(env.egress.stamp(b, ts, severity).finish());
    }

    /// [`Detector::on_packet`] of a flow at least as old as the first tier.
    #[inline(never)]
    fn aged_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let Some(s) = c.env.egress.volume_sides(c.flow) else { return };
        if s.home_dir != 0 && !self.cfg.include_inbound {
            return;
        }
        self.long_session(c.ts, c.flow, c.env, &s, out);
    }

    fn sustained(&mut self, c: &VolumeCtx<'_>, s: &policy::Sides, out: &mut Vec<Alert>) {
        let bytes = c.delta.payload(s.home_dir);
        if bytes == 0 {
            return;
        }
        let idx = c.ts.0 / self.slot;
        let key = pair_key(&s.home, &s.remote);
        // Full: the pair with the least recent traffic goes, in O(1).
        let evicted = &mut self.evicted;
        let r = self.rates.get_or_insert_with(key, |old| {
            *evicted += u64::from(old.is_some());
            Rate { slot: idx, slot_bytes: 0, run_start: NO_RUN, run_bytes: 0, alerted: false }
        });
        if idx <= r.slot {
            r.slot_bytes += bytes;
            return;
        }
        // The packet opens a new slot: judge the one that closed.
        let need = (self.cfg.sustained_rate.0 as f64 * self.slot as f64 / 1e9) as u64;
        let met = r.slot_bytes >= need.max(1);
        let mut fire = None;
        if met {
            if r.run_start == NO_RUN {
                r.run_start = r.slot;
            }
            let start = r.run_start;
            r.run_bytes += r.slot_bytes;
            let run = (r.slot + 1 - start) * self.slot;
            if run >= self.cfg.sustained_for.nanos() && !r.alerted {
                r.alerted = true;
                fire = Some((start, run, r.run_bytes));
            }
        }
        if !met || idx > r.slot + 1 {
            // A slot below the rate, or empty slots in between, ends the run.
            r.run_start = NO_RUN;
            r.run_bytes = 0;
            r.alerted = false;
        }
        r.slot = idx;
        r.slot_bytes = bytes;
        if let Some(run) = fire {
            self.sustained_alert(c, s, run, out);
        }
    }

    /// A pair's sustained run fired: `(first slot, run in ns, payload bytes)`. Cold and out of
    /// line: the accounting above runs at every hand-over.
    #[cold]
    #[inline(never)]
    fn sustained_alert(
        &self,
        c: &VolumeCtx<'_>,
        s: &policy::Sides,
        run: (u64, u64, u64),
        out: &mut Vec<Alert>,
    ) {
        let (start, run, run_bytes) = run;
        let secs = run as f64 / 1e9;
        let start_ts = Timestamp(start * self.slot);
        let b = Alert::build(NAME, &SIG_SUSTAINED, c.ts, s.home, s.remote)
            .flow(c.flow, c.ts)
            .score(policy::rate(run_bytes, secs) as f64, self.cfg.sustained_rate.0 as f64)
            .evidence("destination", s.remote.to_string())
            .evidence("service_port", s.service_port)
            .evidence("app_proto", c.flow.app.name())
            .evidence("rate_bytes_per_sec", policy::rate(run_bytes, secs))
            .evidence("sustained_rate_threshold", self.cfg.sustained_rate.0)
            .evidence("duration_secs", round3(secs))
            .evidence("sustained_for_secs", self.cfg.sustained_for.0.as_secs_f64())
            .evidence("payload_out", run_bytes)
            .evidence("slot_secs", self.slot as f64 / 1e9)
            .evidence("run_start", start_ts.to_eve())
            .episode(format!("{}|{}", s.home, s.remote), 1.0);
        out.push(c.env.egress.stamp(b, c.ts, SIG_SUSTAINED.severity).finish());
    }
}

impl Detector for LongSession {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        // The sustained rate counts payload out: an unanswered inbound probe has none.
        VolumeInterest::Answered
    }

    fn event_interest(&self) -> Events {
        Events::NONE
    }

    fn packet_interest(&self) -> Interest {
        // A flow's first packet is 0 s old: it reaches no tier (unless the first is 0 s).
        if self.first_tier_ns > 0 { Interest::LATER } else { Interest::ALL }
    }

    #[inline]
    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        // Most packets belong to flows younger than the first tier: nothing to look up (and,
        // the rest out of line, no registers to save for it).
        if c.ts.0.saturating_sub(c.flow.first.0) >= self.first_tier_ns {
            self.aged_packet(c, out);
        }
    }

    fn on_flow_record(&mut self, r: &RecordCtx<'_>, out: &mut Vec<Alert>) {
        // A record's end is its flow's latest packet; an exporter's long-flow splits (active
        // timeout) are records of one flow, so the age counts from the first one's start.
        let Some(s) = r.env.egress.volume_sides(r.flow) else { return };
        if s.home_dir != 0 && !self.cfg.include_inbound {
            return;
        }
        self.long_session(r.ts, r.flow, r.env, &s, out);
    }

    fn volume_resolution_ns(&self) -> u64 {
        self.slot
    }

    fn on_flow_volume(&mut self, v: &VolumeCtx<'_>, out: &mut Vec<Alert>) -> u64 {
        if let Some(s) = v.env.egress.volume_sides(v.flow)
            && (s.home_dir == 0 || self.cfg.include_inbound)
        {
            self.sustained(v, &s, out);
        }
        u64::MAX
    }

    fn on_flow_end(&mut self, f: &Flow, _why: EndReason, _env: &Env, _out: &mut Vec<Alert>) {
        if !self.reported.is_empty() {
            self.reported.remove(&f.id);
        }
    }

    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        if now.secs().is_multiple_of(60) {
            // Kept two slots past the end of its newest slot (at least a minute): by then the
            // run has ended anyway.
            let (slot, keep) = (self.slot, self.slot.saturating_mul(2).max(60_000_000_000));
            self.rates
                .retain(|_, r| now.0.saturating_sub(r.slot.saturating_add(1).saturating_mul(slot)) < keep);
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.reported.len() + self.rates.len()) as u64,
            evicted: self.evicted,
            memory: (self.rates.overhead_bytes() + self.reported.capacity() * 17) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        let n = self.rates.shed(share, |_, _| {});
        self.shed += n;
        n
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
