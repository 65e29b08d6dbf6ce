//! Fit histories as run artifacts, shared by the kinds that fit: the coefficient history
//! (`<stem>.npy`, `<stem>.csv`), the loss curve (`loss.csv`, `loss.svg`) and the coefficient
//! plot.

use crate::error::RunError;
use crate::io::{csv_bytes, npy_bytes};
use crate::plot::{line_chart, Series};
use crate::rundir::RunDir;

/// Writes a history (one row of `labels.len()` values per step) as `<stem>.npy`
/// (steps x values) and `<stem>.csv` (an `index` column counting from 0, then one per label).
pub fn put_history(
    dir: &RunDir,
    stem: &str,
    index: &str,
    labels: &[&str],
    history: &[Vec<f64>],
) -> Result<(), RunError> {
    let flat: Vec<f64> = history.iter().flatten().copied().collect();
    dir.put(
        &format!("{stem}.npy"),
        &npy_bytes(&[history.len(), labels.len()], &flat),
    )?;
    let mut header = vec![index];
    header.extend(labels);
    let rows: Vec<Vec<f64>> = history
        .iter()
        .enumerate()
        .map(|(k, t)| std::iter::once(k as f64).chain(t.iter().copied()).collect())
        .collect();
    dir.put(&format!("{stem}.csv"), &csv_bytes(&header, &rows))
}

/// Writes a training-loss history as `loss.csv` (`epoch` counting from 1, then `column`) and
/// its plot `loss.svg`.
pub fn put_loss(
    dir: &RunDir,
    column: &str,
    losses: &[f64],
    title: &str,
    x_label: &str,
) -> Result<(), RunError> {
    let rows: Vec<Vec<f64>> = losses
        .iter()
        .enumerate()
        .map(|(e, l)| vec![e as f64 + 1.0, *l])
        .collect();
    dir.put("loss.csv", &csv_bytes(&["epoch", column], &rows))?;
    dir.put("loss.svg", loss_svg(title, &rows, x_label).as_bytes())
}

/// The training-loss curve (log scale) of `(x, loss)` rows.
pub fn loss_svg(title: &str, rows: &[Vec<f64>], x_label: &str) -> String {
    let s = Series {
        name: "train loss".into(),
        points: rows.iter().map(|r| (r[0], r[1])).collect(),
        color: "#1f77b4".into(),
        width: 2.0,
    };
    line_chart(title, x_label, "loss (log scale)", &[s], true)
}

/// Coefficients over the fit: `highlight` terms drawn thick in colour (with a thin line at
/// their target when given), the others thin and grey.
pub fn coefficient_svg(
    title: &str,
    x_label: &str,
    history: &[Vec<f64>],
    labels: &[String],
    highlight: &[(usize, Option<f64>)],
) -> String {
    const COLORS: [&str; 6] = [
        "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let n = history.len();
    let mut series = Vec::new();
    let mut others = Vec::new();
    for k in 0..labels.len() {
        let points: Vec<(f64, f64)> = history
            .iter()
            .enumerate()
            .map(|(e, t)| (e as f64, t[k]))
            .collect();
        match highlight.iter().position(|h| h.0 == k) {
            Some(c) => {
                let color = COLORS[c % COLORS.len()].to_string();
                if let Some(target) = highlight[c].1 {
                    others.push(Series {
                        name: format!("target {}", labels[k]),
                        points: vec![(0.0, target), (n.saturating_sub(1) as f64, target)],
                        color: color.clone(),
                        width: 0.8,
                    });
                }
                series.push(Series {
                    name: labels[k].clone(),
                    points,
                    color,
                    width: 2.5,
                });
            }
            None => others.push(Series {
                name: if others.iter().any(|s: &Series| s.name == "other terms") {
                    String::new()
                } else {
                    "other terms".into()
                },
                points,
                color: "#999".into(),
                width: 0.8,
            }),
        }
    }
    series.extend(others);
    line_chart(title, x_label, "theta", &series, false)
}
