//! Linear neurons with a hierarchical lateral layer, plastic by batch-averaged rules
//! (Confavreux et al. 2020; `docs/meta_function.md`).
//!
//! For each sample `x_s` (inputs `j`), outputs in order `i = 0 .. n_out`:
//! ```text
//! y_si = sum_j W_ij x_sj + sum_{k<i} L_ik y_sk          (earlier outputs act on later ones)
//! ```
//! One epoch applies both rules once, averaged over the `N` samples of a data set:
//! ```text
//! W_ij += eta/N sum_s f(x_sj, y_si, W_ij)              (feedforward rule, pre = input)
//! L_ik += eta/N sum_s g(y_sk, y_si, L_ik),   k < i     (lateral rule, pre = earlier output)
//! ```
//! With one output there is no lateral layer. `W` is `n_out x n_in` row-major; `L` is
//! `n_out x n_out` row-major, only its strictly lower triangle is used (the rest is left as is).
//!
//! **Forward sensitivities** with respect to `theta = [theta_f, theta_g]` (`P = P_f + P_g`),
//! `S_W = dW/dtheta`, `S_L = dL/dtheta`, `dy_s = dy_s/dtheta`:
//! ```text
//! dy_si  = sum_j x_sj S_W,ij + sum_{k<i} (y_sk S_L,ik + L_ik dy_sk)
//! S_W,ij += eta/N sum_s ([df/dtheta_f, 0] + f_y dy_si + f_w S_W,ij)
//! S_L,ik += eta/N sum_s ([0, dg/dtheta_g] + g_x dy_sk + g_y dy_si + g_w S_L,ik)
//! ```
//! all evaluated at the weights before the epoch's update. Valid range: finite inputs; an
//! update that makes a weight non-finite returns [`KernelError::NonFinite`].

use crate::error::{check_len, finite_or, finite_probe, KernelError};
use crate::rule::{DifferentiableRule, PlasticityRule, RulePartials};
use num_traits::Float;

/// Dimensions of a data set and network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearShape {
    /// Inputs.
    pub n_in: usize,
    /// Outputs.
    pub n_out: usize,
    /// Samples per data set (the batch every epoch averages over).
    pub n_samples: usize,
}

impl LinearShape {
    fn check<F>(&self, x: &[F], w: &[F], l: &[F]) -> Result<(), KernelError> {
        if self.n_in == 0 || self.n_out == 0 || self.n_samples == 0 {
            return Err(KernelError::OutOfRange { what: "shape" });
        }
        let n_syn = self
            .n_in
            .checked_mul(self.n_out)
            .ok_or(KernelError::OutOfRange { what: "shape" })?;
        let n_x = self
            .n_in
            .checked_mul(self.n_samples)
            .ok_or(KernelError::OutOfRange { what: "shape" })?;
        check_len("x", x, n_x)?;
        check_len("w", w, n_syn)?;
        check_len("l", l, self.n_out * self.n_out)
    }
}

/// A rule that never changes a weight and has no parameters (for a network without a lateral
/// layer, or a frozen one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoPlasticity;

impl<F: Float> PlasticityRule<F> for NoPlasticity {
    fn dw(&self, _: F, _: F, _: F) -> F {
        F::zero()
    }
    fn partials(&self, _: F, _: F, _: F) -> RulePartials<F> {
        RulePartials {
            value: F::zero(),
            d_x: F::zero(),
            d_y: F::zero(),
            d_w: F::zero(),
        }
    }
}

impl<F: Float> DifferentiableRule<F> for NoPlasticity {
    fn n_params(&self) -> usize {
        0
    }
    fn params(&self) -> &[F] {
        &[]
    }
    fn params_mut(&mut self) -> &mut [F] {
        &mut []
    }
    fn param_gradient(&self, _: F, _: F, _: F, _: &mut [F]) {}
    fn accumulate_param_gradient(&self, _: F, _: F, _: F, _: F, _: &mut [F]) {}
    fn is_trainable(&self, _: usize) -> bool {
        false
    }
}

/// Outputs for every sample: `y` is `n_samples x n_out`.
pub fn forward_batch<F: Float>(
    shape: LinearShape,
    w: &[F],
    l: &[F],
    x: &[F],
    y: &mut [F],
) -> Result<(), KernelError> {
    shape.check(x, w, l)?;
    check_len("y", y, shape.n_samples * shape.n_out)?;
    let (n_in, n_out) = (shape.n_in, shape.n_out);
    for (xs, ys) in x.chunks_exact(n_in).zip(y.chunks_exact_mut(n_out)) {
        for i in 0..n_out {
            let mut v = F::zero();
            for (wij, xj) in w[i * n_in..(i + 1) * n_in].iter().zip(xs) {
                v = v + *wij * *xj;
            }
            for k in 0..i {
                v = v + l[i * n_out + k] * ys[k];
            }
            ys[i] = v;
        }
    }
    Ok(())
}

/// One epoch without sensitivities; `y` (`n_samples x n_out`) is scratch and ends holding the
/// outputs before the update.
#[allow(clippy::too_many_arguments)]
pub fn batch_epoch<F: Float, Rf: PlasticityRule<F>, Rg: PlasticityRule<F>>(
    ff: &Rf,
    lat: &Rg,
    eta: F,
    shape: LinearShape,
    x: &[F],
    w: &mut [F],
    l: &mut [F],
    y: &mut [F],
) -> Result<(), KernelError> {
    forward_batch(shape, w, l, x, y)?;
    let (n_in, n_out, n) = (shape.n_in, shape.n_out, shape.n_samples);
    let scale = batch_scale(eta, n)?;
    let mut check = F::zero();
    for i in 0..n_out {
        for j in 0..n_in {
            let wij = w[i * n_in + j];
            let pairs = x
                .chunks_exact(n_in)
                .zip(y.chunks_exact(n_out))
                .map(|(xs, ys)| (xs[j], ys[i]));
            w[i * n_in + j] = wij + scale * ff.dw_sum(pairs, wij);
            check = check + finite_probe(w[i * n_in + j]);
        }
        for k in 0..i {
            let lik = l[i * n_out + k];
            let pairs = y.chunks_exact(n_out).map(|ys| (ys[k], ys[i]));
            l[i * n_out + k] = lik + scale * lat.dw_sum(pairs, lik);
            check = check + finite_probe(l[i * n_out + k]);
        }
    }
    finite_or(check, "weights", 0)
}

/// Scratch length for [`batch_epoch_sensitivity`] and
/// [`batch_epoch_sensitivity_reference`] with `p` parameters in all: the larger of
/// `n_samples n_out + n_out n_in (1 + p) + p + 2 n_in` and `n_samples n_out (1 + p) + 2 p`.
pub fn sensitivity_scratch_len(shape: LinearShape, p: usize) -> Result<usize, KernelError> {
    let e = KernelError::OutOfRange { what: "shape" };
    let ny = shape.n_samples.checked_mul(shape.n_out).ok_or(e)?;
    let n_syn = shape.n_in.checked_mul(shape.n_out).ok_or(e)?;
    let p1 = p.checked_add(1).ok_or(e)?;
    let fast = n_syn
        .checked_mul(p1)
        .and_then(|v| v.checked_add(ny))
        .and_then(|v| v.checked_add(p))
        .and_then(|v| v.checked_add(2 * shape.n_in))
        .ok_or(e)?;
    let reference = ny
        .checked_mul(p1)
        .and_then(|v| v.checked_add(2 * p))
        .ok_or(e)?;
    Ok(fast.max(reference))
}

/// One epoch carrying the sensitivities `s_w` (`n_out * n_in * P`) and `s_l`
/// (`n_out * n_out * P`), `P = ff.n_params() + lat.n_params()`, parameters ordered
/// `[theta_f, theta_g]`. Scratch contents on entry do not matter.
///
/// The outputs are linear in the inputs, `y_s = M x_s` with `M_i = W_i + sum_{k<i} L_ik M_k`,
/// so `dy_si = sum_j x_sj D_ij` with `D = dM/dtheta`:
/// `D_ij = S_W,ij + sum_{k<i} (M_kj S_L,ik + L_ik D_kj)`, once per epoch. A sample's
/// contribution `f_y dy_si` then sums to `sum_j (sum_s f_y x_sj) D_ij`: `n_in` operations a
/// sample instead of `P`, and the rule's [`DifferentiableRule::batch_sums`] does the rest
/// (by moments for the Taylor rule). Same values as
/// [`batch_epoch_sensitivity_reference`] up to rounding (tested).
#[allow(clippy::too_many_arguments)]
pub fn batch_epoch_sensitivity<F: Float, Rf: DifferentiableRule<F>, Rg: DifferentiableRule<F>>(
    ff: &Rf,
    lat: &Rg,
    eta: F,
    shape: LinearShape,
    x: &[F],
    w: &mut [F],
    l: &mut [F],
    s_w: &mut [F],
    s_l: &mut [F],
    scratch: &mut [F],
) -> Result<(), KernelError> {
    let (pf, pg) = (ff.n_params(), lat.n_params());
    let p = pf + pg;
    let (n_in, n_out, n) = (shape.n_in, shape.n_out, shape.n_samples);
    check_sensitivity_args(shape, p, x, w, l, s_w, s_l, scratch)?;
    let (y, rest) = scratch.split_at_mut(n * n_out);
    let (m_eff, rest) = rest.split_at_mut(n_out * n_in);
    let (d, rest) = rest.split_at_mut(n_out * n_in * p);
    let (acc, rest) = rest.split_at_mut(p);
    let (q_pre, rest) = rest.split_at_mut(n_in);
    let q_post = &mut rest[..n_in];
    forward_batch(shape, w, l, x, y)?;
    for i in 0..n_out {
        for j in 0..n_in {
            let mut v = w[i * n_in + j];
            for k in 0..i {
                v = v + l[i * n_out + k] * m_eff[k * n_in + j];
            }
            m_eff[i * n_in + j] = v;
        }
        let (before, here) = d.split_at_mut(i * n_in * p);
        for j in 0..n_in {
            let dij = &mut here[j * p..(j + 1) * p];
            dij.copy_from_slice(&s_w[(i * n_in + j) * p..(i * n_in + j + 1) * p]);
            for k in 0..i {
                let (mkj, lik) = (m_eff[k * n_in + j], l[i * n_out + k]);
                let sl = &s_l[(i * n_out + k) * p..(i * n_out + k + 1) * p];
                let dkj = &before[(k * n_in + j) * p..(k * n_in + j + 1) * p];
                for ((dv, sv), dk) in dij.iter_mut().zip(sl).zip(dkj) {
                    *dv = *dv + mkj * *sv + lik * *dk;
                }
            }
        }
    }
    // acc += sum_j q[j] D_rj
    let project = |acc: &mut [F], q: &[F], r: usize| {
        for (jj, &qv) in q.iter().enumerate() {
            let drj = &d[(r * n_in + jj) * p..(r * n_in + jj + 1) * p];
            for (a, dv) in acc.iter_mut().zip(drj) {
                *a = *a + qv * *dv;
            }
        }
    };
    let scale = batch_scale(eta, n)?;
    let mut check = F::zero();
    for i in 0..n_out {
        for j in 0..n_in {
            let k_syn = i * n_in + j;
            let wij = w[k_syn];
            acc.iter_mut().for_each(|v| *v = F::zero());
            q_post.iter_mut().for_each(|v| *v = F::zero());
            let pairs = x
                .chunks_exact(n_in)
                .zip(y.chunks_exact(n_out))
                .map(|(xs, ys)| (xs[j], ys[i]));
            let mut xs_iter = x.chunks_exact(n_in);
            let (value, a_w) = ff.batch_sums(pairs, wij, &mut acc[..pf], |_, f_y| {
                if let Some(xs) = xs_iter.next() {
                    for (qv, &xv) in q_post.iter_mut().zip(xs) {
                        *qv = *qv + f_y * xv;
                    }
                }
            });
            project(acc, q_post, i);
            advance(&mut s_w[k_syn * p..(k_syn + 1) * p], acc, a_w, scale);
            w[k_syn] = wij + scale * value;
            check = check + finite_probe(w[k_syn]);
        }
        for k in 0..i {
            let k_syn = i * n_out + k;
            let lik = l[k_syn];
            acc.iter_mut().for_each(|v| *v = F::zero());
            q_pre.iter_mut().for_each(|v| *v = F::zero());
            q_post.iter_mut().for_each(|v| *v = F::zero());
            let pairs = y.chunks_exact(n_out).map(|ys| (ys[k], ys[i]));
            let mut xs_iter = x.chunks_exact(n_in);
            let (value, a_w) = lat.batch_sums(pairs, lik, &mut acc[pf..], |g_x, g_y| {
                if let Some(xs) = xs_iter.next() {
                    for ((qp, qo), &xv) in q_pre.iter_mut().zip(q_post.iter_mut()).zip(xs) {
                        *qp = *qp + g_x * xv;
                        *qo = *qo + g_y * xv;
                    }
                }
            });
            project(acc, q_pre, k);
            project(acc, q_post, i);
            advance(&mut s_l[k_syn * p..(k_syn + 1) * p], acc, a_w, scale);
            l[k_syn] = lik + scale * value;
            check = check + finite_probe(l[k_syn]);
        }
    }
    finite_or(check, "weights", 0)
}

/// The plain per-sample form of [`batch_epoch_sensitivity`] (same arguments and results up
/// to rounding): `dy_s` for every sample, then every rule term per sample. Kept as the
/// reference the fast pass is tested against.
#[allow(clippy::too_many_arguments)]
pub fn batch_epoch_sensitivity_reference<
    F: Float,
    Rf: DifferentiableRule<F>,
    Rg: DifferentiableRule<F>,
>(
    ff: &Rf,
    lat: &Rg,
    eta: F,
    shape: LinearShape,
    x: &[F],
    w: &mut [F],
    l: &mut [F],
    s_w: &mut [F],
    s_l: &mut [F],
    scratch: &mut [F],
) -> Result<(), KernelError> {
    let (pf, pg) = (ff.n_params(), lat.n_params());
    let p = pf + pg;
    let (n_in, n_out, n) = (shape.n_in, shape.n_out, shape.n_samples);
    check_sensitivity_args(shape, p, x, w, l, s_w, s_l, scratch)?;
    let (y, rest) = scratch.split_at_mut(n * n_out);
    let (dy, rest) = rest.split_at_mut(n * n_out * p);
    let (acc, pbuf) = rest.split_at_mut(p);
    forward_batch(shape, w, l, x, y)?;
    // dy_si = sum_j x_sj S_W,ij + sum_{k<i} (y_sk S_L,ik + L_ik dy_sk)
    for s in 0..n {
        let xs = &x[s * n_in..(s + 1) * n_in];
        for i in 0..n_out {
            let (before, here) = dy[s * n_out * p..(s + 1) * n_out * p].split_at_mut(i * p);
            let d = &mut here[..p];
            d.iter_mut().for_each(|v| *v = F::zero());
            for (j, &xj) in xs.iter().enumerate() {
                let sw = &s_w[(i * n_in + j) * p..(i * n_in + j + 1) * p];
                for (dv, sv) in d.iter_mut().zip(sw) {
                    *dv = *dv + xj * *sv;
                }
            }
            for k in 0..i {
                let yk = y[s * n_out + k];
                let lik = l[i * n_out + k];
                let sl = &s_l[(i * n_out + k) * p..(i * n_out + k + 1) * p];
                let dk = &before[k * p..(k + 1) * p];
                for ((dv, sv), dkv) in d.iter_mut().zip(sl).zip(dk) {
                    *dv = *dv + yk * *sv + lik * *dkv;
                }
            }
        }
    }
    let scale = batch_scale(eta, n)?;
    let mut check = F::zero();
    for i in 0..n_out {
        for j in 0..n_in {
            let k_syn = i * n_in + j;
            let wij = w[k_syn];
            acc.iter_mut().for_each(|v| *v = F::zero());
            let (mut value, mut a_w) = (F::zero(), F::zero());
            for s in 0..n {
                let (xj, yi) = (x[s * n_in + j], y[s * n_out + i]);
                let part = ff.partials(xj, yi, wij);
                value = value + part.value;
                a_w = a_w + part.d_w;
                ff.accumulate_param_gradient(xj, yi, wij, F::one(), &mut acc[..pf]);
                let dyi = &dy[(s * n_out + i) * p..(s * n_out + i + 1) * p];
                for (a, d) in acc.iter_mut().zip(dyi) {
                    *a = *a + part.d_y * *d;
                }
            }
            advance(&mut s_w[k_syn * p..(k_syn + 1) * p], acc, a_w, scale);
            w[k_syn] = wij + scale * value;
            check = check + finite_probe(w[k_syn]);
        }
        for k in 0..i {
            let k_syn = i * n_out + k;
            let lik = l[k_syn];
            acc.iter_mut().for_each(|v| *v = F::zero());
            let (mut value, mut a_w) = (F::zero(), F::zero());
            for s in 0..n {
                let (yk, yi) = (y[s * n_out + k], y[s * n_out + i]);
                let part = lat.partials(yk, yi, lik);
                value = value + part.value;
                a_w = a_w + part.d_w;
                lat.param_gradient(yk, yi, lik, &mut pbuf[..pg]);
                for (a, v) in acc[pf..].iter_mut().zip(pbuf.iter()) {
                    *a = *a + *v;
                }
                let dyk = &dy[(s * n_out + k) * p..(s * n_out + k + 1) * p];
                let dyi = &dy[(s * n_out + i) * p..(s * n_out + i + 1) * p];
                for ((a, dk), di) in acc.iter_mut().zip(dyk).zip(dyi) {
                    *a = *a + part.d_x * *dk + part.d_y * *di;
                }
            }
            advance(&mut s_l[k_syn * p..(k_syn + 1) * p], acc, a_w, scale);
            l[k_syn] = lik + scale * value;
            check = check + finite_probe(l[k_syn]);
        }
    }
    finite_or(check, "weights", 0)
}

/// `eta / n`: the rate of a batch-averaged update over `n` samples.
#[inline]
fn batch_scale<F: Float>(eta: F, n: usize) -> Result<F, KernelError> {
    Ok(eta / F::from(n).ok_or(KernelError::OutOfRange { what: "n_samples" })?)
}

/// The argument checks both sensitivity passes share (`p` parameters in all).
#[allow(clippy::too_many_arguments)]
fn check_sensitivity_args<F>(
    shape: LinearShape,
    p: usize,
    x: &[F],
    w: &[F],
    l: &[F],
    s_w: &[F],
    s_l: &[F],
    scratch: &[F],
) -> Result<(), KernelError> {
    shape.check(x, w, l)?;
    check_len("s_w", s_w, shape.n_out * shape.n_in * p)?;
    check_len("s_l", s_l, shape.n_out * shape.n_out * p)?;
    check_len("scratch", scratch, sensitivity_scratch_len(shape, p)?)
}

/// One synapse's sensitivity update `S <- S + scale (acc + a_w S)`, where `acc` holds
/// `sum_s (dpart/dtheta + input partials times dy)` and `a_w = sum_s df/dw`.
#[inline]
fn advance<F: Float>(s: &mut [F], acc: &[F], a_w: F, scale: F) {
    for (sv, a) in s.iter_mut().zip(acc) {
        *sv = *sv + scale * (*a + a_w * *sv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaylorRule;

    #[test]
    fn batch_oja_converges_to_the_first_principal_component() {
        // x along e0 with variance 1 and e1 with variance 0.25 (uncorrelated).
        let shape = LinearShape {
            n_in: 2,
            n_out: 1,
            n_samples: 4,
        };
        let x = [1.0, 0.5, -1.0, -0.5, 1.0, -0.5, -1.0, 0.5];
        let mut w = [0.3, 0.4];
        let mut l = [0.0];
        let mut y = [0.0; 4];
        for _ in 0..2000 {
            batch_epoch(
                &TaylorRule::oja(),
                &NoPlasticity,
                0.1,
                shape,
                &x,
                &mut w,
                &mut l,
                &mut y,
            )
            .unwrap();
        }
        assert!(
            (w[0].abs() - 1.0).abs() < 1e-9 && w[1].abs() < 1e-9,
            "{w:?}"
        );
    }

    #[test]
    fn sensitivity_epoch_matches_plain_epoch_and_shapes_are_checked() {
        let shape = LinearShape {
            n_in: 3,
            n_out: 2,
            n_samples: 5,
        };
        let x: std::vec::Vec<f64> = (0..15).map(|k| ((k * 7 % 11) as f64 - 5.0) / 5.0).collect();
        let (mut w1, mut l1) = ([0.1, -0.2, 0.3, 0.05, 0.1, -0.1], [0.0, 0.0, -0.2, 0.0]);
        let (mut w2, mut l2) = (w1, l1);
        let ff = TaylorRule::<f64>::oja();
        let mut theta = [0.0; 27];
        theta[12] = -1.0;
        let lat = TaylorRule::new(theta);
        let mut y = [0.0; 10];
        batch_epoch(&ff, &lat, 0.1, shape, &x, &mut w1, &mut l1, &mut y).unwrap();
        let p = 54;
        let mut sw = std::vec![0.0; 6 * p];
        let mut sl = std::vec![0.0; 4 * p];
        let mut scratch = std::vec![f64::NAN; sensitivity_scratch_len(shape, p).unwrap()];
        batch_epoch_sensitivity(
            &ff,
            &lat,
            0.1,
            shape,
            &x,
            &mut w2,
            &mut l2,
            &mut sw,
            &mut sl,
            &mut scratch,
        )
        .unwrap();
        // Same update; the plain epoch sums moments, the sensitivity epoch sums per sample.
        for (a, b) in w1.iter().zip(&w2).chain(l1.iter().zip(&l2)) {
            assert!((a - b).abs() <= 1e-14, "{a} {b}");
        }
        assert!(l2[2] != -0.2, "the lateral weight learned");
        let e = batch_epoch(&ff, &lat, 0.1, shape, &x[..14], &mut w1, &mut l1, &mut y);
        assert!(matches!(e, Err(KernelError::Shape { what: "x", .. })));
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        /// The fast pass (D = dM/dtheta, batch sums by moments) against the per-sample
        /// reference, over several epochs so the sensitivities are not zero.
        #[test]
        fn fast_sensitivity_epoch_matches_the_reference(
            n_in in 1usize..5, n_out in 1usize..4, n in 1usize..9,
            tf in proptest::array::uniform27(-0.5f64..0.5),
            tg in proptest::array::uniform27(-0.5f64..0.5),
            vals in proptest::collection::vec(-1.0f64..1.0, 200),
        ) {
            let shape = LinearShape { n_in, n_out, n_samples: n };
            let (ff, lat) = (TaylorRule::new(tf), TaylorRule::new(tg));
            let p = 54;
            let x: std::vec::Vec<f64> = (0..n * n_in).map(|k| vals[k % 200]).collect();
            let w0: std::vec::Vec<f64> = (0..n_out * n_in).map(|k| 0.3 * vals[(k + 37) % 200]).collect();
            let l0: std::vec::Vec<f64> = (0..n_out * n_out).map(|k| 0.3 * vals[(k + 91) % 200]).collect();
            let len = sensitivity_scratch_len(shape, p).unwrap();
            let (mut wa, mut la, mut wb, mut lb) = (w0.clone(), l0.clone(), w0, l0);
            let (mut swa, mut sla) = (std::vec![0.0; n_out * n_in * p], std::vec![0.0; n_out * n_out * p]);
            let (mut swb, mut slb) = (swa.clone(), sla.clone());
            let (mut sa, mut sb) = (std::vec![f64::NAN; len], std::vec![f64::NAN; len]);
            for _ in 0..4 {
                let ra = batch_epoch_sensitivity(&ff, &lat, 0.2, shape, &x, &mut wa, &mut la, &mut swa, &mut sla, &mut sa);
                let rb = batch_epoch_sensitivity_reference(&ff, &lat, 0.2, shape, &x, &mut wb, &mut lb, &mut swb, &mut slb, &mut sb);
                prop_assert_eq!(ra.is_ok(), rb.is_ok());
            }
            let close = |a: &f64, b: &f64| (a - b).abs() <= 1e-10 * (1.0 + b.abs());
            for (a, b) in wa.iter().zip(&wb).chain(la.iter().zip(&lb)) {
                prop_assert!(close(a, b), "weights {a} {b}");
            }
            for (a, b) in swa.iter().zip(&swb).chain(sla.iter().zip(&slb)) {
                prop_assert!(close(a, b), "sensitivities {a} {b}");
            }
            prop_assert!(swa.iter().any(|v| *v != 0.0));
        }
    }
}
