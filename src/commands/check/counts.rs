//! The counts of a check run, and the two places they are said: the closing line on
//! stderr and the JSON summary, with the same words.

use serde_json::{Value, json};

use crate::names::nameset::Location;

/// Verdict counts.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) ok: u64,
    pub(super) failed: u64,
    /// Failed with content changed and every stat fact as recorded (bit rot).
    pub(super) corrupted: u64,
    /// Failed with a cause the state gave (corrupted or modified).
    pub(super) explained: u64,
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
    pub(super) first_malformed: Option<Location>,
}

impl Counts {
    /// The closing line on stderr.
    /// The closing line on stderr: the same counts, under the same words, as the JSON
    /// summary; NEW and MOVED only with `--audit` (`audit_skipped`: symlinks and special
    /// files the audit saw and did not hash).
    pub(super) fn summary(&self, audit: Option<u64>, elapsed_s: f64) -> String {
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
        ];
        for (n, what) in optional {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        if let Some(skipped) = audit {
            s.push_str(&format!(", {} new, {} moved", self.new, self.moved));
            if self.excluded > 0 {
                s.push_str(&format!(", {} excluded", self.excluded));
            }
            if skipped > 0 {
                s.push_str(&format!(
                    ", {skipped} not audited (symlinks and special files)"
                ));
            }
        }
        s.push_str(&format!(" in {elapsed_s:.2} s"));
        s
    }

    /// The closing `--json` record.
    pub(super) fn json(&self, passed: bool) -> Value {
        json!({
            "type": "summary", "ok": self.ok, "failed": self.failed,
            "corrupted": self.corrupted,
            "missing": self.missing, "unreadable": self.unreadable,
            "outside": self.outside, "malformed": self.malformed,
            "duplicates": self.duplicates, "too_long": self.too_long,
            "new": self.new, "moved": self.moved, "excluded": self.excluded,
            "ignored_missing": self.ignored_missing, "passed": passed,
            "interrupted": crate::sys::cancel::was_interrupted(),
        })
    }
}
