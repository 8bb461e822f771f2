//! Open-file budget: how many files the hashers may hold open at once.
//!
//! hashdeep drops files when it runs into EMFILE. We avoid EMFILE where we can (raise the
//! soft RLIMIT_NOFILE toward the hard limit, then size the open-file semaphore from what is
//! left after the descriptors already in use and those the walker may hold) and treat it as
//! back-pressure where we cannot (the hasher waits and retries; see `hasher`).

/// Directory handles walkdir may keep open (its `max_open`).
pub const WALKER_OPEN_DIRS: usize = 8;
/// Descriptors kept free for the output file, the signal pipe, stdio and the runtime.
const RESERVE: usize = 8;
/// More open files than this buys nothing: each hashing job holds at most one at a time.
pub const MAX_OPEN_CEILING: usize = 1024;

/// Raises the soft RLIMIT_NOFILE as far as the hard limit allows and returns the new soft
/// limit (or the old one if raising failed).
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 256;
        }
        let want = lim.rlim_max.min(65_536);
        if want > lim.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return want;
            }
        }
        lim.rlim_cur
    }
}

/// Descriptors this process has open right now (from /proc/self/fd; a guess if unavailable).
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(16)
}

/// Default `--max-open`: what the descriptor limit leaves after what is in use and reserved.
pub fn default_max_open(soft_limit: u64, in_use: usize) -> usize {
    let limit = usize::try_from(soft_limit).unwrap_or(usize::MAX);
    // Each hashing job holds a file and the handle of its directory: two descriptors.
    (limit.saturating_sub(in_use + WALKER_OPEN_DIRS + RESERVE) / 2).clamp(1, MAX_OPEN_CEILING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_room_and_never_reaches_zero() {
        assert_eq!(default_max_open(16, 6), 1);
        assert_eq!(default_max_open(1024, 10), (1024 - 26) / 2);
        assert_eq!(default_max_open(1 << 20, 10), MAX_OPEN_CEILING);
    }
}
