//! One memory budget (`memory.cap`) shared by every worker and every table in it, as
//! Suricata's memcaps are: each worker publishes, once a tick, what its tables really hold
//! (flow table, reassembly, TLS hellos, each detector's state, charged by capacity: a DNS
//! group's name sets cost what they hold, not their cap), and when the sum over all workers
//! passes the cap, the worker that sees it sheds the least recently used share of its
//! detectors' state (counted) until its part fits again.
//!
//! Per-table caps still bound each table; the budget bounds their sum, whatever `--workers`
//! multiplies them by.

use std::sync::atomic::{AtomicU64, Ordering};

/// The budget shared by the workers of one run.
#[derive(Debug)]
pub struct MemoryBudget {
    cap: u64,
    /// Bytes each worker held at its last tick.
    held: Vec<AtomicU64>,
}

impl MemoryBudget {
    /// A budget of `cap` bytes for `workers` workers.
    pub fn new(cap: u64, workers: usize) -> MemoryBudget {
        MemoryBudget { cap, held: (0..workers.max(1)).map(|_| AtomicU64::new(0)).collect() }
    }

    /// The cap.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Publishes what worker `slot` holds; returns the bytes the run holds over the cap (0 when
    /// under it).
    pub fn publish(&self, slot: usize, bytes: u64) -> u64 {
        if let Some(h) = self.held.get(slot) {
            h.store(bytes, Ordering::Relaxed);
        }
        let total: u64 = self.held.iter().map(|h| h.load(Ordering::Relaxed)).sum();
        total.saturating_sub(self.cap)
    }
}

/// What the budget did, per worker (summed over workers in the stats).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MemoryStats {
    /// The cap (bytes, shared by all workers).
    pub cap: u64,
    /// Bytes held at the last tick.
    pub held: u64,
    /// Most bytes held at a tick.
    pub peak: u64,
    /// Ticks at which the run was over the cap and state was shed.
    pub emergencies: u64,
    /// Entries shed by those emergencies.
    pub shed: u64,
}

impl MemoryStats {
    /// Adds another worker's figures (held and peak add up: the workers hold theirs at once).
    pub fn merge(&mut self, o: &MemoryStats) {
        self.cap = self.cap.max(o.cap);
        self.held += o.held;
        self.peak += o.peak;
        self.emergencies += o.emergencies;
        self.shed += o.shed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_over_workers_is_judged_against_one_cap() {
        let b = MemoryBudget::new(100, 2);
        assert_eq!(b.publish(0, 60), 0);
        assert_eq!(b.publish(1, 60), 20);
        assert_eq!(b.publish(0, 10), 0);
    }
}
