//! Opening by descriptor, one component at a time: the pieces `open` builds its policies
//! from. `open_stepwise` gives openat2's `RESOLVE_BENEATH` verdicts where openat2 is missing
//! (each component opened with `O_NOFOLLOW` from the one before, symlinks read and resolved
//! here), and serves paths longer than PATH_MAX; EMFILE is waited out, never a dropped file.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::sys::cancel;

/// `O_NONBLOCK` so that a FIFO or device can never block the open (the hasher refuses them
/// after fstat); `O_NOCTTY` so that a terminal device cannot become our controlling terminal.
pub const FILE_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
pub const DIR_FLAGS: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;

/// How long to wait for a free descriptor (EMFILE) before giving up on a file.
const EMFILE_PATIENCE: Duration = Duration::from_secs(60);
/// Symlinks followed in one resolution before ELOOP (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Opens a directory whose path is longer than the kernel takes in one call (PATH_MAX), one
/// component at a time (symlinks followed: used for paths as given).
pub fn open_dir_stepwise(path: &[u8]) -> io::Result<OwnedFd> {
    let mut cstr = Vec::new();
    let mut cur = if path.starts_with(b"/") {
        open_at(None, b"/", &mut cstr, DIR_FLAGS)?
    } else {
        open_at(None, b".", &mut cstr, DIR_FLAGS)?
    };
    for comp in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        cur = open_at(Some(cur.as_raw_fd()), comp, &mut cstr, DIR_FLAGS)?;
    }
    Ok(cur)
}

/// Resolves `path` beneath the directory `root` one component at a time: each opened with
/// `O_PATH | O_NOFOLLOW` relative to the previous one, symlinks read and resolved here (only
/// if `follow`, else ELOOP), absolute symlinks and `..` above `root` refused with EXDEV —
/// the verdicts of openat2 `RESOLVE_BENEATH` (`| RESOLVE_NO_SYMLINKS` without `follow`).
/// The last component is opened with `flags | O_NOFOLLOW` from its verified parent, so a
/// symlink swapped in at any moment is seen as one, never followed by the kernel.
pub fn open_stepwise(
    root: RawFd,
    path: &[u8],
    flags: libc::c_int,
    follow: bool,
) -> io::Result<OwnedFd> {
    let exdev = || io::Error::from_raw_os_error(libc::EXDEV);
    if path.starts_with(b"/") {
        return Err(exdev());
    }
    let mut todo: Vec<Vec<u8>> = components(path).rev().collect(); // a stack: next on top
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut cstr = Vec::new();
    let mut links = 0;
    if todo.is_empty() {
        return open_at(Some(root), b".", &mut cstr, flags);
    }
    // One plain component that is not a symlink cannot lead out: one system call, as with
    // openat2 (most opens in a tree are of this kind, from the cached parent directory).
    if let [only] = &todo[..] {
        if only != b".." && flags & libc::O_PATH == 0 {
            match open_at(Some(root), only, &mut cstr, flags | libc::O_NOFOLLOW) {
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {}
                other => return other,
            }
        }
    }
    while let Some(comp) = todo.pop() {
        if comp == b".." {
            stack.pop().ok_or_else(exdev)?;
            if todo.is_empty() {
                let cur = stack.last().map_or(root, |fd| fd.as_raw_fd());
                return open_at(Some(cur), b".", &mut cstr, flags);
            }
            continue;
        }
        let cur = stack.last().map_or(root, |fd| fd.as_raw_fd());
        let last = todo.is_empty();
        let node = open_at(
            Some(cur),
            &comp,
            &mut cstr,
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )?;
        let mode = fstat_mode(node.as_raw_fd())?;
        if mode & libc::S_IFMT == libc::S_IFLNK {
            links += 1;
            if !follow || links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = read_link(node.as_raw_fd())?;
            if target.starts_with(b"/") {
                return Err(exdev());
            }
            todo.extend(components(&target).rev());
            continue;
        }
        let is_dir = mode & libc::S_IFMT == libc::S_IFDIR;
        if !last {
            if !is_dir {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            stack.push(node);
            continue;
        }
        if flags & libc::O_PATH != 0 {
            if flags & libc::O_DIRECTORY != 0 && !is_dir {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            return Ok(node);
        }
        match open_at(Some(cur), &comp, &mut cstr, flags | libc::O_NOFOLLOW) {
            // Swapped for a symlink since we looked: resolve it again (bounded by `links`).
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) && follow && links < MAX_LINKS => {
                links += 1;
                todo.push(comp);
            }
            other => return other,
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOENT))
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

fn fstat_mode(fd: RawFd) -> io::Result<u32> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` on success; we read it only then.
    unsafe {
        if libc::fstat(fd, st.as_mut_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st.assume_init().st_mode)
    }
}

/// The target of the symlink opened (O_PATH | O_NOFOLLOW) as `fd`.
fn read_link(fd: RawFd) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: readlinkat on an O_PATH descriptor of a symlink with an empty path (Linux
        // ≥ 2.6.39) writes at most buf.len() bytes into buf.
        let n = unsafe { libc::readlinkat(fd, c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(buf);
        }
        buf.resize(buf.len() * 2, 0);
    }
}

pub(crate) fn to_cstr<'a>(name: &[u8], cstr: &'a mut Vec<u8>) -> io::Result<&'a CStr> {
    cstr.clear();
    cstr.extend_from_slice(name);
    cstr.push(0);
    CStr::from_bytes_with_nul(cstr)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

/// `openat(dirfd or AT_FDCWD, name, flags)`, retrying on EMFILE. `cstr` is scratch space
/// for the NUL-terminated name (no allocation per file).
pub fn open_at(
    dirfd: Option<RawFd>,
    name: &[u8],
    cstr: &mut Vec<u8>,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    let c = to_cstr(name, cstr)?;
    retry_emfile(|| {
        // SAFETY: `c` is a valid NUL-terminated string; the fd is owned below.
        let fd = unsafe { libc::openat(dirfd.unwrap_or(libc::AT_FDCWD), c.as_ptr(), flags) };
        owned(fd)
    })
}

/// The result of an open-like syscall: a descriptor we now own, or the OS error.
pub(crate) fn owned(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: the syscall just returned this descriptor; nobody else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Runs `open` until it succeeds or fails with something other than EMFILE/ENFILE, waiting
/// in between: running out of descriptors is back-pressure, not a reason to drop a file.
pub(crate) fn retry_emfile<T>(mut open: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match open() {
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                    && started.elapsed() < EMFILE_PATIENCE
                    && !cancel::is_stopped() =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}
