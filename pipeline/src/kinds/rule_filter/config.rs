//! The config of `rule_filter`: the prior, the connection types that learn, the network and
//! the constraints a rule must meet.

use crate::config::{bad, validate_name, Count, Finite, Positive};
use crate::kind::KindName;
use crate::sim::fsbi::{self, ConnType, Constraint, FsbiConfig};
use serde::{Deserialize, Serialize};

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
    pub kind: KindName<super::RuleFilter>,
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
    pub types: Vec<ConnType>,
    /// The network, constraints included.
    pub network: FsbiConfig,
    /// Constraints a rule must meet (names as in the metrics); all when absent.
    #[serde(default)]
    pub require: Option<Vec<Constraint>>,
}

fn prior_tau() -> [Positive; 2] {
    [Positive(0.01), Positive(0.1)]
}
fn prior_coef() -> [Finite; 2] {
    [Finite(-2.0), Finite(2.0)]
}

/// Semantic checks of a `rule_filter` config: the field path and the problem.
pub fn validate(c: &RuleFilterConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    if c.rules.0 > 1_000_000 {
        return bad("rules", "at most 1000000 rules");
    }
    if c.prior_tau[0].0 > c.prior_tau[1].0 || c.prior_coef[0].0 > c.prior_coef[1].0 {
        return bad("prior_tau", "prior ranges must be [low, high]");
    }
    if c.types.is_empty() {
        return bad("types", "name at least one of ee, ei, ie, ii");
    }
    if c.network.mlp.is_some() {
        return bad(
            "network.mlp",
            "rule_filter draws doublet rules; remove the mlp section",
        );
    }
    fsbi::validate(&c.network).map_err(|(f, p)| (f.replacen("fsbi", "network", 1), p))
}
