//! `b3tree repair --from DIR MANIFEST`: mends the files of a tree whose damage the outboard
//! beside MANIFEST locates, from a second copy of the tree (a mirror, a backup), reading
//! from it only the damaged groups and writing only what was verified (`mend`).
//!
//! The manifest is read in order; each entry with outboard data is examined (read once,
//! group by group); entries without are counted and said, never passed over in silence.
//! Lines on stdout say what became of each file examined; the summary goes to stderr.
//! Exit 0: every file examined is intact or repaired (or, with `--dry-run`, would be); 1:
//! one could not be; 2: bad input.

mod mend;
mod plan;

use std::io::Write;

use indicatif::HumanCount;
use mend::{Damage, Mended};

use crate::cli::RepairArgs;
use crate::config::Env;
use crate::exit::{Ended, Exit, Fail};
use crate::names::escape::display;
use crate::output::Output;
use crate::report::inert;
use crate::report::stderr::say;
use crate::report::summary::{byte_ranges, plural};
use crate::sys::cancel;

/// What the run came to, counted.
#[derive(Default)]
struct Tally {
    intact: u64,
    repaired: u64,
    refused: u64,
    no_data: u64,
    /// Lines that are no entry, or entries of another algorithm.
    skipped: u64,
}

pub fn run(args: RepairArgs, env: &Env) -> Ended {
    let plan::Plan {
        ctx,
        mut lines,
        mut outboard,
        from_shown,
    } = plan::Plan::new(&args, env)?;
    let mut out = Output::stdout();
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(next) = lines.next_entry() {
        let (name, expected) = match next {
            Ok(entry) => entry,
            Err(why) => {
                say(format_args!("{why}"));
                tally.skipped += 1;
                continue;
            }
        };
        let mended = mend::mend(&ctx, &mut outboard, &name, &expected);
        let stop = matches!(mended, Mended::Stopped(_));
        if let Some(line) = said(&mended, &from_shown, args.quiet, &mut tally) {
            // Each line out at once: a file changed on disk is said even if a kill follows.
            let line = format!("{}: {line}\n", display(&name));
            let said = out.write_all(inert::text(&line).as_bytes());
            if let Err(e) = said.and_then(|()| out.flush()) {
                failure = Some(e);
                break;
            }
        }
        if stop || cancel::reads_stop() {
            break;
        }
    }
    let flushed = out.commit();
    if cancel::was_interrupted() {
        return Ok(Exit::Interrupted);
    }
    if let Some(e) = failure.or(flushed.err()) {
        return Err(Fail::unwritten("stdout", &e));
    }
    if !args.quiet {
        say(format_args!("repair: {}", summary(&tally, args.dry_run)));
    }
    Ok(match tally.refused {
        0 => Exit::Ok,
        _ => Exit::Failed,
    })
}

/// The line said of one file (None: nothing to say), counted in `tally`.
fn said(mended: &Mended, from: &str, quiet: bool, tally: &mut Tally) -> Option<String> {
    match mended {
        Mended::NoData => {
            tally.no_data += 1;
            None
        }
        Mended::Intact => {
            tally.intact += 1;
            (!quiet).then(|| "OK".into())
        }
        Mended::Repaired(d) => {
            tally.repaired += 1;
            Some(format!("REPAIRED ({} from {from})", ranges(d)))
        }
        Mended::WouldRepair(d) => {
            tally.repaired += 1;
            Some(format!(
                "WOULD REPAIR ({} from {from}, verified)",
                ranges(d)
            ))
        }
        Mended::Refused(why, d) => {
            tally.refused += 1;
            let found = d.as_ref().map(|d| format!("; damaged: {}", ranges(d)));
            Some(format!("NOT REPAIRED ({why}{})", found.unwrap_or_default()))
        }
        Mended::Stopped(d) => {
            tally.refused += 1;
            let done = d.as_ref().map_or("nothing written".into(), |d| {
                format!("written, each range verified first: {}", ranges(d))
            });
            Some(format!("STOPPED ({done}; run repair again for the rest)"))
        }
    }
}

/// `bytes 4,997,120–5,013,503 and … ; 2 of 4,096 groups` (at most 8 ranges written out).
fn ranges(d: &Damage) -> String {
    let spans = (d.runs.iter()).map(|&(a, b)| (a * d.group, ((b + 1) * d.group).min(d.size) - 1));
    format!(
        "bytes {}; {} of {} groups",
        byte_ranges(spans, d.runs.len() as u64, 8),
        HumanCount(d.groups),
        HumanCount(d.of)
    )
}

fn summary(t: &Tally, dry_run: bool) -> String {
    let mut s = format!(
        "{} {}, {} not repaired, {} intact",
        t.repaired,
        if dry_run {
            "would be repaired"
        } else {
            "repaired"
        },
        t.refused,
        t.intact
    );
    if t.no_data > 0 {
        s.push_str(&format!(
            "; {} without outboard data (under 1 MiB, or hashed without --outboard) not \
             examined: b3tree check verifies them",
            plural(t.no_data, "entry", "entries")
        ));
    }
    if t.skipped > 0 {
        s.push_str(&format!(
            "; {} skipped (said above)",
            plural(t.skipped, "line", "lines")
        ));
    }
    s
}
