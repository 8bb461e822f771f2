//! `check`'s signatures: the flags become one `trust::Request` per manifest; each manifest
//! is verified before a line of it is read, and from then on its reader is the private copy
//! of the bytes verified. A failure ends the run (status 1) before the tree is touched.
//!
//! Without a signature flag, a signature lying beside a manifest is mentioned once: a
//! pipeline that signs but forgot to verify should hear of it.

use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::config::check::CheckSettings;
use crate::exit::{Exit, Fail};
use crate::manifest::read::Opened;
use crate::names::escape::display;
use crate::record::SignatureRecord;
use crate::report::stderr::say;
use crate::trust::{self, Refused, Request};

/// Verifies every opened manifest as the flags ask (and replaces its reader with the copy
/// verified); says who signed. Without signature flags, mentions a signature found beside a
/// manifest. Each signature used is added to the files the audit leaves out.
pub(super) fn verify_manifests(
    settings: &CheckSettings,
    opened: &mut Opened,
) -> Result<Vec<SignatureRecord>, Fail> {
    let Some(signing) = &settings.signing else {
        if !settings.status {
            mention_unverified(&settings.manifests);
        }
        return Ok(Vec::new());
    };
    let mut signed = Vec::new();
    for (i, manifest) in settings.manifests.iter().enumerate() {
        let request = signing.request(manifest);
        let shown = opened.names[i].clone();
        let reader = &mut opened.readers[i];
        let verified =
            trust::verify(&request, &shown, reader).map_err(|r| refusal(settings, &shown, r))?;
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
        if !settings.quiet && !settings.status {
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

/// A refusal as the run's end: status 1 for the signature's verdict (also a GitHub
/// annotation when `--annotations` asks), 2 when the manifest could not be read or copied.
fn refusal(settings: &CheckSettings, shown: &str, r: Refused) -> Fail {
    match r {
        Refused::Stopped => Fail {
            exit: Exit::Interrupted,
            message: "interrupted".into(),
        },
        Refused::Io(why) => Fail::fatal(why),
        other => {
            let why = format!("manifest {shown} not trusted, no file checked: {other}");
            if let Some(a) = super::ci::annotations(settings.annotations) {
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
