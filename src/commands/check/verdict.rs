//! Verdicts: how each pass-1 outcome is counted and printed, GNU's warnings, and the exit
//! status of the run.

use serde_json::{Value, json};

use super::printer::{Printer, entry_json};
use super::source::Item;

use super::missing::MissingSet;
use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::manifest::read::Malformed;
use crate::names::escape::display;
use crate::names::nameset::Location;
use crate::pipeline::job::Done;
use crate::report::stderr::Reporter;

/// Verdict counts.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) ok: u64,
    pub(super) failed: u64,
    pub(super) missing: u64,
    pub(super) ignored_missing: u64,
    pub(super) unreadable: u64,
    pub(super) outside: u64,
    pub(super) malformed: u64,
    pub(super) duplicates: u64,
    /// Lines refused for their length only (failures, unlike other malformed lines).
    pub(super) too_long: u64,
    pub(super) new: u64,
    pub(super) moved: u64,
    pub(super) first_malformed: Option<Location>,
}

impl Counts {
    /// The closing line on stderr.
    pub(super) fn summary(&self, audit_skipped: u64, elapsed_s: f64) -> String {
        let mut extra = String::new();
        if self.ignored_missing > 0 {
            extra.push_str(&format!(", {} missing ignored", self.ignored_missing));
        }
        if audit_skipped > 0 {
            extra.push_str(&format!(", {audit_skipped} special files not audited"));
        }
        format!(
            "{} ok, {} failed, {} missing, {} unreadable, {} malformed, {} new, {} moved{extra} \
             in {elapsed_s:.2} s",
            self.ok,
            self.failed,
            self.missing,
            self.unreadable + self.outside,
            self.malformed,
            self.new,
            self.moved,
        )
    }

    /// The closing `--json` record.
    pub(super) fn json(&self, passed: bool) -> Value {
        json!({
            "type": "summary", "ok": self.ok, "failed": self.failed,
            "missing": self.missing, "unreadable": self.unreadable,
            "outside": self.outside, "malformed": self.malformed,
            "duplicates": self.duplicates, "too_long": self.too_long,
            "new": self.new, "moved": self.moved,
            "ignored_missing": self.ignored_missing, "passed": passed,
        })
    }
}

/// Where verdicts go.
pub(super) struct Sink<'a> {
    pub(super) printer: &'a mut Printer,
    pub(super) counts: &'a mut Counts,
    pub(super) reporter: &'a mut Reporter,
}

/// The exit code, and why the run failed when no single entry says so.
pub(super) fn verdict(counts: &Counts, entries: u64, args: &CheckArgs) -> (Exit, Vec<String>) {
    let verified = counts.ok + counts.failed;
    let mut notes = Vec::new();
    if entries == 0 {
        notes.push("no properly formatted BLAKE3 checksum lines found".to_string());
    } else if args.ignore_missing && verified == 0 && counts.unreadable + counts.outside == 0 {
        notes.push("no file was verified".to_string());
    }
    let bad_entries = counts.failed
        + counts.missing
        + counts.unreadable
        + counts.outside
        + counts.new
        + counts.moved
        + counts.too_long;
    let bad_lines = args.strict && counts.malformed + counts.duplicates > 0;
    let code = if !notes.is_empty() || bad_entries > 0 || bad_lines {
        Exit::Failed
    } else {
        Exit::Ok
    };
    (code, notes)
}

/// GNU-style warnings, e.g. "2 computed checksums did NOT match".
pub(super) fn warnings(counts: &Counts, printer: &Printer) -> Vec<String> {
    let first_malformed = counts
        .first_malformed
        .map(|at| format!(" (first: {})", printer.loc(at)))
        .unwrap_or_default();
    [
        (
            counts.failed,
            "computed checksum did NOT match",
            "computed checksums did NOT match",
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
            "entry lies outside the root (refused)",
            "entries lie outside the root (refused)",
            "",
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
    .collect()
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Prints and counts the verdict for one pass-1 item.
pub(super) fn settle_entry(
    done: Done<Item>,
    args: &CheckArgs,
    sink: &mut Sink,
    held: &mut MissingSet,
) {
    let Sink {
        printer,
        counts,
        reporter,
    } = sink;
    let (at, expected, offset) = match done.tag {
        // Refused for its length alone: it may be the entry of a tampered file, so it fails
        // the run like an unverifiable entry (GNU's rules stay for other malformed lines).
        Item::Malformed {
            at,
            why: Malformed::TooLong,
        } => {
            counts.too_long += 1;
            reporter.error(&format!(
                "{}: {}: refused, counted as a failure",
                printer.loc(at),
                Malformed::TooLong
            ));
            if args.json {
                let loc = printer.loc(at);
                printer.json_line(&json!({"type": "too_long", "at": loc}));
            }
            return;
        }
        Item::Malformed { at, why } => {
            counts.malformed += 1;
            counts.first_malformed.get_or_insert(at);
            if args.warn || args.strict {
                reporter.error(&format!(
                    "{}: improperly formatted BLAKE3 checksum line: {why}",
                    printer.loc(at)
                ));
            }
            if args.json {
                let loc = printer.loc(at);
                printer
                    .json_line(&json!({"type": "malformed", "at": loc, "reason": why.to_string()}));
            }
            return;
        }
        Item::Entry {
            at,
            expected,
            offset,
        } => (at, expected, offset),
    };
    let name = done.name;
    let err = match done.outcome {
        Outcome::Hashed { hash, .. } => {
            let ok = hash.as_bytes() == &expected;
            if ok {
                counts.ok += 1;
            } else {
                counts.failed += 1;
            }
            let status = if ok { "OK" } else { "FAILED" };
            printer.verdict(&name, status, ok, |p| {
                entry_json(
                    &name,
                    if ok { "ok" } else { "failed" },
                    &p.loc(at),
                    &expected,
                    Some(&hash),
                )
            });
            return;
        }
        Outcome::Failed(err) => err,
        // The engine reports special files as failures for manifest jobs; keep the
        // invariant anyway: a skip is never a pass.
        Outcome::Skipped(kind) => EntryError::new(ErrorKind::NotRegular, kind.as_str()),
    };
    let (label, json_status) = match err.kind {
        ErrorKind::Cancelled => return,
        ErrorKind::Missing | ErrorKind::Vanished => {
            if args.ignore_missing {
                counts.ignored_missing += 1;
                return;
            }
            if args.audit {
                held.push(expected, at, offset, name);
                return;
            }
            counts.missing += 1;
            ("missing", "missing")
        }
        ErrorKind::Outside => {
            counts.outside += 1;
            ("outside the root", "outside")
        }
        ErrorKind::NotRegular => {
            counts.unreadable += 1;
            ("not a regular file", "not_regular")
        }
        ErrorKind::Changed => {
            counts.unreadable += 1;
            ("changed while hashing", "changed")
        }
        _ => {
            counts.unreadable += 1;
            ("unreadable", "unreadable")
        }
    };
    if !matches!(err.kind, ErrorKind::Missing | ErrorKind::Vanished) {
        reporter.error(&format!("{}: {}: {err}", printer.loc(at), display(&name)));
    }
    let status = format!("FAILED ({label})");
    printer.verdict(&name, &status, false, |p| {
        entry_json(&name, json_status, &p.loc(at), &expected, None)
    });
}
