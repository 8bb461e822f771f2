//! `b3tree digest`, `hash --shard` and `merge`.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/digest-tree");
/// Golden vector of fixtures/digest-tree (docs/digest.md). Changing it changes the format.
const FIXTURE_DIGEST: &str =
    "b3t1:b81da9ed83c0a4be9821e2fbba2cf55455978188324c0fcfd1e97c0759532595";

/// The definition of docs/digest.md, written out independently of the implementation.
fn reference_digest(root: &Path) -> String {
    let mut files: Vec<(Vec<Vec<u8>>, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let comps = rel.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
            (comps, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    let mut k = blake3::Hasher::new_derive_key("b3tree 2026-11-25 tree digest v1");
    for (comps, data) in files {
        let name = comps.join(&b'/');
        k.update(&(name.len() as u64).to_le_bytes());
        k.update(&name);
        k.update(blake3::hash(&data).as_bytes());
    }
    format!("b3t1:{}", k.finalize().to_hex())
}

fn digest_of(env: &TestEnv, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    stdout(&out).trim_end().to_string()
}

#[test]
fn digest_and_shards_of_several_paths_need_them_in_canonical_order() {
    let env = TestEnv::new();
    env.file("a/x", "1");
    env.file("a/b/y", "2");
    env.file("c/z", "3");
    let out = env.run(&["hash", "--digest", "-o", "ac.b3", "a", "c"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from = digest_of(&env, &["digest", "--from", "ac.b3"]);
    assert_stderr_contains(&out, &format!("digest {from}"));
    // Out of order, or one PATH inside another: no digest, the pair named; manifest written.
    for (paths, why) in [
        (["c", "a"], "a/b/y comes after c/z"),
        (["a", "a/b"], "a/b/y comes after a/x"),
    ] {
        let out = env.run(&["hash", "--digest", "-o", "bad.b3", paths[0], paths[1]]);
        assert_eq!(out.status.code(), Some(1), "{paths:?}");
        assert_stderr_contains(
            &out,
            &format!("no digest: it is defined over names in canonical order: {why}"),
        );
        assert!(!stderr(&out).contains("digest b3t1:"), "{}", stderr(&out));
        assert!(env.root().join("bad.b3").exists());
    }
    // A shard of such PATHs could not be merged: said at once, not at merge time.
    let out = env.run(&["hash", "--shard", "0/1", "-o", "s.b3", "c", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(
        &out,
        "this shard manifest is not in canonical order, so merge will refuse it: a/b/y comes after c/z",
    );
    let out = env.run(&["hash", "--shard", "0/1", "-o", "s.b3", "a", "c"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn golden_vector_of_the_fixture_tree() {
    let env = TestEnv::new();
    assert_eq!(digest_of(&env, &["digest", "-q", FIXTURE]), FIXTURE_DIGEST);
    assert_eq!(reference_digest(Path::new(FIXTURE)), FIXTURE_DIGEST);
}

fn awkward_tree(env: &TestEnv) {
    env.file(b"t/line\nfeed", "1");
    env.file(b"t/bad\xffutf8", "2");
    env.file(b"t/back\\slash", "3");
    env.file("t/sub/deeper/file", "4");
    env.file("t/a.txt", "5");
    env.file("t/a/x", "6");
    env.file("t/empty", "");
}

#[test]
fn digest_matches_the_written_definition_and_is_independent_of_jobs_and_location() {
    let env = TestEnv::new();
    awkward_tree(&env);
    let expected = reference_digest(&env.root().join("t"));
    for j in ["1", "2", "16"] {
        assert_eq!(digest_of(&env, &["digest", "-q", "-j", j, "t"]), expected);
    }
    assert_eq!(digest_of(&env, &["digest", "-q", "-C", "t"]), expected);
    // A copy elsewhere has the same digest.
    let copy = TestEnv::new();
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            env.root().join("t").to_str().unwrap(),
            copy.root().join("elsewhere").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(digest_of(&copy, &["digest", "-q", "elsewhere"]), expected);
}

#[test]
fn digest_changes_with_content_name_and_membership() {
    let env = TestEnv::new();
    awkward_tree(&env);
    let base = digest_of(&env, &["digest", "-q", "t"]);
    env.file("t/a.txt", "5!");
    let content = digest_of(&env, &["digest", "-q", "t"]);
    assert_ne!(content, base);
    std::fs::rename(env.root().join("t/a.txt"), env.root().join("t/b.txt")).unwrap();
    let renamed = digest_of(&env, &["digest", "-q", "t"]);
    assert_ne!(renamed, content);
    env.file("t/new", "");
    assert_ne!(digest_of(&env, &["digest", "-q", "t"]), renamed);
}

#[test]
fn digest_from_manifest_equals_digest_of_tree() {
    let env = TestEnv::new();
    awkward_tree(&env);
    let tree = digest_of(&env, &["digest", "-q", "t"]);
    let out = env.run(&["hash", "-q", "-C", "t", "-o", "../m.b3"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(digest_of(&env, &["digest", "--from", "m.b3"]), tree);
    // Order of lines does not matter (b3sum/find manifests); hash --digest agrees.
    let text = std::fs::read(env.root().join("m.b3")).unwrap();
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    lines.reverse();
    std::fs::write(env.root().join("rev.b3"), lines.concat()).unwrap();
    assert_eq!(digest_of(&env, &["digest", "--from", "rev.b3"]), tree);
    // In order until the last line (read as it streams, then again and sorted), and the same
    // from stdin (always sorted).
    lines.reverse();
    lines.rotate_left(1);
    std::fs::write(env.root().join("late.b3"), lines.concat()).unwrap();
    assert_eq!(digest_of(&env, &["digest", "--from", "late.b3"]), tree);
    let out = run_with_timeout(
        env.cmd()
            .args(["digest", "--from", "-"])
            .stdin(std::fs::File::open(env.root().join("late.b3")).unwrap()),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(
        (out.status.code(), stdout(&out).trim_end()),
        (Some(0), &*tree)
    );
    let out = env.run(&["hash", "--digest", "-C", "t"]);
    assert_stderr_contains(&out, &format!("digest {tree}"));
}

#[test]
fn digest_refuses_to_cover_up_errors_and_bad_manifests() {
    let env = TestEnv::new();
    env.file("m", "not a manifest line\n");
    let out = env.run(&["digest", "--from", "m"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "m:1: improperly formatted");
    // A duplicate name is refused whether the manifest is in order or not.
    let h = blake3::hash(b"x").to_hex();
    for text in [
        format!("{h}  a\n{h}  b\n{h}  ./b\n"),
        format!("{h}  b\n{h}  a\n{h}  b\n"),
    ] {
        env.file("dup", text);
        let out = env.run(&["digest", "--from", "dup"]);
        assert_eq!(out.status.code(), Some(1));
        assert_stderr_contains(&out, "dup: duplicate entry b");
    }
    let out = env.run(&["digest", "missing-dir"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
}

fn shard_tree(env: &TestEnv, n: usize) {
    for i in 0..n {
        env.file(format!("t/d{}/f{i:04}", i % 13), format!("{i}"));
    }
}

#[test]
fn shards_cover_every_file_exactly_once_and_merge_to_the_single_run() {
    let env = TestEnv::new();
    shard_tree(&env, 700);
    let single = env.run(&["hash", "-q", "-o", "all.b3", "t"]);
    assert_eq!(single.status.code(), Some(0));
    let all = std::fs::read(env.root().join("all.b3")).unwrap();
    for n in [1usize, 2, 3, 7] {
        let mut parts = Vec::new();
        let mut total = 0;
        for k in 0..n {
            let name = format!("s{k}-{n}.b3");
            let out = env.run(&[
                "hash",
                "-q",
                "--shard",
                &format!("{k}/{n}"),
                "-o",
                &name,
                "t",
            ]);
            assert_eq!(out.status.code(), Some(0));
            let text = std::fs::read_to_string(env.root().join(&name)).unwrap();
            // The first line says which shard it is, for merge.
            assert_eq!(
                text.lines().next(),
                Some(format!("# b3tree shard {k}/{n}").as_str())
            );
            total += text.lines().filter(|l| !l.starts_with('#')).count();
            parts.push(name);
        }
        assert_eq!(total, 700, "N={n}: every file exactly once");
        // Merge in a shuffled argument order.
        parts.reverse();
        let mut args = vec!["merge".to_string(), "-o".into(), format!("merged-{n}.b3")];
        args.extend(parts.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read(env.root().join(format!("merged-{n}.b3"))).unwrap(),
            all,
            "N={n}"
        );
    }
}

/// The per-entry records of a `check --json` run (path and status), and its summary.
fn check_records(env: &TestEnv, args: &[&str]) -> (Vec<(String, String)>, serde_json::Value) {
    let out = env.run(args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let mut records = Vec::new();
    let mut summary = serde_json::Value::Null;
    for line in stdout(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "summary" {
            summary = v;
        } else {
            records.push((v["path"].to_string(), v["status"].to_string()));
        }
    }
    (records, summary)
}

/// `check --shard K/N`: N checks of one manifest together report every entry and every
/// audited file exactly once, as one full check does; a NEW file is reported by one shard.
#[test]
fn check_shards_together_equal_one_full_check() {
    let env = TestEnv::new();
    shard_tree(&env, 300);
    let made = env.run(&["hash", "-q", "-o", "all.b3", "t"]);
    assert_eq!(made.status.code(), Some(0));
    env.file("t/d1/f0001", "changed");
    std::fs::remove_file(env.root().join("t/d2/f0002")).unwrap();
    for i in 0..5 {
        env.file(format!("t/new/n{i}"), format!("new {i}"));
    }
    std::os::unix::fs::symlink("d1", env.root().join("t/link")).unwrap();
    // A line that is no line, and one whose digest has another length: each reported once.
    let mut manifest = std::fs::read(env.root().join("all.b3")).unwrap();
    manifest.extend_from_slice(format!("not a line\n{}  t/d0/other\n", "ab".repeat(16)).as_bytes());
    std::fs::write(env.root().join("all.b3"), manifest).unwrap();
    let full = ["check", "--audit", "--json", "all.b3"];
    let (mut whole, summary) = check_records(&env, &full);
    assert_eq!(
        (summary["new"].as_u64(), summary["missing"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(summary["malformed"].as_u64(), Some(2));
    whole.sort();
    for n in [1u64, 2, 3, 5] {
        let mut union = Vec::new();
        let mut not_audited = 0;
        for k in 0..n {
            let shard = format!("{k}/{n}");
            let args = [
                "check",
                "--audit",
                "--json",
                "--shard",
                shard.as_str(),
                "all.b3",
            ];
            let (records, summary) = check_records(&env, &args);
            let own = summary["ok"].as_u64().unwrap()
                + summary["failed"].as_u64().unwrap()
                + summary["missing"].as_u64().unwrap();
            assert_eq!(
                own + summary["other_shards"].as_u64().unwrap_or(0),
                300,
                "{shard}: {summary}"
            );
            not_audited += summary["not_audited"]["symlink"].as_u64().unwrap_or(0);
            union.extend(records);
        }
        union.sort();
        assert_eq!(union, whole, "N={n}");
        assert_eq!(not_audited, 1, "N={n}: the symlink is one shard's");
    }
    // auto, from GitLab's variables, is the same as the fixed shard.
    let fixed = check_records(&env, &["check", "--json", "--shard", "1/3", "all.b3"]).0;
    let auto = env
        .cmd()
        .args(["check", "--json", "--shard", "auto", "all.b3"])
        .env("CI_NODE_INDEX", "2")
        .env("CI_NODE_TOTAL", "3")
        .output()
        .unwrap();
    let auto: Vec<(String, String)> = stdout(&auto)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] != "summary")
        .map(|v| (v["path"].to_string(), v["status"].to_string()))
        .collect();
    assert_eq!(auto, fixed);
}

#[test]
fn merged_digest_equals_tree_digest() {
    let env = TestEnv::new();
    shard_tree(&env, 100);
    let tree = digest_of(&env, &["digest", "-q", "t"]);
    for k in 0..3 {
        let out = env.run(&[
            "hash",
            "-q",
            "-C",
            "t",
            "--shard",
            &format!("{k}/3"),
            "-o",
            &format!("../s{k}.b3"),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let out = env.run(&["merge", "-o", "all.b3", "s0.b3", "s1.b3", "s2.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(digest_of(&env, &["digest", "--from", "all.b3"]), tree);
    // `-` is one input read from stdin, as for check and digest --from; twice is refused.
    let out = run_with_timeout(
        env.cmd()
            .args(["merge", "-o", "piped.b3", "s0.b3", "-", "s2.b3"])
            .stdin(std::fs::File::open(env.root().join("s1.b3")).unwrap()),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(env.root().join("piped.b3")).unwrap(),
        std::fs::read(env.root().join("all.b3")).unwrap()
    );
    let out = env.run(&["merge", "-", "s0.b3", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "'-' (stdin) given more than once");
}

#[test]
fn merge_refuses_overlap_conflict_mixed_roots_and_keeps_the_old_output() {
    let env = TestEnv::new();
    shard_tree(&env, 40);
    env.file("u/x", "other root");
    for (name, args) in [
        ("s0.b3", vec!["--shard", "0/2", "t"]),
        ("s1.b3", vec!["--shard", "1/2", "t"]),
        ("other.b3", vec!["u"]),
    ] {
        let mut a = vec!["hash", "-q", "-o", name];
        a.extend(args);
        assert_eq!(env.run(&a).status.code(), Some(0));
    }
    std::fs::write(env.root().join("out.b3"), "old\n").unwrap();
    let out = env.run(&["merge", "-o", "out.b3", "s0.b3", "s0.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "shard 0/2 given twice (s0.b3 and s0.b3)");
    let out = env.run(&["merge", "--partial", "-o", "out.b3", "s0.b3", "s0.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "overlapping entries");
    // A conflicting copy: same name, other digest.
    let s1 = std::fs::read_to_string(env.root().join("s1.b3")).unwrap();
    let first = s1.lines().nth(1).unwrap();
    let conflict = format!("{}{}\n", "0".repeat(64), &first[64..]);
    std::fs::write(env.root().join("conflict.b3"), conflict).unwrap();
    let out = env.run(&["merge", "--partial", "-o", "out.b3", "s1.b3", "conflict.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "conflicting entries");
    let out = env.run(&["merge", "-o", "out.b3", "s0.b3", "s1.b3", "other.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "other.b3 is not a shard manifest");
    let out = env.run(&[
        "merge",
        "--partial",
        "-o",
        "out.b3",
        "s0.b3",
        "s1.b3",
        "other.b3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "different roots");
    assert_left_as_it_was(&env.root().join("out.b3"), "old\n");
    // Two of three shards: refused, naming the missing one; --partial merges with a warning.
    for k in 0..2 {
        let out = env.run(&[
            "hash",
            "-q",
            "--shard",
            &format!("{k}/3"),
            "-o",
            &format!("t{k}.b3"),
            "t",
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let out = env.run(&["merge", "-o", "out.b3", "t0.b3", "t1.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "shard 2/3 is missing; refusing to merge");
    assert_left_as_it_was(&env.root().join("out.b3"), "old\n");
    // Shards 0 and 2 of 3 do not pass for shards 0 and 1 of 2.
    let out = env.run(&["hash", "-q", "--shard", "2/3", "-o", "t2.b3", "t"]);
    assert_eq!(out.status.code(), Some(0));
    let out = env.run(&["merge", "-o", "out.b3", "t0.b3", "t2.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "shard 1/3 is missing");
    let out = env.run(&["merge", "-o", "out.b3", "t0.b3", "s1.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(
        &out,
        "t0.b3 is a shard of 3 but s1.b3 is shard 1/2: not one set",
    );
    let out = env.run(&["merge", "--partial", "-o", "out.b3", "t0.b3", "t1.b3"]);
    assert_eq!(out.status.code(), Some(0));
    assert_stderr_contains(&out, "do not look like");
}

#[test]
fn shard_auto_reads_the_ci_engine_and_equals_the_fixed_shard() {
    let env = TestEnv::new();
    for i in 0..40 {
        env.file(format!("t/f{i:02}"), format!("{i}\n"));
    }
    let fixed = env.run(&["hash", "-q", "--shard", "1/3", "t"]);
    let gitlab = run_with_timeout(
        env.cmd()
            .args(["hash", "-q", "--shard", "auto", "t"])
            .env("CI_NODE_INDEX", "2")
            .env("CI_NODE_TOTAL", "3"),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(gitlab.status.code(), Some(0), "{}", stderr(&gitlab));
    assert_eq!(stdout(&gitlab), stdout(&fixed));
    let k8s = run_with_timeout(
        env.cmd()
            .args(["hash", "-q", "--shard", "auto/3", "t"])
            .env("JOB_COMPLETION_INDEX", "1"),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(stdout(&k8s), stdout(&fixed));
    let none = run_with_timeout(
        env.cmd()
            .args(["hash", "--shard", "auto", "t"])
            .env_remove("CI_NODE_INDEX")
            .env_remove("CIRCLE_NODE_INDEX")
            .env_remove("BUILDKITE_PARALLEL_JOB")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("PBS_ARRAY_INDEX")
            .env_remove("LSB_JOBINDEX"),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(none.status.code(), Some(2));
    assert_stderr_contains(
        &none,
        "--shard auto: no CI engine's or scheduler's shard variables are set",
    );
    assert!(stdout(&none).is_empty());
}

#[test]
fn shard_auto_reads_circleci_and_buildkite_too() {
    let env = TestEnv::new();
    for i in 0..40 {
        env.file(format!("t/f{i:02}"), format!("{i}\n"));
    }
    let fixed = env.run(&["hash", "-q", "--shard", "1/3", "t"]);
    let clean = |cmd: &mut std::process::Command| {
        for v in [
            "CI_NODE_INDEX",
            "CI_NODE_TOTAL",
            "CIRCLE_NODE_INDEX",
            "CIRCLE_NODE_TOTAL",
        ] {
            cmd.env_remove(v);
        }
        for v in [
            "BUILDKITE_PARALLEL_JOB",
            "BUILDKITE_PARALLEL_JOB_COUNT",
            "JOB_COMPLETION_INDEX",
        ] {
            cmd.env_remove(v);
        }
    };
    // Both are 0-based.
    for (index, total) in [
        ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL"),
        ("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT"),
    ] {
        let mut cmd = env.cmd();
        clean(&mut cmd);
        cmd.args(["hash", "-q", "--shard", "auto", "t"])
            .env(index, "1")
            .env(total, "3");
        let out = run_with_timeout(&mut cmd, std::time::Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{index}: {}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&fixed), "{index}");
    }
}
