//! Identities the walk checks: that a directory about to be descended is still the one its
//! parent's listing named (a swap for a symlink or another directory is not descended),
//! and that a file is this run's own output or belongs to it (never hashed).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use walkdir::{DirEntry, DirEntryExt};

use super::WalkConfig;
use crate::sys::fsinfo;

/// What a directory about to be descended is, compared with its parent's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AsListed {
    /// The one listed (or it is gone: walkdir's own open reports that).
    Same,
    /// The root of a mount on the same device (a bind mount): not a swap.
    MountRoot,
    /// Replaced since the listing: a symlink or a file now, or another directory.
    Swapped,
}

/// Whether the directory still is the one its parent's listing named, checked just before
/// walkdir opens it by path: still a directory (never a symlink now), and the same inode as
/// listed — except where inode numbers legitimately differ: at a mount point (the listing
/// gives the inode of the directory beneath the mount; another device, or a mount root on
/// the same device as a bind mount is), and on filesystems whose listings give other inode
/// numbers than `stat` (FUSE such as sshfs, overlayfs, 9p, SMB), where only "still a
/// directory, not a symlink" can be told. Opens stay confined in every case.
pub(super) fn dir_as_listed(entry: &DirEntry) -> AsListed {
    let path = entry.path();
    let now = match fsinfo::dir_now(path) {
        Ok(Some(now)) => now,
        Ok(None) => return AsListed::Swapped,
        Err(_) => return AsListed::Same, // gone: walkdir's own open reports it
    };
    if now.ino == entry.ino() {
        return AsListed::Same;
    }
    let parent_dev = std::fs::symlink_metadata(parent_of(path))
        .ok()
        .map(|m| m.dev());
    if parent_dev.is_some_and(|d| d != now.dev) {
        return AsListed::Same;
    }
    if now.mount_root {
        return AsListed::MountRoot;
    }
    if !fsinfo::listing_inodes_trusted(path) {
        return AsListed::Same;
    }
    AsListed::Swapped
}

/// The directory that holds `path`: "." for a bare name (`m.b3.b3tree-state` as a PATH or
/// a listed entry), "/" for "/".
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        Some(_) => Path::new("."),
        None => path,
    }
}

pub(super) fn is_own_output(cfg: &WalkConfig, entry: &DirEntry) -> bool {
    let name = entry.file_name().as_bytes();
    let same_path = |p: &PathBuf| {
        // The last component first, as bytes (no component parsing per entry).
        let full = p.as_os_str().as_bytes();
        full.len() > name.len()
            && full.ends_with(name)
            && full[full.len() - name.len() - 1] == b'/'
            && std::fs::canonicalize(parent_of(entry.path()))
                .is_ok_and(|d| d.join(entry.file_name()) == *p)
    };
    if cfg.skip_paths.iter().any(same_path) {
        return true;
    }
    if cfg.skip_files.is_empty() || !cfg.skip_files.iter().any(|&(_, ino)| ino == entry.ino()) {
        return false;
    }
    match std::fs::symlink_metadata(entry.path()) {
        Ok(m) => cfg.skip_files.contains(&(m.dev(), m.ino())),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use walkdir::WalkDir;

    #[test]
    fn a_directory_swapped_after_its_listing_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::create_dir_all(dir.path().join("other")).unwrap();
        let entry = WalkDir::new(dir.path())
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .map(Result::unwrap)
            .find(|e| e.file_name() == "sub")
            .unwrap();
        assert_eq!(dir_as_listed(&entry), AsListed::Same);
        // Swapped for a symlink to another directory, then for another directory.
        std::fs::rename(dir.path().join("sub"), dir.path().join("sub.old")).unwrap();
        std::os::unix::fs::symlink("other", dir.path().join("sub")).unwrap();
        assert_eq!(dir_as_listed(&entry), AsListed::Swapped);
        std::fs::remove_file(dir.path().join("sub")).unwrap();
        std::fs::rename(dir.path().join("other"), dir.path().join("sub")).unwrap();
        assert_eq!(dir_as_listed(&entry), AsListed::Swapped);
    }
}
