//! `b3tree diff OLD NEW` (docs/guide.md "What changed: `b3tree diff`"): two manifests or two
//! tree specs compared from themselves alone — lines as `git diff --name-status` writes
//! them, renames paired, spec keywords in check's words, bad input named with its line.

use std::os::unix::fs::symlink;
use std::process::{Command, Stdio};

use crate::common::*;

/// A tree `t` with a file in a subdirectory, one to rename, one to change.
fn tree(env: &TestEnv) {
    env.file("t/keep", "keep");
    env.file("t/sub/change", "v1");
    env.file("t/old-name", "moves");
}

fn diff(env: &TestEnv, args: &[&str]) -> (Option<i32>, String, String) {
    let mut argv = vec!["diff"];
    argv.extend(args);
    let out = env.run(&argv);
    (out.status.code(), stdout(&out), stderr(&out))
}

#[test]
fn manifests_name_what_was_added_removed_changed_and_renamed() {
    let env = TestEnv::new();
    tree(&env);
    env.file("t/gone", "gone");
    assert_exit(&env.run(&["hash", "t", "-o", "old.b3"]), 0);
    std::fs::rename(env.root().join("t/old-name"), env.root().join("t/new-name")).unwrap();
    env.file("t/sub/change", "v2");
    std::fs::remove_file(env.root().join("t/gone")).unwrap();
    env.file("t/added", "new");
    assert_exit(&env.run(&["hash", "t", "-o", "new.b3"]), 0);
    let (code, out, err) = diff(&env, &["old.b3", "new.b3"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        out,
        "A\tt/added\nD\tt/gone\nR\tt/old-name\tt/new-name\nM\tt/sub/change\n"
    );
    assert!(
        err.contains("1 added, 1 removed, 1 modified, 1 renamed, 0 type changes (4 entries and 4 entries compared)"),
        "{err}"
    );
    // The same tree hashed again: nothing differs, exit 0.
    assert_exit(&env.run(&["hash", "t", "-o", "again.b3"]), 0);
    let (code, out, _) = diff(&env, &["new.b3", "again.b3"]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
}

#[test]
fn names_that_would_break_a_column_or_a_log_are_escaped() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    assert_exit(&env.run(&["hash", "t", "-o", "old.b3"]), 0);
    env.file("t/tab\there", "x");
    env.file(b"t/new\nline", "y");
    env.file("t/\x1b[31mred", "z");
    env.file("t/::error::x", "w");
    assert_exit(&env.run(&["hash", "t", "-o", "new.b3"]), 0);
    let (code, out, _) = diff(&env, &["old.b3", "new.b3"]);
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("A\t\\t/tab\\x09here\n"), "{out}");
    assert!(out.contains("A\t\\t/new\\nline\n"), "{out}");
    assert!(out.contains("A\t\\t/\\x1b[31mred\n"), "{out}");
    assert!(!out.contains('\x1b'));
    assert!(out.lines().all(|l| l.split('\t').count() == 2), "{out}");
}

#[test]
fn several_candidates_pair_in_canonical_order_and_json_says_the_same() {
    let env = TestEnv::new();
    for n in ["a1", "a2", "a3"] {
        env.file(format!("t/{n}"), "same");
    }
    assert_exit(&env.run(&["hash", "t", "-o", "old.b3"]), 0);
    for n in ["a1", "a2", "a3"] {
        std::fs::remove_file(env.root().join(format!("t/{n}"))).unwrap();
    }
    for n in ["b1", "b2"] {
        env.file(format!("t/{n}"), "same");
    }
    assert_exit(&env.run(&["hash", "t", "-o", "new.b3"]), 0);
    let (code, out, _) = diff(&env, &["old.b3", "new.b3"]);
    assert_eq!(code, Some(1));
    assert_eq!(out, "R\tt/a1\tt/b1\nR\tt/a2\tt/b2\nD\tt/a3\n");
    let (_, json, _) = diff(&env, &["--json", "old.b3", "new.b3"]);
    let records: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4, "{json}");
    assert_eq!(records[0]["type"], "renamed");
    assert_eq!(records[0]["path"], "t/b1");
    assert_eq!(records[0]["from"]["path"], "t/a1");
    assert_eq!(records[0]["new"]["hash"], hex(b"same"));
    assert_eq!(records[2]["type"], "removed");
    let summary = &records[3];
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        (summary["renamed"].as_u64(), summary["removed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(summary["identical"], false);
}

#[test]
fn every_manifest_form_is_read_and_an_unordered_one_is_sorted() {
    let env = TestEnv::new();
    tree(&env);
    assert_exit(&env.run(&["hash", "t", "-o", "plain.b3"]), 0);
    assert_exit(&env.run(&["hash", "--tag", "t", "-o", "tag.b3"]), 0);
    assert_exit(&env.run(&["hash", "-z", "t", "-o", "zero.b3"]), 0);
    // Real b3sum's lines (a compatibility claim), in the order `find` lists them.
    let b3sum = Command::new("sh")
        .arg("-c")
        .arg("find t -type f | sort -r | xargs b3sum > b3sum.b3")
        .current_dir(env.root())
        .status()
        .expect("b3sum (tests/deps.sh installs it)");
    assert!(b3sum.success());
    for other in ["tag.b3", "zero.b3", "b3sum.b3"] {
        let (code, out, err) = diff(&env, &["plain.b3", other]);
        assert_eq!((code, out.as_str()), (Some(0), ""), "{other}: {err}");
    }
    // Standard input on one side.
    let out = env
        .cmd()
        .args(["diff", "-", "plain.b3"])
        .stdin(std::fs::File::open(env.root().join("b3sum.b3")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn digests_of_two_algorithms_are_refused_unless_names_only() {
    let env = TestEnv::new();
    tree(&env);
    assert_exit(&env.run(&["hash", "--tag", "t", "-o", "b3.b3"]), 0);
    env.file("t/extra", "x");
    assert_exit(
        &env.run(&["hash", "--tag", "--algo", "sha512", "t", "-o", "sha.b3"]),
        0,
    );
    let (code, out, err) = diff(&env, &["b3.b3", "sha.b3"]);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(err.contains("BLAKE3") && err.contains("SHA512"), "{err}");
    let (code, out, _) = diff(&env, &["--names-only", "b3.b3", "sha.b3"]);
    assert_eq!((code, out.as_str()), (Some(1), "A\tt/extra\n"));
}

#[test]
fn an_untagged_line_is_blake3_unless_algo_says_otherwise() {
    let env = TestEnv::new();
    let h = hex(b"content");
    std::fs::write(env.root().join("plain.b3"), format!("{h}  a\n")).unwrap();
    std::fs::write(env.root().join("sha.b3"), format!("SHA256 (a) = {h}\n")).unwrap();
    std::fs::write(env.root().join("b3.b3"), format!("BLAKE3 (a) = {h}\n")).unwrap();
    let (code, _, err) = diff(&env, &["plain.b3", "sha.b3"]);
    assert_eq!(
        code,
        Some(2),
        "a SHA256 tag does not make untagged lines SHA-256: {err}"
    );
    assert!(err.contains("BLAKE3") && err.contains("SHA256"), "{err}");
    let (code, out, _) = diff(&env, &["plain.b3", "b3.b3"]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    let (code, out, err) = diff(&env, &["--algo", "sha256", "plain.b3", "sha.b3"]);
    assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");
}

#[test]
fn shards_and_their_merge_compare_as_the_tree() {
    let env = TestEnv::new();
    for i in 0..20 {
        env.file(format!("t/f{i:02}"), format!("{i}"));
    }
    assert_exit(&env.run(&["hash", "t", "-o", "one.b3"]), 0);
    assert_exit(&env.run(&["hash", "--shard", "0/2", "t", "-o", "s0.b3"]), 0);
    assert_exit(&env.run(&["hash", "--shard", "1/2", "t", "-o", "s1.b3"]), 0);
    assert_exit(&env.run(&["merge", "-o", "merged.b3", "s0.b3", "s1.b3"]), 0);
    let (code, out, err) = diff(&env, &["one.b3", "merged.b3"]);
    assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");
    // A shard's header line is no entry: the shard against the whole names the others.
    let (code, out, _) = diff(&env, &["s0.b3", "one.b3"]);
    assert_eq!(code, Some(1));
    assert!(out.lines().all(|l| l.starts_with("A\tt/f")), "{out}");
    assert_eq!(
        out.lines().count(),
        std::fs::read_to_string(env.root().join("s1.b3"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count()
    );
}

/// A release tree for specs: a file whose mode changes, a link retargeted, an empty
/// directory, a directory that becomes a file.
fn spec_tree(env: &TestEnv) {
    std::fs::create_dir_all(env.root().join("s")).unwrap();
    write_mode(env.root().join("s/run.sh"), "#!/bin/sh\n", 0o755);
    env.file("s/v1/lib", "one");
    env.file("s/v2/lib", "two");
    symlink("v1", env.root().join("s/latest")).unwrap();
    std::fs::create_dir_all(env.root().join("s/empty")).unwrap();
    std::fs::create_dir_all(env.root().join("s/was-dir")).unwrap();
}

#[test]
fn specs_name_modes_links_types_and_empty_directories() {
    let env = TestEnv::new();
    spec_tree(&env);
    let spec = |out: &str| {
        [
            "hash", "--format", "mtree", "--algo", "sha256", "s", "-o", out,
        ]
        .map(String::from)
    };
    let run = |args: [String; 8]| env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit(&run(spec("old.mtree")), 0);
    chmod(env.root().join("s/run.sh"), 0o644);
    std::fs::remove_file(env.root().join("s/latest")).unwrap();
    symlink("v2", env.root().join("s/latest")).unwrap();
    std::fs::remove_dir(env.root().join("s/was-dir")).unwrap();
    env.file("s/was-dir", "now a file");
    std::fs::create_dir_all(env.root().join("s/new-empty")).unwrap();
    std::fs::rename(
        env.root().join("s/v1/lib"),
        env.root().join("s/v1/lib.moved"),
    )
    .unwrap();
    assert_exit(&run(spec("new.mtree")), 0);
    let (code, out, err) = diff(&env, &["old.mtree", "new.mtree"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        out,
        "M\tlatest\tlink: v1 → v2\n\
         A\tnew-empty\n\
         M\trun.sh\tmode 0755 → 0644\n\
         R\tv1/lib\tv1/lib.moved\n\
         T\twas-dir\ttype: dir → file\n"
    );
}

#[test]
fn a_rename_in_a_spec_says_what_else_changed_and_pairs_on_any_digest() {
    let env = TestEnv::new();
    let (h1, h2) = (hex(b"one"), hex(b"two"));
    std::fs::write(
        env.root().join("old.mtree"),
        format!("#mtree\n./a type=file mode=0644 sha256digest={h1} blake3digest={h2}\n"),
    )
    .unwrap();
    std::fs::write(
        env.root().join("new.mtree"),
        format!("#mtree\n./b type=file mode=4755 uid=0 sha256digest={h1}\n"),
    )
    .unwrap();
    let (code, out, err) = diff(&env, &["old.mtree", "new.mtree"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out, "R\ta\tb\tmode 0644 → 4755\n");
    // A side of comments only takes the other side's kind.
    std::fs::write(env.root().join("blank"), "# nothing yet\n\n").unwrap();
    let (code, out, err) = diff(&env, &["blank", "new.mtree"]);
    assert_eq!((code, out.as_str()), (Some(1), "A\tb\n"), "{err}");
}

#[test]
fn a_bsdtar_spec_and_netbsd_spec_of_the_tree_match_b3trees() {
    let env = TestEnv::new();
    spec_tree(&env);
    let ours = env.run(&[
        "hash",
        "--format",
        "mtree",
        "--algo",
        "sha256",
        "s",
        "-o",
        "ours.mtree",
    ]);
    assert_exit(&ours, 0);
    let sh = |cmd: &str| {
        let st = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(env.root())
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
    };
    sh(
        "cd s && bsdtar --format=mtree --options='!all,type,mode,size,link,sha256,uid,gid,time' -cf ../bsd.mtree .",
    );
    sh("mtree -c -K sha256digest,type,mode,link,size -p s > netbsd.mtree");
    for other in ["bsd.mtree", "netbsd.mtree"] {
        let (code, out, err) = diff(&env, &["ours.mtree", other]);
        assert_eq!((code, out.as_str()), (Some(0), ""), "{other}: {err}");
    }
    // bsdtar's default keywords hold no digest: content cannot be compared.
    sh("cd s && bsdtar --format=mtree -cf ../nodigest.mtree .");
    let (code, out, err) = diff(&env, &["ours.mtree", "nodigest.mtree"]);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(err.contains("no digest keyword in common"), "{err}");
    let (code, _, err) = diff(&env, &["--names-only", "ours.mtree", "nodigest.mtree"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn bad_input_is_named_with_file_and_line() {
    let env = TestEnv::new();
    tree(&env);
    assert_exit(&env.run(&["hash", "t", "-o", "good.b3"]), 0);
    let good = std::fs::read_to_string(env.root().join("good.b3")).unwrap();
    std::fs::write(env.root().join("bad.b3"), format!("{good}not a line\n")).unwrap();
    let (code, out, err) = diff(&env, &["good.b3", "bad.b3"]);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(err.contains("bad.b3:4: improperly formatted line"), "{err}");
    // A name listed twice.
    let first = good.lines().next().unwrap();
    std::fs::write(env.root().join("dup.b3"), format!("{good}{first}\n")).unwrap();
    let (code, _, err) = diff(&env, &["good.b3", "dup.b3"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("dup.b3:4") && err.contains("listed twice"),
        "{err}"
    );
    // Digests of two lengths in one manifest.
    std::fs::write(
        env.root().join("mixed.b3"),
        format!("{good}abcd  t/short\n"),
    )
    .unwrap();
    let (code, _, err) = diff(&env, &["good.b3", "mixed.b3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("mixed.b3:4"), "{err}");
    // The same file twice; a spec against a manifest; a directory.
    let (code, _, err) = diff(&env, &["good.b3", "./good.b3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("same file"), "{err}");
    std::fs::write(env.root().join("s.mtree"), "#mtree\n. type=dir\n").unwrap();
    let (code, _, err) = diff(&env, &["s.mtree", "good.b3"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("tree spec") && err.contains("one kind"),
        "{err}"
    );
    let (code, _, err) = diff(&env, &["good.b3", "t"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn an_empty_side_is_said_and_lists_everything() {
    let env = TestEnv::new();
    tree(&env);
    assert_exit(&env.run(&["hash", "t", "-o", "full.b3"]), 0);
    std::fs::write(env.root().join("empty.b3"), "").unwrap();
    let (code, out, err) = diff(&env, &["empty.b3", "full.b3"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("A\t")).count(),
        3,
        "{out}"
    );
    assert!(err.contains("warning: empty.b3 holds no entries"), "{err}");
}

/// 200,000 entries on each side, one changed: memory holds the differences, not the entries.
#[test]
fn memory_stays_flat_for_big_manifests_in_order_or_not() {
    let env = TestEnv::new();
    let mut old = String::new();
    let mut new = String::new();
    for i in 0..200_000u32 {
        let name = format!("d{:03}/file-{:05}", i / 1000, i % 1000);
        let h = hex(name.as_bytes());
        old.push_str(&format!("{h}  {name}\n"));
        let h2 = if i == 123_456 { hex(b"x") } else { h };
        new.push_str(&format!("{h2}  {name}\n"));
    }
    std::fs::write(env.root().join("old.b3"), &old).unwrap();
    std::fs::write(env.root().join("new.b3"), &new).unwrap();
    let (code, kib) = peak_rss_kib(env.root(), &["diff", "-q", "old.b3", "new.b3"]);
    assert_eq!(code, Some(1));
    assert!(
        kib < 24 * 1024,
        "peak RSS {kib} KiB for 2 x 18 MB in canonical order"
    );
    let (code, out, _) = diff(&env, &["old.b3", "new.b3"]);
    assert_eq!((code, out.as_str()), (Some(1), "M\td123/file-00456\n"));
    // Reversed: sorted in memory, the same answer.
    let reversed: String = new.lines().rev().map(|l| format!("{l}\n")).collect();
    std::fs::write(env.root().join("rev.b3"), reversed).unwrap();
    let (code, out, _) = diff(&env, &["old.b3", "rev.b3"]);
    assert_eq!((code, out.as_str()), (Some(1), "M\td123/file-00456\n"));
}

#[test]
fn ctrl_c_stops_a_diff_blocked_on_standard_input() {
    let env = TestEnv::new();
    tree(&env);
    assert_exit(&env.run(&["hash", "t", "-o", "new.b3"]), 0);
    // Standard input a pipe nobody writes to: blocked reading it.
    let mut child = env
        .cmd()
        .args(["diff", "-", "new.b3"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_blocked_in(
        &child,
        libc::SIGINT,
        &[libc::SYS_read, libc::SYS_splice, libc::SYS_copy_file_range],
    );
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
}

/// A signal while a big unordered input is sorted: the run still ends within the promise.
#[test]
fn ctrl_c_stops_a_diff_sorting_a_big_input() {
    let env = TestEnv::new();
    let lines: String = (0..800_000u32)
        .rev()
        .map(|i| format!("ab  f{i:08}\n"))
        .collect();
    std::fs::write(env.root().join("old.b3"), &lines).unwrap();
    std::fs::write(env.root().join("new.b3"), &lines).unwrap();
    let mut child = env
        .cmd()
        .args(["diff", "-q", "old.b3", "new.b3"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_catching(&child, libc::SIGINT);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
}
