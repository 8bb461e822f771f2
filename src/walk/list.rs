//! Walking a `--files-from` list: each entry as a PATH named on the command line.

use std::cell::Cell;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Emit, WalkConfig, WalkStats, walk_root};
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome};
use crate::names::entry::EntryName;

/// One entry of a `--files-from` list: a path, or what was wrong with the entry (its name as
/// written, and why).
pub type Listed = Result<PathBuf, (Vec<u8>, String)>;

/// Walks the entries of a `--files-from` list in turn, each as a PATH named on the command
/// line (a file hashed, a directory walked, a symlink followed); `before_dir` hears of each
/// directory before any of its entries is emitted (opens below it are confined to it).
pub fn walk_list(
    cfg: &WalkConfig,
    list: impl Iterator<Item = Listed>,
    before_dir: &dyn Fn(&Path),
    emit: &mut Emit,
) -> WalkStats {
    let excluded = Cell::new(0);
    for entry in list {
        let more = match entry {
            Ok(path) => walk_root(cfg, &path, &excluded, emit, before_dir),
            Err((name, why)) => emit(
                PathBuf::from(std::ffi::OsStr::from_bytes(&name)),
                EntryName::Tail(0),
                Action::Report(Outcome::Failed(EntryError::new(ErrorKind::Unreadable, why))),
            ),
        };
        if !more {
            break;
        }
    }
    WalkStats {
        excluded: excluded.get(),
    }
}
