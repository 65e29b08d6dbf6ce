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

fn is_zero(v: &u32) -> bool {
    *v == 0
}
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
    /// Number of inputs (simulated data; recorded data take it from the arrays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_in: Option<Count>,
    /// Number of outputs (simulated data; recorded data take it from the arrays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_out: Option<Count>,
    /// Plasticity rate per step (1 in the paper's code).
    #[serde(default = "one")]
    pub eta: Finite,
    /// Std of the initial weights; default `1 / (n_in + n_out)`.
    #[serde(default)]
    pub w0_std: Option<Positive>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            n_in: None,
            n_out: None,
            eta: one(),
            w0_std: None,
        }
    }
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

/// Simulated training data: teacher trajectories.
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

/// Recorded activity (DESIGN §6, `docs/data_contracts.md`): an `.npz` archive holding `x`
/// [sessions, T, n_in], `y` [sessions, T, n_out] and optionally `w0` [sessions, n_out, n_in],
/// or the same arrays as separate `.npy` files. Paths are relative to the working directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedConfig {
    /// The `.npz` archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Inputs as a `.npy` file (instead of `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Recorded activity as a `.npy` file (instead of `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Initial weights as a `.npy` file (optional; unknown and fitted when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w0: Option<String>,
    /// Ignore a `w0` array in the archive: fit the initial weights as unknown.
    #[serde(default)]
    pub ignore_w0: bool,
    /// A known rule (terms as in `teacher`) to compare the fit with, for data whose generating
    /// rule is known: `max |theta - reference|` is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<BTreeMap<String, Finite>>,
}

/// Where the activity comes from: simulated teacher trajectories (`trajectories`, `steps`,
/// ...), or `recorded: {...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRateData", into = "RawRateData")]
pub enum RateData {
    /// Teacher trajectories generated from the seed.
    Simulated(DataConfig),
    /// A recording.
    Recorded(RecordedConfig),
}

/// `data:` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trajectories: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    steps: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noise_scale: Option<NonNegative>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_fraction: Option<Fraction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recorded: Option<RecordedConfig>,
}

impl TryFrom<RawRateData> for RateData {
    type Error = String;
    fn try_from(r: RawRateData) -> Result<Self, String> {
        match r.recorded {
            Some(rec) => {
                if r.trajectories.is_some()
                    || r.steps.is_some()
                    || r.noise_scale.is_some()
                    || r.observed_fraction.is_some()
                {
                    return Err("`recorded` data take their sizes from the arrays: remove trajectories, steps, noise_scale and observed_fraction".into());
                }
                Ok(Self::Recorded(rec))
            }
            None => match (r.trajectories, r.steps) {
                (Some(trajectories), Some(steps)) => Ok(Self::Simulated(DataConfig {
                    trajectories,
                    steps,
                    noise_scale: r.noise_scale.unwrap_or(NonNegative(0.0)),
                    observed_fraction: r.observed_fraction.unwrap_or(Fraction(1.0)),
                })),
                _ => Err(
                    "give `trajectories` and `steps` (simulated data) or `recorded: {file: F.npz}`"
                        .into(),
                ),
            },
        }
    }
}

impl From<RateData> for RawRateData {
    fn from(d: RateData) -> Self {
        match d {
            RateData::Simulated(s) => Self {
                trajectories: Some(s.trajectories),
                steps: Some(s.steps),
                noise_scale: Some(s.noise_scale),
                observed_fraction: Some(s.observed_fraction),
                recorded: None,
            },
            RateData::Recorded(r) => Self {
                trajectories: None,
                steps: None,
                noise_scale: None,
                observed_fraction: None,
                recorded: Some(r),
            },
        }
    }
}

/// A readout parameter: `fit`, or a fixed number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawParam", into = "RawParam")]
pub enum ReadoutParam {
    /// Fitted (the word `fit`).
    Fit,
    /// Fixed at this value.
    Fixed(Finite),
}

/// A readout parameter as written: a word or a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RawParam {
    Number(f64),
    Word(String),
}

impl TryFrom<RawParam> for ReadoutParam {
    type Error = String;
    fn try_from(r: RawParam) -> Result<Self, String> {
        match r {
            RawParam::Word(w) if w == "fit" => Ok(Self::Fit),
            RawParam::Number(v) if v.is_finite() => Ok(Self::Fixed(Finite(v))),
            RawParam::Word(w) => Err(format!("expected `fit` or a number, got `{w}`")),
            RawParam::Number(v) => Err(format!("expected `fit` or a finite number, got {v}")),
        }
    }
}

impl From<ReadoutParam> for RawParam {
    fn from(p: ReadoutParam) -> Self {
        match p {
            ReadoutParam::Fit => Self::Word("fit".into()),
            ReadoutParam::Fixed(v) => Self::Number(v.0),
        }
    }
}

impl ReadoutParam {
    /// Whether it is fitted.
    pub fn fitted(&self) -> bool {
        matches!(self, Self::Fit)
    }
    /// The fixed value, or the fit's starting value `start`.
    pub fn start(&self, start: f64) -> f64 {
        match self {
            Self::Fit => start,
            Self::Fixed(v) => v.0,
        }
    }
}

fn gain_one() -> ReadoutParam {
    ReadoutParam::Fixed(Finite(1.0))
}
fn offset_zero() -> ReadoutParam {
    ReadoutParam::Fixed(Finite(0.0))
}

/// The per-neuron affine readout of recorded activity, `y_obs = gain * sigmoid(W x) + offset`
/// (for signals such as dF/F that are not rates in (0, 1)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationConfig {
    /// `fit`, or a fixed gain (default 1).
    #[serde(default = "gain_one")]
    pub gain: ReadoutParam,
    /// `fit`, or a fixed offset (default 0).
    #[serde(default = "offset_zero")]
    pub offset: ReadoutParam,
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
    /// Recorded data: steps per segment of the checkpointed adjoint pass (memory about
    /// `T / segment + segment` weight matrices); default `ceil(sqrt(T))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Count>,
}

/// Evaluation: fresh trajectories (simulated data), or held-out steps and a bootstrap
/// (recorded data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Number of fresh trajectories (simulated data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectories: Option<Count>,
    /// Recorded data: fit the first `cutoff` of each session's steps, score the rest (held-out
    /// R^2 of activity). Default 1: fit everything, no held-out score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<Fraction>,
    /// Recorded data: refits on sessions resampled with replacement (seeded), for 95%
    /// intervals of the coefficients. Default 0: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bootstrap: u32,
    /// Recorded data: the last `held_out_sessions` sessions are left out of the fit and scored
    /// with the fitted rule and readout (their initial weights, when unknown, fitted alone on
    /// their first `cutoff` of steps). Default 0: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held_out_sessions: u32,
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
    /// Plastic layer (recorded data: only `eta`, default 1).
    #[serde(default)]
    pub network: NetworkConfig,
    /// Inputs (simulated data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputConfig>,
    /// Ground-truth rule that generates the data (simulated data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<RuleConfig>,
    /// Fitted rule.
    pub student: StudentConfig,
    /// Training data.
    pub data: RateData,
    /// Readout of recorded activity (recorded data only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<ObservationConfig>,
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
    check_terms("teacher.terms", c.teacher.as_ref().map(|t| &t.terms))?;
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
    if c.fit.epochs.0 > 10_000_000 {
        return bad("fit.epochs", "must be at most 10000000");
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
    match &c.data {
        RateData::Simulated(d) => validate_simulated(c, d),
        RateData::Recorded(r) => validate_recorded(c, r),
    }
}

fn check_terms(
    field: &str,
    terms: Option<&BTreeMap<String, Finite>>,
) -> Result<(), (String, String)> {
    for key in terms.into_iter().flat_map(|t| t.keys()) {
        if term_key(key).is_none() {
            return bad(
                &format!("{field}.{key}"),
                format!("unknown term `{key}`; use a monomial such as x*y or y^2*w, or three digits abc in 0..=2"),
            );
        }
    }
    Ok(())
}

fn validate_simulated(c: &FitRateConfig, d: &DataConfig) -> Result<(), (String, String)> {
    let Some(n_in) = c.network.n_in else {
        return bad(
            "network.n_in",
            "missing: simulated data need the layer's size",
        );
    };
    let Some(n_out) = c.network.n_out else {
        return bad(
            "network.n_out",
            "missing: simulated data need the layer's size",
        );
    };
    if c.teacher.is_none() {
        return bad(
            "teacher",
            "simulated data need the teacher rule that generates them",
        );
    }
    if c.input.is_none() {
        return bad(
            "input",
            "simulated data need the input std (`input: {std: 0.5}`)",
        );
    }
    let Some(eval_traj) = c.evaluation.trajectories else {
        return bad(
            "evaluation.trajectories",
            "simulated data are scored on fresh trajectories: give their number",
        );
    };
    if c.evaluation.cutoff.is_some()
        || c.evaluation.bootstrap > 0
        || c.evaluation.held_out_sessions > 0
    {
        return bad(
            "evaluation",
            "cutoff, bootstrap and held_out_sessions are for recorded data; simulated fits are scored on fresh trajectories",
        );
    }
    if c.observation.is_some() {
        return bad("observation", "the affine readout is for recorded data");
    }
    if c.fit.segment.is_some() {
        return bad("fit.segment", "checkpoint segments are for recorded data");
    }
    for (f, v) in [("network.n_in", n_in), ("network.n_out", n_out)] {
        if v.0 > MAX_NEURONS {
            return bad(f, format!("must be at most {MAX_NEURONS}, got {}", v.0));
        }
    }
    let n_syn = n_in.0 as u64 * n_out.0 as u64;
    if n_syn > MAX_SYNAPSES {
        return bad(
            "network",
            format!("n_in * n_out = {n_syn} synapses; at most {MAX_SYNAPSES} are supported"),
        );
    }
    for (f, v, max) in [
        ("data.trajectories", d.trajectories, 1_000_000u32),
        ("data.steps", d.steps, 1_000_000),
        ("evaluation.trajectories", eval_traj, 1_000_000),
    ] {
        if v.0 > max {
            return bad(f, format!("must be at most {max}, got {}", v.0));
        }
    }
    let t = d.steps.0 as u64;
    let per_traj = t * (n_in.0 as u64 + n_out.0 as u64) + n_syn;
    for (f, n) in [
        ("data.trajectories", d.trajectories.0 as u64),
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

fn validate_recorded(c: &FitRateConfig, r: &RecordedConfig) -> Result<(), (String, String)> {
    match (&r.file, &r.x, &r.y) {
        (Some(_), None, None) => {
            if r.w0.is_some() {
                return bad(
                    "data.recorded.w0",
                    "with `file`, put w0 in the archive (or set ignore_w0: true to fit it)",
                );
            }
        }
        (None, Some(_), Some(_)) => {}
        _ => {
            return bad(
                "data.recorded",
                "give `file: F.npz`, or `x: X.npy` and `y: Y.npy` (and optionally `w0: W0.npy`)",
            )
        }
    }
    check_terms("data.recorded.reference", r.reference.as_ref())?;
    for (f, set) in [
        ("network.n_in", c.network.n_in.is_some()),
        ("network.n_out", c.network.n_out.is_some()),
        ("network.w0_std", c.network.w0_std.is_some()),
        ("teacher", c.teacher.is_some()),
        ("input", c.input.is_some()),
        (
            "evaluation.trajectories",
            c.evaluation.trajectories.is_some(),
        ),
        ("grid", c.grid.is_some()),
    ] {
        if set {
            return bad(
                f,
                "not used with recorded data: sizes, inputs and initial weights come from the arrays (a known generating rule goes in data.recorded.reference)",
            );
        }
    }
    if c.fit.gradient != GradientMethod::Adjoint {
        return bad(
            "fit.gradient",
            "recorded data are fitted with the checkpointed adjoint pass only",
        );
    }
    if c.evaluation.bootstrap > 1000 {
        return bad("evaluation.bootstrap", "must be at most 1000");
    }
    Ok(())
}

/// The parts of a validated config that simulated data use.
#[derive(Debug, Clone, Copy)]
pub struct Simulated<'a> {
    /// Training data.
    pub data: &'a DataConfig,
    /// Inputs.
    pub input: &'a InputConfig,
    /// Teacher rule.
    pub teacher: &'a RuleConfig,
    /// Inputs of the layer.
    pub n_in: usize,
    /// Outputs of the layer.
    pub n_out: usize,
    /// Fresh trajectories for the evaluation.
    pub eval_trajectories: usize,
}

impl FitRateConfig {
    /// The simulated-data view of a validated config (`None` for recorded data).
    pub fn simulated(&self) -> Option<Simulated<'_>> {
        let RateData::Simulated(data) = &self.data else {
            return None;
        };
        Some(Simulated {
            data,
            input: self.input.as_ref()?,
            teacher: self.teacher.as_ref()?,
            n_in: self.network.n_in?.get(),
            n_out: self.network.n_out?.get(),
            eval_trajectories: self.evaluation.trajectories?.get(),
        })
    }
    /// The teacher's 27 coefficients (zero without a teacher).
    pub fn teacher_theta(&self) -> [f64; TAYLOR_TERMS] {
        let terms = self.teacher.iter().flat_map(|t| t.terms.iter());
        theta_from(terms.map(|(k, v)| (k, v.0)), term_key)
    }
    /// The student's trainable mask.
    pub fn trainable_mask(&self) -> [bool; TAYLOR_TERMS] {
        mask_from(self.student.trainable.as_deref(), term_key)
    }
}
