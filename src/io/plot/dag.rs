//! A drawing of one DAG: the input on the left, the hidden vertices in a row, the
//! output on the right; an edge `i -> j` arcs above the row, higher for longer skips;
//! sources take the input and sinks feed the output. In a typed space each edge is
//! coloured by its op and labelled with the op's name at the top of its arc.

use super::svg::Svg;
use crate::model::dag::Dag;
use crate::model::ops::Op;

/// An op's colour in drawings (dense edges stay grey, as in untyped spaces).
fn op_colour(op: Op) -> &'static str {
    match op {
        Op::Dense => "#555",
        Op::Conv3x3 => "#1f77b4",
        Op::Conv5x5 => "#17becf",
        Op::Local3x3 => "#9467bd",
        Op::Avgpool3x3 => "#2ca02c",
        Op::Maxpool3x3 => "#d62728",
        Op::Identity => "#ff7f0e",
    }
}

/// The SVG drawing of `dag` with a title.
pub fn draw_dag(dag: &Dag, title: &str) -> String {
    let l = dag.layers();
    let gap = 90.0;
    let width = gap * (l as f64 + 2.0) + 40.0;
    let max_skip = dag.edges().iter().map(|(i, j)| j - i).max().unwrap_or(1) as f64;
    let height = 150.0 + 28.0 * max_skip.min(12.0);
    let base = height - 50.0;
    let x = |v: f64| 40.0 + gap * v;
    let mut svg = Svg::new(width, height);
    svg.text(width / 2.0, 22.0, title, 13.0, "middle");
    let (input, output) = (x(0.0), x(l as f64 + 1.0));
    let r = 16.0;
    // Input and output edges, below the row.
    for j in dag.sources() {
        let xj = x(j as f64 + 1.0);
        let d = format!("M {:.1} {:.1} Q {:.1} {:.1} {:.1} {:.1}", input + r, base + 4.0, (input + xj) / 2.0, base + 40.0, xj - r * 0.7, base + r * 0.7);
        svg.path(&d, "#8a8", 1.2, true);
    }
    for j in dag.sinks() {
        let xj = x(j as f64 + 1.0);
        let d = format!("M {:.1} {:.1} Q {:.1} {:.1} {:.1} {:.1}", xj + r * 0.7, base + r * 0.7, (output + xj) / 2.0, base + 40.0, output - r, base + 4.0);
        svg.path(&d, "#a88", 1.2, true);
    }
    // Hidden edges, above the row.
    for (&(i, j), &op) in dag.edges().iter().zip(dag.ops()) {
        let (xi, xj) = (x(i as f64 + 1.0), x(j as f64 + 1.0));
        let lift = 28.0 * ((j - i) as f64).min(12.0);
        let d = format!("M {:.1} {:.1} Q {:.1} {:.1} {:.1} {:.1}", xi, base - r, (xi + xj) / 2.0, base - r - 2.0 * lift, xj - 2.0, base - r);
        svg.path(&d, op_colour(op), 1.5, true);
        if dag.is_typed() {
            // The arc's apex is at half the control point's lift.
            svg.text((xi + xj) / 2.0, base - r - lift - 3.0, op.name(), 9.0, "middle");
        }
    }
    svg.rect(input - r, base - r, 2.0 * r, 2.0 * r, "#dfd", "#393");
    svg.text(input, base + 4.0, "in", 10.0, "middle");
    svg.rect(output - r, base - r, 2.0 * r, 2.0 * r, "#fdd", "#933");
    svg.text(output, base + 4.0, "out", 10.0, "middle");
    for v in 0..l {
        let xv = x(v as f64 + 1.0);
        svg.circle(xv, base, r, "#e8eefc", "#335");
        svg.text(xv, base + 4.0, &v.to_string(), 11.0, "middle");
    }
    svg.finish()
}
