//! Memory-mapped reading of big files that survives the file shrinking underneath.
//!
//! Why mmap at all: for a big cached file the copy out of the page cache is a main cost of
//! `read()`; mapping it lets BLAKE3 hash straight from the page cache, which is what b3sum
//! does (`hash::big` says from which size that pays). Why a guard: touching a mapped page past
//! the end of a file that was truncated after `mmap` raises SIGBUS, which kills b3sum.
//!
//! How: every mapping registers its address range in a fixed, lock-free table. A SIGBUS
//! handler looks the faulting address up; if it lies in a registered range, it maps an
//! anonymous zero page over the faulting page (`MAP_FIXED`), marks the mapping as faulted and
//! returns, so the read goes on and sees zeros. The hasher then reports the file as "changed
//! while hashing" instead of a digest. A fault anywhere else restores the default action and
//! re-faults, so real bugs still crash. Mappings are pieces of a file (not the whole file),
//! so resident memory stays bounded however big the file is.
//!
//! The handler does only atomic loads and stores, `mmap` and `sigaction`. POSIX lists
//! `sigaction` as async-signal-safe but not `mmap`; on Linux glibc's `mmap` is a bare system
//! call wrapper (no locks, no allocation), which is what makes it usable here — a port to
//! another libc must check that again. A SIGBUS that is not ours goes to the handler that was
//! installed before ours (chained), or, if there was none, to the default action.
//!
//! The mapped bytes never leave this module as a slice: a `MAP_SHARED` mapping changes when
//! another process writes the file, which a Rust `&[u8]` promises cannot happen (memmap2 makes
//! such access `unsafe` for that reason). [`GuardedMap::hash_into`] feeds them to BLAKE3 and
//! nothing else; the hasher trusts the digest only if `fstat` shows the file unchanged.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const SLOTS: usize = 256;

struct Slot {
    used: AtomicBool,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    used: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    faulted: AtomicBool::new(false),
};

static REGISTRY: [Slot; SLOTS] = [EMPTY; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The SIGBUS action before ours, for faults that are not ours.
struct PrevAction(libc::sigaction);
// SAFETY: written once before the handler is installed, then only read.
unsafe impl Sync for PrevAction {}
unsafe impl Send for PrevAction {}
static PREV: std::sync::OnceLock<PrevAction> = std::sync::OnceLock::new();

/// Page size, for aligning window offsets.
#[cfg(test)]
fn page_size() -> usize {
    install();
    PAGE.load(Ordering::Relaxed)
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf and sigaction with a fully initialised struct.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let mut prev: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut prev) != 0 {
                return;
            }
            let _ = PREV.set(PrevAction(prev));
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) == 0 {
                INSTALLED.store(true, Ordering::SeqCst);
            }
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands us a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &REGISTRY {
        let len = slot.len.load(Ordering::Acquire);
        if len == 0 {
            continue;
        }
        let start = slot.start.load(Ordering::Acquire);
        if addr >= start && addr < start + len {
            let at = addr & !(page - 1);
            // SAFETY: replaces one page inside a mapping we own and registered; the page is
            // read-only zeros, exactly what a reader past EOF should see.
            let r = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                slot.faulted.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not one of ours: the handler before ours, or the default action (terminate) on the
    // re-fault.
    let prev = PREV.get().map(|p| p.0);
    match prev {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this
                // signature; we pass on the kernel's own arguments.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: a plain handler (no SA_SIGINFO) takes the signal number only.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // SAFETY: sigaction with a zeroed (SIG_DFL) action is async-signal-safe.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// A read-only mapping of `len` bytes of a file from `offset`, registered with the handler.
pub struct GuardedMap {
    ptr: *mut libc::c_void,
    len: usize,
    slot: usize,
}

// SAFETY: the mapping is read-only and owned; sharing &[u8] across threads (rayon) is fine.
unsafe impl Send for GuardedMap {}
unsafe impl Sync for GuardedMap {}

impl GuardedMap {
    /// Maps a window. `offset` must be a multiple of the page size; `len` must be > 0.
    /// Returns `Ok(None)` when every guard slot is busy (the caller reads instead).
    pub fn map(file: &File, offset: u64, len: usize) -> io::Result<Option<GuardedMap>> {
        install();
        if !INSTALLED.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let Some(slot) = REGISTRY.iter().position(|s| {
            s.used
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        }) else {
            return Ok(None);
        };
        let offset = libc::off_t::try_from(offset).map_err(|_| io::Error::other("offset"))?;
        // SAFETY: a fresh read-only shared mapping of an open file; unmapped in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            REGISTRY[slot].used.store(false, Ordering::Release);
            return Err(err);
        }
        let s = &REGISTRY[slot];
        s.faulted.store(false, Ordering::Release);
        s.start.store(ptr as usize, Ordering::Release);
        s.len.store(len, Ordering::Release);
        Ok(Some(GuardedMap { ptr, len, slot }))
    }

    /// The mapped bytes. Pages past a truncated end read as zeros (and set [`faulted`]).
    ///
    /// # Safety
    ///
    /// The mapping is shared with the file: while the slice lives, another process writing
    /// the file changes its bytes, which `&[u8]` says cannot happen. The caller must use the
    /// bytes in a way that tolerates that (hashing, whose result is then checked against
    /// `fstat`) and never rely on two reads of the same byte agreeing.
    ///
    /// [`faulted`]: GuardedMap::faulted
    unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr/len describe a live read-only mapping owned by self (the caller
        // accepts that its contents may change, see above).
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// Feeds the mapped bytes to `hash` — the only use made of them (see the module docs).
    pub fn hash_into(&self, hash: impl FnOnce(&[u8])) {
        // SAFETY: hashing tolerates bytes that change under it: the digest is then wrong,
        // and the caller's before/after fstat reports the file as changed instead.
        hash(unsafe { self.as_slice() });
    }

    /// True if reading hit pages beyond the end of the file (it shrank after mapping).
    pub fn faulted(&self) -> bool {
        REGISTRY[self.slot].faulted.load(Ordering::Acquire)
    }
}

impl Drop for GuardedMap {
    fn drop(&mut self) {
        let s = &REGISTRY[self.slot];
        s.len.store(0, Ordering::Release);
        // SAFETY: unmaps exactly the range we mapped (including any zero pages placed over it).
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
        s.start.store(0, Ordering::Release);
        s.used.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn truncation_under_the_mapping_reads_zeros_and_is_flagged() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![7u8; 64 * 1024]).unwrap();
        let map = GuardedMap::map(&f, 0, 64 * 1024).unwrap().unwrap();
        assert_eq!(unsafe { map.as_slice() }[0], 7);
        assert!(!map.faulted());
        f.set_len(4096).unwrap();
        // Without the guard this read dies of SIGBUS.
        let tail: u64 = unsafe { map.as_slice() }[8192..]
            .iter()
            .map(|&b| u64::from(b))
            .sum();
        assert_eq!(tail, 0);
        assert!(map.faulted());
        assert_eq!(unsafe { map.as_slice() }[0], 7);
    }

    #[test]
    fn windows_at_an_offset_see_the_right_bytes() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3 * page_size())
            .map(|i| (i / page_size()) as u8)
            .collect();
        f.write_all(&data).unwrap();
        let map = GuardedMap::map(&f, page_size() as u64, page_size())
            .unwrap()
            .unwrap();
        assert!(unsafe { map.as_slice() }.iter().all(|&b| b == 1));
    }
}

#[cfg(test)]
mod chaining_tests {
    use super::*;
    use std::io::Write;

    const CHILD: &str = "B3TREE_SIGBUS_CHILD";

    extern "C" fn previous(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(42) }
    }

    /// Re-runs this very test in a child process (a fresh signal state): there a handler is
    /// installed before ours, a window is mapped (installing ours on top), and a SIGBUS that
    /// is not a fault in our mappings must reach the previous handler (exit 42), not kill.
    #[test]
    fn a_sigbus_that_is_not_ours_goes_to_the_previous_handler() {
        if std::env::var_os(CHILD).is_some() {
            // SAFETY: installs a plain handler that only calls _exit.
            unsafe {
                libc::signal(libc::SIGBUS, previous as *const () as libc::sighandler_t);
            }
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&[1u8; 8192]).unwrap();
            let _map = GuardedMap::map(&f, 0, 8192).unwrap().unwrap();
            // SAFETY: raising a signal; the handlers above decide what happens.
            unsafe {
                libc::raise(libc::SIGBUS);
            }
            std::process::exit(1);
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sys::mapguard::chaining_tests::a_sigbus_that_is_not_ours_goes_to_the_previous_handler",
                "--test-threads",
                "1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(42), "{out:?}");
    }
}
