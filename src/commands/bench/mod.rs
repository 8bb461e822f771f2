//! `b3tree bench`: runs the real hash pipeline (digests computed, nothing written) over a sweep
//! of settings and reports wall time and throughput per setting, with exports and a plot.
//!
//! Each setting gets one untimed warm-up run, then `--repeat` timed runs; we report the median
//! (robust on a shared, noisy machine) and the min–max spread. Ctrl-C ends the sweep: the
//! settings whose runs all finished are still printed and exported.

mod export;
mod plot;

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{BenchArgs, CacheMode};
use crate::commands::walk_into;
use crate::config;
use crate::config::Env;
use crate::exit::Exit;
use crate::hash::outcome::Outcome;
use crate::manifest::output::Output;
use crate::pipeline::engine::{self, EngineConfig};
use crate::report::stderr::say;
use crate::sys::cancel;
use crate::sys::evict::{drop_all_caches, evict_tree};
use crate::walk::WalkConfig;
use export::{write_csv, write_json, write_plot, write_table};

/// One point of the sweep.
#[derive(Debug, Clone, Copy)]
struct Setting {
    jobs: u32,
    max_open: Option<u32>,
    queue: Option<u32>,
}

impl Setting {
    fn label(&self) -> String {
        let mut s = format!("--jobs {}", self.jobs);
        if let Some(m) = self.max_open {
            s.push_str(&format!(" --max-open {m}"));
        }
        if let Some(q) = self.queue {
            s.push_str(&format!(" --queue {q}"));
        }
        s
    }

    fn series(&self) -> String {
        match (self.max_open, self.queue) {
            (None, None) => "default --max-open and --queue".into(),
            (m, q) => {
                let m = m.map_or("default".into(), |m| m.to_string());
                let q = q.map_or("default".into(), |q| q.to_string());
                format!("--max-open {m}, --queue {q}")
            }
        }
    }
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: Duration,
    files: u64,
    bytes: u64,
    errors: u64,
}

/// The statistics of one setting.
struct Row {
    setting: Setting,
    runs: Vec<Run>,
    median: f64,
    min: f64,
    max: f64,
}

impl Row {
    fn new(setting: Setting, runs: Vec<Run>) -> Row {
        let mut secs: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
        secs.sort_by(f64::total_cmp);
        let n = secs.len();
        let median = if n % 2 == 1 {
            secs[n / 2]
        } else {
            (secs[n / 2 - 1] + secs[n / 2]) / 2.0
        };
        Row {
            setting,
            median,
            min: secs[0],
            max: secs[n - 1],
            runs,
        }
    }

    fn files(&self) -> u64 {
        self.runs[0].files
    }

    fn bytes(&self) -> u64 {
        self.runs[0].bytes
    }

    /// Decimal MB/s (the JSON export's `mb_per_s`).
    fn mb_per_s(&self, secs: f64) -> f64 {
        self.bytes() as f64 / 1e6 / secs.max(1e-9)
    }

    /// MiB/s: the unit of the table and the plot, as the rest of the tool (`hash`'s summary
    /// says KiB, MiB, GiB/s).
    fn mib_per_s(&self, secs: f64) -> f64 {
        self.bytes() as f64 / (1u64 << 20) as f64 / secs.max(1e-9)
    }
}

/// The default sweep: 1, 2, 4, ... up to 8 × CPUs.
pub fn default_jobs_sweep(cpus: usize) -> Vec<u32> {
    let top = (8 * cpus).max(8) as u32;
    std::iter::successors(Some(1u32), |j| (j * 2 <= top).then_some(j * 2)).collect()
}

pub fn run(args: BenchArgs, env: &Env) -> crate::exit::Ended {
    Ok(run_old(args, env))
}

fn run_old(args: BenchArgs, env: &Env) -> Exit {
    // The plot's format follows its name; a name that promises neither (x.jpg, x) is refused
    // before any run.
    if let Some(p) = &args.plot {
        if plot::Format::of(p).is_none() {
            say(format_args!(
                "--plot {}: the plot is written as SVG or PNG; name it .svg or .png",
                p.display()
            ));
            return Exit::Usage;
        }
    }
    if args.cache == CacheMode::Drop && !rustix::process::geteuid().is_root() {
        say(format_args!(
            "--cache drop needs root (it writes /proc/sys/vm/drop_caches); --cache cold evicts \
             the tree's pages without it"
        ));
        return Exit::Usage;
    }
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    if let Err(e) = std::fs::metadata(&root).and_then(|m| {
        if m.is_dir() {
            std::fs::read_dir(&root).map(drop)
        } else {
            Ok(())
        }
    }) {
        say(format_args!("cannot read {}: {e}", root.display()));
        return Exit::Usage;
    }
    if env.stdout_closed {
        say(format_args!("stdout is closed; nowhere to print the table"));
        return Exit::Fatal;
    }
    let jobs = if args.jobs.is_empty() {
        default_jobs_sweep(config::cpus())
    } else {
        args.jobs.clone()
    };
    let max_opens: Vec<Option<u32>> = if args.max_open.is_empty() {
        vec![None]
    } else {
        args.max_open.iter().copied().map(Some).collect()
    };
    let queues: Vec<Option<u32>> = if args.queue.is_empty() {
        vec![None]
    } else {
        args.queue.iter().copied().map(Some).collect()
    };
    let mut settings = Vec::new();
    for &max_open in &max_opens {
        for &queue in &queues {
            for &j in &jobs {
                settings.push(Setting {
                    jobs: j,
                    max_open,
                    queue,
                });
            }
        }
    }
    let repeat = args.repeat as usize;
    let total_runs = settings.len() * (repeat + 1);
    let bar = (!args.no_progress && io::stderr().is_terminal()).then(|| {
        let bar =
            ProgressBar::with_draw_target(Some(total_runs as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("bench {bar:30} {pos}/{len} runs  {msg}")
                .expect("valid template"),
        );
        bar
    });

    let mut rows = Vec::new();
    let mut partial: Vec<(Setting, Vec<Run>)> = Vec::new();
    'sweep: for setting in &settings {
        let cfg = match engine_config(setting, args.batch) {
            Ok(c) => c,
            Err(msg) => {
                say(format_args!("{msg}"));
                return Exit::Fatal;
            }
        };
        let mut runs = Vec::with_capacity(repeat);
        for i in 0..=repeat {
            if let Some(b) = &bar {
                b.set_message(format!(
                    "{} {}",
                    setting.label(),
                    if i == 0 {
                        "warm-up".into()
                    } else {
                        format!("run {i}/{repeat}")
                    }
                ));
            }
            match args.cache {
                CacheMode::Cold => {
                    evict_tree(&root);
                }
                CacheMode::Drop => {
                    if let Err(e) = drop_all_caches() {
                        say(format_args!("cannot drop the caches: {e}"));
                        return Exit::Fatal;
                    }
                }
                CacheMode::Warm => {}
            }
            let Some(run) = run_once(&cfg, &root) else {
                if !runs.is_empty() {
                    partial.push((*setting, runs));
                }
                break 'sweep;
            };
            if let Some(b) = &bar {
                b.inc(1);
            }
            if i > 0 {
                runs.push(run);
            }
        }
        rows.push(Row::new(*setting, runs));
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let interrupted = cancel::was_interrupted();
    if interrupted {
        say(format_args!(
            "interrupted; reporting the {} settings that finished",
            rows.len()
        ));
    }

    let mut out = Output::stdout();
    let table = write_table(&mut out, &rows, &root, args.cache).and_then(|()| out.commit());
    if let Err(e) = table {
        if e.kind() != io::ErrorKind::BrokenPipe {
            say(format_args!("cannot write stdout: {e}"));
        }
        return Exit::Fatal;
    }
    if let Some(fast) = rows.iter().find(|r| r.median < 0.1) {
        say(format_args!(
            "warning: runs of {:.0} ms ({}) are too short to measure well; use a bigger tree",
            fast.median * 1000.0,
            fast.setting.label()
        ));
    }
    let errors: u64 = rows
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

    let mut code = if interrupted {
        Exit::Interrupted
    } else if errors > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    let all_runs: Vec<(Setting, &Run)> = rows
        .iter()
        .flat_map(|r| r.runs.iter().map(move |run| (r.setting, run)))
        .chain(
            partial
                .iter()
                .flat_map(|(s, runs)| runs.iter().map(move |run| (*s, run))),
        )
        .collect();
    let exports: [(&Option<PathBuf>, &Exporter); 3] = [
        (&args.csv, &|p| write_csv(p, &all_runs)),
        (&args.json, &|p| {
            write_json(p, &root, args.cache, &rows, &all_runs)
        }),
        (&args.plot, &|p| write_plot(p, &root, args.cache, &rows)),
    ];
    for (target, export) in exports {
        if let Some(p) = target {
            if let Err(e) = export(p) {
                say(format_args!("{e}"));
                code = Exit::Fatal;
            }
        }
    }
    code
}

/// Writes one export file.
type Exporter<'a> = dyn Fn(&Path) -> Result<(), String> + 'a;

fn engine_config(s: &Setting, batch: u32) -> Result<EngineConfig, String> {
    let as_usize = |v: Option<u32>| v.map(|v| v as usize);
    let (cfg, warnings) = config::pipeline(
        Some(s.jobs as usize),
        as_usize(s.queue),
        as_usize(s.max_open),
        batch as usize,
        crate::commands::descriptors(),
    )?;
    for w in warnings {
        say(format_args!("{w}"));
    }
    Ok(cfg)
}

/// One run of the pipeline over `root`; `None` if interrupted.
fn run_once(cfg: &EngineConfig, root: &Path) -> Option<Run> {
    let walk_cfg = WalkConfig {
        roots: vec![root.to_path_buf()],
        ..WalkConfig::default()
    };
    let cfg = EngineConfig {
        confine: config::confine_for(&walk_cfg),
        ..cfg.clone()
    };
    let walk_cfg = WalkConfig {
        max_open_dirs: cfg.walker_dirs,
        ..walk_cfg
    };
    let (mut files, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    // Bench times the whole pipeline; its emit never fails and the walk's counts are not
    // part of a timing row.
    let _finished = engine::run(
        &cfg,
        move |feeder| walk_into(&walk_cfg, feeder, |_, a| Some(a)),
        |done| {
            match done.outcome {
                Outcome::Hashed { size, .. } => {
                    files += 1;
                    bytes += size;
                }
                Outcome::Failed(_) => errors += 1,
                Outcome::Skipped(_) => {}
            }
            Ok(())
        },
    );
    let wall = started.elapsed();
    (!cancel::is_stopped()).then_some(Run {
        wall,
        files,
        bytes,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sweep_goes_to_eight_times_the_cores() {
        assert_eq!(default_jobs_sweep(2), vec![1, 2, 4, 8, 16]);
        assert_eq!(default_jobs_sweep(8), vec![1, 2, 4, 8, 16, 32, 64]);
    }

    #[test]
    fn median_and_spread() {
        let run = |ms| Run {
            wall: Duration::from_millis(ms),
            files: 1,
            bytes: 1_000_000,
            errors: 0,
        };
        let r = Row::new(
            Setting {
                jobs: 1,
                max_open: None,
                queue: None,
            },
            vec![run(300), run(100), run(200)],
        );
        assert_eq!((r.median, r.min, r.max), (0.2, 0.1, 0.3));
        assert!((r.mb_per_s(r.median) - 5.0).abs() < 1e-9);
    }
}
