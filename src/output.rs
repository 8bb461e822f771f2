//! Where a manifest goes: stdout, or a file replaced atomically.
//!
//! `-o FILE` never leaves a partial manifest behind: we write a temporary file in FILE's
//! directory (same filesystem, so `rename` is atomic), check every write, fsync it, rename it
//! over FILE, and fsync the directory. On any error or interruption the temporary file is
//! removed (by `TempPath`'s drop, or by the signal handler on a second Ctrl-C) and FILE is
//! untouched.

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Stdout, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::cancel;

const BUF: usize = 64 * 1024;

/// The manifest's destination.
pub enum Output {
    Stdout(BufWriter<Stdout>),
    File(AtomicFile),
}

impl Output {
    pub fn stdout() -> Self {
        Output::Stdout(BufWriter::with_capacity(BUF, io::stdout()))
    }

    /// `-o FILE` (atomic) or stdout; the error message says why neither can be used.
    pub fn for_target(target: Option<&Path>, stdout_closed: bool) -> Result<Output, String> {
        match target {
            Some(path) => AtomicFile::create(path)
                .map(Output::File)
                .map_err(|e| format!("cannot create {}: {e}", path.display())),
            None if stdout_closed => {
                Err("stdout is closed; nowhere to write the manifest (use -o FILE)".into())
            }
            None => Ok(Output::stdout()),
        }
    }

    /// Flushes and, for a file, puts it in place.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::File(f) => f.commit(),
        }
    }

    /// (device, inode) of files the walk must not hash (the output itself).
    pub fn own_files(&self) -> Vec<(u64, u64)> {
        match self {
            Output::Stdout(_) => Vec::new(),
            Output::File(f) => f.own_files.clone(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File(f) => f.writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::File(f) => f.writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File(f) => f.writer.flush(),
        }
    }
}

/// A file written under a temporary name and renamed over its target on commit.
pub struct AtomicFile {
    target: PathBuf,
    writer: BufWriter<File>,
    temp: RegisteredTemp,
    mode: u32,
    own_files: Vec<(u64, u64)>,
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let named = tempfile::Builder::new()
            .prefix(".b3tree-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        let (file, temp) = named.into_parts();
        cancel::register_temp_file(temp.to_path_buf());
        let temp = RegisteredTemp(Some(temp));
        let meta = file.metadata()?;
        let mut own_files = vec![(meta.dev(), meta.ino())];
        let mode = match std::fs::metadata(target) {
            Ok(old) => {
                own_files.push((old.dev(), old.ino()));
                old.mode() & 0o7777
            }
            Err(_) => 0o666 & !current_umask(),
        };
        Ok(AtomicFile {
            target: target.to_path_buf(),
            writer: BufWriter::with_capacity(BUF, file),
            temp,
            mode,
            own_files,
        })
    }

    fn commit(self) -> io::Result<()> {
        let AtomicFile {
            target,
            writer,
            mut temp,
            mode,
            ..
        } = self;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.set_permissions(Permissions::from_mode(mode))?;
        file.sync_all()?;
        drop(file);
        if cancel::is_stopped() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let Some(path) = temp.0.take() else {
            return Err(io::Error::other("temporary file already gone"));
        };
        cancel::unregister_temp_file(&path);
        // On failure the error owns the TempPath, whose drop removes the file.
        path.persist(&target).map_err(|e| e.error)?;
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// A temporary file known to the signal handler until it is renamed or removed.
struct RegisteredTemp(Option<TempPath>);

impl Drop for RegisteredTemp {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            cancel::unregister_temp_file(t);
        }
        // The TempPath's own drop then removes the file.
    }
}

fn current_umask() -> u32 {
    // SAFETY: umask only swaps the process mask; we put the old one back at once.
    unsafe {
        let old = libc::umask(0o022);
        libc::umask(old);
        old as u32
    }
}
