//! How a `hash` run ends: the output committed or the old one kept, `--update`'s journal
//! made the state or kept, the closing lines on stderr, and the exit status.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::HumanBytes;

use crate::commands::Walked;
use crate::commands::hash::sink::Sink;
use crate::config::HashSettings;
use crate::exit::{Ended, Exit, Fail};
use crate::hash::links::Shared;
use crate::manifest::write::ManifestWriter;
use crate::output::{Committed, Output};
use crate::record::{HashSummary, UpdateCounts};
use crate::report::stderr::Reporter;
use crate::report::summary::{Summary, plural};
use crate::state::files::Seen;
use crate::state::session::Update;
use crate::sys::cancel;

/// What the engine handed back.
pub(super) struct Ran {
    /// Whether every record reached the output (and the journal).
    pub emitted: io::Result<()>,
    pub walked: Walked,
    /// Notices of `--update`'s sources (records that ended early).
    pub state_problems: Vec<String>,
    pub started: Instant,
    /// Names of hard-linked files given another name's digest.
    pub shared: Shared,
}

/// The `-o` file as the plan found it.
pub(super) struct Target {
    /// Its path with symlinks resolved (None: stdout or a device).
    pub real: Option<PathBuf>,
    /// A manifest is there already (which a run with errors does not replace).
    pub replaces_existing: bool,
}

/// Ends the run `sink` gathered.
pub(super) fn finish(settings: &HashSettings, mut sink: Sink, ran: Ran, target: Target) -> Ended {
    let summary = &mut sink.summary;
    summary.excluded = ran.walked.stats.excluded;
    summary.other_shards = ran.walked.refused;
    for p in &ran.state_problems {
        sink.reporter.error(p);
    }
    summary.elapsed = ran.started.elapsed();
    summary.reused_bytes = sink.update.as_ref().map_or(0, |u| u.reused.1);
    summary.shared = ran.shared;
    summary.interrupted = cancel::was_interrupted();
    sink.reporter.finish();
    if sink.summary.interrupted {
        return Ok(interrupted(settings, sink));
    }
    // The tree digest exists only for a complete run in canonical order.
    let wants_digest = sink.tree_digest.is_some();
    let digest = sink
        .tree_digest
        .take()
        .filter(|_| sink.broken.is_none() && sink.summary.errors == 0)
        .map(|d| d.finish());
    let Sink {
        writer,
        mut update,
        reporter,
        summary,
        broken,
        outboard,
        ..
    } = sink;
    let json = summary_json(&summary, digest.clone(), update.as_ref());
    let keep_old = summary.errors > 0 && target.replaces_existing && !settings.replace_partial;
    let written = match commit(
        settings,
        writer,
        ran.emitted,
        &json,
        keep_old,
        target.real.as_deref(),
        update.as_mut(),
    ) {
        Ok(w) => w,
        Err(fail) => {
            keep_journal(update, &reporter);
            return Err(fail);
        }
    };
    reporter.info(&summary.line());
    let outboard_ok = outboard.is_none_or(|keep| {
        let committed = written.partial.is_none() && written.file.is_some();
        keep.finish(committed, &reporter)
    });
    if let Some(u) = update {
        close_update(u, &reporter, &written, target.real)?;
    }
    if let (Some(p), Some(target)) = (&written.partial, &settings.output) {
        reporter.error(&format!(
            "{} left as it was: {} could not be hashed; the new manifest is in {} \
             (--replace-partial replaces it anyway)",
            target.display(),
            plural(summary.errors, "entry", "entries"),
            p.display()
        ));
    }
    if let Some(why) = broken {
        out_of_order(settings, &reporter, &why);
        return Ok(Exit::Failed);
    }
    match digest {
        Some(d) => reporter.error(&format!("digest {d}")),
        None if wants_digest => reporter.error("no digest: some entries could not be hashed"),
        None => {}
    }
    Ok(if summary.errors > 0 || !outboard_ok {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// Names came out of canonical order: no tree digest, or a shard manifest merge refuses.
fn out_of_order(settings: &HashSettings, reporter: &Reporter, why: &str) {
    let what = if settings.tree_digest {
        "no digest: it is defined over names in canonical order"
    } else {
        "this shard manifest is not in canonical order, so merge will refuse it"
    };
    reporter.error(&format!(
        "{what}: {why} (give PATHs in that order and not inside one another, or hash one \
         directory with -C DIR)"
    ));
}

/// After a stop: a JSON stream on stdout still ends with its summary (`"interrupted":
/// true`), if stdout takes it; an -o temporary file is removed and the old FILE stays as it
/// was; `--update`'s journal stays for the next run.
fn interrupted(settings: &HashSettings, sink: Sink) -> Exit {
    let Sink {
        mut writer,
        update,
        reporter,
        summary,
        ..
    } = sink;
    if settings.json && settings.output.is_none() {
        let _ = writer
            .summary(&summary.record())
            .and_then(|()| writer.into_inner().commit());
    } else {
        drop(writer);
    }
    // The journal first: a summary that counts a file says its record is on disk (a
    // loaded machine may reach the watchdog's end before both are done).
    keep_journal(update, &reporter);
    reporter.error(&summary.line());
    Exit::Interrupted
}

/// The JSON summary record: the run's counts, the tree digest, `--update`'s counts.
fn summary_json(summary: &Summary, digest: Option<String>, update: Option<&Update>) -> HashSummary {
    HashSummary {
        digest,
        update: update.map(|u| UpdateCounts {
            reused: u.reused.0,
            reused_bytes: u.reused.1,
            read: u.read.0,
            read_bytes: u.read.1,
        }),
        ..summary.record()
    }
}

/// How the output was committed.
struct Written {
    /// The new manifest was put beside the old one (`keep_old`), at this path.
    partial: Option<PathBuf>,
    /// An `-o` file put in place, or left as it was.
    file: Option<Committed>,
}

/// Writes the JSON summary and commits the output. `keep_old`: a run with error records
/// never replaces an existing manifest (unless asked to): the old one stays, the new one is
/// kept beside it for inspection — its path is returned. `--update` (`real`: where the
/// manifest is): if the manifest its state was bound to is still there with the very bytes
/// written, it is left as it was; else the update's last records are copied before it is
/// replaced (`Update::before_replace`).
fn commit(
    settings: &HashSettings,
    mut writer: ManifestWriter<Output>,
    emitted: io::Result<()>,
    json: &HashSummary,
    keep_old: bool,
    real: Option<&Path>,
    update: Option<&mut Update>,
) -> Result<Written, Fail> {
    let seen = update.as_deref().and_then(Update::manifest_seen).copied();
    let same: Option<(&Seen, &Path)> = seen.as_ref().zip(real);
    let mut done = Written {
        partial: None,
        file: None,
    };
    let is_same = |d: &blake3::Hash| {
        same.is_some_and(|(seen, real)| seen.digest == *d && seen.still_at(real))
    };
    let written =
        emitted
            .and_then(|()| writer.summary(json))
            .and_then(|()| match writer.into_inner() {
                Output::File(f) if keep_old => f.commit_partial().map(|p| done.partial = Some(p)),
                Output::File(f) => f
                    .commit_unless_same(is_same, || update.map_or(Ok(()), Update::before_replace))
                    .map(|c| done.file = Some(c)),
                out => out.commit(),
            });
    written.map_err(|e| {
        let target = settings
            .output
            .as_ref()
            .map_or("stdout".into(), |p| p.display().to_string());
        Fail::unwritten(&target, &e)
    })?;
    Ok(done)
}

/// `--update` after a complete run: counts said; the journal becomes the state when the
/// manifest was replaced, else it stays.
fn close_update(
    u: Update,
    reporter: &Reporter,
    written: &Written,
    real: Option<PathBuf>,
) -> Result<(), Fail> {
    let unchanged = written.file.as_ref().is_some_and(|c| c.unchanged);
    reporter.info(&format!(
        "update: {} reused ({}), {} read ({}){}",
        plural(u.reused.0, "digest", "digests"),
        HumanBytes(u.reused.1),
        plural(u.read.0, "file", "files"),
        HumanBytes(u.read.1),
        if unchanged {
            "; the manifest is unchanged (left as it was)"
        } else {
            ""
        }
    ));
    let committed = match (&written.partial, real) {
        (None, Some(real)) => u.commit(
            &real,
            written.file.as_ref().and_then(|c| c.digest),
            unchanged,
        ),
        _ => u.keep(),
    };
    committed.map_err(Fail::fatal)
}

/// Leaves the journal of an `--update` run that did not replace the manifest, for the next.
fn keep_journal(update: Option<Update>, reporter: &Reporter) {
    if let Some(Err(e)) = update.map(Update::keep) {
        reporter.error(&e);
    }
}
