//! The names entries are written under: the walked path, less the part of the root the
//! command leaves out.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How names are formed from walked paths: the path as walked, minus `prefix` and the `/`
/// after it. `hash` strips only a root of `.` (no `./` in names); `digest` strips its whole
/// root (names relative to it). Bytes, not Path components: this runs once per entry and
/// component parsing showed up in the profile.
#[derive(Clone, Copy)]
pub(super) struct Naming<'a> {
    pub prefix: Option<&'a [u8]>,
}

impl Naming<'_> {
    pub fn name(self, path: &Path) -> Vec<u8> {
        let bytes = path.as_os_str().as_bytes();
        let Some(rest) = self.prefix.and_then(|p| bytes.strip_prefix(p)) else {
            return bytes.to_vec();
        };
        let rest = &rest[rest.iter().take_while(|&&b| b == b'/').count()..];
        if rest.is_empty() {
            // The root itself (a file given as root, or an error on it): its own name.
            return path.file_name().map_or(bytes, |n| n.as_bytes()).to_vec();
        }
        rest.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_root_names_have_no_prefix() {
        let dot = Naming { prefix: Some(b".") };
        let as_given = Naming { prefix: None };
        assert_eq!(dot.name(Path::new("./a/b")), b"a/b".to_vec());
        assert_eq!(dot.name(Path::new(".")), b".".to_vec());
        assert_eq!(as_given.name(Path::new("dist/a")), b"dist/a".to_vec());
        assert_eq!(as_given.name(Path::new("./dist/a")), b"./dist/a".to_vec());
    }

    #[test]
    fn relative_names_drop_the_root() {
        let rel = |root: &'static str| Naming {
            prefix: Some(root.as_bytes()),
        };
        assert_eq!(rel("dist").name(Path::new("dist/a/b")), b"a/b".to_vec());
        assert_eq!(rel("dist/").name(Path::new("dist/a")), b"a".to_vec());
        assert_eq!(rel("x/file").name(Path::new("x/file")), b"file".to_vec());
    }
}
