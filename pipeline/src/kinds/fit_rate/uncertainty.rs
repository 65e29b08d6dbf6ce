//! The Gauss-Newton matrix of a recorded-data fit, with its structure: Levenberg-Marquardt
//! steps over every fitted parameter, and how well the recording determines the rule (the
//! curvature of the coefficients with the nuisance parameters profiled out, its spectrum and
//! standard errors).
//!
//! Rows of the plastic layer are independent given the inputs, so neuron `i`'s recording
//! depends on theta and on its own local parameters only: its initial weights in every session
//! and its gain and offset. The Gauss-Newton matrix `H = sum J^T J` is therefore block-arrow:
//! theta couples to everything, each session's initial-weight block of neuron `i` couples only
//! to theta and to that neuron's gain and offset. A system `(H + mu D) d = rhs` is solved by
//! eliminating, for each neuron, every session's weight block on its own, then the neuron's
//! gain and offset, leaving the Schur complement in theta; back-substitution gives the rest.
//! With `mu = 0` and no right-hand side the Schur complement is the profiled curvature
//! `H_tt - H_tl H_ll^+ H_lt` used for the identifiability report and the standard errors
//! `sqrt(sigma^2 diag(H_eff^+))`, `sigma^2 = SSE / (N - p)`, `p` the parameters the data
//! determine (the numerical ranks of the eliminated blocks and of `H_eff`).

use super::recorded::{Layout, Problem};
use crate::error::{kernel_error as kernel_err, RunError};
use crate::fit::identify::{spectrum_report, standard_errors, Identifiability};
use crate::linalg::{pinv_sym_rank, solve_spd};
use synplast_kernels::recorded::{row_gauss_newton, row_gauss_newton_scratch_len, Recording};
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

/// Relative eigenvalue cut of the pseudo-inverses of the local blocks.
const LOCAL_RCOND: f64 = 1e-12;

/// One eliminated block: `x_e = E^+ (e_rhs - C x_keep)`.
struct Eliminated {
    e_inv: Vec<f64>,
    /// Numerical rank of the eliminated block (the parameters the data determine in it).
    rank: usize,
    c: Vec<f64>,
    e_rhs: Vec<f64>,
    r: usize,
    a: usize,
}

impl Eliminated {
    fn back(&self, keep: &[f64]) -> Vec<f64> {
        let (r, a) = (self.r, self.a);
        let t: Vec<f64> = (0..r)
            .map(|i| self.e_rhs[i] - (0..a).map(|j| self.c[i * a + j] * keep[j]).sum::<f64>())
            .collect();
        (0..r)
            .map(|i| (0..r).map(|k| self.e_inv[i * r + k] * t[k]).sum())
            .collect()
    }
}

/// Eliminates `r` variables with block `e` (`r x r`), coupling `c` (`r x a`) and right-hand
/// side `e_rhs` from the kept system `k` (`a x a`), `k_rhs`: `k -= c^T e^+ c`,
/// `k_rhs -= c^T e^+ e_rhs`.
fn eliminate(
    k: &mut [f64],
    k_rhs: &mut [f64],
    a: usize,
    c: Vec<f64>,
    e: &[f64],
    e_rhs: Vec<f64>,
    r: usize,
) -> Eliminated {
    // A direction of `e` below the cut is dropped: its parameters do not move, and their
    // coupling to the kept ones is not subtracted (only directions at rounding level).
    let (e_inv, rank) = pinv_sym_rank(e, r, LOCAL_RCOND);
    // g = e^+ c (r x a), h = e^+ e_rhs (r)
    let mut g = vec![0.0; r * a];
    let mut h = vec![0.0; r];
    for i in 0..r {
        for q in 0..r {
            let v = e_inv[i * r + q];
            if v != 0.0 {
                for j in 0..a {
                    g[i * a + j] += v * c[q * a + j];
                }
                h[i] += v * e_rhs[q];
            }
        }
    }
    for p in 0..a {
        for q in 0..a {
            k[p * a + q] -= (0..r).map(|i| c[i * a + p] * g[i * a + q]).sum::<f64>();
        }
        k_rhs[p] -= (0..r).map(|i| c[i * a + p] * h[i]).sum::<f64>();
    }
    Eliminated {
        e_inv,
        rank,
        c,
        e_rhs,
        r,
        a,
    }
}

/// What a reduction leaves: the theta system and how to recover the local parameters.
pub struct Reduced {
    /// Schur complement in the trainable coefficients (`m x m`), undamped.
    pub h: Vec<f64>,
    /// Its diagonal before elimination (the damping scale).
    pub diag: Vec<f64>,
    /// Right-hand side in the trainable coefficients.
    pub rhs: Vec<f64>,
    /// Numerical rank of every eliminated local block, summed: the local parameters the data
    /// determine.
    pub local_rank: usize,
    per_neuron: Vec<(Eliminated, Vec<Eliminated>)>,
}

/// Every neuron's Gauss-Newton matrix over each session of the fit at `p` (`[neuron][session]`,
/// each `(27 + n_in + 2)^2`, from [`row_gauss_newton`]).
pub struct RowMatrices(Vec<Vec<Vec<f64>>>);

/// Neuron `i`'s Gauss-Newton matrix over each session of the fit at `p` (one
/// forward-sensitivity pass per session).
fn neuron_matrices(pb: &Problem<'_>, p: &[f64], i: usize) -> Result<Vec<Vec<f64>>, RunError> {
    let n_in = pb.data.n_in;
    let big = TAYLOR_TERMS + n_in + 2;
    let len = row_gauss_newton_scratch_len(n_in, TAYLOR_TERMS)
        .map_err(|e| kernel_err("Gauss-Newton buffers", e))?;
    let rule = pb.rule(p);
    let readout = pb.readout(p);
    let shape = pb.shape(pb.fit_steps);
    let mut scratch = vec![0.0; len];
    (0..pb.sessions.len())
        .map(|k| {
            let s = pb.sessions[k];
            let rec = Recording {
                x: pb.data.x_of(s, pb.fit_steps),
                y_obs: pb.data.y_of(s, pb.fit_steps),
            };
            let mut jtj = vec![0.0; big * big];
            row_gauss_newton(
                &rule,
                pb.eta,
                shape,
                i,
                pb.w0(p, k),
                &rec,
                &readout,
                &mut scratch,
                &mut jtj,
            )
            .map_err(|e| {
                kernel_err(
                    &format!("Gauss-Newton matrix of neuron {i}, session {s}"),
                    e,
                )
            })?;
            Ok(jtj)
        })
        .collect()
}

/// Computes the [`RowMatrices`] at `p` (the expensive part: one forward-sensitivity pass per
/// neuron and session, neurons in parallel). Held in memory for the Levenberg-Marquardt
/// retries: `n_out * sessions * (27 + n_in + 2)^2` values ([`lm_matrix_values`]).
pub fn row_matrices(pb: &Problem<'_>, p: &[f64]) -> Result<RowMatrices, RunError> {
    let rows: Vec<usize> = (0..pb.data.n_out).collect();
    let per = crate::parallel::map(&rows, |&i| neuron_matrices(pb, p, i));
    Ok(RowMatrices(per.into_iter().collect::<Result<_, _>>()?))
}

/// Values the Levenberg-Marquardt refinement keeps for `n_out` neurons, `sessions` sessions
/// and `n_in` inputs.
pub fn lm_matrix_values(n_out: usize, sessions: usize, n_in: usize) -> u64 {
    let big = (TAYLOR_TERMS + n_in + 2) as u64;
    n_out as u64 * sessions as u64 * big * big
}

/// The Gauss-Newton system of the row matrices, reduced to the trainable coefficients, with
/// local blocks damped by `mu` times their diagonal and right-hand side `-grad / 2` (`grad`
/// the gradient of the SSE; zero when `None`).
pub fn reduce(
    pb: &Problem<'_>,
    rm: &RowMatrices,
    grad: Option<&[f64]>,
    mu: f64,
) -> Result<Reduced, RunError> {
    let get = |i: usize| -> Result<std::borrow::Cow<'_, Vec<Vec<f64>>>, RunError> {
        Ok(std::borrow::Cow::Borrowed(&rm.0[i]))
    };
    reduce_with(pb, &get, grad, mu)
}

/// [`reduce`] with the neurons' matrices from `get` (computed on demand by
/// [`uncertainty`], so only the neurons in progress are held in memory).
fn reduce_with<'m>(
    pb: &Problem<'_>,
    get: &(dyn Fn(usize) -> Result<std::borrow::Cow<'m, Vec<Vec<f64>>>, RunError> + Sync),
    grad: Option<&[f64]>,
    mu: f64,
) -> Result<Reduced, RunError> {
    let (n_in, n_out) = (pb.data.n_in, pb.data.n_out);
    let l: &Layout = &pb.layout;
    let idx: Vec<usize> = (0..TAYLOR_TERMS).filter(|&k| pb.trainable[k]).collect();
    let m = idx.len();
    let big = TAYLOR_TERMS + n_in + 2;
    let rhs_of = |full: usize| grad.map_or(0.0, |g| -0.5 * g[full]);
    let rows: Vec<usize> = (0..n_out).collect();
    let per = crate::parallel::map(&rows, |&i| -> Result<_, RunError> {
        let mats = get(i)?;
        // Kept columns of the row matrix: trainable theta, then the fitted gain and offset.
        let mut keep: Vec<usize> = idx.clone();
        let mut keep_full: Vec<Option<usize>> = vec![None; m];
        if l.gain_fitted {
            keep.push(TAYLOR_TERMS + n_in);
            keep_full.push(Some(Layout::GAIN + i));
        }
        if l.offset_fitted {
            keep.push(TAYLOR_TERMS + n_in + 1);
            keep_full.push(Some(l.offset() + i));
        }
        let a = keep.len();
        let mut k_mat = vec![0.0; a * a];
        let mut k_rhs: Vec<f64> = keep_full.iter().map(|f| f.map_or(0.0, rhs_of)).collect();
        let mut sessions = Vec::new();
        let mut undamped = vec![0.0; a];
        for (k, jtj) in mats.iter().enumerate() {
            let mut kk = vec![0.0; a * a];
            for (x, &px) in keep.iter().enumerate() {
                for (y, &py) in keep.iter().enumerate() {
                    kk[x * a + y] = jtj[px * big + py];
                }
                undamped[x] += jtj[px * big + px];
            }
            if l.w0_fitted {
                let r = n_in;
                let mut c = vec![0.0; r * a];
                let mut e = vec![0.0; r * r];
                for j in 0..r {
                    let wj = TAYLOR_TERMS + j;
                    for (y, &py) in keep.iter().enumerate() {
                        c[j * a + y] = jtj[wj * big + py];
                    }
                    for q in 0..r {
                        e[j * r + q] = jtj[wj * big + TAYLOR_TERMS + q];
                    }
                    e[j * r + j] *= 1.0 + mu;
                }
                let e_rhs: Vec<f64> = (0..r).map(|j| rhs_of(l.w0(k) + i * n_in + j)).collect();
                sessions.push(eliminate(&mut kk, &mut k_rhs, a, c, &e, e_rhs, r));
            }
            k_mat.iter_mut().zip(&kk).for_each(|(x, y)| *x += y);
        }
        // Eliminate the gain and offset (the last a - m kept entries).
        let r = a - m;
        for x in m..a {
            k_mat[x * a + x] += mu * undamped[x];
        }
        let mut theta = vec![0.0; m * m];
        let mut theta_rhs = k_rhs[..m].to_vec();
        for x in 0..m {
            theta[x * m..(x + 1) * m].copy_from_slice(&k_mat[x * a..x * a + m]);
        }
        let mut c = vec![0.0; r * m];
        let mut e = vec![0.0; r * r];
        for x in 0..r {
            c[x * m..(x + 1) * m].copy_from_slice(&k_mat[(m + x) * a..(m + x) * a + m]);
            for y in 0..r {
                e[x * r + y] = k_mat[(m + x) * a + m + y];
            }
        }
        let gb = eliminate(&mut theta, &mut theta_rhs, m, c, &e, k_rhs[m..].to_vec(), r);
        Ok((theta, theta_rhs, undamped[..m].to_vec(), gb, sessions))
    });
    let mut h = vec![0.0; m * m];
    let mut rhs: Vec<f64> = idx.iter().map(|&k| rhs_of(k)).collect();
    let mut diag = vec![0.0; m];
    let mut per_neuron = Vec::new();
    for part in per {
        let (t, tr, d, gb, sessions) = part?;
        h.iter_mut().zip(&t).for_each(|(a, b)| *a += b);
        rhs.iter_mut().zip(&tr).for_each(|(a, b)| *a += b);
        diag.iter_mut().zip(&d).for_each(|(a, b)| *a += b);
        per_neuron.push((gb, sessions));
    }
    for a in 0..m {
        for b in 0..a {
            let v = 0.5 * (h[a * m + b] + h[b * m + a]);
            h[a * m + b] = v;
            h[b * m + a] = v;
        }
    }
    let local_rank = per_neuron
        .iter()
        .map(|(gb, ss): &(Eliminated, Vec<Eliminated>)| {
            gb.rank + ss.iter().map(|e| e.rank).sum::<usize>()
        })
        .sum();
    Ok(Reduced {
        h,
        diag,
        rhs,
        local_rank,
        per_neuron,
    })
}

/// A Levenberg-Marquardt step `d` (full parameter vector) from a reduced damped system, or
/// `None` when the theta system is not positive definite.
pub fn lm_step(pb: &Problem<'_>, red: &Reduced, mu: f64) -> Option<Vec<f64>> {
    let l = &pb.layout;
    let (n_in, m) = (pb.data.n_in, red.rhs.len());
    let idx: Vec<usize> = (0..TAYLOR_TERMS).filter(|&k| pb.trainable[k]).collect();
    let mut a = red.h.clone();
    for x in 0..m {
        a[x * m + x] += mu * red.diag[x].max(1e-300);
    }
    let dt = if m > 0 {
        solve_spd(&a, &red.rhs, m)?
    } else {
        Vec::new()
    };
    let mut d = vec![0.0; l.len()];
    for (x, &k) in idx.iter().enumerate() {
        d[k] = dt[x];
    }
    for (i, (gb, sessions)) in red.per_neuron.iter().enumerate() {
        let x_gb = gb.back(&dt);
        let mut slot = 0;
        if l.gain_fitted {
            d[Layout::GAIN + i] = x_gb[slot];
            slot += 1;
        }
        if l.offset_fitted {
            d[l.offset() + i] = x_gb[slot];
        }
        let keep: Vec<f64> = dt.iter().chain(&x_gb).copied().collect();
        for (k, el) in sessions.iter().enumerate() {
            let xw = el.back(&keep);
            let at = l.w0(k) + i * n_in;
            d[at..at + n_in].copy_from_slice(&xw);
        }
    }
    d.iter().all(|v| v.is_finite()).then_some(d)
}

/// The report of a recorded-data fit.
#[derive(Debug, Clone)]
pub struct Uncertainty {
    /// Spectrum of the profiled Gauss-Newton matrix over the trainable terms.
    pub identifiability: Identifiability,
    /// Standard error of each of the 27 coefficients (`None`: not trainable, or undetermined).
    pub stderr: Vec<Option<f64>>,
    /// Residual variance used (NaN when the samples do not exceed the determined parameters:
    /// then no standard error is meaningful).
    pub sigma2: f64,
    /// Parameters the data determine (numerical ranks of the local blocks and of the profiled
    /// theta block).
    pub determined: usize,
}

/// The profiled Gauss-Newton matrix of the trainable coefficients, standard errors and the
/// identifiability report, at the parameters `p` of a fit (over its fitted steps).
pub fn uncertainty(pb: &Problem<'_>, p: &[f64]) -> Result<Uncertainty, RunError> {
    let idx: Vec<usize> = (0..TAYLOR_TERMS).filter(|&k| pb.trainable[k]).collect();
    let m = idx.len();
    let get = |i: usize| neuron_matrices(pb, p, i).map(std::borrow::Cow::Owned);
    let red = reduce_with(pb, &get, None, 0.0)?;
    let h = red.h;
    let (sse, n) = pb
        .sse(p)
        .map_err(|e| kernel_err("error at the fitted parameters", e))?;
    // Degrees of freedom: the observed samples less the parameters the data determine (the
    // ranks of the local blocks and of the profiled theta block), not the parameters nominally
    // fitted (an unobserved neuron's weights and readout determine nothing).
    let (values, _) = crate::linalg::symmetric_eigen(&h, m);
    let top = values.first().copied().unwrap_or(0.0);
    let theta_rank = values
        .iter()
        .filter(|&&l| top > 0.0 && l > top / crate::fit::identify::ILL_CONDITIONED)
        .count();
    let determined = red.local_rank + theta_rank;
    let sigma2 = if n > determined {
        sse / (n - determined) as f64
    } else {
        f64::NAN
    };
    let mut full = vec![0.0; TAYLOR_TERMS * TAYLOR_TERMS];
    for (a, &i) in idx.iter().enumerate() {
        for (b, &j) in idx.iter().enumerate() {
            full[i * TAYLOR_TERMS + j] = h[a * m + b];
        }
    }
    let labels: Vec<String> = TERM_LABELS.iter().map(|s| s.to_string()).collect();
    let identifiability = spectrum_report(
        &full,
        TAYLOR_TERMS,
        &idx,
        &labels,
        1.0 / n.max(1) as f64,
        "recorded activity",
    );
    let se = if sigma2.is_finite() {
        standard_errors(&h, m, sigma2)
    } else {
        vec![None; m]
    };
    let mut stderr = vec![None; TAYLOR_TERMS];
    for (a, &i) in idx.iter().enumerate() {
        stderr[i] = se[a];
    }
    Ok(Uncertainty {
        identifiability,
        stderr,
        sigma2,
        determined,
    })
}
