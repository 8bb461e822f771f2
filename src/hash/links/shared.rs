//! What a run's hard links shared, as its closing line and JSON summary say it.

/// What the run shared: names given the digest of an inode read once, and those inodes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    /// Names of inodes read under one name and given to at least one other (the name read
    /// counts too).
    pub names: u64,
    /// Those inodes.
    pub inodes: u64,
    /// The bytes the names given a digest did not read.
    pub bytes: u64,
}

impl Shared {
    /// Counts an inode's names, if any was given another's digest.
    pub(super) fn add(&mut self, names: u64, given: u64, given_bytes: u64) {
        if given > 0 {
            self.names += names;
            self.inodes += 1;
            self.bytes += given_bytes;
        }
    }

    /// `, 24000 names shared 3000 inodes` for a closing line (empty when none were).
    pub fn phrase(&self) -> String {
        match self.inodes {
            0 => String::new(),
            n => format!(
                ", {} names shared {n} {} (hard links, read once)",
                self.names,
                if n == 1 { "inode" } else { "inodes" }
            ),
        }
    }

    /// The `--json` summaries' `hard_links` object.
    pub fn record(&self) -> crate::record::HardLinks {
        crate::record::HardLinks {
            names: self.names,
            inodes: self.inodes,
        }
    }
}
