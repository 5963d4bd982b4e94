//! Per-(host, peer) state of the ICMP tunnel detector: two half-window buckets of figures, the
//! distinct payload hashes, a fixed ring of recent requests for reply matching, and the
//! episode's evidence. Allocation happens only when a pair is created or its payload set grows.

use super::RING;
use crate::alert::Signature;
use crate::decode::icmp::{IcmpEcho, PayloadKind, TunnelTool};
use crate::time::Timestamp;
use rustc_hash::{FxHashSet, FxHasher};
use std::hash::Hasher;

/// Figures of one window half.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Bucket {
    pub(super) requests: u64,
    pub(super) replies: u64,
    pub(super) bytes_out: u64,
    pub(super) bytes_in: u64,
    pub(super) default_payloads: u64,
    pub(super) nondefault_payloads: u64,
    pub(super) distinct: u64,
    pub(super) distinct_bytes: u64,
    pub(super) patterns: u64,
    pub(super) headers: u64,
    pub(super) large: u64,
    pub(super) high_entropy: u64,
    pub(super) echoed: u64,
    pub(super) mismatched: u64,
    pub(super) unsolicited: u64,
    pub(super) not_echoed: u64,
    pub(super) score: f64,
    pub(super) odd_packets: u64,
    pub(super) odd_bytes: u64,
    /// Echo replies sent by the home host, and received by it.
    pub(super) replies_out: u64,
    pub(super) replies_in: u64,
    pub(super) text_payloads: u64,
    pub(super) text_bytes: u64,
    pub(super) nonzero_code: u64,
    pub(super) banners: u64,
    pub(super) reply_only: u64,
}

impl Bucket {
    pub(super) fn add(&mut self, o: &Bucket) {
        self.requests += o.requests;
        self.replies += o.replies;
        self.bytes_out += o.bytes_out;
        self.bytes_in += o.bytes_in;
        self.default_payloads += o.default_payloads;
        self.nondefault_payloads += o.nondefault_payloads;
        self.distinct += o.distinct;
        self.distinct_bytes += o.distinct_bytes;
        self.patterns += o.patterns;
        self.headers += o.headers;
        self.large += o.large;
        self.high_entropy += o.high_entropy;
        self.echoed += o.echoed;
        self.mismatched += o.mismatched;
        self.unsolicited += o.unsolicited;
        self.not_echoed += o.not_echoed;
        self.score += o.score;
        self.odd_packets += o.odd_packets;
        self.odd_bytes += o.odd_bytes;
        self.replies_out += o.replies_out;
        self.replies_in += o.replies_in;
        self.text_payloads += o.text_payloads;
        self.text_bytes += o.text_bytes;
        self.nonzero_code += o.nonzero_code;
        self.banners += o.banners;
        self.reply_only += o.reply_only;
    }
}

/// One remembered request: identifier, sequence, hash of the payload.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Req {
    pub(super) id: u16,
    pub(super) seq: u16,
    pub(super) hash: u64,
    pub(super) scored: bool,
    pub(super) used: bool,
}

/// How a reply relates to the requests seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplyMatch {
    /// Same payload as its request: a real echo.
    Echoes,
    /// Its request (same identifier and sequence) carried another payload.
    Differs {
        /// That request carried a new non-default payload (it scored).
        request_scored: bool,
    },
    /// No remembered request has its identifier and sequence.
    NoRequest,
}

/// The payload that last scored (or the odd message that last counted).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Example {
    pub(super) kind: Option<PayloadKind>,
    pub(super) len: u32,
    pub(super) entropy: f64,
    pub(super) normalised_entropy: f64,
    pub(super) from_host: bool,
    pub(super) head: [u8; 32],
    pub(super) head_len: u8,
    pub(super) icmp_type: u8,
    pub(super) icmp_code: u8,
    pub(super) reason: &'static str,
}

/// Payload kinds counted per episode, in [`KINDS`] order.
pub(super) const KINDS: [&str; 11] = [
    "empty",
    "iputils",
    "bsd",
    "windows",
    "traceroute",
    "zeros",
    "cisco",
    "go-ping",
    "pattern",
    "tunnel",
    "unknown",
];

/// `k`'s position in [`KINDS`] (asked per echo: a match, not a search by name).
pub(super) fn kind_index(k: PayloadKind) -> usize {
    match k {
        PayloadKind::Empty => 0,
        PayloadKind::Iputils => 1,
        PayloadKind::Bsd => 2,
        PayloadKind::Windows => 3,
        PayloadKind::Traceroute => 4,
        PayloadKind::Zeros => 5,
        PayloadKind::Cisco => 6,
        PayloadKind::GoPing => 7,
        PayloadKind::Pattern { .. } => 8,
        PayloadKind::Tunnel(_) => 9,
        PayloadKind::Unknown => 10,
    }
}

pub(super) struct Pair {
    pub(super) prev_start: Timestamp,
    pub(super) start: Timestamp,
    pub(super) last: Timestamp,
    pub(super) first: Timestamp,
    pub(super) cur: Bucket,
    pub(super) prev: Bucket,
    pub(super) bodies: FxHashSet<u64>,
    pub(super) prev_bodies: FxHashSet<u64>,
    pub(super) reqs: [Req; RING],
    pub(super) next_req: usize,
    pub(super) sizes: [(u32, u32); 8],
    pub(super) min_len: u32,
    pub(super) max_len: u32,
    pub(super) entropy_sum: f64,
    pub(super) entropy_n: u64,
    pub(super) kinds: [u32; KINDS.len()],
    pub(super) tool: Option<TunnelTool>,
    /// The protocol whose opening was last seen inside an echo (`ssh`, `http`, `tls`).
    pub(super) banner: Option<&'static str>,
    pub(super) episode_echoes: u64,
    pub(super) episode_requests: u64,
    pub(super) example: Example,
    pub(super) odd_example: Example,
    pub(super) alerted: Option<&'static Signature>,
    pub(super) alerted_score: f64,
    pub(super) odd_alerted_bytes: u64,
}

impl Pair {
    pub(super) fn new(ts: Timestamp) -> Pair {
        Pair {
            prev_start: ts,
            start: ts,
            last: ts,
            first: ts,
            cur: Bucket::default(),
            prev: Bucket::default(),
            bodies: FxHashSet::default(),
            prev_bodies: FxHashSet::default(),
            reqs: [Req::default(); RING],
            next_req: 0,
            sizes: [(0, 0); 8],
            min_len: u32::MAX,
            max_len: 0,
            entropy_sum: 0.0,
            entropy_n: 0,
            kinds: [0; KINDS.len()],
            tool: None,
            banner: None,
            episode_echoes: 0,
            episode_requests: 0,
            example: Example::default(),
            odd_example: Example::default(),
            alerted: None,
            alerted_score: 0.0,
            odd_alerted_bytes: 0,
        }
    }

    /// Two half-overlapping buckets; an idle gap of a whole window starts a new episode.
    pub(super) fn slide(&mut self, ts: Timestamp, window: u64) {
        if ts.0.saturating_sub(self.last.0) >= window {
            // Idle for a whole window: a new episode. Keep the sets' allocations.
            let mut bodies = std::mem::take(&mut self.bodies);
            let mut prev_bodies = std::mem::take(&mut self.prev_bodies);
            bodies.clear();
            prev_bodies.clear();
            *self = Pair { bodies, prev_bodies, ..Pair::new(ts) };
            return;
        }
        if ts.0.saturating_sub(self.start.0) >= window {
            self.prev = self.cur;
            self.cur = Bucket::default();
            std::mem::swap(&mut self.prev_bodies, &mut self.bodies);
            self.bodies.clear();
            self.prev_start = self.start;
            self.start = ts;
        }
        self.last = ts;
    }

    pub(super) fn total(&self) -> Bucket {
        let mut t = self.cur;
        t.add(&self.prev);
        t
    }

    pub(super) fn count_size(&mut self, len: u32) {
        self.min_len = self.min_len.min(len);
        self.max_len = self.max_len.max(len);
        if let Some(s) = self.sizes.iter_mut().find(|s| s.1 > 0 && s.0 == len) {
            s.1 += 1;
        } else if let Some(s) = self.sizes.iter_mut().min_by_key(|s| s.1) {
            // Keep the most frequent sizes: a new size replaces the rarest seen once.
            if s.1 <= 1 {
                *s = (len, 1);
            }
        }
    }

    /// Remembers a request in the ring; returns its slot.
    pub(super) fn remember(&mut self, e: &IcmpEcho<'_>, hash: u64) -> usize {
        let slot = self.next_req % RING;
        if let Some(r) = self.reqs.get_mut(slot) {
            *r = Req { id: e.id, seq: e.seq, hash, scored: false, used: true };
        }
        self.next_req = (slot + 1) % RING;
        slot
    }

    /// Marks the request in `slot` as having carried a new non-default payload.
    pub(super) fn mark_scored(&mut self, slot: usize) {
        if let Some(r) = self.reqs.get_mut(slot) {
            r.scored = true;
        }
    }

    /// Matches a reply against the remembered requests.
    pub(super) fn match_reply(&self, e: &IcmpEcho<'_>, hash: u64) -> ReplyMatch {
        let mut found = ReplyMatch::NoRequest;
        for r in self.reqs.iter().filter(|r| r.used && r.id == e.id && r.seq == e.seq) {
            if r.hash == hash {
                return ReplyMatch::Echoes;
            }
            found = ReplyMatch::Differs { request_scored: r.scored };
        }
        found
    }
}

pub(super) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(b);
    h.write_usize(b.len());
    h.finish()
}
