//! The stat facts that identify one version of a file, as `hash --update` records them and
//! compares them (git's index keeps the same kind of facts, for the same reason): when size,
//! mtime, ctime and inode are all unchanged, the content is taken as unchanged — unless the
//! record was taken so close to a modification that a second one in the same timestamp tick
//! would leave them equal (the racy rule, [`Facts::trusted_against`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

    /// Whether a record of these facts, taken by a run that started at `started`, may be
    /// trusted later: both timestamps lie at least [`RACY_MARGIN`] before the start. A file
    /// modified during the run, or just before it, could be modified again within the same
    /// timestamp tick after we read it, leaving every fact equal; such a record is re-read
    /// next time (git's "racy clean" entries). Timestamps in the future are never trusted.
    pub fn trusted_against(&self, started: SystemTime) -> bool {
        let Some(limit) = started.checked_sub(RACY_MARGIN) else {
            return false;
        };
        let limit = to_pair(limit);
        self.mtime < limit && self.ctime < limit
    }
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
        }
    }

    #[test]
    fn the_racy_rule_distrusts_timestamps_near_or_after_the_start() {
        let start = UNIX_EPOCH + Duration::new(1_000_000, 500_000_000);
        // Well before: trusted.
        assert!(facts((999_990, 0), (999_990, 0)).trusted_against(start));
        // 2 s before to the nanosecond is still racy; one ns earlier is not.
        assert!(!facts((999_998, 500_000_000), (0, 0)).trusted_against(start));
        assert!(facts((999_998, 499_999_999), (999_998, 499_999_999)).trusted_against(start));
        // Within the margin, during the run, or in the future: racy.
        assert!(!facts((999_999, 900_000_000), (1, 0)).trusted_against(start));
        assert!(!facts((1_000_100, 0), (1, 0)).trusted_against(start));
        // An mtime set back by `touch -d` does not help: the ctime is recent.
        assert!(!facts((5, 0), (1_000_000, 0)).trusted_against(start));
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
    fn times_before_the_epoch_keep_their_order() {
        assert_eq!(
            to_pair(UNIX_EPOCH - Duration::new(1, 250)),
            (-2, 999_999_750)
        );
        assert_eq!(to_pair(UNIX_EPOCH - Duration::new(3, 0)), (-3, 0));
    }
}
