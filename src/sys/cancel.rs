//! Cancellation: terminating signals, and stops requested by the pipeline itself.
//!
//! One process-wide flag, because a signal is process-wide. Every stage polls it at its own
//! natural boundary: the walker per entry, workers per batch, the hasher between read chunks.
//! Nothing is torn down from outside, so every stage leaves its data whole (whole output
//! lines, temporary files removed by their owners).
//!
//! A thread of our own receives every catchable terminating signal (INT, TERM, HUP, QUIT,
//! USR1, USR2, ALRM, VTALRM, XCPU; through `signal-hook`, which registers with
//! `SA_RESTART`). On the first one it sets the flag and starts a watchdog: a run blocked in a
//! system call that the flag cannot reach (opening a FIFO, reading an idle stdin, writing to
//! a full pipe) is ended by the watchdog after [`GRACE`]. A second signal ends the run at
//! once. However the run ends, the registered temporary files are removed first and the
//! process then dies of the signal it received (default disposition, re-raised), so a shell
//! sees death by signal — bash stops a loop on Ctrl-C only then — and `$?` reads 128+n.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::signal::{
    SIGALRM, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGVTALRM, SIGXCPU,
};
use signal_hook::iterator::Signals;

static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
/// The first signal received (0: none).
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// A progress bar is drawn on the terminal: dying erases its line, as a normal end does.
static LIVE_LINE: AtomicBool = AtomicBool::new(false);

/// The signals that end a run (all catchable ones whose default action is to terminate,
/// except SIGPIPE, which Rust ignores so that writes fail with EPIPE instead).
pub const TERMINATING: [i32; 9] = [
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGXCPU,
];

/// How long a run may take to wind down by itself after the first signal before the
/// watchdog ends it. The promise is 250 ms from the signal to the exit: the rest is the
/// margin a loaded machine needs to schedule the watchdog, remove temporary files and exit
/// (the suite holds every signal test to the 250 ms).
pub const GRACE: Duration = Duration::from_millis(150);

/// [`GRACE`], or `B3TREE_GRACE_MS` (a test hook: a long grace lets a test tell "the second
/// signal ended it" from "the watchdog did").
fn grace() -> Duration {
    std::env::var("B3TREE_GRACE_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(GRACE, Duration::from_millis)
}

/// A file-size limit (`ulimit -f`) must surface as a write error (EFBIG) on the output,
/// not kill the process with its temporary file left behind: SIGXFSZ is ignored.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal disposition to SIG_IGN touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Starts the signal thread.
pub fn install_signal_handler() -> std::io::Result<()> {
    let mut signals = Signals::new(TERMINATING)?;
    let grace = grace();
    std::thread::Builder::new()
        .name("b3tree-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let earlier = SIGNALS.fetch_add(1, Ordering::SeqCst);
                let _ = FIRST_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                STOP.store(true, Ordering::SeqCst);
                if earlier >= 1 {
                    die_of(sig);
                }
                let _ = std::thread::Builder::new()
                    .name("b3tree-watchdog".into())
                    .spawn(move || {
                        std::thread::sleep(grace);
                        die_of(sig);
                    });
            }
        })?;
    Ok(())
}

/// True once a signal arrived or a stage asked everything to stop.
pub fn is_stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// When a time budget ends (`check --max-duration`), in nanoseconds after [`epoch`]; 0:
/// no budget. Not a stop: the run goes on to its summary (and `--audit`'s walk), only the
/// reads of the budgeted pass end.
static READS_END_NS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Ends reads (and the batches not begun) once `deadline` has passed; None lifts it.
pub fn end_reads_at(deadline: Option<std::time::Instant>) {
    let ns = deadline.map_or(0, |d| {
        (d.saturating_duration_since(epoch()).as_nanos() as u64).max(1)
    });
    READS_END_NS.store(ns, Ordering::SeqCst);
}

/// True once a budget set with [`end_reads_at`] has passed.
pub fn reads_ended() -> bool {
    let end = READS_END_NS.load(Ordering::Relaxed);
    end != 0 && epoch().elapsed().as_nanos() as u64 >= end
}

/// Whether a read in progress (or a batch about to start) ends now: a stop, or a spent
/// time budget. Either way the file read is dropped, never reported half-read.
pub fn reads_stop() -> bool {
    is_stopped() || reads_ended()
}

/// True when a signal (not an internal stop) ended the run.
pub fn was_interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// The signal that ended the run, if one did.
pub fn received() -> Option<i32> {
    match FIRST_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// Asks every stage to stop, e.g. because the output can no longer be written.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Registers a temporary file to delete if a signal ends the run before its owner does.
pub fn register_temp_file(path: PathBuf) {
    lock_temps().push(path);
}

/// Forgets a temporary file (it was renamed into place or removed by its owner).
pub fn unregister_temp_file(path: &std::path::Path) {
    lock_temps().retain(|p| p != path);
}

fn lock_temps() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMP_FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Says whether a live progress line is on the terminal (for [`die_of`] to erase).
pub fn live_line(on: bool) {
    LIVE_LINE.store(on, Ordering::SeqCst);
}

/// Removes the temporary files, erases a live progress line, then dies of `sig` (never
/// returns).
pub fn die_of(sig: i32) -> ! {
    for p in lock_temps().drain(..) {
        let _ = std::fs::remove_file(p);
    }
    if LIVE_LINE.load(Ordering::SeqCst) {
        // A raw write: the thread that holds std's stderr lock may be the one blocked.
        let _ = rustix::io::write(rustix::stdio::stderr(), b"\r\x1b[2K");
    }
    // No core file for SIGQUIT/SIGXCPU: the user asked us to stop, not for a post-mortem.
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let hard = getrlimit(Resource::Core).maximum;
    let _ = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: hard,
        },
    );
    // Restores the default action, unblocks the signal and raises it in this thread.
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    std::process::exit(128 + sig)
}
