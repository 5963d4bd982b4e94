//! The memory-mapped classic-pcap reader delivers exactly what libpcap delivers: every capture
//! in `pcaps/`, and hand-made files with the record oddities libpcap has rules for.

use siphon::capture::file::FileSource;
use siphon::harness::read_capture;
use std::io::Write;
use std::path::PathBuf;

fn both(path: &std::path::Path) {
    let mapped = read_capture(FileSource::new(vec![path.to_path_buf()], None));
    let reference = read_capture(FileSource::through_libpcap(vec![path.to_path_buf()], None));
    let (m, r) = (mapped.as_ref().map(|d| (d.0.len(), d.1)), reference.as_ref().map(|d| (d.0.len(), d.1)));
    assert!(mapped == reference, "{}: mapped {m:?} vs libpcap {r:?}", path.display());
}

#[test]
fn every_bundled_capture_reads_the_same_both_ways() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("pcaps/") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            both(&p);
            n += 1;
        }
    }
    assert!(n > 20, "only {n} captures");
}

fn file(
    header_snaplen: u32,
    big: bool,
    nanos: bool,
    records: &[(u32, u32, u32, u32, usize)],
) -> tempfile::NamedTempFile {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut b = Vec::new();
    b.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    b.extend_from_slice(&w16(2));
    b.extend_from_slice(&w16(4));
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&w32(header_snaplen));
    b.extend_from_slice(&w32(1));
    for &(s, f, caplen, wire, present) in records {
        for v in [s, f, caplen, wire] {
            b.extend_from_slice(&w32(v));
        }
        b.extend((0..present).map(|i| (i * 7) as u8));
    }
    let mut t = tempfile::NamedTempFile::new().expect("temp");
    t.write_all(&b).expect("write");
    t
}

#[test]
fn record_oddities_read_the_same_both_ways() {
    let cases: Vec<(&str, tempfile::NamedTempFile)> = vec![
        ("plain", file(65535, false, false, &[(1, 2, 60, 60, 60), (3, 999_999, 100, 1500, 100)])),
        ("big-endian ns", file(65535, true, true, &[(1, 999_999_999, 60, 60, 60), (2, 5, 70, 70, 70)])),
        ("caplen over header snaplen", file(100, false, false, &[(1, 2, 200, 200, 200), (3, 4, 60, 60, 60)])),
        ("snaplen 0", file(0, false, false, &[(1, 2, 200, 200, 200)])),
        ("wire shorter than caplen", file(65535, false, false, &[(1, 2, 300, 100, 300), (2, 2, 60, 60, 60)])),
        ("empty record", file(65535, false, false, &[(1, 2, 0, 0, 0), (2, 2, 60, 60, 60)])),
        ("cut in record header", file(65535, false, false, &[(1, 2, 60, 60, 60)])),
        ("cut in frame", file(65535, false, false, &[(1, 2, 60, 60, 60), (2, 0, 100, 100, 40)])),
        (
            "caplen over the maximum",
            file(65535, false, false, &[(1, 2, 60, 60, 60), (2, 0, 300_000, 300_000, 10)]),
        ),
        ("usec over a second", file(65535, false, false, &[(1, 2_500_000, 60, 60, 60)])),
        ("header only", file(65535, false, false, &[])),
    ];
    for (name, f) in &cases {
        let path = f.path().to_path_buf();
        if *name == "cut in record header" {
            let mut bytes = std::fs::read(&path).expect("read");
            bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
            std::fs::write(&path, bytes).expect("write");
        }
        let mapped = read_capture(FileSource::new(vec![path.clone()], None));
        let reference = read_capture(FileSource::through_libpcap(vec![path.clone()], None));
        let summary = |d: &Option<siphon::harness::CaptureDigest>| {
            d.as_ref()
                .map(|(p, failed)| (p.iter().map(|x| (x.0, x.1, x.2.len())).collect::<Vec<_>>(), *failed))
        };
        assert_eq!(summary(&mapped), summary(&reference), "{name}");
        assert!(mapped == reference, "{name}: bytes differ");
    }
}
