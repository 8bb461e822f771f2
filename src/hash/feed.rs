//! What the read paths (`whole`, `big`) feed a file's bytes to: a plain digester, or one that
//! also keeps the file's group values (`groups`). One trait, so that a file read for an
//! outboard takes the very paths — buffers, maps, checks — a plain digest takes.

use crate::hash::algo::Digester;

/// What the read paths feed a file's bytes to: a plain [`Digester`], or one that also keeps
/// the file's group values (`hash::groups`).
pub trait Feed {
    fn update(&mut self, bytes: &[u8]);
    /// [`Self::update`] over rayon's pool when `spread`.
    fn update_spread(&mut self, bytes: &[u8], spread: bool);
    /// Whether a big file may be hashed as independent subtrees instead (`hash::tree`),
    /// bypassing this feed.
    fn splits(&self) -> bool;
}

impl Feed for Digester {
    fn update(&mut self, bytes: &[u8]) {
        Digester::update(self, bytes);
    }

    fn update_spread(&mut self, bytes: &[u8], spread: bool) {
        Digester::update_spread(self, bytes, spread);
    }

    fn splits(&self) -> bool {
        true
    }
}
