//! How an entry ends: a digest, an error record or a skip — and what the walker or a
//! manifest reader asks the pipeline to do with an entry ([`Action`]).
//!
//! These types sit below the pipeline: the hasher produces them, the walker and the
//! reports use them, and the pipeline only carries them.

use std::fmt;

use crate::hash::algo::Digest;

/// What the workers do with a job.
#[derive(Debug)]
pub enum Action {
    /// Open, read and hash the file.
    Hash,
    /// Read a FIFO or device named on the command line as a stream, to its end (as b3sum
    /// and cat do); never for what a walk or a manifest finds.
    HashStream,
    /// `hash --update`: reuse the recorded digest if the file's stat facts still match,
    /// else hash. The record's text ([`crate::hash::facts::Known::parse_text`]) is parsed by
    /// the worker, on every core, not by the walk's one thread.
    Refresh(Box<[u8]>),
    /// A tree spec's entry (`hash --format mtree`, `check` of a spec): what the entry is,
    /// not followed (`lstat`, and the target of a link); a regular file is read as said.
    Describe(Content),
    /// The source already knows the outcome (a walk error, a FIFO, a refused manifest line);
    /// it still travels in order so the output stays canonical.
    Report(Outcome),
}

/// What [`Action::Describe`] does with a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Hash it in the run's mode (`hash --format mtree`).
    Run,
    /// Hash it with this algorithm (a spec entry's digest names its own).
    With(crate::hash::algo::Algo),
    /// Do not read it (a spec entry with no digest): described as a file.
    Unread,
}

/// How an entry ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Hashed {
        hash: Digest,
        size: u64,
    },
    /// An entry that is not a regular file, as [`Action::Describe`] found it (its mode and
    /// owner in the `Done`'s facts).
    Described {
        kind: FileKind,
        /// A link's target, as stored.
        link: Option<Box<[u8]>>,
    },
    Failed(EntryError),
    Skipped(SkipKind),
}

/// An error record: an entry that should have been hashed and was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub kind: ErrorKind,
    /// Details (usually the OS error text).
    pub detail: String,
}

impl EntryError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        EntryError {
            kind,
            detail: detail.into(),
        }
    }

    pub fn from_io(kind: ErrorKind, err: &std::io::Error) -> Self {
        // Strip std's " (os error N)" suffix: the text is what users need.
        let text = err.to_string();
        let text = match text.find(" (os error") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        EntryError::new(kind, text)
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}", self.kind.as_str())
        } else {
            write!(f, "{}: {}", self.kind.as_str(), self.detail)
        }
    }
}

/// Error classes callers branch on (exit codes, check statuses, JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file does not exist (named on the command line or in a manifest).
    Missing,
    /// Listed by the walk, gone when opened.
    Vanished,
    /// Permission denied or another I/O error on open/read.
    Unreadable,
    /// A directory could not be listed: its contents are unknown.
    UnreadableDir,
    /// Size, mtime, ctime or inode changed, or the bytes read differ from the size.
    Changed,
    /// With `--follow`: a symlink leads back to one of its ancestors.
    SymlinkLoop,
    /// Not a regular file (a manifest names a FIFO, device, directory...).
    NotRegular,
    /// A manifest path that leads outside the root.
    Outside,
    /// A name whose manifest line would be longer than `check` reads (`manifest::MAX_LINE`).
    NameTooLong,
    /// The run was interrupted before this entry was done.
    Cancelled,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Missing => "missing",
            ErrorKind::Vanished => "vanished",
            ErrorKind::Unreadable => "unreadable",
            ErrorKind::UnreadableDir => "unreadable directory",
            ErrorKind::Changed => "changed while hashing",
            ErrorKind::SymlinkLoop => "symlink loop",
            ErrorKind::NotRegular => "not a regular file",
            ErrorKind::Outside => "outside the root",
            ErrorKind::NameTooLong => "name too long for a manifest line",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// A file's type, as mtree names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Link,
    Fifo,
    Socket,
    Char,
    Block,
}

impl FileKind {
    pub const ALL: [FileKind; 7] = [
        FileKind::File,
        FileKind::Dir,
        FileKind::Link,
        FileKind::Fifo,
        FileKind::Socket,
        FileKind::Char,
        FileKind::Block,
    ];

    /// The `type=` value.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Link => "link",
            FileKind::Fifo => "fifo",
            FileKind::Socket => "socket",
            FileKind::Char => "char",
            FileKind::Block => "block",
        }
    }

    /// The kind of `type=VALUE`.
    pub fn parse(value: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.name() == value)
    }

    /// The kind of an `st_mode`.
    pub fn of_mode(mode: u32) -> Option<FileKind> {
        Some(match mode & libc::S_IFMT {
            libc::S_IFREG => FileKind::File,
            libc::S_IFDIR => FileKind::Dir,
            libc::S_IFLNK => FileKind::Link,
            libc::S_IFIFO => FileKind::Fifo,
            libc::S_IFSOCK => FileKind::Socket,
            libc::S_IFCHR => FileKind::Char,
            libc::S_IFBLK => FileKind::Block,
            _ => return None,
        })
    }
}

/// Entries that are deliberately not hashed, counted and reported, never silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipKind {
    Fifo,
    Socket,
    Device,
    /// A symlink not followed (no `--follow`).
    Symlink,
    /// The output of this run (`-o FILE`, or the file stdout is redirected to).
    OwnOutput,
    /// A temporary file of a b3tree run (`.b3tree-*.tmp`): a manifest being written.
    OwnTemp,
    Other,
}

impl SkipKind {
    /// Every kind, in the order summaries list them.
    pub const ALL: [SkipKind; 7] = [
        SkipKind::Symlink,
        SkipKind::Fifo,
        SkipKind::Socket,
        SkipKind::Device,
        SkipKind::Other,
        SkipKind::OwnOutput,
        SkipKind::OwnTemp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipKind::Fifo => "fifo",
            SkipKind::Socket => "socket",
            SkipKind::Device => "device",
            SkipKind::Symlink => "symlink",
            SkipKind::OwnOutput => "own output",
            SkipKind::OwnTemp => "b3tree temporary file",
            SkipKind::Other => "special file",
        }
    }

    /// Classifies a file type that is neither a regular file nor a directory.
    pub fn of(ft: std::fs::FileType) -> SkipKind {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_symlink() {
            SkipKind::Symlink
        } else if ft.is_fifo() {
            SkipKind::Fifo
        } else if ft.is_socket() {
            SkipKind::Socket
        } else if ft.is_block_device() || ft.is_char_device() {
            SkipKind::Device
        } else {
            SkipKind::Other
        }
    }
}
