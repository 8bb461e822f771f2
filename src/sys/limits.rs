//! Open-file budget: how many files the hashers may hold open at once.
//!
//! hashdeep drops files when it runs into EMFILE. We avoid EMFILE where we can (raise the
//! soft RLIMIT_NOFILE toward the hard limit, then size the open-file semaphore from what is
//! left after the descriptors already in use and those the walker may hold) and treat it as
//! back-pressure where we cannot (an open that gets EMFILE waits and retries:
//! `resolve::retry_emfile`).

/// Cores this process may run on (2 if unknown).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Directory handles walkdir may keep open (its `max_open`) when descriptors are plenty.
pub const WALKER_OPEN_DIRS: usize = 8;
/// Descriptors the async runtime opens on first use (epoll, eventfd, timerfd), after the
/// budget is measured; plus one spare (reading /proc/self/fd, a late manifest).
const RUNTIME: usize = 3 + 1;
/// Descriptors one hashing job holds at once: the root (confined opens), the directory of
/// its file, and the file.
const PER_JOB: usize = 3;
/// More open files than this buys nothing: each hashing job holds at most one at a time.
pub const MAX_OPEN_CEILING: usize = 1024;

/// Raises the soft RLIMIT_NOFILE as far as the hard limit allows and returns the new soft
/// limit (or the old one if raising failed).
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    // None means unlimited.
    let current = lim.current.unwrap_or(u64::MAX);
    let want = lim.maximum.unwrap_or(u64::MAX).min(65_536);
    if want > current {
        let raised = Rlimit {
            current: Some(want),
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return want;
        }
    }
    current
}

/// Raises the soft limit, then measures what is open beneath it: (soft limit, in use).
pub fn descriptors() -> (u64, usize) {
    let soft = raise_nofile_limit();
    (soft, open_descriptors(soft))
}

/// Descriptors this process has open right now with a number below `soft_limit` (only
/// those take the slots new descriptors need: an inherited fd 255 does not), from
/// /proc/self/fd; `soft_limit` itself (nothing left) when that cannot even be read.
pub fn open_descriptors(soft_limit: u64) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return usize::try_from(soft_limit).unwrap_or(usize::MAX);
    };
    let below = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|&fd| fd < soft_limit)
        .count();
    below.saturating_sub(1) // the descriptor of the listing itself
}

/// How the descriptors the limit leaves are shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Files hashed at once (default `--max-open`).
    pub max_open: usize,
    /// Directory handles the walker may hold.
    pub walker_dirs: usize,
}

/// Shares out what `soft_limit` leaves after the `in_use` descriptors and the runtime's;
/// below the minimum (one walker handle and one job) an error naming both numbers, so a run
/// fails up front instead of stalling on EMFILE for every file.
pub fn budget(soft_limit: u64, in_use: usize) -> Result<Budget, String> {
    let limit = usize::try_from(soft_limit).unwrap_or(usize::MAX);
    let minimum = in_use + RUNTIME + 1 + PER_JOB;
    let Some(avail) = limit.checked_sub(in_use + RUNTIME).filter(|&a| a > PER_JOB) else {
        return Err(format!(
            "the open-file limit (RLIMIT_NOFILE, `ulimit -n`) is {limit}; b3tree needs at \
             least {minimum} here ({in_use} already open)"
        ));
    };
    let walker_dirs = (avail / 4).clamp(1, WALKER_OPEN_DIRS);
    let max_open = ((avail - walker_dirs) / PER_JOB).clamp(1, MAX_OPEN_CEILING);
    Ok(Budget {
        max_open,
        walker_dirs,
    })
}

/// The whole machine's CPU time so far in clock ticks, from the first line of /proc/stat:
/// (idle, all), idle counting `idle` and `iowait`; None where /proc/stat cannot be read or
/// reads otherwise (the caller then goes by the process's own CPU time alone).
pub fn machine_cpu_ticks() -> Option<(u64, u64)> {
    use std::io::Read;
    let mut buf = [0u8; 512];
    let n = std::fs::File::open("/proc/stat")
        .ok()?
        .read(&mut buf)
        .ok()?;
    let line = buf[..n].split(|&b| b == b'\n').next()?;
    let mut fields = std::str::from_utf8(line).ok()?.split_ascii_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let ticks: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let all = ticks.iter().try_fold(0u64, |sum, &t| sum.checked_add(t))?;
    (ticks.len() >= 5).then(|| (ticks[3] + ticks[4], all))
}

/// CPU time this process has used so far (all threads, user and system).
pub fn process_cpu_time() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_ticks_read_and_advance() {
        let (idle, all) = machine_cpu_ticks().expect("/proc/stat");
        assert!(idle <= all && all > 0);
        let burn = std::time::Instant::now();
        while burn.elapsed() < std::time::Duration::from_millis(50) {}
        let (idle2, all2) = machine_cpu_ticks().unwrap();
        // (iowait may go backwards: the gate saturates; only the total must advance.)
        assert!(all2 > all && idle2 <= all2);
    }

    #[test]
    fn budget_leaves_room_and_refuses_below_the_minimum() {
        // 6 in use + 4 runtime + 1 walker + 3 for a job = 14.
        assert!(budget(13, 6).is_err());
        assert_eq!(
            budget(14, 6),
            Ok(Budget {
                max_open: 1,
                walker_dirs: 1
            })
        );
        let b = budget(1024, 10).unwrap();
        assert_eq!(b.walker_dirs, WALKER_OPEN_DIRS);
        assert_eq!(b.max_open, (1024 - 14 - 8) / 3);
        assert_eq!(budget(1 << 20, 10).unwrap().max_open, MAX_OPEN_CEILING);
        assert!(budget(5, 6).is_err());
    }
}
