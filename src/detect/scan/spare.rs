//! Buffers shared by a worker's sources (issue 25). Most sources need a walk or two, one sweep
//! cell, a few targets and no failure record; a few need full lists. So a source keeps the common
//! case inline ([`Few`]) and borrows what only some need — a list at its cap, the failure record
//! and sample, the targets filter — from shelves held by the detector ([`Spare`]), giving it
//! back when its episode ends or it is forgotten. Memory follows the sources that need the
//! buffers at once, not every source that ever did; and since a buffer goes back on its shelf
//! instead of to the allocator, steady state allocates nothing (a shelf grows only past its
//! high-water mark).

use super::sketch::{Distinct, Seen};
use super::state::{HostWalk, PortWalk, Sweep, Target};

/// Free buffers of one kind, and how many were ever made.
pub(crate) struct Shelf<T> {
    free: Vec<T>,
    made: usize,
    /// Heap bytes of one buffer.
    unit: usize,
}

impl<T> Shelf<T> {
    pub(crate) fn new(unit: usize) -> Self {
        Shelf { free: Vec::new(), made: 0, unit }
    }

    /// A free buffer, or a new one from `make`.
    pub(crate) fn take(&mut self, make: impl FnOnce() -> T) -> T {
        self.free.pop().unwrap_or_else(|| {
            self.made += 1;
            make()
        })
    }

    /// Puts a buffer back (the caller emptied it).
    pub(crate) fn give(&mut self, x: T) {
        self.free.push(x);
    }

    /// Buffers made and not dropped (held by sources or free here), and the shelf itself.
    fn bytes(&self) -> usize {
        self.made * self.unit + self.free.capacity() * std::mem::size_of::<T>()
    }

    /// Drops the free buffers (memory pressure).
    fn drop_free(&mut self) {
        self.made -= self.free.len();
        self.free = Vec::new();
    }
}

/// Distinct counts of what failed, and the first failed targets: only sources with a failure
/// hold one.
#[derive(Clone)]
pub(crate) struct Failed {
    /// Distinct hosts with a failed probe.
    pub hosts: Distinct,
    /// Distinct (protocol, port) with a failed TCP/UDP probe.
    pub ports: Distinct,
    /// First failed targets (capacity `sample_size`).
    pub sample: Vec<Target>,
    /// Failed first contacts: the sum of the five below.
    pub failures: u32,
    /// Refused with RST.
    pub rejected: u32,
    /// Refused with ICMP unreachable by the target itself.
    pub unreachable: u32,
    /// ICMP unreachable from a router on the way (the path, not the target, failed).
    pub unreachable_router: u32,
    /// No answer within the probe timeout.
    pub unanswered: u32,
    /// Stealth probes, failed by construction.
    pub definite: u32,
}

impl Failed {
    fn new(sample: usize) -> Self {
        Failed {
            hosts: Distinct::default(),
            ports: Distinct::default(),
            sample: Vec::with_capacity(sample),
            failures: 0,
            rejected: 0,
            unreachable: 0,
            unreachable_router: 0,
            unanswered: 0,
            definite: 0,
        }
    }
}

/// The detector's shelves.
pub(crate) struct Spare {
    /// Port walk lists at `max_walks_per_source`.
    pub ports: Shelf<List<PortWalk>>,
    /// Host walk lists at `max_walks_per_source`.
    pub hosts: Shelf<List<HostWalk>>,
    /// Sweep cell lists at [`super::state::SWEEP_CELLS`].
    pub sweeps: Shelf<List<Sweep>>,
    /// Failure records, samples at `sample_size`.
    pub failed: Shelf<Box<Failed>>,
    /// Targets filters of sources past a few targets.
    pub seen: Shelf<Box<Seen>>,
    walks: usize,
    sample: usize,
}

/// A borrowed list: boxed, so that a list that never spills costs its owner one pointer.
pub(crate) type List<T> = Box<Vec<T>>;

/// Heap bytes of a [`List`] of `n` `T`s (the allocator's header and rounding not counted).
fn vec_bytes<T>(n: usize) -> usize {
    std::mem::size_of::<Vec<T>>() + n * std::mem::size_of::<T>()
}

impl Spare {
    /// Shelves for lists of `walks` walks and samples of `sample` targets.
    pub(crate) fn new(walks: usize, sample: usize) -> Self {
        let walks = walks.max(1);
        Spare {
            ports: Shelf::new(vec_bytes::<PortWalk>(walks)),
            hosts: Shelf::new(vec_bytes::<HostWalk>(walks)),
            sweeps: Shelf::new(vec_bytes::<Sweep>(super::state::SWEEP_CELLS)),
            failed: Shelf::new(std::mem::size_of::<Failed>() + vec_bytes::<Target>(sample)),
            seen: Shelf::new(std::mem::size_of::<Seen>()),
            walks,
            sample,
        }
    }

    /// An empty failure record.
    pub(crate) fn failed(&mut self) -> Box<Failed> {
        let sample = self.sample;
        self.failed.take(|| Box::new(Failed::new(sample)))
    }

    /// Puts a failure record back, emptied.
    pub(crate) fn give_failed(&mut self, mut f: Box<Failed>) {
        let mut sample = std::mem::take(&mut f.sample);
        sample.clear();
        *f = Failed { sample, ..Failed::new(0) };
        self.failed.give(f);
    }

    /// Walks per list.
    pub(crate) fn walks(&self) -> usize {
        self.walks
    }

    /// Heap bytes of every buffer made (held by sources or free), and the shelves.
    pub(crate) fn bytes(&self) -> usize {
        self.ports.bytes()
            + self.hosts.bytes()
            + self.sweeps.bytes()
            + self.failed.bytes()
            + self.seen.bytes()
    }

    /// Drops the free buffers (memory pressure).
    pub(crate) fn drop_free(&mut self) {
        self.ports.drop_free();
        self.hosts.drop_free();
        self.sweeps.drop_free();
        self.failed.drop_free();
        self.seen.drop_free();
    }
}

/// A list of at most `cap` items: the first `N` inline, past them all in a list at `cap`
/// borrowed from a [`Shelf`]. It behaves as one `Vec` (same order, same `swap_remove`).
#[derive(Clone)]
pub(crate) struct Few<T: Copy + Default, const N: usize> {
    inline: [T; N],
    len: u8,
    /// Every item, once past `N` (capacity `cap`).
    spill: Option<List<T>>,
}

impl<T: Copy + Default, const N: usize> Default for Few<T, N> {
    fn default() -> Self {
        Few { inline: [T::default(); N], len: 0, spill: None }
    }
}

impl<T: Copy + Default, const N: usize> Few<T, N> {
    /// The items.
    pub(crate) fn as_slice(&self) -> &[T] {
        match &self.spill {
            Some(v) => v,
            None => &self.inline[..usize::from(self.len)],
        }
    }

    /// The items, mutably.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match &mut self.spill {
            Some(v) => v,
            None => &mut self.inline[..usize::from(self.len)],
        }
    }

    /// Items held.
    pub(crate) fn len(&self) -> usize {
        self.spill.as_ref().map_or(usize::from(self.len), |v| v.len())
    }

    /// Appends `x`; past `N`, moves to a list of capacity `cap` from `shelf`. The caller keeps
    /// the list under `cap`.
    pub(crate) fn push(&mut self, x: T, cap: usize, shelf: &mut Shelf<List<T>>) {
        let v = match &mut self.spill {
            Some(v) => v,
            None => {
                let n = usize::from(self.len);
                if n < N {
                    self.inline[n] = x;
                    self.len += 1;
                    return;
                }
                let mut v = shelf.take(|| Box::new(Vec::with_capacity(cap.max(N + 1))));
                v.extend_from_slice(&self.inline);
                self.spill.insert(v)
            }
        };
        v.push(x);
    }

    /// Removes item `i`, the last taking its place.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        match &mut self.spill {
            Some(v) => {
                v.swap_remove(i);
            }
            None => {
                let last = usize::from(self.len) - 1;
                self.inline[i] = self.inline[last];
                self.len -= 1;
            }
        }
    }

    /// Empties the list, its buffer going back to `shelf`.
    pub(crate) fn clear(&mut self, shelf: &mut Shelf<List<T>>) {
        self.len = 0;
        if let Some(mut v) = self.spill.take() {
            v.clear();
            shelf.give(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_behaves_as_a_vec_and_returns_its_buffer() {
        let mut shelf: Shelf<List<u32>> = Shelf::new(4 * 8);
        let mut f: Few<u32, 2> = Few::default();
        let mut v: Vec<u32> = Vec::new();
        for x in 0..8u32 {
            f.push(x, 8, &mut shelf);
            v.push(x);
            if x % 3 == 2 {
                f.swap_remove(0);
                v.swap_remove(0);
            }
            assert_eq!(f.as_slice(), &v[..]);
        }
        assert_eq!((shelf.made, shelf.free.len()), (1, 0), "spilled once, into one buffer");
        f.clear(&mut shelf);
        assert_eq!((f.len(), shelf.free.len()), (0, 1), "the buffer is back on the shelf");
        for x in 0..5u32 {
            f.push(x, 8, &mut shelf);
        }
        assert_eq!((shelf.made, shelf.free.len()), (1, 0), "and reused, nothing made");
        let mut g: Few<u32, 2> = Few::default();
        g.push(1, 8, &mut shelf);
        g.push(2, 8, &mut shelf);
        g.swap_remove(0);
        assert_eq!(g.as_slice(), &[2]);
        assert_eq!(shelf.made, 1, "inline lists borrow nothing");
    }
}
