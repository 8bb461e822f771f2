//! `b3tree bench` on small trees: table, exports, plot, cold cache, errors, Ctrl-C.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn small_tree(env: &TestEnv, n: usize) {
    for i in 0..n {
        env.file(format!("t/d{}/f{i}", i % 10), vec![i as u8; 100 + i * 13]);
    }
}

#[test]
fn table_has_one_row_per_setting_and_a_recommendation() {
    let env = TestEnv::new();
    small_tree(&env, 200);
    let out = env.run(&["bench", "t", "--jobs", "1,2,4", "--repeat", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("--jobs")).collect();
    assert_eq!(rows.len(), 3, "{text}");
    for (row, j) in rows.iter().zip(["1", "2", "4"]) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1], j);
        assert_eq!(cols[2], "200", "files column: {row}");
    }
    // The adaptive default is a row too, the one the others are compared with; a setting
    // is named best only when all its runs beat all the default's, else the default stays.
    let default: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("default (adaptive)"))
        .collect();
    assert_eq!(default.len(), 1, "{text}");
    assert!(default[0].contains(" 1.00x "), "{text}");
    assert!(text.contains("median of 2 runs per setting"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("best: --jobs ") || last.starts_with("no setting is clearly faster"),
        "{text}"
    );
    // A tree this small runs far under 100 ms: the user is told.
    assert_stderr_contains(&out, "too short to measure");
}

#[test]
fn csv_json_and_svg_hold_every_run_and_series() {
    let env = TestEnv::new();
    small_tree(&env, 100);
    let out = env.run(&[
        "bench",
        "t",
        "--jobs",
        "1,3",
        "--max-open",
        "1,8",
        "--repeat",
        "3",
        "--csv",
        "b.csv",
        "--json",
        "b.json",
        "--plot",
        "b.svg",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("--jobs"))
            .count(),
        4
    );
    let csv = std::fs::read_to_string(env.root().join("b.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "jobs,max_open,queue,run,wall_secs,files,bytes,errors"
    );
    // Four fixed settings and the adaptive default of each --max-open, three runs each.
    assert_eq!(lines.len(), 1 + 6 * 3);
    assert_eq!(lines.iter().filter(|l| l.starts_with("auto,")).count(), 6);
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 8);
        assert!(f[4].parse::<f64>().unwrap() > 0.0);
        assert_eq!(f[5], "100");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.root().join("b.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 18);
    assert_eq!(json["settings"].as_array().unwrap().len(), 6);
    assert_eq!(json["settings"][0]["adaptive"], true);
    assert!(json["settings"][0]["jobs"].is_null());
    assert_eq!(json["runs"][0]["files"], 100);
    let svg = std::fs::read_to_string(env.root().join("b.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    // Text is placed by `y` alone: ImageMagick's renderer ignores `dy` in em/ex.
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .all(|n| n.attribute("dy").is_none() && n.attribute("transform").is_none()),
        "no dy, no rotated text"
    );
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(
        texts.iter().any(|t| t.contains("throughput (MiB/s)")),
        "y label"
    );
    assert!(texts.iter().any(|t| t.contains("--jobs")), "x label");
    assert!(
        texts.iter().any(|t| t.contains("--max-open 1"))
            && texts.iter().any(|t| t.contains("--max-open 8")),
        "two series in the legend"
    );
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert!(lines >= 2, "one line per series, found {lines}");
    let points = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("fill") != Some("none"))
        .count();
    assert_eq!(points, 4, "one marker per setting");
}

/// The texts of an SVG plot.
fn svg_texts(path: &std::path::Path) -> Vec<String> {
    let svg = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    doc.descendants()
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `default (adaptive) N MiB/s` for each adaptive setting of a `--json` export, in order, as
/// the plot must label it (its median throughput).
fn default_labels(json: &std::path::Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["adaptive"] == true)
        .map(|s| {
            let bytes = s["bytes"].as_u64().unwrap() as f64;
            let secs = s["median_secs"].as_f64().unwrap();
            let mib = bytes / (1u64 << 20) as f64 / secs.max(1e-9);
            format!("default (adaptive) {mib:.0} MiB/s")
        })
        .collect()
}

#[test]
fn the_plot_shows_each_series_default_and_the_verdict() {
    let env = TestEnv::new();
    small_tree(&env, 200);
    for (max_open, series) in [("4", 1), ("1,8", 2)] {
        let out = env.run(&[
            "bench",
            "t",
            "--jobs",
            "1,2",
            "--max-open",
            max_open,
            "--repeat",
            "3",
            "--json",
            "b.json",
            "--plot",
            "b.svg",
        ]);
        assert_exit(&out, 0);
        let texts = svg_texts(&env.root().join("b.svg"));
        let labels = default_labels(&env.root().join("b.json"));
        assert_eq!(labels.len(), series);
        for label in &labels {
            assert!(texts.contains(label), "{label} not in {texts:?}");
        }
        // The legend says what is held; the table's verdict is in the picture too.
        let first = max_open.split(',').next().unwrap();
        let held = format!("--max-open {first}, --queue default");
        assert!(texts.iter().any(|t| t.contains(&held)), "{texts:?}");
        let verdict = stdout(&out).lines().last().unwrap().to_string();
        let shown = if verdict.starts_with("best: ") {
            texts.iter().any(|t| t.starts_with("best: --jobs"))
        } else {
            texts
                .iter()
                .any(|t| t.contains("no setting clearly faster than"))
        };
        assert!(shown, "{verdict} / {texts:?}");
    }
}

#[test]
fn a_tree_named_with_control_characters_gives_a_valid_plot() {
    let env = TestEnv::new();
    env.file("t\x1b[31m/a", "a");
    let out = env.run(&[
        "bench",
        "t\x1b[31m",
        "--jobs",
        "1",
        "--repeat",
        "2",
        "--plot",
        "b.svg",
    ]);
    assert_exit(&out, 0);
    let texts = svg_texts(&env.root().join("b.svg"));
    let title = texts.iter().find(|t| t.contains("throughput,")).unwrap();
    assert!(
        title.contains(r"t\x1b[31m") && !title.contains('\x1b'),
        "{title}"
    );
}

#[test]
fn cold_cache_works_unprivileged() {
    let tree = public_tree();
    let (_bin_dir, bin) = public_copy_of_binary();
    for i in 0..50 {
        write_mode(
            tree.path().join(format!("f{i}")),
            vec![7u8; 4096 * (i + 1)],
            0o644,
        );
    }
    let mut cmd = Command::new(&bin);
    as_nobody(&mut cmd);
    cmd.args([
        "bench", ".", "--cache", "cold", "--jobs", "2", "--repeat", "2",
    ])
    .current_dir(tree.path());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("cold cache"), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("--jobs 2") && l.split_whitespace().nth(2) == Some("50"))
    );
}

#[test]
fn nonsense_arguments_are_usage_errors() {
    let env = TestEnv::new();
    small_tree(&env, 3);
    for args in [
        &["bench", "t", "--jobs", "0"][..],
        &["bench", "t", "--jobs", ""],
        &["bench", "t", "--jobs", "1,,2"],
        &["bench", "t", "--repeat", "0"],
        &["bench", "no-such-dir"],
        &["bench", "t", "--cache", "lukewarm"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
}

/// User + system clock ticks `pid` has used (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After ')': field 3 is index 0, so utime (14) is 11 and stime (15) is 12.
    tick(11) + tick(12)
}

#[test]
fn ctrl_c_stops_the_sweep_and_reports_finished_rows() {
    let env = TestEnv::new();
    small_tree(&env, 2000);
    let jobs: Vec<String> = (1..=400).map(|j| j.to_string()).collect();
    let child = env
        .cmd()
        .args([
            "bench",
            "t",
            "--repeat",
            "1",
            "--csv",
            "b.csv",
            "--jobs",
            &jobs.join(","),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Well into the sweep (one setting is ~20 ms of CPU here): half a second of CPU used,
    // however loaded the machine, rather than a fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cpu_ticks(child.id()) < 50 {
        assert!(Instant::now() < deadline, "the sweep never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let sent = Instant::now();
    let out = output_within(child, WAIT);
    assert!(sent.elapsed() <= PROMISED_STOP, "{:?}", sent.elapsed());
    assert_died_of(out.status, libc::SIGINT);
    let rows = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("--jobs"))
        .count();
    assert!((1..400).contains(&rows), "{rows} rows");
    let last = stdout(&out).lines().last().unwrap_or_default().to_string();
    assert!(
        [
            "best:",
            "no setting is clearly",
            "only the default",
            "one run per setting",
            "fastest:"
        ]
        .iter()
        .any(|w| last.starts_with(w)),
        "{last}"
    );
    let csv = std::fs::read_to_string(env.root().join("b.csv")).unwrap();
    assert!(csv.lines().count() > rows, "every finished run exported");
}

#[test]
fn a_plot_named_for_another_format_is_refused_before_any_run() {
    let env = TestEnv::new();
    small_tree(&env, 10);
    for name in ["x.jpg", "x.svg.gz"] {
        let out = env.run(&["bench", "t", "--repeat", "1", "--jobs", "1", "--plot", name]);
        assert_eq!(out.status.code(), Some(2));
        assert_stderr_contains(
            &out,
            &format!("--plot {name}: the plot is written as SVG or PNG; name it .svg or .png"),
        );
        assert!(stdout(&out).is_empty(), "no sweep ran");
        assert!(!env.root().join(name).exists());
    }
}

/// `--plot x.png` writes a real PNG: it decodes, has the plot's size, draws the series in
/// their colours and draws text (the title band holds dark pixels), with the font compiled
/// into the binary (no system fonts are looked up: the test sets no font path either way).
#[test]
fn a_png_plot_is_a_real_picture_with_series_and_text() {
    let env = TestEnv::new();
    small_tree(&env, 50);
    let out = env.run(&[
        "bench",
        "t",
        "--repeat",
        "2",
        "--jobs",
        "1,2",
        "--max-open",
        "1,8",
        "--plot",
        "p.PNG",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = std::fs::File::open(env.root().join("p.PNG")).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG image data");
    assert_eq!((info.width, info.height), (1060, 560));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let count = |pred: &dyn Fn((u8, u8, u8)) -> bool, rows: std::ops::Range<u32>| {
        rows.flat_map(|y| (0..info.width).map(move |x| (x, y)))
            .filter(|&(x, y)| pred(px(x, y)))
            .count()
    };
    let near = |c: (u8, u8, u8), t: (u8, u8, u8)| {
        c.0.abs_diff(t.0) < 24 && c.1.abs_diff(t.1) < 24 && c.2.abs_diff(t.2) < 24
    };
    assert!(
        count(&|c| near(c, (31, 119, 180)), 0..560) > 200,
        "first series (blue)"
    );
    assert!(
        count(&|c| near(c, (214, 39, 40)), 0..560) > 200,
        "second series (red)"
    );
    assert!(
        count(&|c| c.0 < 100 && c.1 < 100 && c.2 < 100, 0..30) > 300,
        "the title is drawn"
    );
    assert_eq!(px(1, 1), (255, 255, 255), "white background");
}

#[test]
fn the_table_speaks_in_human_sizes_and_mib_per_s() {
    let env = TestEnv::new();
    small_tree(&env, 10);
    let out = env.run(&["bench", "t", "--repeat", "1", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    let header = table.lines().nth(1).unwrap();
    assert!(
        header.contains(" size ") && header.contains("MiB/s"),
        "{table}"
    );
    let row = table.lines().nth(2).unwrap();
    assert!(
        row.contains(" B ") || row.contains("KiB") || row.contains("MiB"),
        "{table}"
    );
}

/// `--cache drop` empties every cache before each run (as root, which CI is); for anyone else
/// it is a usage error before any run, pointing at `--cache cold`. The drops are seen under
/// strace and made no-ops there (`-P` traces the drop_caches file alone, the write is
/// answered without reaching the kernel): dropping every cache of the machine in the middle
/// of the parallel suite would slow every other test.
#[test]
fn cache_drop_is_completely_cold_and_root_only() {
    let env = TestEnv::new();
    small_tree(&env, 20);
    let trace = env.root().join("drops.txt");
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-P",
        "/proc/sys/vm/drop_caches",
        "-e",
        "trace=write",
    ])
    .args(["-e", "inject=write:retval=2", "-o"])
    .arg(&trace)
    .arg(bin())
    .args([
        "bench", "t", "--cache", "drop", "--jobs", "1,2", "--repeat", "2",
    ])
    .current_dir(env.root());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cold cache: all caches dropped"),
        "{}",
        stdout(&out)
    );
    // Before every run: 3 settings (the default, -j 1, -j 2) × (1 warm-up + 2 timed runs).
    let drops = std::fs::read_to_string(&trace).unwrap();
    let writes: Vec<&str> = drops.lines().filter(|l| l.contains("write(")).collect();
    assert_eq!(writes.len(), 9, "{drops}");
    assert!(
        writes
            .iter()
            .all(|l| l.contains("\"3\\n\", 2)") && l.contains("INJECTED")),
        "{drops}"
    );
    let tree = public_tree();
    let (_bin_dir, bin) = public_copy_of_binary();
    std::fs::write(tree.path().join("f"), "f").unwrap();
    let mut cmd = Command::new(&bin);
    as_nobody(&mut cmd);
    cmd.args(["bench", ".", "--cache", "drop", "--repeat", "1"])
        .current_dir(tree.path());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_contains(&out, "--cache drop needs root");
    assert!(stdout(&out).is_empty());
}
