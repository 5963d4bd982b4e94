//! IPv4 fragment reassembly with bounded cost: whatever the fragments, each costs time in
//! proportion to its own bytes, and the pool holds at most `max_datagrams` datagrams, each at
//! most `max_fragments` fragments and 64 KiB, within a byte memcap (Suricata's
//! `defrag.memcap`), expired on packet time.
//!
//! Per datagram, the bytes received are a bitmap of 8-byte blocks (the fragment offset's unit;
//! 8,192 blocks for the IPv4 maximum) with a count of blocks set: a fragment sets and checks its
//! own blocks, and completion is one comparison. (It replaces a sorted list of byte ranges
//! re-sorted and re-allocated on every fragment, which 200,000 tiny fragments of one datagram
//! made ~240x dearer per packet than plain traffic.) The oldest datagram is evicted in O(1)
//! from a [`Bounded`] map in arrival order.
//!
//! **Overlap policy: first wins.** A byte already received is never overwritten; a later
//! fragment only fills blocks still empty. This is what Linux and the BSDs do for conflicting
//! data, and it defeats the RFC 1858 overlap attack (a second fragment at offset 8 rewriting
//! the TCP flags of the first). Anomalies are counted by kind: `frag_overlap` (a fragment
//! covers blocks already received), `frag_overlap_conflict` (with different bytes),
//! `frag_tiny` (a first fragment shorter than its transport header, RFC 1858), and
//! `frag_too_many` (a datagram over `max_fragments`: it is dropped, and its later fragments are
//! discarded until it times out). Fragments that cannot belong to a sane datagram (past 64 KiB,
//! past the end a last fragment set, a second different end) are counted `invalid` and ignored.
//!
//! Written here rather than using etherparse's `IpDefragPool`, which its own docs call unsafe
//! against memory exhaustion and which needs the strict slicer.

use super::bounded::Bounded;
use crate::decode::packet::Frag;
use crate::decode::{Anomalies, Anomaly};
use crate::time::Timestamp;
use std::net::IpAddr;

/// Largest reassembled IP payload (the IPv4 maximum).
const MAX_PAYLOAD: usize = 65_535;
/// 8-byte blocks in the largest payload.
const MAX_BLOCKS: usize = MAX_PAYLOAD.div_ceil(8);

/// Counters of the reassembly stage (the anomalies go to the decode anomaly counters).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DefragStats {
    /// Fragments received.
    pub fragments: u64,
    /// Packets reassembled whole.
    pub reassembled: u64,
    /// Packets dropped unfinished after the timeout.
    pub timed_out: u64,
    /// Packets dropped unfinished because the pool was full or over its memcap.
    pub evicted: u64,
    /// Fragments ignored: past 64 KiB, past the datagram's end, a second different end, or cut
    /// by the snaplen.
    pub invalid: u64,
    /// Fragments discarded because their datagram was dropped for `frag_too_many`.
    pub discarded: u64,
    /// Packets dropped unfinished (oldest first) to bring the run under `memory.cap`.
    pub shed: u64,
    /// Bytes the pool holds now (payload buffers and bitmaps).
    pub memory: u64,
    /// Highest `memory` seen.
    pub memory_peak: u64,
}

impl DefragStats {
    /// Adds another worker's counters (memory figures add up too: workers hold theirs at once).
    pub fn merge(&mut self, o: &DefragStats) {
        self.fragments += o.fragments;
        self.reassembled += o.reassembled;
        self.timed_out += o.timed_out;
        self.evicted += o.evicted;
        self.invalid += o.invalid;
        self.discarded += o.discarded;
        self.shed += o.shed;
        self.memory += o.memory;
        self.memory_peak += o.memory_peak;
    }
}

/// The limits of a pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DefragLimits {
    /// Datagrams in reassembly at once.
    pub max_datagrams: usize,
    /// Fragments one datagram may take before it is dropped (`frag_too_many`).
    pub max_fragments: u16,
    /// Bytes the pool may hold; the oldest datagrams are evicted to stay under it.
    pub memcap: usize,
    /// An unfinished datagram is dropped this long after its first fragment.
    pub timeout_nanos: u64,
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
    /// The first fragment's IP header (`header_len` 0 until it arrives).
    header: [u8; 60],
    header_len: u8,
    data: Vec<u8>,
    /// One bit per 8-byte block received.
    blocks: Vec<u64>,
    blocks_set: u32,
    /// Payload length, once the last fragment arrived.
    total: Option<u32>,
    frags: u32,
    /// Dropped for too many fragments: later fragments are discarded until it times out.
    dead: bool,
}

impl Slot {
    fn empty() -> Slot {
        Slot {
            first: Timestamp(0),
            header: [0; 60],
            header_len: 0,
            data: Vec::new(),
            blocks: Vec::new(),
            blocks_set: 0,
            total: None,
            frags: 0,
            dead: false,
        }
    }

    fn reset(&mut self, ts: Timestamp) {
        self.first = ts;
        self.header_len = 0;
        self.data.clear();
        self.blocks.clear();
        self.blocks_set = 0;
        self.total = None;
        self.frags = 0;
        self.dead = false;
    }

    fn bytes(&self) -> usize {
        self.data.capacity() + self.blocks.capacity() * 8
    }

    fn bit(&self, b: usize) -> bool {
        self.blocks.get(b / 64).is_some_and(|w| w >> (b % 64) & 1 == 1)
    }
}

/// The reassembly pool.
pub(crate) struct Defrag {
    slots: Bounded<Key, Slot>,
    spare: Vec<Slot>,
    limits: DefragLimits,
    /// Bytes held by `slots` (payload buffers and bitmaps).
    held: usize,
    /// Counters.
    pub stats: DefragStats,
}

/// Spare slots kept for reuse (their buffers stay allocated, within the memcap's accounting).
const SPARE: usize = 16;

impl Defrag {
    /// A pool within `limits`.
    pub(crate) fn new(limits: DefragLimits) -> Defrag {
        let limits = DefragLimits { max_datagrams: limits.max_datagrams.max(1), ..limits };
        Defrag {
            slots: Bounded::new(limits.max_datagrams),
            spare: Vec::new(),
            limits,
            held: 0,
            stats: Default::default(),
        }
    }

    /// Adds a fragment. When it completes a packet, writes the whole IPv4 packet (header with
    /// fragment fields cleared and total length fixed) into `out` and returns true. Anomalies
    /// (`frag_*`) are counted in `anomalies`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add(
        &mut self,
        ts: Timestamp,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        f: &Frag<'_>,
        out: &mut Vec<u8>,
        anomalies: &mut Anomalies,
    ) -> bool {
        self.stats.fragments += 1;
        let key = Key { src, dst, id: f.id, proto };
        let off = f.offset as usize;
        let mut end = off + f.payload.len();
        if f.more {
            // A fragment followed by others carries whole blocks; Linux trims the rest too.
            end = off + (end - off) / 8 * 8;
        }
        if end > MAX_PAYLOAD || end <= off {
            self.stats.invalid += 1;
            return false;
        }
        if off == 0 && f.more && f.payload.len() < l4_header_min(proto) {
            anomalies.add(Anomaly::FragTiny);
        }
        if !self.slots.contains_key(&key) {
            if self.slots.is_full()
                && let Some((_, old)) = self.slots.pop_oldest()
            {
                self.held -= old.bytes();
                self.stats.evicted += u64::from(!old.dead);
                self.recycle(old);
            }
            let mut s = self.spare.pop().unwrap_or_else(Slot::empty);
            self.held += s.bytes();
            s.reset(ts);
            self.slots.insert(key, s);
        }
        let Some(slot) = self.slots.get_mut(&key) else { return false };
        if slot.dead {
            self.stats.discarded += 1;
            return false;
        }
        slot.frags = slot.frags.saturating_add(1);
        if slot.frags > u32::from(self.limits.max_fragments) {
            anomalies.add(Anomaly::FragTooMany);
            let before = slot.bytes();
            slot.dead = true;
            slot.data = Vec::new();
            slot.blocks = Vec::new();
            self.held -= before;
            self.note_memory();
            return false;
        }
        // The end: fixed by the first last fragment; nothing may pass it, nothing may move it.
        let past_end = match slot.total {
            Some(t) => end > t as usize || (!f.more && end != t as usize),
            None => !f.more && end < slot.data.len(),
        };
        if past_end {
            self.stats.invalid += 1;
            return false;
        }
        if !f.more {
            slot.total = Some(end as u32);
        }
        let before = slot.bytes();
        let (overlap, conflict) = fill(slot, off, &f.payload[..end - off]);
        if overlap {
            anomalies.add(Anomaly::FragOverlap);
        }
        if conflict {
            anomalies.add(Anomaly::FragOverlapConflict);
        }
        if off == 0 && slot.header_len == 0 {
            let n = usize::from(f.header_len).min(60);
            slot.header[..n].copy_from_slice(&f.header[..n]);
            slot.header_len = n as u8;
        }
        self.held += slot.bytes() - before;
        let complete = slot.header_len > 0
            && slot.total.is_some_and(|t| slot.blocks_set as usize == (t as usize).div_ceil(8));
        if complete && let Some(slot) = self.slots.remove(&key) {
            self.held -= slot.bytes();
            self.emit(slot, out);
            self.stats.reassembled += 1;
        } else {
            self.enforce_memcap();
        }
        self.note_memory();
        complete
    }

    fn emit(&mut self, slot: Slot, out: &mut Vec<u8>) {
        let total = slot.total.unwrap_or(0) as usize;
        let header = &slot.header[..usize::from(slot.header_len)];
        out.clear();
        out.extend_from_slice(header);
        let ip_len = (header.len() + total).min(usize::from(u16::MAX)) as u16;
        if out.len() >= 8 {
            out[2..4].copy_from_slice(&ip_len.to_be_bytes());
            out[6] &= 0x40 | 0x80; // keep DF/reserved, clear MF and the offset
            out[7] = 0;
        }
        out.extend_from_slice(&slot.data[..total.min(slot.data.len())]);
        self.recycle(slot);
    }

    fn recycle(&mut self, slot: Slot) {
        if self.spare.len() < SPARE {
            self.spare.push(slot);
        }
    }

    /// Evicts the oldest datagrams while the pool is over its memcap (never the only one).
    fn enforce_memcap(&mut self) {
        while self.held + self.spare_bytes() > self.limits.memcap && self.slots.len() > 1 {
            if !self.spare.is_empty() {
                self.spare.clear();
                continue;
            }
            let Some((_, old)) = self.slots.pop_oldest() else { break };
            self.held -= old.bytes();
            self.stats.evicted += u64::from(!old.dead);
        }
    }

    fn spare_bytes(&self) -> usize {
        self.spare.iter().map(Slot::bytes).sum()
    }

    fn note_memory(&mut self) {
        let m = (self.held + self.spare_bytes()) as u64;
        self.stats.memory = m;
        self.stats.memory_peak = self.stats.memory_peak.max(m);
    }

    /// Drops packets whose first fragment is older than the timeout: they are the oldest, at the
    /// head of the arrival order, so this stops at the first one still young.
    pub(crate) fn expire(&mut self, now: Timestamp) {
        let t = self.limits.timeout_nanos;
        while let Some((_, s)) = self.slots.oldest() {
            if now.0.saturating_sub(s.first.0) < t {
                break;
            }
            let Some((_, s)) = self.slots.pop_oldest() else { break };
            self.held -= s.bytes();
            self.stats.timed_out += u64::from(!s.dead);
            self.recycle(s);
        }
        self.note_memory();
    }

    /// Drops about `share` (0-1) of the packets in reassembly, oldest first, and the spare
    /// buffers, for the memory budget; returns how many packets were dropped.
    pub(crate) fn shed(&mut self, share: f64) -> u64 {
        self.spare.clear();
        let mut n = 0;
        let held = &mut self.held;
        self.slots.shed(share, |_, s| {
            *held -= s.bytes();
            n += u64::from(!s.dead);
        });
        self.stats.shed += n;
        self.note_memory();
        n
    }

    /// Packets in reassembly.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// None in reassembly.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Smallest transport header of `proto`: a first fragment shorter than it hides the header
/// (RFC 1858's tiny fragment), splitting ports or TCP flags across fragments.
fn l4_header_min(proto: u8) -> usize {
    match proto {
        6 => 20,
        17 | 1 => 8,
        _ => 0,
    }
}

/// Writes `p` at `off` into the blocks still empty (first wins). Returns (overlap, conflict):
/// whether any block was already received, and whether one of those held different bytes.
/// Runs of empty or received blocks are handled as one copy or one comparison each.
fn fill(slot: &mut Slot, off: usize, p: &[u8]) -> (bool, bool) {
    let end = off + p.len();
    if slot.data.len() < end {
        slot.data.resize(end, 0);
    }
    let words = end.div_ceil(8).div_ceil(64).min(MAX_BLOCKS.div_ceil(64));
    if slot.blocks.len() < words {
        slot.blocks.resize(words, 0);
    }
    let (first, last) = (off / 8, end.div_ceil(8));
    let (mut overlap, mut conflict) = (false, false);
    let mut b = first;
    while b < last {
        let set = slot.bit(b);
        let mut e = b + 1;
        while e < last && slot.bit(e) == set {
            e += 1;
        }
        let (lo, hi) = (b * 8, (e * 8).min(end));
        let (lo, hi) = (lo.max(off), hi);
        if set {
            overlap = true;
            // Received blocks hold bytes up to the datagram's data so far.
            let have = hi.min(slot.data.len());
            if slot.data[lo..have] != p[lo - off..have - off] {
                conflict = true;
            }
        } else {
            slot.data[lo..hi].copy_from_slice(&p[lo - off..hi - off]);
            for k in b..e {
                slot.blocks[k / 64] |= 1 << (k % 64);
            }
            slot.blocks_set += (e - b) as u32;
        }
        b = e;
    }
    (overlap, conflict)
}

#[cfg(test)]
#[path = "defrag_tests.rs"]
mod tests;
