//! The worker stage: `--jobs` async tasks that take batches off the queue and hand each one,
//! whole, to the blocking pool.
//!
//! A worker holds one permit of the open-file semaphore for as long as its blocking job
//! runs; the blocking job opens its files one after another, so permits bound the files
//! open at once (`--max-open`). Batches that need no file (walk errors, skipped FIFOs) or
//! that arrive after a stop are settled right here without a hand-off.
//!
//! A batch that takes long (big files) goes to the gather stage in parts: every
//! [`PART_EVERY`] the worker sends what its blocking job has finished so far, so that a
//! finished file reaches the output and `--update`'s journal while the rest of its batch is
//! still read (a stop or a SIGKILL then loses only what was unfinished).

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use async_lock::Semaphore;
use event_listener::Event;

use crate::hash::algo::Mode;
use crate::hash::facts::{Facts, Known};
use crate::hash::file;
use crate::hash::links::Links;
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome};
use crate::pipeline::gate::Gate;
use crate::pipeline::job::{Batch, Done, DoneBatch, Job};
use crate::pipeline::rt;
use crate::sys::cancel;
use crate::sys::open::{Confine, DirCache};

/// What every worker of a run shares.
#[derive(Clone)]
pub struct Crew {
    /// Permits to hold files open (`--max-open`).
    pub open_files: Arc<Semaphore>,
    pub confine: Confine,
    pub mode: Arc<Mode>,
    /// Adaptive `--jobs`: which workers are active.
    pub gate: Option<Arc<Gate>>,
    /// Every [`PART_EVERY`] (see [`ticker`]).
    pub tick: Arc<Event>,
    /// The run's hard-linked files (read once).
    pub links: Arc<Links>,
}

/// Runs one worker until the queue is closed and drained.
pub async fn worker<T: Send + 'static>(
    rx: Receiver<Batch<T>>,
    tx: Sender<DoneBatch<T>>,
    crew: Crew,
) {
    loop {
        // Adaptive: only the gate's active workers take batches.
        let turn = match &crew.gate {
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
        let Batch {
            number,
            jobs,
            window,
        } = batch;
        let done: Arc<Mutex<Vec<Done<T>>>> = Arc::new(Mutex::new(Vec::with_capacity(jobs.len())));
        let mut part = 0;
        if needs_files && !cancel::reads_stop() {
            let permit = crew.open_files.acquire_arc().await;
            let Crew {
                confine,
                mode,
                links,
                ..
            } = crew.clone();
            let into = done.clone();
            let mut job = rt::spawn_blocking(move || {
                process(jobs, confine, &mode, &links, &into);
                drop(permit);
            });
            // While the batch is read, what is done goes ahead at each tick (every
            // PART_EVERY): a record never waits behind a big file for the end of its batch.
            while let Waited::Tick = finished_or_tick(&mut job, &crew.tick).await {
                let items = std::mem::take(&mut *lock(&done));
                if items.is_empty() {
                    continue;
                }
                let ahead = DoneBatch {
                    number,
                    part,
                    items,
                    window: None,
                };
                part += 1;
                if tx.send(ahead).await.is_err() {
                    // The gather stage is gone: let the job end, and stop.
                    job.await;
                    return;
                }
            }
        } else {
            process(jobs, crew.confine.clone(), &crew.mode, &crew.links, &done);
        }
        drop(turn);
        if let Some(g) = &crew.gate {
            g.tick(!rx.is_empty());
        }
        let last = DoneBatch {
            number,
            part,
            items: std::mem::take(&mut *lock(&done)),
            window: Some(window),
        };
        if tx.send(last).await.is_err() {
            break;
        }
    }
}

/// A batch still being read sends what is done this often.
const PART_EVERY: Duration = Duration::from_millis(250);

/// One timer for every worker of a run, which it notifies every [`PART_EVERY`] until the
/// run drops the event. (A timer per batch cost a reactor wake-up and its system calls —
/// timerfd_settime, epoll_ctl, an eventfd write — for every batch, most of which end long
/// before it would fire.)
pub fn ticker() -> Arc<Event> {
    let tick = Arc::new(Event::new());
    let weak = Arc::downgrade(&tick);
    rt::spawn(async move {
        loop {
            rt::sleep(PART_EVERY).await;
            match weak.upgrade() {
                Some(tick) => tick.notify(usize::MAX),
                None => break,
            };
        }
    });
    tick
}

/// What a worker waited for.
enum Waited {
    Finished,
    Tick,
}

/// Waits for the blocking job to finish or the next tick, whichever comes first.
async fn finished_or_tick(job: &mut rt::JoinHandle<()>, tick: &Event) -> Waited {
    let mut listener = tick.listen();
    std::future::poll_fn(|cx| {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::Poll;
        if Pin::new(&mut *job).poll(cx).is_ready() {
            return Poll::Ready(Waited::Finished);
        }
        match Pin::new(&mut listener).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Waited::Tick),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// The list a batch's outcomes go to (a panic while holding it leaves whole entries only).
fn lock<T>(done: &Mutex<Vec<Done<T>>>) -> std::sync::MutexGuard<'_, Vec<Done<T>>> {
    done.lock().unwrap_or_else(|p| p.into_inner())
}

/// Settles every job of a batch, in order, into `done`. Runs on the blocking pool when
/// files are read.
fn process<T>(
    jobs: Vec<Job<T>>,
    confine: Confine,
    mode: &Mode,
    links: &Links,
    done: &Mutex<Vec<Done<T>>>,
) {
    // Opened on the first file only: a batch settled on an executor thread (reports only, or
    // after a stop) must not do I/O there.
    let mut dirs: Option<Result<DirCache, EntryError>> = None;
    let mut confine = Some(confine);
    settle(jobs, done, |path, action| {
        if cancel::reads_stop() {
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
        if let Action::Describe(content) = action {
            let (outcome, facts) = file::describe_in(dirs, path, *content, mode, links);
            return Settled {
                outcome,
                facts,
                reused: false,
            };
        }
        // A record that does not parse is no record: the file is read.
        let known = match action {
            Action::Refresh(text) => Known::parse_text(text),
            _ => None,
        };
        let (outcome, facts, reused) = match known {
            Some(known) => file::refresh_in(dirs, path, &known, mode, links),
            None => {
                let (outcome, facts) = file::hash_file_in(dirs, path, mode, links);
                (outcome, facts, false)
            }
        };
        Settled {
            outcome,
            facts,
            reused,
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

/// Turns every job into its outcome, in order, each pushed to `done` as it is reached:
/// reports as they are, files through `hash`.
fn settle<T>(
    jobs: Vec<Job<T>>,
    done: &Mutex<Vec<Done<T>>>,
    mut hash: impl FnMut(&Path, &Action) -> Settled,
) {
    for job in jobs {
        let settled = match job.action {
            Action::Report(outcome) => Settled::of(outcome),
            action => hash(&job.path, &action),
        };
        lock(done).push(Done {
            name: job.name.into_vec(job.path),
            outcome: settled.outcome,
            facts: settled.facts,
            reused: settled.reused,
            tag: job.tag,
        });
    }
}
