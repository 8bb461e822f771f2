//! The `/set` keywords of a spec in force, and an entry's keywords overlaid on them. Kept
//! apart from the reader because they are where a hostile spec attacks its cost: one line
//! of many keywords must cost time in proportion to it (not to its square), and since every
//! later entry carries a copy of the defaults, they are bounded.

use std::collections::{HashMap, HashSet};

/// `/set` keywords in force at most (real specs set fewer than ten).
const MAX_DEFAULTS: usize = 1000;
/// ... and at most this many bytes of them (each entry carries a copy).
const MAX_DEFAULT_BYTES: usize = 64 << 10;

/// The defaults, in the order first set, and where each key is in that list.
#[derive(Default)]
pub struct Defaults {
    list: Vec<(String, String)>,
    at: HashMap<String, usize>,
}

impl Defaults {
    /// `/set`: each key's new default (a key set again keeps its place). More than
    /// [`MAX_DEFAULTS`] keywords or [`MAX_DEFAULT_BYTES`] would make each later entry cost
    /// time and memory in proportion to them (one 4 MiB `/set` line, then a million
    /// entries): such a spec is refused.
    pub fn set(&mut self, pairs: Vec<(String, String)>) -> Result<(), String> {
        for (k, v) in pairs {
            match self.at.get(&k) {
                Some(&at) => self.list[at].1 = v,
                None if self.list.len() >= MAX_DEFAULTS => {
                    return Err(format!(
                        "`/set` of more than {MAX_DEFAULTS} keywords in force (a spec's \
                         defaults are a handful): not a spec b3tree reads"
                    ));
                }
                None => {
                    self.at.insert(k.clone(), self.list.len());
                    self.list.push((k, v));
                }
            }
        }
        let bytes: usize = self.list.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        if bytes > MAX_DEFAULT_BYTES {
            return Err(format!(
                "`/set` of more than {} KiB of keywords in force (a spec's defaults are a \
                 handful): not a spec b3tree reads",
                MAX_DEFAULT_BYTES / 1024
            ));
        }
        Ok(())
    }

    /// `/unset KEY…` (`all`: every default).
    pub fn unset<'a>(&mut self, words: impl Iterator<Item = &'a [u8]>) {
        let gone: HashSet<&[u8]> = words.collect();
        if gone.contains(&b"all"[..]) {
            self.list.clear();
        } else {
            self.list.retain(|(k, _)| !gone.contains(k.as_bytes()));
        }
        self.at = (self.list.iter().enumerate())
            .map(|(at, (k, _))| (k.clone(), at))
            .collect();
    }

    /// The defaults as (key, value).
    pub fn pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.list.iter()
    }

    /// An entry's keywords in force, as `key=value` words joined by spaces: the defaults it
    /// does not override, then its `own` (a key given twice on its line: the last holds).
    pub fn overlaid(&self, own: &[(String, String)]) -> String {
        let mut text = String::new();
        // A real entry has a few keywords, scanned; a line of thousands, mapped.
        let map: Option<HashMap<&str, usize>> = (own.len() > 32).then(|| {
            (own.iter().enumerate())
                .map(|(i, (k, _))| (k.as_str(), i))
                .collect()
        });
        let last = |key: &str| match &map {
            Some(map) => map.get(key).copied(),
            None => own.iter().rposition(|(k, _)| k == key),
        };
        for (k, v) in &self.list {
            if last(k).is_none() {
                push_pair(&mut text, k, v);
            }
        }
        for (i, (k, v)) in own.iter().enumerate() {
            if last(k) == Some(i) {
                push_pair(&mut text, k, v);
            }
        }
        text
    }
}

/// Appends `k=v` (or a bare `k`) to `text`, space-separated.
pub fn push_pair(text: &mut String, k: &str, v: &str) {
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(k);
    if !v.is_empty() {
        text.push('=');
        text.push_str(v);
    }
}
