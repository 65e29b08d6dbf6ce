//! The spike raster plot of the spiking runs.

use std::fmt::Write as _;

/// Spike raster of the first 50 E and 50 I neurons over the last second.
pub fn raster_svg(times: &[Vec<u32>], ne: usize, steps: usize, dt: f64) -> String {
    let (w, h) = (800.0, 420.0);
    let t_end = steps as f64 * dt;
    let t0 = (t_end - 1000.0).max(0.0);
    let picked: Vec<usize> = (0..50.min(ne))
        .chain(ne..(ne + 50).min(times.len()))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle" font-size="15">Spike raster, last second: 50 E (blue), 50 I (red)</text>
<text x="{}" y="{}" text-anchor="middle">time (ms) from {t0:.0} to {t_end:.0}</text>"##,
        w / 2.0,
        w / 2.0,
        h - 8.0
    );
    let rows = picked.len().max(1) as f64;
    for (r, &i) in picked.iter().enumerate() {
        let y = 35.0 + r as f64 * (h - 70.0) / rows;
        let color = if i < ne { "#1f77b4" } else { "#d62728" };
        for &t in &times[i] {
            let tm = t as f64 * dt;
            if tm >= t0 {
                let x = 40.0 + (tm - t0) / (t_end - t0).max(1e-9) * (w - 60.0);
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="1.2" height="3" fill="{color}"/>"#
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
