//! Unit tests of the section's rules (the detector end to end: `tests/egress.rs` on the FTP,
//! SMTP, HTTP and SSH captures).

use super::config::Kind;
use super::*;

#[test]
fn port_rules_and_allow_entries_parse_and_print_back() {
    let r = PortRule::parse("udp/443=quic|tls").unwrap();
    assert_eq!(format!("{r:?}"), "udp/443=quic|tls");
    assert!(PortRule::parse("sctp/80=http").is_err() && PortRule::parse("tcp/80=gopher").is_err());
    let a = ProtoAllow::parse("10.0.0.25=smtp|ssh").unwrap();
    assert_eq!(format!("{a:?}"), "10.0.0.25/32=smtp|ssh");
    let host: std::net::IpAddr = "10.0.0.25".parse().unwrap();
    assert!(a.allows(&host, Kind::Smtp) && !a.allows(&host, Kind::Ftp));
    let any = ProtoAllow::parse("10.0.0.9=*").unwrap();
    assert!(any.allows(&"10.0.0.9".parse().unwrap(), Kind::Ftp) && !any.allows(&host, Kind::Ftp));
    assert!(ProtoAllow::parse("nope=ftp").is_err());
}

#[test]
fn section_names_a_bad_entry() {
    let e = toml::from_str::<AltProtocolConfig>("port_protocols = \"tcp/80=gopher\"").unwrap_err();
    assert!(e.to_string().contains("tcp/80=gopher"), "{e}");
    let c: AltProtocolConfig = toml::from_str("ssh_ports = \"22, 2222\"").unwrap();
    assert_eq!(c.ssh_ports, [22, 2222]);
}
