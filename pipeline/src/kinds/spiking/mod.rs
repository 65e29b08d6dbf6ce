//! Experiment kind `spiking`: one simulation of a spiking E/I network with plasticity.
//! Model `coba`: the Vogels-Abbott / Brette et al. 2007 COBA benchmark network with E->E
//! doublet STDP (`docs/coba_benchmark.md`); model `fsbi`: the recurrent E/I network of
//! Confavreux et al. 2023 with doublet or MLP rules and its plausibility report
//! (`docs/spiking_fsbi.md`; the network itself is in [`crate::sim::fsbi`]).
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | config types, defaults, validation |
//! | `coba.rs` | the COBA network |
//! | `coba_run.rs` | the `coba` run, metrics and artifacts |
//! | `fsbi_run.rs` | the `fsbi` run, metrics and artifacts |

pub mod coba;
pub mod coba_run;
pub mod config;
pub mod fsbi_run;

pub use coba::CobaNetwork;
pub use config::*;

use crate::error::RunError;
use crate::kind::Kind;
use crate::rundir::{Resume, RunDir};

/// The kind `spiking`.
pub struct Spiking;

impl Kind for Spiking {
    type Config = SpikingConfig;
    const NAME: &'static str = "spiking";
    const ABOUT: &'static str = "simulate a spiking E/I network with plasticity: the COBA benchmark network (Brette et al. 2007) or the fSBI network (Confavreux et al. 2023)";
    const RESUME: Resume = Resume::Rerun;
    crate::kind::name_and_seed!();
    fn validate(c: &SpikingConfig) -> Result<(), (String, String)> {
        config::validate(c)
    }
    fn run(c: &SpikingConfig, dir: &RunDir) -> Result<String, RunError> {
        match c.model {
            SpikingModel::Coba => coba_run::run(c, dir),
            SpikingModel::Fsbi => fsbi_run::run(c, dir),
        }
    }
}
