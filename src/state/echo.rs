//! An `--update` run that repeats its state writes no journal. While every record the run
//! ends with is, in order, the state's own next record byte for byte, nothing is written:
//! a second cursor over the state (the mirror, its own open file, checked to be the same
//! file the walk's cursor reads) tells. At the first record that differs, the records
//! repeated so far are copied from the state — its sealed blocks as they lie in the file,
//! then the lines of the block in progress — and the journal goes on as before; the copy
//! is exactly what the run would have written itself (the records are the same bytes), in
//! other blocks.
//!
//! Why: the state of ten million files is 1.5 GB. Writing it again on every run of an
//! unchanged tree, and syncing it every few seconds, was most of the run's time (measured:
//! `docs/performance.md`, "Ten million files"). A run stopped before it departs from the
//! state leaves a journal without those records: the next run finds them in the state, which
//! is still bound to the manifest a stopped run does not replace.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::hash::facts::Known;
use crate::state::line;
use crate::state::options::Wanted;
use crate::state::read::StateReader;
use crate::state::write::Journal;

/// The mirror over the state, and the records repeated so far.
pub(crate) struct Echo {
    mirror: StateReader,
    line: Vec<u8>,
    count: u64,
}

impl Echo {
    /// A mirror of the state at `path`, if it opens as the same file as `walked` (the walk's
    /// cursor over it: a state renamed in between by a concurrent run is not mirrored).
    pub fn open(path: &Path, options: &Wanted, walked: &StateReader) -> Option<Echo> {
        let mirror = StateReader::open(path, Some(options)).ok()??;
        let id = |r: &StateReader| r.file().metadata().ok().map(|m| (m.dev(), m.ino()));
        (id(&mirror).is_some() && id(&mirror) == id(walked)).then(|| Echo {
            mirror,
            line: Vec::new(),
            count: 0,
        })
    }

    /// Whether `name`'s record is the state's next one, byte for byte; if so the mirror
    /// moves past it and nothing needs writing.
    pub fn repeats(&mut self, name: &[u8], known: &Known) -> bool {
        self.line.clear();
        line::record(name, known, &mut self.line);
        self.line.pop();
        if self.mirror.peek_line() != Some(self.line.as_slice()) {
            return false;
        }
        self.mirror.pass();
        self.count += 1;
        true
    }

    /// Every record of the state was repeated, and the state ended as it should: the state
    /// is exact for this run.
    pub fn complete(&self) -> bool {
        self.mirror.at_end()
    }

    /// Writes the records repeated so far into `journal`. Ok(false): a stop (or a state
    /// that could no longer be read) came during the copy, which was taken back; the journal
    /// goes on without them.
    pub fn write_into(self, journal: &mut Journal) -> io::Result<bool> {
        if self.count == 0 {
            return Ok(true);
        }
        let (range, lines) = self.mirror.passed();
        journal.append_copied(self.mirror.file(), range, lines, self.count)
    }
}
