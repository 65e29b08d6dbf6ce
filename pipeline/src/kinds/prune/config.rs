//! The config of `prune`: types, defaults and validation.

use crate::config::{
    bad, validate_name, zero_nn, Count, Fraction, NonNegative, Positive, Probability,
};
use crate::kind::KindName;
use serde::{Deserialize, Serialize};

fn full() -> Fraction {
    Fraction(1.0)
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

/// The network: `random_sdd: {...}`, `clusters: {...}` or `file: PATH` (`.npy` or CSV, the
/// full matrix `A` with its diagonal, relative to the working directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "RawPruneNetwork")]
pub enum PruneNetwork {
    /// Random signed symmetric diagonally dominant matrix.
    RandomSdd(RandomSddConfig),
    /// Clusters with sparse long-range links.
    Clusters(ClustersConfig),
    /// A matrix file.
    File(String),
}

/// `network:` as written: exactly one of the three keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPruneNetwork {
    #[serde(default)]
    random_sdd: Option<RandomSddConfig>,
    #[serde(default)]
    clusters: Option<ClustersConfig>,
    #[serde(default)]
    file: Option<String>,
}

impl TryFrom<RawPruneNetwork> for PruneNetwork {
    type Error = String;
    fn try_from(r: RawPruneNetwork) -> Result<Self, String> {
        match (r.random_sdd, r.clusters, r.file) {
            (Some(x), None, None) => Ok(Self::RandomSdd(x)),
            (None, Some(x), None) => Ok(Self::Clusters(x)),
            (None, None, Some(x)) => Ok(Self::File(x)),
            _ => Err("give exactly one of `random_sdd`, `clusters` or `file`".into()),
        }
    }
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

/// Experiment kind `prune` (docs/prune.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `prune`.
    pub kind: KindName<super::Prune>,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The network.
    pub network: PruneNetwork,
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

/// Largest network `prune` accepts.
pub const MAX_PRUNE_N: u32 = 8000;

/// Semantic checks of a `prune` config: the field path and the problem.
pub fn validate(c: &PruneConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    match &c.network {
        PruneNetwork::RandomSdd(r) => {
            if r.n.0 < 2 || r.n.0 > MAX_PRUNE_N {
                return bad(
                    "network.random_sdd.n",
                    format!("must be 2 to {MAX_PRUNE_N}"),
                );
            }
        }
        PruneNetwork::Clusters(k) => {
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
        PruneNetwork::File(f) => {
            let lower = f.to_ascii_lowercase();
            if !(lower.ends_with(".npy") || lower.ends_with(".csv")) {
                return bad("network.file", "must be a .npy or .csv file");
            }
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
