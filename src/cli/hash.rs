//! `b3tree hash`'s flags, and the `--shard` argument.

use std::path::PathBuf;

use clap::Args;

use super::{EngineArgs, FormatArg, WalkArgs};

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files and directories to hash, in this order; - is standard input [default: .]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Hash the paths listed in FILE (- for standard input) instead of PATHs, one per line,
    /// in the list's order: files hashed, directories walked, symlinks followed, duplicates
    /// kept, a path that does not exist an error record
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub files_from: Option<PathBuf>,

    /// Digest algorithm: BLAKE3, or SHA-256 / SHA-512 with lines exactly as sha256sum /
    /// sha512sum write them
    #[arg(short = 'a', long = "algo", value_enum, default_value_t = AlgoArg::Blake3)]
    pub algo: AlgoArg,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Start the digest at byte N of BLAKE3's extended output
    #[arg(long, value_name = "N")]
    pub seek: Option<u64>,

    /// Print digests without names, as b3sum --no-names
    #[arg(long, conflicts_with_all = ["json", "tag"])]
    pub no_names: bool,

    /// Write the digest as raw bytes to stdout (one input only: a file or -), as b3sum --raw; never to a terminal
    #[arg(long, conflicts_with_all = ["json", "tag", "no_names", "zero", "output", "update",
          "digest", "shard", "files_from"])]
    pub raw: bool,

    /// End each line with NUL instead of newline, names written unescaped (sha256sum -z; escaped on a terminal)
    #[arg(short = 'z', long, conflicts_with = "json")]
    pub zero: bool,

    /// As b3sum: threads that hash one big file together (BLAKE3 over rayon); --jobs is how
    /// many files are hashed at once [default: CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub num_threads: Option<u32>,

    /// As b3sum and GNU: `b3tree hash -c FILE…` runs `b3tree check FILE…` (with check's flags)
    #[arg(short = 'c', long = "check")]
    pub check: bool,

    /// As b3sum: read files with read() instead of memory maps
    #[arg(long)]
    pub no_mmap: bool,

    /// As sha256sum on Linux, where binary and text read the same bytes: accepted and ignored
    /// (lines keep the two-space form b3sum reads)
    #[arg(short = 'b', long, overrides_with = "text")]
    pub binary: bool,

    /// As sha256sum on Linux: accepted and ignored (see --binary)
    #[arg(short = 't', long, overrides_with = "binary")]
    pub text: bool,

    /// With --files-from: entries end with NUL, not newline (find -print0, git ls-files -z)
    #[arg(short = '0', long = "null", requires = "files_from")]
    pub null: bool,

    /// With --files-from: hash the entries in canonical order (held in memory), as --digest,
    /// --shard and --update need
    #[arg(long, requires = "files_from")]
    pub sort: bool,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Write the manifest to FILE, atomically (temporary file, fsync, rename); FILE is
    /// replaced only when the run completed without error records (else the new manifest
    /// goes to FILE.partial), and is never hashed itself. A symlink is followed; a device or
    /// FIFO is written in place; a directory, block device or socket is refused
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// With -o: replace an existing FILE even when some entries could not be hashed (the
    /// new manifest then lacks them)
    #[arg(long, requires = "output")]
    pub replace_partial: bool,

    /// What to write: b3sum lines, or a tree spec of one directory in the mtree format
    /// (every entry with its type and mode, symlinks with their targets, files with size and
    /// digest: sha256digest / sha512digest with --algo, blake3digest otherwise, which only
    /// b3tree reads). With --json, the same entries as JSON records
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = FormatArg::B3sum,
          conflicts_with_all = ["tag", "no_names", "zero", "raw", "digest", "files_from"])]
    pub format: FormatArg,

    /// With --format mtree: optional keywords, comma-separated: uid, gid, uname, gname, nlink,
    /// time (off by default: checkouts and copies change them while the tree stays the same)
    #[arg(long, value_name = "LIST")]
    pub keywords: Option<String>,

    /// BSD-style lines: BLAKE3 (path) = HASH
    #[arg(long, conflicts_with = "json")]
    pub tag: bool,

    /// JSON Lines: one object per file, error and skipped entry, then a summary object
    #[arg(long)]
    pub json: bool,

    /// Print only errors on stderr (no summary)
    #[arg(short, long)]
    pub quiet: bool,

    /// Show progress on stderr even when it is not a terminal (then one plain line every 5 s)
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,

    /// Never show live progress
    #[arg(long, overrides_with = "progress")]
    pub no_progress: bool,

    #[command(flatten)]
    pub walk: WalkArgs,

    /// Hash only the files of shard K of N (0-based), chosen by a stable hash of each name:
    /// N machines of a CI matrix each hash ~1/N of the tree; `b3tree merge` joins them. The
    /// shard manifest starts with a `# b3tree shard K/N` line, by which merge knows a
    /// missing shard. `auto` takes K and N from the CI engine running the job (GitLab
    /// parallel, CircleCI, Buildkite) or a Slurm job array; `auto/N` also from a Kubernetes
    /// Indexed Job, a PBS Pro or an LSF job array (whose count is not in the environment)
    #[arg(long, value_name = "K/N|auto|auto/N", value_parser = parse_shard_arg)]
    pub shard: Option<ShardArg>,

    /// With -o: reuse the digests of files unchanged since the run that wrote FILE (same
    /// size, mtime, ctime and inode, recorded in FILE.b3tree-state) and read only the rest;
    /// the manifest is the same as a full run's. A stopped run leaves a journal
    /// (FILE.b3tree-journal.N) that the next --update resumes from. Several PATHs must come
    /// in canonical order, none inside another
    #[arg(long, requires = "output")]
    pub update: bool,

    /// With -o: keep beside the manifest (FILE.b3tree-outboard) the BLAKE3 tree data of every
    /// file of at least 1 MiB — the chaining value of each 16 KiB group, 0.2 % of its size —
    /// by which `check` names the damaged byte ranges of a failed file and `b3tree repair`
    /// mends them from a second copy. BLAKE3 only; the manifest is the same as without it
    #[arg(long, requires = "output")]
    pub outboard: bool,

    /// With --outboard: the group size, a power of two from 1K to 512K (smaller groups
    /// locate damage more finely and take more room: 32 bytes per group)
    #[arg(long, value_name = "SIZE", requires = "outboard", value_parser = parse_group)]
    pub outboard_group: Option<u64>,

    /// Also print the tree digest (b3t1:..., see `b3tree digest`) of the names as written,
    /// on stderr (and in the JSON summary with --json); several PATHs must come in canonical
    /// order, none inside another
    #[arg(long)]
    pub digest: bool,
}

/// `--outboard-group`: bytes, or with a K/KiB suffix.
fn parse_group(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let unit = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        _ => return Err(format!("{s:?}: a size in bytes, or with K (1024 bytes)")),
    };
    let group = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|&g| crate::hash::groups::valid_group(g));
    group.ok_or_else(|| format!("{s:?}: a power of two from 1K to 512K"))
}

/// BLAKE3's modes beyond the default, shared by hash and check (b3sum's flags).
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// BLAKE3 keyed hashing, as b3sum: the 32-byte key is read from standard input (which
    /// then cannot also be an input or a manifest)
    #[arg(long, conflicts_with = "derive_key")]
    pub keyed: bool,

    /// BLAKE3 key derivation with CONTEXT, as b3sum
    #[arg(long, value_name = "CONTEXT")]
    pub derive_key: Option<String>,

    /// Digest length in bytes, from BLAKE3's extended output (hex doubles it) [default: 32;
    /// check: the length of the manifest's first entry]
    #[arg(short = 'l', long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub length: Option<u64>,
}

/// `--algo` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgoArg {
    Blake3,
    Sha256,
    Sha512,
}

/// `--shard` as given: fixed, or to be read from the CI engine's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(u64, u64),
    /// `auto` or `auto/N`.
    Auto(Option<u64>),
}

pub(crate) fn parse_shard_arg(s: &str) -> Result<ShardArg, String> {
    if s == "auto" {
        return Ok(ShardArg::Auto(None));
    }
    if let Some(n) = s.strip_prefix("auto/") {
        return match n.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(ShardArg::Auto(Some(n))),
            _ => Err(format!("--shard {s:?}: N is not a positive number")),
        };
    }
    parse_fixed_shard(s).map(|(k, n)| ShardArg::Fixed(k, n))
}

fn parse_fixed_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("--shard {s:?}: expected K/N, e.g. 0/3"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("--shard {s:?}: K is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard {s:?}: N is not a number"))?;
    if n == 0 || k >= n {
        return Err(format!("--shard {s:?}: need 0 <= K < N"));
    }
    Ok((k, n))
}

#[cfg(test)]
mod shard_arg_tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!(parse_shard_arg("2/3"), Ok(ShardArg::Fixed(2, 3)));
        assert_eq!(parse_shard_arg("auto"), Ok(ShardArg::Auto(None)));
        assert_eq!(parse_shard_arg("auto/4"), Ok(ShardArg::Auto(Some(4))));
        assert!(parse_shard_arg("auto/0").is_err());
        assert!(parse_shard_arg("3/3").is_err());
        assert!(parse_shard_arg("0/0").is_err());
        assert!(parse_shard_arg("x").is_err());
    }
}
