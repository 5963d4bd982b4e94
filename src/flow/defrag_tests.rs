//! Reassembly: order, bounds, the first-wins overlap policy and each anomaly kind, on
//! hand-built fragments of a UDP datagram (10.0.0.1 → 192.0.2.1, IP id 7).

use super::*;

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [192, 0, 2, 1];
/// IPv4 header, IHL 5, id 7, MF, proto UDP.
const HDR: [u8; 20] = [0x45, 0, 0, 0, 0, 7, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 192, 0, 2, 1];

fn frag(offset: u32, more: bool, payload: &[u8]) -> Frag<'_> {
    let mut header = [0u8; 60];
    header[..20].copy_from_slice(&HDR);
    Frag { id: 7, offset, more, header, header_len: 20, payload }
}

fn limits(max_datagrams: usize) -> DefragLimits {
    DefragLimits { max_datagrams, max_fragments: 64, memcap: 16 << 20, timeout_nanos: 30_000_000_000 }
}

struct Pool {
    d: Defrag,
    an: Anomalies,
    out: Vec<u8>,
}

impl Pool {
    fn new(l: DefragLimits) -> Pool {
        Pool { d: Defrag::new(l), an: Anomalies::default(), out: Vec::new() }
    }
    fn add(&mut self, ts: u64, f: &Frag<'_>) -> bool {
        self.d.add(Timestamp(ts), A.into(), B.into(), 17, f, &mut self.out, &mut self.an)
    }
}

#[test]
fn out_of_order_fragments_reassemble() {
    let mut p = Pool::new(limits(4));
    assert!(!p.add(1, &frag(16, false, &[2; 8])));
    assert!(p.add(2, &frag(0, true, &[1; 16])));
    assert_eq!(p.out.len(), 20 + 24);
    assert_eq!(u16::from_be_bytes([p.out[2], p.out[3]]), 44);
    assert_eq!(p.out[6] & 0x3f, 0);
    assert_eq!(&p.out[36..], &[2u8; 8]);
    assert_eq!(p.d.stats.reassembled, 1);
    assert_eq!(p.an.total(), 0);
    assert!(p.d.is_empty());
}

#[test]
fn pool_is_bounded_and_counts_evictions() {
    let mut d = Defrag::new(limits(2));
    let (mut out, mut an) = (Vec::new(), Anomalies::default());
    for i in 0..10u8 {
        let src: IpAddr = [10, 0, 0, i].into();
        d.add(Timestamp(u64::from(i)), src, src, 17, &frag(0, true, &[0; 8]), &mut out, &mut an);
    }
    assert_eq!(d.len(), 2);
    assert_eq!(d.stats.evicted, 8);
    d.expire(Timestamp(40_000_000_000));
    assert_eq!(d.len(), 0);
    assert_eq!(d.stats.timed_out, 2);
}

#[test]
fn conflicting_overlap_keeps_the_first_bytes_and_is_counted() {
    // RFC 1858's overlap attack in miniature: the second fragment rewrites bytes 8..16.
    let mut p = Pool::new(limits(4));
    assert!(!p.add(1, &frag(0, true, &[1; 16])));
    assert!(!p.add(2, &frag(8, true, &[9; 16])));
    assert!(p.add(3, &frag(24, false, &[3; 4])));
    assert_eq!(&p.out[20..], [[1u8; 16].as_slice(), &[9; 8], &[3; 4]].concat().as_slice());
    assert_eq!(p.an.get(Anomaly::FragOverlap), 1);
    assert_eq!(p.an.get(Anomaly::FragOverlapConflict), 1);
}

#[test]
fn identical_duplicates_overlap_without_conflict() {
    let mut p = Pool::new(limits(4));
    p.add(1, &frag(0, true, &[1; 16]));
    p.add(2, &frag(0, true, &[1; 16]));
    assert!(p.add(3, &frag(16, false, &[2; 3])));
    assert_eq!(p.an.get(Anomaly::FragOverlap), 1);
    assert_eq!(p.an.get(Anomaly::FragOverlapConflict), 0);
}

#[test]
fn tiny_first_fragment_is_counted_and_still_reassembled() {
    // A UDP header (8 bytes) split 4 + 4 would need a 4-byte first fragment, which the offset
    // unit forbids; a TCP header split 8 + 12 is the classic case.
    let mut d = Defrag::new(limits(4));
    let (mut out, mut an) = (Vec::new(), Anomalies::default());
    let mut h = frag(0, true, &[0; 8]);
    h.header[9] = 6;
    assert!(!d.add(Timestamp(1), A.into(), B.into(), 6, &h, &mut out, &mut an));
    let tail = frag(8, false, &[0; 12]);
    assert!(d.add(Timestamp(2), A.into(), B.into(), 6, &tail, &mut out, &mut an));
    assert_eq!(an.get(Anomaly::FragTiny), 1);
}

#[test]
fn too_many_fragments_drop_the_datagram_and_its_later_fragments() {
    let mut p = Pool::new(DefragLimits { max_fragments: 10, ..limits(4) });
    for i in 0..1000u32 {
        assert!(!p.add(u64::from(i), &frag((i % 20) * 8, true, &[i as u8; 8])));
    }
    assert_eq!(p.an.get(Anomaly::FragTooMany), 1);
    assert_eq!(p.d.stats.discarded, 1000 - 11);
    assert_eq!(p.d.len(), 1, "the dead datagram stays, holding nothing, until it times out");
    assert!(p.d.stats.memory < 4096, "{}", p.d.stats.memory);
    p.d.expire(Timestamp(40_000_000_000));
    assert!(p.d.is_empty());
    assert_eq!(p.d.stats.timed_out, 0, "a dead datagram is not counted again");
}

#[test]
fn ends_that_disagree_are_ignored() {
    let mut p = Pool::new(limits(4));
    // No first fragment: the datagram stays open throughout.
    p.add(1, &frag(8, true, &[1; 16]));
    assert!(!p.add(2, &frag(8, false, &[2; 4])), "a last fragment inside data already received");
    p.add(3, &frag(24, false, &[3; 4]));
    assert!(!p.add(4, &frag(24, false, &[3; 6])), "a second, different end");
    assert!(!p.add(5, &frag(32, true, &[3; 8])), "past the end");
    assert_eq!(p.d.stats.invalid, 3);
    assert!(!p.add(6, &frag(65_528, false, &[0; 16])), "past 64 KiB");
    assert_eq!(p.d.stats.invalid, 4);
}

#[test]
fn memcap_evicts_the_oldest() {
    let mut d = Defrag::new(DefragLimits { memcap: 100_000, ..limits(1000) });
    let (mut out, mut an) = (Vec::new(), Anomalies::default());
    for i in 0..100u8 {
        let src: IpAddr = [10, 0, 1, i].into();
        d.add(Timestamp(u64::from(i)), src, src, 17, &frag(8000, true, &[0; 1480]), &mut out, &mut an);
        assert!(d.stats.memory <= 100_000 + 16_000, "{}", d.stats.memory);
    }
    assert!(d.stats.evicted > 80, "{}", d.stats.evicted);
}

#[test]
fn a_flood_of_tiny_fragments_of_one_datagram_costs_per_fragment_not_per_range() {
    // 4,095 distinct 16-byte fragments then duplicates (issue 19), with the cap raised so every
    // fragment goes through the bitmap.
    let mut p = Pool::new(DefragLimits { max_fragments: u16::MAX, ..limits(4) });
    for i in 0..200_000u32 {
        p.add(u64::from(i), &frag((i % 4095) * 16, true, &[1; 16]));
    }
    assert_eq!(p.an.get(Anomaly::FragOverlap), 65_535 - 4095);
    assert_eq!(p.an.get(Anomaly::FragOverlapConflict), 0);
    assert_eq!(p.an.get(Anomaly::FragTooMany), 1);
    assert_eq!(p.d.stats.discarded, 200_000 - 65_536);
}

#[test]
fn fragment_sequence_agrees_with_the_naive_model() {
    for s in crate::harness::fragment_seeds() {
        crate::harness::fragment_sequence(&s);
    }
    let mut rng = crate::synth::Rng::new(19);
    let mut buf = Vec::new();
    for _ in 0..3000 {
        buf.clear();
        let n = rng.below(60) as usize;
        for _ in 0..n {
            let block = rng.below(24) as u16;
            let len = rng.below(64) as u16;
            buf.push(rng.below(8) as u8);
            buf.extend_from_slice(&block.to_be_bytes());
            buf.extend_from_slice(&len.to_be_bytes());
            buf.push(rng.below(3) as u8);
        }
        crate::harness::fragment_sequence(&buf);
    }
}
