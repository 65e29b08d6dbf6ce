//! The network of `prune`: generated or read from a file, checked, its covariance (exact or
//! estimated online) and its eigenvalues.

use super::config::{ClustersConfig, PruneConfig, PruneMode, PruneNetwork, RandomSddConfig};
use crate::error::RunError;
use crate::io::{parse_csv_matrix, parse_npy_matrix, Matrix};
use crate::progress::Progress;
use crate::rng::Rng;
use nalgebra::DMatrix;
use std::path::Path;
use synplast_kernels::prune::{covariance_finish, covariance_update, euler_maruyama_step};

/// Reads a matrix file (`.npy` or CSV); errors name the file.
pub fn load_matrix(path: &str) -> Result<Matrix, String> {
    let p = Path::new(path);
    let bytes = std::fs::read(p).map_err(|e| format!("{path}: cannot read the matrix: {e}"))?;
    let m = if path.to_ascii_lowercase().ends_with(".npy") {
        parse_npy_matrix(&bytes)
    } else {
        std::str::from_utf8(&bytes)
            .map_err(|_| "not UTF-8 text".to_string())
            .and_then(parse_csv_matrix)
    };
    m.map_err(|e| format!("{path}: {e}"))
}

/// Checks a matrix for the experiment: square, finite, symmetric for symmetric sampling, and
/// symmetric diagonally dominant where the theory (`eps`) needs it unless `allow_non_sdd`.
pub fn check_matrix(m: &Matrix, cfg: &PruneConfig) -> Result<(), String> {
    if m.rows != m.cols {
        return Err(format!(
            "the matrix is {} x {}; it must be square",
            m.rows, m.cols
        ));
    }
    let n = m.rows;
    if n < 2 {
        return Err("the matrix must be at least 2 x 2".into());
    }
    if let Some(k) = m.data.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "entry ({}, {}) is {}; every entry must be finite",
            k / n,
            k % n,
            m.data[k]
        ));
    }
    let a = &m.data;
    let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs())).max(1e-300);
    let symmetric =
        (0..n).all(|i| (0..i).all(|j| (a[i * n + j] - a[j * n + i]).abs() <= 1e-12 * scale));
    if cfg.prune.mode == PruneMode::Symmetric && !symmetric {
        return Err(
            "the matrix is not symmetric; symmetric sampling needs A = A^T (set prune.mode: directed)"
                .into(),
        );
    }
    if cfg.prune.eps.is_some() && !cfg.prune.allow_non_sdd {
        if !symmetric {
            return Err("the theory's rho (prune.eps) needs a symmetric diagonally dominant matrix; this one is not symmetric (set prune.allow_non_sdd: true to run it anyway)".into());
        }
        for i in 0..n {
            let off: f64 = (0..n).filter(|&j| j != i).map(|j| a[i * n + j].abs()).sum();
            let slack = -a[i * n + i] - off;
            if slack < -1e-12 * scale {
                return Err(format!(
                    "row {i} is not diagonally dominant (A_ii + sum_j |A_ij| = {:.6e} > 0); the theory's rho (prune.eps) needs a symmetric diagonally dominant matrix with a negative diagonal (set prune.allow_non_sdd: true to run it anyway)",
                    -slack
                ));
            }
        }
    }
    Ok(())
}

/// Checks a matrix file before a run directory exists (bad data: exit 2).
pub fn check_data(cfg: &PruneConfig) -> Result<(), String> {
    match &cfg.network {
        PruneNetwork::File(f) => {
            let m = load_matrix(f)?;
            check_matrix(&m, cfg).map_err(|e| format!("{f}: {e}"))
        }
        _ => Ok(()),
    }
}

fn sdd_diagonal(a: &mut [f64], n: usize, slack: f64) {
    for i in 0..n {
        let off: f64 = (0..n).filter(|&j| j != i).map(|j| a[i * n + j].abs()).sum();
        a[i * n + i] = -off - slack;
    }
}

/// Builds the configured network matrix (row-major `n x n`).
pub fn build_network(cfg: &PruneConfig, rng: &mut Rng) -> Result<Matrix, String> {
    match &cfg.network {
        PruneNetwork::File(f) => load_matrix(f),
        PruneNetwork::RandomSdd(r) => Ok(random_sdd(r, rng)),
        PruneNetwork::Clusters(k) => Ok(clusters(k, rng)),
    }
}

fn random_sdd(r: &RandomSddConfig, rng: &mut Rng) -> Matrix {
    let n = r.n.get();
    let gain: Vec<f64> = (0..n)
        .map(|_| (r.gain_std.0 * rng.normal()).exp())
        .collect();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            if rng.uniform() < r.density.0 {
                let v = r.weight_std.0 * gain[i] * gain[j] * rng.normal();
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
    }
    sdd_diagonal(&mut a, n, r.slack.0);
    Matrix {
        rows: n,
        cols: n,
        data: a,
    }
}

fn clusters(k: &ClustersConfig, rng: &mut Rng) -> Matrix {
    let n = k.clusters.get() * k.size.get();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let same = i / k.size.get() == j / k.size.get();
            let p = if same { k.p_in.0 } else { k.p_out.0 };
            if rng.uniform() < p {
                let v = k.weight_min.0 + (k.weight_max.0 - k.weight_min.0) * rng.uniform();
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
    }
    let m = k.size.get();
    for c1 in 0..k.clusters.get() {
        for c2 in c1 + 1..k.clusters.get() {
            let mut placed = 0;
            while placed < k.links {
                let i = c1 * m + rng.below(m);
                let j = c2 * m + rng.below(m);
                if a[i * n + j] == 0.0 {
                    let v = k.weight_min.0 + (k.weight_max.0 - k.weight_min.0) * rng.uniform();
                    a[i * n + j] = v;
                    a[j * n + i] = v;
                    placed += 1;
                }
            }
        }
    }
    sdd_diagonal(&mut a, n, k.slack.0);
    Matrix {
        rows: n,
        cols: n,
        data: a,
    }
}

/// A row-major `n x n` slice as a nalgebra matrix.
pub fn dmat(a: &[f64], n: usize) -> DMatrix<f64> {
    DMatrix::from_row_slice(n, n, a)
}

/// A nalgebra matrix as a row-major vector.
pub fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    let n = m.nrows();
    let mut v = vec![0.0; n * m.ncols()];
    for i in 0..n {
        for j in 0..m.ncols() {
            v[i * m.ncols() + j] = m[(i, j)];
        }
    }
    v
}

/// The stationary covariance of `dx = A x dt + sigma dW`. Symmetric `A`: `-(sigma^2/2) A^-1`
/// through the Cholesky factor of `-A` (an error if `-A` is not positive definite, i.e. the
/// dynamics are unstable). Otherwise the solution of `A C + C A^T + sigma^2 I = 0` by Smith's
/// doubling iteration on the Cayley transform `U = (A - qI)^-1 (A + qI)`, which converges when
/// every eigenvalue of `A` has a negative real part.
pub fn exact_covariance(
    a: &[f64],
    n: usize,
    sigma: f64,
    symmetric: bool,
) -> Result<Vec<f64>, String> {
    let m = dmat(a, n);
    let s2 = sigma * sigma;
    if symmetric {
        let neg = -m;
        let chol = nalgebra::Cholesky::new(neg).ok_or(
            "-A is not positive definite: the dynamics have no stationary covariance (is the diagonal negative enough?)",
        )?;
        let inv = chol.inverse();
        return Ok(row_major(&(inv * (s2 / 2.0))));
    }
    let q = (m.norm_squared() / n as f64).sqrt().max(1e-12);
    let id = DMatrix::<f64>::identity(n, n);
    let minus = (&m - &id * q)
        .try_inverse()
        .ok_or("A - qI is singular; cannot solve the Lyapunov equation")?;
    let mut u = &minus * (&m + &id * q);
    let mut x = &minus * minus.transpose() * (2.0 * q * s2);
    for _ in 0..200 {
        let add = &u * &x * u.transpose();
        let done = add.norm() <= 1e-15 * x.norm();
        x += add;
        u = &u * &u;
        if done {
            break;
        }
        if !x.iter().all(|v| v.is_finite()) || u.norm() > 1e150 {
            return Err("A has an eigenvalue with non-negative real part: the dynamics have no stationary covariance".into());
        }
    }
    let resid = &m * &x + &x * m.transpose() + &id * s2;
    if resid.norm() > 1e-6 * s2 * (n as f64).sqrt() {
        return Err(format!(
            "the Lyapunov iteration did not converge (residual {:.3e}); are all eigenvalues of A in the left half-plane?",
            resid.norm()
        ));
    }
    let sym = (&x + x.transpose()) * 0.5;
    Ok(row_major(&sym))
}

/// Estimates the covariance from `burn_in + steps` Euler-Maruyama steps of the noisy dynamics
/// started at 0, recording every step after the burn-in into Welford's running moments.
/// `progress` gets 100 ticks, one per percent of the steps; `stop` is asked every 1024 steps
/// (then [`RunError::interrupted`]).
#[allow(clippy::too_many_arguments)]
pub fn estimate_covariance(
    a: &[f64],
    n: usize,
    sigma: f64,
    dt: f64,
    steps: usize,
    burn_in: usize,
    rng: &mut Rng,
    progress: &Progress,
    stop: &dyn Fn() -> bool,
) -> Result<Vec<f64>, RunError> {
    let kerr = |e: synplast_kernels::KernelError| RunError::new(format!("noise simulation: {e}"));
    let mut x = vec![0.0; n];
    let b = vec![0.0; n];
    let mut scratch = vec![0.0; n];
    let mut mean = vec![0.0; n];
    let mut m2 = vec![0.0; n * n];
    let mut count = 0u64;
    let total = burn_in + steps;
    let mut percent = 0;
    for t in 0..total {
        euler_maruyama_step(a, &b, sigma, dt, &mut x, &mut scratch, rng).map_err(kerr)?;
        if t >= burn_in {
            covariance_update(&x, &mut mean, &mut m2, &mut count, &mut scratch).map_err(kerr)?;
        }
        if t % 1024 == 0 && stop() {
            return Err(RunError::interrupted());
        }
        let now = (t + 1) * 100 / total;
        if now > percent {
            progress.tick(now - percent, None);
            percent = now;
        }
    }
    let mut c = vec![0.0; n * n];
    covariance_finish(&m2, count, n, &mut c).map_err(kerr)?;
    Ok(c)
}

/// Eigenvalues: real and sorted ascending for a symmetric matrix; otherwise complex, sorted by
/// real then imaginary part (`(re, im)` pairs).
pub fn eigenvalues(a: &[f64], n: usize, symmetric: bool) -> Vec<(f64, f64)> {
    let m = dmat(a, n);
    let mut v: Vec<(f64, f64)> = if symmetric {
        m.symmetric_eigenvalues()
            .iter()
            .map(|&l| (l, 0.0))
            .collect()
    } else {
        m.complex_eigenvalues()
            .iter()
            .map(|c| (c.re, c.im))
            .collect()
    };
    v.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
    v
}
