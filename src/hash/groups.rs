//! A file's BLAKE3 tree down to chunk groups: the chaining value of every group of `2^k`
//! chunks (16 KiB by default), from which the file's ordinary digest is the root. This is
//! what an outboard keeps (`state::outboard`) and what locates damage inside a file.
//!
//! Why groups and not the whole tree: BLAKE3 cuts an input where its left subtree is the
//! largest power of two of chunks below the whole, so every aligned group but the last is a
//! complete subtree and the last holds the rest. The groups' values alone determine the root
//! (merged as blake3 merges them, `hazmat`), so a verifier that finds the root equal to the
//! manifest's digest knows every group value is the true one — 32 bytes per group (0.2 % at
//! 16 KiB) and nothing else to trust. Comparing a file's group values with them names each
//! damaged group; a group read from a second copy is verified on its own.
//!
//! The values are computed as the file is read (`GroupHasher`, fed by the same read paths as
//! a plain digest), emitted in order to a caller's sink, and merged on a stack of at most one
//! value per tree level, as blake3's own hasher does: memory does not grow with the file.

use blake3::hazmat::{self, ChainingValue, HasherExt};
use rayon::prelude::*;

use crate::hash::algo::{Algo, Digest, Mode};
use crate::hash::feed::Feed;
use crate::hash::tree::Keys;

/// One group's chaining value.
pub type Cv = ChainingValue;

/// Bytes of one stored chaining value.
pub const CV_LEN: u64 = 32;

/// Files from this size on have group data in an outboard.
pub const MIN_SIZE: u64 = 1 << 20;

/// The shortest digest group data is kept or trusted under: the root must be a digest no
/// one can match by trying (a 1-byte digest is matched in a few hundred tries).
pub const MIN_DIGEST: usize = 16;

/// The group size when none is asked for: bao-tree's, 0.2 % of the data in values.
pub const DEFAULT_GROUP: u64 = 16 * 1024;

/// Whether `group` is a group size b3tree uses: a power of two from one chunk (1 KiB) to
/// half of [`MIN_SIZE`] (so that every file with group data has at least two groups, and
/// each group value is a non-root node).
pub fn valid_group(group: u64) -> bool {
    group.is_power_of_two() && group >= blake3::CHUNK_LEN as u64 && group <= MIN_SIZE / 2
}

/// Whether a file of `size` bytes, digested in `mode`, gets group data.
pub fn applies(mode: &Mode, size: u64) -> bool {
    mode.algo == Algo::Blake3 && size >= MIN_SIZE
}

/// Groups in a file of `size` bytes.
pub fn count(size: u64, group: u64) -> u64 {
    size.div_ceil(group).max(1)
}

/// The byte range `[start, end)` of group `index`.
pub fn span(index: u64, size: u64, group: u64) -> (u64, u64) {
    let start = index * group;
    (start, (start + group).min(size))
}

/// The chaining value of the group at byte `offset` with content `bytes`.
pub fn cv_of(keys: &Keys, offset: u64, bytes: &[u8]) -> Cv {
    let mut hasher = keys.hasher();
    hasher.set_input_offset(offset);
    hasher.update(bytes);
    hasher.finalize_non_root()
}

/// Merges group values, in order, into the root: at most one value per tree level is held.
pub struct Merger {
    keys: Keys,
    stack: Vec<Cv>,
    pushed: u64,
}

impl Merger {
    pub fn new(keys: Keys) -> Merger {
        Merger {
            keys,
            stack: Vec::with_capacity(64),
            pushed: 0,
        }
    }

    /// Adds the next group's value. Subtrees are merged lazily, before the next value goes
    /// on (as blake3's hasher merges chunks): the last merge must be the root's.
    pub fn push(&mut self, cv: Cv) {
        let keep = self.pushed.count_ones() as usize;
        while self.stack.len() > keep {
            let (Some(right), Some(left)) = (self.stack.pop(), self.stack.pop()) else {
                break;
            };
            let parent = hazmat::merge_subtrees_non_root(&left, &right, self.keys.hazmat_mode());
            self.stack.push(parent);
        }
        self.stack.push(cv);
        self.pushed += 1;
    }

    /// Values pushed so far.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The chaining value of the subtree the values make up (a leaf of `hash::tree`'s split):
    /// merged as the root is, the last merge a non-root one; a single value is itself.
    pub fn subtree(mut self) -> Option<Cv> {
        let mut right = self.stack.pop()?;
        while let Some(left) = self.stack.pop() {
            right = hazmat::merge_subtrees_non_root(&left, &right, self.keys.hazmat_mode());
        }
        Some(right)
    }

    /// The digest in `mode` (its length and offset in BLAKE3's extended output), or None with
    /// fewer than two values (a single group is the root itself, never a group value).
    pub fn root(mut self, mode: &Mode) -> Option<Digest> {
        let mut right = self.stack.pop()?;
        let mut left = self.stack.pop()?;
        while let Some(next) = self.stack.pop() {
            right = hazmat::merge_subtrees_non_root(&left, &right, self.keys.hazmat_mode());
            left = next;
        }
        Some(crate::hash::tree::root(&self.keys, (&left, &right), mode))
    }
}

/// Values a [`GroupHasher`] gathers before handing them to its sink.
const BATCH: usize = 2048;

/// Hashes a file of known size group by group as its bytes arrive: every group's value goes
/// to `sink` (index of the first, values) in order, and the root is the file's digest. Or
/// one group-aligned range of it (a leaf of `hash::tree`'s split), whose value is that
/// subtree's.
pub struct GroupHasher<S: FnMut(u64, &[Cv])> {
    keys: Keys,
    group: u64,
    /// Where the range starts (a multiple of `group`) and ends (the file's size for the
    /// whole file).
    start: u64,
    size: u64,
    /// Where the next byte fed lies in the file.
    offset: u64,
    /// The group being filled.
    current: blake3::Hasher,
    merger: Merger,
    pending: Vec<Cv>,
    sink: S,
}

impl<S: FnMut(u64, &[Cv])> GroupHasher<S> {
    /// For a file of `size` bytes, more than one `group` (see [`valid_group`]).
    pub fn new(mode: &Mode, size: u64, group: u64, sink: S) -> GroupHasher<S> {
        GroupHasher::range(mode, (0, size), group, sink)
    }

    /// For the bytes `start..end` of a file, `start` a multiple of `group`, `end` one too
    /// unless it is the file's end: a subtree of its BLAKE3 tree.
    pub fn range(mode: &Mode, (start, end): (u64, u64), group: u64, sink: S) -> GroupHasher<S> {
        let keys = Keys::of(mode);
        let mut current = keys.hasher();
        if start < end {
            current.set_input_offset(start);
        }
        GroupHasher {
            current,
            merger: Merger::new(Keys::of(mode)),
            keys,
            group,
            start,
            size: end,
            offset: start,
            pending: Vec::with_capacity(BATCH),
            sink,
        }
    }

    /// Feeds the next bytes; whole groups at a group boundary go over rayon's pool when
    /// `spread`.
    pub fn feed(&mut self, bytes: &[u8], spread: bool) {
        // Bytes beyond the size are only counted: such a feed has no digest (`finish`).
        let within = usize::try_from(self.size.saturating_sub(self.offset)).unwrap_or(usize::MAX);
        let (mut bytes, beyond) = bytes.split_at(bytes.len().min(within));
        while !bytes.is_empty() {
            let into = self.offset % self.group;
            if into == 0 && spread && bytes.len() as u64 >= 2 * self.group {
                let whole = (bytes.len() as u64 / self.group * self.group) as usize;
                self.spread(&bytes[..whole]);
                bytes = &bytes[whole..];
                continue;
            }
            let take = (bytes.len() as u64).min(self.group - into) as usize;
            self.current.update(&bytes[..take]);
            self.offset += take as u64;
            bytes = &bytes[take..];
            if self.offset % self.group == 0 || self.offset == self.size {
                self.close_group();
            }
        }
        self.offset += beyond.len() as u64;
    }

    fn spread(&mut self, bytes: &[u8]) {
        let (keys, base, group) = (&self.keys, self.offset, self.group);
        let mut cvs = Vec::with_capacity(bytes.len() / group as usize);
        bytes
            .par_chunks(group as usize)
            .enumerate()
            .map(|(i, chunk)| cv_of(keys, base + i as u64 * group, chunk))
            .collect_into_vec(&mut cvs);
        self.offset += bytes.len() as u64;
        for cv in cvs {
            self.emit(cv);
        }
        self.current = self.next_hasher();
    }

    fn close_group(&mut self) {
        let next = self.next_hasher();
        let done = std::mem::replace(&mut self.current, next);
        self.emit(done.finalize_non_root());
    }

    /// A hasher for the group at the current offset (at the end: a fresh one, never fed;
    /// an offset must be a chunk boundary).
    fn next_hasher(&self) -> blake3::Hasher {
        let mut next = self.keys.hasher();
        if self.offset < self.size {
            next.set_input_offset(self.offset);
        }
        next
    }

    fn emit(&mut self, cv: Cv) {
        self.merger.push(cv);
        self.pending.push(cv);
        if self.pending.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let first = self.start / self.group + self.merger.pushed() - self.pending.len() as u64;
            (self.sink)(first, &self.pending);
            self.pending.clear();
        }
    }

    /// The file's digest in `mode`, once exactly its size was fed (None otherwise); the last
    /// values go to the sink first.
    pub fn finish(mut self, mode: &Mode) -> Option<Digest> {
        self.flush();
        let whole = self.start == 0 && self.offset == self.size;
        if !whole || self.merger.pushed() != count(self.size, self.group) {
            return None;
        }
        self.merger.root(mode)
    }

    /// The range's subtree value, once exactly its bytes were fed; the last values go to
    /// the sink first.
    pub fn finish_subtree(mut self) -> Option<Cv> {
        self.flush();
        let len = self.size - self.start;
        if self.offset != self.size || self.merger.pushed() != count(len, self.group) {
            return None;
        }
        self.merger.subtree()
    }
}

impl<S: FnMut(u64, &[Cv])> Feed for GroupHasher<S> {
    fn update(&mut self, bytes: &[u8]) {
        self.feed(bytes, false);
    }

    fn update_spread(&mut self, bytes: &[u8], spread: bool) {
        self.feed(bytes, spread);
    }

    /// The group values come from this feed: never bypassed.
    fn splits(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modes() -> Vec<Mode> {
        let mut keyed = Mode::of(Algo::Blake3);
        keyed.key = Some([9; 32]);
        let mut derive = Mode::of(Algo::Blake3);
        derive.context = Some("b3tree groups test".into());
        let mut xof = Mode::of(Algo::Blake3);
        xof.len = 77;
        xof.seek = 1000;
        vec![Mode::of(Algo::Blake3), keyed, derive, xof]
    }

    fn whole(mode: &Mode, data: &[u8]) -> Digest {
        let mut d = mode.digester();
        d.update(data);
        d.finish(mode)
    }

    fn grouped(
        mode: &Mode,
        data: &[u8],
        group: u64,
        step: usize,
        spread: bool,
    ) -> (Digest, Vec<Cv>) {
        let mut cvs = Vec::new();
        let mut next = 0u64;
        let mut h = GroupHasher::new(mode, data.len() as u64, group, |first, got: &[Cv]| {
            assert_eq!(first, next);
            next += got.len() as u64;
            cvs.extend_from_slice(got);
        });
        for piece in data.chunks(step) {
            h.feed(piece, spread);
        }
        let digest = h.finish(mode).unwrap();
        (digest, cvs)
    }

    #[test]
    fn the_root_of_the_groups_is_the_digest_in_every_mode() {
        let data: Vec<u8> = (0..(90 * 1024 + 5)).map(|i| (i * 7 % 251) as u8).collect();
        for mode in &modes() {
            for group in [1024u64, 2048, 16 * 1024] {
                for size in [
                    group + 1,
                    2 * group,
                    3 * group - 1,
                    5 * group,
                    data.len() as u64,
                ] {
                    let bytes = &data[..size as usize];
                    for (step, spread) in [(1000, false), (size as usize, true), (4096, true)] {
                        let (digest, cvs) = grouped(mode, bytes, group, step, spread);
                        assert_eq!(digest, whole(mode, bytes), "{mode:?} {group} {size} {step}");
                        assert_eq!(cvs.len() as u64, count(size, group));
                        let mut m = Merger::new(Keys::of(mode));
                        for cv in &cvs {
                            m.push(*cv);
                        }
                        assert_eq!(m.root(mode).unwrap(), digest);
                        // Each value is that of its group alone.
                        let keys = Keys::of(mode);
                        for (i, cv) in cvs.iter().enumerate() {
                            let (s, e) = span(i as u64, size, group);
                            assert_eq!(*cv, cv_of(&keys, s, &bytes[s as usize..e as usize]));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_changed_byte_changes_its_group_only() {
        let mut data: Vec<u8> = (0..(64 * 1024)).map(|i| (i % 13) as u8).collect();
        let mode = Mode::default();
        let (_, before) = grouped(&mode, &data, 4096, 5000, false);
        data[4096 * 5 + 17] ^= 1;
        let (_, after) = grouped(&mode, &data, 4096, 5000, false);
        let differ: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        assert_eq!(differ, vec![5]);
    }

    #[test]
    fn a_short_feed_has_no_digest() {
        let mode = Mode::default();
        let mut h = GroupHasher::new(&mode, 10_000, 1024, |_, _: &[Cv]| {});
        h.feed(&[0; 9_999], false);
        assert!(h.finish(&mode).is_none());
    }
}
