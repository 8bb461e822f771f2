//! Where pass 1's items go: each decided ([`settle`]), counted, then printed — verdict lines
//! on stdout, diagnostics on stderr, missing entries held back for the audit.

use std::io::Write;

use super::bitrot::Recorded;
use super::counts::Counts;
use super::locate::Locator;
use super::missing::MissingSet;
use super::printer::Printer;
use super::rotation::Rotated;
use super::source::Item;
use super::verdict::{Problem, Settled, Verdict, settle};
use crate::config::check::CheckSettings;
use crate::hash::algo::Digest;
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::hash::read::DROPPED_WHILE_READ;
use crate::manifest::read::Malformed;
use crate::names::escape::display;
use crate::names::nameset::Location;
use crate::pipeline::job::Done;
use crate::record::CheckRecord;
use crate::report::github::Annotations;
use crate::report::junit::Junit;
use crate::report::stderr::Reporter;

/// Where verdicts go.
pub(super) struct Sink<'a, W: Write> {
    pub(super) printer: &'a mut Printer<W>,
    pub(super) counts: &'a mut Counts,
    pub(super) reporter: &'a mut Reporter,
    /// The state bound to the manifest, to say how a mismatch came about.
    pub(super) recorded: Option<&'a mut Recorded>,
    /// GitHub annotations, when asked for.
    pub(super) annotations: Option<&'a mut Annotations>,
    /// The JUnit report (`--junit`), when asked for.
    pub(super) junit: Option<&'a mut Junit>,
    /// Rotating verification: each verdict reached is recorded.
    pub(super) rotated: Option<&'a mut Rotated>,
    /// The outboard beside the manifest, to say where a failed file is damaged.
    pub(super) locator: Option<&'a mut Locator>,
}

impl<W: Write> Sink<'_, W> {
    /// A verdict for the CI systems that asked: a JUnit test case (an OK one counted), and
    /// a GitHub annotation when it fails the run. `at`: where a manifest lists the entry
    /// (none for the audit's findings).
    pub(super) fn for_ci(&mut self, name: &[u8], verdict: &Verdict, at: Option<Location>) {
        let suite = at.map(|(manifest, _)| manifest as usize);
        if verdict.passed() {
            if let Some(j) = self.junit.as_deref_mut() {
                j.passed(suite);
            }
            return;
        }
        if self.annotations.is_none() && self.junit.is_none() {
            return;
        }
        let (shown, status) = (display(name), verdict.status());
        let at = at.map(|at| self.printer.loc(at));
        if let Some(j) = self.junit.as_deref_mut() {
            j.failed(suite, (&shown, verdict.kind(), &status), at.as_deref());
        }
        if let Some(a) = self.annotations.as_deref_mut() {
            if let Some(line) = a.failure(&shown, &status, at.as_deref()) {
                self.reporter.raw(&line);
            }
        }
    }

    /// Says one entry's verdict: stderr, stdout, CI, and rotation's record.
    fn verdict_of(
        &mut self,
        name: Vec<u8>,
        at: Location,
        (expected, actual): (Digest, Option<Digest>),
        verdict: Verdict,
        error: Option<EntryError>,
    ) {
        let printer = &mut *self.printer;
        if let Some(err) = error {
            let line = format!("{}: {}: {err}", printer.loc(at), display(&name));
            self.reporter.error(&line);
        }
        // A name refused as outside is no candidate of rotation: said every run.
        let outside = verdict == Verdict::Unverified(Problem::Outside);
        if let (Some(r), false) = (self.rotated.as_deref_mut(), outside) {
            r.settled(&name, at, &expected, verdict.passed());
        }
        if verdict == Verdict::Unverified(Problem::Missing) {
            self.counts
                .first_missing
                .get_or_insert_with(|| name.clone());
        }
        printer.verdict(&name, &verdict, |p| {
            verdict.entry_record(&name, p.loc(at), &expected, actual.as_ref())
        });
        self.for_ci(&name, &verdict, Some(at));
    }

    /// Rotation: a file being read when the time budget ended is said, and recorded as
    /// dropped (to the back of the line).
    fn dropped(&mut self, done: &Done<Item>) {
        if let (Some(r), Outcome::Failed(e), Item::Entry { at, expected, .. }) =
            (self.rotated.as_deref_mut(), &done.outcome, &done.tag)
        {
            if e.kind == ErrorKind::Cancelled && e.detail == DROPPED_WHILE_READ {
                let line = format!(
                    "{}: {}: not read within the time budget (it goes to the back of the line)",
                    self.printer.loc(*at),
                    display(&done.name)
                );
                self.reporter.error(&line);
                r.dropped(&done.name, *at, expected);
            }
        }
    }

    /// Decides, counts and prints one pass-1 item (a held one goes to `held`).
    pub(super) fn entry(
        &mut self,
        done: Done<Item>,
        settings: &CheckSettings,
        held: &mut MissingSet,
    ) {
        self.dropped(&done);
        let mut settled = settle(done, settings, self.recorded.as_deref_mut());
        if let (
            Settled::Entry {
                name,
                expected,
                verdict: Verdict::Failed(_, located),
                ..
            },
            Some(locator),
        ) = (&mut settled, self.locator.as_deref_mut())
        {
            *located = locator.locate(name, expected);
        }
        self.counts.count(&settled);
        let printer = &mut *self.printer;
        match settled {
            Settled::TooLong(at) => {
                self.reporter.error(&format!(
                    "{}: {}: refused, counted as a failure",
                    printer.loc(at),
                    Malformed::TooLong
                ));
                if settings.json {
                    let at = printer.loc(at);
                    printer.json_line(&CheckRecord::TooLong { at });
                }
            }
            Settled::Malformed(at, why) => {
                if settings.warn || settings.strict {
                    self.reporter.error(&format!(
                        "{}: improperly formatted BLAKE3 checksum line: {why}",
                        printer.loc(at)
                    ));
                }
                if settings.json {
                    let (at, reason) = (printer.loc(at), why.to_string());
                    printer.json_line(&CheckRecord::Malformed { at, reason });
                }
            }
            Settled::Entry {
                name,
                at,
                expected,
                actual,
                verdict,
                error,
            } => self.verdict_of(name, at, (expected, actual), verdict, error),
            Settled::Held {
                name,
                at,
                expected,
                offset,
            } => {
                self.counts
                    .first_missing
                    .get_or_insert_with(|| name.clone());
                if let Some(r) = self.rotated.as_deref_mut() {
                    r.settled(&name, at, &expected, false);
                }
                held.push(&expected, at, offset, name);
            }
            Settled::IgnoredMissing { name, at, expected } => {
                if let Some(r) = self.rotated.as_deref_mut() {
                    r.settled(&name, at, &expected, false);
                }
            }
            Settled::Cancelled => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::exit::Exit;
    use crate::hash::outcome::{EntryError, SkipKind};
    use crate::hash::outcome::{ErrorKind, Outcome};
    use crate::pipeline::job::Done;
    use crate::report::stderr::ProgressMode;

    fn settings(extra: &[&str]) -> CheckSettings {
        let mut argv = vec!["b3tree", "check"];
        argv.extend_from_slice(extra);
        argv.push("m.b3");
        match Cli::parse_from(argv).command {
            Command::Check(a) => {
                let terminals = crate::config::check::Terminals::default();
                crate::config::check::check(&a, terminals, |_| None).unwrap()
            }
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
        let settings = settings(flags);
        let mut printer = Printer::into_writer(
            Vec::new(),
            settings.json,
            settings.quiet,
            vec!["m.b3".into()],
        );
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
                annotations: None,
                junit: None,
                rotated: None,
                locator: None,
            };
            sink.entry(done, &settings, &mut held);
        }
        let (code, _) = super::super::finish::verdict(&counts, entries, &settings);
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
            counts.summary(false, 0.5),
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
