//! The config of `rule_filter`: the prior, the connection types that learn, the network, the
//! rounds (candidates and the constraints they must meet) and the classifier that restricts
//! the prior of later rounds.

use crate::config::{bad, validate_name, Count, Finite, Positive, Probability};
use crate::kind::KindName;
use crate::sim::fsbi::{self, ConnType, FsbiConfig, PlausibilityConfig, RateCheckerKind};
use serde::{Deserialize, Serialize};

/// Experiment kind `rule_filter` (Confavreux et al. 2023): candidate doublet rules, drawn for
/// every type in `types` from the box prior (or read from a file), simulated in the `network`
/// (its `rules` section is ignored) with their own seeds, kept when they meet the constraints.
/// One round (`rules`, `require`) or several (`rounds`), each later round drawing from the box
/// prior restricted by a classifier trained on every earlier rule (DESIGN §3.6).
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
    /// Number of candidate rules of a one-round filter (give `rules` or `rounds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Count>,
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
    /// Constraints a rule must meet, named as the verdicts of the deciding definition (the
    /// paper's by default: `rate`, `cv_isi`, `w_creep`, ...; synplast's with
    /// `network.plausibility.definition: synplast`); all when absent. With `rounds`, each round
    /// names its own.
    #[serde(default)]
    pub require: Option<Vec<String>>,
    /// The rounds of a filter in several rounds (give `rules` or `rounds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Vec<RoundConfig>>,
    /// The classifier restricting the prior of rounds after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierConfig>,
}

/// One round: its candidates and the constraints they must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundConfig {
    /// Candidates drawn from the (restricted) prior; with `candidates`, the first `rules` rows
    /// of the file (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Count>,
    /// Candidates from a file instead of the prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<CandidatesConfig>,
    /// Constraints of this round (all when absent); each round's include the previous round's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<Vec<String>>,
}

/// Candidates read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidatesConfig {
    /// A `.npy` of float64 or float32, `[n, 24]` (all four types in the order ee, ei, ie, ii,
    /// each `[tau_pre, tau_post, alpha, beta, gamma, kappa]`; columns of static types 0) or
    /// `[n, 6 k]` (only the k types of `types`, in their order), e.g. posterior samples of the
    /// `sbi` package.
    pub file: String,
}

/// The classifier of later rounds: bagged decision trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Trees.
    #[serde(default = "hundred")]
    pub trees: Count,
    /// Largest depth of a tree.
    #[serde(default = "twelve")]
    pub max_depth: Count,
    /// Largest fraction of the earlier rules meeting a round's constraints that the restricted
    /// prior may exclude (sbi's restriction estimator: 1%).
    #[serde(default = "one_percent")]
    pub false_negatives: Probability,
    /// Most box-prior draws tried per round before the run gives up (the restricted prior
    /// accepts too little).
    #[serde(default = "million")]
    pub max_draws: Count,
    /// Smallest fraction of box-prior draws the restricted prior must accept (estimated on
    /// 4096 draws); below it the classifier learns the constraints of the round before.
    #[serde(default = "min_acceptance")]
    pub min_acceptance: Probability,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            trees: hundred(),
            max_depth: twelve(),
            false_negatives: one_percent(),
            max_draws: million(),
            min_acceptance: min_acceptance(),
        }
    }
}

fn hundred() -> Count {
    Count(100)
}
fn twelve() -> Count {
    Count(12)
}
fn one_percent() -> Probability {
    Probability(0.01)
}
fn million() -> Count {
    Count(1_000_000)
}
fn min_acceptance() -> Probability {
    Probability(0.01)
}

impl RuleFilterConfig {
    /// The rounds as run: `rounds`, or the one round of `rules` and `require`.
    pub fn round_list(&self) -> Vec<RoundConfig> {
        match &self.rounds {
            Some(r) => r.clone(),
            None => vec![RoundConfig {
                rules: self.rules,
                candidates: None,
                require: self.require.clone(),
            }],
        }
    }

    /// Which connection types learn, in the order ee, ei, ie, ii.
    pub fn plastic(&self) -> [bool; 4] {
        std::array::from_fn(|k| self.types.iter().any(|t| t.index() == k))
    }

    /// The names of the verdicts that decide `pass` (the constraints `require` can name), in
    /// the order of the records' `pass` lists.
    pub fn verdict_names(&self) -> Vec<&'static str> {
        fsbi::verdict_names(&self.effective_network(), self.plastic())
    }

    /// The definition whose verdicts decide `pass` and `plausible` (the paper's unless the
    /// config asks for synplast's).
    pub fn definition(&self) -> fsbi::Definition {
        match &self.effective_network().plausibility {
            Some(pc) => pc.definition,
            None => fsbi::Definition::Synplast,
        }
    }

    /// The network as simulated: `network` with [`fill_network_defaults`] (the same as
    /// `network` in a resolved config).
    pub fn effective_network(&self) -> FsbiConfig {
        let mut network = self.network.clone();
        fill_network_defaults(&mut network);
        network
    }

    /// The classifier settings (defaults when absent).
    pub fn classifier(&self) -> ClassifierConfig {
        self.classifier.clone().unwrap_or_default()
    }
}

/// What `rule_filter` fills into its network when the config leaves them out, so
/// "plausible" means what it means in Confavreux et al. 2023: the paper's plausibility
/// metrics, deciding (`plausibility: {definition: paper}`, synplast's own kept beside them),
/// and the paper's rate checker (E population only, from the middle of its range).
pub fn fill_network_defaults(network: &mut FsbiConfig) {
    network
        .plausibility
        .get_or_insert_with(PlausibilityConfig::default);
    network.rate_checker.get_or_insert(RateCheckerKind::Paper);
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
    match (&c.rules, &c.rounds) {
        (Some(_), Some(_)) => {
            return bad("rounds", "give `rules` (one round) or `rounds`, not both")
        }
        (None, None) => return bad("rules", "give `rules` (one round) or `rounds`"),
        (Some(n), None) if n.0 > 1_000_000 => return bad("rules", "at most 1000000 rules"),
        _ => {}
    }
    let known = c.verdict_names();
    let check_names = |field: &str, names: &Option<Vec<String>>| -> Result<(), (String, String)> {
        for (j, n) in names.iter().flatten().enumerate() {
            if !known.contains(&n.as_str()) {
                let other = if fsbi::CONSTRAINTS.contains(&n.as_str()) {
                    " (a name of synplast's definition: set network.plausibility.definition: synplast to use those)"
                } else {
                    ""
                };
                return bad(
                    &format!("{field}[{j}]"),
                    format!(
                        "unknown constraint `{n}`{other}; the constraints here are: {}",
                        known.join(", ")
                    ),
                );
            }
        }
        Ok(())
    };
    check_names("require", &c.require)?;
    if let Some(rounds) = &c.rounds {
        if c.require.is_some() {
            return bad("require", "with `rounds`, each round names its `require`");
        }
        if rounds.is_empty() || rounds.len() > 100 {
            return bad("rounds", "give 1 to 100 rounds");
        }
        let all: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        let mut before: Vec<String> = Vec::new();
        for (k, r) in rounds.iter().enumerate() {
            if r.rules.is_none() && r.candidates.is_none() {
                return bad(
                    &format!("rounds[{k}]"),
                    "give `rules` (draws from the prior) or `candidates: {file: ...}`",
                );
            }
            if r.rules.is_some_and(|n| n.0 > 1_000_000) {
                return bad(&format!("rounds[{k}].rules"), "at most 1000000 rules");
            }
            check_names(&format!("rounds[{k}].require"), &r.require)?;
            let now = r.require.clone().unwrap_or_else(|| all.clone());
            if let Some(lost) = before.iter().find(|c| !now.contains(c)) {
                return bad(
                    &format!("rounds[{k}].require"),
                    format!(
                        "constraints only grow from round to round; `{lost}` of round {} is missing",
                        k - 1
                    ),
                );
            }
            before = now;
        }
    }
    if c.classifier
        .as_ref()
        .is_some_and(|k| k.trees.0 > 10_000 || k.max_depth.0 > 64)
    {
        return bad("classifier", "at most 10000 trees of depth at most 64");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fsbi::Definition;

    fn parse(extra: &str) -> RuleFilterConfig {
        let text = format!(
            "name: t\nkind: rule_filter\ntypes: [ee, ie]\nrules: 4\n{extra}network: {{n_exc: 8, n_inh: 2, p: 0.1, w: [0.1, 0.1, 1, 1], w_max: 20, inputs: 10, input_p: 0.1, input_w: 0.1, input_rate: [5, 15], delay_ms: 0.8, eta: 0.01, rules: {{}}, learn_s: 0, score_s: 1}}\n"
        );
        serde_saphyr::from_str(&text).unwrap()
    }

    #[test]
    fn the_papers_definitions_are_filled_in_once_and_name_the_constraints() {
        let c = parse("");
        assert_eq!(c.network.plausibility, None);
        let mut filled = c.clone();
        fill_network_defaults(&mut filled.network);
        assert_eq!(filled.network, c.effective_network());
        assert_eq!(filled.network.rate_checker, Some(RateCheckerKind::Paper));
        let pc = filled.network.plausibility.clone().unwrap();
        assert_eq!(pc.definition, Definition::Paper);
        // A completed config stays as it is (`--resume` compares hashes).
        let mut again = filled.clone();
        fill_network_defaults(&mut again.network);
        assert_eq!(again, filled);
        // The paper's names, with the weight bounds of the plastic types only (ee, ie).
        let names = c.verdict_names();
        assert_eq!(names[..2], ["rate", "cv_isi"]);
        assert!(names.contains(&"weef") && names.contains(&"wief"));
        assert!(!names.contains(&"weif") && !names.contains(&"wiif"));
        assert!(validate(&parse("require: [rate, w_creep, wief]\n")).is_ok());
        // Asked for, synplast's decide, and a user's choices are kept.
        let s = parse("require: [rate_exc, creep]\n");
        assert!(validate(&s).is_err());
        let mut s = s;
        s.network.plausibility = Some(PlausibilityConfig {
            definition: Definition::Synplast,
            ..PlausibilityConfig::default()
        });
        s.network.rate_checker = Some(RateCheckerKind::Synplast);
        assert!(validate(&s).is_ok(), "{:?}", validate(&s));
        assert_eq!(s.verdict_names(), crate::sim::fsbi::CONSTRAINTS.to_vec());
        assert_eq!(s.effective_network(), s.network);
    }
}
