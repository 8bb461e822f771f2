//! When every entry is missing, the names were almost always resolved from the wrong
//! directory (`check` run beside the manifest of a tree hashed with `-C DIR`, or from the
//! repository root). One line says where names were looked for and, when the first name
//! exists under the manifest's directory or one of its subdirectories, the `-C` that works.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::names::escape::display;

/// Subdirectories of the manifest's directory looked into, at most.
const MAX_SUBDIRS: usize = 1000;

/// The hint for a run in which every entry was missing; `first` is the first entry's name.
pub(super) fn hint(first: &[u8], manifests: &[PathBuf]) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = display(cwd.as_os_str().as_bytes());
    let found = manifests
        .iter()
        .filter(|m| m.as_os_str() != "-")
        .find_map(|m| find(first, m, &cwd));
    match found {
        Some(dir) => format!(
            "every entry is missing from {shown}, where names are looked for; {} is in {}: \
             run check with -C {}",
            display(first),
            display(dir.as_os_str().as_bytes()),
            display(relative(&dir, &cwd).as_os_str().as_bytes())
        ),
        None => format!(
            "every entry is missing from {shown}, where names are looked for: run check in \
             the directory the manifest was made from (or give -C DIR)"
        ),
    }
}

/// The directory beside `manifest` (its own or a subdirectory) that holds `name`, if it is
/// not the working directory.
fn find(name: &[u8], manifest: &Path, cwd: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(manifest)
        .ok()?
        .parent()?
        .to_path_buf();
    let name = Path::new(OsStr::from_bytes(name));
    let holds = |d: &Path| d != cwd && std::fs::symlink_metadata(d.join(name)).is_ok();
    if holds(&dir) {
        return Some(dir);
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .take(MAX_SUBDIRS)
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    subdirs.into_iter().find(|d| holds(d))
}

/// `dir` relative to `cwd` when it lies beneath it, else as it is.
fn relative(dir: &Path, cwd: &Path) -> PathBuf {
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    dir.strip_prefix(&cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| dir.to_path_buf())
}
