//! Experiment kind `rule_filter`: candidate doublet rules from a box prior, each simulated in
//! the fSBI network with its own seed, filtered by the plausibility constraints (Confavreux et
//! al. 2023, one round of their filtering).
//!
//! One round (`rules`, `require`) or several (`rounds`): round 0 draws from the box prior;
//! a later round draws from the box prior restricted by a classifier trained on every earlier
//! rule to predict "meets this round's constraints", or reads its candidates from a file.
//!
//! Rules run in parallel on the worker threads (a shared queue keeps every core busy when rules
//! stop early); results do not depend on scheduling: rule `k` (numbered over all rounds) of
//! round 0 draws its parameters from substream `k` of the seed, and every rule simulates with
//! the seed `fnv1a("<seed>/<k>") >> 11`. Each finished rule is appended at once as one JSON
//! line to the record log `records/shard-0-of-1.jsonl`, and a resumed run (`synplast run
//! --resume DIR`) reads those back instead of simulating again; the plan of each round is a
//! function of the earlier rounds' records, so it is the same when resumed.

//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `candidate.rs` | one candidate: its parameters in the network, its seed, its metrics as numbers |
//! | `classifier.rs` | bagged decision trees (smartcore) and the threshold keeping 99% |
//! | `rounds.rs` | planning a round: box prior, restricted prior or file |
//! | `run.rs` | simulating and filtering the rules round by round; records, metrics, artifacts |
//! | `drift.rs` | the mean-field drift check of the rules (`drift.csv`, `drift` per round) |
//! | `report.rs` | `rounds.svg`, `marginals.svg`; writes them and the drift check |

pub mod candidate;
pub mod classifier;
pub mod config;
pub mod drift;
pub mod report;
pub mod rounds;
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
    const SHARDS: bool = true;
    crate::kind::name_and_seed!();
    fn validate(c: &RuleFilterConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    fn fill_defaults(c: &mut RuleFilterConfig) {
        config::fill_network_defaults(&mut c.network);
    }
    fn check_data(c: &RuleFilterConfig) -> Result<(), String> {
        for r in c.round_list() {
            if let Some(f) = &r.candidates {
                rounds::read_candidates(c, &f.file)?;
            }
        }
        Ok(())
    }
    fn run(c: &RuleFilterConfig, dir: &RunDir) -> Result<String, RunError> {
        run::run(c, dir)
    }
}
