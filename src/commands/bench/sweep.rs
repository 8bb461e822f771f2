//! The sweep: each setting gets one untimed warm-up run, then `--repeat` timed runs of the
//! real pipeline (digests computed, nothing written), the cache prepared before each as
//! `--cache` says. Ctrl-C ends it: the settings whose runs all finished are kept, and the
//! timed runs of the one under way.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::walk_into;
use crate::config;
use crate::config::bench::{Cache, SweepSettings};
use crate::exit::Fail;
use crate::hash::outcome::Outcome;
use crate::pipeline::engine::{self, EngineConfig};
use crate::report::stderr::say;
use crate::sys::cancel;
use crate::sys::evict::{drop_all_caches, evict_tree};
use crate::walk::WalkConfig;

/// One point of the sweep.
#[derive(Debug, Clone, Copy)]
pub(super) struct Setting {
    /// `--jobs N`; None: the adaptive default (no `--jobs`), the setting a user keeps.
    pub(super) jobs: Option<u32>,
    pub(super) max_open: Option<u32>,
    pub(super) queue: Option<u32>,
}

impl Setting {
    pub(super) fn label(&self) -> String {
        let mut s = match self.jobs {
            Some(j) => format!("--jobs {j}"),
            None => "default (adaptive)".to_string(),
        };
        if let Some(m) = self.max_open {
            s.push_str(&format!(" --max-open {m}"));
        }
        if let Some(q) = self.queue {
            s.push_str(&format!(" --queue {q}"));
        }
        s
    }

    pub(super) fn series(&self) -> String {
        match (self.max_open, self.queue) {
            (None, None) => "--max-open default, --queue default".into(),
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
pub(super) struct Run {
    pub(super) wall: Duration,
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) errors: u64,
}

/// The statistics of one setting.
pub(super) struct Row {
    pub(super) setting: Setting,
    pub(super) runs: Vec<Run>,
    pub(super) median: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Row {
    pub(super) fn new(setting: Setting, runs: Vec<Run>) -> Row {
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

    pub(super) fn files(&self) -> u64 {
        self.runs[0].files
    }

    pub(super) fn bytes(&self) -> u64 {
        self.runs[0].bytes
    }

    /// Decimal MB/s (the JSON export's `mb_per_s`).
    pub(super) fn mb_per_s(&self, secs: f64) -> f64 {
        self.bytes() as f64 / 1e6 / secs.max(1e-9)
    }

    /// MiB/s: the unit of the table and the plot, as the rest of the tool (`hash`'s summary
    /// says KiB, MiB, GiB/s).
    pub(super) fn mib_per_s(&self, secs: f64) -> f64 {
        self.bytes() as f64 / (1u64 << 20) as f64 / secs.max(1e-9)
    }
}

/// The default sweep: 1, 2, 4, ... up to 8 × CPUs.
pub(super) fn default_jobs_sweep(cpus: usize) -> Vec<u32> {
    let top = (8 * cpus).max(8) as u32;
    std::iter::successors(Some(1u32), |j| (j * 2 <= top).then_some(j * 2)).collect()
}

/// What a sweep measured.
pub(super) struct Swept {
    /// The settings whose runs all finished.
    pub rows: Vec<Row>,
    /// The timed runs of a setting a stop cut short.
    pub partial: Vec<(Setting, Vec<Run>)>,
}

/// Runs every setting over `root`.
pub(super) fn sweep(settings: &[Setting], how: &SweepSettings, root: &Path) -> Result<Swept, Fail> {
    let repeat = how.repeat;
    let bar = how
        .progress
        .then(|| progress_bar(settings.len() * (repeat + 1)));
    let mut swept = Swept {
        rows: Vec::new(),
        partial: Vec::new(),
    };
    'sweep: for setting in settings {
        let cfg = engine_config(setting, how.batch).map_err(Fail::fatal)?;
        let mut runs = Vec::with_capacity(repeat);
        for i in 0..=repeat {
            if let Some(b) = &bar {
                let which = match i {
                    0 => "warm-up".into(),
                    i => format!("run {i}/{repeat}"),
                };
                b.set_message(format!("{} {which}", setting.label()));
            }
            prepare_cache(how.cache, root)?;
            let Some(run) = run_once(&cfg, root) else {
                if !runs.is_empty() {
                    swept.partial.push((*setting, runs));
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
        swept.rows.push(Row::new(*setting, runs));
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(swept)
}

fn progress_bar(total_runs: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total_runs as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("bench {bar:30} {pos}/{len} runs  {msg}")
            .expect("valid template"),
    );
    bar
}

/// Before a run: the tree's pages evicted (`cold`), every clean page dropped (`drop`), or
/// nothing (`warm`).
fn prepare_cache(cache: Cache, root: &Path) -> Result<(), Fail> {
    match cache {
        Cache::Cold => {
            evict_tree(root);
        }
        Cache::Drop => {
            drop_all_caches().map_err(|e| Fail::fatal(format!("cannot drop the caches: {e}")))?
        }
        Cache::Warm => {}
    }
    Ok(())
}

fn engine_config(s: &Setting, batch: u32) -> Result<EngineConfig, String> {
    let as_usize = |v: Option<u32>| v.map(|v| v as usize);
    let (cfg, warnings) = config::pipeline(
        s.jobs.map(|j| j as usize),
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
    let walk = WalkConfig {
        roots: vec![root.to_path_buf()],
        ..WalkConfig::default()
    };
    let (walk_cfg, mut cfg) = config::wire(walk, cfg.clone());
    // Each run reads as a run of `hash` would: no digest of a hard link kept from the last.
    cfg.links = Default::default();
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
                Outcome::Skipped(_) | Outcome::Described { .. } => {}
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
                jobs: Some(1),
                max_open: None,
                queue: None,
            },
            vec![run(300), run(100), run(200)],
        );
        assert_eq!((r.median, r.min, r.max), (0.2, 0.1, 0.3));
        assert!((r.mb_per_s(r.median) - 5.0).abs() < 1e-9);
    }
}
