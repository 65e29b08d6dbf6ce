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

impl<F: Float> TaylorRule<F> {
    /// Coefficients with `y` summed out: `b[a][c] = sum_b theta[a][b][c] y^b`, and their
    /// `y`-derivative `by[a][c] = sum_b b theta[a][b][c] y^(b-1)`. Along a row (fixed `y`) the
    /// rule is then `sum_a x^a (b[a][0] + b[a][1] w + b[a][2] w^2)`: 9 terms a synapse, not 27.
    #[inline]
    fn row_coefficients(&self, y: F) -> ([[F; 3]; 3], [[F; 3]; 3]) {
        let (py, dpy) = powers(y);
        let t = &self.theta;
        let mut b = [[F::zero(); 3]; 3];
        let mut by = [[F::zero(); 3]; 3];
        for a in 0..3 {
            for c in 0..3 {
                let k = 9 * a + c;
                b[a][c] = t[k] + t[k + 3] * py[1] + t[k + 6] * py[2];
                by[a][c] = t[k + 3] + t[k + 6] * dpy[2];
            }
        }
        (b, by)
    }

    /// Coefficients with `w` summed out: `g[a][b] = sum_c theta[a][b][c] w^c`, and their
    /// `w`-derivative `gw[a][b] = sum_c c theta[a][b][c] w^(c-1)`. Over a batch of one synapse
    /// (fixed `w`) the rule sums to `sum_{a,b} g[a][b] M[a][b]` with the moments of
    /// [`add_moments`].
    #[inline]
    fn weight_coefficients(&self, w: F) -> ([[F; 3]; 3], [[F; 3]; 3]) {
        let (pw, dpw) = powers(w);
        let t = &self.theta;
        let mut g = [[F::zero(); 3]; 3];
        let mut gw = [[F::zero(); 3]; 3];
        for a in 0..3 {
            for b in 0..3 {
                let k = 9 * a + 3 * b;
                g[a][b] = t[k] + t[k + 1] * pw[1] + t[k + 2] * pw[2];
                gw[a][b] = t[k + 1] * dpw[1] + t[k + 2] * dpw[2];
            }
        }
        (g, gw)
    }
}

/// `M[a][b] += x^a y^b`: one sample's share of the batch moments.
#[inline]
fn add_moments<F: Float>(m: &mut [[F; 3]; 3], x: F, y: F) {
    let (px, _) = powers(x);
    let (py, _) = powers(y);
    for a in 0..3 {
        for b in 0..3 {
            m[a][b] = m[a][b] + px[a] * py[b];
        }
    }
}

impl<F: Float> PlasticityRule<F> for TaylorRule<F> {
    #[inline]
    fn dw(&self, x: F, y: F, w: F) -> F {
        self.partials(x, y, w).value
    }

    /// With `w` fixed, `sum_s f = sum_{a,b,c} theta[a][b][c] w^c M[a][b]` where
    /// `M[a][b] = sum_s x_s^a y_s^b`: 9 moments a sample instead of a 27-term polynomial.
    #[inline]
    fn dw_sum<I: Iterator<Item = (F, F)>>(&self, pairs: I, w: F) -> F {
        let mut m = [[F::zero(); 3]; 3];
        for (x, y) in pairs {
            add_moments(&mut m, x, y);
        }
        let (g, _) = self.weight_coefficients(w);
        let mut s = F::zero();
        for a in 0..3 {
            for b in 0..3 {
                s = s + m[a][b] * g[a][b];
            }
        }
        s
    }

    #[inline]
    fn update_row(&self, eta: F, y: F, x: &[F], w: &mut [F]) {
        let (b, _) = self.row_coefficients(y);
        for (wj, &xj) in w.iter_mut().zip(x) {
            let x2 = xj * xj;
            let g0 = b[0][0] + b[1][0] * xj + b[2][0] * x2;
            let g1 = b[0][1] + b[1][1] * xj + b[2][1] * x2;
            let g2 = b[0][2] + b[1][2] * xj + b[2][2] * x2;
            let wv = *wj;
            *wj = wv + eta * (g0 + wv * (g1 + wv * g2));
        }
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

    /// By moments: with `g[a][b] = sum_c theta[a][b][c] w^c`, the pair's `f_x` and `f_y` come
    /// from `g` (a few operations), and the sums from `M[a][b] = sum_s x_s^a y_s^b`:
    /// `sum f = sum g M`, `sum f_w = sum (theta[a][b][1] + 2 theta[a][b][2] w) M`,
    /// `sum df/dtheta[a][b][c] = w^c M[a][b]`.
    #[inline]
    fn batch_sums<I: Iterator<Item = (F, F)>, C: FnMut(F, F)>(
        &self,
        pairs: I,
        w: F,
        grad: &mut [F],
        mut each: C,
    ) -> (F, F) {
        let (g, gw) = self.weight_coefficients(w);
        let (pw, _) = powers(w);
        let two = F::one() + F::one();
        let mut m = [[F::zero(); 3]; 3];
        for (x, y) in pairs {
            // f_y = sum_ab g[a][b] x^a b y^(b-1); f_x = sum_ab g[a][b] a x^(a-1) y^b.
            let hy = [
                g[0][1] + two * g[0][2] * y,
                g[1][1] + two * g[1][2] * y,
                g[2][1] + two * g[2][2] * y,
            ];
            let f_y = hy[0] + x * (hy[1] + x * hy[2]);
            let hx1 = g[1][0] + y * (g[1][1] + y * g[1][2]);
            let hx2 = g[2][0] + y * (g[2][1] + y * g[2][2]);
            let f_x = hx1 + two * x * hx2;
            each(f_x, f_y);
            add_moments(&mut m, x, y);
        }
        let (mut value, mut a_w) = (F::zero(), F::zero());
        for a in 0..3 {
            for b in 0..3 {
                value = value + g[a][b] * m[a][b];
                a_w = a_w + gw[a][b] * m[a][b];
                let k = 9 * a + 3 * b;
                for c in 0..3 {
                    if let Some(gk) = grad.get_mut(k + c) {
                        *gk = *gk + pw[c] * m[a][b];
                    }
                }
            }
        }
        (value, a_w)
    }

    /// Factored by row: `f`, `f_y`, `f_w` from the 9 row coefficients, and
    /// `s_k <- (1 + eta f_w) s_k + eta x^a y^b w^c + eta f_y dy_k` with `eta y^b` per row and
    /// `x^a w^c` per synapse.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn forward_row(
        &self,
        eta: F,
        y: F,
        x: &[F],
        w: &mut [F],
        s: &mut [F],
        dy: &[F],
        _pbuf: &mut [F],
    ) {
        let (b, by) = self.row_coefficients(y);
        let (py, _) = powers(y);
        let epy = [eta * py[0], eta * py[1], eta * py[2]];
        let two = F::one() + F::one();
        for ((wj, &xj), sj) in w.iter_mut().zip(x).zip(s.chunks_exact_mut(TAYLOR_TERMS)) {
            let wv = *wj;
            let (x2, w2) = (xj * xj, wv * wv);
            let g0 = b[0][0] + b[1][0] * xj + b[2][0] * x2;
            let g1 = b[0][1] + b[1][1] * xj + b[2][1] * x2;
            let g2 = b[0][2] + b[1][2] * xj + b[2][2] * x2;
            let gy0 = by[0][0] + by[1][0] * xj + by[2][0] * x2;
            let gy1 = by[0][1] + by[1][1] * xj + by[2][1] * x2;
            let gy2 = by[0][2] + by[1][2] * xj + by[2][2] * x2;
            let alpha = F::one() + eta * (g1 + two * wv * g2);
            let beta = eta * (gy0 + gy1 * wv + gy2 * w2);
            let px = [F::one(), xj, x2];
            let pw = [F::one(), wv, w2];
            for a in 0..3 {
                for bb in 0..3 {
                    let e = px[a] * epy[bb];
                    for c in 0..3 {
                        let k = 9 * a + 3 * bb + c;
                        sj[k] = alpha * sj[k] + e * pw[c] + beta * dy[k];
                    }
                }
            }
            *wj = wv + eta * (g0 + wv * (g1 + wv * g2));
        }
    }

    #[inline]
    fn adjoint_row(&self, eta: F, y: F, x: &[F], w: &[F], lambda: &mut [F], grad: &mut [F]) -> F {
        let (b, by) = self.row_coefficients(y);
        let two = F::one() + F::one();
        // acc[a][c] = sum_j l_j x_j^a w_j^c; then grad[9a+3b+c] += eta y^b acc[a][c].
        let mut acc = [[F::zero(); 3]; 3];
        let mut acc_y = F::zero();
        for ((lj, &wj), &xj) in lambda.iter_mut().zip(w).zip(x) {
            let l = *lj;
            if l == F::zero() {
                continue;
            }
            let x2 = xj * xj;
            let w2 = wj * wj;
            let gy0 = by[0][0] + by[1][0] * xj + by[2][0] * x2;
            let gy1 = by[0][1] + by[1][1] * xj + by[2][1] * x2;
            let gy2 = by[0][2] + by[1][2] * xj + by[2][2] * x2;
            let g1 = b[0][1] + b[1][1] * xj + b[2][1] * x2;
            let g2 = b[0][2] + b[1][2] * xj + b[2][2] * x2;
            acc_y = acc_y + l * (gy0 + gy1 * wj + gy2 * w2);
            let lx = [l, l * xj, l * x2];
            for a in 0..3 {
                acc[a][0] = acc[a][0] + lx[a];
                acc[a][1] = acc[a][1] + lx[a] * wj;
                acc[a][2] = acc[a][2] + lx[a] * w2;
            }
            *lj = l + eta * l * (g1 + two * wj * g2);
        }
        let (py, _) = powers(y);
        for a in 0..3 {
            for bb in 0..3 {
                let s = eta * py[bb];
                for c in 0..3 {
                    if let Some(gk) = grad.get_mut(9 * a + 3 * bb + c) {
                        *gk = *gk + s * acc[a][c];
                    }
                }
            }
        }
        acc_y
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

    /// Delegates the per-synapse methods only, so the trait's default (plain) row methods run.
    struct Plain(TaylorRule<f64>);
    impl PlasticityRule<f64> for Plain {
        fn dw(&self, x: f64, y: f64, w: f64) -> f64 {
            self.0.dw(x, y, w)
        }
        fn partials(&self, x: f64, y: f64, w: f64) -> RulePartials<f64> {
            self.0.partials(x, y, w)
        }
    }
    impl DifferentiableRule<f64> for Plain {
        fn n_params(&self) -> usize {
            27
        }
        fn params(&self) -> &[f64] {
            &self.0.theta
        }
        fn params_mut(&mut self) -> &mut [f64] {
            &mut self.0.theta
        }
        fn param_gradient(&self, x: f64, y: f64, w: f64, out: &mut [f64]) {
            self.0.param_gradient(x, y, w, out)
        }
        fn accumulate_param_gradient(&self, x: f64, y: f64, w: f64, s: f64, acc: &mut [f64]) {
            self.0.accumulate_param_gradient(x, y, w, s, acc)
        }
        fn is_trainable(&self, k: usize) -> bool {
            self.0.is_trainable(k)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn fast_row_paths_match_the_plain_defaults(
            theta in proptest::array::uniform27(-2.0f64..2.0),
            row in proptest::collection::vec((-2.0f64..2.0, -2.0f64..2.0, -1.0f64..1.0), 0..12),
            y in -2.0f64..2.0, eta in 0.0f64..1.5,
        ) {
            let fast = TaylorRule::new(theta);
            let plain = Plain(fast);
            let x: std::vec::Vec<f64> = row.iter().map(|r| r.0).collect();
            let w: std::vec::Vec<f64> = row.iter().map(|r| r.1).collect();
            // Some zero adjoints, to exercise the skip.
            let l: std::vec::Vec<f64> = row.iter().enumerate().map(|(j, r)| if j % 3 == 2 { 0.0 } else { r.2 }).collect();
            let (mut wf, mut wp) = (w.clone(), w.clone());
            fast.update_row(eta, y, &x, &mut wf);
            plain.update_row(eta, y, &x, &mut wp);
            for (a, b) in wf.iter().zip(&wp) {
                prop_assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} {b}");
            }
            let pairs = || x.iter().copied().zip(w.iter().copied());
            let (sf, sp) = (fast.dw_sum(pairs(), y), plain.dw_sum(pairs(), y));
            prop_assert!((sf - sp).abs() <= 1e-11 * (1.0 + sp.abs()), "{sf} {sp}");
            // Forward rows: sensitivities and weights.
            let n = x.len();
            let s0: std::vec::Vec<f64> = (0..n * 27).map(|k| ((k * 13 % 7) as f64 - 3.0) / 7.0).collect();
            let dy: std::vec::Vec<f64> = (0..27).map(|k| ((k * 5 % 9) as f64 - 4.0) / 9.0).collect();
            let (mut sf, mut sp) = (s0.clone(), s0);
            let (mut wf2, mut wp2) = (w.clone(), w.clone());
            let mut pbuf = [0.0; 27];
            fast.forward_row(eta, y, &x, &mut wf2, &mut sf, &dy, &mut pbuf);
            plain.forward_row(eta, y, &x, &mut wp2, &mut sp, &dy, &mut pbuf);
            for (a, b) in sf.iter().zip(&sp).chain(wf2.iter().zip(&wp2)) {
                prop_assert!((a - b).abs() <= 1e-11 * (1.0 + b.abs()), "{a} {b}");
            }
            let (mut lf, mut lp) = (l.clone(), l.clone());
            let (mut gf, mut gp) = ([0.5; 27], [0.5; 27]);
            let af = fast.adjoint_row(eta, y, &x, &w, &mut lf, &mut gf);
            let ap = plain.adjoint_row(eta, y, &x, &w, &mut lp, &mut gp);
            prop_assert!((af - ap).abs() <= 1e-11 * (1.0 + ap.abs()), "{af} {ap}");
            for (a, b) in lf.iter().zip(&lp) {
                prop_assert!((a - b).abs() <= 1e-11 * (1.0 + b.abs()), "{a} {b}");
            }
            for (a, b) in gf.iter().zip(&gp) {
                prop_assert!((a - b).abs() <= 1e-11 * (1.0 + b.abs()), "{a} {b}");
            }
        }

        #[test]
        fn batch_sums_by_moments_match_the_plain_default(
            theta in proptest::array::uniform27(-2.0f64..2.0),
            pairs in proptest::collection::vec((-2.0f64..2.0, -2.0f64..2.0), 0..12),
            w in -2.0f64..2.0,
        ) {
            let fast = TaylorRule::new(theta);
            let plain = Plain(fast);
            let (mut gf, mut gp) = ([0.5; 27], [0.5; 27]);
            let (mut ef, mut ep) = (std::vec::Vec::new(), std::vec::Vec::new());
            let sf = fast.batch_sums(pairs.iter().copied(), w, &mut gf, |a, b| ef.push((a, b)));
            let sp = plain.batch_sums(pairs.iter().copied(), w, &mut gp, |a, b| ep.push((a, b)));
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-11 * (1.0 + b.abs());
            prop_assert!(close(sf.0, sp.0) && close(sf.1, sp.1), "{sf:?} {sp:?}");
            prop_assert_eq!(ef.len(), pairs.len());
            for ((a, b), (c, d)) in ef.iter().zip(&ep) {
                prop_assert!(close(*a, *c) && close(*b, *d), "{a} {b} / {c} {d}");
            }
            for (a, b) in gf.iter().zip(&gp) {
                prop_assert!(close(*a, *b), "{a} {b}");
            }
        }

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
