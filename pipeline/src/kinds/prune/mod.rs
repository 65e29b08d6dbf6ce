//! Experiment kind `prune`: noise-driven synaptic pruning that preserves the spectrum
//! (Moore & Chaudhuri 2020; `docs/prune.md`), against two controls at the same expected synapse
//! count: keep probability proportional to `|w|`, and uniform.
//!
//! The network matrix `A` (leak on the diagonal) is generated (random signed symmetric
//! diagonally dominant; dense clusters with sparse long-range links) or read from `.npy` / CSV.
//! The stationary covariance of `dx = A x dt + sigma dW` is exact (`-(sigma^2/2) A^-1` for
//! symmetric `A`, else the Lyapunov solution by Smith's doubling iteration) and, on request,
//! also estimated from a simulation of the noisy dynamics alone (the `noise_online` rule).
//! Linear algebra (eigenvalues, Cholesky, LU) is nalgebra's.
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `network.rs` | the network, its covariance and eigenvalues |
//! | `run.rs` | the pruning rules, metrics and artifacts |

pub mod config;
pub mod network;
pub mod run;

pub use config::*;
pub use network::{check_data, eigenvalues, estimate_covariance, exact_covariance, load_matrix};

use crate::config::{Count, Positive};
use crate::error::RunError;
use crate::kind::Kind;
use crate::rundir::{Resume, RunDir};

/// The kind `prune`.
pub struct Prune;

impl Kind for Prune {
    type Config = PruneConfig;
    const NAME: &'static str = "prune";
    const ABOUT: &'static str = "prune a linear network's synapses by noise-driven covariance, keeping its spectrum (Moore & Chaudhuri 2020)";
    const RESUME: Resume = Resume::Rerun;
    crate::kind::name_and_seed!();
    fn validate(c: &PruneConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    /// The online estimate's step and length when absent.
    fn fill_defaults(c: &mut PruneConfig) {
        if c.covariance.method == CovarianceMethod::Estimated {
            c.covariance.dt.get_or_insert(Positive(0.002));
            c.covariance.steps.get_or_insert(Count(200_000));
        }
    }
    fn check_data(c: &PruneConfig) -> Result<(), String> {
        network::check_data(c)
    }
    fn run(c: &PruneConfig, dir: &RunDir) -> Result<String, RunError> {
        run::run(c, dir)
    }
}
