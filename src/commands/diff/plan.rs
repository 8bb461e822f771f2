//! `diff`'s plan: both inputs opened (a pipe or stdin copied aside so it can be read
//! twice), their kinds told apart, and what cannot be compared refused before a line is
//! read: the same file twice (a mistake that would always say "no difference"), a tree
//! spec against a manifest of digests.

use super::input::{Format, Input};
use crate::cli::DiffArgs;
use crate::config::Env;
use crate::exit::Fail;
use crate::hash::algo::Algo;

/// What a diff is, before it starts.
pub struct Plan {
    pub old: Input,
    pub new: Input,
    pub json: bool,
    pub names_only: bool,
    pub quiet: bool,
    /// The algorithm of untagged digest lines.
    pub untagged: Algo,
}

impl Plan {
    pub fn new(args: &DiffArgs, env: &Env) -> Result<Plan, Fail> {
        if args.old.as_os_str() == "-" && args.new.as_os_str() == "-" {
            return Err(Fail::usage("'-' (stdin) given for both OLD and NEW"));
        }
        if env.stdout_closed {
            return Err(Fail::fatal(
                "stdout is closed; nowhere to write the differences",
            ));
        }
        let old = Input::open(&args.old).map_err(Fail::usage)?;
        let new = Input::open(&args.new).map_err(Fail::usage)?;
        if old.id.is_some() && old.id == new.id {
            return Err(Fail::usage(format!(
                "{} and {} are the same file: nothing to compare (is a path wrong?)",
                old.label, new.label
            )));
        }
        let (mut old, mut new) = (old, new);
        match (old.decided, new.decided) {
            (false, true) => old.format = new.format,
            (true, false) => new.format = old.format,
            _ => {}
        }
        let spec = |i: &Input| i.format == Format::Spec;
        if spec(&old) != spec(&new) {
            let (s, d) = match spec(&old) {
                true => (&old, &new),
                false => (&new, &old),
            };
            return Err(Fail::usage(format!(
                "{} is a tree spec but {} is a manifest of digests: diff compares two of one kind",
                s.label, d.label
            )));
        }
        Ok(Plan {
            old,
            new,
            json: args.json,
            names_only: args.names_only,
            quiet: args.quiet,
            untagged: args.algo.map_or(Algo::Blake3, crate::config::check::algo),
        })
    }
}
