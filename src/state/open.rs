//! Opening the files of a state safely: never through a symlink, never blocking on a FIFO,
//! and (for what is read back as trusted) only files this user owns and no one else can
//! write.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Opens a state or journal file: [`open_regular`], and only if it is ours — owned by this
/// user and writable by no one else. The manifest often lies in the tree it describes, where
/// others may create files: a state or journal planted there with forged records (digests
/// paired with the stat facts anyone can read) would otherwise be trusted.
pub fn open_ours(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::MetadataExt;
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let meta = file.metadata()?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(io::Error::other(format!(
            "it is owned by uid {}, not by this user (uid {me})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(io::Error::other(
            "others may write to it (mode allows group or other writes)",
        ));
    }
    Ok(Some(file))
}

/// Opens `path` for reading if it is a regular file: never through a symlink (a state file
/// is ours, and a symlink there is not), never blocking on a FIFO. `Ok(None)` if missing.
pub fn open_regular(path: &Path) -> io::Result<Option<File>> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::other("it is a symlink"));
        }
        Err(e) => return Err(e),
    };
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else {
            "not a regular file"
        };
        return Err(io::Error::other(format!("it is {what}")));
    }
    Ok(Some(file))
}
