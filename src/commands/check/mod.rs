//! `b3tree check`: verify manifests through the same engine as `hash`, then (with `--audit`)
//! walk the covered tree for files the manifests do not list.
//!
//! plan → pass 1 → audit → finish. The manifest reader is the engine's source: each valid
//! line becomes a hash job carrying its expected digest and `MANIFEST:LINE`; malformed lines
//! and lines refused by confinement travel as reports, so every verdict and diagnostic
//! comes out in manifest order. Each verdict is decided once as a typed value, then counted,
//! then printed (`verdict`). Missing entries are held back under `--audit` until the walk
//! has shown whether their content reappeared under another name (MOVED) or not (MISSING).

mod audit;
mod counts;
mod finish;
mod missing;
mod plan;
mod printer;
mod probe;
mod rot;
mod signed;
mod sink;
mod source;
mod spec;
mod verdict;
mod whereto;

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;

use audit::{Tree, audit_tree, lies_beneath_cwd};
use counts::Counts;
use missing::MissingSet;
use plan::Plan;
use printer::Printer;
use sink::Sink;
use source::{ReadFlags, SourceInfo, read_manifests};

use crate::cli::{CheckArgs, ColorWhen};
use crate::config::Env;
use crate::exit::{Ended, Exit, Fail};
use crate::hash::algo::{Algo, Mode};
use crate::names::escape::display;
use crate::names::nameset::NameSet;
use crate::pipeline::engine::{self, EngineConfig};
use crate::report::github::Annotations;
use crate::report::junit::Junit;
use crate::report::stderr::{ProgressMode, Reporter, say, say_raw};
use crate::sys::cancel;
use crate::walk::WalkConfig;
use verdict::{Problem, Verdict};

pub fn run(args: CheckArgs, env: &Env) -> Ended {
    let started = Instant::now();
    let (when, junit) = (args.annotations, args.junit.clone());
    let mut plan =
        Plan::new(args, env).inspect_err(|fail| could_not_run(when, junit.as_deref(), fail))?;
    let mut run = Run::new(&plan);
    if plan.spec {
        return check_spec(plan, run, started);
    }
    let (mut info, wrong_algorithm) = run.pass1(&mut plan);
    run.counts.other_shards = info.other_shards;
    run.duplicates(info.names.as_mut());
    run.audit(&mut plan, &mut info);
    let reread = run.missing_held();
    run.reporter.finish();
    let ended = finish::Ended {
        read_error: info.read_error.take(),
        reread_failed: reread.is_err(),
        entries: info.entries,
        wrong_algorithm,
        shard: plan.shard,
        elapsed: started.elapsed(),
    };
    finish::finish(&plan.args, run, ended)
}

/// A tree spec's check: its one pass, then the same finish.
fn check_spec(mut plan: Plan, mut run: Run, started: Instant) -> Ended {
    let readers = std::mem::take(&mut plan.opened.readers);
    let reader = readers
        .into_iter()
        .next()
        .unwrap_or_else(|| Box::new(std::io::empty()));
    // A spec is not read again by line offset (its hierarchical form names an entry by the
    // lines before it): the missing entries held for the audit keep their names.
    run.held = MissingSet::new(vec![None]);
    let (mut read, tally) = spec::pass(&plan.engine, reader, (&plan.args, plan.shard), &mut run);
    run.counts.other_shards = read.other_shards;
    run.counts.notes = tally.notes();
    run.counts.spec = true;
    run.duplicates(Some(&mut read.names));
    if plan.args.audit && read.error.is_none() && !cancel::is_stopped() {
        // The spec describes the working directory: everything in it is audited, directories,
        // links and special files too; files hashed as the spec's digests are.
        let tree = Tree {
            root: PathBuf::from("."),
            known: Some(std::mem::take(&mut read.names)),
            skip_files: std::mem::take(&mut plan.opened.ids),
            walk: WalkConfig {
                describe: true,
                ..std::mem::take(&mut plan.audit_walk)
            },
            shard: plan.shard,
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
    let manifest = plan.args.manifests.first().cloned().unwrap_or_default();
    let ended = finish::Ended {
        read_error: read
            .error
            .map(|e| format!("{}: {e}", display(manifest.as_os_str().as_bytes()))),
        reread_failed: reread.is_err(),
        entries: read.entries,
        wrong_algorithm: None,
        shard: plan.shard,
        elapsed: started.elapsed(),
    };
    finish::finish(&plan.args, run, ended)
}

/// GitHub annotations when `--annotations` asks for them (auto: in a GitHub Actions job).
pub(super) fn annotations(when: ColorWhen) -> Option<Annotations> {
    let on = match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
    };
    on.then(|| {
        // Without a working directory, names are given as they are.
        let cwd = std::env::current_dir().unwrap_or_default();
        let workspace = std::env::var_os("GITHUB_WORKSPACE").map(PathBuf::from);
        Annotations::new(&cwd, workspace.as_deref())
    })
}

/// A run that could not start (an unreadable manifest, a value it cannot use, a manifest
/// not trusted) says so in its JUnit report, and on GitHub (status 2 only: a refused
/// signature has said it already) on the run's page too.
fn could_not_run(when: ColorWhen, junit: Option<&std::path::Path>, fail: &Fail) {
    if fail.exit == Exit::Interrupted {
        return;
    }
    let why = match fail.message.is_empty() {
        true => "b3tree check could not run (its log says why)",
        false => fail.message.as_str(),
    };
    let mut report = finish::Report {
        junit: Some(Junit::new(Vec::new())),
        path: junit,
        seconds: 0.0,
    };
    // Not when the report's own path was refused: it would fail the same way.
    if !why.starts_with("--junit") {
        if let Err(e) = report.end(&[why]) {
            say(format_args!("{}", e.message));
        }
    }
    if !matches!(fail.exit, Exit::Usage | Exit::Fatal) || fail.message.is_empty() {
        return;
    }
    if let Some(a) = annotations(when) {
        let line = a.not_run(&fail.message);
        github_unchecked(&a, &line, "b3tree check could not run", &fail.message);
    }
}

/// On GitHub, a run that ended before any entry was read: the annotation `line`, and a
/// section of the step summary (`title`, `why`).
fn github_unchecked(a: &Annotations, line: &str, title: &str, why: &str) {
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

/// What the passes share: stdout, stderr, the counts, the held-back missing entries.
struct Run {
    pub reporter: Reporter,
    pub printer: Printer,
    pub counts: Counts,
    pub held: MissingSet,
    /// GitHub annotations and step summary (`--annotations`).
    pub annotations: Option<Annotations>,
    /// The JUnit report (`--junit`), written at the end.
    pub junit: Option<Junit>,
}

impl Run {
    /// The verdict writer over this run's stdout, stderr, counts and annotations (with the
    /// state bound to the manifest, in pass 1), and beside it the missing entries held back.
    fn sink<'a>(
        &'a mut self,
        recorded: Option<&'a mut rot::Recorded>,
    ) -> (Sink<'a, crate::output::Output>, &'a mut MissingSet) {
        let sink = Sink {
            printer: &mut self.printer,
            counts: &mut self.counts,
            reporter: &mut self.reporter,
            recorded,
            annotations: self.annotations.as_mut(),
            junit: self.junit.as_mut(),
        };
        (sink, &mut self.held)
    }

    fn new(plan: &Plan) -> Run {
        let args = &plan.args;
        let rereadable = args.manifests.iter().zip(&plan.opened.rereadable);
        Run {
            reporter: Reporter::new(
                ProgressMode::from_flags(args.progress, args.no_progress),
                false,
            ),
            printer: Printer::new(args, plan.opened.names.clone()),
            counts: Counts {
                signatures: plan.signatures.clone(),
                ..Counts::default()
            },
            held: MissingSet::new(rereadable.map(|(p, &r)| r.then(|| p.clone())).collect())
                .zero(args.zero),
            annotations: annotations(args.annotations),
            junit: args.junit.as_ref().map(|_| {
                Junit::new(
                    args.manifests
                        .iter()
                        .map(|m| display(m.as_os_str().as_bytes()))
                        .collect(),
                )
            }),
        }
    }

    /// Pass 1: every manifest entry, in manifest order. Returns what the manifests held, and
    /// the hint when the first entry showed the manifest to be of another algorithm (the
    /// run stopped there).
    fn pass1(&mut self, plan: &mut Plan) -> (SourceInfo, Option<String>) {
        let args = &plan.args;
        let mut probe = probe::Probe::new(args, &plan.mode, plan.engine.confine.clone());
        let mut wrong_algorithm = None;
        // The state `hash --update` left beside the manifest, if bound to it: names bit rot.
        let mut recorded = rot::Recorded::of(&args.manifests);
        let flags = ReadFlags {
            allow_outside: args.allow_outside,
            // The audited directory comes from the entries when --audit-root does not name it.
            find_common: args.audit && args.audit_root.is_none(),
            zero: args.zero,
            mode: plan.mode.clone(),
            shard: plan.shard,
        };
        let readers = std::mem::take(&mut plan.opened.readers);
        // The verdict writer records its own errors (its emit never fails).
        let info = engine::run(
            &plan.engine,
            move |feeder| read_manifests(readers, flags, feeder),
            |done| {
                self.reporter.progress(&done.outcome);
                let wrong = probe.as_mut().and_then(|p| p.watch(&done));
                let (mut sink, held) = self.sink(recorded.as_mut());
                sink.entry(done, args, held);
                if wrong.is_some() {
                    wrong_algorithm = wrong;
                    cancel::request_stop();
                }
                Ok(())
            },
        )
        .source;
        (info, wrong_algorithm)
    }

    /// The missing entries held back for the audit, in manifest order (those whose content
    /// did not turn up under another name).
    fn missing_held(&mut self) -> std::io::Result<()> {
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

    /// A name listed twice (after normalisation) is said once per repeat.
    fn duplicates(&mut self, names: Option<&mut NameSet>) {
        let Some(names) = names else {
            return;
        };
        for (again, first) in names.finish() {
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
    }

    /// Pass 2 (`--audit`): files present but not listed (and, in the counts, the symlinks
    /// and special files it saw and did not hash).
    fn audit(&mut self, plan: &mut Plan, info: &mut SourceInfo) {
        let args = &plan.args;
        if !args.audit {
            return;
        }
        // Entries of other shards still count here: every shard audits the same directory.
        let admitted = info.admitted + info.other_shards;
        if info.entries > 0 && admitted == 0 {
            self.reporter
                .error("audit: no entry lies inside the working directory; nothing to audit");
            return;
        }
        if cancel::is_stopped() || admitted == 0 {
            return;
        }
        let root = match &args.audit_root {
            Some(dir) => Some(dir.as_os_str().as_bytes().to_vec()),
            None => info.common_dir.take(),
        };
        let root = match root {
            Some(d) if !d.is_empty() => PathBuf::from(std::ffi::OsStr::from_bytes(&d)),
            _ => PathBuf::from("."),
        };
        if !args.allow_outside && !lies_beneath_cwd(&root) {
            self.counts.outside += 1;
            self.reporter.error(&format!(
                "audit: {} lies outside the working directory (a symlink out?): not audited \
                 (--allow-outside audits it)",
                display(root.as_os_str().as_bytes())
            ));
            return;
        }
        let tree = Tree {
            root,
            known: info.names.take(),
            skip_files: std::mem::take(&mut plan.opened.ids),
            walk: std::mem::take(&mut plan.audit_walk),
            shard: plan.shard,
        };
        // The audit reads files beneath the working directory, like verification.
        let (mut sink, held) = self.sink(None);
        audit_tree(tree, &plan.engine, held, &mut sink);
    }
}
