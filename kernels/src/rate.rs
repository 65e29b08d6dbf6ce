//! Plastic rate layer: `y = sigmoid(W x)`, then `W <- W + eta * f(x_j, y_i, W_ij)`.
//!
//! Mehta et al. 2024, fig. 2 (`docs/fit_rate.md`). `W` is row-major, `n_out x n_in`:
//! `W[i * n_in + j]` connects input `j` to output `i`. Activities are dimensionless rates in
//! `(0, 1)`; `eta` is the plasticity rate per step (1 in the paper's code).
//!
//! Valid range: finite `x`, `W`, `eta`. `sigmoid` saturates to exactly 0 or 1 for `|u| > ~37`
//! (`f64`) without overflow. If the update makes a weight NaN or infinite (a rule that blows up),
//! the step returns [`KernelError::NonFinite`]; the weights then hold the non-finite values and
//! the caller must reset them. Cost per step: `n_in * n_out` rule evaluations, no allocation.

use crate::error::{check_len, finite_or, finite_probe, KernelError};
use crate::rule::PlasticityRule;
use num_traits::Float;

/// Logistic function `1 / (1 + exp(-u))`, evaluated without overflow for any `u`.
#[inline]
pub fn sigmoid<F: Float>(u: F) -> F {
    if u >= F::zero() {
        F::one() / (F::one() + (-u).exp())
    } else {
        let e = u.exp();
        e / (F::one() + e)
    }
}

/// `y = sigmoid(W x)` with `n_in = x.len()`, `n_out = y.len()`, `w.len() = n_out * n_in`.
pub fn rate_forward<F: Float>(w: &[F], x: &[F], y: &mut [F]) -> Result<(), KernelError> {
    let n_in = x.len();
    check_len("weights", w, n_in * y.len())?;
    if n_in == 0 {
        y.iter_mut().for_each(|v| *v = sigmoid(F::zero()));
        return Ok(());
    }
    let mut check = F::zero();
    for (i, yi) in y.iter_mut().enumerate() {
        // Rows by checked range (no panic path; the length was checked above).
        let row = w.get(i * n_in..i * n_in + n_in).unwrap_or(&[]);
        let mut u = F::zero();
        for (wij, xj) in row.iter().zip(x.iter()) {
            u = u + *wij * *xj;
        }
        *yi = sigmoid(u);
        check = check + finite_probe(*yi);
    }
    finite_or(check, "activity", 0)
}

/// `W_ij <- W_ij + eta * rule(x_j, y_i, W_ij)` for every synapse.
pub fn plasticity_update<F: Float, R: PlasticityRule<F>>(
    rule: &R,
    eta: F,
    w: &mut [F],
    x: &[F],
    y: &[F],
) -> Result<(), KernelError> {
    let n_in = x.len();
    check_len("weights", w, n_in * y.len())?;
    if n_in == 0 {
        return Ok(());
    }
    // `v - v` is 0 for finite v and NaN otherwise: one branch-free check for the whole matrix.
    let mut check = F::zero();
    for (i, &yi) in y.iter().enumerate() {
        let Some(row) = w.get_mut(i * n_in..i * n_in + n_in) else {
            break;
        };
        rule.update_row(eta, yi, x, row);
        for wij in row.iter() {
            check = check + finite_probe(*wij);
        }
    }
    finite_or(check, "weights", 0)
}

/// One step of the plastic layer: [`rate_forward`], then [`plasticity_update`] with the `y`
/// just computed (the activity uses the weights before this step's update).
pub fn rate_step<F: Float, R: PlasticityRule<F>>(
    rule: &R,
    eta: F,
    w: &mut [F],
    x: &[F],
    y: &mut [F],
) -> Result<(), KernelError> {
    rate_forward(w, x, y)?;
    plasticity_update(rule, eta, w, x, y)
}

/// Runs `steps = x.len() / n_in` steps from `w0`, writing every activity `y_t` (`steps * n_out`)
/// and, if given, every weight matrix `W_0 ..= W_steps` (`(steps + 1) * n_syn`).
///
/// `w` is the working weight matrix: it starts as a copy of `w0` and ends as `W_steps`.
#[allow(clippy::too_many_arguments)]
pub fn simulate<F: Float, R: PlasticityRule<F>>(
    rule: &R,
    eta: F,
    n_in: usize,
    w0: &[F],
    x: &[F],
    w: &mut [F],
    y_out: &mut [F],
    mut w_out: Option<&mut [F]>,
) -> Result<(), KernelError> {
    let n_syn = w0.len();
    check_len("working weights", w, n_syn)?;
    if n_in == 0 || n_syn == 0 || n_syn % n_in != 0 || x.len() % n_in != 0 {
        return Err(KernelError::OutOfRange { what: "n_in" });
    }
    let n_out = n_syn / n_in;
    let steps = x.len() / n_in;
    check_len("activity output", y_out, steps * n_out)?;
    if let Some(wo) = w_out.as_deref() {
        check_len("weight trajectory output", wo, (steps + 1) * n_syn)?;
    }
    w.copy_from_slice(w0);
    for (t, (xt, yt)) in x
        .chunks_exact(n_in)
        .zip(y_out.chunks_exact_mut(n_out))
        .enumerate()
    {
        if let Some(wo) = w_out.as_deref_mut() {
            wo[t * n_syn..(t + 1) * n_syn].copy_from_slice(w);
        }
        rate_step(rule, eta, w, xt, yt).map_err(|e| at_step(e, t))?;
    }
    if let Some(wo) = w_out {
        wo[steps * n_syn..].copy_from_slice(w);
    }
    Ok(())
}

/// Tags a [`KernelError::NonFinite`] with the step at which it happened.
pub(crate) fn at_step(e: KernelError, t: usize) -> KernelError {
    match e {
        KernelError::NonFinite { what, .. } => KernelError::NonFinite { what, step: t },
        other => other,
    }
}

/// A fixed-size plastic rate layer for embedded use: `NO` outputs, `NI` inputs, weights inline.
///
/// Shapes are in the type, so a step cannot meet a shape error; it can still report
/// [`KernelError::NonFinite`].
///
/// ```
/// use synplast_kernels::{rate::FixedRateLayer, OjaRule};
/// let mut layer = FixedRateLayer::<f32, 4, 2>::new([[0.1; 4]; 2]);
/// let y = layer.step(&OjaRule, 1.0, &[0.5, -0.5, 0.25, 0.0]).unwrap();
/// assert!(y[0] > 0.0 && y[0] < 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedRateLayer<F, const NI: usize, const NO: usize> {
    /// Weights, `w[i][j]` from input `j` to output `i`.
    pub w: [[F; NI]; NO],
}

impl<F: Float, const NI: usize, const NO: usize> FixedRateLayer<F, NI, NO> {
    const SHAPE_OK: () = assert!(
        NI > 0 && NO > 0,
        "a layer needs at least one input and output"
    );

    /// A layer with the given initial weights.
    pub fn new(w: [[F; NI]; NO]) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::SHAPE_OK;
        Self { w }
    }

    /// One step: returns `y = sigmoid(W x)` and applies the rule to `W`.
    pub fn step<R: PlasticityRule<F>>(
        &mut self,
        rule: &R,
        eta: F,
        x: &[F; NI],
    ) -> Result<[F; NO], KernelError> {
        let mut y = [F::zero(); NO];
        rate_step(rule, eta, self.w.as_flattened_mut(), x, &mut y)?;
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OjaRule, TaylorRule};

    #[test]
    fn sigmoid_saturates_without_overflow() {
        assert_eq!(sigmoid(1000.0f64), 1.0);
        assert_eq!(sigmoid(-1000.0f64), 0.0);
        assert!((sigmoid(0.0f64) - 0.5).abs() < 1e-16);
        assert!((sigmoid(-2.0f64) + sigmoid(2.0f64) - 1.0).abs() < 1e-15);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
    }

    #[test]
    fn step_matches_plain_loop() {
        let rule = TaylorRule::<f64>::oja();
        let (n_in, n_out) = (3, 2);
        let mut w = [0.1, -0.3, 0.2, 0.05, 0.4, -0.1];
        let w_before = w;
        let x = [0.5, -1.0, 0.25];
        let mut y = [0.0; 2];
        rate_step(&rule, 0.5, &mut w, &x, &mut y).unwrap();
        for i in 0..n_out {
            let u: f64 = (0..n_in).map(|j| w_before[i * n_in + j] * x[j]).sum();
            let yi = 1.0 / (1.0 + (-u).exp());
            assert!((y[i] - yi).abs() < 1e-15);
            for j in 0..n_in {
                let w0 = w_before[i * n_in + j];
                let expect = w0 + 0.5 * (x[j] * yi - yi * yi * w0);
                assert!((w[i * n_in + j] - expect).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn simulate_refuses_an_empty_layer() {
        // Found by the kernel_steps fuzz target: no outputs used to panic (chunk size 0).
        let (mut w, mut y) = ([0.0f64; 0], [0.0; 0]);
        let e = simulate(&OjaRule, 1.0, 1, &[], &[0.5], &mut w, &mut y, None);
        assert_eq!(e, Err(KernelError::OutOfRange { what: "n_in" }));
    }

    #[test]
    fn shape_errors_are_values() {
        let mut w = [0.0; 5];
        let mut y = [0.0; 2];
        let e = rate_step(&OjaRule, 1.0, &mut w, &[0.0; 3], &mut y).unwrap_err();
        assert_eq!(
            e,
            KernelError::Shape {
                what: "weights",
                expected: 6,
                got: 5
            }
        );
    }

    #[test]
    fn blow_up_is_reported() {
        let mut theta = [0.0; 27];
        theta[2] = 1.0; // dw = w^2: finite-time blow-up
        let rule = TaylorRule::new(theta);
        let mut w = [10.0; 4];
        let mut y = [0.0; 2];
        let mut err = None;
        for t in 0..20 {
            if let Err(e) = rate_step(&rule, 1.0, &mut w, &[0.1, 0.1], &mut y) {
                err = Some((t, e));
                break;
            }
        }
        let (_, e) = err.expect("w <- w + w^2 from 10 overflows within 20 steps");
        assert!(matches!(
            e,
            KernelError::NonFinite {
                what: "weights",
                ..
            }
        ));
        let e = rate_forward(&[f64::NAN; 4], &[0.1, 0.1], &mut y).unwrap_err();
        assert!(matches!(
            e,
            KernelError::NonFinite {
                what: "activity",
                ..
            }
        ));
    }

    #[test]
    fn fixed_layer_matches_slice_kernel() {
        let w0 = [[0.1f32, -0.2, 0.3], [0.0, 0.5, -0.4]];
        let mut fixed = FixedRateLayer::new(w0);
        let mut flat = [0.1f32, -0.2, 0.3, 0.0, 0.5, -0.4];
        let x = [1.0f32, 0.5, -0.5];
        for _ in 0..5 {
            let y_fixed = fixed.step(&OjaRule, 0.1, &x).unwrap();
            let mut y = [0.0f32; 2];
            rate_step(&OjaRule, 0.1, &mut flat, &x, &mut y).unwrap();
            assert_eq!(y, y_fixed);
        }
        assert_eq!(fixed.w.as_flattened(), &flat[..]);
    }
}
