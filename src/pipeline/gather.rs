//! The gather stage: puts finished batches back in canonical order and hands each outcome,
//! exactly once, to the consumer (the output writer of hash, the verdicts of check...).
//!
//! Reordering holds at most the reorder window's worth of batches (see `queue`), so memory
//! does not grow with the tree. The consumer runs on this thread and may block on its
//! output. If it fails (disk full, stdout closed) the run is stopped, the rest is drained
//! without output, and the first error is returned.

use std::collections::BTreeMap;
use std::io;

use async_channel::Receiver;

use crate::hash::outcome::{ErrorKind, Outcome};
use crate::pipeline::job::{Done, DoneBatch};
use crate::sys::cancel;

/// Drains `rx`, calling `emit` for every outcome in canonical order until the channel closes.
///
/// After a stop (Ctrl-C, a signal, a failed `emit`), nothing more is emitted — unless
/// `salvage`: then what was finished before the stop still goes to `emit`, in order (also
/// after `emit` failed: the first error is the one returned), and only the entries the stop
/// cancelled are left out (`hash --update` keeps every digest it
/// has in its journal; a resumed run does not read those files again).
pub async fn gather<T>(
    rx: Receiver<DoneBatch<T>>,
    salvage: bool,
    mut emit: impl FnMut(Done<T>) -> io::Result<()>,
) -> io::Result<()> {
    // Keyed by (batch, part): a batch may arrive in parts, the last holding the window slot.
    let mut waiting: BTreeMap<(u64, u32), DoneBatch<T>> = BTreeMap::new();
    let mut next = (0u64, 0u32);
    let mut failure = None;
    while let Ok(batch) = rx.recv().await {
        waiting.insert((batch.number, batch.part), batch);
        while let Some(batch) = waiting.remove(&next) {
            let DoneBatch { items, window, .. } = batch;
            next = match window {
                Some(_) => (next.0 + 1, 0),
                None => (next.0, next.1 + 1),
            };
            for done in items {
                if failure.is_some() && !salvage {
                    break;
                }
                if cancel::is_stopped() && !(salvage && finished(&done.outcome)) {
                    continue;
                }
                // After a failure (salvage only), what `emit` still keeps (a journal record)
                // is kept; its later errors add nothing to the first.
                if let Err(e) = emit(done) {
                    cancel::request_stop();
                    failure.get_or_insert(e);
                }
            }
            // Its window slot is freed only now, once emitted: the source may send one more.
            drop(window);
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// An outcome the run reached on its own, not one a stop imposed.
fn finished(outcome: &Outcome) -> bool {
    !matches!(outcome, Outcome::Failed(e) if e.kind == ErrorKind::Cancelled)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_lock::Semaphore;

    use super::*;
    use crate::hash::outcome::{Outcome, SkipKind};
    use crate::pipeline::rt;

    fn batch(number: u64, names: &[&str], slots: &Arc<Semaphore>) -> DoneBatch<()> {
        DoneBatch {
            number,
            part: 0,
            items: names
                .iter()
                .map(|n| Done {
                    name: n.as_bytes().to_vec(),
                    facts: None,
                    reused: false,
                    outcome: Outcome::Skipped(SkipKind::Other),
                    tag: (),
                })
                .collect(),
            window: Some(slots.acquire_arc_blocking()),
        }
    }

    #[test]
    fn batches_arriving_out_of_order_are_emitted_in_order_each_once() {
        let slots = Arc::new(Semaphore::new(8));
        let (tx, rx) = async_channel::bounded(8);
        for b in [
            batch(2, &["e"], &slots),
            batch(0, &["a", "b"], &slots),
            batch(1, &["c", "d"], &slots),
        ] {
            tx.send_blocking(b).unwrap();
        }
        drop(tx);
        let mut seen = Vec::new();
        let result = rt::block_on(gather(rx, false, |d| {
            seen.push(String::from_utf8(d.name).unwrap());
            Ok(())
        }));
        assert!(result.is_ok());
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
        // Every window slot came back.
        assert!(slots.try_acquire_arc().is_some());
        assert_eq!(Arc::strong_count(&slots), 1);
    }
}
