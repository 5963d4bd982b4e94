//! The flow-only DNS-tunnel signal: flow records carry no names, only how much one client sent
//! to one DNS server (UDP or TCP port 53) and in how many packets. Name lookups are small
//! (60-100 bytes of IP per query); a tunnel fills its labels with data (iodine's queries
//! average ~250 bytes, 60-hex-character labels ~150). One alert per (client, server) episode
//! when, inside `flow_window`, the client sent at least `flow_min_bytes_out` in queries whose
//! mean size is at least `flow_min_query_bytes`.
//!
//! Memory: one 56-byte tally per (home client, server), capped at `max_flow_pairs` with the
//! least recently seen evicted (counted with the detector's evictions).

use super::{DnsTunnel, NAME};
use crate::alert::Alert;
use crate::detect::RecordCtx;
use crate::flow::Dir;
use crate::time::Timestamp;
use std::net::IpAddr;

/// One (client, server) pair's DNS traffic in the current window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pair {
    start: Timestamp,
    bytes_out: u64,
    bytes_in: u64,
    queries: u64,
    flows: u64,
    alerted: bool,
}

impl DnsTunnel {
    /// A flow record: sums a home client's DNS traffic per server.
    pub(super) fn on_record(&mut self, r: &RecordCtx<'_>, out: &mut Vec<Alert>) {
        let f = r.flow;
        if !matches!(f.key.proto, 6 | 17) || f.resp_port() != 53 || !f.orig_home {
            return;
        }
        let (client, server) = (f.orig_addr(), f.resp_addr());
        if self.allow_clients.contains(&client) {
            return;
        }
        let window = self.cfg.flow_window.nanos();
        let evicted = &mut self.evicted;
        let p = self.flow_pairs.get_or_insert_with((client, server), |old| {
            *evicted += u64::from(old.is_some());
            Pair { start: r.start, bytes_out: 0, bytes_in: 0, queries: 0, flows: 0, alerted: false }
        });
        if r.ts.0.saturating_sub(p.start.0) > window {
            *p = Pair { start: r.start, bytes_out: 0, bytes_in: 0, queries: 0, flows: 0, alerted: false };
        }
        match r.dir {
            Dir::ToServer => {
                p.bytes_out = p.bytes_out.saturating_add(r.bytes);
                p.queries = p.queries.saturating_add(r.pkts);
                if f.pkts[0] == r.pkts {
                    p.flows += 1;
                }
            }
            Dir::ToClient => p.bytes_in = p.bytes_in.saturating_add(r.bytes),
        }
        let mean = p.bytes_out / p.queries.max(1);
        if p.alerted || p.bytes_out < self.cfg.flow_min_bytes_out.0 || mean < self.cfg.flow_min_query_bytes {
            return;
        }
        p.alerted = true;
        let p = *p;
        out.push(flow_alert(r.ts, client, server, f, &p, self));
    }
}

impl DnsTunnel {
    /// Forgets pairs quiet for two windows.
    pub(super) fn expire_flow_pairs(&mut self, now: Timestamp) {
        let keep = self.cfg.flow_window.nanos().saturating_mul(2);
        self.flow_pairs.retain(|_, p| now.0.saturating_sub(p.start.0) <= keep);
    }
}

fn flow_alert(
    ts: Timestamp,
    client: IpAddr,
    server: IpAddr,
    f: &crate::flow::Flow,
    p: &Pair,
    d: &DnsTunnel,
) -> Alert {
    let mean = p.bytes_out / p.queries.max(1);
    Alert::build(NAME, &super::signatures::SIG_FLOW_VOLUME, ts, client, server)
        .flow(f, ts)
        .score(p.bytes_out as f64, d.cfg.flow_min_bytes_out.0 as f64)
        .evidence("server", server.to_string())
        .evidence("bytes_out", p.bytes_out)
        .evidence("bytes_in", p.bytes_in)
        .evidence("queries", p.queries)
        .evidence("flows", p.flows)
        .evidence("mean_query_bytes", mean)
        .evidence("min_query_bytes", d.cfg.flow_min_query_bytes)
        .evidence("min_bytes_out", d.cfg.flow_min_bytes_out.0)
        .evidence("window", d.cfg.flow_window.to_string())
        .evidence("duration_secs", (ts.since(p.start).as_secs_f64() * 1000.0).round() / 1000.0)
        .evidence("first_seen", p.start.to_eve())
        .episode(format!("flow|{client}|{server}"), p.bytes_out as f64)
        .finish()
}
