//! Small dense linear algebra: the symmetric eigenproblem (nalgebra's `SymmetricEigen`:
//! Householder tridiagonalisation and implicit QR) and an SPD solve by Cholesky.

use nalgebra::DMatrix;

/// Eigenvalues (descending) and unit eigenvectors (`vectors[k]` goes with `values[k]`) of the
/// symmetric `n x n` row-major matrix `a` (only its lower triangle is read). Each
/// eigenvector's sign is fixed so that its largest-magnitude component (the first of equal
/// ones) is positive, so the result does not depend on the solver's sign convention. Ties in
/// the eigenvalues keep nalgebra's order.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let m = DMatrix::from_row_slice(n, n, &a[..n * n]);
    let e = m.symmetric_eigen();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| e.eigenvalues[j].total_cmp(&e.eigenvalues[i]));
    let values = order.iter().map(|&i| e.eigenvalues[i]).collect();
    let vectors = order
        .iter()
        .map(|&i| {
            let mut v: Vec<f64> = e.eigenvectors.column(i).iter().copied().collect();
            let big = v
                .iter()
                .enumerate()
                .fold(0, |b, (k, x)| if x.abs() > v[b].abs() { k } else { b });
            if v[big] < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            v
        })
        .collect();
    (values, vectors)
}

/// The pseudo-inverse of the symmetric `n x n` row-major matrix `a`: eigenvalues at most
/// `rel` times the largest (or not positive) are dropped.
pub fn pinv_sym(a: &[f64], n: usize, rel: f64) -> Vec<f64> {
    pinv_sym_rank(a, n, rel).0
}

/// [`pinv_sym`] and the number of eigenvalues it kept (the numerical rank).
pub fn pinv_sym_rank(a: &[f64], n: usize, rel: f64) -> (Vec<f64>, usize) {
    let (values, vectors) = symmetric_eigen(a, n);
    let top = values.first().copied().unwrap_or(0.0);
    let mut out = vec![0.0; n * n];
    let mut rank = 0;
    for (l, v) in values.iter().zip(&vectors) {
        if *l > 0.0 && *l > rel * top {
            rank += 1;
            for i in 0..n {
                let vi = v[i] / l;
                for j in 0..n {
                    out[i * n + j] += vi * v[j];
                }
            }
        }
    }
    (out, rank)
}

/// Solves `a x = b` for a symmetric positive definite row-major `n x n` matrix by Cholesky
/// factorisation; `None` if `a` is not numerically positive definite.
pub fn solve_spd(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d.is_nan() || d <= 0.0 || d.is_infinite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_and_refuses_indefinite() {
        let a = [4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x_true = [1.0, -2.0, 0.5];
        let b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| a[i * 3 + j] * x_true[j]).sum())
            .collect();
        let x = solve_spd(&a, &b, 3).unwrap();
        for k in 0..3 {
            assert!((x[k] - x_true[k]).abs() < 1e-14);
        }
        assert!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn reconstructs_the_matrix() {
        let n = 5;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = 1.0 / (1.0 + i as f64 + j as f64); // Hilbert-like, SPD
            }
        }
        let (vals, vecs) = symmetric_eigen(&a, n);
        assert!(vals.windows(2).all(|w| w[0] >= w[1]));
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|k| vals[k] * vecs[k][i] * vecs[k][j]).sum();
                assert!((r - a[i * n + j]).abs() < 1e-12, "{i} {j}");
            }
        }
        for k in 0..n {
            let norm: f64 = vecs[k].iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
        assert!(vals[n - 1] > 0.0 && vals[0] / vals[n - 1] > 1e5);
    }

    /// Random symmetric matrices (some with repeated eigenvalues): `A v = lambda v` for every
    /// pair, orthonormal vectors, descending values, the sign convention.
    #[test]
    fn random_symmetric_matrices_are_decomposed() {
        let mut rng = crate::rng::Rng::new(7);
        for case in 0..200 {
            let n = 1 + case % 12;
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..=i {
                    let v = if case % 5 == 0 {
                        (rng.below(3) as f64) - 1.0
                    } else {
                        rng.normal()
                    };
                    a[i * n + j] = v;
                    a[j * n + i] = v;
                }
            }
            let (vals, vecs) = symmetric_eigen(&a, n);
            assert!(vals.windows(2).all(|w| w[0] >= w[1]), "{vals:?}");
            let scale = vals.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for k in 0..n {
                for i in 0..n {
                    let av: f64 = (0..n).map(|j| a[i * n + j] * vecs[k][j]).sum();
                    assert!(
                        (av - vals[k] * vecs[k][i]).abs() < 1e-12 * scale,
                        "case {case}"
                    );
                }
                for l in 0..n {
                    let d: f64 = (0..n).map(|i| vecs[k][i] * vecs[l][i]).sum();
                    let want = if k == l { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-12, "case {case}: {k} {l} {d}");
                }
                let big = vecs[k]
                    .iter()
                    .fold(0.0f64, |m, x| if x.abs() > m.abs() { *x } else { m });
                assert!(big > 0.0);
            }
        }
    }
}
