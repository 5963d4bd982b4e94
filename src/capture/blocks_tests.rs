//! The block reader gives exactly libpcap's packets, truncation and corruption errors.

use super::*;
use crate::capture::file::header_ts;
use std::path::PathBuf;

/// One packet as either reader delivers it.
#[derive(Debug, PartialEq)]
struct Seen {
    ts: Timestamp,
    data: Vec<u8>,
    wire_len: u32,
}

/// libpcap's view: the packets, then how it ended (`None` = cleanly).
fn by_libpcap(path: &Path) -> (Vec<Seen>, Option<String>) {
    let mut cap =
        pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).expect("libpcap opens it");
    let mut out = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => {
                out.push(Seen { ts: header_ts(p.header), data: p.data.to_vec(), wire_len: p.header.len })
            }
            Err(pcap::Error::NoMorePackets) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

/// The block reader's view, through `fill` (as the pipeline reads).
fn by_blocks(path: &Path) -> (Vec<Seen>, Option<CaptureError>) {
    let mut r = BlockReader::open(path).expect("opens").expect("a classic pcap");
    let mut out = Vec::new();
    let mut b = Batch::default();
    loop {
        let res = r.fill(&mut b);
        for m in &b.meta {
            out.push(Seen { ts: m.ts, data: b.frame(m).to_vec(), wire_len: m.wire_len });
        }
        match res {
            Ok(true) => {}
            Ok(false) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// The block reader's view through `read`, a few packets at a time.
fn by_blocks_read(path: &Path) -> (Vec<Seen>, Option<CaptureError>) {
    let mut r = BlockReader::open(path).expect("opens").expect("a classic pcap");
    let mut out = Vec::new();
    loop {
        let res =
            r.read(7, &mut |p| out.push(Seen { ts: p.ts, data: p.data.to_vec(), wire_len: p.wire_len }));
        match res {
            Ok(true) => {}
            Ok(false) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn bundled() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("pcaps/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    v.sort();
    v
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("siphon-blocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn every_bundled_capture_reads_exactly_as_libpcap_reads_it() {
    let files = bundled();
    assert!(files.len() > 20);
    for f in files {
        let (want, end) = by_libpcap(&f);
        assert_eq!(end, None, "{}", f.display());
        let (got, err) = by_blocks(&f);
        assert!(err.is_none(), "{}: {err:?}", f.display());
        assert_eq!(got, want, "{}", f.display());
        let (got, err) = by_blocks_read(&f);
        assert!(err.is_none(), "{}: {err:?}", f.display());
        assert_eq!(got, want, "{}", f.display());
    }
}

/// Builds a classic pcap of `n` records of growing size, some larger than a block.
fn synthetic(n: usize, nanos: bool, big_endian: bool) -> Vec<u8> {
    let w32 = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&w32(262_144));
    f.extend_from_slice(&w32(1));
    for i in 0..n {
        // Mostly small, every 97th record bigger than a block, a few empty.
        let len = match i % 97 {
            0 => MAX_CAPLEN as usize - i % 10,
            5 => 0,
            k => 40 + (k * 37 + i) % 1500,
        };
        f.extend_from_slice(&w32(1_700_000_000 + i as u32));
        f.extend_from_slice(&w32((i as u32 * 7919) % if nanos { 1_000_000_000 } else { 1_000_000 }));
        f.extend_from_slice(&w32(len as u32));
        f.extend_from_slice(&w32(len as u32 + 4));
        f.extend((0..len).map(|k| (k + i) as u8));
    }
    f
}

#[test]
fn byte_orders_precisions_huge_and_empty_records_match_libpcap() {
    for (nanos, be) in [(false, false), (true, false), (false, true), (true, true)] {
        let p = scratch(&format!("syn-{nanos}-{be}.pcap"), &synthetic(600, nanos, be));
        let (want, end) = by_libpcap(&p);
        assert_eq!(end, None);
        assert_eq!(want.len(), 600);
        assert_eq!(by_blocks(&p).0, want, "nanos={nanos} be={be}");
        assert_eq!(by_blocks_read(&p).0, want, "nanos={nanos} be={be}");
    }
}

#[test]
fn more_tiny_records_than_a_batch_holds_carry_over() {
    let mut f = synthetic(0, false, false);
    for i in 0..(3 * BLOCK_PACKETS + 5) as u32 {
        f.extend_from_slice(&i.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&2u32.to_le_bytes());
        f.extend_from_slice(&60u32.to_le_bytes());
        f.extend_from_slice(&[i as u8, 1]);
    }
    let p = scratch("tiny.pcap", &f);
    let (want, _) = by_libpcap(&p);
    let (got, err) = by_blocks(&p);
    assert!(err.is_none());
    assert_eq!(got, want);
}

#[test]
fn a_cut_anywhere_gives_libpcaps_packets_then_a_truncation_error_at_the_record() {
    let whole = synthetic(200, false, false);
    // Cuts inside record headers, inside data, inside a record larger than a block.
    let mut cuts: Vec<usize> = (25..4000).step_by(13).collect();
    // After the first record (larger than a block): cuts across many small records.
    let first_end = 24 + 16 + MAX_CAPLEN as usize;
    cuts.extend((first_end - 20..first_end + 6000).step_by(7));
    cuts.extend([BLOCK_BYTES, BLOCK_BYTES + 17, BLOCK_BYTES + 40, whole.len() - 1, whole.len() - 700]);
    for cut in cuts {
        let p = scratch("cut.pcap", &whole[..cut]);
        let (want, end) = by_libpcap(&p);
        let (got, err) = by_blocks(&p);
        assert_eq!(got, want, "cut at {cut}");
        match (end, err) {
            (None, None) => {}
            (Some(lib), Some(CaptureError::Truncated { offset, packets, reason, .. })) => {
                assert!(lib.contains("truncated"), "{lib}");
                assert_eq!(lib, format!("libpcap error: {reason}"), "cut at {cut}");
                assert_eq!(packets, want.len() as u64);
                // The offset is where the cut record starts.
                let consumed: u64 = 24 + want.iter().map(|s| 16 + s.data.len() as u64).sum::<u64>();
                assert_eq!(offset, consumed, "cut at {cut}");
            }
            (lib, ours) => panic!("cut at {cut}: libpcap {lib:?}, blocks {ours:?}"),
        }
    }
}

#[test]
fn an_impossible_record_length_stops_after_the_good_packets_naming_the_offset() {
    let mut f = synthetic(10, false, false);
    let good = by_libpcap(&scratch("good.pcap", &f)).0.len();
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    f.extend_from_slice(&60u32.to_le_bytes());
    f.extend_from_slice(&[0; 64]);
    let p = scratch("bad.pcap", &f);
    let (want, end) = by_libpcap(&p);
    assert_eq!(want.len(), good);
    assert!(end.is_some_and(|e| e.contains("invalid packet capture length")));
    let (got, err) = by_blocks(&p);
    assert_eq!(got, want);
    let msg = err.expect("an error").to_string();
    assert!(msg.contains("invalid packet capture length") && msg.contains("byte offset"), "{msg}");
}

#[test]
fn records_beyond_the_files_snaplen_are_cut_to_it_as_libpcap_does() {
    let mut f = synthetic(0, false, false);
    f[16..20].copy_from_slice(&100u32.to_le_bytes());
    for len in [60u32, 100, 101, 1500] {
        f.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend((0..len).map(|k| k as u8));
    }
    let p = scratch("snap.pcap", &f);
    let (want, end) = by_libpcap(&p);
    assert_eq!(end, None);
    assert_eq!(by_blocks(&p).0, want);
}

#[test]
fn pcapng_stdin_and_other_variants_are_left_to_libpcap() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    assert!(BlockReader::open(&dir.join("fmt_dig_loop.pcapng")).expect("opens").is_none());
    let mut old = synthetic(1, false, false);
    old[6] = 3; // version 2.3
    assert!(BlockReader::open(&scratch("v23.pcap", &old)).expect("opens").is_none());
    assert!(BlockReader::open(&scratch("empty.pcap", &[])).expect("opens").is_none());
    assert!(BlockReader::open(Path::new("/dev/null")).expect("opens").is_none());
    assert!(matches!(BlockReader::open(Path::new("/nonexistent/x.pcap")), Err(CaptureError::Open { .. })));
}

#[test]
fn out_of_range_time_fractions_read_as_libpcap_reads_them() {
    for nanos in [false, true] {
        let mut f = synthetic(0, nanos, false);
        for frac in [999_999u32, 1_000_000, 5_000_000, i32::MAX as u32, 1 << 31, 4_000_000_000, u32::MAX] {
            f.extend_from_slice(&1000u32.to_le_bytes());
            f.extend_from_slice(&frac.to_le_bytes());
            f.extend_from_slice(&14u32.to_le_bytes());
            f.extend_from_slice(&14u32.to_le_bytes());
            f.extend_from_slice(&[0; 14]);
        }
        let p = scratch(&format!("frac-{nanos}.pcap"), &f);
        let (want, _) = by_libpcap(&p);
        assert_eq!(want.len(), 7);
        assert_eq!(by_blocks(&p).0, want, "nanos={nanos}");
    }
}

/// Regression (fuzz smoke, `capture_file`): a sub-second field of 2^31 or more (here the
/// magic number itself, 0xA1B2C3D4) is read by libpcap as unsigned in a file of the other byte
/// order and as signed in one of the host's; the block reader once zeroed it in both, so the
/// two readers disagreed on big-endian files and the harness panicked at random in CI.
#[test]
fn a_sub_second_field_of_2_31_or_more_reads_as_libpcap_reads_it() {
    for (nanos, be) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut f = synthetic(0, nanos, be);
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        for frac in [0x8000_0000u32, 0xA1B2_C3D4, u32::MAX, 999_999, 1_000_000_000] {
            f.extend_from_slice(&w32(1_700_000_000));
            f.extend_from_slice(&w32(frac));
            f.extend_from_slice(&w32(4));
            f.extend_from_slice(&w32(60));
            f.extend_from_slice(&[1, 2, 3, 4]);
        }
        let p = scratch(&format!("frac-{nanos}-{be}.pcap"), &f);
        let (want, end) = by_libpcap(&p);
        assert_eq!(end, None);
        assert_eq!(want.len(), 5);
        assert_eq!(by_blocks(&p).0, want, "nanos={nanos} be={be}");
        assert_eq!(by_blocks_read(&p).0, want, "nanos={nanos} be={be}");
    }
}
