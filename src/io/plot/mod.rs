//! The charts of a run folder (SVG, so no fonts are needed): `alpha` per block over the
//! steps of each phase, validation accuracy against each DAG metric, the density's edge
//! probabilities per phase, a drawing of the best DAG, and the Hessian monitor's trace.

mod dag;
mod legend;
pub mod svg;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::search::SearchOutcome;
use crate::search::hessian::HessianPoint;
use crate::search::session::HistoryRecord;
pub use dag::draw_dag;
pub use legend::Legend;
use svg::{padded, palette, shade, Axes, Svg};

/// `alpha` of every block over the steps of every phase (phases side by side).
pub fn alpha_chart(trace: &[Vec<Vec<f64>>]) -> String {
    let mut svg = Svg::new(900.0, 420.0);
    let total: usize = trace.iter().map(Vec::len).sum();
    let values = trace.iter().flatten().flatten().copied();
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let ax = Axes { left: 70.0, top: 40.0, width: 800.0, height: 320.0, x: (0.0, total.max(1) as f64), y: padded(lo, hi) };
    ax.draw(&mut svg, "alpha per block over the steps of each phase", "step (all phases)", "alpha");
    let mut offset = 0usize;
    for (p, steps) in trace.iter().enumerate() {
        let k = steps.first().map_or(0, Vec::len);
        for b in 0..k {
            let pts: Vec<(f64, f64)> =
                steps.iter().enumerate().map(|(s, a)| (ax.px((offset + s + 1) as f64), ax.py(a[b]))).collect();
            svg.polyline(&pts, &palette(b, k), 1.2);
        }
        if p > 0 {
            let x = ax.px(offset as f64);
            svg.line(x, ax.top, x, ax.top + ax.height, "#999", 1.0, true);
        }
        svg.text(ax.px(offset as f64 + steps.len() as f64 / 2.0), ax.top + 12.0, &format!("phase {}", p + 1), 10.0, "middle");
        offset += steps.len();
    }
    svg.text(870.0, 405.0, "colour: block index within the phase", 10.0, "end");
    svg.finish()
}

/// The Hessian monitor's trace: the largest eigenvalue of the architecture Hessian
/// against the search's weight steps, one line per phase.
pub fn hessian_chart(points: &[HessianPoint]) -> String {
    let mut svg = Svg::new(900.0, 420.0);
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.eigenvalue), b.max(p.eigenvalue)));
    let last = points.iter().map(|p| p.step).max().unwrap_or(1).max(1);
    let ax = Axes { left: 70.0, top: 40.0, width: 800.0, height: 320.0, x: (0.0, last as f64), y: padded(lo, hi) };
    ax.draw(&mut svg, "largest eigenvalue of the architecture Hessian", "weight step (all phases)", "eigenvalue");
    let phases = points.iter().map(|p| p.phase + 1).max().unwrap_or(1);
    for phase in 0..phases {
        let pts: Vec<(f64, f64)> =
            points.iter().filter(|p| p.phase == phase).map(|p| (ax.px(p.step as f64), ax.py(p.eigenvalue))).collect();
        svg.polyline(&pts, &palette(phase, phases), 1.5);
        for &(x, y) in &pts {
            svg.circle(x, y, 3.0, &palette(phase, phases), "none");
        }
    }
    svg.text(870.0, 405.0, "colour: phase", 10.0, "end");
    svg.finish()
}

/// The DAG metrics plotted against validation accuracy.
const METRICS: [&str; 9] = crate::model::dag::METRIC_NAMES;

fn metric(r: &HistoryRecord, name: &str) -> f64 {
    r.metrics.get(name)
}

/// A grid of scatter plots: validation accuracy against each metric, one point per
/// evaluated block, coloured by phase, with a legend of the phases' colours below.
pub fn accuracy_vs_metrics_chart(history: &[HistoryRecord]) -> String {
    let (cols, cell_w, cell_h) = (3, 300.0, 250.0);
    let phases = history.iter().map(|r| r.phase + 1).max().unwrap_or(1);
    let legend = Legend { entries: (0..phases).map(|p| (palette(p, phases), format!("phase {}", p + 1))).collect() };
    let width = cols as f64 * cell_w;
    let mut svg = Svg::new(width, 3.0 * cell_h + 10.0 + legend.height(width - 20.0) + 6.0);
    let accs = history.iter().map(|r| r.val_accuracy);
    let (alo, ahi) = accs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    for (i, name) in METRICS.iter().enumerate() {
        let (cx, cy) = ((i % cols) as f64 * cell_w, (i / cols) as f64 * cell_h);
        let xs = history.iter().map(|r| metric(r, name));
        let (xlo, xhi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let ax = Axes { left: cx + 60.0, top: cy + 30.0, width: cell_w - 80.0, height: cell_h - 80.0, x: padded(xlo, xhi), y: padded(alo, ahi) };
        ax.draw(&mut svg, name, name, "val accuracy");
        for r in history {
            svg.circle(ax.px(metric(r, name)), ax.py(r.val_accuracy), 3.0, &palette(r.phase, phases), "none");
        }
    }
    legend.draw(&mut svg, 10.0, 3.0 * cell_h + 4.0, width - 20.0, "colour: phase");
    svg.finish()
}

/// The density's edge probabilities: one row per phase (initial, then after each
/// phase's update), one column per allowed edge.
pub fn density_chart(density: &[Vec<f64>], edges: &[(usize, usize)]) -> String {
    let cols = edges.len().max(1);
    let cell = (820.0 / cols as f64).clamp(6.0, 40.0);
    let row_h = 22.0;
    let (left, top) = (90.0, 50.0);
    let width = left + cell * cols as f64 + 30.0;
    let height = top + row_h * density.len() as f64 + 70.0;
    let mut svg = Svg::new(width.max(400.0), height);
    svg.text(left, 25.0, "edge probabilities p_ij of the DAG density per phase (darker = higher)", 12.0, "start");
    for (r, p) in density.iter().enumerate() {
        let y = top + r as f64 * row_h;
        let label = if r == 0 { "initial".to_string() } else { format!("after {r}") };
        svg.text(left - 6.0, y + row_h * 0.7, &label, 10.0, "end");
        for (c, v) in p.iter().enumerate() {
            svg.rect(left + c as f64 * cell, y, cell, row_h, &shade(*v), "#ddd");
            if cell >= 26.0 {
                svg.text(left + (c as f64 + 0.5) * cell, y + row_h * 0.68, &format!("{v:.2}"), 8.0, "middle");
            }
        }
    }
    let base = top + row_h * density.len() as f64;
    for (c, (i, j)) in edges.iter().enumerate() {
        if cell >= 14.0 || c % ((14.0 / cell).ceil() as usize) == 0 {
            svg.vtext(left + (c as f64 + 0.5) * cell + 3.0, base + 25.0, &format!("{i}→{j}"), 9.0);
        }
    }
    svg.finish()
}

/// Writes the four charts into `dir/plots/`, and the Hessian monitor's trace when the
/// search measured one, and returns their paths.
pub fn write_plots(dir: &Path, outcome: &SearchOutcome, edges: &[(usize, usize)]) -> Result<Vec<PathBuf>> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    let best = &outcome.best_network.dag;
    let files = [
        ("alpha.svg", alpha_chart(&outcome.alpha_trace)),
        ("accuracy_vs_metrics.svg", accuracy_vs_metrics_chart(&outcome.history)),
        ("density.svg", density_chart(&outcome.density, edges)),
        ("best_dag.svg", draw_dag(best, &format!("best DAG: {} edges", best.edges().len()))),
    ];
    let hessian = &outcome.summary.hessian;
    let hessian = (!hessian.is_empty()).then(|| ("hessian.svg", hessian_chart(hessian)));
    let mut written = Vec::new();
    for (name, text) in files.into_iter().chain(hessian) {
        let path = plots.join(name);
        crate::util::atomic::write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
