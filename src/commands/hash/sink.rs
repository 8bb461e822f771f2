//! `hash`'s two ends of the engine: the source (the walk or `--files-from` list, narrowed to
//! this shard and given `--update`'s known digests) and the sink (each finished entry, in
//! order: journal, order check, tree digest, summary, stderr, the manifest line).

use std::io;
use std::sync::Arc;

use crate::commands::hash::list::{self, List};
use crate::commands::hash::outboard::Keep;
use crate::commands::{Walked, list_into, walk_into};
use crate::config::HashSettings;
use crate::exit::Fail;
use crate::hash::algo::Digest;
use crate::hash::outcome::Outcome;
use crate::manifest::write::ManifestWriter;
use crate::names::escape::display;
use crate::names::order::OrderCheck;
use crate::output::Output;
use crate::pipeline::job::Done;
use crate::pipeline::queue::Feeder;
use crate::report::stderr::Reporter;
use crate::report::summary::Summary;
use crate::state::outboard::Outboard;
use crate::state::session::{Sources, Update};
use crate::sys::open::Confine;
use crate::sys::roots::Roots;
use crate::tree_digest::{TreeDigest, shard_of};
use crate::walk::WalkConfig;

/// Where the entries come from.
pub(super) struct Source {
    pub walk: WalkConfig,
    pub list: Option<List>,
    pub sort: bool,
    pub shard: Option<(u64, u64)>,
    pub sources: Option<Sources>,
    /// The confinement's roots, which a `--files-from` list adds its directories to.
    pub roots: Option<Arc<Roots>>,
    /// `--outboard`: the old outboard (`--update`), to read big files it has no data for.
    pub outboard: Option<Option<Outboard>>,
}

impl Source {
    pub fn new(
        walk: WalkConfig,
        list: Option<List>,
        sources: Option<Sources>,
        confine: &Confine,
        settings: &HashSettings,
    ) -> Self {
        let roots = match confine {
            Confine::NoSymlinks(r) => Some(r.clone()),
            _ => None,
        };
        Source {
            walk,
            list,
            sort: settings.sort,
            shard: settings.shard,
            sources,
            roots,
            outboard: None,
        }
    }

    /// Feeds every entry into the engine; returns what the walk left out and the notices
    /// of `--update`'s sources (records that ended early).
    pub fn feed(self, feeder: &mut Feeder<()>) -> (Walked, Vec<String>) {
        let Source {
            walk,
            list,
            sort,
            shard,
            mut sources,
            roots,
            mut outboard,
        } = self;
        let keep = |name: &[u8], action| {
            if shard.is_some_and(|(k, n)| shard_of(name, n) != k) {
                return None;
            }
            let action = match &mut sources {
                Some(s) => s.action_for(name, action),
                None => action,
            };
            Some(match &mut outboard {
                Some(old) => super::outboard::reads(old, name, action),
                None => action,
            })
        };
        let walked = match list {
            Some(l) if sort => list_into(&walk, list::sorted(l), roots, feeder, keep),
            Some(l) => list_into(&walk, l, roots, feeder, keep),
            None => walk_into(&walk, feeder, keep),
        };
        (walked, sources.map(|s| s.problems()).unwrap_or_default())
    }
}

/// What the run gathers as entries finish.
pub(super) struct Sink {
    pub writer: ManifestWriter<Output>,
    pub update: Option<Update>,
    pub reporter: Reporter,
    pub summary: Summary,
    /// `--digest`'s tree digest, as it is built.
    pub tree_digest: Option<TreeDigest>,
    /// The digest and `merge` need the names in canonical order; several PATHs given out of
    /// that order, or one inside another, break it (the manifest itself is fine for check).
    order: Option<OrderCheck>,
    /// The first pair of names out of order.
    pub broken: Option<String>,
    /// `--outboard`: the new outboard, entry by entry.
    pub outboard: Option<Keep>,
}

impl Sink {
    /// The manifest writer on `output`; a shard manifest starts with the line that says
    /// which shard it is, so that merge can tell a missing one.
    pub fn new(
        output: Output,
        update: Option<Update>,
        reporter: Reporter,
        settings: &HashSettings,
    ) -> Result<Sink, Fail> {
        let mut writer = ManifestWriter::new(output, settings.format, settings.escaping)
            .with_algo(settings.mode.algo)
            .with_shape(settings.shape)
            .with_spec(settings.spec);
        // A spec's `#mtree` comes first (check recognises a spec by it), then the shard line.
        writer
            .start()
            .map_err(|e| Fail::fatal(format!("cannot write the output: {e}")))?;
        if let Some((k, n)) = settings.shard {
            writer
                .comment(&crate::tree_digest::shard_header(k, n))
                .map_err(|e| Fail::fatal(format!("cannot write the output: {e}")))?;
        }
        Ok(Sink {
            writer,
            update,
            reporter,
            summary: Summary::default(),
            tree_digest: settings.tree_digest.then(TreeDigest::new),
            order: settings.checks_order().then(OrderCheck::default),
            broken: None,
            outboard: None,
        })
    }

    /// One finished entry, in order. Err: the journal or the output cannot be written.
    pub fn entry(&mut self, mut done: Done<()>) -> io::Result<()> {
        self.writer
            .refuse_unreadable_line(&done.name, &mut done.outcome);
        if let Outcome::Hashed { hash, .. } = &done.outcome {
            if let (Some(u), Some(facts)) = (&mut self.update, done.facts) {
                u.record(&done.name, hash, facts, done.reused)?;
            }
            if let Some(Err(last)) = self.order.as_mut().map(|o| o.next(&done.name)) {
                self.broken.get_or_insert_with(|| {
                    format!("{} comes after {}", display(&done.name), display(last))
                });
            }
            // The tree digest is defined for default BLAKE3 digests (others are refused).
            if let (Some(d), Digest::Blake3(h)) = (&mut self.tree_digest, hash) {
                d.add(&done.name, h.as_bytes());
            }
        }
        if let Some(keep) = &mut self.outboard {
            keep.entry(&done);
        }
        self.summary.add(&done.outcome);
        self.reporter.outcome(&done.name, &done.outcome);
        let reused = self.update.is_some().then_some(done.reused);
        self.writer
            .record_entry(&done.name, &done.outcome, reused, done.facts.as_ref())
    }
}
