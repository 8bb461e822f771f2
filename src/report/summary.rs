//! Run totals: what the summary line on stderr and the JSON summary object report.

use std::time::Duration;

use crate::record::HashSummary;
use indicatif::HumanBytes;

use crate::hash::outcome::{ErrorKind, Outcome};

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub errors: u64,
    pub skipped: u64,
    pub excluded: u64,
    pub other_shards: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
}

impl Summary {
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Hashed { size, .. } => {
                self.files += 1;
                self.bytes += size;
            }
            Outcome::Failed(e) if e.kind == ErrorKind::Cancelled => {}
            Outcome::Failed(_) => self.errors += 1,
            Outcome::Skipped(_) => self.skipped += 1,
        }
    }

    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.bytes as f64 / secs
        } else {
            0.0
        }
    }

    /// The human summary line (without the `b3tree: ` prefix).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}, {} in {:.2} s ({}/s); {}, {} skipped",
            count(self.files, "file"),
            HumanBytes(self.bytes),
            self.elapsed.as_secs_f64(),
            HumanBytes(self.rate() as u64),
            count(self.errors, "error"),
            self.skipped,
        );
        if self.excluded > 0 {
            s.push_str(&format!(", {} excluded", self.excluded));
        }
        if self.other_shards > 0 {
            s.push_str(&format!(", {} in other shards", self.other_shards));
        }
        if self.interrupted {
            s.push_str(" (interrupted)");
        }
        s
    }

    /// The closing `--json` record (the tree digest and `--update`'s counts are the
    /// command's to add).
    pub fn record(&self) -> HashSummary {
        HashSummary {
            kind: "summary",
            files: self.files,
            bytes: self.bytes,
            errors: self.errors,
            skipped: self.skipped,
            excluded: self.excluded,
            other_shards: self.other_shards,
            elapsed_secs: self.elapsed.as_secs_f64(),
            interrupted: self.interrupted,
            digest: None,
            update: None,
        }
    }
}

/// `1 file`, `2 files`.
pub fn count(n: u64, noun: &str) -> String {
    plural(n, noun, &format!("{noun}s"))
}

/// `1 entry`, `2 entries`: a count with the singular or plural word.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
