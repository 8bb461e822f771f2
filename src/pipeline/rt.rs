//! The only module that names async-std.
//!
//! async-std 1.13 is discontinued upstream (RUSTSEC-2025-0052); the user asked for it, so we
//! use it, but every call goes through the functions here. Swapping to smol (or any other
//! executor with a blocking pool) means rewriting this file and nothing else.

use std::future::Future;

/// Handle to a spawned task; awaiting it yields the task's output.
pub type JoinHandle<T> = async_std::task::JoinHandle<T>;

/// Runs a future to completion on the current thread (used by the gather stage, which owns
/// the output and may block on it).
pub fn block_on<F: Future>(future: F) -> F::Output {
    async_std::task::block_on(future)
}

/// Spawns an async task on the executor threads.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    async_std::task::spawn(future)
}

/// Waits `period` on the executor's timer.
pub async fn sleep(period: std::time::Duration) {
    async_std::task::sleep(period).await;
}

/// Runs blocking work (file I/O, hashing, walking) on async-std's blocking thread pool, never
/// on an executor thread. A started job cannot be interrupted: long jobs poll
/// [`crate::sys::cancel::is_stopped`] between chunks.
pub fn spawn_blocking<F, T>(work: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    async_std::task::spawn_blocking(work)
}
