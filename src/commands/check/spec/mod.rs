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

use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;

use read::{SpecRead, feed};
use settle::{only, settle};
use tally::Tally;

use super::audit::{Tree, audit_tree};
use super::finish;
use super::missing::MissingSet;
use super::pick::{Chosen, Rotate};
use super::plan::Plan;
use super::run::Run;
use crate::config::check::CheckSettings;
use crate::exit::Ended;
use crate::hash::algo::{Algo, Mode};
use crate::names::escape::display;
use crate::pipeline::engine::{self, EngineConfig};
use crate::sys::cancel;
use crate::walk::WalkConfig;

mod read;
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
    let rotate = run.start_rotation(&mut plan);
    let (mut read, chosen, tally) = pass(
        &plan.engine,
        (reader, rotate),
        (&plan.settings, plan.settings.shard),
        &mut run,
    );
    run.budget_end();
    run.counts.other_shards = read.other_shards;
    run.counts.notes = tally.notes();
    run.counts.spec = true;
    // A spec's names are all kept (nothing is read again): this cannot fail.
    let _ = run.duplicates(Some(&mut read.names));
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
        // The spec's names are kept: the lookups read nothing again and cannot fail.
        let _ = audit_tree(tree, &engine, held, &mut sink);
    }
    let reread = run.missing_held();
    let whole = read.error.is_none() && plan.settings.shard.is_none();
    run.end_rotation(chosen.as_ref(), whole);
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

/// Pass 1 over the spec `reader` (the run's one manifest, `SPEC` in messages); with
/// `rotate`, over the entries it chooses.
fn pass(
    engine_cfg: &EngineConfig,
    (reader, rotate): (Box<dyn BufRead + Send>, Option<Rotate>),
    (settings, shard): (&CheckSettings, Option<(u64, u64)>),
    run: &mut Run,
) -> (SpecRead, Option<Chosen>, Tally) {
    let only = only(settings);
    let mut tally = Tally::default();
    let read = engine::run(
        engine_cfg,
        move |feeder| feed(reader, (only, shard), feeder, rotate),
        |done| {
            run.reporter.progress(&done.outcome);
            let (mut sink, held) = run.sink(None);
            settle(done, settings, &mut tally, &mut sink, held);
            Ok(())
        },
    );
    run.counts.shared = engine_cfg.links.shared();
    let (read, chosen) = read.source;
    (read, chosen, tally)
}
