//! Where `hash --outboard` puts the group values of the files it reads, until the run's end
//! writes them beside the manifest in manifest order (`state::outboard`).
//!
//! Why a spool file and not memory: a 50 GB file has 100 MB of values at 16 KiB groups, and
//! the reorder window may hold several such files finished out of order. Each file read gets
//! a region of an unnamed temporary file, sized from its fstat before the read (a file that
//! changes fails its read, and its region is never used), and the values are written there
//! as they are computed. The region is found again by the version of the file the read saw
//! (device, inode, size, mtime, ctime): what the output stage gets with every digest, so the
//! other names of a hard-linked file (given its digest without a read) find it too.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::hash::facts::Facts;
use crate::hash::groups::{self, CV_LEN, Cv};
use crate::hash::stat::Stat;

/// A version of a file: device, inode, size, mtime, ctime.
type Version = (u64, u64, u64, (i64, i64), (i64, i64));

/// The run's spool (`hash --outboard` starts it before the walk).
static ACTIVE: OnceLock<Arc<Spool>> = OnceLock::new();

/// Makes every later file of group-data size keep its values in `spool`.
pub fn start(spool: Arc<Spool>) {
    let _ = ACTIVE.set(spool);
}

/// The spool, when this run keeps group values.
pub(crate) fn active() -> Option<&'static Spool> {
    ACTIVE.get().map(|s| &**s)
}

/// Group values of the files read so far, in an unnamed temporary file.
pub struct Spool {
    file: File,
    group: u64,
    /// Bytes reserved so far.
    end: AtomicU64,
    /// Where each file version read has its values (one entry per big file read: 56 bytes
    /// for at least 1 MiB of data).
    found: Mutex<HashMap<Version, u64>>,
    /// The first write that failed (the outboard is then not written).
    failed: Mutex<Option<io::Error>>,
}

impl Spool {
    /// A spool in `dir` (the manifest's directory: the values are copied beside it at the
    /// end) for groups of `group` bytes.
    pub fn new(dir: &Path, group: u64) -> io::Result<Spool> {
        Ok(Spool {
            file: tempfile::tempfile_in(dir)?,
            group,
            end: AtomicU64::new(0),
            found: Mutex::new(HashMap::new()),
            failed: Mutex::new(None),
        })
    }

    pub fn group(&self) -> u64 {
        self.group
    }

    /// A region for the values of a file of `size` bytes: its byte offset.
    pub(crate) fn reserve(&self, size: u64) -> u64 {
        let len = groups::count(size, self.group) * CV_LEN;
        self.end.fetch_add(len, Ordering::Relaxed)
    }

    /// Writes values `first..` of the region at `at`.
    pub(crate) fn write(&self, at: u64, first: u64, cvs: &[Cv]) {
        let bytes = cvs.as_flattened();
        if let Err(e) = self.file.write_all_at(bytes, at + first * CV_LEN) {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert(e);
        }
    }

    /// The file whose fstat before its read was `seen` has its values at `at`.
    pub(crate) fn found(&self, seen: &Stat, at: u64) {
        let version = (seen.dev, seen.ino, seen.size, seen.mtime, seen.ctime);
        self.lock().insert(version, at);
    }

    /// Where the values of the file version `facts` are, if it was read in this run (every
    /// name of it asks: hard links, and a file reached twice through `-L`'s links).
    pub fn take(&self, facts: &Facts) -> Option<u64> {
        let version: Version = (
            facts.dev,
            facts.ino,
            facts.size,
            (facts.mtime.0, i64::from(facts.mtime.1)),
            (facts.ctime.0, i64::from(facts.ctime.1)),
        );
        self.lock().get(&version).copied()
    }

    /// Copies the values of a file of `size` bytes at `at` to `out`.
    pub fn copy(&self, at: u64, size: u64, out: &mut dyn io::Write) -> io::Result<()> {
        let mut left = groups::count(size, self.group) * CV_LEN;
        let mut buf = vec![0u8; 64 * 1024];
        let mut pos = at;
        while left > 0 {
            if crate::sys::cancel::reads_stop() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
            self.file.read_exact_at(&mut buf[..n], pos)?;
            out.write_all(&buf[..n])?;
            pos += n as u64;
            left -= n as u64;
        }
        Ok(())
    }

    /// The first write that failed, if one did.
    pub fn failure(&self) -> Option<String> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.as_ref().map(ToString::to_string)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Version, u64>> {
        self.found.lock().unwrap_or_else(|p| p.into_inner())
    }
}
