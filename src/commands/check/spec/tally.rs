//! What the comparisons of a spec's entries found beyond their verdicts — keywords not
//! verified, files without a digest b3tree knows, digests not compared — said once at the
//! end, in bounded memory whatever the spec holds.

use std::collections::BTreeMap;

use crate::manifest::mtree::keys::shown;
use crate::sys::owners::Owners;

/// Keywords named one by one in the warning about those not verified.
const MAX_NAMED: usize = 20;
/// Distinct keywords counted by name (the rest are counted together).
const MAX_KEPT: usize = 1000;

/// What the comparisons found beyond verdicts, said once at the end.
#[derive(Default)]
pub(super) struct Tally {
    /// Keywords not verified, with the entries that held them.
    pub(super) unknown: BTreeMap<String, u64>,
    /// Uses of further keywords, beyond the [`MAX_KEPT`] kept by name.
    unknown_more: u64,
    /// Regular files whose entry holds no digest b3tree verifies.
    pub(super) no_digest: u64,
    /// Entries verified by one digest that hold others of the three b3tree knows: those
    /// others are not compared (one read, one digest: the strongest, or `--algo`'s).
    pub(super) other_digests: u64,
    /// Owner and group names, for `uname` and `gname`.
    pub(super) owners: Owners,
}

impl Tally {
    /// Counts the keywords of one entry that b3tree does not verify. A key is allocated once
    /// per run, not once per entry that holds it; memory is bounded whatever number of
    /// distinct keys a spec holds.
    pub(super) fn count_unknown(&mut self, keys: &[&str]) {
        for key in keys {
            let kept = self.unknown.len();
            match self.unknown.get_mut(*key) {
                Some(n) => *n += 1,
                None if kept < MAX_KEPT => {
                    self.unknown.insert((*key).to_string(), 1);
                }
                None => self.unknown_more += 1,
            }
        }
    }

    /// The warnings to give (none when everything was verified).
    pub(super) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.unknown.is_empty() {
            // A hostile spec may hold a million distinct keywords: the first ones, and a count.
            let mut list: Vec<String> = (self.unknown.iter().take(MAX_NAMED))
                .map(|(k, n)| format!("{} ({n})", shown(k)))
                .collect();
            let more = (self.unknown.iter().skip(MAX_NAMED).map(|(_, n)| n)).sum::<u64>()
                + self.unknown_more;
            if more > 0 {
                list.push(format!("{more} uses of other keywords"));
            }
            notes.push(format!(
                "keywords b3tree does not verify were ignored: {}",
                list.join(", ")
            ));
        }
        if self.no_digest > 0 {
            let (hold, their) = if self.no_digest == 1 {
                ("holds", "its")
            } else {
                ("hold", "their")
            };
            notes.push(format!(
                "{} of the spec {hold} no digest b3tree verifies (blake3digest, sha512digest, \
                 sha256digest): {their} content was not compared",
                crate::report::summary::plural(self.no_digest, "file entry", "file entries")
            ));
        }
        if self.other_digests > 0 {
            notes.push(format!(
                "{} of the spec also {} digests besides the one verified (the strongest, or \
                 --algo's): those were not compared",
                crate::report::summary::plural(self.other_digests, "entry", "entries"),
                if self.other_digests == 1 {
                    "holds"
                } else {
                    "hold"
                }
            ));
        }
        notes
    }
}
