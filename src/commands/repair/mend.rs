//! Mending one file: find its damaged groups (the outboard's values, authenticated by the
//! manifest's digest, against the file's), read only those groups from the second copy,
//! verify each against the outboard before anything is written, write them in place, sync,
//! and verify the whole file again.
//!
//! What is refused leaves the file as it was: a copy damaged at the same place, a size that
//! differs, a file or copy that changes while it is read. Every open is confined beneath its
//! root (the tree's, or `--from`'s) with no symlink followed, and the file written is the
//! very one read (device, inode, size, times unchanged since). A stop between two ranges
//! leaves every range written verified; the next run finds fewer damaged groups.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;

use crate::hash::algo::{Digest, Mode};
use crate::hash::groups::{self, Cv, MIN_DIGEST, cv_of};
use crate::hash::stat::Stat;
use crate::hash::tree::Keys;
use crate::state::outboard::{Entry, Outboard};
use crate::sys::cancel;
use crate::sys::open::open_under;

/// Damaged bytes held in memory between verifying them and writing them; a file damaged
/// more than this is read from the copy twice (verified both times), a group at a time.
const HOLD: u64 = 64 << 20;

/// Runs of damaged groups a file may have (16 bytes each): a file damaged in more places is
/// refused (copy it whole).
const MAX_RUNS: usize = 1_000_000;

/// The roots a repair opens beneath, and how it digests.
pub(super) struct Ctx {
    pub tree: OwnedFd,
    pub copy: OwnedFd,
    pub mode: Mode,
    pub dry_run: bool,
}

/// Runs of damaged groups (first and last index, inclusive) of a file of `size` bytes in
/// groups of `group`: `of` groups in all.
#[derive(Debug, Default)]
pub(super) struct Damage {
    pub runs: Vec<(u64, u64)>,
    pub groups: u64,
    pub of: u64,
    pub group: u64,
    pub size: u64,
}

impl Damage {
    /// Adds damaged group `index`; false once there are more runs than [`MAX_RUNS`].
    fn add(&mut self, index: u64) -> bool {
        self.groups += 1;
        let full = self.runs.len() >= MAX_RUNS;
        match self.runs.last_mut() {
            Some(last) if last.1 + 1 == index => last.1 = index,
            _ if !full => self.runs.push((index, index)),
            _ => return false,
        }
        true
    }
}

/// How mending one file ended.
#[derive(Debug)]
pub(super) enum Mended {
    /// The outboard has no data for it (smaller than 1 MiB, or hashed without --outboard).
    NoData,
    Intact,
    Repaired(Damage),
    /// `--dry-run`: every damaged range was read from the copy and verified.
    WouldRepair(Damage),
    /// Left as it was (the reason); with the damage when it was found.
    Refused(String, Option<Damage>),
    /// A stop came; the ranges written so far (each verified) are said.
    Stopped(Option<Damage>),
}

/// Mends the file `name`, whose digest in the manifest is `expected`.
pub(super) fn mend(ctx: &Ctx, outboard: &mut Outboard, name: &[u8], expected: &Digest) -> Mended {
    let entry = match outboard.find(name) {
        Ok(Some(e)) => e,
        Ok(None) => return Mended::NoData,
        Err(e) => return refused(format!("the outboard cannot be read: {e}")),
    };
    if expected.as_bytes().len() < MIN_DIGEST {
        return refused(format!(
            "its digest has {} bytes: too short to trust its outboard data (at least {MIN_DIGEST})",
            expected.as_bytes().len()
        ));
    }
    let mode = Mode {
        len: expected.as_bytes().len(),
        ..ctx.mode.clone()
    };
    // The size first: an entry claiming another size is not worth authenticating.
    let target = match open_regular(ctx.tree.as_fd(), name, entry.size) {
        Ok(f) => f,
        Err(why) => return refused(why),
    };
    match outboard.authentic(&entry, &mode, expected) {
        Ok(true) => {}
        Ok(false) => return refused("its outboard data does not match the manifest".into()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Mended::Stopped(None),
        Err(e) => return refused(format!("the outboard cannot be read: {e}")),
    }
    let mut damage = Damage {
        of: groups::count(entry.size, outboard.group()),
        group: outboard.group(),
        size: entry.size,
        ..Damage::default()
    };
    let mut within = true;
    let compared = outboard.compare(&target.0, &entry, &mode, |i| within &= damage.add(i));
    if compared.is_none() {
        return stopped_or("it changed while it was read", None);
    }
    if !within {
        let why = format!("damaged in more than {MAX_RUNS} places: copy it whole");
        return refused(why);
    }
    if damage.groups == 0 {
        return Mended::Intact;
    }
    let copy = match open_regular(ctx.copy.as_fd(), name, entry.size) {
        Ok(f) => f,
        Err(why) => return Mended::Refused(format!("the copy: {why}"), Some(damage)),
    };
    let fetch = Fetch {
        outboard,
        entry: &entry,
        keys: Keys::of(&mode),
        copy: &copy,
    };
    let hold = damage_bytes(&damage, &entry, fetch.group()) <= HOLD;
    let held = match fetch.all(&damage, hold) {
        Ok(held) => held,
        Err(why) => return Mended::Refused(why, Some(damage)),
    };
    if ctx.dry_run {
        return Mended::WouldRepair(damage);
    }
    write(
        ctx,
        name,
        (&target, &fetch),
        &damage,
        held,
        (&mode, expected),
    )
    .unwrap_or_else(|(why, wrote)| stopped_or(&why, wrote.then_some(damage)))
}

fn refused(why: String) -> Mended {
    Mended::Refused(why, None)
}

/// A stop reads as `Stopped`, anything else as refused for `why`.
fn stopped_or(why: &str, damage: Option<Damage>) -> Mended {
    match cancel::reads_stop() {
        true => Mended::Stopped(damage),
        false => Mended::Refused(why.into(), damage),
    }
}

/// A regular file of `size` bytes opened beneath `root`, and its fstat.
fn open_regular(root: BorrowedFd, name: &[u8], size: u64) -> Result<(File, Stat), String> {
    let file = open_under(root, name, false).map_err(|e| opening(&e))?;
    let st = Stat::of(&file).map_err(|e| e.to_string())?;
    if let Some(what) = st.not_regular() {
        return Err(what.into());
    }
    if st.size != size {
        return Err(format!(
            "it has {} bytes, the outboard's data is of {}",
            st.size, size
        ));
    }
    Ok((file, st))
}

fn opening(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "missing".into(),
        Some(libc::ELOOP) => "a symlink on its way (repair follows none)".into(),
        Some(libc::EXDEV) => "outside the root".into(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        }
    }
}

fn damage_bytes(damage: &Damage, entry: &Entry, group: u64) -> u64 {
    let runs = damage.runs.iter();
    runs.map(|&(a, b)| groups::span(b, entry.size, group).1 - a * group)
        .sum()
}

/// Reads damaged groups from the copy, each verified against the outboard.
struct Fetch<'a> {
    outboard: &'a Outboard,
    entry: &'a Entry,
    keys: Keys,
    copy: &'a (File, Stat),
}

impl Fetch<'_> {
    fn group(&self) -> u64 {
        self.outboard.group()
    }

    /// Reads and verifies every damaged run; their bytes when `hold` (each run's in one
    /// buffer), else nothing is kept.
    fn all(&self, damage: &Damage, hold: bool) -> Result<Option<Vec<Vec<u8>>>, String> {
        let mut held = Vec::new();
        for &run in &damage.runs {
            let mut bytes = Vec::new();
            self.run(run, |_, group| {
                if hold {
                    bytes.extend_from_slice(group);
                }
                Ok(())
            })?;
            if hold {
                held.push(bytes);
            }
        }
        match Stat::of(&self.copy.0) {
            Ok(now) if now == self.copy.1 => Ok(hold.then_some(held)),
            _ => Err("the copy changed while it was read".into()),
        }
    }

    /// Reads groups `first..=last` from the copy one at a time, each verified, and hands
    /// each to `each` with its offset.
    fn run(
        &self,
        (first, last): (u64, u64),
        mut each: impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        let (group, size) = (self.group(), self.entry.size);
        let mut buf = vec![0u8; group as usize];
        let mut stored: Vec<Cv> = vec![[0; 32]; 1];
        for index in first..=last {
            if cancel::reads_stop() {
                return Err("stopped".into());
            }
            let (a, b) = groups::span(index, size, group);
            let bytes = &mut buf[..(b - a) as usize];
            self.outboard
                .values(self.entry, index, &mut stored)
                .map_err(|e| format!("the outboard cannot be read: {e}"))?;
            self.copy
                .0
                .read_exact_at(bytes, a)
                .map_err(|e| format!("the copy cannot be read: {e}"))?;
            if cv_of(&self.keys, a, bytes) != stored[0] {
                return Err(format!(
                    "the copy is damaged there too (bytes {a}–{})",
                    b - 1
                ));
            }
            each(a, bytes)?;
        }
        Ok(())
    }
}

/// Writes the verified runs into the file and verifies it whole. Err: why not, and whether
/// something was written.
fn write(
    ctx: &Ctx,
    name: &[u8],
    (target, fetch): (&(File, Stat), &Fetch),
    damage: &Damage,
    held: Option<Vec<Vec<u8>>>,
    (mode, expected): (&Mode, &Digest),
) -> Result<Mended, (String, bool)> {
    let unchanged = "it changed during the repair: nothing written";
    let out = open_under(ctx.tree.as_fd(), name, true).map_err(|e| (opening(&e), false))?;
    let seen = &target.1;
    let same = |st: io::Result<Stat>| st.is_ok_and(|st| st == *seen);
    if !same(Stat::of(&out)) || !same(Stat::of(&target.0)) {
        return Err((unchanged.into(), false));
    }
    let mut held = held.map(Vec::into_iter);
    let mut wrote = Damage {
        runs: Vec::new(),
        groups: 0,
        ..*damage
    };
    for &run in &damage.runs {
        if cancel::reads_stop() {
            break;
        }
        let put = |at: u64, bytes: &[u8]| {
            out.write_all_at(bytes, at)
                .map_err(|e| format!("cannot write it: {e}"))
        };
        let written = match held.as_mut().and_then(Iterator::next) {
            Some(bytes) => put(run.0 * fetch.group(), &bytes),
            None => fetch.run(run, put),
        };
        // A stop or a failed read midway: what was written of this run is verified, but
        // only whole runs are said.
        written.map_err(|why| (why, true))?;
        (run.0..=run.1).for_each(|i| {
            wrote.add(i);
        });
    }
    out.sync_data()
        .map_err(|e| (format!("cannot sync it: {e}"), true))?;
    keep_mtime(&out, seen);
    if wrote.groups < damage.groups {
        return Ok(Mended::Stopped(Some(wrote)));
    }
    let mut digester = mode.digester();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < seen.size {
        let n = target
            .0
            .read_at(&mut buf, at)
            .map_err(|e| (e.to_string(), true))?;
        if n == 0 || cancel::reads_stop() {
            return Err(("it changed during the repair".into(), true));
        }
        digester.update_spread(&buf[..n], true);
        at += n as u64;
    }
    match digester.finish(mode).as_bytes() == expected.as_bytes() {
        true => Ok(Mended::Repaired(wrote)),
        false => Err((
            "it still differs after the repair: it changed meanwhile".into(),
            true,
        )),
    }
}

/// The file keeps the modification time it had: its content is the one the manifest says,
/// not a new version (its ctime tells the repair).
fn keep_mtime(out: &File, seen: &Stat) {
    use rustix::fs::{Timespec, Timestamps, UTIME_OMIT};
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: seen.mtime.0,
            tv_nsec: seen.mtime.1 as _,
        },
    };
    let _ = rustix::fs::futimens(out, &times);
}
