//! Run totals: what the summary line on stderr and the JSON summary object report.

use std::time::Duration;

use crate::record::HashSummary;
use indicatif::HumanBytes;

use crate::hash::links::Shared;
use crate::hash::outcome::{ErrorKind, Outcome, SkipKind};

/// Entries skipped, by kind: a summary says which (`3 skipped (2 symlinks, 1 FIFO)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Skips([u64; SkipKind::ALL.len()]);

impl Skips {
    pub fn add(&mut self, kind: SkipKind) {
        if let Some(i) = SkipKind::ALL.iter().position(|k| *k == kind) {
            self.0[i] += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The count of one kind.
    pub fn of(&self, kind: SkipKind) -> u64 {
        SkipKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.0[i])
    }

    /// `2 symlinks, 1 FIFO` (empty when nothing was skipped).
    pub fn kinds(&self) -> String {
        SkipKind::ALL
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| {
                let (one, many) = words(*k);
                plural(n, one, many)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `3 skipped (2 symlinks, 1 FIFO)`, or `0 skipped`.
    pub fn line(&self) -> String {
        match self.total() {
            0 => "0 skipped".into(),
            n => format!("{n} skipped ({})", self.kinds()),
        }
    }

    /// The counts by kind for a JSON summary (kinds with none left out).
    pub fn by_kind(&self) -> std::collections::BTreeMap<&'static str, u64> {
        SkipKind::ALL
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.as_str(), n))
            .collect()
    }
}

/// The words for one and for several entries of a kind.
fn words(kind: SkipKind) -> (&'static str, &'static str) {
    match kind {
        SkipKind::Symlink => ("symlink", "symlinks"),
        SkipKind::Fifo => ("FIFO", "FIFOs"),
        SkipKind::Socket => ("socket", "sockets"),
        SkipKind::Device => ("device", "devices"),
        SkipKind::Other => ("special file", "special files"),
        SkipKind::OwnOutput => (
            "of b3tree's own files (output, state, signature)",
            "of b3tree's own files (output, state, signature)",
        ),
        SkipKind::OwnTemp => ("b3tree temporary file", "b3tree temporary files"),
    }
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub errors: u64,
    pub skipped: Skips,
    /// Tree specs: entries recorded that are not regular files (directories, links…).
    pub described: u64,
    pub excluded: u64,
    pub other_shards: u64,
    /// `--update`: the bytes of digests reused, not read (the rate is of what was read).
    pub reused_bytes: u64,
    /// Hard links: names given the digest another name of their inode read.
    pub shared: Shared,
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
            Outcome::Skipped(kind) => self.skipped.add(*kind),
            Outcome::Described { .. } => self.described += 1,
        }
    }

    /// The bytes read: not those of reused digests, nor of names given a hard link's.
    fn read_bytes(&self) -> u64 {
        self.bytes
            .saturating_sub(self.reused_bytes)
            .saturating_sub(self.shared.bytes)
    }

    /// Bytes read per second (reused digests read nothing).
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.read_bytes() as f64 / secs
        } else {
            0.0
        }
    }

    /// The human summary line (without the `b3tree: ` prefix).
    pub fn line(&self) -> String {
        let read = self.read_bytes();
        let rate = match (self.bytes - read, read) {
            (0, _) => format!("{}/s", HumanBytes(self.rate() as u64)),
            (_, 0) => "nothing read".into(),
            _ => format!(
                "{} read, {}/s",
                HumanBytes(read),
                HumanBytes(self.rate() as u64)
            ),
        };
        let mut s = format!(
            "{}, {} in {:.2} s ({rate}); {}, {}",
            count(self.files, "file"),
            HumanBytes(self.bytes),
            self.elapsed.as_secs_f64(),
            count(self.errors, "error"),
            self.skipped.line(),
        );
        if self.described > 0 {
            s.push_str(&format!(
                ", {} (directories, links, special files)",
                plural(self.described, "other entry", "other entries")
            ));
        }
        if self.excluded > 0 {
            s.push_str(&format!(", {} excluded", self.excluded));
        }
        if self.other_shards > 0 {
            s.push_str(&format!(", {} in other shards", self.other_shards));
        }
        s.push_str(&self.shared.phrase());
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
            skipped: self.skipped.total(),
            skipped_kinds: self.skipped.by_kind(),
            described: self.described,
            excluded: self.excluded,
            other_shards: self.other_shards,
            hard_links: self.shared.record(),
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

/// Byte ranges (first and last byte) as people read them: `4,997,120–5,013,503,
/// 39,993,344–40,009,727 and 3 more ranges` — the first `shown` of `count` written out.
pub fn byte_ranges(ranges: impl Iterator<Item = (u64, u64)>, count: u64, shown: usize) -> String {
    use indicatif::HumanCount;
    let mut spans: Vec<String> = (ranges.take(shown))
        .map(|(a, b)| format!("{}–{}", HumanCount(a), HumanCount(b)))
        .collect();
    let more = count.saturating_sub(spans.len() as u64);
    if more > 0 {
        spans.push(plural(more, "more range", "more ranges"));
    }
    let last = spans.pop().unwrap_or_default();
    match spans.is_empty() {
        true => last,
        false => format!("{} and {last}", spans.join(", ")),
    }
}

/// `1 entry`, `2 entries`: a count with the singular or plural word.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
