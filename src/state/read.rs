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
mod tests {
    use super::*;
    use crate::hash::facts::Facts;
    use std::io::Write;
    use std::time::Duration;

    fn known(n: u8, mtime: i64) -> Known {
        Known {
            facts: Facts {
                size: u64::from(n),
                mtime: (mtime, 0),
                ctime: (mtime, 0),
                ino: u64::from(n),
                dev: 1,
                fs: 7,
                meta: crate::hash::facts::Meta::default(),
            },
            hash: blake3::hash(&[n]).into(),
        }
    }

    fn write_state(dir: &Path, records: &[(&[u8], Known)], started: i64, tail: &[u8]) -> PathBuf {
        let mut out = Vec::new();
        line::seal(MAGIC.as_bytes(), &mut out);
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(started as u64);
        line::seal(line::started(at).as_bytes(), &mut out);
        line::seal(b"options o", &mut out);
        // Two records per block.
        for pair in records.chunks(2) {
            let mut block = Vec::new();
            for (name, k) in pair {
                line::record(name, k, &mut block);
            }
            out.extend_from_slice(&block);
            line::block_sum(&block, pair.len() as u64, &mut out);
        }
        out.extend_from_slice(tail);
        let path = dir.join("s");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&out)
            .unwrap();
        path
    }

    #[test]
    fn find_walks_forward_and_trusts_only_old_enough_records() {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<(&[u8], Known)> = vec![
            (b"a", known(1, 100)),
            (b"a/b", known(2, 100)),
            (b"a.c", known(3, 999)),
            (b"z", known(4, 100)),
        ];
        let path = write_state(dir.path(), &recs, 1000, b"");
        let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
        assert_eq!(r.find(b"0"), None);
        assert_eq!(r.find(b"a"), Some(known(1, 100)));
        assert_eq!(r.find(b"a/a"), None);
        assert_eq!(r.find(b"a/b"), Some(known(2, 100)));
        // Racy: modified 1 s before the run that recorded it started.
        assert_eq!(r.find(b"a.c"), None);
        assert_eq!(r.find(b"z"), Some(known(4, 100)));
        assert_eq!(r.find(b"zz"), None);
        assert_eq!(r.problem(), None);
    }

    #[test]
    fn records_end_at_a_bad_line_or_a_break_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let recs: Vec<(&[u8], Known)> = vec![(b"b", known(1, 1)), (b"a", known(2, 1))];
        let path = write_state(dir.path(), &recs, 1000, b"garbage\n");
        let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
        assert_eq!(r.find(b"a"), None);
        assert_eq!(r.find(b"b"), Some(known(1, 1)));
        assert_eq!(r.find(b"c"), None);
        assert_eq!(r.problem(), Some("line 5: out of canonical order"));
        // A torn tail: the sealed block before it is good.
        let torn = write_state(dir.path(), &recs[..1], 1000, b"0123");
        let mut r = StateReader::open(&torn, Some(&raw(b"o"))).unwrap().unwrap();
        assert!(r.find(b"b").is_some());
        assert_eq!(r.find(b"c"), None);
        assert_eq!(r.problem(), Some("line 6: torn (no end of line)"));
        // An edited record breaks its block's seal: none of the block is used.
        let good: Vec<(&[u8], Known)> = vec![
            (b"a", known(1, 1)),
            (b"b", known(2, 1)),
            (b"c", known(3, 1)),
        ];
        let path = write_state(dir.path(), &good, 1000, b"");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(2).position(|w| w == b" b").unwrap() + 1;
        bytes[at] = b'x';
        std::fs::write(&path, &bytes).unwrap();
        let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
        assert_eq!(r.find(b"a"), None);
        assert_eq!(r.find(b"c"), None);
        assert_eq!(r.problem(), Some("lines 4-6: checksum mismatch"));
        // Records after the last seal (a journal cut by a power cut) are not used.
        let mut tail = Vec::new();
        line::record(b"z", &known(9, 1), &mut tail);
        let path = write_state(dir.path(), &good[..2], 1000, &tail);
        let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
        assert!(r.find(b"b").is_some());
        assert_eq!(r.find(b"z"), None);
        assert!(
            r.problem().unwrap().contains("without a sum line"),
            "{:?}",
            r.problem()
        );
    }

    /// Options named as they are keyed.
    fn raw(text: &[u8]) -> Wanted<'_> {
        Wanted {
            text,
            name: str::to_string,
        }
    }

    #[test]
    fn other_options_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_state(dir.path(), &[], 1000, b"");
        assert!(
            StateReader::open(&path, Some(&raw(b"other")))
                .err()
                .unwrap()
                .contains("other options")
        );
        std::fs::write(&path, "hello\n").unwrap();
        assert!(StateReader::open(&path, Some(&raw(b"o"))).is_err());
        assert!(
            StateReader::open(&dir.path().join("none"), Some(&raw(b"o")))
                .unwrap()
                .is_none()
        );
        std::os::unix::fs::symlink(&path, dir.path().join("l")).unwrap();
        let e = StateReader::open(&dir.path().join("l"), Some(&raw(b"o")))
            .err()
            .unwrap();
        assert!(e.contains("symlink"), "{e}");
    }
}
