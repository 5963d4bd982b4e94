//! The Community ID flow hash, version 1 (corelight's community-id-spec), as Suricata
//! (`community-id: yes`) and Zeek (`community_id_v1`) emit it: an analyst pivots from a siphon
//! alert to the same flow in Zeek's conn.log or Suricata's eve.json by this one string.
//!
//! `1:` + base64(SHA-1(seed ‖ addr ‖ addr ‖ proto ‖ 0 ‖ port ‖ port)), both endpoints ordered
//! so either direction hashes alike; for ICMP the "ports" are the type and the type of its
//! counterpart (echo ↔ reply...), or the code for a type without one (then the flow is one-way
//! and not reordered). Checked against the spec's published vectors in the tests below.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP6: u8 = 58;
const SCTP: u8 = 132;

/// The request/reply counterpart of an ICMPv4 type (the spec's table).
fn icmp4_peer(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// The request/reply counterpart of an ICMPv6 type (the spec's table).
fn icmp6_peer(t: u8) -> Option<u8> {
    Some(match t {
        128 => 129,
        129 => 128,
        130 => 131,
        131 => 130,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => return None,
    })
}

/// The Community ID v1 of a flow: `ports` are (source, destination) for TCP, UDP and SCTP,
/// (type, code) for ICMP and ICMPv6, ignored for other protocols. `None` when the protocol
/// needs ports and has none, or the two addresses are of different families.
pub(crate) fn community_id_v1(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ports: Option<(u16, u16)>,
) -> Option<String> {
    let (mut sport, mut dport, mut one_way) = (0u16, 0u16, false);
    let has_ports = match proto {
        TCP | UDP | SCTP => {
            (sport, dport) = ports?;
            true
        }
        ICMP | ICMP6 => {
            let (ty, code) = ports?;
            let ty8 = u8::try_from(ty).ok()?;
            let peer = if proto == ICMP { icmp4_peer(ty8) } else { icmp6_peer(ty8) };
            sport = ty;
            match peer {
                Some(p) => dport = u16::from(p),
                None => {
                    dport = code;
                    one_way = true;
                }
            }
            true
        }
        _ => false,
    };
    let (a, b) = match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.octets().to_vec(), b.octets().to_vec()),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.octets().to_vec(), b.octets().to_vec()),
        _ => return None,
    };
    let ordered = a < b || (a == b && sport <= dport);
    let (a, b, sport, dport) = if one_way || ordered { (a, b, sport, dport) } else { (b, a, dport, sport) };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&a);
    h.update(&b);
    h.update([proto, 0]);
    if has_ports {
        h.update(sport.to_be_bytes());
        h.update(dport.to_be_bytes());
    }
    Some(format!("1:{}", base64::engine::general_purpose::STANDARD.encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The vectors of the spec's baseline, as Zeek's own test (`community_id_v1` in
    /// testing/btest/bifs) and the reference implementations check them.
    #[test]
    fn published_vectors() {
        let v6a = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D";
        let v6b = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D";
        type Case<'a> = (u16, &'a str, &'a str, u8, Option<(u16, u16)>, &'a str);
        let cases: &[Case<'_>] = &[
            (0, "1.2.3.4", "5.6.7.8", TCP, Some((1122, 3344)), "1:wCb3OG7yAFWelaUydu0D+125CLM="),
            (0, "1.2.3.4", "5.6.7.8", UDP, Some((1122, 3344)), "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
            (0, "1.2.3.4", "5.6.7.8", ICMP, Some((8, 0)), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
            (0, v6a, v6b, ICMP6, Some((128, 0)), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
            (1, "1.2.3.4", "5.6.7.8", TCP, Some((1122, 3344)), "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
            (1, "1.2.3.4", "5.6.7.8", UDP, Some((1122, 3344)), "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
            (1, "1.2.3.4", "5.6.7.8", ICMP, Some((8, 0)), "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
            (1, v6a, v6b, ICMP6, Some((128, 0)), "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
            // A protocol without ports (RSVP).
            (0, "1.2.3.4", "5.6.7.8", 46, None, "1:ikv3kmf89luf73WPz1jOs49S768="),
        ];
        for &(seed, s, d, p, ports, want) in cases {
            assert_eq!(community_id_v1(seed, ip(s), ip(d), p, ports).as_deref(), Some(want), "{s} {d} {p}");
            // Either direction gives the same id; for ICMP the reply is the other direction.
            let back = match (p, ports) {
                (ICMP, Some((8, 0))) => Some((0, 0)),
                (ICMP6, Some((128, 0))) => Some((129, 0)),
                (_, Some((a, b))) => Some((b, a)),
                (_, None) => None,
            };
            assert_eq!(community_id_v1(seed, ip(d), ip(s), p, back).as_deref(), Some(want), "{d} {s} {p}");
        }
    }

    #[test]
    fn ports_are_required_where_the_protocol_has_them() {
        assert_eq!(community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), TCP, None), None);
        assert_eq!(community_id_v1(0, ip("1.2.3.4"), ip("::1"), UDP, Some((1, 2))), None);
        // A one-way ICMP type (destination unreachable) keeps its direction.
        let a = community_id_v1(0, ip("1.2.3.4"), ip("5.6.7.8"), ICMP, Some((3, 1)));
        let b = community_id_v1(0, ip("5.6.7.8"), ip("1.2.3.4"), ICMP, Some((3, 1)));
        assert!(a.is_some() && a != b);
    }
}
