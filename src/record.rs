//! The `--json` records, one typed struct or variant per record: the one definition of what
//! JSON Lines output carries, fields serialised in the order they are declared (docs/guide.md,
//! "Usage", documents them). Nothing builds a record by key.

use std::borrow::Cow;

use serde::Serialize;

/// A name as JSON: `path` (a string; lossy only if the bytes are not UTF-8) and, in that
/// case only, `path_bytes`: the exact bytes as lowercase hex.
#[derive(Debug, Serialize)]
pub struct Path<'a> {
    pub path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
}

impl<'a> Path<'a> {
    pub fn of(name: &'a [u8]) -> Self {
        match std::str::from_utf8(name) {
            Ok(s) => Path {
                path: Cow::Borrowed(s),
                path_bytes: None,
            },
            Err(_) => Path {
                path: String::from_utf8_lossy(name),
                path_bytes: Some(hex(name)),
            },
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One entry of `hash --json`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum HashRecord<'a> {
    File {
        #[serde(flatten)]
        name: Path<'a>,
        hash: String,
        size: u64,
        /// `--format mtree --json`: the permission bits, in octal.
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        /// `--update` only: the digest was reused from the state (true) or read.
        #[serde(skip_serializing_if = "Option::is_none")]
        reused: Option<bool>,
    },
    Error {
        #[serde(flatten)]
        name: Path<'a>,
        error: &'static str,
        message: String,
    },
    Skipped {
        #[serde(flatten)]
        name: Path<'a>,
        kind: &'static str,
    },
    /// `--format mtree --json`: an entry that is not a regular file.
    Entry {
        #[serde(flatten)]
        name: Path<'a>,
        /// mtree's `type=` word: `dir`, `link`, `fifo`…
        kind: &'static str,
        mode: String,
        /// A link's target (lossy if not UTF-8; then `link_bytes` too, as `path_bytes`).
        #[serde(skip_serializing_if = "Option::is_none")]
        link: Option<Cow<'a, str>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        link_bytes: Option<String>,
    },
}

/// The closing record of `hash --json`.
#[derive(Debug, Serialize)]
pub struct HashSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub files: u64,
    pub bytes: u64,
    pub errors: u64,
    pub skipped: u64,
    /// `skipped` by kind (`{"symlink": 2, "fifo": 1}`); absent when nothing was skipped.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped_kinds: std::collections::BTreeMap<&'static str, u64>,
    /// `--format mtree`: entries recorded that are not regular files; absent otherwise.
    #[serde(skip_serializing_if = "is_zero")]
    pub described: u64,
    pub excluded: u64,
    pub other_shards: u64,
    pub hard_links: HardLinks,
    pub elapsed_secs: f64,
    pub interrupted: bool,
    /// `--digest`: the tree digest, when the run has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(flatten)]
    pub update: Option<UpdateCounts>,
}

/// Hard links read once: names of inodes read under one name and given to others (the name
/// read counts too), and those inodes. Zero when no inode was shared.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct HardLinks {
    pub names: u64,
    pub inodes: u64,
}

/// What `hash --update` reused and read (files and bytes).
#[derive(Debug, Serialize)]
pub struct UpdateCounts {
    pub reused: u64,
    pub reused_bytes: u64,
    pub read: u64,
    pub read_bytes: u64,
}

/// Where a failed file differs from what its outboard says (`check --json`).
#[derive(Debug, Serialize)]
pub struct Damage {
    /// Byte ranges, first and last byte (inclusive), in order.
    pub ranges: Vec<[u64; 2]>,
    /// Ranges beyond those listed (a file damaged everywhere lists the first 1,000).
    #[serde(skip_serializing_if = "is_zero")]
    pub ranges_more: u64,
    /// Groups that differ, and the file's groups.
    pub damaged_groups: u64,
    pub groups: u64,
}

/// One record of `check --json`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CheckRecord<'a> {
    /// A manifest entry's verdict.
    Entry {
        #[serde(flatten)]
        name: Path<'a>,
        status: &'static str,
        /// `MANIFEST:LINE`.
        at: String,
        expected: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        actual: Option<String>,
        /// How a mismatch came about, when the state beside the manifest says.
        #[serde(skip_serializing_if = "Option::is_none")]
        cause: Option<&'static str>,
        /// A tree spec's entry: each way the file differs from it.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        differences: Vec<String>,
        /// A failed file's damage, as the outboard beside the manifest locates it.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        damage: Option<Damage>,
        /// What the outboard could not tell: `unmatched` (its data is not of this entry),
        /// `size_differs`, `undamaged` (every group matched on a second read).
        #[serde(skip_serializing_if = "Option::is_none")]
        outboard: Option<&'static str>,
    },
    /// `--audit`: a listed file's content found under another name.
    Moved {
        #[serde(flatten)]
        name: Path<'a>,
        from: Cow<'a, str>,
        /// Like `path_bytes`: the exact old name when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        from_bytes: Option<String>,
        hash: String,
    },
    /// `--audit`: a file no manifest lists.
    New {
        #[serde(flatten)]
        name: Path<'a>,
        hash: String,
    },
    Malformed {
        at: String,
        reason: String,
    },
    TooLong {
        at: String,
    },
}

impl<'a> CheckRecord<'a> {
    /// The MOVED record of `name`, whose content was listed as `from`.
    pub fn moved(name: &'a [u8], from: &'a [u8], hash: String) -> Self {
        let from = Path::of(from);
        CheckRecord::Moved {
            name: Path::of(name),
            from: from.path,
            from_bytes: from.path_bytes,
            hash,
        }
    }
}

/// The closing record of `check --json`.
#[derive(Debug, Default, Serialize)]
pub struct CheckSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ok: u64,
    pub failed: u64,
    pub corrupted: u64,
    pub missing: u64,
    pub unreadable: u64,
    pub outside: u64,
    pub malformed: u64,
    pub duplicates: u64,
    pub too_long: u64,
    pub new: u64,
    pub moved: u64,
    pub excluded: u64,
    pub ignored_missing: u64,
    /// `--audit`: what it saw and did not hash, by kind (`{"symlink": 2}`); absent when none.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub not_audited: std::collections::BTreeMap<&'static str, u64>,
    /// `--shard`: entries left to the other shards (absent without it).
    #[serde(skip_serializing_if = "is_zero")]
    pub other_shards: u64,
    /// Who signed each manifest (`--allowed-signers`, `--minisign-key`); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SignatureRecord>,
    /// Rotating verification (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    pub hard_links: HardLinks,
    pub passed: bool,
    pub interrupted: bool,
}

/// Rotating verification's coverage (`check --subset`, `--max-duration`) in the summary:
/// the entries it chooses among, those that reached a verdict in this run, those not
/// checked in it, those never verified OK (after it), and when the least recently verified
/// one was (Unix seconds).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub entries: u64,
    pub checked: u64,
    pub not_checked: u64,
    pub never_checked: u64,
    pub oldest_check: Option<i64>,
    pub budget_spent: bool,
}

/// A manifest's verified signature, in `check --json`'s summary.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureRecord {
    pub manifest: String,
    /// `ssh` or `minisign`.
    pub scheme: &'static str,
    /// SSH: the identity the allowed-signers file lists the key for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// `ssh-ed25519 SHA256:…`, or the minisign key ID.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// SSH: `FILE:LINE` of the allowed-signers line that admitted the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
    /// minisign: the signed trusted comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_comment: Option<String>,
}

/// One difference of `diff --json`: `added`, `removed`, `modified`, `renamed` or
/// `type_changed`, the name (a rename's new name; `from` holds its old one), what each side
/// said of it (`hash`, or a spec entry's keywords as written), and for specs what changed.
#[derive(Debug, Serialize)]
pub struct DiffRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub name: Path<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Path<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// The closing record of `diff --json`: entries read on each side, differences by kind.
#[derive(Debug, Default, Serialize)]
pub struct DiffSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub old_entries: u64,
    pub new_entries: u64,
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub renamed: u64,
    pub type_changed: u64,
    pub identical: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One JSON Lines line of `record`.
pub fn line(record: &impl Serialize) -> Vec<u8> {
    let mut line = Vec::with_capacity(128);
    // Writing into a Vec fails only if the record cannot be serialised: then the line is
    // empty, as before.
    if to_writer(&mut line, record).is_err() {
        line.clear();
    }
    line.push(b'\n');
    line
}

/// Writes `record` as one JSON text, made inert for terminals and CI logs: the same JSON
/// value, but characters that could drive a terminal (C1 controls, bidirectional
/// overrides) and the `#` that starts a `##[` (an old-style workflow command, read anywhere
/// in a log line) are written as `\uXXXX` escapes inside their strings. (A `::` command
/// must start a line, and a JSON line starts with `{`.)
pub fn to_writer<W: std::io::Write>(out: W, record: &impl Serialize) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Inert);
    record.serialize(&mut ser)
}

/// serde_json's compact form, with [`to_writer`]'s escapes.
struct Inert;

impl serde_json::ser::Formatter for Inert {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        use crate::names::escape::{Escaping, needs_hex, opens_old_command};
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_hex(c, Escaping::Terminal) || opens_old_command(&fragment.as_bytes()[i..]) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // Every such character is in the Basic Multilingual Plane: one escape.
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_cannot_drive_a_terminal_or_a_ci_log() {
        let name = "a ##[add-mask]b \u{9b}2J \u{202e}x \u{1b}";
        let r = HashRecord::File {
            name: Path::of(name.as_bytes()),
            hash: "00".into(),
            size: 3,
            reused: None,
            mode: None,
        };
        let text = String::from_utf8(line(&r)).unwrap();
        assert!(
            text.contains(r"a \u0023#[add-mask]b \u009b2J \u202ex \u001b"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["path"], name);
    }

    #[test]
    fn fields_come_in_declared_order_and_bytes_only_when_needed() {
        let r = HashRecord::File {
            name: Path::of(b"a b"),
            hash: "00".into(),
            size: 3,
            mode: None,
            reused: None,
        };
        assert_eq!(
            String::from_utf8(line(&r)).unwrap(),
            "{\"type\":\"file\",\"path\":\"a b\",\"hash\":\"00\",\"size\":3}\n"
        );
        let r = CheckRecord::moved(b"new", b"o\xffld", "11".into());
        assert_eq!(
            String::from_utf8(line(&r)).unwrap(),
            "{\"type\":\"moved\",\"path\":\"new\",\"from\":\"o\u{fffd}ld\",\"from_bytes\":\"6fff6c64\",\"hash\":\"11\"}\n"
        );
        let r = CheckRecord::TooLong { at: "m:1".into() };
        assert_eq!(
            String::from_utf8(line(&r)).unwrap(),
            "{\"type\":\"too_long\",\"at\":\"m:1\"}\n"
        );
    }
}
