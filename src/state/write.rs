//! Writing a journal as the run goes, and turning it into the state when the run is done.
//!
//! Records are appended in the order the run emits them (canonical). The buffer is written
//! out when a record arrives [`FLUSH_EVERY`] or more after the last write, and by a timer
//! thread when records have waited [`FLUSH_AFTER`] with none after them (a run hashing one
//! big file after another emits a record every few seconds): a SIGKILL or a power cut loses
//! at most about a second of finished work. The timer thread also syncs what was written,
//! [`SYNC_EVERY`] or more after the last sync, without holding the journal: the run goes on
//! while the disk catches up (a sync that waited for a gigabyte of records to reach a slow
//! disk used to stall the run; the checksums find a torn tail). A normal stop flushes and
//! syncs.
//!
//! The journal file is held under an exclusive `flock` for as long as its run has it open,
//! and it gets its name only once it is locked (it is created under a temporary name): a
//! concurrent `--update` of the same manifest that finishes first removes the journals of
//! stopped runs, never one that is being written (see [`remove_unlocked`]).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::hash::facts::Known;
use crate::names::temp::{self, Temp};
use crate::state::line::{self, MAGIC};

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AFTER: Duration = Duration::from_millis(500);
const SYNC_EVERY: Duration = Duration::from_secs(5);
const BUF_MAX: usize = 256 * 1024;

/// A journal being written.
pub struct Journal {
    path: PathBuf,
    /// The temporary file until [`Journal::name`]; removed if the journal is never named.
    temp: Option<Temp>,
    inner: Arc<Mutex<Inner>>,
}

/// What the run's thread and the timer thread share.
struct Inner {
    /// Shared with the timer thread's syncs, which run without the lock.
    file: Arc<File>,
    buf: Vec<u8>,
    /// Where the unsealed records start in `buf`, and how many there are.
    block_start: usize,
    block_records: u64,
    records: u64,
    flushed: Instant,
    synced: Instant,
    /// Bytes were written since the last sync.
    unsynced: bool,
    /// A write of the timer thread that failed: the run's next call returns it.
    failed: Option<io::Error>,
}

impl Journal {
    /// Creates a journal under a temporary name in `dir` (never a file that is not ours,
    /// never through a symlink), locks it and prepares its header (written once it is
    /// named). It becomes a journal other
    /// runs see only when [`Self::name`] gives it its name: a file under a journal's name is
    /// locked from the moment it has that name, so a concurrent run that removes the
    /// journals of stopped runs can never take it for one. Mode 0644 at most (the umask may
    /// take more): a reader trusts only files no one else can write.
    pub fn create(dir: &Path, started: SystemTime, options: &[u8]) -> io::Result<Journal> {
        // Made locked (temp::create_in), so no other run takes it for a stopped run's.
        let (file, temp) = temp::create_in(dir, 0o644)?;
        // Just made, so it has its temporary name.
        let path = temp.path().unwrap_or(dir).to_path_buf();
        let now = Instant::now();
        let mut j = Inner {
            file: Arc::new(file),
            buf: Vec::with_capacity(BUF_MAX + 4096),
            block_start: 0,
            block_records: 0,
            records: 0,
            flushed: now,
            synced: now,
            unsynced: false,
            failed: None,
        };
        line::seal(MAGIC.as_bytes(), &mut j.buf);
        line::seal(line::started(started).as_bytes(), &mut j.buf);
        let mut opts = b"options ".to_vec();
        opts.extend_from_slice(options);
        line::seal(&opts, &mut j.buf);
        j.block_start = j.buf.len();
        let inner = Arc::new(Mutex::new(j));
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || flush_when_idle(weak))?;
        Ok(Journal {
            path,
            temp: Some(temp),
            inner,
        })
    }

    /// Gives the journal its name `path`, which must not exist (AlreadyExists: another run
    /// or another file has it; the journal keeps its temporary name for the next try), and
    /// writes its header there.
    ///
    /// A filesystem that can neither refuse to replace on rename nor make a hard link (some
    /// FUSE filesystems) gets the journal made under its name instead (never replacing
    /// anything) and locked right after: there, a concurrent run that finishes in between
    /// may still take it for a stopped run's journal.
    pub fn name(&mut self, path: &Path) -> io::Result<()> {
        let Some(temp) = self.temp.as_mut() else {
            return Err(io::Error::other("the journal is named already"));
        };
        match temp.rename_to(path, false) {
            Ok(()) => {}
            Err(e) if cannot_link(&e) => {
                use std::os::unix::fs::OpenOptionsExt;
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(path)?;
                let _ =
                    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive);
                self.lock().file = Arc::new(file);
            }
            Err(e) => return Err(e),
        }
        // Renamed, or left for its drop to remove.
        self.temp = None;
        self.path = path.to_path_buf();
        self.lock().flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding it cannot leave the buffer half-written: every
        // change is a whole record or a whole flush.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends the record of `name`.
    pub fn record(&mut self, name: &[u8], known: &Known) -> io::Result<()> {
        let mut j = self.lock();
        if let Some(e) = j.failed.take() {
            return Err(e);
        }
        line::record(name, known, &mut j.buf);
        j.records += 1;
        j.block_records += 1;
        if j.buf.len() >= BUF_MAX || j.flushed.elapsed() >= FLUSH_EVERY {
            j.flush()?;
        }
        Ok(())
    }

    /// Appends records sealed in another file, `records` of them, in order: bytes `range` of
    /// `src` (whole blocks, each with its `sum` line) as they are, then `lines` (record lines
    /// with their newlines) into the block being built. A stop (Ctrl-C) during the copy, or
    /// a source that cannot be read to the end (truncated, a stale NFS handle), takes the
    /// copied bytes back and leaves those records out (the caller's source has them, or had:
    /// they are read again); Ok(false) says so. Err: the journal cannot be written.
    pub fn append_copied(
        &mut self,
        src: &File,
        range: std::ops::Range<u64>,
        lines: &[u8],
        records: u64,
    ) -> io::Result<bool> {
        use crate::sys::copy::CopyError;
        use std::io::{Seek, SeekFrom};
        let mut j = self.lock();
        if let Some(e) = j.failed.take() {
            return Err(e);
        }
        j.flush()?;
        let file = Arc::clone(&j.file);
        let before = (&*file).stream_position()?;
        match crate::sys::copy::copy_range(src, range, &mut &*file) {
            Ok(()) => j.unsynced = true,
            Err(CopyError::Stopped | CopyError::Read(_)) => {
                file.set_len(before)?;
                (&*file).seek(SeekFrom::Start(before))?;
                return Ok(false);
            }
            Err(CopyError::Write(e)) => return Err(e),
        }
        let in_lines = memchr::memchr_iter(b'\n', lines).count() as u64;
        j.buf.extend_from_slice(lines);
        j.block_records += in_lines;
        j.records += records;
        if j.buf.len() >= BUF_MAX {
            j.flush()?;
        }
        Ok(true)
    }

    /// Ends the journal as a state for the manifest whose bytes hash to `manifest`, and
    /// syncs it (it is about to be renamed into place; the lock stays until it is dropped).
    pub fn finish(&mut self, manifest: &blake3::Hash) -> io::Result<()> {
        let mut j = self.lock();
        if let Some(e) = j.failed.take() {
            return Err(e);
        }
        j.flush()?;
        let end = line::end(j.records, manifest);
        line::seal(end.as_bytes(), &mut j.buf);
        j.flush()?;
        j.file.sync_data()
    }

    /// Removes the journal (a run that had nothing new to record): only if the file under
    /// its name is still the one this run holds.
    pub fn discard(self) {
        if self.temp.is_none() && still_named(&self.lock().file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Leaves the journal for the next run: flushed and synced.
    pub fn keep(self) -> io::Result<()> {
        let mut j = self.lock();
        if let Some(e) = j.failed.take() {
            return Err(e);
        }
        j.flush()?;
        j.file.sync_data()
    }
}

impl Inner {
    /// Seals the records buffered as one block and writes what is buffered to the file.
    fn flush(&mut self) -> io::Result<()> {
        if self.block_records > 0 {
            let mut sum = Vec::with_capacity(40);
            line::block_sum(&self.buf[self.block_start..], self.block_records, &mut sum);
            self.buf.extend_from_slice(&sum);
            self.block_records = 0;
        }
        let written = (&*self.file).write_all(&self.buf);
        self.unsynced |= !self.buf.is_empty();
        self.buf.clear();
        self.block_start = 0;
        self.flushed = Instant::now();
        written
    }

    /// The file to sync, if a sync is due (marked done now: the caller syncs it without the
    /// lock).
    fn sync_due(&mut self) -> Option<Arc<File>> {
        if !self.unsynced || self.synced.elapsed() < SYNC_EVERY {
            return None;
        }
        self.unsynced = false;
        self.synced = Instant::now();
        Some(Arc::clone(&self.file))
    }
}

/// A rename that never replaces and a hard link are both unsupported here.
fn cannot_link(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS)
    )
}

/// The timer: writes out records that have waited [`FLUSH_AFTER`] with no record after them,
/// and syncs what was written when a sync is due (outside the lock); ends with the journal.
fn flush_when_idle(journal: Weak<Mutex<Inner>>) {
    loop {
        std::thread::sleep(FLUSH_AFTER / 2);
        let Some(inner) = journal.upgrade() else {
            return;
        };
        let lock = || inner.lock().unwrap_or_else(|p| p.into_inner());
        let due = {
            let mut j = lock();
            if j.block_records > 0 && j.failed.is_none() && j.flushed.elapsed() >= FLUSH_AFTER {
                if let Err(e) = j.flush() {
                    j.failed = Some(e);
                }
            }
            j.failed.is_none().then(|| j.sync_due()).flatten()
        };
        if let Some(Err(e)) = due.map(|file| file.sync_data()) {
            lock().failed.get_or_insert(e);
        }
    }
}

use crate::names::temp::still_named;
