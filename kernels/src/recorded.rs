//! Recorded activity (DESIGN §6): the squared error of a plastic rate layer against a recording
//! with missing samples and a per-neuron affine readout, and its exact gradient with respect to
//! the rule, the initial weights and the readout, by a checkpointed adjoint pass whose memory
//! grows as `sqrt(T)`, not `T`. A forward-sensitivity pass per output row gives the Gauss-Newton
//! matrix of one neuron's recorded trace (rows of the layer are independent given the inputs).
//!
//! Model, for `t = 0 .. T-1` (`W_t` before the t-th update, as in [`crate::gradient`]):
//! ```text
//! y_t       = sigmoid(W_t x_t)                     latent activity, the rule's y
//! yhat_t,i  = g_i y_t,i + b_i                      what the recording measures
//! W_{t+1}   = W_t + eta f(x_t, y_t, W_t; theta)
//! E         = sum over observed (t, i) of (yhat_t,i - yobs_t,i)^2
//! ```
//! A NaN in `yobs` marks a sample that was not observed: it adds nothing to `E`. `E` is a sum,
//! not a mean, so sessions of different lengths and gaps add up; the caller divides by the
//! number of observed samples the functions also return.
//!
//! **Adjoint.** `lambda_T = 0`; for `t = T-1 .. 0`, with `e_i = 2 (yhat_i - yobs_i)` where
//! observed and 0 elsewhere:
//! ```text
//! gbar_i      += e_i y_i        bbar_i += e_i
//! ybar_i       = g_i e_i + eta sum_j lambda_{t+1,ij} f_y(ij)
//! theta_bar   += eta sum_ij lambda_{t+1,ij} df/dtheta(ij)
//! lambda_t,ij  = lambda_{t+1,ij} (1 + eta f_w(ij)) + ybar_i y_i (1 - y_i) x_j
//! ```
//! and `dE/dW_0 = lambda_0`. **Checkpoints:** the forward pass keeps `W_0, W_K, W_2K, ...`; the
//! backward pass recomputes each segment of `K` steps from its checkpoint, newest first, and
//! runs the adjoint through it. Memory `(ceil(T/K) + K + 1) n_syn + K n_out + n_syn + n_out`,
//! smallest near `K = sqrt(T)`; cost two forward passes and one adjoint pass. The recomputed
//! segment repeats the forward pass's arithmetic exactly, so every `K` gives the same bits
//! (tested), `K >= T` being the plain stored-trajectory adjoint.
//!
//! Valid range: finite `x`, `w0`, `gain`, `offset`, `eta`; `yobs` finite or NaN. A weight or
//! activity that becomes non-finite, or a non-finite error (an infinite `yobs`), is returned as
//! [`KernelError::NonFinite`].

use crate::error::{check_len, finite_or, finite_probe, KernelError};
use crate::gradient::Shape;
use crate::rate::{at_step, rate_step, sigmoid};
use crate::rule::DifferentiableRule;
use num_traits::Float;

/// The per-neuron affine readout `yhat = gain * y + offset` (each `n_out` long).
#[derive(Debug, Clone, Copy)]
pub struct Readout<'a, F> {
    /// Gain `g_i` of each output neuron.
    pub gain: &'a [F],
    /// Offset `b_i` of each output neuron.
    pub offset: &'a [F],
}

/// One session's recording: inputs and recorded activity, both step-major.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a, F> {
    /// Inputs, `steps * n_in`.
    pub x: &'a [F],
    /// Recorded activity, `steps * n_out`; NaN where not observed.
    pub y_obs: &'a [F],
}

/// Where the gradients go (each overwritten).
#[derive(Debug)]
pub struct RecordedGradient<'a, F> {
    /// `dE/dtheta`, `rule.n_params()` long.
    pub theta: &'a mut [F],
    /// `dE/dW_0`, `n_syn` long.
    pub w0: &'a mut [F],
    /// `dE/dgain`, `n_out` long.
    pub gain: &'a mut [F],
    /// `dE/doffset`, `n_out` long.
    pub offset: &'a mut [F],
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

/// The segment length used for `segment` (0 picks `ceil(sqrt(T))`), clamped to `1 ..= T`.
pub fn segment_len(steps: usize, segment: usize) -> usize {
    let k = if segment == 0 {
        let mut k = 1usize;
        while k.saturating_mul(k) < steps {
            k += 1;
        }
        k
    } else {
        segment
    };
    k.clamp(1, steps.max(1))
}

/// Scratch length of [`recorded_gradient`] for a segment length `segment` (0: automatic):
/// `(ceil(T/K) + K + 2) n_syn + (K + 1) n_out`.
pub fn recorded_scratch_len(shape: Shape, segment: usize) -> Result<usize, KernelError> {
    let n_syn = shape.n_syn()?;
    let k = segment_len(shape.steps, segment);
    let n_ck = shape.steps.div_ceil(k);
    add(
        mul(add(add(n_ck, k)?, 2)?, n_syn)?,
        mul(add(k, 1)?, shape.n_out)?,
    )
}

fn check_inputs<F: Float>(
    shape: Shape,
    w0: &[F],
    rec: &Recording<'_, F>,
    readout: &Readout<'_, F>,
) -> Result<usize, KernelError> {
    let n_syn = shape.n_syn()?;
    check_len("w0", w0, n_syn)?;
    check_len("x", rec.x, mul(shape.steps, shape.n_in)?)?;
    check_len("y_obs", rec.y_obs, mul(shape.steps, shape.n_out)?)?;
    check_len("gain", readout.gain, shape.n_out)?;
    check_len("offset", readout.offset, shape.n_out)?;
    let mut probe = F::zero();
    for v in w0.iter().chain(readout.gain).chain(readout.offset) {
        probe = probe + finite_probe(*v);
    }
    finite_or(probe, "initial weights or readout", 0)?;
    Ok(n_syn)
}

/// `(E, observed samples)` of one session, by one forward pass (no gradient). `scratch` is
/// `n_syn + n_out` long.
pub fn recorded_error<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    w0: &[F],
    rec: &Recording<'_, F>,
    readout: &Readout<'_, F>,
    scratch: &mut [F],
) -> Result<(F, usize), KernelError> {
    let n_syn = check_inputs(shape, w0, rec, readout)?;
    let (n_in, n_out) = (shape.n_in, shape.n_out);
    check_len("scratch", scratch, n_syn + n_out)?;
    let (w, y) = scratch.split_at_mut(n_syn);
    w.copy_from_slice(w0);
    let (mut e, mut n) = (F::zero(), 0usize);
    for t in 0..shape.steps {
        let xt = &rec.x[t * n_in..(t + 1) * n_in];
        rate_step(rule, eta, w, xt, y).map_err(|err| at_step(err, t))?;
        let ot = &rec.y_obs[t * n_out..(t + 1) * n_out];
        for i in 0..n_out {
            if !ot[i].is_nan() {
                let r = readout.gain[i] * y[i] + readout.offset[i] - ot[i];
                e = e + r * r;
                n += 1;
            }
        }
    }
    finite_or(finite_probe(e), "squared error", shape.steps)?;
    Ok((e, n))
}

/// Latent activity `y_t` and readout `yhat_t` of one session (both `steps * n_out`).
/// `w` is `n_syn` working weights (ends as `W_T`).
#[allow(clippy::too_many_arguments)]
pub fn recorded_predict<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    w0: &[F],
    x: &[F],
    readout: &Readout<'_, F>,
    w: &mut [F],
    y_hat: &mut [F],
) -> Result<(), KernelError> {
    let n_syn = shape.n_syn()?;
    let (n_in, n_out) = (shape.n_in, shape.n_out);
    check_len("w0", w0, n_syn)?;
    check_len("w", w, n_syn)?;
    check_len("x", x, mul(shape.steps, n_in)?)?;
    check_len("y_hat", y_hat, mul(shape.steps, n_out)?)?;
    check_len("gain", readout.gain, n_out)?;
    check_len("offset", readout.offset, n_out)?;
    w.copy_from_slice(w0);
    for t in 0..shape.steps {
        let xt = &x[t * n_in..(t + 1) * n_in];
        let yt = &mut y_hat[t * n_out..(t + 1) * n_out];
        rate_step(rule, eta, w, xt, yt).map_err(|err| at_step(err, t))?;
        for ((v, g), b) in yt.iter_mut().zip(readout.gain).zip(readout.offset) {
            *v = *g * *v + *b;
        }
    }
    Ok(())
}

/// `(E, observed samples)` of one session and the gradients of `E` (see the module docs) by the
/// checkpointed adjoint pass with segments of `segment` steps (0: `ceil(sqrt(T))`).
#[allow(clippy::too_many_arguments)]
pub fn recorded_gradient<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    w0: &[F],
    rec: &Recording<'_, F>,
    readout: &Readout<'_, F>,
    segment: usize,
    scratch: &mut [F],
    grad: RecordedGradient<'_, F>,
) -> Result<(F, usize), KernelError> {
    let n_syn = check_inputs(shape, w0, rec, readout)?;
    check_len("scratch", scratch, recorded_scratch_len(shape, segment)?)?;
    check_len("grad.theta", grad.theta, rule.n_params())?;
    check_len("grad.w0", grad.w0, n_syn)?;
    check_len("grad.gain", grad.gain, shape.n_out)?;
    check_len("grad.offset", grad.offset, shape.n_out)?;
    let (n_in, n_out, steps) = (shape.n_in, shape.n_out, shape.steps);
    let k = segment_len(steps, segment);
    let n_ck = steps.div_ceil(k);
    let (ckpt, rest) = scratch.split_at_mut(n_ck * n_syn);
    let (seg_w, rest) = rest.split_at_mut((k + 1) * n_syn);
    let (lambda, rest) = rest.split_at_mut(n_syn);
    let (seg_y, rest) = rest.split_at_mut(k * n_out);
    let ybar = &mut rest[..n_out];

    // Forward: keep W at the start of every segment.
    {
        let (w, _) = seg_w.split_at_mut(n_syn);
        w.copy_from_slice(w0);
        let y = &mut seg_y[..n_out];
        for t in 0..steps {
            if t % k == 0 {
                ckpt[(t / k) * n_syn..(t / k + 1) * n_syn].copy_from_slice(w);
            }
            let xt = &rec.x[t * n_in..(t + 1) * n_in];
            rate_step(rule, eta, w, xt, y).map_err(|err| at_step(err, t))?;
        }
    }

    let two = F::one() + F::one();
    let (mut e_sum, mut n_obs) = (F::zero(), 0usize);
    grad.theta.iter_mut().for_each(|g| *g = F::zero());
    grad.gain.iter_mut().for_each(|g| *g = F::zero());
    grad.offset.iter_mut().for_each(|g| *g = F::zero());
    lambda.iter_mut().for_each(|l| *l = F::zero());
    for s in (0..n_ck).rev() {
        let t0 = s * k;
        let t1 = (t0 + k).min(steps);
        // Recompute the segment: W_t0 ..= W_t1 and y_t0 .. y_t1.
        seg_w[..n_syn].copy_from_slice(&ckpt[s * n_syn..(s + 1) * n_syn]);
        for t in t0..t1 {
            let r = t - t0;
            let (before, after) = seg_w.split_at_mut((r + 1) * n_syn);
            let w_next = &mut after[..n_syn];
            w_next.copy_from_slice(&before[r * n_syn..]);
            let xt = &rec.x[t * n_in..(t + 1) * n_in];
            let yt = &mut seg_y[r * n_out..(r + 1) * n_out];
            rate_step(rule, eta, w_next, xt, yt).map_err(|err| at_step(err, t))?;
        }
        for t in (t0..t1).rev() {
            let r = t - t0;
            let w_t = &seg_w[r * n_syn..(r + 1) * n_syn];
            let xt = &rec.x[t * n_in..(t + 1) * n_in];
            let yt = &seg_y[r * n_out..(r + 1) * n_out];
            let ot = &rec.y_obs[t * n_out..(t + 1) * n_out];
            for i in 0..n_out {
                let yi = yt[i];
                let e = if ot[i].is_nan() {
                    F::zero()
                } else {
                    let res = readout.gain[i] * yi + readout.offset[i] - ot[i];
                    e_sum = e_sum + res * res;
                    n_obs += 1;
                    two * res
                };
                grad.gain[i] = grad.gain[i] + e * yi;
                grad.offset[i] = grad.offset[i] + e;
                let row_w = &w_t[i * n_in..(i + 1) * n_in];
                let row_l = &mut lambda[i * n_in..(i + 1) * n_in];
                let acc_y = rule.adjoint_row(eta, yi, xt, row_w, row_l, grad.theta);
                ybar[i] = readout.gain[i] * e + eta * acc_y;
            }
            for i in 0..n_out {
                let g = ybar[i] * yt[i] * (F::one() - yt[i]);
                let row_l = &mut lambda[i * n_in..(i + 1) * n_in];
                for (lij, &xj) in row_l.iter_mut().zip(xt) {
                    *lij = *lij + g * xj;
                }
            }
        }
    }
    grad.w0.copy_from_slice(lambda);
    let mut probe = finite_probe(e_sum);
    for v in grad
        .theta
        .iter()
        .chain(grad.w0.iter())
        .chain(grad.gain.iter())
        .chain(grad.offset.iter())
    {
        probe = probe + finite_probe(*v);
    }
    finite_or(probe, "gradient", 0)?;
    Ok((e_sum, n_obs))
}

/// Number of local parameters of one row in [`row_gauss_newton`]: `n_in` initial weights, the
/// gain and the offset.
pub fn row_local_params(n_in: usize) -> usize {
    n_in + 2
}

/// Scratch length of [`row_gauss_newton`] for `P = n_params + n_in + 2` columns:
/// `n_in (P + 1) + 2 P`.
pub fn row_gauss_newton_scratch_len(n_in: usize, n_params: usize) -> Result<usize, KernelError> {
    let p = add(add(n_params, n_in)?, 2)?;
    add(mul(n_in, add(p, 1)?)?, mul(2, p)?)
}

/// The Gauss-Newton matrix `sum_t J_t J_t^T` of output neuron `row`'s observed readout over one
/// session, where `J_t = d yhat_t,row / d(theta, W_0[row, :], g_row, b_row)` (`P = n_params +
/// n_in + 2` columns in that order), added to `jtj` (`P x P`, row-major). Carries the forward
/// sensitivities of the row's weights: `S_0 = [0 | I | 0]`,
/// `S_{t+1,j} = S_t,j + eta (df/dtheta [theta columns] + f_y dy_t + f_w S_t,j)`,
/// `dy_t = y (1 - y) sum_j x_j S_t,j`. Returns the row's observed samples.
#[allow(clippy::too_many_arguments)]
pub fn row_gauss_newton<F: Float, R: DifferentiableRule<F>>(
    rule: &R,
    eta: F,
    shape: Shape,
    row: usize,
    w0: &[F],
    rec: &Recording<'_, F>,
    readout: &Readout<'_, F>,
    scratch: &mut [F],
    jtj: &mut [F],
) -> Result<usize, KernelError> {
    check_inputs(shape, w0, rec, readout)?;
    let (n_in, n_out) = (shape.n_in, shape.n_out);
    if row >= n_out {
        return Err(KernelError::OutOfRange { what: "row" });
    }
    let np = rule.n_params();
    let p = np + n_in + 2;
    check_len("scratch", scratch, row_gauss_newton_scratch_len(n_in, np)?)?;
    check_len("jtj", jtj, mul(p, p)?)?;
    let (w, rest) = scratch.split_at_mut(n_in);
    let (sens, rest) = rest.split_at_mut(n_in * p);
    let (dy, rest) = rest.split_at_mut(p);
    let pbuf = &mut rest[..p];
    w.copy_from_slice(&w0[row * n_in..(row + 1) * n_in]);
    sens.iter_mut().for_each(|v| *v = F::zero());
    for j in 0..n_in {
        sens[j * p + np + j] = F::one();
    }
    let g = readout.gain[row];
    let mut observed = 0usize;
    for t in 0..shape.steps {
        let xt = &rec.x[t * n_in..(t + 1) * n_in];
        let mut u = F::zero();
        for (wj, xj) in w.iter().zip(xt) {
            u = u + *wj * *xj;
        }
        let y = sigmoid(u);
        let sp = y * (F::one() - y);
        dy.iter_mut().for_each(|v| *v = F::zero());
        for (sj, &xj) in sens.chunks_exact(p).zip(xt) {
            for (d, s) in dy.iter_mut().zip(sj) {
                *d = *d + xj * *s;
            }
        }
        dy.iter_mut().for_each(|v| *v = *v * sp);
        let obs = rec.y_obs[t * n_out + row];
        if !obs.is_nan() {
            observed += 1;
            // J_t: g dy for the weight-driven columns, y for the gain, 1 for the offset.
            for (a, pa) in pbuf.iter_mut().enumerate() {
                *pa = if a < np + n_in {
                    g * dy[a]
                } else if a == np + n_in {
                    y
                } else {
                    F::one()
                };
            }
            for a in 0..p {
                let va = pbuf[a];
                if va != F::zero() {
                    for (m, vb) in jtj[a * p..(a + 1) * p].iter_mut().zip(pbuf.iter()) {
                        *m = *m + va * *vb;
                    }
                }
            }
        }
        // Sensitivities and weights, with the rule at (x_j, y, w_j) before the update.
        for (j, sj) in sens.chunks_exact_mut(p).enumerate() {
            let (xj, wj) = (xt[j], w[j]);
            let part = rule.partials(xj, y, wj);
            pbuf[..np].iter_mut().for_each(|v| *v = F::zero());
            rule.param_gradient(xj, y, wj, &mut pbuf[..np]);
            for (a, s) in sj.iter_mut().enumerate().take(np + n_in) {
                let direct = if a < np { pbuf[a] } else { F::zero() };
                *s = *s + eta * (direct + part.d_y * dy[a] + part.d_w * *s);
            }
            w[j] = wj + eta * part.value;
        }
        let mut probe = F::zero();
        for v in w.iter() {
            probe = probe + finite_probe(*v);
        }
        finite_or(probe, "weights", t)?;
    }
    Ok(observed)
}
