//! `b3tree hash`: plan → run → finish.
//!
//! The plan (`plan`) checks and resolves every flag and acquires what the run needs (list,
//! output, `--update`'s state); the run feeds the walk into the engine (`sink::Source`) and
//! gathers each finished entry in order (`sink::Sink`); `finish` commits the output or keeps
//! the old one and picks the exit status. `list` (`--files-from`) is hash's own helper;
//! `--update`'s session lives in `state::session`.

mod finish;
mod list;
mod outboard;
mod plan;
mod sink;

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use crate::cli::HashArgs;
use crate::config::{Env, HashSettings};
use crate::exit::Ended;
use crate::pipeline::engine;
use crate::report::stderr::Reporter;
use crate::walk::{WalkConfig, count_files};
use finish::{Ran, Target};
use plan::Plan;
use sink::{Sink, Source};

pub fn run(args: HashArgs, env: &Env) -> Ended {
    let started = Instant::now();
    // The racy rule of --update compares file times with this: taken before any stat.
    let plan = Plan::new(&args, env, SystemTime::now())?;
    plan::apply_process_settings(&args);
    let Plan {
        settings,
        list,
        output,
        update,
        walk,
        engine: engine_cfg,
        output_real,
        outboard,
    } = plan;
    let (keep, old_outboard) = outboard.unzip();
    let (update, sources) = update.unzip();
    let reporter = Reporter::new(settings.progress, settings.quiet);
    count_beside(&reporter, &settings, &walk);
    let target = Target {
        real: output_real,
        replaces_existing: output.replaces_existing(),
    };
    let mut source = Source::new(walk, list, sources, &engine_cfg.confine, &settings);
    source.outboard = old_outboard;
    let mut sink = Sink::new(output, update, reporter, &settings)?;
    sink.outboard = keep;
    let finished = engine::run(
        &engine_cfg,
        |feeder| source.feed(feeder),
        |done| sink.entry(done),
    );
    let (walked, state_problems) = finished.source;
    let ran = Ran {
        emitted: finished.emitted,
        walked,
        state_problems,
        started,
        shared: engine_cfg.links.shared(),
    };
    finish::finish(&settings, sink, ran, target)
}

/// Percent and ETA: a names-only count of the same walk, beside the run (only when progress
/// is shown; not for a shard, which hashes ~1/N of what a walk counts, nor for a
/// `--files-from` list, which is read once, as it streams).
fn count_beside(reporter: &Reporter, settings: &HashSettings, walk: &WalkConfig) {
    let countable = settings.shard.is_none() && !settings.listed;
    if let Some(total) = reporter.total_slot().filter(|_| countable) {
        let cfg = walk.clone();
        std::thread::spawn(move || {
            if let Some(n) = count_files(&cfg) {
                total.store(n, Ordering::Relaxed);
            }
        });
    }
}
