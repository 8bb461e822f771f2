//! One side of a diff: a manifest of digests (b3sum/GNU lines, `--tag`, `-z`, any digest
//! length) or a tree spec (b3tree's, bsdtar's, NetBSD's `mtree -c` and `-C`), read as a
//! stream of entries keyed by their names in normal form.
//!
//! Every input ends up as a file that can be read twice: a pipe or standard input is first
//! copied to an unnamed temporary file. The first pass streams both sides in step and keeps
//! only what differs; an input that turns out not to be in canonical order (a `find | xargs
//! sha256sum` file, NetBSD's hierarchical spec) is read again from its start and sorted in
//! memory, up to [`MAX_SORTED`] entries.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::hash::algo::{Algo, Digest};
use crate::manifest::mtree::read::{SpecEntry, SpecError, SpecReader};
use crate::manifest::read::{LineReader, StrictError};
use crate::names::escape::display;
use crate::names::nameset::into_normal;
use crate::names::order::{OrderCheck, canonical_cmp};
use crate::sys::cancel;

/// Most entries an input out of canonical order may hold: it is sorted in memory.
pub const MAX_SORTED: usize = 2_000_000;

/// What an input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Digest lines; `zero`: lines end with NUL and names are written as they are.
    Digests { zero: bool },
    /// A tree spec (mtree).
    Spec,
}

/// One entry: its key (the name in normal form; a spec's root is the empty name, which
/// sorts first), the line it is on, and what it says.
#[derive(Debug)]
pub struct Item {
    pub key: Vec<u8>,
    pub line: u64,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// A digest line: its digest and its tag (None: untagged).
    Digest(Digest, Option<Algo>),
    Spec(SpecEntry),
}

impl Item {
    /// The name as people read it (the root of a spec is `.`).
    pub fn shown(&self) -> String {
        display(self.name())
    }

    /// The name in normal form, the root `.`.
    pub fn name(&self) -> &[u8] {
        match self.key.is_empty() {
            true => b".",
            false => &self.key,
        }
    }
}

/// An opened side.
pub struct Input {
    /// As diagnostics name it.
    pub label: String,
    file: File,
    pub format: Format,
    /// Whether its first bytes showed what it is (an entry, `#mtree`); an input of comments
    /// and blank lines only takes the other side's format.
    pub decided: bool,
    /// (device, inode) of a regular file given by name.
    pub id: Option<(u64, u64)>,
}

impl Input {
    /// Opens `path` (`-`: standard input); a pipe or stdin is copied to a temporary file
    /// first. The format is told from the first bytes.
    pub fn open(path: &Path) -> Result<Input, String> {
        let label = display(path.as_os_str().as_encoded_bytes());
        let shown = label.clone();
        let fail = |e: io::Error| format!("cannot read {shown}: {e}");
        let (file, id) = if path.as_os_str() == "-" {
            (spool(&mut io::stdin().lock()).map_err(&fail)?, None)
        } else {
            let mut file = File::open(path).map_err(&fail)?;
            let meta = file.metadata().map_err(&fail)?;
            if meta.is_dir() {
                return Err(format!("cannot read {label}: is a directory"));
            }
            match meta.is_file() {
                true => (file, Some((meta.dev(), meta.ino()))),
                false => (spool(&mut file).map_err(&fail)?, None),
            }
        };
        let mut input = Input {
            label,
            file,
            format: Format::Spec,
            decided: false,
            id,
        };
        (input.format, input.decided) =
            sniff(&mut input.reader().map_err(&fail)?).map_err(&fail)?;
        Ok(input)
    }

    /// A buffered reader from the start.
    fn reader(&mut self) -> io::Result<BufReader<File>> {
        self.file.rewind()?;
        Ok(BufReader::with_capacity(256 * 1024, self.file.try_clone()?))
    }

    /// The entries from the start, as they come.
    pub fn entries(&mut self) -> Result<Entries, String> {
        let reader = self
            .reader()
            .map_err(|e| format!("cannot read {}: {e}", self.label))?;
        let lines = match self.format {
            Format::Spec => Lines::Spec(SpecReader::new(reader)),
            Format::Digests { zero } => Lines::Digests(LineReader::new(reader).zero(zero)),
        };
        Ok(Entries {
            label: self.label.clone(),
            lines,
            order: OrderCheck::default(),
            read: 0,
        })
    }

    /// Every entry, sorted in canonical order (for an input that is not); a name listed
    /// twice is an error.
    pub fn sorted(&mut self) -> Result<Vec<Item>, Stop> {
        let mut entries = self.entries().map_err(Stop::Error)?;
        let mut all = Vec::new();
        while let Some(item) = entries.next_any()? {
            if all.len() == MAX_SORTED {
                return Err(Stop::Error(format!(
                    "{} is not in canonical order and holds more than {MAX_SORTED} entries, \
                     the most diff sorts in memory",
                    self.label
                )));
            }
            all.push(item);
        }
        // A signal ends the sort early: the comparisons after it say "equal", and the
        // entries are left to the process's end (freeing millions of them one by one would
        // outlast the 250 ms a stop may take).
        let mut compared = 0u32;
        let mut stopped = false;
        all.sort_unstable_by(|a: &Item, b: &Item| {
            compared = compared.wrapping_add(1);
            if compared % 65_536 == 0 && cancel::is_stopped() {
                stopped = true;
            }
            match stopped {
                true => Ordering::Equal,
                false => canonical_cmp(&a.key, &b.key),
            }
        });
        if stopped {
            std::mem::forget(all);
            return Err(Stop::Interrupted);
        }
        if let Some(w) = all.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(Stop::Error(format!(
                "{}:{}: {} is listed twice (first on line {})",
                self.label,
                w[0].line.max(w[1].line),
                w[1].shown(),
                w[0].line.min(w[1].line)
            )));
        }
        Ok(all)
    }
}

/// Why a pass over the inputs stopped.
#[derive(Debug)]
pub enum Stop {
    /// An input (0: OLD, 1: NEW) is not in canonical order: sort it and start again.
    Unordered(usize),
    /// A signal: the run ends.
    Interrupted,
    /// Bad input, named with file and line.
    Error(String),
}

enum Lines {
    Spec(SpecReader<BufReader<File>>),
    Digests(LineReader<BufReader<File>>),
}

/// The entries of one input, read on demand.
pub struct Entries {
    label: String,
    lines: Lines,
    order: OrderCheck,
    read: u64,
}

impl Entries {
    /// The next entry, which must come after the one before in canonical order.
    pub fn next_ordered(&mut self) -> Result<Option<Item>, Stop> {
        let Some(item) = self.next_any()? else {
            return Ok(None);
        };
        match self.order.next(&item.key) {
            Ok(()) => Ok(Some(item)),
            Err(last) if last == item.key.as_slice() => Err(Stop::Error(format!(
                "{}:{}: {} is listed twice",
                self.label,
                item.line,
                item.shown()
            ))),
            Err(_) => Err(Stop::Unordered(0)),
        }
    }

    /// The next entry in any order.
    fn next_any(&mut self) -> Result<Option<Item>, Stop> {
        self.read += 1;
        if self.read % 4096 == 0 && cancel::is_stopped() {
            return Err(Stop::Interrupted);
        }
        let at = |line: u64, why: &dyn std::fmt::Display| {
            Stop::Error(format!("{}:{line}: {why}", self.label))
        };
        match &mut self.lines {
            Lines::Digests(lines) => match lines.next_entry() {
                Ok(None) => Ok(None),
                Ok(Some(e)) => Ok(Some(Item {
                    key: into_normal(e.name),
                    line: lines.line_no,
                    body: Body::Digest(e.hash, e.tag),
                })),
                Err(StrictError::Malformed(line, why)) => {
                    Err(at(line, &format!("improperly formatted line: {why}")))
                }
                Err(StrictError::Io(e)) => {
                    Err(Stop::Error(format!("cannot read {}: {e}", self.label)))
                }
            },
            Lines::Spec(spec) => match spec.next_entry() {
                Ok(None) => Ok(None),
                Ok(Some(entry)) if entry.path.contains(&0) => Err(at(
                    entry.line,
                    &format!("{}: a name with a NUL byte", display(&entry.path)),
                )),
                Ok(Some(entry)) => Ok(Some(Item {
                    key: match entry.path.as_slice() {
                        b"." => Vec::new(),
                        path => path.to_vec(),
                    },
                    line: entry.line,
                    body: Body::Spec(entry),
                })),
                Err(SpecError::Line(line, why)) => Err(at(line, &why)),
                Err(SpecError::Io(e)) => {
                    Err(Stop::Error(format!("cannot read {}: {e}", self.label)))
                }
            },
        }
    }
}

/// Copies `from` to an unnamed temporary file (gone when closed), so it can be read twice.
fn spool(from: &mut impl io::Read) -> io::Result<File> {
    let mut file = tempfile::tempfile()?;
    io::copy(from, &mut file)?;
    Ok(file)
}

/// What the input is, from its first bytes: `#mtree` first (b3tree, bsdtar), or a first
/// line that is not a comment starting with `/set` or naming the root (`.`, NetBSD's
/// `mtree -c`), is a spec; anything else digest lines, ending with NUL when the first bytes
/// hold a NUL (`hash -z`; no other manifest holds one: a name with NUL is refused).
fn sniff(reader: &mut impl BufRead) -> io::Result<(Format, bool)> {
    let head = loop {
        match reader.fill_buf() {
            Ok(buf) => break buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if head.starts_with(b"#mtree") {
        return Ok((Format::Spec, true));
    }
    if head.contains(&0) {
        return Ok((Format::Digests { zero: true }, true));
    }
    let first_entry = head
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty() && !l.starts_with(b"#"));
    let spec = first_entry.is_some_and(|l| {
        let word = l
            .split(|b| b.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        word == b"/set" || word == b"." || word == b"/unset"
    });
    let format = match spec {
        true => Format::Spec,
        false => Format::Digests { zero: false },
    };
    Ok((format, first_entry.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(text: &[u8]) -> Format {
        sniff(&mut &text[..]).unwrap().0
    }

    #[test]
    fn the_format_is_told_from_the_first_bytes() {
        let h = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        assert_eq!(format(b"#mtree\n./a type=file\n"), Format::Spec);
        assert_eq!(
            format(b"#\t   user: root\n#\n\n/set type=file uid=0\n. type=dir\n"),
            Format::Spec
        );
        assert_eq!(
            format(format!("{h}  a\n").as_bytes()),
            Format::Digests { zero: false }
        );
        assert_eq!(
            format(format!("# b3tree shard 0/2\n{h}  a\n").as_bytes()),
            Format::Digests { zero: false }
        );
        assert_eq!(
            format(format!("{h}  a\nb\0{h}  c\0").as_bytes()),
            Format::Digests { zero: true },
            "a -z manifest whose first name holds a newline"
        );
        assert_eq!(
            format(format!("{h}  a\0{h}  b\0").as_bytes()),
            Format::Digests { zero: true }
        );
        assert_eq!(format(b""), Format::Digests { zero: false });
        assert!(!sniff(&mut &b"# only a comment\n\n"[..]).unwrap().1);
    }
}
