//! `hash --files-from FILE`: the list of paths to hash, one per line or NUL-terminated
//! (`-0`), read as a stream (or held and sorted with `--sort`, which canonical order needs).

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use crate::names::order::canonical_cmp;
use crate::walk::Listed;

/// The entries of a list, in order.
pub(crate) struct List {
    reader: Box<dyn BufRead + Send>,
    /// Where the list comes from, for messages.
    origin: String,
    from_stdin: bool,
    sep: u8,
    entry: u64,
    done: bool,
}

/// Opens the list at `path` (`-`: standard input), entries ended by NUL when `nul`.
pub(crate) fn open(path: &Path, nul: bool) -> Result<List, String> {
    let from_stdin = path.as_os_str() == "-";
    let reader: Box<dyn Read + Send> = if from_stdin {
        Box::new(io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .map_err(|e| format!("--files-from {}: {e}", path.display()))?,
        )
    };
    Ok(List {
        reader: Box::new(BufReader::with_capacity(64 * 1024, reader)),
        origin: if from_stdin {
            "standard input".into()
        } else {
            path.display().to_string()
        },
        from_stdin,
        sep: if nul { 0 } else { b'\n' },
        entry: 0,
        done: false,
    })
}

impl Iterator for List {
    type Item = Listed;

    fn next(&mut self) -> Option<Listed> {
        loop {
            if self.done {
                return None;
            }
            let mut buf = Vec::new();
            self.entry += 1;
            match self.reader.read_until(self.sep, &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    let name = self.origin.clone().into_bytes();
                    return Some(Err((name, format!("cannot read the list further: {e}"))));
                }
            }
            if buf.last() == Some(&self.sep) {
                buf.pop();
            }
            // Empty entries (a blank line, the NUL after the last name) name nothing.
            if buf.is_empty() {
                continue;
            }
            if self.from_stdin && buf == b"-" {
                let why = format!(
                    "entry {}: - cannot be standard input, which holds the list",
                    self.entry
                );
                return Some(Err((buf, why)));
            }
            return Some(Ok(PathBuf::from(OsString::from_vec(buf))));
        }
    }
}

/// The entries of `list` in canonical order (`--sort`): held in memory, duplicates kept.
pub(crate) fn sorted(list: List) -> std::vec::IntoIter<Listed> {
    let mut all: Vec<Listed> = list.collect();
    all.sort_by(|a, b| {
        let bytes = |e: &Listed| match e {
            Ok(p) => p.as_os_str().as_encoded_bytes().to_vec(),
            Err((name, _)) => name.clone(),
        };
        canonical_cmp(&bytes(a), &bytes(b))
    });
    all.into_iter()
}
