//! The walker: turns PATH arguments into jobs in canonical order.
//!
//! Canonical order is what a depth-first walk yields when every directory's entries are
//! sorted by the bytes of their names (walkdir's `sort_by_file_name`); roots keep the order
//! they were given in. This equals comparing paths component by component, so the output is
//! the same for any `--jobs`, and `merge`/`digest` can rely on it.
//!
//! Every entry ends as a job: regular files are hashed; FIFOs, sockets, devices and (unless
//! `--follow`) symlinks become "skipped" reports, never opened; walk errors (unreadable
//! directory, symlink loop, missing root) become error records. Only `--exclude` matches and
//! our own output file are left out, and those are counted.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use globset::GlobSet;
use walkdir::{DirEntry, DirEntryExt, WalkDir};

use crate::digest::shard_of;
use crate::job::{Action, EntryError, ErrorKind, Outcome, SkipKind};
use crate::limits::WALKER_OPEN_DIRS;
use crate::nameset::NameSet;
use crate::queue::Feeder;

/// What to walk and how.
#[derive(Debug, Clone, Default)]
pub struct WalkConfig {
    /// Roots as given; `.` means "names relative to here, without `./`".
    pub roots: Vec<PathBuf>,
    pub follow: bool,
    pub one_file_system: bool,
    pub max_depth: Option<usize>,
    /// Matched against the path relative to its root; a matching directory is not entered.
    pub excludes: Option<GlobSet>,
    /// (device, inode) of files never to hash: our own output and its temporary file.
    pub skip_files: Vec<(u64, u64)>,
    /// Files whose names are in this set are not queued (`check --audit` walks only for
    /// files the manifest does not know).
    pub known: Option<Arc<NameSet>>,
    /// Names relative to the root itself (`digest DIR`), not joined to it as given.
    pub relative_names: bool,
    /// `--shard K/N`: only entries whose name falls in shard K of N are queued.
    pub shard: Option<(u64, u64)>,
}

/// Counts the walker keeps beside the jobs.
#[derive(Debug, Default)]
pub struct WalkStats {
    /// Entries left out by `--exclude` (a directory counts once).
    pub excluded: AtomicU64,
    /// Entries that belong to other shards.
    pub other_shards: AtomicU64,
}

/// Walks every root, pushing one job per entry. Stops early when the feeder says so.
pub fn walk(cfg: &WalkConfig, stats: &Arc<WalkStats>, feeder: &mut Feeder<()>) {
    for root in &cfg.roots {
        if !walk_root(cfg, root, stats, feeder) {
            return;
        }
    }
}

fn walk_root(cfg: &WalkConfig, root: &Path, stats: &WalkStats, feeder: &mut Feeder<()>) -> bool {
    let strip_dot = root == Path::new(".");
    let naming = if cfg.relative_names {
        Naming::Relative(root)
    } else {
        Naming::AsGiven { strip_dot }
    };
    let mut walker = WalkDir::new(root)
        .follow_links(cfg.follow)
        .same_file_system(cfg.one_file_system)
        .max_open(WALKER_OPEN_DIRS)
        .sort_by_file_name();
    if let Some(d) = cfg.max_depth {
        walker = walker.max_depth(d);
    }
    let iter = walker.into_iter().filter_entry(|e| {
        let keep = !is_excluded(cfg.excludes.as_ref(), root, e);
        if !keep {
            stats.excluded.fetch_add(1, Ordering::Relaxed);
        }
        keep
    });
    for item in iter {
        let (path, action) = match item {
            Ok(entry) => {
                let ft = entry.file_type();
                if ft.is_dir() {
                    continue;
                }
                if ft.is_file() {
                    if is_own_output(cfg, &entry) || is_known(cfg, &entry, naming) {
                        continue;
                    }
                    (entry.into_path(), Action::Hash)
                } else {
                    let kind = SkipKind::of(ft);
                    (entry.into_path(), Action::Report(Outcome::Skipped(kind)))
                }
            }
            Err(err) => {
                let path = err
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.into());
                let error = classify(&err, &path);
                (path, Action::Report(Outcome::Failed(error)))
            }
        };
        let name = naming.name(&path);
        if let Some((k, n)) = cfg.shard {
            if shard_of(&name, n) != k {
                stats.other_shards.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        if !feeder.push(path, name, action, ()) {
            return false;
        }
    }
    true
}

/// How names are formed from walked paths.
#[derive(Clone, Copy)]
enum Naming<'a> {
    /// As walked (the root as given, joined with the path below it), without `./` for `.`.
    AsGiven { strip_dot: bool },
    /// Relative to the root; a root that is a file is named by its file name.
    Relative(&'a Path),
}

impl Naming<'_> {
    fn name(self, path: &Path) -> Vec<u8> {
        match self {
            Naming::AsGiven { strip_dot } => output_name(path, strip_dot),
            Naming::Relative(root) => match path.strip_prefix(root) {
                Ok(rel) if !rel.as_os_str().is_empty() => rel.as_os_str().as_bytes().to_vec(),
                _ => path
                    .file_name()
                    .unwrap_or(path.as_os_str())
                    .as_bytes()
                    .to_vec(),
            },
        }
    }
}

/// The name written for `path`: as walked, except that the root `.` adds no `./`.
pub fn output_name(path: &Path, strip_dot: bool) -> Vec<u8> {
    let p = if strip_dot {
        path.strip_prefix(".").unwrap_or(path)
    } else {
        path
    };
    p.as_os_str().as_bytes().to_vec()
}

fn is_excluded(excludes: Option<&GlobSet>, root: &Path, entry: &DirEntry) -> bool {
    let Some(set) = excludes else { return false };
    if entry.depth() == 0 {
        return false;
    }
    let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
    set.is_match(rel)
}

fn is_own_output(cfg: &WalkConfig, entry: &DirEntry) -> bool {
    if cfg.skip_files.is_empty() || !cfg.skip_files.iter().any(|&(_, ino)| ino == entry.ino()) {
        return false;
    }
    match std::fs::symlink_metadata(entry.path()) {
        Ok(m) => cfg.skip_files.contains(&(m.dev(), m.ino())),
        Err(_) => false,
    }
}

fn is_known(cfg: &WalkConfig, entry: &DirEntry, naming: Naming) -> bool {
    cfg.known
        .as_ref()
        .is_some_and(|set| set.contains(&naming.name(entry.path())))
}

fn classify(err: &walkdir::Error, path: &Path) -> EntryError {
    if let Some(ancestor) = err.loop_ancestor() {
        return EntryError::new(
            ErrorKind::SymlinkLoop,
            format!(
                "leads back to {}",
                crate::escape::display(ancestor.as_os_str().as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_root_names_have_no_prefix() {
        assert_eq!(output_name(Path::new("./a/b"), true), b"a/b".to_vec());
        assert_eq!(output_name(Path::new("dist/a"), false), b"dist/a".to_vec());
        assert_eq!(
            output_name(Path::new("./dist/a"), false),
            b"./dist/a".to_vec()
        );
    }
}
