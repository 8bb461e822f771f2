//! Bytes read so far by every hashing thread, for the live progress display: counted as they
//! are read, not when a file is done, so that a long read of one big file (or a slow stream)
//! shows as movement and a real stall shows as none. Counted only while a display is on (one
//! relaxed add per read call then; a shared counter written from every core is not free, and
//! nothing reads it otherwise).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static READ: AtomicU64 = AtomicU64::new(0);
static ON: AtomicBool = AtomicBool::new(false);

/// Starts counting (a progress display is shown).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Counts `n` bytes just read.
pub(crate) fn add(n: u64) {
    if ON.load(Ordering::Relaxed) {
        READ.fetch_add(n, Ordering::Relaxed);
    }
}

/// Bytes read by this process so far, since counting started (a display takes differences).
pub fn read() -> u64 {
    READ.load(Ordering::Relaxed)
}
