//! Opening the files of a state safely: never through a symlink, never blocking on a FIFO,
//! and (for what is read back as trusted) only files this user owns and no one else can
//! write.

use std::fs::File;
use std::io;
use std::path::Path;

pub use crate::sys::resolve::open_regular;

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

/// Whether a file of this run may be renamed over `path`: nothing is there, or a regular
/// file (never a symlink, whose target a rename would not reach anyway but a reader could
/// be misled by, nor a FIFO or device someone put there). The error names the path.
pub fn replaceable(path: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => Err(format!(
            "{}: not replaced: it is not a regular file",
            crate::names::escape::display(path.as_os_str().as_bytes())
        )),
        _ => Ok(()),
    }
}
