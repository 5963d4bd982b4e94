//! The egress family's verdict on a flow — which side, if any, is a home host talking to an
//! external one — kept by the family, not in the flow record.
//!
//! The verdict is worked out from the flow's addresses and home flags the first time a detector
//! asks, and remembered in a small direct-mapped cache keyed by the flow's id: `long_session` and
//! `alt_protocol` ask on every packet, and a hit costs a load and a compare instead of the range
//! searches. A collision only costs working the verdict out again; the cache is a fixed
//! [`SideCache::BYTES`] per worker, charged to the memory budget with the worker's tables.

use crate::flow::Flow;
use std::cell::Cell;

/// Which side of a flow is the home host talking to an external one ([`super::Policy::side`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Not home ↔ external, or the home host is allow-listed.
    None = 1,
    /// The originator is the home host.
    HomeOrig = 2,
    /// The responder is the home host.
    HomeResp = 3,
}

/// Entries in the cache: a power of two. At 8 bytes each the cache stays in L1/L2; with more
/// flows interleaved than this, some asks miss and work the verdict out again.
const SLOTS: usize = 4096;

/// Verdicts by flow id, direct-mapped. An entry is the flow's tag (its id with the initiator's
/// side in the top bit, low two bits cleared) or'ed with the verdict's code (1-3); 0 is empty.
/// The slot is chosen by the id's low bits, so two tags in one slot share their low two bits and
/// clearing them loses nothing.
#[derive(Debug, Clone)]
pub(super) struct SideCache {
    slots: Box<[Cell<u64>]>,
}

impl Default for SideCache {
    fn default() -> Self {
        SideCache { slots: (0..SLOTS).map(|_| Cell::new(0)).collect() }
    }
}

/// The flow's tag: its id (63 bits) and which key endpoint initiated, which the verdict also
/// depends on (a flow ended and opened again within one clock tick has the same id).
#[inline(always)]
fn tag(f: &Flow) -> u64 {
    (f.id | u64::from(f.orig_is_a) << 63) & !3
}

impl SideCache {
    /// Bytes the cache holds.
    pub(super) const BYTES: usize = SLOTS * std::mem::size_of::<u64>();

    /// The remembered verdict for `f`, if its slot holds it.
    #[inline(always)]
    pub(super) fn get(&self, f: &Flow) -> Option<Side> {
        let e = self.slots.get(f.id as usize & (SLOTS - 1))?.get();
        if e & !3 != tag(f) {
            return None;
        }
        match e & 3 {
            1 => Some(Side::None),
            2 => Some(Side::HomeOrig),
            3 => Some(Side::HomeResp),
            _ => None,
        }
    }

    /// Remembers `s` for `f`, replacing whatever its slot held.
    #[inline]
    pub(super) fn put(&self, f: &Flow, s: Side) {
        if let Some(e) = self.slots.get(f.id as usize & (SLOTS - 1)) {
            e.set(tag(f) | s as u64);
        }
    }
}
