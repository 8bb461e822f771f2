//! Pass 2 (`--audit`): walk the covered tree for files the manifests do not list (NEW), or
//! whose content equals a missing entry's (MOVED); confined like verification.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::sink::Sink;
use super::source::lexically_outside;
use super::verdict::Verdict;

use super::missing::MissingSet;
use crate::commands::walk_into;
use crate::hash::outcome::{Action, ErrorKind, Outcome, SkipKind};
use crate::names::escape::display;
use crate::names::nameset::{NameSet, normalize};
use crate::pipeline::engine::{self, EngineConfig};
use crate::pipeline::job::Done;
use crate::pipeline::queue::Feeder;
use crate::record::{CheckRecord, Path};
use crate::sys::cancel;
use crate::tree_digest::shard_of;
use crate::walk::WalkConfig;

/// What `--audit` walks: the deepest directory holding every entry (or `.`), the names the
/// manifests list, and the manifests themselves (never reported as NEW).
pub(super) struct Tree {
    pub(super) root: PathBuf,
    pub(super) known: Option<NameSet>,
    pub(super) skip_files: Vec<(u64, u64)>,
    /// `--exclude`, `--one-file-system`, `--max-depth` (roots and skips set here).
    pub(super) walk: WalkConfig,
    /// `--shard K/N`: only the files of shard K are audited (the others' jobs see theirs).
    pub(super) shard: Option<(u64, u64)>,
}

/// Pass 2: reports each regular file under the tree that the manifests do not list as NEW,
/// or as MOVED when its content equals a held-back missing entry's. The special files and
/// symlinks it sees (not audited) are counted by kind. Err: the manifests' names, read again
/// to tell listed files, could not be read or had changed (the verdicts are not to be
/// trusted).
pub(super) fn audit_tree<W: Write>(
    tree: Tree,
    engine: &EngineConfig,
    held: &mut MissingSet,
    sink: &mut Sink<W>,
) -> Result<(), String> {
    let walk_cfg = WalkConfig {
        roots: vec![tree.root],
        max_open_dirs: engine.walker_dirs,
        skip_files: tree.skip_files,
        ..tree.walk
    };
    let mut known = tree.known;
    let shard = tree.shard;
    held.index();
    // Files the manifests list are not NEW (special files still count); the verdict
    // writer records its own errors, so emit never fails.
    let walked = engine::run(
        engine,
        move |feeder: &mut Feeder<()>| {
            let walked = walk_into(&walk_cfg, feeder, |name, action| {
                if shard.is_some_and(|(k, n)| shard_of(&normalize(name), n) != k) {
                    return None;
                }
                // A tree spec's audit describes every entry: each listed one is known.
                let listed = matches!(action, Action::Hash | Action::Describe(_));
                let unlisted = match known.as_mut().filter(|_| listed) {
                    None => Some(true),
                    Some(k) => k.contains(name).map(|found| !found),
                };
                // The manifests cannot be read again to tell: the audit ends here (no
                // verdict it cannot back; the run ends in error).
                if unlisted.is_none() {
                    cancel::request_stop();
                }
                unlisted.unwrap_or(false).then_some(action)
            });
            let looked_up = known.as_mut().map_or(Ok(()), NameSet::lookups_ended);
            (walked, looked_up)
        },
        |done| {
            walked_one(sink, held, &done);
            Ok(())
        },
    );
    let (walked_tree, looked_up) = walked.source;
    sink.counts.excluded = walked_tree.stats.excluded;
    sink.counts.shared = engine.links.shared();
    looked_up
}

/// The audit's verdict on one file the walk gave: NEW, MOVED (its content is a held-back
/// missing entry's), unreadable, or counted as not audited.
fn walked_one<W: Write>(sink: &mut Sink<W>, held: &mut MissingSet, done: &Done<()>) {
    sink.reporter.progress(&done.outcome);
    match &done.outcome {
        Outcome::Hashed { hash, .. } => {
            let key = <&[u8; 32]>::try_from(hash.as_bytes()).ok();
            if let Some(from) = key.and_then(|k| held.take_match(k)) {
                let from = match from {
                    Ok(name) => name,
                    Err(e) => {
                        sink.counts.unreadable += 1;
                        sink.reporter.error(&format!(
                            "{}: moved from an entry whose name cannot be read again: {e}",
                            display(&done.name)
                        ));
                        return;
                    }
                };
                audited(sink, &done.name, Verdict::Moved(from), hash.to_hex());
            } else {
                audited(sink, &done.name, Verdict::New, hash.to_hex());
            }
        }
        Outcome::Failed(e) if e.kind == ErrorKind::Cancelled => {}
        Outcome::Failed(e) => {
            sink.counts.unreadable += 1;
            sink.reporter.error(&format!(
                "{}: {e} (audit: contents unverifiable)",
                display(&done.name)
            ));
        }
        // The manifests themselves: given by the user, neither NEW nor special.
        Outcome::Skipped(SkipKind::OwnOutput) => {}
        Outcome::Skipped(kind) => sink.counts.not_audited.add(*kind),
        // A tree spec's audit: a directory, link or special file not listed.
        Outcome::Described { .. } => {
            audited(sink, &done.name, Verdict::New, String::new());
        }
    }
}

/// Counts and prints the audit's verdict (NEW or MOVED) of the file `name`, whose digest is
/// `hex`.
fn audited<W: Write>(sink: &mut Sink<W>, name: &[u8], verdict: Verdict, hex: String) {
    sink.counts.verdict(&verdict);
    sink.printer.verdict(name, &verdict, |_| match &verdict {
        Verdict::Moved(from) => CheckRecord::moved(name, from, hex),
        _ => CheckRecord::New {
            name: Path::of(name),
            hash: hex,
        },
    });
    sink.for_ci(name, &verdict, None);
}

/// The directory `dir` (symlinks resolved) is the working directory or lies beneath it.
/// The audit walk also opens files confined, so a swap after this check can show names
/// from elsewhere as unverifiable, never contents.
pub(super) fn lies_beneath_cwd(dir: &std::path::Path) -> bool {
    match (std::fs::canonicalize(dir), std::fs::canonicalize(".")) {
        (Ok(d), Ok(cwd)) => d.starts_with(cwd),
        // Missing: nothing to walk, and the walk reports it.
        (Err(_), _) => {
            !dir.is_absolute() && lexically_outside(dir.as_os_str().as_bytes()).is_none()
        }
        _ => false,
    }
}
