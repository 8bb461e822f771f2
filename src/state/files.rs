//! Where the state and journals of a manifest live: beside it (its real path, symlinks
//! followed), named after it, so that they travel with it and one directory listing finds
//! them.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::state::open::{open_ours, open_regular};
use crate::state::read::read_end;

const STATE: &str = ".b3tree-state";
const JOURNAL: &str = ".b3tree-journal.";
const CHECKED: &str = ".b3tree-checked";
const OUTBOARD: &str = ".b3tree-outboard";

/// At most this many journals are read (the newest): each stopped run leaves one.
pub const MAX_JOURNALS: usize = 16;

/// The files that belong to one manifest.
#[derive(Debug, Clone)]
pub struct Place {
    dir: PathBuf,
    base: Vec<u8>,
}

impl Place {
    /// For the manifest at `real` (a path with symlinks resolved).
    pub fn of(real: &Path) -> Place {
        let dir = match real.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = real.file_name().unwrap_or_default().as_bytes().to_vec();
        Place { dir, base }
    }

    /// The directory the manifest and its files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn named(&self, suffix: &[u8]) -> PathBuf {
        let mut name = self.base.clone();
        name.extend_from_slice(suffix);
        self.dir.join(OsString::from_vec(name))
    }

    /// `MANIFEST.b3tree-state`.
    pub fn state(&self) -> PathBuf {
        self.named(STATE.as_bytes())
    }

    /// `MANIFEST.b3tree-journal.N`.
    pub fn journal(&self, n: u64) -> PathBuf {
        self.named(format!("{JOURNAL}{n}").as_bytes())
    }

    /// `MANIFEST.partial`: where `-o` puts a run that could not replace the manifest.
    pub fn partial(&self) -> PathBuf {
        self.named(b".partial")
    }

    /// The files that belong to this manifest and are not it: the journals present, the
    /// state and the `.partial` (never hashed, with or without `--update`).
    pub fn own_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .journals()
            .unwrap_or_default()
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        paths.extend([self.state(), self.partial()]);
        // Rotating verification's record (`check --subset`) and its journals.
        let checked = self.named(CHECKED.as_bytes());
        let mut prefix = checked.file_name().unwrap_or_default().as_bytes().to_vec();
        prefix.push(b'.');
        if let Ok(dir) = std::fs::read_dir(&self.dir) {
            paths.extend(dir.filter_map(Result::ok).filter_map(|e| {
                let name = e.file_name();
                let pid = name.as_bytes().strip_prefix(prefix.as_slice())?;
                (!pid.is_empty() && pid.iter().all(u8::is_ascii_digit)).then(|| e.path())
            }));
        }
        paths.push(checked);
        paths.push(self.outboard());
        paths
    }

    /// `MANIFEST.b3tree-outboard`: the group values of its big files (`state::outboard`).
    pub fn outboard(&self) -> PathBuf {
        self.named(OUTBOARD.as_bytes())
    }

    /// `MANIFEST.b3tree-checked`: when each entry was last verified OK (`state::checked`).
    pub fn checked(&self) -> PathBuf {
        self.named(CHECKED.as_bytes())
    }

    /// (device, inode) of [`Self::own_paths`] that are regular files: a walk (`hash`,
    /// `check --audit`) leaves them out by identity, however their names are spelled.
    pub fn own_ids(&self) -> Vec<(u64, u64)> {
        ids_of(&self.own_paths())
    }

    /// The journals present, newest (highest N) first.
    pub fn journals(&self) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut prefix = self.base.clone();
        prefix.extend_from_slice(JOURNAL.as_bytes());
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(n) = name.as_bytes().strip_prefix(prefix.as_slice()) else {
                continue;
            };
            if let Some(n) = journal_number(n) {
                found.push((n, entry.path()));
            }
        }
        found.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        Ok(found)
    }
}

/// (device, inode) of those of `paths` that are regular files (not followed).
pub fn ids_of(paths: &[PathBuf]) -> Vec<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    paths
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// The number of a journal name's suffix: `1`, `2`, … in decimal, without sign or leading
/// zero (`0`, `01`, `+5` and numbers beyond u64 are no journals).
fn journal_number(suffix: &[u8]) -> Option<u64> {
    let digits = !suffix.is_empty() && suffix.iter().all(u8::is_ascii_digit);
    if !digits || suffix[0] == b'0' {
        return None;
    }
    std::str::from_utf8(suffix).ok()?.parse().ok()
}

/// Tries to create this run's journal: `create` is called with candidate paths until it
/// succeeds or fails otherwise than with "exists". The candidates are the numbers after the
/// highest present (`journals`, newest first), then — once those are taken or would pass
/// u64::MAX (a planted `journal.18446744073709551615`) — the lowest free ones. A name that
/// someone else took first (a concurrent run, a planted file) is skipped, never an error;
/// after [`CREATE_TRIES`] taken names the run gives up with that error.
pub fn create_journal<T>(
    place: &Place,
    journals: &[(u64, PathBuf)],
    mut create: impl FnMut(&Path) -> io::Result<T>,
) -> io::Result<T> {
    let present: std::collections::HashSet<u64> = journals.iter().map(|(n, _)| *n).collect();
    let highest = journals.first().map_or(0, |(n, _)| *n);
    let after = (1..=CREATE_TRIES as u64).map_while(|k| highest.checked_add(k));
    let lowest_free = (1..).filter(|n| !present.contains(n));
    let mut last = None;
    for n in after.chain(lowest_free).take(CREATE_TRIES) {
        match create(&place.journal(n)) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// How many journal names a run tries before it gives up.
const CREATE_TRIES: usize = 64;

/// Who owns what is at `path` (not followed), if anything is there.
fn owner(path: &Path) -> Option<(u32, bool)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.uid(), m.is_file()))
}

/// Err when something that is not ours (another user's) is at `path`, which a rename onto
/// it would replace.
pub fn replaceable(path: &Path) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    match owner(path) {
        Some((uid, _)) if uid != me => Err(format!(
            "not replacing {}: it is owned by uid {uid}, not by this user",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// The BLAKE3 of the file at `path`, if it is a regular file (never through a symlink):
/// read a MiB at a time and hashed on this thread (a manifest of a million files is ~90 MB,
/// read once at the start of an `--update` run).
pub fn file_digest(path: &Path) -> io::Result<Option<blake3::Hash>> {
    Ok(seen(path)?.map(|s| s.digest))
}

/// A manifest as a run found it: the BLAKE3 of its bytes, and the stat facts of the file
/// they were read from, taken before the read. A run whose new manifest has the same bytes
/// leaves the file in place if these facts still hold at its end (no write, no fsync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub digest: blake3::Hash,
    stamp: Stamp,
}

/// What tells one version of a file from another without reading it: identity, size, and
/// both times (the ctime moves on every write, rename or chmod, and no call sets it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

impl Seen {
    /// The file at `path` (not followed) is still the one seen: same identity, size and
    /// times.
    pub fn still_at(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && Stamp::of(&m) == self.stamp)
    }
}

/// The manifest at `path` as it is now ([`Seen`]), if it is a regular file.
pub fn seen(path: &Path) -> io::Result<Option<Seen>> {
    use std::io::Read;
    let Some(mut file) = open_regular(path)? else {
        return Ok(None);
    };
    let stamp = Stamp::of(&file.metadata()?);
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            let digest = hasher.finalize();
            return Ok(Some(Seen { digest, stamp }));
        }
        hasher.update(&buf[..filled]);
    }
}

/// Whether the state at `state` is bound to the manifest now at `manifest`: its `end` line
/// names the BLAKE3 of the manifest's bytes. Ok(Some(how the manifest was found)) when it
/// is; Ok(None) when there is no state (or no manifest); Err says why a state that exists
/// is not trusted.
pub fn bound(state: &Path, manifest: &Path) -> Result<Option<Seen>, String> {
    let mut file = match open_ours(state) {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("it cannot be read: {e}")),
    };
    let Some((_, bound)) = read_end(&mut file) else {
        return Err("it has no valid end line (cut short?)".into());
    };
    match seen(manifest) {
        Ok(Some(now)) if now.digest == bound => Ok(Some(now)),
        Ok(Some(_)) => Err(format!(
            "it belongs to another version of {} (replaced or edited since)",
            manifest.display()
        )),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("{} cannot be read: {e}", manifest.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_beside_the_manifest_and_journals_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let place = Place::of(&dir.path().join("m.b3"));
        assert_eq!(place.state(), dir.path().join("m.b3.b3tree-state"));
        for n in [
            "1",
            "10",
            "2",
            "02",
            "x",
            "",
            "0",
            "+5",
            "-3",
            " 4",
            "99999999999999999999",
        ] {
            std::fs::write(dir.path().join(format!("m.b3.b3tree-journal.{n}")), "").unwrap();
        }
        std::fs::write(dir.path().join("other.b3tree-journal.5"), "").unwrap();
        let found: Vec<u64> = place
            .journals()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(found, [10, 2, 1]);
        assert_eq!(journal_number(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(
            Place::of(Path::new("m")).journal(3),
            Path::new("./m.b3tree-journal.3")
        );
    }

    #[test]
    fn journal_numbers_never_wrap_and_taken_names_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let place = Place::of(&dir.path().join("m.b3"));
        let create = |p: &Path| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p)
                .map(|_| p.to_path_buf())
        };
        for n in [u64::MAX, 1, 2] {
            std::fs::write(place.journal(n), "").unwrap();
        }
        let journals = place.journals().unwrap();
        // After u64::MAX nothing: the lowest free number.
        let made = create_journal(&place, &journals, create).unwrap();
        assert_eq!(made, place.journal(3));
        // Names taken by someone else between the listing and the create are skipped.
        let stale = vec![(5, place.journal(5)), (1, place.journal(1))];
        for n in 6..9 {
            std::fs::write(place.journal(n), "").unwrap();
        }
        let made = create_journal(&place, &stale, create).unwrap();
        assert_eq!(made, place.journal(9));
    }
}
