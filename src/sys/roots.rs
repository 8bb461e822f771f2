//! The roots that `Confine::NoSymlinks` opens are confined beneath: the PATHs given on the
//! command line, and with `--files-from` the directories of the list, added as the walk
//! reaches them (a list of a million files adds none; memory grows only with the directories
//! listed).

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct Roots {
    given: Vec<PathBuf>,
    added: RwLock<Added>,
    any_added: AtomicBool,
}

#[derive(Debug, Default)]
struct Added {
    paths: Vec<PathBuf>,
    /// Root bytes (trailing slashes removed) → index in `paths`.
    index: HashMap<Vec<u8>, usize>,
}

/// `path` without trailing slashes (`/` stays `/`).
fn key(path: &[u8]) -> &[u8] {
    let end = path
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(1.min(path.len()), |i| i + 1);
    &path[..end]
}

impl Roots {
    pub fn new(given: Vec<PathBuf>) -> Roots {
        Roots {
            given,
            ..Roots::default()
        }
    }

    /// Adds the directory `dir` (as its entries' paths will start) before the walk of it
    /// queues anything.
    pub fn add(&self, dir: &std::path::Path) {
        let k = key(dir.as_os_str().as_bytes()).to_vec();
        let mut added = self.added.write().unwrap_or_else(|e| e.into_inner());
        if !added.index.contains_key(&k) {
            let i = added.paths.len();
            added.paths.push(dir.to_path_buf());
            added.index.insert(k, i);
        }
        self.any_added.store(true, Ordering::Release);
    }

    /// The root `idx` refers to (see [`Roots::split`]).
    pub fn path(&self, idx: usize) -> PathBuf {
        match self.given.get(idx) {
            Some(p) => p.clone(),
            None => {
                let added = self.added.read().unwrap_or_else(|e| e.into_inner());
                added.paths[idx - self.given.len()].clone()
            }
        }
    }

    /// The root of `path` (the walk joins names to the root as given) as an index, and the
    /// rest of the path below it; `None` for a path that is a root itself, or lies under none.
    pub fn split<'a>(&self, path: &'a [u8]) -> Option<(usize, &'a [u8])> {
        if let Some(found) = split_given(&self.given, path) {
            return Some(found);
        }
        if !self.any_added.load(Ordering::Acquire) {
            return None;
        }
        let added = self.added.read().unwrap_or_else(|e| e.into_inner());
        // Each ancestor of `path`, deepest first.
        let mut end = path.len();
        while let Some(slash) = path[..end].iter().rposition(|&b| b == b'/') {
            let rest = &path[slash + 1..];
            let rest = &rest[rest.iter().take_while(|&&b| b == b'/').count()..];
            let root = if slash == 0 {
                &path[..1]
            } else {
                key(&path[..slash])
            };
            if let (Some(&i), false) = (added.index.get(root), rest.is_empty()) {
                return Some((self.given.len() + i, rest));
            }
            end = slash;
        }
        None
    }
}

/// The given root of `path`, by a scan (the PATHs of a command line are few).
fn split_given<'a>(roots: &[PathBuf], path: &'a [u8]) -> Option<(usize, &'a [u8])> {
    roots.iter().enumerate().find_map(|(i, root)| {
        let r = root.as_os_str().as_bytes();
        let rest = path.strip_prefix(r)?;
        let rest = if r.ends_with(b"/") {
            rest
        } else {
            rest.strip_prefix(b"/")?
        };
        let rest = &rest[rest.iter().take_while(|&&b| b == b'/').count()..];
        (!rest.is_empty()).then_some((i, rest))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_roots_split_as_before() {
        let roots = Roots::new(vec!["a".into(), "b/".into(), ".".into()]);
        assert_eq!(roots.split(b"a/x/y"), Some((0, &b"x/y"[..])));
        assert_eq!(roots.split(b"b/x"), Some((1, &b"x"[..])));
        assert_eq!(roots.split(b"./x"), Some((2, &b"x"[..])));
        assert_eq!(roots.split(b"a"), None);
        assert_eq!(roots.split(b"ab/x"), None);
    }

    #[test]
    fn added_directories_are_found_by_their_ancestors() {
        let roots = Roots::new(vec![]);
        assert_eq!(roots.split(b"d/x"), None);
        roots.add("d/".as_ref());
        roots.add("/abs/e".as_ref());
        roots.add("/".as_ref());
        assert_eq!(roots.split(b"d/x"), Some((0, &b"x"[..])));
        assert_eq!(roots.split(b"d//x/y"), Some((0, &b"x/y"[..])));
        assert_eq!(roots.split(b"/abs/e/f"), Some((1, &b"f"[..])));
        assert_eq!(roots.split(b"/other/f"), Some((2, &b"other/f"[..])));
        assert_eq!(roots.split(b"d"), None);
        assert_eq!(roots.split(b"dd/x"), None);
        assert_eq!(roots.path(1), PathBuf::from("/abs/e"));
    }
}
