//! The first hazard table (docs/hazards.md, rows H1–H21): rows not already covered by
//! tests/hash.rs and tests/check.rs. Each test cites its row. Every run is under a timeout.

use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// docs/hazards.md H2: an unreadable directory is an error naming it; check --audit calls it unverifiable.
#[test]
fn unreadable_directory_is_an_error_naming_it() {
    let tree = public_tree();
    let (_bin_dir, bin) = public_copy_of_binary();
    let root = tree.path();
    std::fs::create_dir_all(root.join("open")).unwrap();
    std::fs::create_dir_all(root.join("closed")).unwrap();
    write_mode(root.join("open/a"), "a", 0o644);
    std::fs::write(root.join("closed/hidden"), "h").unwrap();
    chmod(root.join("open"), 0o755);
    chmod(root.join("closed"), 0o700);
    let out = run_with_timeout(
        as_nobody(Command::new(&bin).args(["hash"]).current_dir(root)),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  open/a\n", hex(b"a")));
    assert_stderr_contains(
        &out,
        "b3tree: closed: unreadable directory: Permission denied",
    );

    // A manifest made by root that lists the closed directory's file: check fails it, and an
    // audit cannot vouch for the directory.
    let m = format!("{}  open/a\n{}  closed/hidden\n", hex(b"a"), hex(b"h"));
    write_mode(root.join("m.b3"), m, 0o644);
    let out = run_with_timeout(
        as_nobody(
            Command::new(&bin)
                .args(["check", "--audit", "m.b3"])
                .current_dir(root),
        ),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("open/a: OK"));
    assert!(
        stdout(&out).contains("closed/hidden: FAILED (unreadable)"),
        "{}",
        stdout(&out)
    );
    assert_stderr_contains(
        &out,
        "closed: unreadable directory: Permission denied (audit: contents unverifiable)",
    );
}

/// docs/hazards.md H3: a file deleted between walk and open is "vanished" (strace injects ENOENT into
/// the open of exactly that file: openat2 beneath the root, or openat).
#[test]
fn file_deleted_between_walk_and_open_is_vanished() {
    let env = TestEnv::new();
    env.file("a", "a");
    env.file("victim", "v");
    env.file("z", "z");
    let out = run_with_timeout(
        under_strace(&[
            "-P",
            "victim",
            "-e",
            "trace=openat,openat2",
            "-e",
            "inject=openat,openat2:error=ENOENT",
        ])
        .args(["hash", "--jobs", "1"])
        .current_dir(env.root()),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "strace must be installed: {}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out),
        format!("{}  a\n{}  z\n", hex(b"a"), hex(b"z"))
    );
    assert_stderr_contains(&out, "b3tree: victim: vanished");
}

/// docs/hazards.md H5: sockets and device nodes in a tree are skipped and counted, never opened.
#[test]
fn sockets_and_devices_in_a_tree_are_skipped_and_counted() {
    let env = TestEnv::new();
    env.file("a", "a");
    let _sock = std::os::unix::net::UnixListener::bind(env.root().join("sock")).unwrap();
    let status = Command::new("mknod")
        .arg(env.root().join("null"))
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(status.success(), "mknod needs root (CI runs as root)");
    let out = run_with_timeout(env.cmd().args(["hash", "--json"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(r#""path":"null","kind":"device""#), "{text}");
    assert!(text.contains(r#""path":"sock","kind":"socket""#), "{text}");
    assert!(text.contains(r#""skipped":2"#), "{text}");
}

/// docs/hazards.md H7: a dangling symlink is no error without -L, an error with -L.
#[test]
fn dangling_symlink_is_no_error_without_follow() {
    let env = TestEnv::new();
    env.file("a", "a");
    std::os::unix::fs::symlink("nowhere", env.root().join("dangling")).unwrap();
    let out = env.run(&["hash"]);
    assert_eq!(out.status.code(), Some(0));
    // Not silently: counted as skipped.
    assert_stderr_contains(&out, "1 file, 1 B");
    assert_stderr_contains(&out, "0 errors, 1 skipped");
    assert_eq!(stdout(&out), format!("{}  a\n", hex(b"a")));
    let out = env.run(&["hash", "-L"]);
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_contains(&out, "b3tree: dangling:");
    assert_eq!(stdout(&out), format!("{}  a\n", hex(b"a")));
}

/// docs/hazards.md H8: an 80-level tree hashes completely.
#[test]
fn an_eighty_level_tree_hashes_completely() {
    let env = TestEnv::new();
    let deep: String = (0..80).map(|i| format!("level{i:02}/")).collect();
    env.file(format!("{deep}bottom"), "deep");
    let out = env.run(&["hash", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  {deep}bottom\n", hex(b"deep")));
}

/// docs/hazards.md H8: a path longer than PATH_MAX is hashed (opened step by step with openat).
#[test]
fn a_path_longer_than_path_max_is_hashed() {
    let env = TestEnv::new();
    // 20 levels of 250-byte names: about 5,000 bytes, beyond PATH_MAX (4,096).
    let (dir, rel) = deep_dirs(env.root(), 20, 'x');
    write_long(&dir, "file", b"far");
    let out = env.run(&["hash", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}  {rel}file\n", hex(b"far")));
}

/// A line longer than the old 16 KiB cap (a 20,000-byte path): what `hash` writes, `check`
/// reads, and a tampered file under such a path fails the run.
#[test]
fn a_path_beyond_the_old_line_cap_is_checked_and_tampering_fails() {
    let env = TestEnv::new();
    std::fs::create_dir(env.root().join("t")).unwrap();
    let (dir, rel) = deep_dirs(&env.root().join("t"), 80, 'y');
    assert!(rel.len() > 16_640);
    write_long(&dir, "file", b"far");
    let out = env.run(&["hash", "-q", "-C", "t", "-o", "../m.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&["check", "-C", "t", "../m.b3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{rel}file: OK\n"));
    write_long(&dir, "file", b"tampered");
    let out = env.run(&["check", "-C", "t", "../m.b3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{rel}file: FAILED\n"));
}

/// `levels` nested directories of 250-byte names (`00yyy…`, `01yyy…`) below `base`, made
/// one level at a time so the full path is never passed to the OS; the deepest one and the
/// path to it relative to `base` (ending in `/`).
fn deep_dirs(base: &std::path::Path, levels: usize, fill: char) -> (std::path::PathBuf, String) {
    let comp: String = std::iter::repeat_n(fill, 248).collect();
    let mut dir = base.to_path_buf();
    let mut rel = String::new();
    for i in 0..levels {
        let name = format!("{i:02}{comp}");
        std::fs::create_dir(dir.join(&name))
            .or_else(|_| mkdir_long(&dir, &name))
            .unwrap();
        dir = dir.join(&name);
        rel.push_str(&name);
        rel.push('/');
    }
    (dir, rel)
}

/// Creates `name` inside the (possibly too long) directory path `dir`, going down with openat.
fn mkdir_long(dir: &std::path::Path, name: &str) -> std::io::Result<()> {
    let fd = open_dir_long(dir)?;
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: mkdirat on a directory descriptor we own.
    let rc = unsafe { libc::mkdirat(fd, c.as_ptr(), 0o755) };
    unsafe { libc::close(fd) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn write_long(dir: &std::path::Path, name: &str, data: &[u8]) {
    let fd = open_dir_long(dir).unwrap();
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: openat/write/close on descriptors we own.
    unsafe {
        let f = libc::openat(fd, c.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644);
        assert!(f >= 0);
        assert_eq!(
            libc::write(f, data.as_ptr().cast(), data.len()),
            data.len() as isize
        );
        libc::close(f);
        libc::close(fd);
    }
}

fn open_dir_long(dir: &std::path::Path) -> std::io::Result<i32> {
    let mut fd = libc::AT_FDCWD;
    let mut first = true;
    for comp in dir.components() {
        let s = comp.as_os_str().as_bytes();
        let c = std::ffi::CString::new(if s == b"/" { &b"/"[..] } else { s }).unwrap();
        // SAFETY: openat with a valid C string; descriptors closed as we go.
        let next = unsafe { libc::openat(fd, c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY) };
        if !first {
            unsafe { libc::close(fd) };
        }
        first = false;
        if next < 0 {
            return Err(std::io::Error::last_os_error());
        }
        fd = next;
    }
    Ok(fd)
}

/// `b3tree ARGS` (a shell's words) run in `env` with a pseudo-terminal as stdout (`script`).
fn on_a_terminal(env: &TestEnv, args: &str) -> std::process::Output {
    let line = format!("'{}' {args}", bin().display());
    run_with_timeout(
        Command::new("script")
            .args(["-qfec", &line, "/dev/null"])
            .current_dir(env.root()),
        Duration::from_secs(30),
    )
}

/// docs/hazards.md H9: hostile names never reach a terminal raw — neither on stdout (terminal) nor stderr.
#[test]
fn no_raw_control_characters_reach_a_terminal() {
    let env = TestEnv::new();
    env.file("esc\x1b]0;pwned\x07name", "x");
    // `script` gives the command a pseudo-terminal as stdout; `-z` (names unescaped in
    // files and pipes) is escaped there too.
    for extra in ["", " -z", " --tag"] {
        let out = on_a_terminal(&env, &format!("hash -q --no-progress{extra}"));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            !text.contains('\x1b') && !text.contains('\x07'),
            "{extra}: {text:?}"
        );
        assert!(
            text.contains("esc\\x1b]0;pwned\\x07name"),
            "{extra}: {text:?}"
        );
    }
    // Binary digest bytes (`--raw`) are not written to a terminal: a file can be made whose
    // digest starts with an escape sequence.
    let out = on_a_terminal(&env, "hash --raw esc*");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).contains("--raw writes binary digest bytes, not to a terminal"));
    // Redirected output stays b3sum-compatible: raw ESC inside the name.
    let out = env.run(&["hash", "-q"]);
    assert!(stdout(&out).contains("esc\x1b]0;pwned\x07name"));
    // Diagnostics on stderr are always escaped.
    let out = env.run(&["hash", "-q", "-L", "esc\x1b]0;missing"]);
    assert!(!stderr(&out).contains('\x1b'), "{:?}", stderr(&out));
    assert_stderr_contains(&out, "esc\\x1b]0;missing: missing");
}

/// docs/hazards.md H10: a sparse file of 4 GiB + 1 byte has the known digest (u64 sizes all the way).
#[test]
fn a_sparse_file_over_4_gib_has_the_known_digest() {
    let env = TestEnv::new();
    let f = std::fs::File::create(env.root().join("sparse")).unwrap();
    f.set_len((4u64 << 30) + 1).unwrap();
    let out = run_with_timeout(
        env.cmd().args(["hash", "-q", "--json"]),
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(
        first["hash"],
        "1c5383e3e425b8b27d54e1b6bf91bb3320b8ba1496f7483f87b5f4490a542794"
    );
    assert_eq!(first["size"], 4_294_967_297u64);
}

/// docs/hazards.md H11: with 16 descriptors and 64 workers, all 400 files are hashed (EMFILE waits).
#[test]
fn emfile_never_drops_a_file() {
    let env = TestEnv::new();
    let mut expected = String::new();
    for i in 0..400 {
        let name = format!("d{}/f{i:03}", i / 100);
        env.file(&name, format!("{i}"));
        expected.push_str(&format!("{}  {name}\n", hex(format!("{i}").as_bytes())));
    }
    for max_open in [None, Some("64")] {
        let mut cmd = env.cmd();
        cmd.args(["hash", "-q", "-j", "64"]);
        if let Some(m) = max_open {
            cmd.args(["--max-open", m]);
        }
        with_nofile(&mut cmd, 16);
        let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
        assert_eq!(
            out.status.code(),
            Some(0),
            "--max-open {max_open:?}: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), expected, "--max-open {max_open:?}");
        if max_open.is_some() {
            // 16 descriptors cannot hold 64 files open: the limit is lowered, and said.
            assert_stderr_contains(
                &out,
                "warning: --max-open 64 is more than the open-file limit allows",
            );
        }
    }
}

/// docs/hazards.md H11: EMFILE from the kernel on a file's open is waited out and retried,
/// never a dropped file (strace makes the first opens of files fail so; the test checks that
/// the injection hit).
#[test]
fn emfile_from_the_kernel_is_retried_never_a_dropped_file() {
    let env = TestEnv::new();
    let mut expected = String::new();
    for i in 0..60 {
        let name = format!("t/f{i:02}");
        env.file(&name, format!("{i}"));
        expected.push_str(&format!("{}  {name}\n", hex(format!("{i}").as_bytes())));
    }
    let log = env.root().join("strace.log");
    let out = run_with_timeout(
        Command::new("strace")
            .args(["-f", "-qq", "-o"])
            .arg(&log)
            .args([
                "-e",
                "trace=openat2",
                "-e",
                "inject=openat2:error=EMFILE:when=1..3",
            ])
            .arg(bin())
            .args(["hash", "-j", "4", "t"])
            .current_dir(env.root()),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), expected);
    let trace = std::fs::read_to_string(&log).unwrap();
    assert!(
        trace.contains("EMFILE") && trace.contains("INJECTED"),
        "the injection never hit a file's open:\n{trace}"
    );
}
