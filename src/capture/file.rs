//! Capture files: classic pcap (µs and ns) and pcapng, several files read in order as one
//! timeline, `-` for stdin. Classic pcap files without a filter are read in blocks straight into
//! the batches ([`super::blocks`]); everything else through libpcap.
//!
//! A bad file in a list (missing, not a capture, an unsupported link type, cut short) never
//! hides the files after it: its failure is kept, the next file is read, and the source ends
//! with one error naming every file not read in full ([`CaptureError::Files`]). Only a BPF
//! filter that does not compile stops at once: it would fail every file the same way.

use super::blocks::BlockReader;
use super::{Batch, PacketSource, RawPacket};
use crate::decode::LinkType;
use crate::error::CaptureError;
use crate::time::Timestamp;
use pcap::{Capture, Offline, Precision};
use std::path::PathBuf;

/// Reads capture files one after another.
pub struct FileSource {
    paths: Vec<PathBuf>,
    next_index: usize,
    filter: Option<String>,
    current: Option<Open>,
    /// Bytes of the files already finished (for progress).
    done_bytes: u64,
    /// First packet time of each file, when known ([`super::order`]).
    firsts: Vec<Option<Timestamp>>,
    /// Latest packet time read so far.
    latest: Timestamp,
    /// Reordering and overlap warnings.
    warnings: Vec<String>,
    /// Files not read in full, in order.
    failures: Vec<CaptureError>,
}

struct Open {
    reader: Reader,
    path: PathBuf,
    link: LinkType,
    packets: u64,
    /// Byte offset of the next record (exact for classic pcap, an estimate for pcapng).
    offset: u64,
    /// Descriptor of a pipe (stdin): reads stop early when it has nothing ready, so the
    /// pipeline hands over what it has instead of waiting for a full batch.
    pipe_fd: Option<i32>,
    /// Its size was added to the source's finished bytes.
    counted: bool,
}

/// Who reads the file.
enum Reader {
    Libpcap(Capture<Offline>),
    Blocks(Box<BlockReader>),
}

fn open_one(path: &PathBuf, filter: Option<&str>) -> Result<Open, CaptureError> {
    if filter.is_none()
        && path.as_os_str() != "-"
        && let Some(b) = BlockReader::open(path)?
    {
        let link = b.link();
        return Ok(Open {
            reader: Reader::Blocks(Box::new(b)),
            path: path.clone(),
            link,
            packets: 0,
            offset: 24,
            pipe_fd: None,
            counted: false,
        });
    }
    let mut pipe_fd = None;
    let res = if path.as_os_str() == "-" {
        // SAFETY: dup gives libpcap its own descriptor for stdin, which it then owns and closes.
        let fd = unsafe { libc::dup(0) };
        if fd < 0 {
            return Err(CaptureError::Open { path: path.clone(), reason: "cannot duplicate stdin".into() });
        }
        pipe_fd = Some(fd);
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        unsafe { Capture::from_raw_fd_with_precision(fd, Precision::Nano) }
    } else {
        if let Err(e) = std::fs::metadata(path) {
            return Err(CaptureError::Open { path: path.clone(), reason: e.to_string() });
        }
        Capture::from_file_with_precision(path, Precision::Nano)
    };
    let mut cap = res.map_err(|e| {
        let reason = e.to_string();
        if reason.contains("truncated dump file; tried to read 4 file header bytes, only got 0") {
            CaptureError::NotACapture { path: path.clone(), reason: "the file is empty".into() }
        } else {
            CaptureError::NotACapture { path: path.clone(), reason }
        }
    })?;
    if let Some(f) = filter {
        cap.filter(f, true)
            .map_err(|e| CaptureError::Filter { filter: f.to_owned(), reason: e.to_string() })?;
    }
    let dlt = cap.get_datalink().0;
    let link = LinkType::from_dlt(dlt);
    if let LinkType::Unsupported(linktype) = link {
        return Err(CaptureError::LinkType { path: path.clone(), linktype });
    }
    Ok(Open {
        reader: Reader::Libpcap(cap),
        path: path.clone(),
        link,
        packets: 0,
        offset: 24,
        pipe_fd,
        counted: false,
    })
}

impl FileSource {
    /// Files (directories expand to the captures in them) read as one timeline, in the order
    /// of their first packet's time ([`super::order`]); each is opened when the previous one
    /// ends, so a bad later file is reported after the earlier ones were analysed. Files are
    /// opened now until one opens: when none does, the error names each (fail fast); a filter
    /// that does not compile fails at once.
    pub fn new(paths: Vec<PathBuf>, filter: Option<String>) -> Result<FileSource, CaptureError> {
        let (paths, firsts, warning) = super::order::by_time(super::order::expand_dirs(&paths)?);
        let mut s = FileSource::in_given_order(paths, filter)?;
        s.firsts = firsts;
        s.warnings.extend(warning);
        Ok(s)
    }

    /// Files read in the order given.
    pub fn in_given_order(paths: Vec<PathBuf>, filter: Option<String>) -> Result<FileSource, CaptureError> {
        let mut s = FileSource {
            paths,
            next_index: 0,
            filter,
            current: None,
            failures: Vec::new(),
            done_bytes: 0,
            firsts: Vec::new(),
            latest: Timestamp(0),
            warnings: Vec::new(),
        };
        if !s.open_next()? && !s.failures.is_empty() {
            return Err(s.take_failures());
        }
        Ok(s)
    }

    /// Opens the next file that opens, keeping the failures of those that do not.
    fn open_next(&mut self) -> Result<bool, CaptureError> {
        if let Some(done) = self.current.as_mut().filter(|o| !o.counted) {
            done.counted = true;
            self.done_bytes += std::fs::metadata(&done.path).map(|m| m.len()).unwrap_or(done.offset);
        }
        self.current = None;
        while let Some(p) = self.paths.get(self.next_index) {
            if let Some(Some(first)) = self.firsts.get(self.next_index)
                && self.next_index > 0
                && *first < self.latest
            {
                self.warnings.push(super::order::overlap_warning(p, *first, self.latest));
            }
            self.next_index += 1;
            match open_one(p, self.filter.as_deref()) {
                Ok(open) => {
                    self.current = Some(open);
                    return Ok(true);
                }
                Err(e @ CaptureError::Filter { .. }) => return Err(e),
                Err(e) => self.failures.push(e),
            }
        }
        Ok(false)
    }

    /// The failures so far as one error: the failure itself when there is one, else
    /// [`CaptureError::Files`] listing them all.
    fn take_failures(&mut self) -> CaptureError {
        let mut f = std::mem::take(&mut self.failures);
        match f.len() {
            1 => f.remove(0),
            _ => CaptureError::Files { total: self.paths.len(), failures: f },
        }
    }
}

impl PacketSource for FileSource {
    /// Stdin, and anything that is not a regular file (a named pipe, a device).
    fn reads_may_wait(&self) -> bool {
        self.paths.iter().any(|p| p.as_os_str() == "-" || std::fs::metadata(p).map_or(true, |m| !m.is_file()))
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn bytes_read(&self) -> u64 {
        self.done_bytes
            + match &self.current {
                Some(o) if o.counted => 0,
                Some(Open { reader: Reader::Blocks(b), .. }) => b.bytes_read(),
                Some(o) => o.offset,
                None => 0,
            }
    }

    fn read(&mut self, max: usize, f: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError> {
        let mut n = 0;
        while n < max {
            let Some(open) = self.current.as_mut() else { return Ok(false) };
            if n > 0 && open.pipe_fd.is_some_and(|fd| !readable_now(fd)) {
                return Ok(true);
            }
            let cap = match &mut open.reader {
                Reader::Libpcap(cap) => cap,
                Reader::Blocks(b) => {
                    let latest = &mut self.latest;
                    match b.read(max - n, &mut |p| {
                        n += 1;
                        *latest = (*latest).max(p.ts);
                        f(p);
                    }) {
                        Ok(true) => continue,
                        Ok(false) => {
                            if !self.open_next()? {
                                return self.finish();
                            }
                        }
                        Err(e) => {
                            self.failures.push(e);
                            if !self.open_next()? {
                                return self.finish();
                            }
                        }
                    }
                    continue;
                }
            };
            let failure = match cap.next_packet() {
                Ok(p) => {
                    let caplen = p.header.caplen;
                    let ts = header_ts(p.header);
                    self.latest = self.latest.max(ts);
                    f(&RawPacket { ts, data: p.data, wire_len: p.header.len, link: open.link });
                    open.packets += 1;
                    open.offset += 16 + u64::from(caplen);
                    n += 1;
                    continue;
                }
                Err(pcap::Error::NoMorePackets) => None,
                Err(e) => Some(e.to_string()),
            };
            match failure {
                None => {
                    if !self.open_next()? {
                        return self.finish();
                    }
                }
                Some(reason) => {
                    let err = if reason.contains("truncated") {
                        CaptureError::Truncated {
                            path: open.path.clone(),
                            packets: open.packets,
                            offset: open.offset,
                            reason,
                        }
                    } else {
                        CaptureError::Read { path: open.path.clone(), packets: open.packets, reason }
                    };
                    // Keep going with the next file; report every failure at the end.
                    self.failures.push(err);
                    if !self.open_next()? {
                        return self.finish();
                    }
                }
            }
        }
        Ok(true)
    }

    fn fill_batch(&mut self, batch: &mut Batch) -> Option<Result<bool, CaptureError>> {
        loop {
            let Some(Open { reader: Reader::Blocks(b), .. }) = self.current.as_mut() else {
                // libpcap's files (and the end of the last file) go through `read`.
                return None;
            };
            let res = b.fill(batch);
            if let Some(m) = batch.meta.iter().map(|m| m.ts).max() {
                self.latest = self.latest.max(m);
            }
            match res {
                Ok(true) => return Some(Ok(true)),
                Ok(false) => {}
                Err(e) => {
                    // Keep going with the next file; report every failure at the end.
                    self.failures.push(e);
                }
            }
            match self.open_next() {
                Ok(true) => {}
                Ok(false) => return Some(self.finish()),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl FileSource {
    /// Every file was read: the failures, if any.
    fn finish(&mut self) -> Result<bool, CaptureError> {
        if self.failures.is_empty() { Ok(false) } else { Err(self.take_failures()) }
    }
}

/// Does `fd` have data ready? (a zero-timeout poll)
fn readable_now(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r != 0
}

/// Converts libpcap's header time (nanosecond precision requested) to a [`Timestamp`].
pub(crate) fn header_ts(h: &pcap::PacketHeader) -> Timestamp {
    // Classic pcap stores unsigned 32-bit seconds, which libpcap reads into a signed 32-bit
    // field: times after 2038 arrive negative, and are the same instant read back unsigned.
    let secs = match i32::try_from(h.ts.tv_sec) {
        Ok(s) if s < 0 => u64::from(s.cast_unsigned()),
        _ => u64::try_from(h.ts.tv_sec).unwrap_or(0),
    };
    let nanos = u64::try_from(h.ts.tv_usec).unwrap_or(0);
    Timestamp::from_parts(secs, nanos)
}
