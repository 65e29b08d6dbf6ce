//! Noise-driven synaptic pruning (Moore & Chaudhuri 2020; `docs/prune.md`).
//!
//! Linear dynamics `dx/dt = A x + b + sigma xi`, `A` row-major `n x n` (`A[i * n + j]` is the
//! synapse from `j` to `i`; the diagonal holds the leak). With `C` the stationary covariance,
//! the score of synapse `(i, j)`, `i != j`, is
//! `s_ij = |w_ij| (C_ii + C_jj - 2 sign(w_ij) C_ij) = |w_ij| Var(x_i - sign(w_ij) x_j)`:
//! local, a weight times a noise-driven variance. A synapse is kept with probability
//! `p_ij = min(1, rho s_ij)`, independently, and a kept one becomes `w_ij / p_ij`, so the pruned
//! matrix equals the original in expectation. In the symmetric case one triangle is sampled and
//! mirrored. Then the diagonal is reset,
//! `A~_ii = A_ii + sum_{j != i} |A_ij| - sum_{j != i} |A~_ij|`, which keeps each row's slack.
//!
//! `rho` either follows the theory, `rho = 8 ln N / (eps^2 sigma^2)` ([`rho_theory`]), or gives
//! an expected synapse count ([`rho_for_expected_count`], solved exactly with the cap at 1).
//!
//! The covariance can be computed by the caller (exactly) or estimated online from the noisy
//! dynamics alone: [`euler_maruyama_step`] and [`covariance_update`] / [`covariance_finish`]
//! (Welford's running moments), the biologically local version.
//!
//! Valid range: finite matrices; scores and probabilities are computed for any finite input;
//! a variance that rounding makes slightly negative is clamped to 0 (documented saturation).
//! Costs: scoring `O(n^2)`, sampling `O(n^2)` uniform draws (one per candidate synapse; per pair
//! in the symmetric case), a noise step `O(n^2)`, a covariance update `O(n^2)`. No allocation.

use crate::error::{check_len, finite_or, finite_probe, KernelError};
use num_traits::Float;
use rand_core::RngCore;

/// Uniform in `[0, 1)` with 53 random bits.
#[inline]
pub fn uniform<F: Float, R: RngCore>(rng: &mut R) -> F {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    F::from(u).unwrap_or_else(F::zero)
}

/// Two independent standard normal draws (Box-Muller: bounded time, no rejection loop).
#[inline]
pub fn normal_pair<F: Float, R: RngCore>(rng: &mut R) -> (F, F) {
    let u1 = 1.0 - (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64); // (0, 1]
    let u2 = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let t = 2.0 * core::f64::consts::PI * u2;
    let f = |v: f64| F::from(v).unwrap_or_else(F::zero);
    (f(r * libm::cos(t)), f(r * libm::sin(t)))
}

fn square(what: &'static str, m: &[impl Sized], n: usize) -> Result<(), KernelError> {
    check_len(what, m, n.saturating_mul(n))
}

/// Scores `s_ij` of every off-diagonal synapse into `out` (`n x n`; 0 on the diagonal and where
/// `w_ij = 0`), from weights `w` and covariance `c` (both `n x n`, row-major). `diag` is `n`
/// scratch (it receives `C_jj`, so the inner loop reads memory in order).
pub fn score<F: Float>(
    w: &[F],
    c: &[F],
    n: usize,
    diag: &mut [F],
    out: &mut [F],
) -> Result<(), KernelError> {
    square("weights", w, n)?;
    square("covariance", c, n)?;
    square("scores", out, n)?;
    check_len("diagonal scratch", diag, n)?;
    if n == 0 {
        return Ok(());
    }
    for (j, d) in diag.iter_mut().enumerate() {
        *d = c.get(j * n + j).copied().unwrap_or_else(F::zero);
    }
    let two = F::one() + F::one();
    let mut probe = F::zero();
    for (i, &cii) in diag.iter().enumerate() {
        let r = i * n..i * n + n;
        let (Some(wr), Some(cr), Some(or)) = (w.get(r.clone()), c.get(r.clone()), out.get_mut(r))
        else {
            break;
        };
        for (((o, &wij), &cij), &cjj) in or.iter_mut().zip(wr).zip(cr).zip(diag.iter()) {
            // Var(x_i - sign(w) x_j) = C_ii + C_jj - 2 sign(w) C_ij; w = 0 scores 0.
            let signed = if wij > F::zero() { cij } else { -cij };
            let v = (cii + cjj - two * signed).max(F::zero());
            *o = wij.abs() * v;
            probe = probe + finite_probe(*o);
        }
        if let Some(o) = or.get_mut(i) {
            *o = F::zero();
        }
    }
    finite_or(probe, "scores", 0)
}

/// `p = min(1, rho s)` elementwise (`rho >= 0`; infinity keeps every synapse with `s > 0`).
pub fn keep_probabilities<F: Float>(
    scores: &[F],
    rho: F,
    out: &mut [F],
) -> Result<(), KernelError> {
    check_len("probabilities", out, scores.len())?;
    if rho.is_nan() || rho < F::zero() {
        return Err(KernelError::OutOfRange { what: "rho" });
    }
    for (p, &s) in out.iter_mut().zip(scores) {
        *p = if s > F::zero() {
            (rho * s).min(F::one())
        } else {
            F::zero()
        };
    }
    Ok(())
}

/// `rho = 8 ln N / (eps^2 sigma^2)`: the theory's rate, which keeps every eigenvalue (and the
/// quadratic form) within `(1 +- eps)` with high probability for symmetric diagonally dominant
/// `A` and keeps at most about `4 N ln N / eps^2` synapses in expectation.
pub fn rho_theory<F: Float>(n: usize, eps: F, sigma: F) -> Result<F, KernelError> {
    if !(eps > F::zero() && sigma > F::zero() && eps.is_finite() && sigma.is_finite()) || n < 2 {
        return Err(KernelError::OutOfRange {
            what: "eps, sigma or n",
        });
    }
    let eight = F::from(8.0).unwrap_or_else(F::one);
    let nf = F::from(n).unwrap_or_else(F::one);
    Ok(eight * nf.ln() / (eps * eps * sigma * sigma))
}

/// The `rho` for which `sum_k min(1, rho s_k)` equals `target` (bisection to relative 1e-12 in
/// at most 200 halvings). `target` must be in `(0, number of positive scores)`; counting a
/// symmetric matrix's pairs is the caller's choice of `scores` (one triangle or both).
pub fn rho_for_expected_count<F: Float>(scores: &[F], target: F) -> Result<F, KernelError> {
    let positive = scores.iter().filter(|s| **s > F::zero()).count();
    let count = F::from(positive).unwrap_or_else(F::zero);
    if !(target > F::zero() && target < count) {
        return Err(KernelError::OutOfRange {
            what: "target synapse count",
        });
    }
    let expected = |rho: F| {
        scores.iter().fold(F::zero(), |acc, &s| {
            if s > F::zero() {
                acc + (rho * s).min(F::one())
            } else {
                acc
            }
        })
    };
    let (mut lo, mut hi) = (F::zero(), F::one());
    let mut guard = 0;
    while expected(hi) < target {
        hi = hi + hi;
        guard += 1;
        if guard > 2000 || !hi.is_finite() {
            return Err(KernelError::OutOfRange {
                what: "target synapse count",
            });
        }
    }
    let tol = F::from(1e-12).unwrap_or_else(F::epsilon);
    for _ in 0..200 {
        let mid = (lo + hi) / (F::one() + F::one());
        if expected(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= tol * hi {
            break;
        }
    }
    Ok(hi)
}

/// One synapse's draw: kept with probability `pk` as `wk / pk` (the reweighting that keeps the
/// expectation), or `None`. A zero weight or probability draws no random number.
#[inline]
fn keep<F: Float, R: RngCore>(wk: F, pk: F, rng: &mut R) -> Option<F> {
    let z = F::zero();
    (wk != z && pk > z && uniform::<F, R>(rng) < pk).then(|| wk / pk)
}

/// Samples every off-diagonal synapse independently: kept with probability `p_ij`, then
/// `w_ij / p_ij`; pruned ones (and those with `p_ij = 0`) become 0. The diagonal is copied (reset
/// it with [`reset_diagonal`]). Returns the number of kept synapses.
pub fn sample_directed<F: Float, R: RngCore>(
    w: &[F],
    p: &[F],
    n: usize,
    rng: &mut R,
    out: &mut [F],
) -> Result<usize, KernelError> {
    square("weights", w, n)?;
    square("probabilities", p, n)?;
    square("pruned", out, n)?;
    let mut kept = 0;
    let z = F::zero();
    for (k, ((o, &wk), &pk)) in out.iter_mut().zip(w).zip(p).enumerate() {
        let (i, j) = (k / n, k % n);
        *o = if i == j {
            wk
        } else if let Some(v) = keep(wk, pk, rng) {
            kept += 1;
            v
        } else {
            z
        };
    }
    Ok(kept)
}

/// Symmetric sampling: each pair `i < j` is decided once with `p_ij` (upper triangle) and the
/// result mirrored, so a symmetric `w` gives a symmetric result. The diagonal is copied. Returns
/// the number of kept pairs.
pub fn sample_symmetric<F: Float, R: RngCore>(
    w: &[F],
    p: &[F],
    n: usize,
    rng: &mut R,
    out: &mut [F],
) -> Result<usize, KernelError> {
    square("weights", w, n)?;
    square("probabilities", p, n)?;
    square("pruned", out, n)?;
    let mut kept = 0;
    let z = F::zero();
    for i in 0..n {
        let d = w.get(i * n + i).copied().unwrap_or(z);
        if let Some(o) = out.get_mut(i * n + i) {
            *o = d;
        }
        for j in i + 1..n {
            let k = i * n + j;
            let (wk, pk) = (
                w.get(k).copied().unwrap_or(z),
                p.get(k).copied().unwrap_or(z),
            );
            let v = if let Some(v) = keep(wk, pk, rng) {
                kept += 1;
                v
            } else {
                z
            };
            for at in [k, j * n + i] {
                if let Some(o) = out.get_mut(at) {
                    *o = v;
                }
            }
        }
    }
    Ok(kept)
}

/// `pruned_ii = original_ii + sum_{j != i} |original_ij| - sum_{j != i} |pruned_ij|`: each row
/// keeps the slack of diagonal dominance it had.
pub fn reset_diagonal<F: Float>(
    original: &[F],
    pruned: &mut [F],
    n: usize,
) -> Result<(), KernelError> {
    square("original", original, n)?;
    square("pruned", pruned, n)?;
    if n == 0 {
        return Ok(());
    }
    for i in 0..n {
        let r = i * n..i * n + n;
        let (Some(orow), Some(prow)) = (original.get(r.clone()), pruned.get_mut(r)) else {
            break;
        };
        let off = |r: &[F]| {
            r.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .fold(F::zero(), |a, (_, v)| a + v.abs())
        };
        let (before, after) = (off(orow), off(prow));
        let d = orow.get(i).copied().unwrap_or_else(F::zero);
        if let Some(x) = prow.get_mut(i) {
            *x = d + before - after;
        }
    }
    let probe = pruned.iter().fold(F::zero(), |a, v| a + finite_probe(*v));
    finite_or(probe, "pruned", 0)
}

/// One Euler-Maruyama step of `dx = (A x + b) dt + sigma dW`:
/// `x <- x + dt (A x + b) + sigma sqrt(dt) xi`, `xi ~ N(0, I)` from `rng`. `scratch` has `n`
/// entries. Stable for `dt` below `2 / max |eigenvalue of A|`.
#[allow(clippy::too_many_arguments)]
pub fn euler_maruyama_step<F: Float, R: RngCore>(
    a: &[F],
    b: &[F],
    sigma: F,
    dt: F,
    x: &mut [F],
    scratch: &mut [F],
    rng: &mut R,
) -> Result<(), KernelError> {
    let n = x.len();
    square("matrix", a, n)?;
    check_len("drive", b, n)?;
    check_len("scratch", scratch, n)?;
    let amp = sigma * dt.sqrt();
    for i in 0..n {
        let row = &a[i * n..(i + 1) * n];
        let ax = row
            .iter()
            .zip(x.iter())
            .fold(F::zero(), |s, (p, q)| s + *p * *q);
        scratch[i] = dt * (ax + b[i]);
    }
    let mut probe = F::zero();
    let mut i = 0;
    while i < n {
        let (z0, z1) = normal_pair::<F, R>(rng);
        x[i] = x[i] + scratch[i] + amp * z0;
        probe = probe + finite_probe(x[i]);
        if i + 1 < n {
            x[i + 1] = x[i + 1] + scratch[i + 1] + amp * z1;
            probe = probe + finite_probe(x[i + 1]);
        }
        i += 2;
    }
    finite_or(probe, "state", 0)
}

/// Welford's update of the running mean and co-moment `M2 = sum (x - mean)(x - mean)^T` with a
/// new sample `x`; `count` is the number of samples so far (incremented here).
pub fn covariance_update<F: Float>(
    x: &[F],
    mean: &mut [F],
    m2: &mut [F],
    count: &mut u64,
    delta: &mut [F],
) -> Result<(), KernelError> {
    let n = x.len();
    check_len("mean", mean, n)?;
    square("co-moment", m2, n)?;
    check_len("scratch", delta, n)?;
    *count = count.saturating_add(1);
    let inv = F::one() / F::from(*count).unwrap_or_else(F::one);
    for i in 0..n {
        delta[i] = x[i] - mean[i];
        mean[i] = mean[i] + delta[i] * inv;
    }
    for i in 0..n {
        let after = x[i] - mean[i];
        let row = &mut m2[i * n..(i + 1) * n];
        for (m, d) in row.iter_mut().zip(delta.iter()) {
            *m = *m + after * *d;
        }
    }
    Ok(())
}

/// The sample covariance `M2 / (count - 1)`, symmetrised (rounding makes `M2` slightly
/// asymmetric).
pub fn covariance_finish<F: Float>(
    m2: &[F],
    count: u64,
    n: usize,
    out: &mut [F],
) -> Result<(), KernelError> {
    square("co-moment", m2, n)?;
    square("covariance", out, n)?;
    if count < 2 {
        return Err(KernelError::OutOfRange {
            what: "sample count",
        });
    }
    let inv = F::one() / F::from(count - 1).unwrap_or_else(F::one);
    let half = F::from(0.5).unwrap_or_else(F::one);
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = half * (m2[i * n + j] + m2[j * n + i]) * inv;
        }
    }
    Ok(())
}

/// One Euler step of the rectified-linear network `dx/dt = -x + [W x + b]_+`:
/// `x <- x + dt (-x + max(0, W x + b))`. `scratch` has `n` entries.
pub fn relu_step<F: Float>(
    w: &[F],
    b: &[F],
    dt: F,
    x: &mut [F],
    scratch: &mut [F],
) -> Result<(), KernelError> {
    let n = x.len();
    square("weights", w, n)?;
    check_len("drive", b, n)?;
    check_len("scratch", scratch, n)?;
    for i in 0..n {
        let row = &w[i * n..(i + 1) * n];
        let u = row.iter().zip(x.iter()).fold(b[i], |s, (p, q)| s + *p * *q);
        scratch[i] = u.max(F::zero());
    }
    let mut probe = F::zero();
    for (xi, r) in x.iter_mut().zip(scratch.iter()) {
        *xi = *xi + dt * (*r - *xi);
        probe = probe + finite_probe(*xi);
    }
    finite_or(probe, "state", 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Lcg;

    #[test]
    fn score_is_weight_times_variance_of_the_difference() {
        let w = [-3.0, 2.0, -0.5, 2.0, -3.0, 0.0, -0.5, 0.0, -1.0];
        let c = [1.0, 0.3, -0.2, 0.3, 2.0, 0.1, -0.2, 0.1, 0.5];
        let mut s = [0.0; 9];
        score(&w, &c, 3, &mut [0.0; 3], &mut s).unwrap();
        assert_eq!(s[0], 0.0);
        assert!((s[1] - 2.0 * (1.0 + 2.0 - 0.6)).abs() < 1e-15);
        assert!((s[2] - 0.5 * (1.0 + 0.5 - 0.4)).abs() < 1e-15);
        assert_eq!(s[5], 0.0);
    }

    #[test]
    fn rho_solves_the_capped_count() {
        let s = [0.1, 0.2, 0.3, 5.0, 0.0];
        let rho = rho_for_expected_count(&s, 2.0).unwrap();
        let e: f64 = s.iter().map(|v| (rho * v).min(1.0)).sum();
        assert!((e - 2.0).abs() < 1e-9, "{e}");
        assert!(rho_for_expected_count(&s, 4.0).is_err());
        assert!(rho_for_expected_count(&s, 0.0).is_err());
    }

    #[test]
    fn infinite_rho_keeps_everything_unchanged() {
        let w = [-3.0, 2.0, -0.5, 2.0, -3.0, 0.1, -0.5, 0.1, -1.0];
        let c = [1.0, 0.3, -0.2, 0.3, 2.0, 0.1, -0.2, 0.1, 0.5];
        let mut s = [0.0; 9];
        score(&w, &c, 3, &mut [0.0; 3], &mut s).unwrap();
        let mut p = [0.0; 9];
        keep_probabilities(&s, f64::INFINITY, &mut p).unwrap();
        let mut out = [0.0; 9];
        let kept = sample_symmetric(&w, &p, 3, &mut Lcg(1), &mut out).unwrap();
        reset_diagonal(&w, &mut out, 3).unwrap();
        assert_eq!(kept, 3);
        assert_eq!(out, w);
    }

    #[test]
    fn relu_and_noise_steps() {
        let w = [0.0, 1.0, -1.0, 0.0];
        let mut x = [1.0, 2.0];
        let mut s = [0.0; 2];
        relu_step(&w, &[0.0, 0.0], 0.5, &mut x, &mut s).unwrap();
        assert_eq!(x, [1.5, 1.0]);
        let a = [-1.0, 0.0, 0.0, -1.0];
        let mut x = [0.0, 0.0];
        euler_maruyama_step(&a, &[1.0, 1.0], 0.0, 0.1, &mut x, &mut s, &mut Lcg(3)).unwrap();
        assert!((x[0] - 0.1).abs() < 1e-15 && (x[1] - 0.1).abs() < 1e-15);
    }

    #[test]
    fn running_covariance_matches_two_pass() {
        let xs = [[1.0, 2.0], [0.5, -1.0], [3.0, 0.0], [-2.0, 1.5]];
        let (mut mean, mut m2, mut d, mut count) = ([0.0; 2], [0.0; 4], [0.0; 2], 0u64);
        for x in &xs {
            covariance_update(x, &mut mean, &mut m2, &mut count, &mut d).unwrap();
        }
        let mut c = [0.0; 4];
        covariance_finish(&m2, count, 2, &mut c).unwrap();
        let mu = [0.625, 0.625];
        for i in 0..2 {
            for j in 0..2 {
                let want: f64 = xs
                    .iter()
                    .map(|x| (x[i] - mu[i]) * (x[j] - mu[j]))
                    .sum::<f64>()
                    / 3.0;
                assert!((c[i * 2 + j] - want).abs() < 1e-12);
            }
        }
    }
}
