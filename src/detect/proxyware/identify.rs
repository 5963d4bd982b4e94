//! What the payload names: proxyware services (DNS, TLS SNI, HTTP Host and proxy targets),
//! Tor (relay list, ClientHello shape) and Stratum mining logins.

use super::signatures::{SIG_NAME, SIG_STRATUM, SIG_TOR};
use super::{NAME, Proxyware, lossy, subject_of, wire};
use crate::alert::Alert;
use crate::decode::dns::DnsMessage;
use crate::decode::http::HttpRequest;
use crate::decode::tls::ClientHello;
use crate::detect::PacketCtx;
use crate::flow::hash::MixedHashMap;
use std::net::{IpAddr, SocketAddr};

/// Where a name was seen.
#[derive(Debug, Clone, Copy)]
pub(super) enum NameSource {
    DnsQuery,
    DnsAnswer,
    TlsSni,
    HttpHost,
    HttpTarget,
}

impl NameSource {
    fn as_str(self) -> &'static str {
        match self {
            NameSource::DnsQuery => "dns_query",
            NameSource::DnsAnswer => "dns_answer",
            NameSource::TlsSni => "tls_sni",
            NameSource::HttpHost => "http_host",
            NameSource::HttpTarget => "http_request_target",
        }
    }
}

impl Proxyware {
    /// A matched name: one alert per (client, service) per episode.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn name_hit(
        &mut self,
        c: &PacketCtx<'_, '_>,
        client: IpAddr,
        server: IpAddr,
        name: &[u8],
        source: NameSource,
        dns: Option<&DnsMessage>,
        http: Option<&HttpRequest<'_>>,
        out: &mut Vec<Alert>,
    ) {
        let hit = match dns {
            Some(m) => self.names.lookup_dns(&m.qname),
            None => self.names.lookup(name),
        };
        let Some(sid) = hit.map(|h| h.service_id) else { return };
        if !self.fresh(client, &SIG_NAME, u64::from(sid), c.ts) {
            return;
        }
        // Only now, once per episode, copy the names out (a repeat costs a lookup, no allocation).
        let Some((service, domain)) =
            self.names.lookup(name).map(|h| (h.service.to_owned(), h.domain.to_owned()))
        else {
            return;
        };
        let (sport, dport) = c.pkt.ports();
        let (cport, sport_) = if client == c.pkt.src { (sport, dport) } else { (dport, sport) };
        let mut a = Alert::build(NAME, &SIG_NAME, c.ts, client, server)
            .proto(c.pkt.ip_proto)
            .ports(cport, sport_)
            .flow(c.flow, c.ts);
        if let Some(m) = dns {
            a = a.dns(m.id, m.qname.to_lossy_string(), m.qtype);
        }
        if matches!(source, NameSource::TlsSni) {
            a = a.tls_sni(lossy(name));
        }
        if let Some(r) = http {
            a = a.http(r.method, r.target, r.host.map(lossy), r.content_length);
        }
        let name = lossy(name);
        out.push(
            a.score(1.0, 1.0)
                .evidence("service", &service)
                .evidence("matched_domain", &domain)
                .evidence("name", &name)
                .evidence("source", source.as_str())
                .evidence("server", server.to_string())
                .evidence("list_entries", self.names.len())
                .episode(format!("{client}|{service}"), 1.0)
                .finish(),
        );
    }

    /// Tor by relay list, on a session's first packet.
    pub(super) fn tor_relay_list(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let (sp, dp) = c.pkt.ports();
        let listed = |m: &MixedHashMap<IpAddr, Vec<Option<u16>>>, a: &IpAddr, p: u16| {
            m.get(a).is_some_and(|ports| ports.iter().any(|x| x.is_none_or(|x| x == p)))
        };
        let (subject, relay, rport) = if listed(&self.tor_relays, &c.pkt.dst, dp) {
            (c.pkt.src, c.pkt.dst, dp)
        } else if listed(&self.tor_relays, &c.pkt.src, sp) {
            (c.pkt.dst, c.pkt.src, sp)
        } else {
            return;
        };
        if !self.fresh(subject, &SIG_TOR, 0, c.ts) {
            return;
        }
        out.push(
            Alert::build(NAME, &SIG_TOR, c.ts, subject, relay)
                .proto(c.pkt.ip_proto)
                .flow(c.flow, c.ts)
                .score(1.0, 1.0)
                .evidence("service", "Tor")
                .evidence("via", "relay_list")
                .evidence("relay", SocketAddr::new(relay, rport).to_string())
                .evidence("configured_relays", self.cfg.tor_relays.len())
                .episode(format!("{subject}|tor"), 1.0)
                .finish(),
        );
    }

    /// A Stratum login in a session's first client payload.
    pub(super) fn stratum(&mut self, c: &PacketCtx<'_, '_>, out: &mut Vec<Alert>) {
        let Some(method) = wire::stratum_method(c.pkt.payload) else { return };
        let (subject, other, initiated) = subject_of(c.flow);
        if !self.fresh(subject, &SIG_STRATUM, 0, c.ts) {
            return;
        }
        let agent = wire::stratum_agent(c.pkt.payload).map(lossy);
        let line_end = c.pkt.payload.iter().position(|&b| b == b'\n').unwrap_or(c.pkt.payload.len()).min(200);
        let pool = SocketAddr::new(c.flow.resp_addr(), c.flow.resp_port()).to_string();
        out.push(
            Alert::build(NAME, &SIG_STRATUM, c.ts, subject, other)
                .proto(c.pkt.ip_proto)
                .flow(c.flow, c.ts)
                .score(1.0, 1.0)
                .evidence("service", "stratum")
                .evidence("method", lossy(method))
                .evidence("agent", agent)
                .evidence("pool", pool)
                .evidence("role", if initiated { "miner" } else { "pool_or_mining_proxy" })
                .evidence("request", lossy(&c.pkt.payload[..line_end]))
                .episode(format!("{subject}|stratum"), 1.0)
                .finish(),
        );
    }

    /// Tor by the shape of its ClientHello: a made-up `www.<random>.com` server name, no ALPN,
    /// on a Tor port.
    pub(super) fn tor_shape(
        &mut self,
        c: &PacketCtx<'_, '_>,
        h: &ClientHello<'_>,
        sni: &[u8],
        out: &mut Vec<Alert>,
    ) {
        let (_, dport) = c.pkt.ports();
        let port_ok = self.cfg.tor_ports.is_empty() || self.cfg.tor_ports.contains(&dport);
        if h.alpn.is_none() && port_ok && wire::tor_like_sni(sni) {
            let (subject, other, initiated) = subject_of(c.flow);
            if !self.fresh(subject, &SIG_TOR, 0, c.ts) {
                return;
            }
            out.push(
                Alert::build(NAME, &SIG_TOR, c.ts, subject, other)
                    .proto(c.pkt.ip_proto)
                    .flow(c.flow, c.ts)
                    .tls_sni(lossy(sni))
                    .score(1.0, 1.0)
                    .evidence("service", "Tor")
                    .evidence("via", "tls_client_hello_shape")
                    .evidence("sni", lossy(sni))
                    .evidence("alpn", "none")
                    .evidence("port", dport)
                    .evidence("tor_ports", &self.cfg.tor_ports)
                    .evidence("role", if initiated { "client" } else { "relay" })
                    .episode(format!("{subject}|tor"), 1.0)
                    .finish(),
            );
        }
    }
}
