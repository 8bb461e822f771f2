//! `hash --outboard`: the outboard beside the `-o` manifest, written entry by entry as the
//! manifest is, in its order, and put in place when the manifest is.
//!
//! A file read in this run has its group values in the run's spool (`hash::outboard`),
//! found by the version of the file the read saw. A file whose digest `--update` reused
//! keeps the entry of the old outboard, copied once its root is checked against that digest;
//! the walk sends a file that the old outboard lacks to be read instead (`reads`), so every
//! big file ends with its data unless something says otherwise.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::exit::Fail;
use crate::hash::algo::{Digest, Mode};
use crate::hash::facts::Known;
use crate::hash::groups;
use crate::hash::outboard::{self as spool, Spool};
use crate::hash::outcome::{Action, Outcome};
use crate::names::escape::display;
use crate::pipeline::job::Done;
use crate::report::stderr::Reporter;
use crate::report::summary::plural;
use crate::state::files::Place;
use crate::state::outboard::{Outboard, Writer};

/// What the sink keeps for the outboard.
pub(super) struct Keep {
    writer: Writer,
    spool: Arc<Spool>,
    /// `--update`: the outboard the reused digests' data comes from.
    old: Option<Outboard>,
    mode: Mode,
    /// Big files whose digest was reused left without data, and the first of them.
    lacking: (u64, Option<Vec<u8>>),
    /// Big files read but whose data was not found (a digest given by another name that
    /// was not read in this run), and the first.
    unkept: (u64, Option<Vec<u8>>),
    /// The first error writing the new outboard (it is then not put in place).
    failed: Option<String>,
}

/// The outboard of the manifest at `real` (its real path), with groups of `group` bytes:
/// the spool started, the new outboard begun; with `update`, the old one opened twice (one
/// for the walk, returned, and one for the sink).
pub(super) fn prepare(
    real: Option<&Path>,
    group: u64,
    mode: &Mode,
    update: bool,
) -> Result<(Keep, Option<Outboard>), Fail> {
    let Some(real) = real else {
        return Err(Fail::usage(
            "--outboard keeps its data beside the manifest: -o must name a regular file",
        ));
    };
    let place = Place::of(real);
    let path = place.outboard();
    let spool = Spool::new(place.dir(), group)
        .map_err(|e| Fail::fatal(format!("cannot make a temporary file for --outboard: {e}")))?;
    let spool = Arc::new(spool);
    spool::start(spool.clone());
    let writer = Writer::create(&path, group).map_err(Fail::fatal)?;
    let old = || match Outboard::open(&path) {
        Ok(o) => o.filter(|o| o.group() == group),
        Err(e) => {
            let shown = display(path.as_os_str().as_encoded_bytes());
            crate::report::stderr::say(format_args!("{shown}: {e}; its data is not reused"));
            None
        }
    };
    let (for_sink, for_walk) = match update {
        true => (old(), old()),
        false => (None, None),
    };
    let keep = Keep {
        writer,
        spool,
        old: for_sink,
        mode: mode.clone(),
        lacking: (0, None),
        unkept: (0, None),
        failed: None,
    };
    Ok((keep, for_walk))
}

/// `--update`'s walk: a file whose recorded digest would be reused is read instead when it
/// is big and the old outboard (if there is one) has no entry for it: its data is computed
/// by the read.
pub(super) fn reads(old: &mut Option<Outboard>, name: &[u8], action: Action) -> Action {
    let Action::Refresh(text) = &action else {
        return action;
    };
    let big = Known::parse_text(text).is_some_and(|k| k.facts.size >= groups::MIN_SIZE);
    let has = match old {
        _ if !big => true,
        Some(o) => o.find(name).unwrap_or(None).is_some(),
        None => false,
    };
    if has { action } else { Action::Hash }
}

impl Keep {
    /// The entry of one finished file, in manifest order.
    pub(super) fn entry(&mut self, done: &Done<()>) {
        let Outcome::Hashed { hash, size } = &done.outcome else {
            return;
        };
        if self.failed.is_some() || !groups::applies(&self.mode, *size) {
            return;
        }
        let kept = match done.reused {
            true => self.copy_old(&done.name, hash, *size),
            false => {
                let at = done.facts.as_ref().and_then(|f| self.spool.take(f));
                at.map(|at| {
                    let spool = &self.spool;
                    self.writer
                        .entry(&done.name, *size, |w| spool.copy(at, *size, w))
                })
                .transpose()
                .map(|k| k.is_some())
            }
        };
        let count = match done.reused {
            true => &mut self.lacking,
            false => &mut self.unkept,
        };
        match kept {
            Ok(true) => {}
            Ok(false) => {
                count.0 += 1;
                count.1.get_or_insert_with(|| done.name.clone());
            }
            Err(e) => self.failed = Some(e.to_string()),
        }
    }

    /// Copies the old outboard's entry of `name`, if it has one whose root is `hash`.
    fn copy_old(&mut self, name: &[u8], hash: &Digest, size: u64) -> io::Result<bool> {
        let Some(old) = &mut self.old else {
            return Ok(false);
        };
        let found = old.find(name).and_then(|e| match e {
            Some(e) if e.size == size && old.authentic(&e, &self.mode, hash)? => Ok(Some(e)),
            _ => Ok(None),
        });
        match found {
            Ok(Some(e)) => old.copy(name, &e, &mut self.writer).map(|()| true),
            Ok(None) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => {
                // A damaged old outboard: its data is no longer reused.
                let shown = display(old.path().as_os_str().as_encoded_bytes());
                crate::report::stderr::say(format_args!("{shown}: {e}; its data is not reused"));
                self.old = None;
                Ok(false)
            }
        }
    }

    /// (device, inode) of the new outboard's temporary file: a walk leaves it out.
    pub(super) fn temp_id(&self) -> Option<(u64, u64)> {
        self.writer.id()
    }

    /// Puts the outboard in place when the manifest was (`committed`); says what it lacks.
    /// False when it was asked for and could not be written.
    pub(super) fn finish(self, committed: bool, reporter: &Reporter) -> bool {
        let failure = self.failed.or_else(|| self.spool.failure());
        if let Some(e) = failure {
            reporter.error(&format!("the outboard was not written: {e}"));
            return false;
        }
        if !committed {
            reporter.error("the outboard was not written: the manifest was not replaced");
            return true;
        }
        if let (n @ 1.., Some(first)) = self.lacking {
            reporter.error(&format!(
                "the outboard lacks the data of {} (the first: {}): its digest was reused and \
                 the old outboard had none that matched; hash without --update to compute it",
                plural(n, "file", "files"),
                display(&first)
            ));
        }
        if let (n @ 1.., Some(first)) = self.unkept {
            reporter.error(&format!(
                "the outboard lacks the data of {} (the first: {}): its digest came without a \
                 read in this run",
                plural(n, "file", "files"),
                display(&first)
            ));
        }
        match self.writer.commit() {
            Ok(()) => true,
            Err(e) => {
                reporter.error(&e);
                false
            }
        }
    }
}
