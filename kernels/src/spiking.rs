//! Spiking networks: conductance-based LIF neurons, spike delivery over compressed sparse rows,
//! pre/post traces and the doublet plasticity rule (Confavreux et al. 2023; Brette et al. 2007;
//! `docs/spiking_fsbi.md`, `docs/coba_benchmark.md`).
//!
//! Units: time in ms, voltages in mV, conductances in units of the leak conductance.
//! Connectivity is the caller's: synapse `k` of presynaptic neuron `i` is
//! `ptr[i] <= k < ptr[i + 1]`, with target `target[k]` and weight `w[k]`; for plasticity on
//! postsynaptic spikes the caller also gives the incoming index (`in_ptr`, `in_syn`: the
//! synapses onto each neuron, as indices into `w`, and `in_pre`: their presynaptic neurons).
//! Kernels iterate over these slices; they never allocate. Out-of-range indices are an error
//! value, never a panic.
//!
//! Two neuron models: [`CobaNeuron`] (the benchmark of `docs/coba_benchmark.md`) and [`FsbiNeuron`]
//! (AMPA/NMDA/GABA conductances and an adaptive threshold, `docs/spiking_fsbi.md`). [`SpikeRing`] holds
//! spikes in flight for synaptic delays.
//!
//! Step order of a network step (the pipeline's, after `docs/spiking_fsbi.md`): neurons (integrate, spike,
//! reset), then spike delivery (each spike adds its synapse's weight *before* that spike's
//! plasticity update to the target conductance), then plasticity with the traces from before
//! this step's spikes, then traces (+1 per spike, then decay).

use crate::error::{check_len, KernelError};
use num_traits::Float;

/// The COBA benchmark neuron (Brette et al. 2007; `docs/coba_benchmark.md`), forward Euler:
/// `tau_m dv/dt = g_e (E_e - v) + g_i (E_i - v) - (v - E_l) + drive`,
/// `dg_e/dt = -g_e / tau_e`, `dg_i/dt = -g_i / tau_i`; a spike when `v > v_th`, then `v = v_reset`
/// held for the refractory period while the conductances go on decaying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CobaNeuron<F> {
    /// Time step (ms).
    pub dt: F,
    /// Membrane time constant (ms).
    pub tau_m: F,
    /// Leak reversal (mV).
    pub e_leak: F,
    /// Excitatory reversal (mV).
    pub e_exc: F,
    /// Inhibitory reversal (mV).
    pub e_inh: F,
    /// Constant drive (mV).
    pub drive: F,
    /// Threshold (mV).
    pub v_th: F,
    /// Reset (mV).
    pub v_reset: F,
    /// Refractory period in steps.
    pub refractory_steps: u16,
    /// Excitatory conductance time constant (ms).
    pub tau_e: F,
    /// Inhibitory conductance time constant (ms).
    pub tau_i: F,
}

impl<F: Float> CobaNeuron<F> {
    /// The benchmark's values: dt 0.1 ms, tau_m 20 ms, E_l -60, E_e 0, E_i -80, drive 20 mV,
    /// threshold -50, reset -60, refractory 5 ms, tau_e 5 ms, tau_i 10 ms.
    pub fn benchmark() -> Self {
        let f = |v: f64| F::from(v).unwrap_or_else(F::zero);
        Self {
            dt: f(0.1),
            tau_m: f(20.0),
            e_leak: f(-60.0),
            e_exc: f(0.0),
            e_inh: f(-80.0),
            drive: f(20.0),
            v_th: f(-50.0),
            v_reset: f(-60.0),
            refractory_steps: 50,
            tau_e: f(5.0),
            tau_i: f(10.0),
        }
    }
}

/// Room for `n` spikes, and neuron indices `first..first + n` that fit in `u32`.
fn check_spike_buffer(n: usize, first: u32, spikes: &[u32]) -> Result<(), KernelError> {
    if spikes.len() < n {
        return Err(KernelError::Shape {
            what: "spike buffer",
            expected: n,
            got: spikes.len(),
        });
    }
    if first as u64 + n as u64 > u32::MAX as u64 + 1 {
        return Err(KernelError::OutOfRange {
            what: "neuron indices (first + n) beyond u32",
        });
    }
    Ok(())
}

/// One Euler step of a population of [`CobaNeuron`]s. `spikes` receives the indices (offset by
/// `first`) of the neurons that spiked, and the count is returned. All state slices have the
/// population's length; `spikes` must have room for all of them.
#[allow(clippy::too_many_arguments)]
pub fn coba_step<F: Float>(
    p: &CobaNeuron<F>,
    v: &mut [F],
    ge: &mut [F],
    gi: &mut [F],
    refractory: &mut [u16],
    first: u32,
    spikes: &mut [u32],
) -> Result<usize, KernelError> {
    let n = v.len();
    check_len("g_e", ge, n)?;
    check_len("g_i", gi, n)?;
    check_len("refractory", refractory, n)?;
    check_spike_buffer(n, first, spikes)?;
    let k = p.dt / p.tau_m;
    let de = F::one() - p.dt / p.tau_e;
    let di = F::one() - p.dt / p.tau_i;
    // Pass 1, branch-free so it vectorises: integrate (refractory neurons hold v), decay the
    // conductances, and AND the finiteness of every new potential.
    let mut finite = true;
    for (((vi, gei), gii), ri) in v
        .iter_mut()
        .zip(ge.iter_mut())
        .zip(gi.iter_mut())
        .zip(refractory.iter_mut())
    {
        let (x, e, g) = (*vi, *gei, *gii);
        let dv = e * (p.e_exc - x) + g * (p.e_inh - x) - (x - p.e_leak) + p.drive;
        let active = *ri == 0;
        let vn = if active { x + k * dv } else { x };
        *ri = ri.saturating_sub(1);
        *vi = vn;
        *gei = e * de;
        *gii = g * di;
        finite &= vn.is_finite();
    }
    if !finite {
        return Err(KernelError::NonFinite {
            what: "membrane potential",
            step: 0,
        });
    }
    // Pass 2: threshold, reset, refractory (spikes are rare).
    let mut count = 0;
    for (i, (vi, ri)) in v.iter_mut().zip(refractory.iter_mut()).enumerate() {
        if *vi > p.v_th {
            *vi = p.v_reset;
            *ri = p.refractory_steps;
            if let Some(slot) = spikes.get_mut(count) {
                *slot = first + i as u32;
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Adds `w[k]` to `g[target[k]]` for every synapse of every spiking presynaptic neuron
/// (`spikes` are presynaptic indices into `ptr`). Returns the number of synaptic events.
pub fn deliver<F: Float>(
    ptr: &[u32],
    target: &[u32],
    w: &[F],
    spikes: &[u32],
    g: &mut [F],
) -> Result<usize, KernelError> {
    check_len("weights", w, target.len())?;
    let mut events = 0;
    for &s in spikes {
        let (a, b) = row(ptr, s, target.len())?;
        let (ts, ws) = synapses(target, w, a, b)?;
        for (&t, &wk) in ts.iter().zip(ws) {
            let gt = g.get_mut(t as usize).ok_or(KernelError::OutOfRange {
                what: "synapse target",
            })?;
            *gt = *gt + wk;
        }
        events += b - a;
    }
    Ok(events)
}

/// Two parallel slices' entries `a..b` (no panic path: out of range is an error).
#[inline]
fn synapses<'a, T, W>(
    target: &'a [T],
    w: &'a [W],
    a: usize,
    b: usize,
) -> Result<(&'a [T], &'a [W]), KernelError> {
    match (target.get(a..b), w.get(a..b)) {
        (Some(t), Some(w)) => Ok((t, w)),
        _ => Err(KernelError::OutOfRange {
            what: "synapse range",
        }),
    }
}

/// The synapse range `ptr[s]..ptr[s + 1]`, checked.
#[inline]
fn row(ptr: &[u32], s: u32, len: usize) -> Result<(usize, usize), KernelError> {
    let s = s as usize;
    match (ptr.get(s), ptr.get(s + 1)) {
        (Some(&a), Some(&b)) if a <= b && b as usize <= len => Ok((a as usize, b as usize)),
        _ => Err(KernelError::OutOfRange {
            what: "presynaptic neuron or row pointers",
        }),
    }
}

/// The doublet rule (Confavreux et al. 2023): on a presynaptic spike
/// `w += eta (alpha + kappa x_post)`, on a postsynaptic spike `w += eta (beta + gamma x_pre)`,
/// with traces of time constants `tau_pre` and `tau_post`; weights clipped to `[0, w_max]`.
/// Mean drift under independent Poisson trains:
/// `eta [alpha nu_pre + beta nu_post + nu_pre nu_post (gamma tau_pre + kappa tau_post)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoubletRule<F> {
    /// Presynaptic trace time constant.
    pub tau_pre: F,
    /// Postsynaptic trace time constant.
    pub tau_post: F,
    /// Constant change per presynaptic spike.
    pub alpha: F,
    /// Constant change per postsynaptic spike.
    pub beta: F,
    /// Post-after-pre (potentiation-like) term.
    pub gamma: F,
    /// Pre-after-post term.
    pub kappa: F,
    /// Learning rate.
    pub eta: F,
    /// Upper weight bound.
    pub w_max: F,
}

impl<F: Float> DoubletRule<F> {
    /// `clip(w + eta (alpha + kappa x_post))`.
    #[inline]
    pub fn on_pre(&self, w: F, x_post: F) -> F {
        (w + self.eta * (self.alpha + self.kappa * x_post))
            .max(F::zero())
            .min(self.w_max)
    }
    /// `clip(w + eta (beta + gamma x_pre))`.
    #[inline]
    pub fn on_post(&self, w: F, x_pre: F) -> F {
        (w + self.eta * (self.beta + self.gamma * x_pre))
            .max(F::zero())
            .min(self.w_max)
    }
}

/// Plasticity for the presynaptic spikes of a step: every synapse of a spiking neuron gets
/// [`DoubletRule::on_pre`] with its target's postsynaptic trace. `target_offset` is subtracted
/// from targets to index `x_post` (targets may be numbered in a larger network).
pub fn doublet_pre<F: Float>(
    rule: &DoubletRule<F>,
    ptr: &[u32],
    target: &[u32],
    target_offset: u32,
    w: &mut [F],
    spikes: &[u32],
    x_post: &[F],
) -> Result<(), KernelError> {
    check_len("weights", w, target.len())?;
    for &s in spikes {
        let (a, b) = row(ptr, s, target.len())?;
        let (ts, ws) = match (target.get(a..b), w.get_mut(a..b)) {
            (Some(t), Some(w)) => (t, w),
            _ => {
                return Err(KernelError::OutOfRange {
                    what: "synapse range",
                })
            }
        };
        for (&t, wk) in ts.iter().zip(ws.iter_mut()) {
            let x = *x_post.get(t.wrapping_sub(target_offset) as usize).ok_or(
                KernelError::OutOfRange {
                    what: "postsynaptic trace index",
                },
            )?;
            *wk = rule.on_pre(*wk, x);
        }
    }
    Ok(())
}

/// Plasticity for the postsynaptic spikes of a step: every synapse onto a spiking neuron
/// (`in_ptr`/`in_syn`, indices into `w`; `in_pre`, their presynaptic neurons indexing `x_pre`)
/// gets [`DoubletRule::on_post`]. `spikes` index `in_ptr` after subtracting `post_offset`.
#[allow(clippy::too_many_arguments)]
pub fn doublet_post<F: Float>(
    rule: &DoubletRule<F>,
    in_ptr: &[u32],
    in_syn: &[u32],
    in_pre: &[u32],
    post_offset: u32,
    w: &mut [F],
    spikes: &[u32],
    x_pre: &[F],
) -> Result<(), KernelError> {
    check_len("incoming presynaptic indices", in_pre, in_syn.len())?;
    for &s in spikes {
        let (a, b) = row(in_ptr, s.wrapping_sub(post_offset), in_syn.len())?;
        let (syns, pres) = synapses(in_syn, in_pre, a, b)?;
        for (&syn, &pre) in syns.iter().zip(pres) {
            let x = *x_pre.get(pre as usize).ok_or(KernelError::OutOfRange {
                what: "presynaptic trace index",
            })?;
            let wk = w.get_mut(syn as usize).ok_or(KernelError::OutOfRange {
                what: "incoming synapse index",
            })?;
            *wk = rule.on_post(*wk, x);
        }
    }
    Ok(())
}

/// Traces: `x_i += 1` for each spiking neuron (indices minus `offset`), then `x *= decay` for
/// all (`decay = exp(-dt / tau)`).
pub fn traces_update<F: Float>(
    x: &mut [F],
    spikes: &[u32],
    offset: u32,
    decay: F,
) -> Result<(), KernelError> {
    for &s in spikes {
        let xi = x
            .get_mut(s.wrapping_sub(offset) as usize)
            .ok_or(KernelError::OutOfRange {
                what: "trace index",
            })?;
        *xi = *xi + F::one();
    }
    for xi in x.iter_mut() {
        *xi = *xi * decay;
    }
    Ok(())
}

/// The conductance-based LIF neuron of Confavreux et al. 2023 (`docs/spiking_fsbi.md`), dt 0.1 ms:
/// `tau_m dV/dt = (E_rest - V) + (a_A g_A + a_N g_N)(0 - V) + g_G (E_I - V)`, Euler for `V`;
/// `g_N += (1 - e^{-dt/tau_N})(g_A - g_N)`; `g_A`, `g_G` and the threshold offset `theta` decay
/// exactly (`e^{-dt/tau}`); a spike when `V > V_th + theta`, then `V = V_reset` and
/// `theta = theta_spike`; `V` is clipped to `[v_min, v_max]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsbiNeuron<F> {
    /// Time step (ms).
    pub dt: F,
    /// Membrane time constant (ms).
    pub tau_m: F,
    /// Resting potential (mV).
    pub e_rest: F,
    /// Reset potential (mV).
    pub v_reset: F,
    /// Inhibitory reversal (mV).
    pub e_inh: F,
    /// Weight of AMPA in the excitatory drive.
    pub a_ampa: F,
    /// Weight of NMDA in the excitatory drive.
    pub a_nmda: F,
    /// `1 - e^{-dt / tau_NMDA}`.
    pub nmda_rate: F,
    /// `e^{-dt / tau_AMPA}`.
    pub decay_ampa: F,
    /// `e^{-dt / tau_GABA}`.
    pub decay_gaba: F,
    /// `e^{-dt / tau_theta}`.
    pub decay_theta: F,
    /// Base threshold (mV).
    pub v_th: F,
    /// Threshold offset after a spike (mV).
    pub theta_spike: F,
    /// Lower clip of `V` (mV).
    pub v_min: F,
    /// Upper clip of `V` (mV).
    pub v_max: F,
}

impl<F: Float> FsbiNeuron<F> {
    /// `docs/spiking_fsbi.md`: dt 0.1 ms, tau_m 20 ms, E_rest = reset = -70 mV, E_I = -80 mV,
    /// a_A 0.23, a_N 0.77, tau_NMDA 100 ms, tau_AMPA 5 ms, tau_GABA 10 ms, threshold -50 mV,
    /// +100 mV after a spike decaying with 5 ms, V in [-80, 0] mV.
    pub fn published() -> Self {
        let f = |v: f64| F::from(v).unwrap_or_else(F::zero);
        let dt = 0.1f64;
        Self {
            dt: f(dt),
            tau_m: f(20.0),
            e_rest: f(-70.0),
            v_reset: f(-70.0),
            e_inh: f(-80.0),
            a_ampa: f(0.23),
            a_nmda: f(0.77),
            nmda_rate: f(1.0 - libm::exp(-dt / 100.0)),
            decay_ampa: f(libm::exp(-dt / 5.0)),
            decay_gaba: f(libm::exp(-dt / 10.0)),
            decay_theta: f(libm::exp(-dt / 5.0)),
            v_th: f(-50.0),
            theta_spike: f(100.0),
            v_min: f(-80.0),
            v_max: f(0.0),
        }
    }
}

/// One step of a population of [`FsbiNeuron`]s; spiking indices (plus `first`) go to `spikes`,
/// the count is returned. `V` is integrated with the conductances as they are at the start of
/// the step (including what was delivered during the previous step), then the conductances
/// and threshold evolve.
#[allow(clippy::too_many_arguments)]
pub fn fsbi_step<F: Float>(
    p: &FsbiNeuron<F>,
    v: &mut [F],
    g_ampa: &mut [F],
    g_nmda: &mut [F],
    g_gaba: &mut [F],
    theta: &mut [F],
    first: u32,
    spikes: &mut [u32],
) -> Result<usize, KernelError> {
    let n = v.len();
    check_len("g_ampa", g_ampa, n)?;
    check_len("g_nmda", g_nmda, n)?;
    check_len("g_gaba", g_gaba, n)?;
    check_len("theta", theta, n)?;
    check_spike_buffer(n, first, spikes)?;
    let k = p.dt / p.tau_m;
    let mut finite = true;
    for i in 0..n {
        let (x, ga, gn, gg) = (v[i], g_ampa[i], g_nmda[i], g_gaba[i]);
        let dv = (p.e_rest - x) - (p.a_ampa * ga + p.a_nmda * gn) * x + gg * (p.e_inh - x);
        let vn = (x + k * dv).max(p.v_min).min(p.v_max);
        v[i] = vn;
        g_nmda[i] = gn + p.nmda_rate * (ga - gn);
        g_ampa[i] = ga * p.decay_ampa;
        g_gaba[i] = gg * p.decay_gaba;
        theta[i] = theta[i] * p.decay_theta;
        finite &= vn.is_finite() && g_nmda[i].is_finite();
    }
    if !finite {
        return Err(KernelError::NonFinite {
            what: "membrane potential or conductance",
            step: 0,
        });
    }
    let mut count = 0;
    for i in 0..n {
        if v[i] > p.v_th + theta[i] {
            v[i] = p.v_reset;
            theta[i] = p.theta_spike;
            if let Some(slot) = spikes.get_mut(count) {
                *slot = first + i as u32;
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Steps until the next spike of a Poisson train sampled on the step grid (a Bernoulli process
/// with probability `p = rate * dt` per step): geometric, at least 1; `u64::MAX` for `p <= 0`.
/// One uniform draw from `rng`.
pub fn poisson_next_step<R: rand_core::RngCore>(p: f64, rng: &mut R) -> u64 {
    if p.is_nan() || p <= 0.0 {
        return u64::MAX;
    }
    if p >= 1.0 {
        return 1;
    }
    // u in (0, 1].
    let u = 1.0 - (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let k = libm::ceil(libm::log(u) / libm::log1p(-p));
    if k.is_finite() && k >= 1.0 {
        if k >= (u64::MAX / 2) as f64 {
            u64::MAX / 2
        } else {
            k as u64
        }
    } else {
        1
    }
}

/// The rate checker: an exponential moving average (time constant `tau_ms`) of the population
/// rate, which a simulation stops above `max_hz`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateChecker {
    /// Averaging time constant (ms).
    pub tau_ms: f64,
    /// Largest accepted average rate (Hz).
    pub max_hz: f64,
    /// The current average (Hz).
    pub avg_hz: f64,
}

impl RateChecker {
    /// Adds one step of `spikes` among `n` neurons (`dt_ms`); returns `false` once the average
    /// exceeds `max_hz` (a runaway network).
    pub fn update(&mut self, spikes: usize, n: usize, dt_ms: f64) -> bool {
        let rate = spikes as f64 / n.max(1) as f64 / (dt_ms * 1e-3);
        self.avg_hz += (rate - self.avg_hz) * (dt_ms / self.tau_ms);
        self.avg_hz <= self.max_hz
    }
}

/// A fixed-capacity ring of spike lists over caller buffers, for synaptic delays: `slots`
/// (`depth x capacity` neuron indices) and `counts` (`depth`). Slot `t % depth` holds the spikes
/// to deliver at step `t`.
pub struct SpikeRing<'a> {
    slots: &'a mut [u32],
    counts: &'a mut [u32],
    capacity: usize,
}

impl<'a> SpikeRing<'a> {
    /// A ring of `counts.len()` slots of `capacity` spikes each.
    pub fn new(
        slots: &'a mut [u32],
        counts: &'a mut [u32],
        capacity: usize,
    ) -> Result<Self, KernelError> {
        if counts.is_empty() {
            return Err(KernelError::OutOfRange { what: "ring depth" });
        }
        check_len("ring slots", slots, counts.len().saturating_mul(capacity))?;
        Ok(Self {
            slots,
            counts,
            capacity,
        })
    }
    /// Appends `spikes` to the slot of step `t` (an error if the slot would overflow).
    pub fn push(&mut self, t: usize, spikes: &[u32]) -> Result<(), KernelError> {
        let full = KernelError::OutOfRange {
            what: "spike ring capacity",
        };
        let s = t.checked_rem(self.counts.len()).ok_or(full)?;
        let count = self.counts.get_mut(s).ok_or(full)?;
        let c = *count as usize;
        if c + spikes.len() > self.capacity {
            return Err(full);
        }
        let base = s * self.capacity;
        let dst = self
            .slots
            .get_mut(base + c..base + c + spikes.len())
            .ok_or(full)?;
        for (d, v) in dst.iter_mut().zip(spikes) {
            *d = *v;
        }
        *count = (c + spikes.len()) as u32;
        Ok(())
    }
    /// The spikes due at step `t`.
    pub fn due(&self, t: usize) -> &[u32] {
        let Some(s) = t.checked_rem(self.counts.len()) else {
            return &[];
        };
        let base = s * self.capacity;
        let n = self.counts.get(s).copied().unwrap_or(0) as usize;
        self.slots.get(base..base + n).unwrap_or(&[])
    }
    /// Empties the slot of step `t` (after delivering it).
    pub fn clear(&mut self, t: usize) {
        if let Some(c) = t
            .checked_rem(self.counts.len())
            .and_then(|s| self.counts.get_mut(s))
        {
            *c = 0;
        }
    }
}

/// The fixed, shared feature network of the spiking MLP rule (Confavreux et al. 2023;
/// `docs/spiking_fsbi.md`): 6 inputs -> `H` sigmoid units -> 4 sigmoid features. Its weights are random and not
/// learned; a rule is a linear readout of the 4 features (see [`MlpReadout`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SpikingMlp<F, const H: usize> {
    /// Input weights, `w1[k][m]`.
    pub w1: [[F; 6]; H],
    /// Hidden biases.
    pub b1: [F; H],
    /// Feature weights, `w2[f][k]`.
    pub w2: [[F; H]; 4],
    /// Feature biases.
    pub b2: [F; 4],
}

#[inline]
fn logistic<F: Float>(u: F) -> F {
    F::one() / (F::one() + (-u).exp())
}

impl<F: Float, const H: usize> SpikingMlp<F, H> {
    /// The 4 features of the inputs `z` (each in (0, 1)).
    #[inline]
    pub fn features(&self, z: &[F; 6]) -> [F; 4] {
        let mut h = [F::zero(); H];
        for (k, hk) in h.iter_mut().enumerate() {
            let mut u = self.b1[k];
            for m in 0..6 {
                u = u + self.w1[k][m] * z[m];
            }
            *hk = logistic(u);
        }
        let mut out = [F::zero(); 4];
        for (f, o) in out.iter_mut().enumerate() {
            let mut u = self.b2[f];
            for k in 0..H {
                u = u + self.w2[f][k] * h[k];
            }
            *o = logistic(u);
        }
        out
    }
}

/// A spiking MLP rule for one connection type: `dw = eta (a . features + a_0)` with its own
/// readout `a` (4 weights and a bias) for presynaptic and for postsynaptic spikes; weights
/// clipped to `[0, w_max]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlpReadout<F> {
    /// Learning rate.
    pub eta: F,
    /// Readout on presynaptic spikes: 4 weights, then the bias.
    pub pre: [F; 5],
    /// Readout on postsynaptic spikes: 4 weights, then the bias.
    pub post: [F; 5],
    /// Upper weight bound.
    pub w_max: F,
}

impl<F: Float> MlpReadout<F> {
    #[inline]
    fn apply(&self, a: &[F; 5], f: &[F; 4], w: F) -> F {
        let d = a[0] * f[0] + a[1] * f[1] + a[2] * f[2] + a[3] * f[3] + a[4];
        (w + self.eta * d).max(F::zero()).min(self.w_max)
    }
}

/// What the MLP rule reads about the postsynaptic neurons: the fast trace, the slow trace and
/// the low-passed (normalised) voltage and excitatory and inhibitory currents, each indexed by
/// target minus the offset.
#[derive(Debug, Clone, Copy)]
pub struct PostState<'a, F> {
    /// Fast trace (tau 10 ms).
    pub x1: &'a [F],
    /// Slow trace (tau 100 ms).
    pub x2: &'a [F],
    /// Low-passed voltage.
    pub v: &'a [F],
    /// Low-passed excitatory current.
    pub c_exc: &'a [F],
    /// Low-passed inhibitory current.
    pub c_inh: &'a [F],
}

/// MLP plasticity on presynaptic spikes (rows `spikes`):
/// `dw = eta MLP_pre(x_pre2, x_post1, w, V, C_exc, C_inh)`.
#[allow(clippy::too_many_arguments)]
pub fn mlp_pre<F: Float, const H: usize>(
    mlp: &SpikingMlp<F, H>,
    rule: &MlpReadout<F>,
    ptr: &[u32],
    target: &[u32],
    target_offset: u32,
    w: &mut [F],
    spikes: &[u32],
    x_pre2: &[F],
    post: &PostState<'_, F>,
) -> Result<(), KernelError> {
    check_len("weights", w, target.len())?;
    let oob = KernelError::OutOfRange {
        what: "trace or target index",
    };
    for &s in spikes {
        let (a, b) = row(ptr, s, target.len())?;
        let xp = *x_pre2.get(s as usize).ok_or(oob)?;
        for k in a..b {
            let t = target[k].wrapping_sub(target_offset) as usize;
            let z = [
                xp,
                *post.x1.get(t).ok_or(oob)?,
                w[k],
                *post.v.get(t).ok_or(oob)?,
                *post.c_exc.get(t).ok_or(oob)?,
                *post.c_inh.get(t).ok_or(oob)?,
            ];
            w[k] = rule.apply(&rule.pre, &mlp.features(&z), w[k]);
        }
    }
    Ok(())
}

/// MLP plasticity on postsynaptic spikes (global indices minus `post_offset` index `in_ptr`):
/// `dw = eta MLP_post(x_pre1, x_post2, w, V, C_exc, C_inh)`.
#[allow(clippy::too_many_arguments)]
pub fn mlp_post<F: Float, const H: usize>(
    mlp: &SpikingMlp<F, H>,
    rule: &MlpReadout<F>,
    in_ptr: &[u32],
    in_syn: &[u32],
    in_pre: &[u32],
    post_offset: u32,
    w: &mut [F],
    spikes: &[u32],
    x_pre1: &[F],
    post: &PostState<'_, F>,
) -> Result<(), KernelError> {
    check_len("incoming presynaptic indices", in_pre, in_syn.len())?;
    let oob = KernelError::OutOfRange {
        what: "trace or synapse index",
    };
    for &s in spikes {
        let t = s.wrapping_sub(post_offset);
        let (a, b) = row(in_ptr, t, in_syn.len())?;
        let t = t as usize;
        let (x2, v, ce, ci) = (
            *post.x2.get(t).ok_or(oob)?,
            *post.v.get(t).ok_or(oob)?,
            *post.c_exc.get(t).ok_or(oob)?,
            *post.c_inh.get(t).ok_or(oob)?,
        );
        for k in a..b {
            let syn = in_syn[k] as usize;
            let xp = *x_pre1.get(in_pre[k] as usize).ok_or(oob)?;
            let wk = w.get_mut(syn).ok_or(oob)?;
            let z = [xp, x2, *wk, v, ce, ci];
            *wk = rule.apply(&rule.post, &mlp.features(&z), *wk);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conductance_decay_and_delivery() {
        let p = CobaNeuron::<f64>::benchmark();
        let (mut v, mut ge, mut gi, mut r) = ([-70.0], [1.0], [2.0], [0u16]);
        let mut s = [0u32; 1];
        for _ in 0..100 {
            coba_step(&p, &mut v, &mut ge, &mut gi, &mut r, 0, &mut s).unwrap();
        }
        assert!((ge[0] - (1.0 - 0.1 / 5.0f64).powi(100)).abs() < 1e-15);
        assert!((gi[0] - 2.0 * (1.0 - 0.1 / 10.0f64).powi(100)).abs() < 1e-15);
        let ptr = [0u32, 2, 3];
        let target = [1u32, 2, 0];
        let w = [0.5, 0.25, 1.0];
        let mut g = [0.0; 3];
        assert_eq!(deliver(&ptr, &target, &w, &[0], &mut g).unwrap(), 2);
        assert_eq!(g, [0.0, 0.5, 0.25]);
        assert!(deliver(&ptr, &target, &w, &[5], &mut g).is_err());
    }

    #[test]
    fn mlp_rule_reads_the_documented_inputs() {
        let mut mlp = SpikingMlp::<f64, 3> {
            w1: [[0.0; 6]; 3],
            b1: [0.0; 3],
            w2: [[0.0; 3]; 4],
            b2: [0.0; 4],
        };
        for (k, row) in mlp.w1.iter_mut().enumerate() {
            for (m, v) in row.iter_mut().enumerate() {
                *v = ((k * 6 + m) as f64 * 0.37).sin();
            }
        }
        for (f, row) in mlp.w2.iter_mut().enumerate() {
            for (k, v) in row.iter_mut().enumerate() {
                *v = ((f * 3 + k) as f64 * 0.71).cos();
            }
        }
        let rule = MlpReadout {
            eta: 0.5,
            pre: [1.0, 0.0, 0.0, 0.0, 0.1],
            post: [0.0, 0.0, 0.0, 2.0, -0.1],
            w_max: 20.0,
        };
        // One presynaptic neuron (row 0) onto targets 5 and 6 (offset 5).
        let (ptr, target) = ([0u32, 2], [5u32, 6]);
        let mut w = [1.0, 2.0];
        let (x1, x2, v, ce, ci) = ([0.3, 0.4], [0.7, 0.8], [0.1, 0.2], [0.5, 0.6], [-0.3, -0.2]);
        let post = PostState {
            x1: &x1,
            x2: &x2,
            v: &v,
            c_exc: &ce,
            c_inh: &ci,
        };
        let x_pre2 = [0.9];
        mlp_pre(&mlp, &rule, &ptr, &target, 5, &mut w, &[0], &x_pre2, &post).unwrap();
        for (k, w0) in [1.0, 2.0].iter().enumerate() {
            let f = mlp.features(&[0.9, x1[k], *w0, v[k], ce[k], ci[k]]);
            assert!(f.iter().all(|x| *x > 0.0 && *x < 1.0));
            assert!((w[k] - (w0 + 0.5 * (f[0] + 0.1))).abs() < 1e-14);
        }
        // Post spike of neuron 6: its one incoming synapse (index 1) from presynaptic row 0.
        let (in_ptr, in_syn, in_pre) = ([0u32, 1, 2], [0u32, 1], [0u32, 0]);
        let before = w[1];
        let x_pre1 = [0.25];
        mlp_post(
            &mlp,
            &rule,
            &in_ptr,
            &in_syn,
            &in_pre,
            5,
            &mut w,
            &[6],
            &x_pre1,
            &post,
        )
        .unwrap();
        let f = mlp.features(&[0.25, x2[1], before, v[1], ce[1], ci[1]]);
        assert!((w[1] - (before + 0.5 * (2.0 * f[3] - 0.1))).abs() < 1e-14);
        assert!(mlp_pre(&mlp, &rule, &ptr, &target, 0, &mut w, &[0], &x_pre2, &post).is_err());
    }

    #[test]
    fn poisson_steps_have_the_right_mean_and_checker_trips() {
        use crate::test_rng::Lcg;
        let mut r = Lcg(9);
        let p = 0.001; // 10 Hz at 0.1 ms
        let n = 20_000;
        let mean = (0..n)
            .map(|_| poisson_next_step(p, &mut r) as f64)
            .sum::<f64>()
            / n as f64;
        // Geometric mean 1/p = 1000 steps, sd ~ 1000 / sqrt(n) = 7.
        assert!((mean - 1000.0).abs() < 40.0, "{mean}");
        assert_eq!(poisson_next_step(0.0, &mut r), u64::MAX);
        assert_eq!(poisson_next_step(1.0, &mut r), 1);
        let mut c = RateChecker {
            tau_ms: 1000.0,
            max_hz: 100.0,
            avg_hz: 0.0,
        };
        assert!(c.update(1, 100, 0.1)); // 100 Hz instantaneous, average 0.01 Hz
        let mut ok = true;
        for _ in 0..50_000 {
            ok &= c.update(5, 100, 0.1); // 500 Hz sustained
        }
        assert!(!ok && c.avg_hz > 100.0);
    }

    #[test]
    fn spike_ring_delays_and_refuses_overflow() {
        let (mut slots, mut counts) = ([0u32; 6], [0u32; 3]);
        let mut r = SpikeRing::new(&mut slots, &mut counts, 2).unwrap();
        r.push(5, &[7, 8]).unwrap();
        assert!(r.push(5, &[9]).is_err());
        assert_eq!(r.due(2), &[7, 8]);
        r.clear(5);
        assert!(r.due(5).is_empty());
        assert!(SpikeRing::new(&mut [0u32; 5], &mut [0u32; 3], 2).is_err());
    }

    #[test]
    fn doublet_updates_and_clipping() {
        let r = DoubletRule {
            tau_pre: 20.0,
            tau_post: 20.0,
            alpha: -0.01,
            beta: 0.0,
            gamma: 1.0,
            kappa: -1.05,
            eta: 0.5,
            w_max: 1.2,
        };
        assert!((r.on_pre(0.6, 0.5) - (0.6 + 0.5 * (-0.01 - 0.525))).abs() < 1e-15);
        assert_eq!(r.on_post(1.0, 2.0), 1.2);
        assert_eq!(r.on_pre(0.0, 2.0), 0.0);
        let mut x = [0.0, 0.5];
        traces_update(&mut x, &[1], 0, 0.5).unwrap();
        assert_eq!(x, [0.0, 0.75]);
    }
}
