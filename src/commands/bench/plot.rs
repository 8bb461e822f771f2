//! The bench plot: throughput (MiB/s, as in the table) against worker count, median with
//! min–max whiskers, one series per (--max-open, --queue) pair, as SVG or PNG (chosen by the
//! file name). The same drawing code serves both backends. Text is measured (and, in the PNG,
//! drawn) with a subset of DejaVu Sans compiled into the binary (`assets/`), so no system
//! fonts are needed; the SVG names the family "sans-serif" and leaves the glyphs to the
//! viewer. The legend has a panel of its own right of the plot, so it never covers a point;
//! x ticks sit at the measured `--jobs`; colours are dark enough to read on white (no yellow).

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// One point of a series.
pub struct Point {
    pub jobs: u32,
    pub median: f64,
    pub min: f64,
    pub max: f64,
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

/// Draws `series` (label, points) as a document in `format` (written out by the caller, by
/// the same rules as `-o`).
pub fn throughput(
    format: Format,
    title: &str,
    series: &[(String, Vec<Point>)],
) -> Result<Vec<u8>, String> {
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
                title,
                series,
            )?;
            Ok(portable_svg(&svg).into_bytes())
        }
        Format::Png => {
            let (w, h) = SIZE;
            let mut rgb = vec![0u8; (w * h * 3) as usize];
            draw(
                BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area(),
                title,
                series,
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
fn extent(series: &[(String, Vec<Point>)]) -> (u32, f64, Vec<f64>) {
    let points = || series.iter().flat_map(|(_, p)| p.iter());
    let max_jobs = points().map(|p| p.jobs).max().unwrap_or(1).max(2);
    let y_max = points().map(|p| p.max).fold(0.0f64, f64::max).max(1.0) * 1.15;
    let mut ticks: Vec<f64> = points().map(|p| f64::from(p.jobs)).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    (max_jobs, y_max, ticks)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    series: &[(String, Vec<Point>)],
) -> Result<(), String> {
    let (max_jobs, y_max, ticks) = extent(series);
    let err = |e: &dyn std::fmt::Display| format!("cannot draw the plot: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(&e))?;
    let (plot_area, legend_area) = root.split_horizontally(760);
    let x_range = (0.8f64..f64::from(max_jobs) * 1.25)
        .log_scale()
        .with_key_points(ticks);
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
        .y_label_formatter(&|y| format!("{y:.0}"))
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
    for (i, (label, points)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        legend_entry(&legend_area, i, label, color).map_err(|e| err(&e))?;
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (f64::from(p.jobs), p.median))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(
                line.iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
            )
            .map_err(|e| err(&e))?;
        chart
            .draw_series(points.iter().map(|p| {
                ErrorBar::new_vertical(
                    f64::from(p.jobs),
                    p.min,
                    p.median,
                    p.max,
                    color.stroke_width(1),
                    10,
                )
            }))
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

const GRID: RGBColor = RGBColor(204, 204, 204);

/// plotters places SVG text with `dy` in em/ex, which ImageMagick's renderer ignores (text
/// then sits above its place: the title is cut off). This folds each `<text>`'s `dy` into
/// its `y` in pixels (1ex = 0.5em, as browsers and librsvg take it for want of font data), so
/// every renderer puts the text at the same place. A tag it does not understand stays as is.
fn portable_svg(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(at) = rest.find("<text ") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find('>').map_or(rest.len(), |e| e + 1);
        let tag = &rest[..end];
        out.push_str(&fold_dy(tag).unwrap_or_else(|| tag.to_string()));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One `<text …>` tag with `dy` folded into `y`, or None if it lacks a number it needs.
fn fold_dy(tag: &str) -> Option<String> {
    // The value of ` name="…"` in the tag, and the span of the whole attribute.
    let attr = |name: &str| -> Option<(&str, std::ops::Range<usize>)> {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)?;
        let value = start + key.len();
        let end = value + tag[value..].find('"')?;
        Some((&tag[value..end], start..end + 1))
    };
    let (dy, dy_span) = attr("dy")?;
    let (y, y_span) = attr("y")?;
    let size: f64 = attr("font-size")?.0.parse().ok()?;
    let px = match dy.strip_suffix("em") {
        Some(v) => v.parse::<f64>().ok()? * size,
        None => dy.strip_suffix("ex")?.parse::<f64>().ok()? * size * 0.5,
    };
    let y = format!(" y=\"{:.1}\"", y.parse::<f64>().ok()? + px);
    let mut spans = [(y_span, y.as_str()), (dy_span, "")];
    spans.sort_by_key(|(r, _)| r.start);
    let (mut out, mut at) = (String::with_capacity(tag.len()), 0);
    for (span, with) in spans {
        out.push_str(&tag[at..span.start]);
        out.push_str(with);
        at = span.end;
    }
    out.push_str(&tag[at..]);
    Some(out)
}

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

/// One line of the legend panel: a sample of the series' line and its label (no marker: the
/// markers in the plot are one per measured setting).
fn legend_entry<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    i: usize,
    label: &str,
    color: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let y = 40 + 26 * i as i32;
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
    fn dy_is_folded_into_y_in_pixels() {
        let tag = r##"<text x="5" y="10" dy="0.76em" font-size="20" fill="#000">"##;
        assert_eq!(
            fold_dy(tag).unwrap(),
            r##"<text x="5" y="25.2" font-size="20" fill="#000">"##
        );
        let ex = r#"<text y="100" dy="-0.5ex" font-size="10">"#;
        assert_eq!(fold_dy(ex).unwrap(), r#"<text y="97.5" font-size="10">"#);
    }

    #[test]
    fn a_tag_without_what_is_needed_is_left_as_is() {
        let svg =
            r#"<svg><text x="1" y="2">a</text><text y="3" dy="1in" font-size="9">b</text></svg>"#;
        assert_eq!(portable_svg(svg), svg);
    }
}
