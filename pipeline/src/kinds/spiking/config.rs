//! The config of `spiking`: the model, the COBA network and its STDP, or the fSBI network.

use crate::config::{bad, validate_name, Count, Finite, Fraction, NonNegative, Positive};
use crate::kind::KindName;
use crate::sim::fsbi::{self, FsbiConfig};
use serde::{Deserialize, Serialize};

/// The network model of a `spiking` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikingModel {
    /// The COBA benchmark network (Brette et al. 2007) with E->E doublet STDP.
    Coba,
    /// The recurrent E/I network of Confavreux et al. 2023.
    Fsbi,
}

/// The COBA benchmark network (`docs/coba_benchmark.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CobaNetworkConfig {
    /// Excitatory neurons.
    pub n_exc: Count,
    /// Inhibitory neurons.
    pub n_inh: Count,
    /// Connection probability of every projection (no autapses).
    pub p: Fraction,
    /// E->E weight (added to `g_e`, units of the leak conductance).
    pub w_ee: NonNegative,
    /// E->I weight.
    pub w_ei: NonNegative,
    /// I->E and I->I weight (added to `g_i`).
    pub w_inh: NonNegative,
    /// Mean initial membrane potential (mV).
    pub v0_mean: Finite,
    /// Std of the initial membrane potential (mV).
    pub v0_std: NonNegative,
}

/// E->E doublet STDP (times in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdpConfig {
    /// Presynaptic trace time constant (ms).
    pub tau_pre: Positive,
    /// Postsynaptic trace time constant (ms).
    pub tau_post: Positive,
    /// Learning rate.
    pub eta: NonNegative,
    /// Change per presynaptic spike.
    pub alpha: Finite,
    /// Change per postsynaptic spike.
    pub beta: Finite,
    /// Post-after-pre term.
    pub gamma: Finite,
    /// Pre-after-post term.
    pub kappa: Finite,
    /// Upper weight bound.
    pub w_max: Positive,
}

/// Experiment kind `spiking`: model `coba` (`docs/coba_benchmark.md`) or `fsbi`
/// (`docs/spiking_fsbi.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikingConfig {
    /// Experiment name (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Always `spiking`.
    pub kind: KindName<super::Spiking>,
    /// Seed of every random draw; drawn and written back when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Neuron model: `coba` (`docs/coba_benchmark.md`) or `fsbi` (`docs/spiking_fsbi.md`).
    pub model: SpikingModel,
    /// The COBA network (model `coba`).
    #[serde(default)]
    pub network: Option<CobaNetworkConfig>,
    /// E->E plasticity of the COBA network; none when absent.
    #[serde(default)]
    pub stdp: Option<StdpConfig>,
    /// Simulated time (ms) of the COBA network, in steps of 0.1 ms.
    #[serde(default)]
    pub duration_ms: Option<Positive>,
    /// The fSBI network (model `fsbi`).
    #[serde(default)]
    pub fsbi: Option<FsbiConfig>,
}

/// Semantic checks of a `spiking` config: the field path and the problem.
pub fn validate(c: &SpikingConfig) -> Result<(), (String, String)> {
    validate_name(&c.name)?;
    match c.model {
        SpikingModel::Coba => {
            if c.fsbi.is_some() {
                return bad("fsbi", "the fsbi section is for model: fsbi");
            }
            let Some(net) = &c.network else {
                return bad("network", "model coba needs a network section");
            };
            let Some(d) = c.duration_ms else {
                return bad("duration_ms", "model coba needs duration_ms");
            };
            let n = net.n_exc.0 as u64 + net.n_inh.0 as u64;
            if n > 200_000 {
                return bad(
                    "network",
                    format!("{n} neurons; at most 200000 are supported"),
                );
            }
            let syn = n as f64 * n as f64 * net.p.0;
            if syn > 2e8 {
                return bad(
                    "network.p",
                    format!("about {syn:.3e} synapses; at most 2e8 are supported"),
                );
            }
            if d.0 > 1e7 {
                return bad("duration_ms", "at most 1e7 ms");
            }
            if (d.0 / 0.1).round() < 1.0 {
                return bad("duration_ms", "must be at least one 0.1 ms step");
            }
        }
        SpikingModel::Fsbi => {
            for (f, present) in [
                ("network", c.network.is_some()),
                ("stdp", c.stdp.is_some()),
                ("duration_ms", c.duration_ms.is_some()),
            ] {
                if present {
                    return bad(
                        f,
                        "this setting is for model: coba; model fsbi reads the fsbi section",
                    );
                }
            }
            let Some(f) = &c.fsbi else {
                return bad("fsbi", "model fsbi needs an fsbi section");
            };
            fsbi::validate(f)?;
        }
    }
    Ok(())
}
