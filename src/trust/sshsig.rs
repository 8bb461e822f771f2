//! SSH signatures (`ssh-keygen -Y sign`, the "sshsig" format of OpenSSH's PROTOCOL.sshsig),
//! decoded and verified by the RustCrypto `ssh-key` crate. The order is ssh-keygen's own,
//! cheapest refusal first: the signature parses, its namespace is the one asked for, its key
//! is listed for the signer (`allowed`); only then is the manifest read — hashed as it is
//! copied, the hash wrapped in the signed blob and the signature checked over it.

use std::io::Read;
use std::path::Path;

use sha2::Digest as _;
use signature::Verifier as _;
use ssh_key::{Fingerprint, HashAlg, SshSig};

use super::{MAX_SIGNATURE, Refused, Signer, Verified, allowed, copy_through, read_small};
use crate::names::escape::display;

/// What the signer must be.
pub(super) struct Trusted<'a> {
    pub signature: &'a Path,
    pub allowed_signers: &'a Path,
    pub signer: &'a str,
    pub namespace: &'a str,
}

/// The message hash a signature was made with (sshsig allows these two).
enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

pub(super) fn verify(
    trusted: Trusted,
    shown: &str,
    input: &mut dyn Read,
) -> Result<Verified, Refused> {
    let sig_shown = display(trusted.signature.as_os_str().as_encoded_bytes());
    let pem = read_small(trusted.signature, "signature", MAX_SIGNATURE)?;
    let sig = SshSig::from_pem(pem.trim_end()).map_err(|e| {
        Refused::Unusable(match by_certificate(&pem) {
            true => format!(
                "signature {sig_shown}: made with an SSH certificate, which b3tree does not \
                 verify (cert-authority is not supported): sign with the plain key and list \
                 that key in the allowed-signers file"
            ),
            false => {
                format!("signature {sig_shown}: not an SSH signature (ssh-keygen -Y sign): {e}")
            }
        })
    })?;
    if sig.namespace() != trusted.namespace {
        return Err(Refused::NotAllowed(format!(
            "signature {sig_shown}: made for namespace \"{}\", not \"{}\" (--namespace)",
            display(sig.namespace().as_bytes()),
            trusted.namespace
        )));
    }
    let key = key_name(sig.public_key());
    let line = allowed::admit(
        trusted.allowed_signers,
        &allowed::Wanted {
            key: sig.public_key(),
            key_name: &key,
            principal: trusted.signer,
            namespace: trusted.namespace,
            now: crate::sys::clock::now_seconds(),
        },
    )?;
    let mut hasher = match sig.hash_alg() {
        HashAlg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        HashAlg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        other => {
            return Err(Refused::Unusable(format!(
                "signature {sig_shown}: hash algorithm {other} is not one sshsig allows"
            )));
        }
    };
    let (copy, _) = copy_through(input, shown, |chunk| match &mut hasher {
        Hasher::Sha256(h) => h.update(chunk),
        Hasher::Sha512(h) => h.update(chunk),
    })?;
    let digest = match hasher {
        Hasher::Sha256(h) => h.finalize().to_vec(),
        Hasher::Sha512(h) => h.finalize().to_vec(),
    };
    let blob = signed_blob(&sig, &digest);
    sig.public_key()
        .verify(&blob, sig.signature())
        .map_err(|_| {
            Refused::Mismatch(format!(
                "signature {sig_shown} does not match manifest {shown}: its bytes are not the \
                 ones {key} signed"
            ))
        })?;
    Ok(Verified {
        signer: Signer {
            scheme: "ssh",
            identity: Some(trusted.signer.to_string()),
            key,
            namespace: Some(trusted.namespace.to_string()),
            trusted_comment: None,
            allowed_by: Some(format!(
                "{}:{line}",
                display(trusted.allowed_signers.as_os_str().as_encoded_bytes())
            )),
        },
        copy,
    })
}

/// Whether a signature the crate could not decode carries a certificate (a key type
/// `…-cert-v01@openssh.com`), so that the refusal says why rather than "invalid encoding".
fn by_certificate(pem: &str) -> bool {
    use base64ct::{Base64, Encoding};
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    Base64::decode_vec(&body).is_ok_and(|blob| {
        blob.windows(b"-cert-v01@openssh.com".len())
            .any(|w| w == b"-cert-v01@openssh.com")
    })
}

/// `ssh-ed25519 SHA256:…`, as ssh-keygen names a key.
fn key_name(key: &ssh_key::public::KeyData) -> String {
    format!(
        "{} {}",
        key.algorithm(),
        Fingerprint::new(HashAlg::Sha256, key)
    )
}

/// The bytes an sshsig signature is made over (PROTOCOL.sshsig): the magic preamble, then
/// as SSH strings the namespace, the reserved field, the hash algorithm's name and the
/// message's hash. Built here because the crate's own builder hashes a message held whole
/// in memory; the manifest is hashed as a stream instead.
fn signed_blob(sig: &SshSig, digest: &[u8]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }
    let mut out = Vec::with_capacity(128 + digest.len());
    out.extend_from_slice(b"SSHSIG");
    string(&mut out, sig.namespace().as_bytes());
    string(&mut out, sig.reserved());
    string(&mut out, sig.hash_alg().as_str().as_bytes());
    string(&mut out, digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed blob equals the crate's own (which hashes the message whole), and a
    /// signature ssh-keygen made verifies over it (and not over another message's).
    #[test]
    fn blob_matches_the_crates_and_ssh_keygens() {
        let pem = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgbZ3chx30s/JjJtcmRSDi3nPF4O
CXBaFWsPWmDCmk/dYAAAAGYjN0cmVlAAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1
NTE5AAAAQAjHkiDFH6pjLHQHxAyTzc8o50037DmlIncLcyp9HMc6AJeOJ6IVCBzwOL5YBO
h5ILWx9hwN8O3ufNoHbGFEuAU=
-----END SSH SIGNATURE-----";
        let sig = SshSig::from_pem(pem).unwrap();
        let msg = b"a manifest\n";
        let ours = signed_blob(&sig, &sha2::Sha512::digest(msg));
        let theirs = SshSig::signed_data("b3tree", HashAlg::Sha512, msg).unwrap();
        assert_eq!(ours, theirs);
        assert!(sig.public_key().verify(&ours, sig.signature()).is_ok());
        let other = signed_blob(&sig, &sha2::Sha512::digest(b"a manifest!\n"));
        assert!(sig.public_key().verify(&other, sig.signature()).is_err());
    }
}
