//! How a `check` run ends: the JSON summary, the warnings GNU's `-c` gives (with b3tree's
//! hints), the closing line on stderr and the exit status.

use std::io::Write;
use std::time::Duration;

use super::ci::{Report, github_end};
use super::counts::Counts;
use super::printer::Printer;
use super::run::Run;
use crate::config::check::CheckSettings;
use crate::exit::{Exit, Fail};
use crate::report::stderr::Reporter;
use crate::report::summary::plural;
use crate::sys::cancel;

/// What the passes left for the end.
pub(super) struct RunEnd {
    /// A manifest could not be read to its end.
    pub read_error: Option<String>,
    /// The manifests could not be read again — for the missing entries' names, repeated
    /// names or the audit (said already).
    pub reread_failed: bool,
    /// Entries the manifests held.
    pub entries: u64,
    /// The run stopped at its first entry, whose digest is of another algorithm: the hint.
    pub wrong_algorithm: Option<String>,
    /// `--shard`, resolved: named in the step summary.
    pub shard: Option<(u64, u64)>,
    pub elapsed: Duration,
}

pub(super) fn finish(settings: &CheckSettings, run: Run, ended: RunEnd) -> crate::exit::Ended {
    let Run {
        reporter,
        mut printer,
        counts,
        annotations,
        junit,
        ..
    } = run;
    let mut junit = Report {
        junit,
        path: settings.junit.as_deref(),
        seconds: ended.elapsed.as_secs_f64(),
    };
    if cancel::was_interrupted() {
        return interrupted(settings, (&mut printer, &counts), &mut junit, &reporter);
    }
    if let Err(e) = printer.finish() {
        let fail = Fail::unwritten("stdout", &e);
        // The report says so too (the provisional one would say only "did not finish").
        let _ = junit.end(&[fail.message.as_str()]);
        return Err(fail);
    }
    let unfinished = [
        ended.read_error,
        ended.wrong_algorithm,
        ended
            .reread_failed
            .then(|| "the manifests' names could not be read again".to_string()),
    ];
    if let Some(why) = unfinished.iter().flatten().next() {
        junit.end(&[why.as_str()])?;
        return Err(match ended.reread_failed {
            true => Fail::said(),
            false => Fail::usage(why.clone()),
        });
    }
    let (code, mut notes) = verdict(&counts, ended.entries, settings);
    // Entries of other shards are not counted as skipped: their shards' jobs verify them.
    if let Some(j) = junit.junit.as_mut() {
        j.skipped(
            counts.ignored_missing,
            "missing entries, ignored (--ignore-missing)",
        );
    }
    let reasons = unlisted_failures(&counts, &notes, settings);
    notes.extend(warnings(&counts, &printer));
    let found = counts.ok + counts.failed + counts.unreadable + counts.outside + counts.moved;
    if let (Some(first), true) = (&counts.first_missing, found == 0 && counts.missing > 0) {
        notes.push(super::missing_hint::hint(first, &settings.manifests));
    }
    if let Some(a) = &annotations {
        github_end(a, &counts, (settings, ended.shard), code, &reporter);
    }
    if !settings.status {
        for n in &notes {
            reporter.error(&format!("WARNING: {n}"));
        }
        if settings.json {
            printer.json_line(&counts.record(code == Exit::Ok));
            printer.finish().map_err(|_| Fail::said())?;
        }
        if !settings.quiet || code != Exit::Ok {
            reporter.error(&counts.summary(settings.audit, ended.elapsed.as_secs_f64()));
        }
        if let Some(c) = &counts.coverage {
            let failed = counts.failed + counts.missing + counts.unreadable + counts.outside;
            let said = super::rotation::said(c, failed, ended.elapsed.as_secs());
            reporter.error(&said);
        }
    }
    // Last, once everything else is said: a report that cannot be written ends the run
    // with status 2 (its CI page would show nothing, or an older report).
    junit.end(&reasons.iter().map(String::as_str).collect::<Vec<_>>())?;
    Ok(code)
}

/// A run stopped by a signal: the JSON stream still ends with its summary (`"interrupted":
/// true`) if stdout takes it, and the report says so.
fn interrupted(
    settings: &CheckSettings,
    (printer, counts): (&mut Printer, &Counts),
    junit: &mut Report,
    reporter: &Reporter,
) -> crate::exit::Ended {
    if settings.json {
        printer.json_line(&counts.record(false));
        let _ = printer.finish();
    }
    if let Err(e) = junit.end(&["interrupted: stopped before every entry was verified"]) {
        reporter.error(&e.message);
    }
    reporter.error("interrupted");
    Ok(Exit::Interrupted)
}

/// Why the run fails beyond its entries' verdicts: no entry at all, lines refused for their
/// length, and malformed or repeated lines under `--strict` — errors in a JUnit report, so
/// that a failed run never reads as passed there.
fn unlisted_failures(counts: &Counts, notes: &[String], settings: &CheckSettings) -> Vec<String> {
    let mut reasons = notes.to_vec();
    if counts.too_long > 0 {
        reasons.push(format!(
            "{} too long to be read (counted as failures; the log names each)",
            plural(counts.too_long, "manifest line", "manifest lines")
        ));
    }
    if settings.strict && counts.malformed + counts.duplicates > 0 {
        reasons.push(format!(
            "{} and {} (--strict)",
            plural(
                counts.malformed,
                "improperly formatted line",
                "improperly formatted lines"
            ),
            plural(counts.duplicates, "duplicate entry", "duplicate entries")
        ));
    }
    reasons
}

/// The exit code, and why the run failed when no single entry says so.
pub(super) fn verdict(
    counts: &Counts,
    entries: u64,
    settings: &CheckSettings,
) -> (Exit, Vec<String>) {
    let verified = counts.ok + counts.failed;
    let mut notes = Vec::new();
    if entries == 0 && counts.spec {
        notes.push("the tree spec holds no entries".to_string());
    } else if entries == 0 {
        notes.push("no properly formatted BLAKE3 checksum lines found".to_string());
    } else if settings.ignore_missing && verified == 0 && counts.unreadable + counts.outside == 0 {
        notes.push("no file was verified".to_string());
    }
    let bad_entries = counts.failed
        + counts.missing
        + counts.unreadable
        + counts.outside
        + counts.new
        + counts.moved
        + counts.too_long;
    // Rotation: a run that verified none of its entries has verified nothing (an entry
    // longer than the budget is said, and moved back: the next run gets further).
    if (counts.coverage.as_ref()).is_some_and(|c| c.checked == 0 && c.entries > 0) {
        notes.push("no entry was verified in this run".to_string());
    }
    let bad_lines = settings.strict && counts.malformed + counts.duplicates > 0;
    let code = if !notes.is_empty() || bad_entries > 0 || bad_lines {
        Exit::Failed
    } else {
        Exit::Ok
    };
    (code, notes)
}

/// GNU-style warnings, e.g. "2 computed checksums did NOT match".
fn warnings<W: Write>(counts: &Counts, printer: &Printer<W>) -> Vec<String> {
    let first_malformed = counts
        .first_malformed
        .map(|at| format!(" (first: {})", printer.loc(at)))
        .unwrap_or_default();
    let mut notes: Vec<String> = [
        (
            counts.failed - counts.differ,
            "computed checksum did NOT match",
            "computed checksums did NOT match",
            "",
        ),
        (
            counts.differ,
            "entry differs from the tree spec",
            "entries differ from the tree spec",
            "",
        ),
        (
            counts.missing,
            "listed file is missing",
            "listed files are missing",
            "",
        ),
        (
            counts.unreadable,
            "file could not be read",
            "files could not be read",
            "",
        ),
        (
            counts.outside,
            "entry lies outside the working directory (refused)",
            "entries lie outside the working directory (refused)",
            "; run check where they are (-C DIR) or pass --allow-outside",
        ),
        (
            counts.malformed,
            "line is improperly formatted",
            "lines are improperly formatted",
            first_malformed.as_str(),
        ),
        (
            counts.duplicates,
            "duplicate entry",
            "duplicate entries",
            "",
        ),
        (
            counts.too_long,
            "line is too long to be read (counted as a failure)",
            "lines are too long to be read (counted as failures)",
            "",
        ),
    ]
    .into_iter()
    .filter(|&(n, ..)| n > 0)
    .map(|(n, one, many, extra)| format!("{}{extra}", plural(n, one, many)))
    .collect();
    notes.extend(counts.notes.iter().cloned());
    let links = counts
        .not_audited
        .of(crate::hash::outcome::SkipKind::Symlink);
    if links > 0 {
        notes.push(format!(
            "{} not audited: a manifest of digests lists regular files only; a tree spec \
             (b3tree hash --format mtree) records link targets, modes and empty directories and \
             check verifies them",
            plural(links, "symlink was", "symlinks were")
        ));
    }
    notes
}
