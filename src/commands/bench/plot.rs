//! The bench plot: throughput (MiB/s, as in the table) against worker count, median with
//! min–max whiskers, one series per (--max-open, --queue) pair. plotters' SVG backend writes
//! text as SVG `<text>`, so no system fonts are needed. The legend has a panel of its own
//! right of the plot, so it never covers a point; x ticks sit at the measured `--jobs`;
//! colours are dark enough to read on white (no yellow).

use plotters::prelude::*;

/// One point of a series.
pub struct Point {
    pub jobs: u32,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// Draws `series` (label, points) as an SVG document (written out by the caller, by the
/// same rules as `-o`).
pub fn throughput_svg(title: &str, series: &[(String, Vec<Point>)]) -> Result<String, String> {
    let mut svg = String::new();
    draw(&mut svg, title, series)?;
    Ok(svg)
}

fn draw(svg: &mut String, title: &str, series: &[(String, Vec<Point>)]) -> Result<(), String> {
    let max_jobs = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.jobs))
        .max()
        .unwrap_or(1)
        .max(2);
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.max))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let mut ticks: Vec<f64> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| f64::from(p.jobs)))
        .collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    let root = SVGBackend::with_string(svg, (1060, 560)).into_drawing_area();
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
        .x_desc("worker tasks (--jobs, log scale)")
        .y_desc("throughput (MiB/s)")
        .x_label_formatter(&|x| format!("{}", x.round()))
        .draw()
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
    area: &DrawingArea<DB, plotters::coord::Shift>,
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
