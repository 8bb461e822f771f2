//! Tests of `state::read` (kept apart: the reader alone is near the length a file may have).
use super::*;
use crate::hash::facts::Facts;
use std::io::Write;
use std::time::Duration;

fn known(n: u8, mtime: i64) -> Known {
    Known {
        facts: Facts {
            size: u64::from(n),
            mtime: (mtime, 0),
            ctime: (mtime, 0),
            ino: u64::from(n),
            dev: 1,
            fs: 7,
            meta: crate::hash::facts::Meta::default(),
        },
        hash: blake3::hash(&[n]).into(),
    }
}

fn write_state(dir: &Path, records: &[(&[u8], Known)], started: i64, tail: &[u8]) -> PathBuf {
    let mut out = Vec::new();
    line::seal(MAGIC.as_bytes(), &mut out);
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(started as u64);
    line::seal(line::started(at).as_bytes(), &mut out);
    line::seal(b"options o", &mut out);
    // Two records per block.
    for pair in records.chunks(2) {
        let mut block = Vec::new();
        for (name, k) in pair {
            line::record(name, k, &mut block);
        }
        out.extend_from_slice(&block);
        line::block_sum(&block, pair.len() as u64, &mut out);
    }
    out.extend_from_slice(tail);
    let path = dir.join("s");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&out)
        .unwrap();
    path
}

#[test]
fn find_walks_forward_and_trusts_only_old_enough_records() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<(&[u8], Known)> = vec![
        (b"a", known(1, 100)),
        (b"a/b", known(2, 100)),
        (b"a.c", known(3, 999)),
        (b"z", known(4, 100)),
    ];
    let path = write_state(dir.path(), &recs, 1000, b"");
    let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
    assert_eq!(r.find(b"0"), None);
    assert_eq!(r.find(b"a"), Some(known(1, 100)));
    assert_eq!(r.find(b"a/a"), None);
    assert_eq!(r.find(b"a/b"), Some(known(2, 100)));
    // Racy: modified 1 s before the run that recorded it started.
    assert_eq!(r.find(b"a.c"), None);
    assert_eq!(r.find(b"z"), Some(known(4, 100)));
    assert_eq!(r.find(b"zz"), None);
    assert_eq!(r.problem(), None);
}

#[test]
fn records_end_at_a_bad_line_or_a_break_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<(&[u8], Known)> = vec![(b"b", known(1, 1)), (b"a", known(2, 1))];
    let path = write_state(dir.path(), &recs, 1000, b"garbage\n");
    let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
    assert_eq!(r.find(b"a"), None);
    assert_eq!(r.find(b"b"), Some(known(1, 1)));
    assert_eq!(r.find(b"c"), None);
    assert_eq!(r.problem(), Some("line 5: out of canonical order"));
    // A torn tail: the sealed block before it is good.
    let torn = write_state(dir.path(), &recs[..1], 1000, b"0123");
    let mut r = StateReader::open(&torn, Some(&raw(b"o"))).unwrap().unwrap();
    assert!(r.find(b"b").is_some());
    assert_eq!(r.find(b"c"), None);
    assert_eq!(r.problem(), Some("line 6: torn (no end of line)"));
    // An edited record breaks its block's seal: none of the block is used.
    let good: Vec<(&[u8], Known)> = vec![
        (b"a", known(1, 1)),
        (b"b", known(2, 1)),
        (b"c", known(3, 1)),
    ];
    let path = write_state(dir.path(), &good, 1000, b"");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(2).position(|w| w == b" b").unwrap() + 1;
    bytes[at] = b'x';
    std::fs::write(&path, &bytes).unwrap();
    let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
    assert_eq!(r.find(b"a"), None);
    assert_eq!(r.find(b"c"), None);
    assert_eq!(r.problem(), Some("lines 4-6: checksum mismatch"));
    // Records after the last seal (a journal cut by a power cut) are not used.
    let mut tail = Vec::new();
    line::record(b"z", &known(9, 1), &mut tail);
    let path = write_state(dir.path(), &good[..2], 1000, &tail);
    let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
    assert!(r.find(b"b").is_some());
    assert_eq!(r.find(b"z"), None);
    assert!(
        r.problem().unwrap().contains("without a sum line"),
        "{:?}",
        r.problem()
    );
}

/// Options named as they are keyed.
fn raw(text: &[u8]) -> Wanted<'_> {
    Wanted {
        text,
        name: str::to_string,
    }
}

#[test]
fn other_options_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), &[], 1000, b"");
    assert!(
        StateReader::open(&path, Some(&raw(b"other")))
            .err()
            .unwrap()
            .contains("other options")
    );
    std::fs::write(&path, "hello\n").unwrap();
    assert!(StateReader::open(&path, Some(&raw(b"o"))).is_err());
    assert!(
        StateReader::open(&dir.path().join("none"), Some(&raw(b"o")))
            .unwrap()
            .is_none()
    );
    std::os::unix::fs::symlink(&path, dir.path().join("l")).unwrap();
    let e = StateReader::open(&dir.path().join("l"), Some(&raw(b"o")))
        .err()
        .unwrap();
    assert!(e.contains("symlink"), "{e}");
}

/// The records `passed` names: the whole blocks' record lines (their `sum` lines dropped),
/// then the lines of the block in progress.
fn passed_records(r: &StateReader) -> Vec<u8> {
    let (range, lines) = r.passed();
    let bytes = std::fs::read(&r.path).unwrap();
    let mut out: Vec<u8> = bytes[range.start as usize..range.end as usize]
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"sum "))
        .flatten()
        .copied()
        .collect();
    out.extend_from_slice(lines);
    out
}

/// The state at `path`, opened and passed to its last record.
fn passed_all(path: &Path) -> StateReader {
    let mut r = StateReader::open(path, Some(&raw(b"o"))).unwrap().unwrap();
    while r.peek_line().is_some() {
        r.pass();
    }
    r
}

/// The record lines of `recs`, as a writer puts them.
fn record_lines(recs: &[(&[u8], Known)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, k) in recs {
        line::record(name, k, &mut out);
    }
    out
}

#[test]
fn passed_is_exactly_the_records_before_the_next_whatever_ends_them() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<Vec<u8>> = (0..7u8).map(|i| vec![b'a' + i]).collect();
    let recs: Vec<(&[u8], Known)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_slice(), known(i as u8, 1)))
        .collect();
    let mut end = Vec::new();
    line::seal(line::end(7, &blake3::hash(b"m")).as_bytes(), &mut end);
    let path = write_state(dir.path(), &recs, 1000, &end);
    let mut r = StateReader::open(&path, Some(&raw(b"o"))).unwrap().unwrap();
    let mut expected = Vec::new();
    for (name, k) in &recs {
        assert_eq!(passed_records(&r), expected);
        let mut line = Vec::new();
        line::record(name, k, &mut line);
        assert_eq!(r.peek_line(), Some(&line[..line.len() - 1]));
        r.pass();
        expected.extend_from_slice(&line);
    }
    assert_eq!(r.peek_line(), None);
    assert_eq!(passed_records(&r), expected);
    assert_eq!(r.problem(), None);

    // A block whose seal fails ends what passed at the block before it; a bad record in a
    // sealed block, at the record before it.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(2).position(|w| w == b" e").unwrap() + 1;
    bytes[at] = b'x';
    std::fs::write(&path, &bytes).unwrap();
    let r = passed_all(&path);
    assert!(r.problem().unwrap().contains("checksum mismatch"));
    assert_eq!(passed_records(&r), record_lines(&recs[..4]));
    let disordered: Vec<(&[u8], Known)> = vec![
        (b"a", known(1, 1)),
        (b"c", known(2, 1)),
        (b"b", known(3, 1)),
    ];
    let path = write_state(dir.path(), &disordered, 1000, b"");
    let r = passed_all(&path);
    assert!(r.problem().unwrap().contains("order"));
    assert_eq!(passed_records(&r), record_lines(&disordered[..2]));
}
