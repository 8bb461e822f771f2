//! The bench plot: throughput against worker count, median with min–max whiskers, one series
//! per (--max-open, --queue) pair. plotters' SVG backend writes text as SVG `<text>`, so no
//! system fonts are needed.

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
    let root = SVGBackend::with_string(svg, (900, 560)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("cannot draw the plot: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..f64::from(max_jobs) * 1.5).log_scale(), 0f64..y_max)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("worker tasks (--jobs, log scale)")
        .y_desc("throughput (MB/s)")
        .x_label_formatter(&|x| format!("{}", x.round()))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (label, points)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (f64::from(p.jobs), p.median))
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
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
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
