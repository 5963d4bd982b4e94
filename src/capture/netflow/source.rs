//! Where export packets come from: a capture of a collector's traffic (`--netflow -r`: UDP to
//! `netflow.ports`) or a UDP socket (`--netflow-listen`). Either hands out flow records in the
//! order their flows started, within a bounded reorder window: exporters send a flow's records
//! when it ends, so a long flow's record comes after shorter ones that started later, and the
//! two directions of one flow may come in either order.

use super::{Collector, FlowRecord, NetflowStats};
use crate::capture::PacketSource;
use crate::capture::file::FileSource;
use crate::config::NetflowConfig;
use crate::decode::{self, Anomalies, L4, packet::DecodeOptions};
use crate::error::CaptureError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;

/// A source of flow records.
pub trait RecordSource: Send {
    /// Appends the next records to `out`. `Ok(false)` once the source is exhausted; `Ok(true)`
    /// with nothing added when a live socket had nothing for a while.
    fn read(&mut self, out: &mut Vec<FlowRecord>) -> Result<bool, CaptureError>;
    /// The decoder's counters.
    fn stats(&mut self) -> NetflowStats;
}

/// Records ordered by start time (then arrival), in a heap of at most `cap`.
struct Reorder {
    heap: BinaryHeap<Reverse<(u64, u64, Keyed)>>,
    cap: usize,
    seq: u64,
}

/// A record in the heap: compared by the (start, arrival) key only.
#[derive(Clone, Copy)]
struct Keyed(FlowRecord);
impl PartialEq for Keyed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Keyed {}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Keyed {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Reorder {
    fn new(cap: usize) -> Reorder {
        Reorder { heap: BinaryHeap::new(), cap: cap.max(1), seq: 0 }
    }
    /// Adds `new`, moving the earliest records past the window's size to `out`.
    fn add(&mut self, new: &mut Vec<FlowRecord>, out: &mut Vec<FlowRecord>) {
        for r in new.drain(..) {
            self.seq += 1;
            self.heap.push(Reverse((r.start.0, self.seq, Keyed(r))));
            if self.heap.len() > self.cap
                && let Some(Reverse((_, _, Keyed(r)))) = self.heap.pop()
            {
                out.push(r);
            }
        }
    }
    /// Everything left, in order.
    fn drain(&mut self, out: &mut Vec<FlowRecord>) {
        while let Some(Reverse((_, _, Keyed(r)))) = self.heap.pop() {
            out.push(r);
        }
    }
}

/// Export packets read from capture files.
pub struct ExportFiles {
    files: FileSource,
    collector: Collector,
    ports: Vec<u16>,
    opts: DecodeOptions,
    anomalies: Anomalies,
    reorder: Reorder,
    scratch: Vec<FlowRecord>,
    done: bool,
}

impl ExportFiles {
    /// Reads `paths` (pcap or pcapng) as one timeline of export packets.
    pub fn new(paths: Vec<PathBuf>, cfg: &NetflowConfig) -> Result<ExportFiles, CaptureError> {
        let collector = Collector::new(cfg).map_err(|e| CaptureError::Read {
            path: PathBuf::new(),
            packets: 0,
            reason: e.to_string(),
        })?;
        Ok(ExportFiles {
            files: FileSource::new(paths, None)?,
            collector,
            ports: cfg.ports.clone(),
            opts: DecodeOptions::default(),
            anomalies: Anomalies::default(),
            reorder: Reorder::new(cfg.reorder_records),
            scratch: Vec::new(),
            done: false,
        })
    }
}

impl RecordSource for ExportFiles {
    fn read(&mut self, out: &mut Vec<FlowRecord>) -> Result<bool, CaptureError> {
        if self.done {
            return Ok(false);
        }
        let ExportFiles { files, collector, ports, opts, anomalies, scratch, .. } = self;
        let res = files.read(crate::capture::BATCH_PACKETS, &mut |p| {
            let Some(d) = decode::decode(p.link, p.data, opts, anomalies) else { return };
            if let L4::Udp { sport, dport } = d.l4
                && ports.contains(&dport)
                && d.frag.is_none()
            {
                collector.decode(SocketAddr::new(d.src, sport), d.payload, scratch);
            }
        });
        self.reorder.add(&mut self.scratch, out);
        match res {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.reorder.drain(out);
                self.done = true;
                Ok(!out.is_empty())
            }
            Err(e) => {
                self.reorder.drain(out);
                self.done = true;
                Err(e)
            }
        }
    }

    fn stats(&mut self) -> NetflowStats {
        self.collector.refresh_stats();
        self.collector.stats.clone()
    }
}

/// A collector's UDP socket.
pub struct ExportSocket {
    socket: UdpSocket,
    collector: Collector,
    buf: Vec<u8>,
    scratch: Vec<FlowRecord>,
}

impl ExportSocket {
    /// Binds `addr` (UDP); reads wait at most 100 ms so the pipeline can stop.
    pub fn bind(addr: SocketAddr, cfg: &NetflowConfig) -> Result<ExportSocket, CaptureError> {
        let err = |reason: String| CaptureError::Live { iface: format!("udp {addr}"), reason };
        let socket = UdpSocket::bind(addr).map_err(|e| err(e.to_string()))?;
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .map_err(|e| err(e.to_string()))?;
        let collector = Collector::new(cfg).map_err(|e| err(e.to_string()))?;
        Ok(ExportSocket { socket, collector, buf: vec![0; 65_536], scratch: Vec::new() })
    }

    /// The bound address (for tests binding port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }
}

impl RecordSource for ExportSocket {
    fn read(&mut self, out: &mut Vec<FlowRecord>) -> Result<bool, CaptureError> {
        // Up to 64 datagrams per call, each one's records sorted by start.
        for _ in 0..64 {
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let payload = self.buf.get(..n).unwrap_or(&[]);
                    self.collector.decode(from, payload, &mut self.scratch);
                    self.scratch.sort_by_key(|r| r.start);
                    out.append(&mut self.scratch);
                }
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => break,
                Err(e) => {
                    return Err(CaptureError::Live { iface: "udp".into(), reason: e.to_string() });
                }
            }
            if out.len() >= crate::capture::BATCH_PACKETS {
                break;
            }
        }
        Ok(true)
    }

    fn stats(&mut self) -> NetflowStats {
        self.collector.refresh_stats();
        self.collector.stats.clone()
    }
}
