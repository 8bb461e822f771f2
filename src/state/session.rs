//! `hash --update`'s session: the state and journals beside the manifest over one hash run
//! (prepared by the plan, fed by the sink, committed or kept by the finish). What the state
//! must have been written for (its options text) is the command's to say (`config::hash`).
//!
//! Before the walk: the sources of known digests are opened (journals of stopped runs,
//! newest first, then the state if it is bound to the manifest now in place), and this
//! run's own journal is created. During the walk (in canonical order) each file's name is
//! looked up in every source, each a forward-only cursor, so memory does not grow with the
//! tree; a file with a trusted record becomes a `Refresh` job (the worker reuses the digest
//! if the stat facts still match, else reads). Every digest the run ends with is appended
//! to the journal. After the run: a manifest that replaced the old one gets the journal as
//! its new state and the other journals go; otherwise the journal stays for the next run.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::hash::algo::Digest;
use crate::hash::facts::{Facts, Known};
use crate::hash::outcome::Action;
use crate::names::temp::remove_unlocked;
use crate::state::echo::Echo;
use crate::state::files::{MAX_JOURNALS, Place, Seen, bound, create_journal, replaceable};
use crate::state::options::Wanted;
use crate::state::read::StateReader;
use crate::state::write::Journal;

/// The sources of known digests, in the order they are trusted (newest first).
pub(crate) struct Sources {
    readers: Vec<StateReader>,
}

impl Sources {
    /// The action for the walked file `name`: `Refresh` with the newest trusted record of
    /// it, else the walk's own. Every cursor moves past `name`.
    pub fn action_for(&mut self, name: &[u8], action: Action) -> Action {
        if !matches!(action, Action::Hash) {
            return action;
        }
        let mut found = None;
        for r in &mut self.readers {
            let known = r.find_text(name);
            if found.is_none() {
                found = known;
            }
        }
        match found {
            Some(text) => Action::Refresh(text),
            None => action,
        }
    }

    /// One line per source whose records ended early, for the notices after the run.
    pub fn problems(&self) -> Vec<String> {
        self.readers
            .iter()
            .filter_map(|r| {
                r.problem()
                    .map(|p| format!("{}: {p}; the files after it were read", r.path().display()))
            })
            .collect()
    }
}

/// What a run with `--update` keeps on the side of the hash run.
pub(crate) struct Update {
    place: Place,
    journal: Journal,
    /// While the run repeats the state's records, none is written (`state::echo`).
    echo: Option<Echo>,
    /// Journals found at the start: removed once a complete run replaced the manifest.
    old_journals: Vec<PathBuf>,
    /// The manifest as found at the start, when the state was bound to it and used.
    state_seen: Option<Seen>,
    /// Journals of stopped runs were read.
    resumed: bool,
    pub reused: (u64, u64),
    pub read: (u64, u64),
}

/// Opens the sources and creates this run's journal for the manifest at `real` (symlinks
/// resolved). Notices (why a file is not used) go to `notice`. Err: the journal cannot be
/// created.
pub(crate) fn prepare(
    real: &Path,
    options: &Wanted,
    started: SystemTime,
    notice: &mut dyn FnMut(String),
) -> Result<(Update, Sources), String> {
    let place = Place::of(real);
    let journals = place.journals().unwrap_or_default();
    let mut readers = Vec::new();
    for (_, path) in journals.iter().take(MAX_JOURNALS) {
        match StateReader::open(path, Some(options)) {
            Ok(Some(r)) => readers.push(r),
            Ok(None) => {}
            Err(why) => notice(format!("{} not used: it {why}", path.display())),
        }
    }
    let resumed = readers.len();
    let state = place.state();
    let mut state_seen = None;
    let mut echo = None;
    match bound(&state, real) {
        Ok(Some(seen)) => match StateReader::open(&state, Some(options)) {
            Ok(Some(r)) => {
                echo = Echo::open(&state, options, &r);
                readers.push(r);
                state_seen = Some(seen);
            }
            Ok(None) => {}
            Err(why) => notice(format!(
                "{} not used: it {why}; every file is read",
                state.display()
            )),
        },
        Ok(None) if resumed == 0 => notice(format!(
            "no state for {} yet: every file is read (the next --update reads only what \
             changed)",
            real.display()
        )),
        Ok(None) => {}
        Err(why) => notice(format!(
            "{} not used: {why}; every file not in a journal is read",
            state.display()
        )),
    }
    if resumed > 0 {
        notice(format!(
            "resuming: {} of a stopped run {} used",
            if resumed == 1 {
                "the journal"
            } else {
                "journals"
            },
            if resumed == 1 { "is" } else { "are" }
        ));
    }
    let mut journal = Journal::create(place.dir(), started, options.text)
        .map_err(|e| format!("cannot create a journal in {}: {e}", place.dir().display()))?;
    create_journal(&place, &journals, |path| {
        journal
            .name(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display())))
    })
    .map_err(|e| e.to_string())?;
    let update = Update {
        place,
        journal,
        echo,
        old_journals: journals.into_iter().map(|(_, p)| p).collect(),
        state_seen,
        resumed: resumed > 0,
        reused: (0, 0),
        read: (0, 0),
    };
    Ok((update, Sources { readers }))
}

impl Update {
    /// This run's journal (never hashed, like the rest of `Place::own_paths`).
    pub fn journal_path(&self) -> &Path {
        self.journal.path()
    }

    /// Records a digest the run ended with: in the journal, and in the counts.
    pub fn record(
        &mut self,
        name: &[u8],
        hash: &Digest,
        facts: Facts,
        reused: bool,
    ) -> std::io::Result<()> {
        let count = if reused {
            &mut self.reused
        } else {
            &mut self.read
        };
        count.0 += 1;
        count.1 += facts.size;
        let known = Known {
            facts,
            hash: hash.clone(),
        };
        if let Some(echo) = &mut self.echo {
            if echo.repeats(name, &known) {
                return Ok(());
            }
            if let Some(echo) = self.echo.take() {
                echo.write_into(&mut self.journal)?;
            }
        }
        self.journal.record(name, &known)
    }

    /// Called once the manifest is complete and about to replace the one in place: the
    /// records still only repeated are copied into the journal now, while a stop during the
    /// copy can still leave the old manifest and its state as they were (Err(Interrupted):
    /// the manifest must not be replaced; the journal stays for the next run).
    pub fn before_replace(&mut self) -> io::Result<()> {
        let Some(echo) = self.echo.take() else {
            return Ok(());
        };
        if !echo.write_into(&mut self.journal)? && crate::sys::cancel::is_stopped() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "stopped"));
        }
        Ok(())
    }

    /// The manifest as the state knew it, if the state was used: a run that writes the same
    /// bytes leaves it in place when it is still that file.
    pub fn manifest_seen(&self) -> Option<&Seen> {
        self.state_seen.as_ref()
    }

    /// The manifest at `real` is complete: the journal becomes its state, bound to its bytes
    /// (`written`: their BLAKE3 as written, else they are read back), and the older journals
    /// go. When the manifest was left as it was (`unchanged`), nothing was read and the run
    /// repeated every record of the state byte for byte, the state is still exact: it stays,
    /// and the journal goes.
    pub fn commit(
        self,
        real: &Path,
        written: Option<blake3::Hash>,
        unchanged: bool,
    ) -> Result<(), String> {
        // The state stays only if this run repeated it whole: a run whose records differ
        // only in a device number (a remount) writes them, or every later run would again.
        let exact = self.echo.as_ref().is_some_and(Echo::complete);
        if unchanged && exact && self.read.0 == 0 && !self.resumed && self.state_seen.is_some() {
            self.journal.discard();
            for old in &self.old_journals {
                remove_unlocked(old);
            }
            return Ok(());
        }
        let state = self.place.state();
        // Another user's file under the state's name stays; the journal is kept instead.
        if let Err(why) = replaceable(&state) {
            return Err(match self.keep() {
                Ok(()) => format!("{why} (this run's journal stays beside it)"),
                Err(e) => format!("{why}; {e}"),
            });
        }
        let digest = match written {
            Some(d) => d,
            None => match crate::state::files::file_digest(real) {
                Ok(Some(d)) => d,
                Ok(None) => return Err(format!("{} is gone", real.display())),
                Err(e) => return Err(format!("cannot read {} back: {e}", real.display())),
            },
        };
        let mut journal = self.journal;
        // Only a manifest left as it was gets here with records still to copy
        // (`before_replace` copied them otherwise): stopped during the copy, the state in
        // place is still exact and bound to it; the journal stays for the next run.
        if let Some(echo) = self.echo {
            let copied = echo
                .write_into(&mut journal)
                .map_err(|e| format!("cannot write the state: {e}"))?;
            if !copied && crate::sys::cancel::is_stopped() {
                let path = journal.path().to_path_buf();
                return journal
                    .keep()
                    .map_err(|e| format!("cannot write {}: {e}", path.display()));
            }
        }
        journal
            .finish(&digest)
            .map_err(|e| format!("cannot write the state: {e}"))?;
        // Renamed while still locked: a concurrent run never takes it for a stopped one.
        std::fs::rename(journal.path(), &state).map_err(|e| {
            format!(
                "cannot rename {} to {}: {e}",
                journal.path().display(),
                state.display()
            )
        })?;
        drop(journal);
        for old in &self.old_journals {
            remove_unlocked(old);
        }
        Ok(())
    }

    /// The manifest was not replaced: the journal stays for the next run.
    pub fn keep(self) -> Result<(), String> {
        let path = self.journal.path().to_path_buf();
        self.journal
            .keep()
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}
