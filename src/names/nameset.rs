//! The set of names a manifest lists: duplicate detection, and "is this walked file known?"
//! for `check --audit`.
//!
//! Each name is stored as a 128-bit keyed BLAKE3 fingerprint of its normalised form plus its
//! packed manifest location: 24 bytes per entry in one vector, however long the names (a
//! million entries take 24 MB; a hash map took four times that at its peak). The key is
//! random per run, so nobody can craft two names that collide. The vector is sorted once,
//! after the manifest is read; duplicates then sit side by side.
//!
//! A set whose names can be read again (`rereadable`) keeps at most [`KEPT_WHILE_ORDERED`]
//! fingerprints while its names come in canonical order: past that, it keeps none and works
//! from the order (see `relist`), so a manifest of ten million names in the order `hash`
//! writes costs no more memory than one of a thousand. Out of order after that, the names are
//! read again at the end and fingerprinted as above.

use std::io::Read;

use super::relist::{Checked, Cursor, Reread, Tally};

/// Fingerprints kept while the names come in canonical order (6 MiB).
pub const KEPT_WHILE_ORDERED: usize = 1 << 18;

pub use super::relist::Location;

const LINE_BITS: u32 = 48;

fn pack(at: Location) -> u64 {
    (u64::from(at.0) << LINE_BITS) | (at.1 & ((1 << LINE_BITS) - 1))
}

fn unpack(v: u64) -> Location {
    ((v >> LINE_BITS) as u32, v & ((1 << LINE_BITS) - 1))
}

pub struct NameSet {
    key: [u8; 32],
    /// [fingerprint high, fingerprint low, packed location].
    prints: Vec<[u64; 3]>,
    sorted: bool,
    /// The stream of names added: count, digest, order.
    tally: Tally,
    /// While in order: each name repeated right after itself (again, first).
    repeats: Vec<(Location, Location)>,
    /// Where the names can be read again, if they can.
    reread: Option<Box<dyn Reread>>,
    /// No fingerprints kept: the names came in order past the bound.
    let_go: bool,
    /// The bound ([`KEPT_WHILE_ORDERED`]; smaller in tests).
    kept: usize,
    cursor: Cursor,
}

impl std::fmt::Debug for NameSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameSet({} names)", self.prints.len())
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
            prints: Vec::new(),
            sorted: true,
            tally: Tally::default(),
            repeats: Vec::new(),
            reread: None,
            let_go: false,
            kept: KEPT_WHILE_ORDERED,
            cursor: Cursor::new(),
        }
    }

    /// A set whose names `reread` gives again, in the order they were added.
    pub fn rereadable(reread: Box<dyn Reread>) -> Self {
        NameSet {
            reread: Some(reread),
            ..Self::new()
        }
    }

    /// Fingerprint of a name already in [`normalize`]d form.
    fn fingerprint(&self, norm: &[u8]) -> (u64, u64) {
        let h = blake3::keyed_hash(&self.key, norm);
        let b = h.as_bytes();
        (
            u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
        )
    }

    /// Records a name seen at `at`, given as [`normalize`] returns it (the manifest reader
    /// needs the normalised form for the audited directory too: normalised once).
    pub fn add(&mut self, norm: &[u8], at: Location) {
        if let Some(first) = self.tally.add(norm, at) {
            self.repeats.push((at, first));
        }
        if self.let_go {
            return;
        }
        let (hi, lo) = self.fingerprint(norm);
        self.prints.push([hi, lo, pack(at)]);
        self.sorted = false;
        if self.tally.ordered && self.reread.is_some() && self.prints.len() >= self.kept {
            self.prints = Vec::new();
            self.let_go = true;
        }
    }

    /// Sorts the set and drops repeated names, returning each repeat as (where it was seen
    /// again, where it was first seen), in the order of the repeats. Err: the names had to
    /// be read again and could not be (or had changed).
    pub fn finish(&mut self) -> Result<Vec<(Location, Location)>, String> {
        if self.let_go && self.tally.ordered {
            self.sorted = true;
            return Ok(std::mem::take(&mut self.repeats));
        }
        if self.let_go {
            self.fingerprint_again()?;
        }
        self.repeats = Vec::new();
        self.prints.sort_unstable();
        let mut dups = Vec::new();
        let mut first: Option<[u64; 3]> = None;
        for p in &self.prints {
            match first {
                Some(f) if f[..2] == p[..2] => dups.push((unpack(p[2]), unpack(f[2]))),
                _ => first = Some(*p),
            }
        }
        self.prints.dedup_by(|a, b| a[..2] == b[..2]);
        self.prints.shrink_to_fit();
        self.sorted = true;
        dups.sort_unstable();
        Ok(dups)
    }

    /// The names out of order after they were let go: every one read again, fingerprinted.
    fn fingerprint_again(&mut self) -> Result<(), String> {
        let reread = self
            .reread
            .as_deref()
            .expect("let go only when re-readable");
        let mut pass = Checked::open(reread, &self.tally).map_err(|e| e.to_string())?;
        let mut prints = Vec::new();
        let mut name = Vec::new();
        while let Some(at) = pass.next_into(&mut name).map_err(|e| e.to_string())? {
            let (hi, lo) = self.fingerprint(&name);
            prints.push([hi, lo, pack(at)]);
        }
        self.prints = prints;
        self.let_go = false;
        Ok(())
    }

    /// Whether `name` was added (after [`NameSet::finish`]). Names let go are looked up in
    /// their order: asked in canonical order (as a walk asks), each is read once; None when
    /// they cannot be read again (see [`NameSet::lookups_ended`] for why).
    pub fn contains(&mut self, name: &[u8]) -> Option<bool> {
        debug_assert!(self.sorted, "finish() first");
        let norm = normalize(name);
        if self.let_go {
            let reread = self
                .reread
                .as_deref()
                .expect("let go only when re-readable");
            return self.cursor.contains(&norm, reread, &self.tally);
        }
        let (hi, lo) = self.fingerprint(&norm);
        let found = self
            .prints
            .binary_search_by(|p| (p[0], p[1]).cmp(&(hi, lo)));
        Some(found.is_ok())
    }

    /// After the lookups: an error if the names read again for them could not be read or
    /// had changed (the lookups are then not to be trusted).
    pub fn lookups_ended(&mut self) -> Result<(), String> {
        match self.let_go {
            true => self.cursor.finish(),
            false => Ok(()),
        }
    }
}

/// Whether `name` climbs above where it starts: past its leading `..` components (a root
/// named `../data` is fine), a `..` that leaves more directories than the name entered
/// (`t/z/../../../secret/s`). `b3tree hash` never writes such a name: below a root, a walk
/// only descends.
pub fn climbs_out(name: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut leading = true;
    for comp in name
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
    {
        if comp == b".." {
            if leading {
                continue;
            }
            match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            }
        } else {
            leading = false;
            depth += 1;
        }
    }
    false
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

/// [`normalize`] for an owned name: handed back as it is when it is already in normal form
/// (most are), without a copy.
pub fn into_normal(name: Vec<u8>) -> Vec<u8> {
    let body = name.strip_prefix(b"/").unwrap_or(&name);
    let normal = !body.is_empty()
        && body
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b".");
    match normal {
        true => name,
        false => normalize(&name),
    }
}

/// Narrows `common` to the deepest directory (`""` is the relative root, `/` the absolute
/// one) that holds `norm` too, a name as [`normalize`] returns it. No allocation once
/// `common` exists: this runs once per manifest entry.
pub fn narrow_common_dir(common: &mut Option<Vec<u8>>, norm: &[u8]) {
    let dir: &[u8] = match norm.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &norm[..i],
        None => b"",
    };
    let Some(c) = common else {
        *common = Some(dir.to_vec());
        return;
    };
    let shared = c
        .split(|&b| b == b'/')
        .zip(dir.split(|&b| b == b'/'))
        .take_while(|(x, y)| x == y)
        .count();
    let mut keep: usize = c.split(|&b| b == b'/').take(shared).map(<[u8]>::len).sum();
    keep += shared.saturating_sub(1);
    if keep == 0 && c.starts_with(b"/") && dir.starts_with(b"/") {
        keep = 1; // both absolute: "/" is what they share
    }
    c.truncate(keep);
}

/// Whether directory `a` is `b` or one of its ancestors (both as [`narrow_common_dir`] makes
/// them).
pub fn is_ancestor(a: &[u8], b: &[u8]) -> bool {
    a.is_empty()
        || a == b
        || (a == b"/" && b.starts_with(b"/"))
        || (b.starts_with(a) && b.get(a.len()) == Some(&b'/'))
}

#[cfg(test)]
#[path = "nameset_let_go.rs"]
mod let_go;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_names_are_normalised_as_borrowed_ones() {
        for name in [
            &b"a/b"[..],
            b"./a",
            b"a//b",
            b"a/./b",
            b"a/",
            b"/a",
            b"/",
            b"",
            b".",
            b"a/.",
            b"..",
        ] {
            assert_eq!(into_normal(name.to_vec()), normalize(name), "{name:?}");
        }
    }

    #[test]
    fn normal_forms() {
        assert_eq!(normalize(b"./a//b/./c"), b"a/b/c");
        assert_eq!(normalize(b"/x/./y"), b"/x/y");
        assert_eq!(normalize(b"a/../b"), b"a/../b");
    }

    #[test]
    fn duplicates_found_across_spellings_and_manifests() {
        let mut s = NameSet::new();
        for (name, at) in [
            (&b"a/b"[..], (0, 1)),
            (b"c", (0, 2)),
            (b"./a//b", (0, 7)),
            (b"c", (1, 3)),
        ] {
            s.add(&normalize(name), at);
        }
        assert_eq!(s.finish(), Ok(vec![((0, 7), (0, 1)), ((1, 3), (0, 2))]));
        assert_eq!(s.prints.len(), 2);
        assert_eq!(s.contains(b"a/./b"), Some(true));
        assert_eq!(s.contains(b"a/c"), Some(false));
        assert_eq!(unpack(pack((3, 1 << 40))), (3, 1 << 40));
    }

    #[test]
    fn common_directory_of_entries() {
        let cases: [(&[&[u8]], &[u8]); 5] = [
            (&[b"dist/a/b.js", b"dist/c", b"./dist/a/x"], b"dist"),
            (&[b"dist/a/b.js", b"dist/c", b"top"], b""),
            (&[b"distx/a", b"dist/a"], b""),
            (&[b"/srv/a/x", b"/etc/y"], b"/"),
            (&[b"dist/a/b/c", b"dist/a/x"], b"dist/a"),
        ];
        for (names, want) in cases {
            let mut c = None;
            for n in names {
                narrow_common_dir(&mut c, &normalize(n));
            }
            assert_eq!(c.as_deref(), Some(want), "{names:?}");
        }
    }

    #[test]
    fn ancestry_of_directories() {
        assert!(is_ancestor(b"", b"dist"));
        assert!(is_ancestor(b"dist", b"dist/a"));
        assert!(is_ancestor(b"/", b"/srv"));
        assert!(!is_ancestor(b"dist", b"distx"));
        assert!(!is_ancestor(b"dist", b"build"));
    }

    #[test]
    fn names_that_climb_out_are_told() {
        for n in ["t/z/../../../secret/s", "a/../../x", "/a/../../etc/passwd"] {
            assert!(climbs_out(n.as_bytes()), "{n}");
        }
        for n in [
            "t/a",
            "../data/f",
            "../../x/y",
            "a/../b/f",
            "./a/./b",
            "/abs/f",
            "a/b/../c",
        ] {
            assert!(!climbs_out(n.as_bytes()), "{n}");
        }
    }
}
