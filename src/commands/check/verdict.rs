//! Verdicts: how each pass-1 outcome is counted and printed, GNU's warnings, and the exit
//! status of the run.

use std::io::Write;

use serde_json::json;

use super::counts::Counts;
use super::printer::{Printer, entry_json};
use super::rot::{Cause, Recorded};
use super::source::Item;

use super::missing::MissingSet;
use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::manifest::read::Malformed;
use crate::names::escape::display;
use crate::pipeline::job::Done;
use crate::report::stderr::Reporter;
use crate::report::summary::plural;

/// Where verdicts go.
pub(super) struct Sink<'a, W: Write> {
    pub(super) printer: &'a mut Printer<W>,
    pub(super) counts: &'a mut Counts,
    pub(super) reporter: &'a mut Reporter,
    /// The state bound to the manifest, to say how a mismatch came about.
    pub(super) recorded: Option<&'a mut Recorded>,
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
pub(super) fn warnings<W: Write>(counts: &Counts, printer: &Printer<W>) -> Vec<String> {
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
    .chain(another_algorithm(counts))
    .collect()
}

/// Every verified entry failed and nothing is missing: the manifest was likely made with
/// another algorithm (a SHA256SUMS given to check) — said once, not per entry. Not when the
/// state beside the manifest explained a failure (its digests are ours, then).
fn another_algorithm(counts: &Counts) -> Option<String> {
    let plain = counts.ok == 0 && counts.missing == 0 && counts.unreadable == 0;
    (counts.failed > 0 && plain && counts.explained == 0).then(|| {
        "every checksum differs: was the manifest made with another algorithm? An untagged \
         line is read as BLAKE3: for sha256sum or sha512sum manifests give --algo sha256 or \
         --algo sha512"
            .to_string()
    })
}

/// Prints and counts the verdict for one pass-1 item.
pub(super) fn settle_entry<W: Write>(
    done: Done<Item>,
    args: &CheckArgs,
    sink: &mut Sink<W>,
    held: &mut MissingSet,
) {
    let Sink {
        printer,
        counts,
        reporter,
        recorded,
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
            let ok = hash.as_bytes() == expected.as_bytes();
            let cause = match recorded {
                Some(r) if !ok => r.cause(&name, done.facts),
                _ => None,
            };
            if ok {
                counts.ok += 1;
            } else {
                counts.failed += 1;
            }
            if cause.is_some() {
                counts.explained += 1;
            }
            if cause == Some(Cause::Corrupted) {
                counts.corrupted += 1;
            }
            let status = match (ok, cause) {
                (true, _) => "OK".to_string(),
                (false, None) => "FAILED".to_string(),
                (false, Some(c)) => format!("FAILED ({})", c.label()),
            };
            printer.verdict(&name, &status, ok, |p| {
                let mut record = entry_json(
                    &name,
                    if ok { "ok" } else { "failed" },
                    &p.loc(at),
                    &expected,
                    Some(&hash),
                );
                if let (Some(c), Some(obj)) = (cause, record.as_object_mut()) {
                    obj.insert("cause".into(), c.json().into());
                }
                record
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
                held.push(&expected, at, offset, name);
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
    // Missing and refused entries are said by their verdict and counted in one warning
    // (with its hint), not by one more line each.
    if !matches!(
        err.kind,
        ErrorKind::Missing | ErrorKind::Vanished | ErrorKind::Outside
    ) {
        reporter.error(&format!("{}: {}: {err}", printer.loc(at), display(&name)));
    }
    let status = format!("FAILED ({label})");
    printer.verdict(&name, &status, false, |p| {
        entry_json(&name, json_status, &p.loc(at), &expected, None)
    });
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::hash::outcome::{EntryError, SkipKind};
    use crate::pipeline::job::Done;
    use crate::report::stderr::ProgressMode;

    fn args(extra: &[&str]) -> CheckArgs {
        let mut argv = vec!["b3tree", "check"];
        argv.extend_from_slice(extra);
        argv.push("m.b3");
        match Cli::parse_from(argv).command {
            Command::Check(a) => a,
            _ => unreachable!(),
        }
    }

    fn entry(name: &str, line: u64, expected: [u8; 32], outcome: Outcome) -> Done<Item> {
        Done {
            name: name.as_bytes().to_vec(),
            facts: None,
            reused: false,
            outcome,
            tag: Item::Entry {
                at: (0, line),
                expected: blake3::Hash::from_bytes(expected).into(),
                offset: 0,
            },
        }
    }

    /// Settles `items` as check does and returns stdout, the counts and the exit status.
    fn settle(items: Vec<Done<Item>>, flags: &[&str]) -> (String, Counts, Exit) {
        let args = args(flags);
        let mut printer =
            Printer::into_writer(Vec::new(), args.json, args.quiet, vec!["m.b3".into()]);
        let mut counts = Counts::default();
        let mut reporter = Reporter::new(ProgressMode::Never, true);
        let mut held = MissingSet::new(vec![None]);
        let entries = items.len() as u64;
        for done in items {
            let mut sink = Sink {
                printer: &mut printer,
                counts: &mut counts,
                reporter: &mut reporter,
                recorded: None,
            };
            settle_entry(done, &args, &mut sink, &mut held);
        }
        let (code, _) = verdict(&counts, entries, &args);
        printer.finish().unwrap();
        let out = String::from_utf8(printer.out.take().unwrap()).unwrap();
        (out, counts, code)
    }

    fn hashed(data: &[u8]) -> Outcome {
        Outcome::Hashed {
            hash: blake3::hash(data).into(),
            size: data.len() as u64,
        }
    }

    #[test]
    fn verdict_lines_counts_and_status() {
        let a = *blake3::hash(b"a").as_bytes();
        let items = vec![
            entry("ok", 1, a, hashed(b"a")),
            entry("bad", 2, a, hashed(b"tampered")),
            entry(
                "gone",
                3,
                a,
                Outcome::Failed(EntryError::new(ErrorKind::Missing, "")),
            ),
            entry(
                "../x",
                4,
                a,
                Outcome::Failed(EntryError::new(ErrorKind::Outside, "...")),
            ),
        ];
        let (out, counts, code) = settle(items, &[]);
        assert_eq!(
            out,
            "ok: OK\nbad: FAILED\ngone: FAILED (missing)\n../x: FAILED (outside the root)\n"
        );
        assert_eq!(
            (counts.ok, counts.failed, counts.missing, counts.outside),
            (1, 1, 1, 1)
        );
        assert_eq!(code, Exit::Failed);
        assert_eq!(
            counts.summary(None, 0.5),
            "1 ok, 1 failed, 1 missing, 0 unreadable, 1 outside the root in 0.50 s"
        );
    }

    #[test]
    fn quiet_hides_ok_and_all_ok_passes() {
        let a = *blake3::hash(b"a").as_bytes();
        let (out, counts, code) = settle(vec![entry("ok", 1, a, hashed(b"a"))], &["--quiet"]);
        assert_eq!(out, "");
        assert_eq!(counts.ok, 1);
        assert_eq!(code, Exit::Ok);
    }

    #[test]
    fn a_line_too_long_fails_the_run_but_other_malformed_lines_only_with_strict() {
        let long = Done {
            name: Vec::new(),
            facts: None,
            reused: false,
            outcome: Outcome::Skipped(SkipKind::Other),
            tag: Item::Malformed {
                at: (0, 1),
                why: Malformed::TooLong,
            },
        };
        let (_, counts, code) = settle(vec![long], &[]);
        assert_eq!((counts.too_long, code), (1, Exit::Failed));
        let a = *blake3::hash(b"a").as_bytes();
        let bad_line = || Done {
            name: Vec::new(),
            facts: None,
            reused: false,
            outcome: Outcome::Skipped(SkipKind::Other),
            tag: Item::Malformed {
                at: (0, 2),
                why: Malformed::BadHash,
            },
        };
        let (_, _, code) = settle(vec![entry("ok", 1, a, hashed(b"a")), bad_line()], &[]);
        assert_eq!(code, Exit::Ok);
        let (_, _, code) = settle(
            vec![entry("ok", 1, a, hashed(b"a")), bad_line()],
            &["--strict"],
        );
        assert_eq!(code, Exit::Failed);
    }

    #[test]
    fn json_records_carry_status_and_location() {
        let a = *blake3::hash(b"a").as_bytes();
        let (out, _, _) = settle(vec![entry("bad", 7, a, hashed(b"b"))], &["--json"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["at"], "m.b3:7");
        assert_eq!(v["path"], "bad");
    }
}
