//! The bench plot: throughput (MiB/s, as in the table) against worker count, median with
//! min–max whiskers, one series per (--max-open, --queue) pair, as SVG or PNG (chosen by the
//! file name). Each series' adaptive default — the setting a user keeps, which has no place
//! on the `--jobs` axis — is a dashed horizontal line at its median over a band of its
//! min–max spread, labelled with its value, in the series' colour; the table's verdict is in
//! the picture too: the best setting ringed and named when it is clearly faster, else the
//! sentence that says none is. The same drawing code serves both backends. Text is measured (and, in the PNG,
//! drawn) with a subset of DejaVu Sans compiled into the binary (`assets/`), so no system
//! fonts are needed; the SVG names the family "sans-serif" and leaves the glyphs to the
//! viewer. The legend has a panel of its own right of the plot, so it never covers a point;
//! x ticks sit at the measured `--jobs`; colours are dark enough to read on white (no yellow).

use std::sync::Once;

use plotters::coord::{CoordTranslate, Shift};

use super::svg::portable_svg;
use plotters::prelude::*;

/// One point of a series.
pub struct Point {
    pub jobs: u32,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// One line of the plot: a `--max-open`/`--queue` pair over the `--jobs` sweep.
pub struct Series {
    /// What is held (`--max-open 8, --queue default`).
    pub label: String,
    pub points: Vec<Point>,
    /// The adaptive default with the same held values (its `jobs` unused).
    pub default: Option<Point>,
}

/// What the picture shows besides the series.
pub struct Picture<'a> {
    pub title: &'a str,
    pub series: &'a [Series],
    /// The setting clearly faster than the default: its series, its `--jobs`, and what is
    /// said of it (`best: --jobs 8 (1.31x its default)`).
    pub best: Option<(usize, u32, String)>,
    /// The verdict when no setting is marked (`no setting clearly faster than the default`).
    pub note: Option<String>,
}

/// The file formats `--plot` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format a file name asks for: `.png` (any case) a PNG; `.svg` or no extension
    /// (`/dev/stdout`, a FIFO) SVG; any other extension is refused.
    pub fn of(path: &std::path::Path) -> Option<Format> {
        let Some(ext) = path.extension() else {
            return Some(Format::Svg);
        };
        let ext = ext.to_str()?;
        if ext.eq_ignore_ascii_case("svg") {
            Some(Format::Svg)
        } else if ext.eq_ignore_ascii_case("png") {
            Some(Format::Png)
        } else {
            None
        }
    }
}

const SIZE: (u32, u32) = (1060, 560);
const FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans-subset.ttf");

/// Draws `picture` as a document in `format` (written out by the caller, by the same rules
/// as `-o`).
pub fn throughput(format: Format, picture: &Picture) -> Result<Vec<u8>, String> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // The font is ours and fixed; a failure here is a build defect the tests catch.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    match format {
        Format::Svg => {
            let mut svg = String::new();
            draw(
                SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
                picture,
            )?;
            Ok(portable_svg(&svg).into_bytes())
        }
        Format::Png => {
            let (w, h) = SIZE;
            let mut rgb = vec![0u8; (w * h * 3) as usize];
            draw(
                BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area(),
                picture,
            )?;
            encode_png(&rgb, w, h)
        }
    }
}

/// RGB bytes to a PNG file's bytes.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let err = |e: png::EncodingError| format!("cannot encode the plot as PNG: {e}");
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// The axes' extent: the most jobs (at least 2), the top of the y axis (room above the
/// highest error bar), and the job counts measured (the x axis's ticks).
fn extent(series: &[Series]) -> (u32, f64, Vec<f64>) {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let max_jobs = points().map(|p| p.jobs).max().unwrap_or(1).max(2);
    let defaults = series.iter().filter_map(|s| s.default.as_ref());
    let y_max = (points().chain(defaults).map(|p| p.max))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let mut ticks: Vec<f64> = points().map(|p| f64::from(p.jobs)).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    (max_jobs, y_max, ticks)
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, picture: &Picture) -> Result<(), String> {
    let series = picture.series;
    let (max_jobs, y_max, ticks) = extent(series);
    let err = |e: &dyn std::fmt::Display| format!("cannot draw the plot: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(picture.title, ("sans-serif", 22))
        .map_err(|e| err(&e))?;
    let (plot_area, legend_area) = root.split_horizontally(760);
    let x_end = f64::from(max_jobs) * 1.25;
    let x_range = (0.8f64..x_end).log_scale().with_key_points(ticks);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, 0f64..y_max)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        // Solid light grey, not black at 20 % opacity: ImageMagick's renderer ignores opacity.
        .bold_line_style(GRID)
        .x_desc("worker tasks (--jobs, log scale)")
        .x_label_formatter(&|x| format!("{}", x.round()))
        .y_label_formatter(&|y| match y_max < 20.0 {
            true => format!("{y:.1}"),
            false => format!("{y:.0}"),
        })
        .draw()
        .map_err(|e| err(&e))?;
    // The y caption is set horizontally above the axis: rotated text is the one thing the
    // renderers we checked place differently.
    plot_area
        .draw(&Text::new(
            "throughput (MiB/s)",
            (12, 2),
            ("sans-serif", 13).into_font().color(&BLACK),
        ))
        .map_err(|e| err(&e))?;
    draw_defaults(&mut chart, series, (x_end, y_max)).map_err(|e| err(&e))?;
    legend_heading(&legend_area).map_err(|e| err(&e))?;
    draw_lines(&mut chart, &legend_area, series).map_err(|e| err(&e))?;
    draw_verdict(&mut chart, &legend_area, picture).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Series named in the legend; the rest are counted (the table names every setting).
const LEGEND_ROWS: usize = 14;

/// The errors of drawing on `DB`.
type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The defaults, under the series: a band of each one's spread, a dashed line at its median,
/// its label and value at the line's left end.
fn draw_defaults<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    series: &[Series],
    (x_end, y_max): (f64, f64),
) -> Drawn<DB> {
    let defaults = || {
        (series.iter().enumerate())
            .filter_map(|(i, s)| Some((PALETTE[i % PALETTE.len()], s.default.as_ref()?)))
    };
    // Every band first: none hides another series' line or label.
    for (color, d) in defaults() {
        let band = Rectangle::new([(0.8, d.min), (x_end, d.max)], tint(color).filled());
        chart.draw_series([band])?;
    }
    let mut placed: Vec<f64> = Vec::new();
    for (color, d) in defaults() {
        let ends = [(0.8, d.median), (x_end, d.median)];
        chart.draw_series(DashedLineSeries::new(ends, 8, 5, color.stroke_width(2)))?;
        // A label near another one (closer than a line of text) goes one line higher.
        let near = |y: &f64| (y - d.median).abs() / y_max * PLOT_HEIGHT < 16.0;
        let lift = 16 * placed.iter().filter(|y| near(y)).count() as i32;
        placed.push(d.median);
        let text = format!("default (adaptive) {} MiB/s", amount(d.median));
        let font = ("sans-serif", 13).into_font().color(&color);
        let label = EmptyElement::at((0.85, d.median)) + Text::new(text, (0, -16 - lift), font);
        chart.draw_series([label])?;
    }
    Ok(())
}

/// Pixels of the plot's y axis, about (for spacing labels).
const PLOT_HEIGHT: f64 = 420.0;

/// A throughput as written on the plot: whole MiB/s, tenths below 10.
fn amount(mib: f64) -> String {
    match mib < 10.0 {
        true => format!("{mib:.1}"),
        false => format!("{mib:.0}"),
    }
}

/// Each series: its line, a marker and the min–max whiskers per setting, its legend entry.
fn draw_lines<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    legend_area: &DrawingArea<DB, Shift>,
    series: &[Series],
) -> Drawn<DB> {
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        match i.cmp(&LEGEND_ROWS) {
            std::cmp::Ordering::Less => legend_entry(legend_area, i, &s.label, color)?,
            std::cmp::Ordering::Equal => {
                let more = format!("… {} more (see the table)", series.len() - i);
                legend_entry(legend_area, i, &more, WHITE)?;
            }
            std::cmp::Ordering::Greater => {}
        }
        let line: Vec<(f64, f64)> = (s.points.iter())
            .map(|p| (f64::from(p.jobs), p.median))
            .collect();
        chart.draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?;
        chart.draw_series(
            line.iter()
                .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
        )?;
        chart.draw_series(s.points.iter().map(|p| {
            let x = f64::from(p.jobs);
            ErrorBar::new_vertical(x, p.min, p.median, p.max, color.stroke_width(1), 10)
        }))?;
    }
    Ok(())
}

/// The table's verdict: the best setting ringed and named, or the sentence beside the legend.
fn draw_verdict<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    legend_area: &DrawingArea<DB, Shift>,
    picture: &Picture,
) -> Drawn<DB> {
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    if let Some((i, p, said)) = best(picture) {
        let color = PALETTE[i % PALETTE.len()];
        // At the right end of the axis the label goes left of the ring, not into the legend.
        let rightmost = picture
            .series
            .iter()
            .flat_map(|s| &s.points)
            .all(|q| q.jobs <= p.jobs);
        let width = 7 * said.chars().count() as i32;
        let dx = if rightmost { -14 - width } else { 14 };
        let mark = EmptyElement::at((f64::from(p.jobs), p.median))
            + Circle::new((0, 0), 10, color.stroke_width(3))
            + Text::new(said.clone(), (dx, 12), font.clone());
        chart.draw_series([mark])?;
    }
    if let Some(note) = &picture.note {
        let y = 60 + 26 * picture.series.len().min(LEGEND_ROWS + 1) as i32 + 30;
        for (k, line) in wrap(note, 34).into_iter().enumerate() {
            legend_area.draw(&Text::new(line, (10, y + 18 * k as i32), font.clone()))?;
        }
    }
    Ok(())
}

/// The marked setting: its series' index, its point, what is said of it.
fn best<'a>(picture: &'a Picture) -> Option<(usize, &'a Point, &'a String)> {
    let (series, jobs, said) = picture.best.as_ref()?;
    let points = &picture.series.get(*series)?.points;
    Some((*series, points.iter().find(|p| p.jobs == *jobs)?, said))
}

/// `text` cut into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(l) if l.len() + 1 + word.len() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A solid light tint of `color` (a band under the lines: ImageMagick ignores opacity).
fn tint(color: RGBColor) -> RGBColor {
    let mix = |c: u8| (u16::from(c) + 4 * 255).div_ceil(5) as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

const GRID: RGBColor = RGBColor(204, 204, 204);

/// Series colours: distinct, and dark enough on white.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 130, 140),
    RGBColor(204, 85, 0),
    RGBColor(60, 60, 60),
];

/// The legend's heading: what varies along each line, and what the dashed lines are.
fn legend_heading<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    area.draw(&Text::new(
        "each line: --jobs varies; held:",
        (10, 12),
        font.clone(),
    ))?;
    area.draw(&Text::new(
        "dashed: its default (adaptive), band: min–max",
        (10, 30),
        font,
    ))
}

/// One line of the legend panel: a sample of the series' line and its label (no marker: the
/// markers in the plot are one per measured setting).
fn legend_entry<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    i: usize,
    label: &str,
    color: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let y = 60 + 26 * i as i32;
    area.draw(&PathElement::new(
        vec![(10, y), (40, y)],
        color.stroke_width(2),
    ))?;
    area.draw(&Text::new(
        label.to_string(),
        (48, y - 8),
        ("sans-serif", 15).into_font().color(&BLACK),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_setting_is_ringed_and_named_and_each_default_labelled() {
        let point = |jobs, median: f64| Point {
            jobs,
            median,
            min: median - 5.0,
            max: median + 5.0,
        };
        let series = [
            Series {
                label: "--max-open 1, --queue default".into(),
                points: vec![point(1, 100.0), point(4, 300.0)],
                default: Some(point(0, 150.0)),
            },
            Series {
                label: "--max-open 8, --queue default".into(),
                points: vec![point(1, 120.0), point(4, 310.0)],
                default: Some(point(0, 200.0)),
            },
        ];
        let picture = Picture {
            title: "t",
            series: &series,
            best: Some((1, 4, "best: --jobs 4 (2.07x its default)".into())),
            note: None,
        };
        let svg = String::from_utf8(throughput(Format::Svg, &picture).unwrap()).unwrap();
        for text in [
            "default (adaptive) 150 MiB/s",
            "default (adaptive) 200 MiB/s",
            "best: --jobs 4 (2.07x its default)",
            "--max-open 8, --queue default",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        // The ring: a circle of radius 10 in the second series' colour.
        assert!(svg.contains(r#"r="10""#), "{svg}");
        let png = throughput(Format::Png, &picture).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}
