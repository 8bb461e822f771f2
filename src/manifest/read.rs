//! Reading manifests as streams of lines (see `line` for what a line may hold): a length
//! cap per line, comments and blank lines skipped, every line numbered; and opening them.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use crate::manifest::line::{Entry, Line, MAX_LINE, Malformed, parse_line, peek_first_entry};
use crate::manifest::line::{parse_entry, to_line};
use crate::names::escape::display;

/// Opens a manifest: `-` is stdin; a directory is refused. Also gives the file's (device,
/// inode), so that a walk of the tree can leave the manifest itself out.
#[allow(clippy::type_complexity)]
pub fn open(path: &Path) -> io::Result<(Box<dyn BufRead + Send>, Option<(u64, u64)>)> {
    const BUF: usize = 64 * 1024;
    if path.as_os_str() == "-" {
        return Ok((Box::new(BufReader::with_capacity(BUF, io::stdin())), None));
    }
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    Ok((
        Box::new(BufReader::with_capacity(BUF, file)),
        Some((meta.dev(), meta.ino())),
    ))
}

/// Manifest `path` opened again, if it still is the file first opened (`id`: device,
/// inode): without blocking (a FIFO put in its place is refused, not waited on), never
/// another file.
pub fn reopen(path: &Path, id: (u64, u64)) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || (meta.dev(), meta.ino()) != id {
        return Err(io::Error::other("replaced during the run"));
    }
    Ok(file)
}

/// Manifests opened together, before any work starts.
pub struct Opened {
    pub readers: Vec<Box<dyn BufRead + Send>>,
    /// As shown in diagnostics (`NAME:LINE`): escaped like a manifest name.
    pub names: Vec<String>,
    /// (device, inode) of each manifest that is a file (not stdin).
    pub ids: Vec<(u64, u64)>,
    /// Per manifest: a regular file, which can be read again later (by path).
    pub rereadable: Vec<bool>,
    /// Per manifest: (device, inode) of the file opened (None: stdin), to know it again.
    pub file_ids: Vec<Option<(u64, u64)>>,
}

/// Opens every manifest with [`open`] (`-` is stdin, at most once); the first one that
/// cannot be opened is the error, naming it.
pub fn open_all(paths: &[PathBuf]) -> Result<Opened, String> {
    let mut opened = Opened {
        readers: Vec::new(),
        names: Vec::new(),
        ids: Vec::new(),
        rereadable: Vec::new(),
        file_ids: Vec::new(),
    };
    let mut stdin_used = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_used {
                return Err("'-' (stdin) given more than once".into());
            }
            stdin_used = true;
        }
        let shown = display(path.as_os_str().as_bytes());
        let (reader, id) = open(path).map_err(|e| {
            // A relative name is looked for in the working directory (after -C DIR): say
            // where that was.
            let tried = match std::env::current_dir() {
                Ok(cwd) if path.is_relative() && path.as_os_str() != "-" => {
                    let full = cwd.join(path);
                    format!(" (looked for {})", display(full.as_os_str().as_bytes()))
                }
                _ => String::new(),
            };
            format!("cannot read manifest {shown}{tried}: {e}")
        })?;
        let regular =
            id.is_some() && std::fs::metadata(path).is_ok_and(|m| m.file_type().is_file());
        opened.rereadable.push(regular);
        opened.file_ids.push(id);
        opened.readers.push(reader);
        opened.ids.extend(id);
        opened.names.push(shown);
    }
    Ok(opened)
}

/// Reads lines with a length cap: `Ok(None)` at end of input; an over-long line is consumed
/// up to its newline without being kept, and reported as [`Malformed::TooLong`].
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    pub line_no: u64,
    /// Bytes consumed so far.
    consumed: u64,
    /// Byte offset (from where reading began) of the line `next_line` returned last.
    pub line_start: u64,
    /// Lines end with NUL and names are written as they are (`-z`, as GNU's `sha256sum -z`).
    zero: bool,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            line_no: 0,
            consumed: 0,
            line_start: 0,
            zero: false,
        }
    }

    /// A reader of `-z` manifests: NUL-terminated lines, names unescaped.
    pub fn zero(mut self, zero: bool) -> Self {
        self.zero = zero;
        self
    }

    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        self.buf.clear();
        self.line_start = self.consumed;
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let sep = if self.zero { 0 } else { b'\n' };
            let (take, done) = match chunk.iter().position(|&b| b == sep) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take > MAX_LINE + 2 {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.inner.consume(take);
            self.consumed += take as u64;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some(Line::Malformed(Malformed::TooLong)));
        }
        if self.zero {
            let line = self.buf.strip_suffix(b"\0").unwrap_or(&self.buf);
            return Ok(Some(to_line(parse_entry(line, false))));
        }
        Ok(Some(parse_line(&self.buf)))
    }
}

/// Why a manifest read with [`LineReader::next_entry`] cannot be used.
#[derive(Debug)]
pub enum StrictError {
    /// A line that is neither an entry nor a comment, and its number.
    Malformed(u64, Malformed),
    Io(io::Error),
}

impl<R: BufRead> LineReader<R> {
    /// The next entry, skipping comments. For readers that must account for every line
    /// (`digest --from`, `merge`): a malformed line is an error, not something to skip.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, StrictError> {
        loop {
            match self.next_line().map_err(StrictError::Io)? {
                None => return Ok(None),
                Some(Line::Comment) => {}
                Some(Line::Entry(e)) => return Ok(Some(e)),
                Some(Line::Malformed(why)) => {
                    return Err(StrictError::Malformed(self.line_no, why));
                }
            }
        }
    }
}

/// The entry on the line that starts at byte `offset` of `file` (for re-reading a name that
/// was not kept in memory); `None` if no entry starts there.
pub fn entry_at(file: &File, offset: u64, zero: bool) -> io::Result<Option<Entry>> {
    use std::io::{Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    // A small buffer: names are short, and a long one just takes a few more reads.
    match LineReader::new(BufReader::with_capacity(1024, f))
        .zero(zero)
        .next_line()?
    {
        Some(Line::Entry(e)) => Ok(Some(e)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "04e0bb39f30b1a3feb89f536c93be15055482df748674b00d26e5a75777702e9";

    fn entry(line: &str) -> Entry {
        match parse_line(line.as_bytes()) {
            Line::Entry(e) => e,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn malformed(line: &[u8]) -> Malformed {
        match parse_line(line) {
            Line::Malformed(m) => m,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn plain_tagged_crlf_and_double_spaces() {
        assert_eq!(entry(&format!("{H}  a b\n")).name, b"a b");
        assert_eq!(entry(&format!("{H}  x  y\r\n")).name, b"x  y");
        assert_eq!(entry(&format!("{H} *bin")).name, b"bin");
        let t = entry(&format!("BLAKE3 (a) = b) = {H}"));
        assert!(t.tagged());
        assert_eq!(t.name, b"a) = b");
        assert_eq!(
            entry(&format!("{}  up", H.to_uppercase())).hash,
            entry(&format!("{H}  x")).hash
        );
    }

    #[test]
    fn escaped_names() {
        assert_eq!(entry(&format!("\\{H}  a\\nb\\\\c\\r")).name, b"a\nb\\c\r");
        assert_eq!(entry(&format!("\\BLAKE3 (a\\nb) = {H}")).name, b"a\nb");
        assert_eq!(entry(&format!("\\{H}  \\xff")).name, b"\xff");
        // Without the leading backslash, backslashes are literal.
        assert_eq!(entry(&format!("{H}  a\\nb")).name, b"a\\nb");
    }

    #[test]
    fn rejects_what_gnu_and_b3sum_reject() {
        assert_eq!(parse_line(b""), Line::Comment);
        assert_eq!(parse_line(b"\r\n"), Line::Comment);
        assert_eq!(
            malformed(format!("{H} a").as_bytes()),
            Malformed::NoSeparator
        );
        assert_eq!(
            malformed(format!("{}  a", &H[1..]).as_bytes()),
            Malformed::BadHash
        );
        assert_eq!(
            malformed(format!("{}g  a", &H[1..]).as_bytes()),
            Malformed::BadHash
        );
        assert_eq!(malformed(format!("{H}  ").as_bytes()), Malformed::EmptyName);
        // A line of `hash --json` output is named as such.
        assert_eq!(
            malformed(br#"{"type":"file","path":"a","hash":"00"}"#),
            Malformed::Json
        );
        assert_eq!(malformed(format!("{H}  a\0b").as_bytes()), Malformed::Nul);
        assert_eq!(
            malformed(format!("\\{H}  a\\").as_bytes()),
            Malformed::BadEscape
        );
        assert_eq!(
            malformed(format!("\\{H}  a\\t").as_bytes()),
            Malformed::BadEscape
        );
        assert_eq!(
            malformed(format!("\\{H}  \\x00").as_bytes()),
            Malformed::Nul
        );
        assert_eq!(parse_line(b"# comment"), Line::Comment);
    }

    #[test]
    fn reader_caps_long_lines_and_counts_lines() {
        let mut data = format!("{H}  a\n").into_bytes();
        data.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE));
        data.extend_from_slice(format!("\n{H}  b").as_bytes());
        let mut r = LineReader::new(io::BufReader::with_capacity(1024, &data[..]));
        assert!(matches!(r.next_line().unwrap(), Some(Line::Entry(_))));
        assert_eq!(r.line_start, 0);
        assert_eq!(
            r.next_line().unwrap(),
            Some(Line::Malformed(Malformed::TooLong))
        );
        assert_eq!(r.line_start, 68);
        assert!(r.buf.capacity() <= 2 * MAX_LINE + 1024);
        assert!(matches!(r.next_line().unwrap(), Some(Line::Entry(e)) if e.name == b"b"));
        assert_eq!(r.line_no, 3);
        assert_eq!(r.next_line().unwrap(), None);
    }

    #[test]
    fn strict_reading_skips_comments_and_stops_at_a_malformed_line() {
        let data = format!("# made by hand\n{H}  a\n\n{H}\n{H}  b\n");
        let mut r = LineReader::new(data.as_bytes());
        assert!(matches!(r.next_entry(), Ok(Some(e)) if e.name == b"a"));
        assert!(matches!(
            r.next_entry(),
            Err(StrictError::Malformed(4, Malformed::NoSeparator))
        ));
        assert!(matches!(r.next_entry(), Ok(Some(e)) if e.name == b"b"));
        assert!(matches!(r.next_entry(), Ok(None)));
    }
}
