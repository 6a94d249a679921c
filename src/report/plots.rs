//! The report's plots (SVG, drawn with the run folder's small SVG writer): RQ1 accuracy
//! per strategy with 95% intervals and against compute (best validation accuracy so far
//! against seconds, the retrained test accuracy last), RQ3 accuracy against the space's
//! size, RQ4 the
//! standalone accuracy of the random DAGs against each metric, RQ5 the same DAGs on two
//! datasets.

use super::build::{metric, DatasetReport, Report, SpaceLabel, METRICS};
use crate::io::plot::svg::{padded, palette, Axes, Svg};

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect::<String>()
}

/// The RQ1 plot's file name for a dataset.
pub fn rq1_name(dataset: &str) -> String {
    format!("rq1_{}.svg", slug(dataset))
}

/// The RQ1-against-compute plot's file name for a dataset.
pub fn rq1_compute_name(dataset: &str) -> String {
    format!("rq1_compute_{}.svg", slug(dataset))
}

/// The RQ3 plot's file name for a dataset.
pub fn rq3_name(dataset: &str) -> String {
    format!("rq3_{}.svg", slug(dataset))
}

/// The RQ4 plot's file name for a dataset and space.
pub fn rq4_name(dataset: &str, space: &SpaceLabel) -> String {
    let skip = if space.max_skip + 1 < space.layers { format!("_s{}", space.max_skip) } else { String::new() };
    format!("rq4_{}_{}_l{}{skip}_d{}.svg", slug(dataset), slug(&space.group), space.layers, space.width)
}

/// The RQ5 plot's file name.
pub fn rq5_name(i: usize) -> String {
    format!("rq5_{i}.svg")
}

/// Every plot: `(file name, SVG)`.
pub fn all(r: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in &r.datasets {
        if !d.rq1.is_empty() {
            out.push((rq1_name(&d.dataset), rq1(d)));
        }
        if d.rq1_compute.iter().any(|c| !c.phase_end_seconds.is_empty()) {
            out.push((rq1_compute_name(&d.dataset), rq1_compute(d)));
        }
        if !d.rq3.is_empty() {
            out.push((rq3_name(&d.dataset), rq3(d)));
        }
        for sd in &d.standalone {
            out.push((rq4_name(&d.dataset, &sd.space), rq4(d, sd)));
        }
    }
    for (i, c) in r.rq5.iter().enumerate() {
        let a = r.datasets.iter().find(|d| d.dataset == c.datasets[0]);
        let b = r.datasets.iter().find(|d| d.dataset == c.datasets[1]);
        if let (Some(a), Some(b)) = (a, b) {
            out.push((rq5_name(i), rq5(a, b, &c.space)));
        }
    }
    out
}

/// Accuracy (mean and 95% interval) per row of RQ1.
fn rq1(d: &DatasetReport) -> String {
    let rows: Vec<_> = d.rq1.iter().filter_map(|r| r.test_accuracy.as_ref().map(|a| (r, a))).collect();
    let lo = rows.iter().map(|(_, a)| a.ci95.map_or(a.mean, |c| c[0])).fold(1.0, f64::min);
    let hi = rows.iter().map(|(_, a)| a.ci95.map_or(a.mean, |c| c[1])).fold(0.0, f64::max);
    let (y0, y1) = padded(100.0 * lo.min(hi), 100.0 * hi.max(lo));
    let mut svg = Svg::new(720.0, 420.0);
    let axes = Axes::new(70.0, 40.0, 620.0, 250.0, (0.0, rows.len().max(1) as f64), (y0, y1));
    axes.draw_categorical(&mut svg, &format!("RQ1 {}: best retrained test accuracy (mean, 95% CI)", d.dataset), "test accuracy (%)");
    for (i, (row, a)) in rows.iter().enumerate() {
        let x = axes.px(i as f64 + 0.5);
        if let Some([l, h]) = a.ci95 {
            svg.line(x, axes.py(100.0 * l), x, axes.py(100.0 * h), "black", 1.5, false);
        }
        svg.circle(x, axes.py(100.0 * a.mean), 4.0, &palette(i, rows.len()), "black");
        svg.vtext_below(x + 3.5, 298.0, &format!("{} L={} D={}", row.strategy, row.space.layers, row.space.width), 10.0);
    }
    svg.finish()
}

/// Per strategy and space: the best inherited validation accuracy so far against
/// seconds of search (a line), and the retrained test accuracy at search plus
/// retraining seconds (a square joined by a dashed line).
fn rq1_compute(d: &DatasetReport) -> String {
    let curves: Vec<_> = d.rq1_compute.iter().filter(|c| !c.phase_end_seconds.is_empty()).collect();
    let mut xs: Vec<f64> = curves.iter().flat_map(|c| c.phase_end_seconds.iter().cloned().chain(c.retrained_at_seconds)).collect();
    let mut ys: Vec<f64> = curves.iter().flat_map(|c| c.best_val_accuracy.iter().cloned().chain(c.retrained_test_accuracy)).map(|v| 100.0 * v).collect();
    xs.push(0.0);
    ys.sort_by(f64::total_cmp);
    let (x0, x1) = padded(0.0, xs.iter().cloned().fold(0.0, f64::max));
    let (y0, y1) = padded(ys.first().copied().unwrap_or(0.0), ys.last().copied().unwrap_or(100.0));
    let mut svg = Svg::new(720.0, 440.0);
    let axes = Axes::new(70.0, 40.0, 460.0, 330.0, (x0.max(0.0), x1), (y0, y1));
    axes.draw(
        &mut svg,
        &format!("RQ1 {}: best validation accuracy so far against seconds; square: retrained test accuracy", d.dataset),
        "seconds (search, then retraining)",
        "accuracy (%)",
    );
    for (i, c) in curves.iter().enumerate() {
        let colour = palette(i, curves.len());
        let line: Vec<(f64, f64)> =
            c.phase_end_seconds.iter().zip(&c.best_val_accuracy).map(|(&x, &y)| (axes.px(x), axes.py(100.0 * y))).collect();
        svg.polyline(&line, &colour, 1.5);
        for &(x, y) in &line {
            svg.circle(x, y, 3.0, &colour, "black");
        }
        if let (Some(x), Some(y), Some(&(lx, ly))) = (c.retrained_at_seconds, c.retrained_test_accuracy, line.last()) {
            let (px, py) = (axes.px(x), axes.py(100.0 * y));
            svg.line(lx, ly, px, py, &colour, 1.0, true);
            svg.rect(px - 3.5, py - 3.5, 7.0, 7.0, &colour, "black");
        }
        svg.text(545.0, 50.0 + 14.0 * i as f64, &format!("{} L={} D={}", c.strategy, c.space.layers, c.space.width), 11.0, "start");
    }
    svg.finish()
}

/// Accuracy against log2 of the number of DAGs, one line per strategy.
fn rq3(d: &DatasetReport) -> String {
    let points: Vec<(String, f64, f64)> = d
        .rq3
        .iter()
        .filter_map(|r| r.test_accuracy.as_ref().map(|a| (r.strategy.clone(), r.space.log2_dags, 100.0 * a.mean)))
        .collect();
    let (x0, x1) = padded(points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min), points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max));
    let (y0, y1) = padded(points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min), points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max));
    let mut svg = Svg::new(640.0, 400.0);
    let axes = Axes::new(70.0, 40.0, 520.0, 300.0, (x0, x1), (y0, y1));
    axes.draw(&mut svg, &format!("RQ3 {}: accuracy against the space's size", d.dataset), "log2 of the number of DAGs", "test accuracy (%)");
    let mut strategies: Vec<&String> = points.iter().map(|p| &p.0).collect();
    strategies.sort();
    strategies.dedup();
    for (i, st) in strategies.iter().enumerate() {
        let colour = palette(i, strategies.len());
        let line: Vec<(f64, f64)> = points.iter().filter(|p| &p.0 == *st).map(|p| (axes.px(p.1), axes.py(p.2))).collect();
        svg.polyline(&line, &colour, 1.5);
        for &(x, y) in &line {
            svg.circle(x, y, 3.5, &colour, "black");
        }
        svg.text(600.0, 50.0 + 14.0 * i as f64, st, 11.0, "end");
    }
    svg.finish()
}

/// Small multiples: the space's DAGs' accuracy against each metric.
fn rq4(d: &DatasetReport, sd: &super::build::SpaceDags) -> String {
    let mut svg = Svg::new(900.0, 720.0);
    let accs: Vec<f64> = sd.dags.iter().map(|x| 100.0 * x.test_accuracy).collect();
    let (y0, y1) = padded(accs.iter().cloned().fold(f64::INFINITY, f64::min), accs.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    svg.text(450.0, 20.0, &format!("RQ4 {} L={} D={}: standalone test accuracy (%) against each metric", d.dataset, sd.space.layers, sd.space.width), 13.0, "middle");
    for (i, name) in METRICS.iter().enumerate() {
        let xs: Vec<f64> = sd.dags.iter().map(|x| metric(&x.metrics, name)).collect();
        let (x0, x1) = padded(xs.iter().cloned().fold(f64::INFINITY, f64::min), xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
        let (col, row) = (i % 3, i / 3);
        let axes = Axes::new(60.0 + 290.0 * col as f64, 50.0 + 225.0 * row as f64, 220.0, 160.0, (x0, x1), (y0, y1));
        axes.draw(&mut svg, "", name, "");
        for (x, y) in xs.iter().zip(&accs) {
            svg.circle(axes.px(*x), axes.py(*y), 2.5, "steelblue", "none");
        }
    }
    svg.finish()
}

/// The same DAGs' accuracy on two datasets.
fn rq5(a: &DatasetReport, b: &DatasetReport, space: &SpaceLabel) -> String {
    let (Some(sa), Some(sb)) = (a.standalone.iter().find(|s| &s.space == space), b.standalone.iter().find(|s| &s.space == space)) else {
        return Svg::new(10.0, 10.0).finish();
    };
    let pairs: Vec<(f64, f64)> = sa
        .dags
        .iter()
        .filter_map(|x| sb.dags.iter().find(|y| y.edges == x.edges).map(|y| (100.0 * x.test_accuracy, 100.0 * y.test_accuracy)))
        .collect();
    let (x0, x1) = padded(pairs.iter().map(|p| p.0).fold(f64::INFINITY, f64::min), pairs.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max));
    let (y0, y1) = padded(pairs.iter().map(|p| p.1).fold(f64::INFINITY, f64::min), pairs.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max));
    let mut svg = Svg::new(560.0, 440.0);
    let axes = Axes::new(70.0, 40.0, 440.0, 320.0, (x0, x1), (y0, y1));
    axes.draw(&mut svg, &format!("RQ5 L={} D={}: the same DAGs on two datasets", space.layers, space.width), &format!("{} accuracy (%)", a.dataset), &format!("{} accuracy (%)", b.dataset));
    for (x, y) in pairs {
        svg.circle(axes.px(x), axes.py(y), 3.0, "steelblue", "none");
    }
    svg.finish()
}
