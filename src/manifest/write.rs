//! How outcomes are written: b3sum lines, BSD tags, or JSON Lines.
//!
//! Plain and tagged lines are byte-compatible with b3sum (see `escape` for the one extension,
//! `\xHH` for bytes that are not UTF-8). They list hashed files only: errors and skips go to
//! stderr and the summary, because a b3sum checker cannot represent them. JSON Lines carry
//! everything — files, errors, skipped entries and a closing summary — for machines.

use std::io::{self, Write};

use crate::hash::algo::{Algo, Digest};
use crate::hash::facts::Facts;
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::manifest::mtree::write::{Keywords, spec_line};
use crate::manifest::read::MAX_LINE;
use crate::names::escape::{Escaping, needs_escape, push_name};
use crate::record::{HashRecord, Path};
use crate::sys::owners::Owners;

/// Output format of `hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `HASH  name` (b3sum, GNU).
    Plain,
    /// `BLAKE3 (name) = HASH` (b3sum --tag, BSD).
    Tag,
    /// One JSON object per entry, then a summary object.
    Json,
    /// A tree spec (`--format mtree`, see `mtree::write`).
    Mtree,
}

/// Writes manifest records to any `Write`.
pub struct ManifestWriter<W: Write> {
    out: W,
    format: Format,
    escaping: Escaping,
    algo: Algo,
    shape: Shape,
    /// `--format mtree` (with `--json` too): every entry with its type and mode, and these
    /// optional keywords. None: regular files only.
    spec: Option<Keywords>,
    /// Owner and group names for `uname` and `gname`.
    owners: Owners,
    line: Vec<u8>,
}

/// How plain lines are shaped beyond their format (b3sum's and GNU's options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Names after the digest (`--no-names` leaves them out).
    pub names: bool,
    /// What ends a line: `\n`, or NUL with `-z`.
    pub terminator: u8,
    /// The digest's raw bytes only (`--raw`).
    pub raw: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            names: true,
            terminator: b'\n',
            raw: false,
        }
    }
}

impl<W: Write> ManifestWriter<W> {
    pub fn new(out: W, format: Format, escaping: Escaping) -> Self {
        ManifestWriter {
            out,
            format,
            escaping,
            algo: Algo::Blake3,
            shape: Shape::default(),
            spec: None,
            owners: Owners::default(),
            line: Vec::with_capacity(256),
        }
    }

    /// Lines shaped by `shape`.
    pub fn with_shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// A tree spec's records, with these optional keywords.
    pub fn with_spec(mut self, spec: Option<Keywords>) -> Self {
        self.spec = spec;
        self
    }

    /// Lines of `algo` (the name `--tag` lines carry).
    pub fn with_algo(mut self, algo: Algo) -> Self {
        self.algo = algo;
        self
    }

    /// An outcome `check` could not read back: a hashed file whose line would exceed
    /// `manifest::MAX_LINE` becomes an error record (whatever `hash` writes, `check` reads).
    pub fn refuse_unreadable_line(&self, name: &[u8], outcome: &mut Outcome) {
        // Only names near the cap need the exact length (an escape is at most 4 bytes).
        if self.format == Format::Json || name.len() * 4 + 200 < MAX_LINE {
            return;
        }
        if let Outcome::Hashed { hash, .. } = outcome {
            let mut line = Vec::new();
            let tag = (self.format == Format::Tag).then_some(self.algo.tag());
            format_line(&mut line, name, hash, tag, self.escaping);
            if line.len() > MAX_LINE {
                *outcome = Outcome::Failed(EntryError::new(
                    ErrorKind::NameTooLong,
                    format!("{} bytes, check reads lines up to {MAX_LINE}", line.len()),
                ));
            }
        }
    }

    /// Writes the record for one outcome (plain/tag write hashed files only).
    pub fn record(&mut self, name: &[u8], outcome: &Outcome) -> io::Result<()> {
        self.record_entry(name, outcome, None, None)
    }

    /// [`Self::record`]; with `reused` (`hash --update`), a JSON record also says whether
    /// its digest was reused from the state (`"reused": true`) or read. `facts`: the
    /// entry's stat facts, for a tree spec's mode and optional keywords.
    pub fn record_entry(
        &mut self,
        name: &[u8],
        outcome: &Outcome,
        reused: Option<bool>,
        facts: Option<&Facts>,
    ) -> io::Result<()> {
        self.line.clear();
        match (self.format, outcome) {
            (Format::Mtree, _) => {
                let keywords = self.spec.unwrap_or_default();
                let entry = (name, outcome, facts);
                let owners = &mut self.owners;
                if !spec_line(&mut self.line, entry, self.algo, keywords, owners) {
                    return Ok(());
                }
            }
            (_, Outcome::Hashed { hash, .. }) if self.shape.raw => {
                self.line.extend_from_slice(hash.as_bytes());
            }
            (Format::Plain, Outcome::Hashed { hash, .. }) if !self.shape.names => {
                hash.push_hex(&mut self.line);
                self.line.push(self.shape.terminator);
            }
            (Format::Plain | Format::Tag, Outcome::Hashed { hash, .. }) => {
                let tag = (self.format == Format::Tag).then_some(self.algo.tag());
                format_line(&mut self.line, name, hash, tag, self.escaping);
                if self.shape.terminator != b'\n' {
                    *self.line.last_mut().expect("a line") = self.shape.terminator;
                }
            }
            (Format::Json, _) => {
                let mode = self
                    .spec
                    .and(facts)
                    .map(|f| format!("{:04o}", f.meta.mode & 0o7777));
                let record = json_record(name, outcome, reused, mode);
                crate::record::to_writer(&mut self.line, &record)?;
                self.line.push(b'\n');
            }
            _ => return Ok(()),
        }
        self.out.write_all(&self.line)
    }

    /// What comes before the first record: a tree spec's `#mtree` line.
    pub fn start(&mut self) -> io::Result<()> {
        match self.format {
            Format::Mtree => self.out.write_all(crate::manifest::mtree::write::HEADER),
            _ => Ok(()),
        }
    }

    /// Writes the closing summary record (JSON only).
    pub fn summary(&mut self, summary: &impl serde::Serialize) -> io::Result<()> {
        if self.format == Format::Json {
            crate::record::to_writer(&mut self.out, summary)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// A `# ...` comment line (plain and tagged manifests; nothing in JSON). b3tree's check,
    /// digest --from and merge skip it; b3sum does not, so only intermediate files get one.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        if self.format == Format::Json {
            return Ok(());
        }
        writeln!(self.out, "# {text}")
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Appends one manifest line (`HEX  name`, or with `tag` its BSD form `TAG (name) = HEX`,
/// e.g. `BLAKE3 (name) = …`, `SHA256 (name) = …`) to `line`.
pub fn format_line(
    line: &mut Vec<u8>,
    name: &[u8],
    hash: &Digest,
    tag: Option<&str>,
    esc: Escaping,
) {
    let escaped = needs_escape(name, esc);
    if escaped {
        line.push(b'\\');
    }
    if let Some(tag) = tag {
        line.extend_from_slice(tag.as_bytes());
        line.extend_from_slice(b" (");
        push_name(name, escaped, esc, line);
        line.extend_from_slice(b") = ");
        hash.push_hex(line);
    } else {
        hash.push_hex(line);
        line.extend_from_slice(b"  ");
        push_name(name, escaped, esc, line);
    }
    line.push(b'\n');
}

/// The JSON record of an outcome; `mode` (octal) for a tree spec's entries.
fn json_record<'a>(
    name: &'a [u8],
    outcome: &'a Outcome,
    reused: Option<bool>,
    mode: Option<String>,
) -> HashRecord<'a> {
    let name = Path::of(name);
    match outcome {
        Outcome::Hashed { hash, size } => HashRecord::File {
            name,
            hash: hash.to_hex(),
            size: *size,
            mode,
            reused,
        },
        Outcome::Described { kind, link } => {
            let link = link.as_deref().map(Path::of);
            let (link, link_bytes) = link.map(|l| (l.path, l.path_bytes)).unzip();
            HashRecord::Entry {
                name,
                kind: kind.name(),
                mode: mode.unwrap_or_default(),
                link,
                link_bytes: link_bytes.flatten(),
            }
        }
        Outcome::Failed(err) => HashRecord::Error {
            name,
            error: err.kind.as_str(),
            message: err.to_string(),
        },
        Outcome::Skipped(kind) => HashRecord::Skipped {
            name,
            kind: kind.as_str(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn line(name: &[u8], tag: bool) -> String {
        let mut v = Vec::new();
        let hash = blake3::hash(b"foo").into();
        format_line(
            &mut v,
            name,
            &hash,
            tag.then_some("BLAKE3"),
            Escaping::Manifest,
        );
        String::from_utf8_lossy(&v).into_owned()
    }

    const FOO: &str = "04e0bb39f30b1a3feb89f536c93be15055482df748674b00d26e5a75777702e9";

    #[test]
    fn plain_and_tag_lines_match_b3sum() {
        assert_eq!(line(b"a b", false), format!("{FOO}  a b\n"));
        assert_eq!(line(b"a\nb", false), format!("\\{FOO}  a\\nb\n"));
        assert_eq!(line(b"x) = y", true), format!("BLAKE3 (x) = y) = {FOO}\n"));
        assert_eq!(line(b"x\\y", true), format!("\\BLAKE3 (x\\\\y) = {FOO}\n"));
    }

    #[test]
    fn json_keeps_non_utf8_bytes() {
        let mut w = ManifestWriter::new(Vec::new(), Format::Json, Escaping::Manifest);
        w.record(
            b"a\xff",
            &Outcome::Hashed {
                hash: blake3::hash(b"").into(),
                size: 0,
            },
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&w.into_inner()).unwrap();
        assert_eq!(v["path_bytes"], "61ff");
        assert_eq!(v["size"], 0);
        assert_eq!(v["type"], "file");
    }
}
