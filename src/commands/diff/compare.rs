//! The comparison: both sides walked in step in canonical order, keeping only what differs
//! (memory grows with the differences, not with the entries). When a side turns out not to
//! be in canonical order, both are read again, sorted. At the end, a name gone and a name
//! added with the same digest become one rename (several candidates are paired in
//! canonical order), placed where the old name was.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::input::{Body, Entries, Input, Item, Stop};
use super::specs::{self, SpecChange};
use crate::hash::algo::Algo;
use crate::manifest::mtree::values::well_formed;
use crate::manifest::mtree::write::digest_keyword;

/// What happened to a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Added,
    Removed,
    /// Content (or, in a spec, a keyword) changed.
    Modified,
    /// Gone under the old name, there under the new one, the same content.
    Renamed,
    /// A spec entry's type changed.
    TypeChanged,
}

/// One difference: the old entry (removed, modified, renamed, type changed), the new one
/// (added, modified, renamed, type changed) and, for specs, what changed in words.
#[derive(Debug)]
pub struct Change {
    pub kind: Kind,
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub words: Vec<String>,
}

/// Every difference, in canonical order of the name each line starts with, and how many
/// entries each side held.
pub struct Compared {
    pub changes: Vec<Change>,
    pub entries: (u64, u64),
}

/// How entries are compared: names alone, or also content (untagged digest lines are of
/// `untagged`).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub names_only: bool,
    pub untagged: Algo,
}

/// Most differences held for the end (where renames are paired): beyond, the run stops.
pub const MAX_DIFFERENCES: usize = 4_000_000;

/// Compares the two inputs. Both are streamed; a side found out of canonical order is read
/// again, sorted, and the comparison starts over.
pub fn compare(old: &mut Input, new: &mut Input, rules: Rules) -> Result<Compared, Stop> {
    let labels = (old.label.clone(), new.label.clone());
    let mut sorted = [false, false];
    loop {
        let mut pass = Pass::new(labels.clone(), rules);
        let ran = {
            let mut a = Side::of(old, sorted[0])?;
            let mut b = match Side::of(new, sorted[1]) {
                Ok(b) => b,
                Err(e) => {
                    std::mem::forget(a); // as below: the run ends now
                    return Err(e);
                }
            };
            let ran = pass.run(&mut a, &mut b);
            if matches!(ran, Err(Stop::Interrupted)) {
                // Left to the process's end, as a sort stopped midway leaves its entries.
                std::mem::forget((a, b));
                std::mem::forget(pass);
                return Err(Stop::Interrupted);
            }
            ran
        };
        match ran {
            Err(Stop::Unordered(side)) if !sorted[side] => sorted[side] = true,
            Err(Stop::Unordered(_)) => unreachable!("a sorted side is in order"),
            Err(other) => return Err(other),
            Ok(()) => {
                return Ok(Compared {
                    changes: renames(pass.changes, rules.names_only),
                    entries: pass.entries,
                });
            }
        }
    }
}

/// One side's entries: as they come, or sorted in memory.
enum Side {
    Streamed(Box<Entries>),
    Sorted(std::vec::IntoIter<Item>),
}

impl Side {
    fn of(input: &mut Input, sorted: bool) -> Result<Side, Stop> {
        Ok(match sorted {
            true => Side::Sorted(input.sorted()?.into_iter()),
            false => Side::Streamed(Box::new(input.entries().map_err(Stop::Error)?)),
        })
    }

    fn next(&mut self) -> Result<Option<Item>, Stop> {
        match self {
            Side::Streamed(entries) => entries.next_ordered(),
            Side::Sorted(items) => Ok(items.next()),
        }
    }
}

/// One pass over both sides.
struct Pass {
    labels: (String, String),
    rules: Rules,
    changes: Vec<Change>,
    entries: (u64, u64),
    /// The digest kind (tag, length) of each side's first digest line.
    kinds: (Option<DigestKind>, Option<DigestKind>),
}

/// A digest line's algorithm (its tag, else `--algo`'s) and length.
type DigestKind = (Algo, usize);

impl Pass {
    fn new(labels: (String, String), rules: Rules) -> Pass {
        Pass {
            labels,
            rules,
            changes: Vec::new(),
            entries: (0, 0),
            kinds: (None, None),
        }
    }

    fn run(&mut self, old: &mut Side, new: &mut Side) -> Result<(), Stop> {
        let (mut a, mut b) = (self.take(old, true)?, self.take(new, false)?);
        loop {
            let order = match (&a, &b) {
                (None, None) => return Ok(()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => crate::names::order::canonical_cmp(&x.key, &y.key),
            };
            if self.changes.len() >= MAX_DIFFERENCES {
                return Err(Stop::Error(format!(
                    "{} and {} differ in more than {MAX_DIFFERENCES} entries, the most diff \
                     holds in memory",
                    self.labels.0, self.labels.1
                )));
            }
            match order {
                Ordering::Less => {
                    self.changes.push(change(Kind::Removed, a.take(), None));
                    a = self.take(old, true)?;
                }
                Ordering::Greater => {
                    self.changes.push(change(Kind::Added, None, b.take()));
                    b = self.take(new, false)?;
                }
                Ordering::Equal => {
                    let (x, y) = (a.take().expect("old"), b.take().expect("new"));
                    if let Some(c) = self.both(x, y)? {
                        self.changes.push(c);
                    }
                    (a, b) = (self.take(old, true)?, self.take(new, false)?);
                }
            }
        }
    }

    /// The next entry of one side, counted, its digest kind checked against the side's.
    fn take(&mut self, side: &mut Side, is_old: bool) -> Result<Option<Item>, Stop> {
        let item = match side.next() {
            Err(Stop::Unordered(_)) => return Err(Stop::Unordered(usize::from(!is_old))),
            other => other?,
        };
        let Some(item) = item else { return Ok(None) };
        if (self.entries.0 + self.entries.1) % 4096 == 0 && crate::sys::cancel::is_stopped() {
            return Err(Stop::Interrupted);
        }
        let (count, kind, label) = match is_old {
            true => (&mut self.entries.0, &mut self.kinds.0, &self.labels.0),
            false => (&mut self.entries.1, &mut self.kinds.1, &self.labels.1),
        };
        *count += 1;
        if let Body::Digest(d, tag) = &item.body {
            let this = (tag.unwrap_or(self.rules.untagged), d.as_bytes().len());
            match kind {
                None => *kind = Some(this),
                Some(first) if *first != this => {
                    return Err(Stop::Error(format!(
                        "{label}:{}: a {} digest, where the lines before hold {} digests (one \
                         manifest, one kind of digest)",
                        item.line,
                        kind_name(this),
                        kind_name(*first)
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(Some(item))
    }

    /// The difference between two entries of one name, if any.
    fn both(&mut self, x: Item, y: Item) -> Result<Option<Change>, Stop> {
        if self.rules.names_only {
            return Ok(None);
        }
        match (&x.body, &y.body) {
            (Body::Digest(a, _), Body::Digest(b, _)) => {
                self.comparable()?;
                Ok((a != b).then(|| change(Kind::Modified, Some(x), Some(y))))
            }
            (Body::Spec(a), Body::Spec(b)) => match specs::compare(a, b) {
                Ok(SpecChange::Same) => Ok(None),
                Ok(SpecChange::Type(word)) => Ok(Some(Change {
                    words: vec![word],
                    ..change(Kind::TypeChanged, Some(x), Some(y))
                })),
                Ok(SpecChange::Changed(words)) => Ok(Some(Change {
                    words,
                    ..change(Kind::Modified, Some(x), Some(y))
                })),
                Err(none) => {
                    let list = |l: &[String]| match l.is_empty() {
                        true => "none".to_string(),
                        false => l.join(", "),
                    };
                    Err(Stop::Error(format!(
                        "cannot compare the content of {}: no digest keyword in common ({}:{}: \
                         {}; {}:{}: {}); --names-only compares names alone",
                        x.shown(),
                        self.labels.0,
                        x.line,
                        list(&none.old),
                        self.labels.1,
                        y.line,
                        list(&none.new)
                    )))
                }
            },
            _ => unreachable!("the plan refuses a spec against a manifest"),
        }
    }

    /// Both sides' digests are of one algorithm and length (an untagged line's algorithm
    /// is `--algo`'s, BLAKE3 by default, as `check` reads it); else the run stops naming
    /// both.
    fn comparable(&self) -> Result<(), Stop> {
        match self.kinds {
            (Some(a), Some(b)) if a != b => Err(Stop::Error(format!(
                "cannot compare contents: {} holds {} digests, {} holds {} digests; \
                 --names-only compares names alone (--algo names the algorithm of untagged \
                 lines)",
                self.labels.0,
                kind_name(a),
                self.labels.1,
                kind_name(b)
            ))),
            _ => Ok(()),
        }
    }
}

fn change(kind: Kind, old: Option<Item>, new: Option<Item>) -> Change {
    Change {
        kind,
        old,
        new,
        words: Vec::new(),
    }
}

/// A digest kind as people name it.
fn kind_name((algo, len): DigestKind) -> String {
    match len == algo.default_len() {
        true => algo.tag().to_string(),
        false => format!("{} ({len}-byte)", algo.tag()),
    }
}

/// What a removed or added entry's content is known by in pairing round `round`: a digest
/// line's digest (round 0), a spec file's digest of BLAKE3, SHA-512, SHA-256 (rounds 0, 1,
/// 2: two entries pair on any digest both hold).
fn content_key(item: &Item, round: usize) -> Option<Vec<u8>> {
    match &item.body {
        Body::Digest(d, _) => (round == 0).then(|| d.as_bytes().to_vec()),
        Body::Spec(entry) => {
            if entry.claimed_type() != Some("file") {
                return None;
            }
            let algo = [Algo::Blake3, Algo::Sha512, Algo::Sha256][round];
            let hex = entry
                .get(digest_keyword(algo))
                .filter(|hex| well_formed(algo, hex))?;
            Some(hex.to_ascii_lowercase().into_bytes())
        }
    }
}

/// Pairs removed and added entries of one content into renames, in canonical order; each
/// rename takes the removed entry's place, and (specs) says what else changed.
fn renames(changes: Vec<Change>, names_only: bool) -> Vec<Change> {
    if names_only {
        return changes;
    }
    // removed index → added index
    let mut pairs: HashMap<usize, usize> = HashMap::new();
    let mut taken: HashSet<usize> = HashSet::new();
    for round in 0..3 {
        let mut by_content: HashMap<Vec<u8>, (Vec<usize>, Vec<usize>)> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            let (item, removed) = match c.kind {
                Kind::Removed if !pairs.contains_key(&i) => (c.old.as_ref(), true),
                Kind::Added if !taken.contains(&i) => (c.new.as_ref(), false),
                _ => continue,
            };
            if let Some(key) = item.and_then(|item| content_key(item, round)) {
                let (gone, came) = by_content.entry(key).or_default();
                match removed {
                    true => gone.push(i),
                    false => came.push(i),
                }
            }
        }
        for (gone, came) in by_content.values() {
            for (&g, &c) in gone.iter().zip(came) {
                pairs.insert(g, c);
                taken.insert(c);
            }
        }
    }
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for i in 0..slots.len() {
        if taken.contains(&i) {
            continue;
        }
        let Some(mut c) = slots[i].take() else {
            continue;
        };
        if let Some(&j) = pairs.get(&i) {
            c.kind = Kind::Renamed;
            c.new = slots[j].take().and_then(|added| added.new);
            if let (Some(Body::Spec(a)), Some(Body::Spec(b))) = (
                c.old.as_ref().map(|i| &i.body),
                c.new.as_ref().map(|i| &i.body),
            ) {
                if let Ok(SpecChange::Changed(words)) = specs::compare(a, b) {
                    c.words = words;
                }
            }
        }
        out.push(c);
    }
    out
}
