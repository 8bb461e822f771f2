//! `b3tree bench`: runs the real hash pipeline (digests computed, nothing written) over a sweep
//! of settings and reports wall time and throughput per setting, with exports and a plot.
//!
//! plan (flags checked, the settings listed) → `sweep` → finish (table, warnings, exports).
//! Each setting gets one untimed warm-up run, then `--repeat` timed runs; we report the
//! median (robust on a shared, noisy machine) and the min–max spread. Ctrl-C ends the sweep:
//! the settings whose runs all finished are still printed and exported.

mod export;
mod plot;
mod svg;
mod sweep;

use std::path::{Path, PathBuf};

use crate::cli::{BenchArgs, CacheMode};
use crate::config::Env;
use crate::config::bench::{Cache, sweep as sweep_settings};
use crate::exit::{Ended, Exit, Fail};
use crate::output::Output;
use crate::report::stderr::say;
use crate::sys::cancel;
use export::{write_csv, write_json, write_plot, write_table};
use sweep::{Run, Setting, Swept, default_jobs_sweep, sweep};

pub fn run(args: BenchArgs, env: &Env) -> Ended {
    let root = plan(&args, env)?;
    let how = sweep_settings(&args, std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let swept = sweep(&settings(&args), &how, &root)?;
    let interrupted = cancel::was_interrupted();
    if interrupted {
        say(format_args!(
            "interrupted; reporting the {} settings that finished",
            swept.rows.len()
        ));
    }
    let mut out = Output::stdout();
    write_table(&mut out, &swept.rows, &root, how.cache)
        .and_then(|()| out.commit())
        .map_err(|e| Fail::unwritten("stdout", &e))?;
    let errors = warnings(&swept);
    let exported = export(&args, (&root, how.cache), &swept);
    Ok(if !exported {
        Exit::Fatal
    } else if interrupted {
        Exit::Interrupted
    } else if errors > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// Every check before the first run; the tree's root.
fn plan(args: &BenchArgs, env: &Env) -> Result<PathBuf, Fail> {
    // The plot's format follows its name; a name that promises neither (x.jpg, x) is refused
    // before any run.
    if let Some(p) = args.plot.as_ref().filter(|p| plot::Format::of(p).is_none()) {
        return Err(Fail::usage(format!(
            "--plot {}: the plot is written as SVG or PNG; name it .svg or .png",
            p.display()
        )));
    }
    if args.cache == CacheMode::Drop && !rustix::process::geteuid().is_root() {
        return Err(Fail::usage(
            "--cache drop needs root (it writes /proc/sys/vm/drop_caches); --cache cold evicts \
             the tree's pages without it",
        ));
    }
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::metadata(&root)
        .and_then(|m| {
            if m.is_dir() {
                std::fs::read_dir(&root).map(drop)
            } else {
                Ok(())
            }
        })
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", root.display())))?;
    if env.stdout_closed {
        return Err(Fail::fatal("stdout is closed; nowhere to print the table"));
    }
    Ok(root)
}

/// The sweep: every `--max-open` × `--queue` × (the adaptive default, then each `--jobs`;
/// jobs 1, 2, 4, … by default).
fn settings(args: &BenchArgs) -> Vec<Setting> {
    let jobs = if args.jobs.is_empty() {
        default_jobs_sweep(crate::sys::limits::cpus())
    } else {
        args.jobs.clone()
    };
    let or_default = |v: &[u32]| -> Vec<Option<u32>> {
        if v.is_empty() {
            vec![None]
        } else {
            v.iter().copied().map(Some).collect()
        }
    };
    let mut settings = Vec::new();
    for max_open in or_default(&args.max_open) {
        for queue in or_default(&args.queue) {
            let adaptive = std::iter::once(None);
            for jobs in adaptive.chain(jobs.iter().copied().map(Some)) {
                settings.push(Setting {
                    jobs,
                    max_open,
                    queue,
                });
            }
        }
    }
    settings
}

/// Says what makes the figures doubtful; returns the most entries a run could not hash.
fn warnings(swept: &Swept) -> u64 {
    if let Some(fast) = swept.rows.iter().find(|r| r.median < 0.1) {
        say(format_args!(
            "warning: runs of {:.0} ms ({}) are too short to measure well; use a bigger tree",
            fast.median * 1000.0,
            fast.setting.label()
        ));
    }
    let errors: u64 = swept
        .rows
        .iter()
        .flat_map(|r| r.runs.iter())
        .map(|r| r.errors)
        .max()
        .unwrap_or(0);
    if errors > 0 {
        say(format_args!(
            "warning: {errors} entries could not be hashed in each run (see `b3tree hash`)"
        ));
    }
    errors
}

/// Writes one export file.
type Exporter<'a> = dyn Fn(&Path) -> Result<(), String> + 'a;

/// Writes the `--csv`, `--json` and `--plot` files asked for (each said when it fails);
/// whether all were written.
fn export(args: &BenchArgs, (root, cache): (&Path, Cache), swept: &Swept) -> bool {
    let rows = &swept.rows;
    let all_runs: Vec<(Setting, &Run)> = rows
        .iter()
        .flat_map(|r| r.runs.iter().map(move |run| (r.setting, run)))
        .chain(
            swept
                .partial
                .iter()
                .flat_map(|(s, runs)| runs.iter().map(move |run| (*s, run))),
        )
        .collect();
    let exports: [(&Option<PathBuf>, &Exporter); 3] = [
        (&args.csv, &|p| write_csv(p, &all_runs)),
        (&args.json, &|p| write_json(p, root, cache, rows, &all_runs)),
        (&args.plot, &|p| write_plot(p, root, cache, rows)),
    ];
    let mut ok = true;
    for (target, export) in exports {
        if let Some(Err(e)) = target.as_deref().map(export) {
            say(format_args!("{e}"));
            ok = false;
        }
    }
    ok
}
