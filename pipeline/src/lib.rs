//! # synplast
//!
//! Reproducible plasticity-rule experiments: a YAML file in, a run directory of metrics,
//! arrays and plots out. The numerical work is done by [`synplast_kernels`]; this crate owns
//! memory, randomness, optimisers, files and the command line.
//!
//! | module | what |
//! |---|---|
//! | [`cli`] | `synplast run / check / list` |
//! | [`config`] | experiment files: parsing, validation, overrides, hash |
//! | [`run`] | run directory, `meta.json`, `metrics.json`, artifacts |
//! | [`fit_rate`] | experiment kind `fit_rate` (Mehta et al. 2024, fig. 2) |
//! | [`fit_behavior`] | experiment kind `fit_behavior` (Mehta et al. 2024, fig. 3, flies) |
//! | [`prune`] | experiment kind `prune` (Moore & Chaudhuri 2020) |
//! | [`fsbi`], [`rule_filter`] | the fSBI network and its plausibility metrics; kind `rule_filter` |
//! | [`spiking`] | experiment kind `spiking` (the COBA benchmark network with doublet STDP) |
//! | [`meta`] | experiment kind `meta_function` (Confavreux et al. 2020) |
//! | [`cmaes`], [`parallel`] | CMA-ES; deterministic parallel map |
//! | [`adam`], [`linalg`], [`metrics`] | optimiser, eigen-decomposition, R^2 |
//! | [`strategies`] | proptest strategies for testing rules and layers |

pub mod adam;
pub mod cli;
pub mod cmaes;
pub mod config;
pub mod fit_behavior;
pub mod fit_rate;
pub mod fsbi;
pub mod interrupt;
pub mod io;
pub mod linalg;
pub mod meta;
pub mod metrics;
pub mod parallel;
pub mod plot;
pub mod progress;
pub mod prune;
pub mod rng;
pub mod rule_filter;
pub mod run;
pub mod spiking;
pub mod strategies;
pub mod yamlpath;
