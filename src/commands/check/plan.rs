//! `check`'s plan: the manifests opened, the digest mode settled (from the flags or the
//! first entry), the audit's walk and the engine configured — every usage or fatal error
//! before a file is read.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::CheckArgs;
use crate::commands::{engine_config, read_key};
use crate::config::check::{CheckSettings, Terminals};
use crate::config::{self, Env};
use crate::exit::Fail;
use crate::hash::algo::Mode;
use crate::manifest::read::{self, Opened};
use crate::pipeline::engine::EngineConfig;
use crate::record::SignatureRecord;
use crate::report::stderr::say;
use crate::sys::open::Confine;
use crate::sys::roots::Roots;

use super::ci::{could_not_run, provisional_report};
use super::rotation::RotationPlan;
use super::signed;

/// What a `check` run is, before it starts.
pub(super) struct Plan {
    /// The flags, resolved: all the passes and the finish read.
    pub settings: CheckSettings,
    pub opened: Opened,
    pub mode: Mode,
    pub engine: EngineConfig,
    /// The manifest is a tree spec (`--format mtree`, or its first line is `#mtree`).
    pub spec: bool,
    /// Who signed each manifest, when signatures were verified.
    pub signatures: Vec<SignatureRecord>,
    /// `--subset`, `--max-duration`: the manifests opened again and their records.
    pub rotation: Option<RotationPlan>,
}

impl Plan {
    /// The plan; a run that cannot start says so to CI too (`ci::could_not_run`). The
    /// JUnit report's path is settled first, before anything else can fail.
    pub fn new(args: CheckArgs, env: &Env) -> Result<Plan, Fail> {
        let annotations = config::check::annotations(args.annotations, var);
        let report = match &args.junit {
            None => None,
            Some(path) => Some(
                provisional_report(path, &files_read(&args))
                    .inspect_err(|fail| could_not_run((annotations, None), fail))?,
            ),
        };
        let junit = report.is_some().then(|| args.junit.clone()).flatten();
        Plan::settle(args, env, report.flatten())
            .inspect_err(|fail| could_not_run((annotations, junit.as_deref()), fail))
    }

    fn settle(args: CheckArgs, env: &Env, report: Option<(u64, u64)>) -> Result<Plan, Fail> {
        let terminals = Terminals {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            no_color: anstyle_query::no_color(),
            force_color: anstyle_query::clicolor_force(),
        };
        let settings = config::check::check(&args, terminals, var).map_err(Fail::usage)?;
        let mut opened = read::open_all(&settings.manifests).map_err(Fail::usage)?;
        // The audit leaves out each manifest's own `--update` state, journals and `.partial`
        // by identity, as it leaves out the manifest: a file that merely has such a name is
        // audited.
        for m in settings.manifests.iter().filter(|m| m.as_os_str() != "-") {
            if let Ok(real) = std::fs::canonicalize(m) {
                opened
                    .ids
                    .extend(crate::state::files::Place::of(&real).own_ids());
            }
        }
        // An earlier report in the audited tree is not NEW.
        opened.ids.extend(report);
        if env.stdout_closed && !settings.status {
            return Err(Fail::fatal(
                "stdout is closed; nowhere to report (use --status)",
            ));
        }
        // Before a line is read: a manifest not trusted ends the run here.
        let signatures = signed::verify_manifests(&settings, &mut opened)?;
        let spec = is_spec(&settings, &mut opened.readers)?;
        let mode = if spec {
            Mode::default()
        } else {
            digest_mode(&args, &settings, &mut opened.readers).map_err(Fail::usage)?
        };
        // The length comes from the manifest itself (b3sum -l): a short one verifies little.
        if mode.len < 16 {
            say(format_args!(
                "warning: the manifest's digests are {} bytes long: an OK says only that much \
                 (a changed file matches by chance once in 2^{})",
                mode.len,
                8 * mode.len
            ));
        }
        // Names are opened from the working directory (`-C` changed to it).
        let engine = engine_config(&args.engine, &[std::path::Path::new(".")])?;
        let engine = EngineConfig {
            mode: Arc::new(mode.clone()),
            // A spec describes the tree as it lies (mtree walks it physically): `./d/f` is
            // the file f in the directory d, never one reached through a link d, even one
            // that stays in the tree. A manifest names content, found through in-tree links.
            // (--allow-outside changes nothing for a spec: its names are relative and hold
            // no `..`, only links could lead out, and none is followed.)
            confine: match (spec, settings.allow_outside) {
                (true, _) => Confine::NoSymlinks(Arc::new(Roots::new(vec![".".into()]))),
                (false, true) => Confine::Anywhere,
                (false, false) => Confine::Beneath,
            },
            ..engine
        };
        let rotation = rotation(&settings, &opened)?;
        Ok(Plan {
            settings,
            opened,
            mode,
            engine,
            spec,
            signatures,
            rotation,
        })
    }
}

/// Rotating verification's manifests opened again, and their records (what cannot be used
/// of them said once).
fn rotation(settings: &CheckSettings, opened: &Opened) -> Result<Option<RotationPlan>, Fail> {
    let Some(r) = settings.rotation else {
        return Ok(None);
    };
    let plan = RotationPlan::open(r, &settings.manifests, opened).map_err(Fail::usage)?;
    for notice in plan.notices() {
        say(format_args!("warning: {notice}"));
    }
    Ok(Some(plan))
}

/// The files a run with `args` may read besides the tree, by identity: the manifests,
/// their `--update` state, their signatures (named, or beside each manifest), the
/// allowed-signers file and a minisign key file. `--junit` never names one of them.
fn files_read(args: &CheckArgs) -> Vec<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let s = &args.signing;
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut ids = Vec::new();
    for m in args.manifests.iter().filter(|m| m.as_os_str() != "-") {
        for ext in ["", ".sig", ".minisig"] {
            let mut p = m.as_os_str().to_owned();
            p.push(ext);
            paths.push(PathBuf::from(p));
        }
        if let Ok(real) = std::fs::canonicalize(m) {
            ids.extend(crate::state::files::Place::of(&real).own_ids());
        }
    }
    paths.extend(s.signature.iter().chain(&s.allowed_signers).cloned());
    paths.extend(s.minisign_key.iter().map(PathBuf::from));
    let stat = |p: &PathBuf| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    ids.extend(paths.iter().filter_map(stat));
    ids
}

/// Whether the manifest is a tree spec: `--format`, else the first bytes of the first
/// manifest (peeked at, not consumed). A spec describes one tree and is checked alone; its
/// lines end with LF and its digests are plain ones: `-z` and BLAKE3 mode flags are refused.
fn is_spec(args: &CheckSettings, readers: &mut [Box<dyn BufRead + Send>]) -> Result<bool, Fail> {
    let spec = match args.spec {
        Some(spec) => spec,
        None => readers
            .first_mut()
            .and_then(|r| r.fill_buf().ok())
            .is_some_and(|head| head.starts_with(b"#mtree")),
    };
    if !spec {
        return Ok(false);
    }
    let refused = [
        (args.manifests.len() > 1, "several MANIFESTs"),
        (args.zero, "-z"),
        (args.blake3_flags, "--keyed, --derive-key or --length"),
    ];
    match refused.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(Fail::usage(format!(
            "checking a tree spec (mtree): not with {what} (a spec describes one tree, in lines \
             of plain digests)"
        ))),
        None => Ok(true),
    }
}

/// The run's digest mode: the flags, else what the first manifest's first entry shows
/// (peeked at, not consumed); `--keyed` reads its key from standard input.
fn digest_mode(
    args: &CheckArgs,
    settings: &CheckSettings,
    readers: &mut [Box<dyn BufRead + Send>],
) -> Result<Mode, String> {
    let stdin_is_manifest = settings.manifests.iter().any(|m| m.as_os_str() == "-");
    let key = read_key(args.keys.keyed, stdin_is_manifest, "a manifest")?;
    let first = readers.first_mut().and_then(|r| {
        let taken = std::mem::replace(r, Box::new(std::io::empty()));
        let (back, first) = read::peek_first_entry(taken, settings.zero);
        *r = back;
        first
    });
    config::mode(args.algo, &args.keys, None, key, first)
}

/// The environment's variable `name` (for `--shard auto`).
fn var(name: &str) -> Option<String> {
    config::shard_var(name)
}
