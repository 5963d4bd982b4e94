//! ICMP tunneling and exfiltration (T1095, T1572, T1048.003).
//!
//! Observe → reduce → threshold, per (host, peer) over a sliding window. Every ICMP/ICMPv6 echo
//! payload is classified ([`crate::decode::icmp::classify`]): the default fill of a known ping
//! or traceroute implementation (iputils, BSD/macOS, Windows, tracert, busybox, Cisco, Go ping
//! libraries) carries no data and never scores, whatever its entropy — a Linux ping payload has
//! more byte entropy than several real tunnels, so entropy alone cannot separate them. What
//! scores is each *distinct* non-default payload, weighted by the data it carries: 1, +1 if
//! large, +1 per 256 bytes on the wire (up to 4), +1 per 16 bytes of printable text (up to 8;
//! no ping sends text, so a 128-byte message crosses the threshold in one echo), +1 if
//! high-entropy, +0.5 for a `ping -p` pattern (+1 when 8-16 bytes long), +3 for a known tunnel
//! header (ptunnel/ptunnel-ng, hans, icmptunnel, a whole IP packet), +4 for a protocol's
//! opening inside the echo (SSH banner, HTTP line, TLS record), +2 for a non-zero echo code,
//! +1 for a reply that does not echo its request (real echo replies copy the request; tunnel
//! servers answer with their own data), +2 for a reply when replies cross both ways and no
//! request was ever seen (a reply-only tunnel). A repeated payload adds nothing, so a
//! monitoring probe with a constant custom payload, or an admin's single `ping -p ff`, never
//! accumulates a score; a file or a TCP stream pushed through echoes does within a few packets.
//! The pair alerts once per episode: as a tunnel when replies carry their own data, a tunnel
//! header or a protocol's opening was seen, or replies cross without requests; as exfiltration
//! otherwise. A second signature flags data carried in ICMP
//! types that have none (errors that quote no IP header, timestamps with payload, unassigned
//! types).
//!
//! Needs: echo messages and ICMP packets from the spine. Memory: one entry (about 1 KB) per
//! (host, peer) that sent a non-default payload or a data-carrying unusual message (ordinary
//! ping and ping sweeps create none), capped at `max_pairs` with counted eviction; distinct
//! payloads are 64-bit hashes in a set capped at `max_payloads_per_pair`; the last 16 requests
//! per pair sit in a fixed ring for reply matching.
mod config;
mod evidence;
mod signatures;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use config::IcmpTunnelConfig;
pub(crate) use signatures::SIG_EXFIL;
pub(crate) use signatures::SIG_ODD_TYPE;
pub(crate) use signatures::SIG_TUNNEL;

use super::{Build, Detector, DetectorStats, Env, Events, Interest, PacketCtx, Spec, VolumeInterest};
use crate::alert::Alert;
use crate::alert::suppress::Escalation;
use crate::decode::L4;
use crate::decode::icmp::{self, IcmpEcho, PayloadKind};
use crate::flow::bounded::Bounded;
use crate::time::Timestamp;
use ipnet::IpNet;
use state::{Example, KINDS, Pair, ReplyMatch, hash_bytes, kind_index};
use std::net::IpAddr;

const NAME: &str = "icmp_tunnel";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<IcmpTunnel>(
    NAME,
    "ICMP tunnels and exfiltration: distinct non-default echo payloads, tunnel headers, replies \
     that do not echo; data in ICMP types that carry none",
    (9_100_100, 9_100_199),
    signatures::ALL,
);

impl Build for IcmpTunnel {
    type Config = IcmpTunnelConfig;
    fn build(config: &IcmpTunnelConfig, env: &Env) -> Self {
        IcmpTunnel::new(config.clone(), env.escalation)
    }
}

/// Each distinct non-default payload counts this much.
const W_PAYLOAD: f64 = 1.0;
/// Added when it is at least `large_payload` long.
const W_LARGE: f64 = 1.0;
/// Added when its normalised entropy reaches `entropy_threshold`.
const W_ENTROPY: f64 = 1.0;
/// Added for a repeated user pattern (`ping -p`): no implementation sends one by default.
const W_PATTERN: f64 = 0.5;
/// Added instead for a pattern of at least [`LONG_PATTERN`] bytes: data carried per echo
/// (`xxd -p -c 16 | ping -p` uses all 16), where an admin's test pattern is 1-4 bytes (ff, aa55).
const W_PATTERN_LONG: f64 = 1.0;
/// Pattern length from which [`W_PATTERN_LONG`] applies.
const LONG_PATTERN: u8 = 8;
/// Added for a known tunnel tool's header: near-certain on its own, but one packet never alerts.
const W_HEADER: f64 = 3.0;
/// Added for a reply that does not echo its request, or comes with no request.
const W_NOT_ECHOED: f64 = 1.0;
/// Added per [`BYTES_PER_POINT`] bytes the payload carries on the wire (at most
/// [`MAX_BYTE_POINTS`]): a few large echoes carry as much as many small ones.
const W_BYTES: f64 = 1.0;
/// Wire bytes per [`W_BYTES`].
const BYTES_PER_POINT: u64 = 256;
/// Most byte points one payload earns.
const MAX_BYTE_POINTS: u64 = 4;
/// Added per [`TEXT_PER_POINT`] bytes of printable text (at most [`MAX_TEXT_POINTS`]): no ping
/// fills its payload with text, a message or a file does. A 128-byte text message reaches the
/// default threshold in one echo.
const W_TEXT: f64 = 1.0;
/// Text bytes per [`W_TEXT`].
const TEXT_PER_POINT: u64 = 16;
/// Most text points one payload earns.
const MAX_TEXT_POINTS: u64 = 8;
/// Added for a non-zero echo code (RFC 792 says 0; tunnels use it to tag their own packets).
/// Only with a non-default payload: nmap's OS probes send zeros with code 9.
const W_CODE: f64 = 2.0;
/// Added for a reply when replies cross in both directions and no request was ever seen: each
/// side answers a request the other never sent.
const W_REPLY_ONLY: f64 = 2.0;
/// Added for a known protocol's opening (SSH banner, HTTP line, TLS record) inside the echo.
const W_BANNER: f64 = 4.0;
/// Replies that do not echo their request before the episode counts as a two-way tunnel (one:
/// data-weighted payloads cross the threshold within a request or two, before a second reply).
const MIN_NOT_ECHOED_FOR_TUNNEL: u64 = 1;
/// Requests remembered per pair for matching replies.
const RING: usize = 16;

/// The pair's state, created (evicting the stalest when at `max`) and slid on packet time.
fn pair_entry<'a>(
    pairs: &'a mut Bounded<(IpAddr, IpAddr), Pair>,
    evicted: &mut u64,
    cfg: &IcmpTunnelConfig,
    key: (IpAddr, IpAddr),
    ts: Timestamp,
) -> &'a mut Pair {
    // Full: the least recently seen pair goes, in O(1) (a flood of fresh pairs cannot pin one
    // old tunnel pair in place for long).
    // The pair of the previous echo is the newest: no lookup (and nothing to reorder).
    let slot = match pairs.newest_slot(&key) {
        Some(slot) => slot,
        None => pairs.get_or_insert_slot(key, |old| {
            *evicted += u64::from(old.is_some());
            Pair::new(ts)
        }),
    };
    let p = pairs.at_mut(slot);
    p.slide(ts, cfg.window.nanos());
    p
}

/// The detector.
pub(crate) struct IcmpTunnel {
    cfg: IcmpTunnelConfig,
    escalation: Escalation,
    allow: Vec<IpNet>,
    pairs: Bounded<(IpAddr, IpAddr), Pair>,
    evicted: u64,
    shed: u64,
}

/// Which side an alert is about: the home side when exactly one side is home, else `default`.
fn host_and_peer(c: &PacketCtx<'_, '_>, default_is_src: bool) -> (IpAddr, IpAddr) {
    let (src, dst) = (c.pkt.src, c.pkt.dst);
    match (c.src_home(), c.dst_home()) {
        (true, false) => (src, dst),
        (false, true) => (dst, src),
        _ if default_is_src => (src, dst),
        _ => (dst, src),
    }
}

impl IcmpTunnel {
    /// A detector with `cfg`, re-alerting inside an episode by `escalation`.
    pub(crate) fn new(cfg: IcmpTunnelConfig, escalation: Escalation) -> Self {
        let allow = cfg
            .allow_hosts
            .iter()
            .filter_map(|s| s.parse::<IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from)))
            .collect();
        let pairs = Bounded::new(cfg.max_pairs);
        IcmpTunnel { cfg, escalation, allow, pairs, evicted: 0, shed: 0 }
    }

    fn allowed(&self, a: &IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(a))
    }

    fn echo(&mut self, c: &PacketCtx<'_, '_>, e: &IcmpEcho<'_>, out: &mut Vec<Alert>) {
        let (host, peer) = host_and_peer(c, e.is_request);
        if self.allowed(&host) || self.allowed(&peer) {
            return;
        }
        let from_host = c.pkt.src == host;
        let code = match c.pkt.l4 {
            L4::Icmp(i) => i.code,
            _ => 0,
        };
        let kind = icmp::classify(e.payload, e.wire_len);
        // Ordinary ping costs no state: a pair is tracked from its first non-default payload.
        if kind.is_default() && !self.pairs.contains_key(&(host, peer)) {
            return;
        }
        let IcmpTunnel { cfg, pairs, evicted, escalation: esc, .. } = self;
        let esc = *esc;
        let p = pair_entry(pairs, evicted, cfg, (host, peer), c.ts);
        p.episode_echoes += 1;
        if e.is_request {
            p.cur.requests += 1;
            p.episode_requests += 1;
        } else {
            p.cur.replies += 1;
            if from_host {
                p.cur.replies_out += 1;
            } else {
                p.cur.replies_in += 1;
            }
        }
        let wire = u64::from(e.wire_len);
        if from_host {
            p.cur.bytes_out += wire;
        } else {
            p.cur.bytes_in += wire;
        }
        p.count_size(e.wire_len);
        if let Some(k) = p.kinds.get_mut(kind_index(kind)) {
            *k += 1;
        }
        let full = hash_bytes(e.payload);
        let default = kind.is_default();
        // A reply that does not echo its request: tunnel servers answer with their own data
        // (or with nothing while they have none). Only counted when new data is involved on one
        // side, so a ping (default or constant custom payload) answered oddly by some device
        // never scores.
        let mut not_echoed = false;
        let mut slot = None;
        if e.is_request {
            slot = Some(p.remember(e, full));
        } else {
            match p.match_reply(e, full) {
                ReplyMatch::Echoes => p.cur.echoed += 1,
                ReplyMatch::Differs { request_scored } => {
                    p.cur.mismatched += 1;
                    not_echoed = request_scored || !default;
                }
                // A reply with no request is only odd when requests are visible at all (a
                // one-way mirror shows replies alone).
                ReplyMatch::NoRequest if p.cur.requests + p.prev.requests > 0 => {
                    p.cur.unsolicited += 1;
                    not_echoed = !default;
                }
                ReplyMatch::NoRequest => {}
            }
            if not_echoed {
                p.cur.not_echoed += 1;
            }
        }
        if default {
            p.cur.default_payloads += 1;
            if not_echoed {
                // An empty or default reply to a data-carrying request.
                p.cur.score += W_NOT_ECHOED;
                Self::check(cfg, esc, c, host, peer, e, p, out);
            }
            return;
        }
        p.cur.nondefault_payloads += 1;
        let header = matches!(kind, PayloadKind::Tunnel(_));
        if e.payload.len() < cfg.min_payload && !header {
            return;
        }
        // A full set takes no more payloads: nothing to hash (a flood of distinct payloads
        // spends no more per echo on this once the set is full).
        if p.bodies.len() >= cfg.max_payloads_per_pair {
            return;
        }
        // Compare payloads past the timestamp most implementations put first; a tunnel
        // header's own fields (sequence, length) are part of what makes it distinct.
        let h = if header { full } else { hash_bytes(icmp::body(e.payload)) };
        if p.prev_bodies.contains(&h) || !p.bodies.insert(h) {
            return;
        }
        if let Some(slot) = slot {
            p.mark_scored(slot);
        }
        p.cur.distinct += 1;
        p.cur.distinct_bytes += wire;
        let mut w = W_PAYLOAD;
        if wire >= cfg.large_payload.0 {
            p.cur.large += 1;
            w += W_LARGE;
        }
        let (bits, norm) = icmp::entropy(e.payload);
        if e.payload.len() >= cfg.entropy_min_len {
            p.entropy_sum += norm;
            p.entropy_n += 1;
            if norm >= cfg.entropy_threshold {
                p.cur.high_entropy += 1;
                w += W_ENTROPY;
            }
        }
        w += W_BYTES * (wire / BYTES_PER_POINT).min(MAX_BYTE_POINTS) as f64;
        if let (PayloadKind::Unknown, Some(text)) = (kind, icmp::printable_text(e.payload)) {
            p.cur.text_payloads += 1;
            p.cur.text_bytes += text as u64;
            w += W_TEXT * (text as u64 / TEXT_PER_POINT).min(MAX_TEXT_POINTS) as f64;
        }
        if code != 0 {
            p.cur.nonzero_code += 1;
            w += W_CODE;
        }
        if let Some(b) = icmp::protocol_banner(e.payload) {
            p.cur.banners += 1;
            p.banner = Some(b);
            w += W_BANNER;
        }
        let t = p.total();
        if !e.is_request && t.requests == 0 && t.replies_out > 0 && t.replies_in > 0 {
            p.cur.reply_only += 1;
            w += W_REPLY_ONLY;
        }
        match kind {
            PayloadKind::Pattern { period } => {
                p.cur.patterns += 1;
                w += if period >= LONG_PATTERN { W_PATTERN_LONG } else { W_PATTERN };
            }
            PayloadKind::Tunnel(t) => {
                p.cur.headers += 1;
                p.tool = Some(t);
                w += W_HEADER;
            }
            _ => {}
        }
        if not_echoed {
            w += W_NOT_ECHOED;
        }
        p.cur.score += w;
        let mut head = [0u8; 32];
        let n = e.payload.len().min(head.len());
        if let (Some(dst), Some(src)) = (head.get_mut(..n), e.payload.get(..n)) {
            dst.copy_from_slice(src);
        }
        p.example = Example {
            kind: Some(kind),
            len: e.wire_len,
            entropy: bits,
            normalised_entropy: norm,
            from_host,
            head,
            head_len: n as u8,
            ..Example::default()
        };
        Self::check(cfg, esc, c, host, peer, e, p, out);
    }

    /// Alerts when the pair's score crosses the threshold (again when it escalates, by the
    /// suppressor's own rule).
    #[allow(clippy::too_many_arguments)]
    fn check(
        cfg: &IcmpTunnelConfig,
        esc: Escalation,
        c: &PacketCtx<'_, '_>,
        host: IpAddr,
        peer: IpAddr,
        e: &IcmpEcho<'_>,
        p: &mut Pair,
        out: &mut Vec<Alert>,
    ) {
        let t = p.total();
        if t.score < cfg.score_threshold || (p.alerted.is_some() && !esc.due(p.alerted_score, t.score)) {
            return;
        }
        let two_way =
            t.headers > 0 || t.banners > 0 || t.reply_only > 0 || t.not_echoed >= MIN_NOT_ECHOED_FOR_TUNNEL;
        let sig = *p.alerted.get_or_insert(if two_way { &SIG_TUNNEL } else { &SIG_EXFIL });
        p.alerted_score = t.score;
        out.push(evidence::echo_alert(cfg, sig, c, host, peer, e, p));
    }

    fn odd(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let L4::Icmp(i) = c.pkt.l4 else { return };
        let Some(reason) = icmp::odd_type_data(i.v6, i.icmp_type, c.pkt.payload, c.pkt.payload_wire_len)
        else {
            return;
        };
        let (host, peer) = host_and_peer(c, true);
        if self.allowed(&host) || self.allowed(&peer) {
            return;
        }
        let IcmpTunnel { cfg, pairs, evicted, escalation: esc, .. } = self;
        let esc = *esc;
        let p = pair_entry(pairs, evicted, cfg, (host, peer), c.ts);
        p.cur.odd_packets += 1;
        p.cur.odd_bytes += u64::from(c.pkt.payload_wire_len);
        let mut head = [0u8; 32];
        let n = c.pkt.payload.len().min(head.len());
        if let (Some(dst), Some(src)) = (head.get_mut(..n), c.pkt.payload.get(..n)) {
            dst.copy_from_slice(src);
        }
        p.odd_example = Example {
            len: c.pkt.payload_wire_len,
            from_host: c.pkt.src == host,
            head,
            head_len: n as u8,
            icmp_type: i.icmp_type,
            icmp_code: i.code,
            reason,
            ..Example::default()
        };
        let t = p.total();
        if t.odd_packets < cfg.odd_type_min_packets
            || t.odd_bytes < cfg.odd_type_min_bytes.0
            || (p.odd_alerted_bytes > 0 && !esc.due(p.odd_alerted_bytes as f64, t.odd_bytes as f64))
        {
            return;
        }
        p.odd_alerted_bytes = t.odd_bytes;
        out.push(evidence::odd_alert(cfg, c, host, peer, p));
    }
}

impl Detector for IcmpTunnel {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        VolumeInterest::Nothing
    }

    fn event_interest(&self) -> Events {
        Events::ICMP
    }

    fn wants_flow_ends(&self) -> bool {
        false
    }

    fn packet_interest(&self) -> Interest {
        Interest::ICMP
    }

    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        if matches!(c.pkt.l4, L4::Icmp(_)) {
            self.odd(c, out);
        }
    }

    fn on_icmp(&mut self, c: &PacketCtx<'_, '_>, e: &IcmpEcho<'_>, out: &mut Vec<Alert>) {
        self.echo(c, e, out);
    }

    fn on_tick(&mut self, now: Timestamp, _f: &crate::flow::FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        let keep = self.cfg.window.nanos().saturating_mul(2);
        if now.secs().is_multiple_of(10) {
            self.pairs.retain(|_, p| now.0.saturating_sub(p.last.0) < keep);
        }
    }

    fn stats(&self) -> DetectorStats {
        let sets: usize =
            self.pairs.values().map(|p| (p.bodies.capacity() + p.prev_bodies.capacity()) * 9).sum();
        DetectorStats {
            tracked: self.pairs.len() as u64,
            evicted: self.evicted,
            memory: (self.pairs.overhead_bytes() + sets) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        let n = self.pairs.shed(share, |_, _| {});
        self.shed += n;
        n
    }
}
