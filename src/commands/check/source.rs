//! Pass 1's source: every line of every manifest becomes one job of the engine, in
//! manifest order — entries to hash, and malformed or refused lines as reports, so that every
//! verdict and diagnostic comes out in manifest order (with rotation, the entries to hash in
//! the order `pick` gives them, after the rest).

use std::io::BufRead;
use std::path::PathBuf;

use super::admit::Admission;
use super::admit::of_this_mode;
pub(super) use super::admit::{Item, ReadFlags, lexically_outside};
use super::pick::{Chosen, Picker, Rotate};
use super::relist::Relisting;
use crate::hash::outcome::{Action, Outcome, SkipKind};
use crate::manifest::read::{Line, LineReader, Malformed};
use crate::names::entry::EntryName;
use crate::names::nameset::{NameSet, normalize};
use crate::pipeline::queue::Feeder;
use crate::tree_digest::shard_of;

/// What the manifest reader leaves behind for the later stages.
#[derive(Default)]
pub(super) struct SourceInfo {
    pub(super) names: Option<NameSet>,
    /// Deepest directory (normalised) holding every entry (computed for `--audit` without
    /// `--audit-root` only).
    pub(super) common_dir: Option<Vec<u8>>,
    pub(super) entries: u64,
    /// Entries not refused by confinement (the only ones that shape the audit).
    pub(super) admitted: u64,
    /// `--shard`: entries of other shards, left to their jobs.
    pub(super) other_shards: u64,
    pub(super) read_error: Option<String>,
    /// Rotating verification: what was chosen.
    pub(super) chosen: Option<Chosen>,
}

/// The pass-1 source: every line of every manifest becomes one job.
pub(super) fn read_manifests(
    readers: Vec<Box<dyn BufRead + Send>>,
    flags: ReadFlags,
    feeder: &mut Feeder<Item>,
    rotate: Option<Rotate>,
    sources: Option<Vec<(PathBuf, (u64, u64))>>,
) -> SourceInfo {
    let mut picker = rotate.map(Picker::new);
    let cwd = Admission::cwd_now();
    // Manifests that can all be read again: their names need not all be kept.
    let names = match sources {
        Some(paths) => NameSet::rereadable(Box::new(Relisting {
            paths,
            flags: flags.clone(),
            cwd: cwd.clone(),
        })),
        None => NameSet::new(),
    };
    let mut admit = Admission::new(flags, cwd, names);
    let mut read_error = None;
    'manifests: for (idx, reader) in readers.into_iter().enumerate() {
        let mut lines = LineReader::new(reader).zero(admit.flags.zero);
        loop {
            let line = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(format!("cannot read manifest #{}: {e}", idx + 1));
                    break 'manifests;
                }
            };
            let at = (idx as u32, lines.line_no);
            let mode = &admit.flags.mode;
            let malformed = |why| {
                let report = Action::Report(Outcome::Skipped(SkipKind::Other));
                (
                    PathBuf::new(),
                    Vec::new(),
                    report,
                    Item::Malformed { at, why },
                )
            };
            let shard = admit.flags.shard;
            let (path, name, action, item) = match line {
                Line::Comment => continue,
                // A line without a name belongs to no shard: shard 0 reports it.
                Line::Malformed(_) if !reports(shard, None) => continue,
                Line::Malformed(why) => malformed(why),
                // A digest of another length, or a tagged line of another algorithm, cannot
                // be checked by this run's mode: said like any malformed line (--strict fails),
                // by the shard its name falls in.
                Line::Entry(e) if !of_this_mode(&e, mode) => {
                    if !reports(shard, Some(&e.name)) {
                        continue;
                    }
                    malformed(Malformed::OtherMode)
                }
                Line::Entry(e) => match (admit.entry(e, at, lines.line_start), &mut picker) {
                    (Some((_, name, Action::Hash, item)), Some(picker)) => {
                        picker.hold(&name, &item);
                        continue;
                    }
                    (Some(job), _) => job,
                    (None, _) => continue,
                },
            };
            if !feeder.push(path, EntryName::Own(name), action, item) {
                break 'manifests;
            }
        }
    }
    let chosen = match picker {
        Some(p) if read_error.is_none() => Some(p.feed(feeder, &admit, &mut read_error)),
        _ => None,
    };
    info(admit, read_error, chosen)
}

/// What pass 1's source leaves behind.
fn info(admit: Admission, read_error: Option<String>, chosen: Option<Chosen>) -> SourceInfo {
    SourceInfo {
        chosen,
        names: Some(admit.names),
        common_dir: admit.common,
        entries: admit.entries,
        admitted: admit.admitted,
        other_shards: admit.other_shards,
        read_error,
    }
}

/// Whether this run (of `shard` K/N, if any) reports a malformed line: the shard of its
/// name, in normal form; shard 0 when it has none. So N shards report each line once.
fn reports(shard: Option<(u64, u64)>, name: Option<&[u8]>) -> bool {
    shard.is_none_or(|(k, n)| match name {
        Some(name) => shard_of(&normalize(name), n) == k,
        None => k == 0,
    })
}
