//! `b3tree diff OLD NEW`: what changed between two manifests or two tree specs, from them
//! alone (no file of any tree is opened).
//!
//! plan → compare → print. The plan opens the inputs and refuses what cannot be compared;
//! the comparison walks both in canonical order keeping only the differences (or sorts an
//! input that is in another order), pairs renames, and the differences are written at the
//! end, in canonical order, as lines or JSON records; the summary goes to stderr. Exit 0:
//! no difference; 1: differences; 2: an input that cannot be read or compared.

mod compare;
mod input;
mod plan;
mod print;
mod specs;

use input::Stop;

use crate::cli::DiffArgs;
use crate::config::Env;
use crate::exit::{Ended, Exit, Fail};
use crate::output::Output;
use crate::report::stderr::say;
use crate::sys::cancel;

pub fn run(args: DiffArgs, env: &Env) -> Ended {
    let mut plan = plan::Plan::new(&args, env)?;
    let rules = compare::Rules {
        names_only: plan.names_only,
        untagged: plan.untagged,
    };
    let compared = match compare::compare(&mut plan.old, &mut plan.new, rules) {
        Ok(c) => c,
        Err(Stop::Interrupted) => return Ok(Exit::Interrupted),
        Err(Stop::Error(why)) => return Err(Fail::usage(why)),
        Err(Stop::Unordered(_)) => unreachable!("an unordered input is sorted"),
    };
    for (label, entries) in [
        (&plan.old.label, compared.entries.0),
        (&plan.new.label, compared.entries.1),
    ] {
        if entries == 0 {
            say(format_args!("warning: {label} holds no entries"));
        }
    }
    let mut out = Output::stdout();
    let written = print::write(&compared, plan.json, &mut out).and_then(|()| out.commit());
    if cancel::was_interrupted() {
        return Ok(Exit::Interrupted);
    }
    if let Err(e) = written {
        return Err(Fail::unwritten("the differences", &e));
    }
    if !plan.quiet {
        say(format_args!("diff: {}", print::summary(&compared)));
    }
    Ok(match compared.changes.is_empty() {
        true => Exit::Ok,
        false => Exit::Failed,
    })
}
