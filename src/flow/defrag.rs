//! IPv4 fragment reassembly, bounded: a fixed number of packets in reassembly at once, each at
//! most 64 KiB, expired on packet time. Evictions, timeouts and overlaps are counted.
//!
//! Written here rather than using etherparse's `IpDefragPool`, which its own docs call unsafe
//! against memory exhaustion (unbounded streams) and which needs the strict slicer.

use crate::decode::packet::Frag;
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Largest reassembled IP payload (the IPv4 maximum).
const MAX_PAYLOAD: usize = 65_535;

/// Counters of the reassembly stage.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DefragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Packets reassembled whole.
    pub reassembled: u64,
    /// Packets dropped unfinished after the timeout.
    pub timed_out: u64,
    /// Packets dropped unfinished because the pool was full.
    pub evicted: u64,
    /// Fragments that overlapped, overflowed 64 KiB, or were cut by the snaplen.
    pub invalid: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u16,
    proto: u8,
}

struct Slot {
    first: Timestamp,
    header: Vec<u8>,
    data: Vec<u8>,
    /// Received byte ranges, sorted, merged.
    ranges: Vec<(u32, u32)>,
    total: Option<u32>,
}

/// The reassembly pool.
pub struct Defrag {
    slots: FxHashMap<Key, Slot>,
    spare: Vec<Slot>,
    max_slots: usize,
    timeout_nanos: u64,
    /// Counters.
    pub stats: DefragStats,
}

impl Defrag {
    /// A pool of `max_slots` packets in reassembly, each dropped after `timeout_nanos`.
    pub fn new(max_slots: usize, timeout_nanos: u64) -> Defrag {
        Defrag {
            slots: FxHashMap::default(),
            spare: Vec::new(),
            max_slots,
            timeout_nanos,
            stats: DefragStats::default(),
        }
    }

    /// Adds a fragment. When it completes a packet, writes the whole IPv4 packet (header with
    /// fragment fields cleared and total length fixed) into `out` and returns true.
    pub fn add(
        &mut self,
        ts: Timestamp,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        f: &Frag<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        self.stats.fragments += 1;
        let key = Key { src, dst, id: f.id, proto };
        let end = f.offset as usize + f.payload.len();
        if end > MAX_PAYLOAD {
            self.stats.invalid += 1;
            return false;
        }
        if self.slots.len() >= self.max_slots && !self.slots.contains_key(&key) {
            let victim = self.slots.iter().min_by_key(|(_, s)| s.first).map(|(k, _)| *k);
            if let Some(k) = victim {
                if let Some(s) = self.slots.remove(&k) {
                    self.spare.push(s);
                }
                self.stats.evicted += 1;
            }
        }
        let spare = &mut self.spare;
        let slot = self.slots.entry(key).or_insert_with(|| {
            let mut s = spare.pop().unwrap_or(Slot {
                first: ts,
                header: Vec::new(),
                data: Vec::new(),
                ranges: Vec::new(),
                total: None,
            });
            s.first = ts;
            s.header.clear();
            s.data.clear();
            s.ranges.clear();
            s.total = None;
            s
        });
        if f.offset == 0 {
            slot.header.clear();
            slot.header.extend_from_slice(&f.header[..usize::from(f.header_len).min(60)]);
        }
        if slot.data.len() < end {
            slot.data.resize(end, 0);
        }
        slot.data[f.offset as usize..end].copy_from_slice(f.payload);
        if !f.more {
            slot.total = Some(end as u32);
        }
        insert_range(&mut slot.ranges, (f.offset, end as u32));
        let complete = match (slot.total, slot.ranges.first()) {
            (Some(t), Some(&(0, e))) => slot.ranges.len() == 1 && e >= t && !slot.header.is_empty(),
            _ => false,
        };
        if !complete {
            return false;
        }
        let Some(slot) = self.slots.remove(&key) else { return false };
        let total = slot.total.unwrap_or(0) as usize;
        out.clear();
        out.extend_from_slice(&slot.header);
        let ip_len = (slot.header.len() + total).min(usize::from(u16::MAX)) as u16;
        if out.len() >= 8 {
            out[2..4].copy_from_slice(&ip_len.to_be_bytes());
            out[6] &= 0x40 | 0x80; // keep DF/reserved, clear MF and the offset
            out[7] = 0;
        }
        out.extend_from_slice(&slot.data[..total.min(slot.data.len())]);
        self.stats.reassembled += 1;
        self.spare.push(slot);
        true
    }

    /// Drops packets whose first fragment is older than the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        let t = self.timeout_nanos;
        let before = self.slots.len();
        let spare = &mut self.spare;
        self.slots.retain(|_, s| {
            let keep = now.0.saturating_sub(s.first.0) < t;
            if !keep && spare.len() < 64 {
                spare.push(Slot {
                    first: s.first,
                    header: std::mem::take(&mut s.header),
                    data: std::mem::take(&mut s.data),
                    ranges: std::mem::take(&mut s.ranges),
                    total: None,
                });
            }
            keep
        });
        self.stats.timed_out += (before - self.slots.len()) as u64;
    }

    /// Packets in reassembly.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// None in reassembly.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

fn insert_range(ranges: &mut Vec<(u32, u32)>, r: (u32, u32)) {
    ranges.push(r);
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag<'a>(h: &[u8], offset: u32, more: bool, payload: &'a [u8]) -> Frag<'a> {
        let mut header = [0u8; 60];
        header[..h.len()].copy_from_slice(h);
        Frag { id: 7, offset, more, header, header_len: h.len() as u8, payload }
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let mut d = Defrag::new(4, 30_000_000_000);
        let mut h = vec![0x45u8, 0, 0, 0, 0, 7, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 192, 0, 2, 1];
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [192, 0, 2, 1].into();
        let mut out = Vec::new();
        let p1 = [1u8; 16];
        let p2 = [2u8; 8];
        assert!(!d.add(Timestamp(1), a, b, 17, &frag(&h, 16, false, &p2), &mut out));
        h[6] = 0x20;
        assert!(d.add(Timestamp(2), a, b, 17, &frag(&h, 0, true, &p1), &mut out));
        assert_eq!(out.len(), 20 + 24);
        assert_eq!(u16::from_be_bytes([out[2], out[3]]), 44);
        assert_eq!(out[6] & 0x3f, 0);
        assert_eq!(&out[36..], &[2u8; 8]);
        assert_eq!(d.stats.reassembled, 1);
    }

    #[test]
    fn pool_is_bounded_and_counts_evictions() {
        let mut d = Defrag::new(2, 30_000_000_000);
        let h = [0x45u8; 20];
        let mut out = Vec::new();
        for i in 0..10u8 {
            let src: IpAddr = [10, 0, 0, i].into();
            d.add(Timestamp(u64::from(i)), src, src, 17, &frag(&h, 0, true, &[0; 8]), &mut out);
        }
        assert_eq!(d.len(), 2);
        assert_eq!(d.stats.evicted, 8);
        d.expire(Timestamp(40_000_000_000));
        assert_eq!(d.len(), 0);
        assert_eq!(d.stats.timed_out, 2);
    }
}
