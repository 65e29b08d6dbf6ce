//! Minimal SVG plots: line charts and heat maps, written as plain text (no dependency).

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 440.0;
const L: f64 = 70.0;
const R: f64 = 170.0;
const T: f64 = 40.0;
const B: f64 = 50.0;

/// A named series of `(x, y)` points.
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// CSS colour.
    pub color: String,
    /// Line width.
    pub width: f64,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Largest magnitude [`nice_ticks`] works with; larger (and infinite) ends are clamped to it.
const TICK_BIG: f64 = 1e300;
/// Narrowest span [`nice_ticks`] divides, relative to the larger end's magnitude: narrower
/// ranges (float noise around a constant) are widened about their middle.
const TICK_REL_SPAN: f64 = 1e-6;
/// Narrowest absolute span [`nice_ticks`] divides (keeps `10^k` of the step finite).
const TICK_MIN_SPAN: f64 = 1e-290;
/// Tick counts aimed for: at most this many on a linear axis ...
const LINEAR_TICKS: usize = 7;
/// ... and at most this many decades labelled on a log axis.
const LOG_TICKS: usize = 11;

/// The value `n x 10^e`, parsed from its decimal form so it is the double nearest to it.
fn decimal(n: i64, e: i32) -> f64 {
    format!("{n}e{e}").parse().unwrap_or(0.0)
}

/// `lo <= hi`, both finite and within `±TICK_BIG`, `hi > lo`; NaN ends count as missing.
fn tick_range(lo: f64, hi: f64) -> (f64, f64) {
    let clamp = |v: f64| (!v.is_nan()).then(|| v.clamp(-TICK_BIG, TICK_BIG));
    let (lo, hi) = match (clamp(lo), clamp(hi)) {
        (Some(a), Some(b)) => (a.min(b), a.max(b)),
        (Some(a), None) | (None, Some(a)) => (a, a),
        (None, None) => (0.0, 1.0),
    };
    let (lo, hi) = if lo == hi {
        let half = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        (lo - half, hi + half)
    } else {
        (lo, hi)
    };
    let min_span = (TICK_REL_SPAN * lo.abs().max(hi.abs())).max(TICK_MIN_SPAN);
    if hi - lo < min_span {
        let mid = lo / 2.0 + hi / 2.0;
        return (mid - min_span / 2.0, mid + min_span / 2.0);
    }
    (lo, hi)
}

/// Round axis ticks covering `[lo, hi]`: consecutive multiples of a step of 1, 2 or 5 x 10^k,
/// the smallest such step giving at most `max_ticks` (taken in `3..=100`) ticks. The first
/// tick is `<= lo` and the last `>= hi`, so an axis drawn from the first to the last tick
/// holds all the data. The ends may come in either order; a NaN end is ignored, an infinite
/// one clamped to ±1e300; an empty range (`lo == hi`) is widened by 10% of its value (to
/// `[-1, 1]` at zero) and one narrower than 1e-6 of its magnitude is widened to that, so there
/// are always at least two distinct ticks. Each tick is the double nearest to its decimal
/// value (`0.3`, not `0.30000000000000004`).
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let max_ticks = max_ticks.clamp(3, 100) as i64;
    let (lo, hi) = tick_range(lo, hi);
    let raw = (hi - lo) / (max_ticks - 1) as f64;
    // One decade below the step that surely fits, then up through 1, 2, 5 x 10^e.
    let mut e = raw.log10().floor() as i32 - 1;
    loop {
        for m in [1i64, 2, 5] {
            let step = decimal(m, e);
            let at = |k: i64| decimal(k * m, e);
            let mut first = (lo / step).floor() as i64;
            while at(first) > lo {
                first -= 1;
            }
            while at(first + 1) <= lo {
                first += 1;
            }
            let mut last = (hi / step).ceil() as i64;
            while at(last) < hi {
                last += 1;
            }
            while at(last - 1) >= hi {
                last -= 1;
            }
            if last - first < max_ticks {
                return (first..=last).map(at).collect();
            }
        }
        e += 1;
    }
}

/// Integer powers of ten for a log axis over `[lo, hi]` (both `log10` of the data): the
/// exponents of at most `max_ticks` (taken in `3..=100`) ticks, every decade or, over wide
/// ranges, every 2nd, 5th, 10th, ... decade, with the first `<= lo` and the last `>= hi`.
/// A range within one decade is widened to the powers around it (one on each side if the
/// range is a single power). Ends are handled as in [`nice_ticks`].
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<i32> {
    let max_ticks = max_ticks.clamp(3, 100) as i64;
    let clamp = |v: f64| (!v.is_nan()).then(|| v.clamp(-400.0, 400.0));
    let (lo, hi) = match (clamp(lo), clamp(hi)) {
        (Some(a), Some(b)) => (a.min(b), a.max(b)),
        (Some(a), None) | (None, Some(a)) => (a, a),
        (None, None) => (0.0, 1.0),
    };
    let (mut a, mut b) = (lo.floor() as i64, hi.ceil() as i64);
    if a == b {
        (a, b) = (a - 1, b + 1);
    }
    let mut scale = 1i64;
    loop {
        for m in [1i64, 2, 5] {
            let d = m * scale;
            let (first, last) = (a.div_euclid(d), (b + d - 1).div_euclid(d));
            if last - first < max_ticks {
                return (first..=last).map(|k| (k * d) as i32).collect();
            }
        }
        scale *= 10;
    }
}

/// The label of the log-axis tick `10^e`: `1e-8`, `1e0`, `1e4`.
pub fn log_tick_label(e: i32) -> String {
    format!("1e{e}")
}

/// The decimal exponent of a finite non-zero `v`: `3` for `1234.5`, `-5` for `2e-5`.
fn exponent(v: f64) -> i32 {
    let s = format!("{:e}", v);
    s.rsplit('e')
        .next()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}

/// Labels for `values` printed to a resolution of `10^res` (the last digit any label shows
/// stands for at least `10^res`), one style for all: fixed-point with the same number of
/// decimals, or, for magnitudes below 1e-3 and for big numbers where it is much shorter, a
/// compact exponent form with the same number of mantissa decimals (`1.5e-7`, `2.0e-7`,
/// `1.0e12`). Zero prints as `0`, non-finite values as Rust prints them.
fn labels_at(values: &[f64], res: i32) -> Vec<String> {
    let finite = || {
        values
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v != 0.0)
    };
    let Some(e_max) = finite().map(exponent).max() else {
        return values
            .iter()
            .map(|v| {
                if *v == 0.0 {
                    "0".into()
                } else {
                    format!("{v}")
                }
            })
            .collect();
    };
    let fixed_decimals = (-res).clamp(0, 17) as usize;
    let fixed_len = e_max.max(0) as usize + 1 + fixed_decimals + usize::from(fixed_decimals > 0);
    let exp_decimals = finite()
        .map(|v| (exponent(v) - res).clamp(0, 16) as usize)
        .max()
        .unwrap_or(0);
    let exp_len = 1 + exp_decimals + usize::from(exp_decimals > 0) + 1 + e_max.to_string().len();
    let use_exp = e_max <= -4 || (e_max >= 6 && exp_len + 2 <= fixed_len);
    values
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                return format!("{v}");
            }
            let s = if use_exp {
                format!("{v:.exp_decimals$e}")
            } else {
                format!("{v:.fixed_decimals$}")
            };
            if s.parse::<f64>() == Ok(0.0) {
                "0".into()
            } else {
                s
            }
        })
        .collect()
}

/// Labels for the ticks of one axis (as from [`nice_ticks`]: equally spaced, round): each
/// prints its value exactly, without float noise, all in one style and with one number of
/// decimals (see `labels_at`); `0` prints as `0`.
pub fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let finite: Vec<f64> = ticks.iter().copied().filter(|v| v.is_finite()).collect();
    let step = match finite.as_slice() {
        [] => 1.0,
        [v] => v.abs(),
        [a, .., b] => (b - a).abs() / (finite.len() - 1) as f64,
    };
    // A round step is m x 10^e with m in {1, 2, 5}: the nudge keeps 0.0999... in decade -1.
    let res = if step > 0.0 {
        (step.log10() + 1e-6).floor() as i32
    } else {
        0
    };
    labels_at(ticks, res)
}

/// Labels for data values (heat-map cells): three significant digits of the largest
/// magnitude, the same style and decimals for all (see `labels_at`).
fn value_labels(values: &[f64]) -> Vec<String> {
    let e_max = values
        .iter()
        .filter(|v| v.is_finite() && **v != 0.0)
        .map(|v| exponent(*v))
        .max()
        .unwrap_or(0);
    labels_at(values, e_max - 2)
}

/// A line chart; `log_y` plots `log10(y)` (non-positive values are skipped). The axes run
/// between round ticks ([`nice_ticks`]) that cover the data; a log axis has ticks only at
/// integer powers of ten ([`log_ticks`]), labelled `1e-8`, `1e0`, ...
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> String {
    let tf = |y: f64| if log_y { y.log10() } else { y };
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(tf(y));
        y1 = y1.max(tf(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    // Fewer x ticks while their labels would not fit side by side (~7 px a character).
    let mut x_ticks = nice_ticks(x0, x1, LINEAR_TICKS);
    let mut x_labels = tick_labels(&x_ticks);
    for n in (3..LINEAR_TICKS).rev() {
        let widest = x_labels.iter().map(|l| l.len()).max().unwrap_or(0);
        if (widest as f64 * 7.0 + 12.0) * x_ticks.len() as f64 <= W - L - R {
            break;
        }
        x_ticks = nice_ticks(x0, x1, n);
        x_labels = tick_labels(&x_ticks);
    }
    let (y_ticks, y_labels): (Vec<f64>, Vec<String>) = if log_y {
        log_ticks(y0, y1, LOG_TICKS)
            .into_iter()
            .map(|e| (f64::from(e), log_tick_label(e)))
            .unzip()
    } else {
        let t = nice_ticks(y0, y1, LINEAR_TICKS);
        let l = tick_labels(&t);
        (t, l)
    };
    // The axes run from the first to the last tick, which cover the data.
    let (x0, x1) = (x_ticks[0], x_ticks[x_ticks.len() - 1]);
    let (y0, y1) = (y_ticks[0], y_ticks[y_ticks.len() - 1]);
    let px = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
    let gy = |v: f64| H - B - (v - y0) / (y1 - y0) * (H - T - B);
    let py = |y: f64| gy(tf(y));
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#444"/>
"##,
        (L + W - R) / 2.0,
        esc(title),
        W - L - R,
        H - T - B
    );
    for (&fx, lab) in x_ticks.iter().zip(&x_labels) {
        let _ = writeln!(
            s,
            r##"<line x1="{0}" y1="{T}" x2="{0}" y2="{1}" stroke="#eee"/><text x="{0}" y="{2}" text-anchor="middle">{3}</text>"##,
            px(fx),
            H - B,
            H - B + 16.0,
            lab
        );
    }
    for (&fy, lab) in y_ticks.iter().zip(&y_labels) {
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{0}" x2="{1}" y2="{0}" stroke="#eee"/><text x="{2}" y="{3}" text-anchor="end">{4}</text>"##,
            gy(fy),
            W - R,
            L - 6.0,
            gy(fy) + 4.0,
            lab
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"#,
        (L + W - R) / 2.0,
        H - 12.0,
        esc(x_label),
        (T + H - B) / 2.0,
        (T + H - B) / 2.0,
        esc(y_label)
    );
    let mut legend_rows = 0;
    for ser in series {
        let path: Vec<String> = ser
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
            .map(|&(x, y)| format!("{:.2},{:.2}", px(x), py(y)))
            .collect();
        if !path.is_empty() {
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="{}" points="{}"/>"#,
                ser.color,
                ser.width,
                path.join(" ")
            );
        }
        if !ser.name.is_empty() && legend_rows < 24 {
            let ly = T + 10.0 + 15.0 * legend_rows as f64;
            legend_rows += 1;
            let _ = writeln!(
                s,
                r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="{}"/><text x="{}" y="{}">{}</text>"#,
                W - R + 10.0,
                W - R + 30.0,
                ser.color,
                ser.width.max(1.5),
                W - R + 35.0,
                ly + 4.0,
                esc(&ser.name)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A heat map: `values[r][c]` with row and column labels; colour from `lo` (white) to `hi`
/// (dark blue), each cell annotated with its value.
pub fn heat_map(
    title: &str,
    row_label: &str,
    col_label: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
) -> String {
    let finite = values.iter().flatten().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::MAX, |a, b| a.min(*b));
    let hi = finite.fold(f64::MIN, |a, b| a.max(*b));
    let (cw, ch) = (90.0, 40.0);
    let (ox, oy) = (140.0, 60.0);
    let w = ox + cw * cols.len() as f64 + 30.0;
    let h = oy + ch * rows.len() as f64 + 60.0;
    let flat: Vec<f64> = values.iter().flatten().copied().collect();
    let mut cell_labels = value_labels(&flat).into_iter();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for (r, row) in values.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let label = cell_labels.next().unwrap_or_default();
            let f = if hi > lo && v.is_finite() {
                (v - lo) / (hi - lo)
            } else {
                0.5
            };
            let (cr, cg, cb) = (
                (255.0 - 205.0 * f) as u8,
                (255.0 - 175.0 * f) as u8,
                (255.0 - 95.0 * f) as u8,
            );
            let text = if f > 0.6 { "white" } else { "black" };
            let (x, y) = (ox + cw * c as f64, oy + ch * r as f64);
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="rgb({cr},{cg},{cb})" stroke="white"/><text x="{}" y="{}" text-anchor="middle" fill="{text}">{label}</text>"#,
                x + cw / 2.0,
                y + ch / 2.0 + 4.0,
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            ox - 8.0,
            oy + ch * r as f64 + ch / 2.0 + 4.0,
            esc(&rows[r])
        );
    }
    for (c, lab) in cols.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            ox + cw * c as f64 + cw / 2.0,
            oy + ch * rows.len() as f64 + 18.0,
            esc(lab)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>
</svg>"#,
        ox + cw * cols.len() as f64 / 2.0,
        oy + ch * rows.len() as f64 + 42.0,
        esc(col_label),
        oy + ch * rows.len() as f64 / 2.0,
        oy + ch * rows.len() as f64 / 2.0,
        esc(row_label)
    );
    s
}

/// Grouped bars: each group is a label and pairs `(first, second)`, drawn side by side (first
/// blue, second grey) around a zero line; `legend` names the two.
pub fn paired_bars(title: &str, legend: [&str; 2], groups: &[(String, Vec<(f64, f64)>)]) -> String {
    let bars: usize = groups.iter().map(|g| g.1.len()).sum();
    let (bw, gap, h0) = (14.0, 26.0, 300.0);
    let w = 80.0 + bars as f64 * 2.0 * bw + groups.len() as f64 * gap + 40.0;
    let h = h0 + 90.0;
    let data_max = groups
        .iter()
        .flat_map(|g| g.1.iter())
        .flat_map(|(a, b)| [a.abs(), b.abs()])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // A symmetric round axis: the ticks of [-max, max] ([-1, 1] without data), scaled to the
    // outermost.
    let m = if data_max > 0.0 { data_max } else { 1.0 };
    let ticks = nice_ticks(-m, m, LINEAR_TICKS);
    let vmax = ticks[ticks.len() - 1].max(-ticks[0]);
    let zero = 50.0 + h0 / 2.0;
    let sy = |v: f64| zero - v / vmax * (h0 / 2.0 - 10.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
<line x1="60" y1="{zero}" x2="{}" y2="{zero}" stroke="#444"/>
<rect x="{}" y="30" width="10" height="10" fill="#1f77b4"/><text x="{}" y="39">{}</text>
<rect x="{}" y="30" width="10" height="10" fill="#bbb"/><text x="{}" y="39">{}</text>"##,
        w / 2.0,
        esc(title),
        w - 20.0,
        w - 260.0,
        w - 245.0,
        esc(legend[0]),
        w - 180.0,
        w - 165.0,
        esc(legend[1])
    );
    for (&t, lab) in ticks.iter().zip(tick_labels(&ticks)) {
        let _ = writeln!(
            s,
            r##"<line x1="56" y1="{0}" x2="60" y2="{0}" stroke="#444"/><text x="54" y="{1}" text-anchor="end">{lab}</text>"##,
            sy(t),
            sy(t) + 4.0
        );
    }
    let mut x = 80.0;
    for (label, pairs) in groups {
        let start = x;
        for &(learned, target) in pairs {
            for (v, color) in [(learned, "#1f77b4"), (target, "#bbb")] {
                let (top, bottom) = if v >= 0.0 {
                    (sy(v), zero)
                } else {
                    (zero, sy(v))
                };
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{bw}" height="{:.1}" fill="{color}"/>"#,
                    (bottom - top).max(0.5)
                );
                x += bw;
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            (start + x) / 2.0,
            h - 20.0,
            esc(label)
        );
        x += gap;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges worth a look: the issue's, degenerate ones, tiny and huge magnitudes.
    const HAND_PICKED: &[(f64, f64)] = &[
        (0.0, 16.5),
        (-3801.101, 39.988),
        (1e-9, 3e-7),
        (0.999, 1.001),
        (-5.0, -5.0),
        (0.0, 1e12),
        (0.0, 1.0),
        (0.0, 0.0),
        (0.1, 0.3),
        (0.3, 0.30000000000000004),
        (0.0, 1e-5),
        (-1e-5, 0.0),
        (1.0, 1.0 + 1e-15),
        (std::f64::consts::LN_2, 0.6931471805599454),
        (1e6, 1e6 + 10.0),
        (1e-300, 3e-300),
        (5e-324, 5e-324),
        (-1e300, 1e300),
        (f64::MAX, f64::MAX),
        (f64::MIN, f64::MAX),
        (f64::NEG_INFINITY, f64::INFINITY),
        (f64::NAN, 3.0),
        (f64::NAN, f64::NAN),
        (-2.0, 3.0),
        (7.0, -2.0),
        (-1e-7, -3e-8),
        (99.0, 101.0),
        (1.0, 200.0),
        (123456.0, 123457.0),
    ];

    /// A small deterministic generator (64-bit LCG, top bits) for random ranges.
    struct Lcg(u64);
    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// A value of random sign and magnitude 10^[-12, 12) (sometimes exactly 0).
        fn value(&mut self) -> f64 {
            let u = self.unit();
            if u < 0.05 {
                return 0.0;
            }
            let sign = if self.unit() < 0.5 { -1.0 } else { 1.0 };
            sign * 10f64.powf(24.0 * self.unit() - 12.0)
        }
        /// A range: two independent values, or one value and a nearby one.
        fn range(&mut self) -> (f64, f64) {
            let a = self.value();
            let b = if self.unit() < 0.5 {
                self.value()
            } else {
                a + a * 10f64.powf(-8.0 * self.unit()) * (self.unit() - 0.5)
            };
            (a, b)
        }
    }

    fn ranges() -> Vec<(f64, f64)> {
        let mut g = Lcg(0x5eed);
        let mut v = HAND_PICKED.to_vec();
        v.extend((0..5000).map(|_| g.range()));
        v
    }

    /// The invariants of `nice_ticks(lo, hi, max)` and of its labels; panics with the range.
    fn check(lo: f64, hi: f64, max: usize) {
        let t = nice_ticks(lo, hi, max);
        let ctx = format!("({lo:e}, {hi:e}) max {max}: {t:?}");
        assert!(t.len() >= 2 && t.len() <= max.clamp(3, 100), "count {ctx}");
        assert!(t.len() <= 11 || max > 11, "count {ctx}");
        assert!(t.iter().all(|v| v.is_finite()), "finite {ctx}");
        assert!(t.windows(2).all(|w| w[0] < w[1]), "ascending {ctx}");
        // The step: 1, 2 or 5 x 10^k.
        let step = t[1] - t[0];
        let e = (step.log10() + 1e-6).floor();
        let m = step / 10f64.powf(e);
        let n = [1.0, 2.0, 5.0]
            .into_iter()
            .find(|n| (m - n).abs() < 1e-6 * n);
        let n = n.unwrap_or_else(|| panic!("step {step:e} (mantissa {m}) {ctx}"));
        // The exact round step (the difference of two ticks carries their rounding).
        let step: f64 = format!("{n}e{e}").parse().unwrap();
        for (i, v) in t.iter().enumerate() {
            let k = v / step;
            assert!((k - k.round()).abs() < 1e-4, "{v:e} not a multiple {ctx}");
            let want = t[0] + step * i as f64;
            assert!((v - want).abs() <= 1e-6 * step, "spacing at {i} {ctx}");
        }
        // The axis covers the (finite, ordered) range.
        let finite: Vec<f64> = [lo, hi]
            .into_iter()
            .filter(|v| !v.is_nan())
            .map(|v| v.clamp(-1e300, 1e300))
            .collect();
        if let (Some(a), Some(b)) = (
            finite.iter().copied().reduce(f64::min),
            finite.iter().copied().reduce(f64::max),
        ) {
            assert!(t[0] <= a && t[t.len() - 1] >= b, "cover {ctx}");
        }
        // Labels: round, exact, distinct, one style.
        let labels = tick_labels(&t);
        assert_eq!(labels.len(), t.len(), "{ctx}");
        for (l, v) in labels.iter().zip(&t) {
            let back: f64 = l.parse().unwrap_or_else(|_| panic!("label {l:?} {ctx}"));
            assert!(
                (back - v).abs() <= 1e-9 * step,
                "label {l:?} for {v:e} {ctx} {labels:?}"
            );
            assert!(l.len() <= 16, "label {l:?} too long {ctx}");
            if *v == 0.0 {
                assert_eq!(l, "0", "{ctx}");
            }
        }
        for (i, a) in labels.iter().enumerate() {
            assert!(!labels[..i].contains(a), "duplicate {a:?} {ctx} {labels:?}");
        }
        let decimals = |l: &str| {
            let mantissa = l.split('e').next().unwrap_or("");
            mantissa.split('.').nth(1).map_or(0, str::len)
        };
        let nonzero: Vec<&String> = labels.iter().filter(|l| *l != "0").collect();
        assert!(
            nonzero
                .windows(2)
                .all(|w| decimals(w[0]) == decimals(w[1])
                    && w[0].contains('e') == w[1].contains('e')),
            "mixed styles {ctx} {labels:?}"
        );
    }

    #[test]
    fn nice_ticks_are_round_and_cover_the_range() {
        for (lo, hi) in ranges() {
            check(lo, hi, LINEAR_TICKS);
        }
    }

    #[test]
    fn nice_ticks_respect_other_counts() {
        let mut g = Lcg(7);
        for (lo, hi) in ranges().into_iter().take(1000) {
            let max = 3 + (g.unit() * 8.0) as usize;
            check(lo, hi, max);
        }
        check(0.0, 16.5, 0);
        check(0.0, 16.5, usize::MAX);
    }

    #[test]
    fn nice_ticks_use_the_room_they_have() {
        // The smallest fitting step: a step 2.5x smaller would have given > 7 ticks, so at
        // least 4 show.
        for (lo, hi) in ranges() {
            let t = nice_ticks(lo, hi, LINEAR_TICKS);
            assert!(t.len() >= 4, "({lo:e}, {hi:e}): {t:?}");
        }
    }

    #[test]
    fn ticks_and_labels_of_the_issue() {
        let labels = |lo, hi| tick_labels(&nice_ticks(lo, hi, LINEAR_TICKS));
        assert_eq!(labels(0.0, 16.5), ["0", "5", "10", "15", "20"]);
        assert_eq!(
            labels(-3801.101, 39.988),
            ["-4000", "-3000", "-2000", "-1000", "0", "1000"]
        );
        assert_eq!(labels(0.0, 1.0), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(0.1, 0.3), ["0.10", "0.15", "0.20", "0.25", "0.30"]);
        assert_eq!(
            labels(1e-9, 3e-7),
            ["0", "5.0e-8", "1.0e-7", "1.5e-7", "2.0e-7", "2.5e-7", "3.0e-7"]
        );
        assert_eq!(
            labels(0.0, 1e-5),
            ["0", "2.0e-6", "4.0e-6", "6.0e-6", "8.0e-6", "1.0e-5"]
        );
        assert_eq!(
            labels(0.999, 1.001),
            ["0.9990", "0.9995", "1.0000", "1.0005", "1.0010"]
        );
        assert_eq!(
            labels(-5.0, -5.0),
            ["-5.6", "-5.4", "-5.2", "-5.0", "-4.8", "-4.6", "-4.4"]
        );
        assert_eq!(
            labels(0.0, 1e12),
            ["0", "2.0e11", "4.0e11", "6.0e11", "8.0e11", "1.0e12"]
        );
        assert_eq!(labels(0.0, 0.0), ["-1.0", "-0.5", "0", "0.5", "1.0"]);
        assert_eq!(nice_ticks(0.1, 0.3, LINEAR_TICKS)[4], 0.3);
        assert_eq!(
            tick_labels(&[0.0, 0.1, 0.2, 0.30000000000000004]),
            ["0", "0.1", "0.2", "0.3"]
        );
    }

    #[test]
    fn log_ticks_are_integer_powers() {
        let mut g = Lcg(11);
        let mut cases: Vec<(f64, f64)> = vec![
            (-8.4, -0.1),
            (-0.1, 0.0),
            (0.0, 0.0),
            (2.0, 2.0),
            (0.2, 0.7),
            (-30.0, 5.0),
            (-323.3, 308.2),
            (f64::NAN, 1.5),
            (f64::NEG_INFINITY, f64::INFINITY),
            (3.0, -3.0),
        ];
        cases.extend((0..2000).map(|_| {
            let a = 60.0 * g.unit() - 30.0;
            (a, a + 40.0 * g.unit() * g.unit())
        }));
        for (lo, hi) in cases {
            let e = log_ticks(lo, hi, LOG_TICKS);
            let ctx = format!("({lo}, {hi}): {e:?}");
            assert!(e.len() >= 2 && e.len() <= LOG_TICKS, "count {ctx}");
            assert!(e.windows(2).all(|w| w[0] < w[1]), "ascending {ctx}");
            let d = e[1] - e[0];
            assert!(e.windows(2).all(|w| w[1] - w[0] == d), "spacing {ctx}");
            assert!(
                [1, 2, 5, 10, 20, 50, 100, 200, 500].contains(&d),
                "step {d} {ctx}"
            );
            if !lo.is_nan() && !hi.is_nan() {
                let (a, b) = (lo.min(hi).max(-400.0), hi.max(lo).min(400.0));
                assert!(
                    f64::from(e[0]) <= a && f64::from(e[e.len() - 1]) >= b,
                    "cover {ctx}"
                );
                if b.ceil() - a.floor() <= 10.0 {
                    assert_eq!(d, 1, "every decade {ctx}");
                }
            }
            for &k in &e {
                let l = log_tick_label(k);
                assert_eq!(l, format!("1e{k}"));
                // `1e{k}` is 10^k; where it is a finite double, check its value too.
                let v: f64 = l.parse().unwrap();
                if k.abs() <= 300 {
                    assert!(v > 0.0 && v.is_finite(), "{l}");
                    assert_eq!(v.log10().round(), v.log10(), "{l} is not a power of ten");
                }
            }
        }
        assert_eq!(
            log_ticks(-8.4, -0.1, LOG_TICKS),
            (-9..=0).collect::<Vec<_>>()
        );
        assert_eq!(log_ticks(2.0, 2.0, LOG_TICKS), [1, 2, 3]);
        assert_eq!(log_ticks(0.2, 0.7, LOG_TICKS), [0, 1]);
        assert_eq!(
            log_ticks(-30.0, 5.0, LOG_TICKS),
            [-30, -25, -20, -15, -10, -5, 0, 5]
        );
    }

    #[test]
    fn value_labels_share_decimals() {
        assert_eq!(
            value_labels(&[0.95, 0.5, -0.2]),
            ["0.950", "0.500", "-0.200"]
        );
        assert_eq!(
            value_labels(&[1.234e-4, 5e-6, 0.0]),
            ["1.23e-4", "5.00e-6", "0"]
        );
        assert_eq!(value_labels(&[f64::NAN, 12.345]), ["NaN", "12.3"]);
        assert_eq!(value_labels(&[0.0, 0.0]), ["0", "0"]);
    }

    fn line(points: Vec<(f64, f64)>) -> Series {
        Series {
            name: "a".into(),
            points,
            color: "#000".into(),
            width: 1.0,
        }
    }

    /// The texts of `<text ...>` elements anchored `end` (y-axis labels) or `middle`.
    fn texts(svg: &str, anchor: &str) -> Vec<String> {
        let pat = format!("text-anchor=\"{anchor}\">");
        svg.match_indices(&pat)
            .map(|(i, _)| {
                let rest = &svg[i + pat.len()..];
                rest[..rest.find('<').unwrap()].to_string()
            })
            .collect()
    }

    #[test]
    fn line_chart_axes_are_round() {
        let pts = (0..=33)
            .map(|i| (f64::from(i) * 0.5, f64::from(i) * 115.0 - 3801.101))
            .collect();
        let svg = line_chart("t", "x", "y", &[line(pts)], false);
        assert_eq!(
            texts(&svg, "end"),
            ["-4000", "-3000", "-2000", "-1000", "0"]
        );
        let mid = texts(&svg, "middle");
        assert_eq!(&mid[0..5], ["0", "5", "10", "15", "20"]);
        assert_eq!(
            svg,
            line_chart(
                "t",
                "x",
                "y",
                &[line(
                    (0..=33)
                        .map(|i| (f64::from(i) * 0.5, f64::from(i) * 115.0 - 3801.101))
                        .collect()
                )],
                false
            )
        );

        let pts = (0..50)
            .map(|i| (f64::from(i), 10f64.powf(-0.1 - 0.17 * f64::from(i))))
            .collect();
        let svg = line_chart("t", "x", "y", &[line(pts)], true);
        let want: Vec<String> = (-9..=0).map(log_tick_label).collect();
        assert_eq!(texts(&svg, "end"), want);
        // Nothing is drawn outside the frame.
        for p in svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .split(' ')
        {
            let (x, y) = p.split_once(',').unwrap();
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!(
                (L - 0.01..=W - R + 0.01).contains(&x) && (T - 0.01..=H - B + 0.01).contains(&y),
                "{p}"
            );
        }
    }

    #[test]
    fn degenerate_charts_do_not_panic() {
        for pts in [
            vec![],
            vec![(1.0, 1.0)],
            vec![(f64::NAN, 0.0), (0.0, -1.0)],
            vec![(0.0, 0.0), (0.0, 0.0)],
        ] {
            for log_y in [false, true] {
                let svg = line_chart("t", "x", "y", &[line(pts.clone())], log_y);
                assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            }
        }
        let svg = paired_bars("t", ["a", "b"], &[("g".into(), vec![(0.0, 0.0)])]);
        assert_eq!(texts(&svg, "end"), ["-1.0", "-0.5", "0", "0.5", "1.0"]);
        let svg = paired_bars("t", ["a", "b"], &[("g".into(), vec![(0.87, -0.3)])]);
        assert_eq!(texts(&svg, "end"), ["-1.0", "-0.5", "0", "0.5", "1.0"]);
        let _ = heat_map(
            "t",
            "r",
            "c",
            &["r".into()],
            &["c".into()],
            &[vec![f64::NAN]],
        );
    }
}
