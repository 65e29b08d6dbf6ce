//! The config of `fit_behavior`: types, defaults and validation.

use crate::config::terms::reward_term_key;
use crate::config::{
    bad, default_lr, validate_name, zero_nn, Count, Finite, Fraction, NonNegative, Positive,
    Probability,
};
use crate::fit::GradientMethod;
use crate::kind::KindName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Evaluation: fresh simulated sessions (`trajectories`, simulated data), or held-out trials
/// (`cutoff`, choice data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorEvaluation {
    /// Number of fresh sessions (simulated data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectories: Option<Count>,
    /// Choice data: fit the first `cutoff` of each session's trials, score the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<Fraction>,
    /// Choice data (`data: choices`): refit on this many resamplings of the sessions with
    /// replacement and report the 2.5 and 97.5 percentiles of every coefficient; default 0, off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<u32>,
    /// Choice data (`data: choices`): leave the last `held_out_sessions` sessions out of the fit
    /// (and the bootstrap) and score every one of their trials; default 0, none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_sessions: Option<u32>,
}

/// One variant of a trial-level fly run: its name and the sections it replaces whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorVariant {
    /// Name (letters, digits, `_`, `-`, `.`), used in file names and metrics.
    pub name: String,
    /// Replaces `network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<BehaviorNetworkConfig>,
    /// Replaces `rule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<BehaviorRuleConfig>,
    /// Replaces `fit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<BehaviorFitConfig>,
}

/// Two-choice data, one row per trial: `session,trial,choice,reward` (`docs/data_contracts.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoicesConfig {
    /// The CSV file, relative to the working directory.
    pub file: String,
    /// A known rule (terms as in `data.simulated.teacher`) to score beside the fit, for data
    /// whose generating rule is known: its held-out deviance, and the correlation of its `dw`
    /// with the fitted rule's over the inputs that occur.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<BTreeMap<String, Finite>>,
}

/// The behaving network (`docs/fit_behavior.md`): `h = tanh(W x)`, `p = sigmoid(readout sum h)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorNetworkConfig {
    /// Hidden units `H` of `h = tanh(W x)`; `0` is the paper's linear fly network (trial-level
    /// data only): `z = W x`, `W` plastic `1 x n_in`, no tanh, readout 1.
    #[serde(default = "ten")]
    pub hidden: u32,
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

fn ten() -> u32 {
    10
}

impl BehaviorNetworkConfig {
    /// Rows of `W`: `H`, or 1 for the linear network.
    pub fn units(&self) -> usize {
        (self.hidden as usize).max(1)
    }
    /// The hidden activation: `tanh`, or the identity for the linear network (`hidden: 0`).
    pub fn activation(&self) -> synplast_kernels::choices::Activation {
        if self.hidden == 0 {
            synplast_kernels::choices::Activation::Identity
        } else {
            synplast_kernels::choices::Activation::Tanh
        }
    }
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

/// The paper's task: three blocks of 80 trials, reward probabilities (A, B) = (0.2, 0.8),
/// (0.9, 0.1), (0.2, 0.8).
pub fn default_blocks() -> Vec<BlockConfig> {
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
    /// `presentation` (every odor presentation's accept or reject; the flies' rejections are
    /// a reconstruction, see the data's README) or `trial` (only each trial's chosen odor,
    /// the reliable part: the likelihood of `docs/fit_behavior.md#trial-level-likelihood`).
    #[serde(default, skip_serializing_if = "Likelihood::is_presentation")]
    pub likelihood: Likelihood,
}

/// What a fly fit scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Likelihood {
    /// Every presentation's accept or reject.
    #[default]
    Presentation,
    /// Each trial's chosen option.
    Trial,
}

impl Likelihood {
    fn is_presentation(&self) -> bool {
        *self == Likelihood::Presentation
    }
}

fn fly_dir() -> String {
    "../shared/data/drosophila".into()
}

/// Where the choices come from: `simulated: {...}` or `flies: {...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "RawBehaviorData")]
pub enum BehaviorData {
    /// Simulated sessions of the baited task.
    Simulated(SimulatedBehaviorConfig),
    /// Recorded fly choices.
    Flies(FliesConfig),
    /// Trial-level choices of any two-alternative task.
    Choices(ChoicesConfig),
}

/// `data:` as written: exactly one of the two keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBehaviorData {
    #[serde(default)]
    simulated: Option<SimulatedBehaviorConfig>,
    #[serde(default)]
    flies: Option<FliesConfig>,
    #[serde(default)]
    choices: Option<ChoicesConfig>,
}

impl TryFrom<RawBehaviorData> for BehaviorData {
    type Error = String;
    fn try_from(r: RawBehaviorData) -> Result<Self, String> {
        match (r.simulated, r.flies, r.choices) {
            (Some(s), None, None) => Ok(Self::Simulated(s)),
            (None, Some(f), None) => Ok(Self::Flies(f)),
            (None, None, Some(c)) => Ok(Self::Choices(c)),
            _ => Err("give exactly one of `simulated`, `flies` or `choices`".into()),
        }
    }
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

/// Experiment kind `fit_behavior` (docs/fit_behavior.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitBehaviorConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `fit_behavior`.
    pub kind: KindName<super::FitBehavior>,
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
    pub data: BehaviorData,
    /// Fitted rule.
    pub rule: BehaviorRuleConfig,
    /// Optimiser.
    pub fit: BehaviorFitConfig,
    /// Fresh simulated sessions for evaluation (simulated data only).
    #[serde(default)]
    pub evaluation: Option<BehaviorEvaluation>,
    /// Trial-level flies only: run the whole comparison once per variant, each replacing some
    /// of `network`, `rule` and `fit` (the top-level sections are the base of every variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<BehaviorVariant>>,
}

impl FitBehaviorConfig {
    /// The config of variant `v`: this one with the variant's sections in place, no variants.
    pub fn variant(&self, v: &BehaviorVariant) -> FitBehaviorConfig {
        let mut c = self.clone();
        c.variants = None;
        if let Some(n) = &v.network {
            c.network = n.clone();
        }
        if let Some(r) = &v.rule {
            c.rule = r.clone();
        }
        if let Some(f) = &v.fit {
            c.fit = f.clone();
        }
        fill_section_defaults(&mut c);
        c
    }
}

/// The defaults that depend on other fields: `network.eta`, `network.readout` (from `hidden`)
/// and `rule.init_std` (from the rule family).
pub fn fill_section_defaults(c: &mut FitBehaviorConfig) {
    c.network.eta.get_or_insert(Finite(0.5));
    c.network
        .readout
        .get_or_insert(Finite(super::model::default_readout(c.network.hidden)));
    let std = match c.rule.kind {
        BehaviorRuleKind::Taylor => 0.0,
        BehaviorRuleKind::Mlp => 0.01,
    };
    c.rule.init_std.get_or_insert(NonNegative(std));
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

/// Semantic checks of a `fit_behavior` config: the field path and the problem.
pub fn validate(c: &FitBehaviorConfig) -> Result<(), (String, String)> {
    validate_sections(c)?;
    if let Some(vs) = &c.variants {
        let trial_flies =
            matches!(&c.data, BehaviorData::Flies(f) if f.likelihood == Likelihood::Trial);
        if !trial_flies {
            return bad(
                "variants",
                "variants are for trial-level fly data (data.flies.likelihood: trial)",
            );
        }
        if vs.is_empty() || vs.len() > 20 {
            return bad("variants", "must list 1 to 20 variants");
        }
        for (i, v) in vs.iter().enumerate() {
            let at = format!("variants[{i}]");
            validate_name(&v.name).map_err(|(_, m)| (format!("{at}.name"), m))?;
            if vs[..i].iter().any(|u| u.name == v.name) {
                return bad(
                    &format!("{at}.name"),
                    format!("`{}` is named twice", v.name),
                );
            }
            validate_sections(&c.variant(v)).map_err(|(f, m)| (format!("{at}.{f}"), m))?;
        }
    }
    Ok(())
}

/// [`validate`] without the variants.
fn validate_sections(c: &FitBehaviorConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    let trial_level = match &c.data {
        BehaviorData::Choices(_) => true,
        BehaviorData::Flies(f) => f.likelihood == Likelihood::Trial,
        BehaviorData::Simulated(_) => false,
    };
    if c.network.hidden == 0 && !trial_level {
        return bad(
            "network.hidden",
            "0 (the linear fly network) is for trial-level choice data; simulated sessions and presentation-level flies need hidden units",
        );
    }
    if c.network.hidden > 1000 {
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
    let held = c
        .evaluation
        .as_ref()
        .and_then(|e| e.held_out_sessions)
        .unwrap_or(0);
    if held > 0 && !matches!(c.data, BehaviorData::Choices(_)) {
        return bad(
            "evaluation.held_out_sessions",
            "held-out sessions are for choice data with several sessions (data: choices)",
        );
    }
    let bootstrap = c.evaluation.as_ref().and_then(|e| e.bootstrap).unwrap_or(0);
    if bootstrap > 0 && !matches!(c.data, BehaviorData::Choices(_)) {
        return bad(
            "evaluation.bootstrap",
            "the bootstrap over sessions is for choice data with several sessions (data: choices)",
        );
    }
    match &c.data {
        BehaviorData::Simulated(sim) => {
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
                Some(e) => match e.trajectories {
                    None => {
                        return bad(
                            "evaluation.trajectories",
                            "simulated data are scored on fresh sessions: give their number",
                        )
                    }
                    Some(t) if t.0 > 10_000 => {
                        return bad("evaluation.trajectories", "must be at most 10000")
                    }
                    _ if e.cutoff.is_some() => {
                        return bad("evaluation.cutoff", "cutoff is for choice data")
                    }
                    _ => {}
                },
            }
            if c.rule.added_terms.is_some() {
                return bad(
                    "rule.added_terms",
                    "the with/without comparison is for flies data",
                );
            }
        }
        BehaviorData::Choices(ch) => {
            match c.evaluation.as_ref().map(|e| (e.trajectories, e.cutoff)) {
                Some((None, Some(f))) if f.0 < 1.0 => {}
                _ => {
                    return bad(
                        "evaluation",
                        "choice data need evaluation.cutoff in (0, 1): the fraction of each session's trials to fit (the rest is scored)",
                    )
                }
            }
            if c.evaluation.as_ref().and_then(|e| e.bootstrap).unwrap_or(0) > 10_000 {
                return bad("evaluation.bootstrap", "must be at most 10000");
            }
            if ch.file.is_empty() {
                return bad("data.choices.file", "must name a CSV file");
            }
            for key in ch.reference.iter().flat_map(|r| r.keys()) {
                if reward_term_key(key).is_none() {
                    return bad(
                        &format!("data.choices.reference.{key}"),
                        format!("unknown term `{key}`; use a monomial of x, y, w, r such as x*r, or digits abcd"),
                    );
                }
            }
            if c.rule.added_terms.is_some() {
                return bad(
                    "rule.added_terms",
                    "the with/without comparison is for flies data",
                );
            }
        }
        BehaviorData::Flies(f) if f.likelihood == Likelihood::Trial => {
            match c.evaluation.as_ref().map(|e| (e.trajectories, e.cutoff)) {
                Some((None, Some(cut))) if cut.0 < 1.0 => {}
                _ => {
                    return bad(
                        "evaluation",
                        "trial-level fly fits need evaluation.cutoff in (0, 1): the fraction of each fly's trials to fit (the rest is scored)",
                    )
                }
            }
            check_fly_ids(f)?;
        }
        BehaviorData::Flies(f) => {
            if c.evaluation.is_some() {
                return bad(
                    "evaluation",
                    "presentation-level fly data are evaluated on the fitted sessions (held-in); remove evaluation",
                );
            }
            check_fly_ids(f)?;
        }
    }
    Ok(())
}

/// The fly list and directory of a flies config.
fn check_fly_ids(f: &FliesConfig) -> Result<(), (String, String)> {
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
    Ok(())
}
