//! The differences as they are written: lines in the form of `git diff --name-status`
//! (a letter, a tab, the name; a rename's two names; for a spec, a third column of what
//! changed in `check`'s words), or JSON Lines records closed by a summary. Names are escaped
//! as for people (tabs, newlines and control characters as escapes), so a name cannot
//! break a column, forge a line or drive a terminal or CI log.

use std::io::{self, Write};

use super::compare::{Change, Compared, Kind};
use super::input::{Body, Item};
use crate::record::{self, DiffRecord, DiffSummary, Path};
use crate::report::inert;
use crate::report::summary::plural;

/// Writes every difference, then (JSON) the summary record.
pub fn write(compared: &Compared, json: bool, out: &mut impl Write) -> io::Result<()> {
    for (i, c) in compared.changes.iter().enumerate() {
        // A signal ends the writing between lines (the caller says how the run ended).
        if i % 4096 == 0 && crate::sys::cancel::is_stopped() {
            return Ok(());
        }
        match json {
            true => out.write_all(&record::line(&json_record(c)))?,
            false => out.write_all(text_line(c).as_bytes())?,
        }
    }
    if json {
        out.write_all(&record::line(&summary_record(compared)))?;
    }
    Ok(())
}

/// The counts as the summary on stderr says them.
pub fn summary(compared: &Compared) -> String {
    let s = summary_record(compared);
    format!(
        "{} added, {} removed, {} modified, {} renamed, {} ({} and {} compared)",
        s.added,
        s.removed,
        s.modified,
        s.renamed,
        plural(s.type_changed, "type change", "type changes"),
        plural(s.old_entries, "entry", "entries"),
        plural(s.new_entries, "entry", "entries"),
    )
}

fn summary_record(compared: &Compared) -> DiffSummary {
    let count = |k: Kind| compared.changes.iter().filter(|c| c.kind == k).count() as u64;
    DiffSummary {
        kind: "summary",
        old_entries: compared.entries.0,
        new_entries: compared.entries.1,
        added: count(Kind::Added),
        removed: count(Kind::Removed),
        modified: count(Kind::Modified),
        renamed: count(Kind::Renamed),
        type_changed: count(Kind::TypeChanged),
        identical: compared.changes.is_empty(),
    }
}

fn letter(kind: Kind) -> char {
    match kind {
        Kind::Added => 'A',
        Kind::Removed => 'D',
        Kind::Modified => 'M',
        Kind::Renamed => 'R',
        Kind::TypeChanged => 'T',
    }
}

/// The entry a line is named by: the new one of an addition, else the old one.
fn named(c: &Change) -> &Item {
    match c.kind {
        Kind::Added => c.new.as_ref(),
        _ => c.old.as_ref(),
    }
    .expect("a change has its entry")
}

fn text_line(c: &Change) -> String {
    let mut line = format!("{}\t{}", letter(c.kind), named(c).shown());
    if let (Kind::Renamed, Some(new)) = (c.kind, &c.new) {
        line.push('\t');
        line.push_str(&new.shown());
    }
    if !c.words.is_empty() {
        line.push('\t');
        line.push_str(&inert::text(&c.words.join("; ")));
    }
    line.push('\n');
    line
}

fn json_record(c: &Change) -> DiffRecord<'_> {
    let kind = match c.kind {
        Kind::Added => "added",
        Kind::Removed => "removed",
        Kind::Modified => "modified",
        Kind::Renamed => "renamed",
        Kind::TypeChanged => "type_changed",
    };
    let (name, from) = match (c.kind, &c.new) {
        (Kind::Renamed, Some(new)) => (new, Some(Path::of(named(c).name()))),
        _ => (named(c), None),
    };
    DiffRecord {
        kind,
        name: Path::of(name.name()),
        from,
        old: c.old.as_ref().map(values),
        new: c.new.as_ref().map(values),
        changes: c.words.clone(),
    }
}

/// What an entry says: a digest line's `hash` (and `algorithm` when tagged), a spec
/// entry's keywords as written.
fn values(item: &Item) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    match &item.body {
        Body::Digest(d, tag) => {
            map.insert("hash".into(), d.to_hex().into());
            if let Some(algo) = tag {
                map.insert("algorithm".into(), algo.tag().into());
            }
        }
        Body::Spec(entry) => {
            for (k, v) in entry.pairs() {
                map.insert(k.into(), v.into());
            }
        }
    }
    map
}
