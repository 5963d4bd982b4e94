//! The beacon detector's state: one fixed-size [`Series`] per (home host, destination), and the
//! small bounded caches that name a destination address.
//!
//! Every table is an `FxHashMap` with a cap; a full table evicts the stalest of a few sampled
//! entries (O(1), counted), and `on_tick` expires entries idle past their horizon.

use super::score::RING;
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// What a series' destination is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestKind {
    /// The server address.
    Addr,
    /// The registered domain of the TLS SNI, HTTP Host, or the DNS name the address came from.
    Name,
    /// DNS queries for names under one registered domain.
    Dns,
}

impl DestKind {
    /// For evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            DestKind::Addr => "address",
            DestKind::Name => "name",
            DestKind::Dns => "dns_queries",
        }
    }
}

/// A destination's 64-bit key (kind and address or name, hashed).
pub fn dest_key(kind: DestKind, addr: Option<IpAddr>, name: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    kind.hash(&mut h);
    addr.hash(&mut h);
    for b in name {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish()
}

/// A (home host, destination) pair's key.
pub fn pair_key(host: IpAddr, dest: u64) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    host.hash(&mut h);
    dest.hash(&mut h);
    h.finish()
}

/// Longest name kept inline (registered domains are short; a longer one is cut, for evidence
/// only: keys hash the whole name).
pub const SHORT_NAME: usize = 62;

/// A name stored inline, so naming a series or an address allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortName {
    len: u8,
    buf: [u8; SHORT_NAME],
}

impl ShortName {
    /// The first [`SHORT_NAME`] bytes of `name`.
    pub fn new(name: &[u8]) -> ShortName {
        let n = name.len().min(SHORT_NAME);
        let mut buf = [0u8; SHORT_NAME];
        buf[..n].copy_from_slice(&name[..n]);
        ShortName { len: n as u8, buf }
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
    /// For evidence (non-UTF-8 bytes replaced).
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

/// One pair's check-in series: the newest [`RING`] gaps (milliseconds) and sizes (bytes).
#[derive(Debug, Clone)]
pub struct Series {
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
pub enum Pushed {
    /// A new check-in.
    New,
    /// Merged into the previous one.
    Merged,
}

impl Series {
    /// A series whose first check-in is at `ts`.
    pub fn new(host: IpAddr, addr: IpAddr, kind: DestKind, dest: u64, ts: Timestamp) -> Series {
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
    pub fn checkin(&mut self, ts: Timestamp, floor_ms: u64, max_gap_ms: u64) -> Pushed {
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
    pub fn size(&mut self, bytes: u64) {
        self.sizes[usize::from(self.size_head)] = bytes.min(u64::from(u32::MAX)) as u32;
        self.size_head = ((usize::from(self.size_head) + 1) % RING) as u8;
        self.n_sizes = (usize::from(self.n_sizes) + 1).min(RING) as u8;
    }

    /// Adds `bytes` to the newest size (a merged check-in), or starts one.
    pub fn add_to_last_size(&mut self, bytes: u64) {
        if self.n_sizes == 0 {
            self.size(bytes);
            return;
        }
        let i = (usize::from(self.size_head) + RING - 1) % RING;
        self.sizes[i] = self.sizes[i].saturating_add(bytes.min(u64::from(u32::MAX)) as u32);
    }

    /// The gaps in seconds and the sizes, copied into the caller's arrays; returns the counts.
    pub fn figures(&self, gaps: &mut [f64; RING], sizes: &mut [f64; RING]) -> (usize, usize) {
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

/// A bounded map from a key to a value with a time: the values in a slab, an index from key to
/// slot, and a clock hand that, when the slab is full, evicts the stalest of the next 8 slots
/// (O(1); sampling from the start of a hash table instead degrades as evictions empty it).
#[derive(Debug)]
pub struct Bounded<V> {
    index: FxHashMap<u64, u32>,
    slots: Vec<(u64, Timestamp, V)>,
    hand: usize,
    cap: usize,
    /// Entries evicted because the map was full.
    pub evicted: u64,
}

/// Slots a full [`Bounded`] compares to pick its victim.
const EVICT_SAMPLE: usize = 8;

impl<V> Bounded<V> {
    /// An empty map holding at most `cap` entries.
    pub fn new(cap: usize) -> Self {
        Bounded { index: FxHashMap::default(), slots: Vec::new(), hand: 0, cap: cap.max(1), evicted: 0 }
    }
    /// The entry for `k`.
    pub fn get_mut(&mut self, k: u64) -> Option<&mut V> {
        let i = *self.index.get(&k)? as usize;
        self.slots.get_mut(i).map(|e| &mut e.2)
    }
    /// The entry for `k`.
    pub fn get(&self, k: u64) -> Option<&V> {
        let i = *self.index.get(&k)? as usize;
        self.slots.get(i).map(|e| &e.2)
    }
    /// The entry for `k`, marked used at `ts`; inserted with `make` (evicting one when full) if
    /// absent.
    pub fn entry(&mut self, k: u64, ts: Timestamp, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(&k) {
            Some(&i) => i as usize,
            None => {
                if self.slots.len() >= self.cap {
                    self.evict_one();
                }
                self.slots.push((k, ts, make()));
                let i = self.slots.len() - 1;
                self.index.insert(k, i as u32);
                i
            }
        };
        let e = &mut self.slots[i];
        e.1 = e.1.max(ts);
        &mut e.2
    }
    fn evict_one(&mut self) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let start = self.hand % n;
        let victim = (0..EVICT_SAMPLE.min(n)).map(|j| (start + j) % n).min_by_key(|&i| self.slots[i].1);
        self.hand = (start + EVICT_SAMPLE) % n;
        if let Some(i) = victim {
            self.remove_slot(i);
            self.evicted += 1;
        }
    }
    fn remove_slot(&mut self, i: usize) -> V {
        let (k, _, v) = self.slots.swap_remove(i);
        self.index.remove(&k);
        if let Some(moved) = self.slots.get(i) {
            self.index.insert(moved.0, i as u32);
        }
        v
    }
    /// Removes `k`.
    pub fn remove(&mut self, k: u64) -> Option<V> {
        let i = *self.index.get(&k)? as usize;
        Some(self.remove_slot(i))
    }
    /// Drops entries last used before `cutoff`.
    pub fn expire(&mut self, cutoff: Timestamp) {
        let mut i = 0;
        while i < self.slots.len() {
            if self.slots[i].1 < cutoff {
                self.remove_slot(i);
            } else {
                i += 1;
            }
        }
    }
    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    /// Bytes held, by capacity (slab and index), for the memory budget.
    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u64, Timestamp, V)>()
            + self.index.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }
    /// Evicts about `share` of the entries, the stalest of each clock sample first (the run is
    /// over `memory.cap`); returns how many.
    pub fn shed(&mut self, share: f64) -> u64 {
        let n = (self.slots.len() as f64 * share.clamp(0.0, 1.0)).ceil() as usize;
        for _ in 0..n {
            self.evict_one();
        }
        self.evicted -= n.min(self.evicted as usize) as u64;
        n as u64
    }
    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Distinct home hosts seen talking to one destination, up to [`PREVALENCE_SLOTS`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Prevalence {
    hosts: [u32; PREVALENCE_SLOTS],
    n: u8,
}

/// Distinct hosts a [`Prevalence`] counts exactly; more reads as "at least this many".
pub const PREVALENCE_SLOTS: usize = 8;

impl Prevalence {
    /// Counts `host` (a 32-bit hash of it).
    pub fn add(&mut self, host: u32) {
        let n = usize::from(self.n);
        if n < PREVALENCE_SLOTS && !self.hosts[..n].contains(&host) {
            self.hosts[n] = host;
            self.n += 1;
        }
    }
    /// Distinct hosts counted (saturates at [`PREVALENCE_SLOTS`]).
    pub fn hosts(&self) -> usize {
        usize::from(self.n)
    }
}

/// A host's 32-bit hash, for [`Prevalence`].
pub fn host_hash(host: IpAddr) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    host.hash(&mut h);
    (h.finish() >> 32) as u32
}
