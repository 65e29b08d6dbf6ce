//! The behaving network of Mehta et al. 2024, fig. 3 (`docs/fit_behavior.md`), and the gradients of a
//! session's choice log-likelihood with respect to a reward rule's parameters.
//!
//! Network `n_in -> H -> 1`: `h = tanh(W x)` with `W` plastic (`H x n_in`, row-major,
//! `W[i * n_in + j]`), a fixed readout `c` per hidden unit (`5 / H` in the paper), and
//! `p(accept) = sigmoid(z)`, `z = c sum_i h_i`. A session is a sequence of `T` presentations
//! (odor inputs `x_t`, choices `a_t`, reward signals `r_t`); after an accepted presentation the
//! weights change by `W_ij <- W_ij + eta f(x_j, h_i, W_ij, r_t)` with `h` of that presentation
//! (computed with the weights before the update); rejected presentations leave `W` unchanged.
//! `r_t = R_t - E[R]` comes from the caller (see [`crate::reward::RewardAverage`]); it does not
//! depend on the rule's parameters, and is ignored on rejected presentations.
//!
//! Loss: the mean binary cross-entropy `L = (1/T) sum_t [softplus(z_t) - a_t z_t]`
//! (`-log p(choice)`, evaluated without overflow). The deviance of the paper is `2 L`.
//!
//! Two hand-derived gradients of `L` with respect to the rule's parameters `theta`:
//! - [`session_gradient_adjoint`]: reverse pass over the stored weights. With
//!   `lambda = dL/dW_{t+1}` and `e_t = c (p_t - a_t) / T`, going back from `t = T - 1`:
//!   on an accepted presentation `grad += eta lambda_ij df/dtheta`,
//!   `q_i = sum_j lambda_ij f_y`, `lambda_ij <- lambda_ij (1 + eta f_w)`; then on every
//!   presentation `lambda_ij += (1 - h_i^2)(e_t + eta q_i [accepted]) x_j`.
//!   Cost about twice a forward pass plus `P` per synapse update; memory `T H n_in`.
//! - [`session_gradient_forward`]: sensitivities `S = dW/dtheta` carried forward,
//!   `dh_i = (1 - h_i^2) sum_j x_j S_ij`, `dz = c sum_i dh_i`, `grad += (p - a)/T dz`, and on an
//!   accepted presentation `S_ij <- S_ij + eta (df/dtheta + f_y dh_i + f_w S_ij)`. Memory
//!   `H n_in P`, independent of `T`; optionally accumulates the Gauss-Newton (Fisher) matrix
//!   `sum_t p_t (1 - p_t) dz_t dz_t^T`.
//!
//! Weights saturate at `+-w_clip` ([`BehaviorNet::w_clip`]); a clipped update has derivative 0,
//! which both gradient passes respect.
//!
//! Valid range: finite inputs, weights, rewards and parameters. Non-finite inputs, or a rule
//! value that is not finite, return [`KernelError::NonFinite`] naming the presentation.

use crate::error::{check_len, finite_or, finite_probe, KernelError};
use crate::rate::sigmoid;
use crate::reward::RewardRule;
use num_traits::Float;

/// Fixed parameters of the behaving network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BehaviorNet<F> {
    /// Plasticity rate `eta` (`1 / n_in` in the paper).
    pub eta: F,
    /// Readout weight `c` of every hidden unit (`5 / H` in the paper).
    pub readout: F,
    /// Weights saturate at `+-w_clip` (`> 0`; infinity for none). A rule whose weights would
    /// grow without bound then gives a finite, differentiable loss (the derivative through a
    /// clipped update is 0) instead of a numerical blow-up.
    pub w_clip: F,
}

/// `w + eta f` clamped to `[-clip, clip]`, and whether it was clipped; NaN stays NaN.
#[inline]
pub(crate) fn clipped_update<F: Float>(w: F, step: F, clip: F) -> (F, bool) {
    let v = w + step;
    if v > clip {
        (clip, true)
    } else if v < -clip {
        (-clip, true)
    } else {
        (v, false)
    }
}

/// One session: `T = accept.len()` presentations.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a, F> {
    /// Inputs, `T x n_in` row-major.
    pub x: &'a [F],
    /// Whether the presentation was accepted.
    pub accept: &'a [bool],
    /// Reward signal `r_t = R_t - E[R]` (read only on accepted presentations), length `T`.
    pub r: &'a [F],
}

impl<F: Float> Session<'_, F> {
    /// Number of presentations.
    pub fn len(&self) -> usize {
        self.accept.len()
    }
    /// Whether the session has no presentations.
    pub fn is_empty(&self) -> bool {
        self.accept.is_empty()
    }
    fn check(&self, n_in: usize) -> Result<(), KernelError> {
        let t = self.len();
        check_len("session inputs", self.x, t * n_in)?;
        check_len("session rewards", self.r, t)?;
        crate::error::all_finite(self.x.iter().chain(self.r), "session inputs or rewards")
    }
}

/// `softplus(z) - a z = -log p(choice)` for `p = sigmoid(z)`, without overflow.
#[inline]
pub fn choice_nll<F: Float>(z: F, accept: bool) -> F {
    let sp = z.max(F::zero()) + (-z.abs()).exp().ln_1p();
    if accept {
        sp - z
    } else {
        sp
    }
}

/// `h = tanh(W x)` with `n_in = x.len()`, `H = h.len()`, `w.len() = H n_in`.
pub fn hidden<F: Float>(w: &[F], x: &[F], h: &mut [F]) -> Result<(), KernelError> {
    let n_in = x.len();
    check_len("weights", w, n_in * h.len())?;
    hidden_unchecked(w, x, h);
    Ok(())
}

#[inline]
fn hidden_unchecked<F: Float>(w: &[F], x: &[F], h: &mut [F]) {
    let n_in = x.len();
    if n_in == 0 {
        h.iter_mut().for_each(|v| *v = F::zero());
        return;
    }
    for (hi, row) in h.iter_mut().zip(w.chunks_exact(n_in)) {
        let u = row
            .iter()
            .zip(x)
            .fold(F::zero(), |acc, (a, b)| acc + *a * *b);
        *hi = u.tanh();
    }
}

/// The accept logit `z = c sum_i h_i`.
#[inline]
pub fn accept_logit<F: Float>(readout: F, h: &[F]) -> F {
    readout * h.iter().fold(F::zero(), |acc, v| acc + *v)
}

/// `p(accept) = sigmoid(c sum_i h_i)`.
#[inline]
pub fn accept_probability<F: Float>(readout: F, h: &[F]) -> F {
    sigmoid(accept_logit(readout, h))
}

/// `W_ij <- clip(W_ij + eta f(x_j, h_i, W_ij, r))`: the update after an accepted
/// presentation. Returns [`KernelError::NonFinite`] (weights left as computed) when a weight
/// becomes NaN (a non-finite rule value).
pub fn apply_rule<F: Float, R: RewardRule<F>>(
    rule: &R,
    net: &BehaviorNet<F>,
    w: &mut [F],
    x: &[F],
    h: &[F],
    r: F,
) -> Result<(), KernelError> {
    let n_in = x.len();
    check_len("weights", w, n_in * h.len())?;
    if n_in == 0 {
        return Ok(());
    }
    let mut probe = F::zero();
    for (row, &hi) in w.chunks_exact_mut(n_in).zip(h) {
        for (wij, &xj) in row.iter_mut().zip(x) {
            let step = net.eta * rule.dw(xj, hi, *wij, r);
            probe = probe + finite_probe(step);
            *wij = clipped_update(*wij, step, net.w_clip).0;
        }
    }
    finite_or(probe, "weights", 0)
}

/// Buffers a trace of a session may fill.
#[derive(Debug, Default)]
pub struct Trace<'a, F> {
    /// Hidden activity of every presentation, `T x H`.
    pub hidden: Option<&'a mut [F]>,
    /// Weights before every presentation, `T x H x n_in`.
    pub weights: Option<&'a mut [F]>,
    /// Accept probability of every presentation, `T`.
    pub p_accept: Option<&'a mut [F]>,
}

/// Runs a session from the weights in `w` (left holding the final weights) and returns the mean
/// choice cross-entropy `L`. `h` is `H` scratch; `trace` optionally records the trajectory.
pub fn session_loss<F: Float, R: RewardRule<F>>(
    rule: &R,
    net: &BehaviorNet<F>,
    w: &mut [F],
    s: &Session<'_, F>,
    h: &mut [F],
    trace: Trace<'_, F>,
) -> Result<F, KernelError> {
    let n_h = h.len();
    if n_h == 0 {
        return Err(KernelError::OutOfRange {
            what: "hidden units",
        });
    }
    let n_in = w.len() / n_h;
    check_len("weights", w, n_h * n_in)?;
    s.check(n_in)?;
    let t_len = s.len();
    let Trace {
        mut hidden,
        mut weights,
        mut p_accept,
    } = trace;
    if let Some(b) = hidden.as_deref() {
        check_len("hidden trace", b, t_len * n_h)?;
    }
    if let Some(b) = weights.as_deref() {
        check_len("weight trace", b, t_len * n_h * n_in)?;
    }
    if let Some(b) = p_accept.as_deref() {
        check_len("probability trace", b, t_len)?;
    }
    let mut total = F::zero();
    for t in 0..t_len {
        let x = &s.x[t * n_in..(t + 1) * n_in];
        if let Some(b) = weights.as_deref_mut() {
            b[t * n_h * n_in..(t + 1) * n_h * n_in].copy_from_slice(w);
        }
        hidden_unchecked(w, x, h);
        if let Some(b) = hidden.as_deref_mut() {
            b[t * n_h..(t + 1) * n_h].copy_from_slice(h);
        }
        let z = accept_logit(net.readout, h);
        if let Some(b) = p_accept.as_deref_mut() {
            b[t] = sigmoid(z);
        }
        total = total + choice_nll(z, s.accept[t]);
        if s.accept[t] {
            apply_rule(rule, net, w, x, h, s.r[t]).map_err(|_| KernelError::NonFinite {
                what: "weights",
                step: t,
            })?;
        }
    }
    Ok(total / F::from(t_len.max(1)).unwrap_or_else(F::one))
}

/// Scratch length of [`session_gradient_adjoint`]: `T H n_in + H n_in + H`.
/// Saturates at `usize::MAX` (a length no buffer has) instead of overflowing.
pub fn adjoint_scratch_len(n_in: usize, n_hidden: usize, t_len: usize) -> usize {
    t_len
        .saturating_add(1)
        .saturating_mul(n_hidden.saturating_mul(n_in))
        .saturating_add(n_hidden)
}

/// Scratch length of [`session_gradient_forward`]: `H n_in (P + 1) + H P + 2P + H`.
/// Saturates at `usize::MAX` (a length no buffer has) instead of overflowing.
pub fn forward_scratch_len(n_in: usize, n_hidden: usize, n_params: usize) -> usize {
    let syn = n_hidden.saturating_mul(n_in);
    syn.saturating_mul(n_params.saturating_add(1))
        .saturating_add(n_hidden.saturating_mul(n_params))
        .saturating_add(n_params.saturating_mul(2))
        .saturating_add(n_hidden)
}

fn dims<F>(w0: &[F], n_hidden: usize, grad: &[F], n_params: usize) -> Result<usize, KernelError> {
    if n_hidden == 0 {
        return Err(KernelError::OutOfRange {
            what: "hidden units",
        });
    }
    let n_in = w0.len() / n_hidden;
    check_len("initial weights", w0, n_hidden * n_in)?;
    check_len("gradient", grad, n_params)?;
    Ok(n_in)
}

/// Mean choice cross-entropy of a session and its gradient with respect to the rule's
/// parameters, by the adjoint (reverse) pass (equations in the module docs). `grad` (length
/// `P`) is overwritten; `scratch` has [`adjoint_scratch_len`] entries.
pub fn session_gradient_adjoint<F: Float, R: RewardRule<F>>(
    rule: &R,
    net: &BehaviorNet<F>,
    n_hidden: usize,
    w0: &[F],
    s: &Session<'_, F>,
    scratch: &mut [F],
    grad: &mut [F],
) -> Result<F, KernelError> {
    let n_in = dims(w0, n_hidden, grad, rule.n_params())?;
    s.check(n_in)?;
    let t_len = s.len();
    let syn = n_hidden * n_in;
    check_len(
        "scratch",
        scratch,
        adjoint_scratch_len(n_in, n_hidden, t_len),
    )?;
    let (traj, rest) = scratch.split_at_mut(t_len * syn);
    // `wl` holds the running weights in the forward pass, then the adjoint `lambda`.
    let (wl, h) = rest.split_at_mut(syn);
    // Forward: the plain session, recording the weights before every presentation.
    wl.copy_from_slice(w0);
    let trace = Trace {
        hidden: None,
        weights: Some(&mut *traj),
        p_accept: None,
    };
    let loss = session_loss(rule, net, wl, s, h, trace)?;
    let inv_t = F::one() / F::from(t_len.max(1)).unwrap_or_else(F::one);
    // Backward.
    grad.iter_mut().for_each(|g| *g = F::zero());
    let lambda = wl;
    lambda.iter_mut().for_each(|l| *l = F::zero());
    for t in (0..t_len).rev() {
        let w = &traj[t * syn..(t + 1) * syn];
        let x = &s.x[t * n_in..(t + 1) * n_in];
        hidden_unchecked(w, x, h);
        let z = accept_logit(net.readout, h);
        let a = if s.accept[t] { F::one() } else { F::zero() };
        let e = net.readout * (sigmoid(z) - a) * inv_t;
        for i in 0..n_hidden {
            let hi = h[i];
            let row_w = &w[i * n_in..(i + 1) * n_in];
            let row_l = &mut lambda[i * n_in..(i + 1) * n_in];
            let mut q = F::zero();
            if s.accept[t] {
                for ((lj, &wj), &xj) in row_l.iter_mut().zip(row_w).zip(x) {
                    let l = *lj;
                    if l != F::zero() {
                        let p = rule.partials(xj, hi, wj, s.r[t]);
                        if clipped_update(wj, net.eta * p.value, net.w_clip).1 {
                            // The new weight is the constant +-w_clip.
                            *lj = F::zero();
                            continue;
                        }
                        q = q + l * p.d_y;
                        rule.accumulate_param_gradient(xj, hi, wj, s.r[t], net.eta * l, grad);
                        *lj = l + net.eta * l * p.d_w;
                    }
                }
            }
            let si = (F::one() - hi * hi) * (e + net.eta * q);
            for (lj, &xj) in row_l.iter_mut().zip(x) {
                *lj = *lj + si * xj;
            }
        }
    }
    let probe = grad.iter().fold(F::zero(), |acc, g| acc + finite_probe(*g));
    finite_or(probe, "gradient", 0)?;
    Ok(loss)
}

/// Mean choice cross-entropy and its gradient by forward sensitivities (equations in the module
/// docs); memory independent of `T`. When `fisher` is given (length `P * P`, row-major), adds
/// `sum_t p_t (1 - p_t) dz_t dz_t^T` to it (not divided by `T`). `scratch` has
/// [`forward_scratch_len`] entries.
#[allow(clippy::too_many_arguments)]
pub fn session_gradient_forward<F: Float, R: RewardRule<F>>(
    rule: &R,
    net: &BehaviorNet<F>,
    n_hidden: usize,
    w0: &[F],
    s: &Session<'_, F>,
    scratch: &mut [F],
    grad: &mut [F],
    mut fisher: Option<&mut [F]>,
) -> Result<F, KernelError> {
    let n_p = rule.n_params();
    let n_in = dims(w0, n_hidden, grad, n_p)?;
    s.check(n_in)?;
    if let Some(f) = fisher.as_deref() {
        check_len("fisher", f, n_p.saturating_mul(n_p))?;
    }
    let syn = n_hidden * n_in;
    check_len("scratch", scratch, forward_scratch_len(n_in, n_hidden, n_p))?;
    let (w, rest) = scratch.split_at_mut(syn);
    let (sens, rest) = rest.split_at_mut(syn * n_p);
    let (dh, rest) = rest.split_at_mut(n_hidden * n_p);
    let (dz, rest) = rest.split_at_mut(n_p);
    let (pbuf, h) = rest.split_at_mut(n_p);
    w.copy_from_slice(w0);
    sens.iter_mut().for_each(|v| *v = F::zero());
    grad.iter_mut().for_each(|g| *g = F::zero());
    let t_len = s.len();
    let inv_t = F::one() / F::from(t_len.max(1)).unwrap_or_else(F::one);
    let mut total = F::zero();
    for t in 0..t_len {
        let x = &s.x[t * n_in..(t + 1) * n_in];
        hidden_unchecked(w, x, h);
        let z = accept_logit(net.readout, h);
        let p = sigmoid(z);
        total = total + choice_nll(z, s.accept[t]);
        dz.iter_mut().for_each(|v| *v = F::zero());
        for i in 0..n_hidden {
            let g = F::one() - h[i] * h[i];
            let dhi = &mut dh[i * n_p..(i + 1) * n_p];
            dhi.iter_mut().for_each(|v| *v = F::zero());
            for j in 0..n_in {
                let xs = x[j] * g;
                let sj = &sens[(i * n_in + j) * n_p..(i * n_in + j + 1) * n_p];
                for (d, &v) in dhi.iter_mut().zip(sj) {
                    *d = *d + xs * v;
                }
            }
            for (d, &v) in dz.iter_mut().zip(dhi.iter()) {
                *d = *d + net.readout * v;
            }
        }
        let a = if s.accept[t] { F::one() } else { F::zero() };
        let e = (p - a) * inv_t;
        for (g, &d) in grad.iter_mut().zip(dz.iter()) {
            *g = *g + e * d;
        }
        if let Some(f) = fisher.as_deref_mut() {
            let wgt = p * (F::one() - p);
            for (row, &da) in f.chunks_exact_mut(n_p).zip(dz.iter()) {
                let c = wgt * da;
                for (v, &db) in row.iter_mut().zip(dz.iter()) {
                    *v = *v + c * db;
                }
            }
        }
        if s.accept[t] {
            let r = s.r[t];
            let mut probe = F::zero();
            for i in 0..n_hidden {
                let hi = h[i];
                let dhi = &dh[i * n_p..(i + 1) * n_p];
                for j in 0..n_in {
                    let k = i * n_in + j;
                    let part = rule.partials(x[j], hi, w[k], r);
                    rule.param_gradient(x[j], hi, w[k], r, pbuf);
                    let sj = &mut sens[k * n_p..(k + 1) * n_p];
                    let step = net.eta * part.value;
                    probe = probe + finite_probe(step);
                    let (v, clipped) = clipped_update(w[k], step, net.w_clip);
                    if clipped {
                        sj.iter_mut().for_each(|sv| *sv = F::zero());
                    } else {
                        for ((sv, &fp), &d) in sj.iter_mut().zip(pbuf.iter()).zip(dhi) {
                            *sv = *sv + net.eta * (fp + part.d_y * d + part.d_w * *sv);
                        }
                    }
                    w[k] = v;
                }
            }
            finite_or(probe, "weights", t)?;
        }
    }
    let probe = grad.iter().fold(F::zero(), |acc, g| acc + finite_probe(*g));
    finite_or(probe, "gradient", 0)?;
    Ok(total * inv_t)
}
