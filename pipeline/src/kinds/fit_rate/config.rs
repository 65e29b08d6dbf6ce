//! The config of `fit_rate`: types, defaults and validation.

use crate::config::terms::{mask_from, term_key, theta_from};
use crate::config::{
    bad, default_lr, validate_name, zero_nn, Count, Finite, Fraction, NonNegative, Positive,
    MAX_DATA_VALUES, MAX_NEURONS, MAX_SYNAPSES,
};
use crate::fit::GradientMethod;
use crate::kind::KindName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synplast_kernels::taylor::TAYLOR_TERMS;

fn one() -> Finite {
    Finite(1.0)
}
fn full() -> Fraction {
    Fraction(1.0)
}

/// The plastic layer (docs/fit_rate.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Number of inputs.
    pub n_in: Count,
    /// Number of outputs.
    pub n_out: Count,
    /// Plasticity rate per step (1 in the paper's code).
    #[serde(default = "one")]
    pub eta: Finite,
    /// Std of the initial weights; default `1 / (n_in + n_out)`.
    #[serde(default)]
    pub w0_std: Option<Positive>,
}

/// Inputs `x ~ N(0, std^2)` per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Input standard deviation `s`.
    pub std: Positive,
}

/// A Taylor rule given by its non-zero terms: keys are monomials (`x*y`, `y^2*w`, `1`) or the
/// three digits `abc` of `theta[a][b][c]` (`110`, `021`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Non-zero coefficients by term.
    pub terms: BTreeMap<String, Finite>,
}

/// The rule being fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentConfig {
    /// Initial coefficients `~ N(0, init_std^2)`.
    #[serde(default = "zero_nn")]
    pub init_std: NonNegative,
    /// Trainable terms (same keys as [`RuleConfig::terms`]); all 27 when absent.
    #[serde(default)]
    pub trainable: Option<Vec<String>>,
}

/// Training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Number of training trajectories.
    pub trajectories: Count,
    /// Steps per trajectory.
    pub steps: Count,
    /// Std of Gaussian noise added to the observed activity.
    #[serde(default = "zero_nn")]
    pub noise_scale: NonNegative,
    /// Fraction of output neurons observed (at least one is).
    #[serde(default = "full")]
    pub observed_fraction: Fraction,
}

/// The optimiser: Adam (betas 0.9/0.999, eps 1e-8), one step per trajectory, then optional
/// Levenberg-Marquardt refinement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Adam passes over the training trajectories.
    pub epochs: Count,
    /// Adam learning rate.
    #[serde(default = "default_lr")]
    pub lr: Positive,
    /// Final learning rate: when set, the rate decays geometrically from `lr` to `lr_final`
    /// over the run (per Adam step); constant when absent.
    #[serde(default)]
    pub lr_final: Option<Positive>,
    /// L1 penalty on theta.
    #[serde(default = "zero_nn")]
    pub l1: NonNegative,
    /// Gradient pass.
    #[serde(default)]
    pub gradient: GradientMethod,
    /// Levenberg-Marquardt iterations after Adam, on the whole training set with the exact
    /// Gauss-Newton matrix from the forward-sensitivity pass (0: none). They minimise the data
    /// loss alone, so they require `l1: 0`.
    #[serde(default)]
    pub refine_iterations: u32,
}

/// Evaluation on fresh trajectories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Number of fresh trajectories.
    pub trajectories: Count,
}

/// A robustness grid: every pair of noise scale and observed fraction is fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Noise scales (rows).
    pub noise_scale: Vec<NonNegative>,
    /// Observed fractions (columns).
    pub observed_fraction: Vec<Fraction>,
}

/// Experiment kind `fit_rate` (docs/fit_rate.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRateConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`): the run directory's parent.
    pub name: String,
    /// Always `fit_rate`.
    pub kind: KindName<super::FitRate>,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Plastic layer.
    pub network: NetworkConfig,
    /// Inputs.
    pub input: InputConfig,
    /// Ground-truth rule that generates the data.
    pub teacher: RuleConfig,
    /// Fitted rule.
    pub student: StudentConfig,
    /// Training data.
    pub data: DataConfig,
    /// Optimiser.
    pub fit: FitConfig,
    /// Evaluation.
    pub evaluation: EvaluationConfig,
    /// Optional robustness grid.
    #[serde(default)]
    pub grid: Option<GridConfig>,
}

/// Semantic checks of a `fit_rate` config: the field path and the problem.
pub fn validate(c: &FitRateConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    for (f, v) in [
        ("network.n_in", c.network.n_in),
        ("network.n_out", c.network.n_out),
    ] {
        if v.0 > MAX_NEURONS {
            return bad(f, format!("must be at most {MAX_NEURONS}, got {}", v.0));
        }
    }
    let n_syn = c.network.n_in.0 as u64 * c.network.n_out.0 as u64;
    if n_syn > MAX_SYNAPSES {
        return bad(
            "network",
            format!("n_in * n_out = {n_syn} synapses; at most {MAX_SYNAPSES} are supported"),
        );
    }
    for key in c.teacher.terms.keys() {
        if term_key(key).is_none() {
            return bad(
                &format!("teacher.terms.{key}"),
                format!("unknown term `{key}`; use a monomial such as x*y or y^2*w, or three digits abc in 0..=2"),
            );
        }
    }
    if let Some(tr) = &c.student.trainable {
        if tr.is_empty() {
            return bad("student.trainable", "must name at least one term");
        }
        for key in tr {
            if term_key(key).is_none() {
                return bad(
                    "student.trainable",
                    format!("unknown term `{key}`; use a monomial such as x*y, or digits abc"),
                );
            }
        }
    }
    for (f, v, max) in [
        ("data.trajectories", c.data.trajectories, 1_000_000u32),
        ("data.steps", c.data.steps, 1_000_000),
        (
            "evaluation.trajectories",
            c.evaluation.trajectories,
            1_000_000,
        ),
        ("fit.epochs", c.fit.epochs, 10_000_000),
    ] {
        if v.0 > max {
            return bad(f, format!("must be at most {max}, got {}", v.0));
        }
    }
    let t = c.data.steps.0 as u64;
    let per_traj = t * (c.network.n_in.0 as u64 + c.network.n_out.0 as u64) + n_syn;
    for (f, n) in [
        ("data.trajectories", c.data.trajectories.0 as u64),
        ("evaluation.trajectories", 1),
    ] {
        if per_traj.saturating_mul(n) > MAX_DATA_VALUES {
            return bad(
                f,
                format!(
                    "the data would hold {} values; at most {MAX_DATA_VALUES} are supported",
                    per_traj.saturating_mul(n)
                ),
            );
        }
    }
    if (t + 1).saturating_mul(n_syn) > MAX_DATA_VALUES {
        return bad(
            "data.steps",
            "steps * synapses is too large for the adjoint pass's stored trajectory",
        );
    }
    if c.fit.refine_iterations > 0 && c.fit.l1.0 > 0.0 {
        return bad(
            "fit.refine_iterations",
            "Levenberg-Marquardt refinement minimises the data loss without L1; set l1: 0 or refine_iterations: 0",
        );
    }
    if c.fit.refine_iterations > 100_000 {
        return bad("fit.refine_iterations", "must be at most 100000");
    }
    if let Some(g) = &c.grid {
        for (f, n) in [
            ("grid.noise_scale", g.noise_scale.len()),
            ("grid.observed_fraction", g.observed_fraction.len()),
        ] {
            if n == 0 || n > 32 {
                return bad(f, format!("must list 1 to 32 values, got {n}"));
            }
        }
    }
    Ok(())
}

impl FitRateConfig {
    /// The teacher's 27 coefficients.
    pub fn teacher_theta(&self) -> [f64; TAYLOR_TERMS] {
        theta_from(self.teacher.terms.iter().map(|(k, v)| (k, v.0)), term_key)
    }
    /// The student's trainable mask.
    pub fn trainable_mask(&self) -> [bool; TAYLOR_TERMS] {
        mask_from(self.student.trainable.as_deref(), term_key)
    }
}
