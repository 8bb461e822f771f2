//! What pass 1 makes of a manifest entry: the name it is opened by (confined beneath the
//! working directory, an absolute name beneath it taken as relative), its shard, and the job
//! the engine runs for it; with the names, the audited directory and the counts the entries
//! add up to.

use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::hash::algo::{Digest, Mode};
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome};
use crate::manifest::read::{Entry, Malformed};
use crate::names::nameset::{Location, NameSet, narrow_common_dir, normalize};
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
#[derive(Clone)]
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

/// What the entries read so far add up to: their names, the directory holding them all.
pub(super) struct Admission {
    pub(super) names: NameSet,
    /// The working directory (canonical), beneath which absolute names are taken as relative.
    pub(super) cwd: Option<Vec<u8>>,
    pub(super) common: Option<Vec<u8>>,
    pub(super) entries: u64,
    pub(super) admitted: u64,
    pub(super) other_shards: u64,
    pub(super) flags: ReadFlags,
}

impl Admission {
    /// Nothing admitted yet: names are taken beneath the working directory (canonical).
    /// `names`: the set to add them to, given [`Admission::cwd_now`] and the flags.
    pub(super) fn new(flags: ReadFlags, cwd: Option<Vec<u8>>, names: NameSet) -> Admission {
        Admission {
            names,
            cwd,
            common: None,
            entries: 0,
            admitted: 0,
            other_shards: 0,
            flags,
        }
    }

    /// The working directory, canonical, as names beneath it are taken.
    pub(super) fn cwd_now() -> Option<Vec<u8>> {
        std::env::current_dir()
            .and_then(std::fs::canonicalize)
            .ok()
            .map(|p| p.into_os_string().into_vec())
    }

    /// The job of manifest entry `e` (line `at`, starting at byte `offset`): hashed, or
    /// reported as outside when confinement refuses its name; None for an entry of another
    /// shard (which still shapes the audited directory, the same for every shard).
    pub(super) fn entry(&mut self, e: Entry, at: Location, offset: u64) -> Option<Job> {
        self.entries += 1;
        let (opened, norm, refused) = self.opened(&e.name);
        if !in_shard(&self.flags, &norm) {
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
        opened(&self.flags, self.cwd.as_deref(), name)
    }
}

/// [`Admission::opened`], from the flags and working directory alone.
pub(super) fn opened(
    flags: &ReadFlags,
    cwd: Option<&[u8]>,
    name: &[u8],
) -> (Vec<u8>, Vec<u8>, Option<&'static str>) {
    let allow_outside = flags.allow_outside;
    let relative = (!allow_outside)
        .then(|| cwd.and_then(|c| beneath(name, c)))
        .flatten();
    let opened = relative.unwrap_or_else(|| name.to_vec());
    let norm = normalize(&opened);
    let refused = lexically_outside(&opened).filter(|_| !allow_outside);
    (opened, norm, refused)
}

/// Whether the name `norm` (normal form) falls in this run's shard (any, without one).
pub(super) fn in_shard(flags: &ReadFlags, norm: &[u8]) -> bool {
    flags.shard.is_none_or(|(k, n)| shard_of(norm, n) == k)
}

/// Whether entry `e` is of the run's digest mode: one of another length or algorithm is
/// refused as malformed, and never admitted.
pub(super) fn of_this_mode(e: &Entry, mode: &Mode) -> bool {
    e.hash.as_bytes().len() == mode.len && e.tag.is_none_or(|t| t == mode.algo)
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
