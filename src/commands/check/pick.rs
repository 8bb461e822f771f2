//! Rotating verification's part of pass 1 (`--subset P%`, `--max-duration D`). The
//! manifests are read to their end first, as without rotation (every name for the
//! duplicates and the audit, every malformed line said), but an entry to hash is held back as
//! a candidate: where its line is, and when it was last verified OK (`state::checked`). Then
//! the candidates are ordered — never verified first, then verified longest ago, ties in
//! manifest order — and the first P percent (all, without `--subset`) are read again from
//! their lines and fed, until the time budget ends. Memory: 40 bytes per entry beyond what
//! check holds anyway.

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use super::admit::{Admission, Item, job};
use crate::config::check::Rotation;
use crate::manifest::read::entry_at;
use crate::names::entry::EntryName;
use crate::names::nameset::Location;
use crate::pipeline::queue::Feeder;
use crate::state::checked::{Checked, When, key};

/// What the source needs to rotate.
pub(super) struct Rotate {
    pub rotation: Rotation,
    /// Each manifest, to read a chosen line again at its offset.
    pub files: Vec<File>,
    /// Each manifest's records.
    pub checked: Vec<Arc<Checked>>,
    /// When the time budget ends.
    pub deadline: Option<Instant>,
    pub zero: bool,
}

/// An entry held back: when it was last checked, where its line is, and a fingerprint of
/// its name and digest (the line read again must be the same entry).
struct Candidate {
    last: Option<When>,
    at: Location,
    offset: u64,
    fingerprint: [u8; 8],
}

/// The candidates of pass 1, gathered as the manifests are read.
pub(super) struct Picker {
    rotate: Rotate,
    candidates: Vec<Candidate>,
}

/// What rotation did in pass 1: every candidate with its last check before the run, and
/// whether the budget ended the feeding.
pub(super) struct Chosen {
    pub candidates: Vec<(Location, Option<When>)>,
    pub budget_spent: bool,
}

/// Rotation's order, as a sort key: never checked first, then checked longest ago (ties
/// are broken by the caller, in manifest order).
pub(super) fn in_line(last: Option<When>) -> (bool, Option<When>) {
    (last.is_some(), last)
}

fn fingerprint(name: &[u8], digest: &[u8]) -> [u8; 8] {
    let mut h = blake3::Hasher::new();
    h.update(&(name.len() as u64).to_le_bytes());
    h.update(name);
    h.update(digest);
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

impl Picker {
    pub(super) fn new(rotate: Rotate) -> Picker {
        Picker {
            rotate,
            candidates: Vec::new(),
        }
    }

    /// Holds back the entry `name` expecting `item`'s digest.
    pub(super) fn hold(&mut self, name: &[u8], item: &Item) {
        let Item::Entry {
            at,
            expected,
            offset,
        } = item
        else {
            return;
        };
        let key = key(name);
        let checked = self.rotate.checked.get(at.0 as usize);
        self.candidates.push(Candidate {
            last: checked.and_then(|c| c.last(&key, expected.as_bytes())),
            at: *at,
            offset: *offset,
            fingerprint: fingerprint(&key, expected.as_bytes()),
        });
    }

    /// Orders the candidates and feeds the chosen ones. `read_error`: set when a line read
    /// again is not the entry it was (the manifest changed while it was checked).
    pub(super) fn feed(
        mut self,
        feeder: &mut Feeder<Item>,
        admit: &Admission,
        read_error: &mut Option<String>,
    ) -> Chosen {
        self.candidates.sort_by_key(|c| (in_line(c.last), c.at));
        let chosen = self.rotate.rotation.take(self.candidates.len() as u64);
        let mut budget_spent = false;
        for c in &self.candidates[..chosen as usize] {
            if self.rotate.deadline.is_some_and(|d| Instant::now() >= d) {
                budget_spent = true;
                break;
            }
            let file = &self.rotate.files[c.at.0 as usize];
            let e = match entry_at(file, c.offset, self.rotate.zero) {
                Ok(Some(e)) if fingerprint(&key(&e.name), e.hash.as_bytes()) == c.fingerprint => e,
                _ => {
                    *read_error = Some(format!(
                        "manifest #{} changed while it was checked (line {})",
                        c.at.0 + 1,
                        c.at.1
                    ));
                    break;
                }
            };
            let (opened, _, refused) = admit.opened(&e.name);
            let (path, name, action, item) = job(e, opened, refused, c.at, c.offset);
            if !feeder.push(path, EntryName::Own(name), action, item) {
                break;
            }
        }
        Chosen {
            candidates: self.candidates.iter().map(|c| (c.at, c.last)).collect(),
            budget_spent,
        }
    }
}
