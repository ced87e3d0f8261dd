//! The group-commit plot: acknowledged appends/s and p99 latency against writer
//! threads, medians over runs, one line per log. Text is drawn with a TrueType font
//! read at run time (plotters' `ab_glyph` backend, no system font library).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::record::Records;
use crate::runner::THREADS;
use crate::workload::Result;

/// Fonts tried when `--font` is not given.
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

const COLORS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

/// Registers the first readable font of `font` or [`FONT_PATHS`] as "sans-serif".
///
/// # Errors
/// No readable TrueType font.
pub(crate) fn load_font(font: Option<&Path>) -> Result<()> {
    let candidates: Vec<&Path> =
        font.map_or_else(|| FONT_PATHS.iter().map(Path::new).collect(), |f| vec![f]);
    for path in candidates {
        if let Ok(bytes) = std::fs::read(path) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(());
            }
        }
    }
    Err("no TrueType font found for the plot (pass --font PATH)".into())
}

/// One series: a log's medians over runs per thread count.
/// x is log2 of the thread count (so 1, 2, 4, 8, 16 are evenly spaced); y is the
/// figure times `scale`.
fn series(records: &Records, peer: &str, metric: &str, scale: f64) -> Vec<(f64, f64)> {
    THREADS
        .iter()
        .filter_map(|&t| {
            let s = records.spread(peer, &format!("group_commit_{t}"), metric)?;
            Some(((t as f64).log2(), s.median * scale))
        })
        .collect()
}

/// Draws both panels into `path` (PNG, 1200×500).
///
/// # Errors
/// Drawing or encoding errors.
pub(crate) fn group_commit(records: &Records, peers: &[&'static str], path: &Path) -> Result<()> {
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let throughput = ("acked appends/s", 1.0);
    panel(
        &left,
        records,
        peers,
        throughput,
        "group commit: acknowledged appends/s",
    )?;
    let p99 = ("p99 µs", 1e-3);
    panel(
        &right,
        records,
        peers,
        p99,
        "group commit: p99 latency (ms)",
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    records: &Records,
    peers: &[&'static str],
    (metric, scale): (&str, f64),
    title: &str,
) -> Result<()> {
    let all: Vec<(&str, Vec<(f64, f64)>)> = peers
        .iter()
        .map(|p| (*p, series(records, p, metric, scale)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    let (low, high) = all
        .iter()
        .flat_map(|(_, s)| s.iter().map(|p| p.1))
        .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = (low.max(1e-3) / 2.0, (high * 2.0).max(1.0));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.3f64..4.3f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("writer threads")
        .x_labels(5)
        .x_label_formatter(&|x| format!("{}", 2f64.powf(x.round())))
        .y_label_formatter(&|y| crate::report::figure(*y))
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, (peer, points)) in all.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(peer)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
