//! How many malloc arenas the process may use.
//!
//! glibc gives each thread that allocates while another holds an arena an arena of its own,
//! up to eight per CPU, and each arena keeps the memory its thread freed. The blocking pool
//! starts and ends threads as the load moves, so a long run meets more threads than a short
//! one, and its peak memory grew with the tree for that reason alone: hashing 10,000,000
//! empty files peaked 1.3 × higher than 1,000,000 with the default arenas, 1.0–1.3 × with
//! one or two (by hand, two runs each; docs/performance.md). Most allocations on the hot path
//! are small and short-lived, served from the thread's cache before any arena lock; a
//! batch's vectors take the lock once per batch. Fewer arenas showed no cost we could tell
//! from the noise: a warm hash of the rustup home against the build before was 1.06 × with
//! 16 arenas allowed, 1.08 × and 1.11 × with 2 and 4 (sets of 7 pairs, ranges ±0.1).
//!
//! A limit the user set (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`) is left as it is.

/// Caps the arenas at one per CPU (at least 2); call before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let tunables = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
        let set_by_user = std::env::var_os("MALLOC_ARENA_MAX").is_some()
            || tunables
                .as_bytes()
                .windows(b"arena_max".len())
                .any(|w| w == b"arena_max");
        if set_by_user {
            return;
        }
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let arenas = libc::c_int::try_from(cpus.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc parameter; M_ARENA_MAX is read when a thread
        // first needs an arena, so setting it at any time is sound.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
