//! Writing a journal as the run goes, and turning it into the state when the run is done.
//!
//! Records are appended in the order the run emits them (canonical). The buffer is written
//! out when a record arrives [`FLUSH_EVERY`] or more after the last write (there is no timer:
//! a run ended by the signal watchdog while blocked in a read loses what it recorded since),
//! and synced at such a write [`SYNC_EVERY`] or more after the last sync (a power cut loses
//! what came since; the checksums find a torn tail). A normal stop flushes and syncs.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::hash::facts::Known;
use crate::state::line::{self, MAGIC};

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const SYNC_EVERY: Duration = Duration::from_secs(5);
const BUF_MAX: usize = 256 * 1024;

/// A journal being written.
pub struct Journal {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    /// Where the unsealed records start in `buf`, and how many there are.
    block_start: usize,
    block_records: u64,
    records: u64,
    flushed: Instant,
    synced: Instant,
}

impl Journal {
    /// Creates the journal at `path` (which must not exist: never a file that is not ours,
    /// never through a symlink) with its header. Mode 0644 at most (the umask may take
    /// more): a reader trusts only files no one else can write.
    pub fn create(path: &Path, started: SystemTime, options: &[u8]) -> io::Result<Journal> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        let now = Instant::now();
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            buf: Vec::with_capacity(BUF_MAX + 4096),
            block_start: 0,
            block_records: 0,
            records: 0,
            flushed: now,
            synced: now,
        };
        line::seal(MAGIC.as_bytes(), &mut j.buf);
        line::seal(line::started(started).as_bytes(), &mut j.buf);
        let mut opts = b"options ".to_vec();
        opts.extend_from_slice(options);
        line::seal(&opts, &mut j.buf);
        j.block_start = j.buf.len();
        j.flush()?;
        Ok(j)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the record of `name`.
    pub fn record(&mut self, name: &[u8], known: &Known) -> io::Result<()> {
        line::record(name, known, &mut self.buf);
        self.records += 1;
        self.block_records += 1;
        if self.buf.len() >= BUF_MAX || self.flushed.elapsed() >= FLUSH_EVERY {
            self.flush()?;
            if self.synced.elapsed() >= SYNC_EVERY {
                self.file.sync_data()?;
                self.synced = Instant::now();
            }
        }
        Ok(())
    }

    /// Seals the records buffered as one block and writes what is buffered to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.block_records > 0 {
            let mut sum = Vec::with_capacity(40);
            line::block_sum(&self.buf[self.block_start..], self.block_records, &mut sum);
            self.buf.extend_from_slice(&sum);
            self.block_records = 0;
        }
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        self.block_start = 0;
        self.flushed = Instant::now();
        Ok(())
    }

    /// Ends the journal as a state for the manifest whose bytes hash to `manifest`, and
    /// syncs it (it is about to be renamed into place).
    pub fn finish(mut self, manifest: &blake3::Hash) -> io::Result<PathBuf> {
        self.flush()?;
        line::seal(line::end(self.records, manifest).as_bytes(), &mut self.buf);
        self.flush()?;
        self.file.sync_data()?;
        Ok(self.path)
    }

    /// Leaves the journal for the next run: flushed and synced.
    pub fn keep(mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_data()
    }
}
