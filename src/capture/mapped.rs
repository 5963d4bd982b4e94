//! Classic pcap files read in place from a memory map.
//!
//! Reading a file through libpcap costs a `read()` copy into libpcap's buffer and then a second
//! copy into siphon's batch, which together cost more than analysing the packet. A classic
//! pcap file (the format every tool writes by default) is a 24-byte header and then records of
//! a 16-byte header and the frame, so it is read here straight from a shared memory map: batches
//! hold a reference to the mapping and the frames' offsets, and no packet byte is copied.
//!
//! Only what is plainly classic pcap is read this way (version 2.x, µs or ns magic, either
//! byte order); pcapng, stdin, BPF-filtered reads and anything unusual go through libpcap.
//! The record checks follow libpcap's (`sf-pcap.c`), with the same messages.
//!
//! Caveat of mapping: a file shortened by another process while siphon reads it raises SIGBUS.
//! Capture files handed over for analysis are not written to while read; for a file still
//! being written, read it from stdin (`siphon -r - < file`), which goes through libpcap.

use super::{Mapped, RawPacket};
use crate::decode::LinkType;
use crate::time::Timestamp;
use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::sync::Arc;

/// Largest captured length libpcap accepts in a record (`MAXIMUM_SNAPLEN`).
const MAXIMUM_SNAPLEN: u32 = 262_144;
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: u64 = 16;
/// Bytes mapped at a time. A window is unmapped once the last batch referring to it is done, so
/// the file's pages count in siphon's RSS only a few windows at a time, never the whole file.
const WINDOW: u64 = 2 << 20;
const PAGE: u64 = 4096;

/// A classic pcap file, mapped into memory a window at a time.
pub struct MappedPcap {
    file: File,
    len: u64,
    window: Arc<Mmap>,
    /// File offset of the window's first byte.
    win_start: u64,
    /// File offset of the next record.
    pos: u64,
    big_endian: bool,
    nanos: bool,
    link: LinkType,
    /// The header's snapshot length (libpcap's rules: 0 or too big means the maximum); longer
    /// records are cut to it, as libpcap cuts them.
    snapshot: u32,
}

/// What reading the next record gave.
pub enum Next<'a> {
    /// A packet, its bytes in the current window ([`RawPacket::mapped`]).
    Packet(RawPacket<'a>),
    /// The file ended cleanly.
    End,
    /// The file ends in the middle of a record.
    Truncated(String),
    /// A record libpcap would refuse, or the file could not be mapped.
    Invalid(String),
}

/// Is this the start of a classic pcap file this reader takes? Returns (big-endian, nanosecond).
fn classic_magic(head: &[u8]) -> Option<(bool, bool)> {
    let m: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let (le, be) = (u32::from_le_bytes(m), u32::from_be_bytes(m));
    let kind = |v: u32| match v {
        0xa1b2_c3d4 => Some(false),
        0xa1b2_3c4d => Some(true),
        _ => None,
    };
    if let Some(n) = kind(le) {
        return Some((false, n));
    }
    kind(be).map(|n| (true, n))
}

fn map_window(file: &File, start: u64, len: u64) -> std::io::Result<Mmap> {
    // SAFETY: a read-only private view; the one hazard, the file being shortened by someone else
    // while mapped (SIGBUS), is documented at the top of this module.
    let map = unsafe { MmapOptions::new().offset(start).len(len as usize).populate().map(file)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

impl MappedPcap {
    /// Maps `file` when it is a classic pcap this reader takes; `Ok(None)` sends it to libpcap.
    pub fn open(file: &File) -> std::io::Result<Option<MappedPcap>> {
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() < FILE_HEADER {
            return Ok(None);
        }
        let len = meta.len();
        let file = file.try_clone()?;
        let window = Arc::new(map_window(&file, 0, len.min(WINDOW))?);
        let Some((big_endian, nanos)) = classic_magic(&window) else { return Ok(None) };
        let mut m = MappedPcap {
            file,
            len,
            window,
            win_start: 0,
            pos: FILE_HEADER,
            big_endian,
            nanos,
            link: LinkType::Unsupported(-1),
            snapshot: MAXIMUM_SNAPLEN,
        };
        if m.u16_at(4) != 2 || m.u16_at(6) > 4 {
            return Ok(None); // archaic or future versions (not 2.0-2.4): libpcap decides
        }
        // LT_LINKTYPE: the low 26 bits; the rest are FCS flags.
        let linktype = (m.u32_at(20) & 0x03ff_ffff) as i32;
        m.link = LinkType::from_dlt(linktype);
        let snaplen = m.u32_at(16);
        if snaplen != 0 && snaplen < MAXIMUM_SNAPLEN {
            m.snapshot = snaplen;
        }
        if matches!(m.link, LinkType::Unsupported(_)) {
            return Ok(None);
        }
        Ok(Some(m))
    }

    /// The file's link type.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    fn bytes_at<const N: usize>(&self, file_off: u64) -> [u8; N] {
        let o = (file_off - self.win_start.min(file_off)) as usize;
        match self.window.get(o..o + N) {
            Some(b) => b.try_into().unwrap_or([0; N]),
            None => [0; N],
        }
    }

    fn u16_at(&self, file_off: u64) -> u16 {
        let b = self.bytes_at::<2>(file_off);
        if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) }
    }

    fn u32_at(&self, file_off: u64) -> u32 {
        let b = self.bytes_at::<4>(file_off);
        if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
    }

    /// Makes the window cover `[pos, pos + need)`, which the caller checked lies in the file.
    fn cover(&mut self, need: u64) -> std::io::Result<()> {
        let win_end = self.win_start + self.window.len() as u64;
        if self.pos + need <= win_end {
            return Ok(());
        }
        let start = self.pos - self.pos % PAGE;
        let len = (self.len - start).min(WINDOW.max(self.pos - start + need));
        self.window = Arc::new(map_window(&self.file, start, len)?);
        self.win_start = start;
        Ok(())
    }

    /// Reads the next record.
    pub fn next_packet(&mut self) -> Next<'_> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Next::End;
        }
        if left < RECORD_HEADER {
            return Next::Truncated(format!(
                "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {left}"
            ));
        }
        if let Err(e) = self.cover(RECORD_HEADER) {
            return Next::Invalid(format!("cannot map the file: {e}"));
        }
        let secs = self.u32_at(self.pos);
        let frac = self.u32_at(self.pos + 4);
        let caplen = self.u32_at(self.pos + 8);
        let wire_len = self.u32_at(self.pos + 12);
        if caplen > MAXIMUM_SNAPLEN {
            return Next::Invalid(format!(
                "invalid packet capture length {caplen}, bigger than maximum of {MAXIMUM_SNAPLEN}"
            ));
        }
        if left - RECORD_HEADER < u64::from(caplen) {
            return Next::Truncated(format!(
                "truncated dump file; tried to read {caplen} captured bytes, only got {}",
                left - RECORD_HEADER
            ));
        }
        if let Err(e) = self.cover(RECORD_HEADER + u64::from(caplen)) {
            return Next::Invalid(format!("cannot map the file: {e}"));
        }
        let offset = (self.pos + RECORD_HEADER - self.win_start) as usize;
        self.pos += RECORD_HEADER + u64::from(caplen);
        let kept = caplen.min(self.snapshot) as usize;
        let Some(data) = self.window.get(offset..offset + kept) else {
            return Next::Invalid("record outside the mapped window".into());
        };
        // A fraction past 2^31 is garbage; libpcap reads it as negative, which siphon takes as 0.
        let frac = if frac > i32::MAX as u32 { 0 } else { u64::from(frac) };
        let nanos = if self.nanos { frac } else { frac * 1000 };
        Next::Packet(RawPacket {
            ts: Timestamp::from_parts(u64::from(secs), nanos),
            data,
            wire_len,
            link: self.link,
            mapped: Some(Mapped { map: &self.window, offset }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp");
        f.write_all(bytes).expect("write");
        f
    }

    fn header(magic: u32, big: bool, link: u32) -> Vec<u8> {
        let mut h = Vec::new();
        let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        h.extend_from_slice(&w32(magic));
        h.extend_from_slice(&w16(2));
        h.extend_from_slice(&w16(4));
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&w32(65535));
        h.extend_from_slice(&w32(link));
        h
    }

    fn record(big: bool, secs: u32, frac: u32, data: &[u8], wire: u32) -> Vec<u8> {
        let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut r = Vec::new();
        for v in [secs, frac, data.len() as u32, wire] {
            r.extend_from_slice(&w32(v));
        }
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn reads_both_byte_orders_and_precisions() {
        for (magic, nanos) in [(0xa1b2_c3d4u32, false), (0xa1b2_3c4d, true)] {
            for big in [false, true] {
                let mut b = header(magic, big, 1);
                b.extend(record(big, 7, 5, b"abc", 60));
                let f = file_with(&b);
                let mut m = MappedPcap::open(f.as_file()).expect("io").expect("classic");
                match m.next_packet() {
                    Next::Packet(p) => {
                        assert_eq!(p.data, b"abc");
                        assert_eq!(p.wire_len, 60);
                        assert_eq!(p.mapped.map(|m| m.offset), Some(40));
                        let want = if nanos { 7_000_000_005 } else { 7_000_005_000 };
                        assert_eq!(p.ts, Timestamp(want));
                    }
                    _ => panic!("no packet"),
                }
                assert!(matches!(m.next_packet(), Next::End));
            }
        }
    }

    #[test]
    fn cut_records_are_truncation_and_oversized_ones_invalid() {
        let mut b = header(0xa1b2_c3d4, false, 1);
        b.extend(record(false, 1, 0, &[1; 40], 40));
        let whole = b.len();
        b.extend(record(false, 2, 0, &[2; 40], 40));
        for cut in [whole + 5, whole + 20] {
            let f = file_with(&b[..cut]);
            let mut m = MappedPcap::open(f.as_file()).expect("io").expect("classic");
            assert!(matches!(m.next_packet(), Next::Packet(..)));
            assert_eq!(m.offset(), whole as u64);
            match m.next_packet() {
                Next::Truncated(r) => assert!(r.contains("truncated dump file"), "{r}"),
                _ => panic!("not truncated at {cut}"),
            }
        }
        let mut huge = header(0xa1b2_c3d4, false, 1);
        huge.extend_from_slice(&[0; 8]);
        huge.extend_from_slice(&(MAXIMUM_SNAPLEN + 1).to_le_bytes());
        huge.extend_from_slice(&[0; 4]);
        let f = file_with(&huge);
        let mut m = MappedPcap::open(f.as_file()).expect("io").expect("classic");
        assert!(matches!(m.next_packet(), Next::Invalid(_)));
    }

    #[test]
    fn other_formats_are_left_to_libpcap() {
        let pcapng = [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        let mut b = pcapng.to_vec();
        b.resize(64, 0);
        assert!(MappedPcap::open(file_with(&b).as_file()).expect("io").is_none());
        assert!(MappedPcap::open(file_with(b"short").as_file()).expect("io").is_none());
        let mut odd_link = header(0xa1b2_c3d4, false, 147);
        odd_link.extend(record(false, 1, 0, b"x", 1));
        assert!(MappedPcap::open(file_with(&odd_link).as_file()).expect("io").is_none());
    }
}
