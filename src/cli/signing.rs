//! `check`'s signature flags: who must have signed the manifest before a line of it is read
//! (`trust` verifies; `commands::check::signed` turns these flags into its requests).

use std::path::PathBuf;

use clap::Args;

/// The namespace `ssh-keygen -Y sign -n` is told when signing manifests, unless --namespace.
pub const DEFAULT_NAMESPACE: &str = "b3tree";

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Signatures (verified before any line of the manifest is read)")]
pub struct SigningArgs {
    /// The manifest's signature [default FILE: MANIFEST.sig, or MANIFEST.minisig with
    /// --minisign-key]. Implied by --allowed-signers and --minisign-key; a failure (missing,
    /// malformed, not matching, a signer not allowed, an expired key) ends the run with
    /// status 1 before any file is read. Write `--signature=FILE` before MANIFEST
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    pub signature: Option<PathBuf>,

    /// SSH signatures (ssh-keygen -Y sign): the allowed-signers file listing who may sign
    /// (ssh-keygen(1) ALLOWED SIGNERS: principals with wildcards, namespaces=, valid-after=,
    /// valid-before=)
    #[arg(
        long,
        value_name = "FILE",
        requires = "signer",
        conflicts_with = "minisign_key"
    )]
    pub allowed_signers: Option<PathBuf>,

    /// SSH signatures: the identity the signing key must be listed for in --allowed-signers
    #[arg(long, value_name = "IDENTITY", requires = "allowed_signers")]
    pub signer: Option<String>,

    /// SSH signatures: the namespace the signature was made in (ssh-keygen -Y sign -n NS)
    /// [default: b3tree]
    #[arg(long, value_name = "NS", requires = "allowed_signers")]
    pub namespace: Option<String>,

    /// minisign signatures: the public key, as `minisign -P` takes it (RW…) or a
    /// minisign.pub file; the signature's trusted comment is shown
    #[arg(long, value_name = "PUBKEY|FILE")]
    pub minisign_key: Option<String>,
}
