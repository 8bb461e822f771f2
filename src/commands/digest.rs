//! `b3tree digest`: one versioned root digest of a tree, from the files (through the engine)
//! or from a manifest (without reading the files). The definition lives in `digest` and
//! docs/digest.md.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;

use indicatif::HumanBytes;

use crate::cli::DigestArgs;
use crate::commands::{engine_config, walk_into};
use crate::config;
use crate::config::Env;
use crate::exit::{Ended, Exit, Fail};
use crate::hash::algo::Digest;
use crate::hash::outcome::Outcome;
use crate::manifest::read::{self, LineReader, StrictError};
use crate::names::escape::display;
use crate::names::nameset::normalize;
use crate::names::order::{OrderCheck, canonical_cmp};
use crate::output::Output;
use crate::pipeline::engine;
use crate::report::stderr::{ProgressMode, Reporter};
use crate::report::summary::{Skips, count, plural};
use crate::sys::cancel;
use crate::tree_digest::TreeDigest;
use crate::walk::WalkConfig;

pub fn run(args: DigestArgs, env: &Env) -> Ended {
    if env.stdout_closed {
        return Err(Fail::fatal("stdout is closed; nowhere to print the digest"));
    }
    let digest = match &args.from {
        Some(m) => from_manifest(m)?,
        None => match from_tree(&args)? {
            Ok(d) => d,
            Err(exit) => return Ok(exit),
        },
    };
    let mut out = Output::stdout();
    writeln!(out, "{digest}")
        .and_then(|()| out.commit())
        .map_err(|e| Fail::unwritten("stdout", &e))?;
    Ok(Exit::Ok)
}

/// The digest of the tree, or how a run without one ended (interrupted, entries that could
/// not be hashed).
fn from_tree(args: &DigestArgs) -> Result<Result<String, Exit>, Fail> {
    let started = Instant::now();
    let excludes = config::excludes(&args.walk.exclude).map_err(Fail::usage)?;
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let engine_cfg = engine_config(&args.engine, &[root.as_path()])?;
    let (walk_cfg, engine_cfg) = config::wire(
        WalkConfig {
            roots: vec![root],
            excludes,
            relative_names: true,
            roots_named: true,
            ..config::walk(&args.walk)
        },
        engine_cfg,
    );
    let mut reporter = Reporter::new(ProgressMode::Auto, args.quiet);
    let mut digest = TreeDigest::new();
    let (mut bytes, mut errors, mut skipped) = (0u64, 0u64, Skips::default());
    // The emit closure never fails: only the walk's counts matter.
    let walked = engine::run(
        &engine_cfg,
        move |feeder| walk_into(&walk_cfg, feeder, |_, a| Some(a)),
        |done| {
            reporter.outcome(&done.name, &done.outcome);
            match &done.outcome {
                Outcome::Hashed { hash, size } => {
                    if let Digest::Blake3(h) = hash {
                        digest.add(&normalize(&done.name), h.as_bytes());
                    }
                    bytes += size;
                }
                Outcome::Failed(_) => errors += 1,
                Outcome::Skipped(kind) => skipped.add(*kind),
                // The walk of digest describes nothing.
                Outcome::Described { .. } => {}
            }
            Ok(())
        },
    );
    reporter.finish();
    if cancel::was_interrupted() {
        reporter.error("interrupted");
        return Ok(Err(Exit::Interrupted));
    }
    if errors > 0 {
        let what = plural(errors, "entry", "entries");
        reporter.error(&format!("no digest: {what} could not be hashed"));
        return Ok(Err(Exit::Failed));
    }
    let excluded = match walked.source.stats.excluded {
        0 => String::new(),
        n => format!(", {n} excluded"),
    };
    reporter.info(&format!(
        "digest of {}, {} ({} skipped, not covered{}{excluded}){} in {:.2} s",
        count(digest.count(), "file"),
        HumanBytes(bytes),
        skipped.total(),
        match skipped.total() {
            0 => String::new(),
            _ => format!(": {}", skipped.kinds()),
        },
        engine_cfg.links.shared().phrase(),
        started.elapsed().as_secs_f64()
    ));
    Ok(Ok(digest.finish()))
}

/// Sorted input (what `hash` and `merge` write) is digested as it is read, in constant
/// memory. At the first entry out of canonical order (b3sum or `find` output) the manifest is
/// read again, whole, and sorted: memory in proportion to it, for that case only. Standard
/// input cannot be read twice, so it is always sorted.
fn from_manifest(path: &std::path::Path) -> Result<String, Fail> {
    let shown = display(path.as_os_str().as_bytes());
    if path.as_os_str() != "-" {
        let mut digest = TreeDigest::new();
        let mut order = OrderCheck::default();
        let all_read = read_entries(path, &shown, |name, hash| match order.next(&name) {
            Ok(()) => {
                digest.add(&name, &hash);
                Ok(true)
            }
            Err(last) if last == name.as_slice() => Err(duplicate(&shown, &name)),
            // Out of order: read again and sort.
            Err(_) => Ok(false),
        })?;
        if all_read {
            return Ok(digest.finish());
        }
    }
    let mut entries: Vec<(Vec<u8>, [u8; 32])> = Vec::new();
    read_entries(path, &shown, |name, hash| {
        entries.push((name, hash));
        Ok(true)
    })?;
    entries.sort_by(|a, b| canonical_cmp(&a.0, &b.0));
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(duplicate(&shown, &w[0].0));
    }
    let mut digest = TreeDigest::new();
    for (name, hash) in &entries {
        digest.add(name, hash);
    }
    Ok(digest.finish())
}

fn duplicate(shown: &str, name: &[u8]) -> Fail {
    Fail::failed(format!("{shown}: duplicate entry {}", display(name)))
}

/// Hands each entry of the manifest (name normalised) to `each` until it returns false.
/// Returns whether every line was read; a malformed line or a read error ends the run.
fn read_entries(
    path: &std::path::Path,
    shown: &str,
    mut each: impl FnMut(Vec<u8>, [u8; 32]) -> Result<bool, Fail>,
) -> Result<bool, Fail> {
    let cannot_read = |e| Fail::usage(format!("cannot read manifest {shown}: {e}"));
    let (reader, _) = read::open(path).map_err(cannot_read)?;
    let mut lines = LineReader::new(reader);
    loop {
        match lines.next_entry() {
            Ok(None) => return Ok(true),
            Ok(Some(e)) => {
                // The tree digest is defined over default BLAKE3 digests only: a plausible
                // wrong b3t1 is worse than none.
                let Some(hash) = e.blake3() else {
                    return Err(Fail::failed(format!(
                        "{shown}:{}: not a default BLAKE3 digest (-l, SHA-2...): b3t1 is defined \
                         over those only",
                        lines.line_no
                    )));
                };
                if !each(normalize(&e.name), hash)? {
                    return Ok(false);
                }
            }
            Err(StrictError::Malformed(line, why)) => {
                return Err(Fail::failed(format!(
                    "{shown}:{line}: improperly formatted line: {why}"
                )));
            }
            Err(StrictError::Io(e)) => return Err(cannot_read(e)),
        }
    }
}
