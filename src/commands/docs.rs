//! `b3tree completions SHELL` and `b3tree man [COMMAND]`: generated from the same clap
//! definition as `--help` (clap_complete, clap_mangen), so they cannot drift from it.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::exit::{Ended, Exit, Fail};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Ended {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "b3tree", &mut buf);
    write_out(&buf)
}

/// Prints the roff man page of b3tree, or of one of its subcommands (`b3tree-hash(1)`).
pub fn man(args: &ManArgs) -> Ended {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match &args.command {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone().name(format!("b3tree-{name}")),
            None => {
                return Err(Fail::usage(format!(
                    "man: no command {name:?} (hash, check, digest, merge, bench...)"
                )));
            }
        },
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .map_err(|e| Fail::fatal(format!("cannot render the man page: {e}")))?;
    write_out(&buf)
}

fn write_out(bytes: &[u8]) -> Ended {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(Exit::Ok),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(e) => Err(Fail::fatal(format!("cannot write to stdout: {e}"))),
    }
}
