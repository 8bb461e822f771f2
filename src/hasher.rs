//! The blocking stage: open, read and hash one file, on a thread of the blocking pool.
//!
//! Trust comes from what we check around the read, not from the read itself:
//! - open with `O_NONBLOCK | O_NOCTTY`, then `fstat` the open descriptor, and hash only a
//!   regular file — a FIFO or device swapped in after the walk can never make us hang;
//! - EMFILE/ENFILE is back-pressure: wait and retry, never drop the file;
//! - after the last read, `fstat` again: size, mtime, ctime, device and inode must be
//!   unchanged and the bytes read must equal the size, else the file "changed while
//!   hashing" and no digest is reported;
//! - the cancel flag is polled between chunks, so Ctrl-C stops a multi-GiB read promptly.
//!
//! Small files (most of a typical tree) are read into a reused per-thread buffer with no
//! extra work. Big files use blake3's rayon support so one file can keep every core busy.

use std::cell::RefCell;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cancel;
use crate::job::{EntryError, ErrorKind, Outcome, SkipKind};

/// Per-thread read buffer: files smaller than this are read with a single `read` call.
const SMALL_BUF: usize = 128 * 1024;
/// From this size on a file is hashed with blake3's rayon path (blake3's docs: below
/// ~128 KiB per call rayon loses; our chunks are far larger).
pub const BIG_FILE: u64 = 4 * 1024 * 1024;
/// Read size for big files: large enough for rayon to split well.
const BIG_CHUNK: usize = 4 * 1024 * 1024;
/// How long to wait for a free descriptor (EMFILE) before giving up on a file.
const EMFILE_PATIENCE: Duration = Duration::from_secs(60);

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SMALL_BUF]);
}

/// Hashes the file at `path` and says how that ended.
pub fn hash_path(path: &Path) -> Outcome {
    let file = match open_retrying(path) {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(open_error(&e)),
    };
    let before = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(EntryError::from_io(ErrorKind::Unreadable, &e)),
    };
    if !before.file_type().is_file() {
        let what = if before.is_dir() {
            "directory"
        } else {
            SkipKind::of(before.file_type()).as_str()
        };
        return Outcome::Failed(EntryError::new(ErrorKind::NotRegular, what));
    }
    let mut hasher = blake3::Hasher::new();
    let read = if before.len() >= BIG_FILE {
        read_big(&file, &mut hasher)
    } else {
        read_small(&file, &mut hasher)
    };
    let read = match read {
        Ok(n) => n,
        Err(ReadStop::Cancelled) => {
            return Outcome::Failed(EntryError::new(ErrorKind::Cancelled, ""));
        }
        Err(ReadStop::Io(e)) => {
            return Outcome::Failed(EntryError::from_io(ErrorKind::Unreadable, &e));
        }
    };
    let after = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(EntryError::from_io(ErrorKind::Unreadable, &e)),
    };
    if let Some(why) = changed(&before, &after, read) {
        return Outcome::Failed(EntryError::new(ErrorKind::Changed, why));
    }
    Outcome::Hashed { hash: hasher.finalize(), size: read }
}

fn open_retrying(path: &Path) -> io::Result<File> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let res = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path);
        match res {
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                    && started.elapsed() < EMFILE_PATIENCE
                    && !cancel::is_stopped() =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn open_error(e: &io::Error) -> EntryError {
    let kind = match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => ErrorKind::Vanished,
        _ => ErrorKind::Unreadable,
    };
    EntryError::from_io(kind, e)
}

enum ReadStop {
    Cancelled,
    Io(io::Error),
}

fn read_some(mut file: &File, buf: &mut [u8]) -> Result<usize, ReadStop> {
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadStop::Io(e)),
        }
    }
}

fn read_small(file: &File, hasher: &mut blake3::Hasher) -> Result<u64, ReadStop> {
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let mut total = 0u64;
        loop {
            let n = read_some(file, &mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            hasher.update(&buf[..n]);
            total += n as u64;
            if cancel::is_stopped() {
                return Err(ReadStop::Cancelled);
            }
        }
    })
}

fn read_big(file: &File, hasher: &mut blake3::Hasher) -> Result<u64, ReadStop> {
    let mut buf = vec![0u8; BIG_CHUNK];
    let mut total = 0u64;
    loop {
        if cancel::is_stopped() {
            return Err(ReadStop::Cancelled);
        }
        // Fill the chunk completely so rayon always gets a large input.
        let mut filled = 0;
        while filled < buf.len() {
            let n = read_some(file, &mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(total);
        }
        hasher.update_rayon(&buf[..filled]);
        total += filled as u64;
    }
}

/// Why the file cannot be trusted to be the one we read, if it cannot.
fn changed(before: &Metadata, after: &Metadata, read: u64) -> Option<String> {
    if read != before.len() {
        return Some(format!("size was {} bytes, read {}", before.len(), read));
    }
    if after.len() != before.len() {
        return Some(format!("size went from {} to {} bytes", before.len(), after.len()));
    }
    let same = before.dev() == after.dev()
        && before.ino() == after.ino()
        && before.mtime() == after.mtime()
        && before.mtime_nsec() == after.mtime_nsec()
        && before.ctime() == after.ctime()
        && before.ctime_nsec() == after.ctime_nsec();
    (!same).then(|| "modified while being read".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_sizes_around_the_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, SMALL_BUF - 1, SMALL_BUF, SMALL_BUF + 1, BIG_FILE as usize + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let p = dir.path().join(format!("f{len}"));
            std::fs::write(&p, &data).unwrap();
            assert_eq!(
                hash_path(&p),
                Outcome::Hashed { hash: blake3::hash(&data), size: len as u64 },
                "length {len}"
            );
        }
    }

    #[test]
    fn missing_file_is_vanished_and_directory_is_not_regular() {
        let dir = tempfile::tempdir().unwrap();
        match hash_path(&dir.path().join("nope")) {
            Outcome::Failed(e) => assert_eq!(e.kind, ErrorKind::Vanished),
            o => panic!("{o:?}"),
        }
        match hash_path(dir.path()) {
            Outcome::Failed(e) => assert_eq!(e.kind, ErrorKind::NotRegular),
            o => panic!("{o:?}"),
        }
    }
}
