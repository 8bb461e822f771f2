//! `b3tree hash`: walk → engine → manifest writer, and the exit code.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use crate::cli::HashArgs;
use crate::commands::{engine_config, list, list_into, modes, update, walk_into};
use crate::config;
use crate::config::Env;
use crate::digest::{OrderCheck, TreeDigest, shard_of};
use crate::exit::Exit;
use crate::hash::algo::Digest;
use crate::hash::outcome::Outcome;
use crate::manifest::output::{Output, Target};
use crate::manifest::write::{Format, ManifestWriter};
use crate::names::escape::{Escaping, display};
use crate::pipeline::engine::{self, EngineConfig};
use crate::report::stderr::{ProgressMode, Reporter, say};
use crate::report::summary::{Summary, plural};
use crate::state::files::{Place, ids_of};
use crate::sys::cancel;
use crate::sys::open::Confine;
use crate::walk::{WalkConfig, count_files};
use indicatif::HumanBytes;

pub fn run(args: HashArgs, env: &Env) -> Exit {
    let started = Instant::now();
    // The racy rule of --update compares file times with this: taken before any stat.
    let wall_start = SystemTime::now();
    let mode = ProgressMode::from_flags(args.progress, args.no_progress);
    let excludes = match config::excludes(&args.walk.exclude) {
        Ok(x) => x,
        Err(msg) => {
            say(format_args!("{msg}"));
            return Exit::Usage;
        }
    };
    // --shard auto: K/N from the CI engine's environment, read once here.
    let shard = match args
        .shard
        .map(|a| config::shard(a, |name| std::env::var(name).ok()))
        .transpose()
    {
        Ok(s) => s,
        Err(msg) => {
            say(format_args!("{msg}"));
            return Exit::Usage;
        }
    };
    let (digest_mode, shape) = match modes::resolve(&args) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let needs_order = args.digest || shard.is_some() || args.update;
    if args.files_from.is_some() && needs_order && !args.sort {
        say(format_args!(
            "--files-from with --digest, --shard or --update needs --sort (they take names in \
             canonical order)"
        ));
        return Exit::Usage;
    }
    let list = match &args.files_from {
        Some(path) => match list::open(path, args.null) {
            Ok(l) => Some(l),
            Err(msg) => {
                say(format_args!("{msg}"));
                return Exit::Usage;
            }
        },
        None => None,
    };
    let roots = if args.files_from.is_some() {
        Vec::new()
    } else if args.paths.is_empty() {
        if crate::sys::stdio::stdin_is_pipe() {
            say(format_args!(
                "no PATH given: hashing the current directory; standard input (a pipe) is not \
                 read — give - to hash it"
            ));
        }
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    if args.update {
        if let Some(why) = update::order_problem(&roots) {
            say(format_args!(
                "--update reads its state in canonical order: {why} (give PATHs in that order \
                 and not inside one another, or hash one directory with -C DIR)"
            ));
            return Exit::Usage;
        }
    }
    let output = match open_output(args.output.as_deref(), &roots, env) {
        Ok(o) => o,
        Err(msg) => {
            say(format_args!("{msg}"));
            return Exit::Fatal;
        }
    };
    // --update: the known digests, and this run's journal (see `update`).
    let mut sources = None;
    let mut update = None;
    if args.update {
        let Some(real) = output.own_path() else {
            say(format_args!(
                "--update keeps its state beside the manifest: -o must name a regular file"
            ));
            return Exit::Usage;
        };
        let options = update::options_text(&args, &roots, shard, &digest_mode);
        match update::prepare(&real, &options, wall_start, &mut |n| {
            say(format_args!("{n}"))
        }) {
            Ok((u, s)) => {
                update = Some(u);
                sources = Some(s);
            }
            Err(msg) => {
                say(format_args!("{msg}"));
                return Exit::Fatal;
            }
        }
    }
    // A terminal gets control characters escaped; files and pipes get b3sum's format; -z
    // lines carry names as they are (as sha256sum -z).
    let escaping = if args.zero {
        Escaping::Raw
    } else if args.output.is_none() && io::stdout().is_terminal() {
        Escaping::Terminal
    } else {
        Escaping::Manifest
    };
    let format = if args.json {
        Format::Json
    } else if args.tag {
        Format::Tag
    } else {
        Format::Plain
    };
    let replaces_existing = output.replaces_existing();
    let output_real = output.own_path();
    // The state, journals and `.partial` beside the -o file (with or without --update, so
    // that both runs hash the same files).
    let own = output_real
        .as_deref()
        .map(|p| Place::of(p).own_paths())
        .unwrap_or_default();
    let walk_cfg = WalkConfig {
        roots,
        excludes,
        // Our output and, by identity, the files that belong to it (however a PATH or a
        // listed entry spells them).
        skip_files: output.own_files().into_iter().chain(ids_of(&own)).collect(),
        // The same by path (this run's journal, created by `update::prepare`, is among
        // them; named once more so that leaving it out does not hang on the listing).
        skip_paths: output_real
            .iter()
            .cloned()
            .chain(own)
            .chain(update.iter().map(|u| u.journal_path().to_path_buf()))
            .collect(),
        skip_temp_names: true,
        roots_named: true,
        ..config::walk(&args.walk)
    };

    let engine_cfg = match engine_config(&args.engine) {
        Ok(cfg) => EngineConfig {
            confine: config::confine_for(&walk_cfg),
            mode: std::sync::Arc::new(digest_mode.clone()),
            // A stopped --update run keeps what it finished in its journal.
            salvage: update.is_some(),
            ..cfg
        },
        Err(exit) => return exit,
    };
    let walk_cfg = WalkConfig {
        max_open_dirs: engine_cfg.walker_dirs,
        ..walk_cfg
    };
    let mut reporter = Reporter::new(mode, args.quiet);
    // Percent and ETA: a names-only count of the same walk, beside the run (only when
    // progress is shown; not for a shard, which hashes ~1/N of what a walk counts, nor for a
    // --files-from list, which is read once, as it streams).
    let countable = shard.is_none() && args.files_from.is_none();
    if let Some(total) = reporter.total_slot().filter(|_| countable) {
        let cfg = walk_cfg.clone();
        std::thread::spawn(move || {
            if let Some(n) = count_files(&cfg) {
                total.store(n, Ordering::Relaxed);
            }
        });
    }
    let mut writer = ManifestWriter::new(output, format, escaping)
        .with_algo(digest_mode.algo)
        .with_shape(shape);
    // A shard manifest says which shard it is, so that merge can tell a missing one.
    if let Some((k, n)) = shard {
        if let Err(e) = writer.comment(&crate::digest::shard_header(k, n)) {
            say(format_args!("cannot write the output: {e}"));
            return Exit::Fatal;
        }
    }
    let mut summary = Summary::default();
    let mut tree_digest = args.digest.then(TreeDigest::new);
    // The digest and `merge` need the names in canonical order; several PATHs given out of
    // that order, or one inside another, break it (the manifest itself is fine for check).
    let mut order = (args.digest || shard.is_some()).then(OrderCheck::default);
    let mut broken: Option<String> = None;
    let list_roots = match &engine_cfg.confine {
        Confine::NoSymlinks(r) => Some(r.clone()),
        _ => None,
    };
    let sort = args.sort;
    let finished = engine::run(
        &engine_cfg,
        move |feeder| {
            let keep = |name: &[u8], action| {
                if shard.is_some_and(|(k, n)| shard_of(name, n) != k) {
                    return None;
                }
                Some(match &mut sources {
                    Some(s) => s.action_for(name, action),
                    None => action,
                })
            };
            let walked = match list {
                Some(l) if sort => list_into(&walk_cfg, list::sorted(l), list_roots, feeder, keep),
                Some(l) => list_into(&walk_cfg, l, list_roots, feeder, keep),
                None => walk_into(&walk_cfg, feeder, keep),
            };
            (walked, sources.map(|s| s.problems()).unwrap_or_default())
        },
        |mut done| {
            writer.refuse_unreadable_line(&done.name, &mut done.outcome);
            if let Outcome::Hashed { hash, .. } = &done.outcome {
                if let (Some(u), Some(facts)) = (&mut update, done.facts) {
                    u.record(&done.name, hash, facts, done.reused)?;
                }
                if let Some(Err(last)) = order.as_mut().map(|o| o.next(&done.name)) {
                    broken.get_or_insert_with(|| {
                        format!("{} comes after {}", display(&done.name), display(last))
                    });
                }
                // The tree digest is defined for default BLAKE3 digests (others are refused).
                if let (Some(d), Digest::Blake3(h)) = (&mut tree_digest, hash) {
                    d.add(&done.name, h.as_bytes());
                }
            }
            summary.add(&done.outcome);
            reporter.outcome(&done.name, &done.outcome);
            let reused = update.is_some().then_some(done.reused);
            writer.record_entry(&done.name, &done.outcome, reused)
        },
    );
    let result = finished.emitted;
    let (walked, state_problems) = finished.source;
    summary.excluded = walked.stats.excluded;
    summary.other_shards = walked.refused;
    for p in state_problems {
        reporter.error(&p);
    }
    summary.elapsed = started.elapsed();
    summary.interrupted = cancel::was_interrupted();
    reporter.finish();

    if summary.interrupted {
        // A JSON stream on stdout still ends with its summary (`"interrupted": true`), if
        // stdout takes it; an -o temporary file is removed and the old FILE stays as it was.
        if args.json && args.output.is_none() {
            let _ = writer
                .summary(&summary.to_json())
                .and_then(|()| writer.into_inner().commit());
        } else {
            drop(writer);
        }
        reporter.error(&summary.line());
        keep_journal(update, &reporter);
        return Exit::Interrupted;
    }
    // The tree digest exists only for a complete run in canonical order.
    let wants_digest = tree_digest.is_some();
    let digest = tree_digest
        .filter(|_| broken.is_none() && summary.errors == 0)
        .map(|d| d.finish());
    let mut json_summary = summary.to_json();
    if let (Some(d), Some(obj)) = (&digest, json_summary.as_object_mut()) {
        obj.insert("digest".into(), serde_json::Value::from(d.clone()));
    }
    if let (Some(u), Some(obj)) = (&update, json_summary.as_object_mut()) {
        obj.insert("reused".into(), u.reused.0.into());
        obj.insert("reused_bytes".into(), u.reused.1.into());
        obj.insert("read".into(), u.read.0.into());
        obj.insert("read_bytes".into(), u.read.1.into());
    }
    // A run with error records never replaces an existing manifest (unless asked to): the
    // old one stays, the new one is kept beside it for inspection.
    let keep_old = summary.errors > 0 && replaces_existing && !args.replace_partial;
    let mut partial = None;
    let written = result
        .and_then(|()| writer.summary(&json_summary))
        .and_then(|()| match writer.into_inner() {
            Output::File(f) if keep_old => f.commit_partial().map(|p| partial = Some(p)),
            out => out.commit(),
        });
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::BrokenPipe {
            let target = args
                .output
                .as_ref()
                .map_or("stdout".into(), |p| p.display().to_string());
            reporter.error(&format!("cannot write {target}: {e}"));
        }
        keep_journal(update, &reporter);
        return Exit::Fatal;
    }
    reporter.info(&summary.line());
    if let Some(u) = update {
        reporter.info(&format!(
            "update: {} reused ({}), {} read ({})",
            plural(u.reused.0, "digest", "digests"),
            HumanBytes(u.reused.1),
            plural(u.read.0, "file", "files"),
            HumanBytes(u.read.1)
        ));
        let committed = match (&partial, output_real) {
            (None, Some(real)) => u.commit(&real),
            _ => u.keep(),
        };
        if let Err(e) = committed {
            reporter.error(&e);
            return Exit::Fatal;
        }
    }
    if let (Some(p), Some(target)) = (&partial, &args.output) {
        reporter.error(&format!(
            "{} left as it was: {} could not be hashed; the new manifest is in {} \
             (--replace-partial replaces it anyway)",
            target.display(),
            plural(summary.errors, "entry", "entries"),
            p.display()
        ));
    }
    if let Some(why) = broken {
        let what = if args.digest {
            "no digest: it is defined over names in canonical order"
        } else {
            "this shard manifest is not in canonical order, so merge will refuse it"
        };
        reporter.error(&format!(
            "{what}: {why} (give PATHs in that order and not inside one another, or hash one \
             directory with -C DIR)"
        ));
        return Exit::Failed;
    }
    match digest {
        Some(d) => reporter.error(&format!("digest {d}")),
        None if wants_digest => reporter.error("no digest: some entries could not be hashed"),
        None => {}
    }
    if summary.errors > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

/// Leaves the journal of an `--update` run that did not replace the manifest, for the next.
fn keep_journal(update: Option<update::Update>, reporter: &Reporter) {
    if let Some(Err(e)) = update.map(update::Update::keep) {
        reporter.error(&e);
    }
}

/// Opens `-o FILE` (or stdout). A FILE that is a symlink into a tree being hashed is
/// refused: writing through it would replace a file of the tree while we hash it.
fn open_output(target: Option<&Path>, roots: &[PathBuf], env: &Env) -> Result<Output, String> {
    let Some(given) = target else {
        return Output::for_target(None, env.stdout_closed);
    };
    let resolved = Target::resolve(given)?;
    if resolved.via_symlink {
        if let Some(root) = roots.iter().find(|r| lies_inside(&resolved.real, r)) {
            return Err(format!(
                "refusing to write the output through the symlink {}: it leads to {}, inside \
                 {}, which is being hashed",
                given.display(),
                resolved.real.display(),
                root.display()
            ));
        }
    }
    Output::open(given, &resolved)
}

/// `path` (which may not exist yet) lies in the directory `root`, symlinks resolved.
fn lies_inside(path: &Path, root: &Path) -> bool {
    let Ok(root) = std::fs::canonicalize(root) else {
        return false;
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    dir.join(path.file_name().unwrap_or_default())
        .starts_with(root)
}
