//! A legend: colour swatches with their labels, in rows that wrap at a given width.

use super::svg::Svg;

/// Side of a swatch and height of a row, in pixels.
const ROW: f64 = 16.0;
const SWATCH: f64 = 10.0;
/// Width of one entry (swatch, gap, label).
const ENTRY: f64 = 72.0;

/// Labelled colours, drawn as `<g class="legend">` of `<g class="legend-entry">` each
/// holding a swatch (`<rect fill=...>`) and its label (`<text>`).
pub struct Legend {
    /// `(colour, label)` in drawing order.
    pub entries: Vec<(String, String)>,
}

impl Legend {
    /// Entries per row within `width` (the title takes the first entry's room).
    fn per_row(width: f64) -> usize {
        ((width / ENTRY) as usize).saturating_sub(1).max(1)
    }

    /// The height the legend takes within `width`.
    pub fn height(&self, width: f64) -> f64 {
        ROW * self.entries.len().div_ceil(Self::per_row(width)).max(1) as f64
    }

    /// Draws the legend with its top-left corner at `(x, y)`: `title` first, then the
    /// entries, wrapped within `width`.
    pub fn draw(&self, svg: &mut Svg, x: f64, y: f64, width: f64, title: &str) {
        svg.begin_group("legend");
        svg.text(x, y + SWATCH, title, 10.0, "start");
        let (left, per_row) = (x + ENTRY, Self::per_row(width));
        for (i, (colour, label)) in self.entries.iter().enumerate() {
            let ex = left + (i % per_row) as f64 * ENTRY;
            let ey = y + (i / per_row) as f64 * ROW;
            svg.begin_group("legend-entry");
            svg.rect(ex, ey, SWATCH, SWATCH, colour, "none");
            svg.text(ex + SWATCH + 4.0, ey + SWATCH, label, 10.0, "start");
            svg.end_group();
        }
        svg.end_group();
    }
}
