//! One module per subcommand: each wires the floors beneath it and returns how it ended.
//! Here beside them: the wiring several of them share (a walk fed into the engine, the
//! engine's configuration with its warnings said, `--keyed`'s key read).

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod diff;
pub(crate) mod digest;
pub(crate) mod docs;
pub(crate) mod hash;
pub(crate) mod merge;
pub(crate) mod repair;

use crate::cli::EngineArgs;
use crate::config;
use crate::exit::Fail;
use crate::hash::outcome::Action;
use crate::pipeline::engine::EngineConfig;
use crate::pipeline::queue::Feeder;
use crate::report::stderr::say;
use crate::walk::{WalkConfig, WalkStats, walk};

/// What a walk fed into the pipeline left out.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Walked {
    pub stats: WalkStats,
    /// Entries `keep` refused (other shards, names a manifest already lists).
    pub refused: u64,
}

/// The source most commands give the engine: the walk of `cfg`, each entry queued with the
/// action `keep(name, action)` gives it, unless that is None (the entry is refused).
pub(crate) fn walk_into(
    cfg: &WalkConfig,
    feeder: &mut Feeder<()>,
    mut keep: impl FnMut(&[u8], Action) -> Option<Action>,
) -> Walked {
    let mut refused = 0;
    let stats = walk(
        cfg,
        &mut |path, name, action| match keep(name.of(&path), action) {
            Some(action) => feeder.push(path, name, action, ()),
            None => {
                refused += 1;
                true
            }
        },
    );
    Walked { stats, refused }
}

/// [`walk_into`] for a `--files-from` list: each entry walked as a PATH, every directory it
/// names added to `roots` (the confinement of opens below it) before its entries are queued.
pub(crate) fn list_into(
    cfg: &WalkConfig,
    list: impl Iterator<Item = crate::walk::Listed>,
    roots: Option<std::sync::Arc<crate::sys::roots::Roots>>,
    feeder: &mut Feeder<()>,
    mut keep: impl FnMut(&[u8], Action) -> Option<Action>,
) -> Walked {
    let mut refused = 0;
    let before_dir = |dir: &std::path::Path| {
        if let Some(r) = &roots {
            r.add(dir);
        }
    };
    let stats = crate::walk::walk_list(
        cfg,
        list,
        &before_dir,
        &mut |path, name, action| match keep(name.of(&path), action) {
            Some(action) => feeder.push(path, name, action, ()),
            None => {
                refused += 1;
                true
            }
        },
    );
    Walked { stats, refused }
}

/// The pipeline's configuration for a command that reads files under `reading` (its roots,
/// or the directory names resolve from), its warnings said on stderr; a limit that leaves
/// too few descriptors is fatal. The adaptive default is fitted to those filesystems (a
/// FUSE mount gets fewer workers: `config::fit_to_filesystems`).
pub(crate) fn engine_config(
    args: &EngineArgs,
    reading: &[&std::path::Path],
) -> Result<EngineConfig, Fail> {
    let (cfg, warnings) = config::engine(args, descriptors()).map_err(Fail::fatal)?;
    for w in warnings {
        say(format_args!("{w}"));
    }
    let on_fuse = reading.iter().any(|p| crate::sys::fsinfo::is_fuse(p));
    Ok(config::fit_to_filesystems(cfg, on_fuse))
}

/// Raises RLIMIT_NOFILE as far as allowed and measures the descriptors in use and the CPUs
/// (once per configuration; repeating it is harmless).
pub(crate) fn descriptors() -> config::Descriptors {
    let (soft_limit, in_use) = crate::sys::limits::descriptors();
    config::Descriptors {
        soft_limit,
        in_use,
        cpus: crate::sys::limits::cpus(),
    }
}

/// `--keyed`'s key: up to 33 bytes of standard input (more than 32 is refused as b3sum
/// refuses it), when `keyed`. `stdin_taken`: standard input is already `what` (an input, a
/// manifest), so it cannot also hold the key.
pub(crate) fn read_key(
    keyed: bool,
    stdin_taken: bool,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    if !keyed {
        return Ok(None);
    }
    if stdin_taken {
        return Err(format!(
            "--keyed reads the key from standard input, so - cannot also be {what}"
        ));
    }
    let mut key = Vec::with_capacity(33);
    std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin(), 33), &mut key)
        .map_err(|e| format!("--keyed: cannot read the key from standard input: {e}"))?;
    Ok(Some(key))
}
