//! The fourth hazard round (docs/hazards.md, rows F): what a hostile tree, spec, manifest or
//! signing flag does to what b3tree prints and to what it passes. Tree specs that claim
//! content b3tree cannot verify, names and values that would be workflow commands in a CI
//! log or drive a terminal, a spec line built to be slow, shard inputs that spell one file
//! two ways or announce absurd totals.

use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// `b3tree -C dist check EXTRA ../SPEC` (SPEC written by the test).
fn check_in_dist(env: &TestEnv, spec: &str, extra: &[&str]) -> std::process::Output {
    let mut cmd = env.cmd();
    cmd.args(["-C", "dist", "check"]).args(extra).arg(spec);
    run_with_timeout(&mut cmd, WAIT)
}

/// Checks `dist` against the spec `text` (written as `name`) with `extra`: it fails (exit 1)
/// and stdout holds the verdict `line`.
fn assert_spec_fails(env: &TestEnv, text: impl AsRef<[u8]>, extra: &[&str], line: &str) {
    std::fs::write(env.root().join("fails.spec"), text).unwrap();
    let out = check_in_dist(env, "../fails.spec", extra);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains(line),
        "{line} not in {}",
        stdout(&out)
    );
}

/// `b3tree -C dist hash --format mtree EXTRA -o ../OUT .`
fn hash_spec(env: &TestEnv, out: &str, extra: &[&str]) {
    let mut cmd = env.cmd();
    cmd.args(["-C", "dist", "hash", "--format", "mtree"])
        .args(extra)
        .args(["-o", &format!("../{out}"), "."]);
    let done = run_with_timeout(&mut cmd, WAIT);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// F1: a spec entry with a digest and no `type=` (bsdtar `--options='!all,sha256'` writes
/// such entries) claims a regular file: a directory, a symlink (to the system's password
/// file) or a FIFO standing there fails, as a changed file does.
#[test]
fn a_digest_without_a_type_fails_a_directory_a_link_or_a_fifo_in_its_place() {
    let env = TestEnv::new();
    for name in ["d", "l", "p", "f"] {
        env.file(format!("dist/{name}"), "content\n");
    }
    let bsdtar = Command::new("bsdtar")
        .args([
            "-cf",
            "../spec",
            "--format=mtree",
            "--options=!all,sha256",
            ".",
        ])
        .current_dir(env.root().join("dist"))
        .status()
        .expect("bsdtar (tests/deps.sh installs libarchive-tools)");
    assert!(bsdtar.success());
    let spec = std::fs::read_to_string(env.root().join("spec")).unwrap();
    assert!(!spec.contains("type="), "{spec}");
    assert!(spec.contains("./l sha256digest="), "{spec}");
    let out = check_in_dist(&env, "../spec", &[]);
    assert_exit(&out, 0);
    let d = env.root().join("dist");
    std::fs::remove_file(d.join("d")).unwrap();
    std::fs::create_dir(d.join("d")).unwrap();
    std::fs::remove_file(d.join("l")).unwrap();
    symlink("/etc/passwd", d.join("l")).unwrap();
    std::fs::remove_file(d.join("p")).unwrap();
    mkfifo(&d.join("p"));
    let out = check_in_dist(&env, "../spec", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for (name, found) in [("d", "dir"), ("l", "link"), ("p", "fifo")] {
        assert!(
            text.contains(&format!("{name}: FAILED (type: file → {found})\n")),
            "{text}"
        );
    }
    assert!(text.contains("f: OK\n"), "{text}");
    // And a digest under an explicit type that has no content (a directory) is no pass.
    let dirspec = format!(
        "#mtree\n./d type=dir sha256digest={}\n",
        sha256_hex(b"content\n")
    );
    assert_spec_fails(
        &env,
        dirspec,
        &[],
        "d: FAILED (sha256digest: no content was read)",
    );
}

/// F2: `check --algo` naming a digest the entries do not hold compares no content: never
/// OK (a same-size edit used to pass, exit 0). Nor is an entry whose only digest is one
/// b3tree does not verify (md5).
#[test]
fn content_that_cannot_be_verified_is_never_ok() {
    let env = TestEnv::new();
    env.file("dist/a", "same size\n");
    hash_spec(&env, "b3.spec", &[]);
    hash_spec(&env, "sha.spec", &["--algo", "sha256"]);
    env.file("dist/a", "SAME SIZE\n");
    for (spec, algo, held, asked) in [
        ("../b3.spec", "sha256", "blake3digest", "sha256digest"),
        ("../sha.spec", "sha512", "sha256digest", "sha512digest"),
    ] {
        let out = check_in_dist(&env, spec, &["--algo", algo]);
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", stdout(&out));
        assert!(
            stdout(&out).contains(&format!(
                "a: FAILED (content not verified: the entry holds {held}, not {asked} (--algo))"
            )),
            "{}",
            stdout(&out)
        );
    }
    // Two digests: the strongest is verified, and the run says the other was not compared.
    let both = format!(
        "#mtree\n./a type=file sha512digest={} sha256digest={}\n",
        "0".repeat(128),
        sha256_hex(b"SAME SIZE\n")
    );
    std::fs::write(env.root().join("both.spec"), both).unwrap();
    let out = check_in_dist(&env, "../both.spec", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("a: FAILED (sha512digest: content differs)"));
    let out = check_in_dist(&env, "../both.spec", &["--algo", "sha256"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_stderr_contains(
        &out,
        "1 entry of the spec also holds digests besides the one verified",
    );
    assert_spec_fails(
        &env,
        "#mtree\n./a type=file md5digest=00112233445566778899aabbccddeeff\n",
        &[],
        "a: FAILED (content not verified: b3tree does not verify md5digest)",
    );
    // go-mtree's and casync's sha512256digest, a keyword in capitals: claims all the same.
    let hex = "ab".repeat(32);
    for key in ["sha512256digest", "SHA256DIGEST"] {
        let spec = format!("#mtree\n./a {key}={hex}\n");
        let line = format!("a: FAILED (content not verified: b3tree does not verify {key})");
        assert_spec_fails(&env, &spec, &[], &line);
        std::fs::remove_file(env.root().join("dist/a")).unwrap();
        std::fs::create_dir(env.root().join("dist/a")).unwrap();
        assert_spec_fails(&env, &spec, &[], "a: FAILED (type: file → dir)");
        std::fs::remove_dir(env.root().join("dist/a")).unwrap();
        env.file("dist/a", "SAME SIZE\n");
    }
    // bsdtar's `--options='!all,size,mode'`: no type, a size only regular files get.
    std::fs::remove_file(env.root().join("dist/a")).unwrap();
    std::fs::create_dir(env.root().join("dist/a")).unwrap();
    chmod(env.root().join("dist/a"), 0o644);
    let spec = "#mtree\n./a mode=644 size=10\n";
    assert_spec_fails(&env, spec, &[], "a: FAILED (type: file → dir)");
}

/// F7: a mode with bits beyond 07777 is not a mode (NetBSD's mtree refuses it): not
/// understood, never masked into one that passes.
#[test]
fn a_mode_beyond_the_permission_bits_is_not_understood() {
    let env = TestEnv::new();
    env.file("dist/a", "x");
    chmod(env.root().join("dist/a"), 0o644);
    for mode in ["10644", "77777"] {
        let spec = format!("#mtree\n./a type=file mode={mode}\n");
        assert_spec_fails(
            &env,
            spec,
            &[],
            &format!("a: FAILED (mode={mode}: not understood)"),
        );
    }
}

/// Every line of `text` that a CI runner would read as a workflow command (`::` first after
/// blanks, or `##[` anywhere) and that b3tree did not write as its own annotation.
fn forged_commands(text: &str) -> Vec<String> {
    text.split(['\n', '\r'])
        .filter(|l| {
            // Blanks as the runner trims them, and a byte-order mark its reader drops.
            let t = l.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            (t.starts_with("::")
                && !t.starts_with("::error file=")
                && !t.starts_with("::error title="))
                || l.contains("##[")
        })
        .map(str::to_string)
        .collect()
}

const HOSTILE_NAMES: [&str; 8] = [
    "\u{feff}::error title=pwned::bom",
    "e\u{1b}]0;title\u{7}\u{9b}2J\u{202e}\u{61c}",
    "::stop-commands::tok",
    "::add-mask::secret",
    "::error::forged",
    " \u{a0}::warning::indented",
    "a ##[add-mask]b",
    "x\r::set-output name=y::z",
];

/// F3: files named as workflow commands, all failing, checked under GitHub Actions: no
/// line of stdout or stderr starts a command b3tree did not write, in text and JSON; the
/// step summary opens no link or image; the names come back exact from the escaped form.
#[test]
fn file_names_never_become_workflow_commands() {
    let env = TestEnv::new();
    for name in HOSTILE_NAMES {
        env.file(format!("dist/{name}"), "one");
    }
    env.file("dist/![i](https:x.test)[t](http:x.test)", "one");
    env.file("dist/<b>&amp;|`x`<i>", "one");
    // Hashed from inside the tree: verdict lines start with the names.
    let out = env.run(&["-C", "dist", "hash", "-o", "../m.b3", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for name in HOSTILE_NAMES {
        env.file(format!("dist/{name}"), "two");
    }
    env.file("dist/![i](https:x.test)[t](http:x.test)", "two");
    env.file("dist/<b>&amp;|`x`<i>", "two");
    let summary = env.root().join("summary.md");
    for extra in [&[][..], &["--json"], &["--audit"]] {
        let mut cmd = env.cmd();
        cmd.args(["-C", "dist", "check"]).args(extra).arg("../m.b3");
        let (out, md) = on_github(&mut cmd, &summary);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            forged_commands(&stdout(&out)),
            Vec::<String>::new(),
            "{extra:?}"
        );
        assert_eq!(
            forged_commands(&stderr(&out)),
            Vec::<String>::new(),
            "{extra:?}"
        );
        for bad in ["](", "![", "\r", "<b>", "&amp;", "|`", "`x`"] {
            assert!(!md.contains(bad), "{bad:?} in the step summary: {md}");
        }
        if extra.is_empty() {
            assert!(
                md.contains("&#60;b&#62;&#38;amp;&#124;&#96;x&#96;&#60;i&#62;"),
                "{md}"
            );
        }
    }
    let text = env.run(&["-C", "dist", "check", "../m.b3"]);
    // A CI log is a pipe: no control character, C1 or bidirectional control reaches it.
    let raw = String::from_utf8_lossy(&text.stdout);
    assert!(
        !raw.chars()
            .any(|c| (c.is_control() && c != '\n') || matches!(c, '\u{202e}' | '\u{61c}')),
        "{raw:?}"
    );
    assert!(
        stdout(&text).contains("\\x3a:add-mask::secret: FAILED\n"),
        "{}",
        stdout(&text)
    );
    // The escaped names are names b3tree reads back: a manifest of the verdicts' names.
    let two = hex(b"two");
    let manifest: String = stdout(&text)
        .lines()
        .filter_map(|l| l.strip_suffix(": FAILED"))
        .map(|name| match name.strip_prefix('\\') {
            Some(escaped) => format!("\\{two}  {escaped}\n"),
            None => format!("{two}  {name}\n"),
        })
        .collect();
    assert_eq!(
        manifest.lines().count(),
        HOSTILE_NAMES.len() + 2,
        "{manifest}"
    );
    std::fs::write(env.root().join("back.b3"), manifest).unwrap();
    let back = env.run(&["-C", "dist", "check", "../back.b3"]);
    assert_exit(&back, 0);
}

/// F3, stderr and signing flags: a signer, a namespace or a manifest path with LF, CR, ESC
/// or `::` reaches stderr inert.
#[test]
fn signing_flags_and_manifest_paths_reach_stderr_inert() {
    let env = TestEnv::new();
    env.file("dist/a", "a");
    env.file("allowed", "someone ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n");
    let out = env.run(&["hash", "-o", "m.b3", "dist"]);
    assert_eq!(out.status.code(), Some(0));
    env.file("m.b3.sig", "not a signature");
    let manifest = "::error::m\u{1b}]0;t\u{7}";
    std::fs::copy(env.root().join("m.b3"), env.root().join(manifest)).unwrap();
    for args in [
        vec![
            "check",
            "--allowed-signers",
            "allowed",
            "--signer",
            "x\n::error::forged\u{1b}[2J",
            "m.b3",
        ],
        vec![
            "check",
            "--allowed-signers",
            "allowed",
            "--signer",
            "x",
            "--namespace",
            "\r::add-mask::n",
            "m.b3",
        ],
        vec![
            "check",
            manifest,
            "--strict",
            "--allowed-signers",
            "allowed",
            "--signer",
            "x",
        ],
        vec!["check", "gone\n::error::forged"],
        vec!["check", "--algo", "x\n::add-mask::s\u{1b}]0;t\u{7}\r\u{9b}"],
    ] {
        let mut cmd = env.cmd();
        cmd.args(&args).env("GITHUB_ACTIONS", "true");
        let out = run_with_timeout(&mut cmd, WAIT);
        assert_ne!(out.status.code(), Some(0));
        let err = stderr(&out);
        assert_eq!(forged_commands(&err), Vec::<String>::new(), "{args:?}");
        assert!(
            !out.stderr.iter().any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
            "{err:?}"
        );
    }
}

/// F3: spec values with ESC, BEL, CR and `::` (mode, uid, type, gname, a bad escape
/// `\M<ESC>`) reach neither the terminal nor the log raw.
#[test]
fn spec_values_reach_output_escaped() {
    let env = TestEnv::new();
    env.file("dist/a", "a");
    std::fs::write(
        env.root().join("spec"),
        b"#mtree\n./a type=file mode=\x1b]0;t\x07 uid=\x1b[2J gname=g\r::add-mask::x flags=\x1b[31m\n\
          ./b type=\x1b[5m\n./\\M\x1bc type=file\n",
    )
    .unwrap();
    let summary = env.root().join("summary.md");
    for extra in [&[][..], &["--json"]] {
        let mut cmd = env.cmd();
        cmd.args(["-C", "dist", "check"]).args(extra).arg("../spec");
        let (out, md) = on_github(&mut cmd, &summary);
        assert_ne!(out.status.code(), Some(0));
        for stream in [&out.stdout, &out.stderr, &md.into_bytes()] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !stream.iter().any(|b| matches!(b, 0x1b | 0x07 | b'\r')),
                "{text:?}"
            );
            assert_eq!(forged_commands(&text), Vec::<String>::new());
        }
        if extra.is_empty() {
            assert_stderr_contains(&out, r"bad escape \\\M\x1bc");
        }
    }
    let spec = b"#mtree\n./a type=file mode=\x1b]0;t\x07\n";
    assert_spec_fails(
        &env,
        spec,
        &[],
        r"a: FAILED (mode=\\x1b]0;t\x07: not understood)",
    );
}

/// F5: one spec line of 200,000 distinct keywords (2 MB, within the 4 MiB line cap) on an
/// entry and in `/unset`: read in linear time (100,000 took about 30 s before, this many
/// about two minutes); the warning names a few keywords and counts the rest. As `/set`
/// defaults, which every later entry carries, so many are refused at once (exit 2, the
/// line named): a million entries after them would each cost their size.
#[test]
fn a_spec_line_of_many_keywords_is_read_in_linear_time() {
    let env = TestEnv::new();
    env.file("dist/a", "a");
    let words: String = (0..200_000).map(|i| format!(" k{i}=v")).collect();
    let spec = format!("#mtree\n/set type=file mode=0644\n./a{words}\n/unset{words}\n");
    std::fs::write(env.root().join("spec"), spec).unwrap();
    let start = Instant::now();
    let mut cmd = env.cmd();
    cmd.args(["-C", "dist", "check", "../spec"]);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a: OK\n");
    let err = stderr(&out);
    assert!(
        err.contains("uses of other keywords"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        err.len() < 4096,
        "the warning stays short: {} bytes",
        err.len()
    );
    eprintln!("200,000 keywords: {:?}", start.elapsed());
    std::fs::write(
        env.root().join("spec"),
        format!("#mtree\n/set type=file{words}\n./a\n"),
    )
    .unwrap();
    let mut cmd = env.cmd();
    cmd.args(["-C", "dist", "check", "../spec"]);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_stderr_contains(
        &out,
        "spec: line 2: `/set` of more than 1000 keywords in force",
    );
}

/// F6: merge input that spells one file two ways (`./t/a`, `t/a`, `t//a`, `t/./a`) with two
/// digests is a conflict; spec shards with `..` in any spelling are refused; an absurd
/// shard total is refused at once, without memory per missing shard.
#[test]
fn merge_refuses_one_file_spelled_twice_dot_dot_in_specs_and_absurd_totals() {
    let env = TestEnv::new();
    let (a, b) = (hex(b"a"), hex(b"b"));
    for other in ["./t/a", "t//a", "t/./a"] {
        env.file("s0", format!("# b3tree shard 0/2\n{a}  t/a\n"));
        env.file("s1", format!("# b3tree shard 1/2\n{b}  {other}\n"));
        let out = env.run(&["merge", "s0", "s1"]);
        assert_eq!(out.status.code(), Some(1), "{other}: {}", stdout(&out));
        assert_stderr_contains(&out, "conflicting entries for");
        env.file(
            "s1",
            format!("# b3tree shard 1/2\n{a}  t/a\n{b}  {other}\n"),
        );
        let out = env.run(&["merge", "--partial", "s1"]);
        assert_eq!(out.status.code(), Some(1), "{other}: {}", stdout(&out));
        assert_stderr_contains(&out, "is listed twice");
    }
    // A shard line that check would refuse, or that would put control characters or a
    // workflow command into the merged spec, is not merged.
    for (line, why) in [
        ("./a type=file \r::add-mask::X", "byte 0x0d"),
        ("./a type=file uname=\u{1b}]0;T\u{7}", "byte 0x1b"),
        ("./a type=file uname=caf\u{e9}", "byte 0xc3"),
        (
            "./a type=file gname=##[error]Y",
            "command marker (`##` then `[`)",
        ),
        ("./a type=file ::add-mask::X", "bad keyword"),
    ] {
        env.file("p0", format!("#mtree\n# b3tree shard 0/1\n{line}\n"));
        let out = env.run(&["merge", "p0"]);
        assert_eq!(out.status.code(), Some(1), "{line:?}: {}", stdout(&out));
        assert_stderr_contains(&out, why);
    }
    for name in [r"./b/../a", r"./z/\056\056/a", r"./z/\.\./a"] {
        env.file(
            "p0",
            format!("#mtree\n# b3tree shard 0/1\n{name} type=file size=1\n"),
        );
        let out = env.run(&["merge", "p0"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert_stderr_contains(&out, "has a `..` component");
    }
    env.file(
        "h",
        format!("# b3tree shard 0/18446744073709551615\n{a}  t/a\n"),
    );
    let start = Instant::now();
    let mut cmd = env.cmd();
    cmd.args(["merge", "h"]);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_stderr_contains(
        &out,
        "shards 1/18446744073709551615, 2/18446744073709551615",
    );
    assert_stderr_contains(&out, "and 18446744073709551604 more are missing");
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// F8: a JSON check of 300,000 repeats of one entry from stdin, interrupted while it says
/// the repeats on stderr: the stream still ends with its summary record (marked
/// interrupted), within the 250 ms promise.
#[test]
fn an_interrupted_json_check_ends_with_its_summary_even_while_repeats_are_said() {
    use std::io::BufRead;
    let env = TestEnv::new();
    env.file("f", "two");
    let line = format!("{}  f\n", hex(b"two"));
    std::fs::write(env.root().join("dup.b3"), line.repeat(300_000)).unwrap();
    let mut child = env
        .cmd()
        .args(["check", "--json", "-"])
        .stdin(std::fs::File::open(env.root().join("dup.b3")).unwrap())
        .stdout(std::fs::File::create(env.root().join("out.json")).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    while !first.contains("duplicate entry") {
        first.clear();
        assert!(err.read_line(&mut first).unwrap() > 0, "no repeat was said");
    }
    // Keep reading stderr so that the run is never blocked on it.
    let drain = std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    join_within(drain, WAIT).unwrap();
    let text = std::fs::read_to_string(env.root().join("out.json")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary", "{last}");
    assert_eq!(last["interrupted"], true, "{last}");
}

/// Spec shards (`hash --format mtree --shard K/2`) merge only as one run's shards: an input
/// out of order, a line given twice, a shard given twice (`--partial s0 s0 s1`) are refused.
#[test]
fn spec_shard_merge_refuses_disorder_repeats_and_overlap() {
    let env = TestEnv::new();
    for i in 0..20 {
        env.file(format!("t/f{i:02}"), format!("{i}"));
    }
    for k in 0..2 {
        let shard = format!("{k}/2");
        let out = env.run(&[
            "-C",
            "t",
            "hash",
            "--format",
            "mtree",
            "--shard",
            &shard,
            "-o",
            &format!("../s{k}"),
            ".",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = env.run(&["merge", "s0", "s1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s0 = std::fs::read_to_string(env.root().join("s0")).unwrap();
    let mut lines: Vec<&str> = s0.lines().collect();
    let (head, entries) = lines.split_at_mut(2);
    assert!(entries.len() > 3, "{s0}");
    entries.reverse();
    std::fs::write(
        env.root().join("rev"),
        format!("{}\n{}\n", head.join("\n"), entries.join("\n")),
    )
    .unwrap();
    let twice: String = s0
        .lines()
        .chain(s0.lines().last())
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(env.root().join("twice"), twice).unwrap();
    for (args, why) in [
        (vec!["merge", "rev", "s1"], "not in canonical order"),
        (vec!["merge", "twice", "s1"], "is listed twice"),
        (
            vec!["merge", "--partial", "s0", "s0", "s1"],
            "overlapping entries for",
        ),
    ] {
        let out = env.run(&[&args[..1], &["-o", "merged"], &args[1..]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_stderr_contains(&out, why);
        assert!(!env.root().join("merged").exists(), "{args:?}");
    }
}

/// The `.b3tree-*.tmp` files in a directory.
fn temps(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".b3tree-") && n.ends_with(".tmp"))
        .collect();
    names.sort();
    names
}

/// F9: runs killed with SIGKILL leave their temporary files; the next run that writes a
/// manifest there removes them, and only them: not a live run's (locked), not another
/// user's, not a symlink of that name.
#[test]
fn the_next_run_removes_what_killed_runs_left_and_nothing_else() {
    let env = TestEnv::new();
    huge_sparse_file(&env, "sparse");
    // A run writing m.b3, returned once its temporary file is there (one more than before).
    let start = |env: &TestEnv| {
        let before = temps(env.root());
        let child = env
            .cmd()
            .args(["hash", "--jobs", "1", "-o", "m.b3", "sparse"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while !temps(env.root()).iter().any(|t| !before.contains(t)) {
            assert!(Instant::now() < deadline, "no temporary file appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        child
    };
    let killed = |env: &TestEnv| {
        let mut child = start(env);
        child.kill().unwrap();
        child.wait().unwrap();
    };
    // Each run removes what the one killed before it left: they never pile up.
    for _ in 0..5 {
        killed(&env);
    }
    assert_eq!(temps(env.root()).len(), 1, "{:?}", temps(env.root()));
    let live = start(&env);
    let live_temp = temps(env.root());
    assert_eq!(
        live_temp.len(),
        1,
        "the live run removed the dead one: {live_temp:?}"
    );
    // A run killed while another is live: the live one's file stays.
    killed(&env);
    assert_eq!(temps(env.root()).len(), 2, "{:?}", temps(env.root()));
    env.file(".b3tree-Other1.tmp", "another user's");
    let other = env.root().join(".b3tree-Other1.tmp");
    std::os::unix::fs::chown(other, Some(65534), Some(65534)).unwrap();
    symlink("m.b3", env.root().join(".b3tree-Link01.tmp")).unwrap();
    // Of the temporary files' prefix and suffix but not their shape, and a second name of
    // a file of the user's in their shape: not ours to remove.
    env.file(".b3tree-notes-keep.tmp", "the user's");
    env.file("kept", "the user's");
    std::fs::hard_link(
        env.root().join("kept"),
        env.root().join(".b3tree-Hard01.tmp"),
    )
    .unwrap();
    env.file("t/a", "a");
    let out = env.run(&["hash", "-o", "new.b3", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut left = vec![
        ".b3tree-Hard01.tmp".to_string(),
        ".b3tree-Link01.tmp".to_string(),
        ".b3tree-Other1.tmp".to_string(),
        ".b3tree-notes-keep.tmp".to_string(),
        live_temp[0].clone(),
    ];
    left.sort();
    assert_eq!(temps(env.root()), left);
    let mut live = live;
    let status = stops_within_promise(&mut live, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    assert_eq!(temps(env.root()).len(), 4);
}

/// F1, through a link: a spec that names `./d/f` (and no entry for `d`) is not passed by a
/// tree where `d` became a link to another directory of the tree holding the same file:
/// mtree describes the tree as it lies, so no link on the way is followed.
#[test]
fn a_spec_is_never_passed_through_a_link_on_the_way() {
    let env = TestEnv::new();
    env.file("dist/real/f", "same\n");
    env.file("dist/real/sub/g", "g");
    symlink("real", env.root().join("dist/d")).unwrap();
    let digest = sha256_hex(b"same\n");
    let spec = format!(
        "#mtree\n./d/f type=file sha256digest={digest}\n./d/sub type=dir\n./real/f type=file \
         sha256digest={digest}\n"
    );
    let why = "path: a symlink stands where the spec has a directory (not followed)";
    assert_spec_fails(&env, &spec, &[], &format!("d/f: FAILED ({why})"));
    assert_spec_fails(&env, &spec, &[], &format!("d/sub: FAILED ({why})"));
    assert_spec_fails(&env, &spec, &[], "real/f: OK");
    // --allow-outside lifts the confinement of manifests; a spec still follows no link.
    let line = format!("d/f: FAILED ({why})");
    assert_spec_fails(&env, &spec, &["--allow-outside"], &line);
    // And b3tree writes no spec it would check through links: not with -L.
    let out = env.run(&["-C", "dist", "hash", "-L", "--format", "mtree", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_stderr_contains(&out, "describes the tree as it lies, links as links");
}

/// F3, bench: the tree's path in the table's title reaches stdout escaped.
#[test]
fn bench_prints_its_path_inert() {
    let env = TestEnv::new();
    let dir = "x\n::error::y##[z]\u{1b}[1m";
    env.file(format!("{dir}/f"), "a");
    let mut cmd = env.cmd();
    cmd.args(["bench", "--jobs", "1", "--repeat", "1", dir])
        .env("GITHUB_ACTIONS", "true");
    let out = run_with_timeout(&mut cmd, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(forged_commands(&stdout(&out)), Vec::<String>::new());
    assert!(!out.stdout.contains(&0x1b), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with(r"b3tree bench \x\n::error::y\x23#[z]\x1b[1m  ("),
        "{}",
        stdout(&out)
    );
}
