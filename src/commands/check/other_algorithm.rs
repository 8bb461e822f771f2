//! Failing fast on a manifest of another algorithm. An untagged line of 64 hex digits is
//! read as BLAKE3, so a `SHA256SUMS` given to `check` without `--algo sha256` would print one
//! FAILED line per file (thousands on a real tree) before the hint at the end. Instead, when
//! the first entry verified fails, its file is hashed once more with the SHA-2 of the same
//! digest length; if that matches, the run stops there with the `--algo` hint (exit 2).
//!
//! Only for a digest mode the user did not choose (no `--algo`, no BLAKE3 mode flag), only
//! once, only for a file of at most [`MAX_PROBE`] bytes (the run waits for it), opened as
//! confined as verification opens it.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::config::check::CheckSettings;
use crate::hash::algo::{Algo, Digest, Mode};
use crate::hash::file::hash_file_in;
use crate::hash::links::Links;
use crate::hash::outcome::Outcome;
use crate::pipeline::job::Done;

use super::source::Item;
use crate::sys::open::{Confine, DirCache};

/// Files larger than this are not hashed a second time: the hint at the end stays.
const MAX_PROBE: u64 = 64 << 20;

/// Watches for the first verified entry.
pub(super) struct Probe {
    /// The SHA-2 whose digests have this run's length.
    other: Mode,
    confine: Confine,
    done: bool,
}

impl Probe {
    /// A probe when the digest mode was inferred: no `--algo`, no BLAKE3-only flag, and
    /// digests of 32 bytes (SHA-256's length) or 64 (SHA-512's).
    pub(super) fn new(settings: &CheckSettings, mode: &Mode, confine: Confine) -> Option<Probe> {
        let chosen = settings.mode_chosen;
        let algo = match (mode.algo, mode.len) {
            (Algo::Blake3, 32) => Algo::Sha256,
            (Algo::Blake3, 64) => Algo::Sha512,
            _ => return None,
        };
        (!chosen).then(|| Probe {
            other: Mode {
                algo,
                key: None,
                context: None,
                len: algo.default_len(),
                seek: 0,
            },
            confine,
            done: false,
        })
    }

    /// Called for every pass-1 item in manifest order: for the first entry hashed, if its
    /// digest differs, the hint when its file has the other algorithm's digest instead.
    pub(super) fn watch(&mut self, done: &Done<Item>) -> Option<String> {
        let (Outcome::Hashed { hash, .. }, Item::Entry { expected, .. }) =
            (&done.outcome, &done.tag)
        else {
            return None;
        };
        if std::mem::replace(&mut self.done, true) || hash == expected {
            return None;
        }
        self.other_matches(&done.name, expected)
    }

    /// The hint when the file `name` has the other algorithm's digest `expected`.
    fn other_matches(&self, name: &[u8], expected: &Digest) -> Option<String> {
        let path = Path::new(std::ffi::OsStr::from_bytes(name));
        let mut dirs = DirCache::new(self.confine.clone()).ok()?;
        let size = dirs.stat(path).ok()?.st_size;
        if u64::try_from(size).ok()? > MAX_PROBE {
            return None;
        }
        let (Outcome::Hashed { hash, .. }, _) =
            hash_file_in(&mut dirs, path, &self.other, &Links::off())
        else {
            return None;
        };
        let tag = self.other.algo.tag().to_lowercase();
        (hash.as_bytes() == expected.as_bytes()).then(|| {
            format!(
                "stopped at the first entry: its digest is the {} of the file, not its \
                 BLAKE3 (an untagged line is read as BLAKE3): check this manifest with \
                 --algo {tag}",
                self.other.algo.tag().replace("SHA", "SHA-")
            )
        })
    }
}
