//! Reusable proptest strategies for plasticity rules and plastic layers.
//!
//! The project's own property tests use these; a rule designer can use them for theirs:
//!
//! ```
//! use proptest::prelude::*;
//! use synplast::strategies::{taylor_rule, trajectory_case};
//! proptest!(ProptestConfig::with_cases(4), |(rule in taylor_rule(0.3), case in trajectory_case(4, 3, 5))| {
//!     prop_assert_eq!(case.w0.len(), case.shape.n_in * case.shape.n_out);
//!     prop_assert!(rule.theta.iter().all(|t| t.abs() <= 0.3));
//! });
//! ```

use proptest::prelude::*;
use synplast_kernels::gradient::{Observation, Shape};
use synplast_kernels::TaylorRule;

/// A Taylor rule with every coefficient uniform in `[-scale, scale]`, all trainable.
pub fn taylor_rule(scale: f64) -> impl Strategy<Value = TaylorRule<f64>> {
    proptest::array::uniform27(-scale..=scale).prop_map(TaylorRule::new)
}

/// A small layer problem: its shape, initial weights, inputs, target activity and mask.
#[derive(Debug, Clone)]
pub struct TrajectoryCase {
    /// Dimensions.
    pub shape: Shape,
    /// Initial weights `n_out x n_in`.
    pub w0: Vec<f64>,
    /// Inputs `steps x n_in`.
    pub x: Vec<f64>,
    /// Observed activity `steps x n_out` (in (0, 1)).
    pub y_obs: Vec<f64>,
    /// Loss weight per output neuron; at least one is 1.
    pub mask: Vec<f64>,
}

impl TrajectoryCase {
    /// The observation view the gradient kernels take.
    pub fn observation(&self) -> Observation<'_, f64> {
        Observation {
            x: &self.x,
            y_obs: &self.y_obs,
            mask: &self.mask,
        }
    }
}

/// Random problems with `1..=max_in` inputs, `1..=max_out` outputs, `1..=max_steps` steps,
/// weights in `[-0.5, 0.5]`, inputs in `[-1, 1]`, targets in `[0.05, 0.95]`.
pub fn trajectory_case(
    max_in: usize,
    max_out: usize,
    max_steps: usize,
) -> impl Strategy<Value = TrajectoryCase> {
    (1..=max_in, 1..=max_out, 1..=max_steps).prop_flat_map(|(n_in, n_out, steps)| {
        let shape = Shape { n_in, n_out, steps };
        (
            proptest::collection::vec(-0.5f64..0.5, n_in * n_out),
            proptest::collection::vec(-1.0f64..1.0, steps * n_in),
            proptest::collection::vec(0.05f64..0.95, steps * n_out),
            proptest::collection::vec(proptest::bool::ANY, n_out),
            0..n_out,
        )
            .prop_map(move |(w0, x, y_obs, observed, always)| {
                let mask = observed
                    .iter()
                    .enumerate()
                    .map(|(i, &o)| if o || i == always { 1.0 } else { 0.0 })
                    .collect();
                TrajectoryCase {
                    shape,
                    w0,
                    x,
                    y_obs,
                    mask,
                }
            })
    })
}
