//! Pass 1's source: every line of every manifest becomes one job of the engine, in
//! manifest order — entries to hash, and malformed or refused lines as reports, so that every
//! verdict and diagnostic comes out in manifest order.

use std::io::BufRead;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::hash::algo::{Digest, Mode};
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome, SkipKind};
use crate::manifest::read::{Line, LineReader, Malformed};
use crate::names::nameset::{Location, NameSet, narrow_common_dir, normalize};
use crate::pipeline::queue::Feeder;

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
    let ReadFlags {
        allow_outside,
        find_common,
        zero,
        ref mode,
    } = flags;
    let mut names = NameSet::new();
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .ok()
        .map(|p| p.into_os_string().into_vec());
    let mut common: Option<Vec<u8>> = None;
    let mut entries = 0u64;
    let mut admitted = 0u64;
    let mut read_error = None;
    'manifests: for (idx, reader) in readers.into_iter().enumerate() {
        let mut lines = LineReader::new(reader).zero(zero);
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
            let pushed = match line {
                Line::Comment => true,
                Line::Malformed(why) => feeder.push(
                    PathBuf::new(),
                    Vec::new(),
                    Action::Report(Outcome::Skipped(SkipKind::Other)),
                    Item::Malformed { at, why },
                ),
                // A digest of another length, or a tagged line of another algorithm, cannot be
                // checked by this run's mode: said like any malformed line (--strict fails).
                Line::Entry(e)
                    if e.hash.as_bytes().len() != mode.len
                        || e.tag.is_some_and(|t| t != mode.algo) =>
                {
                    feeder.push(
                        PathBuf::new(),
                        Vec::new(),
                        Action::Report(Outcome::Skipped(SkipKind::Other)),
                        Item::Malformed {
                            at,
                            why: Malformed::OtherMode,
                        },
                    )
                }
                Line::Entry(e) => {
                    entries += 1;
                    // An absolute name beneath the working directory is that file: opened
                    // (confined) by its relative path, and one name with its relative form
                    // for duplicates and the audit.
                    let relative = (!allow_outside)
                        .then(|| cwd.as_deref().and_then(|c| beneath(&e.name, c)))
                        .flatten();
                    let opened = relative.as_deref().unwrap_or(&e.name);
                    let norm = normalize(opened);
                    names.add(&norm, at);
                    let refused = match lexically_outside(opened) {
                        Some(why) if !allow_outside => Some(why),
                        _ => None,
                    };
                    // A refused name never widens the audited directory.
                    if refused.is_none() {
                        admitted += 1;
                        if find_common {
                            narrow_common_dir(&mut common, &norm);
                        }
                    }
                    let path = PathBuf::from(std::ffi::OsStr::from_bytes(opened));
                    let action = match refused {
                        Some(why) => Action::Report(Outcome::Failed(EntryError::new(
                            ErrorKind::Outside,
                            why,
                        ))),
                        None => Action::Hash,
                    };
                    feeder.push(
                        path,
                        e.name,
                        action,
                        Item::Entry {
                            at,
                            expected: e.hash,
                            offset: lines.line_start,
                        },
                    )
                }
            };
            if !pushed {
                break 'manifests;
            }
        }
    }
    SourceInfo {
        names: Some(names),
        common_dir: common,
        entries,
        admitted,
        read_error,
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
