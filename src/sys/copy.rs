//! Copying a range of one file into a writer, for a writer that skips what repeats a file
//! already on disk (`state::echo`) and must write it after all once its output departs from
//! it. Reads at an offset (the file's own cursor stays where it is) in chunks, and stops at a
//! stop request (Ctrl-C) between chunks: a state's prefix may be a gigabyte, read back from a
//! cold disk.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;

use crate::sys::cancel;

const CHUNK: usize = 256 * 1024;

/// Why a copy ended early (what was copied stays written: the caller takes it back).
#[derive(Debug)]
pub enum CopyError {
    /// A stop was requested.
    Stopped,
    /// Reading the source failed, or it is shorter than the range (UnexpectedEof).
    Read(io::Error),
    Write(io::Error),
}

/// Copies bytes `range` of `src` to `out`.
pub fn copy_range(src: &File, range: Range<u64>, out: &mut dyn Write) -> Result<(), CopyError> {
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(range.end - range.start).unwrap_or(CHUNK))];
    let mut at = range.start;
    while at < range.end {
        if cancel::is_stopped() {
            return Err(CopyError::Stopped);
        }
        let want = usize::try_from(range.end - at).map_or(buf.len(), |n| n.min(buf.len()));
        let n = match src.read_at(&mut buf[..want], at) {
            Ok(0) => return Err(CopyError::Read(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_range_and_leaves_the_cursor() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let mut out = Vec::new();
        copy_range(&f, 5..300_007, &mut out).unwrap();
        assert_eq!(out, &data[5..300_007]);
        let mut out = Vec::new();
        copy_range(&f, 7..7, &mut out).unwrap();
        assert!(out.is_empty());
        let e = copy_range(&f, 599_990..600_010, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&e, CopyError::Read(e) if e.kind() == io::ErrorKind::UnexpectedEof),
            "{e:?}"
        );
        use std::io::Seek;
        assert_eq!(f.stream_position().unwrap(), 600_000);
    }
}
