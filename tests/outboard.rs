//! Damage located inside big files and mended from a second copy (docs/guide.md "Where a
//! big file is damaged, and mending it"): `hash --outboard` keeps each big file's BLAKE3
//! group values beside the manifest; `check` names the damaged byte ranges of a failed file;
//! `repair --from DIR` reads only those ranges from the copy, verified before any write.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

/// `len` bytes that differ everywhere (so that no two groups are alike).
fn content(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Flips one byte of `path` at each of `offsets`.
fn flip(path: &Path, offsets: &[u64]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .read(true)
        .open(path)
        .unwrap();
    for &at in offsets {
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).unwrap();
        f.write_all_at(&[b[0] ^ 0x5a], at).unwrap();
    }
}

/// A tree `t/` of a 3 MiB file (192 groups of 16 KiB), a 1 MiB one and a small one,
/// hashed with `--outboard` into `m.b3`; and the mirror `copy/t/` of it.
fn tree(env: &TestEnv) {
    env.file("t/big.bin", content("big", 3 << 20));
    env.file("t/one.bin", content("one", 1 << 20));
    env.file("t/small", "small");
    for name in ["big.bin", "one.bin", "small"] {
        let from = env.root().join("t").join(name);
        std::fs::create_dir_all(env.root().join("copy/t")).unwrap();
        std::fs::copy(&from, env.root().join("copy/t").join(name)).unwrap();
    }
    assert_exit(&env.run(&["hash", "t", "--outboard", "-o", "m.b3"]), 0);
}

fn line_of<'a>(out: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    out.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{out}"))
}

#[test]
fn the_manifest_is_unchanged_and_the_outboard_small() {
    let env = TestEnv::new();
    tree(&env);
    assert_exit(&env.run(&["hash", "t", "-o", "plain.b3"]), 0);
    let with = std::fs::read(env.root().join("m.b3")).unwrap();
    assert_eq!(with, std::fs::read(env.root().join("plain.b3")).unwrap());
    let outboard = std::fs::metadata(env.root().join("m.b3.b3tree-outboard")).unwrap();
    let data = (3u64 << 20) + (1 << 20);
    assert!(
        outboard.len() * 1000 <= data * 5,
        "{} bytes of outboard for {data} of data",
        outboard.len()
    );
    // It is the manifest's own file: never hashed into a tree that holds it.
    for _ in 0..2 {
        assert_exit(&env.run(&["hash", ".", "--outboard", "-o", "all.b3"]), 0);
    }
    assert!(env.root().join("all.b3.b3tree-outboard").exists());
    let all = std::fs::read_to_string(env.root().join("all.b3")).unwrap();
    assert!(!all.contains("all.b3.b3tree-outboard"), "{all}");
    assert!(
        all.contains("m.b3.b3tree-outboard"),
        "another manifest's is a file like any"
    );
}

#[test]
fn flipped_bytes_are_named_to_their_group_and_ranges_merge() {
    let env = TestEnv::new();
    tree(&env);
    let big = env.root().join("t/big.bin");
    flip(&big, &[100_000, 2_500_000]);
    let out = env.run(&["check", "m.b3"]);
    assert_exit(&out, 1);
    assert_eq!(
        line_of(&stdout(&out), "t/big.bin"),
        "t/big.bin: FAILED (bytes 98,304–114,687 and 2,490,368–2,506,751 differ; 2 of 192 groups)"
    );
    assert_eq!(line_of(&stdout(&out), "t/one.bin"), "t/one.bin: OK");
    // Two adjacent groups are one range; JSON lists the ranges, first and last byte.
    flip(&big, &[100_000, 2_500_000, 16_383, 16_384, 3_145_727]);
    let out = env.run(&["check", "--json", "m.b3"]);
    assert_exit(&out, 1);
    let record: serde_json::Value = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["path"] == "t/big.bin")
        .unwrap();
    assert_eq!(
        record["ranges"],
        serde_json::json!([[0, 32767], [3129344, 3145727]])
    );
    assert_eq!(record["damaged_groups"], 3);
    assert_eq!(record["groups"], 192);
}

#[test]
fn finer_groups_and_keyed_digests_locate_too() {
    let env = TestEnv::new();
    env.file("t/big.bin", content("keyed", 2 << 20));
    let key = [7u8; 32];
    let run_keyed = |args: &[&str]| {
        let mut cmd = env.cmd();
        cmd.args(args).stdin(Stdio::piped());
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &key).unwrap();
        child.wait_with_output().unwrap()
    };
    let hashed = run_keyed(&[
        "hash",
        "--keyed",
        "t",
        "--outboard",
        "--outboard-group",
        "4K",
        "-o",
        "k.b3",
    ]);
    assert_exit(&hashed, 0);
    flip(&env.root().join("t/big.bin"), &[5_000]);
    let out = run_keyed(&["check", "--keyed", "k.b3"]);
    assert_exit(&out, 1);
    assert_eq!(
        stdout(&out).trim(),
        "t/big.bin: FAILED (bytes 4,096–8,191 differ; 1 of 512 groups)"
    );
    // Without the key the digest fails and the outboard cannot be shown to be this entry's.
    let unkeyed = env.run(&["check", "k.b3"]);
    assert!(stdout(&unkeyed).contains("FAILED"), "{}", stdout(&unkeyed));
}

#[test]
fn a_forged_outboard_proves_nothing() {
    let env = TestEnv::new();
    tree(&env);
    let big = env.root().join("t/big.bin");
    // The attacker changes the file and writes the outboard of the new content: its root is
    // not the manifest's digest, so nothing in it is used.
    flip(&big, &[1_000_000]);
    assert_exit(&env.run(&["hash", "t", "--outboard", "-o", "forged.b3"]), 0);
    std::fs::copy(
        env.root().join("forged.b3.b3tree-outboard"),
        env.root().join("m.b3.b3tree-outboard"),
    )
    .unwrap();
    let out = env.run(&["check", "m.b3"]);
    assert_exit(&out, 1);
    assert_eq!(
        line_of(&stdout(&out), "t/big.bin"),
        "t/big.bin: FAILED (its outboard data does not match the manifest: damage not located)"
    );
    // A repair trusts it no more: nothing is written.
    let before = std::fs::read(&big).unwrap();
    let out = env.run(&["repair", "--from", "copy", "m.b3"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("t/big.bin: NOT REPAIRED (its outboard data does not match"));
    assert_eq!(std::fs::read(&big).unwrap(), before);
    // An outboard that is no outboard is said and ignored; the verdict stands.
    std::fs::write(env.root().join("m.b3.b3tree-outboard"), "garbage\n").unwrap();
    let out = env.run(&["check", "m.b3"]);
    assert_exit(&out, 1);
    assert_eq!(line_of(&stdout(&out), "t/big.bin"), "t/big.bin: FAILED");
    assert_stderr_contains(&out, "not an outboard");
}

#[test]
fn repair_reads_only_the_damaged_groups_from_the_copy() {
    let env = TestEnv::new();
    tree(&env);
    let big = env.root().join("t/big.bin");
    let mtime = std::fs::metadata(&big).unwrap().mtime();
    flip(&big, &[100_000, 2_500_000]);
    let trace = env.root().join("trace");
    let out = run_with_timeout(
        std::process::Command::new("strace")
            .current_dir(env.root())
            .args(["-f", "-qq", "-o"])
            .arg(&trace)
            .args([
                "-e",
                "trace=read,pread64,readv,preadv,mmap",
                "-P",
                "copy/t/big.bin",
            ])
            .arg(bin())
            .args(["repair", "--from", "copy", "m.b3"]),
        Duration::from_secs(60),
    );
    assert_exit(&out, 0);
    assert_eq!(
        line_of(&stdout(&out), "t/big.bin"),
        "t/big.bin: REPAIRED (bytes 98,304–114,687 and 2,490,368–2,506,751; 2 of 192 groups from copy)"
    );
    let reads: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("read") || l.contains("mmap"))
        .map(|l| l.split_once(' ').map_or(l, |(_, r)| r).to_string())
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(reads[0].ends_with(", 16384, 98304) = 16384"), "{reads:?}");
    assert!(reads[1].ends_with(", 16384, 2490368) = 16384"), "{reads:?}");
    assert_eq!(std::fs::read(&big).unwrap(), content("big", 3 << 20));
    assert_eq!(std::fs::metadata(&big).unwrap().mtime(), mtime);
    assert_exit(&env.run(&["check", "m.b3"]), 0);
}

#[test]
fn a_copy_damaged_at_the_same_place_is_refused_and_nothing_written() {
    let env = TestEnv::new();
    tree(&env);
    let big = env.root().join("t/big.bin");
    flip(&big, &[100_000, 2_500_000]);
    flip(&env.root().join("copy/t/big.bin"), &[2_500_001]);
    let before = std::fs::read(&big).unwrap();
    let ctime = std::fs::metadata(&big).unwrap().ctime_nsec();
    for args in [&["--dry-run"][..], &[]] {
        let out = env.run(&[&["repair", "--from", "copy", "m.b3"][..], args].concat());
        assert_exit(&out, 1);
        assert!(
            line_of(&stdout(&out), "t/big.bin").starts_with(
                "t/big.bin: NOT REPAIRED (the copy is damaged there too (bytes 2490368–2506751)"
            ),
            "{}",
            stdout(&out)
        );
        assert_eq!(std::fs::read(&big).unwrap(), before);
        assert_eq!(std::fs::metadata(&big).unwrap().ctime_nsec(), ctime);
    }
}

#[test]
fn repair_refuses_other_sizes_and_links_out_of_the_copy() {
    let env = TestEnv::new();
    tree(&env);
    let big = env.root().join("t/big.bin");
    flip(&big, &[100_000]);
    let before = std::fs::read(&big).unwrap();
    // The copy's file is a symlink to a good copy elsewhere: not followed.
    let elsewhere = env.root().join("elsewhere.bin");
    std::fs::rename(env.root().join("copy/t/big.bin"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.root().join("copy/t/big.bin")).unwrap();
    let out = env.run(&["repair", "--from", "copy", "m.b3"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("t/big.bin: NOT REPAIRED (the copy: a symlink on its way"));
    // A copy of another size.
    std::fs::remove_file(env.root().join("copy/t/big.bin")).unwrap();
    env.file("copy/t/big.bin", content("big", (3 << 20) - 1));
    let out = env.run(&["repair", "--from", "copy", "m.b3"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("NOT REPAIRED (the copy: it has 3145727 bytes"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read(&big).unwrap(), before);
    // The file itself truncated: refused, the size said.
    std::fs::copy(&elsewhere, env.root().join("copy/t/big.bin")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(1 << 21)
        .unwrap();
    let out = env.run(&["repair", "--from", "copy", "m.b3"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("t/big.bin: NOT REPAIRED (it has 2097152 bytes"));
    // Without an outboard: a usage error that says how to make one.
    std::fs::remove_file(env.root().join("m.b3.b3tree-outboard")).unwrap();
    let out = env.run(&["repair", "--from", "copy", "m.b3"]);
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "hash --outboard");
}

#[test]
fn a_sigint_leaves_only_verified_ranges_and_the_next_repair_finishes() {
    let env = TestEnv::new();
    tree(&env);
    let big = env.root().join("t/big.bin");
    let good = content("big", 3 << 20);
    // Ten separate damaged groups; each write is held 300 ms, so the SIGINT lands midway.
    let offsets: Vec<u64> = (0..10).map(|i| i * 300_000 + 7).collect();
    flip(&big, &offsets);
    let damaged = std::fs::read(&big).unwrap();
    let mut tracer = under_strace(&["-e", "inject=pwrite64:delay_enter=300000"])
        .current_dir(env.root())
        .args(["repair", "--from", "copy", "m.b3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = traced_pid(&tracer);
    // The signal lands once the first group is written (the second write is then held).
    let first = (offsets[0] / 16384 * 16384) as usize;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read(&big).unwrap()[first..first + 16384] != good[first..first + 16384] {
        assert!(std::time::Instant::now() < deadline, "no group was written");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the traced child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let out = run_with_timeout_child(&mut tracer);
    assert!(!out.status.success(), "{}", stdout(&out));
    let now = std::fs::read(&big).unwrap();
    let mut written = 0;
    for &at in &offsets {
        let g = (at / 16384 * 16384) as usize;
        let (now, good, bad) = (
            &now[g..g + 16384],
            &good[g..g + 16384],
            &damaged[g..g + 16384],
        );
        assert!(now == good || now == bad, "group at {g} torn");
        written += usize::from(now == good);
    }
    assert!(written < offsets.len(), "the stop came after every write");
    let out = env.run(&["repair", "--from", "copy", "m.b3"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(&format!("{} of 192 groups", offsets.len() - written)));
    assert_eq!(std::fs::read(&big).unwrap(), good);
}

/// Waits (bounded) for a spawned child and collects its output.
fn run_with_timeout_child(child: &mut std::process::Child) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    std::process::Output {
        status: child.wait().unwrap(),
        stdout: out.into_bytes(),
        stderr: Vec::new(),
    }
}

#[test]
fn update_keeps_the_data_of_unchanged_files_and_computes_the_rest() {
    let env = TestEnv::new();
    tree(&env);
    // Hashed first without an outboard: --update --outboard still gives every big file its
    // data (the old outboard has none, so they are read).
    std::fs::remove_file(env.root().join("m.b3.b3tree-outboard")).unwrap();
    // Records of files younger than 2 s are not trusted (the racy rule): let them age.
    std::thread::sleep(Duration::from_millis(2100));
    assert_exit(&env.run(&["hash", "t", "--update", "-o", "m.b3"]), 0);
    let out = env.run(&["hash", "t", "--update", "--outboard", "-o", "m.b3"]);
    assert_exit(&out, 0);
    let first = std::fs::read(env.root().join("m.b3.b3tree-outboard")).unwrap();
    // One big file changes: the next update reads it alone and keeps the other's data.
    env.file("t/one.bin", content("one, again", 1 << 20));
    let old = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(env.root().join("t/one.bin"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = env.run(&["hash", "t", "--update", "--outboard", "-o", "m.b3"]);
    assert_exit(&out, 0);
    assert_stderr_contains(&out, "2 digests reused (3.00 MiB), 1 file read (1.00 MiB)");
    let second = std::fs::read(env.root().join("m.b3.b3tree-outboard")).unwrap();
    assert_eq!(second.len(), first.len());
    assert_ne!(second, first);
    assert_exit(&env.run(&["hash", "t", "--outboard", "-o", "full.b3"]), 0);
    assert_eq!(
        second,
        std::fs::read(env.root().join("full.b3.b3tree-outboard")).unwrap(),
        "the updated outboard is a full run's"
    );
    flip(&env.root().join("t/big.bin"), &[20_000]);
    let out = env.run(&["check", "m.b3"]);
    // The state beside the manifest says how (the file was written to); the outboard, where.
    let line = "t/big.bin: FAILED (modified; bytes 16,384–32,767 differ; 1 of 192 groups)";
    assert!(stdout(&out).contains(line), "{}", stdout(&out));
}

#[test]
fn outboard_usage_errors() {
    let env = TestEnv::new();
    env.file("t/a", "a");
    for (args, says) in [
        (&["hash", "t", "--outboard"][..], "--output"),
        (
            &["hash", "t", "--outboard", "-a", "sha256", "-o", "m"],
            "BLAKE3",
        ),
        (
            &["hash", "t", "--outboard", "--format", "mtree", "-o", "m"],
            "mtree",
        ),
        (
            &[
                "hash",
                "t",
                "--outboard",
                "--outboard-group",
                "3000",
                "-o",
                "m",
            ],
            "power of two",
        ),
        (
            &[
                "hash",
                "t",
                "--outboard",
                "--outboard-group",
                "1M",
                "-o",
                "m",
            ],
            "512K",
        ),
    ] {
        let out = env.run(args);
        assert_exit(&out, 2);
        assert_stderr_contains(&out, says);
    }
    // A planted symlink where the outboard goes is not written through.
    let victim = env.file("victim", "keep me");
    std::os::unix::fs::symlink(&victim, env.root().join("m.b3tree-outboard")).unwrap();
    let out = env.run(&["hash", "t", "--outboard", "-o", "m"]);
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "not replaced: it is not a regular file");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

#[test]
fn names_in_any_order_are_found() {
    // `hash z a` (and --files-from) keep the order given: the outboard is in that order.
    let env = TestEnv::new();
    env.file("z.bin", content("z", 2 << 20));
    env.file("a.bin", content("a", 2 << 20));
    std::fs::create_dir(env.root().join("copy")).unwrap();
    for n in ["z.bin", "a.bin"] {
        std::fs::copy(env.root().join(n), env.root().join("copy").join(n)).unwrap();
    }
    assert_exit(
        &env.run(&["hash", "--outboard", "-o", "m.b3", "z.bin", "a.bin"]),
        0,
    );
    flip(&env.root().join("z.bin"), &[10]);
    flip(&env.root().join("a.bin"), &[20_000]);
    let out = env.run(&["check", "m.b3"]);
    assert_eq!(
        stdout(&out),
        "z.bin: FAILED (bytes 0–16,383 differ; 1 of 128 groups)\n\
         a.bin: FAILED (bytes 16,384–32,767 differ; 1 of 128 groups)\n"
    );
    let out = env.run(&["repair", "-q", "--from", "copy", "m.b3"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    assert_exit(&env.run(&["check", "m.b3"]), 0);
}

#[test]
fn a_file_damaged_everywhere_is_mended_in_bounded_memory() {
    // 80 MiB, every group damaged: more than repair holds (64 MiB), so each group is read
    // from the copy, verified, then read and verified again as it is written.
    let env = TestEnv::new();
    let good = content("whole", 80 << 20);
    env.file("t/big.bin", &good);
    env.file("copy/t/big.bin", &good);
    assert_exit(&env.run(&["hash", "t", "--outboard", "-o", "m.b3"]), 0);
    env.file("t/big.bin", content("other", 80 << 20));
    let (code, kib) = peak_rss_kib(env.root(), &["repair", "--from", "copy", "m.b3"]);
    assert_eq!(code, Some(0));
    assert!(kib < 40 * 1024, "peak RSS {kib} KiB");
    assert_eq!(std::fs::read(env.root().join("t/big.bin")).unwrap(), good);
}

#[test]
fn short_digests_closed_stdout_and_links_followed_twice() {
    let env = TestEnv::new();
    tree(&env);
    let out = env.run(&["hash", "-l", "8", "t", "--outboard", "-o", "short.b3"]);
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "at least 16");
    // A repair with nowhere to say what it did does nothing.
    flip(&env.root().join("t/big.bin"), &[5]);
    let before = std::fs::read(env.root().join("t/big.bin")).unwrap();
    let closed = run_with_timeout(
        std::process::Command::new("sh")
            .current_dir(env.root())
            .arg("-c")
            .arg(format!(
                "exec {} repair --from copy m.b3 >&-",
                bin().display()
            )),
        Duration::from_secs(30),
    );
    assert_exit(&closed, 2);
    assert_eq!(std::fs::read(env.root().join("t/big.bin")).unwrap(), before);
    // The same file reached twice (-L): both names have its data.
    std::os::unix::fs::symlink("big.bin", env.root().join("t/link.bin")).unwrap();
    let out = env.run(&["hash", "-L", "t", "--outboard", "-o", "l.b3"]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("lacks"), "{}", stderr(&out));
    flip(&env.root().join("t/big.bin"), &[5]);
    let out = env.run(&["check", "l.b3"]);
    assert!(stdout(&out).contains("t/link.bin: FAILED (bytes 0–16,383 differ"));
}
