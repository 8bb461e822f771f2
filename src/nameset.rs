//! The set of names a manifest lists: duplicate detection while reading, and "is this walked
//! file known?" for `check --audit`.
//!
//! Names are stored as 128-bit keyed BLAKE3 fingerprints of their normalised form, with the
//! manifest location of their first occurrence: about 40 bytes per entry however long the
//! names. The key is random per run, so nobody can craft two names that collide.

use std::collections::HashMap;
use std::io::Read;

/// Where an entry was first seen: manifest index and line number.
pub type Location = (u32, u64);

pub struct NameSet {
    key: [u8; 32],
    map: HashMap<u128, Location>,
}

impl std::fmt::Debug for NameSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameSet({} names)", self.map.len())
    }
}

impl Default for NameSet {
    fn default() -> Self {
        Self::new()
    }
}

impl NameSet {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key));
        if from_os.is_err() {
            // No /dev/urandom: fall back to a key nobody knows in advance either.
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            key = *blake3::hash(seed.as_bytes()).as_bytes();
        }
        NameSet {
            key,
            map: HashMap::new(),
        }
    }

    fn fingerprint(&self, name: &[u8]) -> u128 {
        let norm = normalize(name);
        let h = blake3::keyed_hash(&self.key, &norm);
        u128::from_le_bytes(h.as_bytes()[..16].try_into().expect("16 bytes"))
    }

    /// Adds `name`; returns where it was seen before, if it was.
    pub fn insert(&mut self, name: &[u8], at: Location) -> Option<Location> {
        let fp = self.fingerprint(name);
        match self.map.entry(fp) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(at);
                None
            }
        }
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.map.contains_key(&self.fingerprint(name))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Lexical normal form: empty and `.` components dropped, a leading `/` kept.
pub fn normalize(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    if name.starts_with(b"/") {
        out.push(b'/');
    }
    for comp in name
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
    {
        if !out.is_empty() && out != b"/" {
            out.push(b'/');
        }
        out.extend_from_slice(comp);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        assert_eq!(normalize(b"./a//b/./c"), b"a/b/c");
        assert_eq!(normalize(b"/x/./y"), b"/x/y");
        assert_eq!(normalize(b"a/../b"), b"a/../b");
    }

    #[test]
    fn duplicates_found_across_spellings() {
        let mut s = NameSet::new();
        assert_eq!(s.insert(b"a/b", (0, 1)), None);
        assert_eq!(s.insert(b"./a//b", (0, 7)), Some((0, 1)));
        assert!(s.contains(b"a/./b"));
        assert!(!s.contains(b"a/c"));
    }
}
