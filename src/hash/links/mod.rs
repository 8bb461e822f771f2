//! Hard links read once per run.
//!
//! Backup trees (rsnapshot, `cp -al` snapshot farms, Nix stores, container layers) hold the
//! same inode under many names. Every name is still opened, `fstat`ed and listed, but a
//! file's bytes are read under one of its names only: the others are given the digest that
//! read gave, when their own `fstat` shows the very version that was read.
//!
//! Why that is safe: a digest is kept only when the read that made it saw the file unchanged
//! from before to after (the hasher's own check), and only for the version it saw — size,
//! mtime, ctime and mode bits, under (device, inode), on the same mount of the same
//! filesystem with the same birth time (a device number reused by a filesystem mounted
//! during the run is another file). A name whose `fstat` shows anything else is read again
//! under that name. Filesystems whose inode numbers may repeat or be made up (FUSE, NFS,
//! SMB, 9p) share nothing. A write after the read moves the ctime past the one
//! kept, unless it fell in the same timestamp tick as a modification just before the read:
//! so, as for `--update`'s records, a digest is shared only when both times lie
//! `RACY_MARGIN` before the read started (a file changed moments before is read under
//! every name).
//!
//! Names of one inode met at the same moment on two workers: the second waits for the
//! first's read (polling the stop flag), so even then the bytes are read once.
//!
//! Files under [`SHARED_FROM`] are read under every name: reading them again costs less.
//!
//! Memory: only files with more than one link are remembered, each forgotten once as many
//! of its names were settled as it has links, and at most [`CAPACITY`] at once: beyond
//! that a new inode is read under every name and those remembered stay (see
//! `Inodes::has_room`). A digest mode is kept once per run, not per file (a key is never
//! copied into the table).

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::hash::algo::{Digest, Mode};
use crate::hash::facts::trusted_times;
use crate::hash::outcome::Outcome;
use crate::hash::stat::Stat;
use crate::sys::cancel;
use crate::sys::fsinfo::{Home, home_of};
pub use shared::Shared;

mod shared;

/// How often a name waiting for another name's read looks at the stop flag.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// The inodes remembered at once (about 100 bytes each with the map's slack: 14 MB when
/// full). A `cp -al` snapshot farm of trees of up to this many files of [`SHARED_FROM`] or
/// more reads each file once; of a larger one, this many files are read once.
pub const CAPACITY: usize = 1 << 16;

/// Files smaller than this are read under every name: remembering one (a `statx` to learn
/// where it lives, the table's lock, its memory) costs about what reading it again does. A
/// tree whose 50,000 tiny files each had a link outside it ran 1.40 × slower and held 14 MiB
/// more when every one was remembered.
pub const SHARED_FROM: u64 = 4 * 1024;

/// Digest modes remembered (a run has one; a tree spec's check one per algorithm).
const MODES: usize = 8;

/// The inodes with several links met in one run (see the module doc); `default()` shares.
#[derive(Default)]
pub struct Links {
    /// Off: every name is read (a guess with another algorithm, tests).
    off: bool,
    inodes: Mutex<Inodes>,
    /// Notified whenever a read of a remembered inode ends.
    settled: Condvar,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links").field("off", &self.off).finish()
    }
}

#[derive(Default)]
struct Inodes {
    by_id: HashMap<(u64, u64), Inode>,
    /// The digest modes met, by index.
    modes: Vec<Mode>,
    /// What forgotten inodes shared.
    forgotten: Shared,
}

struct Inode {
    /// Names of this inode settled so far (read, or given the digest).
    names: u64,
    /// Of those, names given another name's digest.
    given: u64,
    /// The bytes those did not read.
    given_bytes: u64,
    state: State,
}

enum State {
    /// A name is being read; others wait for it.
    Reading,
    /// The digest of this version, in the mode of this index.
    Known { seal: Seal, mode: u8, hash: Digest },
    /// This version was read, but its times were too recent to give its digest to another
    /// name: every name of it reads, at once, without waiting.
    Racy(Seal),
}

/// What must be equal for a digest to be given to another name of the same inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    mode: u32,
    home: Home,
}

/// A [`Version`] as the table keeps it: 16 bytes of BLAKE3 over its fields, not its 96.
type Seal = [u8; 16];

impl Version {
    fn of(st: &Stat, home: Home) -> Version {
        Version {
            size: st.size,
            mtime: st.mtime,
            ctime: st.ctime,
            mode: st.mode,
            home,
        }
    }

    fn seal(&self) -> Seal {
        let mut h = blake3::Hasher::new();
        for n in [
            self.size,
            self.mtime.0 as u64,
            self.mtime.1 as u64,
            self.ctime.0 as u64,
            self.ctime.1 as u64,
            u64::from(self.mode),
            self.home.mount,
            self.home.fsid,
            self.home.btime.0 as u64,
            u64::from(self.home.btime.1),
        ] {
            h.update(&n.to_le_bytes());
        }
        let mut seal = [0; 16];
        seal.copy_from_slice(&h.finalize().as_bytes()[..16]);
        seal
    }
}

/// What to do with a name once its `fstat` is known.
pub enum Claim<'a> {
    /// Another name of the inode was read at this very version: its digest.
    Given(Digest),
    /// Read it, then hand the outcome to the ticket.
    Read(Ticket<'a>),
    /// Not shared (one link, sharing off, a filesystem whose inodes cannot be trusted, a
    /// racy version, the table full): read it.
    Alone,
}

impl Links {
    /// Sharing off: every name is read.
    pub fn off() -> Links {
        Links {
            off: true,
            ..Links::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inodes> {
        self.inodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What to do with the regular file `file`, whose `fstat` gave `st`, digested in `mode`.
    pub fn claim(&self, file: &File, st: &Stat, mode: &Mode) -> Claim<'_> {
        if self.off || st.nlink < 2 || st.size < SHARED_FROM || st.not_regular().is_some() {
            return Claim::Alone;
        }
        let Some(home) = home_of(file) else {
            return Claim::Alone;
        };
        let id = (st.dev, st.ino);
        let version = Version::of(st, home);
        let seal = version.seal();
        let mut inodes = self.lock();
        let Some(mode_index) = inodes.mode_index(mode) else {
            return Claim::Alone;
        };
        loop {
            let fresh = !inodes.by_id.contains_key(&id);
            if fresh && !inodes.has_room() {
                return Claim::Alone;
            }
            let inode = inodes.by_id.entry(id).or_insert(Inode {
                names: 0,
                given: 0,
                given_bytes: 0,
                state: State::Reading,
            });
            match &inode.state {
                State::Reading if !fresh && cancel::is_stopped() => return Claim::Alone,
                State::Reading if !fresh => {
                    inodes = match self.settled.wait_timeout(inodes, WAIT_POLL) {
                        Ok((guard, _)) => guard,
                        Err(p) => p.into_inner().0,
                    };
                    continue;
                }
                State::Racy(v) if *v == seal => return Claim::Alone,
                State::Known {
                    seal: v,
                    mode: m,
                    hash,
                } if *v == seal && *m == mode_index => {
                    let hash = hash.clone();
                    inode.names += 1;
                    inode.given += 1;
                    inode.given_bytes += st.size;
                    inodes.forget_if_all_seen(id, st.nlink);
                    return Claim::Given(hash);
                }
                _ => {}
            }
            inode.state = State::Reading;
            inode.names += 1;
            return Claim::Read(Ticket {
                links: self,
                id,
                version,
                nlink: st.nlink,
                started: SystemTime::now(),
                mode: mode_index,
                done: false,
            });
        }
    }

    /// Names given another name's digest so far, with the names and inodes they shared.
    pub fn shared(&self) -> Shared {
        let inodes = self.lock();
        let mut total = inodes.forgotten;
        for inode in inodes.by_id.values() {
            total.add(inode.names, inode.given, inode.given_bytes);
        }
        total
    }
}

impl Inodes {
    /// The index of `mode` among the modes met (None: too many modes to remember).
    fn mode_index(&mut self, mode: &Mode) -> Option<u8> {
        let i = match self.modes.iter().position(|m| m == mode) {
            Some(i) => i,
            None if self.modes.len() < MODES => {
                self.modes.push(mode.clone());
                self.modes.len() - 1
            }
            None => return None,
        };
        u8::try_from(i).ok()
    }

    /// Room for one more inode: fewer than [`CAPACITY`] remembered. When full, new inodes
    /// are read under every name and the ones remembered stay: a farm of snapshots walked
    /// one after the other meets an inode's names a snapshot apart, so forgetting the
    /// oldest to admit the newest would forget each one just before its next name comes.
    fn has_room(&self) -> bool {
        self.by_id.len() < CAPACITY
    }

    fn forget(&mut self, id: (u64, u64)) {
        if let Some(inode) = self.by_id.remove(&id) {
            self.forgotten
                .add(inode.names, inode.given, inode.given_bytes);
        }
    }

    /// Forgets the inode once as many names were settled as it has links now (a link count
    /// that dropped during the run forgets it sooner; one that grew, later).
    fn forget_if_all_seen(&mut self, id: (u64, u64), nlink: u64) {
        let done = self
            .by_id
            .get(&id)
            .is_some_and(|i| i.names >= nlink && !matches!(i.state, State::Reading));
        if done {
            self.forget(id);
        }
    }
}

/// One name's read of a remembered inode: what it gives, or (dropped unsettled) that the
/// next name must read.
pub struct Ticket<'a> {
    links: &'a Links,
    id: (u64, u64),
    version: Version,
    nlink: u64,
    started: SystemTime,
    mode: u8,
    done: bool,
}

impl Ticket<'_> {
    /// The read ended with `outcome`: a digest is kept for the other names when the read
    /// saw the file unchanged and its times are old enough to be trusted.
    pub fn settle(mut self, outcome: &Outcome) {
        let trusted = trusted_times(
            clip(self.version.mtime),
            clip(self.version.ctime),
            self.started,
        );
        let state = match outcome {
            Outcome::Hashed { hash, size } if *size == self.version.size && trusted => {
                Some(State::Known {
                    seal: self.version.seal(),
                    mode: self.mode,
                    hash: hash.clone(),
                })
            }
            Outcome::Hashed { size, .. } if *size == self.version.size => {
                Some(State::Racy(self.version.seal()))
            }
            _ => None,
        };
        self.end(state);
    }

    /// Leaves `state` for the next names (None: nothing to give; the inode is forgotten and
    /// the next name reads).
    fn end(&mut self, state: Option<State>) {
        self.done = true;
        let mut inodes = self.links.lock();
        match (state, inodes.by_id.get_mut(&self.id)) {
            (Some(state), Some(inode)) => inode.state = state,
            (None, Some(_)) => inodes.forget(self.id),
            (_, None) => {}
        }
        inodes.forget_if_all_seen(self.id, self.nlink);
        drop(inodes);
        self.links.settled.notify_all();
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.end(None);
        }
    }
}

/// A stat time as the racy rule takes it (nanoseconds always below a second).
fn clip((s, ns): (i64, i64)) -> (i64, u32) {
    (s, ns.clamp(0, 999_999_999) as u32)
}

#[cfg(test)]
mod tests;
