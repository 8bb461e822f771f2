//! Rotating verification (`check --subset P%`, `--max-duration D`; docs/guide.md "Checking a
//! big archive a slice at a time"): never-verified entries first, then those verified
//! longest ago; the record beside the manifest survives a SIGKILL; the budget is kept.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// The names a check printed OK or FAILED for, in order.
fn verified(out: &std::process::Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(name, _)| name.to_string()))
        .collect()
}

fn tree_of(env: &TestEnv, n: usize) {
    for i in 0..n {
        env.file(format!("t/f{i:02}"), format!("content {i}"));
    }
    assert_exit(&env.run(&["hash", "t", "-o", "m.b3"]), 0);
}

#[test]
fn four_quarters_verify_every_entry_once_and_a_fifth_starts_over() {
    let env = TestEnv::new();
    tree_of(&env, 10);
    let mut seen = Vec::new();
    for run in 0..4 {
        let out = env.run(&["check", "--subset", "25%", "m.b3"]);
        assert_exit(&out, 0);
        let names = verified(&out);
        // 25 % of 10, rounded up: 3 a run; the fourth takes the last one left first.
        assert_eq!(names.len(), 3, "run {run}: {names:?}");
        seen.push(names);
        if run == 0 {
            assert!(
                stderr(&out).contains(
                    "checked 3 of 10 entries (30%) in 0s; 0 failed; not checked in this run: 7; never checked: 7"
                ),
                "{}",
                stderr(&out)
            );
        }
    }
    let all: Vec<&String> = seen.iter().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 10, "every entry verified: {seen:?}");
    // The first three runs never repeat an entry; the fourth verifies the one left, then the
    // two verified longest ago (the first run's first two).
    assert_eq!(all.len() - distinct.len(), 2, "{seen:?}");
    assert_eq!(seen[3][0], "t/f09");
    assert_eq!(&seen[3][1..], &seen[0][..2]);
    let fifth = env.run(&["check", "--subset", "25%", "m.b3"]);
    assert_eq!(
        verified(&fifth),
        vec!["t/f02", "t/f03", "t/f04"],
        "{seen:?}"
    );
    assert!(
        stderr(&fifth).contains("never checked: 0; oldest check: "),
        "{}",
        stderr(&fifth)
    );
}

#[test]
fn a_tampered_file_fails_the_run_that_reaches_it_and_a_changed_line_resets() {
    let env = TestEnv::new();
    tree_of(&env, 4);
    env.file("t/f03", "tampered");
    let first = env.run(&["check", "--subset", "50%", "m.b3"]);
    assert_exit(&first, 0);
    let second = env.run(&["check", "--subset", "50%", "--json", "m.b3"]);
    assert_eq!(second.status.code(), Some(1), "{}", stdout(&second));
    let summary = json_summary(&second);
    assert_eq!(summary["failed"], 1);
    let coverage = &summary["coverage"];
    assert_eq!(
        (coverage["entries"].as_u64(), coverage["checked"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(
        coverage["never_checked"].as_u64(),
        Some(0),
        "a failure is a check too"
    );
    // A line that changes counts as never checked: first in line.
    let manifest = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    let fixed = manifest.replace(&hex(b"content 3"), &hex(b"tampered"));
    std::fs::write(env.root().join("m.b3"), &fixed).unwrap();
    let third = env.run(&["check", "--subset", "25%", "m.b3"]);
    assert_eq!(verified(&third), vec!["t/f03"]);
    assert_exit(&third, 0);
    // f00's line changes (same content, a digest of another file): never verified.
    let moved = fixed.replacen(&hex(b"content 0"), &hex(b"content 1"), 1);
    std::fs::write(env.root().join("m.b3"), moved).unwrap();
    let fourth = env.run(&["check", "--subset", "25%", "m.b3"]);
    assert_eq!(verified(&fourth), vec!["t/f00"]);
}

/// Files evicted from the page cache (fsync, then POSIX_FADV_DONTNEED).
fn evict(paths: &[std::path::PathBuf]) {
    for p in paths {
        let f = std::fs::File::open(p).unwrap();
        f.sync_all().unwrap();
        // SAFETY: fadvise on an open descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
}

#[test]
fn a_time_budget_is_kept_on_a_cold_tree_and_the_next_run_goes_on() {
    let env = TestEnv::new();
    std::fs::create_dir(env.root().join("big")).unwrap();
    let block = vec![0x5au8; 1 << 20];
    let mut paths = Vec::new();
    for i in 0..24 {
        let p = env.root().join(format!("big/f{i:02}"));
        let mut f = std::fs::File::create(&p).unwrap();
        for _ in 0..64 {
            f.write_all(&block).unwrap();
        }
        paths.push(p);
    }
    assert_exit(&env.run(&["hash", "big", "-o", "m.b3"]), 0);
    evict(&paths);
    let start = Instant::now();
    let first = env.run(&["check", "--max-duration", "1s", "m.b3"]);
    let took = start.elapsed();
    assert_exit(&first, 0);
    assert!(took < Duration::from_millis(1700), "took {took:?}");
    let done = verified(&first);
    assert!(!done.is_empty(), "{}", stderr(&first));
    if done.len() == 24 {
        // A disk that reads 1.5 GB in under a second: nothing left for the budget to end.
        return;
    }
    assert!(
        stderr(&first).contains("the time budget ended the run"),
        "{}",
        stderr(&first)
    );
    // The files being read when the budget ended are said, and go to the back of the line.
    let dropped: Vec<String> = stderr(&first)
        .lines()
        .filter(|l| {
            l.ends_with("not read within the time budget (it goes to the back of the line)")
        })
        .map(|l| l.split(": ").nth(2).unwrap().to_string())
        .collect();
    // The next run starts with what the first did not reach, and ends with the dropped.
    let second = env.run(&["check", "--subset", "100%", "m.b3"]);
    let order = verified(&second);
    assert_eq!(order.len(), 24);
    let never = 24 - done.len() - dropped.len();
    assert!(
        order[..never]
            .iter()
            .all(|n| !done.contains(n) && !dropped.contains(n)),
        "{order:?} after {done:?}, dropped {dropped:?}"
    );
    assert_eq!(&order[24 - dropped.len()..], &dropped[..], "{order:?}");
}

#[test]
fn a_sigkill_keeps_what_was_verified_before_it() {
    let env = TestEnv::new();
    env.take_huge_file_turn();
    tree_of(&env, 6);
    // Last in canonical order: a 64 GiB sparse file that takes far longer than the test.
    huge_sparse_file(&env, "t/zz-huge");
    assert_exit(
        &env.run(&["hash", "t", "-o", "m.b3", "--exclude", "zz-huge"]),
        0,
    );
    // Its line, last in canonical order (its digest is never reached: any will do).
    let mut m = std::fs::read(env.root().join("m.b3")).unwrap();
    m.extend_from_slice(format!("{}  t/zz-huge\n", hex(b"never reached")).as_bytes());
    std::fs::write(env.root().join("m.b3"), m).unwrap();
    let mut child = env
        .cmd()
        .args(["check", "-j", "1", "--subset", "100%", "m.b3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_open(&child, "zz-huge");
    std::thread::sleep(Duration::from_millis(1200));
    child.kill().unwrap();
    child.wait().unwrap();
    // The next run of 6 of 7 entries starts with the one never verified: the huge file's
    // turn comes first, then the five oldest — so the one entry left out is one of those
    // verified before the kill.
    let next = env
        .cmd()
        .args([
            "check",
            "--subset",
            "15%",
            "--max-duration",
            "1s",
            "--json",
            "m.b3",
        ])
        .output()
        .unwrap();
    let summary = json_summary(&next);
    assert_eq!(summary["coverage"]["entries"], 7, "{}", stdout(&next));
    assert_eq!(
        summary["coverage"]["never_checked"],
        1,
        "the six verified before the SIGKILL are remembered: {}",
        stdout(&next)
    );
}

#[test]
fn rotation_refuses_a_manifest_on_standard_input() {
    let env = TestEnv::new();
    tree_of(&env, 2);
    let out = env
        .cmd()
        .args(["check", "--subset", "50%", "-"])
        .stdin(std::fs::File::open(env.root().join("m.b3")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("must be a file"), "{}", stderr(&out));
    let bad = env.run(&["check", "--subset", "0%", "m.b3"]);
    assert_eq!(bad.status.code(), Some(2));
    // Without the flags: no record file.
    assert_exit(&env.run(&["check", "m.b3"]), 0);
    assert!(!env.root().join("m.b3.b3tree-checked").exists());
}

#[test]
fn a_tree_spec_rotates_too_and_a_failing_entry_holds_no_one_back() {
    let env = TestEnv::new();
    tree_of(&env, 5);
    let spec = env.run(&["hash", "--format", "mtree", "t", "-o", "t.mtree"]);
    assert_exit(&spec, 0);
    env.file("t/f00", "tampered");
    let run = |fails: bool| {
        let out = env
            .cmd()
            .current_dir(env.root().join("t"))
            .args(["check", "--subset", "34%", "../t.mtree"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(i32::from(fails)),
            "{}",
            stderr(&out)
        );
        verified(&out)
    };
    // 6 entries (the root and 5 files), 34 %: 3 a run.
    assert_eq!(run(true), vec![".", "f00", "f01"]);
    assert_eq!(run(false), vec!["f02", "f03", "f04"]);
    // The failing f00 was checked in the first run: the third starts with the oldest.
    assert_eq!(run(true), vec![".", "f00", "f01"]);
}

#[test]
fn a_planted_symlink_or_fifo_in_place_of_the_record_is_never_written_through() {
    let env = TestEnv::new();
    tree_of(&env, 4);
    let victim = env.file("victim", "precious");
    std::os::unix::fs::symlink(&victim, env.root().join("m.b3.b3tree-checked")).unwrap();
    let out = env.run(&["check", "--subset", "50%", "m.b3"]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(stderr(&out).contains("not replaced"), "{}", stderr(&out));
    std::fs::remove_file(env.root().join("m.b3.b3tree-checked")).unwrap();
    mkfifo(&env.root().join("m.b3.b3tree-checked"));
    // Neither read nor written: the run ends (run's own 60 s bound would fail it).
    let out = env.run(&["check", "--subset", "50%", "m.b3"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("not replaced"), "{}", stderr(&out));
}

#[test]
fn the_record_is_kept_under_a_group_writable_umask() {
    let env = TestEnv::new();
    tree_of(&env, 4);
    let run = || {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask 002; exec '{}' check --subset 50% m.b3",
                bin().display()
            ))
            .current_dir(env.root())
            .output()
            .unwrap();
        assert_exit(&out, 0);
        verified(&out)
    };
    assert_eq!(run(), vec!["t/f00", "t/f01"]);
    assert_eq!(run(), vec!["t/f02", "t/f03"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.root().join("m.b3.b3tree-checked"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

#[test]
fn an_entry_longer_than_any_budget_holds_no_one_back() {
    let env = TestEnv::new();
    env.take_huge_file_turn();
    tree_of(&env, 3);
    huge_sparse_file(&env, "t/a-huge");
    // First in canonical order; its digest is never reached.
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    std::fs::write(
        env.root().join("m.b3"),
        format!("{}  t/a-huge\n{m}", hex(b"x")),
    )
    .unwrap();
    let first = env.run(&["check", "-j", "1", "--max-duration", "1s", "m.b3"]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "nothing verified: {}",
        stderr(&first)
    );
    assert!(
        stderr(&first).contains("t/a-huge: not read within the time budget"),
        "{}",
        stderr(&first)
    );
    assert!(
        stderr(&first).contains("no entry was verified in this run"),
        "{}",
        stderr(&first)
    );
    let second = env.run(&["check", "-j", "1", "--max-duration", "1s", "m.b3"]);
    assert_exit(&second, 0);
    assert_eq!(verified(&second), vec!["t/f00", "t/f01", "t/f02"]);
}

#[test]
fn records_of_entries_no_longer_listed_are_dropped_but_not_by_a_shard() {
    let env = TestEnv::new();
    tree_of(&env, 4);
    assert_exit(&env.run(&["check", "--subset", "100%", "m.b3"]), 0);
    let record = env.root().join("m.b3.b3tree-checked");
    let holds = |name: &str| std::fs::read_to_string(&record).unwrap().contains(name);
    assert!(holds("t/f03"));
    // f03's line leaves the manifest: a shard's run keeps its record (it asks for its own
    // entries only), a whole run drops it.
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    let kept: String = m
        .lines()
        .filter(|l| !l.ends_with("t/f03"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(env.root().join("m.b3"), kept).unwrap();
    assert_exit(
        &env.run(&["check", "--subset", "25%", "--shard", "0/2", "m.b3"]),
        0,
    );
    assert!(holds("t/f03"));
    assert_exit(&env.run(&["check", "--subset", "25%", "m.b3"]), 0);
    assert!(!holds("t/f03") && holds("t/f00") && holds("t/f02"));
}
