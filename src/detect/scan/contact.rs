//! First contacts: a flow's first packet becomes a pending contact, decided by the answer
//! (SYN-ACK, RST, any UDP/echo answer), the prober's own follow-up on a one-way view, an ICMP
//! unreachable quoting it, or `probe_timeout` of silence. An unreachable whose probe was never
//! seen (asymmetric routing, a tap that sees one direction) is a refused contact of its own.

use super::admit::{Fate, Newcomer};
use super::alert::Trigger;
use super::probe::{self, Kind, TRACEROUTE_PORTS};
use super::state::Target;
use super::{Contact, Outcome, Pending, Scan};
use crate::alert::Alert;
use crate::decode::icmp::IcmpError;
use crate::decode::packet::tcp_flags::{ACK, RST, SYN};
use crate::decode::{Decoded, L4};
use crate::detect::{Env, PacketCtx};
use crate::flow::FlowKey;
use crate::time::Timestamp;
use std::collections::hash_map::Entry;

/// What the first packet from a contact's target says, for a contact of `kind`.
fn answer(d: &Decoded<'_>, kind: Kind) -> Outcome {
    match d.l4 {
        L4::Tcp(t) if t.flags & (SYN | ACK) == SYN | ACK => Outcome::Success { implied: false },
        L4::Tcp(t) if t.flags & RST != 0 => Outcome::Rejected,
        // A bare ACK answered with data or ACKs belongs to a live connection seen mid-way.
        L4::Tcp(_) if kind == Kind::Ack => Outcome::Neutral,
        _ => Outcome::Success { implied: false },
    }
}

/// What the prober's own TCP packet (`flags`) after its probe of `kind` says, with nothing back.
fn follow_up(c: &PacketCtx<'_, '_>, flags: u8, kind: Kind) -> Option<Outcome> {
    let data = c.pkt.payload_wire_len > 0;
    match kind {
        Kind::Syn | Kind::Connect if data || (flags & ACK != 0 && flags & (SYN | RST) == 0) => {
            Some(Outcome::Success { implied: true })
        }
        Kind::Ack if data || c.flow.pkts[c.dir.idx()] >= 3 => Some(Outcome::Neutral),
        _ => None,
    }
}

impl Scan {
    /// A flow's first packet.
    pub(super) fn opened(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d = c.pkt;
        let Some(p) = probe::classify(d) else { return };
        if !self.worth(&d.src, &d.dst) {
            return;
        }
        let ts = c.ts;
        let target = Target { host: d.dst, proto: p.proto, port: p.port };
        // The addresses of a name the prober just resolved are one target per port: failing
        // over between them (and retrying) is one first contact, not one per address.
        let key = match self.resolved.group(&d.src, &d.dst, ts) {
            Some(g) => target.hash_in_group(g),
            None => target.hash(),
        };
        let contact = Contact { prober: d.src, sport: d.ports().0, target, kind: p.kind, crafted: p.crafted };
        // A source's first contact builds no source ([`super::admit`]).
        // (No lookup while nothing is tracked: a flood of one-contact sources.)
        let tracked = !self.sources.is_empty() && self.sources.contains_key(&d.src);
        if self.newcomers.on() && !tracked {
            let fate = if p.kind.definite() {
                Fate::Decided { outcome: Outcome::Definite, at: ts, blind: self.blind(ts) }
            } else {
                Fate::Waiting
            };
            if self.admit(Newcomer::new(contact, p.tool, key, c.flow.key.hash64(), ts, fate)) {
                return;
            }
        }
        // One lookup of the source for the whole first contact: `touch_at` and `await_answer`
        // use its slot (nothing in between inserts or drops a source).
        // A tracked source is no newcomer: no promotion to look for.
        let slot = if tracked { self.source_slot(d.src, ts) } else { self.source(d.src, ts, c.env, out) };
        let s = self.sources.at_mut(slot);
        if !s.seen.insert(key, &mut self.spare.seen) {
            return;
        }
        s.probes += 1;
        s.kinds[p.kind.idx()] += 1;
        if let Some(t) = p.tool {
            s.tools[t as usize] += 1;
        }
        s.last = ts;
        s.last_probe = ts;
        // Hosts touched per /24: crafted probes and echoes count when sent, whatever the answer
        // (a sweep where every host answers is still a sweep); other probes when they fail.
        if p.crafted || p.kind == Kind::IcmpEcho {
            self.touch_at(slot, &contact, if p.crafted { 2 } else { 1 }, ts, c.env, out);
        }
        if p.kind.definite() {
            self.resolve(ts, contact, Outcome::Definite, c.env, out);
            return;
        }
        self.await_answer(c.flow.key.hash64(), contact, ts, c.env, out);
        // The eviction in `await_answer` resolves other sources' contacts, in place.
        self.sources.at_mut(slot).pending += 1;
    }

    /// Counts `c`'s host among those its source touched in the host's /24 (/64), once per host,
    /// `weight` times; raises the sweep alert at `sweep_hosts`.
    pub(super) fn touch(&mut self, c: &Contact, weight: u32, ts: Timestamp, env: &Env, out: &mut Vec<Alert>) {
        if let Some(slot) = self.sources.slot(&c.prober) {
            self.touch_at(slot, c, weight, ts, env, out);
        }
    }

    /// [`Scan::touch`] for the source in `slot` (`c.prober`'s, from [`Bounded::slot`]).
    ///
    /// [`Bounded::slot`]: crate::flow::bounded::Bounded::slot
    pub(super) fn touch_at(
        &mut self,
        slot: u32,
        c: &Contact,
        weight: u32,
        ts: Timestamp,
        env: &Env,
        out: &mut Vec<Alert>,
    ) {
        let (window, threshold) = (self.cfg.sweep_window.nanos(), self.cfg.sweep_hosts);
        let s = self.sources.at_mut(slot);
        if !s.seen.insert(Target::host_hash(&c.target.host), &mut self.spare.seen) {
            return;
        }
        let cell = s.sweep(&c.target.host, weight, ts, window, &mut self.spare);
        if cell.weight >= threshold && !s.alerted {
            let t = Trigger::Sweep { weight: cell.weight, hosts: cell.hosts, echo: c.kind == Kind::IcmpEcho };
            self.raise(c, t, ts, env, out);
        }
    }

    /// Files `contact` as awaiting its answer, first deciding the oldest pending ones when the
    /// table is full. The caller counts it in its source's `pending` (it holds the slot).
    pub(super) fn await_answer(
        &mut self,
        key: u64,
        contact: Contact,
        ts: Timestamp,
        env: &Env,
        out: &mut Vec<Alert>,
    ) {
        let cap = self.cfg.max_pending.max(1);
        while self.pending.len() >= cap || self.order.len() >= cap.saturating_mul(2) {
            let Some((t, k)) = self.order.pop_front() else { break };
            // One lookup: the entry goes only if it is still the one filed at `t`.
            let old = match self.pending.entry(k) {
                Entry::Occupied(o) if o.get().ts == t => o.remove(),
                _ => continue,
            };
            // Decided early. Silence counts only against a source that fills a good part of
            // the table itself (a fast scanner): others' slow answers must not become
            // failures because someone else flooded.
            self.evicted_pending += 1;
            // A source already forgotten has no walk to step (under a flood of one-probe
            // sources, the usual case): one lookup, then nothing.
            let Some(slot) = self.sources.slot(&old.c.prober) else { continue };
            let s = self.sources.at_mut(slot);
            s.pending = s.pending.saturating_sub(1);
            let flooding = s.pending as usize >= cap / 8;
            let outcome = if flooding { Outcome::Unanswered } else { Outcome::Neutral };
            self.resolve_at(slot, ts, old.c, outcome, env, out);
        }
        // A contact of an older flow with the same key hash is replaced (one lookup).
        if let Some(old) = self.pending.insert(key, Pending { c: contact, ts })
            && let Some(s) = self.sources.get_mut(&old.c.prober)
        {
            s.pending = s.pending.saturating_sub(1);
        }
        self.order.push_back((ts, key));
    }

    /// Removes a pending first contact, keeping its source's count.
    pub(super) fn take(&mut self, key: &u64) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        if let Some(s) = self.sources.get_mut(&p.c.prober) {
            s.pending = s.pending.saturating_sub(1);
        }
        Some(p)
    }

    /// The first packet from the other side of a pending first contact.
    pub(super) fn answered(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d = c.pkt;
        let key = c.flow.key.hash64();
        let Some(p) = self.pending.get(&key).copied() else {
            // A newcomer's contact: the answer goes to its prober.
            if let Some(i) = self.newcomers.waiting_on(&d.dst, key) {
                let outcome = answer(d, self.newcomers.at(i).c.kind);
                let blind = self.blind(c.ts);
                self.newcomers.decide(i, outcome, c.ts, blind);
            }
            return;
        };
        if p.c.prober == d.src {
            return;
        }
        self.take(&key);
        self.resolve(c.ts, p.c, answer(d, p.c.kind), c.env, out);
    }

    /// The prober's 2nd..4th packet while nothing came back: with a one-way view, its ACK or
    /// data after a SYN shows the handshake completed.
    pub(super) fn followed_up(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let d = c.pkt;
        let L4::Tcp(t) = d.l4 else { return };
        let key = c.flow.key.hash64();
        let Some(p) = self.pending.get(&key).copied() else {
            if let Some(i) = self.newcomers.waiting_on(&d.src, key)
                && let Some(outcome) = follow_up(c, t.flags, self.newcomers.at(i).c.kind)
            {
                let blind = self.blind(c.ts);
                self.newcomers.decide(i, outcome, c.ts, blind);
            }
            return;
        };
        if p.c.prober != d.src {
            return;
        }
        let Some(outcome) = follow_up(c, t.flags, p.c.kind) else { return };
        self.take(&key);
        self.resolve(c.ts, p.c, outcome, c.env, out);
    }

    /// An ICMP unreachable: the quote names the prober and the target.
    /// An ICMP unreachable: the quote names the prober and the target.
    pub(super) fn unreachable(&mut self, c: &PacketCtx<'_, '_>, e: &IcmpError, out: &mut Vec<Alert>) {
        let q = e.quoted;
        if c.pkt.dst != q.src {
            return;
        }
        let (key, _) = FlowKey::from_tuple(q.src, q.sport, q.dst, q.dport, q.proto, c.pkt.vlan.unwrap_or(0));
        let key = key.hash64();
        let outcome = if c.pkt.src == q.dst { Outcome::Unreachable } else { Outcome::UnreachableRouter };
        match self.pending.get(&key).copied() {
            Some(p) if p.c.prober == q.src => {
                self.take(&key);
                self.resolve(c.ts, p.c, outcome, c.env, out);
            }
            Some(_) => {}
            None => match self.newcomers.waiting_on(&q.src, key) {
                Some(i) => {
                    let blind = self.blind(c.ts);
                    self.newcomers.decide(i, outcome, c.ts, blind);
                }
                None => self.refused_out_of_view(c, e, outcome, out),
            },
        }
    }

    /// An unreachable quoting a probe this sensor never saw (asymmetric routing, a one-way
    /// tap): the quote is the first contact and the refusal its outcome. Only for a source none
    /// of whose probes this episode were seen; not for servers' answers refused by their
    /// client (a late DNS answer), traceroute, nor echoes (the sweep count judges those).
    fn refused_out_of_view(
        &mut self,
        c: &PacketCtx<'_, '_>,
        e: &IcmpError,
        outcome: Outcome,
        out: &mut Vec<Alert>,
    ) {
        let q = e.quoted;
        if !self.worth(&q.src, &q.dst) {
            return;
        }
        let kind = match q.proto {
            6 => Kind::Connect,
            17 => Kind::Udp,
            1 | 58 => return,
            _ => Kind::IpProto,
        };
        let answer = matches!(q.proto, 6 | 17) && q.sport < 1024 && q.dport >= 1024;
        if answer || (q.proto == 17 && TRACEROUTE_PORTS.contains(&q.dport)) {
            return;
        }
        let port = if kind == Kind::IpProto { 0 } else { q.dport };
        let target = Target { host: q.dst, proto: q.proto, port };
        let ts = c.ts;
        let slot = self.source(q.src, ts, c.env, out);
        let s = self.sources.at_mut(slot);
        // A source whose own probes are in view has its refusals matched to them: an
        // unreachable quoting one never sent is forged or stray (ICMP errors are easy to
        // forge to frame a host), not a probe out of view.
        if s.probes > s.out_of_view || !s.seen.insert(target.hash(), &mut self.spare.seen) {
            return;
        }
        s.probes += 1;
        s.out_of_view += 1;
        s.kinds[kind.idx()] += 1;
        s.last = ts;
        s.last_probe = ts;
        let crafted = kind == Kind::IpProto && !probe::plain_protocol(q.proto);
        let contact = Contact { prober: q.src, sport: q.sport, target, kind, crafted };
        if crafted {
            self.touch(&contact, 2, ts, c.env, out);
        }
        self.resolve(ts, contact, outcome, c.env, out);
    }

    /// Decides the first contacts whose timeout has passed at `now` as unanswered.
    pub(super) fn expire(&mut self, now: Timestamp, env: &Env, out: &mut Vec<Alert>) {
        self.expire_newcomers(now);
        let timeout = self.cfg.probe_timeout.nanos();
        while let Some(&(ts, key)) = self.order.front() {
            if now.0.saturating_sub(ts.0) < timeout {
                break;
            }
            self.order.pop_front();
            if self.pending.get(&key).is_some_and(|p| p.ts == ts)
                && let Some(p) = self.take(&key)
            {
                self.resolve(now, p.c, Outcome::Unanswered, env, out);
            }
        }
        self.refresh_due();
    }
}
