//! `b3tree hash` end to end: the real binary on real files.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

#[test]
fn official_blake3_vectors_through_the_file_path() {
    let env = TestEnv::new();
    let expected: Vec<String> = vector_files(&env, "v", "hash")
        .into_iter()
        .map(|(name, hex)| format!("{}  {name}\n", &hex[..64]))
        .collect();
    let out = env.run(&["hash", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), expected.concat());
}

#[test]
fn sizes_around_chunk_and_big_file_thresholds() {
    let env = TestEnv::new();
    let mib = 1usize << 20;
    let mut expected = String::new();
    for (i, len) in [
        128 * 1024 - 1,
        128 * 1024,
        128 * 1024 + 1,
        mib + 1,
        4 * mib - 1,
        4 * mib,
        4 * mib + 1,
        64 * mib + 3,
    ]
    .into_iter()
    .enumerate()
    {
        let data: Vec<u8> = (0..len).map(|j| (j * 7 % 253) as u8).collect();
        let name = format!("f{i}");
        env.file(&name, &data);
        expected.push_str(&format!("{}  {name}\n", hex(&data)));
    }
    let out = env.run(&["hash", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), expected);
}

#[test]
fn names_are_relative_to_the_argument_as_given() {
    let env = TestEnv::new();
    env.file("dist/a/b.js", "b");
    env.file("dist/c", "c");
    let out = env.run(&["hash", "-q", "dist"]);
    assert_eq!(
        stdout(&out),
        format!("{}  dist/a/b.js\n{}  dist/c\n", hex(b"b"), hex(b"c"))
    );
    let out = env.run(&["hash", "-q"]);
    assert_eq!(
        stdout(&out),
        format!("{}  dist/a/b.js\n{}  dist/c\n", hex(b"b"), hex(b"c"))
    );
    let out = env.run(&["hash", "-q", "-C", "dist"]);
    assert_eq!(
        stdout(&out),
        format!("{}  a/b.js\n{}  c\n", hex(b"b"), hex(b"c"))
    );
    // Several PATHs keep their argument order; a file argument is hashed as named.
    let out = env.run(&["hash", "-q", "dist/c", "dist/a"]);
    assert_eq!(
        stdout(&out),
        format!("{}  dist/c\n{}  dist/a/b.js\n", hex(b"c"), hex(b"b"))
    );
}

#[test]
fn canonical_order_is_bytewise_component_by_component() {
    let env = TestEnv::new();
    for name in ["a.txt", "a/z", "a-b", "B", "a/b/c", "\u{e9}", "a0"] {
        env.file(name, name);
    }
    let out = env.run(&["hash", "-q"]);
    let text = stdout(&out);
    let names: Vec<&str> = text.lines().map(|l| &l[66..]).collect();
    // Component-wise byte order: "a" < "a-b" < "a.txt" < "a0" as names, and a's contents
    // come right after "a" itself.
    assert_eq!(names, ["B", "a/b/c", "a/z", "a-b", "a.txt", "a0", "\u{e9}"]);
}

#[test]
fn output_identical_for_any_jobs_queue_and_max_open() {
    let env = TestEnv::new();
    for i in 0..600 {
        let len = (i * 37) % 5000;
        env.file(format!("d{}/e{}/f{i}", i % 7, i % 3), vec![i as u8; len]);
    }
    env.file("big", vec![9u8; 5 << 20]);
    let reference = env.run(&["hash", "-q", "--jobs", "1"]);
    assert_eq!(reference.status.code(), Some(0));
    assert_eq!(stdout(&reference).lines().count(), 601);
    for args in [
        &["--jobs", "2"][..],
        &["--jobs", "16"],
        &["--queue", "1"],
        &["--max-open", "1"],
        &["--jobs", "64", "--queue", "1", "--max-open", "3"],
    ] {
        let mut all = vec!["hash", "-q"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        assert_eq!(out.stdout, reference.stdout, "{args:?}");
    }
}

#[test]
fn b3sum_checks_our_manifest_of_awkward_names() {
    let env = TestEnv::new();
    let names: [&[u8]; 9] = [
        b"line\nfeed",
        b"carriage\rreturn",
        b"back\\slash",
        b"two  spaces",
        b" leading and trailing ",
        b"paren) = x",
        b"BLAKE3 (fake) = 00",
        "\u{e9}t\u{e9}".as_bytes(),
        b"plain",
    ];
    for (i, n) in names.iter().enumerate() {
        let mut rel = b"t/".to_vec();
        rel.extend_from_slice(n);
        env.file(rel, format!("content {i}"));
    }
    // b3sum cannot check a tagged line whose name holds two spaces (its own quirk: it splits
    // a tagged line at the first double space), so the tagged run leaves that one name out.
    for flag in [None, Some("--tag")] {
        if flag.is_some() {
            std::fs::remove_file(env.root().join("t/two  spaces")).unwrap();
        }
        let expected = names.len() - usize::from(flag.is_some());
        let mut args = vec!["hash", "-q", "-o", "m.b3", "t"];
        args.extend(flag);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let check = Command::new("b3sum")
            .args(["--check", "m.b3"])
            .current_dir(env.root())
            .output()
            .expect("b3sum must be installed (cargo install b3sum)");
        assert!(
            check.status.success(),
            "b3sum --check failed ({flag:?}): {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&check.stdout)
                .matches(": OK")
                .count(),
            expected
        );
    }
}

#[test]
fn non_utf8_names_round_trip_through_the_escape() {
    let env = TestEnv::new();
    let raw: &[u8] = b"bad\xff\xfename\\x41";
    env.file(raw, "data");
    env.file("ok", "data");
    let out = env.run(&["hash", "-q"]);
    let text = out.stdout.clone();
    let line = text
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"\\"))
        .expect("escaped line");
    assert_eq!(&line[1..65], hex(b"data").as_bytes());
    let name = b3tree::names::escape::unescape(&line[67..]).unwrap();
    assert_eq!(name, raw);
    // JSON keeps the bytes too.
    let out = env.run(&["hash", "-q", "--json"]);
    let first: serde_json::Value =
        serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..first["path_bytes"].as_str().unwrap().len() / 2)
        .map(|i| {
            u8::from_str_radix(&first["path_bytes"].as_str().unwrap()[2 * i..2 * i + 2], 16)
                .unwrap()
        })
        .collect();
    assert_eq!(bytes, raw);
}

#[test]
fn json_lines_carry_files_errors_skips_and_summary() {
    let env = TestEnv::new();
    env.file("a", "x");
    mkfifo(&env.root().join("pipe"));
    std::os::unix::fs::symlink("nowhere", env.root().join("dangling")).unwrap();
    let out = env.run(&["hash", "--json", "-q", ".", "missing-root"]);
    assert_eq!(out.status.code(), Some(1));
    let recs: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["file", "skipped", "skipped", "error", "summary"]);
    assert_eq!(recs[0]["hash"], hex(b"x"));
    assert_eq!(recs[1]["kind"], "symlink");
    assert_eq!(recs[2]["kind"], "fifo");
    assert_eq!(recs[3]["error"], "missing");
    assert_eq!(recs[4]["files"], 1);
    assert_eq!(recs[4]["skipped"], 2);
    assert_eq!(
        recs[4]["skipped_kinds"],
        serde_json::json!({"fifo": 1, "symlink": 1})
    );
    assert_eq!(recs[4]["errors"], 1);
    assert_stderr_contains(&out, "b3tree: missing-root: missing");
    // The closing line names the kinds too, and so does the audit's and digest's.
    std::os::unix::fs::symlink("a", env.root().join("second")).unwrap();
    let said = env.run(&["hash", "-o", "m.b3", "."]);
    assert_stderr_contains(&said, "0 errors, 3 skipped (2 symlinks, 1 FIFO)");
    let audit = env.run(&["check", "--audit", "--json", "m.b3"]);
    assert_stderr_contains(&audit, "3 not audited (2 symlinks, 1 FIFO)");
    let last = stdout(&audit).lines().last().unwrap().to_string();
    let summary: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(
        summary["not_audited"],
        serde_json::json!({"fifo": 1, "symlink": 2})
    );
    let digest = env.run(&["digest", "."]);
    assert_stderr_contains(&digest, "(3 skipped, not covered: 2 symlinks, 1 FIFO)");
}

#[test]
fn fifo_in_tree_does_not_hang_and_is_counted_as_skipped() {
    let env = TestEnv::new();
    env.file("a", "x");
    mkfifo(&env.root().join("fifo"));
    let out = env.run(&["hash"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{}  a\n", hex(b"x")));
    assert_stderr_contains(&out, "1 skipped");
    assert_stderr_contains(&out, "b3tree: 1 file, 1 B");
    assert_stderr_contains(&out, "; 0 errors,");
}

#[test]
fn fifo_named_directly_is_read_as_a_stream_like_cat_does() {
    // Named on the command line, a FIFO is what the user asked for (b3sum, cat); inside a
    // walk it stays skipped (fifo_in_tree_does_not_hang_and_is_counted_as_skipped).
    let env = TestEnv::new();
    let fifo = env.root().join("fifo");
    mkfifo(&fifo);
    let writer = std::thread::spawn(move || std::fs::write(fifo, b"through a pipe").unwrap());
    let out = env.run(&["hash", "fifo"]);
    join_within(writer, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  fifo\n", hex(b"through a pipe")));
}

#[test]
fn exclude_globs_one_file_system_and_max_depth() {
    let env = TestEnv::new();
    env.file("keep/a", "a");
    env.file("node_modules/x/y", "y");
    env.file("keep/skip.log", "l");
    env.file("keep/deep/er/file", "d");
    let out = env.run(&[
        "hash",
        "--exclude",
        "node_modules",
        "--exclude",
        "*.log",
        "--one-file-system",
        "--max-depth",
        "2",
    ]);
    assert_eq!(stdout(&out), format!("{}  keep/a\n", hex(b"a")));
    assert_stderr_contains(&out, "2 excluded");
}

#[test]
fn hidden_files_are_included() {
    let env = TestEnv::new();
    env.file(".hidden/.x", "h");
    let out = env.run(&["hash", "-q"]);
    assert_eq!(stdout(&out), format!("{}  .hidden/.x\n", hex(b"h")));
}

#[test]
fn symlinks_skipped_by_default_followed_with_l_and_loops_reported() {
    let env = TestEnv::new();
    env.file("real/f", "f");
    std::os::unix::fs::symlink("../real", env.root().join("real/loop")).unwrap();
    std::os::unix::fs::symlink("real/f", env.root().join("alias")).unwrap();
    let out = env.run(&["hash", "-q"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{}  real/f\n", hex(b"f")));
    let out = env.run(&["hash", "-q", "-L"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{h}  alias\n{h}  real/f\n", h = hex(b"f"))
    );
    assert_stderr_contains(&out, "real/loop: symlink loop");
}

#[test]
fn output_file_replaced_only_on_success_and_never_hashed() {
    let env = TestEnv::new();
    env.file("a", "a");
    let out = env.run(&["hash", "-o", "m.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    assert_eq!(m, format!("{}  a\n", hex(b"a")));
    // Re-run: the old manifest is not an entry of the new one.
    let out = env.run(&["hash", "-o", "m.b3"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(env.root().join("m.b3")).unwrap(), m);
    assert_no_temp_files(env.root());
}

#[test]
fn file_size_limit_keeps_the_old_manifest() {
    let env = TestEnv::new();
    for i in 0..400 {
        env.file(format!("d/f{i:04}"), format!("{i}"));
    }
    std::fs::write(env.root().join("m.b3"), "old manifest\n").unwrap();
    // 4 × 512-byte blocks (dash) or 4 KiB (bash): far below a 400-line manifest.
    let out = run_with_timeout(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -f 4; exec '{}' hash -o m.b3 d",
                bin().display()
            ))
            .current_dir(env.root()),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_stderr_contains(&out, "cannot write m.b3");
    assert_left_as_it_was(&env.root().join("m.b3"), "old manifest\n");
    assert_no_temp_files(env.root());
}

#[test]
fn stdout_full_or_closed_is_a_fatal_error() {
    let env = TestEnv::new();
    env.file("a", "a");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = env
        .cmd()
        .args(["hash"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "cannot write stdout");
    let out = run_with_timeout(
        Command::new("sh")
            .arg("-c")
            .arg(format!("exec '{}' hash >&-", bin().display()))
            .current_dir(env.root()),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_stderr_contains(&out, "stdout is closed");
    // /dev/null is a fine destination.
    let devnull = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let out = env.cmd().args(["hash"]).stdout(devnull).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn broken_pipe_is_not_a_panic() {
    let env = TestEnv::new();
    for i in 0..3000 {
        env.file(format!("f{i:05}"), format!("{i}"));
    }
    let out = run_with_timeout(
        Command::new("bash")
            .arg("-c")
            .arg(format!(
                "'{}' hash | head -1; echo \"status ${{PIPESTATUS[0]}}\"",
                bin().display()
            ))
            .current_dir(env.root()),
        Duration::from_secs(60),
    );
    // README: a broken pipe ends the run quietly with status 2.
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(text.lines().last(), Some("status 2"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Broken pipe"), "{}", stderr(&out));
}

#[test]
fn unreadable_file_as_unprivileged_user_is_an_error_record() {
    let tree = public_tree();
    let (_bin_dir, bin) = public_copy_of_binary();
    write_mode(tree.path().join("a"), "a", 0o644);
    write_mode(tree.path().join("secret"), "s", 0o000);
    write_mode(tree.path().join("z"), "z", 0o644);
    let mut cmd = Command::new(&bin);
    as_nobody(cmd.args(["hash", "."]).current_dir(tree.path()));
    let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_eq!(
        out.status.code(),
        Some(1),
        "must run as uid 65534 and fail on 'secret': {}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        format!("{}  a\n{}  z\n", hex(b"a"), hex(b"z"))
    );
    assert_stderr_contains(&out, "b3tree: secret: unreadable: Permission denied");
}

#[test]
fn ctrl_c_during_a_huge_file_dies_of_sigint_and_keeps_the_old_manifest() {
    let env = TestEnv::new();
    std::fs::write(env.root().join("m.b3"), "old\n").unwrap();
    let mut child = start_hashing_huge_file(&env, Stdio::piped());
    wait_catching(&child, libc::SIGINT);
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    assert_left_as_it_was(&env.root().join("m.b3"), "old\n");
    assert_no_temp_files(env.root());
}

#[test]
fn second_ctrl_c_exits_at_once_and_removes_the_temporary_file() {
    let env = TestEnv::new();
    std::fs::write(env.root().join("m.b3"), "old\n").unwrap();
    std::fs::create_dir(env.root().join("t")).unwrap();
    mkfifo(&env.root().join("t/fifo"));
    // Blocked opening a FIFO named on the command line (read as a stream): the first
    // signal cannot end the run until the watchdog, made slow here (5 s) so that only the
    // second signal can end it quickly.
    let mut child = env
        .cmd()
        .env("B3TREE_GRACE_MS", "5000")
        .args(["hash", "-o", "m.b3", "t/fifo"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_blocked_in(
        &child,
        libc::SIGINT,
        &[libc::SYS_openat, libc::SYS_openat2, libc::SYS_open],
    );
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal alone ended it"
    );
    let (status, took) = signal_and_wait(&mut child, libc::SIGINT, Duration::from_secs(2));
    eprintln!("died {took:?} after the second SIGINT");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_died_of(status, libc::SIGINT);
    assert_left_as_it_was(&env.root().join("m.b3"), "old\n");
    assert_no_temp_files(env.root());
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    let env = TestEnv::new();
    let child = start_hashing_huge_file(&env, Stdio::null());
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = output_within(child, WAIT).status;
    assert_died_of(status, libc::SIGTERM);
    assert_no_temp_files(env.root());
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    for args in [
        &["hash", "--jobs", "0"][..],
        &["hash", "--exclude", "a[", "."],
        &["hash", "--tag", "--json"],
        &["nope"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn empty_file_and_empty_tree() {
    let env = TestEnv::new();
    env.file("e", "");
    let out = env.run(&["hash", "-q"]);
    assert_eq!(stdout(&out), format!("{EMPTY_HASH}  e\n"));
    std::fs::create_dir(env.root().join("empty")).unwrap();
    let out = env.run(&["hash", "-q", "empty"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}

/// Starts `b3tree hash --jobs 1 [EXTRA] FILE` on a 64 GiB sparse file, waits until it has the
/// file open, applies `change` to the file, and returns the finished run.
fn hash_while_changing(
    extra: &[&str],
    change: impl FnOnce(&std::fs::File),
) -> std::process::Output {
    let env = TestEnv::new();
    env.take_huge_file_turn();
    let path = env.root().join("sparse");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(64 << 30).unwrap();
    let child = env
        .cmd()
        .args(["hash", "--jobs", "1"])
        .args(extra)
        .arg("sparse")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Under way: mapped, or 64 MiB read with pread (64 GiB take far longer than the change
    // below takes to land).
    wait_until_open(&child, "sparse");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let maps =
            std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap_or_default();
        let io = std::fs::read_to_string(format!("/proc/{}/io", child.id())).unwrap_or_default();
        let rchar: u64 = io
            .lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        if maps.contains("/sparse") || rchar > 64 << 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the read never got under way"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    change(&f);
    let out = output_within(child, WAIT);
    drop(env);
    out
}

#[test]
fn file_truncated_under_the_mapping_is_changed_not_a_crash() {
    // Mapped (a big file), then read with pread (--no-mmap): both as subtrees over the cores.
    for extra in [&[][..], &["--no-mmap"]] {
        let out = hash_while_changing(extra, |f| f.set_len(4096).unwrap());
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
        assert_stderr_contains(&out, "sparse: changed while hashing");
    }
}

#[test]
fn file_growing_while_hashed_is_changed() {
    for extra in [&[][..], &["--no-mmap"]] {
        let out = hash_while_changing(extra, |f| f.set_len((64 << 30) + 1).unwrap());
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "");
        assert_stderr_contains(&out, "sparse: changed while hashing");
    }
}

#[test]
fn symlinks_named_on_the_command_line_are_followed() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    std::os::unix::fs::symlink("t/a", env.root().join("lnk")).unwrap();
    std::os::unix::fs::symlink("t", env.root().join("dlnk")).unwrap();
    let out = env.run(&["hash", "lnk", "dlnk"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{h}  lnk\n{h}  dlnk/a\n", h = hex(b"a"))
    );
    assert_stderr_contains(&out, "0 errors, 0 skipped");
}

#[test]
fn a_fifo_named_on_the_command_line_is_read_as_a_stream() {
    let env = TestEnv::new();
    let mut child = env
        .cmd()
        .args(["hash", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"hi\n").unwrap();
    drop(child.stdin.take());
    let out = output_within(child, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  /dev/stdin\n", hex(b"hi\n")));
}

#[test]
fn dev_zero_named_on_the_command_line_reads_until_ctrl_c() {
    let env = TestEnv::new();
    let mut child = env
        .cmd()
        .args(["hash", "/dev/zero"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_open(&child, "zero");
    assert!(
        child.try_wait().unwrap().is_none(),
        "it should still be reading"
    );
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
}

#[test]
fn a_block_device_named_on_the_command_line_is_refused_without_read_devices() {
    let env = TestEnv::new();
    let node = env.root().join("disk");
    let c = std::ffi::CString::new(node.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mknod with a valid C string (a loop-device node; it is never opened here).
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) };
    assert_eq!(rc, 0, "mknod needs root (CI runs as root)");
    let out = env.run(&["hash", "disk"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(
        &out,
        "disk: not a regular file: block device: not read unless --read-devices",
    );
}

/// `--num-threads N` sizes the pool that hashes one big file (as b3sum's flag does), and the
/// digest does not depend on it.
#[test]
fn num_threads_sizes_the_pool_of_one_big_file() {
    let env = TestEnv::new();
    let content: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 253) as u8).collect();
    env.file("big", &content);
    for n in ["1", "3"] {
        let out = env.run(&["hash", "--num-threads", n, "big"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!("{}  big\n", hex(&content)),
            "--num-threads {n}"
        );
    }
    huge_sparse_file(&env, "huge");
    let mut child = env
        .cmd()
        .args(["hash", "--num-threads", "5", "huge"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_open(&child, "huge");
    let named = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.starts_with("b3tree-rayon-"))
        })
        .count();
    let _ = signal_and_wait(&mut child, libc::SIGINT, Duration::from_secs(5));
    assert_eq!(named, 5, "threads of the pool");
}
