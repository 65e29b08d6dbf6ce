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
}
