//! Flow records (NetFlow v5/v9, IPFIX) into the worker: each record is accounted to its flow in
//! the same flow table packets use, its traffic handed to the detectors' volume hook at the
//! record's end time, and then every detector's `on_flow_record` hook judges it. Flows built
//! from records end like packet flows: closed (FIN both ways or RST) after `flow.closed_timeout`,
//! otherwise `netflow.flow_timeout` after their last record, and their end reaches
//! `on_flow_end`. Alerts raised on records say so: `siphon.source: "netflow"`, the exporter and
//! its observation domain, and the sampling interval in the evidence.

use super::Worker;
use crate::alert::Alert;
use crate::capture::netflow::FlowRecord;
use crate::detect::RecordCtx;
use crate::flow::{Volume, table::record_payload};
use crate::time::Timestamp;
use std::net::IpAddr;

/// Marks an alert as raised on flow records from `(exporter, domain, sampling)`.
pub(super) fn stamp(a: &mut Alert, (exporter, domain, sampling): (IpAddr, u32, u32)) {
    a.siphon.source = Some("netflow");
    a.siphon.exporter = Some(exporter.to_string());
    a.siphon.observation_domain = Some(domain);
    a.siphon.evidence.insert("sampling_rate".into(), sampling.into());
}

/// Most bytes handed over in one volume call: [`Volume`]'s counters are 32-bit.
const CHUNK: u64 = u32::MAX as u64;
/// Most volume calls for one record.
const MAX_PIECES: u32 = 16;

impl Worker {
    /// Accounts one flow record and runs the detectors on it; admitted alerts go to `emit`.
    pub fn process_record(&mut self, r: &FlowRecord, emit: &mut dyn FnMut(Alert)) {
        self.stats.records += 1;
        self.stats.packets += r.pkts;
        self.stats.bytes += r.bytes;
        self.stats.decoded += r.pkts;
        self.last_exporter = Some((r.exporter, r.domain, r.sampling));
        // Records come in start order: the clock follows their starts, so a first contact is
        // not timed out before the record of its answer, which starts an instant later.
        if r.start > self.now {
            self.now = r.start;
        }
        if self.now >= self.next_tick {
            self.run_tick();
            self.next_tick = Timestamp(self.now.0 - self.now.0 % self.tick + self.tick);
        }
        let Worker { table, detectors, volume_subs, env, alerts, ended, .. } = self;
        let first_alert = alerts.len();
        let (flow, dir, new_flow) = table.update_record(r, &env.home, ended);
        if new_flow
            && let Some(g) = &env.geoip
            && let Some(s) = env.egress.sides(flow)
        {
            flow.geo = g.on_new_flow(r.start, s.home, s.remote);
        }
        // The record's traffic, in pieces the volume counters hold, at the record's end: at
        // most MAX_PIECES hand-overs, the last one saturated (a record claiming more than
        // 64 GiB is a lie or a counter error; the flow's own totals keep every byte).
        let (mut bytes, mut pkts, mut payload) = (r.bytes, r.pkts, record_payload(r));
        let i = dir.idx();
        for piece in 1..=MAX_PIECES {
            let last = piece == MAX_PIECES;
            let take = |x: u64| if last { x } else { x.min(CHUNK) };
            let (b, p, l) = (take(bytes), take(pkts), take(payload));
            let mut v = Volume::default();
            if let (Some(vb), Some(vp), Some(vl)) =
                (v.bytes.get_mut(i), v.pkts.get_mut(i), v.payload.get_mut(i))
            {
                let sat = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
                (*vb, *vp, *vl) = (sat(b), sat(p), sat(l));
            }
            flow.unflushed = v;
            flow.unflushed_last = r.end;
            Self::hand_over(flow, r.end, &volume_subs.flows, detectors, env, alerts);
            (bytes, pkts, payload) = (bytes - b, pkts - p, payload - l);
            if bytes == 0 && pkts == 0 {
                break;
            }
        }
        let flow: &crate::flow::Flow = flow;
        let c = RecordCtx {
            ts: r.end,
            start: r.start,
            flow,
            dir,
            pkts: r.pkts,
            bytes: r.bytes,
            flags: r.flags,
            icmp_type: r.icmp_type,
            new_flow,
            env,
        };
        for det in detectors.iter_mut() {
            det.on_flow_record(&c, alerts);
        }
        for a in &mut alerts[first_alert..] {
            stamp(a, (r.exporter, r.domain, r.sampling));
        }
        if !self.ended.is_empty() {
            self.end_flows();
        }
        self.flush_alerts(emit);
    }
}
