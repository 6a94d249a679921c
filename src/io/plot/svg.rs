//! A small SVG writer for the run folder's charts: no fonts or system libraries needed
//! (text is left to the viewer), just axes, ticks, lines, points, rectangles and text.

use std::fmt::Write;

/// An SVG document being drawn.
pub struct Svg {
    width: f64,
    height: f64,
    body: String,
}

/// Escapes text for SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A distinct colour for series `i` of `n`.
pub fn palette(i: usize, n: usize) -> String {
    let hue = 360.0 * i as f64 / n.max(1) as f64;
    format!("hsl({hue:.0},65%,45%)")
}

/// A blue shade for a value in `[0, 1]` (white at 0).
pub fn shade(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let c = |lo: f64, hi: f64| (hi + (lo - hi) * v).round() as u8;
    format!("rgb({},{},{})", c(8.0, 255.0), c(48.0, 255.0), c(107.0, 255.0))
}

impl Svg {
    /// An empty white canvas.
    pub fn new(width: f64, height: f64) -> Svg {
        let mut body = String::new();
        let _ = writeln!(body, r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#);
        Svg { width, height, body }
    }

    /// A straight line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64, dashed: bool) {
        let dash = if dashed { r#" stroke-dasharray="4 3""# } else { "" };
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}" stroke="{stroke}" stroke-width="{width}"{dash}/>"#
        );
    }

    /// A polyline through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64) {
        if points.is_empty() {
            return;
        }
        let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
        let _ = writeln!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="{width}"/>"#,
            pts.join(" ")
        );
    }

    /// A filled circle.
    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.body,
            r#"<circle cx="{x:.2}" cy="{y:.2}" r="{r}" fill="{fill}" stroke="{stroke}" fill-opacity="0.8"/>"#
        );
    }

    /// A rectangle.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, stroke: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" fill="{fill}" stroke="{stroke}"/>"#
        );
    }

    /// A path (`d` in SVG syntax) with an optional arrow head.
    pub fn path(&mut self, d: &str, stroke: &str, width: f64, arrow: bool) {
        let marker = if arrow { r#" marker-end="url(#arrow)""# } else { "" };
        let _ = writeln!(self.body, r#"<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width}"{marker}/>"#);
    }

    /// Text anchored at `(x, y)`: `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, s: &str, size: f64, anchor: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.2}" y="{y:.2}" font-family="sans-serif" font-size="{size}" text-anchor="{anchor}">{}</text>"#,
            escape(s)
        );
    }

    /// Text rotated by -90 degrees (a vertical axis label).
    pub fn vtext(&mut self, x: f64, y: f64, s: &str, size: f64) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.2}" y="{y:.2}" font-family="sans-serif" font-size="{size}" text-anchor="middle" transform="rotate(-90 {x:.2} {y:.2})">{}</text>"#,
            escape(s)
        );
    }

    /// Text rotated by -90 degrees that ends at `(x, y)` and reads upwards from below
    /// it (category labels under an axis).
    pub fn vtext_below(&mut self, x: f64, y: f64, s: &str, size: f64) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.2}" y="{y:.2}" font-family="sans-serif" font-size="{size}" text-anchor="end" transform="rotate(-90 {x:.2} {y:.2})">{}</text>"#,
            escape(s)
        );
    }

    /// Opens a group `<g class="{class}">` (closed by [`Svg::end_group`]).
    pub fn begin_group(&mut self, class: &str) {
        let _ = writeln!(self.body, r#"<g class="{}">"#, escape(class));
    }

    /// Closes the group opened last.
    pub fn end_group(&mut self) {
        self.body.push_str("</g>\n");
    }

    /// The finished document.
    pub fn finish(self) -> String {
        format!(
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#,
                "\n",
                r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>"##,
                "\n{body}</svg>\n"
            ),
            w = self.width,
            h = self.height,
            body = self.body
        )
    }
}

/// "Nice" tick positions covering `[lo, hi]`, about `n` of them.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// A rectangular plotting area mapping data coordinates to the canvas.
pub struct Axes {
    /// Left edge of the plotting area on the canvas.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width of the plotting area.
    pub width: f64,
    /// Height of the plotting area.
    pub height: f64,
    /// Data range on x.
    pub x: (f64, f64),
    /// Data range on y.
    pub y: (f64, f64),
}

/// Widens a degenerate or non-finite range so that it can be drawn.
pub fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

impl Axes {
    /// A plotting area at `(left, top)` of `width` by `height` showing the data ranges
    /// `x` and `y`.
    pub fn new(left: f64, top: f64, width: f64, height: f64, x: (f64, f64), y: (f64, f64)) -> Axes {
        Axes { left, top, width, height, x, y }
    }

    /// Canvas x of data x.
    pub fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.width
    }
    /// Canvas y of data y.
    pub fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.0) / (self.y.1 - self.y.0) * self.height
    }

    /// Frame, y ticks with labels, the y label and a title (x holds categories that
    /// the caller labels).
    pub fn draw_categorical(&self, svg: &mut Svg, title: &str, ylabel: &str) {
        self.frame_and_y(svg, title, ylabel);
    }

    fn frame_and_y(&self, svg: &mut Svg, title: &str, ylabel: &str) {
        svg.rect(self.left, self.top, self.width, self.height, "none", "#333");
        for t in ticks(self.y.0, self.y.1, 5) {
            let y = self.py(t);
            svg.line(self.left - 4.0, y, self.left, y, "#333", 1.0, false);
            svg.line(self.left, y, self.left + self.width, y, "#eee", 1.0, false);
            svg.text(self.left - 6.0, y + 3.5, &fmt_tick(t), 10.0, "end");
        }
        svg.text(self.left + self.width / 2.0, self.top - 8.0, title, 12.0, "middle");
        svg.vtext(self.left - 38.0, self.top + self.height / 2.0, ylabel, 11.0);
    }

    /// Frame, ticks with labels, axis labels and a title.
    pub fn draw(&self, svg: &mut Svg, title: &str, xlabel: &str, ylabel: &str) {
        self.frame_and_y(svg, title, ylabel);
        for t in ticks(self.x.0, self.x.1, 5) {
            let x = self.px(t);
            svg.line(x, self.top + self.height, x, self.top + self.height + 4.0, "#333", 1.0, false);
            svg.text(x, self.top + self.height + 15.0, &fmt_tick(t), 10.0, "middle");
        }
        svg.text(self.left + self.width / 2.0, self.top + self.height + 30.0, xlabel, 11.0, "middle");
    }
}

fn fmt_tick(t: f64) -> String {
    if t.abs() >= 1e4 || (t != 0.0 && t.abs() < 1e-3) {
        format!("{t:.1e}")
    } else {
        let s = format!("{t:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
