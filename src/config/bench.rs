//! `bench`'s flags that its sweep and exports read, resolved once: the cache state to
//! prepare before each run, the runs per setting, the batch size, the progress bar.

use crate::cli::{BenchArgs, CacheMode};

/// The page cache's state before each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// As it is (a warm-up run fills it).
    Warm,
    /// The tree's file pages evicted (posix_fadvise DONTNEED).
    Cold,
    /// Synced, then every clean page, dentry and inode dropped (root only).
    Drop,
}

impl Cache {
    /// As the flag and the JSON export name it.
    pub fn name(self) -> &'static str {
        match self {
            Cache::Warm => "warm",
            Cache::Cold => "cold",
            Cache::Drop => "drop",
        }
    }

    /// As the table and the plot say it.
    pub fn label(self) -> &'static str {
        match self {
            Cache::Warm => "warm cache",
            Cache::Cold => "cold cache: file pages evicted",
            Cache::Drop => "cold cache: all caches dropped",
        }
    }
}

/// What a sweep does besides its settings.
#[derive(Debug, Clone, Copy)]
pub struct SweepSettings {
    pub cache: Cache,
    /// Timed runs per setting (after one warm-up).
    pub repeat: usize,
    pub batch: u32,
    /// A progress bar, when stderr is a terminal.
    pub progress: bool,
}

/// Resolves `args`; `stderr_terminal`: whether stderr is a terminal.
pub fn sweep(args: &BenchArgs, stderr_terminal: bool) -> SweepSettings {
    SweepSettings {
        cache: match args.cache {
            CacheMode::Warm => Cache::Warm,
            CacheMode::Cold => Cache::Cold,
            CacheMode::Drop => Cache::Drop,
        },
        repeat: args.repeat as usize,
        batch: args.batch,
        progress: !args.no_progress && stderr_terminal,
    }
}
