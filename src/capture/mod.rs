//! Packet sources: capture files and live interfaces. The only place libpcap is touched.
//!
//! A source hands out one borrowed packet at a time; the capture thread copies it once into a
//! recycled [`Batch`] and the rest of the pipeline borrows from there. A capture file read in
//! blocks ([`PacketSource::fill_batch`]) is not copied at all: with one worker the block is the
//! batch; with several, each worker's batch points into the shared block ([`Batch::push_ref`]).

pub(crate) mod blocks;
pub(crate) mod fanout;
pub(crate) mod file;
pub(crate) mod live;
pub(crate) mod netflow;
pub(crate) mod order;
pub(crate) mod write;

use crate::decode::LinkType;
use crate::decode::dns::RegistrableHint;
use crate::error::CaptureError;
use crate::time::Timestamp;
use std::sync::Arc;

/// One packet borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Captured bytes (up to the snaplen).
    pub data: &'a [u8],
    /// Length on the wire.
    pub wire_len: u32,
    /// Link type of the frame.
    pub link: LinkType,
}

/// Drop figures from the kernel (`pcap_stats`), live capture only.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CaptureStats {
    /// Packets the kernel saw.
    pub received: u64,
    /// Dropped because the buffer was full (siphon too slow).
    pub dropped: u64,
    /// Dropped by the interface or driver.
    pub if_dropped: u64,
}

/// Where packets come from.
pub trait PacketSource: Send {
    /// Reads up to `max` packets, calling `f` with each. `Ok(false)` once the source is
    /// exhausted. A truncated file delivers every packet before the cut, then the error naming
    /// how far it got.
    fn read(&mut self, max: usize, f: &mut dyn FnMut(&RawPacket<'_>)) -> Result<bool, CaptureError>;
    /// Fills `batch` (cleared first) straight from the source's reads, when the source can (a
    /// capture file read in blocks): `None` when it cannot, and `read` is to be used.
    fn fill_batch(&mut self, _batch: &mut Batch) -> Option<Result<bool, CaptureError>> {
        None
    }
    /// Bytes of input consumed so far, over every file (for progress; 0 when unknown).
    fn bytes_read(&self) -> u64 {
        0
    }
    /// Warnings about the input (files out of time order or overlapping), for the summary.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Kernel drop counters (live only).
    fn stats(&mut self) -> Option<CaptureStats> {
        None
    }
    /// Its reads may wait for packets (a live interface, a pipe): whoever reads may sit in a
    /// read for long, so it must be a capture thread of its own, never a worker holding
    /// packets it has not analysed yet.
    fn reads_may_wait(&self) -> bool {
        false
    }
    /// The capturing host's own addresses on this source (live only): tunnels addressed to
    /// them are mirror deliveries (see [`crate::mirror`]).
    fn local_addrs(&self) -> Vec<std::net::IpAddr> {
        Vec::new()
    }
}

/// Metadata of one packet in a batch.
#[derive(Debug, Clone, Copy)]
pub struct PacketMeta {
    /// Capture time.
    pub ts: Timestamp,
    /// Offset of the frame in the batch's data.
    pub offset: u32,
    /// Captured length.
    pub caplen: u32,
    /// Wire length.
    pub wire_len: u32,
    /// Link type.
    pub link: LinkType,
    /// Hash of the packet's flow key, when the capture thread worked it out (0: not known): the
    /// worker prefetches that flow's state with it, packets ahead.
    pub flow_hint: u64,
}

/// A batch of packets in one contiguous, reusable buffer, or pointing into a block shared with
/// other workers' batches.
pub struct Batch {
    data: Vec<u8>,
    /// The block (a batch [`PacketSource::fill_batch`] filled) whose bytes the packets point
    /// into, shared with the other workers' batches cut from it; `data` is then unused. The
    /// capture thread keeps a reference to each of its blocks and reads into one again once
    /// every batch let go of it ([`Batch::release_block`]).
    block: Option<Arc<Batch>>,
    /// The packets.
    pub meta: Vec<PacketMeta>,
    /// The registrable domains the reading side worked out of DNS packets, by packet position
    /// ([`Batch::push_registrable_hint`]), in packet order.
    registrable_hints: Vec<(u32, RegistrableHint)>,
    /// When the capture thread sent it (latency measurement only).
    pub sent_at: Option<std::time::Instant>,
}

/// Packets per batch: enough to amortise the channel, few enough to keep latency low.
pub const BATCH_PACKETS: usize = 256;
/// Bytes per batch before it is sent even if not full.
pub(crate) const BATCH_BYTES: usize = 256 * 1024;

impl Default for Batch {
    fn default() -> Self {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES + 65_536),
            block: None,
            meta: Vec::with_capacity(BATCH_PACKETS),
            registrable_hints: Vec::new(),
            sent_at: None,
        }
    }
}

/// The frame `m` names in a batch's `data` (empty if out of range).
fn frame_in<'d>(data: &'d [u8], m: &PacketMeta) -> &'d [u8] {
    let start = m.offset as usize;
    data.get(start..start + m.caplen as usize).unwrap_or(&[])
}

impl Batch {
    /// A batch with no buffers yet (allocates nothing; the first packet pushed gives it room
    /// for a full batch).
    pub const fn empty() -> Batch {
        Batch {
            data: Vec::new(),
            block: None,
            meta: Vec::new(),
            registrable_hints: Vec::new(),
            sent_at: None,
        }
    }
    /// Copies one packet in, with its flow hint ([`PacketMeta::flow_hint`]). The batch holds
    /// no packets of a shared block ([`Batch::push_ref`]) then.
    pub fn push(&mut self, p: &RawPacket<'_>, flow_hint: u64) {
        debug_assert!(self.block.is_none() || self.meta.is_empty(), "copied and shared packets in one batch");
        self.drop_block();
        if self.data.capacity() == 0 {
            self.data.reserve_exact(BATCH_BYTES + 65_536);
        }
        self.reserve_meta();
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(p.data);
        self.meta.push(PacketMeta {
            ts: p.ts,
            offset,
            caplen: p.data.len() as u32,
            wire_len: p.wire_len,
            link: p.link,
            flow_hint,
        });
    }
    /// Adds packet `m` of `block` by reference, with its flow hint: no byte is copied. Every
    /// packet of a batch comes from one block (the capture thread sends the batch before it
    /// cuts from the next) and none was copied in.
    pub fn push_ref(&mut self, block: &Arc<Batch>, m: &PacketMeta, flow_hint: u64) {
        match &self.block {
            Some(b) if Arc::ptr_eq(b, block) => {}
            _ => {
                debug_assert!(self.meta.is_empty(), "packets of two blocks, or copied, in one batch");
                self.clear();
                self.block = Some(Arc::clone(block));
            }
        }
        self.reserve_meta();
        self.meta.push(PacketMeta { flow_hint, ..*m });
    }
    /// Room for a full batch's metadata at the first packet of an [`Batch::empty`] batch (a
    /// pool of them costs nothing until used, and a used one does not grow in steps).
    #[inline]
    fn reserve_meta(&mut self) {
        if self.meta.capacity() == 0 {
            self.meta.reserve_exact(BATCH_PACKETS);
        }
    }
    /// Lets go of the shared block, if the batch pointed into one (then `true`).
    pub fn release_block(&mut self) -> bool {
        self.block.take().is_some()
    }
    fn drop_block(&mut self) {
        if self.block.is_some() {
            self.clear();
        }
    }
    /// The bytes the packets' offsets point into.
    fn bytes(&self) -> &[u8] {
        match &self.block {
            Some(b) => &b.data,
            None => &self.data,
        }
    }
    /// The frame of `m`.
    pub fn frame(&self, m: &PacketMeta) -> &[u8] {
        frame_in(self.bytes(), m)
    }
    /// Full enough to send?
    pub fn is_full(&self) -> bool {
        self.meta.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }
    /// Works out every packet's flow hint with `hint` (given the link type and frame), which
    /// also names a DNS payload of the frame, whose registrable hint `registrable` works out.
    pub(crate) fn set_hints<'f>(
        &'f mut self,
        mut hint: impl FnMut(LinkType, &'f [u8]) -> (u64, Option<&'f [u8]>),
        mut registrable: impl FnMut(&[u8]) -> Option<RegistrableHint>,
    ) {
        let Batch { data, block, meta, registrable_hints, .. } = self;
        let bytes = match block {
            Some(b) => &b.data[..],
            None => &data[..],
        };
        registrable_hints.clear();
        for (i, m) in meta.iter_mut().enumerate() {
            let (flow, payload) = hint(m.link, frame_in(bytes, m));
            m.flow_hint = flow;
            if let Some(h) = payload.and_then(&mut registrable) {
                registrable_hints.push((i as u32, h));
            }
        }
    }
    /// Gives the packet pushed last the registrable domain the reading side worked out of it.
    pub(crate) fn push_registrable_hint(&mut self, hint: RegistrableHint) {
        if let Some(last) = self.meta.len().checked_sub(1) {
            self.registrable_hints.push((last as u32, hint));
        }
    }
    /// The registrable hints, by packet position, in packet order.
    pub(crate) fn registrable_hints(&self) -> &[(u32, RegistrableHint)] {
        &self.registrable_hints
    }
    /// Empties it for reuse, keeping the allocations.
    pub fn clear(&mut self) {
        self.block = None;
        self.data.clear();
        self.meta.clear();
        self.registrable_hints.clear();
        self.sent_at = None;
    }
    /// Number of packets.
    pub fn len(&self) -> usize {
        self.meta.len()
    }
    /// No packets.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }
}
