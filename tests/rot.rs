//! `check` names bit rot with the state `hash --update` leaves: content changed while every
//! stat fact stayed as recorded. The real case: a data block of a file changed underneath the
//! filesystem (an ext4 image, loop-mounted, edited with `dd` while unmounted).

use std::process::Command;
use std::time::Duration;

use crate::common::*;

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unmounts on the way out, even when an assertion fails.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_block_changed_under_the_filesystem_is_named_corrupted() {
    assert_root("loop mounts need root");
    let env = TestEnv::new();
    let img = env.root().join("img");
    let mnt = env.root().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    sh(Command::new("truncate").arg("-s").arg("16M").arg(&img));
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "1024"])
        .arg(&img));
    sh(Command::new("mount")
        .args(["-o", "loop"])
        .arg(&img)
        .arg(&mnt));
    let guard = Mounted(mnt.clone());
    std::fs::write(mnt.join("data"), "precious data, kept for years\n").unwrap();
    std::fs::write(mnt.join("other"), "another file\n").unwrap();
    // Records are trusted only for times 2 s before the run.
    std::thread::sleep(Duration::from_millis(2100));
    let out = env.run(&["hash", "-C", "mnt", "--update", "-o", "../m.b3", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = sh(Command::new("stat")
        .args(["-c", "%s %Y.%y %Z.%z %i"])
        .arg(mnt.join("data")));
    drop(guard);

    // One byte of the file's data block, changed in the image while it is not mounted.
    let blocks = sh(Command::new("debugfs")
        .args(["-R", "blocks /data"])
        .arg(&img));
    let block: u64 = blocks.split_whitespace().next().unwrap().parse().unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    use std::io::{Seek, SeekFrom, Write};
    f.seek(SeekFrom::Start(block * 1024)).unwrap();
    f.write_all(b"P").unwrap();
    drop(f);

    sh(Command::new("mount")
        .args(["-o", "loop"])
        .arg(&img)
        .arg(&mnt));
    let _guard = Mounted(mnt.clone());
    let after = sh(Command::new("stat")
        .args(["-c", "%s %Y.%y %Z.%z %i"])
        .arg(mnt.join("data")));
    assert_eq!(before, after, "stat sees nothing");
    assert_eq!(
        std::fs::read_to_string(mnt.join("data")).unwrap(),
        "Precious data, kept for years\n"
    );
    let out = env.run(&["check", "-C", "mnt", "../m.b3"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "data: FAILED (corrupted: content changed, metadata did not)\nother: OK\n"
    );
    assert_stderr_contains(&out, "1 ok, 1 failed (1 corrupted)");
    let json = env.run(&["check", "-C", "mnt", "--json", "../m.b3"]);
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], "failed");
    assert_eq!(lines[0]["cause"], "corrupted");
    assert_eq!(lines[2]["corrupted"], 1);
}

#[test]
fn a_modification_through_the_filesystem_is_named_modified_and_no_state_says_nothing() {
    let env = TestEnv::new();
    env.file("t/a", "a\n");
    env.file("t/b", "b\n");
    std::thread::sleep(Duration::from_millis(2100));
    let out = env.run(&["hash", "-C", "t", "--update", "-o", "../m.b3", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    env.file("t/a", "A\n");
    let out = env.run(&["check", "-C", "t", "../m.b3"]);
    assert_eq!(stdout(&out), "a: FAILED (modified)\nb: OK\n");
    // A state bound to another version of the manifest explains nothing.
    let mut m = std::fs::read(env.root().join("m.b3")).unwrap();
    m.extend_from_slice(b"\n");
    std::fs::write(env.root().join("m.b3"), &m).unwrap();
    let out = env.run(&["check", "-C", "t", "../m.b3"]);
    assert_eq!(stdout(&out), "a: FAILED\nb: OK\n");
    // Nor does a manifest without a state.
    std::fs::remove_file(env.root().join("m.b3.b3tree-state")).unwrap();
    let out = env.run(&["check", "-C", "t", "../m.b3"]);
    assert_eq!(stdout(&out), "a: FAILED\nb: OK\n");
}
