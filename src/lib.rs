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
//! sys       every libc call and unsafe block (but main's fd-1 probe): opening files confined, mappings, limits,
//!           signals and cancellation, page-cache eviction
//! names     escaping, canonical order (`order`), name sets (pure logic)
//! trust     who wrote a manifest: SSH and minisign signatures verified over its exact bytes
//! record    the typed `--json` records (serde)
//! hash      how one file is read and hashed, and how an entry ends (`outcome`)
//! walk      the walker (walkdir), emitting entries through a callback
//! output    the one writer of stdout, and the -o file replaced atomically
//! manifest  reading and writing manifest lines
//! pipeline  queue → workers → gather, wired by `engine`; `rt` is the only async-std file
//! report    stderr (the one owner of diagnostics) and run summaries
//! tree_digest  the b3t1 tree digest and shards
//! state     `hash --update`'s state and journals beside a manifest (stat facts + digests)
//! commands  hash, check, digest, merge, bench: each wires the floors for one subcommand
//! cli, config, lib, main   flags → configuration → a command → an exit code
//! ```

// Unsafe code lives in sys/ alone (sys/mod.rs allows it there).
#![deny(unsafe_code)]

pub mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub mod exit;
pub(crate) mod hash;
pub mod manifest;
pub mod names;
pub(crate) mod output;
pub(crate) mod pipeline;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod state;
pub mod sys;
pub(crate) mod tree_digest;
pub(crate) mod trust;
pub(crate) mod walk;

use cli::{Cli, Command};

use crate::report::stderr::say;

pub use config::Env;
pub use exit::{Exit, Fail};

/// `b3tree --version`: the version, the BLAKE3 implementation this CPU gets, and the git
/// commit when built from a checkout.
pub fn long_version() -> String {
    let commit = option_env!("B3TREE_GIT_COMMIT")
        .map(|c| format!(", commit {c}"))
        .unwrap_or_default();
    format!(
        "{} (BLAKE3: {}{commit})",
        env!("CARGO_PKG_VERSION"),
        hash::backend::blake3_implementation()
    )
}

/// Runs a parsed command line; returns the exit code. A command that could not go on says
/// why here, once.
/// Ends the process on an error of clap's own (an unknown flag, a value it cannot parse).
/// Such a message quotes the command line, which a script may have built from a file name:
/// it is written inert, as every diagnostic is (`report::inert`). Help and version go to
/// stdout as clap writes them.
pub fn exit_on_usage(e: clap::Error) -> ! {
    if !e.use_stderr() {
        e.exit();
    }
    let text = e.render().to_string();
    sys::stdio::write_err(&report::inert::text(text.trim_end()));
    std::process::exit(e.exit_code())
}

pub fn run(cli: Cli, env: &Env) -> Exit {
    command(cli, env).unwrap_or_else(|fail| {
        if !fail.message.is_empty() {
            say(format_args!("{}", fail.message));
        }
        fail.exit
    })
}

fn command(cli: Cli, env: &Env) -> exit::Ended {
    if let Some(dir) = &cli.directory {
        std::env::set_current_dir(dir).map_err(|e| {
            Fail::usage(format!("cannot change to directory {}: {e}", dir.display()))
        })?;
    }
    crate::sys::cancel::ignore_file_size_signal();
    crate::sys::cancel::install_signal_handler()
        .map_err(|e| Fail::fatal(format!("cannot install the Ctrl-C handler: {e}")))?;
    match cli.command {
        Command::Hash(args) => commands::hash::run(args, env),
        Command::Check(args) => commands::check::run(args, env),
        Command::Digest(args) => commands::digest::run(args, env),
        Command::Merge(args) => commands::merge::run(args, env),
        Command::Diff(args) => commands::diff::run(args, env),
        Command::Repair(args) => commands::repair::run(args, env),
        Command::Bench(args) => commands::bench::run(args, env),
        Command::Completions { shell } => commands::docs::completions(shell),
        Command::Man(args) => commands::docs::man(&args),
    }
}
