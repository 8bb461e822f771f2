//! The outboard beside a manifest (`MANIFEST.b3tree-outboard`, docs/state-format.md): for
//! every file of at least 1 MiB that `hash --outboard` read, the values of its BLAKE3 chunk
//! groups (`hash::groups`), in the manifest's (canonical) order.
//!
//! Nothing in it is trusted on its own: an entry is used only once the root of its values
//! equals the manifest's digest of that name ([`Outboard::authentic`]), so a forged or stale
//! outboard proves nothing and misleads no one. Entries are found by name through an index
//! made at the first lookup (one pass over the entries' headers, the values skipped): 40
//! bytes per file of at least 1 MiB, whatever order the manifest is in (`--files-from` keeps
//! its list's), so no lookup costs more than one hash probe.
//!
//! Written as a manifest is: a temporary file in the same directory, synced, renamed over
//! the old one — never through a symlink, never over anything but a regular file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::hash::algo::{Digest, Mode};
use crate::hash::groups::{self, CV_LEN, Cv, GroupHasher, Merger};
use crate::hash::tree::Keys;
use crate::names::escape::display;
use crate::names::nameset::normalize;
use crate::names::temp::{self, Temp};
use crate::state::open::{open_regular, replaceable};

/// The first line's words: `b3tree-outboard 1 group 16384`.
const MAGIC: &str = "b3tree-outboard 1 group";

/// The longest name an entry may have (a longer one is no outboard of ours).
const MAX_NAME: usize = 64 * 1024;

/// The index key of a name: the BLAKE3 of its normal form, 16 bytes.
fn key(name: &[u8]) -> [u8; 16] {
    let hash = blake3::hash(&normalize(name));
    let mut k = [0u8; 16];
    k.copy_from_slice(&hash.as_bytes()[..16]);
    k
}

/// One file's entry: its size and where its values start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    at: u64,
}

/// An outboard open for reading.
pub struct Outboard {
    reader: BufReader<File>,
    path: PathBuf,
    group: u64,
    /// Where the first entry starts.
    first: u64,
    /// Each entry by the first 16 bytes of the BLAKE3 of its name in normal form (made at
    /// the first lookup; the first of a name repeated).
    index: Option<HashMap<[u8; 16], Entry>>,
}

impl Outboard {
    /// The outboard at `path`: None when there is none; an error when it is not one
    /// (another file, an unknown version, a group size b3tree does not use).
    pub fn open(path: &Path) -> io::Result<Option<Outboard>> {
        let Some(file) = open_regular(path)? else {
            return Ok(None);
        };
        let mut reader = BufReader::with_capacity(16 * 1024, file);
        let mut line = Vec::new();
        (&mut reader).take(128).read_until(b'\n', &mut line)?;
        let group = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| l.strip_suffix('\n')?.strip_prefix(MAGIC)?.strip_prefix(' '))
            .and_then(|g| g.parse::<u64>().ok())
            .filter(|&g| groups::valid_group(g))
            .ok_or_else(|| io::Error::other("not an outboard of this version of b3tree"))?;
        Ok(Some(Outboard {
            reader,
            path: path.to_path_buf(),
            group,
            first: line.len() as u64,
            index: None,
        }))
    }

    pub fn group(&self) -> u64 {
        self.group
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry of `name`, if the outboard has one (names compared in normal form).
    pub fn find(&mut self, name: &[u8]) -> io::Result<Option<Entry>> {
        if self.index.is_none() {
            self.index = Some(self.read_index()?);
        }
        let index = self.index.as_ref().map(|i| i.get(&key(name)).copied());
        Ok(index.flatten())
    }

    /// One pass over the entries' headers.
    fn read_index(&mut self) -> io::Result<HashMap<[u8; 16], Entry>> {
        self.reader.seek(SeekFrom::Start(self.first))?;
        let mut index = HashMap::new();
        while let Some((name, entry)) = self.next_entry()? {
            if crate::sys::cancel::reads_stop() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            index.entry(key(&name)).or_insert(entry);
        }
        Ok(index)
    }

    /// The next entry's name and place; its values are skipped.
    fn next_entry(&mut self) -> io::Result<Option<(Vec<u8>, Entry)>> {
        let mut head = Vec::new();
        (&mut self.reader).take(48).read_until(b'\n', &mut head)?;
        if head.is_empty() {
            return Ok(None);
        }
        let bad = || io::Error::other("an entry does not parse (the file is damaged)");
        let text = std::str::from_utf8(&head).map_err(|_| bad())?;
        let (size, len) = text
            .strip_suffix('\n')
            .and_then(|t| t.split_once(' '))
            .ok_or_else(bad)?;
        let (size, len): (u64, usize) = (
            size.parse().map_err(|_| bad())?,
            len.parse().map_err(|_| bad())?,
        );
        if len > MAX_NAME || size < groups::MIN_SIZE {
            return Err(bad());
        }
        let mut name = vec![0u8; len + 1];
        self.reader.read_exact(&mut name)?;
        if name.pop() != Some(b'\n') {
            return Err(bad());
        }
        let at = self.reader.stream_position()?;
        let values = groups::count(size, self.group)
            .checked_mul(CV_LEN)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(bad)?;
        self.reader.seek_relative(values)?;
        Ok(Some((name, Entry { size, at })))
    }

    /// Values `first..first + out.len()` of `entry`.
    pub fn values(&self, entry: &Entry, first: u64, out: &mut [Cv]) -> io::Result<()> {
        let bytes = out.as_flattened_mut();
        self.reader
            .get_ref()
            .read_exact_at(bytes, entry.at + first * CV_LEN)
    }

    /// Whether `entry`'s values are the true ones of a file whose digest in `mode` is
    /// `expected`: their root must be that digest. Reads every value once (a stop ends it:
    /// an error of kind `Interrupted`).
    pub fn authentic(&self, entry: &Entry, mode: &Mode, expected: &Digest) -> io::Result<bool> {
        let total = groups::count(entry.size, self.group);
        let mut merger = Merger::new(Keys::of(mode));
        let mut buf = vec![[0u8; 32]; 2048];
        let mut first = 0;
        while first < total {
            if crate::sys::cancel::reads_stop() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = (total - first).min(buf.len() as u64) as usize;
            self.values(entry, first, &mut buf[..n])?;
            for cv in &buf[..n] {
                merger.push(*cv);
            }
            first += n as u64;
        }
        Ok(merger
            .root(mode)
            .is_some_and(|root| root.as_bytes() == expected.as_bytes()))
    }

    /// Reads `file` (open, of `entry.size` bytes) group by group, each group's value in
    /// `mode` compared with `entry`'s: `damaged` gets the index of each that differs, in
    /// order. None when a stop came, the file changed during the read (its fstat before and
    /// after differ) or a read failed.
    pub fn compare(
        &self,
        file: &File,
        entry: &Entry,
        mode: &Mode,
        mut damaged: impl FnMut(u64),
    ) -> Option<()> {
        let before = crate::hash::stat::Stat::of(file).ok()?;
        if before.size != entry.size {
            return None;
        }
        let mut failed = false;
        let mut stored = Vec::new();
        let sink = |first: u64, cvs: &[Cv]| {
            stored.resize(cvs.len(), [0u8; 32]);
            if failed || self.values(entry, first, &mut stored).is_err() {
                failed = true;
                return;
            }
            let differ = cvs
                .iter()
                .zip(&stored)
                .enumerate()
                .filter(|(_, (a, b))| a != b);
            differ.for_each(|(i, _)| damaged(first + i as u64));
        };
        let mut hasher = GroupHasher::new(mode, entry.size, self.group, sink);
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < entry.size {
            if crate::sys::cancel::reads_stop() {
                return None;
            }
            let n = file.read_at(&mut buf, at).ok()?;
            if n == 0 {
                return None;
            }
            hasher.feed(&buf[..n], true);
            at += n as u64;
        }
        hasher.finish(mode)?;
        let after = crate::hash::stat::Stat::of(file).ok()?;
        (!failed && after == before).then_some(())
    }

    /// Copies `entry` (its header and values) to `out`, under `name`.
    pub fn copy(&self, name: &[u8], entry: &Entry, out: &mut Writer) -> io::Result<()> {
        let total = groups::count(entry.size, self.group) * CV_LEN;
        out.entry(name, entry.size, |w| {
            let mut buf = vec![0u8; 64 * 1024];
            let mut done = 0;
            while done < total {
                if crate::sys::cancel::reads_stop() {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                let n = (total - done).min(buf.len() as u64) as usize;
                self.reader
                    .get_ref()
                    .read_exact_at(&mut buf[..n], entry.at + done)?;
                w.write_all(&buf[..n])?;
                done += n as u64;
            }
            Ok(())
        })
    }
}

/// A new outboard on its way to its place.
pub struct Writer {
    out: BufWriter<File>,
    temp: Temp,
    path: PathBuf,
}

impl Writer {
    /// Starts the outboard that will replace `path` (refused when `path` is a symlink or
    /// anything but a regular file).
    pub fn create(path: &Path, group: u64) -> Result<Writer, String> {
        replaceable(path)?;
        let shown = display(path.as_os_str().as_bytes());
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mode = 0o666 & !crate::sys::stdio::current_umask();
        let (file, temp) =
            temp::create_in(dir, mode).map_err(|e| format!("cannot write {shown}: {e}"))?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        writeln!(out, "{MAGIC} {group}").map_err(|e| format!("cannot write {shown}: {e}"))?;
        Ok(Writer {
            out,
            temp,
            path: path.to_path_buf(),
        })
    }

    /// (device, inode) of the temporary file.
    pub fn id(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let meta = self.out.get_ref().metadata().ok()?;
        Some((meta.dev(), meta.ino()))
    }

    /// Adds the entry of `name`, a file of `size` bytes whose values `values` writes.
    pub fn entry(
        &mut self,
        name: &[u8],
        size: u64,
        values: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        writeln!(self.out, "{size} {}", name.len())?;
        self.out.write_all(name)?;
        self.out.write_all(b"\n")?;
        values(&mut self.out)
    }

    /// Syncs and puts the outboard in place.
    pub fn commit(mut self) -> Result<(), String> {
        let shown = display(self.path.as_os_str().as_bytes());
        let fail = |e: io::Error| format!("cannot write {shown}: {e}");
        self.out.flush().map_err(fail)?;
        self.out.get_ref().sync_all().map_err(fail)?;
        replaceable(&self.path)?;
        self.temp.rename_to(&self.path, true).map_err(fail)
    }
}
