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

/// A coefficient whose loading on an undetermined direction exceeds this (in magnitude) has
/// no meaningful standard error.
pub const UNDETERMINED_LOADING: f64 = 0.01;

/// Standard errors `sqrt(diag(scale * H^+))` of the coefficients of the `m x m` Gauss-Newton
/// or Fisher matrix `h` (unnormalised: a sum over observations), with `scale` the residual
/// variance for a least-squares fit (1 for a likelihood). With `H = sum_j l_j v_j v_j^T`, a
/// direction with `l_j <= l_1 / ILL_CONDITIONED` (or not positive, or any eigenvalue not
/// finite) is undetermined: a coefficient loading on one by more than
/// [`UNDETERMINED_LOADING`] gets `None`, "not meaningful"; the others get
/// `sqrt(scale sum_{j determined} v_j[k]^2 / l_j)` (the pseudo-inverse over the determined
/// directions).
pub fn standard_errors(h: &[f64], m: usize, scale: f64) -> Vec<Option<f64>> {
    let (values, vectors) = symmetric_eigen(h, m);
    let top = values.first().copied().unwrap_or(0.0);
    let finite = values.iter().all(|v| v.is_finite());
    let determined = |l: f64| finite && top > 0.0 && l > top / ILL_CONDITIONED;
    (0..m)
        .map(|k| {
            let undetermined = !finite
                || values
                    .iter()
                    .zip(&vectors)
                    .any(|(&l, v)| !determined(l) && v[k].abs() > UNDETERMINED_LOADING);
            let var: f64 = values
                .iter()
                .zip(&vectors)
                .filter(|(&l, _)| determined(l))
                .map(|(&l, v)| v[k] * v[k] / l)
                .sum();
            (!undetermined).then(|| (scale * var).sqrt())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_errors_of_a_diagonal_matrix_and_an_undetermined_pair() {
        // Independent coefficients: se = sqrt(scale / h_jj).
        let se = standard_errors(&[4.0, 0.0, 0.0, 16.0], 2, 2.0);
        assert!((se[0].unwrap() - (2.0f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((se[1].unwrap() - (2.0f64 / 16.0).sqrt()).abs() < 1e-12);
        // Two identical columns and an independent third: only the third is determined.
        let h = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 9.0];
        let se = standard_errors(&h, 3, 1.0);
        assert_eq!((se[0], se[1]), (None, None));
        assert!((se[2].unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }
}
