//! One worker: decode → mirror filter → flow state → app-layer events → detectors → suppression.
//!
//! All state about a home host lives in one worker (the capture thread shards by home-side
//! address), so nothing here takes a lock. Buffers are reused: after warm-up, processing a
//! packet allocates nothing unless an alert fires or a TLS hello must be reassembled.

use crate::alert::Alert;
use crate::alert::suppress::{SuppressStats, Suppressor};
use crate::capture::Batch;
use crate::config::Config;
use crate::decode::app::{AppProto, classify_server, sniff_client_into};
use crate::decode::packet::DecodeOptions;
use crate::decode::{self, Anomalies, Anomaly, L4, LinkType, dns, http, icmp, tls};
use crate::detect::{Detector, DetectorStats, Env, Events, Interest, PacketCtx, VolumeCtx, VolumeInterest};
use crate::flow::budget::{MemoryBudget, MemoryStats};
use crate::flow::defrag::{Defrag, DefragLimits, DefragStats};
use crate::flow::index::prefetch_line;
use crate::flow::{Dir, EndReason, Flow, FlowKey, FlowStats, FlowTable, Volume};
use crate::mirror::{MirrorFilter, MirrorShared, MirrorStats};
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Largest TLS ClientHello reassembled (bigger hellos are given up on and counted).
const MAX_HELLO: usize = 16 * 1024;

/// Most IP bytes a flow accumulates before its traffic is handed to the volume hook, whatever
/// the detectors' headroom (see [`VolumeCtx`]).
const MAX_UNFLUSHED: u64 = 256 * 1024;

/// What a worker counted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WorkerStats {
    /// Packets in.
    pub packets: u64,
    /// Wire bytes in.
    pub bytes: u64,
    /// Packets that decoded to IP.
    pub decoded: u64,
    /// Decode anomalies by kind.
    pub anomalies: Anomalies,
    /// Flow table counters.
    pub flows: FlowStats,
    /// Alerts emitted per detector.
    pub alerts: BTreeMap<&'static str, u64>,
    /// Suppression counters.
    pub suppressed: SuppressStats,
    /// Detector state per detector.
    pub detectors: BTreeMap<&'static str, DetectorStats>,
    /// TLS hellos given up on because too many flows were reassembling at once.
    pub tls_reassembly_refused: u64,
    /// IPv4 reassembly counters.
    pub defrag: DefragStats,
    /// Decapsulated packets and mirror transport.
    pub mirror: MirrorStats,
    /// The memory budget: held, peak, emergencies.
    pub memory: MemoryStats,
    /// Flow records (NetFlow/IPFIX) accounted.
    pub records: u64,
}

impl WorkerStats {
    /// Adds another worker's figures.
    pub fn merge(&mut self, o: &WorkerStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.decoded += o.decoded;
        self.anomalies.merge(&o.anomalies);
        self.flows.created += o.flows.created;
        self.flows.expired += o.flows.expired;
        self.flows.evicted += o.flows.evicted;
        self.flows.active += o.flows.active;
        self.flows.shed += o.flows.shed;
        self.flows.memory += o.flows.memory;
        for (k, v) in &o.alerts {
            *self.alerts.entry(k).or_insert(0) += v;
        }
        self.suppressed.merge(&o.suppressed);
        for (k, v) in &o.detectors {
            let e = self.detectors.entry(k).or_default();
            e.tracked += v.tracked;
            e.evicted += v.evicted;
            e.memory += v.memory;
            e.shed += v.shed;
        }
        self.tls_reassembly_refused += o.tls_reassembly_refused;
        self.defrag.merge(&o.defrag);
        self.memory.merge(&o.memory);
        self.mirror.merge(&o.mirror);
        self.records += o.records;
    }
}

struct Hello {
    buf: Vec<u8>,
    next_seq: u32,
}

/// One worker's state.
pub struct Worker {
    opts: DecodeOptions,
    env: Env,
    table: FlowTable,
    detectors: Vec<Box<dyn Detector>>,
    /// For each packet class ([`Interest::class_of`]), the detectors (positions in
    /// `detectors`, in table order) whose `on_packet` wants it.
    packet_subs: [Vec<usize>; Interest::CLASSES],
    /// The detectors each application-layer event is shown to ([`Detector::event_interest`]).
    event_subs: EventSubs,
    /// The detectors with a volume hook, and those of them that want the traffic of flows
    /// that end as unanswered inbound probes ([`VolumeInterest`]), in table order.
    volume_subs: HookSubs,
    /// The detectors whose `on_flow_end` does something ([`Detector::wants_flow_ends`]).
    end_subs: Vec<usize>,
    /// The DNS message of the packet being analysed, parsed in place (reused: ~500 bytes).
    dns: Box<dns::DnsMessage>,
    suppress: Suppressor,
    alerts: Vec<Alert>,
    ended: Vec<(Flow, EndReason)>,
    /// Positions in `ended` by packet time (reused).
    end_order: Vec<(Timestamp, u32)>,
    hellos: FxHashMap<FlowKey, Hello>,
    hello_pool: Vec<Vec<u8>>,
    /// Flows with traffic to hand over at a tick (reused).
    pending: Vec<(Timestamp, u32)>,
    /// Seconds of the volume period ([`VolumeCtx`]): a flow's traffic is handed over at least
    /// once a period.
    volume_period: u64,
    /// The period of the last tick that handed the quiet flows' traffic over.
    volume_epoch: u64,
    /// The capture-time span (nanoseconds, start inclusive, end exclusive) of the volume period
    /// the last packet fell in: a packet tells whether its flow's traffic is from an earlier
    /// period by a comparison, not two divisions.
    volume_span: (u64, u64),
    max_hellos: usize,
    defrag: Defrag,
    defrag_buf: Vec<u8>,
    mirror: MirrorFilter,
    /// The run's memory budget, and this worker's slot in it.
    budget: std::sync::Arc<MemoryBudget>,
    budget_slot: usize,
    tick: u64,
    /// Ticks since the memory was last counted, and the flows created by then.
    charged_at: (u32, u64),
    next_tick: Timestamp,
    now: Timestamp,
    /// The exporter of the last flow record (address, observation domain, sampling interval):
    /// alerts raised away from a record (ticks, flow ends) in a flow-record run carry it.
    last_exporter: Option<(std::net::IpAddr, u32, u32)>,
    /// Counters.
    pub stats: WorkerStats,
    /// Ended flows for EVE `flow`/`netflow` events, when asked for ([`Worker::log_flows`]);
    /// the caller drains it.
    pub flow_log: Option<Vec<crate::alert::flow_event::FlowRecord>>,
}

/// Which detectors each application-layer event hook is called on (positions in the worker's
/// detector list, in table order).
#[derive(Debug, Default)]
struct EventSubs {
    dns: Vec<usize>,
    icmp: Vec<usize>,
    tls: Vec<usize>,
    http: Vec<usize>,
}

impl EventSubs {
    fn of(detectors: &[Box<dyn Detector>]) -> EventSubs {
        let wants = |e: Events| positions(detectors, |d| d.event_interest().has(e));
        EventSubs {
            dns: wants(Events::DNS),
            icmp: wants(Events::ICMP),
            tls: wants(Events::TLS),
            http: wants(Events::HTTP),
        }
    }
}

/// The positions, in table order, of the detectors `wants` picks (a hook's subscribers).
fn positions(detectors: &[Box<dyn Detector>], mut wants: impl FnMut(&dyn Detector) -> bool) -> Vec<usize> {
    let each = detectors.iter().map(|d| wants(d.as_ref()));
    each.enumerate().filter(|&(_, w)| w).map(|(i, _)| i).collect()
}

/// Calls `hook` on each detector at the positions `subs` (a hook's subscribers).
#[inline(always)]
fn each_subscriber(
    detectors: &mut [Box<dyn Detector>],
    subs: &[usize],
    mut hook: impl FnMut(&mut dyn Detector),
) {
    for &i in subs {
        if let Some(det) = detectors.get_mut(i) {
            hook(det.as_mut());
        }
    }
}

/// Which detectors each flow hook is called on (positions in the worker's detector list).
#[derive(Debug, Default)]
struct HookSubs {
    /// Every flow's traffic ([`VolumeInterest::Every`] and [`VolumeInterest::Answered`]).
    flows: Vec<usize>,
    /// Also an unanswered inbound probe's ([`VolumeInterest::Every`]).
    probes: Vec<usize>,
}

impl HookSubs {
    fn of(detectors: &[Box<dyn Detector>]) -> HookSubs {
        HookSubs {
            flows: positions(detectors, |d| d.volume_interest() != VolumeInterest::Nothing),
            probes: positions(detectors, |d| d.volume_interest() == VolumeInterest::Every),
        }
    }
}

/// The detectors a flow's end is shown to ([`Worker::end_flow`]).
struct FlowEndHooks<'a> {
    volume: &'a HookSubs,
    ends: &'a [usize],
}

/// While a worker holds under a quarter of `memory.cap`, its memory is counted every this many
/// ticks, unless this many flows opened since the last count.
const QUIET_TICKS: u32 = 8;
const QUIET_NEW_FLOWS: u64 = 16_384;

/// Look-ahead distances, in packets, of the worker's prefetches: a frame's first touch, the
/// flow-index entry, and the flow record are each a cache miss that costs more than the work
/// done on the packet, so each is started this many packets before the packet's turn.
const FRAME_AHEAD: usize = 12;
const INDEX_AHEAD: usize = 8;
const FLOW_AHEAD: usize = 4;

/// Starts loading the first two cache lines of `frame` (its link, IP and transport headers).
#[inline]
fn prefetch_frame(frame: &[u8]) {
    let p = frame.as_ptr();
    prefetch_line(p);
    if frame.len() > 64 {
        prefetch_line(p.wrapping_add(64));
    }
}

/// The hash of the flow key of `frame` ([`FlowKey::hash64`]; 0 if it does not decode, or is a
/// fragment): a hint to prefetch the flow's state with, and the flow table's hash of the key.
/// The common case through the capture thread's light parse (as sharding does), the rest
/// through the full decode, without reporting anything.
#[inline]
pub fn flow_hint(link: LinkType, frame: &[u8], opts: &DecodeOptions, scratch: &mut Anomalies) -> u64 {
    if let Some(h) = crate::pipeline::light_flow_hint(link, frame, opts) {
        return h;
    }
    decode::decode(link, frame, opts, scratch).as_ref().map_or(0, flow_hint_of)
}

/// [`flow_hint`] of a packet already decoded.
#[inline]
pub(crate) fn flow_hint_of(d: &decode::Decoded<'_>) -> u64 {
    if d.frag.is_some() { 0 } else { FlowKey::of(d).0.hash64() }
}

/// For each packet class, the indices of the detectors whose [`Detector::packet_interest`]
/// holds it, in table order.
fn packet_subscriptions(detectors: &[Box<dyn Detector>]) -> [Vec<usize>; Interest::CLASSES] {
    std::array::from_fn(|class| positions(detectors, |d| d.packet_interest().has(class)))
}

impl Worker {
    /// A worker with its own detectors built from `config`, alone (it learns mirror pairs for
    /// itself and knows no sensor address).
    pub fn new(config: &Config) -> Worker {
        Worker::with_mirror(config, std::sync::Arc::new(MirrorShared::new(&config.general, Vec::new())))
    }

    /// A worker sharing learned mirror pairs and the sensor's addresses with the others.
    pub fn with_mirror(config: &Config, mirror: std::sync::Arc<MirrorShared>) -> Worker {
        let budget = std::sync::Arc::new(MemoryBudget::new(config.memory.cap.0, 1));
        Worker::with_shared(config, mirror, budget, 0)
    }

    /// A worker sharing learned mirror pairs and the run's memory budget (as its `slot`).
    pub fn with_shared(
        config: &Config,
        mirror: std::sync::Arc<MirrorShared>,
        budget: std::sync::Arc<MemoryBudget>,
        budget_slot: usize,
    ) -> Worker {
        let env = Env::from_config(config);
        let mut w = Worker {
            budget,
            budget_slot,
            opts: decode_options(config),
            detectors: Vec::new(),
            packet_subs: Default::default(),
            event_subs: EventSubs::default(),
            volume_subs: HookSubs::default(),
            end_subs: Vec::new(),
            dns: Box::default(),
            env,
            table: FlowTable::new(config.flow.clone()),
            suppress: Suppressor::new(config.alerts.clone()),
            alerts: Vec::with_capacity(16),
            ended: Vec::with_capacity(1024),
            end_order: Vec::with_capacity(1024),
            hellos: FxHashMap::default(),
            hello_pool: Vec::new(),
            pending: Vec::new(),
            volume_period: 1,
            volume_epoch: 0,
            volume_span: (0, 0),
            max_hellos: config.flow.max_tls_reassembly,
            defrag: Defrag::new(DefragLimits {
                max_datagrams: config.flow.max_fragmented,
                max_fragments: config.flow.max_fragments_per_datagram,
                memcap: usize::try_from(config.flow.fragment_memcap.0).unwrap_or(usize::MAX),
                timeout_nanos: config.flow.fragment_timeout.nanos(),
            }),
            defrag_buf: Vec::new(),
            mirror: MirrorFilter::new(&config.general, mirror),
            tick: config.flow.tick_interval.nanos().max(1),
            charged_at: (QUIET_TICKS, 0),
            next_tick: Timestamp(0),
            now: Timestamp(0),
            last_exporter: None,
            stats: WorkerStats::default(),
            flow_log: None,
        };
        w.set_detectors(config.detectors.build(&w.env));
        w
    }

    /// Installs `detectors` and works out which of them each packet class and flow hook is
    /// shown to (asked once here: [`Detector::packet_interest`],
    /// [`Detector::volume_interest`], [`Detector::wants_flow_ends`]).
    pub(crate) fn set_detectors(&mut self, detectors: Vec<Box<dyn Detector>>) {
        self.packet_subs = packet_subscriptions(&detectors);
        self.event_subs = EventSubs::of(&detectors);
        self.volume_subs = HookSubs::of(&detectors);
        let finest = self.volume_subs.flows.iter().filter_map(|&i| detectors.get(i));
        self.volume_period = volume_period(finest.map(|d| d.volume_resolution_ns()).min());
        self.volume_span = (0, 0);
        self.end_subs = positions(&detectors, |d| d.wants_flow_ends());
        self.detectors = detectors;
    }

    /// Records every ended flow in [`Worker::flow_log`] from now on.
    pub fn log_flows(&mut self) {
        self.flow_log = Some(Vec::with_capacity(1024));
    }

    /// Processes a batch of frames in order, with the prefetches that hide its cache misses
    /// (guided by the flow hints the capture thread set, [`crate::pipeline::hint_batch`]; a packet
    /// without one is not prefetched, never decoded twice); admitted alerts go to `emit`.
    /// Returns the batch's wire bytes.
    pub fn process_batch(&mut self, batch: &Batch, emit: &mut dyn FnMut(Alert)) -> u64 {
        let mut bytes = 0u64;
        let meta = &batch.meta[..];
        // The reading side's registrable hints, in packet order: a cursor, and a reference
        // handed down (copying a ~70-byte `Option` for every packet cost ~95 instructions).
        let (hints, mut next) = (batch.registrable_hints(), 0);
        for (k, m) in meta.iter().enumerate() {
            if let Some(next) = meta.get(k + FRAME_AHEAD) {
                prefetch_frame(batch.frame(next));
            }
            if let Some(next) = meta.get(k + INDEX_AHEAD)
                && next.flow_hint != 0
            {
                self.table.prefetch_index(next.flow_hint);
            }
            if let Some(next) = meta.get(k + FLOW_AHEAD)
                && next.flow_hint != 0
            {
                self.table.prefetch_flow(next.flow_hint);
            }
            bytes += u64::from(m.wire_len);
            let registrable = match hints.get(next) {
                Some((at, h)) if *at as usize == k => {
                    next += 1;
                    Some(h)
                }
                _ => None,
            };
            self.process_hinted(m.ts, m.link, batch.frame(m), m.wire_len, m.flow_hint, registrable, emit);
        }
        bytes
    }

    /// Processes one frame; admitted alerts go to `emit`.
    pub fn process(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        frame: &[u8],
        wire_len: u32,
        emit: &mut dyn FnMut(Alert),
    ) {
        self.process_hinted(ts, link, frame, wire_len, 0, None, emit);
    }

    /// [`Worker::process`] with what the reading side worked out for this frame: the flow key's
    /// hash (`0`: none), handed to the flow table so the key is hashed once per packet, and its
    /// DNS message's registrable hint.
    #[allow(clippy::too_many_arguments)]
    fn process_hinted(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        frame: &[u8],
        wire_len: u32,
        hint: u64,
        registrable: Option<&dns::RegistrableHint>,
        emit: &mut dyn FnMut(Alert),
    ) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(wire_len);
        if ts > self.now {
            self.now = ts;
        }
        if self.now >= self.next_tick {
            self.run_tick();
            self.next_tick = Timestamp(self.now.0 - self.now.0 % self.tick + self.tick);
        }
        // Borrowed where it lies: binding the 240-byte `Decoded` by value copies it.
        let decoded = decode::decode(link, frame, &self.opts, &mut self.stats.anomalies);
        if let Some(d) = &decoded {
            self.stats.decoded += 1;
            match &d.frag {
                None => {
                    if self.mirror.admit(d) {
                        self.analyse(ts, d, hint, registrable);
                    }
                }
                Some(f) => {
                    // Analyse the whole packet once its last fragment arrives.
                    let mut buf = std::mem::take(&mut self.defrag_buf);
                    if d.truncated {
                        self.defrag.stats.invalid += 1;
                    } else if self.defrag.add(
                        ts,
                        d.src,
                        d.dst,
                        d.ip_proto,
                        f,
                        &mut buf,
                        &mut self.stats.anomalies,
                    ) {
                        let opts = &self.opts;
                        if let Some(whole) =
                            decode::packet::decode_reassembled(&buf, d, opts, &mut self.stats.anomalies)
                            && self.mirror.admit(&whole)
                        {
                            self.analyse(ts, &whole, 0, None);
                        }
                    }
                    self.defrag_buf = buf;
                }
            }
        }
        if !self.alerts.is_empty() {
            self.flush_alerts(emit);
        }
    }

    /// Analyses a decoded packet; `registrable` is the reading side's hint for its DNS message.
    fn analyse(
        &mut self,
        ts: Timestamp,
        d: &decode::Decoded<'_>,
        hint: u64,
        registrable: Option<&dns::RegistrableHint>,
    ) {
        let Worker {
            table,
            detectors,
            packet_subs,
            event_subs,
            volume_subs,
            env,
            alerts,
            ended,
            hellos,
            hello_pool,
            stats,
            max_hellos,
            dns: msg,
            volume_period,
            volume_span,
            ..
        } = self;
        let msg: &mut dns::DnsMessage = msg;
        if !(volume_span.0..volume_span.1).contains(&ts.0) {
            let len = *volume_period * 1_000_000_000;
            let start = ts.0 - ts.0 % len;
            *volume_span = (start, start.saturating_add(len));
        }
        let period_start = volume_span.0;
        let first_alert = alerts.len();
        let (flow, dir) = table.update_hashed(d, hint, ts, &env.home, ended);
        let new_flow = flow.pkts[0] + flow.pkts[1] == 1;
        if new_flow
            && let Some(g) = &env.geoip
            && let Some(s) = env.egress.sides(flow)
        {
            flow.geo = g.on_new_flow(ts, s.home, s.remote);
        }
        // Volume accounting, per flow ([`VolumeCtx`]): what came before a pause or before this
        // volume period goes with its own times. An unanswered inbound probe's traffic is held
        // back until it is answered or ends ([`VolumeInterest::Answered`]): a flood's SYN builds
        // no volume state. (Up to `MAX_UNFLUSHED` bytes of them: the counters stay far from
        // saturating.)
        let held = !flow.flushed_once
            && flow.unanswered_inbound_probe()
            && flow.unflushed.total_bytes() < MAX_UNFLUSHED;
        if !held && !flow.unflushed.is_empty() && volume_due(flow.unflushed_last, ts, period_start) {
            let last = flow.unflushed_last;
            Self::hand_over(flow, last, &volume_subs.flows, detectors, env, alerts);
        }
        flow.unflushed_span_us = if flow.unflushed.is_empty() {
            0
        } else {
            let gap_us = ts.0.saturating_sub(flow.unflushed_last.0) / 1_000;
            flow.unflushed_span_us.saturating_add(u32::try_from(gap_us).unwrap_or(u32::MAX))
        };
        flow.unflushed.add(dir.idx(), d.ip_len, d.payload_wire_len);
        flow.unflushed_last = ts;
        if !held && (!flow.flushed_once || flow.unflushed.total_bytes() >= u64::from(flow.flush_budget)) {
            Self::hand_over(flow, ts, &volume_subs.flows, detectors, env, alerts);
        }
        // Classify each direction's first payload (keeping the DNS message the sniffer parsed,
        // so it is not parsed twice).
        let payload = d.payload;
        let udp = matches!(d.l4, L4::Udp { .. });
        // `msg` holds the first DNS message of the payload once the sniffer parsed it.
        let mut sniffed_dns = false;
        if !payload.is_empty() && !flow.classified[dir.idx()] {
            flow.classified[dir.idx()] = true;
            match dir {
                Dir::ToServer if matches!(flow.app, AppProto::Unknown | AppProto::Other) => {
                    (flow.app, sniffed_dns) = sniff_client_into(payload, udp, msg);
                }
                Dir::ToClient if flow.app == AppProto::Unknown => {
                    let a = classify_server(payload);
                    if a != AppProto::Unknown {
                        flow.app = a;
                    }
                }
                _ => {}
            }
        }
        // TLS ClientHello, reassembled across segments when needed.
        let mut hello_bytes: Option<Vec<u8>> = None;
        let mut hello_direct = false;
        if dir == Dir::ToServer
            && !flow.tls_done
            && !payload.is_empty()
            && let L4::Tcp(t) = d.l4
        {
            let key = flow.key;
            if let Some(h) = hellos.get_mut(&key) {
                if t.seq == h.next_seq {
                    h.buf.extend_from_slice(payload);
                    h.next_seq = t.seq.wrapping_add(payload.len() as u32);
                }
                let complete = tls::record_len(&h.buf).is_some_and(|n| h.buf.len() >= n);
                if complete || h.buf.len() > MAX_HELLO || d.truncated {
                    flow.tls_done = true;
                    hello_bytes = hellos.remove(&key).map(|h| h.buf);
                }
            } else if flow.app == AppProto::Tls {
                match tls::record_len(payload) {
                    Some(n) if n > payload.len() && !d.truncated => {
                        if hellos.len() < *max_hellos {
                            let mut buf = hello_pool.pop().unwrap_or_default();
                            buf.clear();
                            buf.extend_from_slice(payload);
                            hellos.insert(
                                key,
                                Hello { buf, next_seq: t.seq.wrapping_add(payload.len() as u32) },
                            );
                        } else {
                            stats.tls_reassembly_refused += 1;
                            flow.tls_done = true;
                        }
                    }
                    _ => {
                        flow.tls_done = true;
                        hello_direct = true;
                    }
                }
            }
        }
        let flow: &Flow = flow;
        let c = PacketCtx { ts, pkt: d, flow, dir, env, new_flow };
        // Only the detectors that look at this class of packet (most return at once on most).
        if let Some(subs) = packet_subs.get(Interest::class_of(d, new_flow)) {
            each_subscriber(detectors, subs, |det| det.on_packet(&c, alerts));
        }
        match d.l4 {
            L4::Icmp(_) => {
                if let Some(e) = icmp::echo(d) {
                    each_subscriber(detectors, &event_subs.icmp, |det| det.on_icmp(&c, &e, alerts));
                }
            }
            L4::Udp { sport, dport } if !payload.is_empty() => {
                let dns_port = dns::is_dns_port(sport) || dns::is_dns_port(dport);
                if dns_port || flow.app == AppProto::Dns {
                    match if sniffed_dns { Ok(()) } else { dns::parse_into(payload, msg) } {
                        Ok(()) => {
                            msg.cache_registrable_hinted(registrable);
                            each_subscriber(detectors, &event_subs.dns, |det| det.on_dns(&c, msg, alerts));
                        }
                        Err(_) if !d.truncated => stats.anomalies.add(Anomaly::DnsMalformed),
                        Err(_) => {}
                    }
                }
            }
            L4::Tcp(t) if !payload.is_empty() => {
                if t.sport == 53 || t.dport == 53 || flow.app == AppProto::Dns {
                    for (i, m) in dns::tcp_messages(payload).enumerate() {
                        let parsed = if i == 0 && sniffed_dns { Ok(()) } else { dns::parse_into(m, msg) };
                        match parsed {
                            Ok(()) => {
                                msg.qname.cache_registrable();
                                each_subscriber(detectors, &event_subs.dns, |det| {
                                    det.on_dns(&c, msg, alerts)
                                });
                            }
                            Err(_) => stats.anomalies.add(Anomaly::DnsMalformed),
                        }
                    }
                }
                let hello_src: Option<&[u8]> =
                    if hello_direct { Some(payload) } else { hello_bytes.as_deref() };
                if let Some(b) = hello_src {
                    match tls::parse_client_hello(b) {
                        Ok(h) => {
                            each_subscriber(detectors, &event_subs.tls, |det| det.on_tls(&c, &h, alerts));
                        }
                        Err(_) => stats.anomalies.add(Anomaly::TlsMalformed),
                    }
                }
                if dir == Dir::ToServer
                    && http::starts_like_request(payload)
                    && let Some(r) = http::parse_request(payload)
                {
                    each_subscriber(detectors, &event_subs.http, |det| det.on_http(&c, &r, alerts));
                }
            }
            _ => {}
        }
        if let Some(buf) = hello_bytes {
            hello_pool.push(buf);
        }
        // The one place a packet's encapsulation reaches alerts: those raised on a tunnelled
        // packet say which mirror delivered it, whatever the detector (over the flow's).
        if let Some(t) = &d.tunnel {
            for a in &mut alerts[first_alert..] {
                a.set_tunnel(t);
            }
        }
        if !self.ended.is_empty() {
            self.end_flows();
        }
    }

    /// Hands a flow's unflushed traffic to the volume hooks of `subs` (positions in
    /// `detectors`).
    fn hand_over(
        flow: &mut Flow,
        ts: Timestamp,
        subs: &[usize],
        detectors: &mut [Box<dyn Detector>],
        env: &Env,
        alerts: &mut Vec<Alert>,
    ) {
        let since = Timestamp(ts.0.saturating_sub(u64::from(flow.unflushed_span_us) * 1_000));
        let v = VolumeCtx { ts, since, flow, delta: flow.unflushed, first: !flow.flushed_once, env };
        let mut budget = MAX_UNFLUSHED;
        each_subscriber(detectors, subs, |det| budget = budget.min(det.on_flow_volume(&v, alerts)));
        flow.unflushed = Volume::default();
        flow.unflushed_span_us = 0;
        flow.flushed_once = true;
        flow.flush_budget = budget.clamp(1, MAX_UNFLUSHED) as u32;
    }

    /// Ends the flows that left the table (`ended`): their flow events, then their last
    /// hand-overs and every detector's `on_flow_end`.
    fn end_flows(&mut self) {
        let Worker {
            ended,
            end_order: order,
            detectors,
            volume_subs,
            end_subs,
            env,
            alerts,
            hellos,
            hello_pool,
            flow_log,
            ..
        } = self;
        let hooks = FlowEndHooks { volume: volume_subs, ends: end_subs };
        if let Some(log) = flow_log {
            log.extend(ended.iter().map(|(f, why)| crate::alert::flow_event::FlowRecord::of(f, *why)));
        }
        // One flow (a packet's eviction, a flood's every packet): no order to work out.
        if let [(f, why)] = ended.as_mut_slice() {
            Self::end_flow(f, *why, &hooks, detectors, env, alerts, hellos, hello_pool);
            ended.clear();
            return;
        }
        // In packet-time order, so volume hand-overs reach shared tallies as the traffic did
        // (sorting positions, not the flow records themselves).
        order.clear();
        order.extend(ended.iter().enumerate().map(|(i, (f, _))| (f.unflushed_last, i as u32)));
        order.sort_unstable();
        for &(_, i) in order.iter() {
            if let Some((f, why)) = ended.get_mut(i as usize) {
                Self::end_flow(f, *why, &hooks, detectors, env, alerts, hellos, hello_pool);
            }
        }
        ended.clear();
    }

    /// Hands a flow's last traffic over (an unanswered inbound probe's only to the detectors
    /// that want it) and tells the detectors that look at flow ends that it ended.
    #[allow(clippy::too_many_arguments)]
    fn end_flow(
        f: &mut Flow,
        why: EndReason,
        hooks: &FlowEndHooks<'_>,
        detectors: &mut [Box<dyn Detector>],
        env: &Env,
        alerts: &mut Vec<Alert>,
        hellos: &mut FxHashMap<FlowKey, Hello>,
        hello_pool: &mut Vec<Vec<u8>>,
    ) {
        // (Most flows never held a partial hello: no hash of their key for nothing.)
        if !hellos.is_empty()
            && let Some(h) = hellos.remove(&f.key)
        {
            hello_pool.push(h.buf);
        }
        let first_alert = alerts.len();
        if !f.unflushed.is_empty() {
            let last = f.unflushed_last;
            let probe = !f.flushed_once && f.unanswered_inbound_probe();
            let subs = if probe { &hooks.volume.probes } else { &hooks.volume.flows };
            Self::hand_over(f, last, subs, detectors, env, alerts);
        }
        each_subscriber(detectors, hooks.ends, |det| det.on_flow_end(f, why, env, alerts));
        if f.tunnel.is_some() {
            for a in &mut alerts[first_alert..] {
                a.default_tunnel(f.tunnel.as_deref());
            }
        }
    }

    /// Hands over the traffic of every flow that has some waiting, oldest first: at the first
    /// tick of each volume period, so a flow that went quiet waits at most a period.
    fn hand_over_pending(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        self.table.take_unflushed(&mut pending);
        pending.sort_unstable_by_key(|(t, _)| *t);
        for (last, slot) in pending.drain(..) {
            // (An unanswered inbound probe's traffic waits for its answer or its end.)
            if let Some(f) = self.table.slot_mut(slot)
                && (f.flushed_once || !f.unanswered_inbound_probe())
            {
                let subs = &self.volume_subs.flows;
                Self::hand_over(f, last, subs, &mut self.detectors, &self.env, &mut self.alerts);
            }
        }
        self.pending = pending;
    }

    fn run_tick(&mut self) {
        let now = self.now;
        let epoch = now.secs() / self.volume_period;
        if epoch != self.volume_epoch {
            self.volume_epoch = epoch;
            self.hand_over_pending();
        }
        self.table.expire(now, &mut self.ended);
        self.defrag.expire(now);
        self.end_flows();
        let first_alert = self.alerts.len();
        for det in self.detectors.iter_mut() {
            det.on_tick(now, &self.table, &self.env, &mut self.alerts);
        }
        // Far under the cap with few new flows, the memory is counted every few ticks: counting
        // walks some detectors' tables (issue 25: 4 % of a day's worker time).
        let created = self.table.stats.created;
        let quiet = self.stats.memory.held.saturating_mul(4) < self.budget.cap()
            && created - self.charged_at.1 < QUIET_NEW_FLOWS
            && self.charged_at.0 < QUIET_TICKS;
        if quiet {
            self.charged_at.0 += 1;
        } else {
            self.charged_at = (0, created);
            self.charge_memory();
        }
        // Raised away from any packet: the tunnel the alert's host was last seen in.
        for a in &mut self.alerts[first_alert..] {
            if a.tunnel.is_none() {
                let t = self.mirror.tunnel_of(a.src_ip).or_else(|| self.mirror.tunnel_of(a.dest_ip));
                a.default_tunnel(t);
            }
        }
        if now.secs().is_multiple_of(60) {
            self.suppress.expire(now);
        }
    }

    fn flush_alerts(&mut self, emit: &mut dyn FnMut(Alert)) {
        // Called after every packet; almost always there is nothing to hand over.
        if self.alerts.is_empty() {
            return;
        }
        for mut a in self.alerts.drain(..) {
            if a.siphon.source.is_none()
                && let Some(e) = self.last_exporter
            {
                records::stamp(&mut a, e);
            }
            if self.suppress.admit(&mut a) {
                *self.stats.alerts.entry(a.siphon.detector).or_insert(0) += 1;
                let mut a = a;
                if let Some(g) = &self.env.geoip {
                    g.enrich(&mut a, &self.env.home);
                }
                emit(a);
            }
        }
    }

    /// End of input: a last tick, every open flow ended, remaining alerts emitted.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Alert)) {
        self.charged_at.0 = QUIET_TICKS;
        self.hand_over_pending();
        self.run_tick();
        // Every open flow, in packet-time order as in `end_flows`.
        let mut order = std::mem::take(&mut self.end_order);
        let Worker {
            table, detectors, volume_subs, end_subs, env, alerts, hellos, hello_pool, flow_log, ..
        } = self;
        let hooks = FlowEndHooks { volume: volume_subs, ends: end_subs };
        table.end_all(&mut order, |f| {
            if let Some(log) = flow_log.as_mut() {
                log.push(crate::alert::flow_event::FlowRecord::of(f, EndReason::Shutdown));
            }
            let why = EndReason::Shutdown;
            Self::end_flow(f, why, &hooks, detectors, env, alerts, hellos, hello_pool);
        });
        self.end_order = order;
        self.flush_alerts(emit);
        self.refresh_stats();
    }

    /// Ends `share` of the open flows for the memory budget, oldest first, each where it lies
    /// in the table (as [`Worker::finish`] ends them).
    fn shed_flows(&mut self, share: f64) -> u64 {
        self.end_flows();
        let Worker {
            table, detectors, volume_subs, end_subs, env, alerts, hellos, hello_pool, flow_log, ..
        } = self;
        let hooks = FlowEndHooks { volume: volume_subs, ends: end_subs };
        table.shed(share, |f| {
            if let Some(log) = flow_log.as_mut() {
                log.push(crate::alert::flow_event::FlowRecord::of(f, EndReason::Evicted));
            }
            Self::end_flow(f, EndReason::Evicted, &hooks, detectors, env, alerts, hellos, hello_pool);
        })
    }

    /// Publishes what this worker holds to the run's budget; over the cap, sheds the least
    /// recently used share of every detector's state, of the flow table (flows whose last
    /// packet is oldest, ended as evicted) and of the reassembly pool.
    fn charge_memory(&mut self) {
        let hellos: usize = self.hellos.values().map(|h| h.buf.capacity()).sum::<usize>()
            + self.hello_pool.iter().map(Vec::capacity).sum::<usize>();
        let detectors: u64 = self.detectors.iter().map(|d| d.stats().memory).sum();
        let (table, defrag) = (self.table.memory() as u64, self.defrag.stats.memory);
        let held = table + hellos as u64 + defrag + detectors + self.env.egress.memory();
        let m = &mut self.stats.memory;
        m.cap = self.budget.cap();
        m.held = held;
        m.peak = m.peak.max(held);
        let over = self.budget.publish(self.budget_slot, held);
        let sheddable = detectors + table + defrag;
        if over > 0 && sheddable > 0 {
            // Shed what is over, and a margin so the next ticks do not shed again at once.
            let share = ((over as f64 * 1.25) / sheddable as f64).clamp(0.05, 1.0);
            m.emergencies += 1;
            for d in self.detectors.iter_mut() {
                m.shed += d.shed(share);
            }
            m.shed += self.defrag.shed(share);
            let flows = self.shed_flows(share);
            self.stats.memory.shed += flows;
        }
    }

    /// Copies table, suppression and detector counters into `stats`.
    pub fn refresh_stats(&mut self) {
        self.stats.flows = self.table.stats.clone();
        self.stats.flows.active = self.table.len() as u64;
        self.stats.flows.memory = self.table.memory() as u64;
        self.stats.suppressed = self.suppress.stats.clone();
        self.stats.defrag = self.defrag.stats.clone();
        self.mirror.refresh_stats();
        self.stats.mirror = self.mirror.stats.clone();
        for d in &self.detectors {
            self.stats.detectors.insert(d.name(), d.stats());
        }
    }

    /// Latest packet time seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }
}

/// The longest volume period, in seconds ([`VolumeCtx`]).
const MAX_VOLUME_PERIOD_SECS: u64 = 5;
/// A packet this long after the previous one in a flow hands the traffic before it over: a
/// hand-over never spans such a pause (`beacon` reads bursts after silences in them).
const VOLUME_PAUSE_NS: u64 = 1_000_000_000;

/// The volume period for subscribers whose narrowest slot is `finest` nanoseconds: the longest
/// of `MAX_VOLUME_PERIOD_SECS` down to 1 s that divides it (1 s when none does).
fn volume_period(finest: Option<u64>) -> u64 {
    let Some(finest) = finest.filter(|&f| f != u64::MAX) else { return MAX_VOLUME_PERIOD_SECS };
    (1..=MAX_VOLUME_PERIOD_SECS).rev().find(|s| finest.is_multiple_of(s * 1_000_000_000)).unwrap_or(1)
}

/// Is a flow's traffic, last added at `last`, due to be handed over before a packet at `ts`,
/// whose volume period began at `period_start`? (After a pause, or in a new period.)
#[inline]
fn volume_due(last: Timestamp, ts: Timestamp, period_start: u64) -> bool {
    ts.0.saturating_sub(last.0) >= VOLUME_PAUSE_NS || last.0 < period_start
}

/// Decode options from the config.
pub fn decode_options(c: &Config) -> DecodeOptions {
    DecodeOptions {
        vxlan_ports: c.general.vxlan_ports.clone(),
        max_tunnel_depth: c.general.max_tunnel_depth,
        max_vlan_depth: c.decode.max_vlan_depth,
    }
}

mod records;
#[cfg(test)]
mod tests;
