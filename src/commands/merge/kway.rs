//! The k-way merge both kinds of shard share: every input is in canonical order, so the
//! smallest head is written next and memory holds one entry per input, not the tree. The
//! same name at the head of two inputs is refused (an overlap when the entries agree, a
//! conflict when they differ): with `-o`, one honest output or none (on stdout, the lines
//! before the refusal have gone out, and the exit status says it failed).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::io::{self, Write};

use crate::exit::Exit;
use crate::names::order::canonical_cmp;
use crate::tree_digest::shard_of;

/// Why a merge stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum MergeError {
    /// The inputs cannot make one honest output (order, overlap, conflict, roots).
    #[error("{0}")]
    Refused(String),
    #[error("cannot write the merged {what}: {error}")]
    Write {
        what: &'static str,
        error: io::Error,
    },
}

impl MergeError {
    pub(super) fn exit(&self) -> Exit {
        match self {
            MergeError::Refused(_) => Exit::Failed,
            MergeError::Write { .. } => Exit::Fatal,
        }
    }
}

/// One shard being merged: a reader of entries in canonical order.
pub(super) trait Shard: Sized {
    /// How every output line is written, decided once the first entries are read.
    type Style: Copy;
    /// What the output is called in messages (`manifest`, `tree spec`).
    const WHAT: &'static str;
    /// What the output starts with.
    const HEADER: &'static [u8];

    /// The style of the output, from the inputs' first entries.
    fn style(inputs: &[Self]) -> Self::Style;
    /// The input's name, for messages.
    fn label(&self) -> &str;
    /// Moves to the next entry, checking its form and order; why not.
    fn advance(&mut self) -> Result<(), String>;
    /// The head's name in normal form, the merge's key (None: the input is done).
    fn key(&self) -> Option<&[u8]>;
    /// Both heads say the same of their name (an overlap, not a conflict).
    fn agrees(&self, other: &Self) -> bool;
    /// The head's name, as people read it.
    fn shown(&self) -> String;
    /// Takes the head out: its output line into `line`, and the name that decides its
    /// shard.
    fn take(&mut self, style: Self::Style, line: &mut Vec<u8>) -> Vec<u8>;
    /// The shards (of N = the number of inputs) its entries fell in.
    fn shards(&mut self) -> &mut BTreeSet<u64>;
    /// What is checked once every input is read (the digest shards' roots).
    fn after(_inputs: &[Self]) -> Result<(), String> {
        Ok(())
    }
}

/// Merges `inputs` into `out`; the number of entries written.
pub(super) fn merge<S: Shard>(inputs: &mut [S], out: &mut impl Write) -> Result<u64, MergeError> {
    let write = |error| MergeError::Write {
        what: S::WHAT,
        error,
    };
    for input in inputs.iter_mut() {
        input.advance().map_err(MergeError::Refused)?;
    }
    let n = inputs.len() as u64;
    let style = S::style(inputs);
    out.write_all(S::HEADER).map_err(write)?;
    let mut line = Vec::with_capacity(256);
    let mut count = 0u64;
    while let Some(b) = smallest(inputs)? {
        line.clear();
        let name = inputs[b].take(style, &mut line);
        inputs[b].shards().insert(shard_of(&name, n));
        out.write_all(&line).map_err(write)?;
        count += 1;
        inputs[b].advance().map_err(MergeError::Refused)?;
    }
    S::after(inputs).map_err(MergeError::Refused)?;
    Ok(count)
}

/// The input whose head comes first; a name at two heads is refused.
fn smallest<S: Shard>(inputs: &[S]) -> Result<Option<usize>, MergeError> {
    let mut best: Option<usize> = None;
    for (i, input) in inputs.iter().enumerate() {
        let Some(key) = input.key() else { continue };
        let Some(b) = best else {
            best = Some(i);
            continue;
        };
        match canonical_cmp(key, inputs[b].key().expect("head")) {
            Ordering::Less => best = Some(i),
            Ordering::Greater => {}
            Ordering::Equal => {
                let what = match input.agrees(&inputs[b]) {
                    true => "overlapping",
                    false => "conflicting",
                };
                return Err(MergeError::Refused(format!(
                    "{what} entries for {} in {} and {}: refusing to merge",
                    input.shown(),
                    inputs[b].label(),
                    input.label()
                )));
            }
        }
    }
    Ok(best)
}
