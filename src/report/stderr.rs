//! Everything on stderr: per-entry errors as they are emitted, the live progress display,
//! and the closing summary. stdout belongs to the output alone.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

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
    bar: Option<ProgressBar>,
    quiet: bool,
    files: u64,
}

impl Reporter {
    pub fn new(mode: ProgressMode, quiet: bool) -> Self {
        let show = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => io::stderr().is_terminal(),
        };
        let bar = show.then(|| {
            let target = if io::stderr().is_terminal() {
                ProgressDrawTarget::stderr_with_hz(10)
            } else {
                ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), 4)
            };
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
            quiet,
            files: 0,
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

    /// Counts a hashed file in the progress display.
    pub fn progress(&mut self, outcome: &Outcome) {
        if let (Some(bar), Outcome::Hashed { size, .. }) = (&self.bar, outcome) {
            self.files += 1;
            bar.inc(*size);
            if self.files % 64 == 1 {
                bar.set_message(self.files.to_string());
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

/// A TermLike for `--progress` when stderr is not a terminal: each update a new line.
#[derive(Debug)]
struct PlainStderr;

impl TermLike for PlainStderr {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        writeln!(io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        write!(io::stderr(), "{s}")
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Prints `b3tree: MESSAGE` on stderr: the diagnostics of a command before or after its
/// run's [`Reporter`] exists (usage errors, output that cannot be written).
pub fn say(message: std::fmt::Arguments) {
    eprintln!("b3tree: {message}");
}
