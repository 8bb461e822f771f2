//! What every read of a file shares, beneath the small-file path (`file`) and the big-file
//! paths (`big`): the per-thread buffer, one `read` retried on EINTR, and why a read stopped.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};

use crate::hash::outcome::{EntryError, ErrorKind};

/// Per-thread read buffer: files smaller than this are read with a single `read` call.
pub(super) const SMALL_BUF: usize = 128 * 1024;
thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's read buffer (files are read one at a time per thread), at
/// least `need` bytes long up to [`SMALL_BUF`]. The buffer grows (in powers of two, from a
/// page) to the largest need its thread met and never shrinks: a thread that only reads
/// small files keeps a small buffer. (A full buffer for every blocking-pool thread cost 128
/// KiB of zeroed memory per thread, and a long run meets more threads: 1.5 MiB of a 10M-file
/// run's peak was these buffers, most of them never filled.)
pub(super) fn with_buf<R>(need: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let len = need.clamp(4096, SMALL_BUF).next_power_of_two();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        f(&mut buf)
    })
}

/// Why a read stopped before the digest.
pub(super) enum ReadStop {
    Cancelled,
    /// The file cannot be memory-mapped (read it instead).
    Unmappable,
    /// The file ended before its size (it shrank while being read).
    Shrunk,
    /// fstat saw the file change before the read was over.
    Changed,
    /// More bytes than the size fstat gave (a growing file, or a pseudo file).
    Longer(u64),
    Io(io::Error),
}

/// The detail of a read ended midway by a stop or a time budget (a job stopped before its
/// read began has none): rotating verification moves such an entry to the back of the line.
pub const DROPPED_WHILE_READ: &str = "dropped while read";

impl ReadStop {
    pub(super) fn into_error(self) -> EntryError {
        match self {
            ReadStop::Cancelled => EntryError::new(ErrorKind::Cancelled, DROPPED_WHILE_READ),
            ReadStop::Unmappable => EntryError::new(ErrorKind::Unreadable, "cannot be mapped"),
            ReadStop::Shrunk => EntryError::new(ErrorKind::Changed, "file shrank while being read"),
            ReadStop::Changed => EntryError::new(ErrorKind::Changed, "modified while being read"),
            ReadStop::Longer(0) => EntryError::new(
                ErrorKind::Changed,
                "size unknown: it reports 0 bytes but has data (a pseudo file, as in /proc or /sys?)",
            ),
            ReadStop::Longer(size) => EntryError::new(
                ErrorKind::Changed,
                format!("more bytes than its size of {size} (growing?)"),
            ),
            ReadStop::Io(e) => EntryError::from_io(ErrorKind::Unreadable, &e),
        }
    }
}

pub(super) fn read_some(mut file: &File, buf: &mut [u8]) -> Result<usize, ReadStop> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadStop::Io(e)),
        }
    }
}
