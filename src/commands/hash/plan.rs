//! `hash`'s plan: every flag checked and resolved (by `config::hash`), and everything the
//! run needs acquired before a file is read — the `--files-from` list, the output, the
//! `--update` state and journal, the walk and engine wired. A usage or fatal error ends
//! the command here, before any work.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cli::HashArgs;
use crate::commands::hash::list::{self, List};
use crate::commands::hash::outboard::{self, Keep};
use crate::commands::{engine_config, read_key};
use crate::config::{self, Env, HashSettings};
use crate::exit::Fail;
use crate::output::{Output, Target};
use crate::pipeline::engine::EngineConfig;
use crate::report::stderr::say;
use crate::state::files::{Place, ids_of};
use crate::state::options::Wanted;
use crate::state::outboard::Outboard;
use crate::state::session::{self, Sources, Update};
use crate::walk::WalkConfig;

/// What a `hash` run is, before it starts.
pub(super) struct Plan {
    pub settings: HashSettings,
    /// `--files-from`'s list, opened.
    pub list: Option<List>,
    pub output: Output,
    /// The `-o` file with symlinks resolved (None: stdout or a device).
    pub output_real: Option<PathBuf>,
    /// `--update`: this run's journal, and the sources of known digests.
    pub update: Option<(Update, Sources)>,
    pub walk: WalkConfig,
    pub engine: EngineConfig,
    /// `--outboard`: what the sink keeps, and the old outboard for `--update`'s walk.
    pub outboard: Option<(Keep, Option<Outboard>)>,
}

impl Plan {
    /// `wall_start`: when the run started, before any stat (the racy rule of `--update`
    /// compares file times with it).
    pub fn new(args: &HashArgs, env: &Env, wall_start: SystemTime) -> Result<Plan, Fail> {
        let stdin_is_input = args.paths.iter().any(|p| p.as_os_str() == "-")
            || args
                .files_from
                .as_ref()
                .is_some_and(|f| f.as_os_str() == "-");
        let key = read_key(args.keys.keyed, stdin_is_input, "an input").map_err(Fail::usage)?;
        let stdout_terminal = io::stdout().is_terminal();
        let (settings, excludes) =
            config::hash(args, key, stdout_terminal, config::shard_var).map_err(Fail::usage)?;
        if args.raw && !names_one_file(&args.paths) {
            return Err(Fail::usage(
                "--raw writes one digest: give exactly one file (or -), as b3sum",
            ));
        }
        let list = args
            .files_from
            .as_deref()
            .map(|path| list::open(path, args.null))
            .transpose()
            .map_err(Fail::usage)?;
        let roots = roots(args);
        if settings.update {
            in_canonical_order(&roots)?;
        }
        let mut output =
            open_output(settings.output.as_deref(), &roots, env).map_err(Fail::fatal)?;
        if settings.update {
            // The new state is bound to these bytes; if they are the manifest in place, that
            // file is kept and the new one dropped.
            output.digest_as_written();
        }
        let output_real = output.own_path();
        let real = output_real.as_deref();
        let update = (settings.update)
            .then(|| prepare_update((args, &settings), &roots, real, wall_start))
            .transpose()?;
        if settings.spec.is_some() {
            one_directory(&roots)?;
        }
        let outboard = prepare_outboard(&settings, output_real.as_deref())?;
        let walk = WalkConfig {
            roots,
            excludes,
            skip_temp_names: true,
            roots_named: true,
            // A spec names entries relative to its one directory (`./a`), as mtree and
            // bsdtar do, so that `mtree -p DIR` and `check -C DIR` read it.
            relative_names: settings.spec.is_some(),
            describe: settings.spec.is_some(),
            ..config::walk(&args.walk)
        };
        let temp = outboard.as_ref().and_then(|(keep, _)| keep.temp_id());
        let walk = leave_out_own(
            walk,
            (&output, temp),
            output_real.as_deref(),
            update.as_ref(),
        );
        let reading: Vec<&Path> = walk.roots.iter().map(PathBuf::as_path).collect();
        let engine = engine_config(&args.engine, &reading)?;
        let (walk, engine) = config::wire(walk, engine);
        let engine = EngineConfig {
            mode: std::sync::Arc::new(settings.mode.clone()),
            // A stopped --update run keeps what it finished in its journal.
            salvage: update.is_some(),
            ..engine
        };
        Ok(Plan {
            settings,
            list,
            output,
            output_real,
            update,
            walk,
            engine,
            outboard,
        })
    }
}

/// `--outboard`: the spool started, the new outboard begun, the old one opened.
fn prepare_outboard(
    settings: &HashSettings,
    real: Option<&Path>,
) -> Result<Option<(Keep, Option<Outboard>)>, Fail> {
    let Some(group) = settings.outboard else {
        return Ok(None);
    };
    outboard::prepare(real, group, &settings.mode, settings.update).map(Some)
}

/// The process-wide settings of b3sum's flags, applied once, before any big file is hashed:
/// `--num-threads` sizes the pool BLAKE3 spreads one file over (its threads named, so that
/// `ps -L` and a test can count them) and `--no-mmap` switches mappings off.
pub(super) fn apply_process_settings(args: &HashArgs) {
    if let Some(n) = args.num_threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .thread_name(|i| format!("b3tree-rayon-{i}"))
            .build_global();
    }
    if args.no_mmap {
        crate::hash::big::disable_mmap();
    }
}

/// A tree spec is of one directory (its entries are named relative to it).
fn one_directory(roots: &[PathBuf]) -> Result<(), Fail> {
    match roots {
        [one] if std::fs::metadata(one).is_ok_and(|m| m.is_dir()) => Ok(()),
        [one] => Err(Fail::usage(format!(
            "--format mtree describes a directory: {} is not one",
            one.display()
        ))),
        _ => Err(Fail::usage(
            "--format mtree describes one directory: give one PATH (a spec names its entries \
             relative to it)",
        )),
    }
}

/// `--raw`'s one input: exactly one PATH that is not a directory (or `-`).
fn names_one_file(paths: &[PathBuf]) -> bool {
    paths.len() == 1
        && std::fs::metadata(&paths[0]).map_or(paths[0].as_os_str() == "-", |m| !m.is_dir())
}

/// The PATHs walked: as given, `.` when none (said when standard input is a pipe that will
/// not be read), none for a `--files-from` list (its entries are the PATHs).
fn roots(args: &HashArgs) -> Vec<PathBuf> {
    if args.files_from.is_some() {
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
    }
}

/// The walk leaves out the run's own files: the -o file (and the new outboard's temporary
/// file) and, by identity, the files that belong to it — state, journals, `.partial` (with or without `--update`, so that both
/// runs hash the same files) — however a PATH or a listed entry spells them; and the same
/// by path (this run's journal, created by `session::prepare`, is among them, named once
/// more so that leaving it out does not hang on the listing).
fn leave_out_own(
    walk: WalkConfig,
    (output, outboard_temp): (&Output, Option<(u64, u64)>),
    output_real: Option<&Path>,
    update: Option<&(Update, Sources)>,
) -> WalkConfig {
    let mut own = output_real
        .map(|p| Place::of(p).own_paths())
        .unwrap_or_default();
    own.extend(
        output_real
            .map(|p| stale_signatures(p, &walk.roots))
            .unwrap_or_default(),
    );
    WalkConfig {
        skip_files: (output.own_files().into_iter())
            .chain(ids_of(&own))
            .chain(outboard_temp)
            .collect(),
        skip_paths: output_real
            .map(Path::to_path_buf)
            .into_iter()
            .chain(own)
            .chain(update.map(|(u, _)| u.journal_path().to_path_buf()))
            .collect(),
        ..walk
    }
}

/// The signatures of the manifest being written (`OUT.sig`, `OUT.minisig`) that lie in a
/// tree being hashed: left out (said per file, as every own file is), because the new
/// manifest makes them stale, and a manifest listing its own signature could never be
/// signed again and still verify.
fn stale_signatures(output_real: &Path, roots: &[PathBuf]) -> Vec<PathBuf> {
    [".sig", ".minisig"]
        .into_iter()
        .map(|ext| {
            let mut p = output_real.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        })
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
        .filter(|p| roots.iter().any(|r| lies_inside(p, r)))
        .collect()
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

/// `--update` reads its state as a cursor: the roots must come in canonical order.
fn in_canonical_order(roots: &[PathBuf]) -> Result<(), Fail> {
    match config::order_problem(roots) {
        None => Ok(()),
        Some(why) => Err(Fail::usage(format!(
            "--update reads its state in canonical order: {why} (give PATHs in that order and \
             not inside one another, or hash one directory with -C DIR)"
        ))),
    }
}

/// `--update`'s state, prepared beside the manifest `real` (`-o`'s file, symlinks followed).
fn prepare_update(
    (args, settings): (&HashArgs, &HashSettings),
    roots: &[PathBuf],
    real: Option<&Path>,
    wall_start: SystemTime,
) -> Result<(Update, Sources), Fail> {
    let Some(real) = real else {
        return Err(Fail::usage(
            "--update keeps its state beside the manifest: -o must name a regular file",
        ));
    };
    let options = config::options_text(args, roots, settings.shard, &settings.mode);
    let wanted = Wanted {
        text: &options,
        name: config::option_flag,
    };
    let notice = &mut |n: String| say(format_args!("{n}"));
    session::prepare(real, &wanted, wall_start, notice).map_err(Fail::fatal)
}
