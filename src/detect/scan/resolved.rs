//! The addresses each host resolved lately, grouped by the name asked for. A client whose
//! connection to one address of a name fails tries the next (curl, `getaddrinfo` loops, happy
//! eyeballs); those attempts are one first contact per port, not a sweep of the name's hosts.
//! Fed by DNS responses (`on_dns`); one capped LRU map of (client, address) → (name, time),
//! expired on packet time after `resolved_window`. The map is keyed by the addresses' hashes
//! ([`hash_ip`]: one-to-one for IPv4, colliding about once in 2^64 for IPv6): a 16-byte key
//! instead of 34, hashed and compared as two words.

use crate::decode::dns::DnsMessage;
use crate::flow::bounded::Bounded;
use crate::flow::hash::{lower_word, word_of};
use crate::flow::host::{hash_ip, mix};
use crate::time::Timestamp;
use std::net::IpAddr;

/// (client, address), by their [`hash_ip`].
type Key = (u64, u64);

/// Recently resolved addresses per client.
pub(crate) struct Resolved {
    map: Bounded<Key, (u64, Timestamp)>,
    window: u64,
    evicted: u64,
}

/// A case-folded hash of a DNS name.
pub(crate) fn name_hash(name: &[u8]) -> u64 {
    name.chunks(8).fold(0x243f_6a88_85a3_08d3, |h, c| mix(h ^ lower_word(word_of(c))))
}

impl Resolved {
    /// At most `cap` (client, address) pairs, each remembered for `window` nanoseconds.
    pub(crate) fn new(cap: usize, window: u64) -> Self {
        Resolved { map: Bounded::new(cap.max(1)), window, evicted: 0 }
    }

    /// Records the addresses of response `m` as resolved by `client` at `ts`.
    pub(crate) fn record(&mut self, client: IpAddr, m: &DnsMessage, ts: Timestamp) {
        let group = name_hash(m.qname.as_bytes());
        let client = hash_ip(&client);
        for a in m.answer_addrs.iter().flatten() {
            if self.map.insert((client, hash_ip(a)), (group, ts)).is_some() {
                self.evicted += 1;
            }
        }
    }

    /// The name group of `addr` if `client` resolved it within the window before `ts`.
    pub(crate) fn group(&self, client: &IpAddr, addr: &IpAddr, ts: Timestamp) -> Option<u64> {
        if self.map.is_empty() {
            return None;
        }
        let &(g, at) = self.map.get(&(hash_ip(client), hash_ip(addr)))?;
        (ts.0.saturating_sub(at.0) <= self.window).then_some(g)
    }

    /// Forgets what is older than the window at `now`.
    pub(crate) fn expire(&mut self, now: Timestamp) {
        let window = self.window;
        self.map.retain(|_, v| now.0.saturating_sub(v.1.0) <= window);
    }

    /// Pairs held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false once something was resolved.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Pairs pushed out by the cap.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Bytes held.
    pub(crate) fn memory(&self) -> usize {
        self.map.overhead_bytes() + self.map.len() * std::mem::size_of::<(Key, (u64, Timestamp))>()
    }

    /// Drops the least recently resolved `share` (memory pressure); returns how many.
    pub(crate) fn shed(&mut self, share: f64) -> u64 {
        self.map.shed(share, |_, _| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_case_insensitively_and_apart() {
        assert_eq!(name_hash(b"Shop.Example.NET"), name_hash(b"shop.example.net"));
        assert_ne!(name_hash(b"shop.example.net"), name_hash(b"shop.example.com"));
    }

    #[test]
    fn addresses_are_grouped_within_the_window_and_capped() {
        let mut r = Resolved::new(2, 60_000_000_000);
        let mut m = crate::decode::dns::DnsMessage {
            id: 1,
            is_response: true,
            opcode: 0,
            rcode: 0,
            ancount: 2,
            qname: crate::decode::dns::DnsName::from_labels([&b"shop"[..], b"example", b"net"]).unwrap(),
            qtype: 1,
            qclass: 1,
            len: 80,
            answer_bytes: 8,
            largest_answer: 4,
            answer_addrs: [None; crate::decode::dns::MAX_ANSWER_ADDRS],
        };
        let c: IpAddr = [10, 0, 0, 1].into();
        let (a, b): (IpAddr, IpAddr) = ([203, 0, 113, 90].into(), [203, 0, 113, 91].into());
        m.answer_addrs[0] = Some(a);
        m.answer_addrs[1] = Some(b);
        r.record(c, &m, Timestamp::from_secs(10));
        let g = r.group(&c, &a, Timestamp::from_secs(20));
        assert!(g.is_some() && g == r.group(&c, &b, Timestamp::from_secs(20)), "one group per name");
        assert_eq!(r.group(&c, &a, Timestamp::from_secs(71)), None, "expired after the window");
        assert_eq!(r.group(&b, &a, Timestamp::from_secs(20)), None, "another client did not resolve it");
        m.answer_addrs[0] = Some([203, 0, 113, 92].into());
        m.answer_addrs[1] = None;
        r.record(c, &m, Timestamp::from_secs(30));
        assert_eq!((r.len(), r.evicted()), (2, 1), "capped, the oldest pushed out and counted");
        r.expire(Timestamp::from_secs(200));
        assert!(r.is_empty());
    }
}
