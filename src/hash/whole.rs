//! Reading a whole open file into a feed, and trusting the bytes only if the file did not
//! change: small files in one or a few `read` calls into the thread's buffer, big ones
//! through `big`; an fstat after the last read must equal the one before.

use std::fs::File;

use crate::hash::algo::{Digest, Mode};
use crate::hash::big;
use crate::hash::feed::Feed;
use crate::hash::outcome::{EntryError, ErrorKind, Outcome};
use crate::hash::progress;
use crate::hash::read::{ReadStop, SMALL_BUF, read_some, with_buf};
use crate::hash::stat::Stat;
use crate::sys::cancel;

/// From this size on a file goes to `big` (one per core at a time, over every core when one
/// is free); below it a file is read on its thread in one or a few `read` calls.
pub const BIG_FILE: u64 = 4 * 1024 * 1024;

/// Reads the whole file into `feed` and checks that it did not change: the bytes read, and
/// the digest when a big file was hashed as subtrees instead (else it is `feed`'s).
pub(super) fn read(
    file: &File,
    before: &Stat,
    mode: &Mode,
    feed: &mut impl Feed,
) -> Result<(u64, Option<Digest>), Outcome> {
    let mut whole = None;
    let read = if before.size >= BIG_FILE {
        big::read(file, before, mode, feed).map(|(n, digest)| {
            whole = digest;
            n
        })
    } else {
        read_small(file, before.size, feed)
    };
    let read = read.map_err(|stop| Outcome::Failed(stop.into_error()))?;
    checked(file, before, read)?;
    Ok((read, whole))
}

/// After the last read of `read` bytes: the file must still be the version `before` saw.
pub(super) fn checked(file: &File, before: &Stat, read: u64) -> Result<(), Outcome> {
    let after = Stat::of(file)
        .map_err(|e| Outcome::Failed(EntryError::from_io(ErrorKind::Unreadable, &e)))?;
    match changed(before, &after, read) {
        Some(why) => Err(Outcome::Failed(EntryError::new(ErrorKind::Changed, why))),
        None => Ok(()),
    }
}

/// Reads a file smaller than the buffer, never more than its fstat size plus one probe
/// byte: a pseudo file that reports 0 bytes and holds gigabytes (`/proc/self/pagemap`) ends
/// at once as "size unknown" instead of being read for hours. When one `read` returns
/// exactly the size fstat reported, and less than was asked for, that read met end-of-file:
/// we skip the extra `read` that would return 0 (a syscall per file saved). Growth after that
/// read cannot affect the bytes hashed, and the second fstat still sees any size or mtime
/// change.
fn read_small(file: &File, size: u64, hasher: &mut impl Feed) -> Result<u64, ReadStop> {
    let need = usize::try_from(size.saturating_add(1)).unwrap_or(SMALL_BUF);
    with_buf(need, |buf| {
        let mut total = 0u64;
        loop {
            let want = usize::try_from(size - total + 1).map_or(buf.len(), |w| w.min(buf.len()));
            let n = read_some(file, &mut buf[..want])?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            if total > size {
                return Err(ReadStop::Longer(size));
            }
            hasher.update(&buf[..n]);
            progress::add(n as u64);
            if total == size && n < want && total == n as u64 {
                return Ok(total);
            }
            if cancel::reads_stop() {
                return Err(ReadStop::Cancelled);
            }
        }
    })
}

/// Why the file cannot be trusted to be the one we read, if it cannot.
fn changed(before: &Stat, after: &Stat, read: u64) -> Option<String> {
    if read != before.size {
        return Some(format!("size was {} bytes, read {}", before.size, read));
    }
    if after.size != before.size {
        return Some(format!(
            "size went from {} to {} bytes",
            before.size, after.size
        ));
    }
    (!before.same_version(after)).then(|| "modified while being read".to_string())
}
