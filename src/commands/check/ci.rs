//! What a `check` run tells CI systems beyond its verdict lines: GitHub annotations and the
//! step summary (a run that could not start, a manifest refused, the end of a run), and the
//! JUnit report (`--junit`). The verdicts themselves reach them through the sink
//! (`Sink::for_ci`); this file holds the rest, so that the passes and the finish share one
//! place for it and none of them reaches back into the command's mod.rs.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::counts::Counts;
use crate::config::check::CheckSettings;
use crate::exit::{Exit, Fail};
use crate::names::escape::display;
use crate::output::write_whole;
use crate::report::github::Annotations;
use crate::report::junit::Junit;
use crate::report::stderr::{Reporter, say, say_raw};

/// GitHub annotations when `--annotations` asked for them (`on`; auto: in a GitHub Actions
/// job), named from the repository's root.
pub(super) fn annotations(on: bool) -> Option<Annotations> {
    on.then(|| {
        // Without a working directory, names are given as they are.
        let cwd = std::env::current_dir().unwrap_or_default();
        let workspace = std::env::var_os("GITHUB_WORKSPACE").map(PathBuf::from);
        Annotations::new(&cwd, workspace.as_deref())
    })
}

/// A run that could not start (an unreadable manifest, a value it cannot use, a manifest
/// not trusted) says so in its JUnit report (`junit`: only once its path was settled by
/// [`provisional_report`]), and on GitHub (status 2 only: a refused
/// signature has said it already) on the run's page too.
pub(super) fn could_not_run((on, junit): (bool, Option<&Path>), fail: &Fail) {
    if fail.exit == Exit::Interrupted {
        return;
    }
    let why = match fail.message.is_empty() {
        true => "b3tree check could not run (its log says why)",
        false => fail.message.as_str(),
    };
    let mut report = Report {
        junit: Some(Junit::new(Vec::new())),
        path: junit,
        seconds: 0.0,
    };
    if let Err(e) = report.end(&[why]) {
        say(format_args!("{}", e.message));
    }
    if !matches!(fail.exit, Exit::Usage | Exit::Fatal) || fail.message.is_empty() {
        return;
    }
    if let Some(a) = annotations(on) {
        let line = a.not_run(&fail.message);
        github_unchecked(&a, &line, "b3tree check could not run", &fail.message);
    }
}

/// On GitHub, a run that ended before any entry was read: the annotation `line`, and a
/// section of the step summary (`title`, `why`).
pub(super) fn github_unchecked(a: &Annotations, line: &str, title: &str, why: &str) {
    say_raw(line);
    let Some(path) = crate::report::github::summary_path() else {
        return;
    };
    if let Err(e) = a.write_unchecked(&path, title, why) {
        say(format_args!(
            "cannot append the step summary to {}: {e}",
            display(path.as_os_str().as_bytes())
        ));
    }
}

/// The JUnit report of the run, when `--junit` asked for one.
pub(super) struct Report<'a> {
    pub junit: Option<Junit>,
    pub path: Option<&'a Path>,
    pub seconds: f64,
}

impl Report<'_> {
    /// Adds `errors` (why the run failed or ended where no entry says so) and writes the
    /// report by `-o`'s rules. One that cannot be written fails the run (status 2): the CI
    /// page would show nothing, or an older report, instead.
    pub fn end(&mut self, errors: &[&str]) -> Result<(), Fail> {
        let (Some(junit), Some(path)) = (self.junit.as_mut(), self.path) else {
            return Ok(());
        };
        for why in errors {
            junit.error(why);
        }
        let xml = junit
            .to_xml(self.seconds)
            .map_err(|e| Fail::fatal(format!("--junit: {e}")))?;
        write_whole(path, &xml).map_err(Fail::fatal)
    }
}

/// `--junit FILE`, settled before anything else can fail: refused when FILE is a directory,
/// a socket or a block device, or a file the run reads (`reads`: the manifests, their
/// state, signatures and keys, by identity). Then a provisional report takes its place —
/// one error: the run did not finish — so that a run ended any other way (killed, out of
/// memory, a closed stdout) leaves a failing report, never an earlier passing one; and a
/// report that cannot be written at all ends the run before any file is read.
pub(super) fn provisional_report(
    path: &Path,
    reads: &[(u64, u64)],
) -> Result<Option<(u64, u64)>, Fail> {
    use std::os::unix::fs::MetadataExt;
    let shown = display(path.as_os_str().as_bytes());
    let target =
        crate::output::Target::resolve(path).map_err(|e| Fail::usage(format!("--junit: {e}")))?;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    if id(&target.real).is_some_and(|id| reads.contains(&id)) {
        return Err(Fail::usage(format!(
            "--junit {shown}: a file this check reads (a manifest, its state, a signature or \
             a key); name another"
        )));
    }
    // Nor a file of other content (a tree's file, a log): only an earlier report is replaced.
    let regular = std::fs::metadata(&target.real).is_ok_and(|m| m.is_file());
    if regular && !is_a_report(&target.real) {
        return Err(Fail::usage(format!(
            "--junit {shown}: the file exists and is not an XML report; remove it or name \
             another"
        )));
    }
    let mut report = Report {
        junit: Some(Junit::new(Vec::new())),
        path: Some(path),
        seconds: 0.0,
    };
    report.end(&[
        "b3tree check did not finish: it was stopped, or could not write its \
                  verdicts (the job's log says which)",
    ])?;
    Ok(id(&target.real))
}

/// The file `path` (symlinks resolved) is empty or starts as XML does; opened without
/// blocking (a FIFO swapped in) and only if it is regular.
fn is_a_report(path: &Path) -> bool {
    let mut head = Vec::with_capacity(64);
    let read = crate::sys::resolve::open_regular(path).and_then(|f| match f {
        Some(f) => std::io::Read::read_to_end(&mut std::io::Read::take(f, 64), &mut head),
        None => Ok(0),
    });
    read.is_ok() && (head.is_empty() || head.starts_with(b"<?xml"))
}

/// The end of a run for GitHub: the annotation that counts the failures not annotated one
/// by one, and the step summary appended to `$GITHUB_STEP_SUMMARY` (when set).
pub(super) fn github_end(
    a: &Annotations,
    counts: &Counts,
    (settings, shard): (&CheckSettings, Option<(u64, u64)>),
    code: Exit,
    reporter: &Reporter,
) {
    if let Some(line) = a.left_out_line() {
        reporter.raw(&line);
    }
    let Some(path) = crate::report::github::summary_path() else {
        return;
    };
    let names: Vec<String> = settings
        .manifests
        .iter()
        .map(|m| display(m.as_os_str().as_bytes()))
        .collect();
    let verdict = if code == Exit::Ok { "passed" } else { "FAILED" };
    let signers: Vec<String> = counts
        .signatures
        .iter()
        .map(|s| match &s.signer {
            Some(who) => format!("{who} ({})", s.key),
            None => format!("minisign key {}", s.key),
        })
        .collect();
    let signed = match signers.is_empty() {
        true => String::new(),
        false => format!(", signed by {}", signers.join(", ")),
    };
    let part = shard.map_or(String::new(), |(k, n)| format!(", shard {k}/{n}"));
    let title = format!("b3tree check {}{part}: {verdict}{signed}", names.join(" "));
    let rows = [
        ("ok", counts.ok),
        ("failed", counts.failed),
        ("missing", counts.missing),
        ("unreadable", counts.unreadable),
        ("outside the root", counts.outside),
        ("new", counts.new),
        ("moved", counts.moved),
        ("malformed", counts.malformed),
        ("too long", counts.too_long),
        ("duplicates", counts.duplicates),
        ("other shards'", counts.other_shards),
    ];
    if let Err(e) = a.write_summary(&path, &title, &rows) {
        reporter.error(&format!(
            "cannot append the step summary to {}: {e}",
            display(path.as_os_str().as_bytes())
        ));
    }
}
