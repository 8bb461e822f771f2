//! Pass 1's source: every line of every manifest becomes one job of the engine, in
//! manifest order — entries to hash, and malformed or refused lines as reports, so that every
//! verdict and diagnostic comes out in manifest order.

use std::io::BufRead;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use std::fs::File;
use std::sync::Arc;
use std::time::Instant;

use crate::config::check::Rotation;
use crate::hash::algo::{Digest, Mode};
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome, SkipKind};
use crate::manifest::read::{Entry, Line, LineReader, Malformed, entry_at};
use crate::names::entry::EntryName;
use crate::names::nameset::{Location, NameSet, narrow_common_dir, normalize};
use crate::pipeline::queue::Feeder;
use crate::state::checked::{Checked, When};
use crate::tree_digest::shard_of;

/// What a job of the check source carries through the pipeline.
#[derive(Debug)]
pub(super) enum Item {
    Entry {
        at: Location,
        expected: Digest,
        /// Byte offset of its line (to read the name again for `--audit`).
        offset: u64,
    },
    Malformed {
        at: Location,
        why: Malformed,
    },
}

/// How the manifests are read.
pub(super) struct ReadFlags {
    pub allow_outside: bool,
    /// Derive the audited directory from the entries.
    pub find_common: bool,
    /// `-z` manifests.
    pub zero: bool,
    /// The run's digest mode: entries of another length or algorithm are refused.
    pub mode: Mode,
    /// `--shard K/N`: only the entries whose name (in normal form) falls in shard K.
    pub shard: Option<(u64, u64)>,
}

/// What the manifest reader leaves behind for the later stages.
#[derive(Default)]
pub(super) struct SourceInfo {
    pub(super) names: Option<NameSet>,
    /// Deepest directory (normalised) holding every entry (computed for `--audit` without
    /// `--audit-root` only).
    pub(super) common_dir: Option<Vec<u8>>,
    pub(super) entries: u64,
    /// Entries not refused by confinement (the only ones that shape the audit).
    pub(super) admitted: u64,
    /// `--shard`: entries of other shards, left to their jobs.
    pub(super) other_shards: u64,
    pub(super) read_error: Option<String>,
    /// Rotating verification: what was chosen.
    pub(super) chosen: Option<Chosen>,
}

/// The part of the absolute `name` below the directory `cwd` (canonical, absolute), if it
/// lies there (component-wise: `/srv/data2/x` is not below `/srv/data`). From `/` every
/// absolute name does. The rest is still opened confined, so `..` in it cannot lead out.
pub(super) fn beneath(name: &[u8], cwd: &[u8]) -> Option<Vec<u8>> {
    if !name.starts_with(b"/") {
        return None;
    }
    let rest = if cwd == b"/" {
        &name[1..]
    } else {
        name.strip_prefix(cwd)?.strip_prefix(b"/")?
    };
    let rest = &rest[rest.iter().take_while(|&&b| b == b'/').count()..];
    (!rest.is_empty()).then(|| rest.to_vec())
}

/// Why a name may not be opened under confinement, judged from its text alone.
pub(super) fn lexically_outside(name: &[u8]) -> Option<&'static str> {
    if name.starts_with(b"/") {
        return Some("absolute path");
    }
    let mut depth = 0i64;
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("leads outside with ..");
                }
            }
            _ => depth += 1,
        }
    }
    None
}

/// The pass-1 source: every line of every manifest becomes one job.
pub(super) fn read_manifests(
    readers: Vec<Box<dyn BufRead + Send>>,
    flags: ReadFlags,
    feeder: &mut Feeder<Item>,
    rotate: Option<Rotate>,
) -> SourceInfo {
    let mut picker = rotate.map(Picker::new);
    let mut admit = Admission {
        names: NameSet::new(),
        cwd: std::env::current_dir()
            .and_then(std::fs::canonicalize)
            .ok()
            .map(|p| p.into_os_string().into_vec()),
        common: None,
        entries: 0,
        admitted: 0,
        other_shards: 0,
        flags,
    };
    let mut read_error = None;
    'manifests: for (idx, reader) in readers.into_iter().enumerate() {
        let mut lines = LineReader::new(reader).zero(admit.flags.zero);
        loop {
            let line = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(format!("cannot read manifest #{}: {e}", idx + 1));
                    break 'manifests;
                }
            };
            let at = (idx as u32, lines.line_no);
            let mode = &admit.flags.mode;
            let malformed = |why| {
                let report = Action::Report(Outcome::Skipped(SkipKind::Other));
                (
                    PathBuf::new(),
                    Vec::new(),
                    report,
                    Item::Malformed { at, why },
                )
            };
            let shard = admit.flags.shard;
            let (path, name, action, item) = match line {
                Line::Comment => continue,
                // A line without a name belongs to no shard: shard 0 reports it.
                Line::Malformed(_) if !reports(shard, None) => continue,
                Line::Malformed(why) => malformed(why),
                // A digest of another length, or a tagged line of another algorithm, cannot
                // be checked by this run's mode: said like any malformed line (--strict fails),
                // by the shard its name falls in.
                Line::Entry(e)
                    if e.hash.as_bytes().len() != mode.len
                        || e.tag.is_some_and(|t| t != mode.algo) =>
                {
                    if !reports(shard, Some(&e.name)) {
                        continue;
                    }
                    malformed(Malformed::OtherMode)
                }
                Line::Entry(e) => match (admit.entry(e, at, lines.line_start), &mut picker) {
                    (Some((_, name, Action::Hash, item)), Some(picker)) => {
                        picker.hold(&name, &item);
                        continue;
                    }
                    (Some(job), _) => job,
                    (None, _) => continue,
                },
            };
            if !feeder.push(path, EntryName::Own(name), action, item) {
                break 'manifests;
            }
        }
    }
    let chosen = match picker {
        Some(p) if read_error.is_none() => Some(p.feed(feeder, &admit, &mut read_error)),
        _ => None,
    };
    SourceInfo {
        chosen,
        names: Some(admit.names),
        common_dir: admit.common,
        entries: admit.entries,
        admitted: admit.admitted,
        other_shards: admit.other_shards,
        read_error,
    }
}

/// Whether this run (of `shard` K/N, if any) reports a malformed line: the shard of its
/// name, in normal form; shard 0 when it has none. So N shards report each line once.
fn reports(shard: Option<(u64, u64)>, name: Option<&[u8]>) -> bool {
    shard.is_none_or(|(k, n)| match name {
        Some(name) => shard_of(&normalize(name), n) == k,
        None => k == 0,
    })
}

/// What the entries read so far add up to: their names, the directory holding them all.
pub(super) struct Admission {
    names: NameSet,
    /// The working directory (canonical), beneath which absolute names are taken as relative.
    cwd: Option<Vec<u8>>,
    common: Option<Vec<u8>>,
    entries: u64,
    admitted: u64,
    other_shards: u64,
    flags: ReadFlags,
}

impl Admission {
    /// The job of manifest entry `e` (line `at`, starting at byte `offset`): hashed, or
    /// reported as outside when confinement refuses its name; None for an entry of another
    /// shard (which still shapes the audited directory, the same for every shard).
    pub(super) fn entry(&mut self, e: Entry, at: Location, offset: u64) -> Option<Job> {
        self.entries += 1;
        let (opened, norm, refused) = self.opened(&e.name);
        if self
            .flags
            .shard
            .is_some_and(|(k, n)| shard_of(&norm, n) != k)
        {
            self.other_shards += 1;
            if refused.is_none() && self.flags.find_common {
                narrow_common_dir(&mut self.common, &norm);
            }
            return None;
        }
        self.names.add(&norm, at);
        // A refused name never widens the audited directory.
        if refused.is_none() {
            self.admitted += 1;
            if self.flags.find_common {
                narrow_common_dir(&mut self.common, &norm);
            }
        }
        Some(job(e, opened, refused, at, offset))
    }

    /// The name `name` is opened by (an absolute name beneath the working directory by its
    /// relative path: one name with its relative form for duplicates and the audit), that
    /// name in normal form, and why confinement refuses it.
    pub(super) fn opened(&self, name: &[u8]) -> (Vec<u8>, Vec<u8>, Option<&'static str>) {
        let allow_outside = self.flags.allow_outside;
        let relative = (!allow_outside)
            .then(|| self.cwd.as_deref().and_then(|c| beneath(name, c)))
            .flatten();
        let opened = relative.unwrap_or_else(|| name.to_vec());
        let norm = normalize(&opened);
        let refused = lexically_outside(&opened).filter(|_| !allow_outside);
        (opened, norm, refused)
    }
}

/// A job of the check source: the path opened, the name, what is done, what it carries.
pub(super) type Job = (PathBuf, Vec<u8>, Action, Item);

/// The job of entry `e`, opened by `opened` (refused for `refused`).
pub(super) fn job(
    e: Entry,
    opened: Vec<u8>,
    refused: Option<&'static str>,
    at: Location,
    offset: u64,
) -> Job {
    let path = PathBuf::from(std::ffi::OsString::from_vec(opened));
    let action = match refused {
        Some(why) => Action::Report(Outcome::Failed(EntryError::new(ErrorKind::Outside, why))),
        None => Action::Hash,
    };
    let item = Item::Entry {
        at,
        expected: e.hash,
        offset,
    };
    (path, e.name, action, item)
}

// Rotating verification (`--subset P%`, `--max-duration D`). The manifests are read to
// their end first, as without rotation (every name for the duplicates and the audit, every
// malformed line said), but an entry to hash is held back as a candidate: where its line is,
// and when it was last verified OK (`state::checked`). Then the candidates are ordered —
// never verified first, then verified longest ago, ties in manifest order — and the first P
// percent (all, without `--subset`) are read again from their lines and fed, until the time
// budget ends. Memory: 40 bytes per entry beyond what check holds anyway.

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

/// An entry held back: when it was last verified OK, where its line is, and a fingerprint
/// of its name and digest (the line read again must be the same entry).
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

/// What rotation did in pass 1: every candidate with its last verification before the run,
/// and whether the budget ended the feeding.
pub(super) struct Chosen {
    pub candidates: Vec<(Location, Option<When>)>,
    pub budget_spent: bool,
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
        let norm = normalize(name);
        let checked = self.rotate.checked.get(at.0 as usize);
        self.candidates.push(Candidate {
            last: checked.and_then(|c| c.last(&norm, expected.as_bytes())),
            at: *at,
            offset: *offset,
            fingerprint: fingerprint(&norm, expected.as_bytes()),
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
        self.candidates
            .sort_by_key(|c| (c.last.is_some(), c.last, c.at));
        let chosen = self.rotate.rotation.take(self.candidates.len() as u64);
        let mut budget_spent = false;
        for c in &self.candidates[..chosen as usize] {
            if self.rotate.deadline.is_some_and(|d| Instant::now() >= d) {
                budget_spent = true;
                break;
            }
            let file = &self.rotate.files[c.at.0 as usize];
            let e = match entry_at(file, c.offset, self.rotate.zero) {
                Ok(Some(e))
                    if fingerprint(&normalize(&e.name), e.hash.as_bytes()) == c.fingerprint =>
                {
                    e
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn confinement_by_text() {
        assert_eq!(lexically_outside(b"a/../b"), None);
        assert_eq!(lexically_outside(b"./a"), None);
        assert!(lexically_outside(b"../x").is_some());
        assert!(lexically_outside(b"a/../../x").is_some());
        assert!(lexically_outside(b"/etc/passwd").is_some());
    }
}
