//! Classic pcap files read in large blocks straight into the pipeline's batches.
//!
//! libpcap reads a capture file through stdio, 4 KiB per `read()`, and copies each record into
//! a buffer of its own, from which siphon copied it once more into a batch: every byte moved
//! three times, more work than decoding it. This reader moves each byte once: one `read()` of a
//! whole block into the batch's buffer, whose packets then point at the records where they lie.
//! Only the tail of a record cut by the end of a block is copied, to the start of the next one.
//!
//! It reads regular files in classic pcap format 2.4 (micro- or nanosecond, either byte order)
//! when no BPF filter is set; everything else (pcapng, pipes and stdin, filtered reads, odd
//! variants) goes through libpcap. The tests check that it gives exactly libpcap's packets, and
//! the same truncation and corruption errors at the same places.

use super::{Batch, PacketMeta, RawPacket};
use crate::decode::LinkType;
use crate::error::CaptureError;
use crate::time::Timestamp;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes read per block.
pub(crate) const BLOCK_BYTES: usize = 256 * 1024;
/// Packets per batch at most (tiny records: the rest of the block moves to the next batch).
pub(crate) const BLOCK_PACKETS: usize = 4096;
/// The largest record libpcap accepts whatever the file's snaplen says (its
/// `max_snaplen_for_dlt`); siphon accepts the same.
const MAX_CAPLEN: u32 = 262_144;
/// Size of the file header and of a record header.
const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;

/// A classic pcap file being read in blocks.
pub(crate) struct BlockReader {
    file: std::fs::File,
    path: PathBuf,
    swapped: bool,
    nanos: bool,
    link: LinkType,
    /// Records longer than this are cut to it (libpcap's "snapshot": the file's snaplen).
    snapshot: u32,
    /// Bytes of a record cut by the end of the last block.
    carry: Vec<u8>,
    /// File offset of the next record (the first byte of `carry`).
    offset: u64,
    /// Records delivered.
    packets: u64,
    eof: bool,
    /// An error found after some packets of a block: reported on the next call, once those
    /// packets were delivered.
    failure: Option<CaptureError>,
    /// For [`BlockReader::read`]: a batch of its own, and how much of it was delivered.
    own: Batch,
    delivered: usize,
}

/// The file header fields the reader needs.
struct Header {
    swapped: bool,
    nanos: bool,
    snaplen: u32,
    linktype: u32,
}

fn parse_header(h: &[u8; FILE_HEADER]) -> Option<Header> {
    let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let (swapped, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => return None,
    };
    let rd16 = |b: [u8; 2]| if swapped { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) };
    let rd32 = |b: [u8; 4]| if swapped { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
    // Version 2.4 only: libpcap reads older minor versions with quirks of their own.
    if rd16([h[4], h[5]]) != 2 || rd16([h[6], h[7]]) != 4 {
        return None;
    }
    let snaplen = rd32([h[16], h[17], h[18], h[19]]);
    // The low 26 bits are the link type; the upper bits carry FCS information.
    let linktype = rd32([h[20], h[21], h[22], h[23]]) & 0x03ff_ffff;
    Some(Header { swapped, nanos, snaplen, linktype })
}

impl BlockReader {
    /// Opens `path` if it is a regular file in a format this reader handles; `Ok(None)` if
    /// libpcap should read it instead (it also gives the errors for files that are not captures).
    pub(crate) fn open(path: &Path) -> Result<Option<BlockReader>, CaptureError> {
        let open_err =
            |e: std::io::Error| CaptureError::Open { path: path.to_owned(), reason: e.to_string() };
        let mut file = std::fs::File::open(path).map_err(open_err)?;
        if !file.metadata().map_err(open_err)?.is_file() {
            return Ok(None);
        }
        let mut h = [0u8; FILE_HEADER];
        if file.read_exact(&mut h).is_err() {
            return Ok(None);
        }
        let Some(hdr) = parse_header(&h) else { return Ok(None) };
        let Ok(dlt) = i32::try_from(hdr.linktype) else { return Ok(None) };
        let link = LinkType::from_dlt(dlt);
        if let LinkType::Unsupported(linktype) = link {
            return Err(CaptureError::LinkType { path: path.to_owned(), linktype });
        }
        Ok(Some(BlockReader {
            file,
            path: path.to_owned(),
            swapped: hdr.swapped,
            nanos: hdr.nanos,
            link,
            // As libpcap: a snaplen of 0 or beyond the maximum means the maximum.
            snapshot: if hdr.snaplen == 0 || hdr.snaplen > MAX_CAPLEN { MAX_CAPLEN } else { hdr.snaplen },
            carry: Vec::new(),
            offset: FILE_HEADER as u64,
            packets: 0,
            eof: false,
            failure: None,
            own: Batch::default(),
            delivered: 0,
        }))
    }

    /// The file's link type.
    pub(crate) fn link(&self) -> LinkType {
        self.link
    }

    /// Bytes of the file read so far (for progress).
    pub(crate) fn bytes_read(&self) -> u64 {
        self.offset + self.carry.len() as u64
    }

    fn rd32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.swapped { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
    }

    /// Reads until `batch` holds `want` bytes or the file ends.
    fn read_to(&mut self, batch: &mut Batch, want: usize) -> Result<(), CaptureError> {
        batch.data.reserve(want.saturating_sub(batch.data.len()));
        while !self.eof && batch.data.len() < want {
            let have = batch.data.len();
            let spare = batch.data.spare_capacity_mut();
            let room = spare.len().min(want - have);
            // SAFETY: `read` writes at most `room` bytes into the vector's spare capacity,
            // which is at least that long; exactly the bytes it reports are marked initialised.
            let n = unsafe {
                libc::read(std::os::fd::AsRawFd::as_raw_fd(&self.file), spare.as_mut_ptr().cast(), room)
            };
            match n {
                0 => self.eof = true,
                n if n > 0 => {
                    let len = batch.data.len() + n.cast_unsigned();
                    // SAFETY: see above; `len` is within the capacity.
                    unsafe { batch.data.set_len(len) };
                }
                _ => {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::Interrupted {
                        return Err(CaptureError::Read {
                            path: self.path.clone(),
                            packets: self.packets,
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Fills `batch` (cleared first) with the next block's packets. `Ok(false)` once the file
    /// ended cleanly. A truncated or corrupt file delivers every packet before the bad record,
    /// then the error naming its offset.
    pub(crate) fn fill(&mut self, batch: &mut Batch) -> Result<bool, CaptureError> {
        batch.clear();
        // Packets `read` buffered but has not delivered yet (the pipeline read the start of
        // this file packet by packet, after a file libpcap read) come first: copied, once.
        if let Some(rest) = self.own.meta.get(self.delivered..)
            && !rest.is_empty()
        {
            for m in rest {
                let p = RawPacket { ts: m.ts, data: self.own.frame(m), wire_len: m.wire_len, link: m.link };
                batch.push(&p, 0);
            }
            self.delivered = self.own.meta.len();
            return Ok(true);
        }
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        batch.data.extend_from_slice(&self.carry);
        self.carry.clear();
        let mut want = BLOCK_BYTES;
        loop {
            self.read_to(batch, want)?;
            let (pos, needed) = self.parse(batch);
            if !batch.meta.is_empty() || self.failure.is_some() {
                self.keep_tail(batch, pos);
                return Ok(true);
            }
            if self.eof {
                let have = batch.data.len() - pos;
                if have == 0 {
                    return Ok(false);
                }
                let reason = if have < RECORD_HEADER {
                    format!(
                        "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {have}"
                    )
                } else {
                    format!(
                        "truncated dump file; tried to read {} captured bytes, only got {}",
                        needed - RECORD_HEADER,
                        have - RECORD_HEADER
                    )
                };
                return Err(CaptureError::Truncated {
                    path: self.path.clone(),
                    packets: self.packets,
                    offset: self.offset,
                    reason,
                });
            }
            // One record larger than a block: read on until it is whole.
            want = want.max(needed);
        }
    }

    /// Records the complete records of `batch.data` in `batch.meta`; returns where parsing
    /// stopped and how many bytes the record there needs in all.
    fn parse(&mut self, batch: &mut Batch) -> (usize, usize) {
        let len = batch.data.len();
        let mut pos = 0usize;
        while batch.meta.len() < BLOCK_PACKETS {
            let Some(h) = batch.data.get(pos..pos + RECORD_HEADER) else {
                return (pos, RECORD_HEADER);
            };
            let (secs, frac, caplen, wire_len) =
                (self.rd32(&h[0..4]), self.rd32(&h[4..8]), self.rd32(&h[8..12]), self.rd32(&h[12..16]));
            if caplen > MAX_CAPLEN {
                self.failure = Some(CaptureError::Read {
                    path: self.path.clone(),
                    packets: self.packets,
                    reason: format!(
                        "invalid packet capture length {caplen}, bigger than snaplen of {} (byte offset {})",
                        self.snapshot,
                        self.offset + pos as u64
                    ),
                });
                return (pos, RECORD_HEADER);
            }
            let end = pos + RECORD_HEADER + caplen as usize;
            if end > len {
                return (pos, RECORD_HEADER + caplen as usize);
            }
            // libpcap (1.10.3, `sf-pcap.c`) copies the fraction through a signed 32-bit field
            // when the file is in the host's byte order (so 2^31 and above is negative, which
            // `file::header_ts` takes as 0) but through its unsigned byte-swap macro when it is
            // not (so the value stays as written, even past a whole second). The same here, so
            // both readers give the same times even for damaged records.
            let host_order = self.swapped == cfg!(target_endian = "big");
            let frac =
                if host_order { u64::try_from(frac.cast_signed()).unwrap_or(0) } else { u64::from(frac) };
            let nanos = if self.nanos { frac } else { frac * 1000 };
            batch.meta.push(PacketMeta {
                ts: Timestamp::from_parts(u64::from(secs), nanos),
                offset: (pos + RECORD_HEADER) as u32,
                // A record longer than the file's snaplen is cut to it, as libpcap does.
                caplen: caplen.min(self.snapshot),
                wire_len,
                link: self.link,
                flow_hint: 0,
            });
            self.packets += 1;
            pos = end;
        }
        (pos, RECORD_HEADER)
    }

    /// Moves the unparsed tail of `batch.data` to `carry` for the next block.
    fn keep_tail(&mut self, batch: &mut Batch, pos: usize) {
        if let Some(tail) = batch.data.get(pos..) {
            self.carry.extend_from_slice(tail);
        }
        batch.data.truncate(pos);
        self.offset += pos as u64;
    }

    /// Delivers up to `max` packets one at a time (the libpcap-style interface); `Ok(false)`
    /// once the file ended.
    pub(crate) fn read(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&RawPacket<'_>),
    ) -> Result<bool, CaptureError> {
        let mut n = 0;
        while n < max {
            if self.delivered == self.own.meta.len() {
                let mut own = std::mem::replace(&mut self.own, Batch::empty());
                let res = self.fill(&mut own);
                self.own = own;
                self.delivered = 0;
                if !res? {
                    return Ok(false);
                }
            }
            let Some(m) = self.own.meta.get(self.delivered) else { continue };
            f(&RawPacket { ts: m.ts, data: self.own.frame(m), wire_len: m.wire_len, link: m.link });
            self.delivered += 1;
            n += 1;
        }
        Ok(true)
    }
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
mod tests;
