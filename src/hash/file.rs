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
//! extra work. Big files (≥ 4 MiB) go to `big`: read (or, from 64 MiB, mapped) a piece at a
//! time, one alone spread over every core, several at once each on its own core.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::hash::algo::Mode;
use crate::hash::big;
use crate::hash::facts::{Facts, Known};
use crate::hash::groups::{self, Cv, GroupHasher};
use crate::hash::links::{Claim, Links};
use crate::hash::outboard::{self, Spool};
use crate::hash::outcome::{Content, FileKind};
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::hash::progress;
use crate::hash::read::{ReadStop, SMALL_BUF, read_some, with_buf};
use crate::hash::stat::Stat;
use crate::hash::whole::{self, BIG_FILE};
use crate::sys::cancel;
use crate::sys::fsinfo;
use crate::sys::open::DirCache;

/// Hashes the file at `path` (opened as given) and says how that ended.
#[cfg(test)]
fn hash_path(path: &Path) -> Outcome {
    match DirCache::new(crate::sys::open::Confine::Anywhere) {
        Ok(mut dirs) => hash_path_in(&mut dirs, path, &Mode::default()),
        Err(e) => Outcome::Failed(EntryError::from_io(ErrorKind::Unreadable, &e)),
    }
}

/// Hashes a FIFO or character device named on the command line: opened blocking (a FIFO
/// waits for its writer, as `cat` does) and read to its end, the cancel flag polled between
/// chunks (`/dev/zero` never ends: Ctrl-C stops it). No size to compare: a stream is what it
/// delivers.
pub fn hash_stream(path: &Path, mode: &Mode) -> Outcome {
    // `-`: standard input itself (read from where it stands, as b3sum does), not a reopening
    // of /dev/stdin (which would start a redirected file over).
    let file = if path.as_os_str() == "-" {
        match rustix::io::dup(rustix::stdio::stdin()) {
            Ok(fd) => File::from(fd),
            Err(e) => return Outcome::Failed(open_error(&e.into(), false)),
        }
    } else {
        match File::open(path) {
            Ok(f) => f,
            Err(e) => return Outcome::Failed(open_error(&e, false)),
        }
    };
    let mut hasher = mode.digester();
    let read = with_buf(SMALL_BUF, |buf| {
        let mut total = 0u64;
        loop {
            if cancel::reads_stop() {
                return Err(ReadStop::Cancelled);
            }
            match read_some(&file, buf)? {
                0 => return Ok(total),
                n => {
                    hasher.update(&buf[..n]);
                    total += n as u64;
                    progress::add(n as u64);
                }
            }
        }
    });
    match read {
        Ok(size) => Outcome::Hashed {
            hash: hasher.finish(mode),
            size,
        },
        Err(stop) => Outcome::Failed(stop.into_error()),
    }
}

/// [`hash_path`], reusing `dirs` for files of the same directory.
#[cfg(test)]
fn hash_path_in(dirs: &mut DirCache, path: &Path, mode: &Mode) -> Outcome {
    hash_file_in(dirs, path, mode, &Links::off()).0
}

/// [`hash_path_in`], with the stat facts of the file read when there is one (its fstat
/// before the read, which the one after must equal for a digest): what `hash --update`
/// records and `check` compares for its bit-rot verdict.
pub fn hash_file_in(
    dirs: &mut DirCache,
    path: &Path,
    mode: &Mode,
    links: &Links,
) -> (Outcome, Option<Facts>) {
    let file = match dirs.open(path) {
        Ok(f) => f,
        Err(e) => return (Outcome::Failed(open_error(&e, dirs.no_symlinks())), None),
    };
    match Stat::of(&file) {
        Ok(before) => hash_opened(&file, before, mode, links),
        Err(e) => {
            let error = EntryError::from_io(ErrorKind::Unreadable, &e);
            (Outcome::Failed(error), None)
        }
    }
}

/// [`hash_file_in`] once the file is open and its fstat gave `before`. A file with other
/// names is read under one of them only (see `links`).
fn hash_opened(file: &File, before: Stat, mode: &Mode, links: &Links) -> (Outcome, Option<Facts>) {
    let fs = fsinfo::fs_identity(before.dev, || fsinfo::fsid_of(file).ok()).unwrap_or(0);
    let facts = before.facts(fs);
    let outcome = match links.claim(file, &before, mode) {
        Claim::Given(hash) => {
            progress::add(before.size);
            Outcome::Hashed {
                hash,
                size: before.size,
            }
        }
        Claim::Read(ticket) => {
            let outcome = hash_open_file(file, before, mode);
            ticket.settle(&outcome);
            outcome
        }
        Claim::Alone => hash_open_file(file, before, mode),
    };
    (outcome, Some(facts))
}

/// A tree spec's entry: what `path` is, not followed. A regular file is hashed (and must be
/// the file the `lstat` saw: same device and inode); anything else is described, a link with
/// its target as stored. The facts are those of the `lstat` (or of the file read).
pub fn describe_in(
    dirs: &mut DirCache,
    path: &Path,
    content: Content,
    mode: &Mode,
    links: &Links,
) -> (Outcome, Option<Facts>) {
    if let Content::With(algo) = content {
        // Expected to be a file: opened without following it, one call; a link (ELOOP) is
        // described below, anything else opened is described from its fstat.
        match dirs.open_unfollowed(path) {
            Ok(file) => return hash_or_describe(&file, &Mode::of(algo), links),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {}
            Err(e) => return (Outcome::Failed(open_error(&e, dirs.no_symlinks())), None),
        }
    }
    let (st, link) = match dirs.lstat(path) {
        Ok(found) => found,
        Err(e) => return (Outcome::Failed(open_error(&e, dirs.no_symlinks())), None),
    };
    let seen = Stat::from(&st);
    let Some(kind) = FileKind::of_mode(seen.mode) else {
        let error = EntryError::new(ErrorKind::NotRegular, "a file of unknown type");
        return (Outcome::Failed(error), None);
    };
    let own;
    let mode = match content {
        _ if kind != FileKind::File => None,
        Content::Run => Some(mode),
        Content::With(algo) => {
            own = Mode::of(algo);
            Some(&own)
        }
        Content::Unread => None,
    };
    let Some(mode) = mode else {
        let link = link.map(Vec::into_boxed_slice);
        return (Outcome::Described { kind, link }, Some(seen.facts(0)));
    };
    let (outcome, facts) = hash_file_in(dirs, path, mode, links);
    if facts.is_some_and(|f| (f.dev, f.ino) != (seen.dev, seen.ino)) {
        let error = EntryError::new(ErrorKind::Changed, "replaced while being described");
        return (Outcome::Failed(error), facts);
    }
    (outcome, facts)
}

/// An open file: hashed when it is a regular file, else described by its fstat (it was
/// opened without following a link, so it is not one).
fn hash_or_describe(file: &File, mode: &Mode, links: &Links) -> (Outcome, Option<Facts>) {
    let before = match Stat::of(file) {
        Ok(st) => st,
        Err(e) => {
            let error = EntryError::from_io(ErrorKind::Unreadable, &e);
            return (Outcome::Failed(error), None);
        }
    };
    match FileKind::of_mode(before.mode) {
        Some(FileKind::File) => hash_opened(file, before, mode, links),
        Some(kind) => (
            Outcome::Described { kind, link: None },
            Some(before.facts(0)),
        ),
        None => {
            let error = EntryError::new(ErrorKind::NotRegular, "a file of unknown type");
            (Outcome::Failed(error), None)
        }
    }
}

/// Reuses `known`'s digest when the file at `path` is, by its stat facts, the version it
/// describes (a regular file with the same size, mtime, ctime and inode); reads it
/// otherwise. Returns the outcome, the facts now, and whether the digest was reused.
pub fn refresh_in(
    dirs: &mut DirCache,
    path: &Path,
    known: &Known,
    mode: &Mode,
    links: &Links,
) -> (Outcome, Option<Facts>, bool) {
    if let Ok(st) = dirs.stat(path).map(|st| Stat::from(&st)) {
        // The filesystem of the file the confined stat saw (asked once per device and
        // thread): opened confined too and checked to be that file, never a path that a
        // swap could point at another filesystem.
        let fs = fsinfo::fs_identity(st.dev, || {
            let file = dirs.open(path).ok()?;
            let opened = Stat::of(&file).ok()?;
            let same = opened.dev == st.dev && opened.ino == st.ino;
            same.then(|| fsinfo::fsid_of(&file).ok()).flatten()
        });
        let facts = st.facts(fs.unwrap_or(0));
        if st.not_regular().is_none() && known.facts.same_version(&facts) {
            progress::add(facts.size);
            let outcome = Outcome::Hashed {
                hash: known.hash.clone(),
                size: facts.size,
            };
            return (outcome, Some(facts), true);
        }
    }
    let (outcome, facts) = hash_file_in(dirs, path, mode, links);
    (outcome, facts, false)
}

/// Hashes an open file whose fstat gave `before`. With `hash --outboard`, a file of
/// group-data size keeps its group values in the run's spool.
fn hash_open_file(file: &File, before: Stat, mode: &Mode) -> Outcome {
    if let Some(what) = before.not_regular() {
        return Outcome::Failed(EntryError::new(ErrorKind::NotRegular, what));
    }
    if let Some(spool) = outboard::active().filter(|_| groups::applies(mode, before.size)) {
        return hash_grouped(file, before, mode, spool);
    }
    let mut hasher = mode.digester();
    match whole::read(file, &before, mode, &mut hasher) {
        Ok((size, whole)) => Outcome::Hashed {
            hash: whole.unwrap_or_else(|| hasher.finish(mode)),
            size,
        },
        Err(failed) => failed,
    }
}

/// [`hash_open_file`] keeping the group values: written to `spool` as they come, found
/// there by the version read once the digest stands.
fn hash_grouped(file: &File, before: Stat, mode: &Mode, spool: &Spool) -> Outcome {
    let at = spool.reserve(before.size);
    let keep = |first: u64, cvs: &[Cv]| spool.write(at, first, cvs);
    if before.size >= BIG_FILE {
        if let Some(split) = big::read_groups_split(file, &before, mode, spool.group(), &keep) {
            let size = before.size;
            let hashed = split
                .map_err(|stop| Outcome::Failed(stop.into_error()))
                .and_then(|hash| whole::checked(file, &before, size).map(|()| hash));
            return match hashed {
                Ok(hash) => {
                    spool.found(&before, at);
                    Outcome::Hashed { hash, size }
                }
                Err(failed) => failed,
            };
        }
    }
    let mut feed = GroupHasher::new(mode, before.size, spool.group(), keep);
    let size = match whole::read(file, &before, mode, &mut feed) {
        Ok((size, _)) => size,
        Err(failed) => return failed,
    };
    match feed.finish(mode) {
        Some(hash) => {
            spool.found(&before, at);
            Outcome::Hashed { hash, size }
        }
        None => Outcome::Failed(EntryError::new(
            ErrorKind::Changed,
            "modified while being read",
        )),
    }
}

/// The detail of an open that met a symlink where none may be followed.
pub const SYMLINK_IN_PATH: &str = "replaced by a symlink since the walk";

fn open_error(e: &io::Error, no_symlinks: bool) -> EntryError {
    let kind = match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => ErrorKind::Vanished,
        Some(libc::EXDEV) => ErrorKind::Outside,
        // The walk followed no symlink, so one met now was swapped in after it (or, in a
        // tree spec's check, stands where the spec names a directory).
        Some(libc::ELOOP) if no_symlinks => {
            return EntryError::new(ErrorKind::Changed, SYMLINK_IN_PATH);
        }
        _ => ErrorKind::Unreadable,
    };
    EntryError::from_io(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::big;
    use crate::hash::read::SMALL_BUF;
    use crate::hash::whole::BIG_FILE;

    #[test]
    fn hashes_sizes_around_the_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        for len in [
            0,
            1,
            SMALL_BUF - 1,
            SMALL_BUF,
            SMALL_BUF + 1,
            BIG_FILE as usize + 7,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let p = dir.path().join(format!("f{len}"));
            std::fs::write(&p, &data).unwrap();
            assert_eq!(
                hash_path(&p),
                Outcome::Hashed {
                    hash: blake3::hash(&data).into(),
                    size: len as u64
                },
                "length {len}"
            );
        }
    }

    #[test]
    fn big_files_hashed_side_by_side_match_blake3() {
        // Several files of a few pieces each, at once: the lane admits one per core; a file
        // that finds a core free is hashed as subtrees, the others each on their thread.
        let dir = tempfile::tempdir().unwrap();
        let len = 2 * big::PIECE as usize + 4099;
        let files: Vec<_> = (0..4u8)
            .map(|k| {
                let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8 ^ k).collect();
                let p = dir.path().join(format!("big{k}"));
                std::fs::write(&p, &data).unwrap();
                (p, blake3::hash(&data))
            })
            .collect();
        std::thread::scope(|s| {
            for (p, want) in &files {
                s.spawn(move || {
                    let want = Outcome::Hashed {
                        hash: (*want).into(),
                        size: len as u64,
                    };
                    assert_eq!(hash_path(p), want, "{}", p.display());
                });
            }
        });
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
