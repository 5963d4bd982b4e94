//! The flow table: one entry per direction-normalised 5-tuple, expired on packet time, with a
//! hard cap. Every flow that leaves the table does so through an end event with its reason.

use super::Dir;
use super::host::HomeNet;
use super::index::{FlowIndex, prefetch_line};
use super::key::FlowKey;
use super::probes::Probes;
use super::wheel::{Wheel, second_of};
use crate::config::FlowConfig;
use crate::decode::app::AppProto;
use crate::decode::packet::tcp_flags;
use crate::decode::tunnel::TunnelInfo;
use crate::decode::{Decoded, L4};
use crate::time::Timestamp;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// No packet for `flow.idle_timeout`.
    Idle,
    /// TCP closed (FIN both ways or RST) and `flow.closed_timeout` passed.
    Closed,
    /// Pushed out by a new flow while the table was at `flow.max_flows`.
    Evicted,
    /// The capture ended.
    Shutdown,
}

/// One flow's state.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Key.
    pub key: FlowKey,
    /// EVE `flow_id`.
    pub id: u64,
    /// The initiator (sent the SYN, or the first packet) is the key's endpoint `a`: its
    /// address and port are the key's, not stored twice ([`Flow::orig_addr`]).
    pub orig_is_a: bool,
    /// Is the initiator inside the home network?
    pub orig_home: bool,
    /// Is the responder inside the home network?
    pub resp_home: bool,
    /// First packet.
    pub first: Timestamp,
    /// Last packet.
    pub last: Timestamp,
    /// Packets per direction ([`Dir::idx`]).
    pub pkts: [u64; 2],
    /// IP bytes per direction (IP total length: true sizes even when the capture cut frames).
    pub bytes: [u64; 2],
    /// Transport payload bytes per direction (wire lengths).
    pub payload: [u64; 2],
    /// TCP flags seen per direction (OR of every packet's flags).
    pub flags: [u8; 2],
    /// Application protocol seen in the payload.
    pub app: AppProto,
    /// First payload of each direction has been classified.
    pub classified: [bool; 2],
    /// The TLS ClientHello was handled (parsed, or given up on).
    pub tls_done: bool,
    /// Encapsulation of the first packet (boxed: most flows have none, and the table stays
    /// smaller and denser in cache without the inline space).
    pub tunnel: Option<Box<TunnelInfo>>,
    /// VLAN of the first packet.
    pub vlan: Option<u16>,
    /// Traffic not yet handed to the detectors' volume hook (see [`Volume`]).
    pub unflushed: Volume,
    /// Time of the last packet in `unflushed`.
    pub unflushed_last: Timestamp,
    /// Microseconds from the first packet in `unflushed` to the last (a hand-over holds at most
    /// a few seconds: see [`crate::worker`]'s volume cadence).
    pub unflushed_span_us: u32,
    /// IP bytes `unflushed` may hold before the next hand-over (the detectors' least headroom).
    pub flush_budget: u32,
    /// Has any hand-over happened? (the first one counts the flow)
    pub flushed_once: bool,
    /// Listed for the next [`FlowTable::take_unflushed`].
    pub queued: bool,
    /// The external peer's country and network, looked up once when the flow opens if a GeoIP
    /// database is loaded and the flow is home ↔ external (unknown otherwise).
    pub geo: crate::enrich::GeoTag,
    /// The second its expiry entry is filed under ([`super::wheel`]).
    pub wheel_at: u32,
}

/// Traffic of one flow between two volume hand-overs, per direction ([`Dir::idx`]). 32-bit
/// counters keep the flow record small: a hand-over happens long before they could wrap (at
/// most `MAX_UNFLUSHED` bytes plus one packet, or one volume period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Volume {
    /// IP bytes (total lengths).
    pub bytes: [u32; 2],
    /// Transport payload bytes (wire lengths).
    pub payload: [u32; 2],
    /// Packets.
    pub pkts: [u32; 2],
}

impl Volume {
    /// Nothing in it.
    pub fn is_empty(&self) -> bool {
        self.pkts == [0, 0]
    }
    /// IP bytes both ways.
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.bytes[0]) + u64::from(self.bytes[1])
    }
    /// IP bytes in direction `i`.
    pub fn bytes(&self, i: usize) -> u64 {
        self.bytes.get(i).map_or(0, |&b| u64::from(b))
    }
    /// Payload bytes in direction `i`.
    pub fn payload(&self, i: usize) -> u64 {
        self.payload.get(i).map_or(0, |&b| u64::from(b))
    }
    /// Adds one packet in direction `i`.
    pub fn add(&mut self, i: usize, ip_len: u32, payload_len: u32) {
        if let (Some(b), Some(p), Some(n)) =
            (self.bytes.get_mut(i), self.payload.get_mut(i), self.pkts.get_mut(i))
        {
            *b = b.saturating_add(ip_len);
            *p = p.saturating_add(payload_len);
            *n = n.saturating_add(1);
        }
    }
}

impl Flow {
    /// Seconds between first and last packet.
    pub fn duration_secs(&self) -> f64 {
        self.last.since(self.first).as_secs_f64()
    }
    /// TCP flow closed by FIN in both directions or by RST.
    pub fn is_closed(&self) -> bool {
        let f = self.flags[0] | self.flags[1];
        f & tcp_flags::RST != 0
            || (self.flags[0] & tcp_flags::FIN != 0 && self.flags[1] & tcp_flags::FIN != 0)
    }
    /// Did the responder ever answer? (any packet back)
    pub fn answered(&self) -> bool {
        self.pkts[1] > 0
    }
    /// Opened from outside the home network to a home host and not answered: a scan's or a
    /// flood's SYN or datagram ([`crate::detect::VolumeInterest::Answered`]). Payload does not
    /// make it a session: a UDP flood's datagrams carry some, and the home host sent nothing.
    #[inline]
    pub fn unanswered_inbound_probe(&self) -> bool {
        self.resp_home && !self.orig_home && self.pkts[1] == 0
    }
    /// TCP handshake completed: SYN from initiator and SYN+ACK back.
    pub fn established(&self) -> bool {
        self.flags[1] & (tcp_flags::SYN | tcp_flags::ACK) == (tcp_flags::SYN | tcp_flags::ACK)
            || (self.flags[0] & tcp_flags::SYN == 0
                && self.pkts[1] > 0
                && self.flags[1] & tcp_flags::RST == 0)
    }
    /// Address and port of one side.
    pub fn side(&self, d: Dir) -> (IpAddr, u16) {
        match d {
            Dir::ToServer => (self.orig_addr(), self.orig_port()),
            Dir::ToClient => (self.resp_addr(), self.resp_port()),
        }
    }
    /// Initiator address.
    pub fn orig_addr(&self) -> IpAddr {
        if self.orig_is_a { self.key.a } else { self.key.b }
    }
    /// Responder address.
    pub fn resp_addr(&self) -> IpAddr {
        if self.orig_is_a { self.key.b } else { self.key.a }
    }
    /// Initiator port (TCP and UDP; 0 for other protocols, whose key may hold an ICMP echo
    /// identifier instead).
    pub fn orig_port(&self) -> u16 {
        match (self.key.proto, self.orig_is_a) {
            (6 | 17, true) => self.key.a_port,
            (6 | 17, false) => self.key.b_port,
            _ => 0,
        }
    }
    /// Responder port (TCP and UDP; 0 for other protocols).
    pub fn resp_port(&self) -> u16 {
        match (self.key.proto, self.orig_is_a) {
            (6 | 17, true) => self.key.b_port,
            (6 | 17, false) => self.key.a_port,
            _ => 0,
        }
    }
}

/// Counters of the flow table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// Flows ended by idle or close timeouts.
    pub expired: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Flows open now.
    pub active: u64,
    /// Flows ended early (oldest last packet first) to bring the run under `memory.cap`.
    pub shed: u64,
    /// Bytes the flow table holds (by capacity).
    pub memory: u64,
}

/// The table: flows packed densely in slots (a flow keeps its slot for life; freed slots are
/// reused first, so the open flows stay in few pages), found through a small index of slot
/// numbers by key hash ([`FlowIndex`], 16 bytes per flow). Both lookups can be prefetched
/// packets ahead ([`FlowTable::prefetch_index`], [`FlowTable::prefetch_flow`]).
pub struct FlowTable {
    slots: Vec<Option<Flow>>,
    free: Vec<u32>,
    index: FlowIndex,
    /// State of the generator choosing eviction victims (fixed seed: offline runs repeat).
    evict_rng: u64,
    /// The next two victims' slots, chosen ahead so that their records (and then the first
    /// one's index entry) are loaded by the time a flood evicts them ([`FlowTable::evict_one`]).
    victims: [u32; 2],
    /// Slots of flows given traffic since the last [`FlowTable::take_unflushed`] (a flow at
    /// most once: [`Flow::queued`]; an unanswered inbound probe only once answered).
    dirty: Vec<u32>,
    /// Expiry schedule.
    wheel: Wheel,
    /// Flows opened from outside to a home host, held apart until a second packet
    /// ([`super::probes`]).
    probes: Probes,
    /// Slots found due by [`FlowTable::expire`] (reused).
    due: Vec<u32>,
    cfg: FlowConfig,
    /// Counters.
    pub stats: FlowStats,
}

/// Where [`FlowTable::open_flow`] put a new flow.
enum Opened {
    /// In the table, at this slot.
    InTable(u32),
    /// Opened from outside, held apart ([`super::probes`]) in this place, its packet not yet
    /// counted.
    Apart(u32),
}

/// Marks a probe's place in [`FlowTable::end_all`]'s order (slots stay below it).
const PROBE: u32 = 1 << 31;

/// Slots reserved up front at most (about 200 MiB of address space); a larger `flow.max_flows`
/// grows the slab past it by doubling.
const MAX_RESERVED_SLOTS: usize = 1 << 20;

/// When `f` expires (ns): its last packet plus its timeout, the shorter one once TCP closed.
fn deadline(f: &Flow, idle: u64, closed: u64) -> u64 {
    let t = if f.key.proto == 6 && f.is_closed() { closed.min(idle) } else { idle };
    f.last.0.saturating_add(t)
}

/// Counts packet `d` (at `ts`, from endpoint `a` if `src_is_a`) to `flow`; its direction.
#[inline]
fn count(flow: &mut Flow, d: &Decoded<'_>, ts: Timestamp, src_is_a: bool) -> Dir {
    let dir = if src_is_a == flow.orig_is_a { Dir::ToServer } else { Dir::ToClient };
    let i = dir.idx();
    flow.pkts[i] += 1;
    flow.bytes[i] += u64::from(d.ip_len);
    flow.payload[i] += u64::from(d.payload_wire_len);
    if let L4::Tcp(t) = d.l4 {
        flow.flags[i] |= t.flags;
    }
    flow.last = flow.last.max(ts);
    dir
}

/// EVE's `flow_id` of the flow whose key hashes to `hash` ([`FlowKey::hash64`]) opened at `ts`:
/// what hashing the key ([`FlowKey`]'s `Hash` writes `hash64` as one word) and the time gives,
/// from the hash the table already has (no second hash of the key per new flow).
fn flow_id(hash: u64, ts: Timestamp) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_u64(hash);
    ts.0.hash(&mut h);
    h.finish() & 0x7fff_ffff_ffff_ffff
}

/// Who opened a new flow, and which of its ends are home hosts.
#[derive(Clone, Copy)]
struct Ends {
    /// The packet's source opened it.
    src_orig: bool,
    orig_home: bool,
    resp_home: bool,
}

impl Ends {
    #[inline]
    fn of(d: &Decoded<'_>, home: &HomeNet) -> Self {
        let src_orig = src_is_initiator(d);
        let (o, r) = if src_orig { (d.src, d.dst) } else { (d.dst, d.src) };
        Ends { src_orig, orig_home: home.contains(&o), resp_home: home.contains(&r) }
    }
}

/// Which side initiated: `true` if the packet's source is the initiator.
fn src_is_initiator(d: &Decoded<'_>) -> bool {
    match d.l4 {
        L4::Tcp(t) => {
            let syn_ack = t.flags & (tcp_flags::SYN | tcp_flags::ACK) == (tcp_flags::SYN | tcp_flags::ACK);
            if syn_ack {
                return false;
            }
            if t.flags & tcp_flags::SYN != 0 {
                return true;
            }
            // Mid-stream pickup: the well-known (lower, < 1024) port is the server.
            !(t.sport < 1024 && t.dport >= 1024)
        }
        L4::Udp { sport, dport } => !(sport < 1024 && dport >= 1024),
        L4::Icmp(i) => !matches!((i.v6, i.icmp_type), (false, 0) | (true, 129)),
        L4::Other => true,
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        // The index starts small and grows at a quarter full up to this size (one that grew at
        // half full from the start ran fuller: longer probes, +0.7 % instructions on the day).
        let cap = cfg.max_flows.min(65_536);
        FlowTable {
            // Address space only: pages are touched as flows arrive (and memory is charged by
            // slots used). Reserved for the cap at once, so a flood filling the table never
            // copies the slab to a bigger one (each doubling copied every flow and faulted in
            // twice the pages).
            slots: Vec::with_capacity(cfg.max_flows.min(MAX_RESERVED_SLOTS)),
            free: Vec::new(),
            index: FlowIndex::with_capacity(cap),
            evict_rng: 0x9e37_79b9_7f4a_7c15,
            victims: [u32::MAX; 2],
            dirty: Vec::with_capacity(1024),
            wheel: Wheel::default(),
            probes: Probes::new(cfg.max_flows / 16),
            due: Vec::new(),
            cfg,
            stats: FlowStats::default(),
        }
    }

    #[inline]
    fn find(&self, key: &FlowKey, hash: u64) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(hash, |s| slots.get(s as usize).is_some_and(|f| f.as_ref().is_some_and(|f| f.key == *key)))
    }

    /// Starts loading the index entry of the flow of `hash` ([`FlowKey::hash64`]): a few packets
    /// before its turn, then [`FlowTable::prefetch_flow`] a few packets later.
    #[inline]
    pub fn prefetch_index(&self, hash: u64) {
        self.probes.prefetch(hash);
        self.index.prefetch(hash);
    }

    /// Starts loading the flow record the index entry of `hash` most likely names.
    #[inline]
    pub fn prefetch_flow(&self, hash: u64) {
        if let Some(slot) = self.index.candidate(hash)
            && let Some(f) = self.slots.get(slot as usize)
        {
            let p: *const u8 = std::ptr::from_ref(f).cast();
            for off in (0..std::mem::size_of::<Option<Flow>>()).step_by(64) {
                prefetch_line(p.wrapping_add(off));
            }
        }
    }

    /// Takes the flow out of `slot`, freeing it.
    fn remove_slot(&mut self, slot: u32) -> Option<Flow> {
        let f = self.slots.get_mut(slot as usize)?.take()?;
        self.index.remove(f.key.hash64(), slot);
        self.free.push(slot);
        Some(f)
    }

    /// Accounts `d` to its flow (creating it), returning the flow and the packet's direction.
    /// Flows pushed out to make room are appended to `ended`.
    pub fn update(
        &mut self,
        d: &Decoded<'_>,
        ts: Timestamp,
        home: &HomeNet,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> (&mut Flow, Dir) {
        self.update_hashed(d, 0, ts, home, ended)
    }

    /// [`FlowTable::update`] with the key's hash already worked out by the capture thread
    /// ([`crate::capture::PacketMeta::flow_hint`], the same [`FlowKey::hash64`] of the same
    /// decode); 0 when there is none, and the table hashes the key itself.
    pub fn update_hashed(
        &mut self,
        d: &Decoded<'_>,
        hash: u64,
        ts: Timestamp,
        home: &HomeNet,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> (&mut Flow, Dir) {
        let (key, src_is_a) = FlowKey::of(d);
        debug_assert!(hash == 0 || hash == key.hash64(), "a flow hint from another decode");
        let hash = if hash != 0 { hash } else { key.hash64() };
        let (slot, new) = match self.find(&key, hash) {
            Some(slot) => (slot, false),
            None => match self.open_flow(d, key, hash, src_is_a, ts, home, ended) {
                Opened::InTable(slot) => (slot, true),
                // Opened from outside to a home host: held apart until a second packet.
                Opened::Apart(place) => return self.count_apart(place, d, ts, src_is_a),
            },
        };
        let Some(Some(flow)) = self.slots.get_mut(slot as usize) else {
            unreachable!("the index names only occupied slots")
        };
        // A TCP flow that closes now has a nearer deadline: filed again under it (only a FIN or
        // an RST can close it: the common packet asks nothing).
        let fin_rst = matches!(d.l4, L4::Tcp(t) if t.flags & (tcp_flags::FIN | tcp_flags::RST) != 0);
        let was_closed = fin_rst && flow.is_closed();
        let dir = count(flow, d, ts, src_is_a);
        let refile = new || (fin_rst && !was_closed && flow.is_closed());
        // Listed for the tick's hand-over, except an unanswered inbound probe never handed over:
        // its traffic waits for its answer or its end (a SYN flood's flows are never listed).
        if !flow.queued && (flow.flushed_once || !flow.unanswered_inbound_probe()) {
            flow.queued = true;
            self.dirty.push(slot);
        }
        if refile {
            let (idle, closed) = (self.cfg.idle_timeout.nanos(), self.cfg.closed_timeout.nanos());
            flow.wheel_at = second_of(deadline(flow, idle, closed));
            self.wheel.file(slot, flow.wheel_at);
        }
        (flow, dir)
    }

    /// Counts the first packet `d` of the flow just opened apart in `place` ([`super::probes`])
    /// where it lies, and files its deadline.
    #[inline(always)]
    fn count_apart(
        &mut self,
        place: u32,
        d: &Decoded<'_>,
        ts: Timestamp,
        src_is_a: bool,
    ) -> (&mut Flow, Dir) {
        let (idle, closed) = (self.cfg.idle_timeout.nanos(), self.cfg.closed_timeout.nanos());
        let flow = self.probes.at_mut(place);
        let dir = count(flow, d, ts, src_is_a);
        let dl = deadline(flow, idle, closed);
        self.probes.set_deadline(place, dl);
        (self.probes.at_mut(place), dir)
    }

    /// Opens the flow of `d` (making room first at the cap), returning its slot; a flow of the
    /// key waiting apart joins the table as it is (the packet is its second). Or the flow `d`
    /// opens from outside to a home host, to be held apart ([`super::probes`]). Out of line:
    /// inlined, it crowded the registers of every packet's lookup (issue 25).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn open_flow(
        &mut self,
        d: &Decoded<'_>,
        key: FlowKey,
        hash: u64,
        src_is_a: bool,
        ts: Timestamp,
        home: &HomeNet,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> Opened {
        if let Some(f) = self.probes.take(&key, hash) {
            return Opened::InTable(self.add_flow(f, hash, ended));
        }
        self.stats.created += 1;
        let ends = Ends::of(d, home);
        if ends.resp_home && !ends.orig_home {
            // Built where it waits: a 192-byte record built on the stack and copied there
            // stalled its copy's loads on the stores that had just built it (a SYN flood's
            // worker spent a fifth of its time there, `perf annotate`).
            let (place, evicted) = self.probes.vacate(hash, ended);
            self.stats.evicted += u64::from(evicted);
            self.probes.hold(place, Self::open(d, key, hash, src_is_a, ts, ends));
            return Opened::Apart(place);
        }
        Opened::InTable(self.add_flow(Self::open(d, key, hash, src_is_a, ts, ends), hash, ended))
    }

    /// Puts `flow` in the table (making room first at the cap), returning its slot.
    fn add_flow(&mut self, flow: Flow, hash: u64, ended: &mut Vec<(Flow, EndReason)>) -> u32 {
        if self.index.len() >= self.cfg.max_flows {
            self.evict_one(ended);
        }
        // Flows evicted before their deadline leave their filings behind: when those
        // outnumber the flows, drop them all at once (amortised O(1) a flow).
        if self.wheel.len() > 2 * self.index.len() + 4096 {
            self.purge_wheel();
        }
        self.insert(flow, hash)
    }

    fn insert(&mut self, flow: Flow, hash: u64) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s as usize) {
                    *x = Some(flow);
                }
                s
            }
            None => {
                self.slots.push(Some(flow));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(hash, slot);
        slot
    }

    /// A new flow for the packet `d`, whose key hashes to `hash` ([`FlowKey::hash64`]).
    #[inline(always)]
    fn open(d: &Decoded<'_>, key: FlowKey, hash: u64, src_is_a: bool, ts: Timestamp, ends: Ends) -> Flow {
        Flow {
            key,
            id: flow_id(hash, ts),
            orig_is_a: ends.src_orig == src_is_a,
            orig_home: ends.orig_home,
            resp_home: ends.resp_home,
            first: ts,
            last: ts,
            pkts: [0; 2],
            bytes: [0; 2],
            payload: [0; 2],
            flags: [0; 2],
            app: AppProto::Unknown,
            classified: [false; 2],
            tls_done: false,
            tunnel: d.tunnel.map(Box::new),
            vlan: d.vlan,
            unflushed: Volume::default(),
            unflushed_last: ts,
            unflushed_span_us: 0,
            flush_budget: 0,
            flushed_once: false,
            queued: false,
            geo: crate::enrich::GeoTag::default(),
            wheel_at: 0,
        }
    }

    /// Accounts a flow record (one direction of a flow, from NetFlow/IPFIX) to its flow,
    /// creating it; returns the flow, the record's direction and whether it opened the flow.
    /// The record's source is the initiator unless its port is a service's and the other one
    /// is not (records come in start order, so the initiator's usually opens the flow).
    /// Payload bytes are estimated from IP bytes less 40 bytes of headers per packet.
    pub fn update_record(
        &mut self,
        r: &crate::capture::netflow::FlowRecord,
        home: &HomeNet,
        ended: &mut Vec<(Flow, EndReason)>,
    ) -> (&mut Flow, Dir, bool) {
        let (key, src_is_a) = FlowKey::from_tuple(r.src, r.sport, r.dst, r.dport, r.proto, 0);
        let hash = key.hash64();
        let (slot, new) = match self.find(&key, hash) {
            Some(slot) => (slot, false),
            None => {
                if self.index.len() >= self.cfg.max_flows {
                    self.evict_one(ended);
                }
                let src_orig = !(r.sport < 1024 && r.dport >= 1024);
                let (o, resp) = if src_orig { (r.src, r.dst) } else { (r.dst, r.src) };
                let flow = Flow {
                    key,
                    id: flow_id(hash, r.start),
                    orig_is_a: src_orig == src_is_a,
                    orig_home: home.contains(&o),
                    resp_home: home.contains(&resp),
                    first: r.start,
                    last: r.end,
                    pkts: [0; 2],
                    bytes: [0; 2],
                    payload: [0; 2],
                    flags: [0; 2],
                    app: AppProto::Unknown,
                    classified: [true; 2],
                    tls_done: true,
                    tunnel: None,
                    vlan: None,
                    unflushed: Volume::default(),
                    unflushed_last: r.end,
                    unflushed_span_us: 0,
                    flush_budget: 0,
                    flushed_once: false,
                    queued: false,
                    geo: crate::enrich::GeoTag::default(),
                    wheel_at: 0,
                };
                self.stats.created += 1;
                (self.insert(flow, hash), true)
            }
        };
        let Some(Some(flow)) = self.slots.get_mut(slot as usize) else {
            unreachable!("the index names only occupied slots")
        };
        let dir = if src_is_a == flow.orig_is_a { Dir::ToServer } else { Dir::ToClient };
        let i = dir.idx();
        flow.pkts[i] = flow.pkts[i].saturating_add(r.pkts);
        flow.bytes[i] = flow.bytes[i].saturating_add(r.bytes);
        flow.payload[i] = flow.payload[i].saturating_add(record_payload(r));
        flow.flags[i] |= r.flags;
        flow.first = flow.first.min(r.start);
        flow.last = flow.last.max(r.end);
        // Filed for expiry when new, and again when its deadline came nearer (closed by flags).
        let at = second_of(deadline(flow, self.cfg.idle_timeout.nanos(), self.cfg.closed_timeout.nanos()));
        if new || at < flow.wheel_at {
            flow.wheel_at = at;
            self.wheel.file(slot, at);
        }
        (flow, dir, new)
    }

    /// Ends one flow to make room: a pseudo-random victim, cheap, and not steerable by one
    /// attacker-chosen tuple. Victims are random slots picked two evictions ahead: each eviction
    /// prefetches the record of the one after next and the index entry of the next, so under a
    /// flood (one eviction a packet) the victim's three cache misses overlap other work instead
    /// of stalling it. A victim slot found empty meanwhile falls back to a random index entry.
    fn evict_one(&mut self, ended: &mut Vec<(Flow, EndReason)>) {
        let mut slot = self.victims[0];
        if !self.slots.get(slot as usize).is_some_and(Option::is_some) {
            let r = self.next_random();
            match self.index.any(r) {
                Some(s) => slot = s,
                None => return,
            }
        }
        let r = self.next_random();
        let n = self.slots.len() as u64;
        let after_next = ((r >> 32).wrapping_mul(n) >> 32) as u32;
        self.victims = [self.victims[1], after_next];
        if let Some(f) = self.slots.get(after_next as usize) {
            let p: *const u8 = std::ptr::from_ref(f).cast();
            for off in (0..std::mem::size_of::<Option<Flow>>()).step_by(64) {
                prefetch_line(p.wrapping_add(off));
            }
        }
        if let Some(Some(f)) = self.slots.get(self.victims[0] as usize) {
            self.index.prefetch(f.key.hash64());
        }
        if let Some(f) = self.remove_slot(slot) {
            self.stats.evicted += 1;
            ended.push((f, EndReason::Evicted));
        }
    }

    /// The eviction generator's next number (xorshift64).
    fn next_random(&mut self) -> u64 {
        let r = &mut self.evict_rng;
        *r ^= *r << 13;
        *r ^= *r >> 7;
        *r ^= *r << 17;
        *r
    }

    /// Drops the expiry filings whose flow left its slot or was filed again since.
    fn purge_wheel(&mut self) {
        let slots = &self.slots;
        self.wheel.retain(|e| {
            slots.get(e.slot as usize).is_some_and(|f| f.as_ref().is_some_and(|f| f.wheel_at == e.at))
        });
    }

    /// Ends flows idle past their timeout at `now`, in slot order: only the flows filed under
    /// the seconds that passed since the last call are looked at ([`super::wheel`]).
    pub fn expire(&mut self, now: Timestamp, ended: &mut Vec<(Flow, EndReason)>) {
        let idle = self.cfg.idle_timeout.nanos();
        let closed = self.cfg.closed_timeout.nanos();
        let now_sec = now.0 / 1_000_000_000;
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        let FlowTable { wheel, slots, .. } = self;
        for b in wheel.due_buckets(now_sec) {
            let mut entries = wheel.take(b);
            entries.retain(|e| {
                if u64::from(e.at) > now_sec {
                    return true; // a later revolution
                }
                let Some(Some(f)) = slots.get_mut(e.slot as usize) else { return false };
                if f.wheel_at != e.at {
                    return false; // the flow left, or was filed again since
                }
                let dl = deadline(f, idle, closed);
                if dl <= now.0 {
                    due.push(e.slot);
                    return false;
                }
                let at = second_of(dl);
                if at == e.at {
                    return true; // later in this second: looked at again next tick
                }
                f.wheel_at = at;
                wheel.file(e.slot, at);
                false
            });
            wheel.put_back(b, entries);
        }
        // In slot order, as a sweep of the table finds them.
        due.sort_unstable();
        due.dedup();
        for &slot in &due {
            let Some(Some(f)) = self.slots.get(slot as usize) else { continue };
            let reason = if f.key.proto == 6 && f.is_closed() && now.0.saturating_sub(f.last.0) >= closed {
                EndReason::Closed
            } else {
                EndReason::Idle
            };
            if let Some(f) = self.remove_slot(slot) {
                ended.push((f, reason));
                self.stats.expired += 1;
            }
        }
        self.due = due;
        let reason = |f: &Flow| {
            if f.key.proto == 6 && f.is_closed() && now.0.saturating_sub(f.last.0) >= closed {
                EndReason::Closed
            } else {
                EndReason::Idle
            }
        };
        self.stats.expired += self.probes.expire(now, |f| deadline(f, idle, closed), reason, ended);
        self.stats.active = self.len() as u64;
    }

    /// Ends about `share` (0-1) of the open flows, those whose last packet is oldest, for the
    /// memory budget (counted in `shed`, ended as evicted): each is given to `end` where it
    /// lies, oldest first (collecting them would take as much memory again as they held),
    /// then the survivors are packed into the lowest slots and the rest of the slab's pages
    /// are given back. Returns how many flows ended.
    pub fn shed(&mut self, share: f64, mut end: impl FnMut(&mut Flow)) -> u64 {
        let n = (self.index.len() as f64 * share.clamp(0.0, 1.0)).ceil() as usize;
        if n == 0 {
            return 0;
        }
        let mut open: Vec<(Timestamp, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.as_ref().map(|f| (f.last, i as u32)))
            .collect();
        let n = n.min(open.len());
        if n < open.len() {
            open.select_nth_unstable(n);
        }
        open.truncate(n);
        open.sort_unstable();
        for &(_, slot) in &open {
            if let Some(Some(f)) = self.slots.get_mut(slot as usize) {
                end(f);
            }
            self.remove_slot(slot);
        }
        self.stats.shed += n as u64;
        self.stats.active = self.len() as u64;
        self.compact();
        n as u64
    }

    /// Moves the flows of the highest slots into the free ones below, so the slab can shrink to
    /// the flows open (their index entries and expiry filings follow). Not while flows are
    /// listed for [`FlowTable::take_unflushed`] (their slots would change).
    fn compact(&mut self) {
        if !self.dirty.is_empty() {
            return;
        }
        self.free.sort_unstable_by(|a, b| b.cmp(a)); // lowest last, popped first
        loop {
            while matches!(self.slots.last(), Some(None)) {
                self.slots.pop();
            }
            let len = self.slots.len() as u32;
            while self.free.last().is_some_and(|&s| s >= len) {
                self.free.pop();
            }
            let Some(hole) = self.free.pop() else { break };
            let Some(Some(f)) = self.slots.pop() else { break };
            let hash = f.key.hash64();
            self.index.remove(hash, len - 1);
            self.index.insert(hash, hole);
            self.wheel.file(hole, f.wheel_at);
            if let Some(x) = self.slots.get_mut(hole as usize) {
                *x = Some(f);
            }
        }
        self.free.clear();
        // The slab keeps its reserved capacity (shrinking it copied the flows into a new buffer,
        // and the flows that came next grew it again through more copies: a tight
        // `memory.cap` doubled a flood's peak RSS); the pages past the flows go back instead.
        release_unused_tail(&mut self.slots);
        self.free.shrink_to_fit();
        self.index.shrink_for(self.index.len());
        self.wheel.shrink();
    }

    /// Ends every flow (end of capture), one at a time in the order of the last packet not yet
    /// handed over (then slot): each is given to `end` where it lies (a record is never moved
    /// or copied out of its slot), and the slots and the index are cleared once at the end
    /// rather than entry by entry. `order` is scratch space.
    pub fn end_all(&mut self, order: &mut Vec<(Timestamp, u32)>, mut end: impl FnMut(&mut Flow)) {
        order.clear();
        order.reserve(self.len());
        let open = self.slots.iter().enumerate();
        order.extend(open.filter_map(|(i, f)| f.as_ref().map(|f| (f.unflushed_last, i as u32))));
        // Flows waiting apart for a second packet, marked by the top bit (slots stay below 2^31).
        order.extend(self.probes.iter().map(|(i, f)| (f.unflushed_last, i | PROBE)));
        // Flows opened in time order and never refiled are already in order (a flood's): one
        // pass to see it instead of a sort.
        if !order.is_sorted() {
            order.sort_unstable();
        }
        for &(_, slot) in order.iter() {
            let f = if slot & PROBE != 0 {
                self.probes.get_mut(slot & !PROBE)
            } else {
                self.slots.get_mut(slot as usize).and_then(Option::as_mut)
            };
            if let Some(f) = f {
                end(f);
            }
        }
        self.probes.clear();
        self.slots.clear();
        // A table as new rather than every entry of a flood-sized one cleared, and small: at the
        // end of a capture nothing follows (a full-sized one was 1 MiB zeroed per worker, ~250
        // page faults, on the way out).
        self.index = FlowIndex::with_capacity(0);
        self.free.clear();
        self.dirty.clear();
        self.wheel.clear();
        self.stats.active = 0;
    }

    /// Open flows, but for those waiting apart for a second packet ([`super::probes`]: one
    /// packet from outside, no session in any sense a caller looks for).
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().flatten()
    }

    /// The open flow of `key`, to change.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        let hash = key.hash64();
        match self.find(key, hash) {
            Some(slot) => self.slots.get_mut(slot as usize)?.as_mut(),
            None => {
                let i = self.probes.find(key, hash)?;
                self.probes.get_mut(i)
            }
        }
    }

    /// Appends (time of the last unflushed packet, slot) of every open flow holding traffic not
    /// yet handed to the volume hook, for [`FlowTable::slot_mut`]. Only flows given packets since
    /// the last call are looked at.
    pub fn take_unflushed(&mut self, out: &mut Vec<(Timestamp, u32)>) {
        for slot in self.dirty.drain(..) {
            if let Some(Some(f)) = self.slots.get_mut(slot as usize)
                && f.queued
            {
                f.queued = false;
                if !f.unflushed.is_empty() {
                    out.push((f.unflushed_last, slot));
                }
            }
        }
    }

    /// The open flow in `slot` (from [`FlowTable::take_unflushed`], with no update since).
    pub fn slot_mut(&mut self, slot: u32) -> Option<&mut Flow> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Bytes the table holds (slots, index and lists, by capacity): for the memory budget.
    pub fn memory(&self) -> usize {
        // Slots in use or freed (reserved address space is not memory until touched).
        self.slots.len() * std::mem::size_of::<Option<Flow>>()
            + self.free.capacity() * 4
            + self.index.memory()
            + self.dirty.capacity() * 4
            + self.wheel.memory()
            + self.due.capacity() * 4
            + self.probes.memory()
    }

    /// Flows open now (the probes waiting apart included).
    pub fn len(&self) -> usize {
        self.index.len() + self.probes.len()
    }

    /// No open flows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Payload bytes of a flow record, estimated: IP bytes less 40 bytes of IP and transport
/// headers per packet (20 + 20 for TCP without options, more than UDP's or ICMP's 28).
pub(crate) fn record_payload(r: &crate::capture::netflow::FlowRecord) -> u64 {
    let per_packet = if r.src.is_ipv6() { 60 } else { 40 };
    r.bytes.saturating_sub(r.pkts.saturating_mul(per_packet))
}

/// Gives the kernel back the whole pages of `v`'s spare capacity (past its length): they read
/// as zeros if touched again, and the vector keeps its capacity, so refilling it copies
/// nothing. What past the length holds is uninitialised as far as `Vec` is concerned, so
/// zeroed pages are as good.
fn release_unused_tail<T>(v: &mut Vec<T>) {
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let Ok(page @ 1..) = usize::try_from(page) else { return };
    let size = std::mem::size_of::<T>();
    let base = v.as_mut_ptr() as usize;
    let start = (base + v.len() * size).next_multiple_of(page);
    let end = (base + v.capacity() * size) / page * page;
    if size == 0 || end <= start {
        return;
    }
    // SAFETY: [start, end) lies inside `v`'s allocation, past its initialised elements; nothing
    // refers to it, and MADV_DONTNEED on the allocator's private anonymous memory only makes
    // those pages read as zeros when next touched. A failure leaves the pages as they were.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Anomalies, LinkType, decode, packet::DecodeOptions};
    use etherparse::PacketBuilder;

    #[test]
    fn a_flow_record_spans_at_most_three_cache_lines() {
        assert!(std::mem::size_of::<Flow>() <= 192, "{} bytes", std::mem::size_of::<Flow>());
    }

    fn syn(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags_synack: bool) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64);
        let b = if flags_synack {
            b.tcp(sport, dport, 1, 1000).syn().ack(1)
        } else {
            b.tcp(sport, dport, 1, 1000).syn()
        };
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    }

    #[test]
    fn an_unanswered_inbound_syn_is_listed_for_the_tick_only_once_answered() {
        let mut t = FlowTable::new(FlowConfig::default());
        let home = HomeNet::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let (mut ended, mut an, opts) = (Vec::new(), Anomalies::default(), DecodeOptions::default());
        let mut feed = |t: &mut FlowTable, f: Vec<u8>, at: u64| {
            let d = decode(LinkType::Ethernet, &f, &opts, &mut an).unwrap();
            t.update(&d, Timestamp(1_000_000_000_000 + at), &home, &mut ended);
        };
        // A flood's or a scan's SYN: nothing to hand over at a tick.
        feed(&mut t, syn([203, 0, 113, 5], 40000, [10, 0, 0, 1], 80, false), 0);
        assert!(t.dirty.is_empty());
        // Its answer lists it.
        feed(&mut t, syn([10, 0, 0, 1], 80, [203, 0, 113, 5], 40000, true), 1_000);
        assert_eq!(t.dirty.len(), 1);
        // A home host's own SYN is listed at once.
        feed(&mut t, syn([10, 0, 0, 2], 50000, [203, 0, 113, 5], 443, false), 2_000);
        assert_eq!(t.dirty.len(), 2);
    }

    #[test]
    fn expiry_and_shedding_take_the_right_flows_and_lookups_survive_compaction() {
        let cfg = FlowConfig::default();
        let (idle, closed) = (cfg.idle_timeout.nanos(), cfg.closed_timeout.nanos());
        let mut t = FlowTable::new(cfg);
        let home = HomeNet::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let mut ended = Vec::new();
        let mut an = Anomalies::default();
        let opts = DecodeOptions::default();
        let mut frames = Vec::new();
        for i in 0..4000u16 {
            frames.push(syn([10, 0, (i >> 8) as u8, i as u8], 1000 + i, [203, 0, 113, 5], 443, false));
        }
        // Flow i's only packet at i ms.
        for (i, f) in frames.iter().enumerate() {
            let d = decode(LinkType::Ethernet, f, &opts, &mut an).unwrap();
            t.update(&d, Timestamp(1_000_000_000_000 + i as u64 * 1_000_000), &home, &mut ended);
        }
        // Flow 0 sees a RST: the closed timeout applies to it.
        let rst = {
            let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4([203, 0, 113, 5], [10, 0, 0, 0], 64);
            let mut out = Vec::new();
            b.tcp(443, 1000, 1, 1000).rst().write(&mut out, &[]).unwrap();
            out
        };
        let d = decode(LinkType::Ethernet, &rst, &opts, &mut an).unwrap();
        t.update(&d, Timestamp(1_000_000_000_000 + 5_000_000_000), &home, &mut ended);
        let at = |ns: u64| Timestamp(1_000_000_000_000 + ns);
        t.expire(at(5_000_000_000 + closed - 1), &mut ended);
        assert!(ended.is_empty());
        t.expire(at(5_000_000_000 + closed), &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Closed);
        ended.clear();
        // Idle: flows 1..=1000 (last packet at <= 1 s) are due at 1 s + idle, in slot order.
        t.expire(at(1_000_000_000 + idle), &mut ended);
        assert_eq!(ended.len(), 1000);
        assert!(ended.windows(2).all(|w| w[0].0.first < w[1].0.first));
        ended.clear();
        // Shedding half ends the oldest half of the rest, and every other flow is still found
        // (at a tick, as the worker sheds: after the traffic was handed over).
        t.take_unflushed(&mut Vec::new());
        let before = t.memory();
        let reserved = t.slots.capacity();
        assert_eq!(t.shed(0.5, |f| ended.push((f.clone(), EndReason::Evicted))), 1500);
        assert_eq!(t.stats.shed, 1500);
        assert!(ended.iter().all(|(f, r)| *r == EndReason::Evicted && f.first < at(2_501_000_000)));
        assert!(t.memory() < before, "{} < {before}", t.memory());
        // The slab was packed in place, not copied into a smaller one (its pages went back).
        assert_eq!(t.slots.capacity(), reserved);
        assert_eq!(t.len(), 1499);
        for f in &frames[2501..] {
            let d = decode(LinkType::Ethernet, f, &opts, &mut an).unwrap();
            let (key, _) = FlowKey::of(&d);
            assert!(t.get_mut(&key).is_some());
        }
        // And they still expire, from their new slots.
        ended.clear();
        t.expire(at(10_000_000_000 + idle), &mut ended);
        assert_eq!(ended.len(), 1499);
        assert!(t.is_empty());
    }

    #[test]
    fn filings_of_evicted_flows_are_purged_and_the_rest_still_expire() {
        let cfg = FlowConfig { max_flows: 100, ..FlowConfig::default() };
        let idle = cfg.idle_timeout.nanos();
        let mut t = FlowTable::new(cfg);
        let home = HomeNet::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let (mut ended, mut an, opts) = (Vec::new(), Anomalies::default(), DecodeOptions::default());
        for i in 0..20_000u32 {
            let f = syn(
                [10, 1, (i >> 8) as u8, i as u8],
                1000 + (i % 50_000) as u16,
                [203, 0, 113, 5],
                443,
                false,
            );
            let d = decode(LinkType::Ethernet, &f, &opts, &mut an).unwrap();
            t.update(&d, Timestamp(1_000_000_000_000 + u64::from(i) * 1000), &home, &mut ended);
            assert!(t.wheel.len() <= 2 * t.len() + 4097, "{} filings for {} flows", t.wheel.len(), t.len());
        }
        assert_eq!(t.len(), 100);
        ended.clear();
        t.expire(Timestamp(1_000_000_000_000 + 1_000_000_000 + idle), &mut ended);
        assert_eq!(ended.len(), 100);
        assert!(t.is_empty());
    }

    #[test]
    fn both_directions_share_a_flow_and_cap_evicts_with_count() {
        let cfg = FlowConfig { max_flows: 2, ..FlowConfig::default() };
        let mut t = FlowTable::new(cfg);
        let home = HomeNet::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let mut ended = Vec::new();
        let mut an = Anomalies::default();
        let opts = DecodeOptions::default();
        let a = syn([10, 0, 0, 1], 40000, [203, 0, 113, 5], 80, false);
        let b = syn([203, 0, 113, 5], 80, [10, 0, 0, 1], 40000, true);
        let d = decode(LinkType::Ethernet, &a, &opts, &mut an).unwrap();
        let (f, dir) = t.update(&d, Timestamp::from_secs(1), &home, &mut ended);
        assert_eq!(dir, Dir::ToServer);
        assert!(f.orig_home);
        let d = decode(LinkType::Ethernet, &b, &opts, &mut an).unwrap();
        let (f, dir) = t.update(&d, Timestamp::from_secs(2), &home, &mut ended);
        assert_eq!(dir, Dir::ToClient);
        assert!(f.established());
        assert_eq!(t.len(), 1);
        for port in 1..4u16 {
            let p = syn([10, 0, 0, 1], port, [203, 0, 113, 5], 80, false);
            let d = decode(LinkType::Ethernet, &p, &opts, &mut an).unwrap();
            t.update(&d, Timestamp::from_secs(3), &home, &mut ended);
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.stats.evicted, 2);
        assert_eq!(ended.len(), 2);
    }

    /// A flow opened from outside waits apart: its second packet (the answer) moves the same
    /// record into the table; a flood of them (far past `max_flows`) pushes no table flow out,
    /// ends only its own kind, counted as evicted; those left expire at the idle timeout, and
    /// the end of capture ends the rest in time order with the table's flows.
    #[test]
    fn flows_opened_from_outside_wait_apart_until_a_second_packet() {
        let cfg = FlowConfig { max_flows: 64, ..FlowConfig::default() };
        let idle = cfg.idle_timeout.nanos();
        let mut t = FlowTable::new(cfg);
        let home = HomeNet::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let (mut ended, mut an, opts) = (Vec::new(), Anomalies::default(), DecodeOptions::default());
        let mut feed = |t: &mut FlowTable, ended: &mut Vec<_>, f: Vec<u8>, at: u64| {
            let d = decode(LinkType::Ethernet, &f, &opts, &mut an).unwrap();
            let (f, _) = t.update(&d, Timestamp(at), &home, ended);
            (f.id, f.first, f.pkts)
        };
        // 40 flows the home hosts opened fill most of the table.
        for p in 0..40u16 {
            feed(&mut t, &mut ended, syn([10, 0, 0, 1], 1000 + p, [203, 0, 113, 5], 443, false), 1_000);
        }
        // An inbound SYN waits apart; its answer brings the same record into the table.
        let (id, first, _) =
            feed(&mut t, &mut ended, syn([198, 51, 100, 7], 40000, [10, 0, 0, 2], 80, false), 2_000);
        assert_eq!((t.index.len(), t.len()), (40, 41));
        let src: IpAddr = [198, 51, 100, 7].into();
        let key = FlowKey::from_tuple(src, 40000, [10, 0, 0, 2].into(), 80, 6, 0).0;
        assert_eq!(t.get_mut(&key).map(|f| f.id), Some(id), "found where it waits");
        let (id2, first2, pkts) =
            feed(&mut t, &mut ended, syn([10, 0, 0, 2], 80, [198, 51, 100, 7], 40000, true), 3_000);
        assert_eq!((id2, first2, pkts), (id, first, [1, 1]));
        assert_eq!((t.index.len(), t.len()), (41, 41));
        // 20,000 SYNs and UDP datagrams from as many sources: no table flow leaves.
        let mut rng = crate::synth::Rng::new(3);
        for i in 0..20_000u64 {
            let src = (rng.next_u64() as u32 | 0x0100_0000).to_be_bytes();
            let f = if i % 2 == 0 {
                syn(src, 1024 + (i % 60_000) as u16, [10, 0, 0, 3], 80, false)
            } else {
                let mut out = Vec::new();
                let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, [10, 0, 0, 3], 64);
                b.udp(5000, 53).write(&mut out, &[0x42; 32]).unwrap();
                out
            };
            feed(&mut t, &mut ended, f, 10_000 + i);
        }
        assert_eq!(t.index.len(), 41);
        assert!(ended.iter().all(|(f, why)| *why == EndReason::Evicted && !f.orig_home && f.resp_home));
        assert_eq!(t.stats.evicted, ended.len() as u64);
        let waiting = t.len() - 41;
        assert!(waiting > 1000 && waiting <= super::super::probes::FIRST_PLACES * 4, "{waiting}");
        assert_eq!(t.stats.created, 41 + 20_000);
        // Idle past the timeout: every flow waiting apart ends as idle (the table's too).
        ended.clear();
        t.expire(Timestamp(20_000 + idle + 2_000_000_000), &mut ended);
        assert_eq!(ended.len(), waiting + 41);
        assert!(ended.iter().all(|(_, why)| *why == EndReason::Idle));
        assert_eq!(t.len(), 0);
        // The end of capture takes both kinds, oldest first.
        feed(&mut t, &mut ended, syn([10, 0, 0, 1], 7, [203, 0, 113, 5], 443, false), idle * 3 + 5);
        feed(&mut t, &mut ended, syn([198, 51, 100, 9], 7, [10, 0, 0, 1], 22, false), idle * 3 + 1);
        let mut order = Vec::new();
        let mut seen = Vec::new();
        t.end_all(&mut order, |f| seen.push((f.last.0, f.orig_home)));
        assert_eq!(seen, [(idle * 3 + 1, false), (idle * 3 + 5, true)]);
        assert_eq!(t.len(), 0);
    }
}
