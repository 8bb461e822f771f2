//! `b3tree check`: verify manifests through the same engine as `hash`, then (with `--audit`)
//! walk the covered tree for files the manifests do not list.
//!
//! plan → pass 1 → audit → finish. The plan opens the manifests (a signature verified
//! first) and settles the digest mode; `run` holds what the passes share. The manifest
//! reader is the engine's source: each valid line becomes a hash job carrying its expected
//! digest and `MANIFEST:LINE`; malformed lines and lines refused by confinement travel as
//! reports, so every verdict and diagnostic comes out in manifest order. Each verdict is
//! decided once as a typed value, then counted, printed and given to CI (`sink`). Missing
//! entries are held back under `--audit` until the walk has shown whether their content
//! reappeared under another name (MOVED) or not (MISSING). A tree spec has its own pass
//! (`spec`) and the same finish. The files here use each other, never this one.

mod admit;
mod audit;
mod bitrot;
mod ci;
mod counts;
mod finish;
mod locate;
mod missing;
mod missing_hint;
mod other_algorithm;
mod pick;
mod plan;
mod printer;
mod relist;
mod rotation;
mod run;
mod signed;
mod sink;
mod source;
mod spec;
mod verdict;

use std::time::Instant;

use plan::Plan;
use run::Run;

use crate::cli::CheckArgs;
use crate::config::Env;
use crate::exit::Ended;

pub fn run(args: CheckArgs, env: &Env) -> Ended {
    let started = Instant::now();
    let mut plan = Plan::new(args, env)?;
    let mut run = Run::new(&plan);
    if plan.spec {
        return spec::check(plan, run, started);
    }
    let (mut info, wrong_algorithm) = run.pass1(&mut plan);
    run.counts.other_shards = info.other_shards;
    let compared = run.duplicates(info.names.as_mut());
    let audited = run.audit(&mut plan, &mut info);
    let reread = run
        .missing_held()
        .map_err(|_| ())
        .and(compared)
        .and(audited);
    let whole = info.read_error.is_none() && plan.settings.shard.is_none();
    run.end_rotation(info.chosen.as_ref(), whole);
    run.reporter.finish();
    let ended = finish::RunEnd {
        read_error: info.read_error.take(),
        reread_failed: reread.is_err(),
        entries: info.entries,
        wrong_algorithm,
        shard: plan.settings.shard,
        elapsed: started.elapsed(),
    };
    finish::finish(&plan.settings, run, ended)
}
