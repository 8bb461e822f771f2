//! The counts of a check run, and the two places they are said: the closing line on
//! stderr and the JSON summary, with the same words.

use super::bitrot::Cause;
use super::verdict::{Problem, Settled, Verdict};
use crate::hash::links::Shared;
use crate::names::nameset::Location;
use crate::record::CheckSummary;
use crate::report::summary::Skips;

/// Verdict counts.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) ok: u64,
    pub(super) failed: u64,
    /// Failed with content changed and every stat fact as recorded (bit rot).
    pub(super) corrupted: u64,
    pub(super) missing: u64,
    pub(super) ignored_missing: u64,
    pub(super) unreadable: u64,
    pub(super) outside: u64,
    pub(super) malformed: u64,
    pub(super) duplicates: u64,
    /// Lines refused for their length only (failures, unlike other malformed lines).
    pub(super) too_long: u64,
    pub(super) new: u64,
    /// Entries the audit left out by `--exclude` (a directory counts once).
    pub(super) excluded: u64,
    pub(super) moved: u64,
    /// The manifest is a tree spec.
    pub(super) spec: bool,
    /// Tree spec entries that differ (counted in `failed` too).
    pub(super) differ: u64,
    /// What a tree spec's check says at the end (keywords not verified, files with no
    /// digest).
    pub(super) notes: Vec<String>,
    /// `--shard`: entries left to the other shards' jobs.
    pub(super) other_shards: u64,
    /// Who signed the manifests, when their signatures were verified.
    pub(super) signatures: Vec<crate::record::SignatureRecord>,
    /// Symlinks and special files the audit saw and did not hash, by kind.
    pub(super) not_audited: Skips,
    pub(super) first_malformed: Option<Location>,
    /// The name of the first entry found missing (for the hint when all are).
    pub(super) first_missing: Option<Vec<u8>>,
    /// Hard links: names given the digest another name of their inode read.
    pub(super) shared: Shared,
    /// Rotating verification's coverage, once the run knows it.
    pub(super) coverage: Option<crate::record::Coverage>,
}

impl Counts {
    /// Counts what a pass-1 item came to.
    pub(super) fn count(&mut self, settled: &Settled) {
        match settled {
            Settled::TooLong(_) => self.too_long += 1,
            Settled::Malformed(at, _) => {
                self.malformed += 1;
                self.first_malformed.get_or_insert(*at);
            }
            Settled::Entry { verdict, .. } => self.verdict(verdict),
            Settled::IgnoredMissing { .. } => self.ignored_missing += 1,
            Settled::Held { .. } | Settled::Cancelled => {}
        }
    }

    /// Counts one verdict.
    pub(super) fn verdict(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Ok => self.ok += 1,
            Verdict::Failed(cause, _) => {
                self.failed += 1;
                self.corrupted += u64::from(*cause == Some(Cause::Corrupted));
            }
            Verdict::Differs(_) => {
                self.failed += 1;
                self.differ += 1;
            }
            Verdict::Unverified(Problem::Missing) => self.missing += 1,
            Verdict::Unverified(Problem::Outside) => self.outside += 1,
            Verdict::Unverified(_) => self.unreadable += 1,
            Verdict::New => self.new += 1,
            Verdict::Moved(_) => self.moved += 1,
        }
    }

    /// The closing line on stderr: the same counts, under the same words, as the JSON
    /// summary; NEW and MOVED (and what the audit did not hash) only with `--audit`.
    pub(super) fn summary(&self, audit: bool, elapsed_s: f64) -> String {
        let mut s = format!("{} ok, {} failed", self.ok, self.failed);
        if self.corrupted > 0 {
            s.push_str(&format!(" ({} corrupted)", self.corrupted));
        }
        s.push_str(&format!(
            ", {} missing, {} unreadable",
            self.missing, self.unreadable
        ));
        let optional = [
            (self.outside, "outside the root"),
            (self.malformed, "malformed"),
            (self.too_long, "too long"),
            (self.duplicates, "duplicates"),
            (self.ignored_missing, "missing ignored"),
            (self.other_shards, "in other shards"),
        ];
        for (n, what) in optional {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        if audit {
            s.push_str(&format!(", {} new, {} moved", self.new, self.moved));
            if self.excluded > 0 {
                s.push_str(&format!(", {} excluded", self.excluded));
            }
            let skipped = self.not_audited.total();
            if skipped > 0 {
                s.push_str(&format!(
                    ", {skipped} not audited ({})",
                    self.not_audited.kinds()
                ));
            }
        }
        s.push_str(&self.shared.phrase());
        s.push_str(&format!(" in {elapsed_s:.2} s"));
        s
    }

    /// The closing `--json` record.
    pub(super) fn record(&self, passed: bool) -> CheckSummary {
        CheckSummary {
            kind: "summary",
            ok: self.ok,
            failed: self.failed,
            corrupted: self.corrupted,
            missing: self.missing,
            unreadable: self.unreadable,
            outside: self.outside,
            malformed: self.malformed,
            duplicates: self.duplicates,
            too_long: self.too_long,
            new: self.new,
            moved: self.moved,
            excluded: self.excluded,
            ignored_missing: self.ignored_missing,
            not_audited: self.not_audited.by_kind(),
            other_shards: self.other_shards,
            signatures: self.signatures.clone(),
            hard_links: self.shared.record(),
            passed,
            interrupted: crate::sys::cancel::was_interrupted(),
            coverage: self.coverage.clone(),
        }
    }
}
