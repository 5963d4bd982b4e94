//! What a flow's first packet says about its sender: is it a probe, of which technique, crafted
//! by a scanner rather than sent by an operating system's stack, and by which tool.
//!
//! Pure functions over a decoded packet. The fingerprints are the tools' own constants:
//! nmap's raw SYN carries only an MSS option and a window of 1024-4096 (`tcp.cc`); masscan sets
//! the IP id to `dst ^ dport ^ seq` (`templ-pkt.c`); zmap uses IP id 54321. Operating systems
//! Mirai's scanner sets the sequence number to the target address (`scanner.c`). Operating
//! systems always send MSS plus SACK/timestamps/window scale and a window in the tens of
//! thousands.

use crate::decode::packet::tcp_flags::{ACK, FIN, PSH, RST, SYN, URG};
use crate::decode::{Decoded, L4};
use std::net::IpAddr;

/// Probe techniques, as they appear in the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Half-open SYN from a raw socket (nmap -sS, masscan, zmap).
    Syn,
    /// SYN from the operating system's stack (nmap -sT, curl/nc loops, malware using connect()).
    Connect,
    /// FIN alone (nmap -sF).
    Fin,
    /// No flags (nmap -sN).
    Null,
    /// FIN+PSH+URG (nmap -sX).
    Xmas,
    /// Any other flag set no stack opens with (SYN+FIN, PSH alone, ...).
    OddFlags,
    /// A bare ACK on no known connection (nmap -sA/-sW, nmap's ACK-80 ping).
    Ack,
    /// A UDP datagram opening a flow.
    Udp,
    /// ICMP/ICMPv6 echo request.
    IcmpEcho,
    /// ICMP timestamp, address-mask or information request, ICMPv6 node-information query.
    IcmpProbe,
    /// A packet of another IP protocol (nmap -sO walks all 256); the target's port is 0.
    IpProto,
}

impl Kind {
    /// Every kind, in evidence order.
    pub(crate) const ALL: [Kind; 11] = [
        Kind::Syn,
        Kind::Connect,
        Kind::Fin,
        Kind::Null,
        Kind::Xmas,
        Kind::OddFlags,
        Kind::Ack,
        Kind::Udp,
        Kind::IcmpEcho,
        Kind::IcmpProbe,
        Kind::IpProto,
    ];

    /// Name in the evidence (`technique`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Syn => "syn",
            Kind::Connect => "connect",
            Kind::Fin => "fin",
            Kind::Null => "null",
            Kind::Xmas => "xmas",
            Kind::OddFlags => "odd_flags",
            Kind::Ack => "ack",
            Kind::Udp => "udp",
            Kind::IcmpEcho => "icmp_sweep",
            Kind::IcmpProbe => "icmp_probe",
            Kind::IpProto => "ip_protocol",
        }
    }

    /// Index into per-kind tallies.
    pub(crate) fn idx(self) -> usize {
        self as usize
    }

    /// The probe fails whatever the answer: no legitimate opener looks like this.
    pub(crate) fn definite(self) -> bool {
        matches!(self, Kind::Fin | Kind::Null | Kind::Xmas | Kind::OddFlags | Kind::IcmpProbe)
    }

    /// A port-scanning technique (as opposed to host discovery: echo, ACK ping, timestamp).
    pub(crate) fn port_scan(self) -> bool {
        !matches!(self, Kind::Ack | Kind::IcmpEcho | Kind::IcmpProbe)
    }
}

/// Scanner tools recognised by their packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// nmap's raw packets.
    Nmap,
    /// masscan.
    Masscan,
    /// zmap.
    Zmap,
    /// Mirai and its descendants (telnet scanners of IoT botnets).
    Mirai,
}

impl Tool {
    /// Every tool, in evidence order.
    pub(crate) const ALL: [Tool; 4] = [Tool::Nmap, Tool::Masscan, Tool::Zmap, Tool::Mirai];
    /// Name in the evidence.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Nmap => "nmap",
            Tool::Masscan => "masscan",
            Tool::Zmap => "zmap",
            Tool::Mirai => "mirai",
        }
    }
}

/// A classified probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    /// Technique.
    pub kind: Kind,
    /// No operating-system stack sends this packet.
    pub crafted: bool,
    /// The tool that sent it, when its fingerprint is unmistakable.
    pub tool: Option<Tool>,
    /// IP protocol of the target.
    pub proto: u8,
    /// Target port (TCP/UDP) or ICMP request type (8 or 128 for echo).
    pub port: u16,
}

/// Windows nmap's raw TCP probes use.
const NMAP_WINDOWS: [u16; 4] = [1024, 2048, 3072, 4096];

/// UDP ports whose traffic is one-way by design (syslog, SNMP traps, NetFlow/IPFIX/sFlow,
/// statsd, GELF, collectd): silence there is no failure.
pub(crate) const UDP_ONE_WAY: [u16; 10] = [514, 162, 2055, 4739, 6343, 9995, 9996, 8125, 12201, 25826];

/// Service ports above 1023 that scanners sweep (databases, remote desktop, proxies, web
/// alternates, container and cache APIs). With the ports below 1024 they are the targets the
/// block walk counts failures on; peer-to-peer clients failing on random high ports stay out.
pub(crate) const SERVICE_PORTS: [u16; 48] = [
    1025, 1080, 1433, 1521, 1723, 1883, 2049, 2082, 2083, 2181, 2375, 2376, 3000, 3128, 3306, 3389, 4443,
    4444, 5000, 5060, 5432, 5555, 5601, 5672, 5900, 5984, 6000, 6379, 6443, 7001, 8000, 8008, 8009, 8080,
    8081, 8088, 8443, 8888, 9000, 9090, 9100, 9200, 9300, 10000, 11211, 27017, 50000, 49152,
];

/// IP protocols other than TCP/UDP/ICMP that hosts speak (IGMP, IP-in-IP, 6in4, GRE, ESP, AH,
/// OSPF, PIM, VRRP, L2TP, SCTP, UDP-Lite): a first packet of one is plain, of any other crafted.
const PLAIN_PROTOCOLS: [u8; 12] = [2, 4, 41, 47, 50, 51, 89, 103, 112, 115, 132, 136];

/// An IP protocol an operating system or a tunnel sends on its own.
pub(crate) fn plain_protocol(proto: u8) -> bool {
    PLAIN_PROTOCOLS.contains(&proto)
}

/// A port scanners target and ordinary clients rarely fail on.
pub(crate) fn service_port(port: u16) -> bool {
    port < 1024 || SERVICE_PORTS.contains(&port)
}

/// Classic traceroute's UDP port range: refused on purpose at the last hop, never a probe.
pub(crate) const TRACEROUTE_PORTS: std::ops::RangeInclusive<u16> = 33434..=33534;

fn tcp_tool(d: &Decoded<'_>, dport: u16, seq: u32, window: u16, header_len: u8, syn: bool) -> Option<Tool> {
    // Each test is a 16- or 32-bit coincidence for an ordinary packet; the evidence names a tool
    // only when most of a source's probes carry its mark.
    if let IpAddr::V4(dst) = d.dst {
        let masscan = (u32::from(dst) ^ u32::from(dport) ^ seq) as u16;
        if d.ip_id == masscan {
            return Some(Tool::Masscan);
        }
        if d.ip_id == 54321 && window == 65535 {
            return Some(Tool::Zmap);
        }
        if syn && seq == u32::from(dst) {
            return Some(Tool::Mirai);
        }
    }
    let nmap_len = if syn { 24 } else { 20 };
    (header_len == nmap_len && NMAP_WINDOWS.contains(&window)).then_some(Tool::Nmap)
}

/// The probe `d` is, if it opens a flow the way a scanner's probe does. `None` for answers
/// (SYN-ACK, RST, echo reply, ICMP errors) and for mid-stream packets carrying data.
#[inline]
pub(crate) fn classify(d: &Decoded<'_>) -> Option<Probe> {
    match d.l4 {
        L4::Tcp(t) => {
            let f = t.flags;
            if f & RST != 0 {
                return None;
            }
            let syn = f & SYN != 0;
            let kind = if f & ACK != 0 {
                // SYN-ACK is an answer; ACK with data or FIN is a connection seen mid-way.
                if syn || f & FIN != 0 || !d.payload.is_empty() || d.payload_wire_len > 0 {
                    return None;
                }
                Kind::Ack
            } else if syn {
                if f & FIN != 0 { Kind::OddFlags } else { Kind::Syn }
            } else {
                match f & (FIN | PSH | URG) {
                    0 if f == 0 => Kind::Null,
                    x if x == FIN && f == FIN => Kind::Fin,
                    x if x == FIN | PSH | URG && f == x => Kind::Xmas,
                    _ => Kind::OddFlags,
                }
            };
            let tool = tcp_tool(d, t.dport, t.seq, t.window, t.header_len, kind == Kind::Syn);
            let (kind, crafted) = match kind {
                Kind::Syn => {
                    let raw = t.header_len <= 20 || tool.is_some();
                    (if raw { Kind::Syn } else { Kind::Connect }, raw)
                }
                Kind::Ack => (Kind::Ack, tool.is_some()),
                k => (k, true),
            };
            Some(Probe { kind, crafted, tool, proto: d.ip_proto, port: t.dport })
        }
        L4::Udp { dport, .. } => {
            if TRACEROUTE_PORTS.contains(&dport) {
                return None;
            }
            let empty = d.payload_wire_len == 0;
            Some(Probe { kind: Kind::Udp, crafted: empty, tool: None, proto: d.ip_proto, port: dport })
        }
        L4::Icmp(i) => {
            let kind = match (i.v6, i.icmp_type) {
                (false, 8) | (true, 128) => Kind::IcmpEcho,
                (false, 13 | 15 | 17) | (true, 139) => Kind::IcmpProbe,
                _ => return None,
            };
            // OS ping sends 56 (Linux, BSD) or 32 (Windows) bytes; scanners send none.
            let crafted = kind == Kind::IcmpProbe || d.payload_wire_len == 0;
            Some(Probe { kind, crafted, tool: None, proto: d.ip_proto, port: u16::from(i.icmp_type) })
        }
        // Raw IP of another protocol (nmap -sO); TCP/UDP/ICMP too short to decode are no probe.
        L4::Other if matches!(d.ip_proto, 1 | 6 | 17 | 58) => None,
        L4::Other => Some(Probe {
            kind: Kind::IpProto,
            crafted: !plain_protocol(d.ip_proto),
            tool: None,
            proto: d.ip_proto,
            port: 0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Anomalies, LinkType, decode, packet::DecodeOptions};
    use etherparse::PacketBuilder;

    fn tcp(
        flags: u8,
        window: u16,
        opts: &[etherparse::TcpOptionElement],
        ip_id: u16,
        seq: u32,
    ) -> Option<Probe> {
        let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 99, 0, 31], [203, 0, 113, 11], 50)
            .tcp(49562, 443, seq, window);
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & FIN != 0 {
            b = b.fin();
        }
        if flags & PSH != 0 {
            b = b.psh();
        }
        if flags & URG != 0 {
            b = b.urg(0);
        }
        if flags & ACK != 0 {
            b = b.ack(1);
        }
        let b = b.options(opts).unwrap();
        let mut f = Vec::new();
        b.write(&mut f, &[]).unwrap();
        // IP id lives at bytes 18..20 of the frame (checksums are not verified by decode).
        f[18..20].copy_from_slice(&ip_id.to_be_bytes());
        let mut an = Anomalies::default();
        let d = decode(LinkType::Ethernet, &f, &DecodeOptions::default(), &mut an).unwrap();
        classify(&d)
    }

    use etherparse::TcpOptionElement::{
        MaximumSegmentSize as Mss, Noop, SelectiveAcknowledgementPermitted as Sack, Timestamp as Ts,
        WindowScale as Ws,
    };

    #[test]
    fn nmap_raw_syn_is_crafted_os_syn_is_connect() {
        // scan_nmap_sS.pcap: window 1024, MSS 1460 only.
        let p = tcp(SYN, 1024, &[Mss(1460)], 0xcf97, 7).unwrap();
        assert_eq!((p.kind, p.crafted, p.tool), (Kind::Syn, true, Some(Tool::Nmap)));
        // scan_nmap_sT.pcap / curl: Linux's SYN, window 64240, MSS SACK TS NOP WS.
        let p = tcp(SYN, 64240, &[Mss(1460), Sack, Ts(1, 0), Noop, Ws(10)], 0x3594, 7).unwrap();
        assert_eq!((p.kind, p.crafted, p.tool), (Kind::Connect, false, None));
    }

    #[test]
    fn masscan_and_zmap_fingerprints() {
        // masscan: ip.id == (dst ^ dport ^ seq) & 0xffff, no options.
        let seq = 0x1234_5678u32;
        let id = (u32::from(std::net::Ipv4Addr::new(203, 0, 113, 11)) ^ 443 ^ seq) as u16;
        let p = tcp(SYN, 1024, &[], id, seq).unwrap();
        assert_eq!((p.kind, p.crafted, p.tool), (Kind::Syn, true, Some(Tool::Masscan)));
        let p = tcp(SYN, 65535, &[], 54321, seq).unwrap();
        assert_eq!(p.tool, Some(Tool::Zmap));
        let p = tcp(SYN, 14600, &[], 1, u32::from(std::net::Ipv4Addr::new(203, 0, 113, 11))).unwrap();
        assert_eq!((p.kind, p.tool), (Kind::Syn, Some(Tool::Mirai)));
    }

    fn raw_ip(proto: u8) -> Option<Probe> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 99, 0, 167], [203, 0, 113, 83], 50)
            .write(&mut f, etherparse::IpNumber(proto), &[])
            .unwrap();
        let mut an = Anomalies::default();
        let d = decode(LinkType::Ethernet, &f, &DecodeOptions::default(), &mut an).unwrap();
        classify(&d)
    }

    #[test]
    fn other_ip_protocols_are_probes_crafted_unless_hosts_speak_them() {
        // scan_ipproto.pcap: nmap -sO sends empty datagrams of protocol 0-255.
        let p = raw_ip(77).unwrap();
        assert_eq!((p.kind, p.crafted, p.proto, p.port), (Kind::IpProto, true, 77, 0));
        let esp = raw_ip(50).unwrap();
        assert_eq!((esp.kind, esp.crafted), (Kind::IpProto, false), "ESP is a tunnel, not a probe tool");
        assert!(Kind::IpProto.port_scan() && !Kind::IpProto.definite());
    }

    #[test]
    fn stealth_flags_and_answers() {
        assert_eq!(tcp(FIN, 1024, &[], 1, 1).unwrap().kind, Kind::Fin);
        assert_eq!(tcp(0, 1024, &[], 1, 1).unwrap().kind, Kind::Null);
        assert_eq!(tcp(FIN | PSH | URG, 1024, &[], 1, 1).unwrap().kind, Kind::Xmas);
        assert_eq!(tcp(SYN | FIN, 1024, &[], 1, 1).unwrap().kind, Kind::OddFlags);
        assert!(tcp(FIN, 1024, &[], 1, 1).unwrap().kind.definite());
        let ack = tcp(ACK, 1024, &[], 1, 1).unwrap();
        assert_eq!((ack.kind, ack.crafted), (Kind::Ack, true));
        assert!(tcp(SYN | ACK, 64240, &[Mss(1460)], 1, 1).is_none(), "SYN-ACK answers");
        assert!(tcp(FIN | ACK, 501, &[], 1, 1).is_none(), "a close seen mid-way");
    }
}
