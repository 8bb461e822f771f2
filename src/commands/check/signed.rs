//! `check`'s signatures: the flags become one `trust::Request` per manifest; each manifest
//! is verified before a line of it is read, and from then on its reader is the private copy
//! of the bytes verified. A failure ends the run (status 1) before the tree is touched.
//!
//! Without a signature flag, a signature lying beside a manifest is mentioned once: a
//! pipeline that signs but forgot to verify should hear of it.

use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cli::{CheckArgs, DEFAULT_NAMESPACE};
use crate::exit::{Exit, Fail};
use crate::manifest::read::Opened;
use crate::names::escape::display;
use crate::record::SignatureRecord;
use crate::report::stderr::say;
use crate::trust::{self, Refused, Request};

/// Flags that cannot make a request, refused before anything is opened.
pub(super) fn refuse_usage(args: &CheckArgs) -> Result<(), Fail> {
    let s = &args.signing;
    let explicit = s.signature.as_ref().filter(|p| !p.as_os_str().is_empty());
    if let (Some(file), true) = (explicit, args.manifests.is_empty()) {
        return Err(Fail::usage(format!(
            "--signature took {} as the signature and no MANIFEST is left: write \
             `--signature=FILE MANIFEST` (or MANIFEST first)",
            display(file.as_os_str().as_bytes())
        )));
    }
    if s.signature.is_some() && s.allowed_signers.is_none() && s.minisign_key.is_none() {
        return Err(Fail::usage(
            "--signature needs who may sign: --allowed-signers FILE --signer IDENTITY (SSH \
             signatures) or --minisign-key KEY (minisign)",
        ));
    }
    if explicit.is_some() && args.manifests.len() > 1 {
        return Err(Fail::usage(
            "one --signature FILE for several manifests: check them one by one, or leave \
             --signature out so that each is verified against its own MANIFEST.sig",
        ));
    }
    if asked(args) && explicit.is_none() && args.manifests.iter().any(|m| m == "-") {
        return Err(Fail::usage(
            "a manifest read from standard input has no MANIFEST.sig beside it: name its \
             signature with --signature=FILE",
        ));
    }
    Ok(())
}

fn asked(args: &CheckArgs) -> bool {
    let s = &args.signing;
    s.signature.is_some() || s.allowed_signers.is_some() || s.minisign_key.is_some()
}

/// Verifies every opened manifest as the flags ask (and replaces its reader with the copy
/// verified); says who signed. Without signature flags, mentions a signature found beside a
/// manifest. Each signature used is added to the files the audit leaves out.
pub(super) fn verify_manifests(
    args: &CheckArgs,
    opened: &mut Opened,
) -> Result<Vec<SignatureRecord>, Fail> {
    if !asked(args) {
        if !args.status {
            mention_unverified(&args.manifests);
        }
        return Ok(Vec::new());
    }
    let mut signed = Vec::new();
    for (i, manifest) in args.manifests.iter().enumerate() {
        let request = request(args, manifest);
        let shown = opened.names[i].clone();
        let reader = &mut opened.readers[i];
        let verified =
            trust::verify(&request, &shown, reader).map_err(|r| refusal(args, &shown, r))?;
        opened.readers[i] = Box::new(BufReader::with_capacity(64 * 1024, verified.copy));
        // Names of missing entries are kept rather than read again from a file that may
        // have changed since it was verified.
        opened.rereadable[i] = false;
        let signature = match &request {
            Request::Ssh { signature, .. } | Request::Minisign { signature, .. } => signature,
        };
        if let Ok(meta) = std::fs::metadata(signature) {
            opened.ids.push((meta.dev(), meta.ino()));
        }
        let s = verified.signer;
        if !args.quiet && !args.status {
            match (&s.identity, &s.trusted_comment) {
                (Some(who), _) => say(format_args!(
                    "signature: {shown} signed by {who} with {} (namespace {}; allowed by {})",
                    s.key,
                    s.namespace.as_deref().unwrap_or_default(),
                    s.allowed_by.as_deref().unwrap_or_default()
                )),
                (None, comment) => say(format_args!(
                    "signature: {shown} signed by minisign key {}; trusted comment: {}",
                    s.key,
                    // Signed, but by whoever holds the key: made printable all the same.
                    display(
                        comment
                            .as_deref()
                            .unwrap_or_default()
                            .replace('\t', " ")
                            .as_bytes()
                    )
                )),
            }
        }
        signed.push(SignatureRecord {
            manifest: shown,
            scheme: s.scheme,
            signer: s.identity,
            key: s.key,
            namespace: s.namespace,
            allowed_by: s.allowed_by,
            trusted_comment: s.trusted_comment,
        });
    }
    Ok(signed)
}

/// What `manifest` is verified against.
fn request(args: &CheckArgs, manifest: &Path) -> Request {
    let s = &args.signing;
    let beside = |ext: &str| {
        let mut p = manifest.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let explicit = s.signature.clone().filter(|p| !p.as_os_str().is_empty());
    match (&s.allowed_signers, &s.minisign_key) {
        (_, Some(key)) => Request::Minisign {
            signature: explicit.unwrap_or_else(|| beside(".minisig")),
            key: key.clone(),
        },
        (allowed, None) => Request::Ssh {
            signature: explicit.unwrap_or_else(|| beside(".sig")),
            allowed_signers: allowed.clone().unwrap_or_default(),
            signer: s.signer.clone().unwrap_or_default(),
            namespace: s
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
        },
    }
}

/// A refusal as the run's end: status 1 for the signature's verdict (also a GitHub
/// annotation when `--annotations` asks), 2 when the manifest could not be read or copied.
fn refusal(args: &CheckArgs, shown: &str, r: Refused) -> Fail {
    match r {
        Refused::Stopped => Fail {
            exit: Exit::Interrupted,
            message: "interrupted".into(),
        },
        Refused::Io(why) => Fail::fatal(why),
        other => {
            let why = format!("manifest {shown} not trusted, no file checked: {other}");
            if let Some(a) = super::ci::annotations(args.annotations) {
                let title = format!("b3tree check {shown}: manifest not trusted");
                let line = a.refused_manifest(shown, &why);
                super::ci::github_unchecked(&a, &line, &title, &other.to_string());
            }
            Fail::failed(why)
        }
    }
}

/// One line per signature file beside a manifest that no flag asked to verify.
fn mention_unverified(manifests: &[PathBuf]) {
    for m in manifests.iter().filter(|m| m.as_os_str() != "-") {
        for (ext, how) in [
            (".sig", "--allowed-signers FILE --signer IDENTITY"),
            (".minisig", "--minisign-key KEY"),
        ] {
            let mut p = m.as_os_str().to_owned();
            p.push(ext);
            if std::fs::metadata(&p).is_ok_and(|meta| meta.is_file()) {
                say(format_args!(
                    "note: {} lies beside the manifest and was not verified ({how} verifies \
                     it before the manifest is read)",
                    display(p.as_bytes())
                ));
            }
        }
    }
}
