//! `b3tree merge`: joins shard manifests into one manifest in canonical order.
//!
//! plan → run → finish. The plan opens the inputs and refuses a set that is not one run's
//! shards; the run is a streaming k-way merge (`kway`) over digest manifests (`digests`) or
//! tree specs (`spec`): each shard is already in canonical order, so memory holds one entry
//! per input, not the tree. The merge refuses what would make the result lie: an input out
//! of canonical order, the same name in two inputs (overlap; conflict when they differ), and
//! digest shards of unrelated directories (different roots). The output is written like
//! `hash -o`: temporary file, fsync, rename; on a refusal it is left as it was.

mod digests;
mod kway;
mod plan;
mod spec;

use kway::{MergeError, Shard};
use plan::{Inputs, Plan};

use crate::cli::MergeArgs;
use crate::config::Env;
use crate::exit::{Ended, Exit, Fail};
use crate::output::Output;
use crate::report::stderr::say;
use crate::report::summary::{self, plural};
use crate::sys::cancel;

pub fn run(args: MergeArgs, env: &Env) -> Ended {
    let plan = match Plan::new(&args, env)? {
        Ok(plan) => plan,
        Err(exit) => return Ok(exit),
    };
    match plan.inputs {
        Inputs::Digests(mut inputs) => merged(&mut inputs, plan.output),
        Inputs::Specs(mut inputs) => merged(&mut inputs, plan.output),
    }
}

/// Merges `inputs` into `output`, puts it in place, and says how it went.
fn merged<S: Shard>(inputs: &mut [S], mut output: Output) -> Ended {
    // On an error `output` is dropped unwritten: an -o target is left as it was.
    let count = kway::merge(inputs, &mut output).map_err(|e: MergeError| Fail {
        exit: e.exit(),
        message: e.to_string(),
    })?;
    if let Err(e) = output.commit() {
        if cancel::was_interrupted() {
            return Ok(Exit::Interrupted); // main dies of the signal
        }
        return Err(Fail::unwritten(&format!("the merged {}", S::WHAT), &e));
    }
    let sets: Vec<&std::collections::BTreeSet<u64>> =
        inputs.iter_mut().map(|i| &*i.shards()).collect();
    if let Some(w) = layout_warning(&sets) {
        say(format_args!("warning: {w}"));
    }
    say(format_args!(
        "merged {} from {}",
        plural(count, "entry", "entries"),
        summary::count(sets.len() as u64, S::WHAT)
    ));
    Ok(Exit::Ok)
}

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
