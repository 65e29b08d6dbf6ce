//! The interface every local plasticity rule implements.
//!
//! A rate-based rule maps the presynaptic activity `x`, the postsynaptic activity `y` and the
//! current weight `w` of one synapse to a weight change `dw = f(x, y, w; theta)`. Gradients of
//! whole trajectories ([`crate::gradient`]) need the partial derivatives of `f` with respect to
//! its inputs and its parameters `theta`, which a [`DifferentiableRule`] provides in closed form.

use num_traits::Float;

/// Value and input partial derivatives of a rule at one synapse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RulePartials<F> {
    /// `f(x, y, w)`.
    pub value: F,
    /// `df/dx`.
    pub d_x: F,
    /// `df/dy`.
    pub d_y: F,
    /// `df/dw`.
    pub d_w: F,
}

/// A local rule `dw = f(x, y, w)`; parameters live in `&self`, never changed by evaluation.
pub trait PlasticityRule<F: Float> {
    /// The weight change `f(x, y, w)` (before the learning rate `eta` is applied).
    fn dw(&self, x: F, y: F, w: F) -> F;
    /// The weight change and its partial derivatives with respect to `x`, `y` and `w`.
    fn partials(&self, x: F, y: F, w: F) -> RulePartials<F>;

    /// `w_j <- w_j + eta f(x_j, y, w_j)` along one row (the synapses onto one neuron of
    /// activity `y`). The default calls [`Self::dw`] per synapse; a rule may override it with a
    /// faster evaluation that gives the same values up to rounding (tested against the default).
    #[inline]
    fn update_row(&self, eta: F, y: F, x: &[F], w: &mut [F]) {
        for (wj, &xj) in w.iter_mut().zip(x) {
            *wj = *wj + eta * self.dw(xj, y, *wj);
        }
    }

    /// `sum_s f(x_s, y_s, w)` over paired samples of one synapse (a batch-averaged update).
    /// The default calls [`Self::dw`] per pair; a rule may override it with an equivalent.
    #[inline]
    fn dw_sum<I: Iterator<Item = (F, F)>>(&self, pairs: I, w: F) -> F {
        pairs.fold(F::zero(), |acc, (x, y)| acc + self.dw(x, y, w))
    }
}

/// A rule with a flat parameter vector and closed-form derivatives with respect to it.
pub trait DifferentiableRule<F: Float>: PlasticityRule<F> {
    /// Number of parameters.
    fn n_params(&self) -> usize;
    /// The parameters, in the rule's documented flat order.
    fn params(&self) -> &[F];
    /// The parameters, writable (used by optimisers).
    fn params_mut(&mut self) -> &mut [F];
    /// Writes `df/dtheta_k` into `out[k]`; `out.len()` must be [`Self::n_params`] (extra
    /// entries are left untouched, missing ones are skipped).
    fn param_gradient(&self, x: F, y: F, w: F, out: &mut [F]);
    /// Adds `scale * df/dtheta_k` to `acc[k]` (the adjoint pass's accumulation).
    fn accumulate_param_gradient(&self, x: F, y: F, w: F, scale: F, acc: &mut [F]);
    /// Whether parameter `k` is trainable (a mask); a fit keeps the others fixed.
    fn is_trainable(&self, k: usize) -> bool;

    /// One row of the forward-sensitivity pass (see [`crate::gradient`]): for each synapse `j`,
    /// with `f` and its partials at `(x_j, y, w_j)`,
    /// `s_j <- s_j + eta (df/dtheta + f_y dy + f_w s_j)` and `w_j <- w_j + eta f`. `s` holds
    /// `P` sensitivities per synapse, synapse-major; `dy` is `dy/dtheta` of this row's neuron;
    /// `pbuf` is `P` scratch. The default works per synapse; a rule may override it.
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
        pbuf: &mut [F],
    ) {
        let p = self.n_params();
        for ((wj, &xj), sj) in w.iter_mut().zip(x).zip(s.chunks_exact_mut(p.max(1))) {
            let part = self.partials(xj, y, *wj);
            self.param_gradient(xj, y, *wj, pbuf);
            for ((sk, fk), dk) in sj.iter_mut().zip(pbuf.iter()).zip(dy) {
                *sk = *sk + eta * (*fk + part.d_y * *dk + part.d_w * *sk);
            }
            *wj = *wj + eta * part.value;
        }
    }

    /// Batch sums over paired samples `(x_s, y_s)` of one synapse with `w` fixed (the
    /// batch-averaged sensitivity pass of [`crate::linear`]): adds `sum_s df/dtheta` to
    /// `grad`, calls `each(f_x, f_y)` for every pair in order, and returns
    /// `(sum_s f, sum_s f_w)`. The default works per pair through [`PlasticityRule::partials`]
    /// and [`Self::accumulate_param_gradient`]; a rule may override it with an equivalent
    /// (tested against the default).
    #[inline]
    fn batch_sums<I: Iterator<Item = (F, F)>, C: FnMut(F, F)>(
        &self,
        pairs: I,
        w: F,
        grad: &mut [F],
        mut each: C,
    ) -> (F, F) {
        let (mut value, mut a_w) = (F::zero(), F::zero());
        for (x, y) in pairs {
            let part = self.partials(x, y, w);
            value = value + part.value;
            a_w = a_w + part.d_w;
            self.accumulate_param_gradient(x, y, w, F::one(), grad);
            each(part.d_x, part.d_y);
        }
        (value, a_w)
    }

    /// One row of the adjoint pass (see [`crate::gradient`]): for each synapse `j` with
    /// `l = lambda_j != 0`, adds `eta l df/dtheta` to `grad`, sets
    /// `lambda_j = l (1 + eta f_w)`, and returns `sum_j l f_y`. The default works per synapse
    /// through [`PlasticityRule::partials`] and [`Self::accumulate_param_gradient`]; a rule may
    /// override it with a faster equivalent.
    #[inline]
    fn adjoint_row(&self, eta: F, y: F, x: &[F], w: &[F], lambda: &mut [F], grad: &mut [F]) -> F {
        let mut acc_y = F::zero();
        for ((lj, &wj), &xj) in lambda.iter_mut().zip(w).zip(x) {
            let l = *lj;
            if l != F::zero() {
                let p = self.partials(xj, y, wj);
                acc_y = acc_y + l * p.d_y;
                self.accumulate_param_gradient(xj, y, wj, eta * l, grad);
                *lj = l + eta * l * p.d_w;
            }
        }
        acc_y
    }
}
