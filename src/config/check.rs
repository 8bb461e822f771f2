//! `check`'s flags resolved once, into the values its plan, passes and finish read: after
//! the plan, nothing in the command looks at a flag to decide something. Pure: what the
//! resolution depends on beyond the flags (whether stdin and stdout are terminals, the
//! environment) is handed in, so every rule here is unit-tested without I/O.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cli::{AlgoArg, CheckArgs, DEFAULT_NAMESPACE, FormatArg, When};
use crate::hash::algo::Algo;
use crate::names::escape::display;
use crate::report::stderr::ProgressMode;
use crate::trust::Request;
use crate::walk::WalkConfig;

/// What `check` does, as plain values.
#[derive(Debug)]
pub struct CheckSettings {
    /// The manifests, `-` for standard input (the one manifest when none was named).
    pub manifests: Vec<PathBuf>,
    /// `--shard`, resolved (auto read from the CI engine's variables).
    pub shard: Option<(u64, u64)>,
    pub audit: bool,
    /// `--audit-root`: the directory the audit walks, instead of the entries' common one.
    pub audit_root: Option<PathBuf>,
    /// The audit walk's own narrowing (`--exclude`, `--one-file-system`, `--max-depth`).
    pub audit_walk: WalkConfig,
    pub allow_outside: bool,
    pub zero: bool,
    pub ignore_missing: bool,
    pub warn: bool,
    pub strict: bool,
    pub json: bool,
    pub quiet: bool,
    pub status: bool,
    /// Colour the status words.
    pub color: bool,
    pub progress: ProgressMode,
    /// GitHub annotations and the step summary.
    pub annotations: bool,
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `--algo`: the one digest algorithm verified.
    pub algo: Option<Algo>,
    /// The digest mode is the flags' (`--algo`, `--keyed`, `--derive-key`, `--length`), not
    /// inferred from the manifest.
    pub mode_chosen: bool,
    /// A BLAKE3 mode flag was given (`--keyed`, `--derive-key`, `--length`).
    pub blake3_flags: bool,
    /// `--format`: Some(true) a tree spec, Some(false) digests, None: the first bytes tell.
    pub spec: Option<bool>,
    /// The signatures to verify before a line is read, when asked.
    pub signing: Option<Signing>,
    /// `--subset`, `--max-duration`: rotating verification.
    pub rotation: Option<Rotation>,
}

/// Rotating verification: a share of the entries, a time budget, or both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rotation {
    /// Percent of the entries (0 < P <= 100).
    pub subset: Option<f64>,
    pub max_duration: Option<std::time::Duration>,
}

impl Rotation {
    /// How many of `total` entries the subset takes: P percent, rounded up (all without
    /// `--subset`). In parts per million, whole numbers: 16.1 % of 1,000 is 161, not the 162
    /// a float's 161.00000000000003 would round up to.
    pub fn take(&self, total: u64) -> u64 {
        match self.subset {
            None => total,
            Some(p) => {
                let ppm = (p * 10_000.0).round() as u128;
                let n = (u128::from(total) * ppm).div_ceil(1_000_000);
                n.min(u128::from(total)) as u64
            }
        }
    }
}

/// Where the run's streams go and what the environment says of colour, as the plan found
/// them (`NO_COLOR`, `CLICOLOR_FORCE`: read by anstyle-query).
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminals {
    pub stdin: bool,
    pub stdout: bool,
    pub no_color: bool,
    pub force_color: bool,
}

/// Resolves `args`. `var`: the environment (`--shard auto`, `GITHUB_ACTIONS`).
pub fn check(
    args: &CheckArgs,
    terminals: Terminals,
    var: impl Fn(&str) -> Option<String>,
) -> Result<CheckSettings, String> {
    let signing = Signing::of(args)?;
    let mut manifests = args.manifests.clone();
    // No MANIFEST: standard input, as `sha256sum -c` and `b3sum -c` read it — unless it is
    // a terminal, where waiting for a manifest to be typed helps no one.
    if manifests.is_empty() {
        if terminals.stdin {
            return Err(
                "no MANIFEST given and standard input is a terminal: name a manifest, \
                        or pipe one in (`b3tree check -` reads standard input)"
                    .into(),
            );
        }
        manifests.push(PathBuf::from("-"));
    }
    let shard = args.shard.map(|a| super::shard(a, &var)).transpose()?;
    let keys = &args.keys;
    let blake3_flags = keys.keyed || keys.derive_key.is_some() || keys.length.is_some();
    Ok(CheckSettings {
        manifests,
        shard,
        audit: args.audit,
        audit_root: args.audit_root.clone(),
        audit_walk: WalkConfig {
            excludes: super::excludes(&args.exclude)?,
            one_file_system: args.one_file_system,
            max_depth: args.max_depth,
            ..WalkConfig::default()
        },
        allow_outside: args.allow_outside,
        zero: args.zero,
        ignore_missing: args.ignore_missing,
        warn: args.warn,
        strict: args.strict,
        json: args.json,
        quiet: args.quiet,
        status: args.status,
        color: match args.color {
            When::Always => true,
            When::Never => false,
            When::Auto => !terminals.no_color && (terminals.stdout || terminals.force_color),
        },
        progress: ProgressMode::from_flags(args.progress, args.no_progress),
        annotations: annotations(args.annotations, &var),
        junit: args.junit.clone(),
        algo: args.algo.map(algo),
        mode_chosen: args.algo.is_some() || blake3_flags,
        blake3_flags,
        spec: args.format.map(|f| f == FormatArg::Mtree),
        signing,
        rotation: (args.subset.is_some() || args.max_duration.is_some()).then_some(Rotation {
            subset: args.subset,
            max_duration: args.max_duration,
        }),
    })
}

/// `--annotations WHEN`: auto is on in a GitHub Actions job.
pub fn annotations(when: When, var: impl Fn(&str) -> Option<String>) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
    }
}

/// `--algo`'s algorithm.
pub fn algo(arg: AlgoArg) -> Algo {
    match arg {
        AlgoArg::Blake3 => Algo::Blake3,
        AlgoArg::Sha256 => Algo::Sha256,
        AlgoArg::Sha512 => Algo::Sha512,
    }
}

/// The signature flags: what each manifest is verified against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    /// `--signature FILE` (None: beside each manifest).
    signature: Option<PathBuf>,
    by: Signer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Signer {
    Ssh {
        allowed_signers: PathBuf,
        signer: String,
        namespace: String,
    },
    Minisign {
        key: String,
    },
}

impl Signing {
    /// The request the flags make, if any; flags that cannot make one are refused, before
    /// anything is opened.
    fn of(args: &CheckArgs) -> Result<Option<Signing>, String> {
        let s = &args.signing;
        let signature = s.signature.clone().filter(|p| !p.as_os_str().is_empty());
        if let (Some(file), true) = (&signature, args.manifests.is_empty()) {
            return Err(format!(
                "--signature took {} as the signature and no MANIFEST is left: write \
                 `--signature=FILE MANIFEST` (or MANIFEST first)",
                display(file.as_os_str().as_bytes())
            ));
        }
        if s.signature.is_some() && s.allowed_signers.is_none() && s.minisign_key.is_none() {
            return Err(
                "--signature needs who may sign: --allowed-signers FILE --signer \
                        IDENTITY (SSH signatures) or --minisign-key KEY (minisign)"
                    .into(),
            );
        }
        if signature.is_some() && args.manifests.len() > 1 {
            return Err(
                "one --signature FILE for several manifests: check them one by one, \
                        or leave --signature out so that each is verified against its own \
                        MANIFEST.sig"
                    .into(),
            );
        }
        let by = match (&s.allowed_signers, &s.minisign_key) {
            (_, Some(key)) => Signer::Minisign { key: key.clone() },
            (Some(allowed), None) => Signer::Ssh {
                allowed_signers: allowed.clone(),
                signer: s.signer.clone().unwrap_or_default(),
                namespace: (s.namespace.clone()).unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            },
            (None, None) => return Ok(None),
        };
        if signature.is_none() && (args.manifests.iter()).any(|m| m == "-") {
            return Err(
                "a manifest read from standard input has no MANIFEST.sig beside it: \
                        name its signature with --signature=FILE"
                    .into(),
            );
        }
        Ok(Some(Signing { signature, by }))
    }

    /// What `manifest` is verified against: the signature named, else the one beside it.
    pub fn request(&self, manifest: &Path) -> Request {
        let beside = |ext: &str| {
            let mut p = manifest.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        };
        match &self.by {
            Signer::Minisign { key } => Request::Minisign {
                signature: self.signature.clone().unwrap_or_else(|| beside(".minisig")),
                key: key.clone(),
            },
            Signer::Ssh {
                allowed_signers,
                signer,
                namespace,
            } => Request::Ssh {
                signature: self.signature.clone().unwrap_or_else(|| beside(".sig")),
                allowed_signers: allowed_signers.clone(),
                signer: signer.clone(),
                namespace: namespace.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn a_subset_is_rounded_up_in_whole_parts_per_million() {
        let take = |p: f64, total: u64| {
            Rotation {
                subset: Some(p),
                max_duration: None,
            }
            .take(total)
        };
        assert_eq!(take(25.0, 200), 50);
        assert_eq!(take(25.0, 10), 3);
        assert_eq!(take(16.1, 1000), 161);
        assert_eq!(take(8.3, 1_000_000), 83_000);
        assert_eq!(take(0.0001, 3), 1);
        assert_eq!(take(100.0, 7), 7);
    }
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> CheckArgs {
        let mut all = vec!["b3tree", "check"];
        all.extend_from_slice(argv);
        match Cli::parse_from(all).command {
            Command::Check(a) => a,
            _ => unreachable!(),
        }
    }

    fn settle(
        argv: &[&str],
        terminals: Terminals,
        env: &[(&str, &str)],
    ) -> Result<CheckSettings, String> {
        let env: Vec<(String, String)> = (env.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check(&args(argv), terminals, |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn no_manifest_is_stdin_unless_it_is_a_terminal() {
        let s = settle(&[], Terminals::default(), &[]).unwrap();
        assert_eq!(s.manifests, [PathBuf::from("-")]);
        let tty = Terminals {
            stdin: true,
            ..Terminals::default()
        };
        assert!(
            settle(&[], tty, &[])
                .unwrap_err()
                .contains("standard input is a terminal")
        );
    }

    #[test]
    fn colour_and_annotations_follow_the_terminal_and_the_environment() {
        let tty = Terminals {
            stdout: true,
            ..Terminals::default()
        };
        assert!(settle(&["m"], tty, &[]).unwrap().color);
        let no_color = Terminals {
            no_color: true,
            ..tty
        };
        assert!(!settle(&["m"], no_color, &[]).unwrap().color);
        assert!(!settle(&["m"], Terminals::default(), &[]).unwrap().color);
        let forced = Terminals {
            force_color: true,
            ..Terminals::default()
        };
        assert!(settle(&["m"], forced, &[]).unwrap().color);
        assert!(
            settle(&["--color", "always", "m"], Terminals::default(), &[])
                .unwrap()
                .color
        );
        let gh = [("GITHUB_ACTIONS", "true")];
        assert!(settle(&["m"], tty, &gh).unwrap().annotations);
        assert!(!settle(&["m"], tty, &[]).unwrap().annotations);
        assert!(
            !settle(&["--annotations", "never", "m"], tty, &gh)
                .unwrap()
                .annotations
        );
    }

    #[test]
    fn shard_auto_reads_the_engine_and_the_digest_mode_is_chosen_or_not() {
        let gl = [("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")];
        let s = settle(&["--shard", "auto", "m"], Terminals::default(), &gl).unwrap();
        assert_eq!(s.shard, Some((1, 4)));
        assert!(settle(&["--shard", "auto", "m"], Terminals::default(), &[]).is_err());
        let s = settle(&["m"], Terminals::default(), &[]).unwrap();
        assert!(!s.mode_chosen && s.algo.is_none());
        let s = settle(&["--algo", "sha256", "m"], Terminals::default(), &[]).unwrap();
        assert_eq!((s.mode_chosen, s.algo), (true, Some(Algo::Sha256)));
        let s = settle(&["-l", "16", "m"], Terminals::default(), &[]).unwrap();
        assert!(s.mode_chosen && s.blake3_flags);
    }

    #[test]
    fn signature_flags_make_one_request_per_manifest_or_are_refused() {
        let t = Terminals::default();
        let s = settle(&["--allowed-signers", "a", "--signer", "me", "m"], t, &[]).unwrap();
        let Some(Request::Ssh {
            signature,
            namespace,
            ..
        }) = s.signing.map(|s| s.request(Path::new("m")))
        else {
            panic!("an SSH request");
        };
        assert_eq!(
            (signature, namespace.as_str()),
            (PathBuf::from("m.sig"), "b3tree")
        );
        let s = settle(&["--minisign-key", "RW", "--signature=s", "m"], t, &[]).unwrap();
        let Some(Request::Minisign { signature, .. }) =
            s.signing.map(|s| s.request(Path::new("m")))
        else {
            panic!("a minisign request");
        };
        assert_eq!(signature, PathBuf::from("s"));
        assert!(settle(&["--signature=s", "m"], t, &[]).is_err());
        assert!(settle(&["--minisign-key", "RW", "--signature=s", "a", "b"], t, &[]).is_err());
        assert!(settle(&["--minisign-key", "RW", "-"], t, &[]).is_err());
        assert!(settle(&["m"], t, &[]).unwrap().signing.is_none());
    }
}
