//! Command-line definition (clap). Raw flags only; `config` validates and resolves them.
//! Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod argv;
mod check;
mod hash;
mod signing;
pub use argv::alias_args;
pub use check::CheckArgs;
pub use hash::{AlgoArg, HashArgs, KeyArgs, ShardArg};
pub use signing::{DEFAULT_NAMESPACE, SigningArgs};

/// The exit status text (a macro so that `concat!` can put it after other help text).
macro_rules! exit_codes {
    () => {
        "\
Exit status:
  0    everything hashed / verified
  1    some entries failed (unreadable, vanished, changed while hashing, symlink loop...)
  2    usage error or fatal error (cannot write the output, stdout closed or full)
  128+n  killed by signal n after cleanup: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP,
         131 SIGQUIT...; the process dies of the signal, so shells stop loops; within
         250 ms even when blocked in I/O; a second signal exits at once"
    };
}

pub const EXIT_CODES: &str = exit_codes!();

/// What `b3tree --help` says after the commands: the b3sum-style spelling of check, and the
/// exit status.
const TOP_AFTER_HELP: &str = concat!(
    "As b3sum and sha256sum: `b3tree -c [MANIFEST]...` (or `--check`, or `b3tree hash -c`) is\n",
    "`b3tree check [MANIFEST]...`; with no MANIFEST, the manifest is read from standard input.\n",
    "\n",
    exit_codes!()
);

/// Hash whole directory trees with BLAKE3, concurrently, and verify them later.
#[derive(Debug, Parser)]
#[command(name = "b3tree", version, after_help = TOP_AFTER_HELP)]
pub struct Cli {
    /// Run as if started in DIR (like tar -C and git -C): every path given (PATHs,
    /// manifests, -o, exports) is relative to DIR, and so are the names in manifests.
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hash files and directory trees; print a manifest that `b3sum --check` accepts.
    #[command(after_help = EXIT_CODES)]
    Hash(HashArgs),
    /// Verify manifests written by b3tree or b3sum; with --audit, also find files they miss.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// Print one versioned root digest of a tree (b3t1:HEX), for cache keys and equality
    Digest(DigestArgs),
    /// Merge shard manifests into one, in canonical order (byte-identical to a single run)
    Merge(MergeArgs),
    /// What changed between two manifests or tree specs: added, removed, modified, renamed
    #[command(after_help = DIFF_AFTER_HELP)]
    Diff(DiffArgs),
    /// Mend files whose damage the outboard beside a manifest locates (hash --outboard),
    /// from a second copy of the tree: only the damaged ranges are read, verified, written
    Repair(RepairArgs),
    /// Benchmark the hash pipeline over a sweep of --jobs (and --max-open, --queue) settings
    Bench(BenchArgs),
    /// Print a shell completion script (e.g. b3tree completions bash > /etc/bash_completion.d/b3tree)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page, roff (e.g. b3tree man > /usr/local/share/man/man1/b3tree.1)
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand's page instead (b3tree man hash > b3tree-hash.1)
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,

    /// Write every page (b3tree.1, b3tree-hash.1, ...) into DIR, made if missing, instead of
    /// one page on stdout (e.g. --dir ~/.local/share/man/man1)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

/// `--format` values: what a manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Regular files and their digests: b3sum/sha256sum lines (or --tag, --json)
    B3sum,
    /// A tree spec: every entry (directories, symlinks, special files too) with its type,
    /// mode, link target, size and digest, in the mtree format (mtree(5), bsdtar)
    Mtree,
}

/// Cache state for `bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheMode {
    /// Leave the page cache as it is (a warm-up run fills it)
    Warm,
    /// Evict the tree's file pages (posix_fadvise DONTNEED) before every run; directories
    /// and inodes stay cached
    Cold,
    /// Completely cold, as after a reboot: sync, then drop the page cache, dentries and
    /// inodes (/proc/sys/vm/drop_caches) before every run. Root only; the sync and the drop
    /// cannot be interrupted
    Drop,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Tree to hash (nothing is written) [default: .]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Worker counts to sweep, comma-separated [default: 1,2,4,... up to 8 × CPUs]
    #[arg(short, long, value_name = "N,...", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub jobs: Vec<u32>,

    /// --max-open values to sweep [default: the hash default]
    #[arg(long, value_name = "N,...", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_open: Vec<u32>,

    /// --queue values to sweep [default: the hash default]
    #[arg(long, value_name = "N,...", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue: Vec<u32>,

    /// Timed runs per setting, after one untimed warm-up run
    #[arg(short, long, value_name = "R", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,

    /// Page cache state for every timed run
    #[arg(long, value_enum, default_value_t = CacheMode::Warm)]
    pub cache: CacheMode,

    /// Write every run as CSV to FILE
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Write every run, and the per-setting medians, as JSON to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Plot throughput against worker count (median, min–max whiskers) to FILE: PNG if it
    /// ends in .png, else SVG
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub plot: Option<PathBuf>,

    /// Paths per batch handed to the blocking pool (tuning)
    #[arg(long, value_name = "N", default_value_t = 256, hide = true,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,

    /// Never show live progress
    #[arg(long)]
    pub no_progress: bool,
}

pub const CHECK_EXIT_CODES: &str = "\
Exit status:
  0    every entry verified OK (and with --audit: nothing new, missing or moved)
  1    something FAILED, is MISSING, NEW or MOVED; a line too long to read (over 4 MiB);
       no valid line at all; nothing verified with --ignore-missing; malformed or
       duplicate lines with --strict; the manifest's signature or signer does not
       verify (then no file is read)
  2    usage error, unreadable manifest, or output that cannot be written
  128+n  killed by signal n (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP...)";

/// When to do something the environment may decide (`--color`, `--annotations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    Auto,
    Always,
    Never,
}

/// Pipeline knobs shared by every command that hashes.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Worker tasks hashing concurrently, fixed [default: adaptive — 4 × CPUs (at least 8) at
    /// first, up to 128 while the CPUs wait on the device; 16 at most on FUSE (sshfs)]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub jobs: Option<u32>,

    /// Capacity of the path queue between walker and workers, in batches [default: 2 × jobs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue: Option<u32>,

    /// Most files open at once [default and upper bound: what RLIMIT_NOFILE allows, after
    /// raising it to the hard limit]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_open: Option<u32>,

    /// Paths per batch handed to the blocking pool (tuning)
    #[arg(long, value_name = "N", default_value_t = 256, hide = true,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,
}

/// What the walk visits (shared by hash and digest).
#[derive(Debug, Clone, Args)]
pub struct WalkArgs {
    /// Leave out paths matching GLOB (relative to the PATH they are under; repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Do not cross filesystem boundaries
    #[arg(long)]
    pub one_file_system: bool,

    /// Descend at most N directory levels below each PATH
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,

    /// Follow symbolic links (loops are reported as errors, never walked twice)
    #[arg(short = 'L', long)]
    pub follow: bool,

    /// Read a block device named as PATH to its end (refused otherwise: a disk is rarely
    /// what was meant). FIFOs and character devices named as PATH are always read
    #[arg(long)]
    pub read_devices: bool,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Directory to digest; names are taken relative to it [default: .]
    #[arg(value_name = "PATH", conflicts_with = "from")]
    pub path: Option<PathBuf>,

    /// Compute the digest from a manifest instead of reading files (`-` for stdin); equals
    /// `b3tree digest DIR` when the manifest was written by `b3tree hash -C DIR`
    #[arg(long, value_name = "MANIFEST")]
    pub from: Option<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub walk: WalkArgs,

    /// Print nothing on stderr but errors
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard manifests (from `b3tree hash --shard K/N`), in any order; `-` reads one from
    /// stdin
    #[arg(value_name = "MANIFEST", required = true)]
    pub manifests: Vec<PathBuf>,

    /// Write the merged manifest to FILE, atomically [default: stdout]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Merge even when the inputs are not exactly shards 0..N-1 of one N (each shard
    /// manifest's first line, `# b3tree shard K/N`, says which it is)
    #[arg(long)]
    pub partial: bool,
}

pub const DIFF_AFTER_HELP: &str = "\
Output, in canonical name order, one line per difference (as git diff --name-status):
  A<TAB>name            added          D<TAB>name     removed
  M<TAB>name            content changed (specs: also mode, link, size, owner, device;
                        what changed follows after a second tab)
  R<TAB>old<TAB>new     renamed: one name gone, another added with the same digest
  T<TAB>name<TAB>...    a spec entry's type changed
Names are escaped as in check's verdicts (a tab is \\x09). No file of any tree is read.

Exit status:
  0    no difference
  1    the inputs differ
  2    usage error, an input unreadable or malformed (named with its line), digests of
       two algorithms (without --names-only), output that cannot be written
  128+n  killed by signal n (130 Ctrl-C)";

/// `b3tree diff OLD NEW`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older manifest or tree spec (any form check reads: b3sum/GNU lines, --tag, -z,
    /// SHA-256/512, mtree specs of b3tree, bsdtar, NetBSD); `-` reads it from stdin
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The newer manifest or tree spec, of the same kind as OLD
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// JSON Lines: one record per difference (type, path, old and new values), then a
    /// summary record
    #[arg(long)]
    pub json: bool,

    /// Compare names only (A and D lines): for digests of two algorithms, or specs with no
    /// digest in common
    #[arg(long)]
    pub names_only: bool,

    /// The algorithm of untagged digest lines (a tagged line names its own), as for check
    /// [default: blake3]
    #[arg(short = 'a', long = "algo", value_enum)]
    pub algo: Option<AlgoArg>,

    /// Do not print the summary on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

/// `b3tree repair`'s flags.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The manifest whose files are mended (beside it: the outboard `hash --outboard` kept);
    /// its names are relative to the working directory (-C DIR to choose it)
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,

    /// The second copy of the tree (a mirror, a backup): the same names beneath DIR. Only
    /// the damaged groups are read from it, each verified against the outboard before it
    /// is written; no symlink is followed beneath it
    #[arg(long, value_name = "DIR", required = true)]
    pub from: PathBuf,

    /// Say what would be repaired (the ranges are read from DIR and verified), write nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Print only the files not intact, and no summary
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own checks of every command (they run only where clap_builder is built with
    /// debug assertions: Cargo.toml turns them on for it in the `ci` profile too). A slip
    /// there panics in `man` and `completions`, which build every subcommand.
    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_last_of_progress_and_no_progress_wins() {
        for cmd in ["hash", "check"] {
            let parse = |flags: [&str; 2]| {
                let mut argv = vec!["b3tree", cmd];
                argv.extend(flags);
                argv.push("x");
                match Cli::parse_from(argv).command {
                    Command::Hash(a) => (a.progress, a.no_progress),
                    Command::Check(a) => (a.progress, a.no_progress),
                    _ => unreachable!(),
                }
            };
            assert_eq!(
                parse(["--progress", "--no-progress"]),
                (false, true),
                "{cmd}"
            );
            assert_eq!(
                parse(["--no-progress", "--progress"]),
                (true, false),
                "{cmd}"
            );
        }
    }
}
