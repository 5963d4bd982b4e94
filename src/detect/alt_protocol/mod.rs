//! Exfiltration over alternative protocols (T1048.003, T1048.002, T1571).
//!
//! Files leaving a home host for an external address over the protocols MITRE's DET0131 names,
//! measured in true payload bytes while the transfer runs:
//! - FTP: the control channel's `PASV`/`EPSV` replies and `PORT`/`EPRT` commands name the data
//!   connection; the bytes the home host sends on it are the upload (`STOR` gives the file name);
//! - SMTP: the bytes after `DATA` (or `BDAT`) are the message;
//! - HTTP: the bytes after a `POST`/`PUT`/`PATCH` request line are its body (`Content-Length`
//!   is evidence, chunked uploads are counted all the same).
//!
//! And traffic whose payload does not match its well-known port: the flow's first client
//! payload, classified by [`crate::decode::app`], is compared with `port_protocols` (non-HTTP on
//! 80, non-TLS on 443, non-DNS on 53 — there every UDP datagram, as iodine turns the socket of
//! its DNS handshake to raw mode), and SSH anywhere but `ssh_ports`. Only flows a home host
//! opened to an external address and seen from their first packet are judged (a capture that
//! starts mid-stream would otherwise show TLS records that are not a ClientHello). QUIC on UDP 443
//! is not judged by default. A protocol allow-list per host or network keeps known users quiet.
//!
//! Needs: every packet and HTTP requests. Memory: tracked uploads, FTP control sessions and
//! expected data connections, each capped at `max_tracked` with counted eviction.

mod config;
mod parse;
mod signatures;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use config::AltProtocolConfig;
#[cfg(test)]
pub(crate) use config::{PortRule, ProtoAllow};
pub(crate) use signatures::SIG_FTP;
pub(crate) use signatures::SIG_HTTP;
pub(crate) use signatures::SIG_MISMATCH;
pub(crate) use signatures::SIG_SMTP;
pub(crate) use signatures::SIG_SSH;

use super::{Build, Detector, DetectorStats, Env, Events, Interest, PacketCtx, Spec, VolumeInterest};
use crate::alert::{Alert, Signature};
use crate::decode::L4;
use crate::decode::app::{self, AppProto};
use crate::decode::http::HttpRequest;
use crate::decode::packet::tcp_flags;
use crate::flow::bounded::Bounded;
use crate::flow::{Dir, EndReason, Flow, FlowKey, FlowTable};
use crate::policy::{self, Policy, Sides};
use crate::time::Timestamp;
use config::{AppName, Kind};
use parse::{FtpCmd, SmtpCmd};
use state::{Expect, FtpCtl, Upload, insert_capped};
use std::net::IpAddr;

const NAME: &str = "alt_protocol";

/// The detector's row in [`crate::detect::ALL`].
pub(crate) const SPEC: Spec = Spec::of::<AltProtocol>(
    NAME,
    "Exfiltration over alternative protocols: FTP, SMTP and HTTP uploads to external hosts, \
     payloads that do not match their well-known port, SSH on other ports",
    (9_100_500, 9_100_599),
    signatures::ALL,
);

impl Build for AltProtocol {
    type Config = AltProtocolConfig;
    fn build(config: &AltProtocolConfig, _env: &Env) -> Self {
        AltProtocol::new(config.clone())
    }
}

fn text(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// The detector.
pub(crate) struct AltProtocol {
    cfg: AltProtocolConfig,
    uploads: Bounded<FlowKey, Upload>,
    ftp: Bounded<FlowKey, FtpCtl>,
    expect: Bounded<(IpAddr, u16), Expect>,
    /// UDP ports whose every datagram must be DNS.
    dns_udp_ports: Vec<u16>,
    /// UDP flows already reported as a mismatch (later datagrams are not re-judged).
    flagged: Bounded<FlowKey, Timestamp>,
    evicted: u64,
    shed: u64,
}

impl AltProtocol {
    /// A detector with `[alt_protocol]` (the shared `[egress]` policy comes in [`Env`]).
    pub(crate) fn new(cfg: AltProtocolConfig) -> Self {
        AltProtocol {
            uploads: Bounded::new(cfg.max_tracked),
            ftp: Bounded::new(cfg.max_tracked),
            expect: Bounded::new(cfg.max_tracked),
            dns_udp_ports: cfg
                .port_protocols
                .iter()
                .filter(|r| r.udp && r.expect.contains(&AppName::Dns))
                .map(|r| r.port)
                .collect(),
            flagged: Bounded::new(cfg.max_tracked),
            evicted: 0,
            shed: 0,
            cfg,
        }
    }

    fn allowed(&self, host: &IpAddr, k: Kind) -> bool {
        self.cfg.allow.iter().any(|a| a.allows(host, k))
    }

    fn alert_base(&self, c: &PacketCtx<'_, '_>, sig: &Signature, s: &Sides) -> crate::alert::AlertBuilder {
        Alert::build(NAME, sig, c.ts, s.home, s.remote)
            .flow(c.flow, c.ts)
            .evidence("destination", s.remote.to_string())
            .evidence("service_port", s.service_port)
    }

    /// A later datagram of a UDP flow to a DNS port: every one must be DNS (iodine switches the
    /// same socket to raw mode after its DNS handshake).
    fn check_datagram(&mut self, c: &PacketCtx<'_, '_>, s: &Sides, out: &mut Vec<Alert>) {
        let p = c.pkt.payload;
        if (c.pkt.truncated && p.len() < 12)
            || app::looks_like_dns_header(p, true)
            || self.flagged.contains_key(&c.flow.key)
            || self.allowed(&s.home, Kind::Mismatch)
        {
            return;
        }
        self.mismatch(c, s, &SIG_MISMATCH, "dns".to_owned(), "other", out);
    }

    /// The first payload of a home-initiated flow against the port's expected protocol.
    fn check_port(&mut self, c: &PacketCtx<'_, '_>, s: &Sides, out: &mut Vec<Alert>) {
        let f = c.flow;
        let udp = match c.pkt.l4 {
            L4::Tcp(_) => false,
            L4::Udp { .. } => true,
            _ => return,
        };
        // Judged only from the start of a TCP flow, and on enough bytes to tell.
        if (!udp && f.flags[0] & tcp_flags::SYN == 0) || c.pkt.payload.len() < 4 {
            return;
        }
        let first = c.pkt.payload;
        let port = f.resp_port();
        let (sig, kind, expected) = if f.app == AppProto::Ssh {
            if self.cfg.ssh_ports.contains(&port) {
                // Declared an SSH port: the port's other expectation yields.
                return;
            }
            let exp = self.cfg.port_protocols.iter().find(|r| r.udp == udp && r.port == port);
            let names = exp.map_or_else(|| "ssh on its usual ports".to_owned(), |r| join(&r.expect));
            (&SIG_SSH, Kind::Ssh, names)
        } else if let Some(r) = self.cfg.port_protocols.iter().find(|r| r.udp == udp && r.port == port) {
            if r.expect.iter().any(|a| a.matches(f.app, first, udp)) {
                return;
            }
            (&SIG_MISMATCH, Kind::Mismatch, join(&r.expect))
        } else {
            return;
        };
        if self.allowed(&s.home, kind) {
            return;
        }
        self.mismatch(c, s, sig, expected, f.app.name(), out);
    }

    fn mismatch(
        &mut self,
        c: &PacketCtx<'_, '_>,
        s: &Sides,
        sig: &Signature,
        expected: String,
        seen: &str,
        out: &mut Vec<Alert>,
    ) {
        let f = c.flow;
        let udp = matches!(c.pkt.l4, L4::Udp { .. });
        let port = f.resp_port();
        let b = self
            .alert_base(c, sig, s)
            .score(1.0, 1.0)
            .evidence("transport", if udp { "udp" } else { "tcp" })
            .evidence("port", port)
            .evidence("expected_protocol", expected)
            .evidence("seen_protocol", seen)
            .evidence("payload_prefix", parse::prefix(c.pkt.payload))
            .evidence("client_packet", f.pkts[0])
            .evidence("ssh_ports", &self.cfg.ssh_ports)
            .episode(format!("{}|{}|{}|{}", s.home, s.remote, port, seen), 1.0);
        out.push(c.env.egress.stamp(b, c.ts, sig.severity).finish());
        if udp {
            insert_capped(&mut self.flagged, f.key, c.ts, &mut self.evicted);
        }
    }

    fn ftp_control(&mut self, c: &PacketCtx<'_, '_>, s: &Sides, outbound: bool) {
        let key = c.flow.key;
        let server = s.remote;
        if outbound {
            match parse::ftp_command(c.pkt.payload) {
                Some(FtpCmd::Store(verb, name)) => {
                    let ctl = FtpCtl { verb, file: text(name, 200) };
                    insert_capped(&mut self.ftp, key, ctl, &mut self.evicted);
                }
                Some(FtpCmd::Port(p)) => {
                    // Active mode: the server connects to the home host's port.
                    let e = Expect { from: server, ctl: key, at: c.ts };
                    insert_capped(&mut self.expect, (s.home, p), e, &mut self.evicted);
                }
                None => {}
            }
        } else if let Some(p) = parse::ftp_passive_port(c.pkt.payload) {
            // The address in a 227 reply is often a NATed private one: the control
            // connection's server address is what clients (curl included) connect to.
            let e = Expect { from: s.home, ctl: key, at: c.ts };
            insert_capped(&mut self.expect, (server, p), e, &mut self.evicted);
        }
    }

    fn ftp_data_open(&mut self, c: &PacketCtx<'_, '_>) {
        let f = c.flow;
        let Some(e) = self.expect.get(&(f.resp_addr(), f.resp_port())).copied() else { return };
        if e.from != f.orig_addr() {
            return;
        }
        self.expect.remove(&(f.resp_addr(), f.resp_port()));
        let mut u = Upload::new(Kind::Ftp, Some(0), c.ts);
        u.ctl = Some(e.ctl);
        insert_capped(&mut self.uploads, f.key, u, &mut self.evicted);
    }

    fn smtp_client(&mut self, c: &PacketCtx<'_, '_>, s: &Sides) {
        let f = c.flow;
        if !self.uploads.contains_key(&f.key) {
            let u = Upload::new(Kind::Smtp, None, c.ts);
            insert_capped(&mut self.uploads, f.key, u, &mut self.evicted);
        }
        let Some(u) = self.uploads.get_mut_touch(&f.key) else { return };
        if u.base.is_some() || c.pkt.payload.len() > 2048 {
            return;
        }
        let sent = f.payload[s.home_dir];
        for cmd in parse::smtp_commands(c.pkt.payload) {
            match cmd {
                SmtpCmd::MailFrom(a) => u.mail_from = text(a, 200),
                SmtpCmd::RcptTo(a) => {
                    if u.rcpts == 0 {
                        u.rcpt = text(a, 200);
                    }
                    u.rcpts += 1;
                }
                SmtpCmd::Data => {
                    u.base = Some(sent);
                    u.started = c.ts;
                    u.messages += 1;
                }
                SmtpCmd::Bdat => {
                    u.base = Some(sent.saturating_sub(u64::from(c.pkt.payload_wire_len)));
                    u.started = c.ts;
                    u.messages += 1;
                }
                // Encrypted from here on: nothing more to read (egress_volume still counts).
                SmtpCmd::StartTls => u.base = Some(u64::MAX),
            }
        }
    }

    /// Outbound payload on a tracked upload: alert when it reaches its threshold.
    fn count(&mut self, c: &PacketCtx<'_, '_>, s: &Sides, out: &mut Vec<Alert>) {
        let f = c.flow;
        let Some(u) = self.uploads.get_mut_touch(&f.key) else { return };
        u.last = c.ts;
        let Some(base) = u.base else { return };
        let sent = f.payload[s.home_dir].saturating_sub(base);
        let (sig, threshold) = match u.kind {
            Kind::Ftp => (&SIG_FTP, self.cfg.ftp_upload.0),
            Kind::Smtp => (&SIG_SMTP, self.cfg.smtp_message.0),
            _ => (&SIG_HTTP, self.cfg.http_upload.0),
        };
        if u.alerted || base == u64::MAX || sent < threshold {
            return;
        }
        u.alerted = true;
        let kind = u.kind;
        if self.allowed(&s.home, kind) {
            return;
        }
        let Some(u) = self.uploads.get(&f.key) else { return };
        let secs = c.ts.since(u.started).as_secs_f64();
        let mut b = self
            .alert_base(c, sig, s)
            .score(sent as f64, threshold as f64)
            .evidence("bytes", sent)
            .evidence("threshold_bytes", threshold)
            .evidence("duration_secs", (secs * 1000.0).round() / 1000.0)
            .evidence("rate_bytes_per_sec", policy::rate(sent, secs))
            .evidence("started", u.started.to_eve());
        let episode;
        match kind {
            Kind::Ftp => {
                let ctl = u.ctl.and_then(|k| self.ftp.get(&k));
                b = b
                    .evidence("protocol", "ftp")
                    .evidence("command", ctl.map_or("STOR", |c| c.verb))
                    .evidence("file", ctl.map(|c| c.file.clone()))
                    .evidence(
                        "data_connection",
                        format!("{}:{} -> {}:{}", f.orig_addr(), f.orig_port(), f.resp_addr(), f.resp_port()),
                    )
                    .evidence("passive", f.orig_addr() == s.home);
                episode = format!("{}|{}|ftp", s.home, s.remote);
            }
            Kind::Smtp => {
                b = b
                    .evidence("protocol", "smtp")
                    .evidence("mail_from", &u.mail_from)
                    .evidence("rcpt_to", &u.rcpt)
                    .evidence("recipients", u.rcpts)
                    .evidence("messages", u.messages);
                episode = format!("{}|{}|smtp", s.home, s.remote);
            }
            _ => {
                b = b
                    .http(&u.method, &u.target, u.host.clone(), u.declared)
                    .evidence("protocol", "http")
                    .evidence("method", &u.method)
                    .evidence("content_length", u.declared);
                episode = format!("{}|{}|http", s.home, s.remote);
            }
        }
        let a = c.env.egress.stamp(b.episode(episode, sent as f64), c.ts, sig.severity).finish();
        out.push(a);
    }
}

impl AltProtocol {
    /// Could this payload packet (of a flow not opening as an expected one) start or continue
    /// anything [`AltProtocol::packet`] follows? A superset, by the flow's own fields: the
    /// first payload from the initiator, a DNS port over UDP, an FTP or SMTP session, or any
    /// upload being followed, or a query to a DNS port that does not look like one (what
    /// [`AltProtocol::check_datagram`] reports: a DNS client's every query used to cost the
    /// egress policy's verdict here). Of a flow a home host did not open, only an upload being
    /// followed: everything else wants the home host as the initiator (the egress policy's
    /// `home_dir` 0 needs `orig_home`), so a flood of datagrams from outside costs nothing here.
    #[inline]
    fn may_act(&self, c: &PacketCtx<'_, '_>) -> bool {
        let f = c.flow;
        if !f.orig_home {
            return !self.uploads.is_empty();
        }
        f.payload[0] == u64::from(c.pkt.payload_wire_len)
            || matches!(f.app, AppProto::Ftp | AppProto::Smtp)
            || !self.uploads.is_empty()
            || (matches!(c.pkt.l4, L4::Udp { .. })
                && c.dir == Dir::ToServer
                && self.dns_udp_ports.contains(&f.resp_port())
                && !app::looks_like_dns_header(c.pkt.payload, true))
    }

    /// [`Detector::on_packet`] past its quick tests.
    #[inline(never)]
    fn packet(&mut self, c: &PacketCtx<'_, '_>, opens_expected: bool, out: &mut Vec<Alert>) {
        let Some(s) = c.env.egress.sides(c.flow) else { return };
        if opens_expected {
            self.ftp_data_open(c);
        }
        if c.pkt.payload_wire_len == 0 {
            return;
        }
        let outbound = Policy::outbound(c, &s);
        if outbound && s.home_dir == 0 {
            if c.flow.payload[0] == u64::from(c.pkt.payload_wire_len) {
                self.check_port(c, &s, out);
            } else if matches!(c.pkt.l4, L4::Udp { .. }) && self.dns_udp_ports.contains(&c.flow.resp_port()) {
                self.check_datagram(c, &s, out);
            }
        }
        match c.flow.app {
            AppProto::Ftp if s.home_dir == 0 => self.ftp_control(c, &s, outbound),
            AppProto::Smtp if outbound && s.home_dir == 0 => self.smtp_client(c, &s),
            _ => {}
        }
        if outbound && !self.uploads.is_empty() {
            self.count(c, &s, out);
        }
    }
}

fn join(v: &[AppName]) -> String {
    v.iter().map(|a| a.name()).collect::<Vec<_>>().join("|")
}

impl Detector for AltProtocol {
    fn name(&self) -> &'static str {
        NAME
    }

    fn volume_interest(&self) -> VolumeInterest {
        VolumeInterest::Nothing
    }

    fn event_interest(&self) -> Events {
        Events::HTTP
    }

    fn packet_interest(&self) -> Interest {
        Interest::PAYLOAD.or(Interest::NEW_FLOW)
    }

    #[inline]
    fn on_packet(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        // A packet without payload matters only as the first of an expected FTP data flow.
        let opens_expected = c.new_flow && !self.expect.is_empty();
        if c.pkt.payload_wire_len == 0 && !opens_expected {
            return;
        }
        // Most payload is more of an established flow that nothing here follows: no verdict
        // to look up, and (the rest out of line) no registers to save for it.
        if opens_expected || self.may_act(c) {
            self.packet(c, opens_expected, out);
        }
    }

    fn on_http(&mut self, c: &PacketCtx<'_, '_>, r: &HttpRequest<'_>, out: &mut Vec<Alert>) {
        if c.dir != Dir::ToServer {
            return;
        }
        let Some(s) = c.env.egress.sides(c.flow) else { return };
        if s.home_dir != 0 {
            return;
        }
        let key = c.flow.key;
        if !matches!(r.method, "POST" | "PUT" | "PATCH") {
            // A new request on a kept-alive connection ends the previous upload.
            if !self.uploads.is_empty() {
                self.uploads.remove(&key);
            }
            return;
        }
        // Counted from the start of this request: its head, then its body.
        let base = c.flow.payload[0].saturating_sub(u64::from(c.pkt.payload_wire_len));
        let mut u = Upload::new(Kind::Http, Some(base), c.ts);
        u.method = r.method.to_owned();
        u.target = r.target.chars().take(512).collect();
        u.host = r.host.map(|h| text(h, 255));
        u.declared = r.content_length;
        insert_capped(&mut self.uploads, key, u, &mut self.evicted);
        // This segment may already carry body bytes past the threshold (small thresholds).
        self.count(c, &s, out);
    }

    fn on_flow_end(&mut self, f: &Flow, _why: EndReason, _env: &Env, _out: &mut Vec<Alert>) {
        if !self.uploads.is_empty() {
            self.uploads.remove(&f.key);
        }
        if !self.ftp.is_empty() {
            self.ftp.remove(&f.key);
        }
        if !self.flagged.is_empty() {
            self.flagged.remove(&f.key);
        }
    }

    fn on_tick(&mut self, now: Timestamp, _f: &FlowTable, _e: &Env, _o: &mut Vec<Alert>) {
        if now.secs().is_multiple_of(30) {
            // A data connection is opened within seconds of its announcement.
            self.expect.retain(|_, e| now.0.saturating_sub(e.at.0) < 120_000_000_000);
        }
    }

    fn stats(&self) -> DetectorStats {
        DetectorStats {
            tracked: (self.uploads.len() + self.ftp.len() + self.expect.len() + self.flagged.len()) as u64,
            evicted: self.evicted,
            memory: (self.uploads.overhead_bytes()
                + self.ftp.overhead_bytes()
                + self.expect.overhead_bytes()
                + self.flagged.overhead_bytes()) as u64,
            shed: self.shed,
        }
    }

    fn shed(&mut self, share: f64) -> u64 {
        let n = self.uploads.shed(share, |_, _| {}) + self.flagged.shed(share, |_, _| {});
        self.shed += n;
        n
    }
}
