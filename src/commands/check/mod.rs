//! `b3tree check`: verify manifests through the same engine as `hash`, then (with `--audit`)
//! walk the covered tree for files the manifests do not list.
//!
//! The manifest reader is the engine's source: each valid line becomes a hash job carrying
//! its expected digest and `MANIFEST:LINE`; malformed lines and lines refused by confinement
//! travel as reports, so every verdict and diagnostic comes out in manifest order. Missing
//! entries are held back under `--audit` until the walk has shown whether their content
//! reappeared under another name (MOVED) or not (MISSING).

mod audit;
mod counts;
mod missing;
mod printer;
mod rot;
mod source;
mod verdict;

use audit::{Tree, audit_tree, lies_beneath_cwd};
use counts::Counts;
use printer::Printer;
use source::{ReadFlags, read_manifests};
use std::io::{self, IsTerminal};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;
use verdict::{Sink, settle_entry, verdict, warnings};

use crate::cli::CheckArgs;
use crate::commands::check::missing::MissingSet;
use crate::commands::engine_config;
use crate::config;
use crate::config::Env;
use crate::exit::Exit;
use crate::manifest::read::{self, Opened};
use crate::names::escape::display;
use crate::pipeline::engine::{self, EngineConfig};
use crate::report::stderr::{ProgressMode, Reporter, say};
use crate::sys::cancel;
use crate::sys::open::Confine;
use crate::walk::WalkConfig;

pub fn run(args: CheckArgs, env: &Env) -> crate::exit::Ended {
    Ok(run_old(args, env))
}

fn run_old(mut args: CheckArgs, env: &Env) -> Exit {
    let started = Instant::now();
    // No MANIFEST: standard input, as `sha256sum -c` and `b3sum -c` read it — unless it is
    // a terminal, where waiting for a manifest to be typed helps no one.
    if args.manifests.is_empty() {
        if std::io::stdin().is_terminal() {
            say(format_args!(
                "no MANIFEST given and standard input is a terminal: name a manifest, or pipe \
                 one in (`b3tree check -` reads standard input)"
            ));
            return Exit::Usage;
        }
        args.manifests.push(PathBuf::from("-"));
    }
    let mode = ProgressMode::from_flags(args.progress, args.no_progress);
    // The audit walk's own narrowing (checked before any work: a bad GLOB is a usage error).
    let audit_walk = match config::excludes(&args.exclude) {
        Ok(excludes) => WalkConfig {
            excludes,
            one_file_system: args.one_file_system,
            max_depth: args.max_depth,
            ..WalkConfig::default()
        },
        Err(msg) => {
            say(format_args!("{msg}"));
            return Exit::Usage;
        }
    };
    let Opened {
        mut readers,
        names: manifest_names,
        ids: mut manifest_ids,
        rereadable,
    } = match read::open_all(&args.manifests) {
        Ok(m) => m,
        Err(why) => {
            say(format_args!("{why}"));
            return Exit::Usage;
        }
    };
    // The audit leaves out each manifest's own `--update` state, journals and `.partial` by
    // identity, as it leaves out the manifest: a file that merely has such a name is audited.
    for m in args.manifests.iter().filter(|m| m.as_os_str() != "-") {
        if let Ok(real) = std::fs::canonicalize(m) {
            manifest_ids.extend(crate::state::files::Place::of(&real).own_ids());
        }
    }
    if env.stdout_closed && !args.status {
        say(format_args!(
            "stdout is closed; nowhere to report (use --status)"
        ));
        return Exit::Fatal;
    }

    let algo_mode = match digest_mode(&args, &mut readers) {
        Ok(m) => m,
        Err(msg) => {
            say(format_args!("{msg}"));
            return Exit::Usage;
        }
    };
    // The length comes from the manifest itself (b3sum -l): a short one verifies little.
    if algo_mode.len < 16 {
        say(format_args!(
            "warning: the manifest's digests are {} bytes long: an OK says only that much (a \
             changed file matches by chance once in 2^{})",
            algo_mode.len,
            8 * algo_mode.len
        ));
    }
    let mut engine_cfg: EngineConfig = match engine_config(&args.engine) {
        Ok(cfg) => cfg,
        Err(fail) => {
            say(format_args!("{}", fail.message));
            return fail.exit;
        }
    };
    engine_cfg.mode = std::sync::Arc::new(algo_mode.clone());
    engine_cfg.confine = if args.allow_outside {
        Confine::Anywhere
    } else {
        Confine::Beneath
    };
    let mut reporter = Reporter::new(mode, false);
    let mut printer = Printer::new(&args, manifest_names);
    let mut counts = Counts::default();
    let mut held = MissingSet::new(
        args.manifests
            .iter()
            .zip(&rereadable)
            .map(|(p, &r)| r.then(|| p.clone()))
            .collect(),
    )
    .zero(args.zero);

    // The state `hash --update` left beside the manifest, if bound to it: names bit rot.
    let mut recorded = rot::Recorded::of(&args.manifests);
    // Pass 1: every manifest entry, in manifest order.
    // The audited directory is derived from the entries only when --audit-root does not name it.
    let find_common = args.audit && args.audit_root.is_none();
    let flags = ReadFlags {
        allow_outside: args.allow_outside,
        find_common,
        zero: args.zero,
        mode: algo_mode,
    };
    // The verdict writer records its own errors (its emit never fails); the source returns
    // what the manifests held.
    let mut info = engine::run(
        &engine_cfg,
        move |feeder| read_manifests(readers, flags, feeder),
        |done| {
            reporter.progress(&done.outcome);
            let mut sink = Sink {
                printer: &mut printer,
                counts: &mut counts,
                reporter: &mut reporter,
                recorded: recorded.as_mut(),
            };
            settle_entry(done, &args, &mut sink, &mut held);
            Ok(())
        },
    )
    .source;
    if let Some(names) = info.names.as_mut() {
        for (again, first) in names.finish() {
            counts.duplicates += 1;
            reporter.error(&format!(
                "{}: duplicate entry (first at {})",
                printer.loc(again),
                printer.loc(first)
            ));
        }
    }

    // Pass 2 (--audit): files present but not listed.
    let mut audit_skipped = 0u64;
    if args.audit && !cancel::is_stopped() && info.admitted > 0 {
        let root = match &args.audit_root {
            Some(dir) => Some(dir.as_os_str().as_bytes().to_vec()),
            None => info.common_dir.take(),
        };
        let root = match root {
            Some(d) if !d.is_empty() => PathBuf::from(std::ffi::OsStr::from_bytes(&d)),
            _ => PathBuf::from("."),
        };
        if !args.allow_outside && !lies_beneath_cwd(&root) {
            counts.outside += 1;
            reporter.error(&format!(
                "audit: {} lies outside the working directory (a symlink out?): not audited \
                 (--allow-outside audits it)",
                display(root.as_os_str().as_bytes())
            ));
        } else {
            let tree = Tree {
                root,
                known: info.names.take(),
                skip_files: manifest_ids,
                walk: audit_walk,
            };
            // The audit reads files beneath the working directory, like verification.
            let engine = engine_cfg.clone();
            let mut sink = Sink {
                printer: &mut printer,
                counts: &mut counts,
                reporter: &mut reporter,
                recorded: None,
            };
            audit_skipped = audit_tree(tree, &engine, &mut held, &mut sink);
        }
    } else if args.audit && info.entries > 0 && info.admitted == 0 {
        reporter.error("audit: no entry lies inside the working directory; nothing to audit");
    }
    // Missing entries held back for the audit, in manifest order.
    let reread = held.for_each_missing(|m| {
        counts.missing += 1;
        printer.missing(&m);
    });
    if let Err(e) = &reread {
        reporter.error(&format!(
            "cannot read the missing entries' names again: {e}"
        ));
    }
    reporter.finish();

    if cancel::was_interrupted() {
        // A JSON stream still ends with its summary (`"interrupted": true`), if stdout takes it.
        if args.json {
            printer.json_line(&counts.json(false));
            let _ = printer.finish();
        }
        reporter.error("interrupted");
        return Exit::Interrupted;
    }
    if let Err(e) = printer.finish() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            reporter.error(&format!("cannot write stdout: {e}"));
        }
        return Exit::Fatal;
    }
    if let Some(e) = info.read_error.take() {
        reporter.error(&e);
        return Exit::Usage;
    }
    if reread.is_err() {
        return Exit::Fatal;
    }

    let (code, mut notes) = verdict(&counts, info.entries, &args);
    notes.extend(warnings(&counts, &printer));
    if !args.status {
        for n in &notes {
            reporter.error(&format!("WARNING: {n}"));
        }
        if args.json {
            printer.json_line(&counts.json(code == Exit::Ok));
            if printer.finish().is_err() {
                return Exit::Fatal;
            }
        }
        if !args.quiet || code != Exit::Ok {
            let elapsed = started.elapsed().as_secs_f64();
            let audit = args.audit.then_some(audit_skipped);
            reporter.error(&counts.summary(audit, elapsed));
        }
    }
    code
}

/// The run's digest mode: the flags, else what the first manifest's first entry shows
/// (peeked at, not consumed); `--keyed` reads its key from standard input.
fn digest_mode(
    args: &CheckArgs,
    readers: &mut [Box<dyn std::io::BufRead + Send>],
) -> Result<crate::hash::algo::Mode, String> {
    let stdin_is_manifest = args.manifests.iter().any(|m| m.as_os_str() == "-");
    let key = crate::commands::read_key(args.keys.keyed, stdin_is_manifest, "a manifest")?;
    let first = readers.first_mut().and_then(|r| {
        let taken = std::mem::replace(r, Box::new(std::io::empty()));
        let (back, first) = read::peek_first_entry(taken, args.zero);
        *r = back;
        first
    });
    config::mode(args.algo, &args.keys, None, key, first)
}
