//! Minimal SVG plots: line charts and heat maps, written as plain text (no dependency);
//! `panels` has the layout and pieces for figures of several panels (small multiples).

pub mod intervals;
pub mod panels;
pub mod ticks;

use panels::esc;
use std::fmt::Write;
pub use ticks::{log_tick_label, log_ticks, nice_ticks, tick_labels};
use ticks::{value_labels, LINEAR_TICKS, LOG_TICKS};

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
