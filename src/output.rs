//! Where output goes: stdout (the one writer of stdout for every command: manifests,
//! verdicts, digests, bench tables), a file replaced atomically, or a device/FIFO written in
//! place.
//!
//! `-o FILE` never leaves a partial manifest behind and never destroys what is not ours:
//! - a regular file (or a new name) is replaced atomically: we write a temporary file in its
//!   directory (same filesystem, so `rename` is atomic), check every write, fsync it, rename
//!   it over FILE, and fsync the directory. On any error or interruption the temporary file is
//!   removed (by `TempPath`'s drop, or by the signal handler) and FILE is untouched;
//! - a symlink is followed as a shell redirect would (up to 40 links), and the atomic write
//!   happens at its final target, so the link stays a link;
//! - a character device (`/dev/null`) or a FIFO is written directly, as `>` would: renaming
//!   over it would turn `/dev/null` into a regular file for the whole system (seen as root);
//! - a block device, a socket or a directory is refused: there is no sane way to write a
//!   manifest there.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::names::temp::{self, Temp};
use crate::sys::{cancel, stdio};

const BUF: usize = 64 * 1024;
/// Symlinks followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// The manifest's destination.
pub enum Output {
    Stdout(BufWriter<stdio::Stdout>),
    File(AtomicFile),
    /// A character device or FIFO named by `-o`, written in place.
    Direct(BufWriter<File>),
}

/// What an output path names once its symlinks are followed.
#[derive(Debug, Clone)]
pub struct Target {
    /// The path where the bytes end up (symlinks followed).
    pub real: PathBuf,
    /// The path given was (or went through) a symlink.
    pub via_symlink: bool,
    kind: TargetKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    /// Does not exist yet, or a regular file: atomic replace.
    Replace,
    /// Character device or FIFO: write in place.
    Direct,
}

impl Target {
    /// Follows symlinks and decides how to write; refuses block devices, sockets and
    /// directories (the message names the path).
    pub fn resolve(given: &Path) -> Result<Target, String> {
        let shown = given.display();
        let mut real = given.to_path_buf();
        let mut via_symlink = false;
        for _ in 0..=MAX_LINKS {
            let meta = match std::fs::symlink_metadata(&real) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(Target {
                        real,
                        via_symlink,
                        kind: TargetKind::Replace,
                    });
                }
                Err(e) => return Err(format!("cannot use {shown} as output: {e}")),
            };
            let ft = meta.file_type();
            let kind = if ft.is_symlink() {
                let link = std::fs::read_link(&real)
                    .map_err(|e| format!("cannot use {shown} as output: {e}"))?;
                real = match real.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
                via_symlink = true;
                continue;
            } else if ft.is_file() {
                TargetKind::Replace
            } else if ft.is_char_device() || ft.is_fifo() {
                TargetKind::Direct
            } else {
                let what = if ft.is_dir() {
                    "a directory"
                } else if ft.is_block_device() {
                    "a block device"
                } else {
                    "a socket or special file"
                };
                return Err(format!(
                    "refusing to write the output to {shown}: it is {what}, which would be \
                     replaced or damaged"
                ));
            };
            return Ok(Target {
                real,
                via_symlink,
                kind,
            });
        }
        Err(format!(
            "cannot use {shown} as output: more than {MAX_LINKS} symlinks"
        ))
    }

    /// The directory that holds the real target (for the temporary file and the fsync).
    fn dir(&self) -> &Path {
        match self.real.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

impl Output {
    pub fn stdout() -> Self {
        Output::Stdout(BufWriter::with_capacity(BUF, stdio::Stdout))
    }

    /// `-o FILE` or stdout; the error message says why neither can be used.
    pub fn for_target(target: Option<&Path>, stdout_closed: bool) -> Result<Output, String> {
        match target {
            Some(path) => Output::open(path, &Target::resolve(path)?),
            None if stdout_closed => {
                Err("stdout is closed; nowhere to write the manifest (use -o FILE)".into())
            }
            None => Ok(Output::stdout()),
        }
    }

    /// Opens an already resolved target (`given` is the path as the user wrote it).
    pub fn open(given: &Path, target: &Target) -> Result<Output, String> {
        let opened = match target.kind {
            TargetKind::Replace => AtomicFile::create(target).map(Output::File),
            TargetKind::Direct => OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(&target.real)
                .map(|f| Output::Direct(BufWriter::with_capacity(BUF, f))),
        };
        opened.map_err(|e| format!("cannot create {}: {e}", given.display()))
    }

    /// Flushes and, for a file, puts it in place.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::Direct(mut w) => w.flush(),
            Output::File(f) => f.commit(),
        }
    }

    /// (device, inode) of files the walk must not hash (the output itself).
    pub fn own_files(&self) -> Vec<(u64, u64)> {
        match self {
            Output::Stdout(_) => stdio::stdout_file_id().into_iter().collect(),
            Output::Direct(_) => Vec::new(),
            Output::File(f) => f.own_files.clone(),
        }
    }

    /// The absolute path (directory canonicalised) of the `-o` file.
    pub fn own_path(&self) -> Option<PathBuf> {
        let Output::File(f) = self else {
            return None;
        };
        let dir = std::fs::canonicalize(&f.dir).ok()?;
        Some(dir.join(f.target.file_name()?))
    }

    /// Hashes what is written to an `-o` file from now on (BLAKE3), for
    /// [`AtomicFile::commit_unless_same`]. Other outputs are not hashed.
    pub fn digest_as_written(&mut self) {
        if let Output::File(f) = self {
            f.writer.get_mut().hasher = Some(Box::new(blake3::Hasher::new()));
        }
    }

    /// The `-o` file replaces an existing file (so a partial run must not replace it).
    pub fn replaces_existing(&self) -> bool {
        matches!(self, Output::File(f) if f.existed)
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::Direct(w) => w.write(buf),
            Output::File(f) => f.writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::Direct(w) => w.write_all(buf),
            Output::File(f) => f.writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::Direct(w) => w.flush(),
            Output::File(f) => f.writer.flush(),
        }
    }
}

/// Writes `bytes` to `path` by the same rules as `-o` (bench exports). The bytes are
/// complete, so they are put in place even after Ctrl-C (an interrupted bench still exports
/// the settings that finished).
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut out = Output::open(path, &Target::resolve(path)?)?;
    let written = out.write_all(bytes).and_then(|()| match out {
        Output::File(f) => {
            let target = f.target.clone();
            f.commit_to(&target, false)
        }
        other => other.commit(),
    });
    written.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A file written under a temporary name and renamed over its target on commit.
pub struct AtomicFile {
    target: PathBuf,
    dir: PathBuf,
    writer: BufWriter<Hashing>,
    temp: Temp,
    mode: u32,
    own_files: Vec<(u64, u64)>,
    /// A file of that name existed when we started.
    existed: bool,
}

/// The temporary file, and the BLAKE3 of what reached it when asked for
/// ([`Output::digest_as_written`]). Below the buffer: it hashes the buffer's 64 KiB writes,
/// which BLAKE3 spreads over its SIMD lanes, not each record of a few dozen bytes.
struct Hashing {
    file: File,
    hasher: Option<Box<blake3::Hasher>>,
}

/// How [`AtomicFile::commit_unless_same`] ended.
pub struct Committed {
    /// The BLAKE3 of the bytes now at the target (None: they were not hashed).
    pub digest: Option<blake3::Hash>,
    /// The target already held those bytes and was left as it was.
    pub unchanged: bool,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl AtomicFile {
    fn create(target: &Target) -> io::Result<Self> {
        let dir = target.dir().to_path_buf();
        // What runs killed before they could clean up (SIGKILL) left beside it goes first.
        temp::remove_stale(&dir);
        let (file, temp) = temp::create_in(&dir, 0o600)?;
        let meta = file.metadata()?;
        let mut own_files = vec![(meta.dev(), meta.ino())];
        let (mode, existed) = match std::fs::metadata(&target.real) {
            Ok(old) => {
                own_files.push((old.dev(), old.ino()));
                (old.mode() & 0o7777, true)
            }
            Err(_) => (0o666 & !stdio::current_umask(), false),
        };
        Ok(AtomicFile {
            target: target.real.clone(),
            dir,
            writer: BufWriter::with_capacity(BUF, Hashing { file, hasher: None }),
            temp,
            mode,
            own_files,
            existed,
        })
    }

    /// Commits, unless `same` says the target already holds exactly the bytes written (it
    /// is given their BLAKE3, and checks the file is still the one whose digest it knows):
    /// then the new file is removed and the target left as it was — no write, no fsync, no
    /// rename. Without [`Output::digest_as_written`] it always commits. `before_replace` runs
    /// just before a commit; its error leaves the target as it was.
    pub fn commit_unless_same(
        mut self,
        same: impl FnOnce(&blake3::Hash) -> bool,
        before_replace: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<Committed> {
        // Every byte must have reached the hasher.
        self.writer.flush()?;
        let digest = self.writer.get_mut().hasher.take().map(|h| h.finalize());
        let unchanged = digest.as_ref().is_some_and(same);
        if unchanged {
            // Dropped: the temporary file is removed.
            return Ok(Committed { digest, unchanged });
        }
        before_replace()?;
        self.commit()?;
        Ok(Committed { digest, unchanged })
    }

    fn commit(self) -> io::Result<()> {
        let target = self.target.clone();
        self.commit_to(&target, true)
    }

    /// Puts the new file beside the target as `TARGET.partial` (the target stays as it
    /// was); returns that path. A `.partial` name that is not a regular file is left alone.
    pub fn commit_partial(self) -> io::Result<PathBuf> {
        let mut name = self.target.clone().into_os_string();
        name.push(".partial");
        let partial = PathBuf::from(name);
        if let Ok(m) = std::fs::symlink_metadata(&partial) {
            if !m.file_type().is_file() {
                return Err(io::Error::other(format!(
                    "{} exists and is not a regular file",
                    partial.display()
                )));
            }
        }
        self.commit_to(&partial, true)?;
        Ok(partial)
    }

    /// Puts the file at `dest`; when `honour_stop`, not after a stop was requested (the
    /// content may then be cut short).
    fn commit_to(self, dest: &Path, honour_stop: bool) -> io::Result<()> {
        let AtomicFile {
            dir,
            writer,
            mut temp,
            mode,
            ..
        } = self;
        let file = writer.into_inner().map_err(|e| e.into_error())?.file;
        file.set_permissions(Permissions::from_mode(mode))?;
        file.sync_all()?;
        if honour_stop && cancel::is_stopped() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        // On failure `temp` is dropped here, which removes the file. `file` stays open (its
        // lock held) until the rename is done: another run removes the unlocked temporary
        // files of killed runs (`temp::remove_stale`), and must not take this one for one.
        temp.rename_to(dest, true)?;
        drop(file);
        // The rename is durable only once the directory is on disk too.
        File::open(&dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_through_symlinks_and_refuse_directories() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.b3");
        std::fs::write(&real, b"x").unwrap();
        let link = dir.path().join("link.b3");
        std::os::unix::fs::symlink("real.b3", &link).unwrap();
        let t = Target::resolve(&link).unwrap();
        assert_eq!(t.real, real);
        assert!(t.via_symlink);
        assert_eq!(
            Target::resolve(Path::new("/dev/null")).unwrap().kind,
            TargetKind::Direct
        );
        assert!(Target::resolve(dir.path()).is_err());
        let loop_link = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &loop_link).unwrap();
        assert!(Target::resolve(&loop_link).is_err());
    }
}
