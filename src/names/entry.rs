//! An entry's name as it travels beside its path: most names are the walked path itself, or
//! its end (`hash .` leaves out `./`), so they are kept as an offset into the path rather
//! than as a second copy. The copy cost an allocation per file on the walker's thread, freed
//! on another (the output's): glibc's malloc then takes the walker's arena lock for the free,
//! and the profile showed those waits.

use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The name an entry is written under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryName {
    /// The bytes of the entry's path from this offset on.
    Tail(usize),
    /// Bytes of its own (a manifest's name, `-`, a name that is no tail of the path).
    Own(Vec<u8>),
}

impl EntryName {
    /// The name's bytes, given the entry's path.
    pub fn of<'a>(&'a self, path: &'a Path) -> &'a [u8] {
        match self {
            EntryName::Tail(k) => path.as_os_str().as_bytes().get(*k..).unwrap_or_default(),
            EntryName::Own(v) => v,
        }
    }

    /// The name's bytes, reusing the path's buffer once the path is no longer needed.
    pub fn into_vec(self, path: PathBuf) -> Vec<u8> {
        match self {
            EntryName::Tail(k) => {
                let mut v = path.into_os_string().into_vec();
                v.drain(..k.min(v.len()));
                v
            }
            EntryName::Own(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_is_the_end_of_the_path_and_reuses_it() {
        let path = PathBuf::from("./a/b");
        let name = EntryName::Tail(2);
        assert_eq!(name.of(&path), b"a/b");
        assert_eq!(name.into_vec(path), b"a/b".to_vec());
        let own = EntryName::Own(b"x".to_vec());
        assert_eq!(own.of(Path::new("y")), b"x");
        assert_eq!(EntryName::Tail(0).into_vec("d/f".into()), b"d/f".to_vec());
    }
}
