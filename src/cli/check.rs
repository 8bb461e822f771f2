//! `b3tree check`'s flags.

use std::path::PathBuf;

use clap::Args;

use super::hash;
use super::{AlgoArg, EngineArgs, FormatArg, KeyArgs, ShardArg, SigningArgs, When};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Manifests to verify (`-`, or none, reads stdin, as sha256sum -c does). Names resolve
    /// beneath the working directory (or -C DIR)
    #[arg(value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// The manifest's algorithm [default: the first entry's --tag name, else BLAKE3; a
    /// 64-hex untagged line is BLAKE3 unless --algo sha256]
    #[arg(short = 'a', long = "algo", value_enum)]
    pub algo: Option<AlgoArg>,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// What the manifest is: b3sum lines, or a tree spec (mtree; recognised without this by
    /// its first line `#mtree`, as b3tree and bsdtar write it; NetBSD's `mtree -c` starts
    /// with comments instead). A spec's every keyword b3tree knows is verified: type, link
    /// target, mode, uid, gid, uname, gname, size, time, nlink and the digest
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// Manifests whose lines end with NUL, names unescaped (as written by `hash -z`)
    #[arg(short = 'z', long)]
    pub zero: bool,

    /// Do not print OK lines
    #[arg(short, long)]
    pub quiet: bool,

    /// Print nothing on stdout (and no summary); the exit status tells
    #[arg(long)]
    pub status: bool,

    /// Do not fail or report for files that are missing
    #[arg(long)]
    pub ignore_missing: bool,

    /// Report each improperly formatted line (MANIFEST:LINE) on stderr
    #[arg(short, long)]
    pub warn: bool,

    /// Fail on improperly formatted or duplicate lines
    #[arg(long)]
    pub strict: bool,

    /// Machine-readable JSON Lines report on stdout: one object per entry, then a summary
    #[arg(long)]
    pub json: bool,

    /// Also walk the tree the manifest covers and report files it does not list (NEW), and
    /// NEW files whose content equals a missing entry (MOVED). The audited directory is the
    /// deepest directory holding every entry (e.g. `dist` for names `dist/...`), or `.`;
    /// confined like verification (names refused as outside never widen it) unless
    /// --allow-outside
    #[arg(long)]
    pub audit: bool,

    /// Colour the verdicts (FAILED, MISSING, NEW, MOVED, OK): auto = when stdout is a
    /// terminal (or CLICOLOR_FORCE is set) and NO_COLOR is not set
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: When,

    /// Verify only the entries of shard K of N (0-based; the names `hash --shard` would give
    /// that shard) and, with --audit, audit only that shard's files: N jobs of a CI matrix
    /// together report every entry and every file once. `auto`, `auto/N` as for hash
    #[arg(long, value_name = "K/N|auto|auto/N", value_parser = hash::parse_shard_arg)]
    pub shard: Option<ShardArg>,

    /// GitHub Actions: each failure also as an annotation (`::error file=…` on stderr, at
    /// most 10, GitHub's limit per step: the tenth counts the rest when more fail) and a
    /// Markdown summary appended to $GITHUB_STEP_SUMMARY: auto = when GITHUB_ACTIONS is true
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub annotations: When,

    /// Also write the run as a JUnit XML report to FILE (GitLab, Jenkins, Azure DevOps,
    /// CircleCI): one test suite per manifest, a failing test case per entry that fails the
    /// run (at most 1000, then one counting the rest), one counting the entries verified OK.
    /// Never a file the check reads; a failing report stands there until the run ends
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// With --audit: walk DIR instead. Names are matched as written, so spell DIR the way
    /// the manifest's names begin (e.g. `/srv/data` for absolute names under it)
    #[arg(long, value_name = "DIR", requires = "audit")]
    pub audit_root: Option<PathBuf>,

    /// With --audit: leave out paths matching GLOB, relative to the audited directory (as
    /// hash matches them relative to its PATH, so the same GLOBs give the same set;
    /// repeatable). Excluded entries are counted
    #[arg(long, value_name = "GLOB", requires = "audit")]
    pub exclude: Vec<String>,

    /// With --audit: do not cross filesystem boundaries
    #[arg(long, requires = "audit")]
    pub one_file_system: bool,

    /// With --audit: descend at most N directory levels below the audited directory
    #[arg(long, value_name = "N", requires = "audit")]
    pub max_depth: Option<usize>,

    /// Allow absolute paths, `..` and symlinks leading outside the working directory (for
    /// verification and for --audit)
    #[arg(long)]
    pub allow_outside: bool,

    /// Show progress on stderr even when it is not a terminal (then one plain line every 5 s)
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,

    /// Never show live progress
    #[arg(long, overrides_with = "progress")]
    pub no_progress: bool,

    /// Rotating verification: verify P percent of the entries (rounded up), those never
    /// checked first, then those checked longest ago (ties in manifest order). When each
    /// entry was last checked is kept beside the manifest, in MANIFEST.b3tree-checked
    #[arg(long, value_name = "P%", value_parser = parse_percent)]
    pub subset: Option<f64>,

    /// Rotating verification: verify in --subset's order until D has passed since the start
    /// (`90s`, `10m`, `2h`, `1h 30m`); a file being read then is dropped, never reported
    /// half-read. With --subset, whichever ends first
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub max_duration: Option<std::time::Duration>,

    #[command(flatten)]
    pub signing: SigningArgs,
}

/// `--subset`'s value: a percentage above 0 and at most 100, with or without `%`.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    match number.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!(
            "{text:?} is not a percentage above 0 and at most 100 (e.g. 25%)"
        )),
    }
}

/// `--max-duration`'s value: a positive duration such as `90s`, `10m`, `2h`, `1h 30m`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("a duration of zero verifies nothing".into()),
        Err(e) => Err(format!("{text:?}: {e} (e.g. 90s, 10m, 2h, 1h 30m)")),
    }
}
