//! Reading a state or journal file as a cursor in canonical order: the walk asks for each
//! name in turn and the cursor moves forward to it, so memory stays that of one record.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::hash::facts::{Known, text_times, trusted_times};
use crate::manifest::read::MAX_LINE;
use crate::names::order::canonical_cmp;
use crate::state::line::{self, MAGIC};
use crate::state::open::open_ours;
use crate::state::options::{Wanted, differences};

/// Longest line a state file may hold: a manifest line's limit plus the record's fields.
const LIMIT: u64 = MAX_LINE as u64 + 256;

/// Largest block of records a reader holds before its `sum` line: the writer seals a block
/// every 256 KiB, so only a block with one huge name comes near it.
const BLOCK_LIMIT: usize = 2 * LIMIT as usize;

/// An open state or journal file, positioned at its next record.
pub struct StateReader {
    path: PathBuf,
    reader: BufReader<File>,
    started: SystemTime,
    line_no: u64,
    /// The next record: its name (unescaped) and where its [`Known`]'s text lies in
    /// `block`; parsed no further here (the worker that reuses it parses the rest).
    next_name: Vec<u8>,
    next_text: Option<std::ops::Range<usize>>,
    /// The record before it, for the order check (buffers swapped, never reallocated).
    prev_name: Vec<u8>,
    /// Why the records ended before the file did (a bad line, out of order).
    problem: Option<String>,
    /// The `end` line was read: nothing after it is a record.
    ended: bool,
    buf: Vec<u8>,
    /// The records of the current block (its seal verified), and where the next one starts.
    block: Vec<u8>,
    pos: usize,
    /// The file line of `block[pos..]`'s first record.
    block_line: u64,
    /// Bytes read from the file so far; where the records start (after the header); where
    /// `block` starts in the file; and where in `block` the next record's line starts (the
    /// lines before it were all returned): what [`Self::passed`] tells.
    offset: u64,
    records_start: u64,
    block_offset: u64,
    next_start: usize,
}

/// Appends line `line_no` of `reader`, with its `\n`, to `into` (at most `LIMIT` bytes) and
/// adds its length to `offset`; false at the end of the file; Err for a read error or a line
/// with no end.
fn next_line(
    reader: &mut impl BufRead,
    into: &mut Vec<u8>,
    line_no: u64,
    offset: &mut u64,
) -> Result<bool, String> {
    let n = reader
        .take(LIMIT)
        .read_until(b'\n', into)
        .map_err(|e| format!("line {line_no}: {e}"))?;
    *offset += n as u64;
    if n == 0 {
        return Ok(false);
    }
    if into.last() != Some(&b'\n') {
        return Err(format!("line {line_no}: torn (no end of line)"));
    }
    Ok(true)
}

impl StateReader {
    /// Opens `path` and checks its header: a state file of this format, written for
    /// `options` (any options when None: `check` only compares recorded facts with the
    /// files it reads). `Ok(None)` if there is no such file; `Err` says why it is not used.
    pub fn open(path: &Path, options: Option<&Wanted>) -> Result<Option<StateReader>, String> {
        let file = match open_ours(path) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("cannot be read: {e}")),
        };
        let mut r = StateReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(256 * 1024, file),
            started: SystemTime::UNIX_EPOCH,
            line_no: 0,
            next_name: Vec::new(),
            next_text: None,
            prev_name: Vec::new(),
            problem: None,
            ended: false,
            buf: Vec::new(),
            block: Vec::new(),
            pos: 0,
            block_line: 0,
            offset: 0,
            records_start: 0,
            block_offset: 0,
            next_start: 0,
        };
        let mut header = |what: &str| -> Result<Vec<u8>, String> {
            match r.line() {
                Ok(Some(content)) => Ok(content.to_vec()),
                _ => Err(format!("has no valid {what} line")),
            }
        };
        if header("first")? != MAGIC.as_bytes() {
            return Err("is not a b3tree state of this format".into());
        }
        let started = line::parse_started(&header("started")?);
        let opts = header("options")?;
        r.started = started.ok_or("has no valid started line")?;
        let written = opts.strip_prefix(b"options ");
        if let Some(wanted) = options.filter(|o| written != Some(o.text)) {
            return Err(format!(
                "was written for other options ({})",
                differences(written.unwrap_or_default(), wanted)
            ));
        }
        r.records_start = r.offset;
        r.block_offset = r.offset;
        r.advance();
        Ok(Some(r))
    }

    /// The next line's content, checksum verified; None at the end of the file; Err for a
    /// line that is torn, too long or fails its checksum.
    fn line(&mut self) -> Result<Option<&[u8]>, String> {
        self.buf.clear();
        self.line_no += 1;
        if !next_line(
            &mut self.reader,
            &mut self.buf,
            self.line_no,
            &mut self.offset,
        )? {
            return Ok(None);
        }
        self.buf.pop();
        match line::open(&self.buf) {
            Some(content) => Ok(Some(content)),
            None => Err(format!("line {}: checksum mismatch", self.line_no)),
        }
    }

    /// Reads the next block of records and its `sum` line into `self.block`, seal checked.
    /// Ok(false) at the `end` line or the end of the file; Err says what is wrong.
    fn load_block(&mut self) -> Result<bool, String> {
        self.block.clear();
        self.pos = 0;
        self.next_start = 0;
        self.block_offset = self.offset;
        self.block_line = self.line_no + 1;
        let mut count = 0u64;
        loop {
            let start = self.block.len();
            self.line_no += 1;
            if !next_line(
                &mut self.reader,
                &mut self.block,
                self.line_no,
                &mut self.offset,
            )? {
                return match count {
                    0 => Ok(false),
                    _ => Err(format!(
                        "line {}: records without a sum line (cut short?)",
                        self.line_no
                    )),
                };
            }
            let line = &self.block[start..self.block.len() - 1];
            if line.starts_with(b"sum ") {
                let sealed = line::block_sealed(line, &self.block[..start], count);
                self.block.truncate(start);
                return match sealed {
                    true => Ok(true),
                    false => Err(format!(
                        "lines {}-{}: checksum mismatch",
                        self.block_line, self.line_no
                    )),
                };
            }
            if line.starts_with(b"end ") {
                let end = line::open(line).and_then(line::parse_end);
                self.block.truncate(start);
                return match (end, count) {
                    (Some(_), 0) => {
                        self.ended = true;
                        Ok(false)
                    }
                    (Some(_), _) => {
                        Err(format!("line {}: records without a sum line", self.line_no))
                    }
                    (None, _) => Err(format!("line {}: bad end line", self.line_no)),
                };
            }
            count += 1;
            if self.block.len() > BLOCK_LIMIT {
                return Err(format!("line {}: block too long", self.line_no));
            }
        }
    }

    /// Reads the next record into `self.next_*` (none at the end, or at the first problem).
    fn advance(&mut self) {
        let had_previous = self.next_text.take().is_some();
        std::mem::swap(&mut self.prev_name, &mut self.next_name);
        if self.problem.is_some() || self.ended {
            return;
        }
        while self.pos >= self.block.len() {
            match self.load_block() {
                Ok(true) => {}
                Ok(false) => return,
                Err(why) => {
                    self.problem = Some(why);
                    return;
                }
            }
        }
        let rest = &self.block[self.pos..];
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let at = self.block_line;
        let start = self.pos;
        self.next_start = start;
        self.pos += len + 1;
        self.block_line += 1;
        let split = line::split_record(&rest[..len]);
        // The times are read only when the name is asked for (`find_text`).
        let named =
            split.is_some_and(|(_, written)| line::unescape_name(written, &mut self.next_name));
        let Some((text, _)) = split.filter(|_| named) else {
            self.problem = Some(format!("line {at}: not a record"));
            return;
        };
        if had_previous && canonical_cmp(&self.prev_name, &self.next_name) != Ordering::Less {
            self.problem = Some(format!("line {at}: out of canonical order"));
            return;
        }
        self.next_text = Some(start..start + text.len());
    }

    /// The text of what the file knows of `name` (a [`Known`]'s text, parsed by the caller,
    /// see [`Known::parse_text`]), if it holds a record for it that may be trusted (not
    /// racy). Names must be asked for in canonical order; the cursor moves past them.
    pub fn find_text(&mut self, name: &[u8]) -> Option<Box<[u8]>> {
        loop {
            let range = self.next_text.clone()?;
            match canonical_cmp(&self.next_name, name) {
                Ordering::Less => self.advance(),
                Ordering::Greater => return None,
                Ordering::Equal => {
                    let text = &self.block[range];
                    let trusted =
                        text_times(text).is_some_and(|(m, c)| trusted_times(m, c, self.started));
                    let found = trusted.then(|| text.into());
                    self.advance();
                    return found;
                }
            }
        }
    }

    /// What the file knows of `name`, parsed: [`Self::find_text`].
    pub fn find(&mut self, name: &[u8]) -> Option<Known> {
        self.find_text(name).and_then(|t| Known::parse_text(&t))
    }

    /// The next record's whole line (the [`Known`]'s text, a space, the name as written),
    /// without its newline; None after the last record or at the first problem.
    pub fn peek_line(&self) -> Option<&[u8]> {
        let text = self.next_text.as_ref()?;
        Some(&self.block[text.start..self.pos - 1])
    }

    /// Moves past the next record (see [`Self::peek_line`]).
    pub fn pass(&mut self) {
        self.advance();
    }

    /// The records before the next one, as they lie in the file: the bytes `range` (whole
    /// blocks, each with its `sum` line) and then `lines` (the current block's records before
    /// the next one, newlines included; not yet sealed on their own).
    pub fn passed(&self) -> (std::ops::Range<u64>, &[u8]) {
        (
            self.records_start..self.block_offset,
            &self.block[..self.next_start],
        )
    }

    /// Every record was passed and the file ended with its `end` line, nothing wrong in it.
    pub fn at_end(&self) -> bool {
        self.next_text.is_none() && self.ended && self.problem.is_none()
    }

    /// The open file (for reads at an offset, which leave the cursor where it is).
    pub fn file(&self) -> &File {
        self.reader.get_ref()
    }

    /// Why the records ended before the file did, if they did.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The `end` line of the state file at `path` (count, manifest digest): the last line,
/// read from the end without reading the records.
pub fn read_end(file: &mut File) -> Option<(u64, blake3::Hash)> {
    use std::io::{Seek, SeekFrom};
    let len = file.metadata().ok()?.len();
    let tail = len.min(512);
    file.seek(SeekFrom::Start(len - tail)).ok()?;
    let mut buf = Vec::with_capacity(tail as usize);
    file.take(tail).read_to_end(&mut buf).ok()?;
    file.seek(SeekFrom::Start(0)).ok()?;
    let body = buf.strip_suffix(b"\n")?;
    let last = body.rsplit(|&b| b == b'\n').next()?;
    line::parse_end(line::open(last)?)
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
