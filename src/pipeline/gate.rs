//! How many workers hash at once when `--jobs` is not given: as few as keep the CPUs busy,
//! as many as keep the device busy.
//!
//! A warm tree is CPU-bound: more workers than the default only add contention (measured:
//! `-j 32` 1.03 × and `-j 128` 1.04 × the default's wall time). A cold tree is I/O-bound: the
//! device needs a deep queue, and `-j 128` was 1.4 × faster than the default. So all
//! [`MAX_WORKERS`] worker tasks exist, but only `active` of them may take a batch; every
//! [`PERIOD`] (and at least [`MIN_TICKS`] of the machine's clock), the process's CPU use over
//! the period decides: CPUs less than
//! [`GROW_BELOW`] busy while batches wait in the queue (workers wait on the device) → twice
//! as many active, up to the maximum — and only while the machine's CPUs are as idle (by
//! /proc/stat, idle and iowait): our process using less CPU on a machine kept busy by others
//! (a shared VM's other tenants, the kernel's writeback or loop-device threads) is no device
//! to wait for. Idle CPUs with an empty queue mean the walk or the
//! output is what holds the run back (`--update`'s workers only stat; the journal's fsync
//! stalls the output), and more workers would only hold more batches: the count never
//! shrinks, so growing on those dips ratcheted a long run up to the maximum and its memory
//! with it (a 10,000,000-file `--update` peaked at 1.9 × a 1,000,000-file one; 1.1 × with a
//! fixed `--jobs`). Workers that wait for a permit cost nothing (an async task, no thread). A fixed
//! `--jobs N` has no gate. On a FUSE filesystem the maximum is lower (`config::FUSE_CEILING`):
//! its one daemon keeps the CPUs idle however many requests wait, so by this rule the gate
//! would always grow to 128, where the daemon only queues.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_lock::{Semaphore, SemaphoreGuardArc};

use crate::sys::limits;

/// Worker tasks when `--jobs` is not given.
pub const MAX_WORKERS: usize = 128;

/// How often the active count is reconsidered.
const PERIOD: Duration = Duration::from_millis(20);

/// Grow when the CPUs are less busy than this share of the period (all cores), and the
/// machine's at least 1 − this idle.
const GROW_BELOW: f64 = 0.75;

/// The machine's clock ticks (100 a second per CPU) a decision needs, to tell its idle share
/// apart from noise: 40 ms on 2 CPUs, 10 ms on 8.
const MIN_TICKS: u64 = 8;

/// A period this long without [`MIN_TICKS`] of the machine's: its counters are not trusted.
const STALE_AFTER: Duration = Duration::from_secs(1);

/// Where the current period started.
struct Since {
    at: Instant,
    /// The process's CPU time then.
    cpu: Duration,
    /// The machine's (idle, all) clock ticks then.
    machine: Option<(u64, u64)>,
}

pub struct Gate {
    permits: Arc<Semaphore>,
    /// Permits held back: `max - parked.len()` workers may run.
    parked: Mutex<Vec<SemaphoreGuardArc>>,
    active: AtomicUsize,
    max: usize,
    cpus: f64,
    since: Mutex<Since>,
    deciding: AtomicBool,
}

impl Gate {
    /// `start` of `max` workers active at first.
    pub fn new(start: usize, max: usize) -> Arc<Gate> {
        let permits = Arc::new(Semaphore::new(max));
        let parked = (start..max)
            .filter_map(|_| permits.try_acquire_arc())
            .collect();
        Arc::new(Gate {
            permits,
            parked: Mutex::new(parked),
            active: AtomicUsize::new(start),
            max,
            cpus: limits::cpus() as f64,
            since: Mutex::new(Since {
                at: Instant::now(),
                cpu: limits::process_cpu_time(),
                machine: limits::machine_cpu_ticks(),
            }),
            deciding: AtomicBool::new(false),
        })
    }

    /// Waits until this worker may take a batch; the permit is held while it works.
    pub async fn enter(&self) -> SemaphoreGuardArc {
        self.permits.acquire_arc().await
    }

    /// Workers allowed now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Called after each batch, with whether batches wait in the queue: once per
    /// [`PERIOD`], one caller measures and maybe grows.
    pub fn tick(&self, queued: bool) {
        if self.active() >= self.max || self.deciding.swap(true, Ordering::Acquire) {
            return;
        }
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let wall = now.duration_since(since.at);
        if wall >= PERIOD {
            let machine = limits::machine_cpu_ticks();
            let idle = match (since.machine, machine) {
                (Some((i0, a0)), Some((i1, a1))) if a1 >= a0 + MIN_TICKS => {
                    Some(i1.saturating_sub(i0) as f64 / (a1 - a0) as f64)
                }
                // Too few ticks yet: the period goes on, unless the machine's counters seem
                // not to move at all (a sandbox's static /proc/stat): then as without it.
                (Some(_), Some(_)) if wall < STALE_AFTER => None,
                _ => Some(1.0), // no /proc/stat: the process's CPU alone decides
            };
            if let Some(idle) = idle {
                let cpu = limits::process_cpu_time();
                let busy = (cpu.saturating_sub(since.cpu)).as_secs_f64()
                    / (wall.as_secs_f64() * self.cpus);
                if should_grow(busy, idle, queued) {
                    self.grow();
                }
                *since = Since {
                    at: now,
                    cpu,
                    machine,
                };
            }
        }
        drop(since);
        self.deciding.store(false, Ordering::Release);
    }

    /// Doubles the active workers (up to the maximum).
    pub(super) fn grow(&self) {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        let release = self.active().min(parked.len());
        for _ in 0..release {
            parked.pop();
        }
        self.active.fetch_add(release, Ordering::Relaxed);
    }
}

/// The decision, alone: this process kept the CPUs this busy (0..=1) over the last period,
/// the machine's CPUs were this `idle` (0..=1), and batches were waiting for a worker
/// (`queued`) at its end.
fn should_grow(busy: f64, idle: f64, queued: bool) -> bool {
    queued && busy < GROW_BELOW && idle >= 1.0 - GROW_BELOW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_only_while_the_cpus_wait_with_work_queued() {
        assert!(should_grow(0.3, 0.7, true));
        assert!(!should_grow(0.95, 0.05, true));
        // Idle CPUs and nothing queued: the walk or the output is slow, not the device.
        assert!(!should_grow(0.3, 0.7, false));
        // This process is not busy, but the machine is (other processes, kernel threads).
        assert!(!should_grow(0.3, 0.1, true));
    }

    #[test]
    fn growing_doubles_up_to_the_maximum_and_releases_permits() {
        let gate = Gate::new(8, 128);
        assert_eq!(gate.active(), 8);
        assert!(gate.permits.try_acquire_arc().is_some());
        for want in [16, 32, 64, 128, 128] {
            gate.grow();
            assert_eq!(gate.active(), want);
        }
        assert!(gate.parked.lock().unwrap().is_empty());
    }
}
