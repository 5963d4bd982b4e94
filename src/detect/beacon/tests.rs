//! The beacon score and series on synthetic gap series (the captures are in tests/beacon.rs).

use super::score::{RING, fit_share, rita, score, spread};
use super::state::{Bounded, DestKind, FirstSeen, Prevalence, Pushed, Series};
use super::{Nets, strip_port};
use crate::time::Timestamp;
use std::net::{IpAddr, Ipv4Addr};

/// A small deterministic generator (xorshift), uniform in [0, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn jittered(base: f64, jitter: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut r = Rng(seed);
    (0..n).map(|_| base * (1.0 + jitter * (2.0 * r.next() - 1.0))).collect()
}

#[test]
fn spread_of_known_values() {
    let s = spread(&[1.0, 2.0, 3.0, 4.0, 100.0]);
    assert_eq!(s.median, 3.0);
    assert_eq!(s.q1, 2.0);
    assert_eq!(s.q3, 4.0);
    assert_eq!(s.mad, 1.0);
    assert_eq!(s.bowley(), 0.0);
    let skewed = spread(&[1.0, 1.0, 1.0, 2.0, 9.0]);
    assert!(skewed.bowley() > 0.9, "{skewed:?}");
    assert_eq!(spread(&[]).median, 0.0);
}

#[test]
fn missed_checkins_still_fit() {
    // Every third check-in missed: gaps of 2 and 3 intervals fit the median's multiples.
    let gaps = [10.0, 10.2, 20.1, 9.8, 30.3, 10.1, 9.9, 10.0];
    assert_eq!(fit_share(&gaps, 10.0, 0.1), 1.0);
    // 15 s between 10 s check-ins is off every multiple.
    assert_eq!(fit_share(&[10.0, 15.0], 10.0, 0.1), 0.5);
    assert_eq!(fit_share(&[], 10.0, 0.1), 0.0);
}

#[test]
fn beacons_score_high_and_random_gaps_low() {
    let tight = score(&jittered(10.0, 0.15, 31, 7), &[350.0; 20], 0.35);
    assert!(tight.total > 0.9, "{tight:?}");
    let loose = score(&jittered(10.0, 0.5, 31, 9), &[350.0; 20], 0.35);
    assert!(loose.total > 0.75, "{loose:?}");
    // Exponential think times (human browsing), sizes of different pages.
    let mut r = Rng(11);
    let human: Vec<f64> = (0..31).map(|_| -20.0 * (1.0 - r.next()).ln() + 1.0).collect();
    let pages: Vec<f64> = (0..20).map(|i| 2000.0 + 1500.0 * f64::from(i % 7)).collect();
    let h = score(&human, &pages, 0.35);
    assert!(h.total < 0.6, "{h:?}");
}

#[test]
fn score_parts_stay_in_range() {
    let mut r = Rng(3);
    for n in 2..40 {
        let gaps: Vec<f64> = (0..n).map(|_| r.next() * 1000.0).collect();
        let sizes: Vec<f64> = (0..n).map(|_| r.next() * 1e6).collect();
        let s = score(&gaps, &sizes, 0.35);
        for x in [s.total, s.fit, s.mad_score, s.skew_score, s.size_score] {
            assert!((0.0..=1.0).contains(&x), "{n}: {s:?}");
        }
    }
}

#[test]
fn rita_forces_skew_under_ten_seconds_of_iqr() {
    let perfect = rita(&[60.0; 10], &[400.0; 10]);
    assert_eq!(perfect.timestamp, 1.0);
    assert_eq!(perfect.data_size, 1.0);
    assert_eq!(perfect.total_short, 0.5);
    // Skewed gaps with an IQR under 10 s: the skew part is forced to a perfect 1.
    let r = rita(&[1.0, 1.0, 1.5, 2.0, 9.0, 9.5], &[]);
    assert!(r.timestamp > 0.5, "{r:?}");
    assert_eq!(r.data_size, 0.0);
}

fn ts(s: f64) -> Timestamp {
    Timestamp((s * 1e9) as u64)
}

fn series() -> Series {
    let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    Series::new(a, a, DestKind::Addr, 1, ts(100.0))
}

#[test]
fn series_merges_under_the_floor_and_restarts_after_a_long_gap() {
    let mut s = series();
    assert!(matches!(s.checkin(ts(100.5), 1000, 3_600_000), Pushed::Merged));
    assert!(matches!(s.checkin(ts(99.0), 1000, 3_600_000), Pushed::Merged), "out of order");
    assert!(matches!(s.checkin(ts(110.0), 1000, 3_600_000), Pushed::New));
    assert_eq!(s.checkins, 2);
    assert!(matches!(s.checkin(ts(8000.0), 1000, 3_600_000), Pushed::New));
    assert_eq!((s.checkins, s.first), (1, ts(8000.0)), "restarted");
}

#[test]
fn series_ring_keeps_the_newest_gaps() {
    let mut s = series();
    for i in 1..=100 {
        s.checkin(ts(100.0 + f64::from(i) * if i > 50 { 20.0 } else { 10.0 }), 1000, 3_600_000);
        s.size(u64::from(i as u32));
    }
    let (mut g, mut z) = ([0.0; RING], [0.0; RING]);
    let (ng, ns) = s.figures(&mut g, &mut z);
    assert_eq!((ng, ns, s.checkins), (RING, RING, 101));
    assert!(g.iter().all(|&x| x > 10.0), "only the newest gaps: {g:?}");
    s.add_to_last_size(5);
    s.figures(&mut g, &mut z);
    assert!(z.contains(&105.0));
}

#[test]
fn bounded_map_evicts_and_expires() {
    let mut m: Bounded<u32> = Bounded::new(4);
    for k in 0..10u64 {
        *m.entry(k, ts(k as f64), || 0) += 1;
    }
    assert_eq!(m.len(), 4);
    assert_eq!(m.evicted, 6);
    assert_eq!(m.get(9), Some(&1), "the newest stays");
    // Removal keeps the index of the slot moved into the hole.
    let keys: Vec<u64> = (0..10).filter(|k| m.get(*k).is_some()).collect();
    assert_eq!(m.remove(keys[0]), Some(1));
    for k in &keys[1..] {
        assert_eq!(m.get(*k), Some(&1), "{k}");
    }
    m.expire(ts(9.0));
    assert_eq!(m.len(), 1);
}

#[test]
fn prevalence_counts_distinct_hosts_up_to_its_slots() {
    let mut p = Prevalence::default();
    for h in [1, 2, 2, 3] {
        p.add(h);
    }
    assert_eq!(p.hosts(), 3);
    for h in 0..100 {
        p.add(h);
    }
    assert_eq!(p.hosts(), super::state::PREVALENCE_SLOTS);
}

#[test]
fn host_header_ports_are_stripped() {
    assert_eq!(strip_port(b"a.example.com:8080"), b"a.example.com");
    assert_eq!(strip_port(b"a.example.com"), b"a.example.com");
    assert_eq!(strip_port(b"[2001:db8::1]:443"), b"2001:db8::1");
    assert_eq!(strip_port(b"2001:db8::1"), b"2001:db8::1");
    assert_eq!(strip_port(b":80"), b"");
}

#[test]
fn pairs_meeting_in_one_set_are_each_admitted_at_their_second_checkin() {
    // A table of 4 sets: keys equal in their low bits share a set.
    let mut seen = FirstSeen::new(8);
    let keys: Vec<u64> = (1..=4u64).map(|k| (k << 33) | 5).collect();
    let gap = 1_000_000_000;
    for &k in &keys {
        assert_eq!(seen.second(k, Timestamp(10), gap), None);
    }
    for &k in &keys {
        assert_eq!(seen.second(k, Timestamp(20), gap), Some(Timestamp(10)), "key {k:x}");
    }
    // A fifth pair in a full set replaces the oldest; a second check-in too late starts over.
    for &k in &keys {
        assert_eq!(seen.second(k, Timestamp(30 + k), gap), None);
    }
    assert_eq!(seen.second((9 << 33) | 5, Timestamp(40), gap), None);
    assert_eq!(seen.second(keys[0], Timestamp(50), gap), None, "the oldest was replaced");
    assert_eq!(seen.second(keys[3], Timestamp(31 + 4 + gap), gap), None, "too late");
    assert_eq!(seen.second(keys[3], Timestamp(40 + 4 + gap), gap), Some(Timestamp(31 + 4 + gap)));
}

#[test]
fn compiled_nets_contain_what_ipnet_contains() {
    let nets: Vec<ipnet::IpNet> = [
        "224.0.0.0/4",
        "255.255.255.255/32",
        "10.1.0.0/16",
        "0.0.0.0/0",
        "ff00::/8",
        "2001:db8::/32",
        "::/0",
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..nets.len() {
        for j in i..=nets.len() {
            let some = &nets[i..j];
            let compiled = Nets::new(some);
            let mut addrs: Vec<IpAddr> = vec![
                [224, 0, 0, 1].into(),
                [239, 255, 255, 255].into(),
                [240, 0, 0, 0].into(),
                [223, 255, 255, 255].into(),
                [255, 255, 255, 255].into(),
                [10, 1, 200, 3].into(),
                [10, 2, 0, 1].into(),
                "ff02::fb".parse().unwrap(),
                "fe80::1".parse().unwrap(),
                "2001:db8:1::1".parse().unwrap(),
                "2001:db9::1".parse().unwrap(),
            ];
            for _ in 0..200 {
                let x = (r.next() * u32::MAX as f64) as u32;
                addrs.push(IpAddr::V4(Ipv4Addr::from(x)));
                let hi = (r.next() * u64::MAX as f64) as u64;
                addrs.push(IpAddr::V6(std::net::Ipv6Addr::from(u128::from(hi) << 64 | u128::from(x))));
            }
            for a in addrs {
                assert_eq!(compiled.contains(a), some.iter().any(|n| n.contains(&a)), "{a} in {some:?}");
            }
        }
    }
}
