//! Live progress on stderr: a bar on a terminal, one plain line every few seconds in a log.
//! Both are driven by a ticker thread that samples counters — bytes as the hash floor reads
//! them, files as the run emits them, the total once a concurrent count knows it — so the
//! display moves while one big file is read and says so when nothing moves (a stalled disk,
//! a FIFO without a writer) instead of repeating a stale rate. Ended the same way after a
//! normal end and after Ctrl-C: the bar is cleared before the summary, the log gets no line
//! after it.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::hash::progress as read_bytes;
use crate::sys::{cancel, stdio};

/// The total of files is not known (yet).
pub const UNKNOWN: u64 = u64::MAX;

/// How often a log gets a progress line: often enough to see a run move, rarely enough that
/// a CI log stays readable. `B3TREE_PROGRESS_EVERY` (seconds) changes it: a test hook.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// How often the bar is refreshed.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// After this long without a byte read, the display says the run is stalled.
const STALLED_AFTER: Duration = Duration::from_secs(2);

/// What the ticker samples.
#[derive(Debug)]
struct Counters {
    files: AtomicU64,
    total: Arc<AtomicU64>,
    /// `hash::progress::read()` when the display started.
    base: u64,
}

impl Counters {
    fn bytes(&self) -> u64 {
        read_bytes::read().saturating_sub(self.base)
    }

    fn total(&self) -> Option<u64> {
        let t = self.total.load(Ordering::Relaxed);
        (t != UNKNOWN && t > 0).then_some(t)
    }
}

/// The live display of one run.
pub struct Live {
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Live {
    /// Starts the display: a bar when `terminal`, else log lines.
    pub fn start(terminal: bool) -> Live {
        read_bytes::enable();
        let counters = Arc::new(Counters {
            files: AtomicU64::new(0),
            total: Arc::new(AtomicU64::new(UNKNOWN)),
            base: read_bytes::read(),
        });
        let started = Instant::now();
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
            cancel::live_line(true);
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            // Output lines on the same terminal: the bar is cleared while they are written.
            if std::io::stdout().is_terminal() {
                let b = bar.clone();
                stdio::set_stdout_pause(Some(Arc::new(move |write: &mut dyn FnMut()| {
                    b.suspend(&mut *write)
                })));
            }
            bar
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let (c, b) = (counters.clone(), bar.clone());
        let every = if terminal { BAR_EVERY } else { log_every() };
        let handle = std::thread::spawn(move || {
            let mut rate = Rate::new(started, c.bytes());
            // Ends when `finish` sends or drops the sender.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                // The run is winding down: the last frame stays until it is erased, so that
                // a frame drawn now cannot reappear after the erase.
                if cancel::is_stopped() {
                    continue;
                }
                let now = Instant::now();
                let (files, bytes) = (c.files.load(Ordering::Relaxed), c.bytes());
                let status = rate.sample(bytes, now);
                let line = status_line(files, bytes, c.total(), now - started, &status);
                match &b {
                    // Nowhere to draw: stop drawing (indicatif ignores the write errors).
                    Some(bar) if stdio::gone() => bar.set_draw_target(ProgressDrawTarget::hidden()),
                    Some(bar) => {
                        bar.set_message(line);
                        bar.tick();
                    }
                    None => stdio::write_err(&format!("b3tree: progress: {line}")),
                }
            }
        });
        Live {
            counters,
            bar,
            ticker: Some((stop, handle)),
        }
    }

    /// Counts a file the run has finished.
    pub fn file_done(&self) {
        self.counters.files.fetch_add(1, Ordering::Relaxed);
    }

    /// Where a concurrent count stores the number of files the run will hash.
    pub fn total_slot(&self) -> Arc<AtomicU64> {
        self.counters.total.clone()
    }

    /// Prints `line` on stderr without tearing the bar.
    pub fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| stdio::write_err(line)),
            None => stdio::write_err(line),
        }
    }

    /// Stops the ticker and clears the bar (idempotent).
    pub fn finish(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
        if let Some(bar) = &self.bar {
            stdio::set_stdout_pause(None);
            bar.finish_and_clear();
            cancel::live_line(false);
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.finish();
    }
}

fn log_every() -> Duration {
    std::env::var("B3TREE_PROGRESS_EVERY")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(LOG_EVERY, Duration::from_secs_f64)
}

/// The rate over the last [`RATE_WINDOW`] (or the last interval, if longer), and how long
/// nothing has been read.
#[derive(Debug)]
struct Rate {
    /// Samples (time, bytes) of the window, oldest first.
    samples: VecDeque<(Instant, u64)>,
    /// When bytes last moved.
    moved: Instant,
}

/// The bar's rate is taken over this window: long enough to be steady at five refreshes a
/// second, short enough to show a change within a couple of seconds.
const RATE_WINDOW: Duration = Duration::from_secs(2);

/// What a sample says about the last interval.
#[derive(Debug, PartialEq)]
enum Status {
    /// Bytes per second over the window.
    Moving(u64),
    /// Nothing read for this long.
    Stalled(Duration),
}

impl Rate {
    fn new(now: Instant, bytes: u64) -> Rate {
        Rate {
            samples: VecDeque::from([(now, bytes)]),
            moved: now,
        }
    }

    fn sample(&mut self, bytes: u64, now: Instant) -> Status {
        let &(_, last) = self.samples.back().expect("never empty");
        if bytes > last {
            self.moved = now;
        }
        self.samples.push_back((now, bytes));
        // Keep one sample at or beyond the window's start (the one the rate is taken from).
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
        let still = now.duration_since(self.moved);
        if still >= STALLED_AFTER {
            return Status::Stalled(still);
        }
        let (t0, b0) = self.samples[0];
        let secs = now.duration_since(t0).as_secs_f64();
        let delta = bytes.saturating_sub(b0);
        Status::Moving(if secs > 0.0 {
            (delta as f64 / secs) as u64
        } else {
            0
        })
    }
}

/// `12 files, 3.00 MiB read in 4 s, now 1.00 MiB/s; 40 % of 30, eta 6 s` — the rate is the
/// last interval's, not an average that hides a stall; `stalled for 3 s` when nothing moved.
fn status_line(
    files: u64,
    bytes: u64,
    total: Option<u64>,
    elapsed: Duration,
    status: &Status,
) -> String {
    let now = match status {
        Status::Moving(r) => format!("now {}/s", HumanBytes(*r)),
        Status::Stalled(d) => format!("nothing read for {} s", d.as_secs()),
    };
    let mut line = format!(
        "{files} files, {} read in {:.0} s, {now}",
        HumanBytes(bytes),
        elapsed.as_secs_f64()
    );
    if let Some(total) = total {
        line.push_str("; ");
        line.push_str(&how_far(files, total, elapsed));
    }
    line
}

/// `4 % of 300, eta 3 s`: the share of `total` files done after `elapsed`, and the time
/// left at the rate so far (none before the first file is done: there is no rate yet).
fn how_far(files: u64, total: u64, elapsed: Duration) -> String {
    let done = files.min(total);
    let pct = done * 100 / total.max(1);
    if done == 0 {
        return format!("{pct} % of {total}");
    }
    let eta = elapsed.as_secs_f64() * (total - done) as f64 / done as f64;
    format!("{pct} % of {total}, eta {eta:.0} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_far_gives_share_and_time_left() {
        assert_eq!(
            how_far(25, 100, Duration::from_secs(10)),
            "25 % of 100, eta 30 s"
        );
        assert_eq!(
            how_far(120, 100, Duration::from_secs(10)),
            "100 % of 100, eta 0 s"
        );
        assert_eq!(how_far(0, 100, Duration::from_secs(10)), "0 % of 100");
    }

    #[test]
    fn the_rate_is_recent_and_a_stall_is_named() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut rate = Rate::new(t0, 0);
        assert_eq!(rate.sample(4096, ms(1000)), Status::Moving(4096));
        // Over the 2 s window: (4096 + 2048) / 2 s.
        assert_eq!(rate.sample(6144, ms(2000)), Status::Moving(3072));
        // The window has moved on: 2048 bytes over the last 2 s.
        assert_eq!(rate.sample(6144, ms(3000)), Status::Moving(1024));
        // Nothing for 2 s: named as a stall, not as a slow rate.
        assert_eq!(
            rate.sample(6144, ms(4000)),
            Status::Stalled(Duration::from_secs(2))
        );
        assert_eq!(
            rate.sample(6144, ms(9000)),
            Status::Stalled(Duration::from_secs(7))
        );
        // Long intervals (a log's): the rate of the last one.
        assert_eq!(rate.sample(6144 + 5120, ms(14000)), Status::Moving(1024));
        // Short ones (the bar's): the window, not 200 ms of noise.
        let mut bar = Rate::new(t0, 0);
        for i in 1..=20u64 {
            let bytes = if i % 2 == 0 { i * 100 } else { i * 100 - 50 };
            bar.sample(bytes, ms(i * 200));
        }
        // (2100 - 1050 at 2.2 s) / 2 s, where 200 ms alone would swing 250–750.
        assert_eq!(bar.sample(2100, ms(4200)), Status::Moving(525));
    }

    #[test]
    fn the_line_says_files_bytes_rate_and_share() {
        let line = status_line(
            2,
            2000,
            Some(8),
            Duration::from_secs(5),
            &Status::Moving(400),
        );
        assert_eq!(
            line,
            "2 files, 1.95 KiB read in 5 s, now 400 B/s; 25 % of 8, eta 15 s"
        );
        let stalled = status_line(
            2,
            2000,
            None,
            Duration::from_secs(9),
            &Status::Stalled(Duration::from_secs(4)),
        );
        assert_eq!(
            stalled,
            "2 files, 1.95 KiB read in 9 s, nothing read for 4 s"
        );
    }
}
