//! Entries `check --audit` holds back as missing until the walk has shown whether their
//! content turned up under another name (MOVED) — in memory that does not grow with the
//! length of their names.
//!
//! A million missing 200-byte names cost 336 MB when each name was kept. Here an entry keeps
//! its expected digest and where its line starts (manifest and byte offset): 40 bytes.
//! Names are read again from the manifest when they are printed: by offset for a MOVED line
//! (rare), in one sequential pass for the MISSING lines at the end. A manifest that cannot be
//! read twice (stdin, a FIFO) keeps the names of its missing entries in memory instead (the
//! cost docs/guide.md states). A manifest changed during the run is detected (the digest on the
//! line read again must be the one held) and is an error, never a wrong name.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;

use crate::hash::algo::Digest;
use crate::manifest::read::{self, Line, LineReader};
use crate::names::nameset::Location;

const OFFSET_BITS: u32 = 48;

/// One missing entry: expected digest and the packed (manifest, offset) of its line.
struct Held {
    expected: [u8; 32],
    place: u64,
}

fn pack(manifest: u32, offset: u64) -> u64 {
    (u64::from(manifest) << OFFSET_BITS) | (offset & ((1 << OFFSET_BITS) - 1))
}

fn unpack(place: u64) -> (u32, u64) {
    (
        (place >> OFFSET_BITS) as u32,
        place & ((1 << OFFSET_BITS) - 1),
    )
}

/// A missing entry as printed at the end.
pub struct Missing<'a> {
    pub name: &'a [u8],
    pub expected: &'a Digest,
    pub at: Location,
}

pub struct MissingSet {
    held: Vec<Held>,
    moved: Vec<bool>,
    /// Indices into `held`, sorted by digest (built by [`MissingSet::index`]).
    by_hash: Vec<u32>,
    /// Per manifest: its path when it can be read again.
    sources: Vec<Option<(PathBuf, (u64, u64))>>,
    /// Names and line numbers of held entries whose manifest cannot be read again, by place.
    kept: HashMap<u64, (Vec<u8>, u64, Digest)>,
    /// Open manifests for reading names by offset.
    open: HashMap<u32, File>,
    /// The manifests are `-z` ones (NUL-terminated lines).
    zero: bool,
}

impl MissingSet {
    /// `sources[i]`: the path of manifest `i` if it is a regular file, and the (device,
    /// inode) it was read from (it is read again only if it still is that file).
    pub fn new(sources: Vec<Option<(PathBuf, (u64, u64))>>) -> Self {
        MissingSet {
            held: Vec::new(),
            moved: Vec::new(),
            by_hash: Vec::new(),
            sources,
            kept: HashMap::new(),
            open: HashMap::new(),
            zero: false,
        }
    }

    /// For `-z` manifests.
    pub fn zero(mut self, zero: bool) -> Self {
        self.zero = zero;
        self
    }

    /// Holds the entry on the line that starts at byte `offset` of manifest `at.0` (line
    /// `at.1`); `name` and the digest are kept only when that manifest cannot be read again
    /// (else only the digest's first 32 bytes, for matching).
    pub fn push(&mut self, expected: &Digest, at: Location, offset: u64, name: Vec<u8>) {
        let place = pack(at.0, offset);
        if self.sources.get(at.0 as usize).is_none_or(Option::is_none) {
            self.kept.insert(place, (name, at.1, expected.clone()));
        }
        self.held.push(Held {
            expected: expected.key32(),
            place,
        });
        self.moved.push(false);
    }

    /// Prepares digest lookups (after pass 1, before the walk).
    pub fn index(&mut self) {
        let mut idx: Vec<u32> = (0..self.held.len() as u32).collect();
        idx.sort_unstable_by(|&a, &b| {
            let (x, y) = (
                &self.held[a as usize].expected,
                &self.held[b as usize].expected,
            );
            x.cmp(y).then(a.cmp(&b))
        });
        self.by_hash = idx;
    }

    /// Marks the first held entry (in manifest order) with this digest that has not moved yet
    /// as moved, and gives its name.
    pub fn take_match(&mut self, digest: &[u8; 32]) -> Option<io::Result<Vec<u8>>> {
        let start = self
            .by_hash
            .partition_point(|&i| self.held[i as usize].expected < *digest);
        let i = self.by_hash[start..]
            .iter()
            .take_while(|&&i| self.held[i as usize].expected == *digest)
            .map(|&i| i as usize)
            .find(|&i| !self.moved[i])?;
        self.moved[i] = true;
        Some(self.name_of(i))
    }

    /// The name of held entry `i`, read again from its manifest when not kept.
    fn name_of(&mut self, i: usize) -> io::Result<Vec<u8>> {
        let Held { expected, place } = self.held[i];
        if let Some((name, _, _)) = self.kept.get(&place) {
            return Ok(name.clone());
        }
        let (m, offset) = unpack(place);
        let file = match self.open.entry(m) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let (path, id) = self.sources[m as usize].as_ref().expect("re-readable");
                v.insert(read::reopen(path, *id)?)
            }
        };
        match read::entry_at(file, offset, self.zero)? {
            Some(e) if e.hash.key32() == expected => Ok(e.name),
            _ => Err(changed()),
        }
    }

    /// Calls `f` for every entry that did not move, in manifest order, with its name and
    /// line. Names are read again in one pass per manifest.
    pub fn for_each_missing(&mut self, mut f: impl FnMut(Missing)) -> io::Result<()> {
        let mut reader: Option<(u32, LineReader<BufReader<File>>)> = None;
        for i in 0..self.held.len() {
            if self.moved[i] {
                continue;
            }
            let Held { expected, place } = self.held[i];
            let (m, offset) = unpack(place);
            if let Some((name, line, digest)) = self.kept.get(&place) {
                f(Missing {
                    name,
                    expected: digest,
                    at: (m, *line),
                });
                continue;
            }
            if reader.as_ref().is_none_or(|(rm, _)| *rm != m) {
                let (path, id) = self.sources[m as usize].as_ref().expect("re-readable");
                let file = read::reopen(path, *id)?;
                reader = Some((
                    m,
                    LineReader::new(BufReader::with_capacity(64 * 1024, file)).zero(self.zero),
                ));
            }
            let (_, lines) = reader.as_mut().expect("just set");
            loop {
                match lines.next_line()? {
                    None => return Err(changed()),
                    Some(_) if lines.line_start < offset => continue,
                    Some(Line::Entry(e))
                        if lines.line_start == offset && e.hash.key32() == expected =>
                    {
                        f(Missing {
                            name: &e.name,
                            expected: &e.hash,
                            at: (m, lines.line_no),
                        });
                        break;
                    }
                    Some(_) => return Err(changed()),
                }
            }
        }
        Ok(())
    }
}

fn changed() -> io::Error {
    io::Error::other("the manifest changed during the run")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    fn d(bytes: [u8; 32]) -> Digest {
        blake3::Hash::from_bytes(bytes).into()
    }

    #[test]
    fn names_are_read_back_by_offset_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.b3");
        let hex = |d: &[u8; 32]| blake3::Hash::from_bytes(*d).to_hex().to_string();
        let text = format!(
            "# c\n{}  one\n{}  two\n{}  three\n",
            hex(&A),
            hex(&B),
            hex(&A)
        );
        std::fs::write(&path, &text).unwrap();
        let off = |needle: &str| text.find(needle).unwrap() as u64 - 66;
        let meta = std::fs::metadata(&path).unwrap();
        let id = (
            std::os::unix::fs::MetadataExt::dev(&meta),
            std::os::unix::fs::MetadataExt::ino(&meta),
        );
        let mut set = MissingSet::new(vec![Some((path.clone(), id)), None]);
        set.push(&d(A), (0, 2), off("one"), b"not kept".to_vec());
        set.push(&d(B), (0, 3), off("two"), Vec::new());
        set.push(&d(A), (0, 4), off("three"), Vec::new());
        set.push(&d(B), (1, 7), 0, b"from stdin".to_vec());
        set.index();
        assert_eq!(set.take_match(&A).unwrap().unwrap(), b"one");
        assert_eq!(set.take_match(&B).unwrap().unwrap(), b"two");
        let mut seen = Vec::new();
        set.for_each_missing(|m| seen.push((m.name.to_vec(), m.at)))
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (b"three".to_vec(), (0, 4)),
                (b"from stdin".to_vec(), (1, 7))
            ]
        );
        assert!(set.take_match(&[9; 32]).is_none());
        // A manifest rewritten under us is an error, not a wrong name.
        std::fs::write(
            &path,
            text.replace("three", "THREE").replace(&hex(&A), &hex(&B)),
        )
        .unwrap();
        assert!(set.for_each_missing(|_| {}).is_err());
    }
}
