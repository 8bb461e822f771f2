//! What the passes of a digest manifest's check share — stdout, stderr, the counts, the
//! missing entries held back, the CI reports — and the passes themselves: pass 1 over the
//! manifests, the repeats, the audit (`--audit`), the missing entries said at the end.

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::audit::{Tree, audit_tree, lies_beneath_cwd};
use super::bitrot;
use super::ci::annotations;
use super::counts::Counts;
use super::locate::Locator;
use super::missing::MissingSet;
use super::other_algorithm;
use super::pick::{Chosen, Rotate};
use super::plan::Plan;
use super::printer::Printer;
use super::rotation::Rotated;
use super::sink::Sink;
use super::source::{ReadFlags, SourceInfo, read_manifests};
use super::verdict::{Problem, Verdict};
use crate::names::escape::display;
use crate::names::nameset::NameSet;
use crate::pipeline::engine;
use crate::report::github::Annotations;
use crate::report::junit::Junit;
use crate::report::stderr::Reporter;
use crate::sys::cancel;

/// What the passes share: stdout, stderr, the counts, the held-back missing entries.
pub(super) struct Run {
    pub reporter: Reporter,
    pub printer: Printer,
    pub counts: Counts,
    pub held: MissingSet,
    /// GitHub annotations and step summary (`--annotations`).
    pub annotations: Option<Annotations>,
    /// The JUnit report (`--junit`), written at the end.
    pub junit: Option<Junit>,
    /// Rotating verification: the journals and what was verified.
    pub rotated: Option<Rotated>,
}

impl Run {
    /// The verdict writer over this run's stdout, stderr, counts and annotations (with the
    /// state bound to the manifest, in pass 1), and beside it the missing entries held back.
    pub(super) fn sink<'a>(
        &'a mut self,
        recorded: Option<&'a mut bitrot::Recorded>,
    ) -> (Sink<'a, crate::output::Output>, &'a mut MissingSet) {
        let sink = Sink {
            printer: &mut self.printer,
            counts: &mut self.counts,
            reporter: &mut self.reporter,
            recorded,
            annotations: self.annotations.as_mut(),
            junit: self.junit.as_mut(),
            rotated: self.rotated.as_mut(),
            locator: None,
        };
        (sink, &mut self.held)
    }

    pub(super) fn new(plan: &Plan) -> Run {
        let settings = &plan.settings;
        let rereadable = (settings.manifests.iter())
            .zip(&plan.opened.rereadable)
            .zip(&plan.opened.file_ids);
        Run {
            reporter: Reporter::new(settings.progress, false),
            printer: Printer::new(settings, plan.opened.names.clone()),
            counts: Counts {
                signatures: plan.signatures.clone(),
                ..Counts::default()
            },
            held: MissingSet::new(
                rereadable
                    .map(|((p, &r), id)| id.filter(|_| r).map(|id| (p.clone(), id)))
                    .collect(),
            )
            .zero(settings.zero),
            annotations: annotations(settings.annotations),
            junit: settings.junit.as_ref().map(|_| {
                Junit::new(
                    settings
                        .manifests
                        .iter()
                        .map(|m| display(m.as_os_str().as_bytes()))
                        .collect(),
                )
            }),
            rotated: None,
        }
    }

    /// Pass 1: every manifest entry, in manifest order. Returns what the manifests held, and
    /// the hint when the first entry showed the manifest to be of another algorithm (the
    /// run stopped there).
    pub(super) fn pass1(&mut self, plan: &mut Plan) -> (SourceInfo, Option<String>) {
        let rotate = self.start_rotation(plan);
        let settings = &plan.settings;
        let mut probe =
            other_algorithm::Probe::new(settings, &plan.mode, plan.engine.confine.clone());
        let mut wrong_algorithm = None;
        // The state `hash --update` left beside the manifest, if bound to it: names bit rot.
        let mut recorded = bitrot::Recorded::of(&settings.manifests);
        // The outboard beside it, if any: locates the damage of a failed file.
        let confine = plan.engine.confine.clone();
        let mut locator = Locator::of(&settings.manifests, &plan.mode, confine);
        let flags = ReadFlags {
            allow_outside: settings.allow_outside,
            // The audited directory comes from the entries when --audit-root does not name it.
            find_common: settings.audit && settings.audit_root.is_none(),
            zero: settings.zero,
            mode: plan.mode.clone(),
            shard: plan.settings.shard,
        };
        let readers = std::mem::take(&mut plan.opened.readers);
        // Every manifest a file that can be read again: its names need not all be kept.
        let ids = &plan.opened.file_ids;
        let sources = (plan.opened.rereadable.iter().all(|&r| r))
            .then(|| settings.manifests.iter().cloned().zip(ids.iter().copied()))
            .and_then(|pairs| pairs.map(|(p, id)| Some((p, id?))).collect());
        // The verdict writer records its own errors (its emit never fails).
        let info = engine::run(
            &plan.engine,
            move |feeder| read_manifests(readers, flags, feeder, rotate, sources),
            |done| {
                self.reporter.progress(&done.outcome);
                let wrong = probe.as_mut().and_then(|p| p.watch(&done));
                let (mut sink, held) = self.sink(recorded.as_mut());
                sink.locator = locator.as_mut();
                sink.entry(done, settings, held);
                if wrong.is_some() {
                    wrong_algorithm = wrong;
                    cancel::request_stop();
                }
                Ok(())
            },
        );
        self.budget_end();
        self.counts.shared = plan.engine.links.shared();
        (info.source, wrong_algorithm)
    }

    /// Rotating verification: the journals started (left out of the audit; one that cannot
    /// be made is said), the time budget set; the source's part.
    pub(super) fn start_rotation(&mut self, plan: &mut Plan) -> Option<Rotate> {
        let rotation = plan.rotation.take()?;
        cancel::end_reads_at(rotation.deadline());
        let (rotate, rotated, warnings) = rotation.start(plan.settings.zero);
        for w in warnings {
            self.reporter.error(&format!("warning: {w}"));
        }
        plan.opened.ids.extend(rotated.ids());
        self.rotated = Some(rotated);
        Some(rotate)
    }

    /// The time budget ends pass 1 only: the audit walks the whole tree as usual.
    pub(super) fn budget_end(&mut self) {
        if let Some(r) = self.rotated.as_mut() {
            r.budget_spent = cancel::reads_ended();
        }
        cancel::end_reads_at(None);
    }

    /// Rotating verification's end: the coverage counted, the records written. `whole`:
    /// the manifests were read to their end, with no shard (records of names no longer
    /// listed are then dropped).
    pub(super) fn end_rotation(&mut self, chosen: Option<&Chosen>, whole: bool) {
        if let (Some(rotated), Some(chosen)) = (self.rotated.take(), chosen) {
            let whole = whole && !cancel::is_stopped();
            let (coverage, warnings) = rotated.finish(chosen, whole);
            for w in warnings {
                self.reporter.error(&format!("warning: {w}"));
            }
            self.counts.coverage = Some(coverage);
        }
    }

    /// The missing entries held back for the audit, in manifest order (those whose content
    /// did not turn up under another name).
    pub(super) fn missing_held(&mut self) -> std::io::Result<()> {
        let (mut sink, held) = self.sink(None);
        let reread = held.for_each_missing(|m| {
            sink.counts.missing += 1;
            if cancel::is_stopped() {
                return; // counted; the run ends with its summary
            }
            sink.printer.missing(&m);
            sink.for_ci(m.name, &Verdict::Unverified(Problem::Missing), Some(m.at));
        });
        if let Err(e) = &reread {
            self.reporter.error(&format!(
                "cannot read the missing entries' names again: {e}"
            ));
        }
        reread
    }

    /// A name listed twice (after normalisation) is said once per repeat. Err: the names
    /// had to be read again to be compared and could not be (said).
    pub(super) fn duplicates(&mut self, names: Option<&mut NameSet>) -> Result<(), ()> {
        let Some(names) = names else {
            return Ok(());
        };
        let repeats = names.finish().map_err(|e| {
            self.reporter
                .error(&format!("cannot look for duplicate entries: {e}"));
        })?;
        for (again, first) in repeats {
            self.counts.duplicates += 1;
            // After a stop, counted and not said: the run ends within its bound, with its
            // summary (hundreds of thousands of repeats take seconds to print).
            if cancel::is_stopped() {
                continue;
            }
            self.reporter.error(&format!(
                "{}: duplicate entry (first at {})",
                self.printer.loc(again),
                self.printer.loc(first)
            ));
        }
        Ok(())
    }

    /// Pass 2 (`--audit`): files present but not listed (and, in the counts, the symlinks
    /// and special files it saw and did not hash). Err: the manifests' names could not be
    /// read again for it (said).
    pub(super) fn audit(&mut self, plan: &mut Plan, info: &mut SourceInfo) -> Result<(), ()> {
        let settings = &plan.settings;
        if !settings.audit {
            return Ok(());
        }
        // Entries of other shards still count here: every shard audits the same directory.
        let admitted = info.admitted + info.other_shards;
        if info.entries > 0 && admitted == 0 {
            self.reporter
                .error("audit: no entry lies inside the working directory; nothing to audit");
            return Ok(());
        }
        if cancel::is_stopped() || admitted == 0 {
            return Ok(());
        }
        let root = match &settings.audit_root {
            Some(dir) => Some(dir.as_os_str().as_bytes().to_vec()),
            None => info.common_dir.take(),
        };
        let root = match root {
            Some(d) if !d.is_empty() => PathBuf::from(std::ffi::OsStr::from_bytes(&d)),
            _ => PathBuf::from("."),
        };
        if !settings.allow_outside && !lies_beneath_cwd(&root) {
            self.counts.outside += 1;
            self.reporter.error(&format!(
                "audit: {} lies outside the working directory (a symlink out?): not audited \
                 (--allow-outside audits it)",
                display(root.as_os_str().as_bytes())
            ));
            return Ok(());
        }
        let tree = Tree {
            root,
            known: info.names.take(),
            skip_files: std::mem::take(&mut plan.opened.ids),
            walk: std::mem::take(&mut plan.settings.audit_walk),
            shard: plan.settings.shard,
        };
        // The audit reads files beneath the working directory, like verification.
        let (mut sink, held) = self.sink(None);
        let looked_up = audit_tree(tree, &plan.engine, held, &mut sink);
        looked_up.map_err(|e| self.reporter.error(&format!("audit: {e}")))
    }
}
