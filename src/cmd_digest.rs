//! `b3tree digest`: one versioned root digest of a tree, from the files (through the engine)
//! or from a manifest (without reading the files). The definition lives in `digest` and
//! docs/digest.md.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use indicatif::HumanBytes;

use crate::cancel;
use crate::cli::DigestArgs;
use crate::config;
use crate::digest::{TreeDigest, canonical_cmp};
use crate::engine;
use crate::escape::display;
use crate::job::Outcome;
use crate::manifest::{self, Line, LineReader};
use crate::nameset::normalize;
use crate::report::{ProgressMode, Reporter};
use crate::walk::{WalkConfig, WalkStats, walk};
use crate::{Env, exit};

pub fn run(args: DigestArgs, env: &Env) -> i32 {
    if env.stdout_closed {
        eprintln!("b3tree: stdout is closed; nowhere to print the digest");
        return exit::FATAL;
    }
    let result = match &args.from {
        Some(m) => from_manifest(m),
        None => from_tree(&args),
    };
    match result {
        Ok(digest) => {
            let mut out = io::stdout().lock();
            match writeln!(out, "{digest}").and_then(|()| out.flush()) {
                Ok(()) => exit::OK,
                Err(e) => {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        eprintln!("b3tree: cannot write stdout: {e}");
                    }
                    exit::FATAL
                }
            }
        }
        Err(code) => code,
    }
}

fn from_tree(args: &DigestArgs) -> Result<String, i32> {
    let started = Instant::now();
    let excludes = config::excludes(&args.walk.exclude).map_err(|msg| {
        eprintln!("b3tree: {msg}");
        exit::USAGE
    })?;
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let walk_cfg = WalkConfig {
        roots: vec![root],
        excludes,
        relative_names: true,
        ..config::walk(&args.walk)
    };
    let engine_cfg = config::engine(&args.engine);
    let mut reporter = Reporter::new(ProgressMode::Auto, args.quiet);
    let mut digest = TreeDigest::new();
    let (mut bytes, mut errors, mut skipped) = (0u64, 0u64, 0u64);
    let stats = Arc::new(WalkStats::default());
    let _ = engine::run(
        &engine_cfg,
        move |feeder| walk(&walk_cfg, &stats, feeder),
        |done| {
            reporter.outcome(&done.name, &done.outcome);
            match &done.outcome {
                Outcome::Hashed { hash, size } => {
                    digest.add(&normalize(&done.name), hash.as_bytes());
                    bytes += size;
                }
                Outcome::Failed(_) => errors += 1,
                Outcome::Skipped(_) => skipped += 1,
            }
            Ok(())
        },
    );
    reporter.finish();
    if cancel::was_interrupted() {
        reporter.error("interrupted");
        return Err(exit::INTERRUPTED);
    }
    if errors > 0 {
        reporter.error(&format!("no digest: {errors} entries could not be hashed"));
        return Err(exit::FAILED);
    }
    reporter.info(&format!(
        "digest of {} files, {} ({} skipped, not covered) in {:.2} s",
        digest.count(),
        HumanBytes(bytes),
        skipped,
        started.elapsed().as_secs_f64()
    ));
    Ok(digest.finish())
}

fn from_manifest(path: &std::path::Path) -> Result<String, i32> {
    let shown = display(path.as_os_str().as_bytes());
    let reader = match manifest::open(path) {
        Ok((reader, _)) => reader,
        Err(e) => {
            eprintln!("b3tree: cannot read manifest {shown}: {e}");
            return Err(exit::USAGE);
        }
    };
    let mut lines = LineReader::new(reader);
    let mut entries: Vec<(Vec<u8>, [u8; 32])> = Vec::new();
    loop {
        match lines.next_line() {
            Ok(None) => break,
            Ok(Some(Line::Comment)) => {}
            Ok(Some(Line::Entry(e))) => entries.push((normalize(&e.name), e.hash)),
            Ok(Some(Line::Malformed(why))) => {
                eprintln!(
                    "b3tree: {shown}:{}: improperly formatted line: {why}",
                    lines.line_no
                );
                return Err(exit::FAILED);
            }
            Err(e) => {
                eprintln!("b3tree: cannot read manifest {shown}: {e}");
                return Err(exit::USAGE);
            }
        }
    }
    // Manifests from b3sum or find need not be in canonical order: sort.
    entries.sort_by(|a, b| canonical_cmp(&a.0, &b.0));
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        eprintln!("b3tree: {shown}: duplicate entry {}", display(&w[0].0));
        return Err(exit::FAILED);
    }
    let mut digest = TreeDigest::new();
    for (name, hash) in &entries {
        digest.add(name, hash);
    }
    Ok(digest.finish())
}
