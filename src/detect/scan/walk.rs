//! Scoring an outcome: its weight as evidence, and the steps of the source's walks (per port over
//! hosts, per host over ports, over everything), each held at TRW's lower threshold; a walk
//! crossing its threshold raises the episode's alert.

use super::alert::Trigger;
use super::probe::{Kind, UDP_ONE_WAY, service_port};
use super::state::{Source, Target, family};
use super::{Contact, Outcome, Scan};
use crate::alert::Alert;
use crate::detect::Env;
use crate::time::Timestamp;

impl Scan {
    /// Weight of a failure in units of the walk's failure step; 0 = no evidence. `fanned_out`:
    /// the source's silent contacts with this host span `fanout_ports` ports.
    fn failure_weight(
        &self,
        s: &Source,
        t: &Target,
        c: &Contact,
        outcome: Outcome,
        now: Timestamp,
        fanned_out: bool,
    ) -> f64 {
        // Host-discovery probes (ACK ping, echo, timestamp) count plainly: nmap sends them
        // before any scan, and the alert should come from, and name, the scan itself.
        let mut w = if c.crafted && c.kind.port_scan() { self.cfg.crafted_weight } else { 1.0 };
        if t.proto == 17 && !c.crafted {
            w = self.cfg.udp_weight;
        }
        if outcome.silent() {
            if t.proto == 17 && UDP_ONE_WAY.contains(&t.port) {
                return 0.0;
            }
            // Silence on port after port of one host is probing, whatever the view: no client
            // tries that many ports that never answer.
            if fanned_out {
                return w;
            }
            if t.proto == 17 && t.port >= 1024 && !c.crafted {
                return 0.0;
            }
            // Silence (or a router's word) only counts fully where answers are known to be
            // visible: replies seen on this tap lately, and by this source in this family.
            if self.blind(now) || !s.answered[family(&t.host)] {
                return if t.proto == 6 { w * self.cfg.blind_weight } else { 0.0 };
            }
        }
        w
    }

    /// No answered flow seen on this tap within `window`: a one-way view, or nothing answers.
    pub(super) fn blind(&self, now: Timestamp) -> bool {
        // Replaying a newcomer's outcome: as it was then.
        if let Some(b) = self.blind_then {
            return b;
        }
        self.two_way_at.is_none_or(|at| now.0.saturating_sub(at.0) > self.cfg.window.nanos())
    }

    /// Steps the source's walks with `contact`'s outcome; alerts when one crosses.
    pub(super) fn resolve(
        &mut self,
        ts: Timestamp,
        contact: Contact,
        outcome: Outcome,
        env: &Env,
        out: &mut Vec<Alert>,
    ) {
        if let Some(slot) = self.sources.slot(&contact.prober) {
            self.resolve_at(slot, ts, contact, outcome, env, out);
        }
    }

    /// [`Scan::resolve`] for the source in `slot` (the prober's): one lookup for the whole
    /// outcome (nothing here inserts or drops a source).
    pub(super) fn resolve_at(
        &mut self,
        slot: u32,
        ts: Timestamp,
        contact: Contact,
        outcome: Outcome,
        env: &Env,
        out: &mut Vec<Alert>,
    ) {
        let Contact { target: t, kind, crafted, .. } = contact;
        let window = self.cfg.window.nanos();
        let walk = self.walk;
        // Echo is host discovery: its outcomes live in the echo port walk (sweeps) only, they
        // neither excuse nor add to port failures. The block walk measures the port scan
        // proper: host discovery (ACK ping, timestamp) precedes every nmap scan and would
        // otherwise decide before, and name, the scan itself.
        let echo = kind == Kind::IcmpEcho;
        let fanout = self.cfg.fanout_ports;
        let s = self.sources.at_mut(slot);
        let mut fanned_out = false;
        if outcome.silent() && !echo {
            let h = s.host_walk(&t.host, &mut self.spare);
            h.silent = h.silent.saturating_add(1);
            fanned_out = u32::from(h.silent) >= fanout;
        }
        let s = self.sources.at(slot);
        let w = match outcome {
            Outcome::Success { .. } | Outcome::Neutral => 0.0,
            _ => self.failure_weight(s, &t, &contact, outcome, ts, fanned_out),
        };
        // Silence met by a plain probe of a source never answered (crafted probes touched their
        // host when sent): its /24 fan-out is the evidence the discounted walk lacks. Not on a
        // one-way view, where every client's answers are silent.
        let unheard = outcome.silent() && !s.answered[family(&t.host)] && !self.blind(ts);
        if unheard && !crafted && !echo {
            self.touch_at(slot, &contact, 1, ts, env, out);
        }
        let blockable = kind.port_scan() && (crafted || service_port(t.port));
        let sample_size = self.cfg.sample_size;
        let s = self.sources.at_mut(slot);
        s.last = s.last.max(ts);
        match outcome {
            Outcome::Success { implied } => {
                s.successes += 1;
                s.answered[family(&t.host)] |= !implied;
                s.port_walk(t.proto, t.port, &mut self.spare).step(ts, walk.success, walk.lower, window);
                if !echo {
                    s.host_walk(&t.host, &mut self.spare).walk.step(ts, walk.success, walk.lower, window);
                    s.block.step(ts, walk.success, walk.lower, window);
                }
                return;
            }
            Outcome::Neutral => {
                s.neutral += 1;
                return;
            }
            Outcome::Rejected | Outcome::Unreachable => s.answered[family(&t.host)] = true,
            _ => {}
        }
        if w <= 0.0 {
            s.neutral += 1;
            return;
        }
        s.failed(&t, outcome, sample_size, &mut self.spare);
        let delta = w * walk.fail;
        let h = s.port_walk(t.proto, t.port, &mut self.spare);
        h.step(ts, delta, walk.lower, window);
        let hv = f64::from(h.value);
        let mut vv = 0.0;
        if !echo {
            let v = &mut s.host_walk(&t.host, &mut self.spare).walk;
            v.step(ts, delta, walk.lower, window);
            vv = f64::from(v.value);
        }
        if blockable {
            s.block.step(ts, delta, walk.lower, window);
        }
        if s.alerted {
            return;
        }
        let (hu, vu, bu) =
            (walk.upper, walk.upper * self.cfg.vertical_factor, walk.upper * self.cfg.block_factor);
        let trigger = if hv >= hu {
            Trigger::Horizontal { value: hv, threshold: hu }
        } else if vv >= vu {
            Trigger::Vertical { value: vv, threshold: vu }
        } else if f64::from(s.block.value) >= bu {
            Trigger::Block { value: f64::from(s.block.value), threshold: bu }
        } else {
            return;
        };
        self.raise(&contact, trigger, ts, env, out);
    }
}
