//! The config of `meta_function`: the inner task, the outer optimiser, the held-out sets.

use crate::config::{bad, validate_name, Count, Finite, NonNegative, Positive, MAX_DATA_VALUES};
use crate::kind::KindName;
use serde::{Deserialize, Serialize};

/// What the meta-learned rule must make the network do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaLoss {
    /// One linear neuron; loss `min(|pc1 - w|, |pc1 + w|)`.
    Pc1,
    /// `n_out` neurons with a hierarchical lateral layer; mean over outputs `i` of
    /// `min(|pc_i - w_i|, |pc_i + w_i|)`; the lateral rule is meta-learned too.
    Subspace,
}

/// The inner loop of `meta_function` (docs/meta_function.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaTaskConfig {
    /// Task loss.
    pub loss: MetaLoss,
    /// Inputs.
    pub n_in: Count,
    /// Outputs (1 for `pc1`).
    #[serde(default = "one_count")]
    pub n_out: Count,
    /// Variances `D` of the inputs along a random rotation `Q`: `x ~ N(0, Q^T D Q)`.
    pub variances: Vec<NonNegative>,
    /// Data sets (each with its own rotation, samples and initial weights).
    pub datasets: Count,
    /// Samples per data set.
    pub samples: Count,
    /// Epochs: the rule is applied once per epoch, averaged over the samples.
    pub epochs: Count,
    /// Plasticity rate.
    pub eta: Positive,
    /// Std of the initial feedforward weights.
    #[serde(default = "default_meta_w0")]
    pub w0_std: Positive,
}

fn one_count() -> Count {
    Count(1)
}
fn default_meta_w0() -> Positive {
    Positive(0.1)
}
fn default_theta0_std() -> NonNegative {
    NonNegative(0.01)
}

/// Outer optimiser of `meta_function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaMethod {
    /// CMA-ES on the objective (population and sigma0 below).
    Cmaes,
    /// Adam on the exact gradient through the whole inner loop.
    Gradient,
}

/// Outer loop of `meta_function`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaOptimizerConfig {
    /// Method.
    pub method: MetaMethod,
    /// Outer iterations (CMA-ES generations or gradient steps), at most.
    pub iterations: Count,
    /// Initial coefficients `~ N(0, theta0_std^2)`.
    #[serde(default = "default_theta0_std")]
    pub theta0_std: NonNegative,
    /// Explicit initial coefficients (27 for `pc1`, 54 for `subspace`: feedforward, then
    /// lateral), for example a previous run's `theta`; replaces the random start.
    #[serde(default)]
    pub theta0: Option<Vec<Finite>>,
    /// CMA-ES population `lambda` (default 50).
    #[serde(default)]
    pub population: Option<Count>,
    /// CMA-ES initial step size (default 0.1).
    #[serde(default)]
    pub sigma0: Option<Positive>,
    /// Adam learning rate for `gradient` (default 0.01).
    #[serde(default)]
    pub lr: Option<Positive>,
    /// Stop once the current estimate's task loss (without L1) is at most this.
    #[serde(default)]
    pub stop_task_loss: Option<NonNegative>,
    /// Update of method `gradient`: Adam (default) or heavy-ball momentum 0.9.
    #[serde(default)]
    pub step: Option<GradientStep>,
    /// Sequential thresholding for method `gradient` (with `threshold_every`): every
    /// `threshold_every` iterations, coefficients smaller than this in magnitude are set to
    /// zero and the optimiser's moments restart; every coefficient stays trainable.
    #[serde(default)]
    pub threshold: Option<Positive>,
    /// Iterations between two thresholdings (with `threshold`).
    #[serde(default)]
    pub threshold_every: Option<Count>,
}

/// The update rule of the `gradient` method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientStep {
    /// Adam (betas 0.9/0.999, eps 1e-8): per-coefficient normalised steps.
    Adam,
    /// `v <- 0.9 v + g`, `theta <- theta - lr v`: steps proportional to the gradient.
    Momentum,
}

/// Experiment kind `meta_function` (docs/meta_function.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaFunctionConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `meta_function`.
    pub kind: KindName<super::MetaFunction>,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Inner loop.
    pub task: MetaTaskConfig,
    /// L1 penalty on all meta-learned coefficients.
    #[serde(default = "default_meta_l1")]
    pub l1: NonNegative,
    /// Outer loop.
    pub optimizer: MetaOptimizerConfig,
    /// Held-out data sets for the final evaluation.
    pub evaluation: EvaluationDatasets,
}

fn default_meta_l1() -> NonNegative {
    NonNegative(0.1)
}

/// Held-out evaluation of `meta_function`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationDatasets {
    /// Fresh data sets.
    pub datasets: Count,
}
/// Semantic checks of a `meta_function` config: the field path and the problem.
pub fn validate(c: &MetaFunctionConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    let t = &c.task;
    if t.n_in.0 > 64 {
        return bad("task.n_in", format!("must be at most 64, got {}", t.n_in.0));
    }
    if t.variances.len() != t.n_in.get() {
        return bad(
            "task.variances",
            format!(
                "must list n_in = {} variances, got {}",
                t.n_in.0,
                t.variances.len()
            ),
        );
    }
    match t.loss {
        MetaLoss::Pc1 if t.n_out.0 != 1 => {
            return bad(
                "task.n_out",
                "the pc1 loss has one output; set n_out: 1 or loss: subspace",
            );
        }
        MetaLoss::Subspace if t.n_out.0 < 2 || t.n_out.0 > t.n_in.0 => {
            return bad("task.n_out", "the subspace loss needs 2 <= n_out <= n_in");
        }
        _ => {}
    }
    for (f, v, max) in [
        ("task.datasets", t.datasets, 10_000u32),
        ("task.samples", t.samples, 1_000_000),
        ("task.epochs", t.epochs, 1_000_000),
        ("optimizer.iterations", c.optimizer.iterations, 1_000_000),
        ("evaluation.datasets", c.evaluation.datasets, 10_000),
    ] {
        if v.0 > max {
            return bad(f, format!("must be at most {max}, got {}", v.0));
        }
    }
    if t.samples.0 as u64 * t.n_in.0 as u64 * (t.datasets.0 as u64 + c.evaluation.datasets.0 as u64)
        > MAX_DATA_VALUES
    {
        return bad("task.samples", "the data sets would be too large");
    }
    let o = &c.optimizer;
    if let Some(t0) = &o.theta0 {
        let want = if t.loss == MetaLoss::Pc1 { 27 } else { 54 };
        if t0.len() != want {
            return bad(
                "optimizer.theta0",
                format!(
                    "must list {want} coefficients for this loss, got {}",
                    t0.len()
                ),
            );
        }
    }
    match o.method {
        MetaMethod::Cmaes => {
            if o.lr.is_some() {
                return bad(
                    "optimizer.lr",
                    "lr is for method: gradient; CMA-ES uses population and sigma0",
                );
            }
            if o.step.is_some() {
                return bad("optimizer.step", "step is for method: gradient");
            }
            if o.threshold.is_some() || o.threshold_every.is_some() {
                let f = if o.threshold.is_some() {
                    "optimizer.threshold"
                } else {
                    "optimizer.threshold_every"
                };
                return bad(f, "sequential thresholding is for method: gradient");
            }
            if o.population.is_some_and(|p| p.0 < 2 || p.0 > 10_000) {
                return bad("optimizer.population", "must be 2 to 10000");
            }
        }
        MetaMethod::Gradient => {
            if o.population.is_some() || o.sigma0.is_some() {
                let f = if o.population.is_some() {
                    "optimizer.population"
                } else {
                    "optimizer.sigma0"
                };
                return bad(f, "population and sigma0 are for method: cmaes");
            }
            match (o.threshold, o.threshold_every) {
                (Some(_), None) => {
                    return bad(
                        "optimizer.threshold",
                        "needs optimizer.threshold_every (iterations between thresholdings)",
                    )
                }
                (None, Some(_)) => return bad(
                    "optimizer.threshold_every",
                    "needs optimizer.threshold (the magnitude below which coefficients are zeroed)",
                ),
                (Some(_), Some(n)) if n.0 >= o.iterations.0 => {
                    return bad(
                        "optimizer.threshold_every",
                        format!(
                            "must be below optimizer.iterations ({}), or no thresholding happens",
                            o.iterations.0
                        ),
                    )
                }
                _ => {}
            }
        }
    }
    Ok(())
}
