//! `check` of a tree spec (mtree: b3tree's `hash --format mtree`, `bsdtar --format=mtree`,
//! NetBSD's `mtree -c` and `-C`): pass 1 for a spec. Each entry becomes a describe job (its
//! path `lstat`ed beneath the working directory, never followed; a regular file hashed with
//! the algorithm of the digest the entry holds), and each outcome is compared keyword by
//! keyword (`manifest::mtree_keys`): one verdict per entry, every difference named
//! (`FAILED (mode 0755 → 0644; link: v1 → v2)`).
//!
//! Keywords b3tree does not verify are counted and said once at the end, never taken as
//! verified; files whose entry holds no digest b3tree knows are said too (their content was
//! not compared). NEW and MOVED (`--audit`) and `--shard` are not built for specs yet: the
//! plan refuses them.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::BufRead;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::Run;
use super::missing::MissingSet;
use super::sink::Sink;
use super::verdict::{Problem, Verdict};
use crate::cli::{AlgoArg, CheckArgs};
use crate::hash::algo::{Algo, Digest};
use crate::hash::file::SYMLINK_IN_PATH;
use crate::hash::outcome::{Action, Content, EntryError, ErrorKind, FileKind, Outcome};
use crate::manifest::mtree::{SpecEntry, SpecReader};
use crate::manifest::mtree_keys::{Difference, Observed, chosen_digest, compare, shown};
use crate::manifest::mtree_values::{claims_content, digest_algo};
use crate::manifest::mtree_write::digest_keyword;
use crate::names::escape::display;
use crate::names::nameset::{Location, NameSet, normalize};
use crate::pipeline::engine::{self, EngineConfig};
use crate::pipeline::job::Done;
use crate::pipeline::queue::Feeder;
use crate::record::{CheckRecord, Path};
use crate::sys::owners::Owners;
use crate::tree_digest::shard_of;

/// What a spec entry's job carries: where it is, its keywords, the digest to compare.
pub(super) struct SpecItem {
    at: Location,
    entry: SpecEntry,
    digest: Option<(Algo, String)>,
}

/// What reading the spec left: entries read, and why it stopped early (`SPEC:LINE: why`).
#[derive(Default)]
pub(super) struct SpecRead {
    pub entries: u64,
    pub error: Option<String>,
    /// Every name, for duplicates and the audit.
    pub names: NameSet,
    /// The algorithm of the first digest the spec holds (the audit hashes with it, so that
    /// a file found under a new name matches a missing entry: MOVED).
    pub algo: Option<Algo>,
    /// `--shard`: entries left to the other shards' jobs.
    pub other_shards: u64,
}

/// Keywords named one by one in the warning about those not verified.
const MAX_NAMED: usize = 20;
/// Distinct keywords counted by name (the rest are counted together).
const MAX_KEPT: usize = 1000;

/// What the comparisons found beyond verdicts, said once at the end.
#[derive(Default)]
pub(super) struct Tally {
    /// Keywords not verified, with the entries that held them.
    unknown: BTreeMap<String, u64>,
    /// Uses of further keywords, beyond the [`MAX_KEPT`] kept by name.
    unknown_more: u64,
    /// Regular files whose entry holds no digest b3tree verifies.
    no_digest: u64,
    /// Entries verified by one digest that hold others of the three b3tree knows: those
    /// others are not compared (one read, one digest: the strongest, or `--algo`'s).
    other_digests: u64,
    /// Owner and group names, for `uname` and `gname`.
    owners: Owners,
}

impl Tally {
    /// Counts the keywords of one entry that b3tree does not verify. A key is allocated once
    /// per run, not once per entry that holds it; memory is bounded whatever number of
    /// distinct keys a spec holds.
    fn count_unknown(&mut self, keys: &[&str]) {
        for key in keys {
            let kept = self.unknown.len();
            match self.unknown.get_mut(*key) {
                Some(n) => *n += 1,
                None if kept < MAX_KEPT => {
                    self.unknown.insert((*key).to_string(), 1);
                }
                None => self.unknown_more += 1,
            }
        }
    }

    /// The warnings to give (none when everything was verified).
    pub(super) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.unknown.is_empty() {
            // A hostile spec may hold a million distinct keywords: the first ones, and a count.
            let mut list: Vec<String> = (self.unknown.iter().take(MAX_NAMED))
                .map(|(k, n)| format!("{} ({n})", shown(k)))
                .collect();
            let more = (self.unknown.iter().skip(MAX_NAMED).map(|(_, n)| n)).sum::<u64>()
                + self.unknown_more;
            if more > 0 {
                list.push(format!("{more} uses of other keywords"));
            }
            notes.push(format!(
                "keywords b3tree does not verify were ignored: {}",
                list.join(", ")
            ));
        }
        if self.no_digest > 0 {
            let (hold, their) = if self.no_digest == 1 {
                ("holds", "its")
            } else {
                ("hold", "their")
            };
            notes.push(format!(
                "{} of the spec {hold} no digest b3tree verifies (blake3digest, sha512digest, \
                 sha256digest): {their} content was not compared",
                crate::report::summary::plural(self.no_digest, "file entry", "file entries")
            ));
        }
        if self.other_digests > 0 {
            notes.push(format!(
                "{} of the spec also {} digests besides the one verified (the strongest, or \
                 --algo's): those were not compared",
                crate::report::summary::plural(self.other_digests, "entry", "entries"),
                if self.other_digests == 1 {
                    "holds"
                } else {
                    "hold"
                }
            ));
        }
        notes
    }
}

/// Pass 1 over the spec `reader` (the run's one manifest, `SPEC` in messages).
pub(super) fn pass(
    engine_cfg: &EngineConfig,
    reader: Box<dyn BufRead + Send>,
    (args, shard): (&CheckArgs, Option<(u64, u64)>),
    run: &mut Run,
) -> (SpecRead, Tally) {
    let only = only(args);
    let mut tally = Tally::default();
    let read = engine::run(
        engine_cfg,
        move |feeder| feed(reader, (only, shard), feeder),
        |done| {
            run.reporter.progress(&done.outcome);
            let (mut sink, held) = run.sink(None);
            settle(done, args, &mut tally, &mut sink, held);
            Ok(())
        },
    )
    .source;
    (read, tally)
}

/// Every entry of the spec as a describe job, in spec order.
/// `--shard K/N`: only the entries of shard K (the partition `hash --shard` makes of the
/// same names); every name still goes into the set the audit knows.
fn feed(
    reader: Box<dyn BufRead + Send>,
    (only, shard): (Option<Algo>, Option<(u64, u64)>),
    feeder: &mut Feeder<SpecItem>,
) -> SpecRead {
    let mut spec = SpecReader::new(reader);
    let mut read = SpecRead::default();
    loop {
        let mut entry = match spec.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                read.error = Some(e.to_string());
                break;
            }
        };
        read.entries += 1;
        let digest = chosen_digest(&entry, only);
        read.names.add(&normalize(&entry.path), (0, entry.line));
        if shard.is_some_and(|(k, n)| shard_of(&entry.path, n) != k) {
            read.other_shards += 1;
            continue;
        }
        if read.algo.is_none() {
            read.algo = digest.as_ref().map(|d| d.0);
        }
        let action = Action::Describe(match &digest {
            Some((algo, _)) => Content::With(*algo),
            None => Content::Unread,
        });
        // The job carries the name; the item keeps the keywords only.
        let name = std::mem::take(&mut entry.path);
        // Opened below the root `.` with no symlink followed (plan: `Confine::NoSymlinks`),
        // so the path starts with that root; the root itself is the root as given.
        let path = match name.as_slice() {
            b"." => PathBuf::from("."),
            _ => PathBuf::from(OsString::from_vec([&b"./"[..], &name].concat())),
        };
        let at = (0, entry.line);
        if !feeder.push(path, name, action, SpecItem { at, entry, digest }) {
            break;
        }
    }
    feeder.flush();
    read
}

/// Decides, counts and prints one entry.
fn settle<W: std::io::Write>(
    done: Done<SpecItem>,
    args: &CheckArgs,
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
        Outcome::Failed(e) => return unverified(e, name, item, args, sink, held),
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
    let compared = compare(&item.entry, &observed);
    tally.count_unknown(&compared.unknown);
    let mut differences: Vec<String> = compared.differences.iter().map(|d| d.to_string()).collect();
    // Another type of file has no content to compare (its type is the difference).
    let type_differs = (compared.differences.iter()).any(|d| matches!(d, Difference::Type { .. }));
    if !type_differs {
        match content(&item, actual.as_deref(), only(args)) {
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
    }
    let v = if differences.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Differs(differences)
    };
    verdict(sink, &name, &item, v, actual);
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
fn only(args: &CheckArgs) -> Option<Algo> {
    args.algo.map(|a| match a {
        AlgoArg::Blake3 => Algo::Blake3,
        AlgoArg::Sha256 => Algo::Sha256,
        AlgoArg::Sha512 => Algo::Sha512,
    })
}

/// An entry that could not be described or read: missing (held for the audit when it is a
/// file with a digest: its content may be under a new name), outside, unreadable.
fn unverified<W: std::io::Write>(
    e: &EntryError,
    name: Vec<u8>,
    item: SpecItem,
    args: &CheckArgs,
    sink: &mut Sink<'_, W>,
    held: &mut MissingSet,
) {
    let problem = Problem::of(e.kind);
    if problem == Problem::Missing && args.ignore_missing {
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
        if let (true, Some(digest)) = (args.audit, digest) {
            // Its line number stands for the offset: unique, and names are kept.
            held.push(&digest, item.at, item.at.1, name);
            return;
        }
    }
    verdict(sink, &name, &item, Verdict::Unverified(problem), None);
}

/// Counts, prints and annotates the verdict about `name`.
fn verdict<W: std::io::Write>(
    sink: &mut Sink<'_, W>,
    name: &[u8],
    item: &SpecItem,
    verdict: Verdict,
    actual: Option<String>,
) {
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
        });
    sink.for_ci(name, &verdict, Some(item.at));
}
