//! The table's rules, one at a time, with made-up stat results.

use super::*;
use crate::hash::outcome::{EntryError, ErrorKind};
use std::fs::File;

/// A regular file of inode 7 with `nlink` links, last changed at `time` seconds.
fn stat(nlink: u64, time: i64) -> Stat {
    Stat {
        mode: libc::S_IFREG | 0o644,
        dev: 1,
        ino: 7,
        size: SHARED_FROM,
        mtime: (time, 0),
        ctime: (time, 0),
        uid: 0,
        gid: 0,
        nlink,
        rdev: 0,
    }
}

fn hashed(byte: u8) -> Outcome {
    Outcome::Hashed {
        hash: Digest::Blake3(blake3::hash(&[byte])),
        size: SHARED_FROM,
    }
}

/// The open file every claim names, on every thread (the table asks where it lives).
static FILE: std::sync::OnceLock<File> = std::sync::OnceLock::new();

fn claim<'a>(links: &'a Links, st: &Stat, mode: &Mode) -> Claim<'a> {
    let file = FILE.get_or_init(|| tempfile::tempfile().unwrap());
    links.claim(file, st, mode)
}

/// Claims `st` and, if told to read, settles the read with `outcome`; what it was given.
fn name(links: &Links, st: &Stat, outcome: &Outcome) -> Option<Digest> {
    match claim(links, st, &Mode::default()) {
        Claim::Given(d) => Some(d),
        Claim::Read(ticket) => {
            ticket.settle(outcome);
            None
        }
        Claim::Alone => panic!("not shared"),
    }
}

fn remembered(links: &Links) -> usize {
    links.lock().by_id.len()
}

#[test]
fn one_read_is_given_to_the_other_names_then_forgotten() {
    let links = Links::default();
    let st = stat(3, 1000);
    assert_eq!(name(&links, &st, &hashed(1)), None);
    let Outcome::Hashed { hash, .. } = hashed(1) else {
        unreachable!()
    };
    assert_eq!(name(&links, &st, &hashed(9)), Some(hash.clone()));
    assert_eq!(remembered(&links), 1);
    assert_eq!(name(&links, &st, &hashed(9)), Some(hash));
    assert_eq!(remembered(&links), 0, "all three links seen");
    let want = Shared {
        names: 3,
        inodes: 1,
        bytes: 2 * SHARED_FROM,
    };
    assert_eq!(links.shared(), want);
}

#[test]
fn another_version_mode_or_failed_read_is_read_again() {
    let links = Links::default();
    assert_eq!(name(&links, &stat(5, 1000), &hashed(1)), None);
    // Changed since (another ctime): read, and that version is the one kept.
    assert_eq!(name(&links, &stat(5, 1001), &hashed(2)), None);
    assert!(name(&links, &stat(5, 1001), &hashed(3)).is_some());
    // Another algorithm.
    let sha = Mode::of(crate::hash::algo::Algo::Sha256);
    assert!(matches!(
        claim(&links, &stat(5, 1001), &sha),
        Claim::Read(_)
    ));
    // The read failed (or its ticket was dropped): the next name reads.
    let failed = Outcome::Failed(EntryError::new(ErrorKind::Changed, "x"));
    assert_eq!(name(&links, &stat(5, 1002), &failed), None);
    assert_eq!(name(&links, &stat(5, 1002), &hashed(4)), None);
}

#[test]
fn times_too_recent_to_trust_are_never_given_and_never_waited_for() {
    let links = Links::default();
    let now = crate::hash::facts::to_pair(SystemTime::now()).0;
    assert_eq!(name(&links, &stat(3, now), &hashed(1)), None);
    // Every other name of that version reads, at once (no ticket, no waiting).
    assert!(matches!(
        claim(&links, &stat(3, now), &Mode::default()),
        Claim::Alone
    ));
}

#[test]
fn the_table_holds_at_most_its_capacity_and_keeps_what_it_holds() {
    let links = Links::default();
    let inode = |ino: u64| Stat {
        ino,
        ..stat(2, 1000)
    };
    for ino in 0..CAPACITY as u64 {
        assert_eq!(name(&links, &inode(ino), &hashed(1)), None);
    }
    // Full: a new inode is read and not remembered...
    let new = inode(CAPACITY as u64);
    assert!(matches!(
        claim(&links, &new, &Mode::default()),
        Claim::Alone
    ));
    assert_eq!(remembered(&links), CAPACITY);
    // ...and the first ones are still given (each then forgotten: its two links seen).
    assert!(name(&links, &inode(0), &hashed(9)).is_some());
    assert_eq!(remembered(&links), CAPACITY - 1);
    assert_eq!(name(&links, &new, &hashed(1)), None, "room again");
}

#[test]
fn single_links_and_sharing_off_remember_nothing() {
    let links = Links::default();
    assert!(matches!(
        claim(&links, &stat(1, 1000), &Mode::default()),
        Claim::Alone
    ));
    assert!(matches!(
        claim(&Links::off(), &stat(4, 1000), &Mode::default()),
        Claim::Alone
    ));
    assert_eq!(remembered(&links), 0);
}

#[test]
fn a_link_count_that_drops_forgets_sooner() {
    let links = Links::default();
    assert_eq!(name(&links, &stat(4, 1000), &hashed(1)), None);
    // Two links were removed (their ctime moves too, so another version).
    assert_eq!(name(&links, &stat(2, 1005), &hashed(2)), None);
    assert_eq!(remembered(&links), 0);
}

#[test]
fn a_name_met_during_the_read_waits_for_it() {
    let links = Links::default();
    let st = stat(2, 1000);
    let Claim::Read(ticket) = claim(&links, &st, &Mode::default()) else {
        panic!("first name reads")
    };
    std::thread::scope(|s| {
        let waiter = s.spawn(|| name(&links, &st, &hashed(9)));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiter.is_finished(), "the second name waits for the read");
        ticket.settle(&hashed(1));
        let Outcome::Hashed { hash, .. } = hashed(1) else {
            unreachable!()
        };
        assert_eq!(waiter.join().unwrap(), Some(hash));
    });
}

#[test]
fn small_files_are_read_under_every_name() {
    let links = Links::default();
    let small = Stat {
        size: SHARED_FROM - 1,
        ..stat(3, 1000)
    };
    assert!(matches!(
        claim(&links, &small, &Mode::default()),
        Claim::Alone
    ));
    assert_eq!(remembered(&links), 0);
}
