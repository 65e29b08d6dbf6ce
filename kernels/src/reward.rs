//! Reward-modulated plasticity rules `dw = f(x, y, w, r; theta)` and the expected-reward
//! average that makes `r`.
//!
//! Mehta et al. 2024, fig. 3 (`docs/taylor_rule.md`, `docs/fit_behavior.md`). Two rules implement [`RewardRule`]:
//! - [`RewardTaylorRule`]: `dw = sum_{a,b,c,d in 0..=2} theta[a][b][c][d] x^a y^b w^c r^d`,
//!   81 coefficients, flat index `27a + 9b + 3c + d` (the intended order of `docs/taylor_rule.md`, not the
//!   transposed one of the public JAX code);
//! - [`MlpRule`]: `[x, y, w, r] -> H leaky-ReLU (slope 0.01) -> 1 -> tanh`, `6H + 1` parameters.
//!
//! `r = R - E[R]` is the reward minus its expectation; [`RewardAverage`] keeps `E[R]` as the
//! mean of the last `N` rewards in a fixed-capacity ring buffer (no heap).
//!
//! Valid range: finite inputs and parameters. The Taylor rule is a polynomial of total degree at
//! most 8 (overflows `f32` only for inputs above about `1e4`); the MLP rule is bounded in
//! `(-1, 1)` for any finite input.

use heapless::HistoryBuf;
use num_traits::Float;

/// Value and input partial derivatives of a reward rule at one synapse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardPartials<F> {
    /// `f(x, y, w, r)`.
    pub value: F,
    /// `df/dx`.
    pub d_x: F,
    /// `df/dy`.
    pub d_y: F,
    /// `df/dw`.
    pub d_w: F,
    /// `df/dr`.
    pub d_r: F,
}

/// A local rule `dw = f(x, y, w, r; theta)` with a flat parameter vector and closed-form
/// derivatives. Parameters live in `&self` and are copied in and out as a flat slice, so rules
/// with structured parameters (an MLP's layers) need no const-generic arithmetic.
pub trait RewardRule<F: Float> {
    /// Number of parameters `P`.
    fn n_params(&self) -> usize;
    /// Copies the parameters, in the rule's documented flat order, into `out[..P]` (a shorter
    /// `out` receives a prefix).
    fn read_params(&self, out: &mut [F]);
    /// Sets the parameters from `p[..P]` (a shorter `p` sets a prefix).
    fn write_params(&mut self, p: &[F]);
    /// Whether parameter `k` is trainable; a fit keeps the others fixed.
    fn is_trainable(&self, k: usize) -> bool;
    /// The weight change `f(x, y, w, r)` (before the learning rate).
    fn dw(&self, x: F, y: F, w: F, r: F) -> F;
    /// The weight change and its partial derivatives with respect to the four inputs.
    fn partials(&self, x: F, y: F, w: F, r: F) -> RewardPartials<F>;
    /// Adds `scale * df/dtheta_k` to `acc[k]` for `k < min(P, acc.len())`.
    fn accumulate_param_gradient(&self, x: F, y: F, w: F, r: F, scale: F, acc: &mut [F]);
    /// Writes `df/dtheta_k` into `out[k]`.
    fn param_gradient(&self, x: F, y: F, w: F, r: F, out: &mut [F]) {
        out.iter_mut().for_each(|v| *v = F::zero());
        self.accumulate_param_gradient(x, y, w, r, F::one(), out);
    }
}

/// Number of coefficients of a [`RewardTaylorRule`].
pub const REWARD_TERMS: usize = 81;

/// The powers `(a, b, c, d)` of `x, y, w, r` of flat index `k = 27a + 9b + 3c + d`, or `None`
/// for `k >= 81`.
#[inline]
pub const fn reward_term_powers(k: usize) -> Option<(usize, usize, usize, usize)> {
    if k < REWARD_TERMS {
        Some((k / 27, k / 9 % 3, k / 3 % 3, k % 3))
    } else {
        None
    }
}

/// Flat index of `theta[a][b][c][d]`, or `None` unless every power is at most 2.
#[inline]
pub const fn reward_term_index(a: usize, b: usize, c: usize, d: usize) -> Option<usize> {
    if a <= 2 && b <= 2 && c <= 2 && d <= 2 {
        Some(27 * a + 9 * b + 3 * c + d)
    } else {
        None
    }
}

#[inline]
fn powers<F: Float>(v: F) -> ([F; 3], [F; 3]) {
    let two = F::one() + F::one();
    ([F::one(), v, v * v], [F::zero(), F::one(), two * v])
}

/// The 81-term reward Taylor rule with a trainable mask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RewardTaylorRule<F> {
    /// Coefficients, flat index `27a + 9b + 3c + d`.
    pub theta: [F; REWARD_TERMS],
    /// Trainable coefficients.
    pub mask: [bool; REWARD_TERMS],
}

impl<F: Float> RewardTaylorRule<F> {
    /// All coefficients zero, all trainable.
    pub fn zeros() -> Self {
        Self {
            theta: [F::zero(); REWARD_TERMS],
            mask: [true; REWARD_TERMS],
        }
    }

    /// The given coefficients, all trainable.
    pub fn new(theta: [F; REWARD_TERMS]) -> Self {
        Self {
            theta,
            mask: [true; REWARD_TERMS],
        }
    }

    /// `x r`, the rule of the paper's Table 1.
    pub fn x_r() -> Self {
        let mut r = Self::zeros();
        r.theta[27 + 1] = F::one();
        r
    }
}

impl<F: Float> RewardRule<F> for RewardTaylorRule<F> {
    fn n_params(&self) -> usize {
        REWARD_TERMS
    }
    fn read_params(&self, out: &mut [F]) {
        out.iter_mut().zip(&self.theta).for_each(|(o, t)| *o = *t);
    }
    fn write_params(&mut self, p: &[F]) {
        self.theta.iter_mut().zip(p).for_each(|(t, v)| *t = *v);
    }
    fn is_trainable(&self, k: usize) -> bool {
        self.mask.get(k).copied().unwrap_or(false)
    }
    #[inline]
    fn dw(&self, x: F, y: F, w: F, r: F) -> F {
        // Horner in r, w, y, x (tested against `partials_reference`).
        let th = &self.theta;
        let horner = |v: [F; 3], z: F| v[0] + z * (v[1] + z * v[2]);
        let mut vx = [F::zero(); 3];
        for (a, vxa) in vx.iter_mut().enumerate() {
            let mut vy = [F::zero(); 3];
            for (b, vyb) in vy.iter_mut().enumerate() {
                let mut vw = [F::zero(); 3];
                for (c, vwc) in vw.iter_mut().enumerate() {
                    let k = 27 * a + 9 * b + 3 * c;
                    *vwc = horner([th[k], th[k + 1], th[k + 2]], r);
                }
                *vyb = horner(vw, w);
            }
            *vxa = horner(vy, y);
        }
        horner(vx, x)
    }
    #[inline]
    fn partials(&self, x: F, y: F, w: F, r: F) -> RewardPartials<F> {
        // Innermost the r-polynomial of each (a, b, c), then folded outwards: 27 short steps
        // instead of 81 five-fold products (tested against `partials_reference`).
        let (px, dpx) = powers(x);
        let (py, dpy) = powers(y);
        let (pw, dpw) = powers(w);
        let two = F::one() + F::one();
        let th = &self.theta;
        let mut out = RewardPartials {
            value: F::zero(),
            d_x: F::zero(),
            d_y: F::zero(),
            d_w: F::zero(),
            d_r: F::zero(),
        };
        for a in 0..3 {
            // Sums over b, c, d at this a: value, d/dy, d/dw, d/dr.
            let (mut va, mut ya, mut wa, mut ra) = (F::zero(), F::zero(), F::zero(), F::zero());
            for b in 0..3 {
                let (mut vb, mut wb, mut rb) = (F::zero(), F::zero(), F::zero());
                for c in 0..3 {
                    let k = 27 * a + 9 * b + 3 * c;
                    let t = th[k] + r * (th[k + 1] + r * th[k + 2]);
                    let tr = th[k + 1] + two * r * th[k + 2];
                    vb = vb + pw[c] * t;
                    wb = wb + dpw[c] * t;
                    rb = rb + pw[c] * tr;
                }
                va = va + py[b] * vb;
                ya = ya + dpy[b] * vb;
                wa = wa + py[b] * wb;
                ra = ra + py[b] * rb;
            }
            out.value = out.value + px[a] * va;
            out.d_x = out.d_x + dpx[a] * va;
            out.d_y = out.d_y + px[a] * ya;
            out.d_w = out.d_w + px[a] * wa;
            out.d_r = out.d_r + px[a] * ra;
        }
        out
    }
    #[inline]
    fn accumulate_param_gradient(&self, x: F, y: F, w: F, r: F, scale: F, acc: &mut [F]) {
        if acc.len() < REWARD_TERMS {
            for (k, v) in acc.iter_mut().enumerate() {
                let (a, b, c, d) = (k / 27, k / 9 % 3, k / 3 % 3, k % 3);
                let (px, py, pw, pr) = (powers(x).0, powers(y).0, powers(w).0, powers(r).0);
                *v = *v + scale * px[a] * py[b] * pw[c] * pr[d];
            }
            return;
        }
        let (px, _) = powers(x);
        let (py, _) = powers(y);
        let (pw, _) = powers(w);
        let (pr, _) = powers(r);
        for (a, acc_a) in acc[..REWARD_TERMS].chunks_exact_mut(27).enumerate() {
            let ma = scale * px[a];
            for (b, acc_b) in acc_a.chunks_exact_mut(9).enumerate() {
                let mb = ma * py[b];
                for (c, acc_c) in acc_b.chunks_exact_mut(3).enumerate() {
                    let mc = mb * pw[c];
                    acc_c[0] = acc_c[0] + mc;
                    acc_c[1] = acc_c[1] + mc * pr[1];
                    acc_c[2] = acc_c[2] + mc * pr[2];
                }
            }
        }
    }
}

impl<F: Float> RewardTaylorRule<F> {
    /// The plain per-term evaluation of [`RewardRule::partials`]: 81 products, the reference
    /// the fast nested evaluation is tested against.
    pub fn partials_reference(&self, x: F, y: F, w: F, r: F) -> RewardPartials<F> {
        let (px, dpx) = powers(x);
        let (py, dpy) = powers(y);
        let (pw, dpw) = powers(w);
        let (pr, dpr) = powers(r);
        let mut out = RewardPartials {
            value: F::zero(),
            d_x: F::zero(),
            d_y: F::zero(),
            d_w: F::zero(),
            d_r: F::zero(),
        };
        for (k, &t) in self.theta.iter().enumerate() {
            let (a, b, c, d) = (k / 27, k / 9 % 3, k / 3 % 3, k % 3);
            out.value = out.value + t * px[a] * py[b] * pw[c] * pr[d];
            out.d_x = out.d_x + t * dpx[a] * py[b] * pw[c] * pr[d];
            out.d_y = out.d_y + t * px[a] * dpy[b] * pw[c] * pr[d];
            out.d_w = out.d_w + t * px[a] * py[b] * dpw[c] * pr[d];
            out.d_r = out.d_r + t * px[a] * py[b] * pw[c] * dpr[d];
        }
        out
    }
}

/// Slope of the leaky ReLU for negative arguments.
pub const LEAKY_SLOPE: f64 = 0.01;

/// MLP rule `dw = tanh(sum_k v_k g(sum_m U_km z_m + b_k) + c)`, `z = [x, y, w, r]`,
/// `g(u) = max(u, 0.01 u)`, with `H` hidden units.
///
/// Flat parameter order (`P = 6H + 1`): `U` row-major (`4H`: `U[k * 4 + m]`), then `b` (`H`),
/// then `v` (`H`), then `c` (1). At a hidden unit with `u = 0` exactly the derivative of `g` is
/// taken as 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlpRule<F, const H: usize> {
    /// Input weights, `u[k][m]` from input `m` (x, y, w, r) to hidden unit `k`.
    pub u: [[F; 4]; H],
    /// Hidden biases.
    pub b: [F; H],
    /// Readout weights.
    pub v: [F; H],
    /// Readout bias.
    pub c: F,
}

impl<F: Float, const H: usize> MlpRule<F, H> {
    /// Number of parameters, `6H + 1`.
    pub const N_PARAMS: usize = 6 * H + 1;

    /// All parameters zero (the rule `dw = 0`).
    pub fn zeros() -> Self {
        Self {
            u: [[F::zero(); 4]; H],
            b: [F::zero(); H],
            v: [F::zero(); H],
            c: F::zero(),
        }
    }

    #[inline]
    fn slope() -> F {
        F::from(LEAKY_SLOPE).unwrap_or_else(F::zero)
    }

    /// Hidden pre-activations, the output before tanh, and `tanh` of it.
    #[inline]
    fn forward(&self, z: &[F; 4]) -> ([F; H], F, F) {
        let mut pre = [F::zero(); H];
        let mut o = self.c;
        let s = Self::slope();
        for k in 0..H {
            let mut u = self.b[k];
            for m in 0..4 {
                u = u + self.u[k][m] * z[m];
            }
            pre[k] = u;
            let g = if u >= F::zero() { u } else { s * u };
            o = o + self.v[k] * g;
        }
        (pre, o, o.tanh())
    }
}

impl<F: Float, const H: usize> RewardRule<F> for MlpRule<F, H> {
    fn n_params(&self) -> usize {
        Self::N_PARAMS
    }
    fn read_params(&self, out: &mut [F]) {
        let it = self
            .u
            .iter()
            .flat_map(|row| row.iter())
            .chain(self.b.iter())
            .chain(self.v.iter())
            .chain(core::iter::once(&self.c));
        out.iter_mut().zip(it).for_each(|(o, p)| *o = *p);
    }
    fn write_params(&mut self, p: &[F]) {
        let it = self
            .u
            .iter_mut()
            .flat_map(|row| row.iter_mut())
            .chain(self.b.iter_mut())
            .chain(self.v.iter_mut())
            .chain(core::iter::once(&mut self.c));
        it.zip(p).for_each(|(t, v)| *t = *v);
    }
    fn is_trainable(&self, k: usize) -> bool {
        k < Self::N_PARAMS
    }
    #[inline]
    fn dw(&self, x: F, y: F, w: F, r: F) -> F {
        self.forward(&[x, y, w, r]).2
    }
    #[inline]
    fn partials(&self, x: F, y: F, w: F, r: F) -> RewardPartials<F> {
        let z = [x, y, w, r];
        let (pre, _, t) = self.forward(&z);
        let dt = F::one() - t * t;
        let s = Self::slope();
        let mut d = [F::zero(); 4];
        for k in 0..H {
            let gp = if pre[k] >= F::zero() { F::one() } else { s };
            let back = dt * self.v[k] * gp;
            for m in 0..4 {
                d[m] = d[m] + back * self.u[k][m];
            }
        }
        RewardPartials {
            value: t,
            d_x: d[0],
            d_y: d[1],
            d_w: d[2],
            d_r: d[3],
        }
    }
    #[inline]
    fn accumulate_param_gradient(&self, x: F, y: F, w: F, r: F, scale: F, acc: &mut [F]) {
        let z = [x, y, w, r];
        let (pre, _, t) = self.forward(&z);
        let dt = scale * (F::one() - t * t);
        let s = Self::slope();
        let (u_acc, rest) = acc.split_at_mut((4 * H).min(acc.len()));
        let (b_acc, rest) = rest.split_at_mut(H.min(rest.len()));
        let (v_acc, c_acc) = rest.split_at_mut(H.min(rest.len()));
        for k in 0..H {
            let (g, gp) = if pre[k] >= F::zero() {
                (pre[k], F::one())
            } else {
                (s * pre[k], s)
            };
            let back = dt * self.v[k] * gp;
            for m in 0..4 {
                if let Some(a) = u_acc.get_mut(4 * k + m) {
                    *a = *a + back * z[m];
                }
            }
            if let Some(a) = b_acc.get_mut(k) {
                *a = *a + back;
            }
            if let Some(a) = v_acc.get_mut(k) {
                *a = *a + dt * g;
            }
        }
        if let Some(a) = c_acc.first_mut() {
            *a = *a + dt;
        }
    }
}

/// Expected reward `E[R]`: the mean of the last `N` rewards, with slots not yet filled counting
/// as 0 (so `E[R]` starts at 0 and reaches the plain window mean after `N` rewards). A
/// fixed-capacity ring buffer; no heap. The sum is recomputed over the window on every read, so
/// no rounding error accumulates over a long session.
#[derive(Debug, Clone)]
pub struct RewardAverage<F, const N: usize> {
    window: HistoryBuf<F, N>,
}

impl<F: Float, const N: usize> Default for RewardAverage<F, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Float, const N: usize> RewardAverage<F, N> {
    /// An empty window (`E[R] = 0`).
    pub fn new() -> Self {
        Self {
            window: HistoryBuf::new(),
        }
    }
    /// `E[R]`: the sum of the stored rewards divided by `N` (0 for `N = 0`).
    pub fn expected(&self) -> F {
        if N == 0 {
            return F::zero();
        }
        let sum = self
            .window
            .oldest_ordered()
            .fold(F::zero(), |acc, v| acc + *v);
        sum / F::from(N).unwrap_or_else(F::one)
    }
    /// Records a reward (the oldest of `N` drops out).
    pub fn push(&mut self, reward: F) {
        if N > 0 {
            self.window.write(reward);
        }
    }
    /// `R - E[R]` with `E[R]` over the rewards before this one, then records `R`.
    pub fn signal(&mut self, reward: F) -> F {
        let r = reward - self.expected();
        self.push(reward);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_and_index_round_trip() {
        for k in 0..REWARD_TERMS {
            let (a, b, c, d) = reward_term_powers(k).unwrap();
            assert_eq!(reward_term_index(a, b, c, d), Some(k));
        }
        assert_eq!(reward_term_powers(81), None);
        let r = RewardTaylorRule::<f64>::x_r();
        assert_eq!(r.dw(0.5, 0.3, 0.2, -2.0), -1.0);
    }

    #[test]
    fn fast_partials_and_gradient_match_the_plain_sums() {
        let mut rule = RewardTaylorRule::<f64>::zeros();
        for (k, t) in rule.theta.iter_mut().enumerate() {
            *t = ((k * 37 % 11) as f64 - 5.0) / 7.0;
        }
        for &(x, y, w, r) in &[
            (0.3, -0.7, 0.4, 0.9),
            (1.2, 0.1, -2.0, -0.5),
            (0.0, 0.0, 0.0, 0.0),
        ] {
            let f = rule.partials(x, y, w, r);
            let p = rule.partials_reference(x, y, w, r);
            assert!((rule.dw(x, y, w, r) - p.value).abs() < 1e-12 * (1.0 + p.value.abs()));
            for (a, b) in [
                (f.value, p.value),
                (f.d_x, p.d_x),
                (f.d_y, p.d_y),
                (f.d_w, p.d_w),
                (f.d_r, p.d_r),
            ] {
                assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
            }
            let mut full = [0.0; REWARD_TERMS];
            rule.accumulate_param_gradient(x, y, w, r, 0.5, &mut full);
            let mut short = [0.0; 40];
            rule.accumulate_param_gradient(x, y, w, r, 0.5, &mut short);
            for k in 0..REWARD_TERMS {
                let (a, b, c, d) = reward_term_powers(k).unwrap();
                let want = 0.5
                    * [1.0, x, x * x][a]
                    * [1.0, y, y * y][b]
                    * [1.0, w, w * w][c]
                    * [1.0, r, r * r][d];
                assert!((full[k] - want).abs() < 1e-14);
                if k < 40 {
                    assert!((short[k] - want).abs() < 1e-14);
                }
            }
        }
    }
}
