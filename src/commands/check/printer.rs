//! The one owner of check's stdout: verdict lines (`NAME: OK`, escaped as b3sum does) or
//! JSON Lines records, written to any `Write` so that unit tests read them from a `Vec`.

use std::io::{self, Write};

use super::missing::Missing;
use super::verdict::{Problem, Verdict};
use crate::config::check::CheckSettings;
use crate::names::escape::{Escaping, push_marked};
use crate::names::nameset::Location;
use crate::output::Output;
use crate::record::{self, CheckRecord};
use crate::report::inert;
use crate::sys::{cancel, stdio};

pub(super) struct Printer<W: Write = Output> {
    pub(super) out: Option<W>,
    /// `out` is the process's stdout: `finish` also asks whether a pipe reader left early.
    pub(super) probe_stdout: bool,
    /// stdout is a pipe: write each verdict through at once, so a reader that goes away
    /// early (`| head -1`) makes the next write fail instead of the run passing unseen.
    pub(super) eager: bool,
    pub(super) json: bool,
    pub(super) quiet: bool,
    pub(super) escaping: Escaping,
    /// Colour the status word (a terminal, or --color always).
    pub(super) color: bool,
    pub(super) manifests: Vec<String>,
    pub(super) error: Option<io::Error>,
}

impl Printer {
    /// The printer of a run: stdout (none with `--status`), escaped for a terminal if it is one.
    pub(super) fn new(settings: &CheckSettings, manifests: Vec<String>) -> Printer {
        Printer {
            out: (!settings.status).then(Output::stdout),
            probe_stdout: true,
            eager: stdio::stdout_is_pipe(),
            json: settings.json,
            quiet: settings.quiet,
            color: settings.color,
            // Verdicts are for people, on a terminal or in a CI log (a pipe): control
            // characters and names a runner would read as workflow commands are escaped
            // (`names::escape`); the names read back as they are.
            escaping: Escaping::Terminal,
            manifests,
            error: None,
        }
    }
}

impl<W: Write> Printer<W> {
    /// A printer into any writer (unit tests read what it wrote).
    #[cfg(test)]
    pub(super) fn into_writer(out: W, json: bool, quiet: bool, manifests: Vec<String>) -> Self {
        Printer {
            out: Some(out),
            probe_stdout: false,
            eager: false,
            json,
            quiet,
            escaping: Escaping::Terminal,
            color: false,
            manifests,
            error: None,
        }
    }

    /// Flushes stdout; the first write error, or the reader having left with verdicts unread.
    pub(super) fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        out.flush()?;
        if self.probe_stdout && stdio::pipe_left_unread() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader left before reading everything",
            ));
        }
        Ok(())
    }

    /// The verdict of an entry held back for the audit whose content did not turn up.
    pub(super) fn missing(&mut self, m: &Missing) {
        let verdict = Verdict::Unverified(Problem::Missing);
        self.verdict(m.name, &verdict, |p| {
            verdict.entry_record(m.name, p.loc(m.at), m.expected, None)
        });
    }

    pub(super) fn loc(&self, at: Location) -> String {
        format!("{}:{}", self.manifests[at.0 as usize], at.1)
    }

    pub(super) fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(out) = &mut self.out {
            let res = out
                .write_all(bytes)
                .and_then(|()| if self.eager { out.flush() } else { Ok(()) });
            if let Err(e) = res {
                cancel::request_stop();
                self.error = Some(e);
            }
        }
    }

    /// One JSON Lines record.
    pub(super) fn json_line(&mut self, value: &impl serde::Serialize) {
        self.write(&record::line(value));
    }

    /// `NAME: STATUS` (name escaped as b3sum does), or the JSON object `json` builds (only
    /// then: most verdicts are plain OK lines, and this runs once per entry).
    pub(super) fn verdict<'a>(
        &mut self,
        name: &[u8],
        verdict: &Verdict,
        json: impl FnOnce(&Self) -> CheckRecord<'a>,
    ) {
        if self.json {
            let record = json(self);
            self.json_line(&record);
            return;
        }
        if verdict.passed() && self.quiet {
            return;
        }
        let status = verdict.status();
        // What a status quotes (a spec's values, a moved file's old name) is escaped where it
        // is formatted; this is the net under it. The other statuses are b3tree's words.
        let status = match verdict {
            Verdict::Differs(_) | Verdict::Moved(_) => inert::text(&status).into_owned().into(),
            _ => status,
        };
        let mut line = Vec::with_capacity(name.len() + 16);
        push_marked(name, self.escaping, &mut line);
        line.extend_from_slice(b": ");
        match self.color.then(|| status_style(verdict)) {
            Some(style) => {
                line.extend_from_slice(format!("{style}{status}{style:#}").as_bytes());
            }
            None => line.extend_from_slice(status.as_bytes()),
        }
        line.push(b'\n');
        self.write(&line);
    }
}

/// The colour of a verdict: readable on dark and light backgrounds (no yellow).
fn status_style(verdict: &Verdict) -> anstyle::Style {
    use anstyle::AnsiColor;
    let colour = match verdict {
        Verdict::Ok => AnsiColor::Green,
        Verdict::New => AnsiColor::Magenta,
        Verdict::Moved(_) => AnsiColor::Cyan,
        Verdict::Failed(..) | Verdict::Unverified(_) | Verdict::Differs(_) => AnsiColor::Red,
    };
    let style = colour.on_default();
    if verdict.passed() {
        style
    } else {
        style.bold()
    }
}
