//! Who wrote a manifest. A manifest proves that a tree matches *the manifest*: whoever can
//! replace it can make any tree pass. So `check` can verify, before it parses a line, that
//! the manifest's exact bytes carry a valid signature by a signer the user trusts: an SSH
//! signature (`ssh-keygen -Y sign`, checked against an allowed-signers file as ssh-keygen
//! checks it: `sshsig`, `allowed`) or a minisign one (`minisig`).
//!
//! What is verified is what is then read: the manifest is read once, in chunks, into the
//! signature's hash and into a private copy (an unlinked temporary file, so memory stays
//! flat for any size and a FIFO or stdin is read once); the copy is parsed afterwards. A
//! manifest rewritten on disk after the check therefore changes nothing of this run.

mod allowed;
mod minisig;
mod sshsig;

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::names::escape::display;

/// Signatures larger than this are not read (real ones are a few hundred bytes).
const MAX_SIGNATURE: u64 = 64 * 1024;

/// What to verify a manifest against.
#[derive(Debug, Clone)]
pub enum Request {
    /// An SSH signature, its key listed for `signer` in `allowed_signers`.
    Ssh {
        signature: PathBuf,
        allowed_signers: PathBuf,
        signer: String,
        namespace: String,
    },
    /// A minisign signature by `key` (a public key as `minisign -P` takes it, or a file).
    Minisign { signature: PathBuf, key: String },
}

/// Who signed, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// `ssh` or `minisign`.
    pub scheme: &'static str,
    /// The identity the allowed-signers file lists the key for (SSH).
    pub identity: Option<String>,
    /// The key: `ssh-ed25519 SHA256:…`, or a minisign key ID.
    pub key: String,
    pub namespace: Option<String>,
    /// minisign's trusted comment (signed with the manifest).
    pub trusted_comment: Option<String>,
    /// `FILE:LINE` of the allowed-signers line that admitted the key (SSH).
    pub allowed_by: Option<String>,
}

/// A verified manifest: its signer, and the private copy of exactly the bytes verified.
#[derive(Debug)]
pub struct Verified {
    pub signer: Signer,
    /// At offset 0.
    pub copy: File,
}

/// Why a manifest is not trusted (each one line, naming the file at fault).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The signature, the key or the allowed-signers file cannot be read or parsed.
    #[error("{0}")]
    Unusable(String),
    /// Valid material, but the signer is not the one trusted (or not now, or not here).
    #[error("{0}")]
    NotAllowed(String),
    /// The manifest's bytes are not what was signed.
    #[error("{0}")]
    Mismatch(String),
    /// The manifest could not be read, or its private copy not kept.
    #[error("{0}")]
    Io(String),
    /// A signal stopped the read.
    #[error("interrupted")]
    Stopped,
}

/// Verifies `manifest` (read from `input`, named `shown` in messages) as `request` asks.
/// Nothing of the manifest is parsed here: its bytes are hashed and copied, no more.
pub fn verify(request: &Request, shown: &str, input: &mut dyn Read) -> Result<Verified, Refused> {
    match request {
        Request::Ssh {
            signature,
            allowed_signers,
            signer,
            namespace,
        } => sshsig::verify(
            sshsig::Trusted {
                signature,
                allowed_signers,
                signer,
                namespace,
            },
            shown,
            input,
        ),
        Request::Minisign { signature, key } => minisig::verify(signature, key, shown, input),
    }
}

/// Reads all of `input` into a private copy (an unlinked temporary file), giving each chunk
/// to `seen` first. The copy is returned rewound.
fn copy_through(
    input: &mut dyn Read,
    shown: &str,
    mut seen: impl FnMut(&[u8]),
) -> Result<(File, u64), Refused> {
    let mut copy = tempfile::tempfile().map_err(|e| {
        Refused::Io(format!(
            "cannot keep a private copy of the manifest in {}: {e}",
            display(std::env::temp_dir().as_os_str().as_encoded_bytes())
        ))
    })?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        if crate::sys::cancel::is_stopped() {
            return Err(Refused::Stopped);
        }
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Refused::Io(format!("cannot read manifest {shown}: {e}"))),
        };
        seen(&buf[..n]);
        copy.write_all(&buf[..n])
            .map_err(|e| Refused::Io(format!("cannot copy manifest {shown}: {e}")))?;
        bytes += n as u64;
    }
    copy.rewind()
        .map_err(|e| Refused::Io(format!("cannot copy manifest {shown}: {e}")))?;
    Ok((copy, bytes))
}

/// A small text file of signing material (a signature, a key, an allowed-signers file),
/// read whole up to `limit` bytes; `what` names it in errors.
///
/// Opened without blocking: a FIFO with no writer (a tar archive keeps FIFOs, so a
/// `MANIFEST.sig` can be one) reads as empty and is refused, instead of holding the run
/// until it is killed; a pipe with a writer (`--signature <(…)`) is read as its data comes,
/// a Ctrl-C stopping the wait.
fn read_small(path: &Path, what: &str, limit: u64) -> Result<String, Refused> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = display(path.as_os_str().as_encoded_bytes());
    let unusable = |e: &dyn std::fmt::Display| Refused::Unusable(format!("{what} {shown}: {e}"));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| unusable(&e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(unusable(&"is a directory"));
    }
    let mut text = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if crate::sys::cancel::is_stopped() {
            return Err(Refused::Stopped);
        }
        match (&file).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(&file),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unusable(&e)),
        }
        if text.len() as u64 > limit {
            return Err(unusable(&format_args!(
                "larger than {} KiB, too large to be one",
                limit / 1024
            )));
        }
    }
    if text.is_empty() {
        return Err(unusable(&"empty"));
    }
    String::from_utf8(text).map_err(|_| unusable(&"not text (not UTF-8)"))
}

/// Waits up to 100 ms for `file` to have data (or its writer to leave).
fn wait_readable(file: &File) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(file, PollFlags::IN)];
    let slice = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    // An error (EINTR) returns to the loop, which looks at the cancel flag first.
    let _ = poll(&mut fds, Some(&slice));
}
