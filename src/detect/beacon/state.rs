//! The beacon detector's state: one fixed-size [`Series`] per (home host, destination), and the
//! small bounded caches that name a destination address.
//!
//! Every table is an `FxHashMap` with a cap; a full table evicts the stalest of a few sampled
//! entries (O(1), counted), and `on_tick` expires entries idle past their horizon.

use super::score::RING;
use crate::time::Timestamp;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// What a series' destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DestKind {
    /// The server address.
    Addr,
    /// The registered domain of the TLS SNI, HTTP Host, or the DNS name the address came from.
    Name,
    /// DNS queries for names under one registered domain.
    Dns,
}

impl DestKind {
    /// For evidence.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DestKind::Addr => "address",
            DestKind::Name => "name",
            DestKind::Dns => "dns_queries",
        }
    }
}

/// A destination's 64-bit key (kind and address or name, hashed): FxHash of the kind, the
/// address and the name's bytes lower-cased one by one ([`fx_bytes`] works the same value out
/// without the chain of one multiply a byte).
pub(crate) fn dest_key(kind: DestKind, addr: Option<IpAddr>, name: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    kind.hash(&mut h);
    addr.hash(&mut h);
    if name.is_empty() {
        return h.finish();
    }
    fx_bytes(h.finish(), name)
}

/// The destination key of a DNS series: its registrable domain's case-insensitive hash
/// ([`crate::decode::dns::DnsName::registrable_hash`], worked out once per message), mixed
/// with the kind so it is never an address's or a name's key.
pub(crate) fn dns_dest_key(registrable_hash: u64) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    DestKind::Dns.hash(&mut h);
    h.write_u64(registrable_hash);
    h.finish()
}

/// `rustc_hash::FxHasher`'s multiplier and the rotation its `finish` applies (rustc-hash 2 on a
/// 64-bit target; `fx_bytes_is_the_hashers_byte_at_a_time` checks both against the crate).
const FX_K: u64 = 0xf135_7aea_2e62_a9c5;
const FX_ROTATE: u32 = 26;
/// `FX_K` to the powers 1 to 4.
const FX_K2: u64 = FX_K.wrapping_mul(FX_K);
const FX_K3: u64 = FX_K2.wrapping_mul(FX_K);
const FX_K4: u64 = FX_K3.wrapping_mul(FX_K);

/// What an `FxHasher` that finished as `finished` finishes as after `write_u8` of each byte of
/// `name` lower-cased. A byte at a time the hash is `(h + b) * K`, one dependent multiply a
/// byte (a quarter of `beacon`'s time a DNS query); four bytes at once it is
/// `h*K^4 + b0*K^4 + b1*K^3 + b2*K^2 + b3*K`, whose products do not wait for each other.
fn fx_bytes(finished: u64, name: &[u8]) -> u64 {
    let mut h = finished.rotate_right(FX_ROTATE);
    let mut quads = name.chunks_exact(4);
    for q in &mut quads {
        let b = |i: usize| u64::from(q[i].to_ascii_lowercase());
        h = h.wrapping_mul(FX_K4).wrapping_add(
            b(0).wrapping_mul(FX_K4)
                .wrapping_add(b(1).wrapping_mul(FX_K3))
                .wrapping_add(b(2).wrapping_mul(FX_K2))
                .wrapping_add(b(3).wrapping_mul(FX_K)),
        );
    }
    for &b in quads.remainder() {
        h = h.wrapping_add(u64::from(b.to_ascii_lowercase())).wrapping_mul(FX_K);
    }
    h.rotate_left(FX_ROTATE)
}

/// Sets of the [`FirstSeen`] table: each holds this many pairs.
const SEEN_WAYS: usize = 4;

/// Pairs seen once, each waiting for its second check-in: (fingerprint, first check-in) in sets
/// of [`SEEN_WAYS`] indexed by the pair key; a full set replaces its oldest entry. Most pairs are
/// seen once, so a pair gets a [`Series`] only at its second check-in. Set-associative rather
/// than direct-mapped so that two pairs meeting in one slot seldom cost either its admission:
/// which pairs meet depends on what else the worker holds, and admission is to depend on the
/// pair's own traffic, not on how many workers share the load (`tests/workers.rs`).
pub(crate) struct FirstSeen {
    /// Per slot, the pair's fingerprint (never 0), or 0 when free.
    fps: Vec<u32>,
    /// Per slot, the pair's first check-in (beside, not with, the fingerprint: 12 bytes a
    /// slot instead of a padded 16).
    firsts: Vec<Timestamp>,
    mask: usize,
}

impl FirstSeen {
    /// Room for about `pairs` waiting pairs (twice that, rounded up to a power of two), taken
    /// at the first check-in: 384 KiB at the default, written whole when made, were 96 page
    /// faults a worker at start-up, before any packet (and for captures without a check-in).
    pub(crate) fn new(pairs: usize) -> FirstSeen {
        let sets = (pairs.max(1).next_power_of_two() * 2 / SEEN_WAYS).max(1);
        FirstSeen { fps: Vec::new(), firsts: Vec::new(), mask: sets - 1 }
    }

    /// A check-in of the pair `key` at `ts`: the pair's first check-in if it was seen at most
    /// `max_gap` nanoseconds before (and the pair is forgotten here), else `None` (and this one
    /// waits as its first).
    pub(crate) fn second(&mut self, key: u64, ts: Timestamp, max_gap: u64) -> Option<Timestamp> {
        if self.fps.is_empty() {
            let slots = (self.mask + 1) * SEEN_WAYS;
            self.fps = vec![0; slots];
            self.firsts = vec![Timestamp(0); slots];
        }
        let set = ((key as usize) & self.mask) * SEEN_WAYS;
        let fp = ((key >> 32) as u32) | 1;
        let fps = self.fps.get_mut(set..set + SEEN_WAYS)?;
        let firsts = self.firsts.get_mut(set..set + SEEN_WAYS)?;
        // An empty way first, else the oldest.
        let age = |f: u32, t: Timestamp| if f == 0 { 0 } else { t.0.saturating_add(1) };
        let mut victim = 0;
        for i in 0..SEEN_WAYS {
            let (f, first) = (fps[i], firsts[i]);
            if f == fp {
                if ts.0 >= first.0 && ts.0 - first.0 <= max_gap {
                    (fps[i], firsts[i]) = (0, Timestamp(0));
                    return Some(first);
                }
                (fps[i], firsts[i]) = (fp, ts);
                return None;
            }
            if age(f, first) < age(fps[victim], firsts[victim]) {
                victim = i;
            }
        }
        (fps[victim], firsts[victim]) = (fp, ts);
        None
    }

    /// Bytes held.
    pub(crate) fn memory(&self) -> usize {
        self.fps.capacity() * std::mem::size_of::<u32>()
            + self.firsts.capacity() * std::mem::size_of::<Timestamp>()
    }
}

/// A (home host, destination) pair's key.
pub(crate) fn pair_key(host: IpAddr, dest: u64) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    host.hash(&mut h);
    dest.hash(&mut h);
    h.finish()
}

/// Longest name kept inline (registered domains are short; a longer one is cut, for evidence
/// only: keys hash the whole name).
pub(crate) const SHORT_NAME: usize = 62;

/// A name stored inline, so naming a series or an address allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShortName {
    len: u8,
    buf: [u8; SHORT_NAME],
}

impl ShortName {
    /// The first [`SHORT_NAME`] bytes of `name`.
    pub(crate) fn new(name: &[u8]) -> ShortName {
        let n = name.len().min(SHORT_NAME);
        let mut buf = [0u8; SHORT_NAME];
        buf[..n].copy_from_slice(&name[..n]);
        ShortName { len: n as u8, buf }
    }
    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
    /// For evidence (non-UTF-8 bytes replaced).
    pub(crate) fn to_text(self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

/// One pair's check-in series: the newest [`RING`] gaps (milliseconds) and sizes (bytes).
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The home host.
    pub host: IpAddr,
    /// The destination address (the latest one seen for name series).
    pub addr: IpAddr,
    /// Destination kind.
    pub kind: DestKind,
    /// Destination key (prevalence table).
    pub dest: u64,
    /// The destination's name (name and DNS series).
    pub name: Option<ShortName>,
    /// First check-in.
    pub first: Timestamp,
    /// Latest check-in.
    pub last: Timestamp,
    /// Latest home-sent payload inside a long connection of the pair (bursts).
    pub active: Timestamp,
    /// Check-ins seen (not only those in the ring).
    pub checkins: u32,
    gaps: [u32; RING],
    sizes: [u32; RING],
    n_gaps: u8,
    gap_head: u8,
    n_sizes: u8,
    size_head: u8,
    /// Check-ins at the last alert (0: none yet).
    pub alerted_at: u32,
    /// Muted: the address served an allow-listed name.
    pub muted: bool,
}

/// A check-in closer than the interval floor to the previous one is merged into it.
pub(crate) enum Pushed {
    /// A new check-in.
    New,
    /// Merged into the previous one.
    Merged,
}

impl Series {
    /// A series whose first check-in is at `ts`.
    pub(crate) fn new(host: IpAddr, addr: IpAddr, kind: DestKind, dest: u64, ts: Timestamp) -> Series {
        Series {
            host,
            addr,
            kind,
            dest,
            name: None,
            first: ts,
            last: ts,
            active: ts,
            checkins: 1,
            gaps: [0; RING],
            sizes: [0; RING],
            n_gaps: 0,
            gap_head: 0,
            n_sizes: 0,
            size_head: 0,
            alerted_at: 0,
            muted: false,
        }
    }

    /// A check-in at `ts`. Closer than `floor_ms` to the previous one (or out of order), it
    /// merges into it; a gap longer than `max_gap_ms` restarts the series.
    pub(crate) fn checkin(&mut self, ts: Timestamp, floor_ms: u64, max_gap_ms: u64) -> Pushed {
        let gap_ms = ts.0.saturating_sub(self.last.0) / 1_000_000;
        if ts.0 < self.last.0 || gap_ms < floor_ms {
            return Pushed::Merged;
        }
        if gap_ms > max_gap_ms {
            let (host, addr, kind, dest) = (self.host, self.addr, self.kind, self.dest);
            let name = self.name.take();
            *self = Series::new(host, addr, kind, dest, ts);
            self.name = name;
            return Pushed::New;
        }
        self.gaps[usize::from(self.gap_head)] = gap_ms.min(u64::from(u32::MAX)) as u32;
        self.gap_head = ((usize::from(self.gap_head) + 1) % RING) as u8;
        self.n_gaps = (usize::from(self.n_gaps) + 1).min(RING) as u8;
        self.last = ts;
        self.checkins = self.checkins.saturating_add(1);
        Pushed::New
    }

    /// A check-in's size (bytes): pushed into the size ring.
    pub(crate) fn size(&mut self, bytes: u64) {
        self.sizes[usize::from(self.size_head)] = bytes.min(u64::from(u32::MAX)) as u32;
        self.size_head = ((usize::from(self.size_head) + 1) % RING) as u8;
        self.n_sizes = (usize::from(self.n_sizes) + 1).min(RING) as u8;
    }

    /// Adds `bytes` to the newest size (a merged check-in), or starts one.
    pub(crate) fn add_to_last_size(&mut self, bytes: u64) {
        if self.n_sizes == 0 {
            self.size(bytes);
            return;
        }
        let i = (usize::from(self.size_head) + RING - 1) % RING;
        self.sizes[i] = self.sizes[i].saturating_add(bytes.min(u64::from(u32::MAX)) as u32);
    }

    /// The gaps in seconds and the sizes, copied into the caller's arrays; returns the counts.
    pub(crate) fn figures(&self, gaps: &mut [f64; RING], sizes: &mut [f64; RING]) -> (usize, usize) {
        let (ng, ns) = (usize::from(self.n_gaps), usize::from(self.n_sizes));
        for (o, g) in gaps.iter_mut().zip(&self.gaps[..ng]) {
            *o = f64::from(*g) / 1000.0;
        }
        for (o, s) in sizes.iter_mut().zip(&self.sizes[..ns]) {
            *o = f64::from(*s);
        }
        (ng, ns)
    }
}

/// A bounded map from a key to a value with its last-use time: the project's LRU map
/// ([`crate::flow::bounded::Bounded`], O(1) eviction of the least recently used entry) with the
/// time beside each value, so entries idle past a cutoff can be expired oldest first.
pub(crate) struct Bounded<V> {
    map: crate::flow::bounded::Bounded<u64, (Timestamp, V)>,
    /// Entries evicted because the map was full.
    pub evicted: u64,
}

impl<V> Bounded<V> {
    /// An empty map holding at most `cap` entries.
    pub(crate) fn new(cap: usize) -> Self {
        Bounded { map: crate::flow::bounded::Bounded::new(cap), evicted: 0 }
    }
    /// The entry for `k`.
    pub(crate) fn get_mut(&mut self, k: u64) -> Option<&mut V> {
        self.map.get_mut(&k).map(|e| &mut e.1)
    }
    /// The entry for `k`.
    pub(crate) fn get(&self, k: u64) -> Option<&V> {
        self.map.get(&k).map(|e| &e.1)
    }
    /// The entry for `k`, marked used at `ts`; inserted with `make` (evicting the least recently
    /// used one when full) if absent.
    pub(crate) fn entry(&mut self, k: u64, ts: Timestamp, make: impl FnOnce() -> V) -> &mut V {
        let evicted = &mut self.evicted;
        let e = self.map.get_or_insert_with(k, |old| {
            *evicted += u64::from(old.is_some());
            (ts, make())
        });
        e.0 = e.0.max(ts);
        &mut e.1
    }
    /// Removes `k`.
    pub(crate) fn remove(&mut self, k: u64) -> Option<V> {
        self.map.remove(&k).map(|e| e.1)
    }
    /// Drops entries last used before `cutoff` (the least recently used come first).
    pub(crate) fn expire(&mut self, cutoff: Timestamp) {
        while self.map.oldest().is_some_and(|(_, e)| e.0 < cutoff) {
            self.map.pop_oldest();
        }
    }
    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
    /// No entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Bytes held, by capacity, for the memory budget.
    pub(crate) fn memory(&self) -> usize {
        self.map.overhead_bytes()
    }
    /// Drops about `share` of the entries, least recently used first (the run is over
    /// `memory.cap`); returns how many.
    pub(crate) fn shed(&mut self, share: f64) -> u64 {
        self.map.shed(share, |_, _| {})
    }
}

/// Distinct home hosts seen talking to one destination, up to [`PREVALENCE_SLOTS`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prevalence {
    hosts: [u32; PREVALENCE_SLOTS],
    n: u8,
}

/// Distinct hosts a [`Prevalence`] counts exactly; more reads as "at least this many".
pub(crate) const PREVALENCE_SLOTS: usize = 8;

impl Prevalence {
    /// Counts `host` (a 32-bit hash of it).
    pub(crate) fn add(&mut self, host: u32) {
        let n = usize::from(self.n);
        if n < PREVALENCE_SLOTS && !self.hosts[..n].contains(&host) {
            self.hosts[n] = host;
            self.n += 1;
        }
    }
    /// Distinct hosts counted (saturates at [`PREVALENCE_SLOTS`]).
    pub(crate) fn hosts(&self) -> usize {
        usize::from(self.n)
    }
}

/// A host's 32-bit hash, for [`Prevalence`].
pub(crate) fn host_hash(host: IpAddr) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    host.hash(&mut h);
    (h.finish() >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time hash, as `dest_key` first wrote it.
    fn reference(kind: DestKind, addr: Option<IpAddr>, name: &[u8]) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        kind.hash(&mut h);
        addr.hash(&mut h);
        for b in name {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.finish()
    }

    #[test]
    fn fx_bytes_is_the_hashers_byte_at_a_time() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..80 {
            for _ in 0..20 {
                let name: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                        (x >> 56) as u8
                    })
                    .collect();
                for kind in [DestKind::Addr, DestKind::Name, DestKind::Dns] {
                    let addr = (kind == DestKind::Addr).then(|| IpAddr::from([203, 0, 113, len as u8]));
                    assert_eq!(dest_key(kind, addr, &name), reference(kind, addr, &name), "{name:?}");
                }
            }
        }
        assert_eq!(
            dest_key(DestKind::Name, None, b"Example.COM"),
            dest_key(DestKind::Name, None, b"example.com")
        );
    }
}
