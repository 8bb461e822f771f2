//! Names a `NameSet` let go of, read again from where they came.
//!
//! Ten million manifest entries as 24-byte fingerprints are 240 MB; `check` needs them only
//! to find repeated names and, for `--audit`, to tell a walked file listed or not. When the
//! names arrive in canonical order — as `hash` writes them — both work from the stream itself:
//! a repeat sits next to its first, and the walk (in the same order) is merged with a second
//! sequential read of the manifests. So past a bound the set keeps no fingerprints, only the
//! order and a digest of every name and place it was given; what it reads again must give
//! that digest, or the run says the manifest changed under it (never a wrong verdict).

use std::cmp::Ordering;
use std::io;

use super::order::canonical_cmp;

/// Where a name was listed: manifest index and line number.
pub type Location = (u32, u64);

/// A source of the names a set was given, read again in the same order.
pub trait Reread: Send {
    /// A fresh pass from the first name.
    fn open(&self) -> io::Result<Box<dyn NameStream>>;
}

/// One pass over the names: each in normal form, with where it was listed.
pub trait NameStream: Send {
    /// The next name into `name` (cleared first) and its place; None at the end.
    fn next_into(&mut self, name: &mut Vec<u8>) -> io::Result<Option<Location>>;
}

/// What a set remembers of the stream it was given: how many names, a digest of them and
/// their places, and whether they came in strictly increasing canonical order.
pub struct Tally {
    pub count: u64,
    digest: blake3::Hasher,
    pub ordered: bool,
    last: Vec<u8>,
    /// Where `last` was listed first.
    last_at: Location,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            count: 0,
            digest: blake3::Hasher::new(),
            ordered: true,
            last: Vec::new(),
            last_at: (0, 0),
        }
    }
}

impl Tally {
    /// Takes the next name; a repeat of the one before returns where that was listed first.
    pub fn add(&mut self, norm: &[u8], at: Location) -> Option<Location> {
        mix(&mut self.digest, norm, at);
        self.count += 1;
        let order = match self.count {
            1 => Ordering::Greater,
            _ => canonical_cmp(norm, &self.last),
        };
        match order {
            Ordering::Greater => {
                self.last.clear();
                self.last.extend_from_slice(norm);
                self.last_at = at;
                None
            }
            Ordering::Equal => Some(self.last_at),
            Ordering::Less => {
                self.ordered = false;
                None
            }
        }
    }

    /// The digest of what was added.
    pub fn digest(&self) -> blake3::Hash {
        self.digest.finalize()
    }
}

fn mix(h: &mut blake3::Hasher, norm: &[u8], at: Location) {
    h.update(&(norm.len() as u64).to_le_bytes());
    h.update(norm);
    h.update(&at.0.to_le_bytes());
    h.update(&at.1.to_le_bytes());
}

/// A pass over the names read again, checked against the [`Tally`] of the first: it yields
/// at most as many names as the first pass had, and at its end their digest must match.
pub struct Checked {
    stream: Box<dyn NameStream>,
    left: u64,
    digest: blake3::Hasher,
    want: blake3::Hash,
}

/// Why a second read cannot be trusted.
pub const CHANGED: &str = "the manifest changed during the run (its names read again differ)";

impl Checked {
    pub fn open(reread: &dyn Reread, tally: &Tally) -> io::Result<Checked> {
        Ok(Checked {
            stream: reread.open()?,
            left: tally.count,
            digest: blake3::Hasher::new(),
            want: tally.digest(),
        })
    }

    /// The next name; at the end, an error if the names were not the first pass's.
    pub fn next_into(&mut self, name: &mut Vec<u8>) -> io::Result<Option<Location>> {
        if self.left == 0 {
            return match self.digest.finalize() == self.want {
                true => Ok(None),
                false => Err(io::Error::other(CHANGED)),
            };
        }
        match self.stream.next_into(name)? {
            Some(at) => {
                self.left -= 1;
                mix(&mut self.digest, name, at);
                Ok(Some(at))
            }
            None => Err(io::Error::other(CHANGED)),
        }
    }
}

/// `contains` over names in canonical order that are not kept: a cursor over the names read
/// again, moved forward as the walk asks for names in the same order (asked out of order, it
/// starts over: slower, never wrong).
pub struct Cursor {
    pass: Option<Checked>,
    /// The name the cursor stands on (None: before the first, or past the end).
    here: Option<Vec<u8>>,
    ended: bool,
    asked: Vec<u8>,
    pub error: Option<String>,
}

impl Cursor {
    pub fn new() -> Cursor {
        Cursor {
            pass: None,
            here: None,
            ended: false,
            asked: Vec::new(),
            error: None,
        }
    }

    /// Whether `norm` is among the names `reread` gives (checked against `tally`); None
    /// when that cannot be told: a read error, kept in `error` (every later call is None).
    pub fn contains(&mut self, norm: &[u8], reread: &dyn Reread, tally: &Tally) -> Option<bool> {
        if self.error.is_some() {
            return None;
        }
        let restart = self.pass.is_none()
            || (!self.asked.is_empty() && canonical_cmp(norm, &self.asked) != Ordering::Greater);
        self.asked.clear();
        self.asked.extend_from_slice(norm);
        if restart {
            match Checked::open(reread, tally) {
                Ok(pass) => self.pass = Some(pass),
                Err(e) => return self.failed(e),
            }
            self.here = None;
            self.ended = false;
        }
        loop {
            if let Some(here) = &self.here {
                match canonical_cmp(here, norm) {
                    Ordering::Equal => return Some(true),
                    Ordering::Greater => return Some(false),
                    Ordering::Less => {}
                }
            }
            if self.ended {
                return Some(false);
            }
            let mut name = self.here.take().unwrap_or_default();
            match self.pass.as_mut().map(|p| p.next_into(&mut name)) {
                Some(Ok(Some(_))) => self.here = Some(name),
                Some(Ok(None)) | None => self.ended = true,
                Some(Err(e)) => return self.failed(e),
            }
        }
    }

    /// Reads what is left, so that a manifest changed during the run is found out.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(pass) = self.pass.as_mut() {
            let mut name = Vec::new();
            while !self.ended {
                match pass.next_into(&mut name) {
                    Ok(Some(_)) => {}
                    Ok(None) => self.ended = true,
                    Err(e) => {
                        self.error.get_or_insert(e.to_string());
                        break;
                    }
                }
            }
        }
        self.error.clone().map_or(Ok(()), Err)
    }

    fn failed(&mut self, e: io::Error) -> Option<bool> {
        self.error = Some(e.to_string());
        None
    }
}
