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
                Ok(e) if e.depth() == 0 && !e.file_type().is_dir() => n += 1,
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
        for p in ["a", "d/b", "d/e/c", "skip/x", "skip/y"] {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::os::unix::fs::symlink("a", dir.path().join("lnk")).unwrap();
        let mut cfg = WalkConfig {
            roots: vec![dir.path().to_path_buf()],
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
    }
}
