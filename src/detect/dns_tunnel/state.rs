//! Per (client, registered domain) state: two window buckets of counters, the distinct-name
//! sets, and the example query an alert shows.

use super::figures::SubdomainFigures;
use crate::decode::dns::{DnsMessage, DnsName, qtype};
use crate::time::Timestamp;
use rustc_hash::FxHashSet;
use std::net::IpAddr;

/// One window's counters. Counts of queries and names are 32-bit (four billion in one window
/// of one group is out of reach), bytes 64-bit: two buckets in every group, 72 bytes each
/// instead of 96.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Bucket {
    pub(super) queries: u32,
    pub(super) suspicious: u32,
    /// Bytes of subdomain carried by the distinct suspicious names.
    pub(super) suspicious_bytes: u64,
    pub(super) score: f64,
    pub(super) distinct: u32,
    pub(super) qtype_txt: u32,
    pub(super) qtype_null: u32,
    pub(super) qtype_other_rare: u32,
    pub(super) query_bytes: u64,
    pub(super) answer_bytes: u64,
    pub(super) responses: u32,
    pub(super) max_answer: u64,
}

impl Bucket {
    pub(super) fn add(&mut self, o: &Bucket) {
        self.queries += o.queries;
        self.suspicious += o.suspicious;
        self.suspicious_bytes += o.suspicious_bytes;
        self.score += o.score;
        self.distinct += o.distinct;
        self.qtype_txt += o.qtype_txt;
        self.qtype_null += o.qtype_null;
        self.qtype_other_rare += o.qtype_other_rare;
        self.query_bytes += o.query_bytes;
        self.answer_bytes += o.answer_bytes;
        self.responses += o.responses;
        self.max_answer = self.max_answer.max(o.max_answer);
    }
}

pub(super) struct Group {
    pub(super) start: Timestamp,
    pub(super) last: Timestamp,
    pub(super) cur: Bucket,
    pub(super) prev: Bucket,
    pub(super) names: FxHashSet<u64>,
    pub(super) prev_names: FxHashSet<u64>,
    pub(super) longest_label: usize,
    pub(super) longest_name: usize,
    pub(super) entropy_sum: f64,
    pub(super) entropy_n: u64,
    pub(super) first_query: Timestamp,
    pub(super) server: IpAddr,
    /// The latest suspicious query, kept for the alert (boxed: groups are many, examples
    /// few, and a small entry keeps the table dense).
    pub(super) example: Option<Box<Example>>,
    pub(super) alerted_score: f64,
    /// Of its queries, those a home resolver was seen forwarding, and where the last went.
    pub(super) forwards: u64,
    pub(super) forwarded_to: Option<IpAddr>,
}

/// A query an alert shows as its example.
pub(super) struct Example {
    pub(super) name: DnsName,
    pub(super) qtype: u16,
    pub(super) id: u16,
    pub(super) figures: SubdomainFigures,
}

impl Example {
    /// Keeps `m` (reusing the allocation already there).
    pub(super) fn keep(slot: &mut Option<Box<Example>>, m: &DnsMessage, figures: SubdomainFigures) {
        let e = Example { name: m.qname, qtype: m.qtype, id: m.id, figures };
        match slot {
            Some(b) => **b = e,
            None => *slot = Some(Box::new(e)),
        }
    }
}

/// Most forgotten groups kept for reuse (with their name sets' allocations).
pub(super) const MAX_SPARE: usize = 4096;

pub(super) fn rare_qtype_weight(t: u16) -> (f64, &'static str) {
    match t {
        qtype::NULL => (1.0, "null"),
        t if t >= qtype::PRIVATE_START => (1.0, "private"),
        qtype::TXT => (0.5, "txt"),
        qtype::CNAME | qtype::MX | qtype::SRV | qtype::ANY => (0.5, "rare"),
        _ => (0.0, ""),
    }
}
