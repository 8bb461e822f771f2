//! Cold-cache benchmarking without root: evict a tree's file pages from the page cache.
//!
//! `posix_fadvise(POSIX_FADV_DONTNEED)` on an open file asks the kernel to drop that file's
//! clean, unmapped pages. It needs only read access, not root (unlike `drop_caches`). What it
//! cannot evict: dirty pages (not yet written back), pages mapped by another process, pages of
//! files we cannot open, and the dentry/inode caches, so directory walking stays warm. On
//! tmpfs and similar memory-backed filesystems there is nothing to evict: "cold" equals warm.

use std::path::Path;

/// Evicts the pages of every regular file under `root`; returns (files evicted, failures).
pub fn evict_tree(root: &Path) -> (u64, u64) {
    let (mut ok, mut failed) = (0, 0);
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !entry.file_type().is_file() {
            continue;
        }
        match std::fs::File::open(entry.path()) {
            Ok(f) => match rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed) {
                Ok(()) => ok += 1,
                Err(_) => failed += 1,
            },
            Err(_) => failed += 1,
        }
    }
    (ok, failed)
}

/// `bench --cache drop`: syncs, then drops the page cache, dentries and inodes system-wide
/// (`echo 3 > /proc/sys/vm/drop_caches`), as after a reboot. Root only; neither step can be
/// interrupted (the kernel does not return before it is done).
pub fn drop_all_caches() -> std::io::Result<()> {
    rustix::fs::sync();
    std::fs::write("/proc/sys/vm/drop_caches", b"3\n")
}
