//! b3tree: hash whole directory trees with BLAKE3, concurrently, and verify them later.
//!
//! The engine is a pipeline, one module per stage of the data's path:
//!
//! ```text
//! walk ──► queue ──► workers ──► hasher ──► gather ──► format / output
//! (walkdir)  (bounded   (async     (blocking    (reorder    (b3sum lines,
//!            channel,   tasks,     pool, one    window,     JSON, atomic -o)
//!            batches)   semaphore) batch/job)   in order)
//! ```
//!
//! `engine` wires them; `rt` is the only module that touches async-std; `cancel` carries
//! Ctrl-C to every stage. `main.rs` only parses the command line and maps the result to an
//! exit code.

pub mod biglane;
pub mod cache;
pub mod cancel;
pub mod cli;
pub mod cmd_bench;
pub mod cmd_check;
pub mod cmd_digest;
pub mod cmd_hash;
pub mod cmd_merge;
pub mod config;
pub mod confine;
pub mod digest;
pub mod engine;
pub mod escape;
pub mod format;
pub mod gather;
pub mod hasher;
pub mod job;
pub mod limits;
pub mod manifest;
pub mod mapguard;
pub mod missing;
pub mod nameset;
pub mod output;
pub mod plot;
pub mod queue;
pub mod report;
pub mod rt;
pub mod summary;
pub mod walk;
pub mod workers;

use cli::{Cli, Command};

/// Exit codes (also in `--help` and README).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const FATAL: i32 = 2;
    pub const INTERRUPTED: i32 = crate::cancel::INTERRUPTED_EXIT;
}

/// Facts about the process that only `main` can know.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// fd 1 was closed when the process started (std reopens it on /dev/null before `main`).
    pub stdout_closed: bool,
}

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: Cli, env: &Env) -> i32 {
    if let Some(dir) = &cli.directory {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("b3tree: cannot change to directory {}: {e}", dir.display());
            return exit::USAGE;
        }
    }
    // A file-size limit (ulimit -f) must surface as a write error (EFBIG), not kill us with
    // the temporary file left behind.
    // SAFETY: setting a signal disposition to SIG_IGN has no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    if let Err(e) = cancel::install_signal_handler() {
        eprintln!("b3tree: cannot install the Ctrl-C handler: {e}");
        return exit::FATAL;
    }
    match cli.command {
        Command::Hash(args) => cmd_hash::run(args, env),
        Command::Check(args) => cmd_check::run(args, env),
        Command::Digest(args) => cmd_digest::run(args, env),
        Command::Merge(args) => cmd_merge::run(args, env),
        Command::Bench(args) => cmd_bench::run(args, env),
    }
}
