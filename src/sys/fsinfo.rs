//! What the walk asks of a directory just before it descends into it: is it still a
//! directory, which file is it (device, inode), is it the root of a mount, and may the inode
//! numbers of its filesystem's listings be compared with those of `stat` at all.
//!
//! Why the last question: `readdir` returns an inode number per name (`d_ino`) and the walk
//! compares it with the directory it then opens, to see a directory swapped after its parent
//! was listed. Most filesystems keep the two equal; FUSE filesystems (sshfs) need not, nor
//! do overlayfs (without `xino`), 9p and SMB. There, a difference says nothing about a swap.

use std::path::Path;

/// A directory as it is now (`statx`, symlinks not followed).
#[derive(Debug, Clone, Copy)]
pub struct DirNow {
    pub dev: u64,
    pub ino: u64,
    /// The root of a mount (`STATX_ATTR_MOUNT_ROOT`): a bind mount shows the inode of its
    /// source, not the one its parent's listing gave; false where the kernel cannot tell.
    pub mount_root: bool,
}

/// The directory at `path` now: Ok(None) when it is no directory any more (a symlink, a
/// file), Err when it cannot be stat'ed (gone).
pub fn dir_now(path: &Path) -> std::io::Result<Option<DirNow>> {
    use rustix::fs::{AtFlags, CWD, FileType, StatxAttributes, StatxFlags};
    let st = rustix::fs::statx(
        CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT,
        StatxFlags::TYPE | StatxFlags::INO,
    )?;
    if FileType::from_raw_mode(u32::from(st.stx_mode)) != FileType::Directory {
        return Ok(None);
    }
    Ok(Some(DirNow {
        dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mount_root: st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
            && st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT),
    }))
}

/// FUSE (sshfs, rclone, s3fs, mergerfs, virtiofs…), 9p and SMB: their inode numbers are
/// what a daemon or client makes of the server's, not the filesystem's own.
const CLIENT_INODES: [i64; 5] = [
    FUSE_MAGIC,
    0x0102_1997, // 9p
    0xff53_4d42, // CIFS
    0xfe53_4d42, // SMB2
    0x517b,      // SMB
];

const OVERLAYFS_MAGIC: i64 = 0x794c_7630;
const NFS_MAGIC: i64 = 0x6969;

/// Filesystems whose directory listings may give other inode numbers than `stat` does:
/// [`CLIENT_INODES`] and overlayfs (without `xino`).
fn listing_inodes_differ(f_type: i64) -> bool {
    CLIENT_INODES.contains(&f_type) || f_type == OVERLAYFS_MAGIC
}

/// Whether the inode numbers of listings in the filesystem holding `path` may be compared
/// with `stat`'s (true when it cannot be told).
// `f_type` is i64 here, i32 or u32 on other targets.
#[allow(clippy::unnecessary_cast)]
pub fn listing_inodes_trusted(path: &Path) -> bool {
    match rustix::fs::statfs(path) {
        Ok(fs) => !listing_inodes_differ(fs.f_type as i64),
        Err(_) => true,
    }
}

const FUSE_MAGIC: i64 = 0x6573_5546;

/// Whether `path` is on a FUSE filesystem (sshfs, rclone, s3fs…): one daemon serves every
/// request, so requests beyond the few it handles at once only wait in its queue.
#[allow(clippy::unnecessary_cast)]
pub fn is_fuse(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|fs| fs.f_type as i64 == FUSE_MAGIC)
}

/// A filesystem's identity that survives a remount: `f_fsid` of `statfs`, which ext4, XFS and
/// btrfs derive from the filesystem's UUID (so two images mounted one after the other at
/// one path differ, and one image mounted again is the same). Where a filesystem reports
/// none (0), the device number stands in, tagged so that it never equals an fsid: a remount
/// of such a filesystem then changes it, which costs a read, never a wrong digest.
/// `probe` is asked only the first time a thread meets device `dev`.
pub fn fs_identity(dev: u64, probe: impl FnOnce() -> Option<u64>) -> Option<u64> {
    use std::cell::Cell;
    thread_local! {
        /// (device, identity) of the last filesystem this thread asked about.
        static LAST: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
    }
    if let Some((d, id)) = LAST.get() {
        if d == dev {
            return Some(id);
        }
    }
    let id = match probe()? {
        0 => NO_FSID | (dev & !NO_FSID),
        fsid => fsid & !NO_FSID,
    };
    LAST.set(Some((dev, id)));
    Some(id)
}

/// The bit that marks an identity taken from the device number (see [`fs_identity`]).
const NO_FSID: u64 = 1 << 63;

/// `f_fsid` of the filesystem holding `file`.
pub fn fsid_of(file: &std::fs::File) -> rustix::io::Result<u64> {
    rustix::fs::fstatvfs(file).map(|v| v.f_fsid)
}

/// Filesystems whose inode numbers may repeat under one device, or be made up by a client
/// ([`CLIENT_INODES`]: mergerfs, bindfs, CIFS with `noserverino`; and NFS, of a btrfs
/// export): no two names there are taken for one file by their (device, inode).
fn inodes_may_repeat(f_type: i64) -> bool {
    CLIENT_INODES.contains(&f_type) || f_type == NFS_MAGIC
}

/// Whether the filesystem holding `file` gives every file its own inode number (see
/// [`inodes_may_repeat`]).
#[allow(clippy::unnecessary_cast)]
fn inodes_unique(file: &std::fs::File) -> Option<bool> {
    let fs = rustix::fs::fstatfs(file).ok()?;
    Some(!inodes_may_repeat(fs.f_type as i64))
}

/// `STATX_MNT_ID_UNIQUE` (Linux 6.8): a mount ID never reused while the system runs.
const STATX_MNT_ID_UNIQUE: u32 = 0x4000;

/// Where an open file lives, beyond its (device, inode): the mount it was opened on and its
/// birth time, so that two files are taken for one only on one mount of one filesystem,
/// even when a device number is reused by another filesystem mounted during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Home {
    /// `STATX_MNT_ID_UNIQUE` where the kernel has it, else the mount ID and `f_fsid`.
    pub mount: u64,
    pub fsid: u64,
    /// Birth time (0, 0 where the filesystem records none).
    pub btime: (i64, u32),
}

/// The [`Home`] of `file`; None on a filesystem whose inode numbers cannot be trusted to
/// tell files apart ([`inodes_may_repeat`]), or when the kernel cannot say.
pub fn home_of(file: &std::fs::File) -> Option<Home> {
    use rustix::fs::{AtFlags, StatxFlags};
    use std::cell::Cell;
    thread_local! {
        /// The last never-reused mount this thread asked about, and whether its inode
        /// numbers are trusted: one `statx` per file then, no `fstatfs`.
        static LAST: Cell<Option<(u64, bool)>> = const { Cell::new(None) };
    }
    let want =
        StatxFlags::MNT_ID | StatxFlags::BTIME | StatxFlags::from_bits_retain(STATX_MNT_ID_UNIQUE);
    let st = rustix::fs::statx(file, "", AtFlags::EMPTY_PATH, want).ok()?;
    let unique = st.stx_mask & STATX_MNT_ID_UNIQUE != 0;
    if !unique && st.stx_mask & StatxFlags::MNT_ID.bits() == 0 {
        return None;
    }
    let trusted = match LAST.get() {
        Some((mount, trusted)) if unique && mount == st.stx_mnt_id => trusted,
        _ => {
            let trusted = inodes_unique(file)?;
            if unique {
                LAST.set(Some((st.stx_mnt_id, trusted)));
            }
            trusted
        }
    };
    if !trusted {
        return None;
    }
    // A mount ID that may be reused after an unmount is paired with the filesystem's own
    // identity (its UUID on ext4, XFS, btrfs).
    let fsid = if unique { 0 } else { fsid_of(file).ok()? };
    let btime = if st.stx_mask & StatxFlags::BTIME.bits() != 0 {
        (st.stx_btime.tv_sec, st.stx_btime.tv_nsec)
    } else {
        (0, 0)
    };
    Some(Home {
        mount: st.stx_mnt_id,
        fsid,
        btime,
    })
}
