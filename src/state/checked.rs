//! When each entry of a manifest was last checked, and whether it was OK, for rotating
//! verification (`check
//! --subset`, `--max-duration`): `MANIFEST.b3tree-checked` beside the manifest (its real
//! path), and the journals of runs that did not end (`MANIFEST.b3tree-checked.PID`).
//!
//! It only orders the work — never-checked entries first, then those checked longest ago (a
//! failure too: an entry that keeps failing does not hold the others back) — and never
//! decides a verdict: every entry selected is read. A record is keyed by the entry's name in
//! normal form and its expected digest, so an entry whose manifest line changed counts as
//! never checked. Lines are sealed as the state's are (`line::seal`); a
//! reader stops at the first line that is torn, edited or not b3tree's, and says so once.
//! A run appends its records to its journal (its caller writes them out every fraction of a
//! second: a SIGKILL loses at most that), and at its end writes the merged records
//! atomically (temporary file, rename) and removes the journals it read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::names::escape::{self, Escaping, display};
use crate::state::files::Place;
use crate::state::line::{open, seal};
use crate::state::open::open_ours;

/// The first line of a record file or journal.
const MAGIC: &[u8] = b"b3tree-checked 1";

/// A moment, as seconds and nanoseconds since the Unix epoch.
pub type When = (i64, u32);

/// What a record says of an entry: its expected digest, when it was checked, how it ended.
type Mark = (Box<[u8]>, When, Status);

/// How a check of an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Verified OK.
    Ok,
    /// Any other verdict (FAILED, missing, unreadable).
    Failed,
    /// Not read within the time budget: to the back of the line, unverified.
    Dropped,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Dropped => "dropped",
        }
    }
}

/// The records of one manifest.
pub struct Checked {
    place: Place,
    /// Normal-form name → (expected digest, last checked, how it ended then), and whether
    /// the run found the name still listed (asked for it).
    records: HashMap<Vec<u8>, (Mark, AtomicBool)>,
    /// Journals read (removed once the merged records are written).
    journals: Vec<PathBuf>,
    /// What could not be used, said once.
    pub notices: Vec<String>,
    /// When it was loaded: a check recorded after that is one to come.
    loaded: When,
}

impl Checked {
    /// The records beside the manifest at `real` (symlinks resolved): the record file, then
    /// the journals of runs that did not end. What cannot be read is said and left out.
    pub fn load(real: &Path) -> Checked {
        let place = Place::of(real);
        let mut checked = Checked {
            records: HashMap::new(),
            journals: Vec::new(),
            notices: Vec::new(),
            place,
            loaded: now(),
        };
        let main = checked.path();
        checked.read(&main);
        for journal in checked.journal_paths() {
            checked.read(&journal);
            checked.journals.push(journal);
        }
        checked
    }

    /// `MANIFEST.b3tree-checked`.
    pub fn path(&self) -> PathBuf {
        self.place.checked()
    }

    fn journal_paths(&self) -> Vec<PathBuf> {
        let mut prefix = self
            .path()
            .file_name()
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        prefix.push(b'.');
        let Ok(dir) = std::fs::read_dir(self.place.dir()) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = dir
            .filter_map(Result::ok)
            .filter(|e| {
                (e.file_name().as_bytes().strip_prefix(prefix.as_slice())).is_some_and(|pid| {
                    !pid.is_empty() && pid.iter().all(u8::is_ascii_digit) && !alive(pid)
                })
            })
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    }

    /// Reads one file's records into the map (a later record of a name replaces it).
    fn read(&mut self, path: &Path) {
        let shown = display(path.as_os_str().as_bytes());
        let file = match open_ours(path) {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                self.notices.push(format!("{shown}: not used: {e}"));
                return;
            }
        };
        let mut lines = BufReader::new(file).split(b'\n');
        let mut line_no = 0u64;
        let bad = |why: &str, line_no: u64| {
            format!("{shown}:{line_no}: {why}: the records from here on are not used")
        };
        match lines.next() {
            Some(Ok(l)) if open(&l) == Some(MAGIC) => line_no += 1,
            Some(Ok(_)) => {
                self.notices
                    .push(format!("{shown}: not a record file of b3tree's: not used"));
                return;
            }
            _ => return,
        }
        for line in lines {
            line_no += 1;
            let Ok(line) = line else {
                self.notices.push(bad("unreadable", line_no));
                return;
            };
            match open(&line).and_then(parse_record) {
                Some((name, (digest, at, status))) => {
                    // Journals of several runs: the newest check of a name stands.
                    let newer = self
                        .records
                        .get(&name)
                        .is_none_or(|((_, t, _), _)| *t <= at);
                    if newer {
                        self.records
                            .insert(name, ((digest, at, status), AtomicBool::new(false)));
                    }
                }
                None => {
                    self.notices.push(bad("torn or not b3tree's", line_no));
                    return;
                }
            }
        }
    }

    /// When the entry `name` (normal form) with `digest` was last checked. A time to come
    /// (a clock set ahead, an edited record) is no check: it would keep the entry last in
    /// line for ever.
    pub fn last(&self, name: &[u8], digest: &[u8]) -> Option<When> {
        let ((d, at, _), listed) = self.records.get(name)?;
        listed.store(true, Ordering::Relaxed);
        (**d == *digest && *at <= self.loaded).then_some(*at)
    }

    /// Starts this run's journal (`MANIFEST.b3tree-checked.PID`).
    pub fn journal(&self) -> io::Result<Journal> {
        let mut name = self.path().into_os_string();
        name.push(format!(".{}", std::process::id()));
        let path = PathBuf::from(name);
        // A new file, never through a symlink or over one (a stale journal of a reused PID
        // was read above and goes with the others).
        let _ = std::fs::remove_file(&path);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        let mut head = Vec::new();
        seal(MAGIC, &mut head);
        if let Err(e) = file.write_all(&head) {
            let _ = std::fs::remove_file(&path); // a disk full: no empty journal left
            return Err(e);
        }
        Ok(Journal {
            file,
            path,
            pending: Vec::new(),
            new: Vec::new(),
        })
    }

    /// Writes every record (those read and the run's) to the record file, atomically, and
    /// removes the journals read and the run's own. `prune`: the run asked for every entry
    /// of the manifest (read to its end, no shard): a record of a name it did not ask for is
    /// of an entry no longer listed, and is left out.
    pub fn commit(mut self, mut journal: Journal, prune: bool) -> Result<(), String> {
        let _ = journal.flush();
        if prune {
            self.records.retain(|_, (_, listed)| *listed.get_mut());
        }
        for (name, mark) in journal.new.drain(..) {
            self.records.insert(name, (mark, AtomicBool::new(true)));
        }
        let mut names: Vec<&Vec<u8>> = self.records.keys().collect();
        names.sort_by(|a, b| crate::names::order::canonical_cmp(a, b));
        let mut out = Vec::with_capacity(64 * (names.len() + 1));
        seal(MAGIC, &mut out);
        let mut content = Vec::new();
        for name in names {
            let ((digest, at, status), _) = &self.records[name];
            content.clear();
            record(name, digest, (*at, *status), &mut content);
            seal(&content, &mut out);
        }
        self.write(&out)?;
        for path in self.journals.iter().chain([&journal.path]) {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    /// Puts `bytes` in place of the record file: a temporary file (mode 0600) synced and
    /// renamed over it — never through a symlink, never over anything but a regular file of
    /// this user's (what someone else planted there is left as it is).
    fn write(&self, bytes: &[u8]) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        let path = self.path();
        let shown = display(path.as_os_str().as_bytes());
        crate::state::open::replaceable(&path)?;
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if m.uid() != rustix::process::geteuid().as_raw() {
                return Err(format!("{shown}: not replaced: it is another user's"));
            }
        }
        let fail = |e: io::Error| format!("cannot write {shown}: {e}");
        let (mut file, mut temp) =
            crate::names::temp::create_in(self.place.dir(), 0o600).map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        temp.rename_to(&path, true).map_err(fail)
    }
}

/// A run's records on their way to its journal.
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Sealed lines not yet written.
    pending: Vec<u8>,
    /// Every record of this run (for the merged file at the end).
    new: Vec<(Vec<u8>, Mark)>,
}

impl Journal {
    /// `name` (normal form) with `digest` was checked now, with `status`.
    pub fn checked(&mut self, name: &[u8], digest: &[u8], status: Status) {
        let at = now();
        let mut content = Vec::with_capacity(name.len() + 2 * digest.len() + 32);
        record(name, digest, (at, status), &mut content);
        seal(&content, &mut self.pending);
        self.new.push((name.to_vec(), (digest.into(), at, status)));
    }

    /// (device, inode) of the journal: a walk (`--audit`) leaves it out.
    pub fn id(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        self.file.metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    /// Writes what is pending (a write(2): it outlives the process, not a power cut). The
    /// caller calls it every fraction of a second.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.file.write_all(&pending)
    }
}

/// Whether the process `pid` (a journal's) is alive and another than this one: its journal
/// is still being written, and is neither read nor removed.
fn alive(pid: &[u8]) -> bool {
    let Some(pid) = std::str::from_utf8(pid)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return false;
    };
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    let alive = match rustix::process::test_kill_process(raw) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    };
    alive && pid != std::process::id() as i32
}

/// The name a record keys an entry by: its name in normal form, the root (`.`, `./`)
/// as `.`.
pub fn key(name: &[u8]) -> Vec<u8> {
    let norm = crate::names::nameset::normalize(name);
    match norm.is_empty() {
        true => b".".to_vec(),
        false => norm,
    }
}

/// The time now, as records write it.
pub fn now() -> When {
    crate::hash::facts::to_pair(std::time::SystemTime::now())
}

/// A record's content: `SECONDS.NANOSECONDS STATUS HEX NAME`, the name as a manifest
/// writes it.
fn record(name: &[u8], digest: &[u8], ((secs, nanos), status): (When, Status), out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{secs}.{nanos:09} {} ", status.word()).as_bytes());
    for b in digest {
        out.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    out.push(b' ');
    escape::push_marked(name, Escaping::Manifest, out);
}

fn parse_record(content: &[u8]) -> Option<(Vec<u8>, Mark)> {
    let mut parts = content.splitn(4, |&b| b == b' ');
    let (time, status, hex, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // A check before 1970 is no check b3tree made: an edited line.
    let at = crate::hash::facts::parse_time(time).filter(|t| t.0 >= 0)?;
    let status = [Status::Ok, Status::Failed, Status::Dropped]
        .into_iter()
        .find(|s| s.word().as_bytes() == status)?;
    let digest = crate::hash::algo::Digest::from_hex(hex)?.as_bytes().into();
    let name = match name.strip_prefix(b"\\") {
        Some(escaped) => escape::unescape(escaped).ok()?,
        None => name.to_vec(),
    };
    (!name.is_empty()).then_some((name, (digest, at, status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_line_ends_them() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.b3");
        let checked = Checked::load(&manifest);
        assert!(checked.notices.is_empty());
        let mut journal = checked.journal().unwrap();
        journal.checked(b"a/b", &[1, 2], Status::Ok);
        journal.checked(b"new\nline", &[3], Status::Failed);
        checked.commit(journal, false).unwrap();
        let again = Checked::load(&manifest);
        assert!(again.last(b"a/b", &[1, 2]).is_some());
        assert_eq!(
            again.last(b"a/b", &[1, 3]),
            None,
            "another digest: never verified"
        );
        assert!(again.last(b"new\nline", &[3]).is_some());
        assert!(again.notices.is_empty(), "{:?}", again.notices);
        // A torn last line: the records before it stand, one notice.
        let path = again.path();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"1.000000000 ok 01 torn");
        std::fs::write(&path, bytes).unwrap();
        let torn = Checked::load(&manifest);
        assert!(torn.last(b"a/b", &[1, 2]).is_some());
        assert_eq!(torn.notices.len(), 1, "{:?}", torn.notices);
    }

    #[test]
    fn a_check_in_the_future_is_no_check() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.b3");
        let checked = Checked::load(&manifest);
        let mut out = Vec::new();
        seal(MAGIC, &mut out);
        let mut content = Vec::new();
        record(
            b"later",
            &[7],
            ((32_503_680_000, 0), Status::Ok),
            &mut content,
        );
        seal(&content, &mut out);
        std::fs::write(checked.path(), out).unwrap();
        let again = Checked::load(&manifest);
        assert!(again.notices.is_empty(), "{:?}", again.notices);
        assert_eq!(again.last(b"later", &[7]), None);
    }
}
