//! Per (home host, destination) outbound rate, in slots of packet time.

use crate::flow::host::{hash_ip, mix};
use std::net::IpAddr;

/// Outbound rate of one pair, in slots (48 bytes with its key: every pair that sends payload
/// has one, so it is kept small).
#[derive(Debug, Clone, Copy)]
pub(super) struct Rate {
    /// The newest slot seen (packet time ÷ slot width).
    pub(super) slot: u64,
    pub(super) slot_bytes: u64,
    /// First slot of the current run at the rate, [`NO_RUN`] when none.
    pub(super) run_start: u64,
    pub(super) run_bytes: u64,
    pub(super) alerted: bool,
}

pub(super) const NO_RUN: u64 = u64::MAX;

/// A pair's key: a 64-bit hash of (home, remote). The addresses are not stored (the alert takes
/// them from the flow that closes the slot); two pairs share a rate only if their hashes
/// collide, about 1 in 10^10 with a full table.
pub(super) fn pair_key(home: &IpAddr, remote: &IpAddr) -> u64 {
    mix(hash_ip(home) ^ hash_ip(remote).rotate_left(29))
}
