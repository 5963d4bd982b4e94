//! The resolver path. On a SPAN port a client's queries reach the internet through a home
//! resolver: client → resolver, then resolver → authoritative server, both legs seen. The
//! resolver's leg repeats the client's names seconds later; scored on its own it would make the
//! resolver look like a tunnel client of its own. This remembers, for a few seconds, which
//! client asked which home server which name; a query that repeats a name its sender was asked
//! within `forward_window` is a forward: its sender is learned as a resolver and the query is
//! attributed to the client that asked (whose own query was already scored) instead of being
//! scored again. Configured resolvers (`dns_tunnel.resolvers`) need no learning; unmatched queries
//! from any resolver are still scored (its own lookups, or a client leg the sensor cannot see).
//!
//! Memory: the recent questions in a map capped at `max_forward_names` (oldest out, O(1)), expired
//! on packet time after `forward_window`; the learned resolvers capped at `max_learned_resolvers`,
//! forgotten after `learned_resolver_ttl` without a forward.

use crate::flow::bounded::Bounded;
use crate::flow::host::{hash_ip, mix};
use crate::time::Timestamp;
use std::net::IpAddr;

/// A question a home server was asked.
#[derive(Clone, Copy)]
struct Asked {
    /// Who asked: the client, or the client behind the resolver that forwarded it.
    client: IpAddr,
    ts: Timestamp,
}

/// A resolver learned from its forwards.
#[derive(Clone, Copy, Debug)]
pub(super) struct Learned {
    pub(super) forwards: u64,
    pub(super) last: Timestamp,
}

/// A query recognised as a forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Forward {
    /// The client the name is attributed to.
    pub(super) client: IpAddr,
}

pub(super) struct ResolverPath {
    window: u64,
    ttl: u64,
    asked: Bounded<u64, Asked>,
    learned: Bounded<IpAddr, Learned>,
    pub(super) evicted: u64,
}

fn key(name_hash: u64, server: &IpAddr) -> u64 {
    mix(name_hash ^ hash_ip(server).rotate_left(17))
}

impl ResolverPath {
    pub(super) fn new(window: u64, ttl: u64, max_names: usize, max_learned: usize) -> Self {
        ResolverPath {
            window,
            ttl,
            asked: Bounded::new(max_names),
            learned: Bounded::new(max_learned),
            evicted: 0,
        }
    }

    /// One query from `src` to `dst` for the name `name_hash` hashes (lower-cased). Returns the
    /// forward it is, if `src` was asked that name within the window by someone else. The name
    /// is hashed only when some home server was asked anything lately or `dst` is one (a
    /// client's queries to an outside resolver, a random-subdomain flood's, cost no hash).
    pub(super) fn query(
        &mut self,
        ts: Timestamp,
        src: &IpAddr,
        dst: &IpAddr,
        dst_home: bool,
        name_hash: impl FnOnce() -> u64,
    ) -> Option<Forward> {
        // Expire on packet time: the map is in insertion (= time) order.
        while let Some((_, a)) = self.asked.oldest() {
            if ts.0.saturating_sub(a.ts.0) < self.window {
                break;
            }
            self.asked.pop_oldest();
        }
        if self.asked.is_empty() && !dst_home {
            return None;
        }
        let name_hash = name_hash();
        let fwd = self
            .asked
            .get(&key(name_hash, src))
            .filter(|a| a.client != *src && ts.0.saturating_sub(a.ts.0) < self.window)
            .map(|a| Forward { client: a.client });
        if fwd.is_some() {
            let evicted = &mut self.evicted;
            let l = self.learned.get_or_insert_with(*src, |old| {
                *evicted += u64::from(old.is_some());
                Learned { forwards: 0, last: ts }
            });
            l.forwards += 1;
            l.last = ts;
        }
        if dst_home {
            // A resolver chain (client → R1 → R2) keeps the first client.
            let client = fwd.map_or(*src, |f| f.client);
            if self.asked.insert(key(name_hash, dst), Asked { client, ts }).is_some() {
                self.evicted += 1;
            }
        }
        fwd
    }

    /// `a` is a resolver learned from its forwards (and not yet forgotten).
    pub(super) fn learned(&self, a: &IpAddr) -> Option<Learned> {
        self.learned.get(a).copied()
    }

    /// Forgets resolvers that forwarded nothing for `learned_resolver_ttl`.
    pub(super) fn expire(&mut self, now: Timestamp) {
        let ttl = self.ttl;
        self.learned.retain(|_, l| now.0.saturating_sub(l.last.0) < ttl);
        while let Some((_, a)) = self.asked.oldest() {
            if now.0.saturating_sub(a.ts.0) < self.window {
                break;
            }
            self.asked.pop_oldest();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.asked.len() + self.learned.len()
    }

    pub(super) fn memory(&self) -> usize {
        self.asked.overhead_bytes() + self.learned.overhead_bytes()
    }

    pub(super) fn shed(&mut self, share: f64) -> u64 {
        self.asked.shed(share, |_, _| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn t(ms: u64) -> Timestamp {
        Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000)
    }

    #[test]
    fn a_forward_is_attributed_to_the_client_who_asked() {
        let mut r = ResolverPath::new(10_000_000_000, 3_600_000_000_000, 64, 8);
        let (c, res, auth) = (ip("10.99.0.140"), ip("10.99.1.53"), ip("203.0.113.56"));
        assert_eq!(r.query(t(0), &c, &res, true, || 42), None);
        assert_eq!(r.query(t(3), &res, &auth, false, || 42), Some(Forward { client: c }));
        assert_eq!(r.learned(&res).map(|l| l.forwards), Some(1));
        // Another name, or the same name after the window, is the resolver's own.
        assert_eq!(r.query(t(5), &res, &auth, false, || 43), None);
        assert_eq!(r.query(t(20_000), &res, &auth, false, || 42), None);
        // A client asking itself is no forward.
        assert_eq!(r.query(t(20_001), &c, &c, true, || 7), None);
        assert_eq!(r.query(t(20_002), &c, &auth, false, || 7), None);
    }

    #[test]
    fn a_chain_of_resolvers_keeps_the_first_client_and_tables_are_capped() {
        let mut r = ResolverPath::new(10_000_000_000, 3_600_000_000_000, 4, 2);
        let (c, r1, r2, auth) = (ip("10.0.0.9"), ip("10.0.0.53"), ip("10.0.1.53"), ip("198.51.100.1"));
        r.query(t(0), &c, &r1, true, || 1);
        assert_eq!(r.query(t(1), &r1, &r2, true, || 1), Some(Forward { client: c }));
        assert_eq!(r.query(t(2), &r2, &auth, false, || 1), Some(Forward { client: c }));
        for i in 0..100 {
            r.query(t(3 + i), &c, &r1, true, || 100 + i);
        }
        assert!(r.len() <= 4 + 2);
        // Expiry on packet time empties the questions and forgets idle resolvers.
        r.expire(Timestamp(t(0).0 + 7_200_000_000_000));
        assert_eq!(r.len(), 0);
    }
}
