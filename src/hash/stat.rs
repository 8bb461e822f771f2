//! The `fstat` fields that tell one version of a file from another, as the hasher compares
//! them before and after a read (and `--update` records them, as [`Facts`]).

use std::fs::File;
use std::io;

use crate::hash::facts::{Facts, Meta};

/// The fields of `fstat` that identify a version of a file. Plain `fstat` rather than
/// std's `statx` (which also fetches birth time): it is called twice per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub rdev: u64,
}

impl From<&rustix::fs::Stat> for Stat {
    fn from(st: &rustix::fs::Stat) -> Stat {
        Stat {
            mode: st.st_mode,
            dev: st.st_dev,
            ino: st.st_ino,
            size: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime, st.st_ctime_nsec as i64),
            uid: st.st_uid,
            gid: st.st_gid,
            nlink: st.st_nlink,
            rdev: st.st_rdev,
        }
    }
}

impl Stat {
    pub fn of(file: &File) -> io::Result<Stat> {
        Ok(Stat::from(&rustix::fs::fstat(file)?))
    }

    /// The facts, with `fs` the filesystem's identity (`sys::fsinfo::fs_identity`).
    pub fn facts(&self, fs: u64) -> Facts {
        Facts {
            size: self.size,
            mtime: (self.mtime.0, self.mtime.1 as u32),
            ctime: (self.ctime.0, self.ctime.1 as u32),
            ino: self.ino,
            dev: self.dev,
            fs,
            meta: Meta {
                mode: self.mode,
                uid: self.uid,
                gid: self.gid,
                nlink: self.nlink,
                rdev: self.rdev,
            },
        }
    }

    /// The same version of the file: type and mode, identity, size and times equal. Owner
    /// and link count are not compared: a file unlinked while it is read (FUSE shows it
    /// renamed to `.fuse_hidden…`, sshfs keeps its times) holds the same bytes.
    pub fn same_version(&self, other: &Stat) -> bool {
        (
            self.mode, self.dev, self.ino, self.size, self.mtime, self.ctime,
        ) == (
            other.mode,
            other.dev,
            other.ino,
            other.size,
            other.mtime,
            other.ctime,
        )
    }

    /// What the file is, when it is not a regular file.
    pub fn not_regular(&self) -> Option<&'static str> {
        match self.mode & libc::S_IFMT {
            libc::S_IFREG => None,
            libc::S_IFDIR => Some("directory"),
            libc::S_IFIFO => Some("fifo"),
            libc::S_IFSOCK => Some("socket"),
            libc::S_IFBLK | libc::S_IFCHR => Some("device"),
            _ => Some("special file"),
        }
    }
}
