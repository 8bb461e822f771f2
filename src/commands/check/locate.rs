//! Where a failed file is damaged: with the outboard `hash --outboard` kept beside the one
//! manifest checked (`state::outboard`), a FAILED file is read once more, group by group,
//! and each group's value compared with the outboard's — after the outboard's values for
//! that name were shown to be the true ones (their root is the manifest's digest). The
//! verdict then names the damaged byte ranges.
//!
//! Only failed files cost anything: an intact tree is checked exactly as without an
//! outboard (it is opened, not read, until a file fails). The file is opened as confined as
//! verification opens it, read with the stop polled between reads, and its fstat must not
//! change during the read (else nothing is located).

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::hash::algo::{Digest, Mode};
use crate::hash::groups::{self, MIN_DIGEST, span};
use indicatif::HumanCount;

use crate::names::escape::display;
use crate::record::Damage;
use crate::report::stderr::say;
use crate::report::summary::byte_ranges;
use crate::state::files::Place;
use crate::state::outboard::{Entry, Outboard};
use crate::sys::open::{Confine, DirCache};

/// What the outboard tells of a failed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Located {
    /// The damaged groups, as byte ranges; `of`: the file's groups.
    Damaged { ranges: Ranges, of: u64 },
    /// The outboard's data for this name is not of this manifest's digest (forged, stale,
    /// or of another mode): it proves nothing.
    Unmatched,
    /// The file's size is not the size the outboard's data is of.
    Resized { now: u64, was: u64 },
    /// Read again, every group matched: the file changed since it was verified.
    Undamaged,
    /// The manifest's digest is too short (bytes) to authenticate the outboard by.
    Weak(usize),
}

/// Damaged groups as merged byte ranges, inclusive (`[first, last]`), in order: runs of
/// adjacent group indices become one range.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Ranges {
    pub ranges: Vec<(u64, u64)>,
    /// Groups counted in `ranges`.
    pub groups: u64,
    /// Ranges beyond the ones kept (a file damaged everywhere must not need memory in
    /// proportion to it).
    pub more: u64,
    /// Where the last group added ends.
    next: u64,
}

/// Ranges kept per file; the rest are counted.
pub(crate) const MAX_RANGES: usize = 1000;

impl Ranges {
    /// Adds damaged group `index` (indices must come in increasing order).
    pub(crate) fn add(&mut self, index: u64, size: u64, group: u64) {
        let (start, end) = span(index, size, group);
        let adjacent = self.groups > 0 && self.next == start;
        self.groups += 1;
        self.next = end;
        if adjacent {
            // Extends the range before (uncounted ranges are extended by not counting).
            if let (Some(last), 0) = (self.ranges.last_mut(), self.more) {
                last.1 = end - 1;
            }
        } else if self.ranges.len() < MAX_RANGES {
            self.ranges.push((start, end - 1));
        } else {
            self.more += 1;
        }
    }
}

/// Ranges written out in a verdict line (all of them are in `--json`).
const SHOWN: usize = 8;

impl Located {
    /// What a verdict line says (`bytes 4,997,120–5,013,503 differ; 1 of 4,096 groups`).
    pub(crate) fn label(&self) -> String {
        match self {
            Located::Damaged { ranges, of } => {
                let count = ranges.ranges.len() as u64 + ranges.more;
                let listed = byte_ranges(ranges.ranges.iter().copied(), count, SHOWN);
                format!(
                    "bytes {listed} differ; {} of {} groups",
                    HumanCount(ranges.groups),
                    HumanCount(*of)
                )
            }
            Located::Unmatched => {
                "its outboard data does not match the manifest: damage not located".into()
            }
            Located::Resized { now, was } => format!(
                "{} bytes, the outboard's data is of {}: damage not located",
                HumanCount(*now),
                HumanCount(*was)
            ),
            Located::Undamaged => {
                "no group differs on a second read: the file changed since it was read".into()
            }
            Located::Weak(len) => format!(
                "its digest has {len} bytes, too short to trust the outboard by (at least \
                 {MIN_DIGEST}): damage not located"
            ),
        }
    }

    /// `--json`'s ranges and counts.
    pub(crate) fn damage(&self) -> Option<Damage> {
        let Located::Damaged { ranges, of } = self else {
            return None;
        };
        Some(Damage {
            ranges: ranges.ranges.iter().map(|&(a, b)| [a, b]).collect(),
            ranges_more: ranges.more,
            damaged_groups: ranges.groups,
            groups: *of,
        })
    }

    /// `--json`'s word for what the outboard could not tell.
    pub(crate) fn json(&self) -> Option<&'static str> {
        match self {
            Located::Damaged { .. } => None,
            Located::Unmatched => Some("unmatched"),
            Located::Resized { .. } => Some("size_differs"),
            Located::Undamaged => Some("undamaged"),
            Located::Weak(_) => Some("digest_too_short"),
        }
    }
}

/// Reads the outboard of the one manifest checked.
pub(crate) struct Locator {
    outboard: Outboard,
    mode: Mode,
    confine: Confine,
    /// A read of it failed: no longer used.
    broken: bool,
}

impl Locator {
    /// The outboard beside `manifests` when there is exactly one, a file, with one (a
    /// damaged or foreign one is said, once, and not used).
    pub(crate) fn of(manifests: &[PathBuf], mode: &Mode, confine: Confine) -> Option<Locator> {
        let [manifest] = manifests else {
            return None;
        };
        if manifest.as_os_str() == "-" || mode.algo != crate::hash::algo::Algo::Blake3 {
            return None;
        }
        let path = Place::of(&std::fs::canonicalize(manifest).ok()?).outboard();
        match Outboard::open(&path) {
            Ok(outboard) => Some(Locator {
                outboard: outboard?,
                mode: mode.clone(),
                confine,
                broken: false,
            }),
            Err(e) => {
                let shown = display(path.as_os_str().as_bytes());
                say(format_args!("{shown}: {e}; damage is not located"));
                None
            }
        }
    }

    /// What the outboard tells of the failed file `name`, whose digest should be
    /// `expected`; None when it has no data for it (or reading it failed, or a stop came).
    pub(crate) fn locate(&mut self, name: &[u8], expected: &Digest) -> Option<Located> {
        if self.broken {
            return None;
        }
        let entry = match self.outboard.find(name) {
            Ok(e) => e?,
            Err(e) => return self.unusable(&e),
        };
        if expected.as_bytes().len() < MIN_DIGEST {
            return Some(Located::Weak(expected.as_bytes().len()));
        }
        // The size first: an entry of another size is not worth authenticating.
        let path = Path::new(std::ffi::OsStr::from_bytes(name));
        let file = DirCache::new(self.confine.clone()).ok()?.open(path).ok()?;
        let size = file.metadata().ok()?.len();
        if size != entry.size {
            let (now, was) = (size, entry.size);
            return Some(Located::Resized { now, was });
        }
        match self.outboard.authentic(&entry, &self.mode, expected) {
            Ok(true) => self.compare(&file, &entry),
            Ok(false) => Some(Located::Unmatched),
            Err(e) => self.unusable(&e),
        }
    }

    /// A read of the outboard failed: said once, and it is used no more (a stop says
    /// nothing).
    fn unusable(&mut self, e: &io::Error) -> Option<Located> {
        if e.kind() != io::ErrorKind::Interrupted {
            let shown = display(self.outboard.path().as_os_str().as_bytes());
            say(format_args!("{shown}: {e}; damage is not located"));
            self.broken = true;
        }
        None
    }

    /// Reads `file` (of `entry`'s size) group by group against `entry`'s values.
    fn compare(&self, file: &File, entry: &Entry) -> Option<Located> {
        let size = entry.size;
        let group = self.outboard.group();
        let mut ranges = Ranges::default();
        let add = |index| ranges.add(index, size, group);
        self.outboard.compare(file, entry, &self.mode, add)?;
        Some(match ranges.groups {
            0 => Located::Undamaged,
            _ => Located::Damaged {
                ranges,
                of: groups::count(size, group),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_adjacent_groups_and_end_inclusive() {
        let mut r = Ranges::default();
        for i in [2, 3, 4, 9, 15] {
            r.add(i, 15 * 100 + 50, 100);
        }
        assert_eq!(r.ranges, vec![(200, 499), (900, 999), (1500, 1549)]);
        assert_eq!((r.groups, r.more), (5, 0));
    }

    #[test]
    fn ranges_beyond_the_cap_are_counted() {
        let mut r = Ranges::default();
        for i in 0..(MAX_RANGES as u64 + 10) {
            r.add(i * 2, 1 << 40, 16);
        }
        assert_eq!(r.ranges.len(), MAX_RANGES);
        assert_eq!(r.more, 10);
        assert_eq!(r.groups, MAX_RANGES as u64 + 10);
    }
}
