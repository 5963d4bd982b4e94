//! Entry points for the fuzz targets in `fuzz/` (and their replay test): each takes arbitrary
//! bytes and drives one parser, or the whole worker, the way hostile traffic would. None may
//! panic or hang on any input.

use crate::config::Config;
use crate::decode::packet::DecodeOptions;
use crate::decode::{self, Anomalies, LinkType, app, dns, http, tls, tunnel};
use crate::time::Timestamp;
use crate::worker::Worker;

mod fragments;
pub use fragments::fragment_sequence;
pub use fragments::seeds as fragment_seeds;

/// Link types in the order the first input byte selects them.
const LINKS: [LinkType; 5] =
    [LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null];

/// The whole decode path (link, IP, transport, tunnels, ICMP echo and error quotes, probe
/// classification): first byte picks the link type. Also checks that the decode fast path
/// changes nothing: the lax slow path alone must give the same packet and the same anomalies
/// (the one deliberate panic here, so the fuzzer reports any difference as a crash).
pub fn decode_frame(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else { return };
    let opts = DecodeOptions { vxlan_ports: vec![4789, 8472], max_tunnel_depth: 8, max_vlan_depth: 6 };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    let mut an = Anomalies::default();
    let decoded = decode::decode(link, frame, &opts, &mut an);
    let mut an_slow = Anomalies::default();
    let slow = decode::packet::decode_slow(link, frame, &opts, &mut an_slow);
    assert_eq!(decoded, slow, "fast and slow decode differ on {link:?} {frame:02x?}");
    assert_eq!(an, an_slow, "fast and slow decode count different anomalies on {link:?} {frame:02x?}");
    if let Some(d) = decoded {
        std::hint::black_box(d.ports());
        if let Some(e) = decode::icmp::echo(&d) {
            std::hint::black_box(e);
        }
        std::hint::black_box(decode::icmp::error(&d));
        std::hint::black_box(crate::detect::scan::probe::classify(&d));
    }
}

/// Encapsulation headers alone.
pub fn tunnels(data: &[u8]) {
    let _ = std::hint::black_box(tunnel::gre(data));
    let _ = std::hint::black_box(tunnel::vxlan(data));
}

/// A DNS message over UDP, and the same bytes as a TCP segment of length-prefixed messages.
pub fn dns_message(data: &[u8]) {
    if let Ok(mut m) = dns::parse(data) {
        std::hint::black_box(m.qname.registrable());
        m.qname.cache_registrable();
        std::hint::black_box(m.qname.registrable());
        std::hint::black_box(m.qname.to_lossy_string());
        std::hint::black_box(crate::detect::dns_tunnel::figures(m.qname.as_bytes()));
    }
    for m in dns::tcp_messages(data) {
        let _ = std::hint::black_box(dns::parse(m));
    }
}

/// A TLS record that may be a ClientHello.
pub fn tls_client_hello(data: &[u8]) {
    let _ = std::hint::black_box(tls::parse_client_hello(data));
}

/// An HTTP request line and headers, the payload classifier, and the proxy, miner and Tor
/// recognisers of the proxyware detector (all read first payloads).
pub fn http_request(data: &[u8]) {
    use crate::detect::proxyware::wire;
    std::hint::black_box(http::parse_request(data));
    std::hint::black_box(app::classify_client(data, data.first().is_some_and(|b| b & 1 == 1)));
    std::hint::black_box(app::classify_server(data));
    std::hint::black_box(wire::socks5_greeting(data));
    std::hint::black_box(wire::socks5_method_reply(data));
    std::hint::black_box(wire::socks5_request(data).map(|(c, t)| (c, t.to_string())));
    std::hint::black_box(wire::socks4_request(data).map(|(c, t)| (c, t.to_string())));
    std::hint::black_box(wire::socks4_reply(data));
    std::hint::black_box(crate::decode::app::http_status(data));
    std::hint::black_box(wire::stratum_method(data));
    std::hint::black_box(wire::stratum_agent(data));
    std::hint::black_box(wire::tor_like_sni(data));
    std::hint::black_box(wire::host_part(data));
}

/// A packet sequence through the whole worker (flows, app layer, every detector): the input is
/// split into frames by a 2-byte length prefix; each frame's first byte advances packet time.
pub fn packet_sequence(data: &[u8]) {
    // The config is the same for every input: built once, so each input pays only for its
    // own fresh worker (state never carries from one input to the next).
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut c = Config::default();
        c.flow.max_flows = 64;
        c
    });
    let mut w = Worker::new(config);
    let mut rest = data;
    let mut t = 1_700_000_000u64 * 1_000_000_000;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 2048;
        let step = u64::from(rest[2]);
        let body = &rest[3..];
        let frame = &body[..len.min(body.len())];
        rest = &body[frame.len()..];
        t += step * step * 10_000_000;
        w.process(Timestamp(t), LinkType::Ethernet, frame, frame.len() as u32, &mut |a| {
            std::hint::black_box(a);
        });
    }
    w.finish(&mut |a| {
        std::hint::black_box(a);
    });
}

/// Capture records: the bytes as a capture file (pcap or pcapng, any record damage), each
/// packet then decoded. Where siphon reads the file in blocks (classic pcap), it must deliver
/// exactly the packets libpcap delivers, and end cleanly exactly when libpcap does.
pub fn capture_file(data: &[u8]) {
    use crate::capture::PacketSource;
    use std::io::Write;
    // SAFETY: memfd_create with a valid NUL-terminated name; the fd is owned and closed below.
    let fd = unsafe { libc::memfd_create(c"siphon-fuzz".as_ptr(), 0) };
    if fd < 0 {
        return;
    }
    // SAFETY: `fd` is a fresh descriptor we own; File takes ownership and closes it.
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    if file.write_all(data).is_err() {
        return;
    }
    let path = std::path::PathBuf::from(format!("/proc/self/fd/{fd}"));
    let blocks = matches!(crate::capture::blocks::BlockReader::open(&path), Ok(Some(_)));
    let mut ours = Vec::new();
    let mut ours_clean = false;
    if let Ok(mut src) = crate::capture::file::FileSource::new(vec![path.clone()], None) {
        let opts = DecodeOptions::default();
        let mut an = Anomalies::default();
        let res = src.read(100_000, &mut |p| {
            std::hint::black_box(decode::decode(p.link, p.data, &opts, &mut an));
            if blocks {
                ours.push((p.ts, p.data.to_vec(), p.wire_len));
            }
        });
        ours_clean = matches!(res, Ok(false));
    }
    if blocks && let Ok(mut cap) = pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano) {
        let mut theirs = Vec::new();
        let theirs_clean = loop {
            match cap.next_packet() {
                Ok(p) if theirs.len() < 100_000 => {
                    theirs.push((crate::capture::file::header_ts(p.header), p.data.to_vec(), p.header.len));
                }
                Ok(_) => break false,
                Err(pcap::Error::NoMorePackets) => break true,
                Err(_) => break false,
            }
        };
        if let Some(k) = (0..ours.len().max(theirs.len())).find(|&k| ours.get(k) != theirs.get(k)) {
            let brief = |p: Option<&(crate::time::Timestamp, Vec<u8>, u32)>| {
                p.map(|(ts, d, w)| format!("ts {} caplen {} wire {w}", ts.0, d.len()))
            };
            panic!(
                "block reader and libpcap disagree at packet {k}: {:?} vs {:?} ({} vs {} packets)",
                brief(ours.get(k)),
                brief(theirs.get(k)),
                ours.len(),
                theirs.len()
            );
        }
        if ours.len() < 100_000 {
            assert_eq!(ours_clean, theirs_clean, "one reader ended cleanly, the other did not");
        }
    }
    drop(file);
}

/// Seed inputs for each target, taken from real captures.
#[derive(Debug, Default)]
pub struct Seeds {
    /// `decode_frame`: a link selector byte, then a frame.
    pub decode_frame: Vec<Vec<u8>>,
    /// `tunnels`: IP payloads of GRE packets and UDP payloads on VXLAN ports.
    pub tunnels: Vec<Vec<u8>>,
    /// `dns_message`: DNS payloads (UDP, and TCP segments with length prefixes).
    pub dns_message: Vec<Vec<u8>>,
    /// `tls_client_hello`: TCP payloads that start a TLS handshake.
    pub tls_client_hello: Vec<Vec<u8>>,
    /// `http_request`: TCP payloads that start an HTTP request, and other first payloads.
    pub http_request: Vec<Vec<u8>>,
    /// `packet_sequence`: runs of consecutive frames, length-prefixed.
    pub packet_sequence: Vec<Vec<u8>>,
    /// `capture_file`: whole small capture files and heads of bigger ones.
    pub capture_file: Vec<Vec<u8>>,
    /// `fragment_sequence`: synthetic fragment sequences (see [`fragment_sequence`]).
    pub fragment_sequence: Vec<Vec<u8>>,
    /// `netflow_exports`: the export packets of the NetFlow/IPFIX captures, as sequences (see
    /// [`netflow_exports`]), in their order and with the templates last.
    pub netflow_exports: Vec<Vec<u8>>,
}

/// Export packets as one [`netflow_exports`] input: each one's length (u16), exporter (u8).
fn export_sequence(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        out.extend_from_slice(&(p.len().min(65_535) as u16).to_be_bytes());
        out.push(0);
        out.extend_from_slice(&p[..p.len().min(65_535)]);
    }
    out
}

/// NetFlow v5/v9 and IPFIX export packets through the collector (`netflow_parser` with
/// siphon's caps, small here so floods hit them) and their records through a worker's flow
/// table and every detector. Input: packets, each a length (u16), an exporter number (u8: four
/// exporters, two observation domains each in the packets' own headers) and the bytes —
/// templates in any order, lying lengths, template floods. The caps must hold: templates per
/// exporter, exporters, waiting data; and the fast path must read what the crate reads.
pub fn netflow_exports(data: &[u8]) {
    use crate::capture::netflow::Collector;
    let cfg = crate::config::NetflowConfig {
        max_templates: 4,
        max_pending: 8,
        max_exporters: 4,
        ..crate::config::NetflowConfig::default()
    };
    let Ok(mut c) = Collector::new(&cfg) else { return };
    // The model: the same collector with every packet through netflow_parser. The fast path
    // (learned fixed-length templates read in place) must give the same records.
    let Ok(mut model) = Collector::new(&cfg) else { return };
    model.set_fast_path(false);
    let config = Config::default();
    let mut w = Worker::new(&config);
    let (mut records, mut expected) = (Vec::new(), Vec::new());
    let mut rest = data;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let from = std::net::SocketAddr::from(([192, 0, 2, rest[2] % 4], 2055));
        let body = rest.get(3..3 + len).unwrap_or(&rest[3..]);
        c.decode(from, body, &mut records);
        model.decode(from, body, &mut expected);
        assert_eq!(records, expected, "the fast path and netflow_parser disagree");
        expected.clear();
        rest = rest.get(3 + len..).unwrap_or(&[]);
        for r in records.drain(..) {
            w.process_record(&r, &mut |_| {});
        }
    }
    c.refresh_stats();
    // Per exporter: v9 keeps 2 template caches, IPFIX 4, each capped; at most 4 exporters per
    // protocol scope.
    assert!(c.stats.templates <= 4 * 6 * 8, "template cap broken: {:?}", c.stats);
    assert!(c.stats.exporters <= 4, "exporter cap broken: {:?}", c.stats);
    w.finish(&mut |_| {});
}

/// Extracts seeds from every `*.pcap`/`*.pcapng` in `dir` (at most `per_file` of each kind).
pub fn seeds(dir: &std::path::Path, per_file: usize) -> Seeds {
    use crate::capture::PacketSource;
    let mut s = Seeds { fragment_sequence: fragments::seeds(), ..Seeds::default() };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    paths.sort();
    let opts = DecodeOptions::default();
    for path in paths {
        if let Ok(bytes) = std::fs::read(&path) {
            s.capture_file.push(bytes[..bytes.len().min(8192)].to_vec());
        }
        let Ok(mut src) = crate::capture::file::FileSource::new(vec![path], None) else { continue };
        let mut an = Anomalies::default();
        let (mut frames, mut dnsn, mut tlsn, mut httpn, mut tun) = (0, 0, 0, 0, 0);
        let mut seq = Vec::new();
        let mut exports: Vec<Vec<u8>> = Vec::new();
        let _ = src.read(usize::MAX, &mut |p| {
            if frames < per_file {
                let mut f = vec![0u8];
                f.extend_from_slice(p.data);
                s.decode_frame.push(f);
                frames += 1;
            }
            if seq.len() < 40 * 1600 {
                seq.extend_from_slice(&(p.data.len() as u16).to_be_bytes());
                seq.push(1);
                seq.extend_from_slice(p.data);
            }
            let Some(d) = decode::decode(p.link, p.data, &opts, &mut an) else { return };
            if d.tunnel.is_some() && tun < per_file {
                tun += 1;
            }
            let (sp, dp) = d.ports();
            let pl = d.payload;
            if pl.is_empty() {
                return;
            }
            if matches!(dp, 2055 | 4739 | 9995 | 9996) && exports.len() < 64 {
                exports.push(pl.to_vec());
            }
            if (sp == 53 || dp == 53 || sp == 5353 || dp == 5353) && dnsn < per_file {
                s.dns_message.push(pl.to_vec());
                dnsn += 1;
            }
            if pl[0] == 0x16 && tlsn < per_file {
                s.tls_client_hello.push(pl.to_vec());
                tlsn += 1;
            }
            if httpn < per_file && (http::starts_like_request(pl) || pl.len() < 512) {
                s.http_request.push(pl.to_vec());
                httpn += 1;
            }
        });
        if !seq.is_empty() {
            s.packet_sequence.push(seq);
        }
        if !exports.is_empty() {
            s.netflow_exports.push(export_sequence(&exports));
            exports.rotate_left(1);
            s.netflow_exports.push(export_sequence(&exports));
        }
    }
    // Encapsulations are built from frames the captures carry, so seeds exist without mirrors.
    for f in s.decode_frame.iter().take(64) {
        let inner = &f[1..];
        let mut gre = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1, 0x10, 0x0a, 0x01, 0x23, 0, 0, 0, 0];
        gre.extend_from_slice(inner);
        s.tunnels.push(gre);
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(inner);
        s.tunnels.push(vx);
    }
    s
}
