//! Opening files after the walk, so that nothing outside the root the user gave is read.
//!
//! The walk (or a manifest) decides on a path; the open happens later, on another thread.
//! Between the two a hostile tree can swap a directory for a symlink to `/etc`. Every open
//! therefore resolves from a descriptor of the root, under one of three policies
//! ([`Confine`]):
//! - `NoSymlinks` (`hash`, `digest`, `bench` without `-L`; `check` of a tree spec, below the
//!   working directory, as mtree describes a tree as it lies): below each PATH given, no symlink
//!   is followed at all — the walk did not follow one, so one found now was swapped in, and the
//!   entry becomes "changed while hashing: replaced by a symlink", never content from
//!   elsewhere. The PATH itself is opened as given (symlinks in it are the user's choice).
//! - `Beneath` (`check` of a manifest, `check --audit`): names resolve beneath the working
//!   directory; in-root symlinks are followed, absolute names, `..` and symlinks that lead
//!   out fail with EXDEV ("outside the root").
//! - `Anywhere` (`hash -L`, `check --allow-outside` of a manifest): paths are opened as given.
//!
//! Linux ≥ 5.6 does each of these in one `openat2` call (`RESOLVE_BENEATH`, plus
//! `RESOLVE_NO_SYMLINKS`). Where openat2 is missing or filtered (ENOSYS, or EPERM from a
//! seccomp profile), [`open_stepwise`] gives the same verdicts one component at a time, each
//! opened with `O_NOFOLLOW` relative to the descriptor of the one before and symlinks read
//! and resolved by us, so a swap can change which error we give, never where we read. One
//! race it cannot see (openat2 can): a directory already traversed being *moved* out of the
//! root by rename before the open completes.
//!
//! Paths longer than PATH_MAX go through the same stepwise resolver, so deep trees work
//! under every policy.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

pub use crate::sys::resolve::{DIR_FLAGS, FILE_FLAGS, open_dir_stepwise};
use rustix::fs::{AtFlags, Mode};

use crate::sys::resolve::{oflags, open_at, open_beneath, retry_emfile, to_cstr};
pub use crate::sys::roots::Roots;

/// How opens after the walk are confined (see the module docs).
#[derive(Debug, Clone, Default)]
pub enum Confine {
    /// Paths as given.
    #[default]
    Anywhere,
    /// Beneath the working directory; in-root symlinks followed.
    Beneath,
    /// Below each of these roots (as walked), no symlink followed.
    NoSymlinks(Arc<Roots>),
}

/// The directory of the previous file, kept open so that files of the same directory are
/// opened with `openat(dirfd, name)`: the kernel then resolves one component instead of the
/// whole path (path lookup was the largest single kernel cost on trees of small files).
/// Also holds the descriptors of the roots opens are confined to.
pub struct DirCache {
    policy: Confine,
    dir: Option<(Vec<u8>, OwnedFd)>,
    cstr: Vec<u8>,
    /// `Beneath`: the working directory. `NoSymlinks`: the root of the last path (its index).
    root: Option<(usize, OwnedFd)>,
}

impl DirCache {
    pub fn new(policy: Confine) -> io::Result<DirCache> {
        let root = match policy {
            Confine::Beneath => Some((0, open_at(None, b".", &mut Vec::new(), DIR_FLAGS)?)),
            _ => None,
        };
        Ok(DirCache {
            policy,
            dir: None,
            cstr: Vec::new(),
            root,
        })
    }

    /// Symlinks below the roots are never followed (an ELOOP means one was swapped in).
    pub fn no_symlinks(&self) -> bool {
        matches!(self.policy, Confine::NoSymlinks(_))
    }

    /// Opens the file at `path` for reading under this cache's policy.
    pub fn open(&mut self, path: &Path) -> io::Result<File> {
        let bytes = path.as_os_str().as_bytes();
        match &self.policy {
            Confine::Anywhere => self.open_relative(None, bytes, false),
            Confine::Beneath => self.open_relative(Some(0), bytes, true),
            Confine::NoSymlinks(roots) => {
                let Some((idx, rest)) = roots.split(bytes) else {
                    // The PATH itself (a file given on the command line): as given.
                    return open_at(None, bytes, &mut self.cstr, FILE_FLAGS).map(File::from);
                };
                self.hold_root(idx)?;
                self.open_relative(Some(idx), rest, false)
            }
        }
    }

    /// The metadata of the file at `path` without opening it (`hash --update`'s test for
    /// an unchanged file), under this cache's policy: below a root of `NoSymlinks`, resolved
    /// beneath it with no symlink followed, the last component not followed either; a PATH
    /// itself and `Anywhere` (`-L`) as given, symlinks followed, as their opens are. Any
    /// failure is returned as is: the caller then opens the file, which gives the precise
    /// error (vanished, outside...).
    pub fn stat(&mut self, path: &Path) -> io::Result<rustix::fs::Stat> {
        let bytes = path.as_os_str().as_bytes();
        let Confine::NoSymlinks(roots) = &self.policy else {
            // `Beneath` (not used by hash): stat what a confined open gives.
            if matches!(self.policy, Confine::Beneath) {
                return Ok(rustix::fs::fstat(self.open(path)?)?);
            }
            return Ok(rustix::fs::stat(path)?);
        };
        let Some((idx, rest)) = roots.split(bytes) else {
            return Ok(rustix::fs::stat(path)?);
        };
        self.hold_root(idx)?;
        self.at_last(idx, false, rest, |dirfd, name| {
            Ok(rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW)?)
        })
    }

    /// What the entry at `path` is, its last component not followed (`lstat`), and a
    /// link's target as stored: a tree spec's view of an entry. Resolved as [`Self::open`]
    /// resolves the directories above it (beneath the root, or below a PATH with no symlink
    /// followed); a PATH itself is as given (followed, as its walk was).
    pub fn lstat(&mut self, path: &Path) -> io::Result<(rustix::fs::Stat, Option<Vec<u8>>)> {
        let bytes = path.as_os_str().as_bytes();
        let (idx, follow, rest) = match &self.policy {
            Confine::Anywhere => {
                let st = rustix::fs::lstat(path)?;
                let link = is_link(&st)
                    .then(|| rustix::fs::readlink(path, Vec::new()))
                    .transpose()?;
                return Ok((st, link.map(|l| l.into_bytes())));
            }
            Confine::Beneath => (0, true, bytes),
            Confine::NoSymlinks(roots) => {
                let Some((idx, rest)) = roots.split(bytes) else {
                    return Ok((rustix::fs::stat(path)?, None));
                };
                self.hold_root(idx)?;
                return self.at_last(idx, false, rest, describe_at);
            }
        };
        self.at_last(idx, follow, rest, describe_at)
    }

    /// Opens the file at `path` for reading without following its last component (ELOOP
    /// when it is a symlink: the caller describes it instead), the directories above it
    /// resolved as [`Self::lstat`] resolves them. A tree spec's check opens an entry the
    /// spec calls a file this way: one call where `lstat` then `open` took two.
    pub fn open_unfollowed(&mut self, path: &Path) -> io::Result<File> {
        let bytes = path.as_os_str().as_bytes();
        let open_last = |dirfd: BorrowedFd<'_>, name: &std::ffi::CStr| {
            if matches!(name.to_bytes(), b"." | b"..") {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            let flags = oflags(FILE_FLAGS | libc::O_NOFOLLOW);
            retry_emfile(|| Ok(rustix::fs::openat(dirfd, name, flags, Mode::empty())?))
                .map(File::from)
        };
        match &self.policy {
            Confine::Anywhere => {
                open_at(None, bytes, &mut self.cstr, FILE_FLAGS | libc::O_NOFOLLOW).map(File::from)
            }
            Confine::Beneath => self.at_last(0, true, bytes, open_last),
            // Already: no symlink followed below a PATH.
            Confine::NoSymlinks(_) => self.open(path),
        }
    }

    /// Holds the descriptor of root `idx` (`NoSymlinks`), opened as given.
    fn hold_root(&mut self, idx: usize) -> io::Result<()> {
        let Confine::NoSymlinks(roots) = &self.policy else {
            return Ok(());
        };
        if self.root.as_ref().is_none_or(|(i, _)| *i != idx) {
            self.dir = None;
            let root = roots.path(idx);
            let fd = open_at(None, root.as_os_str().as_bytes(), &mut self.cstr, DIR_FLAGS)?;
            self.root = Some((idx, fd));
        }
        Ok(())
    }

    /// `f` on the directory that holds the last component of `rest` (relative to the root
    /// held as `root`; its parents resolved beneath it, in-root symlinks followed only if
    /// `follow`) and that component's name.
    fn at_last<R>(
        &mut self,
        root: usize,
        follow: bool,
        rest: &[u8],
        f: impl FnOnce(BorrowedFd<'_>, &std::ffi::CStr) -> io::Result<R>,
    ) -> io::Result<R> {
        let (in_dir, name) = match rest.iter().rposition(|&b| b == b'/') {
            Some(split) if split > 0 && split + 1 < rest.len() => {
                self.enter_parent(Some(root), Some(follow), &rest[..split])?;
                (true, &rest[split + 1..])
            }
            Some(_) => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
            None => (false, rest),
        };
        let c = to_cstr(name, &mut self.cstr)?;
        let dirfd = if in_dir {
            self.dir.as_ref().map(|(_, fd)| fd.as_fd())
        } else {
            self.root.as_ref().map(|(_, fd)| fd.as_fd())
        };
        f(
            dirfd.ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?,
            c,
        )
    }

    /// Makes `self.dir` the directory `parent` (relative to the root held for `root`, or to
    /// the working directory), resolved under `policy` (see [`open_in`]); kept if it already
    /// is.
    fn enter_parent(
        &mut self,
        root: Option<usize>,
        policy: Option<bool>,
        parent: &[u8],
    ) -> io::Result<()> {
        if self.dir.as_ref().is_some_and(|(p, _)| p == parent) {
            return Ok(());
        }
        self.dir = None;
        let root_fd = root.and(self.root.as_ref()).map(|(_, fd)| fd.as_fd());
        let opened = match open_in(policy, root_fd, parent, &mut self.cstr, DIR_FLAGS) {
            Err(e) if root_fd.is_none() && e.raw_os_error() == Some(libc::ENAMETOOLONG) => {
                open_dir_stepwise(parent)
            }
            other => other,
        };
        self.dir = Some((parent.to_vec(), opened?));
        Ok(())
    }

    /// Opens `rel` (relative to the root held for `root`, or to the working directory when
    /// `root` is None), through the cached parent directory. `follow`: in-root symlinks are
    /// followed (only meaningful with a root).
    fn open_relative(&mut self, root: Option<usize>, rel: &[u8], follow: bool) -> io::Result<File> {
        // Some(follow) when confined to a root.
        let policy = root.and(self.root.as_ref()).map(|_| follow);
        let split = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) if i + 1 < rel.len() => i,
            _ => {
                let root_fd = root.and(self.root.as_ref()).map(|(_, fd)| fd.as_fd());
                return open_in(policy, root_fd, rel, &mut self.cstr, FILE_FLAGS).map(File::from);
            }
        };
        let parent = if split == 0 { &rel[..1] } else { &rel[..split] };
        if self.enter_parent(root, policy, parent).is_err() {
            // Let the full open produce the precise error (vanished, outside...).
            let root_fd = root.and(self.root.as_ref()).map(|(_, fd)| fd.as_fd());
            return open_in(policy, root_fd, rel, &mut self.cstr, FILE_FLAGS).map(File::from);
        }
        let root_fd = root.and(self.root.as_ref()).map(|(_, fd)| fd.as_fd());
        let dirfd = self.dir.as_ref().map(|(_, fd)| fd.as_fd());
        let name = &rel[split + 1..];
        let res = match policy {
            // The parent was resolved under the policy; one plain component opened without
            // following a symlink cannot leave it.
            Some(false) => open_at(dirfd, name, &mut self.cstr, FILE_FLAGS | libc::O_NOFOLLOW),
            _ => open_in(policy, dirfd, name, &mut self.cstr, FILE_FLAGS),
        };
        match res {
            // Beneath the directory is stricter than beneath the root (a symlink to a sibling
            // directory is fine): decide on the whole path.
            Err(e) if policy == Some(true) && e.raw_os_error() == Some(libc::EXDEV) => {
                open_in(policy, root_fd, rel, &mut self.cstr, FILE_FLAGS).map(File::from)
            }
            other => other.map(File::from),
        }
    }
}

fn is_link(st: &rustix::fs::Stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// The `lstat` of `name` in `dirfd`, and its target if it is a symlink.
fn describe_at(
    dirfd: BorrowedFd<'_>,
    name: &std::ffi::CStr,
) -> io::Result<(rustix::fs::Stat, Option<Vec<u8>>)> {
    let st = rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let link = is_link(&st)
        .then(|| rustix::fs::readlinkat(dirfd, name, Vec::new()))
        .transpose()?;
    Ok((st, link.map(|l| l.into_bytes())))
}

/// Opens `name` relative to `base` (or the working directory). With `policy` =
/// `Some(follow)` the resolution must stay beneath `base` (the root, or a directory already
/// resolved beneath it), following in-root symlinks only if `follow`.
fn open_in(
    policy: Option<bool>,
    base: Option<BorrowedFd<'_>>,
    name: &[u8],
    cstr: &mut Vec<u8>,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    match (policy, base) {
        (Some(follow), Some(base)) => open_beneath(base, name, cstr, flags, follow),
        _ => open_at(base, name, cstr, flags),
    }
}

/// Opens the directory `dir` as the root of [`open_under`].
pub fn open_root(dir: &Path) -> io::Result<OwnedFd> {
    let mut cstr = Vec::new();
    let c = to_cstr(dir.as_os_str().as_bytes(), &mut cstr)?;
    Ok(rustix::fs::open(c, oflags(DIR_FLAGS), Mode::empty())?)
}

/// Opens `name` beneath the directory `root`, following no symlink on the way (absolute
/// names and `..` out of it fail with EXDEV): for reading, or (`write`) for writing in
/// place — never created, never truncated, never blocking on a FIFO.
pub fn open_under(root: BorrowedFd<'_>, name: &[u8], write: bool) -> io::Result<File> {
    let flags = match write {
        true => libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        false => FILE_FLAGS,
    };
    let mut cstr = Vec::new();
    open_beneath(root, name, &mut cstr, flags, false).map(File::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::resolve::{NO_OPENAT2, open_stepwise};
    use std::os::unix::fs::symlink;
    use std::sync::atomic::Ordering::Relaxed;

    fn errno(r: io::Result<OwnedFd>) -> Option<i32> {
        r.err().and_then(|e| e.raw_os_error())
    }

    #[test]
    fn stepwise_gives_openat2_verdicts() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::write(r.join("a/b/f"), "f").unwrap();
        symlink("a/b", r.join("in")).unwrap();
        symlink("../..", r.join("a/up2")).unwrap();
        symlink(outside.path(), r.join("abs")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let root = open_at(None, r.as_os_str().as_bytes(), &mut Vec::new(), DIR_FLAGS).unwrap();
        let fd = root.as_fd();
        // (path, follow, expected errno; None = opened), for both resolvers.
        let cases: [(&[u8], bool, Option<i32>); 18] = [
            (b"a/b/f", true, None),
            (b"a/b/f", false, None),
            (b"a/./b/../b/f", true, None),
            (b"a/./b/../b/f", false, None),
            (b"../x", true, Some(libc::EXDEV)),
            (b"../x", false, Some(libc::EXDEV)),
            (b"/etc/passwd", true, Some(libc::EXDEV)),
            (b"/etc/passwd", false, Some(libc::EXDEV)),
            (b"a/nope", true, Some(libc::ENOENT)),
            (b"a/nope", false, Some(libc::ENOENT)),
            (b"a/b/f/x", true, Some(libc::ENOTDIR)),
            (b"a/b/f/x", false, Some(libc::ENOTDIR)),
            // In-root symlinks: followed only with `follow`.
            (b"in/f", true, None),
            (b"in/f", false, Some(libc::ELOOP)),
            // Escapes through symlinks, relative or absolute; loops.
            (b"a/up2/x", true, Some(libc::EXDEV)),
            (b"abs/secret", true, Some(libc::EXDEV)),
            (b"abs/secret", false, Some(libc::ELOOP)),
            (b"loop/x", true, Some(libc::ELOOP)),
        ];
        for (path, follow, want) in cases {
            let shown = format!("{} (follow {follow})", String::from_utf8_lossy(path));
            assert_eq!(
                errno(open_stepwise(fd, path, FILE_FLAGS, follow)),
                want,
                "{shown}"
            );
            // The same verdict from openat2, where the kernel has it.
            let kernel = errno(open_beneath(fd, path, &mut Vec::new(), FILE_FLAGS, follow));
            if !NO_OPENAT2.load(Relaxed) {
                assert_eq!(kernel, want, "openat2: {shown}");
            }
        }
    }
}
