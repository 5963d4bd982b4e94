//! First contacts judged on flow records (NetFlow/IPFIX) instead of packets. A record is one
//! direction of a flow with the OR of its packets' TCP flags, so the technique is read from
//! the initiator's flags (SYN without ACK: the handshake never completed from its side; FIN,
//! NULL, Xmas; a bare ACK) and the outcome from the reverse record's (SYN-ACK: open; RST:
//! refused) or its absence (no reverse record within `probe_timeout`, or by the flow's end:
//! unanswered). The same walks, thresholds and alerts as on packets follow; only what a
//! record cannot show is missing: raw-socket fingerprints (window, IP id) and ICMP errors.

use super::alert::Trigger;
use super::probe::Kind;
use super::state::Target;
use super::{Contact, Outcome, Scan};
use crate::alert::Alert;
use crate::decode::packet::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};
use crate::detect::RecordCtx;
use crate::flow::Dir;

/// The technique a first record shows, and the target port (or ICMP type).
fn kind_of(proto: u8, flags: u8, icmp_type: u8, dport: u16) -> Option<(Kind, u16)> {
    let f = flags & (FIN | SYN | RST | PSH | ACK | URG);
    match proto {
        6 => {
            let kind = match f {
                _ if f & SYN != 0 && f & ACK == 0 => Kind::Syn,
                _ if f & SYN != 0 => Kind::Connect,
                _ if f & ACK != 0 => Kind::Ack,
                x if x == FIN => Kind::Fin,
                0 => Kind::Null,
                x if x == FIN | PSH | URG => Kind::Xmas,
                _ => return None,
            };
            Some((kind, dport))
        }
        17 => Some((Kind::Udp, dport)),
        1 => match icmp_type {
            8 => Some((Kind::IcmpEcho, 8)),
            13 | 15 | 17 => Some((Kind::IcmpProbe, u16::from(icmp_type))),
            _ => None,
        },
        58 => match icmp_type {
            128 => Some((Kind::IcmpEcho, 128)),
            139 => Some((Kind::IcmpProbe, 139)),
            _ => None,
        },
        _ => None,
    }
}

/// What the responder's record says about a first contact.
fn answer(proto: u8, flags: u8, kind: Kind) -> Outcome {
    match proto {
        6 if flags & (SYN | ACK) == SYN | ACK => Outcome::Success { implied: false },
        6 if flags & RST != 0 => Outcome::Rejected,
        6 if kind == Kind::Ack => Outcome::Neutral,
        _ => Outcome::Success { implied: false },
    }
}

impl Scan {
    /// A flow record: a first contact (the initiator's first record) or its answer.
    pub(super) fn on_record(&mut self, r: &RecordCtx<'_>, out: &mut Vec<Alert>) {
        if self
            .order
            .front()
            .is_some_and(|f| r.start.0.saturating_sub(f.0.0) >= self.cfg.probe_timeout.nanos())
        {
            self.expire(r.start, r.env, out);
        }
        let f = r.flow;
        let key = f.key.hash64();
        let proto = f.key.proto;
        if r.dir == Dir::ToClient {
            let (src, _) = f.side(Dir::ToClient);
            if let Some(p) = self.pending.get(&key).copied()
                && p.c.prober != src
            {
                self.take(&key);
                self.resolve(r.start, p.c, answer(proto, r.flags, p.c.kind), r.env, out);
            }
            return;
        }
        // Only the initiator's first record opens a contact (later ones are the exporter's
        // splits of the same flow).
        if f.pkts[0] != r.pkts {
            return;
        }
        let ((src, sport), (dst, dport)) = (f.side(Dir::ToServer), f.side(Dir::ToClient));
        let Some((kind, port)) = kind_of(proto, r.flags, r.icmp_type, dport) else { return };
        if !self.worth(&src, &dst) {
            return;
        }
        let ts = r.start;
        let target = Target { host: dst, proto, port };
        let (sweep_window, sweep_hosts) = (self.cfg.sweep_window.nanos(), self.cfg.sweep_hosts);
        let slot = self.source(src, ts, r.env, out);
        let s = self.sources.at_mut(slot);
        if !s.seen.insert(target.hash(), &mut self.spare.seen) {
            return;
        }
        s.probes += 1;
        s.kinds[kind.idx()] += 1;
        s.last = ts;
        s.last_probe = ts;
        let contact = Contact { prober: src, sport, target, kind, crafted: false };
        if kind == Kind::IcmpEcho {
            let cell = s.sweep(&dst, 1, ts, sweep_window, &mut self.spare);
            if cell.weight >= sweep_hosts && !s.alerted {
                let t = Trigger::Sweep { weight: cell.weight, hosts: cell.hosts, echo: true };
                self.raise(&contact, t, ts, r.env, out);
            }
        }
        let outcome = if kind.definite() {
            Some(Outcome::Definite)
        } else if kind == Kind::Connect {
            // The initiator acknowledged the answer: the handshake completed.
            Some(Outcome::Success { implied: true })
        } else if f.pkts[1] > 0 {
            Some(answer(proto, f.flags[1], kind))
        } else {
            None
        };
        match outcome {
            Some(o) => self.resolve(ts, contact, o, r.env, out),
            None => {
                self.await_answer(key, contact, ts, r.env, out);
                self.sources.at_mut(slot).pending += 1;
            }
        }
    }
}
