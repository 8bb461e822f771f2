//! The bounded queue between a source (walker, manifest reader) and the workers.
//!
//! A [`Feeder`] numbers jobs in canonical order, packs them into batches and sends the
//! batches over a bounded async-channel with `send_blocking` (sources are synchronous code
//! running on the blocking pool). Two bounds keep memory flat for any tree size:
//! - the channel holds at most `--queue` batches;
//! - every batch first takes a slot of the reorder window (a semaphore), released only when
//!   the gather stage has written that batch out. A slow file can therefore hold back at most
//!   `window` batches of finished results, never the rest of the tree.
//!
//! Batching is what amortises the hand-off to the blocking pool. A batch is sent when full,
//! or earlier when the channel is empty (the workers are waiting: a partial batch now beats
//! a full one later). When hashing is the bottleneck the channel stays full and batches
//! fill up; when the walk is, workers get work as soon as it exists.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::Sender;
use async_lock::Semaphore;

use crate::hash::outcome::Action;
use crate::names::entry::EntryName;
use crate::pipeline::job::{Batch, Job};
use crate::pipeline::pace::Pace;
use crate::sys::cancel;

/// Producer side of the queue.
pub struct Feeder<T> {
    tx: Sender<Batch<T>>,
    window: Arc<Semaphore>,
    pending: Vec<Job<T>>,
    /// The most entries in a batch.
    batch_size: usize,
    /// The size of the batch being filled: `batch_size`, or less as an adaptive run's
    /// window opens (see `pace`).
    batch_now: usize,
    pace: Option<Pace>,
    next_batch: u64,
    last_sent: Instant,
}

/// A batch sent before it is full holds at least this many jobs …
const EARLY_MIN: usize = 128;
/// … unless the last batch left this long ago (a slow walk still feeds the workers).
const EARLY_AFTER: Duration = Duration::from_millis(1);

impl<T> Feeder<T> {
    pub(crate) fn new(
        tx: Sender<Batch<T>>,
        window: Arc<Semaphore>,
        batch_size: usize,
        mut pace: Option<Pace>,
    ) -> Self {
        let batch_now = pace.as_mut().map_or(batch_size, |p| p.batch(batch_size));
        Feeder {
            tx,
            window,
            pending: Vec::with_capacity(batch_now),
            batch_size,
            batch_now,
            pace,
            next_batch: 0,
            last_sent: Instant::now(),
        }
    }

    /// Queues one entry. Returns false once the run is stopping: the source should stop.
    pub fn push(&mut self, path: PathBuf, name: EntryName, action: Action, tag: T) -> bool {
        if cancel::is_stopped() {
            return false;
        }
        self.pending.push(Job {
            path,
            name,
            action,
            tag,
        });
        if self.pending.len() >= self.batch_now || (self.tx.is_empty() && self.worth_early()) {
            return self.flush();
        }
        true
    }

    /// Whether a batch that is not full is worth sending now that the workers wait: it
    /// holds [`EARLY_MIN`] jobs, or the last batch left [`EARLY_AFTER`] ago. Without the
    /// bound, a walk slower than the workers (many small directories, or `--update`, whose
    /// workers only stat) sent a batch for every few files, each with its hand-off to the
    /// blocking pool and its wake-ups.
    fn worth_early(&self) -> bool {
        self.pending.len() >= EARLY_MIN.min(self.batch_now)
            || self.last_sent.elapsed() >= EARLY_AFTER
    }

    /// Sends what is pending. Blocks while the window or the channel is full.
    pub fn flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return !cancel::is_stopped();
        }
        // Open what the gate has grown to before waiting for a slot, and size the next batch.
        if let Some(pace) = &mut self.pace {
            self.batch_now = pace.batch(self.batch_size);
        }
        let window = self.window.acquire_arc_blocking();
        let jobs = std::mem::replace(&mut self.pending, Vec::with_capacity(self.batch_now));
        let batch = Batch {
            number: self.next_batch,
            jobs,
            window,
        };
        self.next_batch += 1;
        self.last_sent = Instant::now();
        self.tx.send_blocking(batch).is_ok() && !cancel::is_stopped()
    }
}
