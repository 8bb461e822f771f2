//! One spec entry's verdict: its outcome compared keyword by keyword with the entry, its
//! content claim against the digest read, then counted, printed and given to CI.

use super::tally::Tally;
use crate::commands::check::missing::MissingSet;
use crate::commands::check::sink::Sink;
use crate::commands::check::verdict::{Problem, Verdict};
use crate::config::check::CheckSettings;
use crate::hash::algo::{Algo, Digest};
use crate::hash::file::SYMLINK_IN_PATH;
use crate::hash::outcome::{EntryError, ErrorKind, FileKind, Outcome};
use crate::manifest::mtree::keys::{Difference, Observed, chosen_digest, compare, shown};
use crate::manifest::mtree::read::SpecEntry;
use crate::manifest::mtree::values::{claims_content, digest_algo};
use crate::manifest::mtree::write::digest_keyword;
use crate::names::escape::display;
use crate::names::nameset::Location;
use crate::pipeline::job::Done;
use crate::record::{CheckRecord, Path};

/// What a spec entry's job carries: where it is, its keywords, the digest to compare.
pub(super) struct SpecItem {
    pub(super) at: Location,
    pub(super) entry: SpecEntry,
    pub(super) digest: Option<(Algo, String)>,
}

/// Decides, counts and prints one entry.
pub(super) fn settle<W: std::io::Write>(
    done: Done<SpecItem>,
    settings: &CheckSettings,
    tally: &mut Tally,
    sink: &mut Sink<'_, W>,
    held: &mut MissingSet,
) {
    let Done {
        name,
        outcome,
        facts,
        tag: item,
        ..
    } = done;
    let meta = facts.map(|f| f.meta).unwrap_or_default();
    let seen = |kind, link: Option<&[u8]>| Observed {
        kind,
        mode: meta.mode & 0o7777,
        uid: meta.uid,
        gid: meta.gid,
        size: facts.map_or(0, |f| f.size),
        mtime: facts.map_or((0, 0), |f| f.mtime),
        nlink: meta.nlink,
        rdev: meta.rdev,
        link: link.map(<[u8]>::to_vec),
        uname: None,
        gname: None,
    };
    let (observed, actual) = match &outcome {
        Outcome::Failed(e) if e.kind == ErrorKind::Cancelled => return,
        // A spec names what lies in directories: a link on the way is a difference.
        Outcome::Failed(e) if e.detail == SYMLINK_IN_PATH => {
            let why = "path: a symlink stands where the spec has a directory (not followed)";
            return verdict(sink, &name, &item, Verdict::Differs(vec![why.into()]), None);
        }
        Outcome::Failed(e) => return unverified(e, name, item, settings, sink, held),
        Outcome::Hashed { hash, .. } => (seen(FileKind::File, None), Some(hash.to_hex())),
        Outcome::Described { kind, link } => (seen(*kind, link.as_deref()), None),
        Outcome::Skipped(_) => {
            return verdict(
                sink,
                &name,
                &item,
                Verdict::Unverified(Problem::NotRegular),
                None,
            );
        }
    };
    let mut observed = observed;
    if item.entry.get("uname").is_some() {
        observed.uname = tally.owners.user(meta.uid).map(<[u8]>::to_vec);
    }
    if item.entry.get("gname").is_some() {
        observed.gname = tally.owners.group(meta.gid).map(<[u8]>::to_vec);
    }
    let differences = differences(&item, &observed, actual.as_deref(), (settings, tally));
    let v = if differences.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Differs(differences)
    };
    verdict(sink, &name, &item, v, actual);
}

/// Every way what stands at the entry's name differs from the entry: its keywords, then
/// its content claim (the digest read is `actual`); what was not compared is tallied.
fn differences(
    item: &SpecItem,
    observed: &Observed,
    actual: Option<&str>,
    (settings, tally): (&CheckSettings, &mut Tally),
) -> Vec<String> {
    let compared = compare(&item.entry, observed);
    tally.count_unknown(&compared.unknown);
    let mut differences: Vec<String> = compared.differences.iter().map(|d| d.to_string()).collect();
    // Another type of file has no content to compare (its type is the difference).
    let type_differs = (compared.differences.iter()).any(|d| matches!(d, Difference::Type { .. }));
    if type_differs {
        return differences;
    }
    match content(item, actual, only(settings)) {
        ContentVerdict::Same => {
            let chosen = item.digest.as_ref().map(|d| d.0);
            let others = (item.entry.pairs())
                .any(|(k, _)| digest_algo(k).is_some_and(|a| Some(a) != chosen));
            tally.other_digests += u64::from(others);
        }
        ContentVerdict::Unclaimed => {
            if observed.kind == FileKind::File && differences.is_empty() {
                tally.no_digest += 1;
            }
        }
        ContentVerdict::Not(why) => differences.push(why),
    }
    differences
}

/// What an entry's content claim comes to, once its other keywords hold.
enum ContentVerdict {
    /// The digest verified equals the entry's.
    Same,
    /// The entry claims no content (no digest, no checksum).
    Unclaimed,
    /// Not verified, or not equal: why.
    Not(String),
}

/// The entry's content claim against the digest read (`actual`, None when nothing was
/// read). An entry that claims content is never passed on anything less than its digest:
/// not when `--algo` names an algorithm it holds no digest of, not when it holds only
/// digests b3tree does not verify (`md5digest`), not when what stands there has no content.
fn content(item: &SpecItem, actual: Option<&str>, only: Option<Algo>) -> ContentVerdict {
    if let Some((algo, want)) = &item.digest {
        let keyword = digest_keyword(*algo);
        return match actual {
            Some(got) if got == want => ContentVerdict::Same,
            Some(_) => ContentVerdict::Not(format!("{keyword}: content differs")),
            None => ContentVerdict::Not(format!("{keyword}: no content was read")),
        };
    }
    if let (Some(only), Some((held, _))) = (only, chosen_digest(&item.entry, None)) {
        return ContentVerdict::Not(format!(
            "content not verified: the entry holds {}, not {} (--algo)",
            digest_keyword(held),
            digest_keyword(only),
        ));
    }
    // A digest of the three that cannot be one is named by the comparison (not understood).
    let unverifiable = |k: &str| claims_content(k) && digest_algo(k).is_none();
    match item.entry.pairs().find(|(k, _)| unverifiable(k)) {
        Some((key, _)) => ContentVerdict::Not(format!(
            "content not verified: b3tree does not verify {}",
            shown(key)
        )),
        None => ContentVerdict::Unclaimed,
    }
}

/// `--algo`: the one digest algorithm to verify.
pub(super) fn only(settings: &CheckSettings) -> Option<Algo> {
    settings.algo
}

/// An entry that could not be described or read: missing (held for the audit when it is a
/// file with a digest: its content may be under a new name), outside, unreadable.
fn unverified<W: std::io::Write>(
    e: &EntryError,
    name: Vec<u8>,
    item: SpecItem,
    settings: &CheckSettings,
    sink: &mut Sink<'_, W>,
    held: &mut MissingSet,
) {
    let problem = Problem::of(e.kind);
    if problem == Problem::Missing && settings.ignore_missing {
        sink.counts.ignored_missing += 1;
        return;
    }
    if !matches!(problem, Problem::Missing | Problem::Outside) {
        let line = format!("{}: {}: {e}", sink.printer.loc(item.at), display(&name));
        sink.reporter.error(&line);
    }
    if problem == Problem::Missing {
        sink.counts
            .first_missing
            .get_or_insert_with(|| name.clone());
        let digest = item.digest.as_ref();
        let digest = digest.and_then(|d| Digest::from_hex(d.1.as_bytes()));
        if let (true, Some(digest)) = (settings.audit, digest) {
            // Its line number stands for the offset: unique, and names are kept.
            rotated(sink, &name, &item, false);
            held.push(&digest, item.at, item.at.1, name);
            return;
        }
    }
    verdict(sink, &name, &item, Verdict::Unverified(problem), None);
}

/// What rotating verification keys a spec entry by besides its name: the BLAKE3 of its
/// keywords in force (a changed line is a new entry, never verified).
pub(super) fn keywords_digest(entry: &SpecEntry) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for (k, v) in entry.pairs() {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\0");
    }
    *h.finalize().as_bytes()
}

/// Rotating verification: the entry reached its verdict (`ok`: verified OK).
fn rotated<W: std::io::Write>(sink: &mut Sink<'_, W>, name: &[u8], item: &SpecItem, ok: bool) {
    if let Some(r) = sink.rotated.as_deref_mut() {
        let key = Digest::Blake3(blake3::Hash::from_bytes(keywords_digest(&item.entry)));
        r.settled(name, item.at, &key, ok);
    }
}

/// Counts, prints and annotates the verdict about `name`.
fn verdict<W: std::io::Write>(
    sink: &mut Sink<'_, W>,
    name: &[u8],
    item: &SpecItem,
    verdict: Verdict,
    actual: Option<String>,
) {
    rotated(sink, name, item, verdict.passed());
    sink.counts.verdict(&verdict);
    sink.printer
        .verdict(name, &verdict, |p| CheckRecord::Entry {
            name: Path::of(name),
            status: verdict.json(),
            at: p.loc(item.at),
            expected: item
                .digest
                .as_ref()
                .map(|d| d.1.clone())
                .unwrap_or_default(),
            actual,
            cause: None,
            differences: match &verdict {
                Verdict::Differs(d) => d.clone(),
                _ => Vec::new(),
            },
            damage: None,
            outboard: None,
        });
    sink.for_ci(name, &verdict, Some(item.at));
}
