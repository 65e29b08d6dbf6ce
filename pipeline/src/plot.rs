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

fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-2 {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

/// A line chart; `log_y` plots `log10(y)` (non-positive values are skipped).
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
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let pad = 0.05 * (y1 - y0);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let px = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - (tf(y) - y0) / (y1 - y0) * (H - T - B);
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
    // Ticks within rounding of zero print as 0.
    let snap = |v: f64, span: f64| if v.abs() < 1e-9 * span { 0.0 } else { v };
    for k in 0..=4 {
        let fx = snap(x0 + (x1 - x0) * k as f64 / 4.0, x1 - x0);
        let fy = snap(y0 + (y1 - y0) * k as f64 / 4.0, y1 - y0);
        let ylab = if log_y {
            format!("1e{:.1}", fy)
        } else {
            fmt_tick(fy)
        };
        let gy = H - B - (fy - y0) / (y1 - y0) * (H - T - B);
        let _ = write!(
            s,
            r##"<line x1="{0}" y1="{T}" x2="{0}" y2="{1}" stroke="#eee"/><text x="{0}" y="{2}" text-anchor="middle">{3}</text>
<line x1="{L}" y1="{4}" x2="{5}" y2="{4}" stroke="#eee"/><text x="{6}" y="{7}" text-anchor="end">{8}</text>
"##,
            px(fx),
            H - B,
            H - B + 16.0,
            fmt_tick(fx),
            gy,
            W - R,
            L - 6.0,
            gy + 4.0,
            ylab
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
                r#"<rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="rgb({cr},{cg},{cb})" stroke="white"/><text x="{}" y="{}" text-anchor="middle" fill="{text}">{:.3}</text>"#,
                x + cw / 2.0,
                y + ch / 2.0 + 4.0,
                v
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
    let vmax = groups
        .iter()
        .flat_map(|g| g.1.iter())
        .flat_map(|(a, b)| [a.abs(), b.abs()])
        .filter(|v| v.is_finite())
        .fold(1e-9, f64::max);
    let zero = 50.0 + h0 / 2.0;
    let sy = |v: f64| zero - v / vmax * (h0 / 2.0 - 10.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
<line x1="60" y1="{zero}" x2="{}" y2="{zero}" stroke="#444"/>
<text x="55" y="{}" text-anchor="end">{}</text><text x="55" y="{}" text-anchor="end">{}</text>
<rect x="{}" y="30" width="10" height="10" fill="#1f77b4"/><text x="{}" y="39">{}</text>
<rect x="{}" y="30" width="10" height="10" fill="#bbb"/><text x="{}" y="39">{}</text>"##,
        w / 2.0,
        esc(title),
        w - 20.0,
        sy(vmax) + 4.0,
        fmt_tick(vmax),
        sy(-vmax) + 4.0,
        fmt_tick(-vmax),
        w - 260.0,
        w - 245.0,
        esc(legend[0]),
        w - 180.0,
        w - 165.0,
        esc(legend[1])
    );
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
