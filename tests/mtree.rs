//! Tree specs (`--format mtree`): what `hash` writes, read by the real NetBSD `mtree` and by
//! b3tree's `check`; specs of bsdtar and `mtree -c` verified by b3tree (README "Release trees
//! and deployments"; docs/mtree.md).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// A release tree with what deployments break on: a dotfile, an executable, a link into a
/// versioned directory and one to a file, an empty directory, a FIFO, and names of every
/// awkward kind (space, `#`, glob characters, `=`, a backslash, a newline, bytes that are
/// not UTF-8).
fn release_tree(env: &TestEnv) -> std::path::PathBuf {
    let d = env.root().join("dist");
    env.file("dist/.htaccess", "deny\n");
    env.file("dist/v1/app.js", "one\n");
    env.file("dist/v2/app.js", "two\n");
    write_mode(d.join("run.sh"), "#!/bin/sh\n", 0o755);
    for name in [
        &b"sp ace"[..],
        b"#hash",
        b"glob*?[x]",
        b"k=v",
        b"back\\slash",
        b"new\nline",
        b"caf\xc3\xa9",
        b"bad\xff",
    ] {
        let mut rel = b"dist/odd/".to_vec();
        rel.extend_from_slice(name);
        env.file(rel, name);
    }
    std::fs::create_dir_all(d.join(".well-known/empty")).unwrap();
    symlink("v1", d.join("latest")).unwrap();
    symlink("v1/app.js", d.join("app.js")).unwrap();
    mkfifo(&d.join("pipe"));
    chmod(&d, 0o755);
    d
}

fn mtree(spec: &Path, dir: &Path) -> std::process::Output {
    Command::new("mtree")
        .arg("-f")
        .arg(spec)
        .arg("-p")
        .arg(dir)
        .output()
        .expect("mtree (tests/deps.sh installs mtree-netbsd)")
}

/// The lines of a spec, without the `#mtree` header.
fn lines(spec: &Path) -> Vec<String> {
    let text = std::fs::read(spec).unwrap();
    assert!(
        text.starts_with(b"#mtree\n"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    String::from_utf8(text)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn netbsd_mtree_accepts_the_spec_and_sees_each_change() {
    let env = TestEnv::new();
    let dist = release_tree(&env);
    let out = env.run(&[
        "hash", "--format", "mtree", "--algo", "sha256", "dist", "-o", "spec",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let spec = env.root().join("spec");
    let lines = lines(&spec);
    // Every entry, the root as `.`, in canonical order, names encoded (all ASCII).
    assert_eq!(lines[0], ". type=dir mode=0755");
    assert!(
        lines.contains(&"./latest type=link mode=0777 link=v1".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"./.well-known/empty type=dir mode=0755".to_string()));
    assert!(lines.contains(&"./pipe type=fifo mode=0644".to_string()));
    let run = lines.iter().find(|l| l.starts_with("./run.sh ")).unwrap();
    assert!(run.contains(" mode=0755 size=10 sha256digest="), "{run}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(r"./odd/glob\052\077\133x] type=file"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(r"./odd/new\012line type=file"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(r"./odd/bad\377 type=file"))
    );
    assert_eq!(lines.len(), 21, "{lines:#?}");
    let ok = mtree(&spec, &dist);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "mtree: {}{}",
        stdout(&ok),
        stderr(&ok)
    );

    // One change of each kind: NetBSD's mtree names each one.
    std::fs::remove_file(dist.join("latest")).unwrap();
    symlink("v2", dist.join("latest")).unwrap();
    chmod(dist.join("run.sh"), 0o644);
    std::fs::remove_dir(dist.join(".well-known/empty")).unwrap();
    std::fs::write(dist.join("v1/app.js"), "ONE\n").unwrap();
    let bad = mtree(&spec, &dist);
    let said = format!("{}{}", stdout(&bad), stderr(&bad));
    assert_ne!(bad.status.code(), Some(0), "{said}");
    for needle in [
        "latest",
        "link ref (v2, v1)",
        "run.sh",
        "permissions",
        "empty",
        "v1/app.js",
    ] {
        assert!(
            said.contains(needle),
            "mtree did not say {needle:?}: {said}"
        );
    }
}

#[test]
fn the_spec_is_the_same_for_any_jobs_and_names_round_trip() {
    let env = TestEnv::new();
    release_tree(&env);
    for n in 0..40 {
        env.file(format!("dist/many/{n:03}"), format!("{n}"));
    }
    let one = env.run(&["hash", "--format", "mtree", "-j", "1", "dist"]);
    let many = env.run(&["hash", "--format", "mtree", "-j", "8", "dist"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(one.stdout, many.stdout);
    // The summary counts what is not a regular file.
    assert_stderr_contains(&one, "10 other entries (directories, links, special files)");
    // JSON records carry the same entries.
    let json = env.run(&["hash", "--format", "mtree", "--json", "dist"]);
    let text = stdout(&json);
    assert!(
        text.contains(
            r#"{"type":"entry","path":"latest","kind":"link","mode":"0777","link":"v1"}"#
        ),
        "{text}"
    );
    assert!(text.contains(r#""path":"run.sh","hash":"#));
    assert!(text.contains(r#""mode":"0755""#));
}

#[test]
fn optional_keywords_and_refusals() {
    let env = TestEnv::new();
    release_tree(&env);
    let out = env.run(&[
        "hash",
        "--format",
        "mtree",
        "--keywords",
        "uid,gid,nlink,time",
        "dist",
    ]);
    let text = stdout(&out);
    let meta = std::fs::metadata(env.root().join("dist/run.sh")).unwrap();
    use std::os::unix::fs::MetadataExt;
    let want = format!(
        "./run.sh type=file mode=0755 size=10 uid={} gid={} nlink=1 time={}.{:09} blake3digest={}",
        meta.uid(),
        meta.gid(),
        meta.mtime(),
        meta.mtime_nsec(),
        hex(b"#!/bin/sh\n")
    );
    assert!(text.lines().any(|l| l == want), "{want}\n{text}");
    for (args, needle) in [
        (
            &["hash", "--format", "mtree", "dist", "dist/v1"][..],
            "one directory",
        ),
        (&["hash", "--format", "mtree", "dist/run.sh"], "is not one"),
        (
            &["hash", "--format", "mtree", "--keywords", "flags", "dist"],
            "\"flags\"",
        ),
        (
            &["hash", "--format", "mtree", "-l", "64", "dist"],
            "plain digests",
        ),
        (
            &["hash", "--keywords", "uid", "dist"],
            "--keywords is for --format mtree",
        ),
        (
            &["hash", "--format", "mtree", "--tag", "dist"],
            "cannot be used with",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_stderr_contains(&out, needle);
    }
}
