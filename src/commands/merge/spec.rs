//! Shards of tree specs (`hash --format mtree --shard K/N`) for the k-way merge. Each shard
//! spec is in canonical order (the walk's), so the lines are interleaved by their names and
//! written as they are: memory holds one line per input. What would make the result lie is
//! refused as for manifests — an input out of order, a name in two inputs — and so is what
//! b3tree's shards never hold: `/set`, `/unset` and `..` lines (the hierarchical form),
//! whose meaning depends on lines in another input.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::io::{self, BufRead};

use super::kway::Shard;
use crate::manifest::mtree::read::keywords;
use crate::manifest::mtree::write::HEADER;
use crate::names::escape::display;
use crate::names::nameset::normalize;
use crate::names::order::canonical_cmp;
use crate::names::vis;

/// A spec line longer than this is refused (as `check` refuses it).
const MAX_LINE: u64 = 4 << 20;

/// One shard spec being merged.
pub(super) struct SpecInput {
    name: String,
    reader: Box<dyn BufRead + Send>,
    line_no: u64,
    /// The next entry: its name in normal form (the root is empty: it sorts first), its
    /// name as `hash` names it (for its shard), and its line.
    head: Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    last: Option<Vec<u8>>,
    /// Shards (for N = number of inputs) its entries fall in.
    shards: BTreeSet<u64>,
}

impl SpecInput {
    /// `reader` after its `#mtree` line and shard line (`lines_read` of them).
    pub(super) fn new(name: String, reader: Box<dyn BufRead + Send>, lines_read: u64) -> Self {
        SpecInput {
            name,
            reader,
            line_no: lines_read,
            head: None,
            last: None,
            shards: BTreeSet::new(),
        }
    }

    /// Moves to the next entry; checks its form and canonical order.
    fn next(&mut self) -> Result<(), String> {
        loop {
            let mut line = Vec::new();
            let n = io::Read::take(&mut self.reader, MAX_LINE)
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("cannot read {}: {e}", self.name))?;
            if n == 0 {
                self.head = None;
                return Ok(());
            }
            self.line_no += 1;
            let at = format!("{}:{}", self.name, self.line_no);
            if line.last() != Some(&b'\n') {
                if n as u64 == MAX_LINE {
                    return Err(format!("{at}: line too long"));
                }
                line.push(b'\n');
            }
            let text = line.trim_ascii();
            if text.is_empty() || text.starts_with(b"#") {
                continue;
            }
            if let Some(why) = foreign_bytes(text) {
                return Err(format!("{at}: {why}: refusing to merge"));
            }
            let mut words = text
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|w| !w.is_empty());
            let word = words.next().unwrap_or_default();
            // Keywords as `check` reads them: a line it would refuse is not merged.
            keywords(words).map_err(|why| format!("{at}: {why}: refusing to merge"))?;
            if word.starts_with(b"/") || word == b".." || !(word == b"." || word.starts_with(b"./"))
            {
                return Err(format!(
                    "{at}: not a full-path entry line (merge joins the specs b3tree hash \
                     --format mtree --shard writes)"
                ));
            }
            let decoded = vis::decode(word).map_err(|e| format!("{at}: name: {e}"))?;
            // Decoded first: `\056\056` and `\.\.` are `..` too.
            if decoded.split(|b| *b == b'/').any(|c| c == b"..") {
                return Err(format!(
                    "{at}: {} has a `..` component (b3tree hash never writes one): refusing \
                     to merge",
                    display(&decoded)
                ));
            }
            let walked = match decoded.strip_prefix(b"./") {
                Some(rest) => rest.to_vec(),
                None => decoded.clone(),
            };
            let norm = normalize(&decoded);
            if let Some(prev) = &self.last {
                match canonical_cmp(prev, &norm) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        return Err(format!(
                            "{at}: {} is listed twice: refusing to merge",
                            display(&walked)
                        ));
                    }
                    Ordering::Greater => {
                        return Err(format!(
                            "{at}: not in canonical order ({} after {})",
                            display(&walked),
                            display(prev)
                        ));
                    }
                }
            }
            self.last = Some(norm.clone());
            self.head = Some((norm, walked, line));
            return Ok(());
        }
    }
}

/// Why a spec line is none of b3tree's shards': they are printable ASCII (names and values
/// vis-encoded), so a control character, a byte beyond ASCII or a `##[` (which a CI log
/// reads as a command) would only reach whoever reads the merged spec.
fn foreign_bytes(text: &[u8]) -> Option<String> {
    if let Some(b) = (text.iter()).find(|b| !(b.is_ascii_graphic() || matches!(b, b' ' | b'\t'))) {
        return Some(format!(
            "byte 0x{b:02x} in a spec line (b3tree hash --format mtree writes printable ASCII \
             only)"
        ));
    }
    memchr::memmem::find(text, b"##[")
        .map(|_| "a CI log's command marker (`##` then `[`) in a spec line".to_string())
}

impl Shard for SpecInput {
    /// Spec lines are written as they are.
    type Style = ();
    const WHAT: &'static str = "tree spec";
    const HEADER: &'static [u8] = HEADER;

    fn style(_inputs: &[Self]) {}

    fn label(&self) -> &str {
        &self.name
    }

    fn advance(&mut self) -> Result<(), String> {
        self.next()
    }

    fn key(&self) -> Option<&[u8]> {
        self.head.as_ref().map(|(key, _, _)| key.as_slice())
    }

    fn agrees(&self, other: &Self) -> bool {
        let line = |i: &Self| i.head.as_ref().map(|(_, _, line)| line.clone());
        line(self) == line(other)
    }

    fn shown(&self) -> String {
        (self.head.as_ref())
            .map(|(_, walked, _)| display(walked))
            .unwrap_or_default()
    }

    fn take(&mut self, (): (), line: &mut Vec<u8>) -> Vec<u8> {
        let (_, walked, text) = self.head.take().expect("head");
        line.extend_from_slice(&text);
        walked
    }

    fn shards(&mut self) -> &mut BTreeSet<u64> {
        &mut self.shards
    }
}
