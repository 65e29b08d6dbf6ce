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
}

fn hundred() -> Positive {
    Positive(100.0)
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
    Ok(())
}
