//! Second layer of configuration: raw clap flags → validated, resolved settings.
//!
//! Plain values only: nothing here opens a file, prints or sets process-wide state (the
//! rayon pool, `--no-mmap`): what needs I/O is measured or read by the command's plan and
//! handed in (descriptors, the key, whether stdout is a terminal); warnings come back as
//! values for the command to say.

pub mod bench;
pub mod check;
mod hash;
mod shard;

pub use hash::{HashSettings, hash, option_flag, options_text, order_problem};
pub use shard::{shard, var as shard_var};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::cli::{AlgoArg, EngineArgs, KeyArgs, WalkArgs};
use crate::hash::algo::{Algo, Mode};
use crate::pipeline::engine::EngineConfig;
use crate::sys::limits;
use crate::sys::open::Confine;
use crate::walk::WalkConfig;

/// Default worker count for `cpus` cores. See docs/performance.md "Defaults" for the measurement behind it.
pub fn default_jobs(cpus: usize) -> usize {
    (4 * cpus).max(8)
}

/// What the machine and the process allow, measured by the caller (which raised the limit
/// first): the soft RLIMIT_NOFILE, the descriptors already open below it, and the CPUs this
/// process may run on.
#[derive(Debug, Clone, Copy)]
pub struct Descriptors {
    pub soft_limit: u64,
    pub in_use: usize,
    pub cpus: usize,
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
    let adaptive = jobs.is_none();
    let jobs = jobs.unwrap_or_else(|| default_jobs(fds.cpus));
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
        mode: Default::default(),
        salvage: false,
        links: Default::default(),
        adaptive,
        ceiling: crate::pipeline::gate::MAX_WORKERS,
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
        // globset's own message repeats the pattern raw: only its kind is said, and the
        // pattern escaped (control characters never reach a terminal).
        let glob = Glob::new(g).map_err(|e| {
            format!(
                "invalid --exclude pattern {}: {}",
                crate::names::escape::display(g.as_bytes()),
                e.kind()
            )
        })?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| format!("invalid --exclude patterns: {}", e.kind()))
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

/// Walk and engine wired together, the one way every command that walks does it: the hasher
/// opens what the walk found confined as the walk was ([`confine_for`]), and the walk holds
/// at most the directories the descriptor budget leaves it.
pub fn wire(walk: WalkConfig, engine: EngineConfig) -> (WalkConfig, EngineConfig) {
    let engine = EngineConfig {
        confine: confine_for(&walk),
        ..engine
    };
    let walk = WalkConfig {
        max_open_dirs: engine.walker_dirs,
        ..walk
    };
    (walk, engine)
}

/// The most workers the adaptive default lets loose on a FUSE filesystem: its one daemon
/// queues the rest. sshfs to 127.0.0.1, 20,000 small files, mounted afresh (hyperfine means
/// of 3): `-j 8` 3.64 s, `-j 16` 3.53 s, `-j 32` 4.26 s, and the gate grown to 128: 5.34 s.
const FUSE_CEILING: usize = 16;

/// The adaptive default's ceiling when files are read from a FUSE filesystem (the plan
/// asks `sys::fsinfo::is_fuse`): [`FUSE_CEILING`] workers. A fixed `--jobs` stays as given.
pub fn fit_to_filesystems(engine: EngineConfig, on_fuse: bool) -> EngineConfig {
    if !engine.adaptive || !on_fuse {
        return engine;
    }
    EngineConfig {
        jobs: engine.jobs.min(FUSE_CEILING),
        ceiling: engine.ceiling.min(FUSE_CEILING),
        ..engine
    }
}

/// How the hasher opens what `walk` found: below the roots no symlink is followed unless the
/// walk follows them too (`-L`), so a symlink swapped in after the walk is never read through.
pub fn confine_for(walk: &WalkConfig) -> Confine {
    if walk.follow {
        Confine::Anywhere
    } else {
        Confine::NoSymlinks(std::sync::Arc::new(crate::sys::roots::Roots::new(
            walk.roots.clone(),
        )))
    }
}

/// Facts about the process that only `main` can know.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// fd 1 was closed when the process started (std reopens it on /dev/null before `main`).
    pub stdout_closed: bool,
}

/// The digest mode: `algo` as given (None: what the first entry's `--tag` name says, else
/// BLAKE3), BLAKE3's modes from `keys` and `seek`, `key` the bytes `--keyed` read from
/// standard input; `first` (check only): the first entry's tag algorithm and digest length,
/// whose length is taken for BLAKE3 when `-l` does not give one.
pub fn mode(
    algo: Option<AlgoArg>,
    keys: &KeyArgs,
    seek: Option<u64>,
    key: Option<Vec<u8>>,
    first: Option<(Option<Algo>, usize)>,
) -> Result<Mode, String> {
    let algo = match (algo, first.and_then(|(tag, _)| tag)) {
        (Some(AlgoArg::Blake3), _) | (None, None | Some(Algo::Blake3)) => Algo::Blake3,
        (Some(AlgoArg::Sha256), _) | (None, Some(Algo::Sha256)) => Algo::Sha256,
        (Some(AlgoArg::Sha512), _) | (None, Some(Algo::Sha512)) => Algo::Sha512,
    };
    let blake3_only =
        keys.keyed || keys.derive_key.is_some() || keys.length.is_some() || seek.is_some();
    if algo != Algo::Blake3 && blake3_only {
        return Err(format!(
            "--keyed, --derive-key, --length and --seek are BLAKE3's modes, not {}'s",
            algo.tag()
        ));
    }
    let len = match (algo, keys.length) {
        (Algo::Blake3, Some(l)) => l as usize,
        (Algo::Blake3, None) => first.map_or(32, |(_, len)| len),
        (other, _) => other.default_len(),
    };
    let key = match key {
        Some(k) => Some(<[u8; 32]>::try_from(k.as_slice()).map_err(|_| {
            format!(
                "--keyed: the key on standard input must be exactly 32 bytes, not {}",
                k.len()
            )
        })?),
        None => None,
    };
    Ok(Mode {
        algo,
        key,
        context: keys.derive_key.clone(),
        len,
        seek: seek.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuse_caps_the_adaptive_default_and_leaves_a_fixed_jobs_alone() {
        let fds = Descriptors {
            soft_limit: 4096,
            in_use: 3,
            cpus: 16,
        };
        let (adaptive, _) = pipeline(None, None, None, 256, fds).unwrap();
        assert_eq!(adaptive.max_workers(), crate::pipeline::gate::MAX_WORKERS);
        let capped = fit_to_filesystems(adaptive.clone(), true);
        assert_eq!(
            (capped.jobs, capped.max_workers()),
            (FUSE_CEILING, FUSE_CEILING)
        );
        let local = fit_to_filesystems(adaptive, false);
        assert_eq!(local.max_workers(), crate::pipeline::gate::MAX_WORKERS);
        let (fixed, _) = pipeline(Some(64), None, None, 256, fds).unwrap();
        let fixed = fit_to_filesystems(fixed, true);
        assert_eq!((fixed.jobs, fixed.max_workers()), (64, 64));
    }
}
