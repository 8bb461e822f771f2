//! Bench output: the table on stdout, and the exports — every run as CSV, settings and runs
//! as JSON, the throughput plot — each written by the same rules as `hash -o` (atomic,
//! devices written in place).

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::plot::{Format, Picture, Point, Series, throughput};
use super::sweep::{Row, Run, Setting};
use crate::config::bench::Cache;
use crate::output::write_whole;

pub(super) fn write_csv(path: &Path, runs: &[(Setting, &Run)]) -> Result<(), String> {
    let mut s = String::from("jobs,max_open,queue,run,wall_secs,files,bytes,errors\n");
    let mut counter: std::collections::HashMap<String, u32> = Default::default();
    for (setting, run) in runs {
        let n = counter.entry(setting.label()).or_default();
        *n += 1;
        s.push_str(&format!(
            "{},{},{},{},{:.6},{},{},{}\n",
            setting.jobs.map_or("auto".to_string(), |j| j.to_string()),
            setting.max_open.map_or(String::new(), |m| m.to_string()),
            setting.queue.map_or(String::new(), |q| q.to_string()),
            n,
            run.wall.as_secs_f64(),
            run.files,
            run.bytes,
            run.errors
        ));
    }
    write_whole(path, s.as_bytes())
}

/// The `--json` export: the sweep's settings and every timed run.
#[derive(Serialize)]
struct Export<'a> {
    path: std::borrow::Cow<'a, str>,
    cache: &'static str,
    cpus: usize,
    runs: Vec<RunRecord>,
    settings: Vec<SettingRecord>,
}

#[derive(Serialize)]
struct RunRecord {
    /// null for the adaptive default.
    jobs: Option<u32>,
    max_open: Option<u32>,
    queue: Option<u32>,
    wall_secs: f64,
    files: u64,
    bytes: u64,
    errors: u64,
}

#[derive(Serialize)]
struct SettingRecord {
    /// null for the adaptive default.
    jobs: Option<u32>,
    adaptive: bool,
    max_open: Option<u32>,
    queue: Option<u32>,
    median_secs: f64,
    min_secs: f64,
    max_secs: f64,
    files: u64,
    bytes: u64,
    mb_per_s: f64,
}

pub(super) fn write_json(
    path: &Path,
    root: &Path,
    cache: Cache,
    rows: &[Row],
    runs: &[(Setting, &Run)],
) -> Result<(), String> {
    let v = Export {
        path: root.to_string_lossy(),
        cache: cache.name(),
        cpus: crate::sys::limits::cpus(),
        runs: runs
            .iter()
            .map(|(s, r)| RunRecord {
                jobs: s.jobs,
                max_open: s.max_open,
                queue: s.queue,
                wall_secs: r.wall.as_secs_f64(),
                files: r.files,
                bytes: r.bytes,
                errors: r.errors,
            })
            .collect(),
        settings: rows
            .iter()
            .map(|r| SettingRecord {
                jobs: r.setting.jobs,
                adaptive: r.setting.jobs.is_none(),
                max_open: r.setting.max_open,
                queue: r.setting.queue,
                median_secs: r.median,
                min_secs: r.min,
                max_secs: r.max,
                files: r.files(),
                bytes: r.bytes(),
                mb_per_s: r.mb_per_s(r.median),
            })
            .collect(),
    };
    let text = serde_json::to_vec_pretty(&v).map_err(|e| e.to_string())?;
    write_whole(path, &text)
}

pub(super) fn write_plot(
    path: &Path,
    root: &Path,
    cache: Cache,
    rows: &[Row],
) -> Result<(), String> {
    if rows.is_empty() {
        return Err(format!(
            "{}: not written: no setting finished",
            crate::names::escape::display(path.as_os_str().as_encoded_bytes())
        ));
    }
    let mut series: Vec<Series> = Vec::new();
    let point = |r: &Row, jobs| Point {
        jobs,
        median: r.mib_per_s(r.median),
        // The fastest run gives the highest throughput.
        min: r.mib_per_s(r.max),
        max: r.mib_per_s(r.min),
    };
    for r in rows {
        let label = r.setting.series();
        let at = match series.iter().position(|s| s.label == label) {
            Some(at) => at,
            None => {
                let points = Vec::new();
                series.push(Series {
                    label,
                    points,
                    default: None,
                });
                series.len() - 1
            }
        };
        match r.setting.jobs {
            Some(jobs) => series[at].points.push(point(r, jobs)),
            None => series[at].default = Some(point(r, 0)),
        }
    }
    for s in &mut series {
        s.points.sort_by_key(|p| p.jobs);
    }
    // Escaped as a name on a terminal: no control character reaches the XML (which forbids
    // them) or a viewer.
    let title = plot_title(root, cache);
    let runs = rows.first().map_or(0, |r| r.runs.len());
    let (best, note) = match verdict(rows, runs) {
        Verdict::Best(row, speed) => {
            let at = series.iter().position(|s| s.label == row.setting.series());
            let said = format!("best: {} ({speed:.2}x its default)", row.setting.label());
            (
                at.zip(row.setting.jobs).map(|(at, jobs)| (at, jobs, said)),
                None,
            )
        }
        Verdict::Overlap => (
            None,
            Some("no setting clearly faster than the default".into()),
        ),
        other => (None, Some(other.text())),
    };
    let picture = Picture {
        title: &title,
        series: &series,
        best,
        note,
    };
    // The name was checked before any run.
    let format = Format::of(path).unwrap_or(Format::Svg);
    write_whole(path, &throughput(format, &picture)?)
}

pub(super) fn write_table(
    out: &mut impl Write,
    rows: &[Row],
    root: &Path,
    cache: Cache,
) -> io::Result<()> {
    let runs = rows.first().map_or(0, |r| r.runs.len());
    writeln!(
        out,
        "b3tree bench {}  ({}, {} CPUs, {})",
        crate::names::escape::display(root.as_os_str().as_encoded_bytes()),
        cache.label(),
        crate::sys::limits::cpus(),
        match runs {
            1 => "one run per setting".to_string(),
            n => format!("median of {n} runs per setting"),
        }
    )?;
    writeln!(
        out,
        "{:<36} {:>9} {:>12} {:>9} {:>11} {:>9} {:>10}  spread (min-max s)",
        "setting", "files", "size", "median s", "files/s", "MiB/s", "vs default"
    )?;
    if rows.is_empty() {
        return writeln!(
            out,
            "stopped before any setting finished: nothing to compare"
        );
    }
    let default = rows.iter().find(|r| r.setting.jobs.is_none());
    for r in rows {
        let versus = default.map_or("-".to_string(), |d| {
            format!("{:.2}x", d.median / r.median.max(1e-9))
        });
        writeln!(
            out,
            "{:<36} {:>9} {:>12} {:>9.3} {:>11.0} {:>9.1} {:>10}  {:.3}-{:.3}",
            r.setting.label(),
            r.files(),
            indicatif::HumanBytes(r.bytes()).to_string(),
            r.median,
            r.files() as f64 / r.median.max(1e-9),
            r.mib_per_s(r.median),
            versus,
            r.min,
            r.max
        )?;
    }
    writeln!(out, "{}", verdict(rows, runs).text())
}

/// The plot's title: the tree (escaped, shortened), the cache state, the CPUs, and whether
/// the sweep was stopped early.
fn plot_title(root: &Path, cache: Cache) -> String {
    let name = crate::names::escape::display(root.as_os_str().as_encoded_bytes());
    let stopped = match crate::sys::cancel::was_interrupted() {
        true => "; stopped early",
        false => "",
    };
    format!(
        "b3tree hash throughput, {} ({}, {} CPUs{stopped})",
        shortened(&name, 48),
        cache.label(),
        crate::sys::limits::cpus(),
    )
}

/// `text` in at most `max` characters: its start and end kept, `…` between.
fn shortened(text: &str, max: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max {
        return text.to_string();
    }
    let half = (max - 1) / 2;
    let head: String = chars[..half].iter().collect();
    let tail: String = chars[chars.len() - half..].iter().collect();
    format!("{head}…{tail}")
}

/// Whether `row` is the adaptive default of `setting`'s series (same --max-open, --queue).
fn is_default_of(row: &Row, setting: &Row) -> bool {
    let (a, b) = (&row.setting, &setting.setting);
    a.jobs.is_none() && (a.max_open, a.queue) == (b.max_open, b.queue)
}

/// The sweep's conclusion: a setting is named only when every run of it beat every run of
/// its own default (same --max-open and --queue: their spreads do not overlap); else the
/// default stays.
enum Verdict<'a> {
    OnlyDefault,
    /// The default did not finish: the fastest setting.
    Unfinished(&'a Row),
    OneRun,
    /// Clearly faster, and how many times the default's speed.
    Best(&'a Row, f64),
    Overlap,
}

fn verdict(rows: &[Row], runs: usize) -> Verdict<'_> {
    let fixed = rows.iter().filter(|r| r.setting.jobs.is_some());
    let Some(best) = fixed.min_by(|a, b| a.median.total_cmp(&b.median)) else {
        return Verdict::OnlyDefault;
    };
    // The default it is compared with holds the same --max-open and --queue.
    let Some(default) = rows.iter().find(|r| is_default_of(r, best)) else {
        return Verdict::Unfinished(best);
    };
    if runs < 2 {
        return Verdict::OneRun;
    }
    if best.max < default.min {
        Verdict::Best(best, default.median / best.median.max(1e-9))
    } else {
        Verdict::Overlap
    }
}

impl Verdict<'_> {
    /// The verdict in plain words (the table's last line).
    fn text(&self) -> String {
        match self {
            Verdict::OnlyDefault => {
                "only the default was measured: nothing to compare it with".into()
            }
            Verdict::Unfinished(best) => format!(
                "fastest: {} (the default was not measured to the end)",
                best.setting.label()
            ),
            Verdict::OneRun => "one run per setting cannot tell settings apart from noise: use \
                                --repeat 3 or more"
                .into(),
            Verdict::Best(best, speed) => format!(
                "best: {} ({speed:.2}x the speed of its default; each of its runs beat each of \
                 the default's)",
                best.setting.label(),
            ),
            Verdict::Overlap => "no setting is clearly faster than the default (their run times \
                                 overlap): keep the default"
                .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn row(jobs: Option<u32>, max_open: u32, secs: &[f64]) -> Row {
        let setting = Setting {
            jobs,
            max_open: Some(max_open),
            queue: None,
        };
        let runs = (secs.iter())
            .map(|&s| Run {
                wall: Duration::from_secs_f64(s),
                files: 1,
                bytes: 1 << 20,
                errors: 0,
            })
            .collect();
        Row::new(setting, runs)
    }

    #[test]
    fn the_best_is_compared_with_its_own_series_default() {
        // Beats the first series' default by far, overlaps its own: no verdict for it.
        let rows = [
            row(None, 1, &[2.0, 2.1, 2.2]),
            row(Some(4), 1, &[1.9, 2.0, 2.05]),
            row(None, 8, &[1.0, 1.05, 1.1]),
            row(Some(4), 8, &[0.9, 0.95, 1.05]),
        ];
        assert!(matches!(verdict(&rows, 3), Verdict::Overlap));
        // Clearly faster than its own default: named, with the speed against that default.
        let rows = [
            row(None, 1, &[0.5, 0.5, 0.5]),
            row(None, 8, &[1.0, 1.05, 1.1]),
            row(Some(4), 8, &[0.6, 0.7, 0.8]),
        ];
        let Verdict::Best(best, speed) = verdict(&rows, 3) else {
            panic!("a best setting");
        };
        assert_eq!(best.setting.max_open, Some(8));
        assert!((speed - 1.5).abs() < 1e-9, "{speed}");
    }
}
