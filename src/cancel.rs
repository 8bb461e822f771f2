//! Cancellation: Ctrl-C / SIGTERM, and stops requested by the pipeline itself.
//!
//! One process-wide flag, because a signal is process-wide. Every stage polls it at its own
//! natural boundary: the walker per entry, workers per batch, the hasher between read chunks.
//! Nothing is torn down from outside, so every stage leaves its data whole (whole output
//! lines, temporary files removed by their owners).
//!
//! The first signal sets the flag; the second exits at once with 130 after removing the
//! registered temporary output file, so even an impatient user never finds a stray temp file.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Exit status for a run ended by SIGINT/SIGTERM.
pub const INTERRUPTED_EXIT: i32 = 130;

/// Installs the SIGINT/SIGTERM handler (a dedicated thread, from the `ctrlc` crate).
pub fn install_signal_handler() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| {
        let earlier = SIGNALS.fetch_add(1, Ordering::SeqCst);
        STOP.store(true, Ordering::SeqCst);
        if earlier >= 1 {
            remove_temp_files();
            std::process::exit(INTERRUPTED_EXIT);
        }
    })
}

/// True once a signal arrived or a stage asked everything to stop.
pub fn is_stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// True when a signal (not an internal stop) ended the run.
pub fn was_interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// Asks every stage to stop, e.g. because the output can no longer be written.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Registers a temporary file to delete if a second signal forces an immediate exit.
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

fn remove_temp_files() {
    for p in lock_temps().drain(..) {
        let _ = std::fs::remove_file(p);
    }
}
