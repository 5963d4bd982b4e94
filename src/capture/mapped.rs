//! A capture file mapped into memory, read without a copy, and safe against the file being cut
//! short by another process while it is mapped.
//!
//! [`super::blocks`] reads a regular classic pcap file through one read-only mapping of the
//! whole file: its blocks are ranges of the mapping, the packets point where they lie, and
//! neither the kernel (`read()` copies every byte into user memory) nor siphon copies a byte.
//! Each block's pages are let go of (`MADV_DONTNEED`) once every worker is done with it, so the
//! mapped part of the file held in memory stays as small as the blocks in flight.
//!
//! A mapped file that another process truncates raises `SIGBUS` on the next access past its new
//! end, which would kill siphon. A `SIGBUS` handler covers it: a fault inside a live mapping
//! gets a page of zeros mapped over the lost page (so the access completes) and the mapping
//! records the offset; the reader then ends the file with a truncation error naming that
//! offset. A fault anywhere else goes to the handler that was there before.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Mappings that can be live at once (one per file being read; more files than this in one
/// process at once fall back to `read()`).
const SLOTS: usize = 16;
/// `madvise` advice: populate (prefault) page tables readable (Linux 5.14).
const MADV_POPULATE_READ: libc::c_int = 22;
/// No page lost.
const NO_FAULT: u64 = u64::MAX;

/// One live mapping as the `SIGBUS` handler sees it.
struct Slot {
    used: AtomicBool,
    /// Start address (0: none).
    base: AtomicUsize,
    len: AtomicUsize,
    /// Offset of the first page lost to a truncation, or [`NO_FAULT`].
    fault: AtomicU64,
}

static GUARD: [Slot; SLOTS] = [const {
    Slot {
        used: AtomicBool::new(false),
        base: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        fault: AtomicU64::new(NO_FAULT),
    }
}; SLOTS];
/// The page size, for the handler.
static PAGE: AtomicUsize = AtomicUsize::new(4096);
/// The `SIGBUS` disposition before ours (`None`: installing ours failed).
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

/// Installs the `SIGBUS` handler once; `false` if it could not be.
fn install() -> bool {
    PREVIOUS
        .get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if let Ok(p) = usize::try_from(page)
                && p.is_power_of_two()
            {
                PAGE.store(p, Ordering::Relaxed);
            }
            // SAFETY: a zeroed sigaction with a SA_SIGINFO handler of the right signature; the
            // previous disposition is written into a zeroed struct.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigbus as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                (libc::sigaction(libc::SIGBUS, &sa, &mut old) == 0).then_some(old)
            }
        })
        .is_some()
}

/// The `SIGBUS` handler: a fault in a live mapping gets a zero page and is recorded; any other
/// goes back to the previous disposition, which the access, retried, then meets.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &GUARD {
        let base = slot.base.load(Ordering::Acquire);
        if base == 0 || addr < base || addr - base >= slot.len.load(Ordering::Acquire) {
            continue;
        }
        let lost = addr & !(page - 1);
        // SAFETY: the page lies in a mapping this process owns (registered, and only
        // unregistered before it is unmapped); replacing it with zeros only changes what
        // readers of that lost page see. mmap is a plain system call, safe in a handler.
        let r = unsafe {
            libc::mmap(
                lost as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            slot.fault.fetch_min((lost - base) as u64, Ordering::AcqRel);
            return;
        }
    }
    if let Some(Some(old)) = PREVIOUS.get() {
        // SAFETY: restores the disposition sigaction gave back when ours was installed.
        unsafe { libc::sigaction(libc::SIGBUS, old, std::ptr::null_mut()) };
    }
}

/// A whole file mapped read-only and registered with the `SIGBUS` handler.
pub(crate) struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
    slot: usize,
    /// Which pages are let go of ([`Mapping::release`]).
    held: std::sync::Mutex<Held>,
}

/// The ranges of a mapping in use, and how far it was let go of.
#[derive(Default)]
struct Held {
    /// Blocks in use (start, end): a handful.
    ranges: Vec<(usize, usize)>,
    /// The end of the furthest block handed out: later blocks start there or after.
    frontier: usize,
    /// Pages below this were let go of.
    released: usize,
}

// SAFETY: the mapping is read-only and lives until the struct is dropped; sharing or moving the
// pointer between threads is as safe as sharing a `&[u8]`.
unsafe impl Send for Mapping {}
// SAFETY: see above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `file` (its size); `None` if it cannot be mapped and guarded (the
    /// caller reads it with `read()` instead).
    pub(crate) fn new(file: &std::fs::File, len: u64) -> Option<Mapping> {
        let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
        if !install() {
            return None;
        }
        let slot = GUARD.iter().position(|s| {
            s.used.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
        })?;
        // SAFETY: a fresh read-only shared mapping of an open file; the kernel picks the address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(file),
                0,
            )
        };
        let g = &GUARD[slot];
        if ptr == libc::MAP_FAILED {
            g.used.store(false, Ordering::Release);
            return None;
        }
        // SAFETY: advice on the mapping just made; failure is harmless.
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        g.fault.store(NO_FAULT, Ordering::Release);
        g.len.store(len, Ordering::Release);
        g.base.store(ptr as usize, Ordering::Release);
        Some(Mapping { ptr, len, slot, held: std::sync::Mutex::default() })
    }

    /// The mapped bytes. A page another process cut off the file reads as zeros
    /// ([`Mapping::fault`] then says where).
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `len` readable bytes at `ptr` for as long as `self` lives (a lost page is
        // replaced, never left unmapped).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    /// Marks `start..end` in use (a block handed out) until [`Mapping::release`].
    pub(crate) fn hold(&self, start: usize, end: usize) {
        if let Ok(mut h) = self.held.lock() {
            h.ranges.push((start, end));
            h.frontier = h.frontier.max(end);
        }
    }

    /// `start..end` is no longer used: the kernel takes back every page below the blocks still
    /// in use (reading one again would map it again). Pages are let go of in file order, each
    /// once, and never one a block in use shares: a page dropped under a block still read would
    /// fault back in with its neighbours (the kernel maps up to 64 KiB around a fault), which
    /// would then stay mapped.
    pub(crate) fn release(&self, start: usize, end: usize) {
        let Ok(mut h) = self.held.lock() else { return };
        if let Some(i) = h.ranges.iter().position(|&r| r == (start, end)) {
            h.ranges.swap_remove(i);
        }
        let low = h.ranges.iter().map(|r| r.0).min().unwrap_or(h.frontier);
        let page = PAGE.load(Ordering::Relaxed);
        // The whole mapping once it is all done, else up to the page `low` is in.
        let to = if low >= self.len { self.len } else { low & !(page - 1) };
        if to > h.released {
            let from = h.released;
            // SAFETY: a page-aligned range inside the mapping (`from` is a page boundary or 0,
            // `to` a page boundary or its end); DONTNEED on a read-only shared file mapping
            // drops only this process's view of the pages.
            unsafe { libc::madvise(self.ptr.cast::<u8>().add(from).cast(), to - from, libc::MADV_DONTNEED) };
            h.released = to;
        }
    }

    /// Maps the pages of `len` bytes from `start` now, in one call rather than a fault per
    /// few pages (a hint: failure, e.g. before Linux 5.14, is harmless).
    pub(crate) fn populate(&self, start: usize, len: usize) {
        let page = PAGE.load(Ordering::Relaxed);
        let from = start & !(page - 1);
        let to = start.saturating_add(len).min(self.len);
        if to > from {
            // SAFETY: advice on a range inside the mapping; a lost page there is covered by
            // the SIGBUS handler like any read.
            unsafe { libc::madvise(self.ptr.cast::<u8>().add(from).cast(), to - from, MADV_POPULATE_READ) };
        }
    }

    /// The offset of the first page lost because the file was cut short while mapped.
    pub(crate) fn fault(&self) -> Option<u64> {
        Some(GUARD[self.slot].fault.load(Ordering::Acquire)).filter(|&f| f != NO_FAULT)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let g = &GUARD[self.slot];
        g.base.store(0, Ordering::Release);
        // SAFETY: the mapping made in `new`, no longer reachable (this is its only owner).
        unsafe { libc::munmap(self.ptr, self.len) };
        g.used.store(false, Ordering::Release);
    }
}

/// A range of a [`Mapping`] (a block), released when the batch holding it is cleared.
pub(crate) struct MapRange {
    map: std::sync::Arc<Mapping>,
    start: usize,
    len: usize,
}

impl MapRange {
    /// `len` bytes from `start` of `map`, in use until dropped.
    pub(crate) fn new(map: std::sync::Arc<Mapping>, start: usize, len: usize) -> MapRange {
        map.hold(start, start + len);
        MapRange { map, start, len }
    }

    /// Its bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.bytes().get(self.start..self.start + self.len).unwrap_or(&[])
    }
}

impl Drop for MapRange {
    fn drop(&mut self) {
        self.map.release(self.start, self.start + self.len);
    }
}
