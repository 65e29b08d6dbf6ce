//! # synplast-kernels
//!
//! `no_std`, allocation-free kernels for synaptic plasticity, generic over
//! [`num_traits::Float`] (`f64` in the pipeline, `f32` on a rig).
//!
//! | concept | module | equation |
//! |---|---|---|
//! | plasticity rule interface | [`rule`] | `dw = f(x, y, w; theta)` |
//! | Taylor (Volterra) rule, Oja's rule | [`taylor`] | `dw = sum theta[a][b][c] x^a y^b w^c` |
//! | plastic rate layer | [`rate`] | `y = sigmoid(W x)`, `W <- W + eta dW` |
//! | whole-trajectory loss gradients | [`gradient`] | adjoint and forward sensitivities |
//! | recorded activity: gaps, affine readout, unknown `W_0`, checkpointed adjoint | [`recorded`] | `yhat = g sigmoid(W x) + b` |
//! | reward rules (81-term Taylor, MLP), expected reward | [`reward`] | `dw = f(x, y, w, r; theta)`, `r = R - E[R]` |
//! | behaving network, session gradients | [`behavior`] | `h = tanh(W x)`, `p = sigmoid(c sum h)` |
//! | noise-driven pruning, noisy dynamics, running covariance | [`prune`] | `p = min(1, rho s)`, `s = |w| Var(x_i - sign(w) x_j)` |
//! | conductance-based LIF, spike delivery, traces, doublet rule | [`spiking`] | `tau_m dv/dt = g_e (E_e - v) + ...` |
//! | linear neurons, lateral layer, batch rules | [`linear`] | `y = W x + L y`, batch-averaged updates |
//!
//! Conventions (see `docs/kernels.md`):
//! - parameters (`&self`: rule coefficients, learning rates) are apart from state (`&mut`:
//!   weights); buffers are provided by the caller and their lengths are checked once per call,
//!   a mismatch is returned as [`KernelError::Shape`];
//! - kernels never allocate and never panic on data: non-finite inputs or results are returned
//!   as [`KernelError::NonFinite`];
//! - weight matrices are row-major, `W[i * n_in + j]` is the synapse from input `j` to output `i`.
//!
//! ```
//! use synplast_kernels::{rate, taylor::TaylorRule};
//! let oja = TaylorRule::<f64>::oja();
//! let mut w = [0.1, -0.2, 0.05, 0.3]; // 2 outputs x 2 inputs
//! let mut y = [0.0; 2];
//! rate::rate_step(&oja, 1.0, &mut w, &[0.5, -0.5], &mut y).unwrap();
//! assert!(y.iter().all(|v| *v > 0.0 && *v < 1.0));
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod behavior;
pub mod choices;
pub mod error;
pub mod gradient;
pub mod linear;
pub mod prune;
pub mod rate;
pub mod recorded;
pub mod reward;
pub mod rule;
pub mod spiking;
pub mod taylor;
#[cfg(test)]
mod test_rng;

pub use error::KernelError;
pub use rule::{DifferentiableRule, PlasticityRule, RulePartials};
pub use taylor::{OjaRule, TaylorRule, TAYLOR_TERMS};
