//! Big files (≥ 4 MiB): over every core when a core is free, read with `pread` into a
//! per-thread buffer below `MAP_FROM` and through guarded memory maps from there on.
//!
//! Why these ways (the measurements are in docs/performance.md, "How big files are read"):
//! - One BLAKE3 file with a core to spare is cut into subtrees (`tree`), each core reading its
//!   own region front to back: a cold disk sees one sequential stream per core, as with
//!   b3sum's whole-file map, while memory stays at one piece per core. With as many big files
//!   in flight as cores (`biglane`), or for SHA-2 (sequential by nature), each file keeps to
//!   its thread.
//! - Below `MAP_FROM` a file is read into a buffer that stays in the core's cache; mapping it
//!   would cost a map, page faults and an unmap (a TLB shootdown) per piece.
//! - From `MAP_FROM` on, mapping is cheaper when the page cache holds the file in large folios
//!   (as after a cold read), and it is what users compare with (b3sum maps whole files).
//! - A truncation under a map becomes "changed" instead of a crash (`mapguard`); a fstat per
//!   piece stops a long read as soon as the file changes; the cancel flag is polled per read.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hash::algo::{Algo, Digest, Mode};
use crate::hash::biglane::{self, Turn};
use crate::hash::feed::Feed;
use crate::hash::progress;
use crate::hash::read::{ReadStop, SMALL_BUF, with_buf};
use crate::hash::stat::Stat;
use blake3::hazmat::HasherExt;

use crate::hash::groups::{Cv, GroupHasher};
use crate::hash::tree::{self, Keys};
use crate::sys::cancel;
use crate::sys::mapguard;

/// Files from this size on are mapped (unless `--no-mmap`).
const MAP_FROM: u64 = 64 * 1024 * 1024;
/// Bytes of a file mapped at once, and the size of a subtree leaf (a power of two and a
/// multiple of any page size). Bounds resident memory (one mapped 1 GiB file: peak RSS
/// 21 MiB vs b3sum's 1027 MiB; 16 MiB gave the same speed with 37 MiB), and is how often a
/// mapped file is fstat'ed.
pub(super) const PIECE: u64 = 8 * 1024 * 1024;

/// `--no-mmap`: no file is mapped.
static NO_MMAP: AtomicBool = AtomicBool::new(false);

/// Makes every later file be read with `pread`, never mapped (`hash --no-mmap`, as b3sum's).
pub fn disable_mmap() {
    NO_MMAP.store(true, Ordering::Relaxed);
}

/// Reads a big file whose fstat gave `before`: the bytes read, and the digest when the file
/// was hashed as subtrees (else the bytes went into `hasher`).
pub(super) fn read(
    file: &File,
    before: &Stat,
    mode: &Mode,
    hasher: &mut impl Feed,
) -> Result<(u64, Option<Digest>), ReadStop> {
    // At most one big file per core (see `biglane`).
    let turn = biglane::lane().enter();
    let size = before.size;
    let mapped = size >= MAP_FROM && !NO_MMAP.load(Ordering::Relaxed);
    if size > PIECE && mode.algo == Algo::Blake3 && hasher.splits() && turn.spread() {
        let split = match read_split(file, before, mode, mapped) {
            Err(ReadStop::Unmappable) => read_split(file, before, mode, false),
            other => other,
        };
        return split.map(|digest| (size, Some(digest)));
    }
    // Mapped as far as maps can be had (a filesystem without mmap: not at all), read after.
    let mut offset = if mapped {
        read_mapped(file, before, &turn, hasher)?
    } else {
        0
    };
    while offset < size {
        let len = (size - offset).min(PIECE);
        read_range(file, offset, len, |bytes| hasher.update(bytes))?;
        unchanged(file, before)?;
        offset += len;
    }
    Ok((size, None))
}

/// Hashes a big BLAKE3 file as subtrees over rayon's pool, each leaf of at most `PIECE`
/// bytes mapped or read (see `tree`). The first failure stops the other leaves.
fn read_split(file: &File, before: &Stat, mode: &Mode, mapped: bool) -> Result<Digest, ReadStop> {
    let keys = Keys::of(mode);
    let leaf_cv = |offset: u64, len: u64| -> Result<Cv, ReadStop> {
        let mut hasher = keys.hasher();
        hasher.set_input_offset(offset);
        read_leaf(file, before, (offset, len), mapped, |bytes| {
            hasher.update(bytes);
        })?;
        Ok(hasher.finalize_non_root())
    };
    split_over_cores(mode, before.size, &leaf_cv)
}

/// A big BLAKE3 file whose group values are kept (`hash --outboard`): while a core is free,
/// hashed as subtrees as [`read_split`] does, each leaf's group values handed to `keep`
/// (index of the first, values; leaves end in any order). None when every core has a big
/// file: it is then read as a stream, on its own thread.
pub(super) fn read_groups_split(
    file: &File,
    before: &Stat,
    mode: &Mode,
    group: u64,
    keep: &(impl Fn(u64, &[Cv]) + Sync),
) -> Option<Result<Digest, ReadStop>> {
    let turn = biglane::lane().enter();
    if before.size <= PIECE || !turn.spread() {
        return None;
    }
    let split = |mapped: bool| {
        let leaf_cv = |offset: u64, len: u64| -> Result<Cv, ReadStop> {
            let range = (offset, offset + len);
            let mut hasher = GroupHasher::range(mode, range, group, |first, cvs: &[Cv]| {
                keep(first, cvs);
            });
            read_leaf(file, before, (offset, len), mapped, |b| {
                hasher.feed(b, false)
            })?;
            hasher.finish_subtree().ok_or(ReadStop::Changed)
        };
        split_over_cores(mode, before.size, &leaf_cv)
    };
    let mapped = before.size >= MAP_FROM && !NO_MMAP.load(Ordering::Relaxed);
    Some(match split(mapped) {
        Err(ReadStop::Unmappable) => split(false),
        other => other,
    })
}

/// Feeds the leaf `len` bytes at `offset` to `feed` (mapped, or read with `pread`), then
/// checks that the file did not change.
fn read_leaf(
    file: &File,
    before: &Stat,
    (offset, len): (u64, u64),
    mapped: bool,
    feed: impl FnMut(&[u8]),
) -> Result<(), ReadStop> {
    if mapped {
        map_piece(file, offset, len, feed)?;
    } else {
        read_range(file, offset, len, feed)?;
    }
    unchanged(file, before)
}

/// The digest of `size` bytes from the leaves' values over rayon's pool (`tree`); the first
/// failure is the result, and the leaves not yet started then end at once.
fn split_over_cores(
    mode: &Mode,
    size: u64,
    leaf_cv: &(impl Fn(u64, u64) -> Result<Cv, ReadStop> + Sync),
) -> Result<Digest, ReadStop> {
    let first: Mutex<Option<ReadStop>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let leaf = |offset: u64, len: u64| -> Result<Cv, ()> {
        if stop.load(Ordering::Relaxed) {
            return Err(());
        }
        leaf_cv(offset, len).map_err(|e| {
            stop.store(true, Ordering::Relaxed);
            let mut first = first.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert(e);
        })
    };
    tree::digest_of_leaves(mode, size, PIECE, &leaf).map_err(|()| {
        first
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(ReadStop::Cancelled)
    })
}

/// Hashes a big file through guarded memory maps, a piece at a time, on this thread (or,
/// for BLAKE3 while a core is free, each piece over rayon's pool: a file that started while
/// every core had a big file). Returns how far it got: the size, or the offset of the first
/// piece that could not be mapped.
fn read_mapped(
    file: &File,
    before: &Stat,
    turn: &Turn,
    hasher: &mut impl Feed,
) -> Result<u64, ReadStop> {
    let size = before.size;
    let mut offset = 0u64;
    while offset < size {
        let len = (size - offset).min(PIECE);
        let spread = turn.spread();
        match map_piece(file, offset, len, |bytes| {
            hasher.update_spread(bytes, spread)
        }) {
            Err(ReadStop::Unmappable) => return Ok(offset),
            other => other?,
        }
        unchanged(file, before)?;
        offset += len;
    }
    Ok(size)
}

/// Maps `len` bytes at `offset` and feeds them to `hash`.
fn map_piece(file: &File, offset: u64, len: u64, hash: impl FnMut(&[u8])) -> Result<(), ReadStop> {
    if cancel::reads_stop() {
        return Err(ReadStop::Cancelled);
    }
    let map = match mapguard::GuardedMap::map(file, offset, len as usize) {
        Ok(Some(m)) => m,
        Ok(None) | Err(_) => return Err(ReadStop::Unmappable),
    };
    map.hash_into(hash);
    if map.faulted() {
        return Err(ReadStop::Shrunk);
    }
    progress::add(len);
    Ok(())
}

/// Feeds `len` bytes from `offset` to `hash`, read with `pread` into this thread's buffer.
fn read_range(
    file: &File,
    offset: u64,
    len: u64,
    mut hash: impl FnMut(&[u8]),
) -> Result<(), ReadStop> {
    with_buf(usize::try_from(len).unwrap_or(SMALL_BUF), |buf| {
        let mut done = 0u64;
        while done < len {
            if cancel::reads_stop() {
                return Err(ReadStop::Cancelled);
            }
            let want = usize::try_from(len - done).map_or(buf.len(), |w| w.min(buf.len()));
            let n = loop {
                match file.read_at(&mut buf[..want], offset + done) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(ReadStop::Io(e)),
                }
            };
            if n == 0 {
                return Err(ReadStop::Shrunk);
            }
            hash(&buf[..n]);
            done += n as u64;
            progress::add(n as u64);
        }
        Ok(())
    })
}

/// A cheap fstat per piece stops a long read as soon as the file changes.
fn unchanged(file: &File, before: &Stat) -> Result<(), ReadStop> {
    match Stat::of(file) {
        Ok(now) if now == *before => Ok(()),
        Ok(_) => Err(ReadStop::Changed),
        Err(e) => Err(ReadStop::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_group_values_are_the_streamed_ones() {
        // Leaves of PIECE bytes, each writing its groups: the same values, at the same
        // indices, and the same digest as a stream through one GroupHasher (4K groups).
        let dir = tempfile::tempdir().unwrap();
        let len = 2 * PIECE as usize + 5 * 4096 + 77;
        let data: Vec<u8> = (0..len)
            .map(|i| (i % 251) as u8 ^ (i >> 13) as u8)
            .collect();
        let path = dir.path().join("f");
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let before = Stat::of(&file).unwrap();
        let mode = Mode::default();
        let kept = Mutex::new(vec![
            [0u8; 32];
            crate::hash::groups::count(len as u64, 4096) as usize
        ]);
        let keep = |first: u64, cvs: &[Cv]| {
            let mut kept = kept.lock().unwrap();
            kept[first as usize..first as usize + cvs.len()].copy_from_slice(cvs);
        };
        // Other tests may hold every core's turn for a moment: wait for a free one.
        let split = (0..1000).find_map(|_| {
            let split = read_groups_split(&file, &before, &mode, 4096, &keep);
            if split.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            split
        });
        let digest = split
            .expect("a free core")
            .unwrap_or_else(|_| panic!("read"));
        assert_eq!(digest, Digest::Blake3(blake3::hash(&data)));
        let mut streamed = Vec::new();
        let mut h = GroupHasher::new(&mode, len as u64, 4096, |_, cvs: &[Cv]| {
            streamed.extend_from_slice(cvs)
        });
        h.feed(&data, false);
        assert_eq!(h.finish(&mode).unwrap(), digest);
        assert_eq!(kept.into_inner().unwrap(), streamed);
    }
}
