//! `merge`'s plan: the inputs opened, each told apart (a tree spec or a manifest of
//! digests, and the shard its first line says it is), all of one kind, and — unless
//! `--partial` — exactly shards 0..N-1 of one N; then where the output goes. These refusals
//! come before a line is written; the merge's own (order, overlap, roots) come as it reads,
//! and leave an `-o` target as it was.

use std::io::{self, BufRead};

use super::digests::Input;
use super::kway::Shard;
use super::spec::SpecInput;
use crate::cli::MergeArgs;
use crate::config::Env;
use crate::exit::{Exit, Fail};
use crate::manifest::read;
use crate::output::Output;
use crate::sys::cancel;
use crate::tree_digest::parse_shard_header;

/// The shards to merge, of one kind.
pub(super) enum Inputs {
    Digests(Vec<Input>),
    Specs(Vec<SpecInput>),
}

/// What a merge is, before it starts.
pub(super) struct Plan {
    pub inputs: Inputs,
    pub output: Output,
}

impl Plan {
    /// The plan, or why there is none (`Ok(Err(exit))`: interrupted while reading).
    pub(super) fn new(args: &MergeArgs, env: &Env) -> Result<Result<Plan, Exit>, Fail> {
        let opened = read::open_all(&args.manifests).map_err(Fail::usage)?;
        let (mut digests, mut specs, mut shards) = (Vec::new(), Vec::new(), Vec::new());
        for (name, mut reader) in opened.names.into_iter().zip(opened.readers) {
            let (spec, (shard, read)) = match (is_spec(&mut reader), read_shard_header(&mut reader))
            {
                (Ok(spec), Ok(header)) => (spec, header),
                _ if cancel::was_interrupted() => return Ok(Err(Exit::Interrupted)),
                (Err(e), _) | (_, Err(e)) => {
                    return Err(Fail::usage(format!("cannot read {name}: {e}")));
                }
            };
            shards.push((name.clone(), shard));
            match spec {
                true => specs.push(SpecInput::new(name, reader, 1 + read)),
                false => digests.push(Input::new(name, reader, read)),
            }
        }
        if let (Some(spec), Some(other)) = (specs.first(), digests.first()) {
            return Err(Fail::usage(format!(
                "{} is a tree spec but {} is a manifest of digests: merge joins shards of one \
                 kind",
                spec.label(),
                other.label()
            )));
        }
        if !args.partial {
            complete_set(&shards).map_err(|why| {
                Fail::failed(format!(
                    "{why}; refusing to merge (--partial merges anyway)"
                ))
            })?;
        }
        let output =
            Output::for_target(args.output.as_deref(), env.stdout_closed).map_err(Fail::fatal)?;
        let inputs = match specs.is_empty() {
            true => Inputs::Digests(digests),
            false => Inputs::Specs(specs),
        };
        Ok(Ok(Plan { inputs, output }))
    }
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
fn complete_set(inputs: &[(String, Option<(u64, u64)>)]) -> Result<(), String> {
    let mut n_seen: Option<(u64, &str)> = None;
    let mut have: std::collections::BTreeMap<u64, &str> = Default::default();
    for (name, shard) in inputs {
        let (name, shard) = (name.as_str(), *shard);
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
