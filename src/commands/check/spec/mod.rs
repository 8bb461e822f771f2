//! `check` of a tree spec (mtree: b3tree's `hash --format mtree`, `bsdtar --format=mtree`,
//! NetBSD's `mtree -c` and `-C`): pass 1 for a spec. Each entry becomes a describe job (its
//! path `lstat`ed beneath the working directory, never followed; a regular file hashed with
//! the algorithm of the digest the entry holds), and each outcome is compared keyword by
//! keyword (`manifest::mtree::keys`): one verdict per entry, every difference named
//! (`FAILED (mode 0755 → 0644; link: v1 → v2)`).
//!
//! Keywords b3tree does not verify are counted and said once at the end (`tally`), never
//! taken as verified; files whose entry holds no digest b3tree knows are said too (their
//! content was not compared). `--shard` verifies one part of the entries; `--audit` then
//! walks the working directory for what the spec does not list (NEW, and MOVED for a file
//! whose digest a missing entry holds). The verdict of one entry is `settle`'s.

use std::ffi::OsString;
use std::io::BufRead;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Instant;

use settle::{SpecItem, only, settle};
use tally::Tally;

use super::audit::{Tree, audit_tree};
use super::finish;
use super::missing::MissingSet;
use super::plan::Plan;
use super::run::Run;
use crate::config::check::CheckSettings;
use crate::exit::Ended;
use crate::hash::algo::{Algo, Mode};
use crate::hash::outcome::{Action, Content};
use crate::manifest::mtree::keys::chosen_digest;
use crate::manifest::mtree::read::SpecReader;
use crate::names::entry::EntryName;
use crate::names::escape::display;
use crate::names::nameset::{NameSet, normalize};
use crate::pipeline::engine::{self, EngineConfig};
use crate::pipeline::queue::Feeder;
use crate::sys::cancel;
use crate::tree_digest::shard_of;
use crate::walk::WalkConfig;

mod settle;
mod tally;

/// A tree spec's check: its one pass, then the same finish.
pub(super) fn check(mut plan: Plan, mut run: Run, started: Instant) -> Ended {
    let readers = std::mem::take(&mut plan.opened.readers);
    let reader = readers
        .into_iter()
        .next()
        .unwrap_or_else(|| Box::new(std::io::empty()));
    // A spec is not read again by line offset (its hierarchical form names an entry by the
    // lines before it): the missing entries held for the audit keep their names.
    run.held = MissingSet::new(vec![None]);
    let (mut read, tally) = pass(
        &plan.engine,
        reader,
        (&plan.settings, plan.settings.shard),
        &mut run,
    );
    run.counts.other_shards = read.other_shards;
    run.counts.notes = tally.notes();
    run.counts.spec = true;
    run.duplicates(Some(&mut read.names));
    if plan.settings.audit && read.error.is_none() && !cancel::is_stopped() {
        // The spec describes the working directory: everything in it is audited, directories,
        // links and special files too; files hashed as the spec's digests are.
        let tree = Tree {
            root: PathBuf::from("."),
            known: Some(std::mem::take(&mut read.names)),
            skip_files: std::mem::take(&mut plan.opened.ids),
            walk: WalkConfig {
                describe: true,
                ..std::mem::take(&mut plan.settings.audit_walk)
            },
            shard: plan.settings.shard,
        };
        let algo = read.algo.unwrap_or(Algo::Blake3);
        let engine = EngineConfig {
            mode: std::sync::Arc::new(Mode::of(algo)),
            ..plan.engine.clone()
        };
        let (mut sink, held) = run.sink(None);
        audit_tree(tree, &engine, held, &mut sink);
    }
    let reread = run.missing_held();
    run.reporter.finish();
    let manifest = plan.settings.manifests.first().cloned().unwrap_or_default();
    let ended = finish::RunEnd {
        read_error: read
            .error
            .map(|e| format!("{}: {e}", display(manifest.as_os_str().as_bytes()))),
        reread_failed: reread.is_err(),
        entries: read.entries,
        wrong_algorithm: None,
        shard: plan.settings.shard,
        elapsed: started.elapsed(),
    };
    finish::finish(&plan.settings, run, ended)
}

/// What reading the spec left: entries read, and why it stopped early (`SPEC:LINE: why`).
#[derive(Default)]
struct SpecRead {
    pub entries: u64,
    pub error: Option<String>,
    /// Every name, for duplicates and the audit.
    pub names: NameSet,
    /// The algorithm of the first digest the spec holds (the audit hashes with it, so that
    /// a file found under a new name matches a missing entry: MOVED).
    pub algo: Option<Algo>,
    /// `--shard`: entries left to the other shards' jobs.
    pub other_shards: u64,
}

/// Pass 1 over the spec `reader` (the run's one manifest, `SPEC` in messages).
fn pass(
    engine_cfg: &EngineConfig,
    reader: Box<dyn BufRead + Send>,
    (settings, shard): (&CheckSettings, Option<(u64, u64)>),
    run: &mut Run,
) -> (SpecRead, Tally) {
    let only = only(settings);
    let mut tally = Tally::default();
    let read = engine::run(
        engine_cfg,
        move |feeder| feed(reader, (only, shard), feeder),
        |done| {
            run.reporter.progress(&done.outcome);
            let (mut sink, held) = run.sink(None);
            settle(done, settings, &mut tally, &mut sink, held);
            Ok(())
        },
    );
    run.counts.shared = engine_cfg.links.shared();
    (read.source, tally)
}

/// Every entry of the spec as a describe job, in spec order.
/// `--shard K/N`: only the entries of shard K (the partition `hash --shard` makes of the
/// same names); every name still goes into the set the audit knows.
fn feed(
    reader: Box<dyn BufRead + Send>,
    (only, shard): (Option<Algo>, Option<(u64, u64)>),
    feeder: &mut Feeder<SpecItem>,
) -> SpecRead {
    let mut spec = SpecReader::new(reader);
    let mut read = SpecRead::default();
    loop {
        let mut entry = match spec.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                read.error = Some(e.to_string());
                break;
            }
        };
        read.entries += 1;
        let digest = chosen_digest(&entry, only);
        read.names.add(&normalize(&entry.path), (0, entry.line));
        if shard.is_some_and(|(k, n)| shard_of(&entry.path, n) != k) {
            read.other_shards += 1;
            continue;
        }
        if read.algo.is_none() {
            read.algo = digest.as_ref().map(|d| d.0);
        }
        let action = Action::Describe(match &digest {
            Some((algo, _)) => Content::With(*algo),
            None => Content::Unread,
        });
        // The job carries the name; the item keeps the keywords only.
        let name = std::mem::take(&mut entry.path);
        // Opened below the root `.` with no symlink followed (plan: `Confine::NoSymlinks`),
        // so the path starts with that root; the root itself is the root as given.
        let path = match name.as_slice() {
            b"." => PathBuf::from("."),
            _ => PathBuf::from(OsString::from_vec([&b"./"[..], &name].concat())),
        };
        let at = (0, entry.line);
        if !feeder.push(
            path,
            EntryName::Own(name),
            action,
            SpecItem { at, entry, digest },
        ) {
            break;
        }
    }
    feeder.flush();
    read
}
