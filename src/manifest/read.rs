//! Reading manifests: b3tree's and b3sum's lines (plain and tagged), GNU conventions.
//!
//! Rules (GUIDE §1.2, matching b3sum and GNU coreutils where they agree):
//! - a trailing LF, then a trailing CR, is stripped (CRLF manifests are accepted);
//! - a line starting with `#` is a comment (GNU); an empty line is skipped (GNU 9.1 accepts
//!   one even under `--strict`);
//! - a leading `\` means the name is escaped (`\\`, `\n`, `\r`, and our `\xHH`);
//! - tagged lines start with `BLAKE3 (` and split at the LAST `) = `;
//! - untagged lines split at the FIRST two spaces (GNU's ` *` binary marker is accepted too);
//! - the hash is exactly 64 hex digits. Upper case is accepted (as GNU does; b3sum does not):
//!   it denotes the same digest, so accepting it cannot make a wrong file pass;
//! - an empty name or a NUL byte in the name is refused (GNU 9.1 truncates at NUL and says OK).
//!
//! Lines are read with a hard length cap, so a 100 MiB line without a newline costs
//! [`MAX_LINE`] bytes of memory, not 100 MiB. The cap is far above what names really are
//! (a name of 1 MiB, every byte `\xHH`-escaped), and `hash` refuses to write a longer line
//! (an error record), so whatever `hash` writes, `check` reads. A line refused for its length
//! alone is a failure in `check`, never a skipped malformed line: it may be the entry of a
//! tampered file.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::names::escape::{UnescapeError, display, unescape};

/// Longest accepted line: a 1 MiB name fully `\xHH`-escaped, plus the hash and framing
/// (hash and digest lines longer than this are never written).
pub const MAX_LINE: usize = 4 * (1 << 20) + 256;

/// One entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub hash: [u8; 32],
    /// The name, unescaped (raw bytes).
    pub name: Vec<u8>,
    pub tagged: bool,
}

/// What a line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Entry(Entry),
    Comment,
    Malformed(Malformed),
}

/// Why a line is not an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("no hash and name separated by two spaces")]
    NoSeparator,
    #[error("the hash is not 64 hexadecimal digits")]
    BadHash,
    #[error("empty file name")]
    EmptyName,
    #[error("NUL byte in the file name")]
    Nul,
    #[error("invalid backslash escape")]
    BadEscape,
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    #[error(
        "a JSON record: `hash --json` writes a report, not a manifest (write it without --json)"
    )]
    Json,
}

impl From<UnescapeError> for Malformed {
    fn from(_: UnescapeError) -> Self {
        Malformed::BadEscape
    }
}

/// Parses one line (without its line terminator, or with: LF/CRLF are stripped).
pub fn parse_line(line: &[u8]) -> Line {
    match parse_entry(line) {
        Ok(Some(e)) => Line::Entry(e),
        Ok(None) => Line::Comment,
        Err(m) => Line::Malformed(m),
    }
}

fn parse_entry(line: &[u8]) -> Result<Option<Entry>, Malformed> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() || line.starts_with(b"#") {
        return Ok(None);
    }
    let (escaped, body) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if !escaped && body.starts_with(b"{\"") {
        return Err(Malformed::Json);
    }
    let (hash, raw_name, tagged) = if let Some(rest) = body.strip_prefix(b"BLAKE3 (") {
        let at = rfind(rest, b") = ").ok_or(Malformed::NoSeparator)?;
        (&rest[at + 4..], &rest[..at], true)
    } else {
        // A well-formed hash is 64 digits followed by "  " (or GNU's " *"); otherwise split at
        // the first two spaces, which then reports what is wrong with the hash.
        let at = if body.len() > 66 && body[64] == b' ' && matches!(body[65], b' ' | b'*') {
            64
        } else {
            find(body, b"  ").ok_or(Malformed::NoSeparator)?
        };
        (&body[..at], &body[at + 2..], false)
    };
    let hash = parse_hash(hash).ok_or(Malformed::BadHash)?;
    let name = if escaped {
        unescape(raw_name)?
    } else {
        raw_name.to_vec()
    };
    if name.is_empty() {
        return Err(Malformed::EmptyName);
    }
    if name.contains(&0) {
        return Err(Malformed::Nul);
    }
    Ok(Some(Entry { hash, name, tagged }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// 64 hex digits (either case) → 32 bytes.
pub fn parse_hash(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi << 4 | lo) as u8;
    }
    Some(out)
}

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

/// Manifests opened together, before any work starts.
pub struct Opened {
    pub readers: Vec<Box<dyn BufRead + Send>>,
    /// As shown in diagnostics (`NAME:LINE`): escaped like a manifest name.
    pub names: Vec<String>,
    /// (device, inode) of each manifest that is a file (not stdin).
    pub ids: Vec<(u64, u64)>,
    /// Per manifest: a regular file, which can be read again later (by path).
    pub rereadable: Vec<bool>,
}

/// Opens every manifest with [`open`] (`-` is stdin, at most once); the first one that
/// cannot be opened is the error, naming it.
pub fn open_all(paths: &[PathBuf]) -> Result<Opened, String> {
    let mut opened = Opened {
        readers: Vec::new(),
        names: Vec::new(),
        ids: Vec::new(),
        rereadable: Vec::new(),
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
        let (reader, id) = open(path).map_err(|e| format!("cannot read manifest {shown}: {e}"))?;
        let regular =
            id.is_some() && std::fs::metadata(path).is_ok_and(|m| m.file_type().is_file());
        opened.rereadable.push(regular);
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
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            line_no: 0,
            consumed: 0,
            line_start: 0,
        }
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
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
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
pub fn entry_at(file: &File, offset: u64) -> io::Result<Option<Entry>> {
    use std::io::{Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    // A small buffer: names are short, and a long one just takes a few more reads.
    match LineReader::new(BufReader::with_capacity(1024, f)).next_line()? {
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
        assert!(t.tagged);
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
