//! b3tree as a drop-in for b3sum and GNU's *sum tools: the same arguments give the same
//! output as the real tools, run here on the same inputs.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

/// The `b3sum` the tests compare with (tests/deps.sh installs it).
fn b3sum() -> Command {
    let home = std::env::var("HOME").unwrap_or_default();
    let local = std::path::Path::new(&home).join(".cargo/bin/b3sum");
    Command::new(if local.exists() {
        local.into_os_string()
    } else {
        "b3sum".into()
    })
}

/// Runs `cmd` with `input` on its stdin; its output.
fn with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = output_within(child, WAIT);
    join_within(writer, WAIT);
    out
}

#[test]
fn dash_is_standard_input_as_in_b3sum() {
    let env = TestEnv::new();
    let input = b"hello from a pipe\n";
    let ours = with_stdin(env.cmd().args(["hash", "-q", "-"]), input);
    let theirs = with_stdin(b3sum().arg("-"), input);
    assert_eq!(ours.status.code(), Some(0), "{}", stderr(&ours));
    assert_eq!(stdout(&ours), stdout(&theirs));
    // With files around it, in the order given.
    env.file("a", "a\n");
    let ours = with_stdin(env.cmd().args(["hash", "-q", "a", "-", "a"]), input);
    let theirs = with_stdin(b3sum().current_dir(env.root()).args(["a", "-", "a"]), input);
    assert_eq!(stdout(&ours), stdout(&theirs));
}

#[test]
fn a_redirected_file_is_read_from_where_stdin_stands() {
    let env = TestEnv::new();
    let path = env.file("in", "0123456789");
    // `sh` consumes 4 bytes of the shared descriptor first (dd), then runs b3tree.
    let script = format!(
        "dd bs=1 count=4 of=/dev/null 2>/dev/null; exec '{}' hash -q -",
        bin().display()
    );
    let out = run_with_timeout(
        Command::new("sh")
            .args(["-c", &script])
            .stdin(std::fs::File::open(&path).unwrap()),
        Duration::from_secs(20),
    );
    assert_eq!(stdout(&out), format!("{}  -\n", hex(b"456789")));
}

#[test]
fn no_path_with_a_pipe_on_stdin_warns_that_the_pipe_is_not_read() {
    let env = TestEnv::new();
    env.file("f", "f\n");
    let out = with_stdin(env.cmd().args(["hash", "-q"]), b"ignored\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{}  f\n", hex(b"f\n")));
    assert_stderr_contains(
        &out,
        "standard input (a pipe) is not read — give - to hash it",
    );
    // Not when stdin is not a pipe.
    let out = env.run(&["hash", "-q"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn completions_for_every_shell_know_the_flags_and_load_in_bash() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        for word in ["hash", "check", "--update", "--audit"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    let script = env.root().join("b3tree.bash");
    std::fs::write(&script, stdout(&env.run(&["completions", "bash"]))).unwrap();
    let out = run_with_timeout(
        Command::new("bash").args([
            "-c",
            &format!("source '{}' && complete -p b3tree", script.display()),
        ]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("b3tree"), "{}", stdout(&out));
    let out = env.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_render_from_the_same_definition_as_help() {
    let env = TestEnv::new();
    let main = env.run(&["man"]);
    assert_eq!(main.status.code(), Some(0), "{}", stderr(&main));
    let page = stdout(&main);
    assert!(page.contains(".TH b3tree 1"), "{page}");
    let hash = env.run(&["man", "hash"]);
    assert_eq!(hash.status.code(), Some(0));
    let roff = stdout(&hash);
    assert!(roff.contains(".TH b3tree-hash 1"), "{roff}");
    // Every long flag of `hash --help` is in its page.
    let help = stdout(&env.run(&["hash", "--help"]));
    for flag in help.split_whitespace().filter(|w| w.starts_with("--")) {
        let flag = flag
            .trim_end_matches(',')
            .split(['=', '<', '['])
            .next()
            .unwrap();
        assert!(
            roff.contains(&flag.replace('-', "\\-")),
            "{flag} not in the man page"
        );
    }
    let out = env.run(&["man", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "no command \"nosuch\"");
}

/// README's install of completions and man pages, on a fresh account (an empty HOME, PATH
/// with ~/.cargo/bin as rustup sets it, no MANPATH): the commands as written work, `man`
/// finds every page, and the pages carry EXAMPLES and EXIT STATUS.
#[test]
fn completions_and_man_pages_install_as_readme_says_on_a_fresh_account() {
    let env = TestEnv::new();
    let home = env.root().join("home");
    let cargo_bin = home.join(".cargo/bin");
    std::fs::create_dir_all(&cargo_bin).unwrap();
    std::fs::copy(bin(), cargo_bin.join("b3tree")).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    // The block that starts with the completions' mkdir, as README shows it.
    let start = readme
        .find("mkdir -p ~/.local/share/bash-completion")
        .unwrap();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let path = format!("{}:/usr/bin:/bin", cargo_bin.display());
    let out = run_with_timeout(
        Command::new("sh")
            .args(["-ec", block])
            .env_clear()
            .env("HOME", &home)
            .env("PATH", &path)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100"),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{block}\n{}", stderr(&out));
    let page = stdout(&out);
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "EXAMPLES",
        "EXIT STATUS",
        "FORMAT",
        "SEE ALSO",
    ] {
        assert!(
            page.contains(section),
            "b3tree-check(1) lacks {section}:\n{page}"
        );
    }
    assert!(
        home.join(".local/share/bash-completion/completions/b3tree")
            .is_file()
    );
    for name in [
        "b3tree",
        "b3tree-hash",
        "b3tree-check",
        "b3tree-digest",
        "b3tree-merge",
        "b3tree-bench",
    ] {
        let found = Command::new("man")
            .args(["-w", name])
            .env_clear()
            .env("HOME", &home)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_eq!(
            found.status.code(),
            Some(0),
            "man -w {name}: {}",
            stderr(&found)
        );
        let text = std::fs::read_to_string(stdout(&found).trim()).unwrap();
        assert!(text.contains(".SH \"EXIT STATUS\""), "{name}");
    }
}

#[test]
fn files_from_hashes_the_list_in_its_order_like_b3sum_on_the_same_names() {
    let env = TestEnv::new();
    env.file("b", "b\n");
    env.file("a", "a\n");
    env.file("sp ace", "s\n");
    env.file("d/x", "x\n");
    env.file("d/y/z", "z\n");
    let names = ["b", "sp ace", "a", "b"];
    // Files only: exactly what b3sum prints for the same names, duplicates kept.
    let list = names.join("\n") + "\n";
    let ours = with_stdin(
        env.cmd().args(["hash", "-q", "--files-from", "-"]),
        list.as_bytes(),
    );
    let theirs = b3sum()
        .current_dir(env.root())
        .args(names)
        .output()
        .unwrap();
    assert_eq!(ours.status.code(), Some(0), "{}", stderr(&ours));
    assert_eq!(stdout(&ours), stdout(&theirs));
    // NUL-separated, from a file, with a directory (walked) and a missing entry.
    env.file("list0", "d\0a\0gone\0");
    let out = env.run(&["hash", "-q", "--files-from", "list0", "-0"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!(
            "{}  d/x\n{}  d/y/z\n{}  a\n",
            hex(b"x\n"),
            hex(b"z\n"),
            hex(b"a\n")
        )
    );
    assert_stderr_contains(&out, "b3tree: gone: missing");
    // --sort gives canonical order, which --digest needs; it equals the digest of the PATHs.
    let sorted = with_stdin(
        env.cmd()
            .args(["hash", "-q", "--files-from", "-", "--sort", "--digest"]),
        b"d\na\n",
    );
    let paths = env.run(&["hash", "-q", "--digest", "a", "d"]);
    assert_eq!(stdout(&sorted), stdout(&paths));
    let digest = |o: &std::process::Output| stderr(o).lines().last().map(str::to_string);
    assert_eq!(digest(&sorted), digest(&paths));
    let unsorted = with_stdin(
        env.cmd().args(["hash", "--files-from", "-", "--digest"]),
        b"a\n",
    );
    assert_eq!(unsorted.status.code(), Some(2));
    assert_stderr_contains(&unsorted, "needs --sort");
}

#[test]
fn a_dash_in_a_list_read_from_stdin_is_an_error_record_and_paths_conflict() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    let out = with_stdin(
        env.cmd().args(["hash", "-q", "--files-from", "-", "-0"]),
        b"a\0-\0",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), format!("{}  a\n", hex(b"a\n")));
    assert_stderr_contains(&out, "- cannot be standard input, which holds the list");
    let out = env.run(&["hash", "--files-from", "list", "a"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["hash", "--files-from", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "--files-from nosuch: No such file or directory");
}

/// The official vectors' inputs as files under `v/`, with `field` of each case.
fn vector_tree(env: &TestEnv, field: &str) -> Vec<(String, String)> {
    vector_files(env, "v/", field)
}

#[test]
fn keyed_derive_key_and_extended_output_match_the_official_vectors() {
    let env = TestEnv::new();
    let key = b"whats the Elvish word for friend";
    let context = "BLAKE3 2019-12-27 16:29:52 test vectors context";
    for (field, args) in [
        ("keyed_hash", vec!["--keyed"]),
        ("derive_key", vec!["--derive-key", context]),
        ("hash", vec!["-l", "131"]),
    ] {
        let cases = vector_tree(&env, field);
        let mut cmd = env.cmd();
        cmd.args(["hash", "-q"]).args(&args).arg("v");
        let out = with_stdin(&mut cmd, key);
        assert_eq!(out.status.code(), Some(0), "{field}: {}", stderr(&out));
        let want: String = cases
            .iter()
            .map(|(name, hex)| {
                let len = if args[0] == "-l" { 262 } else { 64 };
                format!("{}  {name}\n", &hex[..len])
            })
            .collect();
        assert_eq!(stdout(&out), want, "{field}");
    }
    // --seek: bytes 100..131 of the extended output.
    let cases = vector_tree(&env, "hash");
    let out = env.run(&["hash", "-q", "-l", "31", "--seek", "100", "v/001024"]);
    let full = &cases.iter().find(|(n, _)| n == "v/001024").unwrap().1;
    assert_eq!(stdout(&out), format!("{}  v/001024\n", &full[200..262]));
}

/// The same arguments give b3sum's output byte for byte.
#[test]
fn every_b3sum_mode_prints_what_b3sum_prints() {
    let env = TestEnv::new();
    env.file("a", "alpha\n");
    env.file("b b", "beta\n");
    env.file("new\nline", "gamma\n");
    // Past the size where one big file is hashed as subtrees over both cores (8 MiB leaves),
    // ending mid-chunk: the subtree split and its merge, in every mode, against b3sum — read
    // (below 64 MiB) and mapped.
    for (name, len) in [("big", (21u32 << 20) + 3), ("huge", (65u32 << 20) + 1029)] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(env.root().join(name), &data).unwrap();
    }
    let key: Vec<u8> = (0..32).collect();
    let modes: [&[&str]; 9] = [
        &[],
        &["--no-names"],
        &["-l", "64"],
        &["-l", "7", "--seek", "1000"],
        &["--derive-key", "my app 2026"],
        &["--keyed"],
        &["--keyed", "--no-names", "-l", "16"],
        &["--tag"],
        &["--no-mmap"],
    ];
    for args in modes {
        let files = ["a", "b b", "new\nline", "big", "huge"];
        let ours = with_stdin(env.cmd().args(["hash", "-q"]).args(args).args(files), &key);
        let theirs = with_stdin(b3sum().current_dir(env.root()).args(args).args(files), &key);
        assert_eq!(ours.status.code(), Some(0), "{args:?}: {}", stderr(&ours));
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
    }
    let ours = env
        .cmd()
        .args(["hash", "-q", "--raw", "a"])
        .output()
        .unwrap();
    let theirs = b3sum()
        .current_dir(env.root())
        .args(["--raw", "a"])
        .output()
        .unwrap();
    assert_eq!(ours.stdout, theirs.stdout);
    assert_eq!(ours.stdout.len(), 32);
}

#[test]
fn sha256_and_sha512_lines_are_those_of_gnu() {
    let env = TestEnv::new();
    env.file("a", "alpha\n");
    env.file("sp ace", "beta\n");
    env.file("back\\slash", "gamma\n");
    let files = ["a", "sp ace", "back\\slash"];
    for (algo, tool) in [("sha256", "sha256sum"), ("sha512", "sha512sum")] {
        for extra in [&[][..], &["--tag"], &["-z"], &["--tag", "-z"]] {
            let ours = env
                .cmd()
                .args(["hash", "-q", "--algo", algo])
                .args(extra)
                .args(files)
                .output()
                .unwrap();
            let theirs = Command::new(tool)
                .current_dir(env.root())
                .args(extra)
                .args(files)
                .output()
                .unwrap();
            assert_eq!(ours.status.code(), Some(0), "{}", stderr(&ours));
            assert_eq!(ours.stdout, theirs.stdout, "{algo} {extra:?}");
        }
    }
}

/// sha256sum habits: `-b`/`--binary` and `-t`/`--text` are accepted and change nothing (on
/// Linux both read the same bytes; `-t` lines are GNU's own, and `-b` keeps the two-space
/// form b3sum reads), and `check -w` is `--warn`.
#[test]
fn sha256sum_habits_binary_text_and_w_are_understood() {
    let env = TestEnv::new();
    env.file("a", "alpha\n");
    let plain = env.run(&["hash", "-q", "--algo", "sha256", "a"]);
    let gnu_text = Command::new("sha256sum")
        .args(["-t", "a"])
        .current_dir(env.root())
        .output()
        .unwrap();
    assert_eq!(plain.stdout, gnu_text.stdout);
    for flag in ["-b", "--binary", "-t", "--text"] {
        let out = env.run(&["hash", "-q", "--algo", "sha256", flag, "a"]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", stderr(&out));
        assert_eq!(out.stdout, plain.stdout, "{flag}");
    }
    let mut manifest = env.run(&["hash", "-q", "a"]).stdout;
    manifest.extend_from_slice(b"not a line\n");
    env.file("m.b3", manifest);
    let warned = env.run(&["check", "-w", "m.b3"]);
    assert_eq!(warned.status.code(), Some(0), "{}", stderr(&warned));
    assert_stderr_contains(&warned, "m.b3:2: improperly formatted");
}

#[test]
fn modes_that_cannot_be_are_usage_errors() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    env.file("d/x", "x\n");
    let short_key = with_stdin(env.cmd().args(["hash", "--keyed", "a"]), b"too short");
    assert_eq!(short_key.status.code(), Some(2));
    assert_stderr_contains(&short_key, "exactly 32 bytes, not 9");
    let cases: [&[&str]; 6] = [
        &["hash", "--keyed", "-"],
        &["hash", "--algo", "sha256", "-l", "16", "a"],
        &["hash", "--algo", "sha512", "--derive-key", "c", "a"],
        &["hash", "--digest", "-l", "16", "a"],
        &["hash", "--raw", "a", "a"],
        &["hash", "--raw", "d"],
    ];
    for args in cases {
        let out = with_stdin(env.cmd().args(args), &[7u8; 32]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn hash_dash_c_checks_as_b3sum_and_gnu_users_type_it() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    env.file("b", "b\n");
    let out = env.run(&["hash", "-q", "-o", "m.b3", "a", "b"]);
    assert_eq!(out.status.code(), Some(0));
    env.file("b", "changed\n");
    let alias = env.run(&["hash", "-c", "m.b3"]);
    let check = env.run(&["check", "m.b3"]);
    assert_eq!(alias.status.code(), Some(1));
    assert_eq!(stdout(&alias), "a: OK\nb: FAILED\n");
    assert_eq!(stdout(&alias), stdout(&check));
    let quiet = env.run(&["hash", "--check", "--quiet", "m.b3"]);
    assert_eq!(stdout(&quiet), "b: FAILED\n");
}

/// Every mode round-trips: what `hash` writes in it, `check` verifies (inferring the mode
/// from the manifest where it can), and a changed file fails.
#[test]
fn check_reads_every_mode_that_hash_writes() {
    let env = TestEnv::new();
    env.file("a", "alpha\n");
    env.file("sp ace", "beta\n");
    env.file("new\nline", "gamma\n");
    let key = [9u8; 32];
    // (hash's flags, check's flags: only what the manifest cannot say)
    let modes: [(&[&str], &[&str]); 9] = [
        (&[], &[]),
        (&["--tag"], &[]),
        (&["-l", "16"], &[]),
        (&["-l", "64", "--tag"], &[]),
        (&["--derive-key", "ctx 2026"], &["--derive-key", "ctx 2026"]),
        (&["--keyed"], &["--keyed"]),
        (&["--algo", "sha256"], &["--algo", "sha256"]),
        (&["--algo", "sha512", "--tag"], &[]),
        (&["--algo", "sha256", "-z"], &["--algo", "sha256", "-z"]),
    ];
    for (hash_flags, check_flags) in modes {
        let files = ["a", "sp ace", "new\nline"];
        let made = with_stdin(
            env.cmd()
                .args(["hash", "-q", "-o", "m"])
                .args(hash_flags)
                .args(files),
            &key,
        );
        assert_eq!(
            made.status.code(),
            Some(0),
            "{hash_flags:?}: {}",
            stderr(&made)
        );
        let ok = with_stdin(env.cmd().args(["check"]).args(check_flags).arg("m"), &key);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{hash_flags:?}: {}{}",
            stdout(&ok),
            stderr(&ok)
        );
        assert_eq!(stdout(&ok).matches(": OK").count(), 3, "{hash_flags:?}");
        env.file("a", "ALPHA\n");
        let bad = with_stdin(
            env.cmd().args(["check", "-q"]).args(check_flags).arg("m"),
            &key,
        );
        assert_eq!(bad.status.code(), Some(1), "{hash_flags:?}");
        assert!(
            stdout(&bad).starts_with("a: FAILED"),
            "{hash_flags:?}: {}",
            stdout(&bad)
        );
        env.file("a", "alpha\n");
    }
}

/// SHA256SUMS and SHA512SUMS as GNU writes them are checked, concurrently and with --audit,
/// which sha256sum cannot do; tagged lines say their algorithm themselves.
#[test]
fn gnu_sums_are_checked_and_audited() {
    let env = TestEnv::new();
    env.file("d/a", "alpha\n");
    env.file("d/b", "beta\n");
    for (tool, algo) in [("sha256sum", "sha256"), ("sha512sum", "sha512")] {
        for tag in [false, true] {
            let mut cmd = Command::new(tool);
            cmd.current_dir(env.root().join("d"));
            if tag {
                cmd.arg("--tag");
            }
            let sums = cmd.args(["a", "b"]).output().unwrap();
            std::fs::write(env.root().join("SUMS"), &sums.stdout).unwrap();
            let mut args = vec!["check", "-C", "d", "--audit"];
            if !tag {
                args.extend(["--algo", algo]);
            }
            args.push("../SUMS");
            env.file("d/new", "n\n");
            let out = env.run(&args);
            assert_eq!(out.status.code(), Some(1), "{tool} {tag}: {}", stderr(&out));
            assert_eq!(stdout(&out), "a: OK\nb: OK\nnew: NEW\n", "{tool} tag={tag}");
            std::fs::remove_file(env.root().join("d/new")).unwrap();
        }
    }
    // Untagged SHA-256 read as BLAKE3: the first entry shows it, the run stops with --algo.
    let sums = Command::new("sha256sum")
        .current_dir(env.root().join("d"))
        .args(["a", "b"])
        .output()
        .unwrap();
    std::fs::write(env.root().join("SUMS"), &sums.stdout).unwrap();
    let out = env.run(&["check", "-C", "d", "../SUMS"]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "check this manifest with --algo sha256");
    // Short digests (b3sum -l 4) are checked, with one warning that an OK says little.
    let out = env.run(&["hash", "-q", "-C", "d", "-l", "4", "-o", "../short"]);
    assert_eq!(out.status.code(), Some(0));
    let out = env.run(&["check", "-C", "d", "../short"]);
    assert_eq!(out.status.code(), Some(0));
    assert_stderr_contains(&out, "digests are 4 bytes long");
    // A line of another length than the run's is refused as malformed, not checked.
    let h = hex(b"alpha\n");
    env.file("mixed", format!("{h}  a\n{}  b\n", &h[..32]));
    let out = env.run(&["check", "-C", "d", "--strict", "../mixed"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "a: OK\n");
    assert_stderr_contains(&out, "length or algorithm differs");
}

#[test]
fn the_tree_digest_refuses_other_modes_rather_than_give_a_wrong_b3t1() {
    let env = TestEnv::new();
    env.file("d/a", "a\n");
    let out = env.run(&["hash", "-q", "-C", "d", "-l", "16", "-o", "../l16.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&["digest", "--from", "l16.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert_stderr_contains(&out, "not a default BLAKE3 digest");
    let out = env.run(&[
        "hash", "-q", "-C", "d", "--algo", "sha256", "--tag", "-o", "../s.b3",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = env.run(&["digest", "--from", "s.b3"]);
    assert_eq!(out.status.code(), Some(1));
    let out = env.run(&["hash", "--digest", "--algo", "sha256", "d"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The verdict word a checker printed for `name` ("OK" or "FAILED"), from lines
/// `name: OK`, `name: FAILED`, `name: FAILED open or read`, `name: FAILED (why)`.
fn verdict<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(": ")?;
        rest.split_whitespace().next()
    })
}

#[test]
fn check_with_no_manifest_reads_it_from_stdin_as_sha256sum_and_b3sum_do() {
    let env = TestEnv::new();
    for n in ["a", "b", "c"] {
        env.file(n, n);
    }
    let sha = stdout(&run_with_timeout(
        Command::new("sha256sum")
            .args(["a", "b", "c"])
            .current_dir(env.root()),
        Duration::from_secs(30),
    ));
    let b3 = stdout(&run_with_timeout(
        b3sum().args(["a", "b", "c"]).current_dir(env.root()),
        Duration::from_secs(30),
    ));
    // b modified, c gone; a malformed line besides.
    env.file("b", "B");
    std::fs::remove_file(env.root().join("c")).unwrap();
    for (tool, manifest, ours) in [
        ("sha256sum", sha, vec!["check", "--algo", "sha256"]),
        ("b3sum", b3.clone(), vec!["check"]),
        ("b3sum", b3, vec!["-c"]),
    ] {
        let piped = format!("{manifest}not a line\n");
        let mut theirs_cmd = if tool == "b3sum" {
            b3sum()
        } else {
            Command::new(tool)
        };
        theirs_cmd.arg("-c").current_dir(env.root());
        let theirs = with_stdin(&mut theirs_cmd, piped.as_bytes());
        let mine = with_stdin(env.cmd().args(&ours), piped.as_bytes());
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "{tool} vs {ours:?}: {}",
            stderr(&mine)
        );
        for name in ["a", "b", "c"] {
            assert_eq!(
                verdict(&stdout(&mine), name),
                verdict(&stdout(&theirs), name),
                "{tool}: {name}\nours: {}\ntheirs: {}",
                stdout(&mine),
                stdout(&theirs)
            );
        }
        assert_eq!(verdict(&stdout(&mine), "a"), Some("OK"));
        assert_eq!(verdict(&stdout(&mine), "b"), Some("FAILED"));
    }
    // An empty stdin is no pass (GNU: exit 1; b3sum passes it, a hole we do not copy).
    let theirs = with_stdin(
        Command::new("sha256sum").arg("-c").current_dir(env.root()),
        b"",
    );
    let mine = with_stdin(env.cmd().arg("check"), b"");
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(mine.status.code(), Some(1), "{}", stderr(&mine));
    assert_stderr_contains(&mine, "no properly formatted");
    // `hash -c` and `--check` with no manifest too.
    let m = format!("{}  a\n", hex(b"a"));
    for args in [&["hash", "-c"][..], &["--check"][..]] {
        let out = with_stdin(env.cmd().args(args), m.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "a: OK\n");
    }
}

#[test]
fn check_with_no_manifest_on_a_terminal_says_so_instead_of_waiting() {
    let env = TestEnv::new();
    let transcript = env.root().join("typescript");
    // script(1) gives the command a pseudo-terminal as stdin.
    let out = run_with_timeout(
        Command::new("script")
            .args(["-q", "-e", "-c", &format!("{} check", bin().display())])
            .arg(&transcript)
            .current_dir(env.root())
            .stdin(Stdio::null()),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&std::fs::read(&transcript).unwrap()).into_owned();
    assert!(
        text.contains("no MANIFEST given and standard input is a terminal"),
        "{text}"
    );
}
