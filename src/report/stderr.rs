//! Everything on stderr: per-entry errors as they are emitted, the live progress display
//! (`progress`), and the closing summary. stdout belongs to the output alone.
//!
//! Every byte b3tree writes to stderr goes through one writer (`sys::stdio::write_err`, here
//! `emit`): a reader of stderr that leaves
//! early (`2>&1 | head -1`) must not end the run (std's `eprintln!` panics on EPIPE). When a
//! write fails, stderr is taken as gone: nothing more is written to it and the run goes on
//! as if `--quiet` were given — the output is still written, the exit status still says how
//! the run went.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::hash::outcome::{Outcome, SkipKind};
use crate::names::escape;
use crate::report::inert;
use crate::report::progress::Live;

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
    /// The live display (a bar on a terminal, plain lines in a log), when progress is shown.
    live: Option<Live>,
    quiet: bool,
}

impl Reporter {
    pub fn new(mode: ProgressMode, quiet: bool) -> Self {
        let terminal = io::stderr().is_terminal();
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => terminal,
        };
        Reporter {
            live: show.then(|| Live::start(terminal)),
            quiet,
        }
    }

    /// Records one emitted outcome: updates progress, prints errors as `b3tree: NAME: why`.
    pub fn outcome(&mut self, name: &[u8], outcome: &Outcome) {
        self.progress(outcome);
        match outcome {
            Outcome::Failed(err) => self.error(&format!("{}: {}", escape::display(name), err)),
            // Left out on purpose, but never silently: the user may have expected it.
            Outcome::Skipped(SkipKind::OwnOutput) => self.info(&format!(
                "{}: not hashed: it is this run's output (or its --update state, a journal, .partial, or its signature, stale once the output is replaced)",
                escape::display(name)
            )),
            Outcome::Skipped(SkipKind::OwnTemp) => self.info(&format!(
                "{}: not hashed: a b3tree temporary file (a manifest being written)",
                escape::display(name)
            )),
            _ => {}
        }
    }

    /// Counts an outcome in the progress display: a file hashed or failed (what the
    /// concurrent count of regular files counts), not an entry skipped.
    pub fn progress(&mut self, outcome: &Outcome) {
        if let (Some(live), false) = (&self.live, matches!(outcome, Outcome::Skipped(_))) {
            live.file_done();
        }
    }

    /// Where a concurrent count stores the number of files the run will hash, for percent
    /// and ETA; None when no progress is shown (the count would not pay).
    pub fn total_slot(&self) -> Option<Arc<AtomicU64>> {
        self.live.as_ref().map(Live::total_slot)
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

    /// Prints `line` as it is: a workflow command (`::error …`) that the CI runner reads
    /// from the stream (always, even with `--quiet`).
    pub fn raw(&self, line: &str) {
        self.write(&inert::controls(line));
    }

    /// Prints `line` made inert (`report::inert`).
    fn print(&self, line: &str) {
        self.write(&inert::text(line));
    }

    fn write(&self, line: &str) {
        match &self.live {
            Some(live) => live.print(line),
            None => emit(line),
        }
    }

    /// Ends the progress display (before the summary), the same after Ctrl-C as after a
    /// normal end.
    pub fn finish(&mut self) {
        if let Some(live) = &mut self.live {
            live.finish();
        }
    }
}

/// Prints `b3tree: MESSAGE` on stderr: the diagnostics of a command before or after its
/// run's [`Reporter`] exists (usage errors, output that cannot be written).
pub fn say(message: std::fmt::Arguments) {
    emit(&inert::text(&format!("b3tree: {message}")));
}

/// Prints `line` as it is, before a run's [`Reporter`] exists: a workflow command.
pub fn say_raw(line: &str) {
    emit(&inert::controls(line));
}

use crate::sys::stdio::write_err as emit;
