//! Everything on stderr: per-entry errors as they are emitted, the live progress display,
//! and the closing summary. stdout belongs to the output alone.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::hash::outcome::{Outcome, SkipKind};
use crate::names::escape;

/// When to show live progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Only when stderr is a terminal.
    Auto,
    Always,
    Never,
}

impl ProgressMode {
    /// From the `--progress` / `--no-progress` pair.
    pub fn from_flags(progress: bool, no_progress: bool) -> Self {
        if no_progress {
            ProgressMode::Never
        } else if progress {
            ProgressMode::Always
        } else {
            ProgressMode::Auto
        }
    }
}

/// Writes diagnostics and progress to stderr.
pub struct Reporter {
    /// The live bar, on a terminal.
    bar: Option<ProgressBar>,
    /// Plain progress lines, when `--progress` writes to a log (not a terminal).
    log: Option<LogProgress>,
    quiet: bool,
    files: u64,
    /// Files the run will hash, once a concurrent count knows ([`UNKNOWN`] until then).
    total: Option<Arc<AtomicU64>>,
}

/// The total of files is not known (yet).
pub const UNKNOWN: u64 = u64::MAX;

/// How often a log gets a progress line: often enough to see a run move, rarely enough that
/// a CI log stays readable.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// `--progress` into a log: one plain line per [`LOG_EVERY`], no spinner, no padding, no
/// carriage returns; the summary stays on its own line.
#[derive(Debug)]
struct LogProgress {
    started: Instant,
    next: Instant,
    bytes: u64,
}

impl LogProgress {
    fn new(now: Instant) -> Self {
        LogProgress {
            started: now,
            next: now + LOG_EVERY,
            bytes: 0,
        }
    }

    /// Counts a hashed file of `size` bytes, the `files`-th; the line to print (and the time
    /// since the start) when one is due.
    fn add(&mut self, size: u64, files: u64, now: Instant) -> Option<(String, Duration)> {
        self.bytes += size;
        if now < self.next {
            return None;
        }
        self.next = now + LOG_EVERY;
        let elapsed = now.duration_since(self.started);
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.bytes as f64 / secs
        } else {
            0.0
        };
        let line = format!(
            "b3tree: progress: {files} files, {} in {secs:.0} s ({}/s)",
            HumanBytes(self.bytes),
            HumanBytes(rate as u64)
        );
        Some((line, elapsed))
    }
}

impl Reporter {
    pub fn new(mode: ProgressMode, quiet: bool) -> Self {
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => io::stderr().is_terminal(),
        };
        let terminal = io::stderr().is_terminal();
        let log = (show && !terminal).then(|| LogProgress::new(Instant::now()));
        let bar = (show && terminal).then(|| {
            let target = ProgressDrawTarget::stderr_with_hz(10);
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} files, {binary_bytes} ({binary_bytes_per_sec}) {elapsed}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reporter {
            bar,
            log,
            quiet,
            files: 0,
            total: None,
        }
    }

    /// Records one emitted outcome: updates progress, prints errors as `b3tree: NAME: why`.
    pub fn outcome(&mut self, name: &[u8], outcome: &Outcome) {
        self.progress(outcome);
        match outcome {
            Outcome::Failed(err) => self.error(&format!("{}: {}", escape::display(name), err)),
            // Left out on purpose, but never silently: the user may have expected it.
            Outcome::Skipped(SkipKind::OwnOutput) => self.info(&format!(
                "{}: not hashed: it is this run's output",
                escape::display(name)
            )),
            Outcome::Skipped(SkipKind::OwnTemp) => self.info(&format!(
                "{}: not hashed: a b3tree temporary file (a manifest being written)",
                escape::display(name)
            )),
            _ => {}
        }
    }

    /// Whether progress is shown at all (a concurrent count of the total only pays then).
    pub fn shows_progress(&self) -> bool {
        self.bar.is_some() || self.log.is_some()
    }

    /// Where a concurrent count will store the number of files to hash.
    pub fn count_into(&mut self, total: Arc<AtomicU64>) {
        self.total = Some(total);
    }

    /// How far along: `4 % of 300, eta 3 s` once the total is known.
    fn how_far(&self, elapsed: Duration) -> Option<String> {
        let total = self.total.as_ref()?.load(Ordering::Relaxed);
        (total != UNKNOWN && total > 0).then(|| how_far(self.files, total, elapsed))
    }

    /// Counts a hashed file in the progress display.
    pub fn progress(&mut self, outcome: &Outcome) {
        let Outcome::Hashed { size, .. } = outcome else {
            return;
        };
        if self.bar.is_none() && self.log.is_none() {
            return;
        }
        self.files += 1;
        let files = self.files;
        let due = self
            .log
            .as_mut()
            .and_then(|l| l.add(*size, files, Instant::now()));
        if let Some((line, elapsed)) = due {
            match self.how_far(elapsed) {
                Some(f) => eprintln!("{line}; {f}"),
                None => eprintln!("{line}"),
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(*size);
            if self.files % 64 == 1 {
                let far = self.how_far(bar.elapsed());
                bar.set_message(match far {
                    Some(f) => format!("{} ({f})", self.files),
                    None => self.files.to_string(),
                });
            }
        }
    }

    /// Prints `b3tree: MESSAGE` (always, even with `--quiet`).
    pub fn error(&self, message: &str) {
        self.print(&format!("b3tree: {message}"));
    }

    /// Prints an informational line (suppressed by `--quiet`).
    pub fn info(&self, message: &str) {
        if !self.quiet {
            self.print(&format!("b3tree: {message}"));
        }
    }

    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the progress display.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Prints `b3tree: MESSAGE` on stderr: the diagnostics of a command before or after its
/// run's [`Reporter`] exists (usage errors, output that cannot be written).
pub fn say(message: std::fmt::Arguments) {
    eprintln!("b3tree: {message}");
}

/// `4 % of 300, eta 3 s`: the share of `total` files done after `elapsed`, and the time
/// left at the rate so far.
fn how_far(files: u64, total: u64, elapsed: Duration) -> String {
    let done = files.min(total);
    let pct = done * 100 / total.max(1);
    let eta = elapsed.as_secs_f64() * (total - done) as f64 / done.max(1) as f64;
    format!("{pct} % of {total}, eta {eta:.0} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_far_gives_share_and_time_left() {
        assert_eq!(
            how_far(25, 100, Duration::from_secs(10)),
            "25 % of 100, eta 30 s"
        );
        assert_eq!(
            how_far(120, 100, Duration::from_secs(10)),
            "100 % of 100, eta 0 s"
        );
    }

    #[test]
    fn a_log_gets_one_plain_line_per_interval() {
        let t0 = Instant::now();
        let mut log = LogProgress::new(t0);
        assert_eq!(log.add(1000, 1, t0 + Duration::from_secs(1)), None);
        let (line, _) = log.add(1000, 2, t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(line, "b3tree: progress: 2 files, 1.95 KiB in 5 s (400 B/s)");
        assert_eq!(log.add(1, 3, t0 + Duration::from_secs(9)), None);
        assert!(log.add(1, 4, t0 + Duration::from_secs(10)).is_some());
    }
}
