//! The lines of a state or journal file. Header and `end` lines are sealed one by one: their
//! content, a space and a checksum (the first 16 hex digits of the BLAKE3 of the content).
//! Records come in blocks, each followed by a `sum` line that seals the block as a whole (one
//! BLAKE3 over a block is far cheaper than one per line): a torn write (a power cut) or an
//! edit is found at the block it touches.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::hash::facts::{Known, parse_decimal, parse_time, to_pair};
use crate::names::escape::{self, Escaping};

/// The first line of every state and journal file.
pub const MAGIC: &str = "b3tree-state 2";

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

/// Appends the record line `HASH SIZE MTIME CTIME INO DEV FS NAME` (the [`Known`]'s text,
/// then the name in the manifest's escaping, with a leading `\` when escaped) to `out`.
pub fn record(name: &[u8], known: &Known, out: &mut Vec<u8>) {
    known.write_text(out);
    out.push(b' ');
    escape::push_marked(name, Escaping::Manifest, out);
    out.push(b'\n');
}

/// The fields of a [`Known`]'s text before the name.
const KNOWN_FIELDS: usize = 7;

/// A record's content split into the [`Known`]'s text and the name as written (escaped or
/// not), without parsing either: the walk's cursor needs only the name, the worker that
/// reuses a digest parses the rest.
pub fn split_record(content: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = memchr::memchr_iter(b' ', content).nth(KNOWN_FIELDS - 1)?;
    Some((&content[..at], &content[at + 1..]))
}

/// The name of a record as written, unescaped into `into` (cleared first); false if it is
/// empty or badly escaped.
pub fn unescape_name(written: &[u8], into: &mut Vec<u8>) -> bool {
    into.clear();
    match written.strip_prefix(b"\\") {
        Some(escaped) => match escape::unescape(escaped) {
            Ok(name) => *into = name,
            Err(_) => return false,
        },
        None => into.extend_from_slice(written),
    }
    !into.is_empty()
}

/// The `sum COUNT CHECK` line that seals a block: `COUNT` records, whose bytes (lines with
/// their newlines) hash to `CHECK` (the first 16 hex digits of their BLAKE3).
pub fn block_sum(block: &[u8], count: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("sum {count} ").as_bytes());
    out.extend_from_slice(&checksum(block));
    out.push(b'\n');
}

/// Whether a `sum` line's content (without its newline) seals `block` of `count` records.
pub fn block_sealed(sum: &[u8], block: &[u8], count: u64) -> bool {
    let Some(rest) = sum.strip_prefix(b"sum ") else {
        return false;
    };
    let Some(space) = rest.iter().position(|&b| b == b' ') else {
        return false;
    };
    let (n, check) = (&rest[..space], &rest[space + 1..]);
    parse_decimal(n) == Some(count) && check == checksum(block)
}

/// `started SECONDS.NANOSECONDS`: when the run that writes the file started.
pub fn started(at: SystemTime) -> String {
    let (s, ns) = to_pair(at);
    format!("started {s}.{ns:09}")
}

/// The start time of a `started` line's content.
pub fn parse_started(content: &[u8]) -> Option<SystemTime> {
    let (s, ns) = parse_time(content.strip_prefix(b"started ")?)?;
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
    use crate::hash::facts::Facts;

    fn known() -> Known {
        Known {
            facts: Facts {
                size: 12,
                mtime: (1_700_000_000, 5),
                ctime: (-3, 999_999_999),
                ino: 42,
                dev: 2049,
                fs: 0x8000_0000_0000_0801,
                meta: crate::hash::facts::Meta::default(),
            },
            hash: blake3::hash(b"x").into(),
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
            let (text, written) = split_record(&line[..line.len() - 1]).unwrap();
            let mut unescaped = Vec::new();
            assert!(unescape_name(written, &mut unescaped));
            assert_eq!(unescaped, name);
            assert_eq!(Known::parse_text(text), Some(known()));
        }
    }

    #[test]
    fn an_edited_or_torn_line_fails_its_checksum() {
        let mut line = Vec::new();
        seal(b"started 5.000000000", &mut line);
        let line = &line[..line.len() - 1];
        assert!(open(line).is_some());
        let mut edited = line.to_vec();
        edited[9] ^= 1;
        assert!(open(&edited).is_none());
        assert!(open(&line[..line.len() - 3]).is_none());
        assert!(open(b"").is_none());
        // A block: any change to its records, or a wrong count, breaks the seal.
        let mut block = Vec::new();
        record(b"a", &known(), &mut block);
        record(b"b", &known(), &mut block);
        let mut sum = Vec::new();
        block_sum(&block, 2, &mut sum);
        let sum = &sum[..sum.len() - 1];
        assert!(block_sealed(sum, &block, 2));
        assert!(!block_sealed(sum, &block, 1));
        block[3] ^= 1;
        assert!(!block_sealed(sum, &block, 2));
    }

    #[test]
    fn times_and_end_lines_parse_strictly() {
        assert_eq!(parse_time(b"5.000000001"), Some((5, 1)));
        assert_eq!(parse_time(b"-5.5"), None, "nine digits");
        assert_eq!(parse_time(b"5.1000000000"), None);
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        assert_eq!(parse_started(started(at).as_bytes()), Some(at));
        let h = blake3::hash(b"m");
        assert_eq!(parse_end(end(7, &h).as_bytes()), Some((7, h)));
        assert_eq!(parse_end(b"end x y"), None);
    }
}
