//! Flow and host state: direction-normalised `Copy` keys, packet-time expiry, hard caps with
//! counted eviction. Flow ends are events detectors see.

pub mod bounded;
pub mod budget;
pub mod defrag;
pub mod host;
pub mod index;
pub mod key;
pub mod table;
pub mod wheel;

pub use host::HomeNet;
pub use key::FlowKey;
pub use table::{EndReason, Flow, FlowStats, FlowTable, Volume};

/// Which way a packet goes within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the initiator (EVE's `toserver`).
    ToServer = 0,
    /// To the initiator (`toclient`).
    ToClient = 1,
}

impl Dir {
    /// 0 or 1, to index per-direction counters.
    pub fn idx(self) -> usize {
        self as usize
    }
}
