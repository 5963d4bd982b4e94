//! A minimal classic-pcap writer (microsecond, Ethernet) for tests, benchmarks and floods that
//! build their own captures. Not used on the packet path.

use std::io::{self, Write};

/// Writes classic pcap records.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header (link type Ethernet, snaplen 262144).
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Writes one frame captured at `ts_micros` (µs since the epoch), keeping at most `snaplen`
    /// bytes but recording the full wire length.
    pub fn write(&mut self, ts_micros: u64, frame: &[u8], snaplen: usize) -> io::Result<()> {
        let cap = frame.len().min(snaplen);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_micros / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_micros % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(cap as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..cap])
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
