//! Experiment kind `spiking`, model `coba`: the Vogels-Abbott / Brette et al. 2007 COBA
//! benchmark network with E->E doublet STDP (`docs/coba_benchmark.md`), built from the YAML and simulated
//! on one thread with the kernels of [`synplast_kernels::spiking`].
//!
//! Step order: neurons (Euler, threshold, reset, refractory hold), spike delivery (each spike
//! adds the weight before its own plasticity update), E->E plasticity on presynaptic then
//! postsynaptic spikes with the traces from before this step, then traces.

use super::config::SpikingConfig;
use crate::rng::Rng;
use crate::sim::csr::Csr;
use synplast_kernels::spiking::{
    coba_step, deliver, doublet_post, doublet_pre, traces_update, CobaNeuron, DoubletRule,
};
use synplast_kernels::KernelError;

/// The COBA network and its state.
pub struct CobaNetwork {
    /// Neuron parameters.
    pub neuron: CobaNeuron<f64>,
    /// Excitatory neurons (indices `0..n_exc`); inhibitory follow.
    pub n_exc: usize,
    /// All neurons.
    pub n: usize,
    /// Membrane potentials.
    pub v: Vec<f64>,
    /// Excitatory conductances.
    pub ge: Vec<f64>,
    /// Inhibitory conductances.
    pub gi: Vec<f64>,
    refractory: Vec<u16>,
    /// E->E (plastic when `stdp` is set).
    pub ee: Csr,
    /// E->I.
    pub ei: Csr,
    /// I->all.
    pub ia: Csr,
    in_ptr: Vec<u32>,
    in_syn: Vec<u32>,
    in_pre: Vec<u32>,
    /// The E->E rule.
    pub stdp: Option<DoubletRule<f64>>,
    x_pre: Vec<f64>,
    x_post: Vec<f64>,
    decay_pre: f64,
    decay_post: f64,
    spikes: Vec<u32>,
    /// Synaptic events delivered so far.
    pub events: u64,
}

impl CobaNetwork {
    /// Builds the network of `cfg` (connections, initial potentials) from `rng`.
    pub fn new(cfg: &SpikingConfig, rng: &mut Rng) -> Self {
        let net = cfg
            .network
            .as_ref()
            .expect("validated: model coba has a network");
        let (ne, ni) = (net.n_exc.get(), net.n_inh.get());
        let n = ne + ni;
        let p = net.p.0;
        let ee = Csr::random(ne, 0, ne, 0, p, net.w_ee.0, rng);
        let ei = Csr::random(ne, 0, ni, ne, p, net.w_ei.0, rng);
        let ia = Csr::random(ni, ne, n, 0, p, net.w_inh.0, rng);
        let (in_ptr, in_syn, in_pre) = ee.incoming(ne, 0);
        let v = (0..n)
            .map(|_| net.v0_mean.0 + net.v0_std.0 * rng.normal())
            .collect();
        let neuron = CobaNeuron::<f64>::benchmark();
        let stdp = cfg.stdp.as_ref().map(|s| DoubletRule {
            tau_pre: s.tau_pre.0,
            tau_post: s.tau_post.0,
            alpha: s.alpha.0,
            beta: s.beta.0,
            gamma: s.gamma.0,
            kappa: s.kappa.0,
            eta: s.eta.0,
            w_max: s.w_max.0,
        });
        let (decay_pre, decay_post) = stdp
            .map(|s| {
                (
                    (-neuron.dt / s.tau_pre).exp(),
                    (-neuron.dt / s.tau_post).exp(),
                )
            })
            .unwrap_or((0.0, 0.0));
        Self {
            neuron,
            n_exc: ne,
            n,
            v,
            ge: vec![0.0; n],
            gi: vec![0.0; n],
            refractory: vec![0; n],
            ee,
            ei,
            ia,
            in_ptr,
            in_syn,
            in_pre,
            stdp,
            x_pre: vec![0.0; ne],
            x_post: vec![0.0; ne],
            decay_pre,
            decay_post,
            spikes: vec![0; n],
            events: 0,
        }
    }

    /// One step; returns the spikes of this step (global indices, ascending).
    pub fn step(&mut self) -> Result<&[u32], KernelError> {
        let count = coba_step(
            &self.neuron,
            &mut self.v,
            &mut self.ge,
            &mut self.gi,
            &mut self.refractory,
            0,
            &mut self.spikes,
        )?;
        let spikes = &self.spikes[..count];
        let split = spikes.partition_point(|&s| (s as usize) < self.n_exc);
        let (exc, inh) = spikes.split_at(split);
        let mut events = deliver(&self.ee.ptr, &self.ee.target, &self.ee.w, exc, &mut self.ge)?;
        events += deliver(&self.ei.ptr, &self.ei.target, &self.ei.w, exc, &mut self.ge)?;
        let ne = self.n_exc as u32;
        // I rows are numbered from 0 in `ia`.
        for &s in inh {
            events += deliver(
                &self.ia.ptr,
                &self.ia.target,
                &self.ia.w,
                &[s - ne],
                &mut self.gi,
            )?;
        }
        self.events += events as u64;
        if let Some(rule) = &self.stdp {
            doublet_pre(
                rule,
                &self.ee.ptr,
                &self.ee.target,
                0,
                &mut self.ee.w,
                exc,
                &self.x_post,
            )?;
            doublet_post(
                rule,
                &self.in_ptr,
                &self.in_syn,
                &self.in_pre,
                0,
                &mut self.ee.w,
                exc,
                &self.x_pre,
            )?;
            traces_update(&mut self.x_pre, exc, 0, self.decay_pre)?;
            traces_update(&mut self.x_post, exc, 0, self.decay_post)?;
        }
        Ok(&self.spikes[..count])
    }

    /// Mean E->E weight.
    pub fn mean_ee(&self) -> f64 {
        self.ee.w.iter().sum::<f64>() / self.ee.w.len().max(1) as f64
    }
}

/// Mean CV of inter-spike intervals over trains with at least 3 spikes (0 when there are none).
pub fn cv_isi(times: &[Vec<u32>]) -> f64 {
    let cvs = crate::metrics::isi_cvs(times);
    cvs.iter().sum::<f64>() / cvs.len().max(1) as f64
}
