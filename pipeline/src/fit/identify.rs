//! Identifiability: which directions in parameter space the data determine, from the spectrum
//! of a Gauss-Newton or Fisher matrix (used by `fit_rate` and `fit_behavior`).

use crate::linalg::symmetric_eigen;
use serde::Serialize;

/// One poorly determined direction in coefficient space.
#[derive(Debug, Clone, Serialize)]
pub struct Direction {
    /// Eigenvalue of the normalised Gauss-Newton matrix along it.
    pub singular_value: f64,
    /// The largest loadings, `(term, loading)`, by magnitude.
    pub loadings: Vec<(String, f64)>,
}

/// How well the data determine the coefficients (docs/fit_rate.md).
#[derive(Debug, Clone, Serialize)]
pub struct Identifiability {
    /// The trainable terms, in the order of the matrix.
    pub terms: Vec<String>,
    /// Singular values (= eigenvalues) of `J^T J / N` (`N` observed values), descending.
    pub singular_values: Vec<f64>,
    /// Largest over smallest singular value (`null` when the smallest is not positive).
    pub condition_number: Option<f64>,
    /// The three least determined directions.
    pub least_determined: Vec<Direction>,
    /// Plain-language reading of the condition number.
    pub verdict: String,
}

/// Condition number above which we say individual coefficients are not determined.
pub const ILL_CONDITIONED: f64 = 1e8;

/// Analyses the spectrum of `scale * M` restricted to the terms `idx` of the `n x n` matrix `M`
/// (a Gauss-Newton or Fisher matrix): singular values, condition number, the three least
/// determined directions and a verdict. `data` names what the matrix is of, for the verdict.
pub fn spectrum_report(
    matrix: &[f64],
    n: usize,
    idx: &[usize],
    labels: &[String],
    scale: f64,
    data: &str,
) -> Identifiability {
    let m = idx.len();
    let mut sub = vec![0.0; m * m];
    for (a, &i) in idx.iter().enumerate() {
        for (b, &j) in idx.iter().enumerate() {
            sub[a * m + b] = matrix[i * n + j] * scale;
        }
    }
    let (values, vectors) = symmetric_eigen(&sub, m);
    let smallest = values.last().copied().unwrap_or(0.0);
    let largest = values.first().copied().unwrap_or(0.0);
    let condition_number = (smallest > 0.0).then(|| largest / smallest);
    let least_determined = (0..m.min(3))
        .map(|r| {
            let k = m - 1 - r;
            let mut l: Vec<(String, f64)> = idx
                .iter()
                .zip(&vectors[k])
                .map(|(&i, &v)| (labels[i].clone(), v))
                .collect();
            l.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            l.truncate(4);
            Direction {
                singular_value: values[k],
                loadings: l,
            }
        })
        .collect();
    let verdict = match condition_number {
        Some(c) if c < ILL_CONDITIONED => format!(
            "condition number {c:.3e} < {ILL_CONDITIONED:.0e}: the data determine every trainable coefficient"
        ),
        Some(c) => format!(
            "condition number {c:.3e} >= {ILL_CONDITIONED:.0e}: the data do NOT determine the coefficients individually; only combinations orthogonal to the least determined directions are identified"
        ),
        None => format!("the matrix is singular: some coefficient directions have no effect on the {data}"),
    };
    Identifiability {
        terms: idx.iter().map(|&i| labels[i].clone()).collect(),
        singular_values: values,
        condition_number,
        least_determined,
        verdict,
    }
}
