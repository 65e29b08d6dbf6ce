//! Taylor (Volterra) plasticity rule and Oja's rule.
//!
//! `dw = sum_{a,b,c in 0..=2} theta[a][b][c] * x^a * y^b * w^c`
//! (Mehta et al. 2024; Confavreux et al. 2020): 27 coefficients, flat index `9a + 3b + c`
//! (`a` the power of the presynaptic activity `x`, `b` of the postsynaptic activity `y`, `c` of
//! the weight `w`). Oja's rule `x y - y^2 w` is `theta[1][1][0] = 1`, `theta[0][2][1] = -1`.
//!
//! A mask marks which coefficients are trainable; a fit leaves masked-out ones at their value.
//!
//! Valid range: any finite `x`, `y`, `w` and `theta`; the result is a polynomial of total degree
//! at most 6, so it overflows `f32` only for inputs of magnitude above about `1e6`.

use crate::rule::{DifferentiableRule, PlasticityRule, RulePartials};
use num_traits::Float;

/// Number of coefficients of a [`TaylorRule`].
pub const TAYLOR_TERMS: usize = 27;

/// Human-readable monomial of each flat index `9a + 3b + c`.
pub const TERM_LABELS: [&str; TAYLOR_TERMS] = [
    "1",
    "w",
    "w^2",
    "y",
    "y*w",
    "y*w^2",
    "y^2",
    "y^2*w",
    "y^2*w^2",
    "x",
    "x*w",
    "x*w^2",
    "x*y",
    "x*y*w",
    "x*y*w^2",
    "x*y^2",
    "x*y^2*w",
    "x*y^2*w^2",
    "x^2",
    "x^2*w",
    "x^2*w^2",
    "x^2*y",
    "x^2*y*w",
    "x^2*y*w^2",
    "x^2*y^2",
    "x^2*y^2*w",
    "x^2*y^2*w^2",
];

/// Flat index of `theta[a][b][c]`, or `None` unless `a, b, c <= 2`.
#[inline]
pub const fn term_index(a: usize, b: usize, c: usize) -> Option<usize> {
    if a <= 2 && b <= 2 && c <= 2 {
        Some(9 * a + 3 * b + c)
    } else {
        None
    }
}

/// `[1, v, v^2]` and its derivative `[0, 1, 2v]`.
#[inline(always)]
fn powers<F: Float>(v: F) -> ([F; 3], [F; 3]) {
    let two = F::one() + F::one();
    ([F::one(), v, v * v], [F::zero(), F::one(), two * v])
}

/// The 27-term Taylor rule: coefficients (parameters) and a trainable mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaylorRule<F> {
    /// Coefficients, flat index `9a + 3b + c`.
    pub theta: [F; TAYLOR_TERMS],
    /// `mask[k]` is true when coefficient `k` is trainable.
    pub mask: [bool; TAYLOR_TERMS],
}

impl<F: Float> TaylorRule<F> {
    /// A rule from coefficients, every term trainable.
    ///
    /// ```
    /// use synplast_kernels::TaylorRule;
    /// let r = TaylorRule::new([0.0f64; 27]);
    /// assert_eq!(r.theta[12], 0.0);
    /// ```
    pub fn new(theta: [F; TAYLOR_TERMS]) -> Self {
        Self {
            theta,
            mask: [true; TAYLOR_TERMS],
        }
    }

    /// The all-zero rule (no plasticity), every term trainable.
    pub fn zero() -> Self {
        Self::new([F::zero(); TAYLOR_TERMS])
    }

    /// Oja's rule `x y - y^2 w` as a Taylor rule.
    pub fn oja() -> Self {
        let mut theta = [F::zero(); TAYLOR_TERMS];
        theta[12] = F::one();
        theta[7] = -F::one();
        Self::new(theta)
    }

    /// The monomials `x^a y^b w^c` at flat index `9a + 3b + c` (the gradient of `dw` with
    /// respect to `theta`).
    #[inline]
    pub fn monomials(x: F, y: F, w: F, out: &mut [F; TAYLOR_TERMS]) {
        let (px, _) = powers(x);
        let (py, _) = powers(y);
        let (pw, _) = powers(w);
        for a in 0..3 {
            for b in 0..3 {
                let xy = px[a] * py[b];
                for c in 0..3 {
                    out[9 * a + 3 * b + c] = xy * pw[c];
                }
            }
        }
    }
}

impl<F: Float> PlasticityRule<F> for TaylorRule<F> {
    #[inline]
    fn dw(&self, x: F, y: F, w: F) -> F {
        self.partials(x, y, w).value
    }

    #[inline]
    fn partials(&self, x: F, y: F, w: F) -> RulePartials<F> {
        let (px, dpx) = powers(x);
        let (py, dpy) = powers(y);
        let (pw, dpw) = powers(w);
        let t = &self.theta;
        let mut value = F::zero();
        let mut d_x = F::zero();
        let mut d_y = F::zero();
        let mut d_w = F::zero();
        for a in 0..3 {
            // h = sum_b g[b] py[b], hy = sum_b g[b] dpy[b], hw = sum_b gw[b] py[b]
            let mut h = F::zero();
            let mut hy = F::zero();
            let mut hw = F::zero();
            for b in 0..3 {
                let k = 9 * a + 3 * b;
                let g = t[k] + t[k + 1] * pw[1] + t[k + 2] * pw[2];
                let gw = t[k + 1] * dpw[1] + t[k + 2] * dpw[2];
                h = h + g * py[b];
                hy = hy + g * dpy[b];
                hw = hw + gw * py[b];
            }
            value = value + h * px[a];
            d_x = d_x + h * dpx[a];
            d_y = d_y + hy * px[a];
            d_w = d_w + hw * px[a];
        }
        RulePartials {
            value,
            d_x,
            d_y,
            d_w,
        }
    }
}

impl<F: Float> DifferentiableRule<F> for TaylorRule<F> {
    fn n_params(&self) -> usize {
        TAYLOR_TERMS
    }
    fn params(&self) -> &[F] {
        &self.theta
    }
    fn params_mut(&mut self) -> &mut [F] {
        &mut self.theta
    }
    #[inline]
    fn param_gradient(&self, x: F, y: F, w: F, out: &mut [F]) {
        let mut m = [F::zero(); TAYLOR_TERMS];
        Self::monomials(x, y, w, &mut m);
        for (o, v) in out.iter_mut().zip(m.iter()) {
            *o = *v;
        }
    }
    #[inline]
    fn accumulate_param_gradient(&self, x: F, y: F, w: F, scale: F, acc: &mut [F]) {
        let mut m = [F::zero(); TAYLOR_TERMS];
        Self::monomials(x, y, w, &mut m);
        for (a, v) in acc.iter_mut().zip(m.iter()) {
            *a = *a + scale * *v;
        }
    }
    fn is_trainable(&self, k: usize) -> bool {
        self.mask.get(k).copied().unwrap_or(false)
    }
}

/// Oja's rule `dw = x y - y^2 w` in closed form (a named instance of [`TaylorRule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OjaRule;

impl OjaRule {
    /// The same rule as a [`TaylorRule`] (`theta_110 = 1`, `theta_021 = -1`).
    pub fn taylor<F: Float>(self) -> TaylorRule<F> {
        TaylorRule::oja()
    }
}

impl<F: Float> PlasticityRule<F> for OjaRule {
    #[inline]
    fn dw(&self, x: F, y: F, w: F) -> F {
        x * y - y * y * w
    }
    #[inline]
    fn partials(&self, x: F, y: F, w: F) -> RulePartials<F> {
        let two = F::one() + F::one();
        RulePartials {
            value: x * y - y * y * w,
            d_x: y,
            d_y: x - two * y * w,
            d_w: -(y * y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plain reference: the defining triple sum, no factoring.
    fn reference(theta: &[f64; 27], x: f64, y: f64, w: f64) -> f64 {
        let mut s = 0.0;
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    s += theta[9 * a + 3 * b + c]
                        * x.powi(a as i32)
                        * y.powi(b as i32)
                        * w.powi(c as i32);
                }
            }
        }
        s
    }

    #[test]
    fn oja_is_the_taylor_instance() {
        let t = TaylorRule::<f64>::oja();
        for &(x, y, w) in &[(0.3, 0.7, -0.2), (1.5, -0.1, 2.0), (0.0, 0.0, 0.0)] {
            let a = t.partials(x, y, w);
            let b = OjaRule.partials(x, y, w);
            assert!((a.value - b.value).abs() < 1e-15);
            assert!((a.d_x - b.d_x).abs() < 1e-15);
            assert!((a.d_y - b.d_y).abs() < 1e-15);
            assert!((a.d_w - b.d_w).abs() < 1e-15);
        }
        assert_eq!(TERM_LABELS[12], "x*y");
        assert_eq!(TERM_LABELS[7], "y^2*w");
        assert_eq!(term_index(1, 1, 0), Some(12));
        assert_eq!(term_index(3, 0, 0), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn factored_value_matches_triple_sum(
            theta in proptest::array::uniform27(-2.0f64..2.0),
            x in -2.0f64..2.0, y in -2.0f64..2.0, w in -2.0f64..2.0,
        ) {
            let r = TaylorRule::new(theta);
            let v = r.dw(x, y, w);
            let v_ref = reference(&theta, x, y, w);
            prop_assert!((v - v_ref).abs() <= 1e-12 * (1.0 + v_ref.abs()));
            let mut m = [0.0; 27];
            TaylorRule::monomials(x, y, w, &mut m);
            let via_monomials: f64 = m.iter().zip(theta.iter()).map(|(a, b)| a * b).sum();
            prop_assert!((via_monomials - v_ref).abs() <= 1e-12 * (1.0 + v_ref.abs()));
        }

        #[test]
        fn input_partials_match_finite_differences(
            theta in proptest::array::uniform27(-2.0f64..2.0),
            x in -2.0f64..2.0, y in -2.0f64..2.0, w in -2.0f64..2.0,
        ) {
            let r = TaylorRule::new(theta);
            let p = r.partials(x, y, w);
            let h = 1e-6;
            let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
            let dx = fd(&|e| reference(&theta, x + e, y, w));
            let dy = fd(&|e| reference(&theta, x, y + e, w));
            let dw = fd(&|e| reference(&theta, x, y, w + e));
            let scale = 1.0 + theta.iter().map(|t| t.abs()).sum::<f64>() * 64.0;
            prop_assert!((p.d_x - dx).abs() <= 1e-7 * scale, "{} {}", p.d_x, dx);
            prop_assert!((p.d_y - dy).abs() <= 1e-7 * scale, "{} {}", p.d_y, dy);
            prop_assert!((p.d_w - dw).abs() <= 1e-7 * scale, "{} {}", p.d_w, dw);
        }
    }
}
