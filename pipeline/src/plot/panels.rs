//! Layout for figures of several panels: frames in a grid (small multiples), bars in groups,
//! histogram bins shared by panels, a few ticks inside a fixed range; and the SVG pieces such
//! figures are drawn with. Coordinates are written with one decimal, so a figure's bytes depend
//! only on its data.

use super::ticks::nice_ticks;
use std::fmt::Write;

/// A panel's plotting area in pixels: left edge `x`, top edge `y`, width `w`, height `h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Frame {
    /// The pixel column of `v` on an axis from `lo` (left edge) to `hi` (right edge).
    pub fn x_of(&self, v: f64, lo: f64, hi: f64) -> f64 {
        self.x + (v - lo) / (hi - lo) * self.w
    }
    /// The pixel row of `v` on an axis from `lo` (bottom edge) to `hi` (top edge).
    pub fn y_of(&self, v: f64, lo: f64, hi: f64) -> f64 {
        self.y + self.h - (v - lo) / (hi - lo) * self.h
    }
    /// The bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    /// The right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
}

/// Space kept free inside each cell of a [`grid`] around its frame (for tick labels and a
/// panel title).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pad {
    /// Left (y tick labels).
    pub left: f64,
    /// Right.
    pub right: f64,
    /// Top (the panel title).
    pub top: f64,
    /// Bottom (x tick labels).
    pub bottom: f64,
}

/// The frames of `rows x cols` cells of `cell_w x cell_h` pixels, the first cell's top-left
/// corner at `(left, top)`, each frame its cell less `pad`: `frames[r][c]`. Cells touch, so
/// frames of neighbouring cells are `pad.right + pad.left` (across) and `pad.bottom + pad.top`
/// (down) apart and never overlap while the pads are non-negative.
pub fn grid(
    rows: usize,
    cols: usize,
    (left, top): (f64, f64),
    (cell_w, cell_h): (f64, f64),
    pad: Pad,
) -> Vec<Vec<Frame>> {
    (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| Frame {
                    x: left + c as f64 * cell_w + pad.left,
                    y: top + r as f64 * cell_h + pad.top,
                    w: (cell_w - pad.left - pad.right).max(1.0),
                    h: (cell_h - pad.top - pad.bottom).max(1.0),
                })
                .collect()
        })
        .collect()
}

/// Bars in groups across a frame: `groups` equal bands side by side, each holding `bars` bars
/// that together fill `fill` (0 to 1) of the band, centred in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bands {
    left: f64,
    band: f64,
    bar: f64,
    bars: usize,
}

impl Bands {
    /// Bands over `[x, x + w]` (`groups` and `bars` of at least one; `fill` clamped to
    /// `0.1..=1`).
    pub fn new(x: f64, w: f64, groups: usize, bars: usize, fill: f64) -> Self {
        let band = w / groups.max(1) as f64;
        let bars = bars.max(1);
        Bands {
            left: x,
            band,
            bar: band * fill.clamp(0.1, 1.0) / bars as f64,
            bars,
        }
    }
    /// The centre of band `g`.
    pub fn center(&self, g: usize) -> f64 {
        self.left + (g as f64 + 0.5) * self.band
    }
    /// The width of one bar.
    pub fn bar_width(&self) -> f64 {
        self.bar
    }
    /// The left edge of bar `b` of band `g`.
    pub fn bar_x(&self, g: usize, b: usize) -> f64 {
        self.center(g) - self.bar * self.bars as f64 / 2.0 + b as f64 * self.bar
    }
}

/// Counts of values in `bins` equal bins over `[lo, hi]` (the last bin includes `hi`), and
/// how many fell below, above, or were NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Per bin.
    pub counts: Vec<usize>,
    /// Below `lo`.
    pub below: usize,
    /// Above `hi`.
    pub above: usize,
    /// NaN.
    pub missing: usize,
}

impl Histogram {
    /// Bins `values` (`bins` of at least one; a range with `hi <= lo` puts every finite value
    /// equal to `lo` in the first bin and the others below or above).
    pub fn new(values: impl IntoIterator<Item = f64>, lo: f64, hi: f64, bins: usize) -> Self {
        let bins = bins.max(1);
        let mut h = Histogram {
            counts: vec![0; bins],
            below: 0,
            above: 0,
            missing: 0,
        };
        for v in values {
            if v.is_nan() {
                h.missing += 1;
            } else if v < lo {
                h.below += 1;
            } else if v > hi {
                h.above += 1;
            } else if hi > lo {
                let k = ((v - lo) / (hi - lo) * bins as f64).floor() as usize;
                h.counts[k.min(bins - 1)] += 1;
            } else {
                h.counts[0] += 1;
            }
        }
        h
    }
    /// Values counted, inside the range or not (NaN excluded).
    pub fn total(&self) -> usize {
        self.counts.iter().sum::<usize>() + self.below + self.above
    }
    /// The density of each bin: its count over [`Histogram::total`] and the bin width, so the
    /// bins integrate to the fraction of the values inside `[lo, hi]`; zeros when empty.
    pub fn density(&self, lo: f64, hi: f64) -> Vec<f64> {
        let width = (hi - lo) / self.counts.len() as f64;
        let n = self.total();
        self.counts
            .iter()
            .map(|&c| {
                if n > 0 && width > 0.0 {
                    c as f64 / (n as f64 * width)
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// Ticks for an axis that runs exactly over `[lo, hi]` (a prior box): both ends, and between
/// them the round ticks of [`nice_ticks`]`(lo, hi, max_ticks)` that are at least a fifth of
/// the range away from either end (so labels do not collide).
pub fn ticks_within(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let gap = (hi - lo) / 5.0;
    let mut t = vec![lo];
    t.extend(
        nice_ticks(lo, hi, max_ticks)
            .into_iter()
            .filter(|v| *v >= lo + gap && *v <= hi - gap),
    );
    t.push(hi);
    t
}

/// A short label of a number: its shortest decimal form when that has at most 7 characters,
/// else 3 significant digits in exponent form (`1.23e-7`).
pub fn short_label(v: f64) -> String {
    let s = format!("{v}");
    if s.len() <= 7 || !v.is_finite() {
        s
    } else {
        format!("{v:.2e}")
    }
}

/// Text with `&`, `<` and `>` escaped for SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The opening of an SVG of `w x h` pixels on white (12 px sans-serif).
pub fn svg_open(w: f64, h: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    )
}

/// A text element (`anchor`: `start`, `middle` or `end`; `size` in px; `extra` more
/// attributes, e.g. `fill="#666"`).
pub fn text(s: &mut String, (x, y): (f64, f64), anchor: &str, size: f64, extra: &str, t: &str) {
    let _ = writeln!(
        s,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" font-size="{size}"{}{extra}>{}</text>"#,
        if extra.is_empty() { "" } else { " " },
        esc(t)
    );
}

/// A rectangle (`style`: its fill and stroke attributes).
pub fn rect(s: &mut String, (x, y): (f64, f64), (w, h): (f64, f64), style: &str) {
    let _ = writeln!(
        s,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" {style}/>"#,
        w.max(0.0),
        h.max(0.0)
    );
}

/// A line (`style`: its stroke attributes).
pub fn line(s: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
    let _ = writeln!(
        s,
        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {style}/>"#
    );
}

/// A polyline through `points` (`style`: its stroke attributes; no fill).
pub fn polyline(s: &mut String, points: &[(f64, f64)], style: &str) {
    let p: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = writeln!(
        s,
        r#"<polyline fill="none" points="{}" {style}/>"#,
        p.join(" ")
    );
}

/// A frame's outline and horizontal grid lines with labels left of it at the `ticks` (on an
/// axis from the first tick at the bottom to the last at the top).
pub fn y_axis(s: &mut String, f: &Frame, ticks: &[f64], labels: &[String], size: f64) {
    let (lo, hi) = (ticks[0], ticks[ticks.len() - 1]);
    for (&t, lab) in ticks.iter().zip(labels) {
        let y = f.y_of(t, lo, hi);
        line(s, (f.x, y), (f.right(), y), r##"stroke="#eee""##);
        text(s, (f.x - 4.0, y + size / 3.0), "end", size, "", lab);
    }
    rect(s, (f.x, f.y), (f.w, f.h), r##"fill="none" stroke="#444""##);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_frames_tile_without_overlap() {
        let pad = Pad {
            left: 30.0,
            right: 10.0,
            top: 20.0,
            bottom: 25.0,
        };
        let g = grid(2, 3, (50.0, 60.0), (150.0, 120.0), pad);
        assert_eq!((g.len(), g[0].len()), (2, 3));
        assert_eq!(
            g[1][2],
            Frame {
                x: 50.0 + 2.0 * 150.0 + 30.0,
                y: 60.0 + 120.0 + 20.0,
                w: 110.0,
                h: 75.0
            }
        );
        // Neighbours are the two pads apart, across and down.
        assert_eq!(g[0][1].x - g[0][0].right(), 40.0);
        assert_eq!(g[1][0].y - g[0][0].bottom(), 45.0);
        // The last frame ends a pad inside the grid's extent.
        assert_eq!(g[1][2].right(), 50.0 + 3.0 * 150.0 - 10.0);
        assert_eq!(g[1][2].bottom(), 60.0 + 2.0 * 120.0 - 25.0);
        // A pad larger than the cell leaves a 1 px frame, not a negative one.
        let tiny = grid(1, 1, (0.0, 0.0), (10.0, 10.0), Pad { left: 20.0, ..pad });
        assert_eq!(tiny[0][0].w, 1.0);
    }

    #[test]
    fn bands_centre_their_bars_and_never_overlap() {
        let b = Bands::new(100.0, 600.0, 4, 3, 0.75);
        assert_eq!(b.center(0), 175.0);
        assert_eq!(b.center(3), 625.0);
        assert_eq!(b.bar_width(), 37.5);
        for g in 0..4 {
            // The bars of a band fill 75% of it, centred: 18.75 px free on each side.
            assert_eq!(b.bar_x(g, 0), 100.0 + 150.0 * g as f64 + 18.75);
            assert_eq!(
                b.bar_x(g, 2) + b.bar_width(),
                100.0 + 150.0 * (g + 1) as f64 - 18.75
            );
            assert_eq!(b.bar_x(g, 1), b.bar_x(g, 0) + b.bar_width());
        }
        // One group, one bar, full fill: the whole width.
        let one = Bands::new(0.0, 10.0, 1, 1, 2.0);
        assert_eq!((one.bar_x(0, 0), one.bar_width()), (0.0, 10.0));
        // No groups is treated as one.
        assert_eq!(Bands::new(0.0, 10.0, 0, 0, 0.5).center(0), 5.0);
    }

    #[test]
    fn histogram_bins_ends_outside_and_density() {
        let h = Histogram::new([0.0, 0.1, 0.5, 0.99, 1.0, -0.5, 2.0, f64::NAN], 0.0, 1.0, 4);
        assert_eq!(h.counts, [2, 0, 1, 2]);
        assert_eq!((h.below, h.above, h.missing, h.total()), (1, 1, 1, 7));
        // Count / (7 values x 0.25 wide).
        let d = h.density(0.0, 1.0);
        assert_eq!(d, [2.0 / 1.75, 0.0, 1.0 / 1.75, 2.0 / 1.75]);
        // Inside values integrate to the fraction inside (5 of 7).
        let area: f64 = d.iter().map(|v| v * 0.25).sum();
        assert!((area - 5.0 / 7.0).abs() < 1e-12);
        let empty = Histogram::new([], 0.0, 1.0, 3);
        assert_eq!(empty.density(0.0, 1.0), [0.0; 3]);
        let flat = Histogram::new([1.0, 1.0, 2.0], 1.0, 1.0, 3);
        assert_eq!((flat.counts[0], flat.above), (2, 1));
    }

    #[test]
    fn ticks_within_keep_the_ends_and_space_the_inner_ones() {
        assert_eq!(ticks_within(-2.0, 2.0, 3), [-2.0, 0.0, 2.0]);
        assert_eq!(ticks_within(0.01, 0.1, 3), [0.01, 0.05, 0.1]);
        // 0.1 is within a fifth of the range of 0.12, so it is dropped.
        assert_eq!(ticks_within(0.0, 0.12, 3), [0.0, 0.12]);
        assert_eq!(ticks_within(1.0, 1.0, 3), [1.0]);
        let l: Vec<String> = ticks_within(0.01, 0.1, 3)
            .into_iter()
            .map(short_label)
            .collect();
        assert_eq!(l, ["0.01", "0.05", "0.1"]);
        assert_eq!(short_label(1.0e-7), "1.00e-7");
        assert_eq!(short_label(-2.0), "-2");
    }

    #[test]
    fn pieces_escape_and_round() {
        let mut s = String::new();
        text(&mut s, (1.04, 2.06), "middle", 11.0, "", "a<b & c");
        rect(&mut s, (0.0, 0.0), (-1.0, 2.0), "fill=\"red\"");
        assert_eq!(
            s,
            "<text x=\"1.0\" y=\"2.1\" text-anchor=\"middle\" font-size=\"11\">a&lt;b &amp; c</text>\n<rect x=\"0.0\" y=\"0.0\" width=\"0.0\" height=\"2.0\" fill=\"red\"/>\n"
        );
    }
}
