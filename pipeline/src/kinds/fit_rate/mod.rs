//! Experiment kind `fit_rate`: infer a Taylor rule from the activity of a plastic rate layer
//! (Mehta et al. 2024, fig. 2; `docs/fit_rate.md`).
//!
//! A teacher rule generates trajectories `y_t = sigmoid(W_t x_t)`, `W_{t+1} = W_t + eta dW`
//! from random `W_0` and Gaussian inputs; Gaussian noise is added to the observed activity and
//! only a fraction of output neurons is observed. A student rule's coefficients are fitted by
//! Adam, one step per trajectory, on the exact gradient of the trajectory MSE (plus L1), then
//! optionally refined by Levenberg-Marquardt. The fitted rule is evaluated on fresh
//! trajectories (R^2 of weights and of activity), and the Gauss-Newton matrix at the fit tells
//! which coefficient directions the data determine.
//!
//! Random streams (substreams of the seed): 0 training data, 1 observation noise, 2 observed
//! neurons, 3 initial theta, 4 evaluation data. A grid shares them, so its cells differ only
//! by noise scale and observed fraction.
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `fit.rs` | data, Adam and Levenberg-Marquardt, checkpoints |
//! | `evaluate.rs` | R^2 on fresh trajectories, identifiability |
//! | `run.rs` | cells, metrics and artifacts |
//! | `recorded.rs` | recorded activity: arrays and their checks, parameters, fit, scores |
//! | `uncertainty.rs` | profiled Gauss-Newton matrix, standard errors |
//! | `recorded_run.rs` | the recorded-data run: bootstrap, metrics and artifacts |

pub mod config;
pub mod evaluate;
pub mod fit;
pub mod recorded;
pub mod recorded_run;
pub mod run;
pub mod uncertainty;

pub use config::FitRateConfig;
pub use evaluate::{evaluate, identifiability, Evaluation};
pub use fit::*;

use crate::config::Positive;
use crate::error::RunError;
use crate::kind::Kind;
use crate::rundir::{Resume, RunDir};

/// The kind `fit_rate`.
pub struct FitRate;

impl Kind for FitRate {
    type Config = FitRateConfig;
    const NAME: &'static str = "fit_rate";
    const ABOUT: &'static str =
        "infer a Taylor plasticity rule from the activity of a plastic rate layer (Mehta et al. 2024, fig. 2)";
    const RESUME: Resume = Resume::Checkpoints;
    crate::kind::name_and_seed!();
    fn validate(c: &FitRateConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    /// The initial weight std `1 / (n_in + n_out)` when absent.
    fn fill_defaults(c: &mut FitRateConfig) {
        if let (None, Some(a), Some(b)) = (c.network.w0_std, c.network.n_in, c.network.n_out) {
            c.network.w0_std = Some(Positive(1.0 / (a.0 as f64 + b.0 as f64)));
        }
    }
    /// Recorded data: the arrays are read and checked before anything is written.
    fn check_data(c: &FitRateConfig) -> Result<(), String> {
        match &c.data {
            config::RateData::Recorded(r) => {
                let data = recorded::load(r)?;
                recorded_run::held_out_count(c, &data).map(|_| ())
            }
            config::RateData::Simulated(_) => Ok(()),
        }
    }
    fn run(c: &FitRateConfig, dir: &RunDir) -> Result<String, RunError> {
        run::run(c, dir)
    }
}
