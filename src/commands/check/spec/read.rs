//! Reading a spec for pass 1: every entry as a describe job, in spec order — or, with
//! rotating verification (`--subset`, `--max-duration`), the entries chosen: the spec is read
//! to its end first (every name for the duplicates and the audit), each entry of this shard a
//! candidate with when it was last verified OK (keyed by its name and the BLAKE3 of its
//! keywords: an entry whose line changed counts as never verified); the candidates are ordered
//! as for manifests (`pick`), the spec is read again to take the chosen entries (a spec's
//! hierarchical form names an entry by the lines before it: no reading by offset), and they
//! are fed in that order until the time budget ends.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Seek};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Instant;

use super::settle::{SpecItem, keywords_digest};
use crate::commands::check::pick::{Chosen, Rotate, in_line};
use crate::hash::algo::Algo;
use crate::hash::outcome::{Action, Content};
use crate::manifest::mtree::keys::chosen_digest;
use crate::manifest::mtree::read::{SpecEntry, SpecReader};
use crate::names::entry::EntryName;
use crate::names::nameset::{Location, NameSet, normalize};
use crate::pipeline::queue::Feeder;
use crate::state::checked::{When, key};
use crate::sys::cancel;
use crate::tree_digest::shard_of;

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

/// Pushes entry `entry` (its content digest `digest`) as a describe job; false once the run
/// stops.
fn push(
    feeder: &mut Feeder<SpecItem>,
    mut entry: SpecEntry,
    digest: Option<(Algo, String)>,
) -> bool {
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
    feeder.push(
        path,
        EntryName::Own(name),
        action,
        SpecItem { at, entry, digest },
    )
}

/// Reads the spec: its entries fed (all, or with `rotate` the chosen ones), what it held.
pub(super) fn feed(
    reader: Box<dyn BufRead + Send>,
    (only, shard): (Option<Algo>, Option<(u64, u64)>),
    feeder: &mut Feeder<SpecItem>,
    rotate: Option<Rotate>,
) -> (SpecRead, Option<Chosen>) {
    let mut spec = SpecReader::new(reader);
    let mut read = SpecRead::default();
    let mut candidates = Vec::new();
    loop {
        let entry = match spec.next_entry() {
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
        match &rotate {
            Some(r) => candidates.push(candidate(r, &entry, read.entries)),
            None if !push(feeder, entry, digest) => break,
            None => {}
        }
    }
    let chosen = match rotate {
        Some(r) if read.error.is_none() && !cancel::is_stopped() => {
            Some(feed_chosen(r, candidates, (only, &mut read), feeder))
        }
        _ => None,
    };
    feeder.flush();
    (read, chosen)
}

/// An entry held back: when it was last verified, its ordinal in the spec, where it is, and
/// the digest of its keywords.
struct Candidate {
    last: Option<When>,
    ordinal: u64,
    at: Location,
    keywords: [u8; 32],
}

fn candidate(r: &Rotate, entry: &SpecEntry, ordinal: u64) -> Candidate {
    let keywords = keywords_digest(entry);
    let last = (r.checked.first()).and_then(|c| c.last(&key(&entry.path), &keywords));
    Candidate {
        last,
        ordinal,
        at: (0, entry.line),
        keywords,
    }
}

/// Orders the candidates, reads the spec again for the chosen ones and feeds them.
fn feed_chosen(
    r: Rotate,
    mut candidates: Vec<Candidate>,
    (only, read): (Option<Algo>, &mut SpecRead),
    feeder: &mut Feeder<SpecItem>,
) -> Chosen {
    candidates.sort_by_key(|c| (in_line(c.last), c.ordinal));
    let take = r.rotation.take(candidates.len() as u64) as usize;
    let rank: HashMap<u64, usize> = (candidates[..take].iter().enumerate())
        .map(|(i, c)| (c.ordinal, i))
        .collect();
    let mut slots: Vec<Option<SpecEntry>> = (0..take).map(|_| None).collect();
    let again = r.files.first().and_then(|f| {
        let mut f = f.try_clone().ok()?;
        f.rewind().ok()?;
        Some(SpecReader::new(BufReader::new(f)))
    });
    let changed = "the spec changed while it was checked".to_string();
    let (mut ordinal, mut found, mut again) = (0u64, 0, again);
    while found < take {
        let Some(Ok(Some(entry))) = again.as_mut().map(SpecReader::next_entry) else {
            break;
        };
        ordinal += 1;
        if let Some(&i) = rank.get(&ordinal) {
            if keywords_digest(&entry) != candidates[i].keywords {
                read.error.get_or_insert(changed.clone());
                break;
            }
            slots[i] = Some(entry);
            found += 1;
        }
    }
    let mut budget_spent = false;
    for entry in slots {
        let Some(entry) = entry else {
            read.error.get_or_insert(changed);
            break;
        };
        if r.deadline.is_some_and(|d| Instant::now() >= d) {
            budget_spent = true;
            break;
        }
        let digest = chosen_digest(&entry, only);
        if !push(feeder, entry, digest) {
            break;
        }
    }
    Chosen {
        candidates: candidates.iter().map(|c| (c.at, c.last)).collect(),
        budget_spent,
    }
}
