//! `b3tree completions SHELL` and `b3tree man [COMMAND]`: generated from the same clap
//! definition as `--help` (clap_complete, clap_mangen), so they cannot drift from it.

use std::io::{self, Write};

use clap::CommandFactory;

use std::path::Path;

use crate::cli::{Cli, ManArgs};
mod sections;
use crate::exit::{Ended, Exit, Fail};
use crate::output::write_whole;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Ended {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "b3tree", &mut buf);
    write_out(&buf)
}

/// Prints the roff man page of b3tree, or of one of its subcommands (`b3tree-hash(1)`); with
/// `--dir`, writes every page there.
pub fn man(args: &ManArgs) -> Ended {
    let mut cmd = Cli::command();
    cmd.build();
    if let Some(dir) = &args.dir {
        return man_dir(&cmd, dir);
    }
    let (page, name) = match &args.command {
        None => (cmd, None),
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => (
                sub.clone().name(format!("b3tree-{name}")),
                Some(name.as_str()),
            ),
            None => {
                return Err(Fail::usage(format!(
                    "man: no command {name:?} (hash, check, diff, digest, merge, bench...)"
                )));
            }
        },
    };
    write_out(&render(page, name)?)
}

/// Every page into `dir`: `b3tree.1` and `b3tree-COMMAND.1` for each command (but `help`).
fn man_dir(cmd: &clap::Command, dir: &Path) -> Ended {
    let shown = dir.display();
    std::fs::create_dir_all(dir).map_err(|e| Fail::fatal(format!("cannot make {shown}: {e}")))?;
    let mut pages = vec![("b3tree".to_string(), render(cmd.clone(), None)?)];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = sub.get_name().to_string();
        let page = sub.clone().name(format!("b3tree-{name}"));
        pages.push((format!("b3tree-{name}"), render(page, Some(&name))?));
    }
    for (name, roff) in &pages {
        write_whole(&dir.join(format!("{name}.1")), roff).map_err(Fail::fatal)?;
    }
    Ok(Exit::Ok)
}

/// A page: clap's sections (from the same definition as `--help`), then EXAMPLES, EXIT
/// STATUS, the format in brief and SEE ALSO (`sections`), then the version.
fn render(page: clap::Command, command: Option<&str>) -> Result<Vec<u8>, Fail> {
    let man = clap_mangen::Man::new(page.clone());
    let mut buf = Vec::new();
    let fail = |e: io::Error| Fail::fatal(format!("cannot render the man page: {e}"));
    man.render_title(&mut buf).map_err(fail)?;
    man.render_name_section(&mut buf).map_err(fail)?;
    man.render_synopsis_section(&mut buf).map_err(fail)?;
    man.render_description_section(&mut buf).map_err(fail)?;
    if page.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf).map_err(fail)?;
    }
    if page.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf).map_err(fail)?;
    }
    if page.get_after_help().is_some() || page.get_after_long_help().is_some() {
        man.render_extra_section(&mut buf).map_err(fail)?;
    }
    buf.extend_from_slice(sections::sections(command).as_bytes());
    if page.get_version().is_some() || page.get_long_version().is_some() {
        man.render_version_section(&mut buf).map_err(fail)?;
    }
    Ok(buf)
}

fn write_out(bytes: &[u8]) -> Ended {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(Exit::Ok),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(e) => Err(Fail::fatal(format!("cannot write to stdout: {e}"))),
    }
}
