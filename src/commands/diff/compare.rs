//! The comparison: both sides walked in step in canonical order, keeping only what differs
//! (memory grows with the differences, not with the entries). When a side turns out not to
//! be in canonical order, both are read again, sorted. At the end, a name gone and a name
//! added with the same digest become one rename (several candidates are paired in
//! canonical order), placed where the old name was.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::input::{Body, Input, Item, Stop};
use super::specs::{self, SpecChange};
use crate::hash::algo::Algo;
use crate::manifest::mtree::keys::chosen_digest;

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

/// Compares the two inputs; `names_only`: names alone (added and removed), no content.
pub fn compare(old: &mut Input, new: &mut Input, names_only: bool) -> Result<Compared, Stop> {
    let labels = (old.label.clone(), new.label.clone());
    let mut pass = Pass::new(labels, names_only);
    let streamed = {
        let (mut a, mut b) = (
            old.entries().map_err(Stop::Error)?,
            new.entries().map_err(Stop::Error)?,
        );
        pass.run(&mut || a.next_ordered(), &mut || b.next_ordered())
    };
    match streamed {
        Err(Stop::Unordered) => {
            pass = Pass::new(pass.labels, names_only);
            let (mut a, mut b) = (old.sorted()?.into_iter(), new.sorted()?.into_iter());
            pass.run(&mut || Ok(a.next()), &mut || Ok(b.next()))?;
        }
        other => other?,
    }
    Ok(Compared {
        changes: renames(pass.changes, names_only),
        entries: pass.entries,
    })
}

type Next<'a> = dyn FnMut() -> Result<Option<Item>, Stop> + 'a;

/// One pass over both sides.
struct Pass {
    labels: (String, String),
    names_only: bool,
    changes: Vec<Change>,
    entries: (u64, u64),
    /// The digest kind (tag, length) of each side's first digest line.
    kinds: (Option<DigestKind>, Option<DigestKind>),
}

type DigestKind = (Option<Algo>, usize);

impl Pass {
    fn new(labels: (String, String), names_only: bool) -> Pass {
        Pass {
            labels,
            names_only,
            changes: Vec::new(),
            entries: (0, 0),
            kinds: (None, None),
        }
    }

    fn run(&mut self, old: &mut Next, new: &mut Next) -> Result<(), Stop> {
        let (mut a, mut b) = (self.take(old, true)?, self.take(new, false)?);
        loop {
            let order = match (&a, &b) {
                (None, None) => return Ok(()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => crate::names::order::canonical_cmp(&x.key, &y.key),
            };
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
    fn take(&mut self, next: &mut Next, is_old: bool) -> Result<Option<Item>, Stop> {
        let Some(item) = next()? else { return Ok(None) };
        let (count, kind, label) = match is_old {
            true => (&mut self.entries.0, &mut self.kinds.0, &self.labels.0),
            false => (&mut self.entries.1, &mut self.kinds.1, &self.labels.1),
        };
        *count += 1;
        if let Body::Digest(d, tag) = &item.body {
            let this = (*tag, d.as_bytes().len());
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
        if self.names_only {
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

    /// Both sides' digests are of one kind (a tag on one side only is taken as the
    /// untagged side's kind); else the run stops naming both.
    fn comparable(&self) -> Result<(), Stop> {
        let (Some(a), Some(b)) = self.kinds else {
            return Ok(());
        };
        let tags_agree = a.0.is_none() || b.0.is_none() || a.0 == b.0;
        if a.1 == b.1 && tags_agree {
            return Ok(());
        }
        Err(Stop::Error(format!(
            "cannot compare contents: {} holds {} digests, {} holds {} digests; --names-only \
             compares names alone",
            self.labels.0,
            kind_name(a),
            self.labels.1,
            kind_name(b)
        )))
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
fn kind_name((tag, len): DigestKind) -> String {
    match (tag, len) {
        (Some(algo), n) if n == algo.default_len() => algo.tag().to_string(),
        (Some(algo), n) => format!("{} ({n}-byte)", algo.tag()),
        (None, 32) => "untagged 32-byte (BLAKE3 or SHA256)".into(),
        (None, 64) => "untagged 64-byte (SHA512, or BLAKE3 -l 64)".into(),
        (None, n) => format!("untagged {n}-byte (BLAKE3 -l {n})"),
    }
}

/// What a removed or added entry's content is known by, for pairing renames: a digest
/// line's digest; a spec file's strongest digest b3tree knows.
fn content_key(item: &Item) -> Option<Vec<u8>> {
    match &item.body {
        Body::Digest(d, _) => Some(d.as_bytes().to_vec()),
        Body::Spec(entry) => {
            if entry.claimed_type() != Some("file") {
                return None;
            }
            let (algo, hex) = chosen_digest(entry, None)?;
            Some([algo.tag().as_bytes(), b":", hex.as_bytes()].concat())
        }
    }
}

/// Pairs removed and added entries of one content into renames, in canonical order; each
/// rename takes the removed entry's place.
fn renames(changes: Vec<Change>, names_only: bool) -> Vec<Change> {
    if names_only {
        return changes;
    }
    let mut by_content: HashMap<Vec<u8>, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        let (item, removed) = match c.kind {
            Kind::Removed => (c.old.as_ref(), true),
            Kind::Added => (c.new.as_ref(), false),
            _ => continue,
        };
        if let Some(key) = item.and_then(content_key) {
            let (gone, came) = by_content.entry(key).or_default();
            match removed {
                true => gone.push(i),
                false => came.push(i),
            }
        }
    }
    // removed index → added index
    let mut pairs: HashMap<usize, usize> = HashMap::new();
    for (gone, came) in by_content.values() {
        pairs.extend(gone.iter().copied().zip(came.iter().copied()));
    }
    let paired_added: std::collections::HashSet<usize> = pairs.values().copied().collect();
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for i in 0..slots.len() {
        if paired_added.contains(&i) {
            continue;
        }
        let Some(mut c) = slots[i].take() else {
            continue;
        };
        if let Some(&j) = pairs.get(&i) {
            c.kind = Kind::Renamed;
            c.new = slots[j].take().and_then(|added| added.new);
        }
        out.push(c);
    }
    out
}
