//! What the process's standard streams are: probes on fd 1 that the printers need, one on
//! fd 0, and the file-creation mask. Each is a plain question with a boolean or number answer.

use std::os::fd::AsFd;

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
