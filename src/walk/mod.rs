//! The walker: turns PATH arguments into jobs in canonical order.
//!
//! Canonical order is what a depth-first walk yields when every directory's entries are
//! sorted by the bytes of their names. This equals comparing paths component by component,
//! so the output is the same for any `--jobs`. Roots keep the order they were given in: the
//! whole output is canonical only for roots given in canonical order, none inside another,
//! which `hash --digest` and `--shard` check (`names::order::OrderCheck`).
//!
//! Every entry ends as a job: regular files are hashed; FIFOs, sockets, devices and (unless
//! `--follow`) symlinks become "skipped" reports, never opened; walk errors (unreadable
//! directory, symlink loop, missing root) become error records. Only `--exclude` matches and
//! our own output file are left out, and those are counted.
//!
//! walkdir opens directories by full path, which the kernel refuses beyond PATH_MAX. Where
//! that happens, the walk goes on below a descriptor of that directory (opened one component
//! at a time) through `/proc/self/fd/N`, so deep trees have no silent limit.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use walkdir::WalkDir;

use crate::hash::outcome::{Action, Content, EntryError, ErrorKind, Outcome, SkipKind};
use crate::names::entry::EntryName;
use crate::sys::limits::WALKER_OPEN_DIRS;
use crate::sys::open;
use identity::{AsListed, dir_as_listed, is_own_output};
use naming::Naming;

mod count;
mod errors;
mod identity;
mod list;
mod naming;
pub use count::count_files;
pub use list::{Listed, walk_list};

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
    /// Absolute paths (directory canonical) of our output: a concurrent run may rename its
    /// own manifest there after we looked at the inode.
    pub skip_paths: Vec<PathBuf>,
    /// Report files named like b3tree's temporary files as skipped instead of hashing them
    /// (`hash`; `check --audit` still reports them NEW, so no name can hide a file there).
    pub skip_temp_names: bool,
    /// Names relative to the root itself (`digest DIR`), not joined to it as given.
    pub relative_names: bool,
    /// The roots were named by the user on the command line (`hash`, `digest`): a symlink,
    /// FIFO or device root is followed or read (see `named_root`). False for roots b3tree
    /// derived itself (`check --audit`'s directory), which are only ever walked.
    pub roots_named: bool,
    /// Read a block device named as a root (`--read-devices`).
    pub read_devices: bool,
    /// Directory handles walkdir may hold (0: the default, `limits::WALKER_OPEN_DIRS`).
    pub max_open_dirs: usize,
    /// A tree spec (`hash --format mtree`): directories (the root as `.`), symlinks and
    /// special files are entries to describe ([`Action::Describe`]), not skips.
    pub describe: bool,
}

/// Counts the walker keeps beside the entries.
#[derive(Debug, Default, Clone, Copy)]
pub struct WalkStats {
    /// Entries left out by `--exclude` (a directory counts once).
    pub excluded: u64,
}

/// Where the walker sends each entry: its path, its name as written, and what to do with
/// it. Returning false stops the walk (the queue closed, or a stop was requested).
pub type Emit<'a> = dyn FnMut(PathBuf, EntryName, Action) -> bool + 'a;

/// Walks every root, sending one entry per file, special file or error through `emit`.
pub fn walk(cfg: &WalkConfig, emit: &mut Emit) -> WalkStats {
    let excluded = Cell::new(0);
    for root in &cfg.roots {
        if !walk_root(cfg, root, &excluded, emit, &|_| {}) {
            break;
        }
    }
    WalkStats {
        excluded: excluded.get(),
    }
}

/// Walks one root; `before_dir` hears of a named root that is a directory (followed through
/// a symlink too) before any of its entries is emitted.
pub(super) fn walk_root(
    cfg: &WalkConfig,
    root: &Path,
    excluded: &Cell<u64>,
    emit: &mut Emit,
    before_dir: &dyn Fn(&Path),
) -> bool {
    let root_bytes = root.as_os_str().as_bytes();
    let naming = Naming {
        prefix: (cfg.relative_names || root_bytes == b".").then_some(root_bytes),
    };
    // `-` is standard input, as for b3sum and cat (a file named `-` is `./-`).
    if cfg.roots_named && root_bytes == b"-" {
        return emit(root.to_path_buf(), EntryName::Tail(0), Action::HashStream);
    }
    match cfg.roots_named.then(|| named_root(cfg, root)) {
        Some(Root::Named(action)) => return emit(root.to_path_buf(), naming.name(root), action),
        Some(Root::Dir) => before_dir(root),
        _ => {}
    }
    let tree = Subtree {
        root,
        naming,
        open_as: root,
        real: root,
        base_depth: 0,
    };
    walk_subtree(cfg, &tree, excluded, emit)
}

/// What to do with a root that is not walked as a directory: named on the command line, it
/// is what the user asked for, as for b3sum, `cat` and `du -D`. A symlink is followed; a
/// FIFO or character device is read as a stream (`b3tree hash <(cmd)`, `/dev/stdin`); a
/// block device only with `--read-devices`. Regular files and directories (and roots that
/// do not exist: the walk reports them) go through walkdir as before.
fn named_root(cfg: &WalkConfig, root: &Path) -> Root {
    use std::os::unix::fs::FileTypeExt;
    let (Ok(link), Ok(target)) = (std::fs::symlink_metadata(root), std::fs::metadata(root)) else {
        return Root::Walk;
    };
    let ft = target.file_type();
    if ft.is_dir() {
        return Root::Dir;
    }
    if ft.is_file() && !link.file_type().is_symlink() {
        return Root::Walk;
    }
    Root::Named(if ft.is_file() {
        Action::Hash
    } else if ft.is_fifo() || ft.is_char_device() || (ft.is_block_device() && cfg.read_devices) {
        Action::HashStream
    } else if ft.is_block_device() {
        Action::Report(Outcome::Failed(EntryError::new(
            ErrorKind::NotRegular,
            "block device: not read unless --read-devices",
        )))
    } else {
        Action::Report(Outcome::Failed(EntryError::new(
            ErrorKind::NotRegular,
            "socket",
        )))
    })
}

/// What a named root is (see [`named_root`]).
enum Root {
    /// Not walked: hashed, streamed or refused as this action.
    Named(Action),
    /// A directory (perhaps through a symlink): walked.
    Dir,
    /// A regular file, or a path that does not exist: walkdir hashes or reports it.
    Walk,
}

/// A walk of `real`, opened as `open_as`: the same directory, except below a path too long
/// for the kernel (PATH_MAX), where `open_as` is `/proc/self/fd/N` of a descriptor opened
/// one component at a time. Jobs always carry the real path (the hasher opens long paths
/// step by step too).
struct Subtree<'a> {
    root: &'a Path,
    naming: Naming<'a>,
    open_as: &'a Path,
    real: &'a Path,
    base_depth: usize,
}

impl Subtree<'_> {
    fn real_path(&self, p: PathBuf) -> PathBuf {
        // Pointer equality: only nested subtrees (built below) open another path.
        if std::ptr::eq(self.open_as, self.real) {
            p
        } else {
            self.real.join(p.strip_prefix(self.open_as).unwrap_or(&p))
        }
    }
}

/// The walkdir walk of `tree`; None when `--max-depth` ends above it.
fn walker(cfg: &WalkConfig, tree: &Subtree) -> Option<WalkDir> {
    let mut walker = WalkDir::new(tree.open_as)
        .follow_links(cfg.follow)
        .same_file_system(cfg.one_file_system)
        .max_open(if cfg.max_open_dirs == 0 {
            WALKER_OPEN_DIRS
        } else {
            cfg.max_open_dirs
        })
        // Byte order of names. Siblings' paths are their directory's path (the same bytes)
        // plus the name, so comparing whole paths orders by name without the per-comparison
        // component parsing of `sort_by_file_name` (2 % of a 100k-file profile).
        .sort_by(|a, b| {
            let (a, b) = (a.path().as_os_str(), b.path().as_os_str());
            a.as_bytes().cmp(b.as_bytes())
        });
    if tree.base_depth > 0 {
        walker = walker.min_depth(1); // the subtree's own directory was seen already
    }
    if let Some(d) = cfg.max_depth {
        if d < tree.base_depth {
            return None;
        }
        walker = walker.max_depth(d - tree.base_depth);
    }
    Some(walker)
}

/// What becomes of a directory the walk reached (below its root, not following links).
enum DirStep {
    /// Listed as it was when its parent was: descend.
    Descend,
    /// A mount root that `--one-file-system` leaves out.
    Skip,
    /// Swapped (for a symlink, or another directory) since its parent was listed.
    Swapped,
}

fn dir_step(cfg: &WalkConfig, entry: &walkdir::DirEntry) -> DirStep {
    if cfg.follow || entry.depth() == 0 {
        return DirStep::Descend;
    }
    match dir_as_listed(entry) {
        AsListed::Same => DirStep::Descend,
        // A bind mount of the same filesystem: another file system for -x, as a mount of
        // another device is (walkdir leaves those out).
        AsListed::MountRoot if cfg.one_file_system => DirStep::Skip,
        AsListed::MountRoot => DirStep::Descend,
        AsListed::Swapped => DirStep::Swapped,
    }
}

/// The entry a directory the walk reached becomes, if any: a tree spec's directory (the
/// root named `.`), or the error record of one swapped since its parent was listed (not
/// descended: walkdir opens directories by path, so a swap in the instant after the check
/// can still show names from elsewhere; their contents are never read, opens are
/// confined). None: nothing to emit (descended, or a mount `-x` leaves out).
fn dir_entry(
    cfg: &WalkConfig,
    tree: &Subtree,
    entry: walkdir::DirEntry,
    step: DirStep,
) -> Option<(PathBuf, EntryName, Action)> {
    let top = tree.base_depth + entry.depth() == 0;
    let path = tree.real_path(entry.into_path());
    let action = match step {
        DirStep::Descend if cfg.describe => Action::Describe(Content::Run),
        DirStep::Descend | DirStep::Skip => return None,
        DirStep::Swapped => Action::Report(Outcome::Failed(EntryError::new(
            ErrorKind::Changed,
            "directory replaced while walking: not descended",
        ))),
    };
    let name = if top && cfg.describe {
        EntryName::Own(b".".to_vec())
    } else {
        tree.naming.name(&path)
    };
    Some((path, name, action))
}

/// The action for an entry that is not a directory; None: this run's own temporary file,
/// which is not the user's and is left out without a word.
fn file_action(cfg: &WalkConfig, entry: &walkdir::DirEntry) -> Option<Action> {
    let ft = entry.file_type();
    let own = ft.is_file() && is_own_output(cfg, entry);
    let temp_name = crate::names::temp::is_temp_name(entry.file_name().as_bytes());
    if own && temp_name {
        return None;
    }
    Some(if own {
        Action::Report(Outcome::Skipped(SkipKind::OwnOutput))
    } else if ft.is_file() && cfg.skip_temp_names && temp_name {
        Action::Report(Outcome::Skipped(SkipKind::OwnTemp))
    } else if ft.is_file() {
        Action::Hash
    } else if cfg.describe {
        Action::Describe(Content::Run)
    } else {
        Action::Report(Outcome::Skipped(SkipKind::of(ft)))
    })
}

/// `--exclude` matches the entry (never a root); counted in `excluded`.
fn is_excluded(
    cfg: &WalkConfig,
    tree: &Subtree,
    e: &walkdir::DirEntry,
    excluded: &Cell<u64>,
) -> bool {
    let Some(set) = &cfg.excludes else {
        return false;
    };
    if tree.base_depth + e.depth() == 0 {
        return false;
    }
    let path = tree.real_path(e.path().to_path_buf());
    let out = set.is_match(path.strip_prefix(tree.root).unwrap_or(&path));
    if out {
        excluded.set(excluded.get() + 1);
    }
    out
}

fn walk_subtree(cfg: &WalkConfig, tree: &Subtree, excluded: &Cell<u64>, emit: &mut Emit) -> bool {
    let Some(walker) = walker(cfg, tree) else {
        return true;
    };
    let mut iter = walker
        .into_iter()
        .filter_entry(|e| !is_excluded(cfg, tree, e, excluded));
    // The directories being listed, by depth below this subtree's start.
    let mut listing: Vec<PathBuf> = Vec::new();
    while let Some(item) = iter.next() {
        let (path, action) = match item {
            Ok(entry) => {
                let ft = entry.file_type();
                // A root that is a symlink to a directory: walkdir follows it (named on the
                // command line); the link itself is no entry.
                if entry.depth() == 0 && tree.base_depth == 0 && ft.is_symlink() {
                    continue;
                }
                if ft.is_dir() {
                    // The directory whose listing comes next (a readdir error names it).
                    listing.truncate(entry.depth());
                    listing.push(entry.path().to_path_buf());
                    let step = dir_step(cfg, &entry);
                    if !matches!(step, DirStep::Descend) {
                        iter.skip_current_dir();
                    }
                    let Some((path, name, action)) = dir_entry(cfg, tree, entry, step) else {
                        continue;
                    };
                    if !emit(path, name, action) {
                        return false;
                    }
                    continue;
                } else {
                    let Some(action) = file_action(cfg, &entry) else {
                        continue;
                    };
                    (tree.real_path(entry.into_path()), action)
                }
            }
            Err(err) => {
                // An error reading a directory's entries (getdents: EIO) comes without a
                // path, one level below the directory: name that directory, not the root.
                let at = err.path().map(Path::to_path_buf).or_else(|| {
                    let d = err.depth().checked_sub(1)?;
                    listing.get(d).cloned()
                });
                let path = tree.real_path(at.unwrap_or_else(|| tree.open_as.to_path_buf()));
                if err.io_error().and_then(std::io::Error::raw_os_error) == Some(libc::ENAMETOOLONG)
                {
                    if let Ok(fd) = open::open_dir_stepwise(path.as_os_str().as_bytes()) {
                        let proc = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                        let deeper = Subtree {
                            open_as: &proc,
                            real: &path,
                            base_depth: tree.base_depth + err.depth(),
                            ..*tree
                        };
                        if !walk_subtree(cfg, &deeper, excluded, emit) {
                            return false;
                        }
                        continue;
                    }
                }
                let error = errors::classify(&err, &path);
                (path, Action::Report(Outcome::Failed(error)))
            }
        };
        let name = tree.naming.name(&path);
        if !emit(path, name, action) {
            return false;
        }
    }
    true
}
