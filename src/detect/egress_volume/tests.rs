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
        if let Some(f) = t.account(0, Timestamp::from_secs(k), 100, 10, 0.0, 10.0, |_| {}).fired {
            fired.push((k, f.i, f.out));
        }
    }
    // The 10th packet takes the minute window to 1000 B: it fires then, once; 10× the
    // first figure (10 000 B) is reached by the hour window with the 100th packet.
    assert_eq!(fired, [(9, 0, 1000), (99, 1, 10_000)]);
    // The ratio knob: inbound matching outbound keeps it quiet.
    let mut t: Tallies<u8> = Tallies::new(&limits[..1], 10);
    assert!(
        (0..100u64)
            .all(|k| t.account(0, Timestamp::from_secs(k), 100, 100, 2.0, 10.0, |_| {}).fired.is_none())
    );
}

#[test]
fn light_tallies_promote_and_evict_with_count() {
    // 64 000 B threshold: rings from 1000 B on; the first 900 B stay light.
    let limits = [lim("1m:64000B")];
    let mut t: Tallies<u8> = Tallies::new(&limits, 2);
    t.account(0, Timestamp::from_secs(0), 900, 0, 0.0, 10.0, |_| {});
    assert!(t.map[&0].rings.is_none());
    t.account(0, Timestamp::from_secs(1), 100, 0, 0.0, 10.0, |_| {});
    assert_eq!(t.map[&0].rings.as_ref().map(|r| r[0].out), Some(1000));
    t.account(1, Timestamp::from_secs(2), 0, 0, 0.0, 10.0, |_| {});
    t.account(2, Timestamp::from_secs(3), 0, 0, 0.0, 10.0, |_| {});
    assert_eq!((t.map.len(), t.evicted), (2, 1));
}
