//! Pass 1's source: every line of every manifest becomes one job of the engine, in
//! manifest order — entries to hash, and malformed or refused lines as reports, so that every
//! verdict and diagnostic comes out in manifest order.

use std::io::BufRead;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::hash::algo::{Digest, Mode};
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome, SkipKind};
use crate::manifest::read::{Entry, Line, LineReader, Malformed};
use crate::names::entry::EntryName;
use crate::names::nameset::{Location, NameSet, narrow_common_dir, normalize};
use crate::pipeline::queue::Feeder;
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
) -> SourceInfo {
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
                Line::Entry(e) => match admit.entry(e, at, lines.line_start) {
                    Some(job) => job,
                    None => continue,
                },
            };
            if !feeder.push(path, EntryName::Own(name), action, item) {
                break 'manifests;
            }
        }
    }
    SourceInfo {
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
struct Admission {
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
    fn entry(
        &mut self,
        e: Entry,
        at: Location,
        offset: u64,
    ) -> Option<(PathBuf, Vec<u8>, Action, Item)> {
        let allow_outside = self.flags.allow_outside;
        self.entries += 1;
        // An absolute name beneath the working directory is that file: opened (confined) by
        // its relative path, and one name with its relative form for duplicates and the audit.
        let relative = (!allow_outside)
            .then(|| self.cwd.as_deref().and_then(|c| beneath(&e.name, c)))
            .flatten();
        let opened = relative.as_deref().unwrap_or(&e.name);
        let norm = normalize(opened);
        let refused = lexically_outside(opened).filter(|_| !allow_outside);
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
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(opened));
        let action = match refused {
            Some(why) => Action::Report(Outcome::Failed(EntryError::new(ErrorKind::Outside, why))),
            None => Action::Hash,
        };
        let item = Item::Entry {
            at,
            expected: e.hash,
            offset,
        };
        Some((path, e.name, action, item))
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
