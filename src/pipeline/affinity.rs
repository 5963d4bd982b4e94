//! Worker threads pinned to CPUs (`capture.pin_workers`).
//!
//! Each worker takes the CPU of its slot among those the process may run on, when there are at
//! least as many of them as workers, so the scheduler never stacks two workers on one CPU while
//! another idles. On the 2-core VM the benchmarks run on it did at times: alternating runs of
//! one binary, pinned against not, the day profile took 0.350 against 0.364 s and mixed 0.199
//! against 0.204 s (medians of 12 and 6 rounds, just after a CI run). Pinning is best effort:
//! a refusal (a container's CPU set changing under the run) leaves the thread where the kernel
//! puts it.

/// The CPUs the calling thread may run on, in increasing order (empty if the kernel would not
/// say).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `sched_getaffinity` writes at most `size_of::<cpu_set_t>()` bytes into the zeroed
    // set it is given; `CPU_ISSET` reads it within `CPU_SETSIZE`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
    }
}

/// Pins the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    // SAFETY: as above; `CPU_SET` writes within `CPU_SETSIZE` (checked first).
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPU worker `slot` of `workers` is pinned to: the slot-th of `allowed`, when there are
/// two workers or more and no more of them than CPUs.
pub(super) fn cpu_for(slot: usize, workers: usize, allowed: &[usize]) -> Option<usize> {
    (workers >= 2 && workers <= allowed.len()).then(|| allowed.get(slot).copied()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_pinned_to_the_cpu_asked() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        let last = *allowed.last().unwrap();
        let seen = std::thread::spawn(move || {
            pin_current_thread(last).unwrap();
            allowed_cpus()
        })
        .join()
        .unwrap();
        assert_eq!(seen, vec![last]);
        // The spawning thread is untouched.
        assert_eq!(allowed_cpus(), allowed);
    }

    #[test]
    fn workers_take_one_cpu_each_or_none() {
        let cpus = [0, 2, 5];
        assert_eq!((0..3).map(|s| cpu_for(s, 3, &cpus)).collect::<Vec<_>>(), [Some(0), Some(2), Some(5)]);
        assert_eq!(cpu_for(1, 2, &cpus), Some(2));
        // One worker, or more workers than CPUs: the kernel places them.
        assert_eq!(cpu_for(0, 1, &cpus), None);
        assert_eq!(cpu_for(0, 4, &cpus), None);
        assert!(pin_current_thread(libc::CPU_SETSIZE as usize).is_err());
    }
}
