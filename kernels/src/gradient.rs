//! Exact gradients of a whole-trajectory loss with respect to the rule's parameters.
//!
//! Model (`docs/fit_rate.md`, `docs/gradients.md`): for `t = 0 .. T-1`
//! ```text
//! y_t     = sigmoid(W_t x_t)                      (W_t before the t-th update)
//! W_{t+1} = W_t + eta * f(x_t, y_t, W_t; theta)   (elementwise over synapses)
//! L       = sum_t sum_i m_i (y_{t,i} - yobs_{t,i})^2 / (T * sum_i m_i)
//! ```
//! `m_i` weights output neuron `i` (1 observed, 0 unobserved). `W_0` does not depend on theta.
//!
//! Two hand-derived passes, tested against each other and against central finite differences:
//!
//! **Adjoint (reverse).** With `lambda_t = dL/dW_t` (`lambda_T = 0`), `sigma'_i = y_i (1 - y_i)`,
//! `c = 2 / (T sum m)`, going back from `t = T-1` to 0:
//! ```text
//! ybar_i       = c m_i (y_i - yobs_i) + eta sum_j lambda_{t+1,ij} f_y(ij)
//! theta_bar   += eta sum_ij lambda_{t+1,ij} df/dtheta(ij)
//! lambda_t,ij  = lambda_{t+1,ij} (1 + eta f_w(ij)) + ybar_i sigma'_i x_j
//! ```
//! Cost about 3 forward passes; memory `(T + 1) * n_syn` for the stored weights.
//!
//! **Forward sensitivities.** `S_t = dW_t/dtheta` (`S_0 = 0`), carried along:
//! ```text
//! dy_{t,i}/dtheta = sigma'_i sum_j x_j S_{t,ij}
//! S_{t+1,ij}      = S_{t,ij} + eta (df/dtheta(ij) + f_y(ij) dy_{t,i}/dtheta + f_w(ij) S_{t,ij})
//! dL/dtheta      += c m_i (y_i - yobs_i) dy_{t,i}/dtheta
//! ```
//! Memory constant in `T` (`n_syn * P`), cost proportional to `P`, the number of parameters. It
//! yields the Jacobian of the observed activity, so it also accumulates the Gauss-Newton matrix
//! `J^T J = sum_t sum_i m_i (dy_{t,i}/dtheta)(dy_{t,i}/dtheta)^T` used for identifiability.
//!
//! Scratch space is one caller-provided slice whose length the `*_scratch_len` functions give; its
//! initial contents do not matter.

use crate::error::{check_len, finite_or, finite_probe, KernelError};
use crate::rate::{at_step, rate_forward, simulate};
use crate::rule::DifferentiableRule;
use num_traits::Float;

/// Dimensions of a trajectory problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Number of inputs.
    pub n_in: usize,
    /// Number of outputs.
    pub n_out: usize,
    /// Number of time steps `T` (at least 1).
    pub steps: usize,
}

impl Shape {
    /// Number of synapses `n_in * n_out`, or an error on overflow or an empty dimension.
    pub fn n_syn(&self) -> Result<usize, KernelError> {
        if self.n_in == 0 || self.n_out == 0 || self.steps == 0 {
            return Err(KernelError::OutOfRange { what: "shape" });
        }
        self.n_in
            .checked_mul(self.n_out)
            .ok_or(KernelError::OutOfRange { what: "shape" })
    }
}

/// One trajectory's inputs and observations.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a, F> {
    /// Inputs, `steps * n_in`, step-major.
    pub x: &'a [F],
    /// Observed activity, `steps * n_out`, step-major (values of unobserved neurons are ignored).
    pub y_obs: &'a [F],
    /// Loss weight of each output neuron, `n_out` (1 observed, 0 unobserved); must not sum to 0.
    pub mask: &'a [F],
}

fn overflow() -> KernelError {
    KernelError::OutOfRange { what: "shape" }
}

fn mul(a: usize, b: usize) -> Result<usize, KernelError> {
    a.checked_mul(b).ok_or_else(overflow)
}

fn add(a: usize, b: usize) -> Result<usize, KernelError> {
    a.checked_add(b).ok_or_else(overflow)
}

/// Scratch length for [`trajectory_loss`]: `n_syn + steps * n_out`.
pub fn loss_scratch_len(shape: Shape) -> Result<usize, KernelError> {
    add(shape.n_syn()?, mul(shape.steps, shape.n_out)?)
}

/// Scratch length for [`loss_gradient_adjoint`]: `(steps + 2) * n_syn + (steps + 1) * n_out`.
pub fn adjoint_scratch_len(shape: Shape) -> Result<usize, KernelError> {
    let n_syn = shape.n_syn()?;
    add(
        mul(add(shape.steps, 2)?, n_syn)?,
        mul(add(shape.steps, 1)?, shape.n_out)?,
    )
}

/// Scratch length for [`loss_gradient_forward`] with `n_params` parameters:
/// `n_syn * (1 + P) + n_out * (1 + P) + P`.
pub fn forward_scratch_len(shape: Shape, n_params: usize) -> Result<usize, KernelError> {
    let n_syn = shape.n_syn()?;
    let p1 = add(n_params, 1)?;
    add(add(mul(n_syn, p1)?, mul(shape.n_out, p1)?)?, n_params)
}

/// Checks the observation against the shape; returns `(n_syn, c = 2 / (T sum m))`.
fn check_problem<F: Float>(
    shape: Shape,
    w0: &[F],
    obs: &Observation<'_, F>,
) -> Result<(usize, F), KernelError> {
    let n_syn = shape.n_syn()?;
    check_len("w0", w0, n_syn)?;
    check_len("x", obs.x, mul(shape.steps, shape.n_in)?)?;
    check_len("y_obs", obs.y_obs, mul(shape.steps, shape.n_out)?)?;
    check_len("mask", obs.mask, shape.n_out)?;
    let m = obs.mask.iter().fold(F::zero(), |a, b| a + *b);
    if m.is_nan() || m <= F::zero() || m.is_infinite() {
        return Err(KernelError::OutOfRange { what: "mask" });
    }
    let t = F::from(shape.steps).ok_or_else(overflow)?;
    Ok((n_syn, (F::one() + F::one()) / (t * m)))
}

/// `sum_i m_i (y_i - yobs_i)^2` for one step.
#[inline]
fn step_sq_error<F: Float>(y: &[F], y_obs: &[F], mask: &[F]) -> F {
    let mut s = F::zero();
    for ((yi, oi), mi) in y.iter().zip(y_obs).zip(mask) {
        let r = *yi - *oi;
        s = s + *mi * r * r;
    }
    s
}

/// The loss `L` alone (one forward simulation).
pub fn trajectory_loss<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    w0: &[F],
    obs: &Observation<'_, F>,
    scratch: &mut [F],
) -> Result<F, KernelError> {
    let (n_syn, c) = check_problem(shape, w0, obs)?;
    check_len("scratch", scratch, loss_scratch_len(shape)?)?;
    let (w, y) = scratch.split_at_mut(n_syn);
    simulate(rule, eta, shape.n_in, w0, obs.x, w, y, None)?;
    let mut loss = F::zero();
    for (yt, ot) in y
        .chunks_exact(shape.n_out)
        .zip(obs.y_obs.chunks_exact(shape.n_out))
    {
        loss = loss + step_sq_error(yt, ot, obs.mask);
    }
    Ok(loss * c / (F::one() + F::one()))
}

/// Loss and its gradient `grad = dL/dtheta` (overwritten, `rule.n_params()` long) by the
/// adjoint pass. Returns the loss.
pub fn loss_gradient_adjoint<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    w0: &[F],
    obs: &Observation<'_, F>,
    scratch: &mut [F],
    grad: &mut [F],
) -> Result<F, KernelError> {
    let (n_syn, c) = check_problem(shape, w0, obs)?;
    check_len("scratch", scratch, adjoint_scratch_len(shape)?)?;
    check_len("grad", grad, rule.n_params())?;
    let (n_in, n_out, steps) = (shape.n_in, shape.n_out, shape.steps);
    let (w_traj, rest) = scratch.split_at_mut((steps + 1) * n_syn);
    let (y_traj, rest) = rest.split_at_mut(steps * n_out);
    let (lambda, rest) = rest.split_at_mut(n_syn);
    let ybar = &mut rest[..n_out];

    // Forward: store W_0 ..= W_T, stepping each block from a copy of the previous one.
    w_traj[..n_syn].copy_from_slice(w0);
    for t in 0..steps {
        let (before, after) = w_traj.split_at_mut((t + 1) * n_syn);
        let w_t = &before[t * n_syn..];
        let w_next = &mut after[..n_syn];
        w_next.copy_from_slice(w_t);
        let xt = &obs.x[t * n_in..(t + 1) * n_in];
        let yt = &mut y_traj[t * n_out..(t + 1) * n_out];
        crate::rate::rate_step(rule, eta, w_next, xt, yt).map_err(|e| at_step(e, t))?;
    }

    let mut loss = F::zero();
    grad.iter_mut().for_each(|g| *g = F::zero());
    lambda.iter_mut().for_each(|l| *l = F::zero());
    for t in (0..steps).rev() {
        let w_t = &w_traj[t * n_syn..(t + 1) * n_syn];
        let xt = &obs.x[t * n_in..(t + 1) * n_in];
        let yt = &y_traj[t * n_out..(t + 1) * n_out];
        let ot = &obs.y_obs[t * n_out..(t + 1) * n_out];
        loss = loss + step_sq_error(yt, ot, obs.mask);
        // Pass 1 per row: ybar_i, theta_bar, and lambda <- lambda (1 + eta f_w).
        for i in 0..n_out {
            let yi = yt[i];
            let row_w = &w_t[i * n_in..(i + 1) * n_in];
            let row_l = &mut lambda[i * n_in..(i + 1) * n_in];
            let acc_y = rule.adjoint_row(eta, yi, xt, row_w, row_l, grad);
            ybar[i] = c * obs.mask[i] * (yi - ot[i]) + eta * acc_y;
        }
        // Pass 2: lambda_t += ybar_i sigma'_i x_j.
        for i in 0..n_out {
            let g = ybar[i] * yt[i] * (F::one() - yt[i]);
            let row_l = &mut lambda[i * n_in..(i + 1) * n_in];
            for (lij, &xj) in row_l.iter_mut().zip(xt) {
                *lij = *lij + g * xj;
            }
        }
    }
    let half = F::one() / (F::one() + F::one());
    let loss = loss * c * half;
    if !loss.is_finite() || grad.iter().any(|g| !g.is_finite()) {
        return Err(KernelError::NonFinite {
            what: "gradient",
            step: 0,
        });
    }
    Ok(loss)
}

/// Loss and gradient by forward sensitivities; optionally accumulates the Gauss-Newton matrix
/// `J^T J` (row-major `P x P`, added to, not overwritten) of the observed activity.
/// `grad` is overwritten. Returns the loss.
#[allow(clippy::too_many_arguments)]
pub fn loss_gradient_forward<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    w0: &[F],
    obs: &Observation<'_, F>,
    scratch: &mut [F],
    grad: &mut [F],
    mut jtj: Option<&mut [F]>,
) -> Result<F, KernelError> {
    let (n_syn, c) = check_problem(shape, w0, obs)?;
    let p = rule.n_params();
    check_len("scratch", scratch, forward_scratch_len(shape, p)?)?;
    check_len("grad", grad, p)?;
    if let Some(m) = jtj.as_deref() {
        check_len("jtj", m, mul(p, p)?)?;
    }
    let (n_in, n_out) = (shape.n_in, shape.n_out);
    let (w, rest) = scratch.split_at_mut(n_syn);
    let (sens, rest) = rest.split_at_mut(n_syn * p);
    let (y, rest) = rest.split_at_mut(n_out);
    let (dy, pbuf) = rest.split_at_mut(n_out * p);

    w.copy_from_slice(w0);
    sens.iter_mut().for_each(|s| *s = F::zero());
    grad.iter_mut().for_each(|g| *g = F::zero());
    let mut loss = F::zero();
    for t in 0..shape.steps {
        let xt = &obs.x[t * n_in..(t + 1) * n_in];
        let ot = &obs.y_obs[t * n_out..(t + 1) * n_out];
        rate_forward(w, xt, y).map_err(|e| at_step(e, t))?;
        loss = loss + step_sq_error(y, ot, obs.mask);
        // dy_i/dtheta = sigma'_i sum_j x_j S_ij
        for i in 0..n_out {
            let dyi = &mut dy[i * p..(i + 1) * p];
            dyi.iter_mut().for_each(|d| *d = F::zero());
            for (j, &xj) in xt.iter().enumerate() {
                let s = &sens[(i * n_in + j) * p..(i * n_in + j + 1) * p];
                for (d, sk) in dyi.iter_mut().zip(s) {
                    *d = *d + xj * *sk;
                }
            }
            let sp = y[i] * (F::one() - y[i]);
            dyi.iter_mut().for_each(|d| *d = *d * sp);
            let m = obs.mask[i];
            if m != F::zero() {
                let r = c * m * (y[i] - ot[i]);
                for (g, d) in grad.iter_mut().zip(dyi.iter()) {
                    *g = *g + r * *d;
                }
                if let Some(jm) = jtj.as_deref_mut() {
                    for a in 0..p {
                        let da = m * dyi[a];
                        if da != F::zero() {
                            let row = &mut jm[a * p..(a + 1) * p];
                            for (jab, db) in row.iter_mut().zip(dyi.iter()) {
                                *jab = *jab + da * *db;
                            }
                        }
                    }
                }
            }
        }
        // S <- S + eta (df/dtheta + f_y dy_i + f_w S);  W <- W + eta f
        let mut check = F::zero();
        for i in 0..n_out {
            let rows = i * n_in..(i + 1) * n_in;
            let row_w = &mut w[rows.clone()];
            let row_s = &mut sens[rows.start * p..rows.end * p];
            rule.forward_row(eta, y[i], xt, row_w, row_s, &dy[i * p..(i + 1) * p], pbuf);
            for wij in row_w.iter() {
                check = check + finite_probe(*wij);
            }
        }
        finite_or(check, "weights", t)?;
    }
    let half = F::one() / (F::one() + F::one());
    let loss = loss * c * half;
    if !loss.is_finite() || grad.iter().any(|g| !g.is_finite()) {
        return Err(KernelError::NonFinite {
            what: "gradient",
            step: shape.steps,
        });
    }
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaylorRule;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
    }

    #[test]
    fn adjoint_equals_forward_and_dirty_scratch_is_harmless() {
        let shape = Shape {
            n_in: 4,
            n_out: 3,
            steps: 7,
        };
        let mut s = 7;
        let mut theta = [0.0; 27];
        theta.iter_mut().for_each(|t| *t = 0.2 * lcg(&mut s));
        let rule = TaylorRule::new(theta);
        let w0: std::vec::Vec<f64> = (0..12).map(|_| 0.3 * lcg(&mut s)).collect();
        let x: std::vec::Vec<f64> = (0..28).map(|_| lcg(&mut s)).collect();
        let y_obs: std::vec::Vec<f64> = (0..21).map(|_| 0.5 + 0.2 * lcg(&mut s)).collect();
        let mask = [1.0, 0.0, 1.0];
        let obs = Observation {
            x: &x,
            y_obs: &y_obs,
            mask: &mask,
        };
        let mut sa = std::vec![f64::NAN; adjoint_scratch_len(shape).unwrap()];
        let mut sf = std::vec![1e30; forward_scratch_len(shape, 27).unwrap()];
        let mut sl = std::vec![-7.0; loss_scratch_len(shape).unwrap()];
        let (mut ga, mut gf) = ([9.0; 27], [f64::NAN; 27]);
        let la = loss_gradient_adjoint(&rule, 0.7, shape, &w0, &obs, &mut sa, &mut ga).unwrap();
        let lf =
            loss_gradient_forward(&rule, 0.7, shape, &w0, &obs, &mut sf, &mut gf, None).unwrap();
        let l = trajectory_loss(&rule, 0.7, shape, &w0, &obs, &mut sl).unwrap();
        assert!((la - l).abs() <= 1e-15 * l && (lf - l).abs() <= 1e-15 * l);
        let norm = ga.iter().map(|g| g * g).sum::<f64>().sqrt();
        assert!(norm > 0.0);
        for k in 0..27 {
            assert!(
                (ga[k] - gf[k]).abs() <= 1e-12 * norm,
                "{k}: {} {}",
                ga[k],
                gf[k]
            );
        }
    }

    #[test]
    fn bad_shapes_and_masks_are_errors() {
        let shape = Shape {
            n_in: 2,
            n_out: 2,
            steps: 1,
        };
        let rule = TaylorRule::<f64>::oja();
        let mut scratch = std::vec![0.0; adjoint_scratch_len(shape).unwrap()];
        let mut g = [0.0; 27];
        let obs = Observation {
            x: &[0.0; 2],
            y_obs: &[0.0; 2],
            mask: &[0.0; 2],
        };
        let e = loss_gradient_adjoint(&rule, 1.0, shape, &[0.0; 4], &obs, &mut scratch, &mut g);
        assert_eq!(e, Err(KernelError::OutOfRange { what: "mask" }));
        let obs = Observation {
            x: &[0.0; 3],
            ..obs
        };
        let e = loss_gradient_adjoint(&rule, 1.0, shape, &[0.0; 4], &obs, &mut scratch, &mut g);
        assert!(matches!(e, Err(KernelError::Shape { what: "x", .. })));
        let huge = Shape {
            n_in: usize::MAX,
            n_out: 2,
            steps: 1,
        };
        assert!(adjoint_scratch_len(huge).is_err());
    }
}
