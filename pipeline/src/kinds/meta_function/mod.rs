//! Experiment kind `meta_function`: meta-learn a plasticity rule from the function it must give
//! a network (Confavreux et al. 2020; `docs/meta_function.md`).
//!
//! Inner loop, per data set: inputs `x ~ N(0, Q^T D Q)` (`Q` a random rotation of its own), a
//! linear network `y = W x + L y` ([`synplast_kernels::linear`]) whose weights change once per
//! epoch by the Taylor rule averaged over the samples. Task loss: for each output `i`,
//! `min(|pc_i - w_i|, |pc_i + w_i|)` with `pc_i` the data set's `i`-th principal component (of
//! its sample second-moment matrix, which is what the batch rule sees), averaged over outputs
//! and data sets. A data set whose weights become non-finite or exceed `1e5 / n_samples` in
//! absolute value at epoch `e` scores `(epochs - e) / epochs + 1` instead. Objective: task loss
//! plus `l1 * sum |theta|`.
//!
//! Outer loop: CMA-ES on the objective, or Adam on its exact gradient, carried through every
//! epoch of every data set by forward sensitivities. A gradient step that makes more data sets
//! blow up is undone and the learning rate halved (a blown-up data set's score is flat, so the
//! gradient could not lead back). Optionally, sequential thresholding ([`sparsify`]): every
//! `threshold_every` iterations the coefficients below `threshold` in magnitude are set to zero
//! and the optimiser's moments restart. Candidates (CMA-ES) or data sets
//! (gradient) are evaluated in parallel; results do not depend on the number of threads.
//!
//! Random streams (substreams of the seed): 0 training data sets, 1 initial theta, 2 CMA-ES
//! sampling, 3 held-out data sets.

//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `task.rs` | the inner and outer loops |
//! | `run.rs` | the held-out evaluation, metrics and artifacts |

pub mod config;
pub mod run;
pub mod task;

pub use config::*;
pub use task::*;

use crate::config::Count;
use crate::config::Positive;
use crate::error::RunError;
use crate::kind::Kind;
use crate::rundir::{Resume, RunDir};

/// The kind `meta_function`.
pub struct MetaFunction;

impl Kind for MetaFunction {
    type Config = MetaFunctionConfig;
    const NAME: &'static str = "meta_function";
    const ABOUT: &'static str = "meta-learn a Taylor rule that makes a linear network find principal components (Confavreux et al. 2020)";
    const RESUME: Resume = Resume::Rerun;
    crate::kind::name_and_seed!();
    fn validate(c: &MetaFunctionConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    /// CMA-ES's population 50 and step 0.1, or the gradient method's rate 0.01 and Adam.
    fn fill_defaults(c: &mut MetaFunctionConfig) {
        let o = &mut c.optimizer;
        if o.method == MetaMethod::Cmaes {
            o.population.get_or_insert(Count(50));
            o.sigma0.get_or_insert(Positive(0.1));
        } else {
            o.lr.get_or_insert(Positive(0.01));
            o.step.get_or_insert(GradientStep::Adam);
        }
    }
    fn run(c: &MetaFunctionConfig, dir: &RunDir) -> Result<String, RunError> {
        run::run(c, dir)
    }
}
