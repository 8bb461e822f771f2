//! Big files (≥ 4 MiB): read through guarded memory maps, over every core when a core is
//! free, with `read()` where a file cannot be mapped (or under `--no-mmap`).
//!
//! Why three ways:
//! - one BLAKE3 file with a core to spare is cut into subtrees (`tree`), each core reading its
//!   own region front to back through maps of `MAP_WINDOW` bytes: a cold disk then sees one
//!   sequential stream per core, as with b3sum's whole-file map, while resident memory stays
//!   at one leaf per core (1 GiB cold: 16 MiB windows over rayon 1.11 × b3sum, subtrees
//!   0.95–1.01 ×; peak RSS 21 MiB vs b3sum's 1027 MiB);
//! - with as many big files in flight as cores (`biglane`), or for SHA-2 (sequential by
//!   nature), each file is hashed on its own thread a window at a time;
//! - a truncation under a map becomes "changed" instead of a crash (`mapguard`), and a fstat
//!   per window or leaf stops a long read as soon as the file changes.

use std::fs::File;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hash::algo::{Algo, Digest, Digester, Mode};
use crate::hash::biglane::{self, Turn};
use crate::hash::file::{ReadStop, read_some};
use crate::hash::progress;
use crate::hash::stat::Stat;
use crate::hash::tree;
use crate::sys::cancel;
use crate::sys::mapguard;

/// Read size for big files that cannot be mapped: large enough for rayon to split well.
const BIG_CHUNK: usize = 4 * 1024 * 1024;
/// Bytes of a big file mapped at once: a window of a file hashed on one thread, or one leaf
/// of a file hashed as subtrees (a multiple of any page size, and a power of two as leaves
/// must be). Bounds resident memory (one 1 GiB file: peak RSS 21 MiB vs b3sum's 1027 MiB;
/// 16 MiB gave the same speed with 37 MiB, and 44 MiB instead of 32 on the mixed tree), and
/// is how often the cancel flag is polled.
pub(super) const MAP_WINDOW: u64 = 8 * 1024 * 1024;

/// `--no-mmap`: big files are read with read() into a buffer, never mapped.
static NO_MMAP: AtomicBool = AtomicBool::new(false);

/// Makes every later big file be read with read() (`hash --no-mmap`, as b3sum's).
pub fn disable_mmap() {
    NO_MMAP.store(true, Ordering::Relaxed);
}

/// Reads a big file whose fstat gave `before`: the bytes read, and the digest when the file
/// was hashed as subtrees (else the bytes went into `hasher`).
pub(super) fn read(
    file: &File,
    before: &Stat,
    mode: &Mode,
    hasher: &mut Digester,
) -> Result<(u64, Option<Digest>), ReadStop> {
    // At most one big file per core (see `biglane`).
    let turn = biglane::lane().enter();
    if NO_MMAP.load(Ordering::Relaxed) {
        return read_big(file, before.size, &turn, hasher).map(|n| (n, None));
    }
    if before.size > MAP_WINDOW && mode.algo == Algo::Blake3 && turn.spread() {
        return match read_split(file, before, mode) {
            Ok(digest) => Ok((before.size, Some(digest))),
            Err(ReadStop::Unmappable) => {
                read_big(file, before.size, &turn, hasher).map(|n| (n, None))
            }
            Err(e) => Err(e),
        };
    }
    read_mapped(file, before, &turn, hasher).map(|n| (n, None))
}

/// Hashes a big BLAKE3 file as subtrees over rayon's pool, each leaf one guarded map of at
/// most `MAP_WINDOW` bytes (see `tree`). The first failure stops the other leaves.
fn read_split(file: &File, before: &Stat, mode: &Mode) -> Result<Digest, ReadStop> {
    let leaf = |offset: u64, len: u64, hasher: &mut blake3::Hasher| -> Result<(), ReadStop> {
        if cancel::is_stopped() {
            return Err(ReadStop::Cancelled);
        }
        let map = match mapguard::GuardedMap::map(file, offset, len as usize) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => return Err(ReadStop::Unmappable),
        };
        map.hash_into(|bytes| {
            hasher.update(bytes);
        });
        if map.faulted() {
            return Err(ReadStop::Shrunk);
        }
        drop(map);
        match Stat::of(file) {
            Ok(now) if now == *before => {}
            Ok(_) => return Err(ReadStop::Changed),
            Err(e) => return Err(ReadStop::Io(e)),
        }
        progress::add(len);
        Ok(())
    };
    // The first failure is kept; the leaves not yet started then end at once.
    let first: Mutex<Option<ReadStop>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let read = |offset: u64, len: u64, hasher: &mut blake3::Hasher| -> Result<(), ()> {
        if stop.load(Ordering::Relaxed) {
            return Err(());
        }
        leaf(offset, len, hasher).map_err(|e| {
            stop.store(true, Ordering::Relaxed);
            let mut first = first.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert(e);
        })
    };
    tree::digest(mode, before.size, MAP_WINDOW, &read).map_err(|()| {
        first
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(ReadStop::Cancelled)
    })
}

/// Hashes a big file through guarded memory maps, a window at a time, on this thread (or,
/// for BLAKE3 while a core is free, each window over rayon's pool: a file of one window, or
/// one that started while every core had a big file). Falls back to `read()` where the file
/// cannot be mapped.
fn read_mapped(
    file: &File,
    before: &Stat,
    turn: &Turn,
    hasher: &mut Digester,
) -> Result<u64, ReadStop> {
    let size = before.size;
    let mut offset = 0u64;
    while offset < size {
        if cancel::is_stopped() {
            return Err(ReadStop::Cancelled);
        }
        let len = (size - offset).min(MAP_WINDOW);
        let map = match mapguard::GuardedMap::map(file, offset, len as usize) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) if offset == 0 => return read_big(file, size, turn, hasher),
            Ok(None) => return Err(ReadStop::Io(io::Error::other("no mapping slot free"))),
            Err(e) => return Err(ReadStop::Io(e)),
        };
        let spread = turn.spread();
        map.hash_into(|bytes| hasher.update_spread(bytes, spread));
        if map.faulted() {
            return Err(ReadStop::Shrunk);
        }
        // A cheap fstat per window stops a long read as soon as the file changes.
        match Stat::of(file) {
            Ok(now) if now == *before => {}
            Ok(_) => return Err(ReadStop::Changed),
            Err(e) => return Err(ReadStop::Io(e)),
        }
        offset += len;
        progress::add(len);
    }
    Ok(size)
}

fn read_big(file: &File, size: u64, turn: &Turn, hasher: &mut Digester) -> Result<u64, ReadStop> {
    let mut buf = vec![0u8; BIG_CHUNK];
    let mut total = 0u64;
    loop {
        if cancel::is_stopped() {
            return Err(ReadStop::Cancelled);
        }
        // Fill the chunk completely so rayon always gets a large input.
        let mut filled = 0;
        while filled < buf.len() {
            let n = read_some(file, &mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(total);
        }
        total += filled as u64;
        if total > size {
            return Err(ReadStop::Longer(size));
        }
        hasher.update_spread(&buf[..filled], turn.spread());
        progress::add(filled as u64);
    }
}
