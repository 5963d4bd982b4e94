//! Unit tests of the window rings and the tallies.

use super::state::*;
use crate::time::Timestamp;
use crate::units::WindowLimit;

fn lim(s: &str) -> WindowLimit {
    WindowLimit::parse(s).unwrap()
}

#[test]
fn ring_slides_old_slots_out() {
    let mut r = Ring::default();
    r.add(10, 100, 1);
    r.add(12, 50, 0);
    assert_eq!((r.out, r.inb), (150, 1));
    // Slot 18 is 8 slots after 10: slot 10 leaves the window, 12 stays.
    r.add(18, 5, 0);
    assert_eq!(r.out, 55);
    // A jump of more than a whole ring empties it.
    r.add(100, 1, 0);
    assert_eq!(r.out, 1);
}

#[test]
fn fires_on_the_crossing_packet_once_then_escalates() {
    let limits = [lim("1m:1000B"), lim("1h:5000B")];
    let mut t: Tallies<u8> = Tallies::new(&limits, 10);
    let mut fired = Vec::new();
    for k in 0..100u64 {
        if let Some(f) =
            t.account(0, Timestamp::from_secs(k), Timestamp::from_secs(k), 100, 10, 0.0, 10.0, |_| {}).fired
        {
            fired.push((k, f.i, f.out));
        }
    }
    // The 10th packet takes the minute window to 1000 B: it fires then, once; 10× the
    // first figure (10 000 B) is reached by the hour window with the 100th packet.
    assert_eq!(fired, [(9, 0, 1000), (99, 1, 10_000)]);
    // The ratio knob: inbound matching outbound keeps it quiet.
    let mut t: Tallies<u8> = Tallies::new(&limits[..1], 10);
    assert!((0..100u64).all(|k| {
        t.account(0, Timestamp::from_secs(k), Timestamp::from_secs(k), 100, 100, 2.0, 10.0, |_| {})
            .fired
            .is_none()
    }));
}

#[test]
fn light_tallies_promote_and_evict_with_count() {
    // 64 000 B threshold: rings from 1000 B on; the first 900 B stay light.
    let limits = [lim("1m:64000B")];
    let mut t: Tallies<u8> = Tallies::new(&limits, 2);
    t.account(0, Timestamp::from_secs(0), Timestamp::from_secs(0), 900, 0, 0.0, 10.0, |_| {});
    assert!(t.map[&0].rings.is_none());
    t.account(0, Timestamp::from_secs(1), Timestamp::from_secs(1), 100, 0, 0.0, 10.0, |_| {});
    assert_eq!(t.map[&0].rings.as_ref().map(|r| r[0].out), Some(1000));
    t.account(1, Timestamp::from_secs(2), Timestamp::from_secs(2), 0, 0, 0.0, 10.0, |_| {});
    t.account(2, Timestamp::from_secs(3), Timestamp::from_secs(3), 0, 0, 0.0, 10.0, |_| {});
    assert_eq!((t.map.len(), t.evicted), (2, 1));
}

/// A flow of `Config::default()`'s home network (10.0.0.5) with an outside peer, opened by
/// `src` at second `at`, and the detector's environment.
fn flow_from(src: &str, dst: &str, at: u64) -> (crate::flow::Flow, crate::detect::Env) {
    let config = crate::config::Config::default();
    let env = crate::detect::Env::from_config(&config);
    let r = crate::capture::netflow::FlowRecord {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        sport: 40000,
        dport: 53,
        proto: 17,
        flags: 0,
        icmp_type: 0,
        pkts: 1,
        bytes: 60,
        start: Timestamp::from_secs(at),
        end: Timestamp::from_secs(at),
        exporter: "192.0.2.1".parse().unwrap(),
        domain: 0,
        sampling: 1,
        version: 5,
    };
    let mut t = crate::flow::FlowTable::new(crate::config::FlowConfig::default());
    let f = t.update_record(&r, &env.home, &mut Vec::new()).0.clone();
    (f, env)
}

/// `n` bytes of one packet in direction `dir` (0: from the initiator).
fn delta(dir: usize, n: u32) -> crate::flow::Volume {
    let mut v = crate::flow::Volume::default();
    v.bytes[dir] = n;
    v.pkts[dir] = 1;
    v
}

#[test]
fn a_flow_from_outside_counts_only_once_its_home_host_sends() {
    use super::{EgressVolume, EgressVolumeConfig};
    use crate::detect::{Detector, VolumeCtx};
    let mut d = EgressVolume::new(EgressVolumeConfig::default(), 2.0);
    let mut out = Vec::new();
    let t = Timestamp::from_secs;
    // A one-packet datagram from outside (a flood's): nothing is tracked, and the room is what a
    // fresh tally would have had.
    let (mut f, env) = flow_from("198.51.100.7", "10.0.0.5", 100);
    let room = d.on_flow_volume(
        &VolumeCtx { ts: t(100), since: t(100), flow: &f, delta: delta(0, 60), first: true, env: &env },
        &mut out,
    );
    assert_eq!((d.stats().tracked, room), (0, d.pairs.promote_at.min(d.hosts.promote_at)));
    // Its answer a second later: the flow is counted then, its bytes in included, first seen
    // when it opened.
    f.bytes[1] += 100;
    f.pkts[1] += 1;
    let ts = Timestamp::from_secs(101);
    let v = VolumeCtx { ts, since: ts, flow: &f, delta: delta(1, 100), first: false, env: &env };
    d.on_flow_volume(&v, &mut out);
    let pair = d.pairs.map.values().next().map(|t| (t.total_out, t.total_in, t.flows, t.first));
    assert_eq!(pair, Some((100, 60, 1, Timestamp::from_secs(100))));
    let host = d.hosts.map.values().next().map(|t| (t.total_out, t.total_in, t.flows, t.dests));
    assert_eq!(host, Some((100, 60, 1, 1)));
    // More from both sides: counted as before, the flow not again.
    f.bytes[0] += 60;
    f.bytes[1] += 100;
    for dir in [0, 1] {
        let v = VolumeCtx {
            ts: t(102),
            since: t(102),
            flow: &f,
            delta: delta(dir, 60 + 40 * dir as u32),
            first: false,
            env: &env,
        };
        d.on_flow_volume(&v, &mut out);
    }
    let pair = d.pairs.map.values().next().map(|t| (t.total_out, t.total_in, t.flows));
    assert_eq!(pair, Some((200, 120, 1)));
    // A flow the home host opens is counted at once.
    let (g, _) = flow_from("10.0.0.5", "203.0.113.9", 103);
    let v = VolumeCtx { ts: t(103), since: t(103), flow: &g, delta: delta(0, 60), first: true, env: &env };
    d.on_flow_volume(&v, &mut out);
    assert_eq!(d.pairs.map.len(), 2);
    assert!(out.is_empty());
}
