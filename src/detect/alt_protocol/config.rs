//! `[alt_protocol]`: thresholds, the expected protocol of well-known ports, and the protocol
//! allow-list, each parsed and checked when the config loads.

use crate::decode::app::{self, AppProto};
use crate::units::{Size, de_ports, de_string_list, parse_net};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::IpAddr;

/// What a protocol allow-list entry or port rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Ftp = 1,
    Smtp = 2,
    Http = 4,
    Mismatch = 8,
    Ssh = 16,
}

/// A port's expected protocol (`tcp/443=tls`, several joined with `|`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PortRule {
    pub(super) udp: bool,
    pub(super) port: u16,
    pub(super) expect: Vec<AppName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AppName {
    Http,
    Tls,
    Dns,
    Ssh,
    Ftp,
    Smtp,
    Quic,
}

const APP_NAMES: [(&str, AppName); 7] = [
    ("http", AppName::Http),
    ("tls", AppName::Tls),
    ("dns", AppName::Dns),
    ("ssh", AppName::Ssh),
    ("ftp", AppName::Ftp),
    ("smtp", AppName::Smtp),
    ("quic", AppName::Quic),
];

impl AppName {
    pub(super) fn name(self) -> &'static str {
        APP_NAMES.iter().find(|(_, a)| *a == self).map_or("?", |(n, _)| n)
    }
    /// Does the flow's classification or its first payload say this protocol?
    pub(super) fn matches(self, app: AppProto, first: &[u8], udp: bool) -> bool {
        match self {
            AppName::Http => app == AppProto::Http || app::looks_like_http(first),
            AppName::Tls => app == AppProto::Tls || app::looks_like_tls(first),
            AppName::Dns => app == AppProto::Dns || app::looks_like_dns_header(first, udp),
            AppName::Ssh => app == AppProto::Ssh,
            AppName::Ftp => app == AppProto::Ftp,
            AppName::Smtp => app == AppProto::Smtp,
            AppName::Quic => app::looks_like_quic(first),
        }
    }
}

impl fmt::Debug for PortRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.expect.iter().map(|a| a.name()).collect();
        write!(f, "{}/{}={}", if self.udp { "udp" } else { "tcp" }, self.port, names.join("|"))
    }
}

impl PortRule {
    /// Parses `tcp/443=tls` or `udp/443=quic|tls`.
    pub(crate) fn parse(s: &str) -> Result<PortRule, String> {
        let bad = || {
            format!("bad port rule {s:?} (use tcp/PORT=PROTO, PROTO one of http tls dns ssh ftp smtp quic)")
        };
        let (lhs, rhs) = s.trim().split_once('=').ok_or_else(bad)?;
        let (t, p) = lhs.split_once('/').ok_or_else(bad)?;
        let udp = match t.trim().to_ascii_lowercase().as_str() {
            "tcp" => false,
            "udp" => true,
            _ => return Err(bad()),
        };
        let port = p.trim().parse().map_err(|_| bad())?;
        let expect = rhs
            .split('|')
            .map(|n| {
                APP_NAMES
                    .iter()
                    .find(|(k, _)| n.trim().eq_ignore_ascii_case(k))
                    .map(|(_, a)| *a)
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PortRule { udp, port, expect })
    }
}

/// A protocol allow-list entry, `NET=kind|kind` (kinds: ftp smtp http mismatch ssh, or `*`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProtoAllow {
    net: IpNet,
    mask: u8,
}

impl ProtoAllow {
    /// Does this entry allow `kind` for `host`?
    pub(super) fn allows(&self, host: &IpAddr, kind: Kind) -> bool {
        self.mask & kind as u8 != 0 && self.net.contains(host)
    }
}

const KIND_NAMES: [(&str, Kind); 5] = [
    ("ftp", Kind::Ftp),
    ("smtp", Kind::Smtp),
    ("http", Kind::Http),
    ("mismatch", Kind::Mismatch),
    ("ssh", Kind::Ssh),
];

impl fmt::Debug for ProtoAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            KIND_NAMES.iter().filter(|(_, k)| self.mask & *k as u8 != 0).map(|(n, _)| *n).collect();
        write!(f, "{}={}", self.net, names.join("|"))
    }
}

impl ProtoAllow {
    /// Parses `10.0.0.25=smtp` or `10.1.0.0/16=ftp|ssh` or `10.0.0.9=*`.
    pub(crate) fn parse(s: &str) -> Result<ProtoAllow, String> {
        let bad = || {
            format!(
                "bad protocol allow entry {s:?} (use NET=KIND[|KIND], KIND one of ftp smtp http mismatch ssh *)"
            )
        };
        let (n, k) = s.trim().split_once('=').ok_or_else(bad)?;
        let net = parse_net(n)?;
        let mut mask = 0u8;
        for name in k.split('|').map(str::trim) {
            mask |= if name == "*" {
                0xff
            } else {
                KIND_NAMES.iter().find(|(x, _)| name.eq_ignore_ascii_case(x)).ok_or_else(bad)?.1 as u8
            };
        }
        Ok(ProtoAllow { net, mask })
    }
}

fn de_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PortRule>, D::Error> {
    let v = de_string_list(d)?;
    v.iter().map(|s| PortRule::parse(s).map_err(serde::de::Error::custom)).collect()
}

fn de_allow<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProtoAllow>, D::Error> {
    let v = de_string_list(d)?;
    v.iter().map(|s| ProtoAllow::parse(s).map_err(serde::de::Error::custom)).collect()
}

/// `[alt_protocol]` config. Hosts, destinations and off-hours come from `[egress]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AltProtocolConfig {
    /// Run this detector.
    pub enabled: bool,
    /// Bytes a home host sends on one FTP data connection that raise the alert. FTP to the
    /// internet is rare: lower catches small files; higher spares sanctioned FTP users that are
    /// better put in `allow`.
    pub ftp_upload: Size,
    /// Bytes after SMTP `DATA`/`BDAT` (base64 inflates attachments by a third) that raise the
    /// alert. Mail servers that send to the internet belong in `allow`.
    pub smtp_message: Size,
    /// Bytes of one HTTP POST/PUT/PATCH request, body included. Lower catches smaller uploads
    /// and more form posts; only cleartext HTTP is visible (HTTPS is for `egress_volume`).
    pub http_upload: Size,
    /// Expected protocol of well-known ports, `tcp/PORT=PROTO[|PROTO]` (http tls dns ssh ftp smtp
    /// quic). The first payload of a flow to such a port must match. `udp/443=quic` can be added;
    /// it is off by default because QUIC's short headers make mid-stream pickup look odd.
    #[serde(deserialize_with = "de_rules")]
    pub port_protocols: Vec<PortRule>,
    /// Ports where SSH is expected; SSH to an external host on any other port is flagged.
    #[serde(deserialize_with = "de_ports")]
    pub ssh_ports: Vec<u16>,
    /// Protocol allow-list per home host or network, `NET=KIND[|KIND]` with KIND one of ftp
    /// smtp http mismatch ssh, or `*` for all (e.g. `10.0.0.25=smtp` for the mail relay).
    #[serde(deserialize_with = "de_allow")]
    pub allow: Vec<ProtoAllow>,
    /// Most tracked uploads, FTP sessions and expected data connections per worker (each);
    /// beyond it the stalest is evicted (counted).
    pub max_tracked: usize,
}

impl Default for AltProtocolConfig {
    fn default() -> Self {
        let rules = ["tcp/80=http", "tcp/443=tls", "udp/53=dns", "tcp/53=dns"];
        AltProtocolConfig {
            enabled: true,
            ftp_upload: Size(1_000_000),
            smtp_message: Size(1_000_000),
            http_upload: Size(1_000_000),
            port_protocols: rules.iter().filter_map(|r| PortRule::parse(r).ok()).collect(),
            ssh_ports: vec![22],
            allow: Vec::new(),
            max_tracked: 16_384,
        }
    }
}

impl crate::detect::DetectorConfig for AltProtocolConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn validate(&self, ck: &mut crate::validate::Checker) {
        ck.size("ftp_upload", self.ftp_upload, 1);
        ck.size("smtp_message", self.smtp_message, 1);
        ck.size("http_upload", self.http_upload, 1);
        ck.ports("ssh_ports", &self.ssh_ports);
        ck.cap("max_tracked", self.max_tracked);
    }
}
