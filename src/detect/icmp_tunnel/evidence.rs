//! The alerts of the ICMP tunnel detector: every figure that fired, with its threshold.
//! Built only when a signature fires, never per packet.

use super::{IcmpTunnelConfig, KINDS, NAME, Pair, SIG_ODD_TYPE};
use crate::alert::{Alert, Signature};
use crate::decode::L4;
use crate::decode::icmp::IcmpEcho;
use crate::detect::PacketCtx;
use serde_json::{Map, Value, json};
use std::fmt::Write;
use std::net::IpAddr;

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn icmp_type_code(c: &PacketCtx<'_, '_>) -> (u8, u8) {
    match c.pkt.l4 {
        L4::Icmp(i) => (i.icmp_type, i.code),
        _ => (0, 0),
    }
}

/// The tunnel or exfiltration alert about `host`.
pub(super) fn echo_alert(
    cfg: &IcmpTunnelConfig,
    sig: &Signature,
    c: &PacketCtx<'_, '_>,
    host: IpAddr,
    peer: IpAddr,
    e: &IcmpEcho<'_>,
    p: &Pair,
) -> Alert {
    let t = p.total();
    let (ty, code) = icmp_type_code(c);
    let echoes = t.requests + t.replies;
    let secs = c.ts.since(p.prev_start).as_secs_f64().max(1.0);
    let kinds: Map<String, Value> = KINDS
        .iter()
        .zip(p.kinds.iter())
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| ((*k).to_owned(), json!(n)))
        .collect();
    let mut sizes: Vec<(u32, u32)> = p.sizes.iter().copied().filter(|s| s.1 > 0).collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let ex = &p.example;
    let mean_entropy = if p.entropy_n > 0 { p.entropy_sum / p.entropy_n as f64 } else { 0.0 };
    let nondefault_share = if echoes > 0 { t.nondefault_payloads as f64 / echoes as f64 } else { 0.0 };
    // What fired, as measured against its threshold; the score's parts that counted.
    let two_way: Vec<&str> = [
        (t.headers > 0, "tunnel_header"),
        (t.banners > 0, "protocol_banner"),
        (t.reply_only > 0, "replies_both_ways_without_requests"),
        (t.not_echoed >= super::MIN_NOT_ECHOED_FOR_TUNNEL, "replies_with_own_data"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect();
    Alert::build(NAME, sig, c.ts, host, peer)
        .proto(c.pkt.ip_proto)
        .icmp(ty, code)
        .flow(c.flow, c.ts)
        .score(t.score, cfg.score_threshold)
        .evidence("peer", peer.to_string())
        .evidence("icmpv6", e.v6)
        .evidence("window_secs", cfg.window.0.as_secs())
        .evidence("two_way_because", two_way)
        .evidence("echo_requests", t.requests)
        .evidence("echo_replies", t.replies)
        .evidence("replies_from_host", t.replies_out)
        .evidence("replies_to_host", t.replies_in)
        .evidence("echo_rate_per_sec", round(echoes as f64 / secs))
        .evidence("echoes_to_detect", p.episode_echoes)
        .evidence("requests_to_detect", p.episode_requests)
        .evidence("first_echo", p.first.to_eve())
        .evidence("seconds_to_detect", round(c.ts.since(p.first).as_secs_f64()))
        .evidence("payload_bytes_out", t.bytes_out)
        .evidence("payload_bytes_in", t.bytes_in)
        .evidence("default_payloads", t.default_payloads)
        .evidence("nondefault_payloads", t.nondefault_payloads)
        .evidence("nondefault_share", round(nondefault_share))
        .evidence("distinct_nondefault_payloads", t.distinct)
        .evidence("distinct_nondefault_bytes", t.distinct_bytes)
        .evidence("text_payloads", t.text_payloads)
        .evidence("text_bytes", t.text_bytes)
        .evidence("nonzero_code_payloads", t.nonzero_code)
        .evidence("protocol_banner_payloads", t.banners)
        .evidence("protocol_banner", p.banner)
        .evidence("ping_pattern_payloads", t.patterns)
        .evidence("tunnel_header_payloads", t.headers)
        .evidence("tunnel_tool", p.tool.map(|x| x.name()))
        .evidence("large_payloads", t.large)
        .evidence("high_entropy_payloads", t.high_entropy)
        .evidence("mean_normalised_entropy", round(mean_entropy))
        .evidence("replies_echoing_request", t.echoed)
        .evidence("replies_not_echoing_request", t.mismatched)
        .evidence("replies_without_request", t.unsolicited)
        .evidence("replies_with_own_data", t.not_echoed)
        .evidence("payload_sizes", sizes.iter().map(|s| [s.0, s.1]).collect::<Vec<_>>())
        .evidence("max_payload_len", p.max_len)
        .evidence("payload_kinds", kinds)
        .evidence("example_kind", ex.kind.map(|k| k.name()))
        .evidence("example_len", ex.len)
        .evidence("example_direction", if ex.from_host { "from_host" } else { "to_host" })
        .evidence("example_entropy_bits", round(ex.entropy))
        .evidence("example_normalised_entropy", round(ex.normalised_entropy))
        .evidence("example_head_hex", hex(ex.head.get(..usize::from(ex.head_len)).unwrap_or(&[])))
        .episode(format!("{host}|{peer}"), t.score)
        .finish()
}

/// The unusual-type alert about `host`.
pub(super) fn odd_alert(
    cfg: &IcmpTunnelConfig,
    c: &PacketCtx<'_, '_>,
    host: IpAddr,
    peer: IpAddr,
    p: &Pair,
) -> Alert {
    let t = p.total();
    let ex = &p.odd_example;
    Alert::build(NAME, &SIG_ODD_TYPE, c.ts, host, peer)
        .proto(c.pkt.ip_proto)
        .icmp(ex.icmp_type, ex.icmp_code)
        .flow(c.flow, c.ts)
        .score(t.odd_packets as f64, cfg.odd_type_min_packets as f64)
        .evidence("peer", peer.to_string())
        .evidence("window_secs", cfg.window.0.as_secs())
        .evidence("odd_packets", t.odd_packets)
        .evidence("odd_packets_threshold", cfg.odd_type_min_packets)
        .evidence("odd_bytes", t.odd_bytes)
        .evidence("odd_bytes_threshold", cfg.odd_type_min_bytes.0)
        .evidence("reason", ex.reason)
        .evidence("example_icmp_type", ex.icmp_type)
        .evidence("example_icmp_code", ex.icmp_code)
        .evidence("example_len", ex.len)
        .evidence("example_direction", if ex.from_host { "from_host" } else { "to_host" })
        .evidence("example_head_hex", hex(ex.head.get(..usize::from(ex.head_len)).unwrap_or(&[])))
        .evidence("first_seen", p.first.to_eve())
        .episode(format!("{host}|{peer}|odd"), t.odd_bytes as f64)
        .finish()
}
