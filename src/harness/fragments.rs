//! The `fragment_sequence` fuzz entry point: IPv4 fragments in any order, overlapping,
//! conflicting, tiny, past the end, too many, fed to [`Defrag`] and to a naive model (one
//! `Option<u8>` per byte, first wins) that must agree on every completion, every reassembled
//! byte and every anomaly count.

use crate::decode::packet::Frag;
use crate::decode::{Anomalies, Anomaly};
use crate::flow::defrag::{Defrag, DefragLimits};
use crate::time::Timestamp;
use std::net::IpAddr;

/// Datagrams (IP ids) a sequence interleaves: fewer than the pool holds, so the model needs no
/// eviction.
const KEYS: usize = 4;
/// Fragments per datagram before `frag_too_many`.
const MAX_FRAGMENTS: u16 = 40;
/// Largest IPv4 payload.
const MAX_PAYLOAD: usize = 65_535;

/// One datagram as the model sees it.
#[derive(Default)]
struct Model {
    bytes: Vec<Option<u8>>,
    total: Option<usize>,
    frags: u32,
    dead: bool,
    first: bool,
    active: bool,
}

impl Model {
    /// The model's rules, written for clarity rather than speed. Returns the payload when the
    /// datagram completes.
    fn add(&mut self, off: usize, payload: &[u8], more: bool, an: &mut Anomalies) -> Option<Vec<u8>> {
        let mut end = off + payload.len();
        if more {
            end -= (end - off) % 8;
        }
        if end > MAX_PAYLOAD || end <= off {
            return None;
        }
        if off == 0 && more && payload.len() < 8 {
            an.add(Anomaly::FragTiny);
        }
        self.active = true;
        if self.dead {
            return None;
        }
        self.frags += 1;
        if self.frags > u32::from(MAX_FRAGMENTS) {
            an.add(Anomaly::FragTooMany);
            self.dead = true;
            return None;
        }
        let seen_end = self.bytes.len();
        let bad_end = match self.total {
            Some(t) => end > t || (!more && end != t),
            None => !more && end < seen_end,
        };
        if bad_end {
            return None;
        }
        if !more {
            self.total = Some(end);
        }
        if self.bytes.len() < end {
            self.bytes.resize(end, None);
        }
        let (mut overlap, mut conflict) = (false, false);
        for (i, &b) in payload[..end - off].iter().enumerate() {
            match self.bytes[off + i] {
                Some(old) => {
                    overlap = true;
                    conflict |= old != b;
                }
                None => self.bytes[off + i] = Some(b),
            }
        }
        if overlap {
            an.add(Anomaly::FragOverlap);
        }
        if conflict {
            an.add(Anomaly::FragOverlapConflict);
        }
        self.first |= off == 0;
        let t = self.total?;
        if !self.first || self.bytes[..t].iter().any(Option::is_none) {
            return None;
        }
        let out = self.bytes[..t].iter().map(|b| b.unwrap_or(0)).collect();
        *self = Model::default();
        Some(out)
    }
}

/// Each fragment is 6 bytes: `key | more << 2`, offset in 8-byte blocks (2 bytes), length
/// (2 bytes, modulo 1,600), a fill byte (the payload is `fill + block number`, so fragments
/// with different fills conflict where they overlap).
pub fn fragment_sequence(data: &[u8]) {
    let limits = DefragLimits {
        max_datagrams: KEYS,
        max_fragments: MAX_FRAGMENTS,
        memcap: usize::MAX,
        timeout_nanos: u64::MAX,
    };
    let mut pool = Defrag::new(limits);
    let mut models: [Model; KEYS] = Default::default();
    let (mut an, mut an_model) = (Anomalies::default(), Anomalies::default());
    let src: IpAddr = [192, 0, 2, 1].into();
    let dst: IpAddr = [198, 51, 100, 1].into();
    let mut out = Vec::new();
    let mut payload = Vec::new();
    for (n, op) in data.chunks_exact(6).enumerate() {
        let k = usize::from(op[0]) % KEYS;
        let more = op[0] & 4 != 0;
        let off = usize::from(u16::from_be_bytes([op[1], op[2]]) % 8192) * 8;
        let len = usize::from(u16::from_be_bytes([op[3], op[4]]) % 1600);
        payload.clear();
        payload.extend((0..len).map(|i| op[5].wrapping_add(((off + i) / 8) as u8)));
        let mut header = [0u8; 60];
        header[..20].copy_from_slice(&[
            0x45, 0, 0, 0, 0, k as u8, 0x20, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1,
        ]);
        let f = Frag { id: k as u16, offset: off as u32, more, header, header_len: 20, payload: &payload };
        let done = pool.add(Timestamp(n as u64), src, dst, 17, &f, &mut out, &mut an);
        let expected = models[k].add(off, &payload, more, &mut an_model);
        assert_eq!(
            done,
            expected.is_some(),
            "fragment {n} ({k} off {off} len {len} more {more}): completion"
        );
        if let Some(e) = expected {
            assert_eq!(out.len(), 20 + e.len(), "fragment {n}: reassembled length");
            assert_eq!(&out[20..], &e[..], "fragment {n}: reassembled bytes (first wins)");
            assert_eq!(usize::from(u16::from_be_bytes([out[2], out[3]])), out.len());
        }
        assert_eq!(an, an_model, "fragment {n}: anomaly counts");
        assert_eq!(pool.len(), models.iter().filter(|m| m.active).count(), "fragment {n}: datagrams held");
    }
}

/// Seeds: in order, reversed, with a conflicting overlap, tiny, and a flood of one datagram.
pub fn seeds() -> Vec<Vec<u8>> {
    let op = |k: u8, more: bool, block: u16, len: u16, fill: u8| {
        let mut v = vec![k | if more { 4 } else { 0 }];
        v.extend_from_slice(&block.to_be_bytes());
        v.extend_from_slice(&len.to_be_bytes());
        v.push(fill);
        v
    };
    let in_order = [op(0, true, 0, 1480, 1), op(0, true, 185, 1480, 1), op(0, false, 370, 100, 1)].concat();
    let reversed = [op(1, false, 370, 100, 1), op(1, true, 185, 1480, 1), op(1, true, 0, 1480, 1)].concat();
    let conflict = [op(2, true, 0, 24, 1), op(2, true, 1, 16, 9), op(2, false, 3, 5, 1)].concat();
    let tiny = [op(3, true, 0, 4, 1), op(3, false, 1, 20, 1)].concat();
    let flood: Vec<u8> = (0..200u16).flat_map(|i| op(0, true, i % 50, 8, i as u8)).collect();
    vec![in_order, reversed, conflict, tiny, flood]
}
