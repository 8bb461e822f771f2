//! What the keywords of an mtree spec entry claim about a file, compared with what the file
//! is: type, link target, mode, owner, size, time, link count — each difference named the
//! way `check` reports it (`mode 0755 → 0644`, `type: link → file`, `link: v1 → v2`). The
//! digest keywords are handed back for the hashing pipeline; keywords b3tree does not know
//! (`flags`, `uname`, `md5digest`…) are counted, never silently taken as verified.

use crate::hash::algo::Algo;
pub use crate::manifest::mtree::difference::Difference;
use crate::manifest::mtree::read::SpecEntry;
pub use crate::manifest::mtree::values::shown;
use crate::manifest::mtree::values::{device, digest_algo, time, well_formed};
use crate::names::vis;

pub use crate::hash::outcome::FileKind as Kind;

/// What the file is (from `lstat`, and `readlink` for a link), never followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub kind: Kind,
    /// Permission bits and set-id/sticky bits (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, u32),
    pub nlink: u64,
    /// The device a character or block special file stands for (`st_rdev`).
    pub rdev: u64,
    /// A link's target, as stored.
    pub link: Option<Vec<u8>>,
    /// The names of the owner and group (looked up only for entries with `uname` or
    /// `gname`; None: the id has no name here).
    pub uname: Option<Vec<u8>>,
    pub gname: Option<Vec<u8>>,
}

/// An entry compared with its file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Compared<'a> {
    pub differences: Vec<Difference>,
    /// Keywords b3tree does not verify (counted once per run by the caller).
    pub unknown: Vec<&'a str>,
}

/// The digest of `entry` a check verifies: `only`'s (`--algo`), else the strongest it holds
/// that b3tree knows (BLAKE3, then SHA-512, then SHA-256), as (algorithm, lowercase hex).
/// The others describe the same bytes: one digest read is the content verified.
pub fn chosen_digest(entry: &SpecEntry, only: Option<Algo>) -> Option<(Algo, String)> {
    let order = [Algo::Blake3, Algo::Sha512, Algo::Sha256];
    order
        .into_iter()
        .filter(|a| only.is_none_or(|o| o == *a))
        .find_map(|algo| {
            let key = crate::manifest::mtree::write::digest_keyword(algo);
            let hex = entry.get(key).filter(|hex| well_formed(algo, hex))?;
            Some((algo, hex.to_ascii_lowercase()))
        })
}

/// Compares `entry` with `seen`. When the types differ, nothing else is compared (a mode or
/// size of another kind of file says nothing). An entry without `type=` that holds a digest
/// (bsdtar writes such entries) describes a regular file: a digest is a claim on content.
pub fn compare<'a>(entry: &'a SpecEntry, seen: &Observed) -> Compared<'a> {
    let mut out = Compared::default();
    if let Some(spec) = entry.claimed_type() {
        if Kind::parse(spec) != Some(seen.kind) {
            out.differences.push(Difference::Type {
                spec: spec.to_string(),
                found: seen.kind,
            });
            return out;
        }
    }
    for (key, value) in entry.pairs() {
        // Digests are verified by reading the content (chosen_digest), here only their form.
        if let Some(algo) = digest_algo(key) {
            if !well_formed(algo, value) {
                out.differences.push(Difference::Unreadable {
                    key: key.to_string(),
                    value: value.to_string(),
                });
            }
            continue;
        }
        match keyword(key, value, seen) {
            Some(Ok(())) => {}
            Some(Err(d)) => out.differences.push(d),
            None => out.unknown.push(key),
        }
    }
    out
}

/// `uname` (else `gname`) against the name of the file's owner (group): Err(None) when the
/// value cannot be decoded.
fn owner(user: bool, value: &str, seen: &Observed) -> Result<(), Option<Difference>> {
    let (key, found) = match user {
        true => ("uname", &seen.uname),
        false => ("gname", &seen.gname),
    };
    match vis::decode(value.as_bytes()) {
        Err(_) => Err(None),
        Ok(spec) if found.as_deref() == Some(spec.as_slice()) => Ok(()),
        Ok(spec) => Err(Some(Difference::Owner {
            key,
            spec,
            found: found.clone(),
        })),
    }
}

/// One keyword against the file: Some(Ok) when it holds, Some(Err) when not, None for a
/// keyword b3tree does not verify.
fn keyword(key: &str, value: &str, seen: &Observed) -> Option<Result<(), Difference>> {
    let unreadable = || Difference::Unreadable {
        key: key.to_string(),
        value: value.to_string(),
    };
    let number = |v: &str| v.parse::<u64>().map_err(|_| unreadable());
    // An id beyond 32 bits is no id (not one clamped to 4294967295).
    let id = |v: &str| v.parse::<u32>().map_err(|_| unreadable());
    let checked = match key {
        "type" => Ok(()),
        "link" => match vis::decode(value.as_bytes()) {
            Err(_) => Err(unreadable()),
            Ok(spec) => match &seen.link {
                Some(found) if *found == spec => Ok(()),
                found => Err(Difference::Link {
                    spec,
                    found: found.clone().unwrap_or_default(),
                }),
            },
        },
        // Permission, set-id and sticky bits only, as NetBSD's mtree reads them: a value
        // with other bits (`10644`, `77777`) is not a mode (it is not masked into one).
        "mode" => match u32::from_str_radix(value, 8) {
            Ok(spec) if spec > 0o7777 => Err(unreadable()),
            Ok(spec) if spec == seen.mode => Ok(()),
            Ok(spec) => Err(Difference::Mode {
                spec,
                found: seen.mode,
            }),
            Err(_) => Err(unreadable()),
        },
        "uid" => id(value).and_then(|spec| {
            (spec == seen.uid).then_some(()).ok_or(Difference::Uid {
                spec,
                found: seen.uid,
            })
        }),
        "gid" => id(value).and_then(|spec| {
            (spec == seen.gid).then_some(()).ok_or(Difference::Gid {
                spec,
                found: seen.gid,
            })
        }),
        "size" if seen.kind == Kind::File => number(value).and_then(|spec| {
            (spec == seen.size).then_some(()).ok_or(Difference::Size {
                spec,
                found: seen.size,
            })
        }),
        // A size of a directory or link is the filesystem's business, not the tree's.
        "size" => Ok(()),
        "nlink" => number(value).and_then(|spec| {
            (spec == seen.nlink).then_some(()).ok_or(Difference::Nlink {
                spec,
                found: seen.nlink,
            })
        }),
        "uname" | "gname" => {
            owner(key == "uname", value, seen).map_err(|e| e.unwrap_or_else(unreadable))
        }
        "device" => device(value).ok_or_else(unreadable).and_then(|spec| {
            (spec == seen.rdev).then_some(()).ok_or(Difference::Device {
                spec,
                found: seen.rdev,
            })
        }),
        "time" => time(value).ok_or_else(unreadable).and_then(|spec| {
            (spec == seen.mtime).then_some(()).ok_or(Difference::Time {
                spec: value.to_string(),
                found: seen.mtime,
            })
        }),
        _ => return None,
    };
    Some(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(keywords: &[(&str, &str)]) -> SpecEntry {
        SpecEntry::new(b"x".to_vec(), 1, keywords)
    }

    fn file() -> Observed {
        Observed {
            kind: Kind::File,
            mode: 0o644,
            uid: 1000,
            gid: 100,
            size: 12,
            mtime: (1_700_000_000, 500_000_000),
            nlink: 1,
            rdev: 0,
            link: None,
            uname: Some(b"me".to_vec()),
            gname: None,
        }
    }

    #[test]
    fn matching_keywords_pass_and_digests_are_left_to_the_content_check() {
        let e = entry(&[
            ("type", "file"),
            ("mode", "0644"),
            ("uid", "1000"),
            ("gid", "100"),
            ("size", "12"),
            ("time", "1700000000.500000000"),
            ("nlink", "1"),
            ("sha256", &"AB".repeat(32)),
            ("sha256digest", &"ab".repeat(32)),
            ("flags", "none"),
            ("uname", "me"),
        ]);
        let c = compare(&e, &file());
        assert!(c.differences.is_empty(), "{:?}", c.differences);
        assert_eq!(c.unknown, ["flags"]);
        assert_eq!(
            chosen_digest(&e, None),
            Some((Algo::Sha256, "ab".repeat(32)))
        );
        let alias_only = entry(&[("type", "file"), ("sha512", &"EF01".repeat(32))]);
        assert_eq!(
            chosen_digest(&alias_only, None),
            Some((Algo::Sha512, "ef01".repeat(32)))
        );
        // A digest that cannot be one (not hex, or of another length) is never read as the
        // file's: the entry fails on the spec's value, its content unread.
        for bad in ["zz".repeat(32), "ab".repeat(31), "ab".repeat(64)] {
            let e = entry(&[("type", "file"), ("sha256digest", &bad)]);
            assert_eq!(chosen_digest(&e, None), None);
            assert_eq!(
                differences(&[("sha256digest", &bad)], file()),
                [format!("sha256digest={bad}: not understood")]
            );
        }
        // An id beyond 32 bits is not understood, not clamped.
        assert_eq!(
            differences(&[("uid", "4294967296"), ("gid", "-1")], file()),
            ["uid=4294967296: not understood", "gid=-1: not understood"]
        );
    }

    fn differences(keywords: &[(&str, &str)], seen: Observed) -> Vec<String> {
        compare(&entry(keywords), &seen)
            .differences
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// A device node's numbers, in bsdtar's form and in NetBSD's (the raw number).
    #[test]
    fn device_numbers_in_every_form() {
        let null = Observed {
            kind: Kind::Char,
            rdev: rustix::fs::makedev(1, 3),
            ..file()
        };
        for same in ["native,1,3", "linux,1,3", "0x103", "259", "0403"] {
            assert_eq!(
                differences(&[("device", same)], null.clone()),
                Vec::<String>::new()
            );
        }
        assert_eq!(
            differences(&[("device", "native,1,5")], null.clone()),
            ["device 1,5 → 1,3"]
        );
        assert_eq!(
            differences(&[("device", "sunos,1,3")], null),
            ["device=sunos,1,3: not understood"]
        );
    }

    #[test]
    fn each_difference_is_named() {
        let said = |keywords: &[(&str, &str)], seen: Observed| -> Vec<String> {
            compare(&entry(keywords), &seen)
                .differences
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(said(&[("mode", "755")], file()), ["mode 0755 → 0644"]);
        assert_eq!(
            said(&[("size", "13"), ("uid", "0")], file()),
            ["size 13 → 12", "uid 0 → 1000"]
        );
        assert_eq!(
            said(&[("time", "1700000000.000000000")], file()),
            ["time 1700000000.000000000 → 1700000000.500000000"]
        );
        // bsdtar's nanoseconds without leading zeros are nanoseconds all the same.
        let early = Observed {
            mtime: (1_700_000_000, 94_201_125),
            ..file()
        };
        assert_eq!(
            said(&[("time", "1700000000.94201125")], early),
            Vec::<String>::new()
        );
        // A link retargeted, and a link that became a file (nothing else compared then).
        let link = Observed {
            kind: Kind::Link,
            link: Some(b"v2/app.js".to_vec()),
            ..file()
        };
        assert_eq!(
            said(&[("type", "link"), ("link", "v1/app.js")], link),
            ["link: v1/app.js → v2/app.js"]
        );
        assert_eq!(
            said(&[("type", "link"), ("mode", "777")], file()),
            ["type: link → file"]
        );
        assert_eq!(
            said(
                &[("link", r"sp\040ace")],
                Observed {
                    kind: Kind::Link,
                    link: Some(b"sp ace".to_vec()),
                    ..file()
                }
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            said(&[("uname", "root"), ("gname", "wheel")], file()),
            ["uname root → me", "gname wheel → an id with no name"]
        );
        assert_eq!(
            said(&[("mode", "u+rw")], file()),
            ["mode=u+rw: not understood"]
        );
        // A directory's size is not the tree's business.
        let dir = Observed {
            kind: Kind::Dir,
            size: 4096,
            ..file()
        };
        assert_eq!(
            said(&[("type", "dir"), ("size", "0")], dir),
            Vec::<String>::new()
        );
    }
}
