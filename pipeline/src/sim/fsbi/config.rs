//! The config of the fSBI network (used by the `spiking` kind with model `fsbi` and by
//! `rule_filter`): network, rules, constraints, and their validation.

use crate::config::{bad, Count, Finite, Fraction, NonNegative, Positive};
use serde::{Deserialize, Serialize};

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

/// MLP rules for E->E and I->E (docs/spiking_fsbi.md); a type given here must have no doublet rule.
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

/// The plausibility constraints of docs/spiking_fsbi.md (bounds inclusive).
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

/// The recurrent E/I network of Confavreux et al. 2023 (docs/spiking_fsbi.md).
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
    /// The rate checker (absent: synplast's); not written when absent, so existing configs
    /// keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_checker: Option<RateCheckerKind>,
    /// The paper's plausibility metrics and which definition decides (absent: not computed,
    /// synplast's decide); not written when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plausibility: Option<PlausibilityConfig>,
}

fn hundred() -> Positive {
    Positive(100.0)
}

/// Which rate checker stops a runaway network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateCheckerKind {
    /// synplast's: the rate of all neurons, an Euler moving average (tau 1 s) from 0 Hz; stops
    /// above `abort_rate`.
    #[default]
    Synplast,
    /// The paper's (Auryn's `RateChecker(neurons_e, 0, max_rate_checker, tau_checker)`): the E
    /// rate only, `a <- a e^{-dt/tau} + spikes / (tau n_E)` (tau 1 s) from the middle of
    /// `(0, abort_rate)`; stops unless `0 < a < abort_rate`.
    Paper,
}

/// Which definitions decide `pass` and `plausible`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Definition {
    /// The paper's metrics and constraints ([`PaperConstraints`]).
    #[default]
    Paper,
    /// synplast's ([`Constraints`]).
    Synplast,
}

/// How the synapses whose weights the paper's metrics read are chosen, per type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynapseSample {
    /// Equally spaced in storage order (by presynaptic neuron), as Auryn's
    /// `WeightMonitor::add_equally_spaced` in the paper's simulator.
    #[default]
    EquallySpaced,
    /// Distinct synapses drawn at random from substream 2 of the network seed (then substream
    /// `k` per type `k`).
    Random,
}

/// The paper's plausibility constraints, inclusive `[low, high]` ranges on its metrics
/// (names as in its `fsbi/analyse.py`); the defaults are the "plausible" conditions of its
/// `Analysis/Figure 2.ipynb`. A field left out keeps its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperConstraints {
    /// E rate (Hz).
    pub rate: [NonNegative; 2],
    /// I rate (Hz).
    pub rate_i: [NonNegative; 2],
    /// Mean CV(ISI).
    pub cv_isi: [NonNegative; 2],
    /// Spatial Fano factor (100 ms bins).
    #[serde(rename = "spatial_Fano")]
    pub spatial_fano: [NonNegative; 2],
    /// Temporal Fano factor (100 ms bins).
    #[serde(rename = "temporal_Fano")]
    pub temporal_fano: [NonNegative; 2],
    /// Auto-covariance.
    pub auto_cov: [NonNegative; 2],
    /// Summed DFT amplitudes of the E population rate (1 ms bins).
    pub fft: [NonNegative; 2],
    /// Fraction of sampled weights at 0 or `w_max`.
    pub w_blow: [NonNegative; 2],
    /// Standard deviation over time of the mean spike count per neuron per 1 ms bin (its
    /// `condition()` uses `[0, 0.05]`).
    pub std_rate_temporal: [NonNegative; 2],
    /// Standard deviation over neurons of the rate (Hz).
    pub std_rate_spatial: [NonNegative; 2],
    /// Standard deviation over neurons of CV(ISI).
    pub std_cv: [NonNegative; 2],
    /// Weight creep of the sampled synapses.
    pub w_creep: [NonNegative; 2],
    /// Final mean E->E weight (checked only when E->E learns; likewise the other three).
    pub weef: [NonNegative; 2],
    /// Final mean E->I weight.
    pub weif: [NonNegative; 2],
    /// Final mean I->E weight.
    pub wief: [NonNegative; 2],
    /// Final mean I->I weight.
    pub wiif: [NonNegative; 2],
    /// Not among the paper's plausibility conditions; its `condition()` uses `[0, 0.5]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_isi: Option<[NonNegative; 2]>,
}

impl Default for PaperConstraints {
    fn default() -> Self {
        let r = |a, b| [NonNegative(a), NonNegative(b)];
        Self {
            rate: r(1.0, 50.0),
            rate_i: r(1.0, 50.0),
            cv_isi: r(0.7, 1000.0),
            spatial_fano: r(0.5, 2.5),
            temporal_fano: r(0.5, 2.5),
            auto_cov: r(0.0, 0.1),
            fft: r(0.0, 1.0),
            w_blow: r(0.0, 0.1),
            std_rate_temporal: r(0.0, 0.5),
            std_rate_spatial: r(0.0, 5.0),
            std_cv: r(0.0, 0.2),
            w_creep: r(0.0, 0.05),
            weef: r(0.0, 0.5),
            weif: r(0.0, 0.5),
            wief: r(0.0, 5.0),
            wiif: r(0.0, 5.0),
            kl_isi: None,
        }
    }
}

impl PaperConstraints {
    /// Each bounded metric's name (as in `pass`) and its inclusive range.
    pub fn ranges(&self) -> Vec<(&'static str, &[NonNegative; 2])> {
        let mut v = vec![
            ("rate", &self.rate),
            ("rate_i", &self.rate_i),
            ("cv_isi", &self.cv_isi),
            ("spatial_Fano", &self.spatial_fano),
            ("temporal_Fano", &self.temporal_fano),
            ("auto_cov", &self.auto_cov),
            ("fft", &self.fft),
            ("w_blow", &self.w_blow),
            ("std_rate_temporal", &self.std_rate_temporal),
            ("std_rate_spatial", &self.std_rate_spatial),
            ("std_cv", &self.std_cv),
            ("w_creep", &self.w_creep),
            ("weef", &self.weef),
            ("weif", &self.weif),
            ("wief", &self.wief),
            ("wiif", &self.wiif),
        ];
        if let Some(r) = &self.kl_isi {
            v.push(("kl_isi", r));
        }
        v
    }
}

/// The paper's plausibility metrics, computed beside synplast's (`fsbi.plausibility`; absent:
/// not computed, synplast's decide). `definition` says which decide `pass` and `plausible`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlausibilityConfig {
    /// Which definitions decide (default `paper`).
    pub definition: Definition,
    /// The paper's constraints.
    pub paper: PaperConstraints,
    /// Recorded neurons, E and I: the first of each population (the paper's `n_recorded` 1000
    /// and `n_recorded_i` 500; all when the population is smaller).
    pub recorded: [Count; 2],
    /// Sampled synapses per connection type (the paper's 100).
    pub synapses: Count,
    /// How they are chosen.
    pub synapse_sample: SynapseSample,
}

impl Default for PlausibilityConfig {
    fn default() -> Self {
        Self {
            definition: Definition::Paper,
            paper: PaperConstraints::default(),
            recorded: [Count(1000), Count(500)],
            synapses: Count(100),
            synapse_sample: SynapseSample::EquallySpaced,
        }
    }
}

/// The names of the verdicts that decide `pass` and `plausible` in a network `f` whose
/// connection types learn where `plastic` says: the paper's
/// ([`super::paper_metrics::verdict_names`]) when `plausibility.definition` is `paper`,
/// synplast's [`CONSTRAINTS`] otherwise.
pub fn verdict_names(f: &FsbiConfig, plastic: [bool; 4]) -> Vec<&'static str> {
    match &f.plausibility {
        Some(pc) if pc.definition == Definition::Paper => {
            super::paper_metrics::verdict_names(&pc.paper, plastic)
        }
        _ => CONSTRAINTS.to_vec(),
    }
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

/// A plausibility constraint, named as in the metrics ([`CONSTRAINTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// E rate in range.
    RateExc,
    /// I rate in range.
    RateInh,
    /// CV of inter-spike intervals above its minimum.
    CvIsi,
    /// Spatial Fano factor in range.
    FanoSpatial,
    /// Temporal Fano factor in range.
    FanoTemporal,
    /// Auto-covariance below its maximum.
    Autocov,
    /// Saturated weights below their maximum fraction.
    Saturation,
    /// Weight creep below its maximum.
    Creep,
    /// Every mean weight finite.
    MeanWeightsBounded,
}

impl Constraint {
    /// Every constraint, in the order of [`CONSTRAINTS`].
    pub const ALL: [Constraint; 9] = [
        Constraint::RateExc,
        Constraint::RateInh,
        Constraint::CvIsi,
        Constraint::FanoSpatial,
        Constraint::FanoTemporal,
        Constraint::Autocov,
        Constraint::Saturation,
        Constraint::Creep,
        Constraint::MeanWeightsBounded,
    ];

    /// The name in the metrics.
    pub fn name(self) -> &'static str {
        CONSTRAINTS[self as usize]
    }
}

/// A connection type of the E/I network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnType {
    /// E->E.
    Ee,
    /// E->I.
    Ei,
    /// I->E.
    Ie,
    /// I->I.
    Ii,
}

impl ConnType {
    /// All four, in the order of the 24 doublet parameters.
    pub const ALL: [ConnType; 4] = [ConnType::Ee, ConnType::Ei, ConnType::Ie, ConnType::Ii];
    /// Its index in [`ConnType::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
    /// `ee`, `ei`, `ie` or `ii`.
    pub fn name(self) -> &'static str {
        ["ee", "ei", "ie", "ii"][self as usize]
    }
}

/// Checks an fSBI network section (of `spiking` with model `fsbi`, and of `rule_filter`).
pub fn validate(f: &FsbiConfig) -> Result<(), (String, String)> {
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
    if let Some(p) = &f.plausibility {
        for (name, r) in p.paper.ranges() {
            if r[0].0 > r[1].0 {
                return bad(
                    &format!("fsbi.plausibility.paper.{name}"),
                    "must be [low, high] with low <= high",
                );
            }
        }
        if p.synapses.0 > 100_000 {
            return bad(
                "fsbi.plausibility.synapses",
                "at most 100000 sampled synapses per type",
            );
        }
    }
    Ok(())
}
