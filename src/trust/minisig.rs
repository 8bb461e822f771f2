//! minisign signatures (`minisign -Sm MANIFEST` → `MANIFEST.minisig`), verified by the
//! `minisign-verify` crate: pre-hashed ones (minisign's default) as a stream while the
//! manifest is copied; legacy ones (`minisign -S -l`, a signature over the whole message)
//! over the copy read back into memory, up to [`MAX_LEGACY`] bytes — beyond, refused and
//! said why. The trusted comment is signed too and shown.

use std::io::Read;
use std::path::Path;

use base64ct::{Base64, Encoding};
use minisign_verify::{Error, PublicKey, Signature};

use super::{MAX_SIGNATURE, Refused, Signer, Verified, copy_through, read_small};
use crate::names::escape::display;

/// The largest manifest a legacy (not pre-hashed) signature is verified over.
const MAX_LEGACY: u64 = 256 * 1024 * 1024;

pub(super) fn verify(
    signature: &Path,
    key: &str,
    shown: &str,
    input: &mut dyn Read,
) -> Result<Verified, Refused> {
    let sig_shown = display(signature.as_os_str().as_encoded_bytes());
    let (public, key_id) = public_key(key)?;
    let text = read_small(signature, "signature", MAX_SIGNATURE)?;
    let sig = Signature::decode(&text).map_err(|e| {
        Refused::Unusable(format!(
            "signature {sig_shown}: not a minisign signature: {e}"
        ))
    })?;
    let mismatch = || {
        Refused::Mismatch(format!(
            "signature {sig_shown} does not match manifest {shown}: its bytes (or the trusted \
             comment) are not the ones key {key_id} signed"
        ))
    };
    let copy = match public.verify_stream(&sig) {
        Ok(mut stream) => {
            let (copy, _) = copy_through(input, shown, |chunk| stream.update(chunk))?;
            stream.finalize().map_err(|_| mismatch())?;
            copy
        }
        Err(Error::UnexpectedKeyId) => {
            let signed_by = text.lines().nth(1).and_then(key_id_of).unwrap_or_default();
            return Err(Refused::NotAllowed(format!(
                "signature {sig_shown}: made by minisign key {signed_by}, not by the key given \
                 ({key_id})"
            )));
        }
        Err(Error::UnsupportedLegacyMode) => {
            let (mut copy, bytes) = copy_through(input, shown, |_| {})?;
            if bytes > MAX_LEGACY {
                return Err(Refused::Unusable(format!(
                    "signature {sig_shown}: a legacy minisign signature (not pre-hashed) is \
                     verified over the manifest held in memory, at most {} MiB; this one has \
                     {bytes} bytes: sign it again with a current minisign (pre-hashed)",
                    MAX_LEGACY >> 20
                )));
            }
            let mut whole = Vec::with_capacity(bytes as usize);
            copy.read_to_end(&mut whole)
                .map_err(|e| Refused::Io(format!("cannot read the copy of {shown}: {e}")))?;
            public.verify(&whole, &sig, true).map_err(|_| mismatch())?;
            std::io::Seek::rewind(&mut copy)
                .map_err(|e| Refused::Io(format!("cannot read the copy of {shown}: {e}")))?;
            copy
        }
        Err(e) => {
            return Err(Refused::Unusable(format!("signature {sig_shown}: {e}")));
        }
    };
    Ok(Verified {
        signer: Signer {
            scheme: "minisign",
            identity: None,
            key: key_id,
            namespace: None,
            trusted_comment: Some(sig.trusted_comment().to_string()),
            allowed_by: None,
        },
        copy,
    })
}

/// The key given: a base64 public key as `minisign -P` takes it, else a `minisign.pub`
/// file. With its key ID (as minisign prints it).
fn public_key(key: &str) -> Result<(PublicKey, String), Refused> {
    if let Ok(public) = PublicKey::from_base64(key) {
        return Ok((public, key_id_of(key).unwrap_or_default()));
    }
    let path = Path::new(key);
    let shown = display(path.as_os_str().as_encoded_bytes());
    if !path.exists() {
        return Err(Refused::Unusable(format!(
            "minisign key {shown}: neither a public key (RW…) nor a file"
        )));
    }
    let text = read_small(path, "minisign public key", MAX_SIGNATURE)?;
    let public = PublicKey::decode(&text)
        .map_err(|e| Refused::Unusable(format!("minisign public key {shown}: {e}")))?;
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("untrusted comment:"));
    Ok((public, line.and_then(key_id_of).unwrap_or_default()))
}

/// The key ID in a base64 key or signature line (bytes 2..10, printed as minisign prints
/// it: a little-endian number in upper-case hex, without leading zeros).
fn key_id_of(line: &str) -> Option<String> {
    let bytes = Base64::decode_vec(line.trim()).ok()?;
    let id: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:X}", u64::from_le_bytes(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_as_minisign_prints_it() {
        assert_eq!(
            key_id_of("RWQwk9o9ZbgsvkxeBczGGxv71xYWsR9MRD8uBX6Mm9mu/62tAUWRbtlu").as_deref(),
            Some("BE2CB8653DDA9330")
        );
        // An ID whose first digit is 0: minisign's key file says 7F84A1D5E8CBF90.
        let mut key = b"Ed".to_vec();
        key.extend_from_slice(&0x07F8_4A1D_5E8C_BF90_u64.to_le_bytes());
        key.extend_from_slice(&[7; 32]);
        assert_eq!(
            key_id_of(&Base64::encode_string(&key)).as_deref(),
            Some("7F84A1D5E8CBF90")
        );
    }
}
