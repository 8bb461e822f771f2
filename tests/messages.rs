//! Exact output: what a user reads for the main cases of hash and check, stdout and stderr
//! whole (times and rates normalised), so any change to a message shows up here.

use std::time::Duration;

use crate::common::*;

/// Replaces the run-dependent parts of a summary (seconds, throughput) with fixed text.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_string();
        let timed = l
            .match_indices(" in ")
            .map(|(i, _)| i)
            .find(|&i| l[i + 4..].starts_with(|c: char| c.is_ascii_digit()));
        if let Some(i) = timed {
            // "... in 0.00 s (5.41 KiB/s); rest" or "... in 0.00 s"
            let tail = &l[i + 4..];
            let after_s = tail.find(" s").map(|j| j + 2).unwrap_or(tail.len());
            let mut rest = tail[after_s..].to_string();
            if rest.starts_with(" (") {
                rest = rest[rest.find(')').map_or(rest.len(), |j| j + 1)..].to_string();
                rest = format!(" (RATE){rest}");
            }
            l = format!("{} in T s{rest}", &l[..i]);
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn hash_with_a_missing_path_says_so_and_sums_up() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    env.file("b", "b\n");
    let out = env.run(&["hash", "a", "b", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!("{}  a\n{}  b\n", hex(b"a\n"), hex(b"b\n"))
    );
    assert_eq!(
        normalise(&stderr(&out)),
        "b3tree: nope: missing: No such file or directory\n\
         b3tree: 2 files, 4 B in T s (RATE); 1 error, 0 skipped\n"
    );
}

#[test]
fn check_of_a_changed_tree_gives_verdicts_warnings_and_summary() {
    let env = TestEnv::new();
    env.file(
        "m.b3",
        format!(
            "{}  a\n{}  b\n{}  c\n",
            hex(b"a\n"),
            hex(b"b\n"),
            hex(b"c\n")
        ),
    );
    env.file("b", "x\n");
    env.file("c", "c\n");
    let out = env.run(&["check", "m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "a: FAILED (missing)\nb: FAILED\nc: OK\n");
    assert_eq!(
        normalise(&stderr(&out)),
        "b3tree: WARNING: 1 computed checksum did NOT match\n\
         b3tree: WARNING: 1 listed file is missing\n\
         b3tree: 1 ok, 1 failed, 1 missing, 0 unreadable in T s\n"
    );
}

#[test]
fn check_audit_names_new_and_moved_files() {
    let env = TestEnv::new();
    env.file(
        "t/m.b3",
        format!("{}  a\n{}  b\n", hex(b"a\n"), hex(b"b\n")),
    );
    env.file("t/a", "a\n");
    env.file("t/b2", "b\n"); // b, moved
    env.file("t/n", "new\n");
    let out = env.run(&["check", "-C", "t", "--audit", "m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "a: OK\nb2: MOVED (from b)\nn: NEW\n");
    assert_eq!(
        normalise(&stderr(&out)),
        "b3tree: 1 ok, 0 failed, 0 missing, 0 unreadable, 1 new, 1 moved in T s\n"
    );
}

#[test]
fn a_partial_run_over_an_existing_manifest_says_where_the_new_one_is() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    env.file("m.b3", "old\n");
    let out = env.run(&["hash", "-o", "m.b3", "t", "gone"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        normalise(&stderr(&out)),
        "b3tree: gone: missing: No such file or directory\n\
         b3tree: 1 file, 2 B in T s (RATE); 1 error, 0 skipped\n\
         b3tree: m.b3 left as it was: 1 entry could not be hashed; the new manifest is in \
         m.b3.partial (--replace-partial replaces it anyway)\n"
    );
}

#[test]
fn refused_names_are_counted_under_the_same_word_as_in_json() {
    let env = TestEnv::new();
    env.file(
        "m.b3",
        format!(
            "{}  ../etc/passwd\n{}  /etc/hostname\n",
            hex(b"x"),
            hex(b"y")
        ),
    );
    let out = env.run(&["check", "--quiet", "m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    let last = normalise(&stderr(&out)).lines().last().unwrap().to_string();
    assert_eq!(
        last,
        "b3tree: 0 ok, 0 failed, 0 missing, 0 unreadable, 2 outside the root in T s"
    );
    let out = env.run(&["check", "--json", "m.b3"]);
    let summary = json_summary(&out);
    assert_eq!(
        (summary["outside"].as_u64(), summary["unreadable"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn counts_of_one_are_singular() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    let out = env.run(&["hash", "-q", "--shard", "0/1", "-o", "s.b3", "t"]);
    assert_eq!(out.status.code(), Some(0));
    let out = env.run(&["merge", "s.b3"]);
    assert_eq!(stderr(&out), "b3tree: merged 1 entry from 1 manifest\n");
    let out = env.run(&["digest", "nope"]);
    assert_stderr_contains(&out, "no digest: 1 entry could not be hashed");
}

#[test]
fn hash_json_carries_the_tree_digest_in_its_summary() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    env.file("t/b", "b\n");
    let out = env.run(&["hash", "--json", "--digest", "-C", "t"]);
    assert_eq!(out.status.code(), Some(0));
    let summary = json_summary(&out);
    let tree = env.run(&["digest", "t"]);
    assert_eq!(
        summary["digest"].as_str().unwrap(),
        stdout(&tree).trim_end(),
        "{}",
        stdout(&out)
    );
}

/// Runs b3tree with `args` (stdout piped), waits until it is hashing `sparse`, interrupts it
/// with SIGINT and returns the last stdout line as JSON.
fn last_json_after_ctrl_c(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let mut child = env
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_open(&child, "sparse");
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut text).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn an_interrupted_json_stream_still_ends_with_its_summary() {
    let env = TestEnv::new();
    huge_sparse_file(&env, "sparse");
    env.file("a", "a\n");
    let last = last_json_after_ctrl_c(&env, &["hash", "--json", "--jobs", "1", "a", "sparse"]);
    assert_eq!(last["type"], "summary", "{last}");
    assert_eq!(last["interrupted"], true);
}

#[test]
fn an_interrupted_check_json_stream_still_ends_with_its_summary() {
    let env = TestEnv::new();
    huge_sparse_file(&env, "sparse");
    env.file("a", "a\n");
    env.file(
        "m.b3",
        format!("{}  a\n{}  sparse\n", hex(b"a\n"), hex(b"")),
    );
    let last = last_json_after_ctrl_c(&env, &["check", "--json", "--jobs", "1", "m.b3"]);
    assert_eq!(
        (last["type"].as_str(), last["interrupted"].as_bool()),
        (Some("summary"), Some(true)),
        "{last}"
    );
}

#[test]
fn version_names_the_blake3_implementation_and_the_commit() {
    let out = run_with_timeout(
        std::process::Command::new(bin()).arg("--version"),
        std::time::Duration::from_secs(10),
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("b3tree {} (BLAKE3: ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Some(h) = head.ok().filter(|h| h.status.success()) {
        let commit = String::from_utf8_lossy(&h.stdout).trim().to_string();
        assert!(text.contains(&format!("commit {commit}")), "{text}");
    }
}

/// A sha256sum or sha512sum manifest given without `--algo`: the first entry fails, its file
/// turns out to have that SHA-2 digest, and the run stops there (one FAILED line, exit 2,
/// the hint) instead of printing one FAILED line per file.
#[test]
fn a_manifest_of_another_algorithm_stops_at_its_first_entry_with_the_hint() {
    let env = TestEnv::new();
    for i in 0..50 {
        env.file(format!("f{i:02}"), format!("{i}\n"));
    }
    for (tool, algo) in [("sha256sum", "sha256"), ("sha512sum", "sha512")] {
        let names: Vec<String> = (0..50).map(|i| format!("f{i:02}")).collect();
        let sums = std::process::Command::new(tool)
            .args(&names)
            .current_dir(env.root())
            .output()
            .unwrap();
        env.file("SUMS", &sums.stdout);
        let out = env.run(&["check", "SUMS"]);
        assert_eq!(out.status.code(), Some(2), "{tool}: {}", stderr(&out));
        assert_eq!(stdout(&out), "f00: FAILED\n", "{tool}");
        assert_stderr_contains(&out, &format!("check this manifest with --algo {algo}"));
        let right = env.run(&["check", "-q", "--algo", algo, "SUMS"]);
        assert_eq!(right.status.code(), Some(0), "{}", stderr(&right));
    }
}

/// A BLAKE3 manifest whose files all changed is just that: every entry FAILED, and no guess
/// that the manifest is of another algorithm (the first entry's file does not match SHA-256
/// either). The hint is for a first entry that does.
#[test]
fn every_file_changed_is_not_called_another_algorithm() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    env.file("t/b", "b\n");
    let made = env.run(&["hash", "-q", "-o", "m.b3", "t"]);
    assert_exit(&made, 0);
    env.file("t/a", "changed\n");
    env.file("t/b", "changed too\n");
    let out = env.run(&["check", "m.b3"]);
    assert_exit(&out, 1);
    assert_eq!(stdout(&out), "t/a: FAILED\nt/b: FAILED\n");
    assert!(!stderr(&out).contains("algorithm"), "{}", stderr(&out));
    // A sha256sum manifest whose first file changed since: no hint either (nothing shows it).
    env.file(
        "SHA256SUMS",
        "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7  t/a\n",
    );
    let out = env.run(&["check", "SHA256SUMS"]);
    assert_exit(&out, 1);
    assert!(!stderr(&out).contains("algorithm"), "{}", stderr(&out));
}

/// Run from the wrong directory, every entry is missing: one line names where names were
/// looked for and the -C that finds them; a manifest not found after -C names the path tried.
#[test]
fn every_entry_missing_says_where_names_were_looked_for_and_which_dir_works() {
    let env = TestEnv::new();
    env.file("tree/data/a", "a\n");
    env.file("tree/data/b", "b\n");
    let made = env.run(&["-C", "tree/data", "hash", "-q", "-o", "../m.b3", "."]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let out = env.run(&["check", "tree/m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    let root = std::fs::canonicalize(env.root()).unwrap();
    assert_stderr_contains(
        &out,
        &format!(
            "every entry is missing from {}, where names are looked for; a is in {}: run \
             check with -C tree/data",
            root.display(),
            root.join("tree/data").display()
        ),
    );
    let ok = env.run(&["check", "-C", "tree/data", "../m.b3"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let nowhere = env.run(&["check", "-C", "tree", "data.b3"]);
    assert_eq!(nowhere.status.code(), Some(2));
    assert_stderr_contains(
        &nowhere,
        &format!(
            "cannot read manifest data.b3 (looked for {}):",
            root.join("tree/data.b3").display()
        ),
    );
}

#[test]
fn max_open_warnings_say_which_limit_applies() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    let out = env.run(&["hash", "-q", "--max-open", "100000", "t"]);
    assert_eq!(
        stderr(&out),
        "b3tree: warning: --max-open 100000: b3tree holds at most 1024 files open at once; \
         using 1024\n"
    );
    let out = run_with_timeout(
        with_nofile(env.cmd().args(["hash", "-q", "--max-open", "100", "t"]), 64),
        std::time::Duration::from_secs(30),
    );
    assert!(
        stderr(&out).starts_with(
            "b3tree: warning: --max-open 100 is more than the open-file limit allows (64 descriptors, "
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn absolute_manifests_verify_beneath_the_working_directory_and_hint_elsewhere() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    let root = std::fs::canonicalize(env.root()).unwrap();
    let abs = root.join("t/a");
    env.file("m.b3", format!("{}  {}\n", hex(b"a\n"), abs.display()));
    // From the tree's root, from /, and from any directory above it: verified.
    for dir in [".", "/", "t/.."] {
        let out = env.run(&["check", "-C", dir, &root.join("m.b3").display().to_string()]);
        assert_eq!(out.status.code(), Some(0), "-C {dir}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{}: OK\n", abs.display()));
    }
    // From a sibling directory: refused, said once with the hint, not once per entry.
    std::fs::create_dir(env.root().join("elsewhere")).unwrap();
    let out = env.run(&["check", "-C", "elsewhere", "../m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!("{}: FAILED (outside the root)\n", abs.display())
    );
    assert_eq!(
        normalise(&stderr(&out)),
        "b3tree: WARNING: 1 entry lies outside the working directory (refused); run check \
         where they are (-C DIR) or pass --allow-outside\n\
         b3tree: 0 ok, 0 failed, 0 missing, 0 unreadable, 1 outside the root in T s\n"
    );
}

#[test]
fn an_absolute_and_a_relative_name_of_one_file_are_one_entry() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    let abs = std::fs::canonicalize(env.root()).unwrap().join("a");
    env.file(
        "m.b3",
        format!("{h}  a\n{h}  {}\n", abs.display(), h = hex(b"a\n")),
    );
    let out = env.run(&["check", "m.b3"]);
    assert_stderr_contains(&out, "m.b3:2: duplicate entry (first at m.b3:1)");
}

#[test]
fn progress_into_a_log_is_plain_lines_and_the_summary_stands_alone() {
    let env = TestEnv::new();
    for i in 0..300 {
        env.file(format!("t/{i:03}"), vec![b'x'; 2048]);
    }
    // A line every 20 ms (a test hook; 5 s by default) and a run long enough for several.
    sparse_file(&env, "t/zz", 1 << 30);
    let out = run_with_timeout(
        env.cmd()
            .env("B3TREE_PROGRESS_EVERY", "0.02")
            .args(["hash", "--progress", "-j", "1", "t"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.lines().any(|l| l.starts_with("b3tree: progress: ")),
        "no progress line was ever seen: {err:?}"
    );
    assert!(!err.contains('\r'), "{err:?}");
    assert!(err.is_ascii(), "no spinner glyphs: {err:?}");
    for line in err.lines() {
        assert!(line.starts_with("b3tree: "), "{err:?}");
        assert_eq!(line, line.trim_end(), "no padding: {err:?}");
    }
    let last = normalise(err.lines().last().unwrap());
    assert_eq!(
        last,
        "b3tree: 301 files, 1.00 GiB in T s (RATE); 0 errors, 0 skipped\n"
    );
}

#[test]
fn audit_takes_the_same_excludes_as_hash() {
    let env = TestEnv::new();
    env.file("x/a", "a\n");
    env.file("x/node_modules/m/i.js", "js\n");
    env.file("x/deep/er/f", "f\n");
    let out = env.run(&[
        "hash",
        "-q",
        "-C",
        "x",
        "--exclude",
        "node_modules",
        "-o",
        "../m.b3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&[
        "check",
        "-C",
        "x",
        "--audit",
        "--exclude",
        "node_modules",
        "--quiet",
        "../m.b3",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // Without the exclude, the same tree has NEW files.
    let out = env.run(&["check", "-C", "x", "--audit", "--quiet", "../m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "node_modules/m/i.js: NEW\n");
    // --max-depth and a bad GLOB.
    let out = env.run(&[
        "check",
        "-C",
        "x",
        "--audit",
        "--max-depth",
        "1",
        "--exclude",
        "node_modules",
        "--quiet",
        "../m.b3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&["check", "--audit", "--exclude", "a[", "m.b3"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["check", "--exclude", "x", "m.b3"]);
    assert_eq!(out.status.code(), Some(2), "--exclude needs --audit");
}

/// Runs `b3tree ARGS` on a pseudo-terminal (util-linux `script`) in `dir`; its output.
fn on_a_pty(dir: &std::path::Path, args: &str, no_color: bool) -> String {
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &format!("{} {args}", bin().display()), "/dev/null"])
        .current_dir(dir)
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    stdout(&run_with_timeout(
        &mut cmd,
        std::time::Duration::from_secs(30),
    ))
}

#[test]
fn verdicts_are_coloured_on_a_terminal_only() {
    let env = TestEnv::new();
    env.file("a", "changed\n");
    env.file("m.b3", format!("{}  a\n", hex(b"a\n")));
    let tty = on_a_pty(env.root(), "check --no-progress m.b3", false);
    assert!(tty.contains("\u{1b}[31mFAILED\u{1b}[0m"), "{tty:?}");
    let no_color = on_a_pty(env.root(), "check --no-progress m.b3", true);
    assert!(!no_color.contains('\u{1b}'), "{no_color:?}");
    let never = on_a_pty(env.root(), "check --no-progress --color never m.b3", false);
    assert!(!never.contains('\u{1b}'), "{never:?}");
    let piped = env.run(&["check", "m.b3"]);
    assert_eq!(stdout(&piped), "a: FAILED\n");
    let always = env.run(&["check", "--color", "always", "m.b3"]);
    assert!(
        stdout(&always).contains("\u{1b}[31mFAILED"),
        "{}",
        stdout(&always)
    );
}
