//! `b3tree check` end to end. The GNU cases are translations of coreutils' md5sum.pl,
//! md5sum-newline.pl, md5sum-bsd.sh and cksum-c.sh (to BLAKE3); the b3sum cases follow
//! b3sum's cli_tests.rs; the peer-written manifests come from the real b3sum.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn line(data: &[u8], name: &str) -> String {
    format!("{}  {name}\n", hex(data))
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn gnu_basic_ok_failed_and_missing() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file("b", "b");
    env.file(
        "m",
        format!(
            "{}{}{}",
            line(b"a", "a"),
            line(b"not b", "b"),
            line(b"c", "c")
        ),
    );
    let out = env.run(&["check", "m"]);
    assert_eq!(code(&out), 1);
    assert_eq!(stdout(&out), "a: OK\nb: FAILED\nc: FAILED (missing)\n");
    assert_stderr_contains(&out, "WARNING: 1 computed checksum did NOT match");
    assert_stderr_contains(&out, "WARNING: 1 listed file is missing");
    // All good → 0.
    env.file("ok", line(b"a", "a"));
    let out = env.run(&["check", "ok"]);
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "a: OK\n"));
}

#[test]
fn gnu_quiet_status_and_warn_strict() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file(
        "m",
        format!(
            "{}bogus line\n# a comment\n{}",
            line(b"a", "a"),
            line(b"a", "a2")
        ),
    );
    env.file("a2", "a");
    let out = env.run(&["check", "--quiet", "m"]);
    assert_eq!((code(&out), stdout(&out).as_str()), (0, ""));
    let out = env.run(&["check", "--status", "m"]);
    assert_eq!(
        (code(&out), stdout(&out).as_str(), stderr(&out).as_str()),
        (0, "", "")
    );
    let out = env.run(&["check", "--warn", "m"]);
    assert_eq!(code(&out), 0);
    assert_stderr_contains(&out, "m:2: improperly formatted BLAKE3 checksum line");
    let out = env.run(&["check", "--strict", "m"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    // Without --warn the count still names the first bad line.
    let out = env.run(&["check", "m"]);
    assert_stderr_contains(&out, "1 line is improperly formatted (first: m:2)");
    // --status with a mismatch → 1, still silent on stdout.
    env.file("bad", line(b"x", "a"));
    let out = env.run(&["check", "--status", "bad"]);
    assert_eq!((code(&out), stdout(&out).as_str()), (1, ""));
}

#[test]
fn gnu_empty_or_all_invalid_manifest_fails() {
    let env = TestEnv::new();
    env.file("empty", "");
    env.file("junk", "not a line\nneither\n");
    for m in ["empty", "junk"] {
        let out = env.run(&["check", m]);
        assert_eq!(code(&out), 1, "{m}");
        assert_stderr_contains(&out, "no properly formatted BLAKE3 checksum lines found");
    }
}

#[test]
fn gnu_ignore_missing() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file("m", format!("{}{}", line(b"a", "a"), line(b"z", "gone")));
    let out = env.run(&["check", "--ignore-missing", "m"]);
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "a: OK\n"));
    // A run that verified nothing fails.
    env.file("only-missing", line(b"z", "gone"));
    let out = env.run(&["check", "--ignore-missing", "only-missing"]);
    assert_eq!(code(&out), 1);
    assert_stderr_contains(&out, "no file was verified");
}

#[test]
fn gnu_newline_names_and_bsd_tags() {
    let env = TestEnv::new();
    env.file("a\nb", "nl");
    env.file("x) = y", "tag");
    let tagged = format!(
        "BLAKE3 (x) = y) = {}\n\\BLAKE3 (a\\nb) = {}\n",
        hex(b"tag"),
        hex(b"nl")
    );
    let plain = format!("\\{}  a\\nb\n", hex(b"nl"));
    env.file("m", format!("{tagged}{plain}"));
    let out = env.run(&["check", "m"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "x) = y: OK\n\\a\\nb: OK\n\\a\\nb: OK\n");
    assert_stderr_contains(&out, "duplicate entry");
    // Duplicates fail only under --strict.
    let out = env.run(&["check", "--strict", "m"]);
    assert_eq!(code(&out), 1);
}

#[test]
fn crlf_comments_and_uppercase_hashes_are_accepted() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file(
        "m",
        format!("# made by hand\r\n{}  a\r\n", hex(b"a").to_uppercase()),
    );
    let out = env.run(&["check", "m"]);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "a: OK\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn b3sum_cli_cases_bad_escapes_nul_and_short_hash() {
    let env = TestEnv::new();
    env.file("a", "a");
    let h = hex(b"a");
    env.file(
        "m",
        format!(
            "\\{h}  a\\\n\\{h}  a\\q\n{}  a\n{h}  a\0b\n{h}  a\n",
            &h[..63]
        ),
    );
    let out = env.run(&["check", "--warn", "m"]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "a: OK\n");
    let err = stderr(&out);
    for (l, why) in [
        (1, "invalid backslash escape"),
        (2, "invalid backslash escape"),
        (3, "hexadecimal digits"),
        (4, "NUL byte"),
    ] {
        assert!(
            err.contains(&format!("m:{l}: improperly formatted")) && err.contains(why),
            "line {l}: {err}"
        );
    }
    let out = env.run(&["check", "--strict", "m"]);
    assert_eq!(code(&out), 1);
}

#[test]
fn manifests_written_by_real_b3sum_pass() {
    let env = TestEnv::new();
    env.file("d/plain", "p");
    env.file("d/back\\slash", "b");
    env.file("d/new\nline", "n");
    env.file("d/sp  ace", "s");
    let b3sum = |args: &[&str]| {
        let out = Command::new("b3sum")
            .args(args)
            .current_dir(env.root())
            .output()
            .expect("b3sum must be installed (cargo install b3sum)");
        assert!(out.status.success());
        out.stdout
    };
    let names = ["d/back\\slash", "d/new\nline", "d/plain", "d/sp  ace"];
    let plain = b3sum(&names);
    std::fs::write(env.root().join("plain.b3"), &plain).unwrap();
    let mut tag_names = vec!["--tag"];
    tag_names.extend(&names[..3]); // b3sum cannot check its own tagged "two  spaces" line
    std::fs::write(env.root().join("tag.b3"), b3sum(&tag_names)).unwrap();
    let crlf: Vec<u8> = plain
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    std::fs::write(env.root().join("crlf.b3"), crlf).unwrap();
    for (m, n) in [("plain.b3", 4), ("tag.b3", 3), ("crlf.b3", 4)] {
        let out = env.run(&["check", m]);
        assert_eq!(code(&out), 0, "{m}: {}{}", stdout(&out), stderr(&out));
        assert_eq!(stdout(&out).matches(": OK").count(), n, "{m}");
    }
}

#[test]
fn our_manifest_round_trips_including_non_utf8() {
    let env = TestEnv::new();
    env.file(b"t/bad\xffname", "x");
    env.file("t/esc\u{1b}[31m", "y");
    env.file("t/back\\n", "z");
    let out = env.run(&["hash", "-q", "-o", "m.b3", "t"]);
    assert_eq!(code(&out), 0);
    let out = env.run(&["check", "m.b3"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).matches(": OK").count(), 3);
}

#[test]
fn audit_reports_new_missing_and_moved() {
    let env = TestEnv::new();
    env.file("dist/a", "a");
    env.file("dist/sub/b", "b");
    env.file("dist/c", "c");
    env.file("unrelated/top", "outside the audited dir");
    let out = env.run(&["hash", "-q", "-o", "dist.b3", "dist"]);
    assert_eq!(code(&out), 0);
    let out = env.run(&["check", "--audit", "dist.b3"]);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "dist/a: OK\ndist/c: OK\ndist/sub/b: OK\n"),
        "{}",
        stderr(&out)
    );
    std::fs::rename(
        env.root().join("dist/sub/b"),
        env.root().join("dist/b-moved"),
    )
    .unwrap();
    std::fs::remove_file(env.root().join("dist/c")).unwrap();
    env.file("dist/sub/new", "new");
    let out = env.run(&["check", "--audit", "dist.b3"]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        stdout(&out),
        "dist/a: OK\ndist/b-moved: MOVED (from dist/sub/b)\ndist/sub/new: NEW\ndist/c: FAILED (missing)\n"
    );
    // Without --audit only the missing entries show.
    let out = env.run(&["check", "dist.b3"]);
    assert_eq!(
        stdout(&out),
        "dist/a: OK\ndist/c: FAILED (missing)\ndist/sub/b: FAILED (missing)\n"
    );
}

#[test]
fn json_moved_record_keeps_the_exact_bytes_of_both_names() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    let old = env.file(b"d/old\xffname", "content");
    env.file("d/keep", "k");
    let out = env.run(&["hash", "-q", "-o", "d.b3", "d"]);
    assert_eq!(code(&out), 0);
    std::fs::rename(
        &old,
        env.root().join(std::ffi::OsStr::from_bytes(b"d/new\xfe")),
    )
    .unwrap();
    let out = env.run(&["check", "--audit", "--json", "d.b3"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let moved: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["type"] == "moved")
        .collect();
    assert_eq!(moved.len(), 1, "{}", stdout(&out));
    // "d/new\xfe" and "d/old\xffname" in hex: the lossy strings alone could not tell.
    assert_eq!(moved[0]["path_bytes"], "642f6e6577fe");
    assert_eq!(moved[0]["from_bytes"], "642f6f6c64ff6e616d65");
}

#[test]
fn audit_root_chooses_the_walked_directory() {
    let env = TestEnv::new();
    env.file("a/one", "1");
    env.file("b/two", "2");
    let out = env.run(&["hash", "-q", "-o", "m.b3", "a", "b"]);
    assert_eq!(code(&out), 0);
    env.file("a/new-a", "x");
    env.file("b/new-b", "y");
    // By default the deepest common directory, `.`: both new files.
    let out = env.run(&["check", "--audit", "m.b3"]);
    assert_eq!(
        stdout(&out),
        "a/one: OK\nb/two: OK\na/new-a: NEW\nb/new-b: NEW\n",
        "{}",
        stderr(&out)
    );
    // Narrowed to `b`: only what lies there.
    let out = env.run(&["check", "--audit", "--audit-root", "b", "m.b3"]);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (1, "a/one: OK\nb/two: OK\nb/new-b: NEW\n"),
        "{}",
        stderr(&out)
    );
    // Without --audit it is a usage error, not silently ignored.
    assert_eq!(code(&env.run(&["check", "--audit-root", "b", "m.b3"])), 2);
}

#[test]
fn audit_of_a_dot_manifest_does_not_count_the_manifest_itself() {
    let env = TestEnv::new();
    env.file("a", "a");
    let out = env.run(&["hash", "-q", "-o", "m.b3"]);
    assert_eq!(code(&out), 0);
    let out = env.run(&["check", "--audit", "m.b3"]);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "a: OK\n"),
        "{}",
        stderr(&out)
    );
}

/// A tree with escapes: `root/m` names files inside `root` and, by `..`, an absolute path and
/// symlinks, the file `secret` beside it.
fn escape_tree() -> TestEnv {
    let outer = TestEnv::new();
    outer.file("secret", "s");
    outer.file("root/inside", "i");
    std::os::unix::fs::symlink("../secret", outer.root().join("root/link")).unwrap();
    std::os::unix::fs::symlink("../secret", outer.root().join("root/dirlink")).unwrap();
    std::os::unix::fs::symlink("..", outer.root().join("root/up")).unwrap();
    // A symlink that stays inside is followed.
    std::os::unix::fs::symlink("inside", outer.root().join("root/alias")).unwrap();
    let s = hex(b"s");
    let i = hex(b"i");
    let abs = outer.root().join("secret");
    let m = format!(
        "{s}  ../secret\n{s}  {}\n{s}  link\n{s}  up/secret\n{i}  inside\n{i}  sub/../inside\n\
         {i}  alias\n",
        abs.display(),
    );
    outer.file("root/m", &m);
    outer
}

fn assert_escapes_refused(out: &std::process::Output) {
    assert_eq!(code(out), 1, "{}", stderr(out));
    let text = stdout(out);
    assert_eq!(
        text.matches("FAILED (outside the root)").count(),
        4,
        "{text}"
    );
    assert!(text.contains("inside: OK"), "{text}");
    assert!(text.contains("alias: OK"), "{text}");
    assert!(
        !text.contains("secret: OK") && !text.contains("link: OK"),
        "{text}"
    );
    // sub/../inside: sub does not exist; the kernel refuses the walk through it.
    assert!(text.contains("sub/../inside: FAILED"), "{text}");
}

#[test]
fn traversal_absolute_and_symlink_escapes_are_refused() {
    let outer = escape_tree();
    let out = run_with_timeout(
        outer.cmd().args(["check", "-C", "root", "m"]),
        Duration::from_secs(30),
    );
    assert_escapes_refused(&out);
    // --allow-outside opts out.
    let out = run_with_timeout(
        outer
            .cmd()
            .args(["check", "-C", "root", "--allow-outside", "m"]),
        Duration::from_secs(30),
    );
    // ../secret, the absolute path and up/secret all reach the same outside file.
    assert_eq!(
        stdout(&out).matches("secret: OK").count(),
        3,
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("link: OK"));
}

/// Runs `check -C root m` on the escape tree with every openat2 failing with `errno`
/// (strace), and asserts the verdicts of the openat2 path.
fn escapes_refused_when_openat2_fails_with(errno: &str) {
    let outer = escape_tree();
    let out = run_with_timeout(
        Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=openat2"])
            .args(["-e", &format!("inject=openat2:error={errno}")])
            .arg(bin())
            .args(["check", "-C", "root", "m"])
            .current_dir(outer.root()),
        Duration::from_secs(60),
    );
    assert_escapes_refused(&out);
}

/// On a kernel without openat2 (strace makes every openat2 fail with ENOSYS), confinement
/// falls back to `O_NOFOLLOW` opens of plain names and resolving symlinks and longer paths,
/// with the same verdicts (`alias`, a symlink inside, must still verify).
#[test]
fn escapes_are_refused_without_openat2_too() {
    escapes_refused_when_openat2_fails_with("ENOSYS");
}

#[test]
fn special_files_named_by_a_manifest_never_hang() {
    let env = TestEnv::new();
    let fifo = env.root().join("fifo");
    mkfifo(&fifo);
    std::os::unix::fs::symlink("/dev/zero", env.root().join("zero")).unwrap();
    let h = hex(b"");
    env.file(
        "m",
        format!("{h}  fifo\n{h}  /dev/zero\n{h}  zero\n{h}  /dev/stdin\n"),
    );
    for extra in [&[][..], &["--allow-outside"]] {
        let mut args = vec!["check"];
        args.extend_from_slice(extra);
        args.push("m");
        let out = run_with_timeout(env.cmd().args(&args), Duration::from_secs(30));
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(!stdout(&out).contains(": OK"), "{}", stdout(&out));
        assert!(
            stdout(&out).contains("fifo: FAILED (not a regular file)"),
            "{}",
            stdout(&out)
        );
    }
    let out = run_with_timeout(
        env.cmd().args(["check", "--allow-outside", "m"]),
        Duration::from_secs(30),
    );
    assert!(
        stdout(&out).contains("/dev/zero: FAILED (not a regular file)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn changed_file_fails_exactly_that_file() {
    let env = TestEnv::new();
    for i in 0..50 {
        env.file(format!("f{i:02}"), format!("content {i}"));
    }
    let out = env.run(&["hash", "-q", "-o", "m.b3"]);
    assert_eq!(code(&out), 0);
    env.file("f17", "content 17!");
    let out = env.run(&["check", "--quiet", "m.b3"]);
    assert_eq!((code(&out), stdout(&out).as_str()), (1, "f17: FAILED\n"));
}

#[test]
fn unreadable_entry_as_unprivileged_user() {
    let tree = public_tree();
    let (_bin_dir, bin) = public_copy_of_binary();
    write_mode(tree.path().join("a"), "a", 0o644);
    write_mode(tree.path().join("secret"), "s", 0o000);
    let m = format!("{}{}", line(b"a", "a"), line(b"s", "secret"));
    write_mode(tree.path().join("m"), m, 0o644);
    let mut cmd = Command::new(&bin);
    as_nobody(&mut cmd);
    cmd.args(["check", "m"]).current_dir(tree.path());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(stdout(&out), "a: OK\nsecret: FAILED (unreadable)\n");
    assert_stderr_contains(&out, "m:2: secret: unreadable: Permission denied");
}

#[test]
fn unreadable_manifest_is_exit_2() {
    let env = TestEnv::new();
    let out = env.run(&["check", "nope.b3"]);
    assert_eq!(code(&out), 2);
    assert_stderr_contains(&out, "cannot read manifest nope.b3");
}

#[test]
fn manifest_from_stdin() {
    let env = TestEnv::new();
    env.file("a", "a");
    let mut child = env
        .cmd()
        .args(["check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line(b"a", "a").as_bytes())
        .unwrap();
    let out = output_within(child, WAIT);
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "a: OK\n"));
}

#[test]
fn cut_short_by_head_is_never_exit_0() {
    let env = TestEnv::new();
    let mut m = String::new();
    for i in 0..5000 {
        env.file(format!("f{i:04}"), format!("{i}"));
        m.push_str(&line(format!("{i}").as_bytes(), &format!("f{i:04}")));
    }
    env.file("m", m);
    let out = run_with_timeout(
        Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; '{}' check m | head -1",
                bin().display()
            ))
            .current_dir(env.root()),
        Duration::from_secs(60),
    );
    assert_eq!(stdout(&out), "f0000: OK\n");
    // README: the output cannot be written (its reader left early): status 2.
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn json_report_for_ci() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file("m", format!("{}{}junk\n", line(b"a", "a"), line(b"b", "b")));
    let out = env.run(&["check", "--json", "m"]);
    assert_eq!(code(&out), 1);
    let recs: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs[0]["status"], "ok");
    assert_eq!(recs[0]["at"], "m:1");
    assert_eq!(recs[1]["status"], "missing");
    assert_eq!(recs[2]["type"], "malformed");
    assert_eq!(recs[3]["type"], "summary");
    assert_eq!(recs[3]["passed"], false);
}

#[test]
fn huge_line_keeps_memory_bounded() {
    let env = TestEnv::new();
    env.file("a", "a");
    let mut m = line(b"a", "a").into_bytes();
    m.extend(std::iter::repeat_n(b'x', 100 << 20));
    m.push(b'\n');
    m.extend_from_slice(line(b"a", "a").as_bytes());
    env.file("m", m);
    drop(std::fs::read(env.root().join("a")));
    // Cap the data segment (heap and private writable mappings) of the child far below the
    // line's size: keeping the line in memory would abort the run.
    let mut cmd = env.cmd();
    cmd.args(["check", "--warn", "m"]);
    with_rlimit(&mut cmd, libc::RLIMIT_DATA, 64 << 20);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    // Refused for its length alone: a failure, never a skipped malformed line.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_stderr_contains(&out, "m:2: line longer than");
    assert_stderr_contains(&out, "refused, counted as a failure");
    assert_eq!(stdout(&out), "a: OK\na: OK\n");
}

#[test]
fn the_data_cap_of_the_huge_line_test_does_bite() {
    // Control for the test above: the same cap makes a 100 MiB allocation fail.
    let mut cmd = Command::new("python3");
    cmd.args(["-c", "b = bytearray(100 << 20); print('allocated')"]);
    with_rlimit(&mut cmd, libc::RLIMIT_DATA, 64 << 20);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert!(!out.status.success(), "{}", stdout(&out));
}

/// A seccomp profile may answer openat2 with EPERM instead of ENOSYS: the same fallback,
/// the same verdicts.
#[test]
fn escapes_are_refused_when_openat2_answers_eperm() {
    escapes_refused_when_openat2_fails_with("EPERM");
}

/// GitHub Actions: failures as `::error` workflow commands on stderr (escaped, at most 10,
/// the last counting the rest), a Markdown summary appended to $GITHUB_STEP_SUMMARY (naming
/// the shard of a matrix); stdout unchanged; `--annotations never|always` override.
#[test]
fn github_annotations_and_step_summary() {
    let env = TestEnv::new();
    for i in 0..40 {
        env.file(format!("d/f{i:02}"), format!("{i}"));
    }
    env.file("d/a,b:c%", "odd");
    let made = env.run(&["hash", "-q", "-o", "m.b3", "d"]);
    assert_eq!(made.status.code(), Some(0));
    for i in 0..34 {
        env.file(format!("d/f{i:02}"), "changed");
    }
    env.file("d/a,b:c%", "changed");
    let summary = env.root().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let plain = env.run(&["check", "--annotations", "never", "m.b3"]);
    let (gh, md) = on_github(
        env.cmd()
            .args(["check", "m.b3"])
            .env("GITHUB_WORKSPACE", env.root()),
        &summary,
    );
    assert_eq!(gh.status.code(), Some(1));
    assert_eq!(
        gh.stdout, plain.stdout,
        "the verdicts on stdout do not change"
    );
    assert!(!stderr(&plain).contains("::error"));
    let err = stderr(&gh);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("::error")).collect();
    // GitHub shows 10 per step: nine failures, then one that counts the other 26.
    assert_eq!(errors.len(), 10, "{err}");
    assert_eq!(
        errors[0],
        "::error file=d/a%2Cb%3Ac%25,title=b3tree check%3A FAILED::d/a,b:c%25: FAILED (listed \
         at m.b3:1)"
    );
    assert_eq!(
        errors[9],
        "::error title=b3tree check::26 more entries failed, not annotated one by one (GitHub \
         shows 10 annotations per step): every failure is in the step's log, the first 20 in \
         its summary"
    );
    assert!(
        md.starts_with("earlier step\n### b3tree check m.b3: FAILED\n"),
        "{md}"
    );
    assert!(
        md.contains("| ok | failed | \n|---:|---:|\n| 6 | 35 | "),
        "{md}"
    );
    assert!(md.contains("- <code>d/a,b:c%</code>: FAILED\n"), "{md}");
    assert!(md.contains("- … and 15 more (see the step's log)"), "{md}");
    // One shard of a matrix: its summary says which.
    std::fs::write(&summary, "").unwrap();
    let (_, md) = on_github(
        env.cmd().args(["check", "--shard", "1/2", "m.b3"]),
        &summary,
    );
    assert!(
        md.starts_with("### b3tree check m.b3, shard 1/2: FAILED\n"),
        "{md}"
    );
    // Forced on outside GitHub, forced off inside it.
    let always = env.run(&["check", "--annotations", "always", "m.b3"]);
    assert_stderr_contains(&always, "::error file=d/f00,");
    let never = env
        .cmd()
        .args(["check", "--annotations", "never", "m.b3"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert!(!stderr(&never).contains("::error"));
}

/// GitHub Actions: a check that cannot start (its manifest unreadable, status 2) says so
/// on the run's page too: one annotation and a section of the step summary.
#[test]
fn a_check_that_cannot_start_says_so_on_github() {
    let env = TestEnv::new();
    let summary = env.root().join("summary.md");
    let (none, md) = on_github(env.cmd().args(["check", "gone.b3"]), &summary);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).starts_with(
            "::error title=b3tree check could not run::cannot read manifest gone.b3 (looked for "
        ),
        "{}",
        stderr(&none)
    );
    assert!(
        md.contains("### b3tree check could not run\n\ncannot read manifest gone.b3"),
        "{md}"
    );
}
