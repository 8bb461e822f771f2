//! The third hazard table (docs/hazards.md, rows T1–T14): a closed stderr, memory with
//! `-l`, long check lines, `--update`'s own files and journals, merge's input, walks on
//! mounts, messages. Tests are named after the behaviour; every run is under a timeout.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Waits (bounded) for `child`, killing it and failing the test if it outlives LIMIT.
fn wait_bounded(child: &mut std::process::Child) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---- T1: a reader of stderr that leaves early ------------------------------------------

/// Runs `b3tree ARGS` with stdin `input`, reads one line of stderr and closes it; returns
/// the exit status and that line.
fn run_with_stderr_cut(env: &TestEnv, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut child = env
        .cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader goes away here, with most of the messages still to come.
    let status = wait_bounded(&mut child);
    join_within(feeder, WAIT);
    (status.code(), first)
}

#[test]
fn a_closed_stderr_never_panics_and_the_run_finishes_quietly() {
    let env = TestEnv::new();
    env.file("real/a", "a");
    env.file("real/b", "b");
    // 5,000 missing names: ~250 KB of error lines, far more than a pipe holds.
    let mut list = b"real\n".to_vec();
    for i in 0..5000 {
        list.extend_from_slice(format!("nope{i}\n").as_bytes());
    }
    let (code, first) =
        run_with_stderr_cut(&env, &["hash", "--files-from", "-", "-o", "m.b3"], &list);
    assert_eq!(
        code,
        Some(1),
        "exit status (101 is a panic); first line {first:?}"
    );
    assert!(first.contains("missing"), "{first}");
    // The manifest is still written, complete.
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    assert_eq!(
        m,
        format!("{}  real/a\n{}  real/b\n", hex(b"a"), hex(b"b")),
        "the manifest"
    );
}

#[test]
fn check_warn_with_a_closed_stderr_never_panics() {
    let env = TestEnv::new();
    let mut bad = Vec::new();
    for i in 0..5000 {
        bad.extend_from_slice(format!("not a line {i}\n").as_bytes());
    }
    env.file("BAD.b3", &bad);
    let (code, first) = run_with_stderr_cut(&env, &["check", "--warn", "BAD.b3"], b"");
    assert!(first.contains("BAD.b3:1"), "{first}");
    // Malformed lines and no valid one: the run fails, but never by a panic.
    assert!(
        matches!(code, Some(1 | 2)),
        "exit status {code:?} (101 is a panic)"
    );
}

#[test]
fn check_of_a_spec_with_a_closed_stderr_never_panics() {
    let env = TestEnv::new();
    env.file("a", "a");
    // 5,000 repeats of one entry: a duplicate line on stderr for each.
    let mut spec = b"#mtree\n. type=dir\n".to_vec();
    for _ in 0..5000 {
        spec.extend_from_slice(b"./a type=file size=1\n");
    }
    let (code, first) = run_with_stderr_cut(&env, &["check", "-"], &spec);
    assert!(first.contains("duplicate entry"), "{first}");
    assert_eq!(
        code,
        Some(0),
        "exit status (101 is a panic); first line {first:?}"
    );
}

// ---- T2, T3: long digests (`-l`) -------------------------------------------------------

#[test]
fn hash_with_a_megabyte_digest_keeps_memory_bounded_whatever_the_file_count() {
    let env = TestEnv::new();
    for i in 0..1000 {
        env.file(format!("t/f{i:04}"), format!("{i}"));
    }
    // 1,000 digests of 1 MiB: 1 GB if every one in flight were held (it was). Alone, runs
    // peak at 38–53 MB (the digests in flight are capped at 24 MB; the rest is which
    // thread holds a 2 MB hex line when); one run under the full suite's load passed 64.
    let (code, kib) = peak_rss_kib(
        env.root(),
        &["hash", "-l", "1048576", "-o", "/dev/null", "t"],
    );
    assert_eq!(code, Some(0));
    assert!(kib < 96 * 1024, "peak RSS {kib} KiB");
}

#[test]
fn check_reads_manifests_of_any_length_hash_writes_without_being_told() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    env.file("t/b", "b");
    for len in ["32767", "40000", "1048576"] {
        for zero in [false, true] {
            let mut args = vec!["hash", "-l", len, "-o", "m.b3", "t"];
            if zero {
                args.push("-z");
            }
            let out = env.run(&args);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let mut check = vec!["check", "m.b3"];
            if zero {
                check.push("-z");
            }
            let out = env.run(&check);
            assert_eq!(
                out.status.code(),
                Some(0),
                "-l {len} -z {zero}: {}",
                stderr(&out)
            );
            assert_stderr_contains(&out, "2 ok, 0 failed");
        }
    }
    // A comment line before the first entry does not change that.
    let out = env.run(&["hash", "-l", "1048576", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = std::fs::read(env.root().join("m.b3")).unwrap();
    let mut commented = b"# a comment\n".to_vec();
    commented.extend_from_slice(&m);
    std::fs::write(env.root().join("c.b3"), commented).unwrap();
    let out = env.run(&["check", "c.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_stderr_contains(&out, "2 ok, 0 failed");
}

#[test]
fn check_of_megabyte_digests_keeps_memory_bounded() {
    let env = TestEnv::new();
    for i in 0..300 {
        env.file(format!("t/f{i:03}"), format!("{i}"));
    }
    let out = env.run(&["hash", "-l", "1048576", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // 300 expected digests of 1 MiB: 300 MB if every line in flight were held.
    let (code, kib) = peak_rss_kib(env.root(), &["check", "m.b3"]);
    assert_eq!(code, Some(0));
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
}

// ---- T5, T6: a manifest's own files ----------------------------------------------------

#[test]
fn update_never_hashes_its_own_state_and_journals_however_they_are_named() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    let out = env.run(&["hash", "--update", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A stopped run's journal beside the state (a journal of a stopped run, planted).
    let journal = env.root().join("m.b3.b3tree-journal.1");
    std::fs::copy(env.root().join("m.b3.b3tree-state"), &journal).unwrap();
    let expected = format!("{}  t/a\n", hex(b"a"));
    // Named without ./, with ./, and through a list.
    for names in [
        ["m.b3.b3tree-journal.1", "m.b3.b3tree-state", "m.b3.partial"],
        [
            "./m.b3.b3tree-journal.1",
            "./m.b3.b3tree-state",
            "./m.b3.partial",
        ],
    ] {
        std::fs::write(env.root().join("m.b3.partial"), "old partial").unwrap();
        let mut args = vec!["hash", "--update", "-o", "m.b3"];
        args.extend(names);
        args.push("t/a");
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(0), "{names:?}: {}", stderr(&out));
        let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
        assert_eq!(m, expected, "{names:?}");
        assert_stderr_contains(&out, "m.b3.b3tree-state: not hashed");
        assert_stderr_contains(&out, "m.b3.partial: not hashed");
        assert_stderr_contains(&out, "3 skipped");
        // The next check passes.
        let out = env.run(&["check", "m.b3"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::copy(env.root().join("m.b3.b3tree-state"), &journal).unwrap();
    }
    let mut cmd = env.cmd();
    cmd.args([
        "hash",
        "--update",
        "--sort",
        "-o",
        "m.b3",
        "--files-from",
        "-",
    ]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"m.b3.b3tree-journal.1\nm.b3.b3tree-state\nt/a\n")
        .unwrap();
    let out = output_within(child, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    assert_eq!(m, expected, "--files-from");
}

#[test]
fn audit_leaves_out_the_manifests_own_state_by_identity_not_by_name() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    let out = env.run(&["hash", "--update", "-o", "t/m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(env.root().join("t/m.b3.b3tree-state").exists());
    let out = env.run(&["check", "--audit", "t/m.b3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!stdout(&out).contains("NEW"), "{}", stdout(&out));
    // A file that only has such a name (no manifest x.b3 beside it) is still new.
    env.file("t/x.b3.b3tree-state", "planted");
    env.file("t/m.b3.b3tree-journal.7", "planted");
    let out = env.run(&["check", "--audit", "t/m.b3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("t/x.b3.b3tree-state: NEW"), "{text}");
    // A journal-named file is left out only as what it is: one of the manifest's journals
    // (here a planted one, a regular file beside it, is taken as one: never hashed).
    assert!(!text.contains("m.b3.b3tree-state"), "{text}");
}

// ---- T4, T7: --update's journals ---------------------------------------------------------

/// Records (lines with a size field naming `t/`) in every journal beside `m.b3`.
fn journal_records(env: &TestEnv) -> usize {
    std::fs::read_dir(env.root())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("m.b3.b3tree-journal.")
        })
        .map(|e| {
            let text = std::fs::read(e.path()).unwrap();
            text.split(|&b| b == b'\n')
                .filter(|l| l.windows(2).any(|w| w == b"t/"))
                .count()
        })
        .sum()
}

/// The N of "N files" / "N file" in a summary line on stderr.
fn files_in_summary(text: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.contains(" GiB in ") || l.contains(" B in "))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    words[1].parse().unwrap_or_else(|_| panic!("{line}"))
}

/// The N of "update: N digests reused".
fn reused_in(text: &str) -> u64 {
    let line = text.lines().find(|l| l.contains("update: ")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn a_stopped_update_journals_every_file_it_finished() {
    let env = TestEnv::new();
    env.take_huge_file_turn();
    for i in 0..12 {
        let f = std::fs::File::create(env.root().join(format!("t{i:02}"))).unwrap();
        drop(f);
    }
    std::fs::create_dir(env.root().join("t")).unwrap();
    for i in 0..12 {
        std::fs::rename(
            env.root().join(format!("t{i:02}")),
            env.root().join(format!("t/f{i:02}")),
        )
        .unwrap();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(env.root().join(format!("t/f{i:02}")))
            .unwrap();
        f.set_len(1 << 30).unwrap();
    }
    // Digests are reused only for files whose timestamps lie 2 s before the run started.
    std::thread::sleep(Duration::from_millis(2100));
    let mut child = env
        .cmd()
        .args(["hash", "-j", "1", "--update", "-o", "m.b3", "t"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped once a few files are done, while the others are read.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while journal_records(&env) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no record reached the journal"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let done = files_in_summary(&err);
    assert!(done < 12, "the run was not stopped: {err}");
    // Every file the summary counts is in the journal, and the next run reuses each.
    assert_eq!(journal_records(&env) as u64, done, "{err}");
    let out = env.run(&["hash", "-j", "1", "--update", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(reused_in(&stderr(&out)), done, "{}", stderr(&out));
}

#[test]
fn a_finished_record_reaches_the_journal_while_a_big_file_is_read() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    huge_sparse_file(&env, "t/b");
    let mut child = env
        .cmd()
        .args(["hash", "-j", "1", "--update", "-o", "m.b3", "t"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_open(&child, "b");
    // t/a is done (t/b, in the same batch, is being read): its record is on disk within
    // about a second, with no later record to push it out. SIGKILL loses nothing of it.
    let opened = std::time::Instant::now();
    while journal_records(&env) < 1 {
        assert!(
            opened.elapsed() < Duration::from_secs(3),
            "t/a's record did not reach the journal"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("record on disk {:?} after t/b was opened", opened.elapsed());
    let (status, _) = signal_and_wait(&mut child, libc::SIGKILL, Duration::from_secs(5));
    assert_died_of(status, libc::SIGKILL);
    assert!(child.try_wait().unwrap().is_some());
}

#[test]
fn planted_journal_names_never_fail_a_run() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    for (name, uid) in [
        ("m.b3.b3tree-journal.18446744073709551615", 65534),
        ("m.b3.b3tree-journal.18446744073709551614", 0),
        ("m.b3.b3tree-journal.0", 0),
        ("m.b3.b3tree-journal.+5", 0),
        ("m.b3.b3tree-journal.1", 65534),
    ] {
        let p = env.file(name, "planted");
        std::os::unix::fs::chown(&p, Some(uid), None).unwrap();
    }
    for _ in 0..3 {
        let out = env.run(&["hash", "--update", "-o", "m.b3", "t"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
        assert_eq!(m, format!("{}  t/a\n", hex(b"a")));
    }
    // Names that are no journals are left alone, and so is another user's file.
    for name in [
        "m.b3.b3tree-journal.0",
        "m.b3.b3tree-journal.+5",
        "m.b3.b3tree-journal.1",
    ] {
        assert!(env.root().join(name).exists(), "{name}");
    }
}

#[test]
fn concurrent_updates_of_one_manifest_both_succeed() {
    let env = TestEnv::new();
    for i in 0..300 {
        env.file(format!("t/f{i:03}"), format!("{i}"));
    }
    let expected = env.run(&["hash", "t"]);
    for round in 0..30 {
        let spawn = || {
            env.cmd()
                .args(["hash", "--update", "-o", "m.b3", "t"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = output_within(child, WAIT);
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                stderr(&out)
            );
        }
        let m = std::fs::read(env.root().join("m.b3")).unwrap();
        assert_eq!(m, expected.stdout, "round {round}");
    }
}

/// T14: a journal has its name only once it is locked. The first run's `flock` is held up
/// for 3 s (strace delays the syscall); a second run of the same manifest starts, finishes
/// and removes the journals of stopped runs meanwhile. With a journal created under its
/// name and locked after, the second run found it unlocked and removed it, and the first
/// failed ("cannot rename …journal.1 to …state"): the flake of the 30-round test above.
#[test]
fn a_journal_is_never_seen_under_its_name_before_it_is_locked() {
    let env = TestEnv::new();
    for i in 0..50 {
        env.file(format!("t/f{i:02}"), format!("{i}"));
    }
    let expected = env.run(&["hash", "t"]);
    // Older than the racy window, so that the state the runs leave is used in full.
    std::thread::sleep(Duration::from_millis(2100));
    // The second flock of the run is its journal's (the first, its -o temporary file's).
    let first = under_strace(&[
        "-e",
        "trace=flock",
        "-e",
        "inject=flock:delay_enter=3000000:when=2",
    ])
    .args(["hash", "--update", "-o", "m.b3", "t"])
    .current_dir(env.root())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Until the first run is in its delayed flock: its journal exists, under its name or
    // (beside the temporary manifest) under a temporary one.
    let in_flock = || {
        let names: Vec<String> = std::fs::read_dir(env.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let temps = names.iter().filter(|n| n.ends_with(".tmp")).count();
        names.iter().any(|n| n.contains(".b3tree-journal.")) || temps >= 2
    };
    let start = std::time::Instant::now();
    while !in_flock() && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(in_flock(), "the first run never created its journal");
    let second = env.run(&["hash", "--update", "-o", "m.b3", "t"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let first = output_within(first, WAIT);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        std::fs::read(env.root().join("m.b3")).unwrap(),
        expected.stdout
    );
    let left: Vec<_> = std::fs::read_dir(env.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| {
            n.to_string_lossy().contains("journal") || n.to_string_lossy().ends_with(".tmp")
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let reused = env.run(&["hash", "--update", "-o", "m.b3", "t"]);
    assert_stderr_contains(&reused, "50 digests reused");
}

/// T14, on a filesystem that can neither refuse to replace on rename nor link (strace makes
/// renameat2 fail with EINVAL and linkat with EPERM, as some FUSE filesystems do): the
/// journal is made under its name instead, `--update` works, and its state is reused.
#[test]
fn update_works_where_rename_cannot_refuse_to_replace_and_links_fail() {
    let env = TestEnv::new();
    for i in 0..20 {
        env.file(format!("t/f{i:02}"), format!("{i}"));
    }
    std::thread::sleep(Duration::from_millis(2100));
    for round in 0..2 {
        let out = run_with_timeout(
            under_strace(&[
                "-e",
                "trace=renameat2,linkat",
                "-e",
                "inject=renameat2:error=EINVAL",
                "-e",
                "inject=linkat:error=EPERM",
            ])
            .args(["hash", "--update", "-o", "m.b3", "t"])
            .current_dir(env.root()),
            LIMIT,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stderr(&out)
        );
        if round == 1 {
            assert_stderr_contains(&out, "20 digests reused");
        }
    }
    let mut left: Vec<String> = std::fs::read_dir(env.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["m.b3", "m.b3.b3tree-state", "t"]);
}

// ---- T10: trees on bind mounts and FUSE (sshfs) ------------------------------------------

/// A mount made by a test, undone when dropped (also when the test fails).
struct Mounted {
    point: std::path::PathBuf,
    sshd: Option<std::process::Child>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.point)
            .status();
        if let Some(sshd) = &mut self.sshd {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
    }
}

fn must(cmd: &mut std::process::Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (tests/deps.sh installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small tree with nested directories under `dir`.
fn nested_tree(env: &TestEnv, dir: &str) {
    for d in ["d0", "d0/d1", "d0/d1/d2", "e"] {
        for i in 0..3 {
            env.file(format!("{dir}/{d}/f{i}"), format!("{d} {i}"));
        }
    }
}

/// `hash` of the tree at `dir` (names relative to it); asserts that `check --audit` of that
/// manifest there passes, with `files` entries verified.
fn hash_and_audit(env: &TestEnv, dir: &str, files: usize) -> String {
    let out = env.run(&["hash", "-C", dir]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hash -C {dir}: {}",
        stderr(&out)
    );
    let manifest = stdout(&out);
    assert_eq!(manifest.lines().count(), files, "{dir}: {manifest}");
    let name = format!("{}.b3", dir.replace('/', "_"));
    std::fs::write(env.root().join(&name), &manifest).unwrap();
    let audit = env.run(&["check", "-C", dir, "--audit", &format!("../{name}")]);
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{dir}: {}{}",
        stdout(&audit),
        stderr(&audit)
    );
    assert_stderr_contains(
        &audit,
        &format!("{files} ok, 0 failed, 0 missing, 0 unreadable, 0 new"),
    );
    manifest
}

#[test]
fn a_tree_with_a_bind_mount_hashes_like_its_copy() {
    let env = TestEnv::new();
    nested_tree(&env, "src");
    nested_tree(&env, "copy/b");
    env.file("t/a", "a");
    env.file("copy/a", "a");
    std::fs::create_dir(env.root().join("t/b")).unwrap();
    must(
        std::process::Command::new("mount")
            .arg("--bind")
            .arg(env.root().join("src"))
            .arg(env.root().join("t/b")),
    );
    let _guard = Mounted {
        point: env.root().join("t/b"),
        sshd: None,
    };
    assert_eq!(
        hash_and_audit(&env, "t", 13),
        hash_and_audit(&env, "copy", 13)
    );
    // The bind mount is another file system for --one-file-system (as find -xdev would
    // treat a mount of another device).
    let out = env.run(&["hash", "-C", "t", "--one-file-system"]);
    assert_eq!(
        stdout(&out),
        format!("{}  a\n", hex(b"a")),
        "{}",
        stderr(&out)
    );
}

/// A tmpfs mounted inside the tree (another device): walked by default, left out whole by
/// `--one-file-system` (hash and check's audit), as `find -xdev` leaves it.
#[test]
fn one_file_system_stops_at_a_tmpfs_inside_the_tree() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    std::fs::create_dir(env.root().join("t/m")).unwrap();
    must(
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(env.root().join("t/m")),
    );
    let _guard = Mounted {
        point: env.root().join("t/m"),
        sshd: None,
    };
    std::fs::write(env.root().join("t/m/on-tmpfs"), "m").unwrap();
    let all = env.run(&["hash", "-C", "t"]);
    assert_eq!(
        stdout(&all),
        format!("{}  a\n{}  m/on-tmpfs\n", hex(b"a"), hex(b"m")),
        "{}",
        stderr(&all)
    );
    let out = env.run(&["hash", "-C", "t", "--one-file-system", "-o", "../x.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.root().join("x.b3")).unwrap(),
        format!("{}  a\n", hex(b"a"))
    );
    // The audit of that manifest: the tmpfs file is NEW, unless the audit stays on one file system too.
    let audit = env.run(&["check", "-C", "t", "--audit", "../x.b3"]);
    assert_eq!(audit.status.code(), Some(1), "{}", stdout(&audit));
    assert!(
        stdout(&audit).contains("m/on-tmpfs: NEW"),
        "{}",
        stdout(&audit)
    );
    let audit = env.run(&[
        "check",
        "-C",
        "t",
        "--audit",
        "--one-file-system",
        "../x.b3",
    ]);
    assert_eq!(audit.status.code(), Some(0), "{}", stdout(&audit));
}

/// Mounts the test tree's `src` at `mnt` with sshfs, through an sshd on 127.0.0.1 that
/// the test starts with keys it makes; undone when the guard is dropped.
fn sshfs_mount(env: &TestEnv) -> Mounted {
    let keys = env.root().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    for k in ["host", "user"] {
        must(
            std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(keys.join(k)),
        );
    }
    std::fs::copy(keys.join("user.pub"), keys.join("authorized_keys")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {k}/host\nAuthorizedKeysFile {k}/authorized_keys\n\
         PermitRootLogin yes\nPasswordAuthentication no\nStrictModes no\nUsePAM no\n\
         Subsystem sftp internal-sftp\nPidFile {k}/sshd.pid\n",
        k = keys.display()
    );
    std::fs::write(keys.join("sshd_config"), config).unwrap();
    let sshd = std::process::Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(keys.join("sshd_config"))
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd (tests/deps.sh installs openssh-server)");
    std::fs::create_dir(env.root().join("mnt")).unwrap();
    let guard = Mounted {
        point: env.root().join("mnt"),
        sshd: Some(sshd),
    };
    let remote = format!("root@127.0.0.1:{}", env.root().join("src").display());
    let options = format!(
        "IdentityFile={}/user,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,port={port}",
        keys.display()
    );
    // sshd takes a moment to listen.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("sshfs")
            .args(["-o", &options, &remote])
            .arg(&guard.point)
            .output()
            .expect("sshfs (tests/deps.sh installs it)");
        if out.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sshfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        mounts
            .lines()
            .any(|l| l.contains("fuse.sshfs") && l.contains(guard.point.to_str().unwrap())),
        "not an sshfs mount"
    );
    guard
}

#[test]
fn a_tree_on_sshfs_hashes_like_its_local_copy() {
    let env = TestEnv::new();
    nested_tree(&env, "src");
    let _guard = sshfs_mount(&env);
    assert_eq!(
        hash_and_audit(&env, "mnt", 12),
        hash_and_audit(&env, "src", 12)
    );
    // --update keeps its journal and state on the mount: the journal is named by a rename
    // that never replaces (or a hard link), which sshfs must take.
    for round in 0..2 {
        let out = env.run(&["hash", "--update", "-o", "mnt/m.b3", "mnt"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stderr(&out)
        );
    }
    let names: Vec<String> = std::fs::read_dir(env.root().join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("m.b3") || n.ends_with(".tmp"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"m.b3.b3tree-state".to_string()),
        "{names:?}"
    );
}

// ---- T11: a directory that cannot be listed ---------------------------------------------

#[test]
fn a_readdir_error_names_the_directory_that_failed() {
    let env = TestEnv::new();
    env.file("t/a/f", "1");
    env.file("t/b/g", "2");
    env.file("t/c", "3");
    // getdents64 on t/a (and only there, by path) fails with EIO.
    let out = run_with_timeout(
        under_strace(&[
            "-P",
            "t/a",
            "-e",
            "trace=getdents64",
            "-e",
            "inject=getdents64:error=EIO",
        ])
        .args(["hash", "--json", "t"])
        .current_dir(env.root()),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_stderr_contains(
        &out,
        "b3tree: t/a: unreadable directory: Input/output error",
    );
    let records: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let errors: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(errors.len(), 1, "{records:?}");
    assert_eq!(errors[0]["path"], "t/a", "{records:?}");
    // The rest of the walk went on.
    let names: Vec<&str> = records.iter().filter_map(|r| r["path"].as_str()).collect();
    assert!(
        names.contains(&"t/b/g") && names.contains(&"t/c"),
        "{names:?}"
    );
}

// ---- T9: merge refuses input that would make it lie --------------------------------------

#[test]
fn merge_refuses_disorder_duplicates_and_names_that_climb_out() {
    let env = TestEnv::new();
    for f in ["a", "b", "c", "d", "e", "f"] {
        env.file(format!("t/{f}"), f);
    }
    for k in 0..2 {
        let out = env.run(&[
            "hash",
            "--shard",
            &format!("{k}/2"),
            "-o",
            &format!("s{k}"),
            "t",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let good = env.run(&["merge", "s0", "s1"]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert_eq!(stdout(&good).lines().count(), 6);
    let s0 = std::fs::read_to_string(env.root().join("s0")).unwrap();
    let lines: Vec<&str> = s0.lines().collect();
    assert!(lines.len() >= 4, "{s0}");
    let header = lines[0];
    let entries = &lines[1..];
    let hash = &entries[0][..64];
    let mut reversed = entries.to_vec();
    reversed.reverse();
    let cases = [
        (
            "reversed",
            format!("{header}\n{}\n", reversed.join("\n")),
            "s:3: not in canonical order",
        ),
        (
            "duplicate",
            format!("{s0}{}\n", entries[entries.len() - 1]),
            "is listed twice",
        ),
        (
            "climbs",
            format!("{s0}{hash}  t/z/../../../secret/s\n"),
            "t/z/../../../secret/s climbs out",
        ),
    ];
    for (what, text, says) in cases {
        std::fs::write(env.root().join("s"), text).unwrap();
        let out = env.run(&["merge", "-o", "merged.b3", "s", "s1"]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert_stderr_contains(&out, says);
        assert!(
            !env.root().join("merged.b3").exists(),
            "{what}: written anyway"
        );
    }
}

// ---- T13: messages ---------------------------------------------------------------------

#[test]
fn an_invalid_glob_is_echoed_escaped_and_a_failed_output_names_the_users_path() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    let out = env.run(&["hash", "--exclude", "a[\x1b]2;owned\x07[", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        !out.stderr.iter().any(|&b| b == 0x1b || b == 0x07),
        "raw control bytes: {:?}",
        stderr(&out)
    );
    assert_stderr_contains(&out, "invalid --exclude pattern");
    assert_stderr_contains(&out, "\\x1b");
    let out = env.run(&["hash", "-o", "nodir/x.b3", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_stderr_contains(&out, "cannot create nodir/x.b3: No such file or directory");
    assert!(!stderr(&out).contains(".b3tree-"), "{}", stderr(&out));
}

// ---- T12: the progress bar and stdout on one terminal ------------------------------------

/// Lines of a terminal transcript whose visible text (after the last carriage return and
/// line erase) holds `marker` somewhere other than at the start: a progress frame drawn in
/// front of an output line. Also the number of lines that hold it, and of progress frames.
fn mixed_lines(
    transcript: &[u8],
    marker: impl Fn(&[u8]) -> Option<usize>,
) -> (usize, usize, usize) {
    let (mut found, mut mixed) = (0, 0);
    for line in transcript.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let visible = line.rsplit(|&b| b == b'\r').next().unwrap_or(line);
        let visible = visible.strip_prefix(b"\x1b[2K").unwrap_or(visible);
        if let Some(at) = marker(visible) {
            found += 1;
            if at != 0 {
                mixed += 1;
            }
        }
    }
    let frames = transcript.windows(7).filter(|w| w == b" files,").count();
    (found, mixed, frames)
}

#[test]
fn the_progress_bar_never_lands_inside_output_lines_on_one_terminal() {
    let env = TestEnv::new();
    for i in 0..1000 {
        env.file(format!("t/a{i:04}"), format!("{i}"));
    }
    // A big file in the middle: the bar is drawn while it is read, then 3,000 lines follow.
    env.take_huge_file_turn();
    sparse_file(&env, "t/m", 4 << 30);
    for i in 0..3000 {
        env.file(format!("t/z{i:04}"), format!("{i}"));
    }
    let out = env.run(&["hash", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let is_hash_line = |v: &[u8]| {
        v.windows(66)
            .position(|w| w[..64].iter().all(u8::is_ascii_hexdigit) && &w[64..] == b"  ")
    };
    // Verdicts are coloured on a terminal: `t/a0000: ` then OK in green.
    let is_verdict = |v: &[u8]| {
        let ok = v.windows(2).any(|w| w == b"OK");
        v.windows(2).position(|w| w == b"t/").filter(|_| ok)
    };
    // stdout and stderr on one pseudo-terminal (script(1) allocates it).
    for (args, marker) in [
        (
            format!("{} hash -j 2 t", bin().display()),
            &is_hash_line as &dyn Fn(&[u8]) -> Option<usize>,
        ),
        (format!("{} check -j 2 m.b3", bin().display()), &is_verdict),
    ] {
        let transcript = env.root().join("typescript");
        let out = run_with_timeout(
            std::process::Command::new("script")
                .args(["-q", "-e", "-c", &args])
                .arg(&transcript)
                .current_dir(env.root()),
            LIMIT,
        );
        assert_eq!(out.status.code(), Some(0), "{args}: {}", stderr(&out));
        let text = std::fs::read(&transcript).unwrap();
        let (found, mixed, frames) = mixed_lines(&text, marker);
        assert_eq!(found, 4001, "{args}: output lines seen");
        assert!(
            frames > 0,
            "{args}: the bar was never drawn (the test saw nothing)"
        );
        assert_eq!(
            mixed, 0,
            "{args}: {mixed} output lines start after a progress frame"
        );
    }
}

// ---- T8: another filesystem at the same path ----------------------------------------------

/// Writes `bytes` over the first data block (1 KiB blocks) of the file `inner` in the ext2
/// image `img`, behind the filesystem's back: no stat fact of the file changes.
fn overwrite_data_of(img: &std::path::Path, inner: &str, bytes: &[u8]) {
    let blocks = std::process::Command::new("debugfs")
        .args(["-R", &format!("blocks {inner}")])
        .arg(img)
        .output()
        .unwrap();
    let block: u64 = String::from_utf8_lossy(&blocks.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    file.seek(SeekFrom::Start(block * 1024)).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn another_filesystem_at_the_same_path_never_gets_the_old_digest() {
    let env = TestEnv::new();
    let (a, b) = (env.root().join("a.img"), env.root().join("b.img"));
    let mnt = env.root().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    must(
        std::process::Command::new("truncate")
            .arg("-s")
            .arg("8M")
            .arg(&a),
    );
    // 128-byte inodes: 1-second timestamps, as the images of the report had.
    must(
        std::process::Command::new("mkfs.ext2")
            .args(["-q", "-F", "-b", "1024", "-I", "128"])
            .arg(&a),
    );
    let mount = |img: &std::path::Path| {
        must(
            std::process::Command::new("mount")
                .args(["-o", "loop"])
                .arg(img)
                .arg(&mnt),
        );
        Mounted {
            point: mnt.clone(),
            sshd: None,
        }
    };
    {
        let _m = mount(&a);
        std::fs::write(mnt.join("f"), "content of image A\n").unwrap();
    }
    // B: a copy of A with another UUID and other bytes in f's data block; every stat fact
    // of f (size, times, inode) is the same.
    std::fs::copy(&a, &b).unwrap();
    must(
        std::process::Command::new("tune2fs")
            .args(["-U", "random"])
            .arg(&b),
    );
    overwrite_data_of(&b, "/f", b"CONTENT OF IMAGE B\n");
    // Records are trusted for files whose timestamps lie 2 s before the run.
    std::thread::sleep(Duration::from_millis(2100));
    let update = || env.run(&["hash", "-C", "mnt", "--update", "-o", "../m.b3", "."]);
    {
        let _m = mount(&a);
        let out = update();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let _m = mount(&b);
    let facts = |p: &std::path::Path| {
        let m = std::fs::metadata(p).unwrap();
        use std::os::unix::fs::MetadataExt;
        (m.size(), m.mtime(), m.ctime(), m.ino())
    };
    assert_eq!(
        std::fs::read_to_string(mnt.join("f")).unwrap(),
        "CONTENT OF IMAGE B\n"
    );
    let out = update();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(reused_in(&stderr(&out)), 0, "{}", stderr(&out));
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    assert_eq!(m, format!("{}  f\n", hex(b"CONTENT OF IMAGE B\n")));
    // The same filesystem mounted again is the same: its digest is reused.
    let before = facts(&mnt.join("f"));
    drop(_m);
    let _m = mount(&b);
    assert_eq!(facts(&mnt.join("f")), before);
    let out = update();
    assert_eq!(reused_in(&stderr(&out)), 1, "{}", stderr(&out));
}

// ---- T: manifests past the names a check keeps in memory -----------------------------------

/// A tree of `count` empty files, 1,000 per directory (`t/d000/f000000`…).
fn many_empty_files(env: &TestEnv, count: usize) {
    for i in 0..count {
        let dir = env.root().join(format!("t/d{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::File::create(dir.join(format!("f{i:06}"))).unwrap();
    }
}

/// `check --audit` of `manifest` (a file, or `-` with `input` on stdin): its stdout and
/// stderr, after asserting exit 1 (one NEW file, one repeated line).
fn audit_with_a_repeat(env: &TestEnv, manifest: &str, input: Option<&[u8]>) -> (String, String) {
    let mut cmd = env.cmd();
    cmd.args(["check", "--audit", manifest]);
    let out = match input {
        None => run_with_timeout(&mut cmd, Duration::from_secs(120)),
        Some(bytes) => {
            let path = env.root().join("stdin.b3");
            std::fs::write(&path, bytes).unwrap();
            cmd.stdin(std::fs::File::open(&path).unwrap());
            run_with_timeout(&mut cmd, Duration::from_secs(120))
        }
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    (stdout(&out), stderr(&out))
}

/// Past the 262,144 names a check keeps while they come in canonical order (it then keeps
/// none: repeats are found next to each other, the audit merges the walk with a second read
/// of the manifest), the verdicts are those of a check that keeps every name: a manifest in
/// order, the same lines reversed (out of order: read again and fingerprinted), and the
/// ordered one on stdin (which cannot be read again: every name kept).
#[test]
fn audit_and_repeats_past_the_names_kept_in_memory() {
    let env = TestEnv::new();
    let count = 270_000;
    many_empty_files(&env, count);
    let out = env.run(&["hash", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::File::create(env.root().join("t/d150/new")).unwrap();
    // The line of t/d265/f265000 (past the bound) again, right after itself.
    let text = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let at = 265_000;
    assert!(lines[at].ends_with("t/d265/f265000"));
    lines.insert(at + 1, lines[at]);
    let ordered = lines.join("\n") + "\n";
    std::fs::write(env.root().join("ordered.b3"), &ordered).unwrap();
    lines.reverse();
    std::fs::write(env.root().join("reversed.b3"), lines.join("\n") + "\n").unwrap();
    let summary = format!(
        "{} ok, 0 failed, 0 missing, 0 unreadable, 1 duplicates, 1 new, 0 moved",
        count + 1
    );
    for (manifest, input, repeat) in [
        (
            "ordered.b3",
            None,
            "ordered.b3:265002: duplicate entry (first at ordered.b3:265001)",
        ),
        (
            "reversed.b3",
            None,
            "reversed.b3:5001: duplicate entry (first at reversed.b3:5000)",
        ),
        (
            "-",
            Some(ordered.as_bytes()),
            "-:265002: duplicate entry (first at -:265001)",
        ),
    ] {
        let (out, err) = audit_with_a_repeat(&env, manifest, input);
        let verdicts: Vec<&str> = out.lines().filter(|l| !l.ends_with(": OK")).collect();
        assert_eq!(verdicts, ["t/d150/new: NEW"], "{manifest}");
        assert!(err.contains(repeat), "{manifest}: {err}");
        assert!(err.contains(&summary), "{manifest}: {err}");
        let said = err.matches(": duplicate entry (first at").count();
        assert_eq!(said, 1, "{manifest}: {err}");
    }
}
