//! Proxy handshakes followed across packets: SOCKS5 (greeting → method → request), SOCKS4/4a
//! (request → grant) and HTTP `CONNECT` (request → 2xx).
//!
//! A handshake is reported only once the proxy side has answered in its protocol, so a scanner
//! probing a home host for open proxies (a greeting with no proxy behind it) raises nothing.
//! Who is reported follows the direction: outside clients served by a home proxy make the home
//! host the subject ([`SIG_PROXY_SERVED`]); a home host speaking to an outside proxy is the
//! subject of [`SIG_PROXY_USED`]. Sessions between two home hosts are internal policy and are
//! left alone.

use super::{Proxyware, SIG_PROXY_SERVED, SIG_PROXY_USED, hash_of, lossy, wire};
use crate::alert::Alert;
use crate::decode::app::AppProto;
use crate::decode::http::HttpRequest;
use crate::detect::PacketCtx;
use crate::flow::{Dir, Flow};
use crate::time::Timestamp;
use std::net::{IpAddr, SocketAddr};

/// Which handshake, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// SOCKS5 greeting sent; waiting for the method reply.
    Socks5Greeting,
    /// Method accepted; waiting for the request (after any authentication exchange).
    Socks5Method { method: u8, client_msgs: u8 },
    /// SOCKS4 request sent (target kept); waiting for the grant.
    Socks4 { target: String },
    /// Inbound HTTP `CONNECT` (target kept); waiting for a 2xx.
    HttpConnect { target: String },
    /// Inbound absolute-URI request: not reported on its own, it makes an HTTP session count
    /// for the proxy-port signature.
    HttpAbsolute,
}

/// One handshake in flight.
#[derive(Debug, Clone)]
pub(super) struct Handshake {
    stage: Stage,
    /// When it began.
    pub(super) started: Timestamp,
}

impl Handshake {
    /// An inbound absolute-URI HTTP request was seen on this session (a `CONNECT` has its own
    /// signature once answered, as SOCKS has).
    pub(super) fn is_proxyish_http(&self) -> bool {
        matches!(self.stage, Stage::HttpAbsolute)
    }
}

/// Served (home proxy, outside client) or used (home client, outside proxy); `None` for
/// sessions between two home hosts.
enum Role {
    Served { home: IpAddr, client: IpAddr },
    Used { home: IpAddr, proxy: IpAddr, port: u16 },
}

fn role(f: &Flow) -> Option<Role> {
    match (f.orig_home, f.resp_home) {
        (false, true) => Some(Role::Served { home: f.resp_addr(), client: f.orig_addr() }),
        (true, true) => None,
        _ => Some(Role::Used { home: f.orig_addr(), proxy: f.resp_addr(), port: f.resp_port() }),
    }
}

impl Proxyware {
    fn track(&mut self, c: &PacketCtx<'_, '_>, stage: Stage) {
        if !self.handshakes.contains_key(&c.flow.key) && self.handshakes.len() >= self.cfg.max_handshakes {
            self.handshakes_dropped += 1;
            return;
        }
        self.handshakes.insert(c.flow.key, Handshake { stage, started: c.ts });
    }

    /// The first client payload of a session classified as SOCKS.
    pub(super) fn start_socks(&mut self, c: &PacketCtx<'_, '_>) {
        let p = c.pkt.payload;
        let stage = match c.flow.app {
            AppProto::Socks5 if wire::socks5_greeting(p).is_some() => Stage::Socks5Greeting,
            AppProto::Socks4 => match wire::socks4_request(p) {
                Some((_, t)) => Stage::Socks4 { target: t.to_string() },
                None => return,
            },
            _ => return,
        };
        if role(c.flow).is_some() {
            self.track(c, stage);
        }
    }

    /// A later payload of a session with a handshake in flight.
    pub(super) fn progress(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let key = c.flow.key;
        let Some(h) = self.handshakes.get_mut(&key) else { return };
        let p = c.pkt.payload;
        enum Next {
            Keep,
            Drop,
            Fire { proto: &'static str, target: Option<String>, detail: String },
        }
        let next = match (&mut h.stage, c.dir) {
            (Stage::Socks5Greeting, Dir::ToClient) => match wire::socks5_method_reply(p) {
                Some(m) if m != 0xff => {
                    h.stage = Stage::Socks5Method { method: m, client_msgs: 0 };
                    Next::Keep
                }
                _ => Next::Drop,
            },
            (Stage::Socks5Method { method, client_msgs }, Dir::ToServer) => {
                *client_msgs += 1;
                let method = *method;
                let detail = match method {
                    0 => "no authentication".to_owned(),
                    2 => "username/password".to_owned(),
                    m => format!("method {m:#04x}"),
                };
                match wire::socks5_request(p) {
                    Some((cmd, t)) => Next::Fire {
                        proto: "socks5",
                        target: Some(t.to_string()),
                        detail: format!("{}, {detail}", socks5_cmd(cmd)),
                    },
                    // Authentication messages come before the request; give up waiting after two.
                    None if *client_msgs >= 3 => Next::Fire { proto: "socks5", target: None, detail },
                    None => Next::Keep,
                }
            }
            (Stage::Socks4 { target }, Dir::ToClient) => match wire::socks4_reply(p) {
                Some(0x5a) => Next::Fire {
                    proto: "socks4",
                    target: Some(std::mem::take(target)),
                    detail: "granted".into(),
                },
                _ => Next::Drop,
            },
            (Stage::HttpConnect { target }, Dir::ToClient) => match crate::decode::app::http_status(p) {
                Some(s @ 200..=299) => Next::Fire {
                    proto: "http_connect",
                    target: Some(std::mem::take(target)),
                    detail: format!("status {s}"),
                },
                _ => Next::Drop,
            },
            _ => Next::Keep,
        };
        match next {
            Next::Keep => {}
            Next::Drop => {
                self.handshakes.remove(&key);
            }
            Next::Fire { proto, target, detail } => {
                self.handshakes.remove(&key);
                self.proxy_alert(c, proto, target, detail, out);
            }
        }
    }

    /// An HTTP `CONNECT` or absolute-URI request.
    pub(super) fn http_proxy_request(
        &mut self,
        c: &PacketCtx<'_, '_>,
        r: &HttpRequest<'_>,
        connect: bool,
        out: &mut Vec<Alert>,
    ) {
        if c.dir != Dir::ToServer {
            return;
        }
        match role(c.flow) {
            Some(Role::Served { .. }) => {
                let stage = if connect {
                    Stage::HttpConnect { target: lossy(r.target.as_bytes()) }
                } else {
                    Stage::HttpAbsolute
                };
                self.track(c, stage);
            }
            Some(Role::Used { .. }) => {
                let proto = if connect { "http_connect" } else { "http_proxy_request" };
                self.proxy_alert(
                    c,
                    proto,
                    Some(lossy(r.target.as_bytes())),
                    format!("method {}", r.method),
                    out,
                );
            }
            None => {}
        }
    }

    fn proxy_alert(
        &mut self,
        c: &PacketCtx<'_, '_>,
        proto: &'static str,
        target: Option<String>,
        detail: String,
        out: &mut Vec<Alert>,
    ) {
        let f = c.flow;
        let Some(role) = role(f) else { return };
        let (sig, subject, other, sub, episode) = match role {
            Role::Served { home, client } => {
                if self.allowed_proxy(client, f.orig_port()) {
                    return;
                }
                let family = if proto == "http_connect" { "http" } else { "socks" };
                (
                    &SIG_PROXY_SERVED,
                    home,
                    client,
                    hash_of((family, f.resp_port())),
                    format!("{home}|served|{family}|{}", f.resp_port()),
                )
            }
            Role::Used { home, proxy, port } => {
                if !self.cfg.alert_proxy_use || self.allowed_proxy(proxy, port) {
                    return;
                }
                (
                    &SIG_PROXY_USED,
                    home,
                    proxy,
                    hash_of((proxy, port)),
                    format!("{home}|used|{}", SocketAddr::new(proxy, port)),
                )
            }
        };
        if !self.fresh(subject, sig, sub, c.ts) {
            return;
        }
        let role_name = if sig.id == SIG_PROXY_SERVED.id { "proxy_server" } else { "proxy_client" };
        out.push(
            Alert::build(super::NAME, sig, c.ts, subject, other)
                .proto(c.pkt.ip_proto)
                .flow(f, c.ts)
                .score(1.0, 1.0)
                .evidence("service", proto)
                .evidence("role", role_name)
                .evidence("proxy", SocketAddr::new(f.resp_addr(), f.resp_port()).to_string())
                .evidence("client", f.orig_addr().to_string())
                .evidence("target", target)
                .evidence("handshake", detail)
                .evidence("handshake_secs", (c.ts.since(f.first).as_secs_f64() * 1000.0).round() / 1000.0)
                .episode(episode, 1.0)
                .finish(),
        );
    }
}

fn socks5_cmd(cmd: u8) -> &'static str {
    match cmd {
        1 => "CONNECT",
        2 => "BIND",
        _ => "UDP ASSOCIATE",
    }
}
