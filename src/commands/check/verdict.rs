//! Verdicts: what each pass-1 item comes to, decided once as a typed value ([`Settled`],
//! [`Verdict`]); `counts` counts them, `printer` prints them, `sink` does both in turn.

use std::borrow::Cow;

use super::bitrot::{Cause, Recorded};
use super::locate::Located;
use super::source::Item;
use crate::config::check::CheckSettings;
use crate::hash::algo::Digest;
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::manifest::read::Malformed;
use crate::names::escape::display;
use crate::names::nameset::Location;
use crate::pipeline::job::Done;
use crate::record::{CheckRecord, Path};

/// The verdict about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Ok,
    /// The content differs; the cause when the state beside the manifest tells it, where
    /// when the outboard beside it does.
    Failed(Option<Cause>, Option<Located>),
    /// The entry could not be verified.
    Unverified(Problem),
    /// `--audit`: a file no manifest lists.
    New,
    /// `--audit`: a missing entry's content, found under this name; the entry's name.
    Moved(Vec<u8>),
    /// A tree spec's entry: each way the file differs from it (`mode 0755 → 0644`).
    Differs(Vec<String>),
}

/// Why an entry could not be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Problem {
    Missing,
    Outside,
    NotRegular,
    Changed,
    Unreadable,
}

impl Problem {
    pub(super) fn of(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Missing | ErrorKind::Vanished => Problem::Missing,
            ErrorKind::Outside => Problem::Outside,
            ErrorKind::NotRegular => Problem::NotRegular,
            ErrorKind::Changed => Problem::Changed,
            _ => Problem::Unreadable,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Outside => "outside the root",
            Problem::NotRegular => "not a regular file",
            Problem::Changed => "changed while hashing",
            Problem::Unreadable => "unreadable",
        }
    }

    fn json(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Outside => "outside",
            Problem::NotRegular => "not_regular",
            Problem::Changed => "changed",
            Problem::Unreadable => "unreadable",
        }
    }
}

impl Verdict {
    /// The kind of failure, one word (a JUnit failure's type): FAILED, MISSING, NEW…
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Failed(..) | Verdict::Differs(_) => "FAILED",
            Verdict::Unverified(Problem::Missing) => "MISSING",
            Verdict::Unverified(Problem::Outside) => "OUTSIDE",
            Verdict::Unverified(Problem::NotRegular) => "NOT_REGULAR",
            Verdict::Unverified(Problem::Changed) => "CHANGED",
            Verdict::Unverified(Problem::Unreadable) => "UNREADABLE",
            Verdict::New => "NEW",
            Verdict::Moved(_) => "MOVED",
        }
    }

    /// The status after `NAME: `.
    pub(super) fn status(&self) -> Cow<'static, str> {
        match self {
            Verdict::Ok => "OK".into(),
            Verdict::Failed(None, None) => "FAILED".into(),
            Verdict::Failed(cause, located) => {
                let said: Vec<String> = (cause.map(|c| c.label().to_string()).into_iter())
                    .chain(located.as_ref().map(Located::label))
                    .collect();
                format!("FAILED ({})", said.join("; ")).into()
            }
            Verdict::Unverified(p) => format!("FAILED ({})", p.label()).into(),
            Verdict::New => "NEW".into(),
            Verdict::Moved(from) => format!("MOVED (from {})", display(from)).into(),
            Verdict::Differs(what) => format!("FAILED ({})", what.join("; ")).into(),
        }
    }

    pub(super) fn passed(&self) -> bool {
        *self == Verdict::Ok
    }

    /// The `status` of an entry's JSON record.
    pub(super) fn json(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Unverified(p) => p.json(),
            _ => "failed",
        }
    }

    /// The JSON record of manifest entry `name` (line `at`).
    pub(super) fn entry_record<'a>(
        &self,
        name: &'a [u8],
        at: String,
        expected: &Digest,
        actual: Option<&Digest>,
    ) -> CheckRecord<'a> {
        CheckRecord::Entry {
            name: Path::of(name),
            status: self.json(),
            at,
            expected: expected.to_hex(),
            actual: actual.map(Digest::to_hex),
            cause: match self {
                Verdict::Failed(Some(c), _) => Some(c.json()),
                _ => None,
            },
            differences: Vec::new(),
            damage: match self {
                Verdict::Failed(_, Some(l)) => l.damage(),
                _ => None,
            },
            outboard: match self {
                Verdict::Failed(_, Some(l)) => l.json(),
                _ => None,
            },
        }
    }
}

/// What one pass-1 item comes to.
#[derive(Debug)]
pub(super) enum Settled {
    /// A line refused for its length alone: it may be the entry of a tampered file, so it
    /// fails the run like an unverifiable entry (GNU's rules stay for other malformed lines).
    TooLong(Location),
    Malformed(Location, Malformed),
    Entry {
        name: Vec<u8>,
        at: Location,
        expected: Digest,
        actual: Option<Digest>,
        verdict: Verdict,
        /// Said on stderr beside the verdict (not for missing and refused entries: their
        /// verdict and one warning with its hint say them).
        error: Option<EntryError>,
    },
    /// Missing under `--audit`: held back until the walk shows whether its content turned
    /// up under another name (MOVED) or not (MISSING).
    Held {
        name: Vec<u8>,
        at: Location,
        expected: Digest,
        offset: u64,
    },
    /// Missing, and `--ignore-missing`.
    IgnoredMissing {
        name: Vec<u8>,
        at: Location,
        expected: Digest,
    },
    /// Stopped before it was read.
    Cancelled,
}

/// Decides what one pass-1 item comes to. `recorded`: the state bound to the manifest, to
/// say how a mismatch came about.
pub(super) fn settle(
    done: Done<Item>,
    settings: &CheckSettings,
    recorded: Option<&mut Recorded>,
) -> Settled {
    let (at, expected, offset) = match done.tag {
        Item::Malformed {
            at,
            why: Malformed::TooLong,
        } => return Settled::TooLong(at),
        Item::Malformed { at, why } => return Settled::Malformed(at, why),
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
            let verdict = match recorded {
                _ if ok => Verdict::Ok,
                Some(r) => Verdict::Failed(r.cause(&name, done.facts), None),
                None => Verdict::Failed(None, None),
            };
            return Settled::Entry {
                name,
                at,
                expected,
                actual: Some(hash),
                verdict,
                error: None,
            };
        }
        Outcome::Failed(err) => err,
        // The engine reports special files as failures for manifest jobs; keep the
        // invariant anyway: a skip is never a pass.
        Outcome::Skipped(kind) => EntryError::new(ErrorKind::NotRegular, kind.as_str()),
        Outcome::Described { kind, .. } => EntryError::new(ErrorKind::NotRegular, kind.name()),
    };
    let problem = Problem::of(err.kind);
    match (err.kind, problem) {
        (ErrorKind::Cancelled, _) => Settled::Cancelled,
        (_, Problem::Missing) if settings.ignore_missing => {
            Settled::IgnoredMissing { name, at, expected }
        }
        (_, Problem::Missing) if settings.audit => Settled::Held {
            name,
            at,
            expected,
            offset,
        },
        _ => Settled::Entry {
            name,
            at,
            expected,
            actual: None,
            verdict: Verdict::Unverified(problem),
            error: (!matches!(problem, Problem::Missing | Problem::Outside)).then_some(err),
        },
    }
}
