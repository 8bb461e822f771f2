//! Hard links read once (src/hash/links.rs): every name listed, each inode's bytes read under
//! one name per run (strace counts the reads), a change through one name seen under the
//! others, a link count that drops while the run is paused.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

/// A digest is given to another name only when the file's times lie this far before the
/// read (the racy rule): the tree is made, then left alone this long.
const RACY_WAIT: Duration = Duration::from_millis(2100);

/// One file of `data` at `first` with `others` as its other names (parents made), left alone
/// for [`RACY_WAIT`].
fn one_inode(env: &TestEnv, data: &[u8], first: &str, others: &[&str]) {
    env.file(first, data);
    for name in others {
        let to = env.root().join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::hard_link(env.root().join(first), to).unwrap();
    }
    std::thread::sleep(RACY_WAIT);
}

/// `t/a/f`, `t/b/f`, `t/c/g`: one inode of 300,000 bytes; `t/big`, `t/d/big`: one of 5 MiB
/// (read in pieces, the big-file path); `t/solo`. Returns the contents of the two inodes.
fn linked_tree(env: &TestEnv) -> (Vec<u8>, Vec<u8>) {
    let small: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let big: Vec<u8> = (0..5 * 1024 * 1024 + 1u32)
        .map(|i| (i % 241) as u8)
        .collect();
    let t = env.root().join("t");
    env.file("t/a/f", &small);
    env.file("t/big", &big);
    env.file("t/solo", "solo\n");
    for d in ["b", "c", "d"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    std::fs::hard_link(t.join("a/f"), t.join("b/f")).unwrap();
    std::fs::hard_link(t.join("a/f"), t.join("c/g")).unwrap();
    std::fs::hard_link(t.join("big"), t.join("d/big")).unwrap();
    std::thread::sleep(RACY_WAIT);
    (small, big)
}

/// `strace -f -qq OPTIONS LAST b3tree`: add b3tree's arguments.
fn traced(options: &[&str], last: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("strace");
    c.arg("-f").arg("-qq").args(options).arg(last).arg(bin());
    c
}

/// Runs `b3tree ARGS` in `env` under strace, every read and map of a file under `t/`
/// recorded: the output, and how many such calls each name (relative to `t/`) got.
fn reads_of(env: &TestEnv, args: &[&str]) -> (std::process::Output, BTreeMap<String, usize>) {
    let trace = env.root().join("trace");
    let out = run_with_timeout(
        traced(
            &["-y", "-e", "trace=read,pread64,readv,preadv,mmap", "-o"],
            &trace,
        )
        .args(args)
        .current_dir(env.root())
        .stdin(Stdio::null()),
        Duration::from_secs(60),
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    let tree = format!("{}/t/", env.root().canonicalize().unwrap().display());
    let mut reads = BTreeMap::new();
    for line in text.lines() {
        let Some(at) = line.find(&format!("<{tree}")) else {
            continue;
        };
        let rest = &line[at + 1 + tree.len()..];
        let name = &rest[..rest.find('>').unwrap_or(rest.len())];
        *reads.entry(name.to_string()).or_insert(0) += 1;
    }
    (out, reads)
}

/// Of each inode's names, exactly one was read (and `solo` was).
fn assert_read_once(reads: &BTreeMap<String, usize>, what: &str) {
    for names in [&["a/f", "b/f", "c/g"][..], &["big", "d/big"]] {
        let read: Vec<_> = names.iter().filter(|n| reads.contains_key(**n)).collect();
        assert_eq!(
            read.len(),
            1,
            "{what}: {names:?} read under {read:?}: {reads:?}"
        );
    }
    assert!(reads.contains_key("solo"), "{what}: {reads:?}");
}

#[test]
fn each_inode_is_read_under_one_name_by_every_command() {
    let env = TestEnv::new();
    let (small, big) = linked_tree(&env);
    let (out, reads) = reads_of(&env, &["hash", "-o", "m.b3", "t"]);
    assert_exit(&out, 0);
    assert_read_once(&reads, "hash");
    assert_stderr_contains(&out, "5 names shared 2 inodes");
    let manifest = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    let (hs, hb) = (hex(&small), hex(&big));
    for (name, h) in [
        ("t/a/f", &hs),
        ("t/b/f", &hs),
        ("t/c/g", &hs),
        ("t/big", &hb),
        ("t/d/big", &hb),
    ] {
        assert!(
            manifest.contains(&format!("{h}  {name}\n")),
            "{name}: {manifest}"
        );
    }
    assert!(manifest.contains(&format!("{}  t/solo\n", hex(b"solo\n"))));

    let (out, reads) = reads_of(&env, &["check", "m.b3"]);
    assert_exit(&out, 0);
    assert_read_once(&reads, "check");
    assert_eq!(stdout(&out).matches(": OK").count(), 6, "{}", stdout(&out));

    let (out, reads) = reads_of(&env, &["digest", "t"]);
    assert_exit(&out, 0);
    assert_read_once(&reads, "digest");
    assert_stderr_contains(&out, "5 names shared 2 inodes");

    let (out, reads) = reads_of(&env, &["hash", "--update", "-o", "u.b3", "t"]);
    assert_exit(&out, 0);
    assert_read_once(&reads, "the first --update");
    let (out, reads) = reads_of(&env, &["hash", "--update", "-o", "u.b3", "t"]);
    assert_exit(&out, 0);
    assert!(reads.is_empty(), "the second --update read {reads:?}");

    let json = env.run(&["hash", "--json", "t"]);
    let last = stdout(&json).lines().last().unwrap().to_string();
    assert!(
        last.contains(r#""hard_links":{"names":5,"inodes":2}"#),
        "{last}"
    );
}

#[test]
fn the_audit_reads_no_inode_its_check_read_already() {
    // The manifest lists a/f and solo; b/f and c/g (a/f's other names) and the big file's
    // two names are NEW to the audit, which hashes them: a/f's bytes were read by the check.
    let env = TestEnv::new();
    let (small, _) = linked_tree(&env);
    env.file(
        "m.b3",
        format!("{}  t/a/f\n{}  t/solo\n", hex(&small), hex(b"solo\n")),
    );
    let (out, reads) = reads_of(&env, &["check", "--audit", "m.b3"]);
    assert_exit(&out, 1);
    assert_read_once(&reads, "check --audit");
    assert!(reads.contains_key("a/f"), "{reads:?}");
    for name in ["t/b/f", "t/c/g", "t/big", "t/d/big"] {
        assert!(
            stdout(&out).contains(&format!("{name}: NEW")),
            "{}",
            stdout(&out)
        );
    }
    let json = env.run(&["check", "--audit", "--json", "m.b3"]);
    assert!(
        stdout(&json).contains(r#""hard_links":{"names":5,"inodes":2}"#),
        "{}",
        stdout(&json)
    );
}

/// `b3tree hash -j 1 t` with every open beneath `t/b` held for `hold` on its way out:
/// started, and the pid of b3tree itself.
/// (The hold is long — 4 s — because the test must see the open while it is held: on a
/// 2-core machine running the whole suite, its polling thread can wait a second or more.)
fn hash_holding_opens_in_b(env: &TestEnv, hold: Duration) -> (std::process::Child, u32) {
    let inject = format!("inject=openat,openat2:delay_exit={}", hold.as_micros());
    let options = [
        "-o",
        "/dev/null",
        "-e",
        "trace=openat,openat2",
        "-e",
        &inject,
        "-P",
    ];
    let child = traced(&options, &env.root().join("t/b"))
        .args(["hash", "-j", "1", "t"])
        .current_dir(env.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = traced_pid(&child);
    (child, pid)
}

#[test]
fn a_change_through_one_name_is_seen_under_the_others() {
    // One worker: t/a/first is read, then the open of t/b/second is held; the file is
    // rewritten through t/a/first meanwhile. second's fstat shows another version: it is
    // read again, never given first's digest of the old bytes.
    let env = TestEnv::new();
    let old = vec![1u8; 200_000];
    one_inode(&env, &old, "t/a/first", &["t/b/second"]);
    let (child, pid) = hash_holding_opens_in_b(&env, Duration::from_millis(4000));
    wait_until_pid_opens(pid, "second");
    let new = vec![2u8; 200_000];
    std::fs::write(env.root().join("t/a/first"), &new).unwrap();
    let out = output_within(child, Duration::from_secs(60));
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{}  t/a/first\n", hex(&old))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}  t/b/second\n", hex(&new))),
        "{text}"
    );
    assert!(!stderr(&out).contains("shared"), "{}", stderr(&out));
}

#[test]
fn a_link_count_that_drops_during_the_run_changes_no_digest() {
    // x, y, z: one inode. While y's open is held, z is removed (3 links → 2), which moves
    // the inode's ctime: y's fstat shows another version, so y is read again (not given
    // x's digest), and z is reported gone, not dropped.
    let env = TestEnv::new();
    let data = vec![7u8; 100_000];
    one_inode(&env, &data, "t/a/x", &["t/b/y", "t/b/z"]);
    let (child, pid) = hash_holding_opens_in_b(&env, Duration::from_millis(4000));
    wait_until_pid_opens(pid, "y");
    std::fs::remove_file(env.root().join("t/b/z")).unwrap();
    let out = output_within(child, Duration::from_secs(60));
    assert_exit(&out, 1);
    let text = stdout(&out);
    for name in ["t/a/x", "t/b/y"] {
        assert!(
            text.contains(&format!("{}  {name}\n", hex(&data))),
            "{text}"
        );
    }
    assert_stderr_contains(&out, "t/b/z: vanished");
    assert!(!stderr(&out).contains("shared"), "{}", stderr(&out));
}

/// Unmounts on the way out, even when an assertion fails.
struct Bound(std::path::PathBuf);

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn names_on_another_mount_are_read_again() {
    // t/a holds f and its link g; t/b is a bind mount of t/a: the same (device, inode) and
    // times, on another mount. A digest is given only within one mount of one filesystem
    // (a device number can be reused by another filesystem mounted during a run, whose
    // files then show the same numbers), so each mount reads the file once.
    let env = TestEnv::new();
    let data = vec![3u8; 150_000];
    env.file("t/a/f", &data);
    std::fs::hard_link(env.root().join("t/a/f"), env.root().join("t/a/g")).unwrap();
    std::fs::create_dir(env.root().join("t/b")).unwrap();
    let status = std::process::Command::new("mount")
        .arg("--bind")
        .arg(env.root().join("t/a"))
        .arg(env.root().join("t/b"))
        .status()
        .unwrap();
    assert!(status.success(), "mount --bind (CI runs as root)");
    let _bound = Bound(env.root().join("t/b"));
    std::thread::sleep(RACY_WAIT);
    let (out, reads) = reads_of(&env, &["hash", "t"]);
    assert_exit(&out, 0);
    for mount in ["a", "b"] {
        let read: Vec<_> = reads.keys().filter(|n| n.starts_with(mount)).collect();
        assert_eq!(read.len(), 1, "{mount}: {reads:?}");
    }
    assert_eq!(
        stdout(&out).matches(&hex(&data)).count(),
        4,
        "{}",
        stdout(&out)
    );
    assert_stderr_contains(&out, "4 names shared 2 inodes");
}
