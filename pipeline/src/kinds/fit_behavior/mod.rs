//! Experiment kind `fit_behavior`: infer a reward-modulated plasticity rule from choices
//! (Mehta et al. 2024, fig. 3 and the flies; `docs/fit_behavior.md`).
//!
//! Sessions come from a simulated baited two-odor task run by a ground-truth rule, or from the
//! per-fly CSVs of Rajagopalan et al. 2023. The fitted rule (81-term Taylor or MLP) drives the
//! behaving network of [`synplast_kernels::behavior`] through each session with the recorded
//! inputs, choices and rewards (teacher forcing); Adam minimises the mean choice cross-entropy,
//! one step per session, with the hand-derived session gradient.
//!
//! Departures from the paper's code, on purpose: the fit sees the very inputs that generated
//! a simulated session (the public code refits on independently resampled input noise), and a
//! trial that reaches `max_presentations` without an accept ends with no reward and no update
//! (the public code pads trials to a fixed length).
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `model.rs` | the behaving network, the fitted rule, simulated sessions |
//! | `flies.rs`, `flies_trial.rs` | the fly CSVs; the flies at the trial level |
//! | `choices.rs`, `choices_run.rs` | trial-level choice tables: parsing, fit, held-out scores |
//! | `fit.rs` | Adam on the session gradient, checkpoints |
//! | `score.rs` | deviance, R^2, identifiability, sign test |
//! | `run.rs` | the simulated and fly runs, metrics and artifacts |

pub mod choices;
pub mod choices_run;
pub mod config;
pub mod fit;
pub mod flies;
pub mod flies_report;
pub mod flies_trial;
pub mod model;
pub mod run;
pub mod score;
pub mod surrogate;
pub mod uncertainty;

pub use config::*;
pub use fit::*;
pub use flies::*;
pub use model::*;
pub use score::*;

use crate::config::{Count, Finite, NonNegative};
use crate::error::RunError;
use crate::kind::Kind;
use crate::rundir::{Resume, RunDir};

/// The kind `fit_behavior`.
pub struct FitBehavior;

impl Kind for FitBehavior {
    type Config = FitBehaviorConfig;
    const NAME: &'static str = "fit_behavior";
    const ABOUT: &'static str = "infer a reward-modulated rule (81-term Taylor or MLP) from choices: simulated, the 18 flies (per presentation or per trial), or your own two-choice table (Mehta et al. 2024, fig. 3)";
    const RESUME: Resume = Resume::Checkpoints;
    crate::kind::name_and_seed!();
    fn validate(c: &FitBehaviorConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    /// The plasticity rate, readout scale and initial rule std when absent; all 18 flies.
    fn fill_defaults(c: &mut FitBehaviorConfig) {
        config::fill_section_defaults(c);
        for v in c.variants.iter_mut().flatten() {
            if let Some(n) = &mut v.network {
                n.eta.get_or_insert(Finite(0.5));
                n.readout.get_or_insert(Finite(default_readout(n.hidden)));
            }
            if let Some(r) = &mut v.rule {
                let std = match r.kind {
                    BehaviorRuleKind::Taylor => 0.0,
                    BehaviorRuleKind::Mlp => 0.01,
                };
                r.init_std.get_or_insert(NonNegative(std));
            }
        }
        if let BehaviorData::Flies(f) = &mut c.data {
            f.ids.get_or_insert_with(|| (1..=18).map(Count).collect());
        }
    }
    fn check_data(c: &FitBehaviorConfig) -> Result<(), String> {
        flies::check_data(c)
    }
    fn run(c: &FitBehaviorConfig, dir: &RunDir) -> Result<String, RunError> {
        run::run(c, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::terms::{reward_term_key, reward_term_label};
    use synplast_kernels::reward::REWARD_TERMS;

    #[test]
    fn term_keys_and_labels_round_trip() {
        for k in 0..REWARD_TERMS {
            assert_eq!(reward_term_key(&reward_term_label(k)), Some(k));
        }
        assert_eq!(reward_term_key("x*r"), Some(28));
        assert_eq!(reward_term_key("r * x"), Some(28));
        assert_eq!(reward_term_key("1001"), Some(28));
        assert_eq!(reward_term_key("w"), Some(3));
        assert_eq!(reward_term_key("x*x*x"), None);
        assert_eq!(reward_term_key("x*z"), None);
        assert_eq!(reward_term_key(""), None);
        assert_eq!(reward_term_key("x^3"), None);
    }

    #[test]
    fn fly_csv_parses_and_names_bad_lines() {
        let good = "step,trial,odor,accept,reward\n0,0,A,0,\n1,0,B,1,0\n2,1,A,1,1\n";
        let c = parse_fly_csv(good, "f.csv").unwrap();
        assert_eq!(c.odor, vec![0, 1, 0]);
        assert_eq!(c.accept, vec![false, true, true]);
        assert_eq!(c.reward, vec![0.0, 0.0, 1.0]);
        assert_eq!(c.trials, 2);
        let crlf = good.replace('\n', "\r\n");
        assert_eq!(parse_fly_csv(&crlf, "f.csv").unwrap(), c);
        for (bad, want) in [
            ("", "f.csv:1: expected the header"),
            ("step,trial,odor,accept,reward\n", "no presentations"),
            ("step,trial,odor,accept,reward\n0,0,C,0,\n", "f.csv:2: odor"),
            (
                "step,trial,odor,accept,reward\n0,0,A,2,\n",
                "f.csv:2: accept",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1,\n",
                "f.csv:2: reward",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,0,1\n",
                "f.csv:2: reward",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1,1\n2,1,A,1,1\n",
                "f.csv:3: step",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1,1\n1,0,A,1,1\n",
                "f.csv:3: trial",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1\n",
                "f.csv:2: expected 5",
            ),
            (
                "step,trial,odor,accept,reward\nx,0,A,1,1\n",
                "f.csv:2: step",
            ),
        ] {
            let e = parse_fly_csv(bad, "f.csv").unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn reward_signal_uses_previous_rewards_only() {
        let accept = [false, true, true, false, true];
        let reward = [0.0, 1.0, 1.0, 0.0, 0.0];
        let r = reward_signals(&accept, &reward);
        assert_eq!(r, vec![0.0, 1.0, 0.9, 0.0, -0.2]);
    }
}
