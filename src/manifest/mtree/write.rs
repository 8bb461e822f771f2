//! Writing a tree spec in the mtree format (`hash --format mtree`): the `#mtree` first line
//! (as bsdtar writes it, and what `check` recognises), then one line per entry with its full
//! relative path (`./dir/name`, the root itself `.`), in the walk's canonical order, so that
//! NetBSD's `mtree -f SPEC -p DIR`, bsdtar and b3tree read it alike.
//!
//! Every entry carries `type` and `mode`; a file its `size` and digest; a link its target as
//! stored (`link=`, encoded as names are). The digest keyword is the one other tools know
//! for SHA-2 (`sha256digest`, `sha512digest`); for BLAKE3 it is `blake3digest`, which only
//! b3tree reads. Owner, link count and time are written only when asked (`--keywords`):
//! a checkout or a copy changes them while the tree stays the same.

use crate::hash::algo::{Algo, Digest};
use crate::hash::facts::{Facts, Meta};
use crate::hash::outcome::{FileKind, Outcome};
use crate::names::vis;
use crate::sys::owners::Owners;

/// The first line of a spec b3tree writes.
pub const HEADER: &[u8] = b"#mtree\n";

/// The optional keywords a spec carries (`--keywords`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keywords {
    pub uid: bool,
    pub gid: bool,
    pub uname: bool,
    pub gname: bool,
    pub time: bool,
    pub nlink: bool,
}

impl Keywords {
    /// The names `--keywords` takes.
    pub const NAMES: [&'static str; 6] = ["uid", "gid", "uname", "gname", "time", "nlink"];

    /// `uid,gid,time`: each name one of [`Self::NAMES`].
    pub fn parse(list: &str) -> Result<Keywords, String> {
        let mut k = Keywords::default();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "uid" => k.uid = true,
                "gid" => k.gid = true,
                "uname" => k.uname = true,
                "gname" => k.gname = true,
                "time" => k.time = true,
                "nlink" => k.nlink = true,
                other => {
                    return Err(format!(
                        "--keywords: {other:?} is not one of {}",
                        Keywords::NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(k)
    }
}

/// The digest keyword for `algo`.
pub fn digest_keyword(algo: Algo) -> &'static str {
    match algo {
        Algo::Blake3 => "blake3digest",
        Algo::Sha256 => "sha256digest",
        Algo::Sha512 => "sha512digest",
    }
}

/// Appends the spec line of one entry to `line`; false (nothing appended) for an outcome a
/// spec does not hold (an error or a skip: those go to stderr and the summary).
pub fn spec_line(
    line: &mut Vec<u8>,
    entry: (&[u8], &Outcome, Option<&Facts>),
    algo: Algo,
    keywords: Keywords,
    owners: &mut Owners,
) -> bool {
    let (name, outcome, facts) = entry;
    let (kind, digest, link): (FileKind, Option<&Digest>, Option<&[u8]>) = match outcome {
        Outcome::Hashed { hash, .. } => (FileKind::File, Some(hash), None),
        Outcome::Described { kind, link } => (*kind, None, link.as_deref()),
        Outcome::Failed(_) | Outcome::Skipped(_) => return false,
    };
    push_path(line, name);
    line.extend_from_slice(b" type=");
    line.extend_from_slice(kind.name().as_bytes());
    let meta = facts.map(|f| f.meta);
    if let Some(m) = meta {
        line.extend_from_slice(format!(" mode={:04o}", m.mode & 0o7777).as_bytes());
    }
    if let (Some(f), FileKind::File) = (facts, kind) {
        line.extend_from_slice(format!(" size={}", f.size).as_bytes());
    }
    if let (Some(m), FileKind::Char | FileKind::Block) = (meta, kind) {
        // As bsdtar writes it (NetBSD's mtree reads this form too).
        let (major, minor) = (rustix::fs::major(m.rdev), rustix::fs::minor(m.rdev));
        line.extend_from_slice(format!(" device=native,{major},{minor}").as_bytes());
    }
    if let Some(target) = link {
        line.extend_from_slice(b" link=");
        line.extend_from_slice(vis::encode(target).as_bytes());
    }
    push_optional(line, facts, meta, keywords, owners);
    if let Some(hash) = digest {
        line.push(b' ');
        line.extend_from_slice(digest_keyword(algo).as_bytes());
        line.push(b'=');
        hash.push_hex(line);
    }
    line.push(b'\n');
    true
}

/// `.` for the root, `./name` for the rest, encoded.
fn push_path(line: &mut Vec<u8>, name: &[u8]) {
    if name == b"." {
        line.push(b'.');
    } else {
        line.extend_from_slice(b"./");
        line.extend_from_slice(vis::encode(name).as_bytes());
    }
}

/// The keywords of `--keywords`; a name an id does not have here is left out (as bsdtar
/// does), never made up.
fn push_optional(
    line: &mut Vec<u8>,
    facts: Option<&Facts>,
    meta: Option<Meta>,
    k: Keywords,
    owners: &mut Owners,
) {
    let (Some(f), Some(m)) = (facts, meta) else {
        return;
    };
    let mut text = String::new();
    if k.uid {
        text.push_str(&format!(" uid={}", m.uid));
    }
    if k.gid {
        text.push_str(&format!(" gid={}", m.gid));
    }
    if let Some(name) = k.uname.then(|| owners.user(m.uid)).flatten() {
        text.push_str(&format!(" uname={}", vis::encode(name)));
    }
    if let Some(name) = k.gname.then(|| owners.group(m.gid)).flatten() {
        text.push_str(&format!(" gname={}", vis::encode(name)));
    }
    if k.nlink {
        text.push_str(&format!(" nlink={}", m.nlink));
    }
    if k.time {
        text.push_str(&format!(" time={}.{:09}", f.mtime.0, f.mtime.1));
    }
    line.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::mtree::read::SpecReader;

    fn facts(mode: u32, size: u64) -> Facts {
        Facts {
            size,
            mtime: (1_700_000_000, 5),
            ctime: (1_700_000_000, 5),
            ino: 1,
            dev: 1,
            fs: 1,
            meta: Meta {
                mode,
                uid: 1000,
                gid: 100,
                nlink: 2,
                rdev: 0,
            },
        }
    }

    #[test]
    fn lines_read_back_with_every_keyword() {
        let mut out = HEADER.to_vec();
        let dir = Outcome::Described {
            kind: FileKind::Dir,
            link: None,
        };
        let owners = &mut Owners::default();
        assert!(spec_line(
            &mut out,
            (b".", &dir, Some(&facts(0o40755, 4096))),
            Algo::Sha256,
            Keywords::default(),
            owners,
        ));
        let hash = Digest::from_hex(&[b'a'; 64]).unwrap();
        let file = Outcome::Hashed { hash, size: 3 };
        let all = Keywords::parse("uid,gid,time,nlink").unwrap();
        spec_line(
            &mut out,
            (b"sp ace#*", &file, Some(&facts(0o100755, 3))),
            Algo::Sha256,
            all,
            owners,
        );
        let link = Outcome::Described {
            kind: FileKind::Link,
            link: Some(b"v1/a b".to_vec().into()),
        };
        spec_line(
            &mut out,
            (b"l", &link, Some(&facts(0o120777, 6))),
            Algo::Blake3,
            Keywords::default(),
            owners,
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "#mtree\n. type=dir mode=0755\n./sp\\040ace\\043\\052 type=file mode=0755 \
                 size=3 uid=1000 gid=100 nlink=2 time=1700000000.000000005 \
                 sha256digest={}\n./l type=link mode=0777 link=v1/a\\040b\n",
                "a".repeat(64)
            )
        );
        let mut r = SpecReader::new(out.as_slice());
        let mut names = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            names.push(e.path.clone());
        }
        assert_eq!(names, [b".".to_vec(), b"sp ace#*".to_vec(), b"l".to_vec()]);
        let skipped = Outcome::Skipped(crate::hash::outcome::SkipKind::OwnOutput);
        assert!(!spec_line(
            &mut out,
            (b"x", &skipped, None),
            Algo::Blake3,
            all,
            owners
        ));
        assert!(
            Keywords::parse("uid,flags")
                .unwrap_err()
                .contains("\"flags\"")
        );
    }
}
