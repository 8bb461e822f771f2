//! b3tree: hash whole directory trees with BLAKE3, concurrently, and verify them later.
//!
//! The engine is a pipeline, one module per stage of the data's path:
//!
//! ```text
//! walk ──► queue ──► workers ──► hash::file ──► gather ──► manifest::write / output
//! (walkdir)  (bounded   (async     (blocking      (reorder    (b3sum lines,
//!            channel,   tasks,     pool, one      window,     JSON, atomic -o)
//!            batches)   semaphore) batch/job)     in order)
//! ```
//!
//! Floors, each importing only those beneath it (`tests/layout.rs` checks this):
//!
//! ```text
//! sys       every libc call and unsafe block: opening files confined, mappings, limits,
//!           signals and cancellation, page-cache eviction
//! names     escaping, canonical order, name sets (pure logic)
//! hash      how one file is read and hashed, and how an entry ends (`outcome`)
//! walk      the walker (walkdir), emitting entries through a callback
//! manifest  reading and writing manifest lines, the -o output file
//! pipeline  queue → workers → gather, wired by `engine`; `rt` is the only async-std file
//! report    stderr (the one owner of diagnostics) and run summaries
//! digest    the b3t1 tree digest and shards
//! commands  hash, check, digest, merge, bench: each wires the floors for one subcommand
//! cli, config, lib, main   flags → configuration → a command → an exit code
//! ```

pub mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod digest;
pub(crate) mod hash;
pub mod manifest;
pub mod names;
pub(crate) mod pipeline;
pub(crate) mod report;
pub mod sys;
pub(crate) mod walk;

use cli::{Cli, Command};

/// Exit codes (also in `--help` and README).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const FATAL: i32 = 2;
    pub const INTERRUPTED: i32 = crate::sys::cancel::INTERRUPTED_EXIT;
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
    if let Err(e) = crate::sys::cancel::install_signal_handler() {
        eprintln!("b3tree: cannot install the Ctrl-C handler: {e}");
        return exit::FATAL;
    }
    match cli.command {
        Command::Hash(args) => commands::hash::run(args, env),
        Command::Check(args) => commands::check::run(args, env),
        Command::Digest(args) => commands::digest::run(args, env),
        Command::Merge(args) => commands::merge::run(args, env),
        Command::Bench(args) => commands::bench::run(args, env),
    }
}
