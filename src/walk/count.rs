//! The count behind the progress display's percent and ETA: the same walk, names only.

use walkdir::WalkDir;

use super::WalkConfig;

/// Counts the regular files a walk of `cfg` would hash (roots named on the command line
/// count as one each), for the progress display's percent and ETA: names only — walkdir's
/// `d_type`, no stat per file — in constant memory. `None` if a stop was requested first.
pub fn count_files(cfg: &WalkConfig) -> Option<u64> {
    let mut n = 0u64;
    for root in &cfg.roots {
        let mut walker = WalkDir::new(root)
            .follow_links(cfg.follow)
            .same_file_system(cfg.one_file_system)
            .max_open(1);
        if let Some(d) = cfg.max_depth {
            walker = walker.max_depth(d);
        }
        let iter = walker.into_iter().filter_entry(|e| {
            e.depth() == 0
                || cfg.excludes.as_ref().is_none_or(|set| {
                    !set.is_match(e.path().strip_prefix(root).unwrap_or(e.path()))
                })
        });
        for entry in iter {
            if crate::sys::cancel::is_stopped() {
                return None;
            }
            match entry {
                Ok(e) if e.file_type().is_file() => n += 1,
                // A root named on the command line that is not a directory (a symlink to a
                // file, a FIFO) is one entry; a symlink to a directory is walked instead.
                Ok(e) if e.depth() == 0 && !e.path().is_dir() => n += 1,
                _ => {}
            }
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_for_progress_sees_what_the_walk_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("t");
        for p in ["a", "d/b", "d/e/c", "skip/x", "skip/y"] {
            let p = tree.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::os::unix::fs::symlink("a", tree.join("lnk")).unwrap();
        let mut cfg = WalkConfig {
            roots: vec![tree.clone()],
            ..WalkConfig::default()
        };
        assert_eq!(
            count_files(&cfg),
            Some(5),
            "symlinks are not hashed without -L"
        );
        cfg.excludes = crate::config::excludes(&["skip".to_string()]).unwrap();
        assert_eq!(count_files(&cfg), Some(3));
        cfg.max_depth = Some(1);
        assert_eq!(count_files(&cfg), Some(1));
        // A root that is a symlink to a directory counts what is under it, not itself; one
        // that is a symlink to a file counts as one.
        std::os::unix::fs::symlink("t", dir.path().join("dirlink")).unwrap();
        std::os::unix::fs::symlink("t/a", dir.path().join("filelink")).unwrap();
        let roots = WalkConfig {
            roots: vec![dir.path().join("dirlink"), dir.path().join("filelink")],
            ..WalkConfig::default()
        };
        assert_eq!(count_files(&roots), Some(6));
    }
}
