//! Thin binary: parse, run, map to an exit code. The engine lives in the library.

// The one unsafe outside the library's sys/: the fd-1 probe below.
#![deny(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, FromArgMatches};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Runs before Rust's runtime start-up, which silently reopens a closed fd 1 on /dev/null:
/// this is the only moment `b3tree hash >&-` can be told apart from `> /dev/null`.
#[allow(unsafe_code)]
extern "C" fn probe_stdout() {
    // SAFETY: fcntl(F_GETFD) only queries the descriptor table.
    let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    STDOUT_CLOSED.store(closed, Ordering::Relaxed);
}

#[used]
#[allow(unsafe_code)]
#[unsafe(link_section = ".init_array")]
static PROBE_STDOUT: extern "C" fn() = probe_stdout;

fn main() -> ExitCode {
    b3tree::sys::alloc::limit_arenas();
    // The version text is known only at run time (the CPU's BLAKE3 implementation).
    let version: &'static str = Box::leak(b3tree::long_version().into_boxed_str());
    let args = b3tree::cli::alias_args(std::env::args_os());
    let matches = b3tree::cli::Cli::command()
        .version(version)
        .try_get_matches_from(args)
        .unwrap_or_else(|e| b3tree::exit_on_usage(e));
    let cli =
        b3tree::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| b3tree::exit_on_usage(e));
    let env = b3tree::Env {
        stdout_closed: STDOUT_CLOSED.load(Ordering::Relaxed),
    };
    let code = b3tree::run(cli, &env);
    // A run ended by a signal dies of it (temporary files removed first), so the shell sees
    // death by signal and `$?` reads 128+n.
    if let Some(sig) = b3tree::sys::cancel::received() {
        b3tree::sys::cancel::die_of(sig);
    }
    ExitCode::from(code.code())
}
