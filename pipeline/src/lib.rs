//! # synplast
//!
//! Reproducible plasticity-rule experiments: a YAML file in, a run directory of metrics,
//! arrays and plots out. The numerical work is done by [`synplast_kernels`]; this crate owns
//! memory, randomness, optimisers, files and the command line.
//!
//! Dependencies point one way: [`cli`] -> [`kinds`] (the registry) -> each kind's folder ->
//! {[`rundir`], [`config`], [`fit`], [`sim`], numerics, plots, io} -> the kernels, with
//! [`kind`] (the contract of a kind) and [`error`] at the bottom.
//!
//! | module | what |
//! |---|---|
//! | [`cli`] | `synplast run / check / list` |
//! | [`kinds`] | the registry and one folder per experiment kind |
//! | [`kind`] | the `Kind` trait and [`kind::Experiment`], a parsed experiment of any kind |
//! | [`rundir`] | run directory: lock, `meta.json`, artifacts, checkpoint store, exit codes |
//! | [`config`] | config primitives: bounded numbers, YAML with positions, overrides, term keys |
//! | [`error`] | `ConfigError` (exit 2) and `RunError` (exit 1, or interrupted) |
//! | [`fit`] | Adam with undo-and-halve, identifiability |
//! | [`sim`] | the spiking networks shared by `spiking` and `rule_filter` |
//! | [`history`] | fit histories as artifacts |
//! | [`cmaes`], [`parallel`] | CMA-ES; deterministic parallel map |
//! | [`linalg`], [`metrics`], [`rng`], [`stats`] | eigen-decomposition, R^2 and summaries, random streams, sign and Wilcoxon tests |
//! | [`io`], [`plot`], [`progress`], [`interrupt`], [`yamlpath`] | files, SVG, progress, stop requests, YAML paths |
//! | [`strategies`] | proptest strategies for testing rules and layers |

pub mod cli;
pub mod cmaes;
pub mod config;
pub mod error;
pub mod fit;
pub mod history;
pub mod interrupt;
pub mod io;
pub mod kind;
pub mod kinds;
pub mod linalg;
pub mod metrics;
pub mod parallel;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod rundir;
pub mod sim;
pub mod stats;
pub mod strategies;
pub mod yamlpath;
