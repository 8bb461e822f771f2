//! `repair`'s plan: the manifest (a file: its outboard lies beside it), the outboard, the
//! tree's root and the copy's, opened before any file is read; the digest mode from the
//! flags (b3sum's BLAKE3 modes).

use std::fs::File;
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;

use super::mend::Ctx;
use crate::cli::RepairArgs;
use crate::commands::read_key;
use crate::config::{self, Env};
use crate::exit::Fail;
use crate::hash::algo::{Algo, Digest};
use crate::manifest::read::{Line, LineReader};
use crate::names::escape::display;
use crate::state::files::Place;
use crate::state::outboard::Outboard;
use crate::sys::open::open_root;

pub(super) struct Plan {
    pub ctx: Ctx,
    pub lines: Lines,
    pub outboard: Outboard,
    /// `--from`'s DIR as said in lines.
    pub from_shown: String,
}

/// The manifest's entries, in order.
pub(super) struct Lines {
    reader: LineReader<BufReader<File>>,
    shown: String,
    /// A read failed: no more lines.
    ended: bool,
}

impl Plan {
    pub fn new(args: &RepairArgs, env: &Env) -> Result<Plan, Fail> {
        if env.stdout_closed {
            return Err(Fail::usage(
                "stdout is closed; nowhere to say what was repaired",
            ));
        }
        let shown = display(args.manifest.as_os_str().as_bytes());
        if args.manifest.as_os_str() == "-" {
            return Err(Fail::usage(
                "repair reads the outboard beside the manifest: name the manifest's file, not -",
            ));
        }
        let key = read_key(args.keys.keyed, false, "the manifest").map_err(Fail::usage)?;
        let mode = config::mode(None, &args.keys, None, key, None).map_err(Fail::usage)?;
        let file = File::open(&args.manifest)
            .map_err(|e| Fail::usage(format!("cannot open {shown}: {e}")))?;
        let real = std::fs::canonicalize(&args.manifest)
            .map_err(|e| Fail::usage(format!("cannot open {shown}: {e}")))?;
        let path = Place::of(&real).outboard();
        let outboard = match Outboard::open(&path) {
            Ok(Some(o)) => o,
            Ok(None) => {
                return Err(Fail::usage(format!(
                    "{shown} has no outboard beside it ({}): make one with b3tree hash \
                     --outboard -o {shown}",
                    display(path.as_os_str().as_bytes())
                )));
            }
            Err(e) => {
                let p = display(path.as_os_str().as_bytes());
                return Err(Fail::usage(format!("{p}: {e}")));
            }
        };
        let from_shown = display(args.from.as_os_str().as_bytes());
        let tree = open_root(std::path::Path::new("."))
            .map_err(|e| Fail::fatal(format!("cannot open the working directory: {e}")))?;
        let copy =
            open_root(&args.from).map_err(|e| Fail::usage(format!("--from {from_shown}: {e}")))?;
        Ok(Plan {
            ctx: Ctx {
                tree,
                copy,
                mode,
                dry_run: args.dry_run,
            },
            lines: Lines {
                reader: LineReader::new(BufReader::with_capacity(64 * 1024, file)),
                shown,
                ended: false,
            },
            outboard,
            from_shown,
        })
    }
}

impl Lines {
    /// The next entry (its name and digest), or why a line is skipped (naming it).
    pub fn next_entry(&mut self) -> Option<Result<(Vec<u8>, Digest), String>> {
        while !self.ended {
            let line = self.reader.next_line();
            let at = format!("{}:{}", self.shown, self.reader.line_no);
            return Some(match line {
                Err(e) => {
                    self.ended = true;
                    Err(format!("{at}: {e}: the lines after it are not read"))
                }
                Ok(None) => return None,
                Ok(Some(Line::Comment)) => continue,
                Ok(Some(Line::Malformed(why))) => Err(format!("{at}: {why}: skipped")),
                Ok(Some(Line::Entry(e))) if e.tag.is_some_and(|t| t != Algo::Blake3) => {
                    Err(format!("{at}: not a BLAKE3 entry: skipped"))
                }
                Ok(Some(Line::Entry(e))) => Ok((e.name, e.hash)),
            });
        }
        None
    }
}
