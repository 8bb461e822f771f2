//! One line of a state or journal file: its content, a space and a checksum — the first 16
//! hex digits of the BLAKE3 of the content — so that a torn write (a power cut) or an edit
//! is found at the line it touches.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::hash::facts::{Facts, Known, to_pair};
use crate::names::escape::{self, Escaping};

/// The first line of every state and journal file.
pub const MAGIC: &str = "b3tree-state 1";

/// Appends `content`, its checksum and a newline to `out`.
pub fn seal(content: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(content);
    out.push(b' ');
    out.extend_from_slice(&checksum(content));
    out.push(b'\n');
}

fn checksum(content: &[u8]) -> [u8; 16] {
    let hex = blake3::hash(content).to_hex();
    let mut out = [0u8; 16];
    out.copy_from_slice(&hex.as_bytes()[..16]);
    out
}

/// The content of a sealed line (without its newline), if its checksum holds.
pub fn open(line: &[u8]) -> Option<&[u8]> {
    let split = line.len().checked_sub(17)?;
    let (content, sum) = line.split_at(split);
    (sum[0] == b' ' && sum[1..] == checksum(content)).then_some(content)
}

/// One record: a name, its digest and the facts of the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Vec<u8>,
    pub known: Known,
}

/// `HASH SIZE MTIME CTIME INO DEV NAME` (times as `SECONDS.NANOSECONDS`; the name in the
/// manifest's escaping, with a leading `\` when escaped).
pub fn record(name: &[u8], known: &Known, out: &mut Vec<u8>) {
    let f = &known.facts;
    let mut content = Vec::with_capacity(name.len() + 128);
    content.extend_from_slice(known.hash.to_hex().as_bytes());
    let fields = format!(
        " {} {}.{:09} {}.{:09} {} {} ",
        f.size, f.mtime.0, f.mtime.1, f.ctime.0, f.ctime.1, f.ino, f.dev
    );
    content.extend_from_slice(fields.as_bytes());
    escape::push_marked(name, Escaping::Manifest, &mut content);
    seal(&content, out);
}

/// Parses a record's content (checksum already verified).
pub fn parse_record(content: &[u8]) -> Option<Record> {
    let mut fields = content.splitn(7, |&b| b == b' ');
    let hash = blake3::Hash::from_hex(fields.next()?).ok()?;
    let size = number(fields.next()?)?;
    let mtime = time(fields.next()?)?;
    let ctime = time(fields.next()?)?;
    let ino = number(fields.next()?)?;
    let dev = number(fields.next()?)?;
    let written = fields.next()?;
    let name = match written.strip_prefix(b"\\") {
        Some(escaped) => escape::unescape(escaped).ok()?,
        None => written.to_vec(),
    };
    if name.is_empty() {
        return None;
    }
    Some(Record {
        name,
        known: Known {
            facts: Facts {
                size,
                mtime,
                ctime,
                ino,
                dev,
            },
            hash,
        },
    })
}

fn number(field: &[u8]) -> Option<u64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// `SECONDS.NANOSECONDS`, exactly nine digits of nanoseconds.
fn time(field: &[u8]) -> Option<(i64, u32)> {
    let text = std::str::from_utf8(field).ok()?;
    let (s, ns) = text.split_once('.')?;
    let nanos: u32 = (ns.len() == 9).then(|| ns.parse().ok())??;
    (nanos < 1_000_000_000).then_some(())?;
    Some((s.parse().ok()?, nanos))
}

/// `started SECONDS.NANOSECONDS`: when the run that writes the file started.
pub fn started(at: SystemTime) -> String {
    let (s, ns) = to_pair(at);
    format!("started {s}.{ns:09}")
}

/// The start time of a `started` line's content.
pub fn parse_started(content: &[u8]) -> Option<SystemTime> {
    let (s, ns) = time(content.strip_prefix(b"started ")?)?;
    let secs = u64::try_from(s).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, ns))
}

/// `end COUNT MANIFEST-BLAKE3`: the last line of a state file.
pub fn end(count: u64, manifest: &blake3::Hash) -> String {
    format!("end {count} {}", manifest.to_hex())
}

/// The count and manifest digest of an `end` line's content.
pub fn parse_end(content: &[u8]) -> Option<(u64, blake3::Hash)> {
    let text = std::str::from_utf8(content.strip_prefix(b"end ")?).ok()?;
    let (count, hash) = text.split_once(' ')?;
    Some((count.parse().ok()?, blake3::Hash::from_hex(hash).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            facts: Facts {
                size: 12,
                mtime: (1_700_000_000, 5),
                ctime: (-3, 999_999_999),
                ino: 42,
                dev: 2049,
            },
            hash: blake3::hash(b"x"),
        }
    }

    #[test]
    fn a_record_round_trips_with_any_name() {
        for name in [
            &b"a b/c"[..],
            b"new\nline",
            b"back\\slash",
            b"\xff\xfe",
            b" lead",
        ] {
            let mut line = Vec::new();
            record(name, &known(), &mut line);
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            let content = open(&line[..line.len() - 1]).expect("checksum");
            let r = parse_record(content).unwrap();
            assert_eq!(r.name, name);
            assert_eq!(r.known, known());
        }
    }

    #[test]
    fn an_edited_or_torn_line_fails_its_checksum() {
        let mut line = Vec::new();
        record(b"name", &known(), &mut line);
        let line = &line[..line.len() - 1];
        let mut edited = line.to_vec();
        edited[70] ^= 1;
        assert!(open(&edited).is_none());
        assert!(open(&line[..line.len() - 3]).is_none());
        assert!(open(b"").is_none());
    }

    #[test]
    fn times_and_end_lines_parse_strictly() {
        assert_eq!(time(b"5.000000001"), Some((5, 1)));
        assert_eq!(time(b"-5.5"), None, "nine digits");
        assert_eq!(time(b"5.1000000000"), None);
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        assert_eq!(parse_started(started(at).as_bytes()), Some(at));
        let h = blake3::hash(b"m");
        assert_eq!(parse_end(end(7, &h).as_bytes()), Some((7, h)));
        assert_eq!(parse_end(b"end x y"), None);
    }
}
