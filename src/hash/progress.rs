//! Bytes read so far by every hashing thread, for the live progress display: counted as they
//! are read, not when a file is done, so that a long read of one big file (or a slow stream)
//! shows as movement and a real stall shows as none. One relaxed add per read call; the
//! display samples the total a few times a second.

use std::sync::atomic::{AtomicU64, Ordering};

static READ: AtomicU64 = AtomicU64::new(0);

/// Counts `n` bytes just read.
pub(crate) fn add(n: u64) {
    READ.fetch_add(n, Ordering::Relaxed);
}

/// Bytes read by this process so far (a display takes differences of it).
pub fn read() -> u64 {
    READ.load(Ordering::Relaxed)
}
