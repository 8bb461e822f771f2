//! `hash`'s flags resolved once, into the values its plan, sink and finish read: nothing
//! else in the command looks at a flag to decide something.

use std::path::PathBuf;

use globset::GlobSet;

use crate::cli::{FormatArg, HashArgs};
use crate::hash::algo::Mode;

use crate::manifest::mtree::write::Keywords;
use crate::manifest::write::{Format, Shape};
use crate::names::escape::{Escaping, display};
use crate::names::order::canonical_cmp;
use crate::report::stderr::ProgressMode;

/// What `hash` does, as plain values.
#[derive(Debug)]
pub struct HashSettings {
    pub progress: ProgressMode,
    pub quiet: bool,
    /// `--shard`, resolved (auto read from the CI engine's variables).
    pub shard: Option<(u64, u64)>,
    pub mode: Mode,
    pub shape: Shape,
    pub format: Format,
    /// `--format mtree`: a tree spec, with these optional keywords (in mtree or, with
    /// `--json`, JSON records).
    pub spec: Option<Keywords>,
    pub escaping: Escaping,
    /// `--digest`: the tree digest after the run.
    pub tree_digest: bool,
    /// `--files-from` was given (its list is read by the plan).
    pub listed: bool,
    pub sort: bool,
    pub update: bool,
    pub json: bool,
    /// `-o FILE` (None: stdout).
    pub output: Option<PathBuf>,
    pub replace_partial: bool,
    /// `--outboard`: the group size of the tree data kept beside the manifest.
    pub outboard: Option<u64>,
}

impl HashSettings {
    /// Names must arrive in canonical order: for the tree digest, a shard (merge takes
    /// them so) and `--update` (its state is read as a cursor).
    pub fn needs_order(&self) -> bool {
        self.tree_digest || self.shard.is_some() || self.update
    }

    /// The run checks the order it emits names in (the digest and shards are defined over
    /// canonical order; `--update`'s walk only reads in it).
    pub fn checks_order(&self) -> bool {
        self.tree_digest || self.shard.is_some()
    }
}

/// Resolves `args`. `key`: what `--keyed` read from standard input; `stdout_terminal`:
/// whether stdout (the output when no `-o`) is a terminal; `var`: the environment, for
/// `--shard auto`. Returns the settings and the compiled `--exclude` globs.
pub fn hash(
    args: &HashArgs,
    key: Option<Vec<u8>>,
    stdout_terminal: bool,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(HashSettings, Option<GlobSet>), String> {
    let excludes = super::excludes(&args.walk.exclude)?;
    let shard = args.shard.map(|a| super::shard(a, var)).transpose()?;
    let mode = super::mode(Some(args.algo), &args.keys, args.seek, key, None)?;
    if args.digest && !mode.is_default() {
        return Err(
            "--digest (b3t1) is defined over default BLAKE3 digests: not with --algo, --keyed, \
             --derive-key, --length or --seek"
                .into(),
        );
    }
    // Digest bytes are binary: a file can be made whose digest starts with an escape
    // sequence (two bytes are 65,536 tries), so they are not written to a terminal.
    if args.raw && args.output.is_none() && stdout_terminal {
        return Err(
            "--raw writes binary digest bytes, not to a terminal: redirect stdout or \
                    give -o FILE"
                .into(),
        );
    }
    let spec = spec_keywords(args, &mode)?;
    let outboard = outboard(args, &mode)?;
    let settings = HashSettings {
        progress: ProgressMode::from_flags(args.progress, args.no_progress),
        quiet: args.quiet,
        shard,
        mode,
        shape: Shape {
            names: !args.no_names,
            terminator: if args.zero { 0 } else { b'\n' },
            raw: args.raw,
        },
        format: if args.json {
            Format::Json
        } else if spec.is_some() {
            Format::Mtree
        } else if args.tag {
            Format::Tag
        } else {
            Format::Plain
        },
        // A terminal gets control characters escaped (-z too: raw names would drive it);
        // files and pipes get b3sum's format; -z lines carry names as they are (as
        // sha256sum -z).
        escaping: if args.output.is_none() && stdout_terminal {
            Escaping::Terminal
        } else if args.zero {
            Escaping::Raw
        } else {
            Escaping::Manifest
        },
        spec,
        tree_digest: args.digest,
        listed: args.files_from.is_some(),
        sort: args.sort,
        update: args.update,
        json: args.json,
        output: args.output.clone(),
        replace_partial: args.replace_partial,
        outboard,
    };
    if settings.listed && settings.needs_order() && !settings.sort {
        return Err(
            "--files-from with --digest, --shard or --update needs --sort (they take names in \
             canonical order)"
                .into(),
        );
    }
    Ok((settings, excludes))
}

/// `--outboard`'s group size: BLAKE3 digest manifests only (the tree data is BLAKE3's; a
/// spec's check reads no outboard).
fn outboard(args: &HashArgs, mode: &Mode) -> Result<Option<u64>, String> {
    if !args.outboard {
        return Ok(None);
    }
    if mode.algo != crate::hash::algo::Algo::Blake3 {
        return Err("--outboard keeps BLAKE3's tree data: not with --algo sha256/sha512".into());
    }
    if args.format == FormatArg::Mtree {
        return Err("--outboard is for digest manifests, not --format mtree".into());
    }
    if mode.len < crate::hash::groups::MIN_DIGEST {
        return Err(format!(
            "--outboard data is trusted by the digest it adds up to: digests of at least {} \
             bytes (not -l {})",
            crate::hash::groups::MIN_DIGEST,
            mode.len
        ));
    }
    Ok(Some(
        args.outboard_group
            .unwrap_or(crate::hash::groups::DEFAULT_GROUP),
    ))
}

/// `--format mtree`'s keywords; None for b3sum lines. A spec holds plain digests only (the
/// keyword says the algorithm; nothing says a key, context or length) and describes the
/// tree as it lies (links as links: not with -L).
fn spec_keywords(args: &HashArgs, mode: &Mode) -> Result<Option<Keywords>, String> {
    if args.format != FormatArg::Mtree {
        return match args.keywords {
            Some(_) => Err("--keywords is for --format mtree".into()),
            None => Ok(None),
        };
    }
    if args.walk.follow {
        return Err(
            "--format mtree describes the tree as it lies, links as links (check follows none \
             on an entry's way): not with -L"
                .into(),
        );
    }
    if *mode != Mode::of(mode.algo) {
        return Err(
            "--format mtree writes plain digests (blake3digest, sha256digest, sha512digest): \
             not with --keyed, --derive-key, --length or --seek"
                .into(),
        );
    }
    if args.json && args.keywords.is_some() {
        return Err("--keywords shapes mtree lines; --json records carry the mode only".into());
    }
    args.keywords
        .as_deref()
        .map_or(Ok(Keywords::default()), Keywords::parse)
        .map(Some)
}

/// The options of [`options_text`], in the order they are written. Not the working
/// directory: names are relative to it, so a tree moved with its manifest (or the same
/// command run from another checkout) has the same names, and each file's recorded facts
/// (inode, filesystem, times) decide whether its digest still holds.
#[derive(serde::Serialize)]
struct StateOptions<'a> {
    paths: Vec<String>,
    exclude: &'a [String],
    follow: bool,
    one_file_system: bool,
    max_depth: Option<usize>,
    read_devices: bool,
    shard: Option<(u64, u64)>,
    files_from: bool,
    mode: String,
    /// `--format mtree`: names are relative to the one PATH. Absent for digest manifests,
    /// so that their states written before it stay valid.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tree_spec: bool,
}

/// The options a state is valid for: everything that shapes the names or the digests. A
/// state written under other options is not used.
pub fn options_text(
    args: &HashArgs,
    roots: &[PathBuf],
    shard: Option<(u64, u64)>,
    mode: &Mode,
) -> Vec<u8> {
    // Escaped as manifests escape names: lossless, and not the form for people (which
    // may escape more in a later version, and would then invalidate every state).
    let paths: Vec<String> = roots
        .iter()
        .map(|p| manifest_form(p.as_os_str().as_encoded_bytes()))
        .collect();
    let value = StateOptions {
        paths,
        exclude: &args.walk.exclude,
        follow: args.walk.follow,
        one_file_system: args.walk.one_file_system,
        max_depth: args.walk.max_depth,
        read_devices: args.walk.read_devices,
        shard,
        files_from: args.files_from.is_some(),
        mode: mode.fingerprint(),
        tree_spec: args.format == FormatArg::Mtree,
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// `--update` reads its state in canonical order, so several PATHs must come in that order,
/// none inside another (as for `--digest`). The first pair that breaks it, if any.
pub fn order_problem(roots: &[PathBuf]) -> Option<String> {
    roots.windows(2).find_map(|w| {
        let (a, b) = (
            w[0].as_os_str().as_encoded_bytes(),
            w[1].as_os_str().as_encoded_bytes(),
        );
        let inside = w[1].starts_with(&w[0]) || w[0].starts_with(&w[1]) || a == b".";
        (inside || canonical_cmp(a, b) != std::cmp::Ordering::Less)
            .then(|| format!("{} comes after {}", display(b), display(a)))
    })
}

/// `name` as a manifest line writes it (b3sum's escapes, `\xHH` for bytes not UTF-8).
fn manifest_form(name: &[u8]) -> String {
    let mut out = Vec::with_capacity(name.len() + 1);
    crate::names::escape::push_marked(name, Escaping::Manifest, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// How a key of [`options_text`] is named to people: the flag it stands for.
pub fn option_flag(key: &str) -> String {
    match key {
        "paths" => "PATHs".into(),
        "mode" => "the digest mode (--algo, -l, --keyed, --derive-key)".into(),
        "cwd" => "the working directory".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}
