//! The names pass 1 admitted, read again from the manifest files: what lets the name set
//! keep none of them (`names::relist`). The same lines give the same names as in pass 1 —
//! entries of the run's mode, in this run's shard, each opened as [`opened`] opens it — and
//! the set checks the digest of what comes back against what it was given.

use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::admit::{ReadFlags, in_shard, of_this_mode, opened};
use crate::manifest::read::{self, Line, LineReader};
use crate::names::escape::display;
use crate::names::nameset::Location;
use crate::names::relist::{NameStream, Reread};

/// The manifests (every one a regular file, with the (device, inode) pass 1 opened) and how
/// pass 1 read them.
pub(super) struct Relisting {
    pub(super) paths: Vec<(PathBuf, (u64, u64))>,
    pub(super) flags: ReadFlags,
    pub(super) cwd: Option<Vec<u8>>,
}

impl Reread for Relisting {
    fn open(&self) -> io::Result<Box<dyn NameStream>> {
        Ok(Box::new(Pass {
            paths: self.paths.clone().into_iter().enumerate(),
            lines: None,
            flags: self.flags.clone(),
            cwd: self.cwd.clone(),
        }))
    }
}

type Lines = LineReader<Box<dyn BufRead + Send>>;

/// One pass over every manifest, in order.
struct Pass {
    paths: std::iter::Enumerate<std::vec::IntoIter<(PathBuf, (u64, u64))>>,
    lines: Option<(u32, Lines)>,
    flags: ReadFlags,
    cwd: Option<Vec<u8>>,
}

impl NameStream for Pass {
    fn next_into(&mut self, name: &mut Vec<u8>) -> io::Result<Option<Location>> {
        loop {
            let Some((idx, lines)) = self.lines.as_mut() else {
                let Some((idx, (path, id))) = self.paths.next() else {
                    return Ok(None);
                };
                let file = read::reopen(&path, id).map_err(|e| {
                    let shown = display(path.as_os_str().as_bytes());
                    io::Error::new(e.kind(), format!("cannot read manifest {shown} again: {e}"))
                })?;
                let reader: Box<dyn BufRead + Send> =
                    Box::new(BufReader::with_capacity(64 * 1024, file));
                let lines = LineReader::new(reader).zero(self.flags.zero);
                self.lines = Some((idx as u32, lines));
                continue;
            };
            match lines.next_line()? {
                None => self.lines = None,
                Some(Line::Entry(e)) if of_this_mode(&e, &self.flags.mode) => {
                    let (_, norm, _) = opened(&self.flags, self.cwd.as_deref(), &e.name);
                    if in_shard(&self.flags, &norm) {
                        name.clear();
                        name.extend_from_slice(&norm);
                        return Ok(Some((*idx, lines.line_no)));
                    }
                }
                Some(_) => {}
            }
        }
    }
}
