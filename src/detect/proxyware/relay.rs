//! The relay shape: finished sessions are added to their home host's window as they end; every
//! few seconds the open sessions are walked once, and a host whose window plus open sessions
//! show many concurrent long-lived sessions, many distinct outside peers, bytes passed through
//! and balanced bytes in and out is reported.
//!
//! The walk reuses one scratch map of `Copy` values (no allocation in steady state).

use super::state::{Distinct, Sessions, addr_hash};
use super::{NAME, Proxyware, ProxywareConfig, SIG_RELAY, fresh_in};
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
        (true, false) => (f.orig_addr(), f.resp_addr(), f.bytes[1], f.bytes[0], false),
        (false, true) => (f.resp_addr(), f.orig_addr(), f.bytes[0], f.bytes[1], true),
        _ => return None,
    };
    (!is_group(&peer) && !is_group(&home)).then_some((home, peer, inn, out, inbound))
}

/// A home host's open sessions at one sample.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OpenSessions {
    /// Their figures; `peak_concurrent` is the number open now and long-lived.
    sessions: Sessions,
    /// Their outside peers.
    peers: Distinct,
    /// The peer of the busiest one (bytes both ways), the alert's `dest_ip`.
    busiest: Option<(u64, IpAddr)>,
}

impl Proxyware {
    /// A flow ended: its figures join its home host's window.
    pub(super) fn add_finished_session(&mut self, f: &Flow) {
        let Some((home, peer, inn, out, inbound)) = relay_session(f) else { return };
        let window = self.cfg.window.nanos();
        if let Some(h) = self.hosts.get_mut(&home) {
            h.slide(f.last, window);
            h.add_session(&peer, inn, out, inbound);
        }
    }

    /// Samples the open sessions and reports hosts with the relay shape.
    pub(super) fn eval_relay(&mut self, now: Timestamp, flows: &FlowTable, out: &mut Vec<Alert>) {
        let min_age = self.cfg.relay_min_session_age.nanos();
        self.open.clear();
        self.open_list.clear();
        for f in flows.iter() {
            let Some((home, peer, inn, outb, inbound)) = relay_session(f) else { continue };
            let list = &mut self.open_list;
            let j = *self.open.entry(home).or_insert_with(|| {
                list.push((home, OpenSessions::default()));
                (list.len() - 1) as u32
            });
            let o = &mut list[j as usize].1;
            o.sessions.add(inn, outb, inbound);
            o.peers.insert(addr_hash(&peer));
            // A closed session waiting out `flow.closed_timeout` still counts its bytes, but
            // it is no longer concurrent. A flow built from records knows its end in advance
            // (the clock follows record starts): it is open while its last packet is ahead.
            if (!f.is_closed() || f.last > now) && now.0.saturating_sub(f.first.0) >= min_age {
                o.sessions.peak_concurrent += 1;
            }
            if o.busiest.is_none_or(|(b, _)| inn + outb > b) {
                o.busiest = Some((inn + outb, peer));
            }
        }
        let window = self.cfg.window.nanos();
        let Proxyware { open_list, hosts, recent, cfg, .. } = self;
        for (ip, o) in open_list.iter() {
            let Some(h) = hosts.get_mut(ip) else { continue };
            h.slide(now, window);
            h.sample_concurrency(o.sessions.peak_concurrent);
            let t = h.window().plus(&o.sessions);
            if t.peak_concurrent < cfg.relay_min_concurrent
                || t.passed_through() < cfg.relay_min_bytes.0
                || t.balance() < cfg.relay_min_balance
            {
                continue;
            }
            let peers = h.distinct_peers(&o.peers);
            if peers < cfg.relay_min_peers || !fresh_in(recent, window, (*ip, SIG_RELAY.id, 0), now) {
                continue;
            }
            let busiest = o.busiest.map_or(*ip, |(_, p)| p);
            let figures = RelayFigures {
                t,
                concurrent_now: o.sessions.peak_concurrent,
                peers,
                first_seen: h.first_seen,
            };
            out.push(relay_alert(cfg, now, *ip, busiest, &figures));
        }
    }
}

/// What a relay alert reports.
struct RelayFigures {
    t: Sessions,
    concurrent_now: u64,
    peers: u64,
    first_seen: Timestamp,
}

fn relay_alert(
    c: &ProxywareConfig,
    now: Timestamp,
    home: IpAddr,
    busiest: IpAddr,
    f: &RelayFigures,
) -> Alert {
    let t = &f.t;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    Alert::build(NAME, &SIG_RELAY, now, home, busiest)
        .score(t.passed_through() as f64, c.relay_min_bytes.0 as f64)
        .evidence("service", "relay")
        .evidence("window_secs", c.window.0.as_secs())
        .evidence("sessions", t.sessions)
        .evidence("inbound_sessions", t.inbound)
        .evidence("concurrent_sessions_peak", t.peak_concurrent)
        .evidence("concurrent_sessions_now", f.concurrent_now)
        .evidence("relay_min_concurrent", c.relay_min_concurrent)
        .evidence("relay_min_session_age_secs", c.relay_min_session_age.0.as_secs_f64())
        .evidence("distinct_peers", f.peers)
        .evidence("relay_min_peers", c.relay_min_peers)
        .evidence("bytes_in", t.bytes_in)
        .evidence("bytes_out", t.bytes_out)
        .evidence("byte_ratio", round(t.balance()))
        .evidence("relay_min_balance", c.relay_min_balance)
        .evidence("passed_through_bytes", t.passed_through())
        .evidence("relay_min_bytes", c.relay_min_bytes.0)
        .evidence("seconds_since_first_seen", round(now.since(f.first_seen).as_secs_f64()))
        .episode(format!("{home}|relay"), 1.0)
        .finish()
}
