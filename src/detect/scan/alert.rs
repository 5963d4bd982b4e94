//! The alert: signature by direction, technique and shape, and every figure that decided with
//! its threshold.

use super::probe::Kind;
use super::signatures::{SIG_EXTERNAL, SIG_INBOUND, SIG_INTERNAL, SIG_OUTBOUND};
use super::spare::Failed;
use super::state::{Target, family};
use super::{Contact, NAME, Scan};
use crate::alert::Alert;
use crate::detect::Env;
use crate::time::Timestamp;
use ipnet::IpNet;

/// What crossed its threshold.
#[derive(Debug, Clone, Copy)]
pub(super) enum Trigger {
    /// The walk of one port over hosts.
    Horizontal { value: f64, threshold: f64 },
    /// The walk of one host over ports.
    Vertical { value: f64, threshold: f64 },
    /// The walk over every target.
    Block { value: f64, threshold: f64 },
    /// Distinct hosts touched in one /24 (`echo`: by echo requests).
    Sweep { weight: u32, hosts: u32, echo: bool },
}

impl Trigger {
    pub(super) fn name(self) -> &'static str {
        match self {
            Trigger::Horizontal { .. } => "horizontal_walk",
            Trigger::Vertical { .. } => "vertical_walk",
            Trigger::Block { .. } => "block_walk",
            Trigger::Sweep { echo: true, .. } => "icmp_sweep",
            Trigger::Sweep { echo: false, .. } => "host_sweep",
        }
    }
}

impl Scan {
    /// Raises the episode's alert for `c`'s source (once: marks the source alerted).
    pub(super) fn raise(
        &mut self,
        c: &Contact,
        trigger: Trigger,
        ts: Timestamp,
        env: &Env,
        out: &mut Vec<Alert>,
    ) {
        let (src, t, kind) = (c.prober, c.target, c.kind);
        let blind = self.blind(ts);
        let Some(s) = self.sources.get_mut(&src) else { return };
        s.alerted = true;
        let s = &*s;
        let (src_home, dst_home) = (env.home.contains(&src), env.home.contains(&t.host));
        let (sig, direction) = match (src_home, dst_home) {
            (true, true) => (&SIG_INTERNAL, "internal"),
            (true, false) => (&SIG_OUTBOUND, "outbound"),
            (false, true) => (&SIG_INBOUND, "inbound"),
            (false, false) => (&SIG_EXTERNAL, "external"),
        };
        let technique = match trigger {
            Trigger::Sweep { echo: true, .. } => Kind::IcmpEcho,
            _ => s.technique(kind),
        };
        let (fh, fp) = s.failed_counts();
        // The shape so far: the walk that decided, widened to "block" once failures span
        // three hosts and three ports (nmap's host discovery counts: ACK-80 and SYN-443).
        let shape = match trigger {
            Trigger::Sweep { .. } => "horizontal",
            _ if fh >= 3 && fp >= 3 => "block",
            Trigger::Vertical { .. } if fh >= 3 => "block",
            Trigger::Horizontal { .. } => "horizontal",
            Trigger::Vertical { .. } => "vertical",
            Trigger::Block { .. } if fh <= 2 => "vertical",
            Trigger::Block { .. } => "horizontal",
        };
        let (score, threshold) = match trigger {
            Trigger::Horizontal { value, threshold }
            | Trigger::Vertical { value, threshold }
            | Trigger::Block { value, threshold } => (value, threshold),
            Trigger::Sweep { weight, .. } => (f64::from(weight), f64::from(self.cfg.sweep_hosts)),
        };
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        let tally = |get: fn(&Failed) -> u32| s.failed.as_deref().map_or(0, get);
        let failures = s.failures();
        let decided = s.successes + failures;
        let ratio = if decided > 0 { f64::from(failures) / f64::from(decided) } else { 0.0 };
        let duration = s.last_probe.since(s.first).as_secs_f64();
        let rate = if duration > 0.0 { f64::from(s.probes) / duration } else { f64::from(s.probes) };
        let techniques: serde_json::Map<String, serde_json::Value> = Kind::ALL
            .iter()
            .filter(|k| s.kinds[k.idx()] > 0)
            .map(|k| (k.name().to_owned(), s.kinds[k.idx()].into()))
            .collect();
        let mut hosts: Vec<String> = Vec::new();
        let mut ports: Vec<u16> = Vec::new();
        for x in s.sample() {
            let h = x.host.to_string();
            if !hosts.contains(&h) {
                hosts.push(h);
            }
            if matches!(x.proto, 6 | 17) && !ports.contains(&x.port) {
                ports.push(x.port);
            }
        }
        let mut b = Alert::build(NAME, sig, ts, src, t.host).proto(t.proto);
        match t.proto {
            6 | 17 => b = b.ports(c.sport, t.port),
            1 | 58 => b = b.icmp(u8::try_from(t.port).unwrap_or(0), 0),
            _ => {}
        }
        let mut b = b
            .score(score, threshold)
            .evidence("technique", technique.name())
            .evidence("shape", shape)
            .evidence("direction", direction)
            .evidence("trigger", trigger.name())
            .evidence("techniques", techniques)
            .evidence("probes", s.probes)
            .evidence("failed_probes", failures)
            .evidence("successes", s.successes)
            .evidence("failure_ratio", round(ratio))
            .evidence("rejected_rst", tally(|f| f.rejected))
            .evidence("rejected_icmp", tally(|f| f.unreachable))
            .evidence("unreachable_from_router", tally(|f| f.unreachable_router))
            .evidence("unanswered", tally(|f| f.unanswered))
            .evidence("stealth", tally(|f| f.definite))
            .evidence("no_evidence", s.neutral)
            .evidence("refused_out_of_view", s.out_of_view)
            .evidence("distinct_failed_hosts", fh)
            .evidence("distinct_failed_ports", fp)
            .evidence("sample_targets", s.sample().iter().map(Target::label).collect::<Vec<_>>())
            .evidence("sample_hosts", hosts)
            .evidence("sample_ports", ports)
            .evidence("first_probe", s.first.to_eve())
            .evidence("last_probe", s.last_probe.to_eve())
            .evidence("duration_secs", round(duration))
            .evidence("probes_per_sec", round(rate))
            .evidence("seconds_to_detect", round(ts.since(s.first).as_secs_f64()))
            .evidence("return_path_visible", !blind && s.answered[family(&t.host)]);
        if direction == "external" {
            // Say what is true: neither side is home, and perhaps no home net of this family.
            let v6 = t.host.is_ipv6();
            b = b.evidence(
                "home_net_covers_family",
                env.home.nets().iter().any(|n| matches!(n, IpNet::V6(_)) == v6),
            );
        }
        match trigger {
            Trigger::Horizontal { .. } => {
                b = b.evidence("port", t.port).evidence("protocol", proto_name(t.proto))
            }
            Trigger::Vertical { .. } => {
                b = b.evidence("host", t.host.to_string());
                if let Some(h) = s.host_walk_of(&t.host)
                    && h.silent > 0
                {
                    b = b
                        .evidence("silent_ports", h.silent)
                        .evidence("fanout_ports_threshold", self.cfg.fanout_ports);
                }
            }
            Trigger::Sweep { hosts, .. } => {
                b = b
                    .evidence("swept_hosts", hosts)
                    .evidence("sweep_hosts_threshold", self.cfg.sweep_hosts)
                    .evidence("sweep_window_secs", self.cfg.sweep_window.0.as_secs())
            }
            Trigger::Block { .. } => {}
        }
        if let Some(tool) = s.tool() {
            b = b.evidence("tool", tool.name());
        }
        out.push(b.episode(src.to_string(), f64::from(s.probes)).finish());
    }
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "other",
    }
}
