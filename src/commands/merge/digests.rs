//! Shards of digest manifests (`hash --shard K/N`): b3sum/GNU lines, read strictly (a line
//! `check` would only warn about is refused here), in canonical order by their names in
//! normal form, so that one file under two spellings (`./t/a`, `t/a`) is one entry. Once
//! every input is read, their entries must lie under related directories: shards of one
//! root, not of two trees.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::io::BufRead;

use super::kway::Shard;
use crate::hash::algo::Algo;
use crate::manifest::read::{Entry, LineReader, StrictError};
use crate::manifest::write::format_line;
use crate::names::escape::{Escaping, display};
use crate::names::nameset::{climbs_out, is_ancestor, narrow_common_dir, normalize};
use crate::names::order::canonical_cmp;

/// One shard manifest being merged.
pub(super) struct Input {
    name: String,
    lines: LineReader<Box<dyn BufRead + Send>>,
    head: Option<Entry>,
    /// `head`'s name in normal form (`./t/a`, `t//a` and `t/./a` are `t/a`): the key that
    /// orders and matches entries, so that one file under two spellings is one entry.
    key: Vec<u8>,
    /// The key of the entry before `head` (order and duplicates are checked against it).
    last: Option<Vec<u8>>,
    /// Deepest directory holding every entry so far.
    common: Option<Vec<u8>>,
    /// Shards (for N = number of inputs) its entries fall in.
    shards: BTreeSet<u64>,
}

impl Input {
    /// `reader` after its shard line (`lines_read` lines).
    pub(super) fn new(name: String, reader: Box<dyn BufRead + Send>, lines_read: u64) -> Input {
        let mut lines = LineReader::new(reader);
        lines.line_no = lines_read;
        Input {
            name,
            lines,
            head: None,
            key: Vec::new(),
            last: None,
            common: None,
            shards: BTreeSet::new(),
        }
    }

    /// Moves to the next entry; checks canonical order.
    fn next(&mut self) -> Result<(), String> {
        let e = match self.lines.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.head = None;
                return Ok(());
            }
            Err(StrictError::Malformed(line, why)) => {
                return Err(format!(
                    "{}:{line}: improperly formatted line: {why}",
                    self.name
                ));
            }
            Err(StrictError::Io(e)) => return Err(format!("cannot read {}: {e}", self.name)),
        };
        let key = normalize(&e.name);
        if let Some(prev) = &self.last {
            match canonical_cmp(prev, &key) {
                Ordering::Less => {}
                Ordering::Equal => {
                    return Err(format!(
                        "{}:{}: {} is listed twice: refusing to merge",
                        self.name,
                        self.lines.line_no,
                        display(&e.name)
                    ));
                }
                Ordering::Greater => {
                    return Err(format!(
                        "{}:{}: not in canonical order ({} after {}; was it written by b3tree \
                         hash?)",
                        self.name,
                        self.lines.line_no,
                        display(&e.name),
                        display(prev)
                    ));
                }
            }
        }
        if climbs_out(&e.name) {
            return Err(format!(
                "{}:{}: {} climbs out of the shards' root (b3tree hash never writes such a \
                 name): refusing to merge",
                self.name,
                self.lines.line_no,
                display(&e.name)
            ));
        }
        narrow_common_dir(&mut self.common, &key);
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(&key);
        self.key = key;
        self.head = Some(e);
        Ok(())
    }
}

impl Shard for Input {
    /// Tagged lines (`BLAKE3 (name) = …`) when every input's first entry is tagged.
    type Style = bool;
    const WHAT: &'static str = "manifest";
    const HEADER: &'static [u8] = b"";

    fn style(inputs: &[Self]) -> bool {
        (inputs.iter().filter_map(|i| i.head.as_ref())).all(Entry::tagged)
    }

    fn label(&self) -> &str {
        &self.name
    }

    fn advance(&mut self) -> Result<(), String> {
        self.next()
    }

    fn key(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|_| self.key.as_slice())
    }

    fn agrees(&self, other: &Self) -> bool {
        let hash = |i: &Self| i.head.as_ref().map(|e| e.hash.clone());
        hash(self) == hash(other)
    }

    fn shown(&self) -> String {
        self.head
            .as_ref()
            .map(|e| display(&e.name))
            .unwrap_or_default()
    }

    fn take(&mut self, tagged: bool, line: &mut Vec<u8>) -> Vec<u8> {
        let entry = self.head.take().expect("head");
        let tag = tagged.then(|| entry.tag.unwrap_or(Algo::Blake3).tag());
        format_line(line, &entry.name, &entry.hash, tag, Escaping::Manifest);
        entry.name
    }

    fn shards(&mut self) -> &mut BTreeSet<u64> {
        &mut self.shards
    }

    /// Shards of one root share it: their entries' directories must be related.
    fn after(inputs: &[Self]) -> Result<(), String> {
        for (i, a) in inputs.iter().enumerate() {
            for b in &inputs[i + 1..] {
                if let (Some(x), Some(y)) = (&a.common, &b.common) {
                    if !is_ancestor(x, y) && !is_ancestor(y, x) {
                        return Err(format!(
                            "{} (entries under {}) and {} (entries under {}) come from \
                             different roots",
                            a.name,
                            display(x),
                            b.name,
                            display(y)
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
