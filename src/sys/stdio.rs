//! What the process's standard streams are: probes on fd 1 that the printers need, one on
//! fd 0, and the file-creation mask. Each is a plain question with a boolean or number answer.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Something drawn live on the terminal (the progress bar): it is cleared around every write
/// to stdout, so that a stdout line never starts after a half-drawn frame when both streams
/// are one terminal. The function gets the write to run while the display is cleared.
pub type Pause = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

static PAUSE: Mutex<Option<Pause>> = Mutex::new(None);

/// Registers (Some) or removes (None) the live display that stdout writes pause.
pub fn set_stdout_pause(pause: Option<Pause>) {
    *PAUSE.lock().unwrap_or_else(|p| p.into_inner()) = pause;
}

/// The process's stdout, writing through [`set_stdout_pause`]'s display when one is live.
pub struct Stdout;

impl Stdout {
    fn paused<T>(run: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
        let pause = PAUSE.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match pause {
            None => run(),
            Some(pause) => {
                let mut run = Some(run);
                let mut result = None;
                pause(&mut || result = run.take().map(|r| r()));
                result.unwrap_or_else(|| Err(std::io::Error::other("stdout write skipped")))
            }
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Stdout::paused(|| std::io::stdout().lock().write_all(buf).map(|()| buf.len()))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Stdout::paused(|| std::io::stdout().lock().flush())
    }
}

/// fstat of fd 1 (None if it fails).
fn stdout_stat() -> Option<rustix::fs::Stat> {
    rustix::fs::fstat(std::io::stdout().as_fd()).ok()
}

/// Stdout is a pipe (or FIFO).
pub fn stdout_is_pipe() -> bool {
    stdout_stat().is_some_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    })
}

/// Stdin is a pipe (or FIFO): `cat f | b3tree hash` without `-` would hash the current
/// directory and leave the pipe unread.
pub fn stdin_is_pipe() -> bool {
    rustix::fs::fstat(std::io::stdin().as_fd()).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    })
}

/// (device, inode) of stdout when it is a regular file (`b3tree hash > SUMS.b3` inside the
/// tree must not hash its own half-written output).
pub fn stdout_file_id() -> Option<(u64, u64)> {
    let st = stdout_stat()?;
    (rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile)
        .then_some((st.st_dev, st.st_ino))
}

/// True when stdout is a pipe whose readers are all gone while bytes we wrote are still
/// unread in it: the report was cut short, even though every write succeeded.
pub fn pipe_left_unread() -> bool {
    if !stdout_is_pipe() {
        return false;
    }
    let out = std::io::stdout();
    let mut fds = [rustix::event::PollFd::new(
        &out,
        rustix::event::PollFlags::empty(),
    )];
    let now = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let gone = rustix::event::poll(&mut fds, Some(&now)).is_ok_and(|n| n == 1)
        && fds[0].revents().contains(rustix::event::PollFlags::ERR);
    gone && rustix::io::ioctl_fionread(out.as_fd()).is_ok_and(|unread| unread > 0)
}

/// The process's file-creation mask, read from /proc/self/status (Linux ≥ 4.7) without
/// changing it; 0o022 if that cannot be read.
pub fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// Set once a write to stderr has failed: its reader is gone (or it is closed or full).
static GONE: AtomicBool = AtomicBool::new(false);

/// True once stderr has been found gone: displays that draw on it (progress bars) stop.
pub fn gone() -> bool {
    GONE.load(Ordering::Relaxed)
}

/// Writes `line` and a newline to stderr in one write, unless stderr is gone; a failed
/// write marks it gone instead of panicking (std's `eprintln!` panics on EPIPE). What is
/// written is `report::stderr`'s to decide; this is only how.
pub fn write_err(line: &str) {
    if gone() {
        return;
    }
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    if std::io::stderr().lock().write_all(&buf).is_err() {
        GONE.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_is_read_without_changing_it() {
        let m = current_umask();
        assert!(m <= 0o777);
        assert_eq!(current_umask(), m);
    }
}
