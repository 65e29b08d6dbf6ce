//! Trial-level choice likelihood of a two-alternative task, and its gradient with respect to a
//! reward rule's parameters (`docs/fit_behavior.md`, "Trial-level likelihood").
//!
//! Use this when only the chosen option of each trial is known (the fly data: trial-level
//! choices are reliable, presentation-level rejections are not). The network is that of
//! [`crate::behavior`] (`W` plastic, `H x n_in`, a fixed readout `c`), with the hidden
//! activation either `tanh` or the identity ([`Activation`]); the paper's linear fly network is
//! the identity with `H = 1` and `c = 1`, i.e. `z = W x`.
//!
//! Trial `t` offers options A and B with inputs `x_{t,A}`, `x_{t,B}`; with the weights `W_t`
//! fixed within the trial, `h_o = act(W_t x_o)`, `z_o = c sum_i h_{o,i}`,
//! `p_o = sigmoid(z_o)` (the accept probability of option `o`). When the options are offered
//! one at a time, each with probability 1/2, until one is accepted, option A is chosen with
//! ```text
//! P(A) = sum_k (p_A / 2) (1 - (p_A + p_B) / 2)^k = p_A / (p_A + p_B)
//! ```
//! (a geometric series: each offer ends the trial with probability `(p_A + p_B) / 2`).
//! After the trial, the chosen option `c_t` drives the plasticity:
//! `W_{t+1} = clip(W_t + eta f(x_{t,c}, h_{t,c}, W_t, r_t))`, with `h_{t,c}` from `W_t`.
//!
//! Loss: `L = (1/T) sum_t -log P(c_t)`, with `-log P(c) = softplus(-z_c) + log(p_A + p_B)`
//! evaluated without overflow. Its derivative with respect to `z_o`:
//! `d(-log P(c))/dz_o = P(o) (1 - p_o) - [o = c] (1 - p_c)`.
//!
//! Adjoint (reverse) pass, `lambda = dL/dW_{t+1}` (`lambda_T = 0`), from `t = T - 1` down:
//! ```text
//! through the update:  grad += eta lambda_ij df/dtheta,  q_i = sum_j lambda_ij f_y,
//!                      lambda_ij <- lambda_ij (1 + eta f_w)          (0 where the update clipped)
//! through h_c:         lambda_ij += act'_{c,i} eta q_i x_{c,j}
//! through the loss:    lambda_ij += sum_o act'_{o,i} e_o x_{o,j},  e_o = c (dl_t/dz_o) / T
//! ```
//! with `act' = 1 - h^2` (tanh) or 1 (identity). Cost about three forward passes; memory
//! `T H n_in` for the stored weights.
//!
//! Valid range: finite inputs, weights, rewards and parameters; at least one trial. A non-finite
//! input or rule value returns [`KernelError::NonFinite`] naming the trial.

use crate::behavior::{clipped_update as clipped, BehaviorNet};
use crate::error::{check_len, finite_or, finite_probe, KernelError};
use crate::rate::sigmoid;
use crate::reward::RewardRule;
use num_traits::Float;

/// The hidden units' activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `h = tanh(W x)` (Mehta et al. 2024's behaving network).
    Tanh,
    /// `h = W x` (with `H = 1` and readout 1: the paper's linear fly network, `z = W x`).
    Identity,
}

impl Activation {
    #[inline]
    fn apply<F: Float>(self, u: F) -> F {
        match self {
            Activation::Tanh => u.tanh(),
            Activation::Identity => u,
        }
    }
    /// The derivative, from the activation's value.
    #[inline]
    fn slope<F: Float>(self, h: F) -> F {
        match self {
            Activation::Tanh => F::one() - h * h,
            Activation::Identity => F::one(),
        }
    }
}

/// A session of `T` trials.
#[derive(Debug, Clone, Copy)]
pub struct ChoiceSession<'a, F> {
    /// Inputs, `T x 2 x n_in` row-major: option A's then option B's of every trial.
    pub x: &'a [F],
    /// Whether option B was chosen (false: A), length `T`.
    pub chose_b: &'a [bool],
    /// Reward signal `r_t = R_t - E[R]` of every trial, length `T`.
    pub r: &'a [F],
}

impl<F: Float> ChoiceSession<'_, F> {
    /// Number of trials.
    pub fn len(&self) -> usize {
        self.chose_b.len()
    }
    /// Whether there are no trials.
    pub fn is_empty(&self) -> bool {
        self.chose_b.is_empty()
    }
    fn check(&self, n_in: usize) -> Result<(), KernelError> {
        let t = self.len();
        if t == 0 {
            return Err(KernelError::OutOfRange { what: "trials" });
        }
        check_len("trial inputs", self.x, t.saturating_mul(2 * n_in))?;
        check_len("trial rewards", self.r, t)?;
        crate::error::all_finite(self.x.iter().chain(self.r), "trial inputs or rewards")
    }
    fn option(&self, n_in: usize, t: usize, b: bool) -> &[F] {
        let k = 2 * t + usize::from(b);
        &self.x[k * n_in..(k + 1) * n_in]
    }
}

/// `log sigmoid(z) = -softplus(-z)`, without overflow.
#[inline]
fn log_sigmoid<F: Float>(z: F) -> F {
    let m = -z;
    -(m.max(F::zero()) + (-m.abs()).exp().ln_1p())
}

/// `-log P(chosen)` of a trial with accept logits `z_a`, `z_b`, and `P(A)`.
#[inline]
pub fn trial_nll<F: Float>(z_a: F, z_b: F, chose_b: bool) -> (F, F) {
    let (la, lb) = (log_sigmoid(z_a), log_sigmoid(z_b));
    // log(p_A + p_B) = max + log1p(exp(min - max)).
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    let log_sum = hi + (lo - hi).exp().ln_1p();
    let p_a = (la - log_sum).exp();
    let nll = log_sum - if chose_b { lb } else { la };
    (nll, p_a)
}

fn hidden_of<F: Float>(act: Activation, w: &[F], x: &[F], h: &mut [F]) {
    let n_in = x.len();
    for (hi, row) in h.iter_mut().zip(w.chunks_exact(n_in.max(1))) {
        let u = row
            .iter()
            .zip(x)
            .fold(F::zero(), |acc, (a, b)| acc + *a * *b);
        *hi = act.apply(u);
    }
}

/// `h = act(W x)` with `n_in = x.len()`, `H = h.len()`, `w.len() = H n_in`.
pub fn hidden_activity<F: Float>(
    act: Activation,
    w: &[F],
    x: &[F],
    h: &mut [F],
) -> Result<(), KernelError> {
    check_len("weights", w, x.len() * h.len())?;
    if x.is_empty() {
        h.iter_mut().for_each(|v| *v = F::zero());
        return Ok(());
    }
    hidden_of(act, w, x, h);
    Ok(())
}

fn logit<F: Float>(readout: F, h: &[F]) -> F {
    readout * h.iter().fold(F::zero(), |acc, v| acc + *v)
}

fn dims<F>(w0: &[F], n_hidden: usize) -> Result<usize, KernelError> {
    if n_hidden == 0 || w0.is_empty() {
        return Err(KernelError::OutOfRange {
            what: "hidden units",
        });
    }
    let n_in = w0.len() / n_hidden;
    check_len("initial weights", w0, n_hidden * n_in)?;
    Ok(n_in)
}

/// Scratch length of [`choice_loss`]: `2 H`.
pub fn loss_scratch_len(n_hidden: usize) -> usize {
    n_hidden.saturating_mul(2)
}

/// Runs a session from the weights in `w` (left holding the final weights) and returns the mean
/// `-log P(choice)`. `scratch` has [`loss_scratch_len`] entries; `p_a` (length `T`, optional)
/// receives each trial's `P(A)`; `weights` (length `T H n_in`, optional) the weights before
/// every trial.
#[allow(clippy::too_many_arguments)]
pub fn choice_loss<F: Float, R: RewardRule<F>>(
    rule: &R,
    net: &BehaviorNet<F>,
    act: Activation,
    n_hidden: usize,
    w: &mut [F],
    s: &ChoiceSession<'_, F>,
    scratch: &mut [F],
    mut p_a: Option<&mut [F]>,
    mut weights: Option<&mut [F]>,
) -> Result<F, KernelError> {
    let n_in = dims(w, n_hidden)?;
    s.check(n_in)?;
    let t_len = s.len();
    let syn = n_hidden * n_in;
    check_len("scratch", scratch, loss_scratch_len(n_hidden))?;
    if let Some(b) = p_a.as_deref() {
        check_len("P(A) trace", b, t_len)?;
    }
    if let Some(b) = weights.as_deref() {
        check_len("weight trace", b, t_len.saturating_mul(syn))?;
    }
    let (ha, hb) = scratch.split_at_mut(n_hidden);
    let mut total = F::zero();
    for t in 0..t_len {
        if let Some(b) = weights.as_deref_mut() {
            b[t * syn..(t + 1) * syn].copy_from_slice(w);
        }
        let (xa, xb) = (s.option(n_in, t, false), s.option(n_in, t, true));
        hidden_of(act, w, xa, ha);
        hidden_of(act, w, xb, hb);
        let (nll, pa) = trial_nll(logit(net.readout, ha), logit(net.readout, hb), s.chose_b[t]);
        total = total + nll;
        if let Some(b) = p_a.as_deref_mut() {
            b[t] = pa;
        }
        let (x, h) = if s.chose_b[t] { (xb, &*hb) } else { (xa, &*ha) };
        let mut probe = F::zero();
        for (row, &hi) in w.chunks_exact_mut(n_in).zip(h) {
            for (wij, &xj) in row.iter_mut().zip(x) {
                let step = net.eta * rule.dw(xj, hi, *wij, s.r[t]);
                probe = probe + finite_probe(step);
                *wij = clipped(*wij, step, net.w_clip).0;
            }
        }
        finite_or(probe, "weights", t)?;
    }
    Ok(total / F::from(t_len).unwrap_or_else(F::one))
}

/// Scratch length of [`choice_gradient_adjoint`]: `T H n_in + H n_in + 2 H`. Saturates at
/// `usize::MAX` (a length no buffer has) instead of overflowing.
pub fn adjoint_scratch_len(n_in: usize, n_hidden: usize, t_len: usize) -> usize {
    t_len
        .saturating_add(1)
        .saturating_mul(n_hidden.saturating_mul(n_in))
        .saturating_add(n_hidden.saturating_mul(2))
}

/// Mean `-log P(choice)` of a session and its gradient with respect to the rule's parameters,
/// by the adjoint pass (equations in the module docs). `grad` (length `P`) is overwritten;
/// `scratch` has [`adjoint_scratch_len`] entries.
#[allow(clippy::too_many_arguments)]
pub fn choice_gradient_adjoint<F: Float, R: RewardRule<F>>(
    rule: &R,
    net: &BehaviorNet<F>,
    act: Activation,
    n_hidden: usize,
    w0: &[F],
    s: &ChoiceSession<'_, F>,
    scratch: &mut [F],
    grad: &mut [F],
) -> Result<F, KernelError> {
    let n_in = dims(w0, n_hidden)?;
    s.check(n_in)?;
    check_len("gradient", grad, rule.n_params())?;
    let t_len = s.len();
    let syn = n_hidden * n_in;
    check_len(
        "scratch",
        scratch,
        adjoint_scratch_len(n_in, n_hidden, t_len),
    )?;
    let (traj, rest) = scratch.split_at_mut(t_len * syn);
    let (wl, hs) = rest.split_at_mut(syn);
    wl.copy_from_slice(w0);
    let loss = choice_loss(rule, net, act, n_hidden, wl, s, hs, None, Some(&mut *traj))?;
    let (ha, hb) = hs.split_at_mut(n_hidden);
    let inv_t = F::one() / F::from(t_len).unwrap_or_else(F::one);
    grad.iter_mut().for_each(|g| *g = F::zero());
    let lambda = wl;
    lambda.iter_mut().for_each(|l| *l = F::zero());
    for t in (0..t_len).rev() {
        let w = &traj[t * syn..(t + 1) * syn];
        let (xa, xb) = (s.option(n_in, t, false), s.option(n_in, t, true));
        hidden_of(act, w, xa, ha);
        hidden_of(act, w, xb, hb);
        let (za, zb) = (logit(net.readout, ha), logit(net.readout, hb));
        let (_, p_choice_a) = trial_nll(za, zb, s.chose_b[t]);
        let (pa, pb) = (sigmoid(za), sigmoid(zb));
        let b = s.chose_b[t];
        // d(-log P(c))/dz_o = P(o) (1 - p_o) - [o = c] (1 - p_c).
        let mut da = p_choice_a * (F::one() - pa);
        let mut db = (F::one() - p_choice_a) * (F::one() - pb);
        if b {
            db = db - (F::one() - pb);
        } else {
            da = da - (F::one() - pa);
        }
        let (ea, eb) = (net.readout * da * inv_t, net.readout * db * inv_t);
        let (xc, hc) = if b { (xb, &*hb) } else { (xa, &*ha) };
        let r = s.r[t];
        for i in 0..n_hidden {
            let row_w = &w[i * n_in..(i + 1) * n_in];
            let row_l = &mut lambda[i * n_in..(i + 1) * n_in];
            let hci = hc[i];
            let mut q = F::zero();
            for ((lj, &wj), &xj) in row_l.iter_mut().zip(row_w).zip(xc) {
                let l = *lj;
                if l != F::zero() {
                    let p = rule.partials(xj, hci, wj, r);
                    if clipped(wj, net.eta * p.value, net.w_clip).1 {
                        // The new weight is the constant +-w_clip.
                        *lj = F::zero();
                        continue;
                    }
                    q = q + l * p.d_y;
                    rule.accumulate_param_gradient(xj, hci, wj, r, net.eta * l, grad);
                    *lj = l + net.eta * l * p.d_w;
                }
            }
            let (ga, gb) = (act.slope(ha[i]), act.slope(hb[i]));
            let through_update = act.slope(hci) * net.eta * q;
            for ((lj, &xaj), &xbj) in row_l.iter_mut().zip(xa).zip(xb) {
                let xcj = if b { xbj } else { xaj };
                *lj = *lj + through_update * xcj + ga * ea * xaj + gb * eb * xbj;
            }
        }
    }
    let probe = grad.iter().fold(F::zero(), |acc, g| acc + finite_probe(*g));
    finite_or(probe, "gradient", 0)?;
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marginal_is_the_geometric_series_and_the_nll_is_stable() {
        for (za, zb) in [(0.3, -1.2), (-4.0, -4.5), (2.0, 2.0), (-30.0, 1.0)] {
            let (pa, pb) = (sigmoid(za), sigmoid(zb));
            let mut series = 0.0;
            let mut stay = 1.0;
            for _ in 0..200_000 {
                series += stay * pa / 2.0;
                stay *= 1.0 - (pa + pb) / 2.0;
            }
            let (nll_a, p_a) = trial_nll(za, zb, false);
            let (nll_b, _) = trial_nll(za, zb, true);
            assert!((p_a - series).abs() < 1e-9, "{za} {zb}: {p_a} vs {series}");
            assert!((nll_a + p_a.ln()).abs() < 1e-12);
            assert!((nll_b + (1.0 - p_a).ln()).abs() < 1e-12);
        }
        // Far in the tails: finite, and the choice of the near-certain option costs ~0.
        let (nll, p) = trial_nll(800.0f64, -800.0, false);
        assert!(nll.is_finite() && nll.abs() < 1e-300 && p == 1.0);
        let (nll, _) = trial_nll(-800.0f64, -801.0, true);
        assert!(nll.is_finite() && (nll - (1.0 + (1.0f64).exp()).ln()).abs() < 1e-9);
    }
}
