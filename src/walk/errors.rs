//! What a walk's error is to the user: a symlink loop (naming where it leads back), a root
//! missing or an entry vanished since its directory was listed, an unreadable directory or
//! file.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::hash::outcome::{EntryError, ErrorKind};

/// The error record of `path`, from walkdir's error.
pub(super) fn classify(err: &walkdir::Error, path: &Path) -> EntryError {
    if let Some(ancestor) = err.loop_ancestor() {
        return EntryError::new(
            ErrorKind::SymlinkLoop,
            format!(
                "leads back to {}",
                crate::names::escape::display(ancestor.as_os_str().as_bytes())
            ),
        );
    }
    let Some(io) = err.io_error() else {
        return EntryError::new(ErrorKind::Unreadable, err.to_string());
    };
    if io.kind() == std::io::ErrorKind::NotFound {
        let kind = if err.depth() == 0 {
            ErrorKind::Missing
        } else {
            ErrorKind::Vanished
        };
        return EntryError::from_io(kind, io);
    }
    let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    let kind = if is_dir {
        ErrorKind::UnreadableDir
    } else {
        ErrorKind::Unreadable
    };
    EntryError::from_io(kind, io)
}
