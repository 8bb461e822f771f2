//! One module per subcommand: each wires the floors beneath it and returns an exit code.

pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod digest;
pub(crate) mod docs;
pub(crate) mod hash;
pub(crate) mod list;
pub(crate) mod merge;
pub(crate) mod modes;
pub(crate) mod update;

use crate::cli::EngineArgs;
use crate::config;
use crate::exit::Exit;
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
    let stats = walk(cfg, &mut |path, name, action| match keep(&name, action) {
        Some(action) => feeder.push(path, name, action, ()),
        None => {
            refused += 1;
            true
        }
    });
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
        &mut |path, name, action| match keep(&name, action) {
            Some(action) => feeder.push(path, name, action, ()),
            None => {
                refused += 1;
                true
            }
        },
    );
    Walked { stats, refused }
}

/// The pipeline's configuration for a command, its warnings said on stderr; a limit that
/// leaves too few descriptors is fatal.
pub(crate) fn engine_config(args: &EngineArgs) -> Result<EngineConfig, Exit> {
    match config::engine(args, descriptors()) {
        Ok((cfg, warnings)) => {
            for w in warnings {
                say(format_args!("{w}"));
            }
            Ok(cfg)
        }
        Err(msg) => {
            say(format_args!("{msg}"));
            Err(Exit::Fatal)
        }
    }
}

/// Raises RLIMIT_NOFILE as far as allowed and measures the descriptors in use (once per
/// configuration; repeating it is harmless).
pub(crate) fn descriptors() -> config::Descriptors {
    let (soft_limit, in_use) = crate::sys::limits::descriptors();
    config::Descriptors { soft_limit, in_use }
}
