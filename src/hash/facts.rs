//! The stat facts that identify one version of a file, as `hash --update` records them and
//! compares them (git's index keeps the same kind of facts, for the same reason): when size,
//! mtime, ctime and inode are all unchanged, the content is taken as unchanged — unless the
//! record was taken so close to a modification that a second one in the same timestamp tick
//! would leave them equal (the racy rule, [`trusted_times`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::hash::algo::hex_digit;

/// A file's identifying stat facts. The device is recorded but not compared: a remount
/// (or a reboot for some filesystems) changes it while the file stays what it was. The
/// filesystem's identity is compared: another filesystem mounted at the same path can hold a
/// file with every other fact equal (see `sys::fsinfo::fs_identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub size: u64,
    /// Modification time: seconds since the epoch (may be negative) and nanoseconds.
    pub mtime: (i64, u32),
    /// Status-change time, which no user call can set back.
    pub ctime: (i64, u32),
    pub ino: u64,
    pub dev: u64,
    /// The filesystem's identity (its `f_fsid`, or the device where it has none); 0: unknown,
    /// never the same as anything.
    pub fs: u64,
    /// What a tree spec records beside the digest; not part of a version's identity (a chmod
    /// changes the ctime anyway) and not kept in `--update`'s state (zero when read from it).
    pub meta: Meta,
}

/// The stat fields a tree spec (mtree) records: the type and permission bits, owner and
/// link count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    /// `st_rdev`: the device a character or block special file stands for.
    pub rdev: u64,
}

/// How far before a run's start an mtime or ctime must lie for the record to be trusted:
/// FAT's 2 s granularity covers every filesystem's timestamp tick (kernel clock ticks are
/// 1–10 ms) and the coarse clock the kernel stamps files with.
pub const RACY_MARGIN: Duration = Duration::from_secs(2);

impl Facts {
    /// The same file, unchanged: every compared fact equal (not the device), on the same
    /// filesystem.
    pub fn same_version(&self, now: &Facts) -> bool {
        self.fs != 0
            && self.fs == now.fs
            && self.size == now.size
            && self.mtime == now.mtime
            && self.ctime == now.ctime
            && self.ino == now.ino
    }
}

/// Whether a record with these times, taken by a run that started at `started`, may be
/// trusted later: both lie at least [`RACY_MARGIN`] before the start. A file modified during
/// the run, or just before it, could be modified again within the same timestamp tick after
/// we read it, leaving every fact equal; such a record is re-read next time (git's "racy
/// clean" entries). Timestamps in the future are never trusted.
pub fn trusted_times(mtime: (i64, u32), ctime: (i64, u32), started: SystemTime) -> bool {
    let Some(limit) = started.checked_sub(RACY_MARGIN) else {
        return false;
    };
    let limit = to_pair(limit);
    mtime < limit && ctime < limit
}

/// A time as (seconds, nanoseconds) since the epoch, as stat gives it.
pub fn to_pair(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

/// What a state file knows of an entry: its facts when it was read, and its digest then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub facts: Facts,
    pub hash: crate::hash::algo::Digest,
}

/// The text of a [`Known`]: `HASH SIZE MTIME CTIME INO DEV FS` (times as
/// `SECONDS.NANOSECONDS` with nine digits of nanoseconds, FS in hex), as a state record
/// holds it before the name. Written and read by hand (itoa, a digit loop): `--update` of a
/// million files writes and reads a million of them (the reads on the workers, the writes
/// on the thread that gathers the outcomes).
impl Known {
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let f = &self.facts;
        let mut num = itoa::Buffer::new();
        self.hash.push_hex(out);
        out.push(b' ');
        out.extend_from_slice(num.format(f.size).as_bytes());
        for (s, ns) in [f.mtime, f.ctime] {
            out.push(b' ');
            out.extend_from_slice(num.format(s).as_bytes());
            out.push(b'.');
            let nanos = num.format(ns);
            out.extend(std::iter::repeat_n(
                b'0',
                9usize.saturating_sub(nanos.len()),
            ));
            out.extend_from_slice(nanos.as_bytes());
        }
        for n in [f.ino, f.dev] {
            out.push(b' ');
            out.extend_from_slice(num.format(n).as_bytes());
        }
        out.push(b' ');
        push_lower_hex(f.fs, out);
    }

    /// Parses what [`Self::write_text`] wrote (strictly: no signs but a time's `-`, no
    /// spaces but one between fields).
    pub fn parse_text(text: &[u8]) -> Option<Known> {
        let mut fields = text.split(|&b| b == b' ');
        let hash = crate::hash::algo::Digest::from_hex(fields.next()?)?;
        let size = parse_decimal(fields.next()?)?;
        let mtime = parse_time(fields.next()?)?;
        let ctime = parse_time(fields.next()?)?;
        let ino = parse_decimal(fields.next()?)?;
        let dev = parse_decimal(fields.next()?)?;
        let fs = hex(fields.next()?)?;
        if fields.next().is_some() {
            return None;
        }
        let facts = Facts {
            size,
            mtime,
            ctime,
            ino,
            dev,
            fs,
            meta: Meta::default(),
        };
        Some(Known { facts, hash })
    }
}

/// The mtime and ctime of a [`Known`]'s text, for the racy rule, without reading the rest.
pub fn text_times(text: &[u8]) -> Option<((i64, u32), (i64, u32))> {
    let mut fields = text.split(|&b| b == b' ').skip(2);
    Some((parse_time(fields.next()?)?, parse_time(fields.next()?)?))
}

fn push_lower_hex(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Decimal digits only (at least one), no overflow (no sign, no spaces).
pub fn parse_decimal(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    field.iter().try_fold(0u64, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Hex digits only (at least one, either case), no overflow.
fn hex(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 16 {
        return None;
    }
    field
        .iter()
        .try_fold(0u64, |n, &b| Some(n << 4 | u64::from(hex_digit(b)?)))
}

/// `SECONDS.NANOSECONDS`: seconds may be negative, exactly nine digits of nanoseconds.
pub fn parse_time(field: &[u8]) -> Option<(i64, u32)> {
    let dot = field.iter().position(|&b| b == b'.')?;
    let (s, ns) = (&field[..dot], &field[dot + 1..]);
    let secs = match s.strip_prefix(b"-") {
        Some(abs) => 0i64.checked_sub_unsigned(parse_decimal(abs)?)?,
        None => i64::try_from(parse_decimal(s)?).ok()?,
    };
    if ns.len() != 9 {
        return None;
    }
    let nanos = u32::try_from(parse_decimal(ns)?).ok()?;
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(mtime: (i64, u32), ctime: (i64, u32)) -> Facts {
        Facts {
            size: 1,
            mtime,
            ctime,
            ino: 7,
            dev: 1,
            fs: 5,
            meta: Meta::default(),
        }
    }

    #[test]
    fn the_racy_rule_distrusts_timestamps_near_or_after_the_start() {
        let start = UNIX_EPOCH + Duration::new(1_000_000, 500_000_000);
        // Well before: trusted.
        assert!(trusted_times((999_990, 0), (999_990, 0), start));
        // 2 s before to the nanosecond is still racy; one ns earlier is not.
        assert!(!trusted_times((999_998, 500_000_000), (0, 0), start));
        assert!(trusted_times(
            (999_998, 499_999_999),
            (999_998, 499_999_999),
            start
        ));
        // Within the margin, during the run, or in the future: racy.
        assert!(!trusted_times((999_999, 900_000_000), (1, 0), start));
        assert!(!trusted_times((1_000_100, 0), (1, 0), start));
        // An mtime set back by `touch -d` does not help: the ctime is recent.
        assert!(!trusted_times((5, 0), (1_000_000, 0), start));
    }

    #[test]
    fn same_version_ignores_the_device_only() {
        let a = facts((10, 1), (10, 2));
        assert!(a.same_version(&Facts { dev: 99, ..a }));
        assert!(!a.same_version(&Facts { size: 2, ..a }));
        assert!(!a.same_version(&Facts {
            mtime: (10, 2),
            ..a
        }));
        assert!(!a.same_version(&Facts {
            ctime: (10, 3),
            ..a
        }));
        assert!(!a.same_version(&Facts { ino: 8, ..a }));
        // Another filesystem at the same path, or one whose identity is unknown.
        assert!(!a.same_version(&Facts { fs: 6, ..a }));
        assert!(!Facts { fs: 0, ..a }.same_version(&Facts { fs: 0, ..a }));
    }

    #[test]
    fn the_text_of_a_known_round_trips_and_is_read_strictly() {
        let known = Known {
            facts: Facts {
                size: u64::MAX,
                mtime: (i64::MIN, 999_999_999),
                ctime: (-3, 5),
                ino: 0,
                dev: 2049,
                fs: 0x8000_0000_0000_0a01,
                meta: Meta::default(),
            },
            hash: crate::hash::algo::Digest::Bytes(vec![0xab; 7].into_boxed_slice()),
        };
        let mut text = Vec::new();
        known.write_text(&mut text);
        assert_eq!(
            String::from_utf8_lossy(&text),
            "ababababababab 18446744073709551615 -9223372036854775808.999999999 \
             -3.000000005 0 2049 8000000000000a01"
        );
        assert_eq!(Known::parse_text(&text), Some(known.clone()));
        assert_eq!(text_times(&text), Some(((i64::MIN, 999_999_999), (-3, 5))));
        let good = String::from_utf8(text).unwrap();
        for bad in [
            good.replace(" 0 ", " +0 "),
            good.replace(" 0 ", "  0 "),
            good.replace(".000000005", ".5"),
            good.replace(" 2049", " 2049x"),
            good.replace("18446744073709551615", "18446744073709551616"),
            good.replace("8000000000000a01", "18000000000000a01"),
            good.replace("-3.", "--3."),
            format!("{good} extra"),
            good[..good.len() - 1].to_string() + " ",
        ] {
            assert_eq!(Known::parse_text(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn times_before_the_epoch_keep_their_order() {
        assert_eq!(
            to_pair(UNIX_EPOCH - Duration::new(1, 250)),
            (-2, 999_999_750)
        );
        assert_eq!(to_pair(UNIX_EPOCH - Duration::new(3, 0)), (-3, 0));
    }
}
