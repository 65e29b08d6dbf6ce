//! Points with interval bars per category (for example a fitted coefficient per fly with its
//! 95% interval, two series side by side), around a dashed zero line.

use super::panels::esc;
use super::ticks::{nice_ticks, tick_labels, LINEAR_TICKS};
use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 440.0;
const L: f64 = 70.0;
const R: f64 = 200.0;
const T: f64 = 40.0;
const B: f64 = 50.0;

/// One series: a point per category (`NaN`: none) with its interval (`None`: no meaningful
/// interval, drawn as an open marker), shifted by `offset` categories so series sit side by side.
pub struct IntervalSeries {
    /// Legend entry.
    pub name: String,
    /// CSS colour.
    pub color: String,
    /// Horizontal shift in categories (e.g. -0.17 and 0.17 for two series).
    pub offset: f64,
    /// `(value, interval)` per category.
    pub points: Vec<(f64, Option<(f64, f64)>)>,
}

/// The chart. The y axis runs between round ticks covering every point, zero, and the intervals
/// as far as 1.5 times the points' own span beyond them; an interval running past the axis is
/// cut at it and drawn without its end cap there. The legend sits right of the frame.
pub fn interval_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    series: &[IntervalSeries],
) -> String {
    let pts: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|v| v.is_finite())
        .collect();
    let (p0, p1) = pts
        .iter()
        .fold((0.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (p1 - p0).max(1e-12);
    let (lim0, lim1) = (p0 - 1.5 * span, p1 + 1.5 * span);
    let (mut y0, mut y1) = (p0, p1);
    for (_, iv) in series.iter().flat_map(|s| s.points.iter()) {
        if let Some((a, b)) = iv.filter(|(a, b)| a.is_finite() && b.is_finite()) {
            y0 = y0.min(a.max(lim0));
            y1 = y1.max(b.min(lim1));
        }
    }
    let ticks = nice_ticks(y0, y1, LINEAR_TICKS);
    let (y0, y1) = (ticks[0], ticks[ticks.len() - 1]);
    let n = categories.len().max(1) as f64;
    let px = |c: f64| L + (c + 0.5) / n * (W - L - R);
    let py = |y: f64| H - B - (y - y0) / (y1 - y0) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#444"/>
"##,
        W / 2.0,
        esc(title),
        W - L - R,
        H - T - B
    );
    for (&t, lab) in ticks.iter().zip(tick_labels(&ticks)) {
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{0:.2}" x2="{1}" y2="{0:.2}" stroke="#eee"/><text x="{2}" y="{3:.2}" text-anchor="end">{lab}</text>"##,
            py(t),
            W - R,
            L - 6.0,
            py(t) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{L}" y1="{0:.2}" x2="{1}" y2="{0:.2}" stroke="#666" stroke-dasharray="5,4"/>"##,
        py(0.0),
        W - R
    );
    for (c, lab) in categories.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="{:.2}" y="{}" text-anchor="middle">{}</text>"#,
            px(c as f64),
            H - B + 16.0,
            esc(lab)
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
    for ser in series {
        for (c, &(v, iv)) in ser.points.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let x = px(c as f64 + ser.offset);
            if let Some((a, b)) = iv.filter(|(a, b)| a.is_finite() && b.is_finite()) {
                let (ya, yb) = (py(a.max(y0)), py(b.min(y1)));
                let _ = writeln!(
                    s,
                    r#"<line x1="{x:.2}" y1="{ya:.2}" x2="{x:.2}" y2="{yb:.2}" stroke="{}" stroke-width="1.5"/>"#,
                    ser.color
                );
                for (end, inside) in [(ya, a >= y0), (yb, b <= y1)] {
                    if inside {
                        let _ = writeln!(
                            s,
                            r#"<line x1="{:.2}" y1="{end:.2}" x2="{:.2}" y2="{end:.2}" stroke="{}" stroke-width="1.5"/>"#,
                            x - 4.0,
                            x + 4.0,
                            ser.color
                        );
                    }
                }
            }
            let fill = if iv.is_some() {
                ser.color.as_str()
            } else {
                "white"
            };
            let _ = writeln!(
                s,
                r#"<circle cx="{x:.2}" cy="{:.2}" r="4" fill="{fill}" stroke="{}" stroke-width="1.5"/>"#,
                py(v.clamp(y0, y1)),
                ser.color
            );
        }
    }
    let lx = W - R + 14.0;
    let mut ly = T + 10.0;
    for ser in series {
        let _ = writeln!(
            s,
            r#"<circle cx="{cx}" cy="{ly}" r="4" fill="{c}" stroke="{c}"/><text x="{tx}" y="{ty}">{name}</text>"#,
            cx = lx + 6.0,
            c = ser.color,
            tx = lx + 16.0,
            ty = ly + 4.0,
            name = esc(&ser.name)
        );
        ly += 18.0;
    }
    for note in [
        "bars: 95% interval",
        "(no cap: runs off the chart)",
        "open marker: interval",
        "not meaningful",
        "dashed: zero",
    ] {
        let _ = writeln!(
            s,
            r##"<text x="{lx}" y="{:.1}" fill="#555">{note}</text>"##,
            ly + 4.0
        );
        ly += 16.0;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_cut_at_the_axis_and_open_markers_mark_missing_ones() {
        let cats: Vec<String> = (1..=3).map(|i| i.to_string()).collect();
        let a = IntervalSeries {
            name: "real".into(),
            color: "#00f".into(),
            offset: -0.2,
            points: vec![
                (0.1, Some((0.0, 0.2))),
                (-0.2, Some((-1e6, 1e6))),
                (0.3, None),
            ],
        };
        let b = IntervalSeries {
            name: "surrogate".into(),
            color: "#f80".into(),
            offset: 0.2,
            points: vec![(f64::NAN, None), (0.05, Some((0.0, 0.1))), (0.0, None)],
        };
        let svg = interval_chart("t", "fly", "w", &cats, &[a, b]);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        // The huge interval does not stretch the axis: ticks stay near the points' range.
        let labels: Vec<f64> = svg
            .match_indices("text-anchor=\"end\">")
            .map(|(i, _)| {
                let rest = &svg[i + 18..];
                rest[..rest.find('<').unwrap()].parse().unwrap()
            })
            .collect();
        assert!(
            labels[0] >= -1.5 && *labels.last().unwrap() <= 1.5,
            "{labels:?}"
        );
        assert!(labels.contains(&0.0) || labels[0] <= 0.0);
        // Two open markers (no interval), three filled; the NaN point is not drawn.
        assert_eq!(svg.matches(r#"fill="white" stroke"#).count(), 2);
        assert_eq!(svg.matches("<circle").count(), 5 + 2, "points and legend");
        assert!(svg.contains("stroke-dasharray"));
    }
}
