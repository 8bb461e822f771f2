//! What travels through the pipeline: jobs in, outcomes out.
//!
//! Every entry a source produces (a walked file, a manifest line) becomes exactly one
//! [`Job`], in canonical order, and every job leaves the pipeline as exactly one [`Done`]
//! with an [`Outcome`]: a digest, an error record or a skip. That one-to-one rule is what
//! makes "nothing is dropped silently" checkable. A source can attach its own payload `T`
//! (the check command carries the expected digest and manifest line); it rides along
//! untouched.

use std::path::PathBuf;

use async_lock::SemaphoreGuardArc;

use crate::hash::facts::Facts;
use crate::hash::outcome::{Action, Outcome};
use crate::names::entry::EntryName;

/// One entry to process.
#[derive(Debug)]
pub struct Job<T> {
    /// Path to open (relative to the working directory, or absolute).
    pub path: PathBuf,
    /// Name as written to the output (bytes, lossless): mostly a tail of `path`.
    pub name: EntryName,
    pub action: Action,
    pub tag: T,
}

/// A job once processed.
#[derive(Debug)]
pub struct Done<T> {
    /// Name as written to the output.
    pub name: Vec<u8>,
    pub outcome: Outcome,
    /// The stat facts of the file the outcome is about, when it was opened or stat'ed
    /// (`hash --update` records them; `check` compares them for its bit-rot verdict).
    pub facts: Option<Facts>,
    /// The digest is a recorded one, reused because the facts still match (`--update`).
    pub reused: bool,
    pub tag: T,
}

/// Jobs handed to a worker together: one channel message and one blocking-pool hand-off per
/// batch, not per file (a hand-off costs more than hashing a small file).
pub struct Batch<T> {
    /// Batches are numbered in order; the gather stage reorders by this number.
    pub number: u64,
    pub jobs: Vec<Job<T>>,
    /// A slot of the reorder window; released when the gather stage has emitted the batch.
    pub window: SemaphoreGuardArc,
}

/// A batch after hashing, or a part of it, on its way to the gather stage. A batch that
/// takes long (big files) is sent in parts as its files finish, so that what is done reaches
/// the output (and `--update`'s journal) while the rest is read, not when the batch ends.
pub struct DoneBatch<T> {
    pub number: u64,
    /// Parts of one batch are numbered from 0; the last one holds the window slot.
    pub part: u32,
    pub items: Vec<Done<T>>,
    /// The batch's slot of the reorder window, on its last part only (None: more follow).
    pub window: Option<SemaphoreGuardArc>,
}
