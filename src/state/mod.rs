//! The state `hash --update` keeps beside a manifest, so that the next run reads only what
//! changed: for every entry hashed, its digest and the stat facts of the file it was read
//! from (`hash::facts`). The format is specified in `docs/state-format.md`.
//!
//! Two kinds of file, one line format:
//! - the **state** (`MANIFEST.b3tree-state`): the records of the run that wrote MANIFEST,
//!   bound to it by the BLAKE3 of MANIFEST's bytes in its `end` line. A state whose
//!   manifest differs, whose options differ from the command's, or that does not parse, is
//!   not trusted (one notice; the files are read).
//! - **journals** (`MANIFEST.b3tree-journal.N`): the records an `--update` run writes as it
//!   goes, written out at the first record a fraction of a second after the last write, and
//!   synced every few seconds. They are not
//!   temporary files: a run stopped by a signal, a crash or a power cut leaves its journal,
//!   and the next run trusts its records as it trusts the state's. A complete run turns its
//!   own journal into the new state (an `end` line and a rename) and removes the others.
//!
//! Nothing here is trusted blindly: every line carries a checksum and a torn or edited line
//! ends its file's records there; records must come in canonical order; a record is used
//! only when the file's facts still match it and it is not "racy" (see
//! `facts::trusted_times`). The digest of every file not matched is read.
//!
//! One `--update` run is a `session`: prepared before the walk, fed each digest, committed
//! (or kept for the next run) at the end. Which options a state must have been written for
//! is the command's to say (`options::Wanted`): nothing here knows a flag.

pub(crate) mod checked;
pub(crate) mod echo;
pub(crate) mod files;
pub(crate) mod line;
pub(crate) mod open;
pub(crate) mod options;
pub(crate) mod outboard;
pub(crate) mod read;
pub(crate) mod session;
pub(crate) mod write;
