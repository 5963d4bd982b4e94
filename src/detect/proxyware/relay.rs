//! The relay shape: finished sessions are added to their home host's window as they end; every
//! few seconds the open sessions are walked once, and a host whose window plus open sessions
//! show many concurrent long-lived sessions, many distinct outside peers, bytes passed through
//! and balanced bytes in and out is reported.
//!
//! The walk reuses two scratch buffers (no allocation in steady state) and only collects peers
//! for hosts that already pass the cheap figures.

use super::shape::{Sessions, addr_hash};
use super::{NAME, Proxyware, SIG_RELAY};
use crate::alert::Alert;
use crate::flow::host::is_group;
use crate::flow::{Flow, FlowTable};
use crate::time::Timestamp;
use std::net::IpAddr;

/// The home host of a session with an outside peer that carried payload both ways:
/// (home, peer, bytes in, bytes out, peer opened it).
fn relay_session(f: &Flow) -> Option<(IpAddr, IpAddr, u64, u64, bool)> {
    if !matches!(f.key.proto, 6 | 17) || f.payload[0] == 0 || f.payload[1] == 0 {
        return None;
    }
    let (home, peer, inn, out, inbound) = match (f.orig_home, f.resp_home) {
        (true, false) => (f.orig_addr, f.resp_addr, f.bytes[1], f.bytes[0], false),
        (false, true) => (f.resp_addr, f.orig_addr, f.bytes[0], f.bytes[1], true),
        _ => return None,
    };
    (!is_group(&peer) && !is_group(&home)).then_some((home, peer, inn, out, inbound))
}

impl Proxyware {
    /// A flow ended: its figures join its home host's window.
    pub(super) fn add_finished_session(&mut self, f: &Flow) {
        let Some((home, peer, inn, out, inbound)) = relay_session(f) else { return };
        let window = self.cfg.window.nanos();
        let max_peers = self.cfg.max_peers_per_host;
        if let Some(h) = self.hosts.get_mut(&home) {
            h.slide(f.last, window);
            h.add_session(&peer, inn, out, inbound, max_peers);
        }
    }

    /// Samples the open sessions and reports hosts with the relay shape.
    pub(super) fn eval_relay(&mut self, now: Timestamp, flows: &FlowTable, out: &mut Vec<Alert>) {
        let min_age = self.cfg.relay_min_session_age.nanos();
        self.open.clear();
        for f in flows.iter() {
            let Some((home, _, inn, outb, inbound)) = relay_session(f) else { continue };
            let s = self.open.entry(home).or_default();
            s.add(inn, outb, inbound);
            // A closed session waiting out `flow.closed_timeout` still counts its bytes, but
            // it is no longer concurrent.
            if !f.is_closed() && now.0.saturating_sub(f.first.0) >= min_age {
                s.peak_concurrent += 1;
            }
        }
        let window = self.cfg.window.nanos();
        self.candidates.clear();
        for (ip, open) in &self.open {
            let Some(h) = self.hosts.get_mut(ip) else { continue };
            h.slide(now, window);
            h.sample_concurrency(open.peak_concurrent);
            let t = h.window().plus(open);
            if t.peak_concurrent >= self.cfg.relay_min_concurrent
                && t.passed_through() >= self.cfg.relay_min_bytes.0
                && t.balance() >= self.cfg.relay_min_balance
            {
                self.candidates.push(*ip);
            }
        }
        if self.candidates.is_empty() {
            return;
        }
        // Second walk, candidates only: their open peers, and the busiest open session.
        self.open_peers.clear();
        for f in flows.iter() {
            let Some((home, peer, inn, outb, _)) = relay_session(f) else { continue };
            if self.candidates.contains(&home) {
                self.open_peers.push((home, addr_hash(&peer), inn + outb, peer));
            }
        }
        self.open_peers.sort_unstable_by_key(|&(h, p, _, _)| (h, p));
        let candidates = std::mem::take(&mut self.candidates);
        for ip in &candidates {
            let lo = self.open_peers.partition_point(|e| e.0 < *ip);
            let hi = self.open_peers.partition_point(|e| e.0 <= *ip);
            let mine = self.open_peers.get(lo..hi).unwrap_or_default();
            let busiest = mine.iter().max_by_key(|e| e.2).map_or(*ip, |e| e.3);
            let open = self.open.get(ip).copied().unwrap_or_default();
            let Some(h) = self.hosts.get(ip) else { continue };
            // `mine` is sorted by peer hash: keep the first of each run.
            let hashes = mine
                .iter()
                .enumerate()
                .filter(|(i, e)| *i == 0 || mine.get(i - 1).is_none_or(|p| p.1 != e.1));
            let peers = h.distinct_peers(hashes.map(|(_, e)| e.1));
            if peers < self.cfg.relay_min_peers {
                continue;
            }
            let t = h.window().plus(&open);
            let first_seen = h.first_seen;
            self.relay_alert(now, *ip, busiest, &t, open.peak_concurrent, peers, first_seen, out);
        }
        self.candidates = candidates;
    }

    #[allow(clippy::too_many_arguments)]
    fn relay_alert(
        &mut self,
        now: Timestamp,
        home: IpAddr,
        busiest: IpAddr,
        t: &Sessions,
        concurrent_now: u64,
        peers: u64,
        first_seen: Timestamp,
        out: &mut Vec<Alert>,
    ) {
        if !self.fresh(home, &SIG_RELAY, 0, now) {
            return;
        }
        let c = &self.cfg;
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        out.push(
            Alert::build(NAME, &SIG_RELAY, now, home, busiest)
                .score(t.passed_through() as f64, c.relay_min_bytes.0 as f64)
                .evidence("service", "relay")
                .evidence("window_secs", c.window.0.as_secs())
                .evidence("sessions", t.sessions)
                .evidence("inbound_sessions", t.inbound)
                .evidence("concurrent_sessions_peak", t.peak_concurrent)
                .evidence("concurrent_sessions_now", concurrent_now)
                .evidence("relay_min_concurrent", c.relay_min_concurrent)
                .evidence("relay_min_session_age_secs", c.relay_min_session_age.0.as_secs_f64())
                .evidence("distinct_peers", peers)
                .evidence("relay_min_peers", c.relay_min_peers)
                .evidence("bytes_in", t.bytes_in)
                .evidence("bytes_out", t.bytes_out)
                .evidence("byte_ratio", round(t.balance()))
                .evidence("relay_min_balance", c.relay_min_balance)
                .evidence("passed_through_bytes", t.passed_through())
                .evidence("relay_min_bytes", c.relay_min_bytes.0)
                .evidence("seconds_since_first_seen", round(now.since(first_seen).as_secs_f64()))
                .episode(format!("{home}|relay"), 1.0)
                .finish(),
        );
    }
}
