//! Experiment kind `spiking`, model `coba`: the Vogels-Abbott / Brette et al. 2007 COBA
//! benchmark network with E->E doublet STDP (DESIGN §3.7), built from the YAML and simulated
//! on one thread with the kernels of [`synplast_kernels::spiking`].
//!
//! Step order: neurons (Euler, threshold, reset, refractory hold), spike delivery (each spike
//! adds the weight before its own plasticity update), E->E plasticity on presynaptic then
//! postsynaptic spikes with the traces from before this step, then traces.

use crate::config::SpikingConfig;
use crate::fit_rate::RunError;
use crate::io::{csv_bytes, npy_bytes, write_atomic};
use crate::plot::{line_chart, Series};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::run::{pretty, put, RunOptions};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;
use synplast_kernels::spiking::{
    coba_step, deliver, doublet_post, doublet_pre, traces_update, CobaNeuron, DoubletRule,
};
use synplast_kernels::KernelError;

/// Compressed sparse rows: synapses of presynaptic neuron `i` are `ptr[i]..ptr[i + 1]`.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    /// Row pointers (`n_pre + 1`).
    pub ptr: Vec<u32>,
    /// Targets (global neuron indices).
    pub target: Vec<u32>,
    /// Weights.
    pub w: Vec<f64>,
}

impl Csr {
    /// Fixed-probability connections from `pre` (global indices `pre_first..`) to the targets
    /// `post_first..post_first + n_post`, without autapses, all of weight `w`.
    pub fn random(
        n_pre: usize,
        pre_first: usize,
        n_post: usize,
        post_first: usize,
        p: f64,
        w: f64,
        rng: &mut Rng,
    ) -> Self {
        let mut c = Csr {
            ptr: Vec::with_capacity(n_pre + 1),
            ..Default::default()
        };
        c.ptr.push(0);
        for i in 0..n_pre {
            for j in 0..n_post {
                if pre_first + i != post_first + j && rng.uniform() < p {
                    c.target.push((post_first + j) as u32);
                }
            }
            c.ptr.push(c.target.len() as u32);
        }
        c.w = vec![w; c.target.len()];
        c
    }

    /// The incoming index for targets `post_first..post_first + n_post`: for each target, the
    /// synapse indices onto it and their presynaptic neurons (local to this CSR's rows).
    pub fn incoming(&self, n_post: usize, post_first: usize) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let mut count = vec![0u32; n_post + 1];
        for &t in &self.target {
            count[t as usize - post_first + 1] += 1;
        }
        for k in 0..n_post {
            count[k + 1] += count[k];
        }
        let mut fill = count.clone();
        let mut syn = vec![0u32; self.target.len()];
        let mut pre = vec![0u32; self.target.len()];
        for i in 0..self.ptr.len() - 1 {
            for k in self.ptr[i]..self.ptr[i + 1] {
                let t = self.target[k as usize] as usize - post_first;
                let at = fill[t] as usize;
                syn[at] = k;
                pre[at] = i as u32;
                fill[t] += 1;
            }
        }
        (count, syn, pre)
    }
}

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
fn cv_isi(times: &[Vec<u32>]) -> f64 {
    let cvs = crate::metrics::isi_cvs(times);
    cvs.iter().sum::<f64>() / cvs.len().max(1) as f64
}

/// Runs a `spiking` experiment into `dir`; returns the summary.
pub fn run(
    cfg: &SpikingConfig,
    exp: &crate::config::Experiment,
    dir: &Path,
    opts: &RunOptions,
) -> Result<String, RunError> {
    if cfg.model == "fsbi" {
        return crate::fsbi::run(cfg, exp, dir, opts);
    }
    let seed = cfg.seed.unwrap_or(0);
    let built = Instant::now();
    let mut net = CobaNetwork::new(cfg, &mut Rng::new(seed));
    let build_seconds = built.elapsed().as_secs_f64();
    let dt = net.neuron.dt;
    let steps = (cfg.duration_ms.map(|d| d.0).unwrap_or(0.0) / dt).round() as usize;
    let n = net.n;
    let ne = net.n_exc;
    let mut times: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut all: Vec<f64> = Vec::new();
    let bin = (10.0 / dt).round() as usize; // 10 ms population-rate bins
    let mut rate_e = vec![0u32; steps.div_ceil(bin)];
    let mut rate_i = vec![0u32; steps.div_ceil(bin)];
    let sample_every = (100.0 / dt).round() as usize; // weights every 100 ms
    let sampled: Vec<usize> = {
        let mut r = Rng::new(seed).substream(1);
        r.choose(net.ee.w.len(), 100.min(net.ee.w.len()))
    };
    let mut w_samples: Vec<f64> = Vec::new();
    let mut mean_w: Vec<Vec<f64>> = Vec::new();
    let w_start = net.mean_ee();
    let progress = Progress::new(100, "% simulated", opts.quiet);
    let chunk = (steps / 100).max(1);
    let clock = Instant::now();
    for t in 0..steps {
        if t % sample_every == 0 {
            w_samples.extend(sampled.iter().map(|&k| net.ee.w[k]));
            mean_w.push(vec![t as f64 * dt, net.mean_ee()]);
        }
        let spikes = net
            .step()
            .map_err(|e| RunError::new(format!("step {t}: {e}")))?;
        for &s in spikes {
            times[s as usize].push(t as u32);
            all.push(t as f64 * dt);
            all.push(s as f64);
            if (s as usize) < ne {
                rate_e[t / bin] += 1;
            } else {
                rate_i[t / bin] += 1;
            }
        }
        if t % chunk == chunk - 1 {
            progress.tick(1, None);
            if crate::interrupt::requested() {
                return Err(RunError::interrupted());
            }
        }
    }
    let sim_seconds = clock.elapsed().as_secs_f64();
    progress.finish();
    let secs = steps as f64 * dt / 1000.0;
    let count = |r: std::ops::Range<usize>| times[r].iter().map(|t| t.len()).sum::<usize>();
    let (se, si) = (count(0..ne), count(ne..n));
    let rate_exc = se as f64 / ne as f64 / secs;
    let rate_inh = si as f64 / (n - ne).max(1) as f64 / secs;
    let (cv_e, cv_i) = (cv_isi(&times[..ne]), cv_isi(&times[ne..]));
    let w_end = net.mean_ee();
    put(dir, "spikes.npy", &npy_bytes(&[all.len() / 2, 2], &all))?;
    put(
        dir,
        "weights_sampled.npy",
        &npy_bytes(
            &[w_samples.len() / sampled.len().max(1), sampled.len()],
            &w_samples,
        ),
    )?;
    put(
        dir,
        "weights_mean.csv",
        &csv_bytes(&["time_ms", "mean_w_ee"], &mean_w),
    )?;
    let rate_series = |r: &[u32], pop: usize, name: &str, color: &str| Series {
        name: name.into(),
        points: r
            .iter()
            .enumerate()
            .map(|(k, c)| (k as f64 * 10.0, *c as f64 / pop as f64 / 0.01))
            .collect(),
        color: color.into(),
        width: 1.2,
    };
    put(
        dir,
        "rate.svg",
        line_chart(
            "Population rates (10 ms bins)",
            "time (ms)",
            "rate (Hz)",
            &[
                rate_series(&rate_e, ne, "E", "#1f77b4"),
                rate_series(&rate_i, n - ne, "I", "#d62728"),
            ],
            false,
        )
        .as_bytes(),
    )?;
    put(
        dir,
        "raster.svg",
        raster_svg(&times, ne, steps, dt).as_bytes(),
    )?;
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "spiking",
        "model": "coba",
        "seed": seed,
        "config_hash": exp.hash(),
        "neurons": n,
        "synapses": net.ee.w.len() + net.ei.w.len() + net.ia.w.len(),
        "synapses_ee": net.ee.w.len(),
        "simulated_seconds": secs,
        "spikes": se + si,
        "synaptic_events": net.events,
        "rate_exc_hz": rate_exc,
        "rate_inh_hz": rate_inh,
        "cv_isi_exc": cv_e,
        "cv_isi_inh": cv_i,
        "mean_w_ee_start": w_start,
        "mean_w_ee_end": w_end,
    });
    put(dir, "metrics.json", &pretty(&metrics))?;
    let timing: Value = json!({
        "construction_seconds": build_seconds,
        "simulation_seconds": sim_seconds,
        "wall_seconds_per_simulated_second": sim_seconds / secs,
        "threads": 1,
    });
    write_atomic(&dir.join("timing.json"), &pretty(&timing))
        .map_err(|e| RunError::new(format!("timing.json: {e}")))?;
    Ok(format!(
        "{}: {n} neurons, {secs} s simulated: E {rate_exc:.2} Hz, I {rate_inh:.2} Hz, CV ISI E {cv_e:.3} I {cv_i:.3}, mean E->E weight {w_start:.4} -> {w_end:.4}, {} synaptic events\nwall time: {sim_seconds:.2} s for the simulation ({:.4} s per simulated second, one thread), {build_seconds:.2} s to build the network",
        cfg.name,
        net.events,
        sim_seconds / secs
    ))
}

/// Spike raster of the first 50 E and 50 I neurons over the last second.
pub fn raster_svg(times: &[Vec<u32>], ne: usize, steps: usize, dt: f64) -> String {
    let (w, h) = (800.0, 420.0);
    let t_end = steps as f64 * dt;
    let t0 = (t_end - 1000.0).max(0.0);
    let picked: Vec<usize> = (0..50.min(ne))
        .chain(ne..(ne + 50).min(times.len()))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle" font-size="15">Spike raster, last second: 50 E (blue), 50 I (red)</text>
<text x="{}" y="{}" text-anchor="middle">time (ms) from {t0:.0} to {t_end:.0}</text>"##,
        w / 2.0,
        w / 2.0,
        h - 8.0
    );
    let rows = picked.len().max(1) as f64;
    for (r, &i) in picked.iter().enumerate() {
        let y = 35.0 + r as f64 * (h - 70.0) / rows;
        let color = if i < ne { "#1f77b4" } else { "#d62728" };
        for &t in &times[i] {
            let tm = t as f64 * dt;
            if tm >= t0 {
                let x = 40.0 + (tm - t0) / (t_end - t0).max(1e-9) * (w - 60.0);
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="1.2" height="3" fill="{color}"/>"#
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
