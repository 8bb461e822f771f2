//! Second layer of configuration: raw clap flags → validated, resolved settings.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::cli::{EngineArgs, WalkArgs};
use crate::pipeline::engine::EngineConfig;
use crate::sys::limits;
use crate::sys::open::Confine;
use crate::walk::WalkConfig;

/// Default worker count for `cpus` cores. See README "Defaults" for the measurement behind it.
pub fn default_jobs(cpus: usize) -> usize {
    (4 * cpus).max(8)
}

pub use crate::sys::limits::cpus;

/// What the process's descriptors allow: the soft RLIMIT_NOFILE and the descriptors already
/// open below it (measured by the caller, which raised the limit first).
#[derive(Debug, Clone, Copy)]
pub struct Descriptors {
    pub soft_limit: u64,
    pub in_use: usize,
}

/// Resolves the pipeline knobs; fails when the limit leaves too few descriptors. No I/O:
/// warnings come back beside the configuration.
pub fn engine(args: &EngineArgs, fds: Descriptors) -> Result<(EngineConfig, Vec<String>), String> {
    pipeline(
        args.jobs.map(|j| j as usize),
        args.queue.map(|q| q as usize),
        args.max_open.map(|m| m as usize),
        args.batch as usize,
        fds,
    )
}

/// [`engine`] from the values themselves (bench sweeps them): jobs, queue and open files,
/// each defaulted when None, and the batch size.
pub fn pipeline(
    jobs: Option<usize>,
    queue: Option<usize>,
    max_open: Option<usize>,
    batch: usize,
    fds: Descriptors,
) -> Result<(EngineConfig, Vec<String>), String> {
    let mut warnings = Vec::new();
    let jobs = jobs.unwrap_or_else(|| default_jobs(cpus()));
    let queue = queue.unwrap_or(2 * jobs);
    // What RLIMIT_NOFILE allows; more than that would only run into EMFILE (where the walker,
    // unlike the hasher, cannot wait), so a larger --max-open is lowered, with a warning.
    let budget = limits::budget(fds.soft_limit, fds.in_use)?;
    let max_open = match max_open {
        None => budget.max_open,
        Some(m) if m > budget.max_open => {
            let n = budget.max_open;
            warnings.push(if n == limits::MAX_OPEN_CEILING {
                format!("warning: --max-open {m}: b3tree holds at most {n} files open at once; using {n}")
            } else {
                format!(
                    "warning: --max-open {m} is more than the open-file limit allows ({} \
                     descriptors, {} in use); using {n}",
                    fds.soft_limit, fds.in_use
                )
            });
            budget.max_open
        }
        Some(m) => m,
    };
    let cfg = EngineConfig {
        jobs,
        queue,
        max_open,
        walker_dirs: budget.walker_dirs,
        batch,
        confine: Default::default(),
    };
    Ok((cfg, warnings))
}

/// Compiles `--exclude` globs; `None` when there are none.
pub fn excludes(globs: &[String]) -> Result<Option<GlobSet>, String> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|e| format!("invalid --exclude pattern {g:?}: {e}"))?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| format!("invalid --exclude patterns: {e}"))
}

/// The walk settings that come straight from flags (roots, excludes and the rest are set by
/// the command).
pub fn walk(args: &WalkArgs) -> WalkConfig {
    WalkConfig {
        follow: args.follow,
        read_devices: args.read_devices,
        one_file_system: args.one_file_system,
        max_depth: args.max_depth,
        ..WalkConfig::default()
    }
}

/// How the hasher opens what `walk` found: below the roots no symlink is followed unless the
/// walk follows them too (`-L`), so a symlink swapped in after the walk is never read through.
pub fn confine_for(walk: &WalkConfig) -> Confine {
    if walk.follow {
        Confine::Anywhere
    } else {
        Confine::NoSymlinks(std::sync::Arc::new(walk.roots.clone()))
    }
}

/// Facts about the process that only `main` can know.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// fd 1 was closed when the process started (std reopens it on /dev/null before `main`).
    pub stdout_closed: bool,
}
