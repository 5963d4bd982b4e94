//! The binary's allocator settings. siphon's binary (and `examples/worker_replay`, so its figures
//! are the binary's) declares mimalloc as its global allocator: its arenas are committed at once
//! and advised for transparent huge pages, so the detectors' tables (tens of MiB touched at
//! random) cost a fraction of the page faults and TLB misses of 4 KiB pages (README,
//! Performance). The library itself does not choose an allocator.

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys 0.1.49 names no
/// constant for it; a test below checks the index against the option's default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc return freed memory to the system immediately (its default waits 1 s, ten
/// times longer for arenas): a table that doubled leaves its old half behind otherwise, and
/// peak RSS rises by a quarter (137 vs 112 MiB on the pipeline benchmark). Call first in
/// `main`, before any thread is spawned.
pub fn tune_mimalloc() {
    // SAFETY: `mi_option_set` only stores a value, but is not thread safe; callers run it before
    // any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_index_names_mimallocs_option() {
        // SAFETY: reads a global option; no test of this crate sets it.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000, "mimalloc 3's purge delay defaults to 1000 ms");
    }
}
