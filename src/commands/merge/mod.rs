//! `b3tree merge`: joins shard manifests into one manifest in canonical order.
//!
//! Each shard manifest written by `b3tree hash --shard` is already in canonical order, so
//! this is a streaming k-way merge: memory holds one line per input, not the tree. The merge
//! refuses what would make the result lie: an input out of canonical order, the same name in
//! two inputs (overlap; conflict when the digests differ), and inputs whose entries live
//! under unrelated directories (shards of different roots). The output is written like
//! `hash -o`: temporary file, fsync, rename.

mod spec;

use std::cmp::Ordering;
use std::io::{self, BufRead, Write};

use crate::cli::MergeArgs;
use crate::config::Env;
use crate::exit::{Ended, Exit, Fail};
use crate::hash::algo::Algo;
use crate::manifest::read::{self, Entry, LineReader, StrictError};
use crate::manifest::write::format_line;
use crate::names::escape::{Escaping, display};
use crate::names::nameset::{climbs_out, is_ancestor, narrow_common_dir, normalize};
use crate::names::order::canonical_cmp;
use crate::output::Output;
use crate::report::stderr::say;
use crate::report::summary::{self, plural};
use crate::sys::cancel;
use crate::tree_digest::{parse_shard_header, shard_of};

struct Input {
    name: String,
    /// K/N from its `# b3tree shard K/N` line.
    shard: Option<(u64, u64)>,
    lines: LineReader<Box<dyn BufRead + Send>>,
    head: Option<Entry>,
    /// `head`'s name in normal form (`./t/a`, `t//a` and `t/./a` are `t/a`): the key that
    /// orders and matches entries, so that one file under two spellings is one entry.
    key: Vec<u8>,
    /// The key of the entry before `head` (order and duplicates are checked against it).
    last: Option<Vec<u8>>,
    /// Deepest directory holding every entry so far.
    common: Option<Vec<u8>>,
    /// Shards (for N = number of inputs) its entries fall in.
    shards: std::collections::BTreeSet<u64>,
}

impl Input {
    /// Moves to the next entry; checks canonical order.
    fn advance(&mut self) -> Result<(), String> {
        let e = match self.lines.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.head = None;
                return Ok(());
            }
            Err(StrictError::Malformed(line, why)) => {
                return Err(format!(
                    "{}:{line}: improperly formatted line: {why}",
                    self.name
                ));
            }
            Err(StrictError::Io(e)) => return Err(format!("cannot read {}: {e}", self.name)),
        };
        let key = normalize(&e.name);
        if let Some(prev) = &self.last {
            match canonical_cmp(prev, &key) {
                Ordering::Less => {}
                Ordering::Equal => {
                    return Err(format!(
                        "{}:{}: {} is listed twice: refusing to merge",
                        self.name,
                        self.lines.line_no,
                        display(&e.name)
                    ));
                }
                Ordering::Greater => {
                    return Err(format!(
                        "{}:{}: not in canonical order ({} after {}; was it written by b3tree \
                         hash?)",
                        self.name,
                        self.lines.line_no,
                        display(&e.name),
                        display(prev)
                    ));
                }
            }
        }
        if climbs_out(&e.name) {
            return Err(format!(
                "{}:{}: {} climbs out of the shards' root (b3tree hash never writes such a \
                 name): refusing to merge",
                self.name,
                self.lines.line_no,
                display(&e.name)
            ));
        }
        narrow_common_dir(&mut self.common, &key);
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(&key);
        self.key = key;
        self.head = Some(e);
        Ok(())
    }
}

pub fn run(args: MergeArgs, env: &Env) -> Ended {
    let opened = read::open_all(&args.manifests).map_err(Fail::usage)?;
    let mut inputs = Vec::new();
    let mut specs = Vec::new();
    for (name, mut reader) in opened.names.into_iter().zip(opened.readers) {
        let header = match (is_spec(&mut reader), read_shard_header(&mut reader)) {
            (Ok(spec), Ok(shard)) => (spec, shard.0, shard.1),
            _ if cancel::was_interrupted() => return Ok(Exit::Interrupted),
            (Err(e), _) | (_, Err(e)) => {
                return Err(Fail::usage(format!("cannot read {name}: {e}")));
            }
        };
        let (shard, read) = match header {
            (true, shard, read) => {
                specs.push((shard, spec::SpecInput::new(name, reader, 1 + read)));
                continue;
            }
            (false, shard, read) => (shard, read),
        };
        let mut lines = LineReader::new(reader);
        lines.line_no = read;
        inputs.push(Input {
            name,
            lines,
            shard,
            head: None,
            key: Vec::new(),
            last: None,
            common: None,
            shards: Default::default(),
        });
    }
    if !specs.is_empty() {
        if let Some(other) = inputs.first() {
            return Err(Fail::usage(format!(
                "{} is a tree spec but {} is a manifest of digests: merge joins shards of one \
                 kind",
                specs[0].1.name, other.name
            )));
        }
        return merge_specs(specs, &args, env);
    }
    let shards: Vec<(&str, Option<(u64, u64)>)> =
        inputs.iter().map(|i| (i.name.as_str(), i.shard)).collect();
    if !args.partial {
        complete_set(&shards).map_err(|why| {
            Fail::failed(format!(
                "{why}; refusing to merge (--partial merges anyway)"
            ))
        })?;
    }
    let mut output =
        Output::for_target(args.output.as_deref(), env.stdout_closed).map_err(Fail::fatal)?;
    // On an error `output` is dropped unwritten: an -o target is left as it was.
    let count = merge(&mut inputs, &mut output).map_err(|e| Fail {
        exit: e.exit(),
        message: e.to_string(),
    })?;
    if let Err(e) = output.commit() {
        if crate::sys::cancel::was_interrupted() {
            return Ok(Exit::Interrupted); // main dies of the signal
        }
        return Err(Fail::unwritten("the merged manifest", &e));
    }
    let sets: Vec<&std::collections::BTreeSet<u64>> = inputs.iter().map(|i| &i.shards).collect();
    finished(count, &sets, "manifest")
}

/// Says how the merge went: a layout that does not look like one run's shards, the count.
fn finished(count: u64, shards: &[&std::collections::BTreeSet<u64>], what: &str) -> Ended {
    if let Some(w) = layout_warning(shards) {
        say(format_args!("warning: {w}"));
    }
    say(format_args!(
        "merged {} from {}",
        plural(count, "entry", "entries"),
        summary::count(shards.len() as u64, what)
    ));
    Ok(Exit::Ok)
}

/// The merge of tree spec shards (see `spec`): the same checks of the set, the same
/// atomic output.
fn merge_specs(
    specs: Vec<(Option<(u64, u64)>, spec::SpecInput)>,
    args: &MergeArgs,
    env: &Env,
) -> Ended {
    let shards: Vec<(&str, Option<(u64, u64)>)> =
        specs.iter().map(|(s, i)| (i.name.as_str(), *s)).collect();
    if !args.partial {
        complete_set(&shards).map_err(|why| {
            Fail::failed(format!(
                "{why}; refusing to merge (--partial merges anyway)"
            ))
        })?;
    }
    let mut inputs: Vec<spec::SpecInput> = specs.into_iter().map(|(_, i)| i).collect();
    let mut output =
        Output::for_target(args.output.as_deref(), env.stdout_closed).map_err(Fail::fatal)?;
    let count = spec::merge_specs(&mut inputs, &mut output).map_err(|e| Fail {
        exit: e.exit(),
        message: e.to_string(),
    })?;
    if let Err(e) = output.commit() {
        if cancel::was_interrupted() {
            return Ok(Exit::Interrupted);
        }
        return Err(Fail::unwritten("the merged spec", &e));
    }
    let sets: Vec<&std::collections::BTreeSet<u64>> = inputs.iter().map(|i| &i.shards).collect();
    finished(count, &sets, "tree spec")
}

/// Whether `reader` holds a tree spec (its first line is `#mtree`); that line is consumed.
fn is_spec(reader: &mut Box<dyn BufRead + Send>) -> io::Result<bool> {
    let spec = loop {
        match reader.fill_buf() {
            Ok(buf) => break buf.starts_with(b"#mtree\n") || buf.starts_with(b"#mtree\r\n"),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if spec {
        reader.read_until(b'\n', &mut Vec::new())?;
    }
    Ok(spec)
}

/// Why a merge stopped.
#[derive(Debug, thiserror::Error)]
enum MergeError {
    /// The inputs cannot make one honest manifest (order, overlap, conflict, roots).
    #[error("{0}")]
    Refused(String),
    #[error("cannot write the merged manifest: {0}")]
    Write(io::Error),
}

impl MergeError {
    fn exit(&self) -> Exit {
        match self {
            MergeError::Refused(_) => Exit::Failed,
            MergeError::Write(_) => Exit::Fatal,
        }
    }
}

fn merge(inputs: &mut [Input], out: &mut Output) -> Result<u64, MergeError> {
    for input in inputs.iter_mut() {
        input.advance().map_err(MergeError::Refused)?;
    }
    let n = inputs.len() as u64;
    let tagged = inputs
        .iter()
        .filter_map(|i| i.head.as_ref())
        .all(|e| e.tagged());
    let mut line = Vec::with_capacity(256);
    let mut count = 0u64;
    loop {
        // The smallest head; ties are overlaps.
        let mut best: Option<usize> = None;
        for (i, input) in inputs.iter().enumerate() {
            let Some(e) = &input.head else { continue };
            best = match best {
                None => Some(i),
                Some(b) => {
                    let other = inputs[b].head.as_ref().expect("head");
                    match canonical_cmp(&input.key, &inputs[b].key) {
                        Ordering::Less => Some(i),
                        Ordering::Equal => {
                            let what = if e.hash == other.hash {
                                "overlapping"
                            } else {
                                "conflicting"
                            };
                            return Err(MergeError::Refused(format!(
                                "{what} entries for {} in {} and {}: refusing to merge",
                                display(&e.name),
                                inputs[b].name,
                                input.name
                            )));
                        }
                        Ordering::Greater => Some(b),
                    }
                }
            };
        }
        let Some(b) = best else { break };
        let entry = inputs[b].head.take().expect("head");
        inputs[b].shards.insert(shard_of(&entry.name, n));
        line.clear();
        let tag = tagged.then(|| entry.tag.unwrap_or(Algo::Blake3).tag());
        format_line(&mut line, &entry.name, &entry.hash, tag, Escaping::Manifest);
        out.write_all(&line).map_err(MergeError::Write)?;
        count += 1;
        inputs[b].advance().map_err(MergeError::Refused)?;
    }
    // Shards of one root share it: their entries' directories must be related.
    for (i, a) in inputs.iter().enumerate() {
        for b in &inputs[i + 1..] {
            if let (Some(x), Some(y)) = (&a.common, &b.common) {
                if !is_ancestor(x, y) && !is_ancestor(y, x) {
                    return Err(MergeError::Refused(format!(
                        "{} (entries under {}) and {} (entries under {}) come from different roots",
                        a.name,
                        display(x),
                        b.name,
                        display(y)
                    )));
                }
            }
        }
    }
    Ok(count)
}

/// Reads the `# b3tree shard K/N` line a shard manifest starts with, if it has one, and
/// how many lines it read (a first line that is another comment is consumed too; it would
/// be skipped anyway, and the line numbers of messages count it).
fn read_shard_header(
    reader: &mut Box<dyn BufRead + Send>,
) -> io::Result<(Option<(u64, u64)>, u64)> {
    let starts_with_hash = loop {
        match reader.fill_buf() {
            Ok(buf) => break buf.first() == Some(&b'#'),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if !starts_with_hash {
        return Ok((None, 0));
    }
    let mut line = Vec::new();
    io::Read::take(&mut *reader, 4096).read_until(b'\n', &mut line)?;
    Ok((parse_shard_header(&line), 1))
}

/// The inputs (name, shard header) are exactly shards 0..N-1 of one N, each once; else
/// what is wrong.
fn complete_set(inputs: &[(&str, Option<(u64, u64)>)]) -> Result<(), String> {
    let mut n_seen: Option<(u64, &str)> = None;
    let mut have: std::collections::BTreeMap<u64, &str> = Default::default();
    for &(name, shard) in inputs {
        let Some((k, n)) = shard else {
            return Err(format!(
                "{name} is not a shard manifest (no '# b3tree shard K/N' line, as b3tree hash \
                 --shard writes)"
            ));
        };
        match n_seen {
            Some((n0, first)) if n0 != n => {
                return Err(format!(
                    "{first} is a shard of {n0} but {name} is shard {k}/{n}: not one set"
                ));
            }
            _ => n_seen = Some((n, name)),
        }
        if let Some(other) = have.insert(k, name) {
            return Err(format!("shard {k}/{n} given twice ({other} and {})", name));
        }
    }
    let Some((n, _)) = n_seen else {
        return Ok(());
    };
    // N comes from the input (`# b3tree shard 0/18446744073709551615`): the missing are
    // counted, and only the first few named, in time and memory bounded by the inputs.
    let missing = n - have.len() as u64;
    if missing == 0 {
        return Ok(());
    }
    let named: Vec<String> = (0..n)
        .filter(|k| !have.contains_key(k))
        .take(MAX_NAMED_SHARDS)
        .map(|k| format!("{k}/{n}"))
        .collect();
    let more = match missing - named.len() as u64 {
        0 => String::new(),
        more => format!(" and {more} more"),
    };
    let (s, verb) = if missing == 1 {
        ("", "is")
    } else {
        ("s", "are")
    };
    Err(format!(
        "shard{s} {}{more} {verb} missing",
        named.join(", ")
    ))
}

/// Missing shards named one by one in a refusal.
const MAX_NAMED_SHARDS: usize = 10;

/// With N inputs, each input should hold exactly one shard K of N, and together all of them.
fn layout_warning(inputs: &[&std::collections::BTreeSet<u64>]) -> Option<String> {
    let n = inputs.len();
    let ok = inputs.iter().all(|s| s.len() <= 1) && {
        let mut all: Vec<u64> = inputs.iter().flat_map(|s| s.iter().copied()).collect();
        let len = all.len();
        all.sort_unstable();
        all.dedup();
        all.len() == len
    };
    (!ok).then(|| {
        format!("the inputs do not look like the {n} shards K/{n} of one run; is a shard missing or extra?")
    })
}
