//! Flow and host state: direction-normalised `Copy` keys, packet-time expiry, hard caps with
//! counted eviction. Flow ends are events detectors see.

pub(crate) mod bounded;
pub(crate) mod budget;
pub(crate) mod defrag;
pub(crate) mod hash;
pub(crate) mod host;
pub(crate) mod index;
pub(crate) mod key;
mod probes;
pub(crate) mod table;
pub(crate) mod wheel;

pub use host::HomeNet;
pub(crate) use key::FlowKey;
pub(crate) use table::EndReason;
pub(crate) use table::Flow;
pub(crate) use table::FlowStats;
pub(crate) use table::FlowTable;
pub(crate) use table::Volume;

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
