//! Admission for big files: how many are hashed at once, and whether each one should split
//! itself over every core or keep to its own thread.
//!
//! Why: a big file can be hashed two ways. blake3's rayon path splits one file over every core
//! (needed when a single file is all there is), but each call hands work to the rayon pool and
//! waits for it: the pool's threads go idle and are woken again at every window. With as many
//! big files in flight as there are cores, plain single-threaded `update` on each file's own
//! thread keeps every core busy with no hand-off at all (docs/performance.md, "How big files
//! are read").
//!
//! So: at most one big file per core is admitted (with every core busy, more would not run
//! any sooner, only hold more pieces in memory); a file that finds fewer big files in flight
//! than cores spreads over the pool (as subtrees, `hash::tree`), the others keep to their
//! thread (a mapped one asks again before each piece).

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// The process-wide lane, sized to the cores.
pub fn lane() -> &'static Lane {
    static LANE: OnceLock<Lane> = OnceLock::new();
    LANE.get_or_init(|| Lane::new(crate::sys::limits::cpus()))
}

/// A counting gate: `cap` big files at most, and a view of how many are in.
pub struct Lane {
    active: Mutex<usize>,
    freed: Condvar,
    cap: usize,
}

impl Lane {
    pub fn new(cap: usize) -> Lane {
        Lane {
            active: Mutex::new(0),
            freed: Condvar::new(),
            cap: cap.max(1),
        }
    }

    /// Waits for a place. The turn leaves the lane when dropped.
    pub fn enter(&self) -> Turn<'_> {
        let mut active = self.lock();
        while *active >= self.cap {
            active = self.freed.wait(active).unwrap_or_else(|e| e.into_inner());
        }
        *active += 1;
        Turn { lane: self }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One admitted big file.
pub struct Turn<'a> {
    lane: &'a Lane,
}

impl Turn<'_> {
    /// True when some core has no big file of its own, so this one should spread over the
    /// pool; false when every core already has one (plain `update` on this thread is then
    /// faster than handing work around).
    pub fn spread(&self) -> bool {
        *self.lane.lock() < self.lane.cap
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.lane.lock() -= 1;
        self.lane.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_only_while_a_core_is_free() {
        let lane = Lane::new(2);
        let a = lane.enter();
        assert!(a.spread());
        let b = lane.enter();
        assert!(!a.spread() && !b.spread());
        drop(b);
        assert!(a.spread());
    }

    #[test]
    fn enter_waits_for_a_place() {
        let lane = std::sync::Arc::new(Lane::new(1));
        let first = lane.enter();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let lane = lane.clone();
            std::thread::spawn(move || {
                let _t = lane.enter();
                tx.send(()).unwrap();
            })
        };
        // The second file is not admitted while the first holds the only place.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err()
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }
}
