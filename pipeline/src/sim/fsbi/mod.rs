//! The recurrent E/I network of Confavreux et al. 2023 (`docs/spiking_fsbi.md`) with doublet plasticity
//! per connection type, Poisson inputs, synaptic delays, a rate checker, and the plausibility
//! metrics of the paper, measured in a scoring window after a learning phase.
//!
//! Step order: neurons ([`fsbi_step`]); input spikes (AMPA, no delay); recurrent spikes that
//! arrive this step (emitted `delay` earlier) are delivered with the weight before their own
//! update, then presynaptic plasticity (`alpha + kappa x_post`) with the postsynaptic traces
//! from before this step; postsynaptic plasticity (`beta + gamma x_pre`) for this step's
//! spikes with the presynaptic traces from before this step's arrivals; then traces (+1 for
//! each arrival on the presynaptic side and each spike on the postsynaptic side, then decay).
//!
//! Metric definitions (over the scoring window, E population unless said): rates (E and I,
//! Hz); CV of inter-spike intervals (mean over neurons with at least 3 spikes); temporal Fano
//! factor (per neuron, variance over mean of 100 ms spike counts, averaged over neurons with
//! spikes); spatial Fano factor (per 100 ms bin, variance over mean across neurons, averaged
//! over bins with spikes); auto-covariance (per neuron, the correlation coefficient of its
//! 10 ms spike counts with themselves 10..100 ms later, averaged over lags and neurons);
//! saturation (fraction of plastic weights at 0 or `w_max` at the end); creep
//! (`max |2 (w_end - w_start) / (w_end + w_start)|` over plastic types, means at the start and
//! end of the window).
//!
//! With `plausibility:` set, the paper's own metrics ([`paper_metrics`]) are computed beside
//! these, from the first `recorded` E and I neurons and `synapses` sampled synapses per type
//! recorded every 100 ms, and `definition` says which decide `pass` and `plausible`. With
//! `rate_checker: paper`, the paper's rate checker ([`PaperRateChecker`]) replaces ours.

pub mod config;
pub mod paper_metrics;
pub mod plausibility;
pub mod report;

pub use config::*;
pub use paper_metrics::{paper_metrics, PaperInput, PaperMetrics, Verdicts};
pub use plausibility::{plausibility, Plausibility};

use crate::config::Finite;
use crate::rng::Rng;
use crate::sim::csr::Csr;
use synplast_kernels::spiking::{
    deliver, doublet_post, doublet_pre, fsbi_step, mlp_post, mlp_pre, poisson_next_step,
    traces_update, DoubletRule, FsbiNeuron, MlpReadout, PostState, RateChecker, SpikeRing,
    SpikingMlp,
};

/// Hidden units of the shared feature network of the MLP rule.
pub const MLP_HIDDEN: usize = 50;
/// Time constant (ms) of the low-passed voltage and currents the MLP rule reads (our choice;
/// the design gives none, see `docs/spiking_fsbi.md`).
pub const LOWPASS_MS: f64 = 20.0;
/// Voltage and currents enter the MLP as `(V - E_rest) / 20 mV` and `I / 20 mV`.
pub const MLP_SCALE_MV: f64 = 20.0;

/// How a projection learns.
pub enum Plasticity {
    /// Not at all.
    Static,
    /// A doublet rule.
    Doublet(DoubletRule<f64>),
    /// An MLP rule.
    Mlp(MlpReadout<f64>),
}
use synplast_kernels::KernelError;

/// One projection between populations.
pub struct Projection {
    /// Synapses by presynaptic row (targets global).
    pub csr: Csr,
    in_ptr: Vec<u32>,
    in_syn: Vec<u32>,
    in_pre: Vec<u32>,
    pre_first: u32,
    post_first: u32,
    /// The rule.
    pub plasticity: Plasticity,
    x_pre: Vec<f64>,
    x_post: Vec<f64>,
    x_pre2: Vec<f64>,
    x_post2: Vec<f64>,
    decay_pre: f64,
    decay_post: f64,
    /// Excitatory (AMPA) or inhibitory (GABA).
    pub excitatory: bool,
}

/// The paper's rate checker (Auryn's `RateChecker`, as `sim_bg_IF_EEEIIEII_6pPol.cpp` builds
/// it on the E population with `min = 0`): `a <- a e^{-dt/tau} + spikes / (tau n)` each step
/// (tau in s, so `a` tends to the rate in Hz), starting at `(min + max) / 2`; the run stops
/// unless `min < a < max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperRateChecker {
    /// `e^{-dt/tau}`.
    pub decay: f64,
    /// Averaging time constant (s).
    pub tau_s: f64,
    /// Lower bound (Hz), exclusive.
    pub min_hz: f64,
    /// Upper bound (Hz), exclusive.
    pub max_hz: f64,
    /// The current average (Hz).
    pub avg_hz: f64,
}

impl PaperRateChecker {
    /// A checker with time constant `tau_ms` on steps of `dt_ms`, bounds `(min_hz, max_hz)`.
    pub fn new(tau_ms: f64, dt_ms: f64, min_hz: f64, max_hz: f64) -> Self {
        Self {
            decay: (-dt_ms / tau_ms).exp(),
            tau_s: tau_ms * 1e-3,
            min_hz,
            max_hz,
            avg_hz: 0.5 * (min_hz + max_hz),
        }
    }

    /// Adds one step of `spikes` among the `n` watched neurons; `false` once the average
    /// leaves `(min_hz, max_hz)`.
    pub fn update(&mut self, spikes: usize, n: usize) -> bool {
        self.avg_hz = self.avg_hz * self.decay + spikes as f64 / self.tau_s / n.max(1) as f64;
        self.avg_hz > self.min_hz && self.avg_hz < self.max_hz
    }
}

/// Connection types in the order of [`FsbiNetwork::proj`].
pub const TYPES: [&str; 4] = ["ee", "ei", "ie", "ii"];

/// The network and its state.
pub struct FsbiNetwork {
    neuron: FsbiNeuron<f64>,
    /// Excitatory neurons `0..n_exc`.
    pub n_exc: usize,
    /// All neurons.
    pub n: usize,
    v: Vec<f64>,
    ga: Vec<f64>,
    gn: Vec<f64>,
    gg: Vec<f64>,
    theta: Vec<f64>,
    spikes: Vec<u32>,
    /// E->E, E->I, I->E, I->I.
    pub proj: Vec<Projection>,
    input: Csr,
    input_p: Vec<f64>,
    input_next: Vec<u64>,
    rng: Rng,
    delay: usize,
    ring_slots: Vec<u32>,
    ring_counts: Vec<u32>,
    arrivals: Vec<u32>,
    /// Steps done.
    pub t: u64,
    /// The rate checker (tau 1 s).
    pub checker: RateChecker,
    /// The paper's rate checker, used instead of `checker` when set (`rate_checker: paper`).
    pub paper_checker: Option<PaperRateChecker>,
    /// False once the checker tripped.
    pub healthy: bool,
    /// Synaptic events so far (recurrent and input).
    pub events: u64,
    scratch: Vec<u32>,
    mlp: SpikingMlp<f64, MLP_HIDDEN>,
    v_lp: Vec<f64>,
    ce_lp: Vec<f64>,
    ci_lp: Vec<f64>,
}

fn mlp_of(m: &MlpReadoutConfig, w_max: f64) -> MlpReadout<f64> {
    let a = |v: &[Finite; 5]| [v[0].0, v[1].0, v[2].0, v[3].0, v[4].0];
    MlpReadout {
        eta: m.eta.0,
        pre: a(&m.pre),
        post: a(&m.post),
        w_max,
    }
}

/// The shared random feature network, from its own stream: `w1, b1 ~ N(0, 1)`,
/// `w2 ~ N(0, 4 / H)`, `b2 = 0`.
pub fn feature_network(rng: &mut Rng) -> SpikingMlp<f64, MLP_HIDDEN> {
    let mut m = SpikingMlp {
        w1: [[0.0; 6]; MLP_HIDDEN],
        b1: [0.0; MLP_HIDDEN],
        w2: [[0.0; MLP_HIDDEN]; 4],
        b2: [0.0; 4],
    };
    for row in m.w1.iter_mut() {
        for v in row.iter_mut() {
            *v = rng.normal();
        }
    }
    for v in m.b1.iter_mut() {
        *v = rng.normal();
    }
    let s = 2.0 / (MLP_HIDDEN as f64).sqrt();
    for row in m.w2.iter_mut() {
        for v in row.iter_mut() {
            *v = s * rng.normal();
        }
    }
    m
}

fn rule_of(r: &Option<[Finite; 6]>, eta: f64, w_max: f64) -> Option<DoubletRule<f64>> {
    r.as_ref().map(|r| DoubletRule {
        tau_pre: r[0].0 * 1000.0,
        tau_post: r[1].0 * 1000.0,
        alpha: r[2].0,
        beta: r[3].0,
        gamma: r[4].0,
        kappa: r[5].0,
        eta,
        w_max,
    })
}

impl FsbiNetwork {
    /// Builds the network from `rng` (connectivity, input rates, then the input process, which
    /// keeps its own substream).
    pub fn new(f: &FsbiConfig, rng: &Rng) -> Self {
        let mut build = rng.substream(0);
        let (ne, ni) = (f.n_exc.get(), f.n_inh.get());
        let n = ne + ni;
        let neuron = FsbiNeuron::<f64>::published();
        let dt = neuron.dt;
        let w_max = f.w_max.0;
        let rules = [&f.rules.ee, &f.rules.ei, &f.rules.ie, &f.rules.ii];
        let spans = [
            (ne, 0, ne, 0),
            (ne, 0, ni, ne),
            (ni, ne, ne, 0),
            (ni, ne, ni, ne),
        ];
        let proj = spans
            .iter()
            .enumerate()
            .map(|(k, &(n_pre, pre0, n_post, post0))| {
                let csr = Csr::random(n_pre, pre0, n_post, post0, f.p.0, f.w[k].0, &mut build);
                let (in_ptr, in_syn, in_pre) = csr.incoming(n_post, post0);
                let mlp_cfg = f.mlp.as_ref().and_then(|m| match k {
                    0 => m.ee.as_ref(),
                    2 => m.ie.as_ref(),
                    _ => None,
                });
                let plasticity = match (rule_of(rules[k], f.eta.0, w_max), mlp_cfg) {
                    (_, Some(m)) => Plasticity::Mlp(mlp_of(m, w_max)),
                    (Some(r), None) => Plasticity::Doublet(r),
                    (None, None) => Plasticity::Static,
                };
                let (dp, dq) = match &plasticity {
                    Plasticity::Doublet(r) => ((-dt / r.tau_pre).exp(), (-dt / r.tau_post).exp()),
                    // The MLP rule's fast traces (10 ms); the slow ones use 100 ms.
                    Plasticity::Mlp(_) => ((-dt / 10.0).exp(), (-dt / 10.0).exp()),
                    Plasticity::Static => (0.0, 0.0),
                };
                Projection {
                    csr,
                    in_ptr,
                    in_syn,
                    in_pre,
                    pre_first: pre0 as u32,
                    post_first: post0 as u32,
                    plasticity,
                    x_pre: vec![0.0; n_pre],
                    x_post: vec![0.0; n_post],
                    x_pre2: vec![0.0; n_pre],
                    x_post2: vec![0.0; n_post],
                    decay_pre: dp,
                    decay_post: dq,
                    excitatory: k < 2,
                }
            })
            .collect();
        let n_in = f.inputs.get();
        let input = Csr::random(n_in, n, n, 0, f.input_p.0, f.input_w.0, &mut build);
        let input_p: Vec<f64> = (0..n_in)
            .map(|_| {
                let hz =
                    f.input_rate[0].0 + (f.input_rate[1].0 - f.input_rate[0].0) * build.uniform();
                hz * dt * 1e-3
            })
            .collect();
        let v = (0..n).map(|_| -70.0 + 20.0 * build.uniform()).collect();
        let mut rng = rng.substream(1);
        let input_next = input_p
            .iter()
            .map(|&p| poisson_next_step(p, &mut rng))
            .collect();
        let delay = (f.delay_ms.0 / dt).round() as usize;
        let mlp = feature_network(&mut rng.substream(2));
        Self {
            neuron,
            n_exc: ne,
            n,
            v,
            ga: vec![0.0; n],
            gn: vec![0.0; n],
            gg: vec![0.0; n],
            theta: vec![0.0; n],
            spikes: vec![0; n],
            proj,
            input,
            input_p,
            input_next,
            rng,
            delay,
            ring_slots: vec![0; (delay + 1) * n],
            ring_counts: vec![0; delay + 1],
            arrivals: Vec::with_capacity(n),
            t: 0,
            checker: RateChecker {
                tau_ms: 1000.0,
                max_hz: f.abort_rate.0,
                avg_hz: 0.0,
            },
            paper_checker: (f.rate_checker == Some(RateCheckerKind::Paper))
                .then(|| PaperRateChecker::new(1000.0, dt, 0.0, f.abort_rate.0)),
            healthy: true,
            events: 0,
            scratch: Vec::new(),
            mlp,
            v_lp: vec![0.0; n],
            ce_lp: vec![0.0; n],
            ci_lp: vec![0.0; n],
        }
    }

    /// One 0.1 ms step; returns this step's spikes (global indices, ascending).
    pub fn step(&mut self) -> Result<&[u32], KernelError> {
        let count = fsbi_step(
            &self.neuron,
            &mut self.v,
            &mut self.ga,
            &mut self.gn,
            &mut self.gg,
            &mut self.theta,
            0,
            &mut self.spikes,
        )?;
        let t = self.t;
        let any_mlp = self
            .proj
            .iter()
            .any(|p| matches!(p.plasticity, Plasticity::Mlp(_)));
        if any_mlp {
            let k = self.neuron.dt / LOWPASS_MS;
            let nr = &self.neuron;
            for i in 0..self.n {
                let v = self.v[i];
                let v_n = (v - nr.e_rest) / MLP_SCALE_MV;
                let ie =
                    (nr.a_ampa * self.ga[i] + nr.a_nmda * self.gn[i]) * (0.0 - v) / MLP_SCALE_MV;
                let ii = self.gg[i] * (nr.e_inh - v) / MLP_SCALE_MV;
                self.v_lp[i] += k * (v_n - self.v_lp[i]);
                self.ce_lp[i] += k * (ie - self.ce_lp[i]);
                self.ci_lp[i] += k * (ii - self.ci_lp[i]);
            }
        }
        // Inputs (no delay).
        for i in 0..self.input_next.len() {
            while self.input_next[i] == t + 1 {
                self.events += deliver(
                    &self.input.ptr,
                    &self.input.target,
                    &self.input.w,
                    &[i as u32],
                    &mut self.ga,
                )? as u64;
                let gap = poisson_next_step(self.input_p[i], &mut self.rng);
                self.input_next[i] = self.input_next[i].saturating_add(gap);
            }
        }
        // Recurrent spikes emitted now arrive `delay` steps later (a ring of depth delay + 1).
        {
            let mut ring = SpikeRing::new(&mut self.ring_slots, &mut self.ring_counts, self.n)?;
            ring.push(t as usize + self.delay, &self.spikes[..count])?;
            self.arrivals.clear();
            self.arrivals.extend_from_slice(ring.due(t as usize));
            ring.clear(t as usize);
        }
        let arrivals = std::mem::take(&mut self.arrivals);
        let ne = self.n_exc as u32;
        let split = arrivals.partition_point(|&s| s < ne);
        let fired = &self.spikes[..count];
        let fsplit = fired.partition_point(|&s| s < ne);
        for (k, pr) in self.proj.iter_mut().enumerate() {
            let pre_e = k < 2;
            let arr = if pre_e {
                &arrivals[..split]
            } else {
                &arrivals[split..]
            };
            self.scratch.clear();
            self.scratch.extend(arr.iter().map(|s| s - pr.pre_first));
            let g = if pr.excitatory {
                &mut self.ga
            } else {
                &mut self.gg
            };
            self.events +=
                deliver(&pr.csr.ptr, &pr.csr.target, &pr.csr.w, &self.scratch, g)? as u64;
            let post_e = k % 2 == 0;
            let post_spikes = if post_e {
                &fired[..fsplit]
            } else {
                &fired[fsplit..]
            };
            if let Plasticity::Mlp(rule) = &pr.plasticity {
                let (a, b) = (
                    pr.post_first as usize,
                    pr.post_first as usize + pr.x_post.len(),
                );
                let post = PostState {
                    x1: &pr.x_post,
                    x2: &pr.x_post2,
                    v: &self.v_lp[a..b],
                    c_exc: &self.ce_lp[a..b],
                    c_inh: &self.ci_lp[a..b],
                };
                mlp_pre(
                    &self.mlp,
                    rule,
                    &pr.csr.ptr,
                    &pr.csr.target,
                    pr.post_first,
                    &mut pr.csr.w,
                    &self.scratch,
                    &pr.x_pre2,
                    &post,
                )?;
                mlp_post(
                    &self.mlp,
                    rule,
                    &pr.in_ptr,
                    &pr.in_syn,
                    &pr.in_pre,
                    pr.post_first,
                    &mut pr.csr.w,
                    post_spikes,
                    &pr.x_pre,
                    &post,
                )?;
                let slow = (-self.neuron.dt / 100.0).exp();
                traces_update(&mut pr.x_pre, &self.scratch, 0, pr.decay_pre)?;
                traces_update(&mut pr.x_pre2, &self.scratch, 0, slow)?;
                traces_update(&mut pr.x_post, post_spikes, pr.post_first, pr.decay_post)?;
                traces_update(&mut pr.x_post2, post_spikes, pr.post_first, slow)?;
            }
            if let Plasticity::Doublet(rule) = &pr.plasticity {
                doublet_pre(
                    rule,
                    &pr.csr.ptr,
                    &pr.csr.target,
                    pr.post_first,
                    &mut pr.csr.w,
                    &self.scratch,
                    &pr.x_post,
                )?;
                doublet_post(
                    rule,
                    &pr.in_ptr,
                    &pr.in_syn,
                    &pr.in_pre,
                    pr.post_first,
                    &mut pr.csr.w,
                    post_spikes,
                    &pr.x_pre,
                )?;
                traces_update(&mut pr.x_pre, &self.scratch, 0, pr.decay_pre)?;
                traces_update(&mut pr.x_post, post_spikes, pr.post_first, pr.decay_post)?;
            }
        }
        self.arrivals = arrivals;
        self.healthy &= match &mut self.paper_checker {
            Some(c) => c.update(fsplit, self.n_exc),
            None => self.checker.update(count, self.n, self.neuron.dt),
        };
        self.t += 1;
        Ok(&self.spikes[..count])
    }

    /// Mean weight of projection `k`.
    pub fn mean_w(&self, k: usize) -> f64 {
        let w = &self.proj[k].csr.w;
        w.iter().sum::<f64>() / w.len().max(1) as f64
    }
}

/// What one simulation gives: metrics, the scoring window's spikes, and sampled traces.
pub struct Outcome {
    /// Metrics and verdicts.
    pub metrics: Plausibility,
    /// Spike steps per neuron within the scoring window.
    pub times: Vec<Vec<u32>>,
    /// Mean weight per type every second (`[time_s, ee, ei, ie, ii]`).
    pub weights: Vec<Vec<f64>>,
    /// Population rates (E, I) every 100 ms over the whole run.
    pub rates: Vec<[f64; 2]>,
    /// Synaptic events.
    pub events: u64,
    /// The sampled synapses' weights the paper's metrics read (with `plausibility:` set).
    pub sampled: Option<SampledWeights>,
}

/// Weights of sampled synapses per type, recorded every 100 ms of the scoring window from its
/// first step (the paper's `WeightMonitor`s).
#[derive(Debug, Clone, PartialEq)]
pub struct SampledWeights {
    /// Per type (ee, ei, ie, ii), indices into the projection's CSR weights.
    pub index: [Vec<usize>; 4],
    /// Per type, one row of weights (in the order of `index`) per record.
    pub w: [Vec<Vec<f64>>; 4],
}

/// The synapses of `net` that the paper's metrics sample, per type: from the network seed's
/// substream 2 (then substream `k` for type `k`) when drawn at random, which no other draw of
/// the network uses.
pub fn sample_synapses(net: &FsbiNetwork, pc: &PlausibilityConfig, seed: u64) -> [Vec<usize>; 4] {
    let base = Rng::new(seed).substream(2);
    std::array::from_fn(|k| {
        paper_metrics::sampled_synapses(
            net.proj[k].csr.w.len(),
            pc.synapses.get(),
            pc.synapse_sample,
            &mut base.substream(k as u32),
        )
    })
}

/// Simulates the learning phase and the scoring window (or until the rate checker stops it),
/// calling `tick` with the fraction done every 1% (return `false` to stop: interrupted).
pub fn simulate(
    f: &FsbiConfig,
    seed: u64,
    mut tick: impl FnMut(f64) -> bool,
) -> Result<Option<Outcome>, KernelError> {
    let mut net = FsbiNetwork::new(f, &Rng::new(seed));
    let dt = 0.1;
    let learn = (f.learn_s.0 * 1000.0 / dt).round() as usize;
    let window = (f.score_s.0 * 1000.0 / dt).round() as usize;
    let total = learn + window;
    let mut times = vec![Vec::new(); net.n];
    let mut w_start = [0.0; 4];
    let mut weights = Vec::new();
    let mut rates = Vec::new();
    let (mut ce, mut ci) = (0usize, 0usize);
    let mut aborted = false;
    let chunk = (total / 100).max(1);
    let mut sampled = f.plausibility.as_ref().map(|pc| SampledWeights {
        index: sample_synapses(&net, pc, seed),
        w: Default::default(),
    });
    for step in 0..total {
        if step == learn {
            for (k, w) in w_start.iter_mut().enumerate() {
                *w = net.mean_w(k);
            }
        }
        if step % 10_000 == 0 {
            let mut row = vec![step as f64 * dt * 1e-3];
            row.extend((0..4).map(|k| net.mean_w(k)));
            weights.push(row);
        }
        let ne = net.n_exc as u32;
        let spikes = net.step()?;
        for &s in spikes {
            if s < ne {
                ce += 1;
            } else {
                ci += 1;
            }
            if step >= learn {
                times[s as usize].push((step - learn) as u32);
            }
        }
        if let Some(s) = sampled.as_mut() {
            if step >= learn && (step - learn) % paper_metrics::WEIGHT_EVERY == 0 {
                for k in 0..4 {
                    let w = &net.proj[k].csr.w;
                    s.w[k].push(s.index[k].iter().map(|&i| w[i]).collect());
                }
            }
        }
        if step % 1000 == 999 {
            let ni = (net.n - net.n_exc).max(1) as f64;
            rates.push([ce as f64 / net.n_exc as f64 / 0.1, ci as f64 / ni / 0.1]);
            ce = 0;
            ci = 0;
        }
        if !net.healthy {
            aborted = true;
            break;
        }
        if step % chunk == chunk - 1 && !tick((step + 1) as f64 / total as f64) {
            return Ok(None);
        }
    }
    if learn >= total || aborted && net.t as usize <= learn {
        for (k, w) in w_start.iter_mut().enumerate() {
            *w = net.mean_w(k);
        }
    }
    let window_done = (net.t as usize).saturating_sub(learn).max(1);
    let mut metrics = plausibility(&net, &times, window_done, w_start, aborted, &f.constraints);
    if let (Some(pc), Some(s)) = (&f.plausibility, &sampled) {
        let (ne, ni) = (net.n_exc, net.n - net.n_exc);
        let (re, ri) = (pc.recorded[0].get().min(ne), pc.recorded[1].get().min(ni));
        let plastic =
            std::array::from_fn(|k| !matches!(net.proj[k].plasticity, Plasticity::Static));
        let w_max = f.w_max.0;
        let input = PaperInput {
            exc: &times[..re],
            inh: &times[ne..ne + ri],
            window_steps: window,
            weights: std::array::from_fn(|k| s.w[k].as_slice()),
            plastic,
            w_max,
            aborted,
        };
        let paper = paper_metrics(&input, &pc.paper);
        if pc.definition == Definition::Paper {
            let ours = Verdicts {
                pass: std::mem::replace(&mut metrics.pass, paper.verdicts.pass.clone()),
                plausible: std::mem::replace(&mut metrics.plausible, paper.verdicts.plausible),
            };
            metrics.synplast = Some(ours);
        }
        metrics.paper = Some(paper);
    }
    Ok(Some(Outcome {
        metrics,
        times,
        weights,
        rates,
        events: net.events,
        sampled,
    }))
}
