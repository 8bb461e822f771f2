//! Two spec entries of one name compared: the type first (when it changed, nothing else is
//! compared: a mode of another kind of file says nothing), then mode, link target, size,
//! owner and device where both entries state them, each worded as `check` words a
//! difference (`mode 0755 → 0644`, `link: v1 → v2`); then the content, by the digests both
//! hold of the three b3tree knows. A file whose content cannot be compared that way is not
//! called unchanged: the caller refuses the pair (unless only names are compared).

use crate::hash::algo::Algo;
use crate::hash::outcome::FileKind;
use crate::manifest::mtree::difference::Difference;
use crate::manifest::mtree::read::SpecEntry;
use crate::manifest::mtree::values::{claims_content, device, shown, well_formed};
use crate::manifest::mtree::write::digest_keyword;
use crate::names::vis;

/// How two entries of one name differ.
#[derive(Debug, PartialEq, Eq)]
pub enum SpecChange {
    Same,
    /// The type changed (`type: file → dir`).
    Type(String),
    /// The same type, these keywords changed (`content` for the digests).
    Changed(Vec<String>),
}

/// Files whose entries share no digest b3tree knows: the digest keywords of each.
#[derive(Debug, PartialEq, Eq)]
pub struct NoCommonDigest {
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// The keywords compared besides type and content, in this order.
const KEYS: [&str; 8] = [
    "mode", "link", "size", "uid", "gid", "uname", "gname", "device",
];

/// Compares `old` with `new`, two entries of one name.
pub fn compare(old: &SpecEntry, new: &SpecEntry) -> Result<SpecChange, NoCommonDigest> {
    let (old_type, new_type) = (old.claimed_type(), new.claimed_type());
    if old_type != new_type {
        let stated = |t: Option<&str>| t.map_or("(not stated)".to_string(), shown);
        return Ok(SpecChange::Type(format!(
            "type: {} → {}",
            stated(old_type),
            stated(new_type)
        )));
    }
    let kind = old_type.and_then(FileKind::parse);
    let mut words: Vec<String> = KEYS
        .iter()
        .filter_map(|&key| match (old.get(key), new.get(key)) {
            (Some(o), Some(n)) => keyword(key, o, n),
            // What makes a link or a device what it is must be stated on both sides.
            (o, n) if defines(key, kind) => Some(format!(
                "{key} {} → {}",
                o.map_or("(not stated)".to_string(), shown),
                n.map_or("(not stated)".to_string(), shown)
            )),
            _ => None,
        })
        .collect();
    if kind == Some(FileKind::File) && !same_content(old, new)? {
        words.push("content".into());
    }
    Ok(match words.is_empty() {
        true => SpecChange::Same,
        false => SpecChange::Changed(words),
    })
}

/// Whether `key` is what an entry of `kind` stands for: a link's target, a device's numbers.
fn defines(key: &str, kind: Option<FileKind>) -> bool {
    matches!(
        (key, kind),
        ("link", Some(FileKind::Link)) | ("device", Some(FileKind::Char | FileKind::Block))
    )
}

/// A digest keyword's name with its alias folded in (`sha256digest` is `sha256`).
fn digest_name(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    key.strip_suffix("digest")
        .map_or(key.clone(), str::to_string)
}

/// Whether the content both entries describe is the same: every digest or checksum both
/// state agrees (a differing one of any algorithm, or one that cannot be read on one side
/// only, is a change), and at least one of them is of the three b3tree knows (two equal MD5
/// sums do not make two files equal). None in common is an error.
fn same_content(old: &SpecEntry, new: &SpecEntry) -> Result<bool, NoCommonDigest> {
    let mut same = true;
    for (key, value) in old.pairs().filter(|(k, _)| claims_content(k)) {
        let name = digest_name(key);
        let other = new
            .pairs()
            .rev()
            .find(|(k, _)| claims_content(k) && digest_name(k) == name);
        if let Some((_, theirs)) = other {
            same &= value.eq_ignore_ascii_case(theirs);
        }
    }
    let mut strong = 0;
    for algo in [Algo::Blake3, Algo::Sha512, Algo::Sha256] {
        let key = digest_keyword(algo);
        let o = old.get(key).filter(|hex| well_formed(algo, hex));
        let n = new.get(key).filter(|hex| well_formed(algo, hex));
        strong += usize::from(o.is_some() && n.is_some());
    }
    if strong == 0 && same {
        let claims = |e: &SpecEntry| -> Vec<String> {
            e.pairs()
                .filter(|(k, _)| claims_content(k))
                .map(|(k, _)| shown(k))
                .collect()
        };
        return Err(NoCommonDigest {
            old: claims(old),
            new: claims(new),
        });
    }
    Ok(same)
}

/// The wording of `key` changed from `old` to `new`; None when it did not. Link targets and
/// owner names are written in mtree's encoding (a space is `\040`): a value cannot pose as
/// another change in the words.
fn keyword(key: &'static str, old: &str, new: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let mode = |v: &str| u32::from_str_radix(v, 8).ok().filter(|m| *m <= 0o7777);
    let number = |v: &str| v.parse::<u64>().ok();
    let id = |v: &str| v.parse::<u32>().ok();
    let decoded = |v: &str| vis::decode(v.as_bytes()).ok();
    let words = |o: &[u8], n: &[u8], sep: &str| {
        (o != n).then(|| format!("{key}{sep}{} → {}", vis::encode(o), vis::encode(n)))
    };
    let worded = match key {
        "mode" => both(mode(old), mode(new))
            .map(|(o, n)| (o != n).then(|| Difference::Mode { spec: o, found: n }.to_string())),
        "size" => both(number(old), number(new))
            .map(|(o, n)| (o != n).then(|| Difference::Size { spec: o, found: n }.to_string())),
        "uid" => both(id(old), id(new))
            .map(|(o, n)| (o != n).then(|| Difference::Uid { spec: o, found: n }.to_string())),
        "gid" => both(id(old), id(new))
            .map(|(o, n)| (o != n).then(|| Difference::Gid { spec: o, found: n }.to_string())),
        "device" => both(device(old), device(new))
            .map(|(o, n)| (o != n).then(|| Difference::Device { spec: o, found: n }.to_string())),
        "link" => both(decoded(old), decoded(new)).map(|(o, n)| words(&o, &n, ": ")),
        _ => both(decoded(old), decoded(new)).map(|(o, n)| words(&o, &n, " ")),
    };
    // A value one side cannot read: compared as written.
    worded.unwrap_or_else(|| Some(format!("{key} {} → {}", shown(old), shown(new))))
}

fn both<T>(a: Option<T>, b: Option<T>) -> Option<(T, T)> {
    Some((a?, b?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pairs: &[(&str, &str)]) -> SpecEntry {
        SpecEntry::new(b"a".to_vec(), 1, pairs)
    }

    const D1: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    const D2: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn keywords_are_worded_as_check_words_them() {
        let old = entry(&[("type", "file"), ("mode", "0755"), ("sha256digest", D1)]);
        let new = entry(&[("type", "file"), ("mode", "644"), ("sha256", D1)]);
        assert_eq!(
            compare(&old, &new),
            Ok(SpecChange::Changed(vec!["mode 0755 → 0644".into()]))
        );
        let link = |t: &str| entry(&[("type", "link"), ("link", t)]);
        assert_eq!(
            compare(&link("v1"), &link("v2")),
            Ok(SpecChange::Changed(vec!["link: v1 → v2".into()]))
        );
        assert_eq!(
            compare(&link("a\\040b"), &link("a\\040b")),
            Ok(SpecChange::Same)
        );
    }

    #[test]
    fn a_type_change_is_all_that_is_said() {
        let old = entry(&[("type", "file"), ("mode", "0644"), ("sha256digest", D1)]);
        let new = entry(&[("type", "dir"), ("mode", "0755")]);
        assert_eq!(
            compare(&old, &new),
            Ok(SpecChange::Type("type: file → dir".into()))
        );
    }

    #[test]
    fn content_is_compared_by_a_digest_both_hold_and_never_assumed() {
        let file = |pairs: &[(&str, &str)]| entry(&[&[("type", "file")], pairs].concat());
        assert_eq!(
            compare(
                &file(&[("sha256digest", D1)]),
                &file(&[("sha256digest", D2)])
            ),
            Ok(SpecChange::Changed(vec!["content".into()]))
        );
        assert_eq!(
            compare(
                &file(&[("sha256digest", &D1.to_uppercase())]),
                &file(&[("sha256digest", D1), ("md5digest", "00")])
            ),
            Ok(SpecChange::Same)
        );
        let none = compare(
            &file(&[("md5digest", "00")]),
            &file(&[("blake3digest", D1)]),
        );
        assert_eq!(
            none,
            Err(NoCommonDigest {
                old: vec!["md5digest".into()],
                new: vec!["blake3digest".into()]
            })
        );
        assert!(compare(&file(&[("size", "1")]), &file(&[("size", "1")])).is_err());
        // bsdtar writes no type= for a file with a digest.
        assert_eq!(
            compare(&entry(&[("sha256", D1)]), &file(&[("sha256digest", D2)])),
            Ok(SpecChange::Changed(vec!["content".into()]))
        );
    }

    #[test]
    fn a_digest_that_differs_or_cannot_be_read_on_one_side_is_a_change() {
        let file = |pairs: &[(&str, &str)]| entry(&[&[("type", "file")], pairs].concat());
        let changed = Ok(SpecChange::Changed(vec!["content".into()]));
        let both = |b3: &str| file(&[("sha256digest", D1), ("blake3digest", b3)]);
        assert_eq!(compare(&both(D2), &both("zz")), changed);
        assert_eq!(compare(&both(D2), &both(&format!("{D2}00"))), changed);
        assert_eq!(
            compare(
                &file(&[("sha256", D1), ("md5", "aa")]),
                &file(&[("sha256digest", D1), ("md5digest", "bb")])
            ),
            changed,
            "a weak sum that differs proves a change"
        );
    }

    #[test]
    fn what_makes_a_link_or_a_type_must_be_stated_on_both_sides() {
        let link = entry(&[("type", "link"), ("link", "t1")]);
        let bare = entry(&[("type", "link")]);
        assert_eq!(
            compare(&link, &bare),
            Ok(SpecChange::Changed(vec!["link t1 → (not stated)".into()]))
        );
        assert_eq!(
            compare(&entry(&[("mode", "0644")]), &entry(&[("type", "dir")])),
            Ok(SpecChange::Type("type: (not stated) → dir".into()))
        );
        // Other keywords stated on one side only are not compared (bsdtar's uid).
        assert_eq!(
            compare(
                &entry(&[("type", "dir"), ("uid", "0")]),
                &entry(&[("type", "dir")])
            ),
            Ok(SpecChange::Same)
        );
    }

    #[test]
    fn a_value_cannot_pose_as_another_change() {
        let link = |t: &str| entry(&[("type", "link"), ("link", t)]);
        assert_eq!(
            compare(&link("t"), &link("t\\040→\\040t;\\040mode\\0400755")),
            Ok(SpecChange::Changed(vec![
                "link: t → t\\040\\342\\206\\222\\040t;\\040mode\\0400755".into()
            ]))
        );
    }

    #[test]
    fn unreadable_values_are_compared_as_written() {
        let old = entry(&[("type", "dir"), ("mode", "u+rw")]);
        let new = entry(&[("type", "dir"), ("mode", "0755")]);
        assert_eq!(
            compare(&old, &new),
            Ok(SpecChange::Changed(vec!["mode u+rw → 0755".into()]))
        );
    }
}
