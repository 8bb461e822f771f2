//! Reading mtree specs (mtree(5)), the format other tools already write for "a tree with its
//! types, links, modes and digests": `bsdtar --format=mtree` (full paths, `#mtree` first,
//! with or without `/set` lines), NetBSD's `mtree -c` (hierarchical: a directory entry
//! descends into it, `..` climbs back; lines continued with a backslash) and `mtree -C`
//! (full paths). The reader turns any of them into a stream of entries — a path in normal
//! form and the keywords in force for it (`/set` defaults overlaid with its own) — one line
//! at a time, so memory does not grow with the spec.
//!
//! What the keywords mean, and which ones b3tree verifies, is the checker's business; here a
//! keyword is a name and its raw value (vis-encoded where the format says so: `link=`).

use std::io::{self, BufRead};

use crate::manifest::mtree::set::{Defaults, push_pair};
use crate::manifest::mtree::values::claims_content;
use crate::names::vis;

/// A logical line (continuations joined) longer than this is refused.
const MAX_LINE: usize = 4 << 20;

/// One entry of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEntry {
    /// Relative to the spec's root, in normal form: `sub/empty`; the root itself is `.`.
    pub path: Vec<u8>,
    /// The line it starts on.
    pub line: u64,
    /// The keywords in force, each once (`/set` defaults the entry does not override, then
    /// its own), as `key=value` words joined by spaces: one allocation per entry, however
    /// many keywords (a spec of a million entries is read while thousands are in flight).
    keywords: Box<str>,
}

impl SpecEntry {
    /// An entry with these keywords (each key once).
    pub fn new(path: Vec<u8>, line: u64, pairs: &[(&str, &str)]) -> SpecEntry {
        let mut text = String::new();
        for (k, v) in pairs {
            push_pair(&mut text, k, v);
        }
        SpecEntry {
            path,
            line,
            keywords: text.into(),
        }
    }

    /// The keywords in force, as (key, value); a bare keyword has an empty value.
    pub fn pairs(&self) -> impl DoubleEndedIterator<Item = (&str, &str)> {
        self.keywords
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| w.split_once('=').unwrap_or((w, "")))
    }

    /// The type of file the entry claims: its `type=`, else `file` when it holds a digest, a
    /// checksum or a size (bsdtar writes entries without `type=`, and `size=` only for
    /// regular files).
    pub fn claimed_type(&self) -> Option<&str> {
        let file = || self.pairs().any(|(k, _)| k == "size" || claims_content(k));
        self.get("type").or_else(|| file().then_some("file"))
    }

    /// The value of `key` (or of its alias: `sha256` for `sha256digest`…).
    pub fn get(&self, key: &str) -> Option<&str> {
        let alias = key.strip_suffix("digest");
        self.pairs()
            .rev()
            .find(|(k, _)| *k == key || Some(*k) == alias)
            .map(|(_, v)| v)
    }
}

/// Why a spec could not be read on.
#[derive(Debug)]
pub enum SpecError {
    /// A line that is not mtree (its number, why).
    Line(u64, String),
    Io(io::Error),
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecError::Line(n, why) => write!(f, "line {n}: {why}"),
            SpecError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Reads a spec entry by entry.
pub struct SpecReader<R> {
    input: R,
    line_no: u64,
    /// `/set` keywords in force.
    defaults: Defaults,
    /// The directory relative names are in (hierarchical specs): its components.
    dir: Vec<u8>,
    /// Where `dir` ended before each directory entered (`..` goes back there). One buffer,
    /// not a list of components: an entry costs its path's length, not one allocation per
    /// level (40,000 nested directories took minutes).
    dir_ends: Vec<usize>,
    /// Inside the root (a `.` entry was read), where `..` may climb to.
    rooted: bool,
}

impl<R: BufRead> SpecReader<R> {
    pub fn new(input: R) -> Self {
        SpecReader {
            input,
            line_no: 0,
            defaults: Defaults::default(),
            dir: Vec::new(),
            dir_ends: Vec::new(),
            rooted: false,
        }
    }

    /// The next entry; None at the end.
    pub fn next_entry(&mut self) -> Result<Option<SpecEntry>, SpecError> {
        loop {
            let Some((line_no, text)) = self.logical_line()? else {
                return Ok(None);
            };
            let trimmed = text.trim_ascii();
            if trimmed.is_empty() || trimmed.starts_with(b"#") {
                continue;
            }
            let mut words = trimmed
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|w| !w.is_empty());
            let first = words.next().unwrap_or_default();
            let bad = |why: String| SpecError::Line(line_no, why);
            match first {
                b"/set" => (self.defaults)
                    .set(keywords(words).map_err(bad)?)
                    .map_err(bad)?,
                b"/unset" => self.defaults.unset(words),
                b".." => {
                    let left = self.dir_ends.pop().map(|end| self.dir.truncate(end));
                    if left.is_none() && !std::mem::take(&mut self.rooted) {
                        return Err(bad("`..` above the root".into()));
                    }
                }
                name => {
                    let own = keywords(words).map_err(bad)?;
                    let name = vis::decode(name).map_err(|e| bad(format!("name: {e}")))?;
                    return Ok(Some(self.entry(line_no, &name, own).map_err(bad)?));
                }
            }
        }
    }

    /// The entry named `name` on line `line`: its path, and (hierarchical form) the
    /// directory it opens.
    fn entry(
        &mut self,
        line: u64,
        name: &[u8],
        own: Vec<(String, String)>,
    ) -> Result<SpecEntry, String> {
        let text = self.defaults.overlaid(&own);
        let keywords: Box<str> = text.into();
        let is_dir = own
            .iter()
            .rev()
            .chain(self.defaults.pairs())
            .find(|(k, _)| k == "type")
            .is_some_and(|(_, v)| v == "dir");
        let components: Vec<&[u8]> = name
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        if components.iter().any(|c| *c == b"..") {
            return Err("a name with `..`".into());
        }
        if name.starts_with(b"/") {
            return Err("an absolute name".into());
        }
        let full = name.contains(&b'/');
        let mut path: Vec<u8> = if full { Vec::new() } else { self.dir.clone() };
        for c in &components {
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(c);
        }
        if !full && is_dir {
            // A directory entry of the hierarchical form: what follows is inside it.
            if name == b"." {
                self.rooted = true;
            } else {
                self.dir_ends.push(self.dir.len());
                self.dir.clone_from(&path);
            }
        }
        if path.is_empty() {
            path.push(b'.');
        }
        Ok(SpecEntry {
            path,
            line,
            keywords,
        })
    }

    /// The next line with its continuations joined (a line ending in an odd number of
    /// backslashes goes on), and the number of its first line.
    fn logical_line(&mut self) -> Result<Option<(u64, Vec<u8>)>, SpecError> {
        let mut text = Vec::new();
        let mut first = None;
        loop {
            let mut buf = Vec::new();
            let n = io::Read::take(self.input.by_ref(), (MAX_LINE + 2) as u64)
                .read_until(b'\n', &mut buf)
                .map_err(SpecError::Io)?;
            if n == 0 {
                return Ok(first.map(|f| (f, text)));
            }
            self.line_no += 1;
            let start = *first.get_or_insert(self.line_no);
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            let slashes = buf.iter().rev().take_while(|b| **b == b'\\').count();
            let more = slashes % 2 == 1;
            if more {
                buf.pop();
            }
            text.extend_from_slice(&buf);
            if text.len() > MAX_LINE {
                return Err(SpecError::Line(start, "line too long".into()));
            }
            if !more {
                return Ok(Some((start, text)));
            }
        }
    }
}

/// `key=value` and bare `key` words as (key, value) pairs (a bare key has an empty value).
pub fn keywords<'a>(
    words: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<(String, String)>, String> {
    words
        .map(|w| {
            let text = std::str::from_utf8(w).map_err(|_| "a keyword that is not ASCII")?;
            let (k, v) = text.split_once('=').unwrap_or((text, ""));
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("bad keyword {text:?}"));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, type, link, mode, sha256) of every entry of the fixture spec `name`.
    fn read(name: &str) -> Vec<(String, String, String, String, String)> {
        let path = format!("{}/fixtures/mtree/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut r = SpecReader::new(io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut out = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            let get = |k: &str| e.get(k).unwrap_or_default().to_string();
            let link = vis::decode(get("link").as_bytes()).unwrap();
            let mode = get("mode");
            let mode = format!("{:o}", u32::from_str_radix(&mode, 8).unwrap_or(0));
            out.push((
                String::from_utf8_lossy(&e.path).into_owned(),
                get("type"),
                String::from_utf8_lossy(&link).into_owned(),
                mode,
                get("sha256digest"),
            ));
        }
        out.sort();
        out
    }

    /// The same tree as written by NetBSD's mtree -c (hierarchical, vis with \s, \M-,
    /// continuation lines), mtree -C (full paths) and bsdtar (octal; with /set): the same
    /// entries, types, link targets and modes.
    #[test]
    fn the_three_producers_read_alike() {
        let netbsd = read("netbsd-c.spec");
        let paths: Vec<&str> = netbsd.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "#hash",
                ".",
                "a",
                "bad\u{fffd}",
                "café",
                "fifo",
                "l2",
                "link",
                "sp ace",
                "sub",
                "sub/empty"
            ]
        );
        let of = |p: &str| netbsd.iter().find(|e| e.0 == p).unwrap().clone();
        assert_eq!(of("l2").1, "link");
        assert_eq!(of("l2").2, "sp ace");
        assert_eq!(of("a").3, "755");
        assert_eq!(of("sp ace").3, "644");
        assert_eq!(of("sub/empty").1, "dir");
        assert_eq!(of("a").4.len(), 64);
        let strip = |v: Vec<(String, String, String, String, String)>| -> Vec<_> {
            v.into_iter().map(|(p, t, l, m, _)| (p, t, l, m)).collect()
        };
        assert_eq!(strip(read("netbsd-C.spec")), strip(netbsd.clone()));
        assert_eq!(strip(read("bsdtar.spec")), strip(netbsd.clone()));
        let with_set = read("bsdtar-set.spec");
        assert_eq!(strip(with_set.clone()), strip(netbsd.clone()));
        let digests = |v: &[(String, String, String, String, String)]| -> Vec<String> {
            v.iter().map(|e| e.4.clone()).collect()
        };
        assert_eq!(digests(&with_set), digests(&netbsd));
    }

    #[test]
    fn hostile_and_broken_specs_are_refused_by_line() {
        let err = |text: &str| {
            let mut r = SpecReader::new(text.as_bytes());
            loop {
                match r.next_entry() {
                    Ok(Some(_)) => {}
                    Ok(None) => return None,
                    Err(e) => return Some(e.to_string()),
                }
            }
        };
        assert_eq!(err("#mtree\n./a type=file\n"), None);
        assert!(
            err("./a/../../etc type=file\n")
                .unwrap()
                .starts_with("line 1: a name with")
        );
        assert!(err("..\n").unwrap().contains("above the root"));
        assert!(
            err("#mtree\n/etc/passwd type=file\n")
                .unwrap()
                .starts_with("line 2: an absolute name")
        );
        assert!(
            err("#mtree\nx bad\\q=1 k\n")
                .unwrap()
                .starts_with("line 2: bad keyword")
        );
        assert!(
            err("x type=file \\\n").is_none(),
            "a continuation at the end of input"
        );
        assert!(
            err("x\\ type=file\n").unwrap().contains("bad escape"),
            "a lone backslash"
        );
        assert!(err("ab\\M type=file\n").unwrap().contains("bad escape"));
    }

    #[test]
    fn set_unset_and_continuations() {
        let spec = "/set type=file mode=0644\n/set uid=0\nd type=dir\n f \\\n  size=3\n..\n\
                    /unset mode\ng\n/unset all\n./h size=1\n";
        let mut r = SpecReader::new(spec.as_bytes());
        let mut got = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            let mode = e.get("mode").map(str::to_string);
            got.push((
                String::from_utf8(e.path.clone()).unwrap(),
                e.line,
                mode,
                e.get("type").map(str::to_string),
            ));
        }
        assert_eq!(
            got,
            [
                ("d".into(), 3, Some("0644".into()), Some("dir".into())),
                ("d/f".into(), 4, Some("0644".into()), Some("file".into())),
                ("g".into(), 8, None, Some("file".into())),
                ("h".into(), 10, None, None),
            ]
        );
    }
}
