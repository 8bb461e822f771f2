//! One way a file differs from its spec entry, worded as `check` reports it (`mode 0755 →
//! 0644`, `type: link → file`, `link: v1 → v2`), values escaped for people.

use crate::hash::outcome::FileKind as Kind;
use crate::manifest::mtree::values::shown;
use crate::names::escape::display;

/// One way the file differs from its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    Type {
        spec: String,
        found: Kind,
    },
    Link {
        spec: Vec<u8>,
        found: Vec<u8>,
    },
    Mode {
        spec: u32,
        found: u32,
    },
    Uid {
        spec: u32,
        found: u32,
    },
    Gid {
        spec: u32,
        found: u32,
    },
    Size {
        spec: u64,
        found: u64,
    },
    Time {
        spec: String,
        found: (i64, u32),
    },
    Nlink {
        spec: u64,
        found: u64,
    },
    /// The device numbers (`st_rdev`) of a special file.
    Device {
        spec: u64,
        found: u64,
    },
    /// `uname` or `gname` (the keyword), the name in the spec and the one found.
    Owner {
        key: &'static str,
        spec: Vec<u8>,
        found: Option<Vec<u8>>,
    },
    /// A value b3tree cannot read (`mode=u+rw`, `size=x`): the entry cannot pass.
    Unreadable {
        key: String,
        value: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Type { spec, found } => {
                write!(f, "type: {} → {}", shown(spec), found.name())
            }
            Difference::Link { spec, found } => {
                write!(f, "link: {} → {}", display(spec), display(found))
            }
            Difference::Mode { spec, found } => write!(f, "mode {spec:04o} → {found:04o}"),
            Difference::Uid { spec, found } => write!(f, "uid {spec} → {found}"),
            Difference::Gid { spec, found } => write!(f, "gid {spec} → {found}"),
            Difference::Size { spec, found } => write!(f, "size {spec} → {found}"),
            Difference::Time { spec, found } => {
                write!(f, "time {} → {}.{:09}", shown(spec), found.0, found.1)
            }
            Difference::Nlink { spec, found } => write!(f, "nlink {spec} → {found}"),
            Difference::Device { spec, found } => {
                let numbers = |d: u64| format!("{},{}", rustix::fs::major(d), rustix::fs::minor(d));
                write!(f, "device {} → {}", numbers(*spec), numbers(*found))
            }
            Difference::Owner { key, spec, found } => match found {
                Some(found) => write!(f, "{key} {} → {}", display(spec), display(found)),
                None => write!(f, "{key} {} → an id with no name", display(spec)),
            },
            Difference::Unreadable { key, value } => {
                write!(f, "{}={}: not understood", shown(key), shown(value))
            }
        }
    }
}
