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

/// The specs of the same tree by b3tree, bsdtar (full keywords, `/set` lines as it writes
/// them by default) and NetBSD's `mtree -c` (hierarchical) and `-C` (full paths).
fn three_producers(env: &TestEnv) -> Vec<(&'static str, Vec<&'static str>)> {
    let root = env.root();
    let out = env.run(&[
        "hash",
        "--format",
        "mtree",
        "--algo",
        "sha256",
        "dist",
        "-o",
        "b3tree.spec",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bsdtar = Command::new("bsdtar")
        .args([
            "-cf",
            "bsdtar.spec",
            "--format=mtree",
            "--options=sha256",
            "-C",
            "dist",
            ".",
        ])
        .current_dir(root)
        .status()
        .expect("bsdtar (tests/deps.sh installs libarchive-tools)");
    assert!(bsdtar.success());
    let out = Command::new("mtree")
        .args(["-c", "-K", "sha256digest", "-p", "dist"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(root.join("netbsd-c.spec"), &out.stdout).unwrap();
    // `mtree -C` converts a spec (on stdin) to full paths, one line per entry.
    let out = Command::new("mtree")
        .args(["-C", "-K", "sha256digest", "-f", "netbsd-c.spec"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.starts_with(b". "), "{}", stdout(&out));
    std::fs::write(root.join("netbsd-C.spec"), &out.stdout).unwrap();
    vec![
        ("b3tree.spec", vec![]),
        ("bsdtar.spec", vec![]),
        // NetBSD's specs start with comments, not `#mtree`: named as specs.
        ("netbsd-c.spec", vec!["--format", "mtree"]),
        ("netbsd-C.spec", vec!["--format", "mtree"]),
    ]
}

fn check_spec(env: &TestEnv, spec: &str, extra: &[&str]) -> std::process::Output {
    check_spec_in(env, "dist", spec, extra)
}

/// `b3tree -C DIR check EXTRA ../SPEC`.
fn check_spec_in(env: &TestEnv, dir: &str, spec: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = env.cmd();
    cmd.args(["-C", dir, "check"])
        .args(extra)
        .arg(format!("../{spec}"));
    run_with_timeout(&mut cmd, WAIT)
}

#[test]
fn check_verifies_the_three_producers_specs_and_names_each_change() {
    let env = TestEnv::new();
    let dist = release_tree(&env);
    let specs = three_producers(&env);
    for (spec, extra) in &specs {
        let out = check_spec(&env, spec, extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{spec}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let text = stdout(&out);
        assert!(text.contains("latest: OK\n"), "{spec}: {text}");
        assert!(text.contains(".well-known/empty: OK\n"), "{spec}: {text}");
        assert!(text.contains("pipe: OK\n"), "{spec}: {text}");
        assert_eq!(
            text.lines().filter(|l| l.ends_with(": OK")).count(),
            21,
            "{spec}: {text}"
        );
    }
    std::fs::remove_file(dist.join("latest")).unwrap();
    symlink("v2", dist.join("latest")).unwrap();
    chmod(dist.join("run.sh"), 0o644);
    std::fs::remove_dir(dist.join(".well-known/empty")).unwrap();
    std::fs::write(dist.join("v1/app.js"), "ONE\n").unwrap();
    std::fs::remove_file(dist.join("pipe")).unwrap();
    env.file("dist/pipe", "now a file");
    // A file the spec holds with a digest, now a link (to a file: never followed).
    std::fs::remove_file(dist.join(".htaccess")).unwrap();
    symlink("v2/app.js", dist.join(".htaccess")).unwrap();
    for (spec, extra) in &specs {
        let out = check_spec(&env, spec, extra);
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", stderr(&out));
        let text = stdout(&out);
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("{spec}: no line for {name}: {text}"))
                .to_string()
        };
        assert!(line("latest").contains("link: v1 → v2"), "{spec}: {text}");
        assert!(
            line("run.sh").contains("mode 0755 → 0644"),
            "{spec}: {text}"
        );
        assert_eq!(
            line(".well-known/empty"),
            ".well-known/empty: FAILED (missing)"
        );
        assert!(
            line("v1/app.js").contains("sha256digest: content differs"),
            "{spec}: {text}"
        );
        assert!(line("pipe").contains("type: fifo → file"), "{spec}: {text}");
        assert_eq!(line(".htaccess"), ".htaccess: FAILED (type: file → link)");
        assert!(line("v2/app.js").ends_with(": OK"), "{spec}: {text}");
        assert_stderr_contains(&out, "entries differ from the tree spec");
    }
}

#[test]
fn hostile_specs_are_confined_and_links_never_followed() {
    let env = TestEnv::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    std::fs::create_dir(env.root().join("dist")).unwrap();
    symlink(outside.path(), env.root().join("dist/escape")).unwrap();
    let secret = hex(b"s");
    let target = outside.path().display().to_string();
    // A link is compared as a link; a name through it is refused (no link on the way is
    // followed, in the tree or out of it); the spec's
    // own `..` and absolute names stop the run at their line.
    let spec = format!(
        "#mtree\n./escape type=link link={target}\n./escape/secret type=file size=1 \
         blake3digest={secret}\n"
    );
    std::fs::write(env.root().join("s1"), spec).unwrap();
    let out = check_spec(&env, "s1", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "escape: OK\nescape/secret: FAILED (path: a symlink stands where the spec has a \
         directory (not followed))\n"
    );
    for (bad, why) in [
        (
            "./a/../../etc/passwd type=file\n",
            "s2: line 2: a name with `..`",
        ),
        ("/etc/passwd type=file\n", "s2: line 2: an absolute name"),
        ("..\n", "s2: line 2: `..` above the root"),
    ] {
        std::fs::write(env.root().join("s2"), format!("#mtree\n{bad}")).unwrap();
        let out = check_spec(&env, "s2", &[]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert_stderr_contains(&out, why);
    }
    // Traced: nothing outside is opened, stat'ed or read, whatever the spec named.
    let trace = env.root().join("trace");
    let out = Command::new("strace")
        // One file per thread (`-ff`): no call split over two lines.
        .args(["-ff", "-qq", "-e", "trace=%file,%desc", "-o"])
        .arg(&trace)
        .arg(bin())
        .args(["-C", "dist", "check", "../s1"])
        .current_dir(env.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The link itself is stat'ed and read without following; every open through it fails.
    let mut text = String::new();
    for e in std::fs::read_dir(env.root()).unwrap() {
        let path = e.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("trace.")
        {
            text.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let trace = text;
    let through: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("\"escape") && l.contains("open"))
        .collect();
    assert!(!through.is_empty(), "{trace}");
    assert!(through.iter().all(|l| l.contains("= -1 ")), "{through:#?}");
    assert!(trace.contains("AT_SYMLINK_NOFOLLOW"), "{trace}");
}

#[test]
fn audit_of_a_spec_reports_new_entries_of_every_kind_and_moved_files() {
    let env = TestEnv::new();
    let dist = release_tree(&env);
    let specs = three_producers(&env);
    std::fs::rename(dist.join("v2/app.js"), dist.join("v2/main.js")).unwrap();
    std::fs::create_dir(dist.join("v3")).unwrap();
    symlink("v3", dist.join("next")).unwrap();
    env.file("dist/.env", "SECRET=1\n");
    for (spec, extra) in &specs {
        let mut args = extra.clone();
        args.push("--audit");
        let out = check_spec(&env, spec, &args);
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", stderr(&out));
        let text = stdout(&out);
        for line in [
            "v2/main.js: MOVED (from v2/app.js)\n",
            "v3: NEW\n",
            "next: NEW\n",
            ".env: NEW\n",
        ] {
            assert!(text.contains(line), "{spec}: no {line:?} in {text}");
        }
        assert!(!text.contains("v2/app.js: FAILED"), "{spec}: {text}");
        // The spec itself lies outside the tree; nothing else is new.
        assert_eq!(
            text.lines().filter(|l| l.ends_with(": NEW")).count(),
            3,
            "{spec}: {text}"
        );
    }
}

#[test]
fn audit_of_a_digest_manifest_points_to_tree_specs_for_its_links() {
    let env = TestEnv::new();
    release_tree(&env);
    let out = env.run(&["hash", "dist", "-o", "m.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&["check", "--audit", "m.b3"]);
    assert_stderr_contains(&out, "2 symlinks were not audited");
    assert_stderr_contains(&out, "b3tree hash --format mtree");
}

/// A value a spec cannot mean (a digest that is not hex, an id beyond 32 bits) fails its
/// entry as the spec's fault, never as the file's content; files without a digest are
/// counted in one warning, in the right number.
#[test]
fn a_specs_own_faults_are_named_and_entries_without_digests_counted() {
    let env = TestEnv::new();
    for name in ["a", "b", "c", "d"] {
        env.file(format!("t/{name}"), name);
    }
    let bad = "z".repeat(64);
    env.file(
        "faults.mtree",
        format!(
            "#mtree\n./a type=file sha256digest={bad}\n./b type=file uid=4294967296\n\
             ./c type=file\n./d type=file mode=0644\n"
        ),
    );
    let out = check_spec_in(&env, "t", "faults.mtree", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!("a: FAILED (sha256digest={bad}: not understood)")),
        "{said}"
    );
    assert!(!said.contains("content differs"), "{said}");
    assert!(
        said.contains("b: FAILED (uid=4294967296: not understood)"),
        "{said}"
    );
    assert_stderr_contains(
        &out,
        "2 file entries of the spec hold no digest b3tree verifies",
    );
    env.file("one.mtree", "#mtree\n./c type=file\n");
    let out = check_spec_in(&env, "t", "one.mtree", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_stderr_contains(&out, "1 file entry of the spec holds no digest");
    assert_stderr_contains(&out, "its content was not compared");
}

/// README's "Release trees and deployments" example, as written there.
#[test]
fn readme_release_tree_example() {
    let env = TestEnv::new();
    env.file("dist/v1/app.js", "one\n");
    env.file("dist/v2/app.js", "two\n");
    write_mode(env.root().join("dist/run.sh"), "#!/bin/sh\n", 0o755);
    std::fs::create_dir(env.root().join("dist/uploads")).unwrap();
    symlink("v1", env.root().join("dist/latest")).unwrap();
    let out = env.run(&[
        "hash",
        "--format",
        "mtree",
        "--algo",
        "sha256",
        "-o",
        "dist.mtree",
        "dist",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dist = env.root().join("dist");
    std::fs::remove_file(dist.join("latest")).unwrap();
    symlink("v2", dist.join("latest")).unwrap();
    chmod(dist.join("run.sh"), 0o644);
    std::fs::remove_dir(dist.join("uploads")).unwrap();
    env.file("dist/.env", "KEY=1\n");
    let out = env.run(&["check", "-C", "dist", "--audit", "../dist.mtree"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let failures: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.ends_with(": OK"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        failures,
        [
            "latest: FAILED (link: v1 → v2)",
            "run.sh: FAILED (mode 0755 → 0644)",
            "uploads: FAILED (missing)",
            ".env: NEW"
        ]
    );
}

/// A spec of 1,000,000 entries (the hierarchical form of `mtree -c`, with `/set`) is read
/// one line at a time: what stays per entry is the name's 24-byte fingerprint (duplicates),
/// not its line, keywords or digest.
#[test]
fn checking_a_spec_of_a_million_entries_keeps_memory_flat() {
    use std::io::Write;
    let env = TestEnv::new();
    std::fs::create_dir(env.root().join("t")).unwrap();
    let spec = env.root().join("big.mtree");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&spec).unwrap());
    writeln!(
        out,
        "#mtree\n/set type=file mode=0644 uid=0 gid=0\n. type=dir"
    )
    .unwrap();
    let digest = "ab".repeat(32);
    for d in 0..1000 {
        writeln!(out, "directory-with-a-long-name-{d:04} type=dir").unwrap();
        for f in 0..999 {
            writeln!(
                out,
                "    file-with-a-long-name-{f:04} size=1 sha256digest={digest}"
            )
            .unwrap();
        }
        writeln!(out, "..").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    // Every entry is missing but the root: each read, described, said and let go.
    let (code, kib) = peak_rss_kib(
        &env.root().join("t"),
        &["check", "--format", "mtree", "../big.mtree"],
    );
    assert_eq!(code, Some(1));
    // 1,000,000 fingerprints are 24 MB; the spec is 114 MB of text.
    assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
}

/// `--update` of a spec: unchanged files' digests reused, a chmod (its ctime) re-reads the
/// file and its new mode is written; the spec equals a full run's.
#[test]
fn update_of_a_spec_reuses_digests_and_sees_modes() {
    let env = TestEnv::new();
    let dist = release_tree(&env);
    let update = [
        "hash", "--format", "mtree", "--update", "-o", "u.mtree", "dist",
    ];
    // Past the racy margin (2 s) of every file's times, so that the records are trusted.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = env.run(&update);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&update);
    assert_stderr_contains(&out, "12 digests reused");
    chmod(dist.join("run.sh"), 0o700);
    std::fs::remove_file(dist.join("latest")).unwrap();
    symlink("v2", dist.join("latest")).unwrap();
    let out = env.run(&update);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_stderr_contains(&out, "11 digests reused");
    assert_stderr_contains(&out, "1 file read");
    let full = env.run(&["hash", "--format", "mtree", "dist"]);
    assert_eq!(
        std::fs::read(env.root().join("u.mtree")).unwrap(),
        full.stdout
    );
    assert!(stdout(&full).contains("./run.sh type=file mode=0700 "));
    assert!(stdout(&full).contains("./latest type=link mode=0777 link=v2\n"));
}

/// Owners: b3tree writes uid, gid, uname and gname when asked; a file given to another
/// owner fails a bsdtar spec (which holds all four) by each of them.
#[test]
fn owners_are_written_on_request_and_verified() {
    let env = TestEnv::new();
    let dist = release_tree(&env);
    let out = env.run(&[
        "hash",
        "--format",
        "mtree",
        "--keywords",
        "uid,gid,uname,gname",
        "dist",
    ]);
    let text = stdout(&out);
    let run = text.lines().find(|l| l.starts_with("./run.sh ")).unwrap();
    assert!(run.contains(" uid=0 gid=0 uname=root gname=root "), "{run}");
    let specs = three_producers(&env);
    std::os::unix::fs::lchown(dist.join("run.sh"), Some(65534), Some(65534)).unwrap();
    let out = check_spec(&env, "bsdtar.spec", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let nobody = String::from_utf8(
        Command::new("id")
            .args(["-nu", "65534"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let line = text.lines().find(|l| l.starts_with("run.sh: ")).unwrap();
    for part in [
        "uid 0 → 65534".to_string(),
        "gid 0 → 65534".to_string(),
        format!("uname root → {}", nobody.trim()),
    ] {
        assert!(line.contains(&part), "{line}");
    }
    // bsdtar's uname and gname are verified now: no warning names them.
    assert!(!stderr(&out).contains("uname ("), "{}", stderr(&out));
    drop(specs);
}

/// A spec spread over a CI matrix: `hash --shard K/N` specs merge into the full spec;
/// `check --shard K/N --audit` jobs together say what one full check says, each line once.
#[test]
fn shards_of_a_spec_merge_and_check_on_the_matrix() {
    let env = TestEnv::new();
    let dist = release_tree(&env);
    for n in 0..30 {
        env.file(format!("dist/many/{n:02}"), format!("{n}"));
    }
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out_name = format!("s{k}.mtree");
        let out = env.run(&[
            "hash", "--format", "mtree", "--shard", &shard, "-o", &out_name, "dist",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = env.run(&[
        "merge",
        "s0.mtree",
        "s1.mtree",
        "s2.mtree",
        "-o",
        "all.mtree",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let full = env.run(&["hash", "--format", "mtree", "dist"]);
    assert_eq!(
        std::fs::read(env.root().join("all.mtree")).unwrap(),
        full.stdout
    );
    let out = env.run(&["merge", "s0.mtree", "s2.mtree"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "shard 1/3 is missing");
    let b3 = env.run(&["hash", "--shard", "1/3", "-o", "m1.b3", "dist"]);
    assert_eq!(b3.status.code(), Some(0), "{}", stderr(&b3));
    let out = env.run(&["merge", "s0.mtree", "m1.b3", "s2.mtree"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "merge joins shards of one kind");

    // Changes of every kind, then the matrix against one full check.
    chmod(dist.join("run.sh"), 0o700);
    std::fs::rename(dist.join("many/07"), dist.join("many/seven")).unwrap();
    std::fs::create_dir(dist.join("new-dir")).unwrap();
    std::fs::remove_file(dist.join("many/11")).unwrap();
    let lines = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["-C", "dist", "check", "--audit"];
        all.extend_from_slice(args);
        all.push("../all.mtree");
        let out = env.run(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        stdout(&out).lines().map(str::to_string).collect()
    };
    let mut whole = lines(&[]);
    let mut union: Vec<String> = (0..3)
        .flat_map(|k| lines(&["--shard", &format!("{k}/3")]))
        .collect();
    for line in [
        "run.sh: FAILED (mode 0755 → 0700)",
        "many/seven: MOVED (from many/07)",
        "new-dir: NEW",
        "many/11: FAILED (missing)",
    ] {
        assert!(whole.iter().any(|l| l == line), "{line}: {whole:#?}");
    }
    // A move between two shards is MISSING in one job and NEW in the other (as for
    // manifests: docs/guide.md); within one shard it is MOVED there too.
    let moved = "many/seven: MOVED (from many/07)".to_string();
    if !union.contains(&moved) {
        whole.retain(|l| *l != moved);
        whole.push("many/07: FAILED (missing)".into());
        whole.push("many/seven: NEW".into());
    }
    whole.sort();
    union.sort();
    assert_eq!(union, whole);
}

/// bsdtar's spec of `dev/` (`bsdtar.spec`) and NetBSD's `mtree -c -K device` (`netbsd.spec`,
/// the raw device numbers).
fn device_specs(env: &TestEnv) {
    let bsdtar = Command::new("bsdtar")
        .args(["-cf", "bsdtar.spec", "--format=mtree", "-C", "dev", "."])
        .current_dir(env.root())
        .status()
        .unwrap();
    assert!(bsdtar.success());
    let out = Command::new("mtree")
        .args(["-c", "-K", "device", "-p", "dev"])
        .current_dir(env.root())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("device=0x103"),
        "{}",
        stdout(&out)
    );
    std::fs::write(env.root().join("netbsd.spec"), &out.stdout).unwrap();
}

/// Device nodes (a container root file system has them): `device=native,MAJOR,MINOR` as
/// bsdtar writes it, read by NetBSD's mtree; b3tree verifies bsdtar's form and NetBSD's raw
/// number, and names a node recreated with other numbers in each.
#[test]
fn device_nodes_are_written_read_by_netbsd_and_compared_in_every_form() {
    let env = TestEnv::new();
    let dev = env.root().join("dev");
    std::fs::create_dir(&dev).unwrap();
    mknod(&dev.join("null"), libc::S_IFCHR, 1, 3);
    mknod(&dev.join("loop0"), libc::S_IFBLK, 7, 200);
    for node in ["null", "loop0"] {
        chmod(dev.join(node), 0o644);
    }
    chmod(&dev, 0o755);
    let out = env.run(&[
        "hash", "--format", "mtree", "--algo", "sha256", "dev", "-o", "b3.spec",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let spec = env.root().join("b3.spec");
    let lines = lines(&spec);
    assert_eq!(
        lines[1..],
        [
            "./loop0 type=block mode=0644 device=native,7,200",
            "./null type=char mode=0644 device=native,1,3",
        ]
    );
    let netbsd = mtree(&spec, &dev);
    assert!(netbsd.status.success(), "{}", stdout(&netbsd));
    device_specs(&env);
    let specs = [
        ("b3.spec", &[][..]),
        ("bsdtar.spec", &[]),
        ("netbsd.spec", &["--format", "mtree"]),
    ];
    for (spec, extra) in specs {
        let out = check_spec_in(&env, "dev", spec, extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{spec}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(stdout(&out).contains("null: OK\n"), "{spec}");
        assert!(!stderr(&out).contains("device"), "{spec}: {}", stderr(&out));
    }
    std::fs::remove_file(dev.join("null")).unwrap();
    mknod(&dev.join("null"), libc::S_IFCHR, 1, 5);
    chmod(dev.join("null"), 0o644);
    for (spec, extra) in specs {
        let out = check_spec_in(&env, "dev", spec, extra);
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", stderr(&out));
        let line = stdout(&out)
            .lines()
            .find(|l| l.starts_with("null: "))
            .unwrap()
            .to_string();
        assert!(line.starts_with("null: FAILED ("), "{spec}: {line}");
        assert!(line.contains("device 1,3 → 1,5"), "{spec}: {line}");
    }
    let netbsd = mtree(&spec, &dev);
    assert!(!netbsd.status.success());
    assert!(
        stdout(&netbsd).contains("device (0x103, 0x105)"),
        "{}",
        stdout(&netbsd)
    );
}
