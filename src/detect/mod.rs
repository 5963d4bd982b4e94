//! Detectors: one folder per detector behind the small [`Detector`] trait, listed in one table,
//! [`ALL`].
//!
//! A detector receives decoded packets, app-layer events and flow ends, keeps its own bounded
//! per-host state on packet time, and pushes alerts into a caller-owned buffer. Each lives in
//! `src/detect/<name>/` (`mod.rs` the detector, `config.rs` its section, `signatures.rs`,
//! `state.rs` its tables, `tests.rs`) and is registered by one [`Spec`] line in [`ALL`]: its
//! name, summary, signature block, and config section. The config loader, the worker, the
//! README tables and the EVE schema all read that table (tests check each of them).
//!
//! Mirrors are handled before detectors: they see the inner packet of a GRE/ERSPAN/VXLAN
//! mirror, never the mirror's own transport ([`crate::mirror`]), and the worker adds EVE's
//! `tunnel` object to their alerts, so a detector needs no mirror-specific code.

pub(crate) mod alt_protocol;
pub(crate) mod beacon;
pub(crate) mod dns_tunnel;
pub(crate) mod egress_volume;
pub(crate) mod icmp_tunnel;
#[cfg(test)]
mod interest_tests;
pub(crate) mod long_session;
pub(crate) mod proxyware;
pub(crate) mod scan;
mod spec;
#[cfg(test)]
mod table_tests;

pub(crate) use spec::Build;
pub(crate) use spec::DetectorConfig;
pub(crate) use spec::Sections;
pub(crate) use spec::Spec;

/// The detector table: every detector, in the order they see each event. Adding a detector is
/// its folder and one line here.
pub const ALL: &[Spec] = &[
    dns_tunnel::SPEC,
    icmp_tunnel::SPEC,
    egress_volume::SPEC,
    long_session::SPEC,
    alt_protocol::SPEC,
    proxyware::SPEC,
    scan::SPEC,
    beacon::SPEC,
];

use crate::alert::Alert;
use crate::decode::Decoded;
use crate::decode::dns::DnsMessage;
use crate::decode::http::HttpRequest;
use crate::decode::icmp::IcmpEcho;
use crate::decode::tls::ClientHello;
use crate::flow::{Dir, EndReason, Flow, FlowTable, HomeNet, Volume};
use crate::time::Timestamp;

/// What every detector may consult besides its own section: the home network, the egress
/// policy and the alert escalation factor.
///
/// Mirror sources are not here on purpose: the worker drops a mirror's own transport before
/// flow accounting ([`crate::mirror`]), so no detector sees it or needs to know about mirrors.
#[derive(Debug, Clone)]
pub struct Env {
    /// The home network.
    pub home: HomeNet,
    /// The egress family's one policy (`[egress]`): `egress_volume`, `long_session` and
    /// `alt_protocol` judge flows and stamp their alerts with it; it remembers its verdict on
    /// each flow itself ([`crate::policy::Side`]), so the flow record carries none.
    pub egress: crate::policy::Policy,
    /// The escalation rule (`alerts.escalation_factor`) the suppressor applies, for detectors
    /// that skip building alerts it would drop.
    pub escalation: crate::alert::suppress::Escalation,
    /// The GeoIP databases and prevalence table, when a database is configured.
    pub geoip: Option<std::sync::Arc<crate::enrich::Enrichment>>,
}

/// One packet as detectors see it.
pub struct PacketCtx<'a, 'p> {
    /// Capture time.
    pub ts: Timestamp,
    /// The decoded packet.
    pub pkt: &'a Decoded<'p>,
    /// Its flow, already updated with this packet.
    pub flow: &'a Flow,
    /// Direction within the flow.
    pub dir: Dir,
    /// Shared environment.
    pub env: &'a Env,
    /// The packet opened the flow.
    pub new_flow: bool,
}

impl PacketCtx<'_, '_> {
    /// Is the packet's source in the home network?
    pub fn src_home(&self) -> bool {
        match self.dir {
            crate::flow::Dir::ToServer => self.flow.orig_home,
            crate::flow::Dir::ToClient => self.flow.resp_home,
        }
    }
    /// Is the packet's destination in the home network?
    pub fn dst_home(&self) -> bool {
        match self.dir {
            crate::flow::Dir::ToServer => self.flow.resp_home,
            crate::flow::Dir::ToClient => self.flow.orig_home,
        }
    }
}

/// A flow's traffic since the previous hand-over, for volume accounting (egress windows,
/// rates). The worker accumulates every packet into the flow record and hands the sum over on
/// the flow's first packet, whenever it crosses the least headroom a detector asked for, when
/// a packet follows a pause of a second or more, at the first packet of each new volume period
/// (the first tick of a period hands over the quiet flows' traffic), and when the flow ends — so
/// per-host tables are touched about once per flow per period instead of once per packet, and a
/// threshold a single flow crosses still fires on the crossing packet. The period is the
/// longest of 5, 4, 3, 2 and 1 s that divides every subscriber's
/// [`Detector::volume_resolution_ns`]: a hand-over never spans two of a detector's slots.
pub struct VolumeCtx<'a> {
    /// Time of the last packet in `delta`.
    pub ts: Timestamp,
    /// Time of the first packet in `delta` (its packets follow each other by less than a
    /// second).
    pub since: Timestamp,
    /// The flow (its totals include `delta`).
    pub flow: &'a Flow,
    /// Traffic since the previous hand-over.
    pub delta: Volume,
    /// The flow's first hand-over (count the flow).
    pub first: bool,
    /// Shared environment.
    pub env: &'a Env,
}

/// One flow record (NetFlow v5/v9, IPFIX: one direction of a flow as an exporter saw it), after
/// the worker accounted it to its flow and handed its traffic to `on_flow_volume`. Detectors
/// that judge packets judge records here: the record's flags are the OR of its packets', its
/// counters are already scaled by the exporter's sampling interval.
pub struct RecordCtx<'a> {
    /// The record's last packet (its first is `start`).
    pub ts: Timestamp,
    /// The record's first packet.
    pub start: Timestamp,
    /// The flow, with this record's counters added.
    pub flow: &'a Flow,
    /// The record's direction within the flow.
    pub dir: Dir,
    /// Packets in the record.
    pub pkts: u64,
    /// IP bytes in the record.
    pub bytes: u64,
    /// TCP flags of the record (OR of its packets').
    pub flags: u8,
    /// ICMP type (ICMP records).
    pub icmp_type: u8,
    /// The record opened the flow.
    pub new_flow: bool,
    /// Shared environment.
    pub env: &'a Env,
}

impl RecordCtx<'_> {
    /// Is the record's source in the home network?
    pub fn src_home(&self) -> bool {
        match self.dir {
            Dir::ToServer => self.flow.orig_home,
            Dir::ToClient => self.flow.resp_home,
        }
    }
}

/// Which packets a detector's [`Detector::on_packet`] is called for: a set of packet classes
/// (transport protocol x carries payload x opens its flow), declared once by the detector
/// ([`Detector::packet_interest`]) so the worker calls each detector only on the packets it
/// looks at — the call itself (prologue, epilogue, its code in the instruction cache) cost more
/// than the test most detectors return on. Combine with [`Interest::or`] and [`Interest::and`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interest(u16);

/// Class bits of a packet ([`Interest::class_of`]): the protocol in the two low bits.
const CLASS_PAYLOAD: usize = 4;
const CLASS_NEW_FLOW: usize = 8;

impl Interest {
    /// Every packet (the default).
    pub const ALL: Interest = Interest(u16::MAX);
    /// No packet: the detector works from app-layer events, volumes, flow ends and ticks.
    pub const NONE: Interest = Interest(0);
    /// TCP packets (IP protocol 6, whether or not the header could be read).
    pub const TCP: Interest = Interest(0x1111);
    /// UDP packets (IP protocol 17).
    pub const UDP: Interest = Interest(0x2222);
    /// ICMP and ICMPv6 packets.
    pub const ICMP: Interest = Interest(0x4444);
    /// Packets of any other IP protocol.
    pub const OTHER: Interest = Interest(0x8888);
    /// Packets with transport payload (on the wire; captured or not).
    pub const PAYLOAD: Interest = Interest(0xf0f0);
    /// Packets that open their flow.
    pub const NEW_FLOW: Interest = Interest(0xff00);
    /// Packets of a flow already open (every one but the first).
    pub const LATER: Interest = Interest(0x00ff);

    /// Packets in either set.
    pub const fn or(self, o: Interest) -> Interest {
        Interest(self.0 | o.0)
    }
    /// Packets in both sets.
    pub const fn and(self, o: Interest) -> Interest {
        Interest(self.0 & o.0)
    }
    /// Does the set hold packet class `class` ([`Interest::class_of`])?
    pub const fn has(self, class: usize) -> bool {
        class < 16 && self.0 & (1 << class) != 0
    }
    /// Number of packet classes.
    pub const CLASSES: usize = 16;
    /// The class of packet `d` (0-15), `new_flow` when it opened its flow.
    #[inline]
    pub fn class_of(d: &Decoded<'_>, new_flow: bool) -> usize {
        // A transport header that could not be read still counts under its IP protocol, so
        // each protocol's set holds the packets a detector would pick by `l4` or by `ip_proto`.
        let proto = match d.l4 {
            crate::decode::L4::Tcp(_) => 0,
            crate::decode::L4::Udp { .. } => 1,
            crate::decode::L4::Icmp(_) => 2,
            crate::decode::L4::Other => match d.ip_proto {
                6 => 0,
                17 => 1,
                1 | 58 => 2,
                _ => 3,
            },
        };
        let payload = if d.payload_wire_len != 0 || !d.payload.is_empty() { CLASS_PAYLOAD } else { 0 };
        proto | payload | if new_flow { CLASS_NEW_FLOW } else { 0 }
    }
}

/// Which application-layer events a detector's hooks are called for ([`Detector::on_dns`],
/// [`Detector::on_icmp`], [`Detector::on_tls`], [`Detector::on_http`]), declared once by the
/// detector ([`Detector::event_interest`]): a detector is not called with events it has no
/// hook for (each call to an empty default cost a DNS or echo flood ~7 instructions per
/// detector and packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Events(u8);

impl Events {
    /// Every event (the default).
    pub const ALL: Events = Events(0x0f);
    /// None: the detector has none of the four hooks.
    pub const NONE: Events = Events(0);
    /// DNS messages ([`Detector::on_dns`]).
    pub const DNS: Events = Events(1);
    /// ICMP echoes ([`Detector::on_icmp`]).
    pub const ICMP: Events = Events(2);
    /// TLS ClientHellos ([`Detector::on_tls`]).
    pub const TLS: Events = Events(4);
    /// HTTP requests ([`Detector::on_http`]).
    pub const HTTP: Events = Events(8);

    /// Events in either set.
    pub const fn or(self, o: Events) -> Events {
        Events(self.0 | o.0)
    }
    /// Does the set hold every event of `o`?
    pub const fn has(self, o: Events) -> bool {
        self.0 & o.0 == o.0
    }
}

/// Which flows' traffic a detector's [`Detector::on_flow_volume`] is handed
/// ([`Detector::volume_interest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeInterest {
    /// None: the detector has no volume hook (it is never called).
    Nothing,
    /// Every flow's (the default).
    Every,
    /// Every flow's but an unanswered inbound probe's ([`Flow::unanswered_inbound_probe`]: a
    /// flow opened from outside to a home host that the home host never answered, such as a
    /// scan's or a flood's SYN or datagram). The worker holds a flow's traffic back while it is
    /// one (up to 256 KiB): once the home host answers, everything held is handed over as usual
    /// (the flow counted at its first hand-over); a flow that ends still unanswered is handed
    /// only to the detectors with [`VolumeInterest::Every`].
    Answered,
}

/// Memory accounting a detector reports in the stats.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DetectorStats {
    /// Keys (hosts, groups, pairs) tracked now.
    pub tracked: u64,
    /// Keys evicted because a table hit its cap.
    pub evicted: u64,
    /// Bytes its tables hold now (by capacity), charged to the memory budget.
    pub memory: u64,
    /// Keys shed because the run was over `memory.cap`.
    pub shed: u64,
}

/// A detector. Every hook has an empty default: implement the ones you need.
pub trait Detector: Send {
    /// Stable name (`siphon.detector`).
    fn name(&self) -> &'static str;
    /// Every decoded packet of the classes in [`Detector::packet_interest`], after flow
    /// accounting.
    fn on_packet(&mut self, _c: &PacketCtx<'_, '_>, _out: &mut Vec<Alert>) {}
    /// Which packets [`Detector::on_packet`] is called for, asked once when the worker is
    /// built (default: every packet). Declare no more than `on_packet` can act on: a packet
    /// outside the set is never shown to it.
    fn packet_interest(&self) -> Interest {
        Interest::ALL
    }
    /// Which of the event hooks below the detector has, asked once when the worker is built
    /// (default: all of them). Declare every hook the detector implements: an event outside
    /// the set is never shown to it.
    fn event_interest(&self) -> Events {
        Events::ALL
    }
    /// A DNS message (query or response), any transport, any port.
    fn on_dns(&mut self, _c: &PacketCtx<'_, '_>, _m: &DnsMessage, _out: &mut Vec<Alert>) {}
    /// An ICMP/ICMPv6 echo request or reply.
    fn on_icmp(&mut self, _c: &PacketCtx<'_, '_>, _e: &IcmpEcho<'_>, _out: &mut Vec<Alert>) {}
    /// A TLS ClientHello (reassembled if it spanned segments).
    fn on_tls(&mut self, _c: &PacketCtx<'_, '_>, _h: &ClientHello<'_>, _out: &mut Vec<Alert>) {}
    /// An HTTP request line with its headers.
    fn on_http(&mut self, _c: &PacketCtx<'_, '_>, _r: &HttpRequest<'_>, _out: &mut Vec<Alert>) {}
    /// Which flows' traffic [`Detector::on_flow_volume`] is called with, asked once when the
    /// worker is built (default: every flow's).
    fn volume_interest(&self) -> VolumeInterest {
        VolumeInterest::Every
    }
    /// Does [`Detector::on_flow_end`] do anything? Asked once when the worker is built
    /// (default: yes); a detector that answers no is not called when a flow ends.
    fn wants_flow_ends(&self) -> bool {
        true
    }
    /// The narrowest time slot, in nanoseconds, this detector sorts flow traffic into
    /// ([`VolumeCtx`]): the worker's volume period divides it. Asked once when the worker is
    /// built (default: no slots, `u64::MAX`).
    fn volume_resolution_ns(&self) -> u64 {
        u64::MAX
    }
    /// A flow's traffic since the previous call ([`VolumeCtx`]), always before its flow end.
    /// Returns the IP bytes the flow may carry before a threshold could be crossed (the worker
    /// calls again by then); `u64::MAX` when no threshold is near.
    fn on_flow_volume(&mut self, _v: &VolumeCtx<'_>, _out: &mut Vec<Alert>) -> u64 {
        u64::MAX
    }
    /// A flow record (NetFlow/IPFIX input), after its flow was updated and its traffic handed to
    /// `on_flow_volume`. Detectors that need packets or payload never see flow records.
    fn on_flow_record(&mut self, _r: &RecordCtx<'_>, _out: &mut Vec<Alert>) {}
    /// A flow left the table.
    fn on_flow_end(&mut self, _f: &Flow, _why: EndReason, _env: &Env, _out: &mut Vec<Alert>) {}
    /// Periodic tick on packet time (`flow.tick_interval`), with the open flows.
    fn on_tick(&mut self, _now: Timestamp, _flows: &FlowTable, _env: &Env, _out: &mut Vec<Alert>) {}
    /// Memory accounting.
    fn stats(&self) -> DetectorStats {
        DetectorStats::default()
    }
    /// The run is over `memory.cap`: drop about `share` (0-1) of the state, least recently
    /// used first, and count it in [`DetectorStats::shed`]. Returns the entries dropped.
    fn shed(&mut self, _share: f64) -> u64 {
        0
    }
}
