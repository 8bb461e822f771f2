//! Wires the stages together: source → bounded queue → workers → blocking hash → gather.
//!
//! This is the one entry point every command uses (hash walks a tree, check reads a
//! manifest, bench repeats hash without output, digest folds the outcomes). Each stage lives
//! in its own module; this file only builds the channels and semaphores and starts the tasks.

use std::io;
use std::sync::Arc;

use async_lock::Semaphore;

use crate::hash::algo::Mode;
use crate::hash::links::Links;
use crate::pipeline::gate;
use crate::pipeline::gather::gather;
use crate::pipeline::job::Done;
use crate::pipeline::pace::Pace;
use crate::pipeline::queue::Feeder;
use crate::pipeline::rt;
use crate::pipeline::workers::{Crew, ticker, worker};
use crate::sys::open::Confine;

/// Digests up to this many bytes (SHA-512's 64) never shrink the window.
const LONG_DIGEST: usize = 64;

/// The digest bytes a run with long digests may hold in flight (see `digest_cap`).
const DIGEST_BYTES_IN_FLIGHT: usize = 24 << 20;

/// The knobs of the pipeline (validated; see `config`).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Worker tasks (`--jobs`); with `adaptive`, the number active at first.
    pub jobs: usize,
    /// `--jobs` was not given: up to `ceiling` workers, as many active as keep the CPUs and
    /// the device busy (see `gate`).
    pub adaptive: bool,
    /// With `adaptive`, the most workers ever active: `gate::MAX_WORKERS`, fewer where the
    /// filesystem only queues what is beyond that (see `config::fit_to_filesystems`).
    pub ceiling: usize,
    /// Batches the queue holds (`--queue`).
    pub queue: usize,
    /// Files open at once (`--max-open`).
    pub max_open: usize,
    /// Directory handles the walker may hold (from the descriptor budget).
    pub walker_dirs: usize,
    /// Entries per batch.
    pub batch: usize,
    /// How opens after the walk are confined (see `confine`).
    pub confine: Confine,
    /// How files are digested (algorithm, BLAKE3 mode, length).
    pub mode: Arc<Mode>,
    /// After a stop, still emit what was finished before it (see `gather`).
    pub salvage: bool,
    /// The hard-linked files met so far: one per command, so that the passes of a `check`
    /// (its manifests, the audit's walk) read an inode once between them.
    pub links: Arc<Links>,
}

impl EngineConfig {
    /// Worker tasks spawned.
    pub fn max_workers(&self) -> usize {
        if self.adaptive {
            self.ceiling.max(self.jobs)
        } else {
            self.jobs.max(1)
        }
    }

    /// Batches that may be in flight or waiting for reorder at once.
    pub fn window(&self) -> usize {
        let normal = self.queue + 2 * self.max_workers() + 2;
        match self.digest_cap() {
            None => normal,
            Some(cap) => normal.min(cap / self.batch_size()).max(2),
        }
    }

    /// Entries per batch, fewer when digests are long (see [`Self::digest_cap`]).
    pub fn batch_size(&self) -> usize {
        match self.digest_cap() {
            None => self.batch.max(1),
            Some(cap) => self.batch.min(cap / 8).max(1),
        }
    }

    /// With long digests (`-l`, up to 1 MiB each), the entries the pipeline may hold at
    /// once: every entry in flight can carry one (the expected digest of `check`, a state
    /// record's digest for `--update`), so the window is sized by bytes, not entries, and a
    /// run of `-l 1048576` holds about [`DIGEST_BYTES_IN_FLIGHT`] of them whatever the tree.
    fn digest_cap(&self) -> Option<usize> {
        (self.mode.len > LONG_DIGEST).then(|| (DIGEST_BYTES_IN_FLIGHT / self.mode.len).max(2))
    }
}

/// How a run of the pipeline ended.
#[derive(Debug)]
pub struct Finished<R> {
    /// The first error `emit` returned (the run stopped there), or Ok.
    pub emitted: io::Result<()>,
    /// What the source returned (walk counts, what the manifest reader learned).
    pub source: R,
}

/// Runs the pipeline: `source` pushes jobs (on the blocking pool) and returns what it
/// learned; `emit` receives every outcome in canonical order (on the calling thread).
pub fn run<T, R, S, E>(cfg: &EngineConfig, source: S, emit: E) -> Finished<R>
where
    T: Send + 'static,
    R: Send + 'static,
    S: FnOnce(&mut Feeder<T>) -> R + Send + 'static,
    E: FnMut(Done<T>) -> io::Result<()>,
{
    let window = cfg.window();
    let (job_tx, job_rx) = async_channel::bounded(cfg.queue.max(1));
    let (done_tx, done_rx) = async_channel::bounded(window);
    let window_slots = Arc::new(Semaphore::new(window));
    let open_files = Arc::new(Semaphore::new(cfg.max_open.max(1)));
    let batch = cfg.batch_size();

    let gate = cfg
        .adaptive
        .then(|| gate::Gate::new(cfg.jobs.max(1), cfg.max_workers()));
    let pace = gate
        .clone()
        .map(|g| Pace::new(g, cfg.queue, &window_slots, window, batch));
    let walker = rt::spawn_blocking(move || {
        let mut feeder = Feeder::new(job_tx, window_slots, batch, pace);
        let learned = source(&mut feeder);
        feeder.flush();
        learned
        // Dropping the feeder closes the queue: workers drain it and finish.
    });
    let crew = Crew {
        open_files,
        confine: cfg.confine.clone(),
        mode: cfg.mode.clone(),
        gate,
        tick: ticker(),
        links: cfg.links.clone(),
    };
    let workers: Vec<_> = (0..cfg.max_workers())
        .map(|_| rt::spawn(worker(job_rx.clone(), done_tx.clone(), crew.clone())))
        .collect();
    // The workers hold the ticker's event; it stops once they and this are gone.
    drop(crew);
    drop(job_rx);
    drop(done_tx);

    let cfg_salvage = cfg.salvage;
    rt::block_on(async move {
        let emitted = gather(done_rx, cfg_salvage, emit).await;
        let source = walker.await;
        for w in workers {
            w.await;
        }
        Finished { emitted, source }
    })
}
