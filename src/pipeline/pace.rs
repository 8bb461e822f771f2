//! How an adaptive run keeps the entries in flight flat while the gate adds workers.
//!
//! Every active worker needs two batches in the reorder window (the one it reads, the one
//! it finished that waits for an earlier one), so the window a run needs grows with its
//! workers. Sized for all [`gate::MAX_WORKERS`](crate::pipeline::gate::MAX_WORKERS) of
//! 256 entries, it let ~70,000 entries be in flight; and the gate only grows, so a long run
//! on a busy machine met some dip of the CPUs, reached 128 workers, and held that many: a
//! 10,000,000-file `--update` peaked at 21 MiB, twice a 1,000,000-file one. Here the window
//! opens only as far as the active workers need, and batches get smaller as it opens, so
//! that the entries it holds stay what they were at the start (the window twice the first
//! workers need beside the queue, times the full batch): 8 workers, 50 batches of 256; 128
//! workers, 274 of 46. Right after the window opens, slots taken before still hold full
//! batches, so the entries in flight can reach ~1.8 × the start's until those drain. A
//! small batch costs a hand-off to the blocking pool per 46 files instead of per 256 (the gate
//! never shrinks, so a run that grew keeps small batches).

use std::sync::Arc;

use async_lock::{Semaphore, SemaphoreGuardArc};

use crate::pipeline::gate::Gate;

/// The window at the start has room for this many times the first workers: a big file
/// holds its batch's slot while the other workers go on past it (with room for only the
/// first workers, a warm hash of the rustup home took 1.08–1.11 × as long, the walk stalled
/// behind its big libraries; with 4, 1.01 ×, but a 10,000,000-file `--update` peaked at
/// 1.3 × a 1,000,000-file one, where 2 keeps it at 1.2 ×).
const SLACK: usize = 2;

/// A batch never gets smaller than this (the hand-off would cost more than it saves).
const MIN_BATCH: usize = 8;

/// The window and batch size of an adaptive run, following its gate.
pub struct Pace {
    gate: Arc<Gate>,
    queue: usize,
    /// Window permits held back: open = the whole window − these.
    parked: Vec<SemaphoreGuardArc>,
    /// Batches the window lets out now.
    open: usize,
    /// Entries the window may hold: what it held at the start.
    entries: usize,
}

impl Pace {
    /// For a `window` of `whole` slots (all workers), of which the gate's first workers
    /// need a part, and batches of at most `batch` entries. Call before any batch is sent.
    pub fn new(
        gate: Arc<Gate>,
        queue: usize,
        window: &Arc<Semaphore>,
        whole: usize,
        batch: usize,
    ) -> Pace {
        let open = needed(queue, SLACK * gate.active()).min(whole);
        let parked = (open..whole)
            .filter_map(|_| window.try_acquire_arc())
            .collect();
        Pace {
            gate,
            queue,
            parked,
            open,
            entries: open * batch,
        }
    }

    /// The size of the next batch (at most `batch`), opening the window first if the gate
    /// has grown since the last.
    pub fn batch(&mut self, batch: usize) -> usize {
        let want = needed(self.queue, self.gate.active());
        while self.open < want && self.parked.pop().is_some() {
            self.open += 1;
        }
        (self.entries / self.open.max(1)).clamp(MIN_BATCH.min(batch), batch)
    }
}

/// Window slots `active` workers need beside a queue of `queue` batches.
fn needed(queue: usize, active: usize) -> usize {
    queue + 2 * active + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_with_the_gate_and_the_entries_it_holds_stay_flat() {
        let gate = Gate::new(8, 128);
        let whole = needed(16, 128);
        let start = needed(16, SLACK * 8);
        let window = Arc::new(Semaphore::new(whole));
        let mut pace = Pace::new(gate.clone(), 16, &window, whole, 256);
        assert_eq!(pace.batch(256), 256);
        assert_eq!(pace.open, start);
        // Only the open part can be taken.
        let taken: Vec<_> = (0..whole)
            .filter_map(|_| window.try_acquire_arc())
            .collect();
        assert_eq!(taken.len(), start);
        drop(taken);
        while gate.active() < 128 {
            gate.grow();
        }
        let b = pace.batch(256);
        assert_eq!(pace.open, whole);
        assert_eq!(b, start * 256 / whole);
        assert!(pace.open * b <= start * 256);
        let taken: Vec<_> = (0..whole + 1)
            .filter_map(|_| window.try_acquire_arc())
            .collect();
        assert_eq!(taken.len(), whole);
    }

    #[test]
    fn batches_never_shrink_below_the_floor() {
        let gate = Gate::new(1, 128);
        let whole = needed(0, 128);
        let mut small = Pace::new(gate.clone(), 0, &Arc::new(Semaphore::new(whole)), whole, 4);
        let mut large = Pace::new(gate.clone(), 0, &Arc::new(Semaphore::new(whole)), whole, 64);
        while gate.active() < 128 {
            gate.grow();
        }
        // 6 slots × 64 entries over 258 slots is less than 8 entries a batch.
        assert_eq!(large.batch(64), MIN_BATCH);
        assert_eq!(small.batch(4), 4, "never above the batch asked for");
    }
}
