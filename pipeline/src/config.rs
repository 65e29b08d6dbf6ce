//! Experiment files: parsing with positions, validation, overrides, seed and hash.
//!
//! A config is read with serde-saphyr into a typed struct that rejects unknown keys. Every
//! problem becomes a [`ConfigError`] printed as `file:line:col: field: problem`. Nothing here
//! writes files.

use crate::yamlpath::{locate, path_at};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

/// The experiment kinds this build knows, with a one-line description.
pub const KINDS: &[(&str, &str)] = &[
    (
        "fit_rate",
        "infer a Taylor plasticity rule from the activity of a plastic rate layer (Mehta et al. 2024, fig. 2)",
    ),
    (
        "fit_behavior",
        "infer a reward-modulated rule (81-term Taylor or MLP) from choices, simulated or of 18 flies (Mehta et al. 2024, fig. 3)",
    ),
    (
        "prune",
        "prune a linear network's synapses by noise-driven covariance, keeping its spectrum (Moore & Chaudhuri 2020)",
    ),
    (
        "spiking",
        "simulate a spiking E/I network with doublet STDP: the COBA benchmark network (Brette et al. 2007)",
    ),
    (
        "rule_filter",
        "draw doublet rules from a box prior, simulate each in the fSBI network, keep the plausible ones (Confavreux et al. 2023)",
    ),
    (
        "meta_function",
        "meta-learn a Taylor rule that makes a linear network find principal components (Confavreux et al. 2020)",
    ),
];

/// Largest accepted input or output count.
pub const MAX_NEURONS: u32 = 100_000;
/// Largest accepted synapse count `n_in * n_out`.
pub const MAX_SYNAPSES: u64 = 10_000_000;
/// Largest accepted number of stored values for a data set (about 4 GiB of `f64`).
pub const MAX_DATA_VALUES: u64 = 500_000_000;

/// A problem in an experiment file or an override, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file (or `<override>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Dotted field path (empty when the problem is the whole document).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            "(document)"
        } else {
            &self.field
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, field, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

macro_rules! bounded_float {
    ($(#[$doc:meta])* $name:ident, $ok:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(pub f64);
        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from(v: f64) -> Result<Self, String> {
                let ok: fn(f64) -> bool = $ok;
                if v.is_finite() && ok(v) {
                    Ok(Self(v))
                } else {
                    Err(format!("must be {}, got {}", $what, v))
                }
            }
        }
        impl From<$name> for f64 {
            fn from(v: $name) -> f64 {
                v.0
            }
        }
    };
}

bounded_float!(
    /// A finite number.
    Finite, |_| true, "a finite number");
bounded_float!(
    /// A finite number `> 0`.
    Positive, |v| v > 0.0, "a finite number > 0");
bounded_float!(
    /// A finite number `>= 0`.
    NonNegative, |v| v >= 0.0, "a finite number >= 0");
bounded_float!(
    /// A number in `(0, 1]`.
    Fraction, |v| v > 0.0 && v <= 1.0, "in (0, 1]");

/// A count `>= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Count(pub u32);

impl TryFrom<u64> for Count {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        if v == 0 {
            Err("must be a whole number >= 1, got 0".into())
        } else {
            u32::try_from(v)
                .map(Count)
                .map_err(|_| format!("must be at most {}, got {v}", u32::MAX))
        }
    }
}

impl From<Count> for u64 {
    fn from(v: Count) -> u64 {
        v.0 as u64
    }
}

impl Count {
    /// As `usize`.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

fn one() -> Finite {
    Finite(1.0)
}
fn default_lr() -> Positive {
    Positive(1e-3)
}
fn full() -> Fraction {
    Fraction(1.0)
}

/// The plastic layer (DESIGN §3.2).
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

/// Which gradient pass the fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientMethod {
    /// Reverse pass over the stored trajectory.
    #[default]
    Adjoint,
    /// Forward sensitivities.
    Forward,
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

fn zero_nn() -> NonNegative {
    NonNegative(0.0)
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

/// Experiment kind `fit_rate` (DESIGN §3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRateConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`): the run directory's parent.
    pub name: String,
    /// Always `fit_rate`.
    pub kind: String,
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

/// The inner loop of `meta_function` (DESIGN §3.4).
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

/// Experiment kind `meta_function` (DESIGN §3.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaFunctionConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `meta_function`.
    pub kind: String,
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

/// The behaving network of DESIGN §3.3: `h = tanh(W x)`, `p = sigmoid(readout sum h)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorNetworkConfig {
    /// Hidden units `H`.
    #[serde(default = "ten")]
    pub hidden: Count,
    /// Plasticity rate; default `1 / n_in = 0.5`.
    #[serde(default)]
    pub eta: Option<Finite>,
    /// Readout weight of every hidden unit; default `5 / H`.
    #[serde(default)]
    pub readout: Option<Finite>,
    /// Std of the initial plastic weights `W0 ~ N(0, std^2)`.
    #[serde(default = "w0_behavior")]
    pub w0_std: NonNegative,
    /// Weights saturate at `+-w_clip`, so a candidate rule that would grow them without bound
    /// during a fit gives a finite loss instead of a numerical blow-up.
    #[serde(default = "w_clip")]
    pub w_clip: Positive,
}

fn w_clip() -> Positive {
    Positive(100.0)
}

fn ten() -> Count {
    Count(10)
}
fn w0_behavior() -> NonNegative {
    NonNegative(0.01)
}

/// Odor inputs: `x = odor_scale * one_hot(odor) + N(0, noise_std^2)` per presentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdorInputConfig {
    /// Amplitude of the presented odor's input.
    #[serde(default = "odor_scale")]
    pub odor_scale: Positive,
    /// Std of the Gaussian input noise.
    #[serde(default = "odor_noise")]
    pub noise_std: NonNegative,
}

fn odor_scale() -> Positive {
    Positive(0.75)
}
fn odor_noise() -> NonNegative {
    NonNegative(0.05)
}

/// One block of the baited task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// Trials in the block.
    pub trials: Count,
    /// Probability that a reward is assigned to odor A and to odor B at a trial's start.
    pub reward_probability: [Probability; 2],
}

bounded_float!(
    /// A probability in `[0, 1]`.
    Probability, |v| (0.0..=1.0).contains(&v), "in [0, 1]");

/// Simulated sessions of the baited task, generated by a ground-truth reward rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedBehaviorConfig {
    /// The ground-truth rule's non-zero terms: monomials of `x, y, w, r` (`x*r`, `r^2*y`, `1`)
    /// or the four digits `abcd` of `theta[a][b][c][d]`.
    pub teacher: BTreeMap<String, Finite>,
    /// Training sessions.
    pub trajectories: Count,
    /// Blocks of the task; default the paper's three blocks of 80 trials with reward
    /// probabilities (A, B) = (0.2, 0.8), (0.9, 0.1), (0.2, 0.8).
    #[serde(default = "default_blocks")]
    pub blocks: Vec<BlockConfig>,
    /// Presentations after which a trial ends without an accept (no reward, no update).
    #[serde(default = "fifty")]
    pub max_presentations: Count,
}

fn fifty() -> Count {
    Count(50)
}

fn default_blocks() -> Vec<BlockConfig> {
    [(0.2, 0.8), (0.9, 0.1), (0.2, 0.8)]
        .iter()
        .map(|&(a, b)| BlockConfig {
            trials: Count(80),
            reward_probability: [Probability(a), Probability(b)],
        })
        .collect()
}

/// The per-fly CSVs of `../shared/data/drosophila` (see its README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FliesConfig {
    /// Directory holding `fly01.csv` ... `fly18.csv`, relative to the working directory.
    #[serde(default = "fly_dir")]
    pub dir: String,
    /// Fly numbers to fit; all 18 when absent.
    #[serde(default)]
    pub ids: Option<Vec<Count>>,
}

fn fly_dir() -> String {
    "../shared/data/drosophila".into()
}

/// Where the choices come from: exactly one of `simulated` or `flies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorDataConfig {
    /// Simulated sessions of the baited task.
    #[serde(default)]
    pub simulated: Option<SimulatedBehaviorConfig>,
    /// Recorded fly choices.
    #[serde(default)]
    pub flies: Option<FliesConfig>,
}

/// The family of the fitted rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BehaviorRuleKind {
    /// 81-term reward Taylor rule.
    Taylor,
    /// `[x, y, w, r] -> 10 leaky-ReLU -> 1 -> tanh`.
    Mlp,
}

/// The fitted reward rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorRuleConfig {
    /// `taylor` or `mlp`.
    pub kind: BehaviorRuleKind,
    /// Trainable Taylor terms (keys as in the teacher); all 81 when absent. Taylor only.
    #[serde(default)]
    pub trainable: Option<Vec<String>>,
    /// Flies only: fit every fly a second time with these terms added to `trainable`, and
    /// compare. The first one's coefficient is reported per fly. Taylor only.
    #[serde(default)]
    pub added_terms: Option<Vec<String>>,
    /// Initial parameters `~ N(0, init_std^2)`; default 0 (Taylor), 0.01 (MLP).
    #[serde(default)]
    pub init_std: Option<NonNegative>,
}

/// Adam, one step per session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorFitConfig {
    /// Passes over the training sessions.
    pub epochs: Count,
    /// Adam learning rate.
    #[serde(default = "default_lr")]
    pub lr: Positive,
    /// L1 penalty on the trainable Taylor coefficients (must be 0 for the MLP rule).
    #[serde(default = "zero_nn")]
    pub l1: NonNegative,
    /// Gradient pass.
    #[serde(default)]
    pub gradient: GradientMethod,
}

/// Experiment kind `fit_behavior` (DESIGN §3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitBehaviorConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `fit_behavior`.
    pub kind: String,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The behaving network.
    #[serde(default = "default_behavior_network")]
    pub network: BehaviorNetworkConfig,
    /// Odor inputs.
    #[serde(default = "default_odor_input")]
    pub input: OdorInputConfig,
    /// Source of the choices.
    pub data: BehaviorDataConfig,
    /// Fitted rule.
    pub rule: BehaviorRuleConfig,
    /// Optimiser.
    pub fit: BehaviorFitConfig,
    /// Fresh simulated sessions for evaluation (simulated data only).
    #[serde(default)]
    pub evaluation: Option<EvaluationConfig>,
}

fn default_behavior_network() -> BehaviorNetworkConfig {
    BehaviorNetworkConfig {
        hidden: ten(),
        eta: None,
        readout: None,
        w0_std: w0_behavior(),
        w_clip: w_clip(),
    }
}

fn default_odor_input() -> OdorInputConfig {
    OdorInputConfig {
        odor_scale: odor_scale(),
        noise_std: odor_noise(),
    }
}

/// Parses a reward-rule term: `1`, a product of `x`, `y`, `w`, `r` with optional powers `^1`
/// or `^2` (`x*r^2`, `y * w`), or the four digits `abcd` of `theta[a][b][c][d]`; returns the
/// flat index `27a + 9b + 3c + d`.
pub fn reward_term_key(key: &str) -> Option<usize> {
    let k: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    if k.len() == 4 && k.bytes().all(|b| (b'0'..=b'2').contains(&b)) {
        let d: Vec<usize> = k.bytes().map(|b| (b - b'0') as usize).collect();
        return Some(27 * d[0] + 9 * d[1] + 3 * d[2] + d[3]);
    }
    if k == "1" {
        return Some(0);
    }
    let mut pw = [0usize; 4];
    for f in k.split('*') {
        let (v, e) = match f.split_once('^') {
            Some((v, e)) => (v, e.parse::<usize>().ok()?),
            None => (f, 1),
        };
        let slot = ["x", "y", "w", "r"].iter().position(|n| *n == v)?;
        pw[slot] += e;
    }
    if pw.iter().any(|&p| p > 2) {
        return None;
    }
    Some(27 * pw[0] + 9 * pw[1] + 3 * pw[2] + pw[3])
}

/// The label of reward term `k` (`1`, `x*r^2`, ...), the inverse of [`reward_term_key`].
pub fn reward_term_label(k: usize) -> String {
    let p = [k / 27 % 3, k / 9 % 3, k / 3 % 3, k % 3];
    let parts: Vec<String> = ["x", "y", "w", "r"]
        .iter()
        .zip(p)
        .filter(|(_, e)| *e > 0)
        .map(|(v, e)| {
            if e == 1 {
                v.to_string()
            } else {
                format!("{v}^{e}")
            }
        })
        .collect();
    if parts.is_empty() {
        "1".into()
    } else {
        parts.join("*")
    }
}

/// A random symmetric, diagonally dominant matrix: off-diagonals `g_i g_j N(0, weight_std^2)`
/// with probability `density` (mirrored), diagonal `-sum_j |A_ij| - slack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSddConfig {
    /// Neurons `N`.
    pub n: Count,
    /// Probability that a pair is connected.
    #[serde(default = "full")]
    pub density: Fraction,
    /// Std of the weights.
    #[serde(default = "one_pos")]
    pub weight_std: Positive,
    /// Heterogeneity: neuron `i` gets a gain `g_i = exp(gain_std z_i)`, `z_i ~ N(0, 1)`, and
    /// `w_ij` is scaled by `g_i g_j` (0: homogeneous).
    #[serde(default = "zero_nn")]
    pub gain_std: NonNegative,
    /// Slack of diagonal dominance of every row.
    #[serde(default = "one_nn")]
    pub slack: NonNegative,
}

fn one_pos() -> Positive {
    Positive(1.0)
}
fn one_nn() -> NonNegative {
    NonNegative(1.0)
}

/// Dense clusters with sparse links between them: positive symmetric weights uniform in
/// `[weight_min, weight_max]`, pairs within a cluster connected with probability `p_in`, across
/// clusters with `p_out`; diagonal `-sum_j |A_ij| - slack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClustersConfig {
    /// Number of clusters.
    #[serde(default = "three")]
    pub clusters: Count,
    /// Neurons per cluster.
    pub size: Count,
    /// Connection probability within a cluster.
    pub p_in: Fraction,
    /// Connection probability between clusters.
    #[serde(default = "zero_prob")]
    pub p_out: Probability,
    /// Exactly this many random links between every pair of clusters (besides `p_out`).
    #[serde(default)]
    pub links: u32,
    /// Smallest weight.
    pub weight_min: Positive,
    /// Largest weight.
    pub weight_max: Positive,
    /// Slack of diagonal dominance of every row.
    #[serde(default = "one_nn")]
    pub slack: NonNegative,
}

fn zero_prob() -> Probability {
    Probability(0.0)
}

fn three() -> Count {
    Count(3)
}

/// The network: exactly one of `random_sdd`, `clusters` or `file` (`.npy` or CSV, the full
/// matrix `A` with its diagonal, relative to the working directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneNetworkConfig {
    /// Random signed symmetric diagonally dominant matrix.
    #[serde(default)]
    pub random_sdd: Option<RandomSddConfig>,
    /// Clusters with sparse long-range links.
    #[serde(default)]
    pub clusters: Option<ClustersConfig>,
    /// A matrix file.
    #[serde(default)]
    pub file: Option<String>,
}

/// How the stationary covariance is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CovarianceMethod {
    /// `-(sigma^2/2) A^-1` (symmetric) or the Lyapunov solution.
    #[default]
    Exact,
    /// Exact for the `noise` rule, and also estimated from a simulation of the noisy dynamics
    /// for the `noise_online` rule.
    Estimated,
}

/// The covariance and, when estimated, the noise simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CovarianceConfig {
    /// `exact` or `estimated`.
    #[serde(default)]
    pub method: CovarianceMethod,
    /// Euler-Maruyama step.
    #[serde(default)]
    pub dt: Option<Positive>,
    /// Steps recorded into the running covariance.
    #[serde(default)]
    pub steps: Option<Count>,
    /// Steps simulated before recording.
    #[serde(default)]
    pub burn_in: u32,
}

fn exact_cov() -> CovarianceConfig {
    CovarianceConfig {
        method: CovarianceMethod::Exact,
        dt: None,
        steps: None,
        burn_in: 0,
    }
}

/// How synapses are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneMode {
    /// One decision per pair, mirrored (the matrix must be symmetric).
    #[default]
    Symmetric,
    /// Every off-diagonal synapse decided independently.
    Directed,
}

/// The pruning rate: exactly one of `target_fraction` and `eps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneRuleConfig {
    /// Expected fraction of synapses kept (rho solved so that `sum min(1, rho s)` matches).
    #[serde(default)]
    pub target_fraction: Option<Fraction>,
    /// The theory's `rho = 8 ln N / (eps^2 sigma^2)`.
    #[serde(default)]
    pub eps: Option<Positive>,
    /// `symmetric` or `directed`.
    #[serde(default)]
    pub mode: PruneMode,
    /// Run the theory (`eps`) on a matrix that is not symmetric diagonally dominant anyway.
    #[serde(default)]
    pub allow_non_sdd: bool,
}

/// Experiment kind `prune` (DESIGN §3.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `prune`.
    pub kind: String,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The network.
    pub network: PruneNetworkConfig,
    /// Noise amplitude `sigma`.
    #[serde(default = "one_pos")]
    pub sigma: Positive,
    /// Stationary covariance.
    #[serde(default = "exact_cov")]
    pub covariance: CovarianceConfig,
    /// Pruning rate and mode.
    pub prune: PruneRuleConfig,
    /// Random vectors for the quadratic-form ratios.
    #[serde(default = "two_hundred")]
    pub quad_vectors: Count,
}

fn two_hundred() -> Count {
    Count(200)
}

/// The COBA benchmark network (DESIGN §3.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CobaNetworkConfig {
    /// Excitatory neurons.
    pub n_exc: Count,
    /// Inhibitory neurons.
    pub n_inh: Count,
    /// Connection probability of every projection (no autapses).
    pub p: Fraction,
    /// E->E weight (added to `g_e`, units of the leak conductance).
    pub w_ee: NonNegative,
    /// E->I weight.
    pub w_ei: NonNegative,
    /// I->E and I->I weight (added to `g_i`).
    pub w_inh: NonNegative,
    /// Mean initial membrane potential (mV).
    pub v0_mean: Finite,
    /// Std of the initial membrane potential (mV).
    pub v0_std: NonNegative,
}

/// E->E doublet STDP (times in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdpConfig {
    /// Presynaptic trace time constant (ms).
    pub tau_pre: Positive,
    /// Postsynaptic trace time constant (ms).
    pub tau_post: Positive,
    /// Learning rate.
    pub eta: NonNegative,
    /// Change per presynaptic spike.
    pub alpha: Finite,
    /// Change per postsynaptic spike.
    pub beta: Finite,
    /// Post-after-pre term.
    pub gamma: Finite,
    /// Pre-after-post term.
    pub kappa: Finite,
    /// Upper weight bound.
    pub w_max: Positive,
}

/// Experiment kind `spiking` (today the `coba` model of DESIGN §3.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikingConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `spiking`.
    pub kind: String,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Neuron model: `coba` (DESIGN §3.7) or `fsbi` (DESIGN §3.6).
    pub model: String,
    /// The COBA network (model `coba`).
    #[serde(default)]
    pub network: Option<CobaNetworkConfig>,
    /// E->E plasticity of the COBA network; none when absent.
    #[serde(default)]
    pub stdp: Option<StdpConfig>,
    /// Simulated time (ms) of the COBA network, in steps of 0.1 ms.
    #[serde(default)]
    pub duration_ms: Option<Positive>,
    /// The fSBI network (model `fsbi`).
    #[serde(default)]
    pub fsbi: Option<FsbiConfig>,
}

/// A doublet rule per connection type, each `[tau_pre s, tau_post s, alpha, beta, gamma,
/// kappa]`; a type without a rule is static.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubletRules {
    /// E->E.
    #[serde(default)]
    pub ee: Option<[Finite; 6]>,
    /// E->I.
    #[serde(default)]
    pub ei: Option<[Finite; 6]>,
    /// I->E.
    #[serde(default)]
    pub ie: Option<[Finite; 6]>,
    /// I->I.
    #[serde(default)]
    pub ii: Option<[Finite; 6]>,
}

/// One connection type's spiking MLP rule: `dw = eta (a . features + a_0)` on presynaptic and
/// on postsynaptic spikes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpReadoutConfig {
    /// Learning rate.
    pub eta: Finite,
    /// Readout on presynaptic spikes: 4 feature weights, then the bias.
    pub pre: [Finite; 5],
    /// Readout on postsynaptic spikes: 4 feature weights, then the bias.
    pub post: [Finite; 5],
}

/// MLP rules for E->E and I->E (DESIGN §3.6); a type given here must have no doublet rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpRules {
    /// E->E.
    #[serde(default)]
    pub ee: Option<MlpReadoutConfig>,
    /// I->E.
    #[serde(default)]
    pub ie: Option<MlpReadoutConfig>,
}

/// The plausibility constraints of DESIGN §3.6 (bounds inclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// E and I rates (Hz).
    pub rate: [NonNegative; 2],
    /// Smallest mean CV of inter-spike intervals.
    pub cv_isi_min: NonNegative,
    /// Spatial and temporal Fano factors (100 ms bins).
    pub fano: [NonNegative; 2],
    /// Largest auto-covariance.
    pub autocov_max: NonNegative,
    /// Largest fraction of plastic weights at 0 or w_max.
    pub saturation_max: NonNegative,
    /// Largest weight creep `|2 (w_end - w_start) / (w_end + w_start)|`.
    pub creep_max: NonNegative,
}

fn default_constraints() -> Constraints {
    let nn = NonNegative;
    Constraints {
        rate: [nn(1.0), nn(50.0)],
        cv_isi_min: nn(0.7),
        fano: [nn(0.5), nn(2.5)],
        autocov_max: nn(0.1),
        saturation_max: nn(0.1),
        creep_max: nn(0.05),
    }
}

/// The recurrent E/I network of Confavreux et al. 2023 (DESIGN §3.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsbiConfig {
    /// Excitatory neurons.
    pub n_exc: Count,
    /// Inhibitory neurons.
    pub n_inh: Count,
    /// Recurrent connection probability (no self-connections).
    pub p: Fraction,
    /// Initial E->E, E->I, I->E, I->I weights.
    pub w: [NonNegative; 4],
    /// Weights are clipped to `[0, w_max]`.
    pub w_max: Positive,
    /// Poisson inputs.
    pub inputs: Count,
    /// Input connection probability.
    pub input_p: Fraction,
    /// Input weight (AMPA).
    pub input_w: NonNegative,
    /// Input rates are uniform in this range (Hz), one per input.
    pub input_rate: [NonNegative; 2],
    /// Synaptic delay of recurrent connections (ms), a multiple of 0.1.
    pub delay_ms: NonNegative,
    /// Learning rate of every plastic type.
    pub eta: NonNegative,
    /// Rules per connection type.
    pub rules: DoubletRules,
    /// MLP rules (E->E, I->E) instead of doublet rules.
    #[serde(default)]
    pub mlp: Option<MlpRules>,
    /// Learning phase (s).
    pub learn_s: NonNegative,
    /// Scoring window (s).
    pub score_s: Positive,
    /// The rate checker aborts when the moving-average (tau 1 s) population rate exceeds this (Hz).
    #[serde(default = "hundred")]
    pub abort_rate: Positive,
    /// Plausibility constraints.
    #[serde(default = "default_constraints")]
    pub constraints: Constraints,
}

fn hundred() -> Positive {
    Positive(100.0)
}

/// Experiment kind `rule_filter` (Confavreux et al. 2023): `rules` candidate doublet rules,
/// each drawn from the box prior for every type in `types`, simulated in the `network` (its
/// `rules` section is ignored) with its own seed, kept when it meets every constraint named in
/// `require`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFilterConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `rule_filter`.
    pub kind: String,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Number of candidate rules.
    pub rules: Count,
    /// Prior range of the two time constants (s).
    #[serde(default = "prior_tau")]
    pub prior_tau: [Positive; 2],
    /// Prior range of alpha, beta, gamma, kappa.
    #[serde(default = "prior_coef")]
    pub prior_coef: [Finite; 2],
    /// Connection types that get a sampled rule (`ee`, `ei`, `ie`, `ii`); the others are static.
    pub types: Vec<String>,
    /// The network, constraints included.
    pub network: FsbiConfig,
    /// Constraints a rule must meet (names as in the metrics); all when absent.
    #[serde(default)]
    pub require: Option<Vec<String>>,
}

fn prior_tau() -> [Positive; 2] {
    [Positive(0.01), Positive(0.1)]
}
fn prior_coef() -> [Finite; 2] {
    [Finite(-2.0), Finite(2.0)]
}

/// Constraint names of the plausibility metrics.
pub const CONSTRAINTS: [&str; 9] = [
    "rate_exc",
    "rate_inh",
    "cv_isi",
    "fano_spatial",
    "fano_temporal",
    "autocov",
    "saturation",
    "creep",
    "mean_weights_bounded",
];

/// A parsed experiment of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Experiment {
    /// `rule_filter`.
    RuleFilter(RuleFilterConfig),
    /// `spiking`.
    Spiking(SpikingConfig),
    /// `prune`.
    Prune(PruneConfig),
    /// `fit_rate`.
    FitRate(FitRateConfig),
    /// `fit_behavior`.
    FitBehavior(FitBehaviorConfig),
    /// `meta_function`.
    MetaFunction(MetaFunctionConfig),
}

/// Applies `$body` to the config inside any [`Experiment`] variant.
macro_rules! each_kind {
    ($exp:expr, $c:ident => $body:expr) => {
        match $exp {
            Experiment::FitRate($c) => $body,
            Experiment::RuleFilter($c) => $body,
            Experiment::Spiking($c) => $body,
            Experiment::Prune($c) => $body,
            Experiment::FitBehavior($c) => $body,
            Experiment::MetaFunction($c) => $body,
        }
    };
}

impl Experiment {
    /// The experiment's name.
    pub fn name(&self) -> &str {
        each_kind!(self, c => &c.name)
    }
    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Experiment::FitRate(_) => "fit_rate",
            Experiment::FitBehavior(_) => "fit_behavior",
            Experiment::Prune(_) => "prune",
            Experiment::Spiking(_) => "spiking",
            Experiment::RuleFilter(_) => "rule_filter",
            Experiment::MetaFunction(_) => "meta_function",
        }
    }
    /// The seed, if set.
    pub fn seed(&self) -> Option<u64> {
        each_kind!(self, c => c.seed)
    }
    /// Sets the seed.
    pub fn set_seed(&mut self, seed: u64) {
        each_kind!(self, c => c.seed = Some(seed))
    }
    /// Writes derived defaults into the config, so `config.yaml` states every value used
    /// (today: the initial weight std `1 / (n_in + n_out)` when absent).
    pub fn fill_defaults(&mut self) {
        match self {
            Experiment::FitRate(c) => {
                if c.network.w0_std.is_none() {
                    let n = c.network.n_in.0 as f64 + c.network.n_out.0 as f64;
                    c.network.w0_std = Some(Positive(1.0 / n));
                }
            }
            Experiment::Spiking(_) | Experiment::RuleFilter(_) => {}
            Experiment::Prune(c) => {
                if c.covariance.method == CovarianceMethod::Estimated {
                    c.covariance.dt.get_or_insert(Positive(0.002));
                    c.covariance.steps.get_or_insert(Count(200_000));
                }
            }
            Experiment::FitBehavior(c) => {
                let h = c.network.hidden.0 as f64;
                c.network.eta.get_or_insert(Finite(0.5));
                c.network.readout.get_or_insert(Finite(5.0 / h));
                let std = match c.rule.kind {
                    BehaviorRuleKind::Taylor => 0.0,
                    BehaviorRuleKind::Mlp => 0.01,
                };
                c.rule.init_std.get_or_insert(NonNegative(std));
                if let Some(f) = &mut c.data.flies {
                    f.ids.get_or_insert_with(|| (1..=18).map(Count).collect());
                }
            }
            Experiment::MetaFunction(c) => {
                let o = &mut c.optimizer;
                if o.method == MetaMethod::Cmaes {
                    o.population.get_or_insert(Count(50));
                    o.sigma0.get_or_insert(Positive(0.1));
                } else {
                    o.lr.get_or_insert(Positive(0.01));
                    o.step.get_or_insert(GradientStep::Adam);
                }
            }
        }
    }
    /// The resolved config as JSON with sorted keys (the canonical form the hash is over).
    pub fn canonical_json(&self) -> String {
        let v = each_kind!(self, c => serde_json::to_value(c));
        // Serialising plain structs of numbers and strings cannot fail.
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    /// FNV-1a 64 of the canonical JSON, as 16 hex digits.
    pub fn hash(&self) -> String {
        format!("{:016x}", fnv1a(self.canonical_json().as_bytes()))
    }
    /// The resolved config as YAML (what `config.yaml` holds).
    pub fn to_yaml(&self) -> String {
        let r = each_kind!(self, c => serde_saphyr::to_string(c));
        r.unwrap_or_default()
    }
}

/// FNV-1a, 64 bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Parser options: strict, with limits against alias bombs and deep nesting.
fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut b = serde_saphyr::Budget::default();
    b.max_depth = 32;
    b.max_nodes = 100_000;
    b.max_aliases = 64;
    b.max_anchors = 64;
    b.max_total_scalar_bytes = 1 << 20;
    b.max_reader_input_bytes = Some(1 << 20);
    o.budget = Some(b);
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o
}

/// Parses a term key (`x*y` or `110`) into its flat index.
pub fn term_key(key: &str) -> Option<usize> {
    let k = key.trim();
    if k.len() == 3 && k.bytes().all(|b| (b'0'..=b'2').contains(&b)) {
        let d: Vec<usize> = k.bytes().map(|b| (b - b'0') as usize).collect();
        return Some(9 * d[0] + 3 * d[1] + d[2]);
    }
    let norm: String = k.chars().filter(|c| !c.is_whitespace()).collect();
    TERM_LABELS.iter().position(|l| *l == norm)
}

/// Reads, parses and validates an experiment file.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    let file = path.display().to_string();
    let err = |problem: String| ConfigError {
        file: file.clone(),
        line: 1,
        col: 1,
        field: String::new(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read file: {e}")))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > 1 << 20 {
        return Err(err(format!(
            "file is {} bytes; experiment files are limited to 1 MiB",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read file: {e}")))?;
    parse_bytes(&bytes, &file)
}

/// Parses and validates the raw bytes of an experiment file (size limit, UTF-8, YAML,
/// schema, ranges); `file` names it in errors. Never panics, whatever the bytes.
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Experiment, ConfigError> {
    let err = |problem: String| ConfigError {
        file: file.to_string(),
        line: 1,
        col: 1,
        field: String::new(),
        problem,
    };
    if bytes.len() > 1 << 20 {
        return Err(err(format!(
            "file is {} bytes; experiment files are limited to 1 MiB",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let col = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        ConfigError {
            line,
            col,
            ..err("file is not valid UTF-8".into())
        }
    })?;
    parse_str(text, file)
}

/// Parses and validates experiment text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str) -> Result<Experiment, ConfigError> {
    if text.trim().is_empty() {
        return Err(ConfigError {
            file: file.into(),
            line: 1,
            col: 1,
            field: String::new(),
            problem: "file is empty; expected a mapping with `kind:` and the experiment's settings"
                .into(),
        });
    }
    #[derive(Deserialize)]
    struct Header {
        kind: Option<String>,
    }
    let header: Header = serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| yaml_error(&e, text, file))?;
    let kind = header.kind.ok_or_else(|| ConfigError {
        file: file.into(),
        line: 1,
        col: 1,
        field: "kind".into(),
        problem: format!("missing field; one of: {}", kind_names()),
    })?;
    let exp = match kind.as_str() {
        "fit_rate" => Experiment::FitRate(
            serde_saphyr::from_str_with_options(text, options())
                .map_err(|e| yaml_error(&e, text, file))?,
        ),
        "meta_function" => Experiment::MetaFunction(
            serde_saphyr::from_str_with_options(text, options())
                .map_err(|e| yaml_error(&e, text, file))?,
        ),
        "rule_filter" => Experiment::RuleFilter(
            serde_saphyr::from_str_with_options(text, options())
                .map_err(|e| yaml_error(&e, text, file))?,
        ),
        "spiking" => Experiment::Spiking(
            serde_saphyr::from_str_with_options(text, options())
                .map_err(|e| yaml_error(&e, text, file))?,
        ),
        "prune" => Experiment::Prune(
            serde_saphyr::from_str_with_options(text, options())
                .map_err(|e| yaml_error(&e, text, file))?,
        ),
        "fit_behavior" => Experiment::FitBehavior(
            serde_saphyr::from_str_with_options(text, options())
                .map_err(|e| yaml_error(&e, text, file))?,
        ),
        other => {
            let (line, col) = locate(text, "kind");
            return Err(ConfigError {
                file: file.into(),
                line,
                col,
                field: "kind".into(),
                problem: format!(
                    "unknown experiment kind `{other}`; one of: {}",
                    kind_names()
                ),
            });
        }
    };
    validate(&exp).map_err(|(field, problem)| {
        let (line, col) = locate(text, &field);
        ConfigError {
            file: file.into(),
            line,
            col,
            field,
            problem,
        }
    })?;
    Ok(exp)
}

fn kind_names() -> String {
    KINDS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
}

/// Turns a serde-saphyr error into a positioned [`ConfigError`].
fn yaml_error(e: &serde_saphyr::Error, text: &str, file: &str) -> ConfigError {
    let (line, col) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((1, 1));
    let raw = e.without_snippet().to_string();
    // The message may end with its own " at line X column Y"; we print the position first.
    let problem = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    // A bad scalar: quote what was written there.
    let is_int = problem.starts_with("invalid u64");
    let is_float =
        problem.starts_with("invalid f64") || problem.starts_with("invalid floating point");
    let problem = if is_int || is_float {
        let written = text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.get(col.saturating_sub(1)..))
            .map(|s| s.split(" #").next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let want = if is_int {
            "a non-negative whole number"
        } else {
            "a number"
        };
        format!("expected {want}, got `{written}`")
    } else {
        problem.replacen("value must be", "must be", 1)
    };
    let mut field = path_at(text, line);
    // A missing field is reported at the last key of its mapping: name the field itself.
    if let Some(k) = problem
        .strip_prefix("missing field `")
        .and_then(|s| s.split('`').next())
    {
        field = match field.rsplit_once('.') {
            Some((parent, _)) => format!("{parent}.{k}"),
            None => k.to_string(),
        };
    }
    // For an unknown key, the message names it; make sure the path ends with it.
    if let Some(k) = problem
        .strip_prefix("unknown field `")
        .and_then(|s| s.split('`').next())
    {
        if !field.ends_with(k) {
            field = if field.is_empty() {
                k.to_string()
            } else {
                format!("{field}.{k}")
            };
        }
    }
    ConfigError {
        file: file.into(),
        line,
        col,
        field,
        problem: problem.trim().to_string(),
    }
}

/// Semantic checks after parsing; returns the field path and the problem.
pub fn validate(exp: &Experiment) -> Result<(), (String, String)> {
    match exp {
        Experiment::FitRate(c) => validate_fit_rate(c),
        Experiment::MetaFunction(c) => validate_meta(c),
        Experiment::FitBehavior(c) => validate_behavior(c),
        Experiment::Prune(c) => validate_prune(c),
        Experiment::Spiking(c) => validate_spiking(c),
        Experiment::RuleFilter(c) => validate_rule_filter(c),
    }
}

fn validate_rule_filter(c: &RuleFilterConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.kind != "rule_filter" {
        return bad("kind", "must be rule_filter");
    }
    if c.rules.0 > 1_000_000 {
        return bad("rules", "at most 1000000 rules");
    }
    if c.prior_tau[0].0 > c.prior_tau[1].0 || c.prior_coef[0].0 > c.prior_coef[1].0 {
        return bad("prior_tau", "prior ranges must be [low, high]");
    }
    if c.types.is_empty() {
        return bad("types", "name at least one of ee, ei, ie, ii");
    }
    for t in &c.types {
        if !["ee", "ei", "ie", "ii"].contains(&t.as_str()) {
            return bad(
                "types",
                format!("unknown connection type `{t}`; one of ee, ei, ie, ii"),
            );
        }
    }
    if let Some(r) = &c.require {
        for k in r {
            if !CONSTRAINTS.contains(&k.as_str()) {
                return bad(
                    "require",
                    format!(
                        "unknown constraint `{k}`; one of {}",
                        CONSTRAINTS.join(", ")
                    ),
                );
            }
        }
    }
    if c.network.mlp.is_some() {
        return bad(
            "network.mlp",
            "rule_filter draws doublet rules; remove the mlp section",
        );
    }
    validate_fsbi(&c.network).map_err(|(f, p)| (f.replacen("fsbi", "network", 1), p))
}

/// Checks an fSBI network section (also used by `rule_filter`).
pub fn validate_fsbi(f: &FsbiConfig) -> Result<(), (String, String)> {
    let n = f.n_exc.0 as u64 + f.n_inh.0 as u64;
    if n > 100_000 || f.inputs.0 > 100_000 {
        return bad("fsbi", "at most 100000 neurons and 100000 inputs");
    }
    let syn = n as f64 * (n as f64 * f.p.0 + f.inputs.0 as f64 * f.input_p.0);
    if syn > 2e8 {
        return bad(
            "fsbi.p",
            format!("about {syn:.3e} synapses; at most 2e8 are supported"),
        );
    }
    if f.input_rate[0].0 > f.input_rate[1].0 {
        return bad("fsbi.input_rate", "must be [low, high] with low <= high");
    }
    let steps = (f.delay_ms.0 / 0.1).round();
    if (steps * 0.1 - f.delay_ms.0).abs() > 1e-9 || steps > 1000.0 {
        return bad(
            "fsbi.delay_ms",
            "must be a multiple of 0.1 ms, at most 100 ms",
        );
    }
    if f.learn_s.0 + f.score_s.0 > 100_000.0 {
        return bad("fsbi.learn_s", "at most 100000 s simulated");
    }
    for (name, r) in [
        ("ee", &f.rules.ee),
        ("ei", &f.rules.ei),
        ("ie", &f.rules.ie),
        ("ii", &f.rules.ii),
    ] {
        if let Some(r) = r {
            if r[0].0 <= 0.0 || r[1].0 <= 0.0 {
                return bad(
                    &format!("fsbi.rules.{name}"),
                    "tau_pre and tau_post (the first two values, in s) must be > 0",
                );
            }
        }
    }
    if let Some(m) = &f.mlp {
        if m.ee.is_some() && f.rules.ee.is_some() {
            return bad(
                "fsbi.mlp.ee",
                "E->E has a doublet rule too; give one or the other",
            );
        }
        if m.ie.is_some() && f.rules.ie.is_some() {
            return bad(
                "fsbi.mlp.ie",
                "I->E has a doublet rule too; give one or the other",
            );
        }
    }
    let c = &f.constraints;
    if c.rate[0].0 > c.rate[1].0 || c.fano[0].0 > c.fano[1].0 {
        return bad("fsbi.constraints", "ranges must be [low, high]");
    }
    Ok(())
}

fn validate_spiking(c: &SpikingConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.kind != "spiking" {
        return bad("kind", "must be spiking");
    }
    match c.model.as_str() {
        "coba" => {
            if c.fsbi.is_some() {
                return bad("fsbi", "the fsbi section is for model: fsbi");
            }
            let Some(net) = &c.network else {
                return bad("network", "model coba needs a network section");
            };
            let Some(d) = c.duration_ms else {
                return bad("duration_ms", "model coba needs duration_ms");
            };
            let n = net.n_exc.0 as u64 + net.n_inh.0 as u64;
            if n > 200_000 {
                return bad(
                    "network",
                    format!("{n} neurons; at most 200000 are supported"),
                );
            }
            let syn = n as f64 * n as f64 * net.p.0;
            if syn > 2e8 {
                return bad(
                    "network.p",
                    format!("about {syn:.3e} synapses; at most 2e8 are supported"),
                );
            }
            if d.0 > 1e7 {
                return bad("duration_ms", "at most 1e7 ms");
            }
            if (d.0 / 0.1).round() < 1.0 {
                return bad("duration_ms", "must be at least one 0.1 ms step");
            }
        }
        "fsbi" => {
            for (f, present) in [
                ("network", c.network.is_some()),
                ("stdp", c.stdp.is_some()),
                ("duration_ms", c.duration_ms.is_some()),
            ] {
                if present {
                    return bad(
                        f,
                        "this setting is for model: coba; model fsbi reads the fsbi section",
                    );
                }
            }
            let Some(f) = &c.fsbi else {
                return bad("fsbi", "model fsbi needs an fsbi section");
            };
            validate_fsbi(f)?;
        }
        other => {
            return bad(
                "model",
                format!("unknown model `{other}`; this build has: coba, fsbi"),
            )
        }
    }
    Ok(())
}

/// Largest network `prune` accepts.
pub const MAX_PRUNE_N: u32 = 8000;

fn validate_prune(c: &PruneConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.kind != "prune" {
        return bad("kind", "must be prune");
    }
    let net = &c.network;
    let given = [
        net.random_sdd.is_some(),
        net.clusters.is_some(),
        net.file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return bad(
            "network",
            "give exactly one of `random_sdd`, `clusters` or `file`",
        );
    }
    if let Some(r) = &net.random_sdd {
        if r.n.0 < 2 || r.n.0 > MAX_PRUNE_N {
            return bad(
                "network.random_sdd.n",
                format!("must be 2 to {MAX_PRUNE_N}"),
            );
        }
    }
    if let Some(k) = &net.clusters {
        let n = k.clusters.0 as u64 * k.size.0 as u64;
        if !(2..=MAX_PRUNE_N as u64).contains(&n) {
            return bad(
                "network.clusters",
                format!("clusters * size = {n}; must be 2 to {MAX_PRUNE_N}"),
            );
        }
        if k.links as u64 > k.size.0 as u64 * k.size.0 as u64 {
            return bad(
                "network.clusters.links",
                "more links than pairs between two clusters",
            );
        }
        if k.weight_min.0 > k.weight_max.0 {
            return bad("network.clusters.weight_min", "must not exceed weight_max");
        }
    }
    if let Some(f) = &net.file {
        let lower = f.to_ascii_lowercase();
        if !(lower.ends_with(".npy") || lower.ends_with(".csv")) {
            return bad("network.file", "must be a .npy or .csv file");
        }
    }
    let p = &c.prune;
    match (p.target_fraction, p.eps) {
        (Some(_), Some(_)) | (None, None) => {
            return bad("prune", "give exactly one of `target_fraction` or `eps`");
        }
        _ => {}
    }
    let cov = &c.covariance;
    match cov.method {
        CovarianceMethod::Exact => {
            if cov.dt.is_some() || cov.steps.is_some() || cov.burn_in > 0 {
                return bad(
                    "covariance",
                    "dt, steps and burn_in are for method: estimated",
                );
            }
        }
        CovarianceMethod::Estimated => {
            if cov.steps.is_some_and(|s| s.0 > 100_000_000) || cov.burn_in > 100_000_000 {
                return bad("covariance.steps", "at most 100000000 steps");
            }
        }
    }
    if c.quad_vectors.0 > 100_000 {
        return bad("quad_vectors", "must be at most 100000");
    }
    Ok(())
}

fn validate_behavior(c: &FitBehaviorConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.kind != "fit_behavior" {
        return bad("kind", "must be fit_behavior");
    }
    if c.network.hidden.0 > 1000 {
        return bad("network.hidden", "must be at most 1000");
    }
    let taylor = c.rule.kind == BehaviorRuleKind::Taylor;
    for (field, list) in [
        ("rule.trainable", &c.rule.trainable),
        ("rule.added_terms", &c.rule.added_terms),
    ] {
        let Some(list) = list else { continue };
        if !taylor {
            return bad(
                field,
                "only a Taylor rule has terms; remove it or use kind: taylor",
            );
        }
        if list.is_empty() {
            return bad(field, "must name at least one term");
        }
        for key in list {
            if reward_term_key(key).is_none() {
                return bad(
                    field,
                    format!("unknown term `{key}`; use a monomial of x, y, w, r such as x*r or w, or digits abcd"),
                );
            }
        }
    }
    if !taylor && c.fit.l1.0 > 0.0 {
        return bad("fit.l1", "the MLP rule is fitted without L1; set l1: 0");
    }
    if c.fit.epochs.0 > 1_000_000 {
        return bad("fit.epochs", "must be at most 1000000");
    }
    match (&c.data.simulated, &c.data.flies) {
        (Some(_), Some(_)) | (None, None) => {
            return bad("data", "give exactly one of `simulated` or `flies`");
        }
        (Some(sim), None) => {
            for key in sim.teacher.keys() {
                if reward_term_key(key).is_none() {
                    return bad(
                        &format!("data.simulated.teacher.{key}"),
                        format!("unknown term `{key}`; use a monomial of x, y, w, r such as x*r, or digits abcd"),
                    );
                }
            }
            if sim.blocks.is_empty() || sim.blocks.len() > 100 {
                return bad("data.simulated.blocks", "must list 1 to 100 blocks");
            }
            let trials: u64 = sim.blocks.iter().map(|b| b.trials.0 as u64).sum();
            if trials > 100_000 {
                return bad("data.simulated.blocks", "at most 100000 trials in all");
            }
            if sim.max_presentations.0 > 10_000 {
                return bad("data.simulated.max_presentations", "must be at most 10000");
            }
            if sim.trajectories.0 > 10_000 {
                return bad("data.simulated.trajectories", "must be at most 10000");
            }
            match &c.evaluation {
                None => return bad("evaluation", "simulated data need evaluation.trajectories"),
                Some(e) if e.trajectories.0 > 10_000 => {
                    return bad("evaluation.trajectories", "must be at most 10000")
                }
                _ => {}
            }
            if c.rule.added_terms.is_some() {
                return bad(
                    "rule.added_terms",
                    "the with/without comparison is for flies data",
                );
            }
        }
        (None, Some(f)) => {
            if c.evaluation.is_some() {
                return bad(
                    "evaluation",
                    "fly data are evaluated on the fitted sessions (held-in); remove evaluation",
                );
            }
            if let Some(ids) = &f.ids {
                if ids.is_empty() || ids.iter().any(|i| i.0 > 99) {
                    return bad("data.flies.ids", "must list fly numbers 1 to 99");
                }
                let mut seen = ids.clone();
                seen.sort_by_key(|c| c.0);
                seen.dedup();
                if seen.len() != ids.len() {
                    return bad("data.flies.ids", "lists a fly twice");
                }
            }
            if f.dir.is_empty() {
                return bad("data.flies.dir", "must name a directory");
            }
        }
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), (String, String)> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
        || name.starts_with('.')
    {
        return bad(
            "name",
            "must be 1 to 100 letters, digits, `_`, `-` or `.`, not starting with `.`",
        );
    }
    Ok(())
}

fn validate_meta(c: &MetaFunctionConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.kind != "meta_function" {
        return bad("kind", "must be meta_function");
    }
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

fn bad<T>(field: &str, problem: impl Into<String>) -> Result<T, (String, String)> {
    Err((field.to_string(), problem.into()))
}

fn validate_fit_rate(c: &FitRateConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.kind != "fit_rate" {
        return bad("kind", "must be fit_rate");
    }
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

/// Applies Hydra-style overrides `a.b=value` (value in YAML syntax) in order. Each is
/// type-checked on its own, so such an error names the override that caused it; range and
/// cross-field checks run once all are applied, so their order does not matter.
pub fn apply_overrides(exp: Experiment, overrides: &[String]) -> Result<Experiment, ConfigError> {
    let mut exp = exp;
    for ov in overrides {
        let err = |field: &str, problem: String| ConfigError {
            file: format!("<override `{ov}`>"),
            line: 1,
            col: 1,
            field: field.to_string(),
            problem,
        };
        let (path, raw) = ov
            .split_once('=')
            .ok_or_else(|| err("", "expected key.path=value".into()))?;
        let path = path.trim();
        if path.is_empty() || path.split('.').any(|p| p.is_empty()) {
            return Err(err(path, "empty key in path".into()));
        }
        let value: serde_json::Value = if raw.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_saphyr::from_str_with_options(raw, options())
                .map_err(|e| err(path, format!("value is not YAML: {}", e.without_snippet())))?
        };
        let mut tree =
            each_kind!(&exp, c => serde_json::to_value(c)).map_err(|e| err(path, e.to_string()))?;
        set_path(&mut tree, path, value).map_err(|p| err(path, p))?;
        exp = match &exp {
            Experiment::FitRate(_) => serde_json::from_value(tree).map(Experiment::FitRate),
            Experiment::MetaFunction(_) => {
                serde_json::from_value(tree).map(Experiment::MetaFunction)
            }
            Experiment::FitBehavior(_) => serde_json::from_value(tree).map(Experiment::FitBehavior),
            Experiment::Prune(_) => serde_json::from_value(tree).map(Experiment::Prune),
            Experiment::Spiking(_) => serde_json::from_value(tree).map(Experiment::Spiking),
            Experiment::RuleFilter(_) => serde_json::from_value(tree).map(Experiment::RuleFilter),
        }
        .map_err(|e| err(path, e.to_string()))?;
    }
    if !overrides.is_empty() {
        validate(&exp).map_err(|(field, problem)| ConfigError {
            file: format!("<overrides `{}`>", overrides.join(" ")),
            line: 1,
            col: 1,
            field,
            problem,
        })?;
    }
    Ok(exp)
}

fn set_path(
    tree: &mut serde_json::Value,
    path: &str,
    value: serde_json::Value,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut node = tree;
    for (i, p) in parts.iter().enumerate() {
        if node.is_null() {
            *node = serde_json::Value::Object(Default::default());
        }
        let map = node
            .as_object_mut()
            .ok_or_else(|| format!("`{}` is not a mapping", parts[..i].join(".")))?;
        let last = i + 1 == parts.len();
        let is_free_map = parts[..i]
            .last()
            .is_some_and(|q| *q == "terms" || *q == "teacher");
        if !map.contains_key(*p) && !is_free_map {
            let mut known: Vec<&String> = map.keys().collect();
            known.sort();
            let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            return Err(format!(
                "unknown key `{p}`; known here: {}",
                known.join(", ")
            ));
        }
        if last {
            map.insert(p.to_string(), value);
            return Ok(());
        }
        node = map.entry(p.to_string()).or_insert(serde_json::Value::Null);
    }
    Ok(())
}

/// The teacher's 27 coefficients.
pub fn teacher_theta(c: &RuleConfig) -> [f64; TAYLOR_TERMS] {
    let mut theta = [0.0; TAYLOR_TERMS];
    for (k, v) in &c.terms {
        if let Some(i) = term_key(k) {
            theta[i] += v.0;
        }
    }
    theta
}

/// The student's trainable mask.
pub fn trainable_mask(c: &StudentConfig) -> [bool; TAYLOR_TERMS] {
    match &c.trainable {
        None => [true; TAYLOR_TERMS],
        Some(list) => {
            let mut m = [false; TAYLOR_TERMS];
            for k in list {
                if let Some(i) = term_key(k) {
                    m[i] = true;
                }
            }
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = include_str!("../../experiments/oja_recovery.yaml");

    #[test]
    fn shipped_config_parses_and_round_trips_through_yaml() {
        let exp = parse_str(GOOD, "good.yaml").unwrap();
        let again = parse_str(&exp.to_yaml(), "resolved.yaml").unwrap();
        assert_eq!(exp, again);
        assert_eq!(exp.hash(), again.hash());
        assert_eq!(term_key("x*y"), Some(12));
        assert_eq!(term_key("021"), Some(7));
        assert_eq!(term_key(" y^2 * w "), Some(7));
        assert_eq!(term_key("x*y*z"), None);
        assert_eq!(term_key("300"), None);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!("b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        bomb.push_str("kind: fit_rate\n");
        assert!(parse_str(&bomb, "bomb.yaml").is_err());
        let deep = format!(
            "kind: fit_rate\nname: {}1{}\n",
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(parse_str(&deep, "deep.yaml").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary bytes never panic; every error carries a position.
        #[test]
        fn arbitrary_bytes_give_a_value_or_a_positioned_error(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Err(e) = parse_bytes(&bytes, "fuzz.yaml") {
                prop_assert!(e.line >= 1 && e.col >= 1);
                prop_assert!(!e.problem.is_empty());
            }
        }

        /// A valid file with one line deleted or one character replaced: never a panic, and
        /// an error names a position inside the file.
        #[test]
        fn mutated_configs_fail_cleanly(line in 0usize..40, pos in 0usize..2000, ch in proptest::char::any()) {
            let mut lines: Vec<&str> = GOOD.lines().collect();
            if line < lines.len() {
                lines.remove(line);
            }
            let mut text = lines.join("\n");
            if let Some((i, _)) = text.char_indices().nth(pos % text.chars().count().max(1)) {
                let len = text[i..].chars().next().map(char::len_utf8).unwrap_or(0);
                text.replace_range(i..i + len, &ch.to_string());
            }
            if let Err(e) = parse_str(&text, "mutated.yaml") {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1) + 1, "{e}");
            }
        }
    }
}
