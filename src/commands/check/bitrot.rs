//! Naming bit rot: when the manifest being checked has the state `hash --update` keeps beside
//! it, and that state is bound to this very manifest, a digest mismatch is told apart by the
//! file's stat facts. Content changed while size, mtime, ctime and inode did not is the mark
//! of media decay or of writes that bypassed the filesystem (`corrupted`); content changed
//! with the facts is an ordinary modification (`modified`). Content is always read: the state
//! only explains a failure, it never passes an entry.

use std::path::PathBuf;

use crate::hash::facts::Facts;
use crate::state::files::{Place, bound};
use crate::state::read::StateReader;

/// How a digest mismatch came about, by the recorded facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    Corrupted,
    Modified,
}

impl Cause {
    pub(super) fn label(self) -> &'static str {
        match self {
            Cause::Corrupted => "corrupted: content changed, metadata did not",
            Cause::Modified => "modified",
        }
    }

    pub(super) fn json(self) -> &'static str {
        match self {
            Cause::Corrupted => "corrupted",
            Cause::Modified => "modified",
        }
    }
}

/// The records of the state bound to the one manifest being checked.
pub(super) struct Recorded {
    reader: StateReader,
}

impl Recorded {
    /// The state of `manifests` when there is exactly one, a file, with a state bound to it.
    pub(super) fn of(manifests: &[PathBuf]) -> Option<Recorded> {
        let [manifest] = manifests else {
            return None;
        };
        if manifest.as_os_str() == "-" {
            return None;
        }
        let real = std::fs::canonicalize(manifest).ok()?;
        let state = Place::of(&real).state();
        if !matches!(bound(&state, &real), Ok(Some(_))) {
            return None;
        }
        let reader = StateReader::open(&state, None).ok()??;
        Some(Recorded { reader })
    }

    /// Why `name`, whose file now has `facts`, failed: None when the state has no trusted
    /// record of it (entries must be asked for in canonical order, as `hash` writes them).
    pub(super) fn cause(&mut self, name: &[u8], facts: Option<Facts>) -> Option<Cause> {
        let known = self.reader.find(name)?;
        let facts = facts?;
        Some(if known.facts.same_version(&facts) {
            Cause::Corrupted
        } else {
            Cause::Modified
        })
    }
}
