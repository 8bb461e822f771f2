//! `b3tree hash`: walk → engine → manifest writer, and the exit code.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::cancel;
use crate::cli::HashArgs;
use crate::config;
use crate::digest::{OrderCheck, TreeDigest};
use crate::engine;
use crate::escape::{Escaping, display};
use crate::format::{Format, ManifestWriter};
use crate::job::Outcome;
use crate::output::Output;
use crate::report::{ProgressMode, Reporter};
use crate::summary::Summary;
use crate::walk::{WalkConfig, WalkStats, walk};
use crate::{Env, exit};

pub fn run(args: HashArgs, env: &Env) -> i32 {
    let started = Instant::now();
    let mode = ProgressMode::from_flags(args.progress, args.no_progress);
    let excludes = match config::excludes(&args.walk.exclude) {
        Ok(x) => x,
        Err(msg) => {
            eprintln!("b3tree: {msg}");
            return exit::USAGE;
        }
    };
    let engine_cfg = config::engine(&args.engine);
    let output = match Output::for_target(args.output.as_deref(), env.stdout_closed) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("b3tree: {msg}");
            return exit::FATAL;
        }
    };
    // A terminal gets control characters escaped; files and pipes get b3sum's format.
    let escaping = if args.output.is_none() && io::stdout().is_terminal() {
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
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let walk_cfg = WalkConfig {
        roots,
        excludes,
        skip_files: output.own_files(),
        shard: args.shard,
        ..config::walk(&args.walk)
    };

    let mut reporter = Reporter::new(mode, args.quiet);
    let mut writer = ManifestWriter::new(output, format, escaping);
    let mut summary = Summary::default();
    let mut tree_digest = args.digest.then(TreeDigest::new);
    // The digest and `merge` need the names in canonical order; several PATHs given out of
    // that order, or one inside another, break it (the manifest itself is fine for check).
    let mut order = (args.digest || args.shard.is_some()).then(OrderCheck::default);
    let mut broken: Option<String> = None;
    let stats = Arc::new(WalkStats::default());
    let walk_stats = stats.clone();
    let result = engine::run(
        &engine_cfg,
        move |feeder| walk(&walk_cfg, &walk_stats, feeder),
        |done| {
            if let Outcome::Hashed { hash, .. } = &done.outcome {
                if let Some(Err(last)) = order.as_mut().map(|o| o.next(&done.name)) {
                    broken.get_or_insert_with(|| {
                        format!("{} comes after {}", display(&done.name), display(last))
                    });
                }
                if let Some(d) = &mut tree_digest {
                    d.add(&done.name, hash.as_bytes());
                }
            }
            summary.add(&done.outcome);
            reporter.outcome(&done.name, &done.outcome);
            writer.record(&done.name, &done.outcome)
        },
    );
    summary.excluded = stats.excluded.load(Ordering::Relaxed);
    summary.other_shards = stats.other_shards.load(Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    summary.interrupted = cancel::was_interrupted();
    reporter.finish();

    if summary.interrupted {
        drop(writer); // removes an -o temporary file; the old FILE stays as it was
        reporter.error(&summary.line());
        return exit::INTERRUPTED;
    }
    let written = result
        .and_then(|()| writer.summary(&summary))
        .and_then(|()| writer.into_inner().commit());
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::BrokenPipe {
            let target = args
                .output
                .as_ref()
                .map_or("stdout".into(), |p| p.display().to_string());
            reporter.error(&format!("cannot write {target}: {e}"));
        }
        return exit::FATAL;
    }
    reporter.info(&summary.line());
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
        return exit::FAILED;
    }
    if let Some(d) = tree_digest {
        if summary.errors == 0 {
            reporter.error(&format!("digest {}", d.finish()));
        } else {
            reporter.error("no digest: some entries could not be hashed");
        }
    }
    if summary.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}
