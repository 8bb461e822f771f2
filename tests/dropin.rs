//! b3tree as a drop-in for b3sum and GNU's *sum tools: the same arguments give the same
//! output as the real tools, run here on the same inputs.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

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
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
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
    let page = stdout(&env.run(&["man"]));
    assert!(
        page.starts_with(".ie") || page.contains(".TH b3tree 1"),
        "{page}"
    );
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
