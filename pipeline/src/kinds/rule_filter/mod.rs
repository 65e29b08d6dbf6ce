//! Experiment kind `rule_filter`: candidate doublet rules from a box prior, each simulated in
//! the fSBI network with its own seed, filtered by the plausibility constraints (Confavreux et
//! al. 2023, one round of their filtering).
//!
//! Rules run in parallel on the worker threads (a shared queue keeps every core busy when rules
//! stop early); results do not depend on scheduling: rule `k` draws its parameters from
//! substream `k` of the seed and simulates with the seed `fnv1a("<seed>/<k>") >> 11`. Each
//! finished rule is written at once to the record `rules/rule-<k>.json` (atomically), and a
//! resumed run (`synplast run --resume DIR`) reads those back instead of simulating again.

//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `candidate.rs` | one candidate: its parameters in the network, its seed, its metrics as numbers |
//! | `run.rs` | drawing, simulating and filtering the rules; records, metrics, artifacts |

pub mod candidate;
pub mod classifier;
pub mod config;
pub mod run;

pub use config::*;
pub use run::{draw, RuleRecord};

use crate::error::RunError;
use crate::kind::Kind;
use crate::rundir::{Resume, RunDir};

/// The kind `rule_filter`.
pub struct RuleFilter;

impl Kind for RuleFilter {
    type Config = RuleFilterConfig;
    const NAME: &'static str = "rule_filter";
    const ABOUT: &'static str = "draw doublet rules from a box prior, simulate each in the fSBI network, keep the plausible ones (Confavreux et al. 2023)";
    const RESUME: Resume = Resume::Checkpoints;
    crate::kind::name_and_seed!();
    fn validate(c: &RuleFilterConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    fn run(c: &RuleFilterConfig, dir: &RunDir) -> Result<String, RunError> {
        run::run(c, dir)
    }
}
