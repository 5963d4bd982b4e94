//! Flow-record input: NetFlow v5, v9 and IPFIX export packets, decoded by the `netflow_parser`
//! crate with one template scope per exporter and observation domain (RFC 3954, RFC 7011), and
//! turned into fixed-size [`FlowRecord`]s the workers account to their flow tables like
//! packets ([`crate::worker::Worker::process_record`]).
//!
//! Templates are capped per exporter (`netflow.max_templates`), exporters are capped
//! (`netflow.max_exporters`, the least recently heard goes), data that arrives before its
//! template is held (`netflow.max_pending` entries per exporter) and replayed when the template
//! comes. Counters are multiplied by the exporter's sampling interval (its options data, the
//! v5 header, or `netflow.sampling`). Everything an export packet can get wrong is counted by
//! kind in [`NetflowStats`], never fatal.

mod fast;
mod fields;
pub(crate) mod source;

use crate::config::NetflowConfig;
use crate::time::Timestamp;
use fields::{Raw, ipfix_id, num, v9_id};
use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::{AutoScopedParser, NetflowPacket, NetflowParser, PendingFlowsConfig};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// One flow record, one direction of a flow as an exporter saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 for ICMP).
    pub sport: u16,
    /// Destination port (0 for ICMP).
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// TCP flags seen (OR of every packet's).
    pub flags: u8,
    /// ICMP type (ICMP records only).
    pub icmp_type: u8,
    /// Packets, scaled by the sampling interval.
    pub pkts: u64,
    /// IP bytes, scaled by the sampling interval.
    pub bytes: u64,
    /// First packet.
    pub start: Timestamp,
    /// Last packet.
    pub end: Timestamp,
    /// The exporter's address.
    pub exporter: IpAddr,
    /// Observation domain (IPFIX) or source id (v9); 0 for v5.
    pub domain: u32,
    /// Sampling interval the counters were scaled by (1: unsampled).
    pub sampling: u32,
    /// Export version (5, 9, 10).
    pub version: u8,
}

/// What the collector counted.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NetflowStats {
    /// Export packets handed to the decoder.
    pub packets: u64,
    /// Flow records decoded, by version (`v5`, `v9`, `ipfix`).
    pub records: BTreeMap<&'static str, u64>,
    /// Templates held now, over every exporter.
    pub templates: u64,
    /// Data sets waiting for their template now.
    pub pending: u64,
    /// Data sets replayed once their template came.
    pub replayed: u64,
    /// Data sets dropped while waiting (caps, or never replayable).
    pub pending_dropped: u64,
    /// Exporters (address, observation domain) seen.
    pub exporters: u64,
    /// Export packets lost, by the exporters' sequence numbers, per exporter.
    pub sequence_gaps: BTreeMap<String, u64>,
    /// Malformed or refused export packets, by kind.
    pub malformed: BTreeMap<&'static str, u64>,
    /// Records without the addresses a flow needs.
    pub records_unusable: u64,
    /// Export packets read by the fast path (templates already learned; not in the EVE stats).
    #[serde(skip)]
    pub fast_packets: u64,
}

/// Per (exporter, domain): the last sequence number and the sampling interval its options
/// data announced.
#[derive(Debug, Clone, Copy, Default)]
struct Exporter {
    /// The last packet's sequence number and what it added.
    last_seq: Option<(u32, u32)>,
    sampling: Option<u32>,
}

/// The decoder: export packets in, flow records out.
pub struct Collector {
    parser: AutoScopedParser,
    exporters: FxHashMap<(IpAddr, u32), Exporter>,
    max_exporters: usize,
    sampling: u32,
    /// The crate's learned data templates, compiled for the fast path.
    layouts: Arc<fast::Layouts>,
    /// Whether packets of data sets with known templates skip the crate.
    fast: bool,
    /// The fast path's sets of the packet at hand (kept for its capacity).
    sets: Vec<fast::DataSet>,
    /// Counters.
    pub stats: NetflowStats,
}

/// Why a collector could not be built.
#[derive(Debug, thiserror::Error)]
#[error("netflow: {0}")]
pub struct CollectorError(String);

impl Collector {
    /// A collector with `[netflow]`.
    pub fn new(cfg: &NetflowConfig) -> Result<Collector, CollectorError> {
        let mut pending = PendingFlowsConfig::new(cfg.max_pending.clamp(1, 65_536));
        pending.max_entries_per_template = cfg.max_pending.clamp(1, 65_536);
        // Room for every data template the crate may hold (it tells the store what it evicts):
        // `max_templates` for each of `max_exporters` v9 and as many IPFIX sources; at most
        // ~21 MB at the defaults, less than the crate's own copies of the same templates.
        let cap = cfg.max_exporters.max(1).saturating_mul(cfg.max_templates.max(1)).saturating_mul(2);
        let layouts = Arc::new(fast::Layouts::new(cap));
        let builder = NetflowParser::builder()
            .with_cache_size(cfg.max_templates.max(1))
            .with_pending_flows(pending)
            .with_template_store(layouts.clone());
        let parser = AutoScopedParser::try_with_builder(builder)
            .and_then(|p| p.with_max_sources(cfg.max_exporters.max(1)))
            .map_err(|e| CollectorError(e.to_string()))?;
        Ok(Collector {
            parser,
            exporters: FxHashMap::default(),
            max_exporters: cfg.max_exporters.max(1),
            sampling: cfg.sampling.max(1),
            layouts,
            fast: true,
            sets: Vec::new(),
            stats: NetflowStats::default(),
        })
    }

    fn exporter(&mut self, addr: IpAddr, domain: u32) -> &mut Exporter {
        if self.exporters.len() >= self.max_exporters && !self.exporters.contains_key(&(addr, domain)) {
            // A flood of spoofed exporters: forget them all rather than grow (their templates
            // are capped in the parser the same way).
            self.exporters.clear();
        }
        self.exporters.entry((addr, domain)).or_default()
    }

    /// Checks a packet's sequence number against the one expected, counting lost packets.
    /// `advance` is what this packet adds to the counter (v5 and IPFIX: its records; v9: 1).
    /// The RFC numbers a packet by what came before it; softflowd 1.1.0 numbers its IPFIX
    /// messages after adding their own records (tshark flags the same): both are accepted,
    /// and a gap is what neither explains.
    fn sequence(&mut self, addr: IpAddr, domain: u32, seq: u32, advance: u32) {
        let e = self.exporter(addr, domain);
        let prev = e.last_seq.replace((seq, advance));
        if let Some((last, last_adv)) = prev {
            let want = last.wrapping_add(last_adv);
            let gap = seq.wrapping_sub(want);
            // Forward gaps only; a reordered or restarted exporter is not a loss.
            if gap != 0 && seq != last.wrapping_add(advance) && gap < 1 << 30 {
                *self.stats.sequence_gaps.entry(format!("{addr}/{domain}")).or_insert(0) += u64::from(gap);
            }
        }
    }

    /// Turns the fast path off (on by default): every packet goes through `netflow_parser`.
    /// For comparing the two paths (`tests/netflow_fast.rs`, the fuzz target).
    pub fn set_fast_path(&mut self, on: bool) {
        self.fast = on;
    }

    /// Compiled data templates the fast path holds.
    pub fn fast_templates(&self) -> usize {
        self.layouts.len()
    }

    /// Decodes one export datagram from `from`, appending its flow records to `out`.
    pub fn decode(&mut self, from: SocketAddr, payload: &[u8], out: &mut Vec<FlowRecord>) {
        self.stats.packets += 1;
        if self.fast && self.decode_fast(from, payload, out) {
            return;
        }
        let res = self.parser.parse_from_source(from, payload);
        if let Some(e) = &res.error {
            let kind = match e {
                netflow_parser::NetflowError::UnsupportedVersion { .. } => "unsupported_version",
                netflow_parser::NetflowError::Incomplete { .. } => "truncated",
                _ => "malformed",
            };
            *self.stats.malformed.entry(kind).or_insert(0) += 1;
        }
        let addr = from.ip();
        for p in &res.packets {
            match p {
                NetflowPacket::V5(v5) => self.v5(addr, v5, out),
                NetflowPacket::V9(v9) => self.v9(addr, v9, out),
                NetflowPacket::IPFix(ipfix) => self.ipfix(addr, ipfix, out),
                _ => *self.stats.malformed.entry("unsupported_version").or_insert(0) += 1,
            }
        }
    }

    /// The fast path ([`fast`]): a v9 or IPFIX packet of data sets whose templates the crate
    /// has learned. False (and nothing done) when the packet needs the crate.
    fn decode_fast(&mut self, from: SocketAddr, p: &[u8], out: &mut Vec<FlowRecord>) -> bool {
        let be32 = |at: usize| p.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let (proto, domain) = match (p.get(..4), be32(16), be32(12)) {
            (Some([0, 9, ..]), Some(source_id), _) => (fast::Proto::V9, source_id),
            (Some([0, 10, hi, lo]), _, Some(domain))
                if usize::from(u16::from_be_bytes([*hi, *lo])) == p.len() =>
            {
                (fast::Proto::Ipfix, domain)
            }
            _ => return false,
        };
        let mut sets = std::mem::take(&mut self.sets);
        if fast::plan(&self.layouts, from, domain, proto, p, &mut sets).is_none() {
            self.sets = sets;
            return false;
        }
        let addr = from.ip();
        let (t, seq) = (be32(4).unwrap_or(0), be32(8).unwrap_or(0));
        if proto == fast::Proto::V9 {
            let (secs, seq) = (be32(8).unwrap_or(0), be32(12).unwrap_or(0));
            self.sequence(addr, domain, seq, 1);
            let base = self.base(addr, domain, 9, None);
            for (layout, start, end) in &sets {
                for rec in p[*start..*end].chunks_exact(layout.rec_len) {
                    let raw = layout.read(rec);
                    self.push(raw.finish(u64::from(secs) * 1000, Some(t), &base), "v9", out);
                }
            }
        } else {
            let base = self.base(addr, domain, 10, None);
            let mut records = 0u32;
            for (layout, start, end) in &sets {
                for rec in p[*start..*end].chunks_exact(layout.rec_len) {
                    records += 1;
                    self.push(layout.read(rec).finish(u64::from(t) * 1000, None, &base), "ipfix", out);
                }
            }
            self.sequence(addr, domain, seq, records);
        }
        self.sets = sets;
        self.stats.fast_packets += 1;
        true
    }

    fn base(&mut self, exporter: IpAddr, domain: u32, version: u8, header_rate: Option<u32>) -> FlowRecord {
        let announced = self.exporter(exporter, domain).sampling;
        let sampling = header_rate.or(announced).unwrap_or(self.sampling).max(1);
        FlowRecord {
            src: exporter,
            dst: exporter,
            sport: 0,
            dport: 0,
            proto: 0,
            flags: 0,
            icmp_type: 0,
            pkts: 0,
            bytes: 0,
            start: Timestamp(0),
            end: Timestamp(0),
            exporter,
            domain,
            sampling,
            version,
        }
    }

    fn push(&mut self, r: Option<FlowRecord>, version: &'static str, out: &mut Vec<FlowRecord>) {
        match r {
            Some(mut r) => {
                let k = u64::from(r.sampling.max(1));
                r.pkts = r.pkts.saturating_mul(k);
                r.bytes = r.bytes.saturating_mul(k);
                *self.stats.records.entry(version).or_insert(0) += 1;
                out.push(r);
            }
            None => self.stats.records_unusable += 1,
        }
    }

    fn v5(&mut self, addr: IpAddr, p: &netflow_parser::static_versions::v5::V5, out: &mut Vec<FlowRecord>) {
        let h = &p.header;
        self.sequence(addr, 0, h.flow_sequence, u32::from(h.count));
        // The low 14 bits are the interval, the top two the mode.
        let rate = u32::from(h.sampling_interval & 0x3fff);
        let base = self.base(addr, 0, 5, (rate > 1).then_some(rate));
        let export_ms = u64::from(h.unix_secs) * 1000 + u64::from(h.unix_nsecs / 1_000_000);
        for f in &p.flowsets {
            let raw = Raw {
                src: Some(IpAddr::V4(f.src_addr)),
                dst: Some(IpAddr::V4(f.dst_addr)),
                sport: f.src_port,
                dport: f.dst_port,
                proto: f.protocol_number,
                flags: f.tcp_flags,
                pkts: u64::from(f.d_pkts),
                bytes: u64::from(f.d_octets),
                start_up: Some(f.first),
                end_up: Some(f.last),
                ..Raw::default()
            };
            self.push(raw.finish(export_ms, Some(h.sys_up_time), &base), "v5", out);
        }
    }

    fn v9(&mut self, addr: IpAddr, p: &netflow_parser::variable_versions::v9::V9, out: &mut Vec<FlowRecord>) {
        let h = &p.header;
        let domain = h.source_id;
        // v9 counts export packets.
        self.sequence(addr, domain, h.sequence_number, 1);
        let export_ms = u64::from(h.unix_secs) * 1000;
        for fs in &p.flowsets {
            match &fs.body {
                V9Body::OptionsData(o) => {
                    for rec in &o.fields {
                        self.announce(addr, domain, rec.options_fields.iter().map(|(f, v)| (v9_id(*f), v)));
                    }
                }
                V9Body::Data(d) => {
                    let base = self.base(addr, domain, 9, None);
                    for rec in &d.fields {
                        let mut raw = Raw::default();
                        for (f, v) in rec {
                            raw.set(v9_id(*f), v);
                        }
                        self.push(raw.finish(export_ms, Some(h.sys_up_time), &base), "v9", out);
                    }
                }
                V9Body::NoTemplate(_) => {}
                _ => {}
            }
        }
    }

    fn ipfix(
        &mut self,
        addr: IpAddr,
        p: &netflow_parser::variable_versions::ipfix::IPFix,
        out: &mut Vec<FlowRecord>,
    ) {
        let h = &p.header;
        let domain = h.observation_domain_id;
        let export_ms = u64::from(h.export_time) * 1000;
        let mut data_records = 0u32;
        for fs in &p.flowsets {
            match &fs.body {
                IpfixBody::OptionsData(o) => {
                    for rec in &o.fields {
                        // Options records are data records too (RFC 7011, 3.1).
                        data_records += 1;
                        self.announce(addr, domain, rec.iter().map(|(f, v)| (ipfix_id(f), v)));
                    }
                }
                IpfixBody::V9OptionsData(o) => {
                    for rec in &o.fields {
                        data_records += 1;
                        self.announce(addr, domain, rec.options_fields.iter().map(|(f, v)| (v9_id(*f), v)));
                    }
                }
                IpfixBody::Data(d) => {
                    let base = self.base(addr, domain, 10, None);
                    for rec in &d.fields {
                        data_records += 1;
                        let mut raw = Raw::default();
                        for (f, v) in rec {
                            raw.set(ipfix_id(f), v);
                        }
                        self.push(raw.finish(export_ms, None, &base), "ipfix", out);
                    }
                }
                IpfixBody::V9Data(d) => {
                    let base = self.base(addr, domain, 10, None);
                    for rec in &d.fields {
                        data_records += 1;
                        let mut raw = Raw::default();
                        for (f, v) in rec {
                            raw.set(v9_id(*f), v);
                        }
                        self.push(raw.finish(export_ms, None, &base), "ipfix", out);
                    }
                }
                _ => {}
            }
        }
        // IPFIX counts data records sent before this message.
        self.sequence(addr, domain, h.sequence_number, data_records);
    }

    /// Options data: the sampling interval an exporter announces for its domain: v9's
    /// SAMPLING_INTERVAL, IPFIX's samplingInterval / samplerRandomInterval, or PSAMP's
    /// samplingPacketInterval and samplingPacketSpace (RFC 5477: `interval` packets selected
    /// then `space` skipped, 1 in (interval + space) / interval; softflowd `-s 10` says 1 and 9).
    fn announce<'v>(
        &mut self,
        addr: IpAddr,
        domain: u32,
        fields: impl Iterator<Item = (u16, &'v netflow_parser::variable_versions::field_value::FieldValue)>,
    ) {
        let (mut rate, mut psamp) = (None, fields::Psamp::default());
        for (id, v) in fields {
            match id {
                34 | 50 => rate = num(v).or(rate),
                305 => psamp.interval = num(v),
                306 => psamp.space = num(v),
                _ => {}
            }
        }
        if let Some(n) = psamp.rate().or(rate.map(fields::clamp_rate))
            && n >= 1
        {
            self.exporter(addr, domain).sampling = Some(n);
        }
    }

    /// Refreshes the template and pending gauges from the parser.
    pub fn refresh_stats(&mut self) {
        let mut infos: Vec<netflow_parser::variable_versions::metrics::ParserCacheInfo> = Vec::new();
        infos.extend(self.parser.ipfix_info().into_iter().map(|(_, i)| i));
        infos.extend(self.parser.v9_info().into_iter().map(|(_, i)| i));
        let (mut templates, mut pending, mut replayed, mut dropped) = (0u64, 0u64, 0u64, 0u64);
        for i in &infos {
            for c in [&i.v9, &i.ipfix] {
                templates += c.current_size as u64;
                pending += c.pending_flow_count as u64;
                replayed += c.metrics.pending_replayed;
                dropped += c.metrics.pending_dropped + c.metrics.pending_replay_failed;
            }
        }
        self.stats.templates = templates;
        self.stats.pending = pending;
        self.stats.replayed = replayed;
        self.stats.pending_dropped = dropped;
        self.stats.exporters = self.exporters.len() as u64;
    }
}
