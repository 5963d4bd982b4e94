//! Differential proof of the decode fast path ([`super::fast`]): on every frame of every bundled
//! capture, synthetic mixed traffic, hand-built edge cases (VLAN tags, IPv6, ICMP, IP and TCP
//! options, Ethernet padding, odd UDP lengths), every prefix of those frames, and header bytes
//! mutated at random, `decode` (fast path first) returns exactly what `decode_slow` returns and
//! counts exactly the same anomalies, on every link type.

use super::Anomalies;
use super::packet::{DecodeOptions, LinkType, decode, decode_slow};
use crate::synth::{MixedTraffic, Rng};
use etherparse::{Ipv4Header, PacketBuilder, TcpOptionElement};

/// Runs both decoders on `frame`; panics on any difference. Returns whether the fast path
/// answered by itself.
fn check(link: LinkType, frame: &[u8], opts: &DecodeOptions) -> bool {
    let (mut an_fast, mut an_slow) = (Anomalies::default(), Anomalies::default());
    let fast = decode(link, frame, opts, &mut an_fast);
    let slow = decode_slow(link, frame, opts, &mut an_slow);
    assert_eq!(fast, slow, "{link:?} frame {frame:02x?}");
    assert_eq!(an_fast, an_slow, "{link:?} anomalies, frame {frame:02x?}");
    if let (Some(f), Some(s)) = (fast, slow) {
        // Not only equal bytes: the same bytes of the frame.
        assert_eq!(f.payload.as_ptr(), s.payload.as_ptr(), "{link:?} payload position");
    }
    super::fast::decode(link, frame, opts, &mut Anomalies::default()).is_some()
}

/// `check` on an Ethernet frame and on the same packet under every other link header.
/// Returns whether the fast path answered the Ethernet frame.
fn check_all_links(eth: &[u8], opts: &DecodeOptions) -> bool {
    let taken = check(LinkType::Ethernet, eth, opts);
    if let Some((head, rest)) = eth.split_first_chunk::<14>() {
        let ether_type = [head[12], head[13]];
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        sll.extend_from_slice(&ether_type);
        sll.extend_from_slice(rest);
        check(LinkType::LinuxSll, &sll, opts);
        let mut sll2 = ether_type.to_vec();
        sll2.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        sll2.extend_from_slice(rest);
        check(LinkType::LinuxSll2, &sll2, opts);
        check(LinkType::RawIp, rest, opts);
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(rest);
        check(LinkType::Null, &null, opts);
    }
    check(LinkType::Unsupported(147), eth, opts);
    taken
}

/// Every prefix of `frame`, on every link type.
fn check_prefixes(frame: &[u8], opts: &DecodeOptions) {
    for n in 0..=frame.len() {
        check_all_links(&frame[..n], opts);
    }
}

/// Writes a built frame.
macro_rules! built {
    ($b:expr, $payload:expr) => {{
        let mut out = Vec::new();
        $b.write(&mut out, $payload).expect("built frame");
        out
    }};
}

const A4: [u8; 4] = [10, 1, 2, 3];
const B4: [u8; 4] = [198, 51, 100, 7];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

/// Inserts `words` 4-byte NOP options into the IPv4 header of an untagged Ethernet frame,
/// fixing IHL and total length (the checksum is left stale: neither decoder checks it).
fn with_ip_options(frame: &[u8], words: u8) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[14] = 0x40 | (5 + words);
    let total = u16::from_be_bytes([f[16], f[17]]) + u16::from(words) * 4;
    f[16..18].copy_from_slice(&total.to_be_bytes());
    for _ in 0..words {
        f.splice(34..34, [1, 1, 1, 1]);
    }
    f
}

/// Hand-built frames covering what the fast path takes and each reason it falls back.
fn edge_frames() -> Vec<Vec<u8>> {
    let e = || PacketBuilder::ethernet2(MAC, MAC);
    let body: Vec<u8> = (0..200u8).collect();
    let mut v = vec![
        built!(e().ipv4(A4, B4, 64).tcp(40000, 443, 7, 64240).syn(), &[]),
        built!(e().ipv4(A4, B4, 64).tcp(40000, 443, 7, 64240).psh().ack(9), &body),
        built!(e().ipv4(A4, B4, 64).udp(5353, 53), &body[..40]),
        built!(e().ipv4(A4, B4, 64).udp(5353, 4789), &body), // VXLAN port
        built!(e().ipv4(A4, B4, 64).icmpv4_echo_request(1, 2), &body[..56]),
        built!(e().ipv4(A4, B4, 64).icmpv4_echo_reply(1, 2), &[]),
        built!(e().ipv4(A4, B4, 64).icmpv4_raw(3, 3, [0; 4]), &body[..28]),
        built!(e().ipv4(A4, B4, 64).icmpv4_raw(13, 0, [0, 1, 0, 2]), &[0; 12]), // timestamp
        built!(e().ipv4(A4, B4, 64).icmpv4_raw(14, 0, [0, 1, 0, 2]), &[0; 11]), // bad length
        built!(e().ipv4(A4, B4, 64).icmpv4_raw(13, 1, [0, 1, 0, 2]), &[0; 3]),
        built!(e().ipv6(A6, B6, 64).tcp(40000, 443, 7, 64240).syn(), &[]),
        built!(e().ipv6(A6, B6, 64).tcp(40000, 443, 7, 64240).ack(1), &body),
        built!(e().ipv6(A6, B6, 64).udp(5353, 53), &body[..40]),
        built!(e().ipv6(A6, B6, 64).icmpv6_echo_request(1, 2), &body[..56]),
        built!(e().ipv6(A6, B6, 64).icmpv6_raw(1, 4, [0; 4]), &body[..48]),
        built!(e().single_vlan(0x123.try_into().expect("vlan")).ipv4(A4, B4, 64).tcp(1, 2, 3, 4), &body),
        built!(e().single_vlan(0xfff.try_into().expect("vlan")).ipv6(A6, B6, 9).udp(1, 2), &body),
        built!(
            e().double_vlan(0x10.try_into().expect("vlan"), 0x20.try_into().expect("vlan"))
                .ipv4(A4, B4, 64)
                .udp(1, 2),
            &body
        ),
        built!(
            e().ipv4(A4, B4, 64)
                .tcp(1, 2, 3, 4)
                .options(&[
                    TcpOptionElement::MaximumSegmentSize(1460),
                    TcpOptionElement::WindowScale(7),
                    TcpOptionElement::SelectiveAcknowledgementPermitted,
                ])
                .expect("options"),
            &body[..10]
        ),
    ];
    // 802.1ad and old-QinQ tag types, and a priority in the tag's top bits.
    let tagged = v[15].clone();
    for tpid in [[0x88, 0xa8], [0x91, 0x00]] {
        let mut f = tagged.clone();
        f[12..14].copy_from_slice(&tpid);
        f[14] |= 0xe0;
        v.push(f);
    }
    // IP options of every length.
    for words in 1..=10 {
        v.push(with_ip_options(&v[1], words));
        v.push(with_ip_options(&v[2], words));
    }
    // Ethernet padding after short packets (60-byte minimum frames) and other trailing bytes.
    for i in [0, 2, 4, 5, 10, 12, 13] {
        let mut f = v[i].clone();
        f.extend_from_slice(&[0u8; 30]);
        v.push(f);
    }
    // IPv4 fragments: MF set, an offset, both; DF alone is not a fragment.
    for (b6, b7) in [(0x20, 0), (0, 1), (0x20, 0x10), (0x40, 0), (0x80, 0)] {
        let mut f = v[2].clone();
        f[20] = b6;
        f[21] = b7;
        v.push(f);
    }
    // Version nibble disagreeing with the EtherType, both ways.
    let mut f = v[2].clone();
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    v.push(f);
    let mut f = v[12].clone();
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    v.push(f);
    // IPv4 total length shorter than the header, shorter than the packet, longer than the frame.
    for total in [0u16, 19, 20, 27, 28, 40, 60, 500] {
        let mut f = v[2].clone();
        f[16..18].copy_from_slice(&total.to_be_bytes());
        v.push(f);
    }
    // IPv6 payload length zero, short, long.
    for len in [0u16, 7, 8, 20, 47, 500] {
        let mut f = v[12].clone();
        f[18..20].copy_from_slice(&len.to_be_bytes());
        v.push(f);
    }
    // UDP lengths below 8, short of, equal to and beyond the IP payload.
    for len in [0u16, 7, 8, 9, 30, 48, 49, 1000] {
        let mut f = v[2].clone();
        f[38..40].copy_from_slice(&len.to_be_bytes());
        v.push(f);
        let mut f = v[12].clone();
        f[58..60].copy_from_slice(&len.to_be_bytes());
        v.push(f);
    }
    // TCP data offsets below 5, within and beyond the segment.
    for off in [0u8, 4, 5, 6, 15] {
        let mut f = v[1].clone();
        f[46] = off << 4;
        v.push(f);
    }
    // Protocols the fast path leaves to the slow one: GRE, IP-in-IP, 6in4, AH, IGMP, ICMPv6 in
    // IPv4; in IPv6: hop-by-hop, fragment, ICMPv4, no next header.
    for proto in [47u8, 4, 41, 51, 2, 58, 0, 255] {
        let mut f = v[2].clone();
        f[23] = proto;
        v.push(f);
    }
    for next in [0u8, 43, 44, 60, 1, 59, 4, 41, 47] {
        let mut f = v[12].clone();
        f[20] = next;
        v.push(f);
    }
    // Other IPv4 header lengths and IP versions.
    for b in [0x40u8, 0x44, 0x46, 0x4f, 0x00, 0x50, 0x65, 0xf5] {
        let mut f = v[2].clone();
        f[14] = b;
        v.push(f);
    }
    // ARP and an unknown EtherType.
    for t in [[0x08, 0x06], [0x88, 0xcc], [0x81, 0x00]] {
        let mut f = v[2].clone();
        f[12..14].copy_from_slice(&t);
        v.push(f);
    }
    // A hand-built IPv4 header carrying real options through etherparse's own writer.
    let mut h = Ipv4Header::new(8, 64, etherparse::ip_number::UDP, A4, B4).expect("ipv4");
    h.options = [7u8, 7, 4, 0, 0, 0, 0, 1].as_slice().try_into().expect("options");
    h.total_len = h.header_len() as u16 + 8;
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    h.write(&mut f).expect("header");
    f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    v.push(f);
    v
}

#[test]
fn fast_path_equals_slow_path_on_edge_frames() {
    let opts = DecodeOptions::default();
    let frames = edge_frames();
    let taken = frames.iter().filter(|f| check_all_links(f, &opts)).count();
    for f in &frames {
        check_prefixes(f, &opts);
    }
    // The cases the fast path exists for do take it.
    assert!(taken >= 40, "fast path took only {taken} of {} edge frames", frames.len());
}

#[test]
fn fast_path_takes_the_common_cases() {
    let opts = DecodeOptions::default();
    let frames = edge_frames();
    for (i, f) in frames.iter().enumerate().take(17) {
        let expect = i != 3 && i != 7 && i != 8; // VXLAN port, ICMP timestamps
        assert_eq!(
            super::fast::decode(LinkType::Ethernet, f, &opts, &mut Anomalies::default()).is_some(),
            expect,
            "frame {i}"
        );
    }
}

#[test]
fn fast_path_equals_slow_path_on_mixed_traffic_and_mutations() {
    let opts = DecodeOptions::default();
    let mut g = MixedTraffic::new(3, 500, 1_700_000_000_000_000);
    let mut frame = Vec::new();
    let mut taken = 0;
    let n = 5000;
    let mut rng = Rng::new(99);
    let mut m = Vec::new();
    for i in 0..n {
        g.next_frame(&mut frame);
        if check_all_links(&frame, &opts) {
            taken += 1;
        }
        if i % 100 == 0 {
            check_prefixes(&frame[..frame.len().min(90)], &opts);
        }
        // Damage the headers, where the two paths could disagree.
        for _ in 0..8 {
            m.clear();
            m.extend_from_slice(&frame);
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(m.len().min(70) as u64) as usize;
                m[at] = match rng.below(3) {
                    0 => m[at] ^ (1 << rng.below(8)),
                    1 => rng.next_u64() as u8,
                    _ => [0, 1, 5, 6, 8, 17, 20, 0x20, 0x40, 0x45, 0x60, 0x81, 0xff][rng.below(13) as usize],
                };
            }
            if rng.below(4) == 0 {
                m.truncate(rng.below(m.len() as u64 + 1) as usize);
            }
            check_all_links(&m, &opts);
        }
    }
    assert!(taken * 100 >= n * 95, "fast path took only {taken} of {n} mixed frames");
}

#[test]
fn fast_path_equals_slow_path_on_every_bundled_capture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("pcaps/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".pcap")))
        .collect();
    paths.sort();
    assert!(paths.len() >= 50, "only {} captures", paths.len());
    // VXLAN on its own port and on 8472, so tunnels are both followed and declined.
    let opts = [
        DecodeOptions::default(),
        DecodeOptions { vxlan_ports: vec![8472], max_tunnel_depth: 1, max_vlan_depth: 0 },
    ];
    let (mut frames, mut taken) = (0usize, 0usize);
    for path in &paths {
        let mut cap = pcap::Capture::from_file(path).expect("capture opens");
        let link = LinkType::from_dlt(cap.get_datalink().0);
        while let Ok(p) = cap.next_packet() {
            frames += 1;
            for o in &opts {
                check(link, p.data, o);
            }
            if super::fast::decode(link, p.data, &opts[0], &mut Anomalies::default()).is_some() {
                taken += 1;
            }
            if frames % 50 == 0 {
                for n in 0..p.data.len().min(120) {
                    check(link, &p.data[..n], &opts[0]);
                }
            }
        }
    }
    assert!(frames > 1000, "only {frames} frames");
    assert!(taken * 2 > frames, "fast path took only {taken} of {frames} capture frames");
}
