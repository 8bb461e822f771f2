//! The names entries are written under: the walked path, less the part of the root the
//! command leaves out.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::names::entry::EntryName;

/// How names are formed from walked paths: the path as walked, minus `prefix` and the `/`
/// after it. `hash` strips only a root of `.` (no `./` in names); `digest` strips its whole
/// root (names relative to it). Bytes, not Path components: this runs once per entry and
/// component parsing showed up in the profile.
#[derive(Clone, Copy)]
pub(super) struct Naming<'a> {
    pub prefix: Option<&'a [u8]>,
}

impl Naming<'_> {
    /// The name of the entry at `path`: a tail of the path's bytes, seldom a copy.
    pub fn name(self, path: &Path) -> EntryName {
        let bytes = path.as_os_str().as_bytes();
        let Some(rest) = self.prefix.and_then(|p| bytes.strip_prefix(p)) else {
            return EntryName::Tail(0);
        };
        let rest = &rest[rest.iter().take_while(|&&b| b == b'/').count()..];
        if rest.is_empty() {
            // The root itself (a file given as root, or an error on it): its own name.
            return EntryName::Own(path.file_name().map_or(bytes, |n| n.as_bytes()).to_vec());
        }
        EntryName::Tail(bytes.len() - rest.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name's bytes.
    fn name(naming: Naming, path: &str) -> Vec<u8> {
        naming.name(Path::new(path)).into_vec(path.into())
    }

    #[test]
    fn dot_root_names_have_no_prefix() {
        let dot = Naming { prefix: Some(b".") };
        let as_given = Naming { prefix: None };
        assert_eq!(name(dot, "./a/b"), b"a/b".to_vec());
        assert_eq!(name(dot, "."), b".".to_vec());
        assert_eq!(name(as_given, "dist/a"), b"dist/a".to_vec());
        assert_eq!(name(as_given, "./dist/a"), b"./dist/a".to_vec());
    }

    #[test]
    fn relative_names_drop_the_root() {
        let rel = |root: &'static str| Naming {
            prefix: Some(root.as_bytes()),
        };
        assert_eq!(name(rel("dist"), "dist/a/b"), b"a/b".to_vec());
        assert_eq!(name(rel("dist/"), "dist/a"), b"a".to_vec());
        assert_eq!(name(rel("x/file"), "x/file"), b"file".to_vec());
    }
}
