//! Exact output: what a user reads for the main cases of hash and check, stdout and stderr
//! whole (times and rates normalised), so any change to a message shows up here.

mod common;

use common::*;

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
         b3tree: 1 ok, 1 failed, 1 missing, 0 unreadable, 0 malformed, 0 new, 0 moved in T s\n"
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
        "b3tree: 1 ok, 0 failed, 0 missing, 0 unreadable, 0 malformed, 1 new, 1 moved in T s\n"
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
