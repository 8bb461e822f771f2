//! The live progress display with a real binary: in a log (stderr a file) and on a
//! pseudo-terminal (util-linux `script`). A FIFO named on the command line is the input:
//! the test writes part of it, holds it still, then writes the rest, so that the display is
//! seen moving inside one file and then standing still.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

/// Writes 3 MiB into the FIFO `path`, holds it still for `pause`, writes 1 MiB more and
/// closes it.
fn feed_with_a_pause(path: std::path::PathBuf, pause: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.write_all(&vec![7u8; 3 << 20]).unwrap();
        std::thread::sleep(pause);
        f.write_all(&vec![9u8; 1 << 20]).unwrap();
    })
}

#[test]
fn a_log_shows_bytes_inside_one_file_and_names_a_stall() {
    let env = TestEnv::new();
    let fifo = env.root().join("fifo");
    mkfifo(&fifo);
    let feeder = feed_with_a_pause(fifo, Duration::from_millis(3500));
    let out = run_with_timeout(
        env.cmd()
            .args(["hash", "--progress", "fifo"])
            .env("B3TREE_PROGRESS_EVERY", "0.3"),
        Duration::from_secs(30),
    );
    join_within(feeder, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let progress: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("b3tree: progress: "))
        .collect();
    // Bytes counted as they are read: 3 MiB shown while the one file is still open.
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("b3tree: progress: 0 files, 3.00 MiB read in ")),
        "{err}"
    );
    // The stall is named, not shown as an average rate.
    assert!(
        progress.iter().any(|l| l.contains("nothing read for ")),
        "{err}"
    );
    // Plain lines, the summary last and on its own line.
    assert!(!err.contains('\r') && err.is_ascii(), "{err:?}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("b3tree: 1 file, 4.00 MiB in "),
        "{err}"
    );
}

/// Runs `b3tree ARGS` on a pseudo-terminal in `dir`; everything the terminal received.
fn on_a_pty(env: &TestEnv, args: &str) -> std::process::Output {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", bin().display()), "/dev/null"])
        .current_dir(env.root())
        .stdin(Stdio::null());
    run_with_timeout(&mut cmd, Duration::from_secs(30))
}

#[test]
fn the_bar_on_a_terminal_moves_inside_a_file_and_is_cleared_before_the_summary() {
    let env = TestEnv::new();
    let fifo = env.root().join("fifo");
    mkfifo(&fifo);
    // 3.5 s: the stall (named after 2 s) stays on screen for 1.5 s, several 200 ms frames.
    let feeder = feed_with_a_pause(fifo, Duration::from_millis(3500));
    let out = on_a_pty(&env, "hash fifo -o m.b3");
    join_within(feeder, WAIT);
    assert_eq!(out.status.code(), Some(0));
    let tty = stdout(&out);
    // Shown without --progress (stderr is a terminal), redrawn in place.
    let frame = "0 files, 3.00 MiB read in ";
    assert!(tty.contains(frame), "{tty:?}");
    assert!(tty.contains("nothing read for "), "{tty:?}");
    assert!(tty.contains("\r\u{1b}[2K"), "redrawn in place: {tty:?}");
    // The last frame is erased before the summary, which is the last line.
    let summary = tty.rfind("b3tree: 1 file, 4.00 MiB in ").expect("summary");
    let last_frame = tty.rfind(" read in ").unwrap();
    assert!(last_frame < summary, "{tty:?}");
    assert!(
        tty[last_frame..summary].contains("\u{1b}[2K"),
        "the bar is cleared: {tty:?}"
    );
    assert!(!tty[summary..].contains(" read in "), "{tty:?}");
    // The manifest holds the one stream.
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    assert!(m.ends_with("  fifo\n"), "{m}");
}

/// Ctrl-C while the one read is blocked (a FIFO whose writer went quiet): the watchdog ends
/// the run, and the bar's line is erased as after a normal end, no output is left behind.
#[test]
fn ctrl_c_on_a_terminal_erases_the_bar_too() {
    let env = TestEnv::new();
    let fifo = env.root().join("fifo");
    mkfifo(&fifo);
    let (quiet_tx, quiet_rx) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        f.write_all(&vec![1u8; 1 << 20]).unwrap();
        // Quiet, but open, until the test is done.
        let _ = quiet_rx.recv();
    });
    let log = env.root().join("tty.log");
    let mut script = Command::new("script")
        .args([
            "-qec",
            &format!("exec {} hash fifo -o m.b3", bin().display()),
            "/dev/null",
        ])
        .current_dir(env.root())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let frame = "0 files, 1.00 MiB read in ";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap().contains(frame) {
        assert!(std::time::Instant::now() < deadline, "no frame drawn");
        std::thread::sleep(Duration::from_millis(20));
    }
    // b3tree is script's only child (`exec` in its shell).
    let pid = script.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    let b3tree: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: kill(2) on our grandchild.
    unsafe { libc::kill(b3tree, libc::SIGINT) };
    let status = wait_within(&mut script, WAIT);
    drop(quiet_tx);
    join_within(writer, WAIT);
    let tty = std::fs::read_to_string(&log).unwrap();
    let last_frame = tty.rfind(frame).unwrap();
    assert!(
        tty[last_frame..].ends_with("\r\u{1b}[2K"),
        "the bar is erased last: {tty:?}"
    );
    assert_ne!(status.code(), Some(0));
    assert!(!env.root().join("m.b3").exists());
    assert_no_temp_files(env.root());
}
