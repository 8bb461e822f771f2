//! The worker stage: `--jobs` async tasks that take batches off the queue and hand each one,
//! whole, to the blocking pool.
//!
//! A worker holds one permit of the open-file semaphore for as long as its blocking job
//! runs; the blocking job opens its files one after another, so permits bound the files
//! open at once (`--max-open`). Batches that need no file (walk errors, skipped FIFOs) or
//! that arrive after a stop are settled right here without a hand-off.

use std::path::Path;
use std::sync::Arc;

use async_channel::{Receiver, Sender};
use async_lock::Semaphore;

use crate::hash::algo::Mode;
use crate::hash::facts::Facts;
use crate::hash::file;
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome};
use crate::pipeline::gate::Gate;
use crate::pipeline::job::{Batch, Done, DoneBatch};
use crate::pipeline::rt;
use crate::sys::cancel;
use crate::sys::open::{Confine, DirCache};

/// Runs one worker until the queue is closed and drained.
pub async fn worker<T: Send + 'static>(
    rx: Receiver<Batch<T>>,
    tx: Sender<DoneBatch<T>>,
    open_files: Arc<Semaphore>,
    confine: Confine,
    mode: Arc<Mode>,
    gate: Option<Arc<Gate>>,
) {
    loop {
        // Adaptive: only the gate's active workers take batches.
        let turn = match &gate {
            Some(g) => Some(g.enter().await),
            None => None,
        };
        let Ok(batch) = rx.recv().await else {
            break;
        };
        let needs_files = batch
            .jobs
            .iter()
            .any(|j| !matches!(j.action, Action::Report(_)));
        let done = if needs_files && !cancel::is_stopped() {
            let permit = open_files.acquire_arc().await;
            let confine = confine.clone();
            let mode = mode.clone();
            rt::spawn_blocking(move || {
                let done = process(batch, confine, &mode);
                drop(permit);
                done
            })
            .await
        } else {
            process(batch, confine.clone(), &mode)
        };
        drop(turn);
        if let Some(g) = &gate {
            g.tick();
        }
        if tx.send(done).await.is_err() {
            break;
        }
    }
}

/// Settles every job of a batch, in order. Runs on the blocking pool when files are read.
fn process<T>(batch: Batch<T>, confine: Confine, mode: &Mode) -> DoneBatch<T> {
    // Opened on the first file only: a batch settled on an executor thread (reports only, or
    // after a stop) must not do I/O there.
    let mut dirs: Option<Result<DirCache, EntryError>> = None;
    let mut confine = Some(confine);
    settle(batch, |path, action| {
        if cancel::is_stopped() {
            return Settled::of(Outcome::Failed(EntryError::new(ErrorKind::Cancelled, "")));
        }
        if let Action::HashStream = action {
            return Settled::of(file::hash_stream(path, mode));
        }
        let dirs = dirs.get_or_insert_with(|| {
            // If the root itself cannot be opened, every file of the batch fails so.
            DirCache::new(confine.take().unwrap_or_default())
                .map_err(|e| EntryError::from_io(ErrorKind::Unreadable, &e))
        });
        let dirs = match dirs {
            Ok(d) => d,
            Err(e) => return Settled::of(Outcome::Failed(e.clone())),
        };
        match action {
            Action::Refresh(known) => {
                let (outcome, facts, reused) = file::refresh_in(dirs, path, known, mode);
                Settled {
                    outcome,
                    facts,
                    reused,
                }
            }
            _ => {
                let (outcome, facts) = file::hash_file_in(dirs, path, mode);
                Settled {
                    outcome,
                    facts,
                    reused: false,
                }
            }
        }
    })
}

/// What a worker made of one job that needed the file.
struct Settled {
    outcome: Outcome,
    facts: Option<Facts>,
    reused: bool,
}

impl Settled {
    fn of(outcome: Outcome) -> Settled {
        Settled {
            outcome,
            facts: None,
            reused: false,
        }
    }
}

/// Turns every job into its outcome: reports as they are, files through `hash`.
fn settle<T>(batch: Batch<T>, mut hash: impl FnMut(&Path, &Action) -> Settled) -> DoneBatch<T> {
    let items = batch
        .jobs
        .into_iter()
        .map(|job| {
            let settled = match job.action {
                Action::Report(outcome) => Settled::of(outcome),
                action => hash(&job.path, &action),
            };
            Done {
                name: job.name,
                outcome: settled.outcome,
                facts: settled.facts,
                reused: settled.reused,
                tag: job.tag,
            }
        })
        .collect();
    DoneBatch {
        number: batch.number,
        items,
        window: batch.window,
    }
}
