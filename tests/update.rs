//! `hash --update`: reuse of unchanged files' digests, equality with a full run, the racy
//! rule, resuming a stopped run, and every state that must not be trusted.
//!
//! A record is trusted only when the file's times lie 2 s before the run that recorded it,
//! so tests that expect reuse make their tree, then wait [`SETTLE`].

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use crate::common::*;

const SETTLE: Duration = Duration::from_millis(2100);

/// (digests reused, files read), from the `update:` line on stderr.
fn counts(out: &std::process::Output) -> (u64, u64) {
    let err = stderr(out);
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("b3tree: update: "))
        .unwrap_or_else(|| panic!("no update line: {err}"));
    // "40 digests reused (396 B), 0 files read (0 B)"
    let first = |t: &str| t.split_whitespace().next().unwrap().parse::<u64>().unwrap();
    let reused = first(line);
    let read = first(line.split("), ").nth(1).unwrap());
    (reused, read)
}

fn tree(env: &TestEnv, n: usize) {
    for i in 0..n {
        env.file(format!("t/d{}/f{i:03}", i % 4), format!("content {i}\n"));
    }
}

/// `hash -o NAME ARGS` as a full run, its manifest's bytes.
fn full_run(env: &TestEnv, args: &[&str]) -> Vec<u8> {
    let mut all = vec!["hash", "-q", "-o", "full.b3"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::read(env.root().join("full.b3")).unwrap()
}

fn update(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut all = vec!["hash", "--update", "-o", "m.b3"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    out
}

fn manifest(env: &TestEnv) -> Vec<u8> {
    std::fs::read(env.root().join("m.b3")).unwrap()
}

#[test]
fn unchanged_files_are_reused_and_the_manifest_equals_a_full_run() {
    let env = TestEnv::new();
    tree(&env, 40);
    std::thread::sleep(SETTLE);
    let first = update(&env, &["t"]);
    assert_stderr_contains(&first, "no state for ");
    assert_eq!(counts(&first), (0, 40));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    assert!(env.root().join("m.b3.b3tree-state").is_file());

    let second = update(&env, &["t"]);
    assert_eq!(counts(&second), (40, 0));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));

    // Modified with the same size and its old mtime put back (only ctime tells), deleted,
    // added, renamed.
    let modified = env.root().join("t/d1/f005");
    let mtime = std::fs::metadata(&modified).unwrap().modified().unwrap();
    std::fs::write(&modified, "CONTENT 5\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&modified)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::remove_file(env.root().join("t/d2/f010")).unwrap();
    env.file("t/d0/new", "new\n");
    std::fs::rename(env.root().join("t/d3/f011"), env.root().join("t/d3/g011")).unwrap();
    let third = update(&env, &["t"]);
    assert_eq!(counts(&third), (37, 3));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    assert!(String::from_utf8_lossy(&manifest(&env)).contains("  t/d1/f005\n"));
    // A complete run leaves no journal.
    assert!(!env.root().join("m.b3.b3tree-journal.1").exists());
    assert!(!env.root().join("m.b3.b3tree-journal.2").exists());
}

/// (inode, mtime, ctime) of a file: which version of it is in place.
fn version(path: &Path) -> (u64, i64, i64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).unwrap();
    (
        m.ino(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    )
}

#[test]
fn a_run_that_changes_nothing_writes_nothing_and_one_that_reads_a_file_rewrites_the_state() {
    let env = TestEnv::new();
    tree(&env, 20);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    let (m, state) = (
        env.root().join("m.b3"),
        env.root().join("m.b3.b3tree-state"),
    );
    let (m0, s0) = (version(&m), version(&state));

    // Nothing changed: neither file is touched, no journal is left, the run says so (and
    // gives no rate over bytes it did not read).
    let same = update(&env, &["t"]);
    assert_eq!(counts(&same), (20, 0));
    assert_stderr_contains(&same, "(nothing read)");
    assert_stderr_contains(&same, "the manifest is unchanged");
    assert_eq!((version(&m), version(&state)), (m0, s0));
    assert!(!env.root().join("m.b3.b3tree-journal.1").exists());

    // A file touched (same bytes): it is read, the manifest stays, the state is new and bound.
    std::thread::sleep(Duration::from_millis(20));
    let touched = env.root().join("t/d1/f005");
    std::fs::write(&touched, "content 5\n").unwrap();
    let reread = update(&env, &["t"]);
    assert_eq!(counts(&reread), (19, 1));
    assert_stderr_contains(&reread, "(10 B read, ");
    assert_stderr_contains(&reread, "the manifest is unchanged");
    assert_eq!(version(&m), m0);
    assert_ne!(version(&state), s0);
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    // Its record is racy, so it is read once more; then everything is reused from that state.
    assert_eq!(counts(&update(&env, &["t"])), (19, 1));
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    assert_eq!(counts(&update(&env, &["t"])), (20, 0));

    // Changed content: the manifest is replaced.
    std::fs::write(&touched, "content 55\n").unwrap();
    let changed = update(&env, &["t"]);
    assert!(!stderr(&changed).contains("unchanged"));
    assert_ne!(version(&m).0, m0.0);
    assert_eq!(manifest(&env), full_run(&env, &["t"]));

    // The same bytes put back under a new inode before a run: the state is still bound (it
    // is bound to bytes), and that file is the one the run finds, so it stays.
    let bytes = manifest(&env);
    std::fs::remove_file(&m).unwrap();
    std::fs::write(&m, &bytes).unwrap();
    let m1 = version(&m);
    std::thread::sleep(SETTLE);
    let after = update(&env, &["t"]);
    assert_stderr_contains(&after, "the manifest is unchanged");
    assert_eq!(version(&m), m1);
}

/// `hash --update -o m.b3 t`, one file at a time, stopped by SIGINT (within the promise)
/// while it reads a huge sparse file `t/zz`, the last in order.
fn stop_update_while_it_reads_a_huge_file(env: &TestEnv) {
    huge_sparse_file(env, "t/zz");
    let mut child = env
        .cmd()
        .args([
            "hash", "--update", "-o", "m.b3", "-j", "1", "--batch", "1", "t",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_open(&child, "zz");
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
}

/// The `end` line's record count of the state beside `m.b3`.
fn state_count(env: &TestEnv) -> u64 {
    let state = std::fs::read_to_string(env.root().join("m.b3.b3tree-state")).unwrap();
    let end = state.lines().last().unwrap();
    end.split(' ').nth(1).unwrap().parse().unwrap()
}

/// A run writes nothing while it repeats its state; where it departs from it (first record,
/// middle, last — the state spans several sealed blocks), the records it repeated are copied
/// from the state, and the next run trusts every one of them.
#[test]
fn a_run_that_departs_from_its_state_anywhere_keeps_every_record_it_repeated() {
    let env = TestEnv::new();
    tree(&env, 3000);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    let state = env.root().join("m.b3.b3tree-state");
    let blocks = std::fs::read_to_string(&state)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("sum "))
        .count();
    assert!(blocks >= 2, "{blocks} blocks: the test needs several");
    // In canonical order: d0/f000 first, d1/f1501 amid the second block, d3/f999 last.
    for (round, name) in ["t/d3/f999", "t/d1/f1501", "t/d0/f000"].iter().enumerate() {
        let s0 = version(&state);
        env.file(name, format!("edited {round}\n"));
        std::thread::sleep(SETTLE);
        let departs = update(&env, &["t"]);
        assert_eq!(counts(&departs), (2999, 1), "{name}");
        assert_ne!(version(&state).0, s0.0, "{name}: a new state");
        assert_eq!(state_count(&env), 3000, "{name}");
        assert_eq!(manifest(&env), full_run(&env, &["t"]), "{name}");
        assert_eq!(counts(&update(&env, &["t"])), (3000, 0), "{name}");
    }
}

/// The state beside `m.b3` with every record's DEV field moved by one and its blocks sealed
/// again: what a remount that gives the filesystem another device number looks like.
fn move_device_numbers(env: &TestEnv) {
    let path = env.root().join("m.b3.b3tree-state");
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut out, mut block) = (String::new(), String::new());
    for (i, line) in text.lines().enumerate() {
        if i < 3 || line.starts_with("end ") {
            out.push_str(line);
        } else if let Some(rest) = line.strip_prefix("sum ") {
            let count = rest.split(' ').next().unwrap();
            let check = &blake3::hash(block.as_bytes()).to_hex()[..16];
            out.push_str(&format!("{block}sum {count} {check}"));
            block.clear();
        } else {
            let mut fields: Vec<String> = line.splitn(8, ' ').map(str::to_string).collect();
            fields[5] = (fields[5].parse::<u64>().unwrap() + 1).to_string();
            block.push_str(&fields.join(" "));
            block.push('\n');
            continue;
        }
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
}

/// Records that differ from the state's only in their device number (a remount) are written
/// once, so that the next unchanged run repeats the state whole and writes nothing.
#[test]
fn a_device_number_changed_by_a_remount_is_written_once() {
    let env = TestEnv::new();
    tree(&env, 50);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    move_device_numbers(&env);
    let state = env.root().join("m.b3.b3tree-state");
    let moved = version(&state);
    // Still trusted (the device number is recorded, not compared), but not repeated.
    assert_eq!(counts(&update(&env, &["t"])), (50, 0));
    assert_ne!(
        version(&state).0,
        moved.0,
        "the state is written with today's numbers"
    );
    let written = version(&state);
    assert_eq!(counts(&update(&env, &["t"])), (50, 0));
    assert_eq!(version(&state), written, "and then left as it is");
    assert!(!env.root().join("m.b3.b3tree-journal.1").exists());
}

/// A run stopped while it still repeats its state leaves a journal with no records (the
/// state, still bound, has them); the next run resumes with nothing to read.
#[test]
fn a_run_stopped_while_it_repeats_its_state_resumes_from_the_state() {
    let env = TestEnv::new();
    tree(&env, 300);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    stop_update_while_it_reads_a_huge_file(&env);
    let journal = std::fs::read_to_string(env.root().join("m.b3.b3tree-journal.1")).unwrap();
    assert_eq!(journal.lines().count(), 3, "the header alone:\n{journal}");
    std::fs::remove_file(env.root().join("t/zz")).unwrap();
    let resumed = update(&env, &["t"]);
    assert_stderr_contains(&resumed, "resuming: the journal of a stopped run is used");
    assert_eq!(counts(&resumed), (300, 0));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    assert_eq!(state_count(&env), 300);
    assert_eq!(counts(&update(&env, &["t"])), (300, 0));
    assert!(!env.root().join("m.b3.b3tree-journal.1").exists());
}

/// A manifest replaced during a run (here with the very same bytes, under a new inode,
/// while strace holds the run in its journal's `flock`, after it read the manifest) is no
/// longer the file the run found: the run puts its own in place and binds the state to it,
/// as it would after any change, rather than leave a file it has not seen.
#[test]
fn a_manifest_replaced_during_a_run_is_replaced_by_the_runs_own() {
    let env = TestEnv::new();
    tree(&env, 20);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    let m = env.root().join("m.b3");
    let bytes = manifest(&env);
    // The second flock of the run is its journal's (the first, its -o temporary file's).
    let run = under_strace(&[
        "-e",
        "trace=flock",
        "-e",
        "inject=flock:delay_enter=1500000:when=2",
    ])
    .args(["hash", "--update", "-o", "m.b3", "t"])
    .current_dir(env.root())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // In its delayed flock: the journal's temporary file exists beside the manifest's.
    let start = std::time::Instant::now();
    let has_temp = || {
        std::fs::read_dir(env.root())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
            >= 2
    };
    while !has_temp() && start.elapsed() < WAIT {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(has_temp(), "the run never created its journal");
    std::fs::remove_file(&m).unwrap();
    std::fs::write(&m, &bytes).unwrap();
    let planted = version(&m);
    let out = output_within(run, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_ne!(version(&m), planted);
    assert_eq!(manifest(&env), bytes);
    assert_eq!(counts(&update(&env, &["t"])), (20, 0));
}

/// The state is bound to names, options and each file's facts, not to the working
/// directory: a tree moved with its manifest (or the same command run from its new place)
/// reuses every digest; a file replaced in the moved tree is still read.
#[test]
fn a_tree_moved_with_its_manifest_keeps_its_state() {
    let env = TestEnv::new();
    for i in 0..20 {
        env.file(format!("old/t/f{i:02}"), format!("{i}\n"));
    }
    std::thread::sleep(SETTLE);
    let run_in = |dir: &str| {
        let out = env.run(&["-C", dir, "hash", "--update", "-o", "m.b3", "t"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };
    assert_eq!(counts(&run_in("old")), (0, 20));
    std::fs::rename(env.root().join("old"), env.root().join("new")).unwrap();
    assert_eq!(counts(&run_in("new")), (20, 0));
    // A copy elsewhere has the same names but other inodes: read, never trusted.
    let copy = std::process::Command::new("cp")
        .args(["-a", "new", "copy"])
        .current_dir(env.root())
        .status()
        .unwrap();
    assert!(copy.success());
    std::thread::sleep(SETTLE);
    assert_eq!(counts(&run_in("copy")), (0, 20));
    // In the moved tree, a file replaced by another with the same size and times is read.
    let f = env.root().join("new/t/f03");
    let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
    std::fs::remove_file(&f).unwrap();
    std::fs::write(&f, "X\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = run_in("new");
    assert_eq!(counts(&out), (19, 1));
    let manifest = std::fs::read_to_string(env.root().join("new/m.b3")).unwrap();
    assert!(
        manifest.contains(&format!("{}  t/f03\n", hex(b"X\n"))),
        "{manifest}"
    );
}

#[test]
fn a_file_modified_just_before_a_run_is_read_again_next_time() {
    let env = TestEnv::new();
    tree(&env, 10);
    std::thread::sleep(SETTLE);
    env.file("t/fresh", "just written\n");
    let first = update(&env, &["t"]);
    assert_eq!(counts(&first), (0, 11));
    // Its record is racy (written less than 2 s before that run started): never trusted.
    let second = update(&env, &["t"]);
    assert_eq!(counts(&second), (10, 1));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
}

#[test]
fn a_run_stopped_by_sigint_is_resumed_from_its_journal() {
    let env = TestEnv::new();
    tree(&env, 300);
    std::thread::sleep(SETTLE);
    stop_update_while_it_reads_a_huge_file(&env);
    assert!(
        !env.root().join("m.b3").exists(),
        "no manifest from a stopped run"
    );
    let journal = std::fs::read_to_string(env.root().join("m.b3.b3tree-journal.1")).unwrap();
    assert!(
        journal.lines().count() >= 3 + 300,
        "{} lines",
        journal.lines().count()
    );
    std::fs::remove_file(env.root().join("t/zz")).unwrap();
    let resumed = update(&env, &["t"]);
    assert_stderr_contains(&resumed, "resuming: the journal of a stopped run is used");
    assert_eq!(counts(&resumed), (300, 0));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    assert!(!env.root().join("m.b3.b3tree-journal.1").exists());
    assert!(!env.root().join("m.b3.b3tree-journal.2").exists());
}

/// Bounded race test: SIGINT at spread-out moments of 12 runs, then one run to the end;
/// whatever the journals hold, the manifest equals a full run's.
#[test]
fn sigint_at_any_moment_leaves_nothing_that_spoils_the_next_run() {
    let env = TestEnv::new();
    tree(&env, 2000);
    std::thread::sleep(SETTLE);
    for i in 0..12u64 {
        let mut child = env
            .cmd()
            .args(["hash", "--update", "-o", "m.b3", "-j", "2", "t"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(i * 7 % 60));
        let status = stops_within_promise(&mut child, libc::SIGINT);
        // Stopped by the signal, or finished before it landed.
        assert!(
            status.success() || status.signal() == Some(libc::SIGINT),
            "{status:?}"
        );
        // Edits between runs: the journals must not hide them.
        env.file(format!("t/d0/f{:03}", i * 4), format!("edited {i}\n"));
    }
    update(&env, &["t"]);
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    assert_no_temp_files(env.root());
}

#[test]
fn a_state_that_cannot_be_trusted_means_reading_the_files() {
    let env = TestEnv::new();
    tree(&env, 20);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    let state = env.root().join("m.b3.b3tree-state");
    let good = std::fs::read(&state).unwrap();

    // A flipped byte in a record: the records end there, the rest is read.
    let mut bad = good.clone();
    let at = good.len() / 2;
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&state, &bad).unwrap();
    let out = update(&env, &["t"]);
    assert_stderr_contains(&out, "checksum mismatch; the files after it were read");
    let (reused, read) = counts(&out);
    assert!(reused < 20 && reused + read == 20, "{reused} {read}");
    assert_eq!(manifest(&env), full_run(&env, &["t"]));

    // The manifest edited since: the state belongs to another version of it.
    update(&env, &["t"]);
    let mut m = manifest(&env);
    m.extend_from_slice(b"# a comment\n");
    std::fs::write(env.root().join("m.b3"), &m).unwrap();
    let out = update(&env, &["t"]);
    assert_stderr_contains(&out, "belongs to another version of ");
    assert_eq!(counts(&out), (0, 20));

    // Other options (an exclude): not used.
    let out = update(&env, &["--exclude", "nothing", "t"]);
    assert_stderr_contains(
        &out,
        r#"was written for other options (--exclude: [] then, ["nothing"] now)"#,
    );
    assert_eq!(counts(&out), (0, 20));

    // Cut short (no end line), and a symlink in its place.
    update(&env, &["t"]);
    let text = std::fs::read(&state).unwrap();
    let cut = text[..text.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    std::fs::write(&state, &text[..cut]).unwrap();
    let out = update(&env, &["t"]);
    assert_stderr_contains(&out, "has no valid end line");
    assert_eq!(counts(&out), (0, 20));
    std::fs::rename(&state, env.root().join("elsewhere")).unwrap();
    let elsewhere = std::fs::read(env.root().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("elsewhere", &state).unwrap();
    let out = update(&env, &["t"]);
    assert_stderr_contains(&out, "symlink");
    assert_eq!(counts(&out), (0, 20));
    assert_eq!(manifest(&env), full_run(&env, &["t"]));
    // The run replaced the symlink with its own state; the file it led to is untouched.
    assert!(!std::fs::symlink_metadata(&state).unwrap().is_symlink());
    assert!(std::fs::read(env.root().join("elsewhere")).unwrap() == elsewhere);
}

#[test]
fn json_says_per_entry_whether_a_digest_was_reused() {
    let env = TestEnv::new();
    tree(&env, 5);
    std::thread::sleep(SETTLE);
    update(&env, &["--json", "t"]);
    env.file("t/d0/f000", "changed\n");
    update(&env, &["--json", "t"]);
    let text = String::from_utf8(manifest(&env)).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reused: Vec<bool> = recs[..5]
        .iter()
        .map(|r| r["reused"].as_bool().unwrap())
        .collect();
    assert_eq!(reused, [false, true, true, true, true]);
    let summary = &recs[5];
    assert_eq!(summary["reused"], 4);
    assert_eq!(summary["read"], 1);
    assert_eq!(summary["read_bytes"], 8);
}

#[test]
fn the_manifest_and_its_state_inside_the_tree_are_never_hashed() {
    let env = TestEnv::new();
    tree(&env, 5);
    let out = env.run(&["hash", "-q", "-C", "t", "--update", "-o", "m.b3", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&["hash", "-C", "t", "--update", "-o", "m.b3", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = std::fs::read_to_string(env.root().join("t/m.b3")).unwrap();
    assert_eq!(m.lines().count(), 5, "{m}");
    assert!(!m.contains("b3tree-"), "{m}");
    // A full run with the same -o skips them too, so both give the same manifest.
    let copy = std::fs::read(env.root().join("t/m.b3")).unwrap();
    let out = env.run(&["hash", "-q", "-C", "t", "-o", "m.b3", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(env.root().join("t/m.b3")).unwrap(), copy);
}

#[test]
fn update_is_refused_where_it_cannot_keep_a_state() {
    let env = TestEnv::new();
    tree(&env, 2);
    env.file("u/x", "x");
    // Each refused for its own reason (a mistyped flag would be exit 2 too).
    let cases: [(&[&str], &str); 4] = [
        (
            &["hash", "--update", "t"],
            "required arguments were not provided",
        ),
        (
            &["hash", "--update", "-o", "m.b3", "u", "t"],
            "canonical order: t comes after u",
        ),
        (
            &["hash", "--update", "-o", "m.b3", "t", "t/d0"],
            "canonical order: t/d0 comes after t",
        ),
        (
            &["hash", "--update", "-o", "/dev/null", "t"],
            "-o must name a regular file",
        ),
    ];
    for (args, why) in cases {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_stderr_contains(&out, why);
        assert!(!env.root().join("m.b3").exists());
    }
    assert!(!Path::new(&env.root().join("m.b3.b3tree-journal.1")).exists());
}

#[test]
fn update_works_with_digest_shard_follow_and_excludes() {
    let env = TestEnv::new();
    tree(&env, 30);
    std::thread::sleep(SETTLE);
    let cases: [&[&str]; 4] = [
        &["--digest", "t"],
        &["--shard", "1/3", "t"],
        &["-L", "t"],
        &["--exclude", "f01*", "t"],
    ];
    for args in cases {
        let _ = std::fs::remove_file(env.root().join("m.b3.b3tree-state"));
        update(&env, args);
        let second = update(&env, args);
        let (reused, read) = counts(&second);
        assert!(reused > 0 && read == 0, "{args:?}: {reused} {read}");
        let full = full_run(&env, args);
        assert_eq!(manifest(&env), full, "{args:?}");
        if args[0] == "--digest" {
            let digest = |o: &std::process::Output| {
                stderr(o)
                    .lines()
                    .find(|l| l.contains("digest b3t1:"))
                    .map(str::to_string)
            };
            let again = env.run(&["hash", "--digest", "-o", "full.b3", "t"]);
            assert!(digest(&second).is_some());
            assert_eq!(digest(&second), digest(&again));
        }
    }
}

/// Journals and states are trusted only when they are ours: owned by this user and writable
/// by no one else. A manifest kept inside the tree it describes sits where others may create
/// files; a journal planted there with a forged digest (paired with stat facts anyone can
/// read) must not end up in the manifest.
#[test]
fn a_planted_journal_is_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    tree(&env, 6);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    let full = full_run(&env, &["t"]);
    // A forged copy of the state: one digest changed, the block sealed again.
    let text = std::fs::read_to_string(env.root().join("m.b3.b3tree-state")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut records: Vec<String> = lines[3..9].iter().map(|l| l.to_string()).collect();
    records[2].replace_range(..64, &"0".repeat(64));
    let block: String = records.iter().map(|r| format!("{r}\n")).collect();
    let sum = &blake3::hash(block.as_bytes()).to_hex()[..16];
    let forged = format!(
        "{}\n{}\n{}\n{block}sum 6 {sum}\n",
        lines[0], lines[1], lines[2]
    );
    let journal = env.root().join("m.b3.b3tree-journal.9");
    let plant = |mode: u32, uid: u32| {
        std::fs::write(&journal, &forged).unwrap();
        std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&journal, Some(uid), None).unwrap();
    };
    // Ours (as we would write it): the forgery is believed — the test has teeth.
    // SAFETY (here and below): geteuid has no preconditions.
    plant(0o644, unsafe { libc::geteuid() });
    update(&env, &["t"]);
    assert_ne!(manifest(&env), full);
    update(&env, &["--exclude", "x", "t"]); // a run under other options: resets the state
    // Someone else's, or writable by others: not used, said once, and left in place.
    let me = unsafe { libc::geteuid() };
    for (mode, uid, why) in [
        (0o644, 65534, "owned by uid 65534"),
        (0o664, me, "others may write to it"),
    ] {
        plant(mode, uid);
        let out = update(&env, &["t"]);
        assert_stderr_contains(&out, why);
        assert_eq!(manifest(&env), full);
        // A complete run removes the journals it found — only those of this user.
        assert_eq!(journal.exists(), uid != me);
    }
    // Another user's file where the state goes: not trusted, and not replaced either; the
    // run's journal stays instead (exit 2: the state could not be written).
    let _ = std::fs::remove_file(&journal);
    let state = env.root().join("m.b3.b3tree-state");
    std::fs::write(&state, &forged).unwrap();
    std::os::unix::fs::chown(&state, Some(65534), None).unwrap();
    let out = env.run(&["hash", "--update", "-o", "m.b3", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_stderr_contains(&out, "not replacing");
    assert_eq!(manifest(&env), full);
    assert_eq!(std::fs::read_to_string(&state).unwrap(), forged);
    let kept = std::fs::read_dir(env.root())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".b3tree-journal."));
    assert!(kept, "the run's journal stays");
}

/// Property: after any sequence of edits, `--update` writes what a full run writes. Rounds of
/// random edits (seeded): rewrite with the same size and the old mtime put back, append,
/// delete, create, rename, replace by a symlink or a directory; `--update` after each.
#[test]
fn after_random_edits_update_equals_a_full_run() {
    let env = TestEnv::new();
    tree(&env, 60);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..8 {
        for _ in 0..6 {
            let files: Vec<std::path::PathBuf> = walk_files(&env.root().join("t"));
            let f = &files[next(files.len())];
            match next(6) {
                0 => {
                    let mtime = std::fs::metadata(f).unwrap().modified().unwrap();
                    let mut bytes = std::fs::read(f).unwrap();
                    bytes[0] ^= 0x20;
                    std::fs::write(f, &bytes).unwrap();
                    let h = std::fs::File::options().write(true).open(f).unwrap();
                    h.set_modified(mtime).unwrap();
                }
                1 => {
                    use std::io::Write;
                    let mut h = std::fs::File::options().append(true).open(f).unwrap();
                    h.write_all(b"more\n").unwrap();
                }
                2 => std::fs::remove_file(f).unwrap(),
                3 => {
                    env.file(format!("t/d{}/new{round}-{}", next(4), next(1000)), "new\n");
                }
                4 => std::fs::rename(f, f.with_extension(format!("r{round}"))).unwrap(),
                _ => {
                    std::fs::remove_file(f).unwrap();
                    if next(2) == 0 {
                        std::os::unix::fs::symlink("/etc/hostname", f).unwrap();
                    } else {
                        std::fs::create_dir(f).unwrap();
                        std::fs::write(f.join("inside"), format!("{round}\n")).unwrap();
                    }
                }
            }
        }
        update(&env, &["t"]);
        assert_eq!(manifest(&env), full_run(&env, &["t"]), "round {round}");
    }
}

/// Regular files below `dir`, sorted.
fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// A nightly run with a file it can never read: the manifest is kept (the new one goes to
/// FILE.partial) and so is the journal, whose records the next run reuses; with
/// `--replace-partial` the manifest is replaced, the errors recorded, and the state written.
/// Run as uid 65534 (as root nothing is unreadable).
#[test]
fn a_permanently_unreadable_file_keeps_the_journal_unless_replace_partial() {
    let tree = public_tree();
    let (_bin_dir, bin) = public_copy_of_binary();
    std::fs::create_dir(tree.path().join("t")).unwrap();
    chmod(tree.path().join("t"), 0o755);
    for i in 0..5 {
        write_mode(tree.path().join(format!("t/f{i}")), format!("{i}\n"), 0o644);
    }
    write_mode(tree.path().join("t/secret"), "no\n", 0o000);
    // The manifest's directory is nobody's: it writes the manifest, state and journals there.
    std::os::unix::fs::chown(tree.path(), Some(65534), Some(65534)).unwrap();
    std::thread::sleep(SETTLE);
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(&bin);
        as_nobody(&mut cmd);
        cmd.args(["hash", "--update", "-o", "m.b3"])
            .args(extra)
            .arg("t")
            .current_dir(tree.path());
        run_with_timeout(&mut cmd, Duration::from_secs(30))
    };
    let exists = |name: &str| tree.path().join(name).exists();
    // First run: no manifest to keep, so it is written (with the error said), and its state.
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert!(exists("m.b3") && exists("m.b3.b3tree-state"));
    // Again: the old manifest stays, the new one goes to .partial, the journal stays.
    let second = run(&[]);
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(counts(&second), (5, 0));
    assert!(exists("m.b3.partial") && exists("m.b3.b3tree-journal.1"));
    let third = run(&[]);
    assert_eq!(counts(&third), (5, 0));
    assert!(
        exists("m.b3.b3tree-journal.2"),
        "each kept run leaves its journal"
    );
    // --replace-partial: replaced, state written, journals gone.
    let replaced = run(&["--replace-partial"]);
    assert_eq!(replaced.status.code(), Some(1));
    assert_eq!(counts(&replaced), (5, 0));
    assert!(!exists("m.b3.b3tree-journal.1") && !exists("m.b3.b3tree-journal.2"));
    assert!(!exists("m.b3.b3tree-journal.3"));
    let m = std::fs::read_to_string(tree.path().join("m.b3")).unwrap();
    assert_eq!(m.lines().count(), 5, "{m}");
}

/// `b3tree ARGS` with `key` (32 bytes) on stdin, as `--keyed` reads it.
fn with_key(env: &TestEnv, args: &[&str], key: &[u8; 32]) -> std::process::Output {
    use std::io::Write;
    let mut child = env
        .cmd()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(key).unwrap();
    let out = output_within(child, WAIT);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    out
}

#[test]
fn a_change_of_digest_mode_reuses_nothing_and_the_same_mode_again_reuses_all() {
    let env = TestEnv::new();
    tree(&env, 12);
    std::thread::sleep(SETTLE);
    update(&env, &["t"]);
    for mode in [
        &["--algo", "sha256"][..],
        &["--algo", "sha512"],
        &["-l", "64"],
        &["--derive-key", "ctx one"],
        &["--derive-key", "ctx two"],
    ] {
        let args: Vec<&str> = mode.iter().copied().chain(["t"]).collect();
        let out = update(&env, &args);
        assert_eq!(counts(&out), (0, 12), "{mode:?}: {}", stderr(&out));
        assert_eq!(manifest(&env), full_run(&env, &args), "{mode:?}");
        // The same mode again: everything reused (the test sees reuse when it can happen).
        let out = update(&env, &args);
        assert_eq!(counts(&out).0, 12, "{mode:?} again: {}", stderr(&out));
        assert_eq!(manifest(&env), full_run(&env, &args), "{mode:?} again");
    }
    // Two keys: the second reuses none of the first's digests.
    let k1 = [1u8; 32];
    let k2 = [2u8; 32];
    let keyed = ["hash", "--keyed", "--update", "-o", "m.b3", "t"];
    with_key(&env, &keyed, &k1);
    let out = with_key(&env, &keyed, &k1);
    assert_eq!(counts(&out).0, 12, "{}", stderr(&out));
    let out = with_key(&env, &keyed, &k2);
    assert_eq!(counts(&out), (0, 12), "{}", stderr(&out));
    let full = with_key(&env, &["hash", "--keyed", "t"], &k2);
    assert_eq!(manifest(&env), full.stdout);
}
