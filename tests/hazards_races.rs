//! The second hazard table (docs/hazards.md, rows R1–R18): confinement, swaps, `-o`
//! targets, partial manifests, signals while blocked. Tests are named after the behaviour;
//! races run as bounded loops; every run is under a timeout.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// How long a signalled run is waited for where the test does not time it (a loop of runs).
const SIGNAL_BOUND: Duration = Duration::from_secs(1);

// ---- -o targets: nothing that is not ours is replaced --------------------------------------

#[test]
fn output_to_a_character_device_writes_through_and_keeps_the_device() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    // A private /dev/null (1,3): if b3tree renamed over it, only this test's copy would die.
    let null = env.root().join("null");
    mknod(&null, libc::S_IFCHR, 1, 3);
    let out = env.run(&["hash", "-o", "null", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ft = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(ft.is_char_device(), "the device was replaced: {ft:?}");
}

#[test]
fn output_to_a_fifo_writes_into_it() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    let fifo = env.root().join("fifo");
    mkfifo(&fifo);
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read_to_string(fifo).unwrap()
    });
    let out = env.run(&["hash", "-o", "fifo", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(join_within(reader, WAIT), format!("{}  t/a\n", hex(b"a")));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn output_to_a_directory_is_refused_and_it_stays() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("d/keep", "k");
    let out = env.run(&["hash", "-o", "d", "t"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "refusing to write the output to d: it is a directory");
    assert_eq!(std::fs::read(env.root().join("d/keep")).unwrap(), b"k");
}

#[test]
fn output_through_a_symlink_replaces_the_target_and_keeps_the_link() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("real.b3", "old\n");
    symlink("real.b3", env.root().join("link.b3")).unwrap();
    let out = env.run(&["hash", "-o", "link.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let meta = std::fs::symlink_metadata(env.root().join("link.b3")).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert_eq!(
        std::fs::read_to_string(env.root().join("real.b3")).unwrap(),
        format!("{}  t/a\n", hex(b"a"))
    );
}

#[test]
fn output_symlink_into_the_hashed_tree_is_refused() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    symlink("t/a", env.root().join("evil.b3")).unwrap();
    let out = env.run(&["hash", "-o", "evil.b3", "t"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "inside t, which is being hashed");
    assert_eq!(std::fs::read(env.root().join("t/a")).unwrap(), b"a");
}

#[test]
fn bench_exports_never_replace_a_device() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    for flag in ["--csv", "--json", "--plot"] {
        let null = env.root().join(format!("null{flag}"));
        mknod(&null, libc::S_IFCHR, 1, 3);
        let out = env.run(&[
            "bench",
            "--jobs",
            "1",
            "--repeat",
            "1",
            flag,
            null.to_str().unwrap(),
            "t",
        ]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", stderr(&out));
        let ft = std::fs::symlink_metadata(&null).unwrap().file_type();
        assert!(ft.is_char_device(), "{flag} replaced the device");
    }
}

// ---- partial runs never replace a manifest -------------------------------------------------

#[test]
fn a_run_with_errors_keeps_the_old_manifest_and_writes_partial_beside_it() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("m.b3", "old\n");
    let out = env.run(&["hash", "-o", "m.b3", "t", "t_typo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_left_as_it_was(&env.root().join("m.b3"), "old\n");
    assert_eq!(
        std::fs::read_to_string(env.root().join("m.b3.partial")).unwrap(),
        format!("{}  t/a\n", hex(b"a"))
    );
    assert_stderr_contains(&out, "m.b3 left as it was: 1 entry could not be hashed");
    assert_no_temp_files(env.root());
}

#[test]
fn replace_partial_replaces_anyway_and_a_new_file_is_written() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("m.b3", "old\n");
    let out = env.run(&["hash", "--replace-partial", "-o", "m.b3", "t", "t_typo"]);
    assert_eq!(out.status.code(), Some(1));
    let want = format!("{}  t/a\n", hex(b"a"));
    assert_eq!(
        std::fs::read_to_string(env.root().join("m.b3")).unwrap(),
        want
    );
    assert!(!env.root().join("m.b3.partial").exists());
    // No old file: FILE itself is written, exit 1.
    let out = env.run(&["hash", "-o", "new.b3", "t", "t_typo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(env.root().join("new.b3")).unwrap(),
        want
    );
}

// ---- the walk never hashes our own output --------------------------------------------------

#[test]
fn output_hard_linked_to_a_tree_file_is_named_and_counted() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("t/m.b3", "x");
    std::fs::hard_link(env.root().join("t/m.b3"), env.root().join("out.b3")).unwrap();
    let out = env.run(&["hash", "-o", "out.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_stderr_contains(&out, "t/m.b3: not hashed: it is this run's output");
    assert_stderr_contains(&out, "1 skipped");
}

#[test]
fn other_runs_temporary_files_are_skipped_and_counted_but_audit_reports_them() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("t/.b3tree-XyZ123.tmp", "half a manifest");
    let out = env.run(&["hash", "-C", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  a\n", hex(b"a")));
    assert_stderr_contains(&out, "1 skipped");
    env.file("m.b3", format!("{}  a\n", hex(b"a")));
    let out = env.run(&["check", "-C", "t", "--audit", "../m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(".b3tree-XyZ123.tmp: NEW"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn concurrent_runs_writing_into_the_tree_never_list_each_others_temporary_files() {
    let env = TestEnv::new();
    for i in 0..200 {
        env.file(format!("t/f{i:03}"), vec![b'x'; 4096]);
    }
    for round in 0..5 {
        let children: Vec<_> = (0..6)
            .map(|_| {
                env.cmd()
                    .args(["hash", "-C", "t", "-o", "out.b3"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(wait_within(&mut c, WAIT).success());
        }
        let m = std::fs::read_to_string(env.root().join("t/out.b3")).unwrap();
        assert!(!m.contains(".b3tree-"), "round {round}: {m}");
        assert_eq!(m.lines().count(), 200, "round {round}");
    }
}

#[test]
fn a_manifest_redirected_into_the_tree_does_not_hash_itself() {
    let env = TestEnv::new();
    env.file("a", "a");
    let sums = std::fs::File::create(env.root().join("SUMS.b3")).unwrap();
    let out = run_with_timeout(env.cmd().arg("hash"), LIMIT);
    assert!(out.status.success());
    let mut cmd = env.cmd();
    cmd.arg("hash").stdout(sums).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(env.root().join("SUMS.b3")).unwrap(),
        format!("{}  a\n", hex(b"a"))
    );
    let out = env.run(&["check", "SUMS.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

// ---- signals -------------------------------------------------------------------------------

#[test]
fn every_catchable_terminating_signal_removes_the_temporary_file_and_kills_with_it() {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
    ] {
        let env = TestEnv::new();
        std::fs::write(env.root().join("m.b3"), "old\n").unwrap();
        let mut child = start_hashing_huge_file(&env, Stdio::null());
        wait_catching(&child, sig);
        let status = stops_within_promise(&mut child, sig);
        assert_died_of(status, sig);
        assert_left_as_it_was(&env.root().join("m.b3"), "old\n");
        assert_no_temp_files(env.root());
    }
}

#[test]
fn one_signal_stops_check_blocked_opening_a_fifo_manifest() {
    let env = TestEnv::new();
    mkfifo(&env.root().join("mf"));
    let mut child = env.cmd().args(["check", "mf"]).spawn().unwrap();
    wait_blocked_in(
        &child,
        libc::SIGTERM,
        &[libc::SYS_openat, libc::SYS_openat2, libc::SYS_open],
    );
    let status = stops_within_promise(&mut child, libc::SIGTERM);
    assert_died_of(status, libc::SIGTERM);
}

#[test]
fn one_signal_stops_check_reading_an_idle_stdin() {
    let env = TestEnv::new();
    let mut child = env
        .cmd()
        .args(["check", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    wait_blocked_in(&child, libc::SIGINT, &[libc::SYS_read]);
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
}

#[test]
fn one_signal_stops_hash_blocked_writing_to_a_full_pipe() {
    let env = TestEnv::new();
    for i in 0..3000 {
        env.file(format!("t/{i:05}"), "x");
    }
    // Nobody reads stdout: after 64 KiB the pipe is full and the writer blocks.
    let mut child = env
        .cmd()
        .args(["hash", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_blocked_in(&child, libc::SIGTERM, &[libc::SYS_write, libc::SYS_writev]);
    let status = stops_within_promise(&mut child, libc::SIGTERM);
    assert_died_of(status, libc::SIGTERM);
}

/// A tree spec (mtree) read from a FIFO whose writer stalls after the header and half a
/// line: one SIGINT ends the check (T/R rows of signals, for the spec reader).
#[test]
fn one_signal_stops_check_of_a_spec_stalled_on_a_fifo() {
    let env = TestEnv::new();
    env.file("a", "a");
    let fifo = env.root().join("spec");
    mkfifo(&fifo);
    let mut child = env
        .cmd()
        .args(["check", "spec"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(&mut w, b"#mtree\n. type=dir\n./a type=fi").unwrap();
    wait_blocked_in(&child, libc::SIGINT, &[libc::SYS_read]);
    let status = stops_within_promise(&mut child, libc::SIGINT);
    drop(w);
    assert_died_of(status, libc::SIGINT);
}

#[test]
fn one_signal_stops_merge_reading_a_fifo_and_keeps_its_output() {
    let env = TestEnv::new();
    let fifo = env.root().join("shard");
    mkfifo(&fifo);
    env.file("out.b3", "old\n");
    let mut child = env
        .cmd()
        .args(["merge", "-o", "out.b3", "shard"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Open the FIFO for writing and send a header and half a line, then stall.
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let half = format!("# b3tree shard 0/1\n{}", hex(b"a"));
    std::io::Write::write_all(&mut w, half.as_bytes()).unwrap();
    wait_blocked_in(&child, libc::SIGINT, &[libc::SYS_read]);
    let status = stops_within_promise(&mut child, libc::SIGINT);
    drop(w);
    assert_died_of(status, libc::SIGINT);
    assert_left_as_it_was(&env.root().join("out.b3"), "old\n");
    assert_no_temp_files(env.root());
}

#[test]
fn sigint_during_merge_to_a_file_dies_of_sigint_not_exit_2() {
    // The output file is created before the inputs are read: here the signal lands while
    // merge waits for its input on stdin.
    let env = TestEnv::new();
    let mut child = env
        .cmd()
        .args(["merge", "-o", "out.b3", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_blocked_in(&child, libc::SIGINT, &[libc::SYS_read]);
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    assert!(!env.root().join("out.b3").exists());
    assert_no_temp_files(env.root());
}

// ---- swaps between walk (or manifest) and open ----------------------------------------------

/// Swaps two names atomically (renameat2 RENAME_EXCHANGE) until `stop` is set.
fn keep_swapping(
    a: std::path::PathBuf,
    b: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let ca = std::ffi::CString::new(a.as_os_str().as_encoded_bytes()).unwrap();
        let cb = std::ffi::CString::new(b.as_os_str().as_encoded_bytes()).unwrap();
        let mut swaps = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // SAFETY: renameat2 with two valid C strings.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    ca.as_ptr(),
                    libc::AT_FDCWD,
                    cb.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
            swaps += 1;
        }
        swaps
    })
}

/// A tree `t/sub/f0..f9` ("inside"), an outside directory with the same names ("outside"),
/// and `t/link` → the outside directory, ready to be exchanged with `t/sub`.
fn swap_fixture(env: &TestEnv) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let outside = tempfile::tempdir().unwrap();
    for i in 0..10 {
        env.file(format!("t/sub/f{i}"), "inside");
        std::fs::write(outside.path().join(format!("f{i}")), "outside").unwrap();
    }
    let link = env.root().join("t/link");
    symlink(outside.path(), &link).unwrap();
    (outside, env.root().join("t/sub"), link)
}

/// A directory of the tree (`t/sub`) and a file of it (`t/x`), each swapped in a loop with
/// a symlink out of the tree (to files holding "outside"), until [`Swaps::end`].
struct Swaps {
    _outside: tempfile::TempDir,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Swaps {
    fn start(env: &TestEnv) -> Swaps {
        let (outside, sub, link) = swap_fixture(env);
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "outside").unwrap();
        env.file("t/x", "inside");
        symlink(&secret, env.root().join("t/xlink")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = vec![
            keep_swapping(sub, link, stop.clone()),
            keep_swapping(
                env.root().join("t/x"),
                env.root().join("t/xlink"),
                stop.clone(),
            ),
        ];
        Swaps {
            _outside: outside,
            stop,
            threads,
        }
    }

    /// Stops the swapping; each thread swapped at least once.
    fn end(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            assert!(t.join().unwrap() > 0);
        }
    }
}

fn check_never_verifies_outside_files_while_a_directory_is_swapped(no_openat2: bool) {
    let env = TestEnv::new();
    let (_outside, sub, link) = swap_fixture(&env);
    // The manifest holds the OUTSIDE digests: reading outside is the only way to say OK.
    let manifest: String = (0..10)
        .map(|i| format!("{}  sub/f{i}\n", hex(b"outside")))
        .collect();
    env.file("m.b3", manifest);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = keep_swapping(sub, link, stop.clone());
    let mut hit = 0;
    for run in 0..150 {
        let mut cmd = env.cmd();
        cmd.args(["check", "-C", "t", "../m.b3"]);
        if no_openat2 {
            cmd.env("B3TREE_NO_OPENAT2", "1");
        }
        let out = run_with_timeout(&mut cmd, LIMIT);
        assert!(
            !stdout(&out).contains(": OK"),
            "run {run}: an outside file was verified:\n{}",
            stdout(&out)
        );
        assert_eq!(out.status.code(), Some(1), "run {run}");
        if stdout(&out).contains("FAILED (outside the root)") {
            hit += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(swapper.join().unwrap() > 0);
    // The positive control: some runs met the symlink (else the loop proved nothing).
    eprintln!("{hit} of 150 runs met the directory swapped for a symlink");
    assert!(hit > 0, "no run met the swap");
}

#[test]
fn check_never_verifies_outside_files_while_a_directory_is_swapped_for_a_symlink() {
    check_never_verifies_outside_files_while_a_directory_is_swapped(false);
}

#[test]
fn check_without_openat2_never_verifies_outside_files_while_a_directory_is_swapped() {
    check_never_verifies_outside_files_while_a_directory_is_swapped(true);
}

fn hash_never_reads_outside_files_while_swapped(no_openat2: bool, via_list: bool) {
    let env = TestEnv::new();
    env.file("list", "t\n");
    let swaps = Swaps::start(&env);
    let outside_hash = hex(b"outside");
    let mut hit = 0;
    for run in 0..150 {
        let mut cmd = env.cmd();
        if via_list {
            cmd.args(["hash", "--files-from", "list"]);
        } else {
            cmd.args(["hash", "t"]);
        }
        if no_openat2 {
            cmd.env("B3TREE_NO_OPENAT2", "1");
        }
        let out = run_with_timeout(&mut cmd, LIMIT);
        assert!(
            !stdout(&out).contains(&outside_hash),
            "run {run}: content from outside the tree:\n{}",
            stdout(&out)
        );
        if stderr(&out).contains("replaced by a symlink since the walk") {
            hit += 1;
        }
    }
    swaps.end();
    // The positive control: some runs met a swap between walk and open (else the loop
    // proved nothing).
    eprintln!("{hit} of 150 runs met a symlink swapped in after the walk");
    assert!(hit > 0, "no run hit the window between walk and open");
}

#[test]
fn hash_never_reads_through_a_symlink_swapped_in_after_the_walk() {
    hash_never_reads_outside_files_while_swapped(false, false);
}

#[test]
fn hash_without_openat2_never_reads_through_a_symlink_swapped_in_after_the_walk() {
    hash_never_reads_outside_files_while_swapped(true, false);
}

/// A directory named by a `--files-from` list is confined like a PATH: the list's
/// directories join the roots opens resolve beneath.
#[test]
fn hash_files_from_never_reads_through_a_symlink_swapped_in_after_the_walk() {
    hash_never_reads_outside_files_while_swapped(false, true);
}

// ---- check --audit is confined like verification --------------------------------------------

#[test]
fn audit_is_not_widened_by_refused_absolute_names() {
    let env = TestEnv::new();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("a"), "a").unwrap();
    std::fs::write(secret.path().join("key.pem"), "k").unwrap();
    env.file("t/in", "in");
    let a = secret.path().join("a");
    env.file(
        "m.b3",
        format!("{}  {}\n{}  t/in\n", hex(b"a"), a.display(), hex(b"in")),
    );
    let out = env.run(&["check", "--audit", "--json", "m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("key.pem"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(r#""status":"outside""#),
        "{}",
        stdout(&out)
    );
    // Only absolute names: nothing inside to audit, and nothing outside walked.
    env.file("m2.b3", format!("{}  {}\n", hex(b"a"), a.display()));
    let out = env.run(&["check", "--audit", "m2.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("key.pem"), "{}", stdout(&out));
}

#[test]
fn audit_does_not_follow_an_in_tree_symlink_out() {
    let env = TestEnv::new();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("key.pem"), "k").unwrap();
    symlink(secret.path(), env.root().join("evil")).unwrap();
    env.file("m.b3", format!("{}  evil/x\n", hex(b"x")));
    let out = env.run(&["check", "--audit", "m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("key.pem"), "{}", stdout(&out));
    assert_stderr_contains(&out, "audit: evil lies outside the working directory");
    // Opting out audits it.
    let out = env.run(&["check", "--audit", "--allow-outside", "m.b3"]);
    assert!(
        stdout(&out).contains("evil/key.pem: NEW"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn audit_of_proc_names_is_refused_without_hanging() {
    let env = TestEnv::new();
    env.file(
        "m.b3",
        format!(
            "{}  /proc/self/status\n{}  /proc/self/maps\n",
            hex(b"a"),
            hex(b"b")
        ),
    );
    let out = env.run(&["check", "--audit", "m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("NEW"), "{}", stdout(&out));
}

#[test]
fn a_blank_line_passes_strict_as_in_gnu() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file("m.b3", format!("{}  a\n\n", hex(b"a")));
    let out = env.run(&["check", "--strict", "m.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// ---- hangs ------------------------------------------------------------------------------------

#[test]
fn proc_pseudo_files_end_at_once_as_size_unknown() {
    // /proc/self/pagemap reports 0 bytes and holds ~256 GiB: reading to EOF took > 15 min.
    let env = TestEnv::new();
    let out = run_with_timeout(
        env.cmd()
            .args(["hash", "-q", "/proc/self", "/proc/self/status"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(
        &out,
        "/proc/self/status: changed while hashing: size unknown: it reports 0 bytes",
    );
}

#[test]
fn too_few_descriptors_fail_up_front_and_the_minimum_runs_without_stalls() {
    let env = TestEnv::new();
    for i in 0..200 {
        env.file(format!("t/d{}/f{i}", i % 7), "x");
    }
    for n in 5..=7 {
        let started = std::time::Instant::now();
        let out = run_with_timeout(with_nofile(env.cmd().args(["hash", "t"]), n), LIMIT);
        assert_eq!(out.status.code(), Some(2), "nofile {n}: {}", stderr(&out));
        assert_stderr_contains(
            &out,
            &format!(
                "the open-file limit (RLIMIT_NOFILE, `ulimit -n`) is {n}; b3tree needs at least"
            ),
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // The minimum the message names is enough (inherited descriptors with numbers below the
    // limit count, so a higher limit may name a higher minimum: follow it a few times), for
    // any --jobs, with no 60-second EMFILE stall per file.
    let needs = |o: &std::process::Output| -> Option<u64> {
        let msg = stderr(o);
        let rest = msg.split("needs at least ").nth(1)?;
        rest.split(' ').next()?.parse().ok()
    };
    let mut min = needs(&run_with_timeout(
        with_nofile(env.cmd().args(["hash", "t"]), 5),
        LIMIT,
    ))
    .unwrap();
    for _ in 0..5 {
        let out = run_with_timeout(
            with_nofile(env.cmd().args(["hash", "-j", "64", "t"]), min),
            LIMIT,
        );
        match needs(&out) {
            Some(m) => min = m,
            None => break,
        }
    }
    for jobs in ["1", "64"] {
        let started = std::time::Instant::now();
        let out = run_with_timeout(
            with_nofile(env.cmd().args(["hash", "-j", jobs, "t"]), min),
            LIMIT,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "nofile {min}, -j {jobs}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out).lines().count(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stalled: {:?}",
            started.elapsed()
        );
    }
}

// ---- memory --------------------------------------------------------------------------------

#[test]
fn audit_memory_does_not_grow_with_the_length_of_missing_names() {
    let env = TestEnv::new();
    env.file("present", "p");
    let count = 60_000;
    let mut rss = Vec::new();
    for len in [20, 1000] {
        let file = std::fs::File::create(env.root().join("m.b3")).unwrap();
        let mut w = std::io::BufWriter::new(file);
        let x = "x".repeat(len);
        for i in 0..count {
            writeln!(w, "{EMPTY_HASH}  d{:02}/{x}{i:08}", i % 50).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let (code, kib) = peak_rss_kib(env.root(), &["check", "--audit", "m.b3"]);
        assert_eq!(code, Some(1));
        eprintln!("names of {len} bytes: peak RSS {kib} KiB");
        rss.push(kib);
    }
    // Keeping the names would cost 60,000 × ~980 bytes more (~57 MiB).
    assert!(
        rss[1] < rss[0] + 16 * 1024,
        "peak RSS {} KiB with long names vs {} KiB with short ones",
        rss[1],
        rss[0]
    );
}

#[test]
fn output_without_a_directory_part_fsyncs_its_directory_too() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    for target in ["m.b3", "./m.b3"] {
        let log = env.root().join("fsync.log");
        let out = run_with_timeout(
            std::process::Command::new("strace")
                .args(["-f", "-qq", "-y", "-e", "trace=fsync", "-o"])
                .arg(&log)
                .arg(bin())
                .args(["hash", "-o", target, "t"])
                .current_dir(env.root()),
            LIMIT,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "strace must be installed: {}",
            stderr(&out)
        );
        let log = std::fs::read_to_string(&log).unwrap();
        let dir = std::fs::canonicalize(env.root()).unwrap();
        let dir_synced = log.lines().any(|l| {
            l.contains("fsync(")
                && l.contains(&format!("<{}>)", dir.display()))
                && l.ends_with("= 0")
        });
        assert!(dir_synced, "{target}: no fsync of the directory:\n{log}");
    }
}

#[test]
fn audit_never_reads_a_fifo_where_its_directory_should_be() {
    // Only PATHs the user names are read as streams; the audited directory is derived from
    // an untrusted manifest and is only ever walked.
    let env = TestEnv::new();
    mkfifo(&env.root().join("x"));
    env.file("m.b3", format!("{}  x/y\n", hex(b"y")));
    let out = env.run(&["check", "--audit", "m.b3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn ctrl_c_at_any_moment_leaves_the_old_or_the_whole_new_manifest_and_no_temporary_file() {
    // A bounded race: SIGINT lands at spread-out moments of short runs (start-up, walk,
    // writing, fsync, rename, directory fsync).
    let env = TestEnv::new();
    for i in 0..300 {
        env.file(format!("t/f{i:03}"), format!("{i}"));
    }
    let full = env.run(&["hash", "-q", "t"]);
    let new = stdout(&full);
    // The signals spread over a little more than a whole run takes on this machine now (a
    // loaded machine runs slower: a fixed span would miss the end of the run).
    let span = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            env.run(&["hash", "-q", "-o", "probe.b3", "t"]);
            start.elapsed()
        })
        .max()
        .unwrap_or_default()
        .as_micros() as u64
        * 13
        / 10;
    std::fs::remove_file(env.root().join("probe.b3")).unwrap();
    std::fs::write(env.root().join("m.b3"), "old\n").unwrap();
    let mut outcomes = [0u32; 2];
    for round in 0..120u64 {
        let mut child = env
            .cmd()
            .args(["hash", "-q", "-o", "m.b3", "t"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros((round * span / 120).max(1)));
        let (status, _) = signal_and_wait(&mut child, libc::SIGINT, SIGNAL_BOUND);
        // Stopped by the signal, or finished before it landed: nothing else.
        assert!(
            status.success() || status.signal() == Some(libc::SIGINT),
            "round {round}: {status:?}"
        );
        let now = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
        assert!(
            now == "old\n" || now == new,
            "round {round}: a partial manifest:\n{now}"
        );
        outcomes[usize::from(now == new)] += 1;
        assert_no_temp_files(env.root());
        std::fs::write(env.root().join("m.b3"), "old\n").unwrap();
    }
    eprintln!(
        "kept the old manifest {} times, wrote the new one {} times",
        outcomes[0], outcomes[1]
    );
    // Both sides of the race were reached: the signal landed before the rename and after.
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "one outcome never happened: {outcomes:?}"
    );
}

#[test]
fn output_onto_a_block_device_or_a_socket_is_refused_and_left_alone() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    let block = env.root().join("blk");
    let c = std::ffi::CString::new(block.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mknod with a valid C string (a block device node 7,0: a loop device).
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) };
    assert_eq!(rc, 0, "mknod needs root (CI runs as root)");
    let sock = env.root().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (name, what) in [("blk", "block device"), ("sock", "socket")] {
        let out = env.run(&["hash", "-o", name, "t"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert_stderr_contains(&out, "refusing to write the output to");
        assert_stderr_contains(&out, what);
    }
    let meta = std::fs::symlink_metadata(&block).unwrap();
    assert!(
        meta.file_type().is_block_device(),
        "the device node was replaced"
    );
    assert!(
        std::fs::symlink_metadata(&sock)
            .unwrap()
            .file_type()
            .is_socket()
    );
    assert_no_temp_files(env.root());
}

#[test]
fn a_block_device_is_read_only_with_read_devices() {
    let env = TestEnv::new();
    let img = env.root().join("img");
    let content: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&img, &content).unwrap();
    let out = std::process::Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&img)
        .output()
        .expect("losetup (util-linux)");
    assert!(
        out.status.success(),
        "losetup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = std::process::Command::new("losetup")
                .args(["-d", &self.0])
                .status();
        }
    }
    let _detach = Detach(dev.clone());
    let out = env.run(&["hash", &dev]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_stderr_contains(&out, &dev);
    let out = env.run(&["hash", "--read-devices", &dev]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  {dev}\n", hex(&content)));
}

#[test]
fn sigquit_leaves_no_core_file_and_sigvtalrm_sigxcpu_end_the_run_too() {
    use std::os::unix::process::ExitStatusExt;
    for sig in [libc::SIGQUIT, libc::SIGVTALRM, libc::SIGXCPU] {
        let env = TestEnv::new();
        std::fs::write(env.root().join("m.b3"), "old\n").unwrap();
        huge_sparse_file(&env, "sparse");
        let mut cmd = env.cmd();
        cmd.args(["hash", "--jobs", "1", "-o", "m.b3", "sparse"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Cores allowed: only b3tree's own choice can keep one from being written.
        with_rlimit(&mut cmd, libc::RLIMIT_CORE, libc::RLIM_INFINITY);
        let mut child = cmd.spawn().unwrap();
        wait_until_open(&child, "sparse");
        wait_catching(&child, sig);
        let (status, _) = signal_and_wait(&mut child, sig, SIGNAL_BOUND);
        assert_died_of(status, sig);
        assert!(!status.core_dumped(), "signal {sig}: a core was dumped");
        assert_left_as_it_was(&env.root().join("m.b3"), "old\n");
        assert_no_temp_files(env.root());
    }
}

// ---- tree specs (mtree) under the same swaps ----------------------------------------------

/// `check` of a spec: an entry the spec calls a file is opened without following it, and
/// its directories resolve beneath the root, so a directory swapped for a symlink out (or a
/// file for a link to an outside file) never verifies. The spec holds the OUTSIDE digests:
/// reading outside is the only way to say OK; a link is compared as a link.
fn spec_check_under_swaps(no_openat2: bool) {
    let env = TestEnv::new();
    let (outside, sub, link) = swap_fixture(&env);
    let secret = outside.path().join("secret");
    std::fs::write(&secret, "outside").unwrap();
    env.file("t/x", "inside");
    symlink(&secret, env.root().join("t/xlink")).unwrap();
    let digest = hex(b"outside");
    let mut spec = String::from("#mtree\n");
    for i in 0..10 {
        spec.push_str(&format!("./sub/f{i} type=file blake3digest={digest}\n"));
    }
    spec.push_str(&format!("./x type=file blake3digest={digest}\n"));
    env.file("spec", spec);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swap_dir = keep_swapping(sub, link, stop.clone());
    let swap_file = keep_swapping(
        env.root().join("t/x"),
        env.root().join("t/xlink"),
        stop.clone(),
    );
    let (mut outside_seen, mut link_seen) = (0, 0);
    for run in 0..100 {
        let mut cmd = env.cmd();
        cmd.args(["check", "-C", "t", "../spec"]);
        if no_openat2 {
            cmd.env("B3TREE_NO_OPENAT2", "1");
        }
        let out = run_with_timeout(&mut cmd, LIMIT);
        let text = stdout(&out);
        assert!(
            !text.contains(": OK"),
            "run {run}: verified from outside:\n{text}"
        );
        assert_eq!(out.status.code(), Some(1), "run {run}: {}", stderr(&out));
        // Through the swapped directory: a link on the way, never followed.
        outside_seen += usize::from(
            text.contains("FAILED (outside the root)")
                || text.contains("FAILED (path: a symlink stands where the spec has a directory"),
        );
        link_seen += usize::from(text.contains("x: FAILED (type: file → link)"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(swap_dir.join().unwrap() > 0 && swap_file.join().unwrap() > 0);
    // The positive controls: runs met the directory as a link and x as a link.
    eprintln!("of 100 runs: {outside_seen} met the directory swapped, {link_seen} x as a link");
    assert!(outside_seen > 0 && link_seen > 0);
}

#[test]
fn check_of_a_spec_never_verifies_outside_files_while_swapped() {
    spec_check_under_swaps(false);
}

#[test]
fn check_of_a_spec_without_openat2_never_verifies_outside_files_while_swapped() {
    spec_check_under_swaps(true);
}

/// `hash --format mtree` under the same swaps: an entry is a link (its target recorded, not
/// followed) or the tree's own file, never an outside file's digest.
#[test]
fn a_spec_never_holds_outside_content_while_swapped() {
    let env = TestEnv::new();
    let swaps = Swaps::start(&env);
    let outside_hash = hex(b"outside");
    let mut links = 0;
    for run in 0..100 {
        let out = run_with_timeout(env.cmd().args(["hash", "--format", "mtree", "t"]), LIMIT);
        let text = stdout(&out);
        assert!(
            !text.contains(&outside_hash),
            "run {run}: outside content:\n{text}"
        );
        links += text
            .lines()
            .filter(|l| l.starts_with("./x type=link "))
            .count();
    }
    swaps.end();
    eprintln!("of 100 runs, {links} described x as a link");
    assert!(links > 0);
}

/// The threads of the process `strace` (pid) traces that are in `syscall` now. Under strace
/// every syscall stops its thread for a moment; only a delayed one stays.
fn traced_threads_in(strace: u32, syscall: i64) -> Vec<String> {
    let children = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children"))
        .unwrap_or_default();
    let mut threads = Vec::new();
    for child in children.split_whitespace() {
        for task in std::fs::read_dir(format!("/proc/{child}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let now = std::fs::read_to_string(task.path().join("syscall")).unwrap_or_default();
            if now.split_whitespace().next() == Some(&syscall.to_string()) {
                threads.push(task.file_name().to_string_lossy().into_owned());
            }
        }
    }
    threads
}

/// Waits (bounded) until a thread of the process `strace` traces has stayed in `syscall` for
/// 200 ms: held there by an injected delay, not passing through.
fn wait_held_in(strace: u32, syscall: i64) {
    let deadline = std::time::Instant::now() + WAIT;
    let mut since: Option<(String, std::time::Instant)> = None;
    loop {
        let threads = traced_threads_in(strace, syscall);
        since = match since {
            Some((tid, at)) if threads.contains(&tid) => {
                if at.elapsed() >= Duration::from_millis(200) {
                    return;
                }
                Some((tid, at))
            }
            _ => threads
                .first()
                .map(|t| (t.clone(), std::time::Instant::now())),
        };
        assert!(
            std::time::Instant::now() < deadline,
            "no thread held in syscall {syscall}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// R5, the walk: a directory replaced by another after its parent was listed and before it
/// is descended (strace holds the walk's identity check of `t/d` while the test swaps it)
/// is not descended: an error record names it, and no file of either directory is hashed.
#[test]
fn the_walk_never_descends_a_directory_swapped_after_its_listing() {
    let env = TestEnv::new();
    env.file("t/d/f", "inside");
    env.file("t/z", "z");
    let child = under_strace(&[
        "-P",
        "t/d",
        "-e",
        "trace=statx",
        "-e",
        "inject=statx:delay_enter=1500000:when=1",
    ])
    .args(["hash", "--jobs", "1", "t"])
    .current_dir(env.root())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_held_in(child.id(), libc::SYS_statx);
    std::fs::rename(env.root().join("t/d"), env.root().join("d.orig")).unwrap();
    env.file("t/d/f", "planted");
    let out = output_within(child, WAIT);
    assert_exit(&out, 1);
    assert_eq!(stdout(&out), format!("{}  t/z\n", hex(b"z")));
    assert_stderr_contains(
        &out,
        "t/d: changed while hashing: directory replaced while walking",
    );
}

/// F10 against a live run: a run whose rename of its finished temporary file into place is
/// held up (strace) while another run writes a manifest beside it: the other run's removal
/// of killed runs' files leaves it alone (it is locked until renamed), and it is put in
/// place. (Its file was unlocked between its close and its rename: 12 of 480 concurrent
/// runs failed with ENOENT.)
#[test]
fn a_finished_temporary_file_is_locked_until_it_is_renamed() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    let held = under_strace(&[
        "-e",
        "trace=renameat",
        "-e",
        "inject=renameat:delay_enter=1000000:when=1",
    ])
    .args(["hash", "-o", "m.b3", "t"])
    .current_dir(env.root())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_held_in(held.id(), libc::SYS_renameat);
    let other = env.run(&["hash", "-o", "other.b3", "t"]);
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    let held = output_within(held, WAIT);
    assert_eq!(held.status.code(), Some(0), "{}", stderr(&held));
    let want = format!("{}  t/a\n", hex(b"a"));
    assert_eq!(
        std::fs::read_to_string(env.root().join("m.b3")).unwrap(),
        want
    );
    assert_no_temp_files(env.root());
}

/// F10, bounded loop: rounds of eight concurrent runs writing manifests into one directory
/// while two more are killed with SIGKILL: every live run succeeds and no temporary file is
/// left but the killed runs' last ones (which the next run removes).
#[test]
fn concurrent_runs_and_killed_runs_never_take_each_others_files() {
    let env = TestEnv::new();
    for i in 0..30 {
        env.file(format!("t/f{i:02}"), format!("{i}"));
    }
    for round in 0..10 {
        let live: Vec<_> = (0..8)
            .map(|i| {
                env.cmd()
                    .args(["hash", "-o", &format!("m{i}.b3"), "t"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in 0..2u64 {
            let mut child = env
                .cmd()
                .args(["hash", "-o", &format!("k{k}.b3"), "t"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_micros(500 * (round + k)));
            let _ = child.kill();
            let _ = child.wait();
        }
        for child in live {
            let out = output_within(child, WAIT);
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                stderr(&out)
            );
        }
    }
    let out = env.run(&["hash", "-o", "last.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_temp_files(env.root());
}

/// A manifest past the names `check` keeps is read again for `--audit`; renamed over (or
/// replaced by a FIFO) between the two reads, the run ends with an error naming it — no NEW
/// verdict from names it cannot back, no wait on a FIFO.
#[test]
fn a_manifest_replaced_before_the_audit_reads_it_again_ends_the_run() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("t/b", "b");
    // 270,000 entries past the bound, in canonical order, refused as outside (never opened:
    // pass 1 stays quick under strace), then the tree's two.
    let mut text = String::with_capacity(270_002 * 80);
    for i in 0..270_000 {
        text += &format!("{EMPTY_HASH}  ../e/{i:06}\n");
    }
    text += &format!("{}  t/a\n{}  t/b\n", hex(b"a"), hex(b"b"));
    for replacement in ["renamed", "fifo"] {
        std::fs::write(env.root().join("m.b3"), &text).unwrap();
        std::fs::write(env.root().join("other.b3"), text.replace("t/b\n", "t/c\n")).unwrap();
        // Pass 1's opens beneath t are held 3 s each by strace: the manifest is swapped
        // meanwhile.
        let tree = env.root().join("t");
        let mut child = under_strace(&[
            "-e",
            "trace=openat,openat2",
            "-e",
            "inject=openat,openat2:delay_exit=3000000",
            "-P",
            tree.to_str().unwrap(),
        ])
        .args(["check", "--audit", "m.b3"])
        .current_dir(env.root())
        .stdout(std::fs::File::create(env.root().join("out")).unwrap())
        .stderr(std::fs::File::create(env.root().join("err")).unwrap())
        .spawn()
        .unwrap();
        wait_until_pid_opens(traced_pid(&child), "a");
        let manifest = env.root().join("m.b3");
        match replacement {
            "renamed" => std::fs::rename(env.root().join("other.b3"), &manifest).unwrap(),
            _ => {
                std::fs::remove_file(&manifest).unwrap();
                mkfifo(&manifest);
            }
        }
        let status = wait_within(&mut child, Duration::from_secs(60));
        let err = std::fs::read_to_string(env.root().join("err")).unwrap();
        let out = std::fs::read_to_string(env.root().join("out")).unwrap();
        assert_eq!(status.code(), Some(2), "{replacement}: {err}");
        let why = "cannot read manifest m.b3 again: replaced during the run";
        assert!(err.contains(why), "{replacement}: {err}");
        assert!(!out.contains("NEW"), "{replacement}: {out}");
        std::fs::remove_file(&manifest).unwrap();
    }
}
