//! The `spiking` run with model `coba`: the benchmark network simulated on one thread, its
//! rates, CV and weights, and the wall time per simulated second.

use super::coba::{cv_isi, CobaNetwork};
use super::config::SpikingConfig;
use crate::error::RunError;
use crate::io::{csv_bytes, npy_bytes};
use crate::plot::{line_chart, Series};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use serde_json::{json, Value};
use std::time::Instant;

/// Runs a `spiking` experiment into `dir`; returns the summary.
pub fn run(cfg: &SpikingConfig, dir: &RunDir) -> Result<String, RunError> {
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
    let progress = Progress::new(100, "% simulated", dir.quiet());
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
    dir.put("spikes.npy", &npy_bytes(&[all.len() / 2, 2], &all))?;
    dir.put(
        "weights_sampled.npy",
        &npy_bytes(
            &[w_samples.len() / sampled.len().max(1), sampled.len()],
            &w_samples,
        ),
    )?;
    dir.put(
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
    dir.put(
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
    dir.put(
        "raster.svg",
        crate::sim::raster::raster_svg(&times, ne, steps, dt).as_bytes(),
    )?;
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "spiking",
        "model": "coba",
        "seed": seed,
        "config_hash": dir.config_hash(),
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
    dir.put_json("metrics.json", &metrics)?;
    let timing: Value = json!({
        "construction_seconds": build_seconds,
        "simulation_seconds": sim_seconds,
        "wall_seconds_per_simulated_second": sim_seconds / secs,
        "threads": 1,
    });
    dir.put_json("timing.json", &timing)?;
    Ok(format!(
        "{}: {n} neurons, {secs} s simulated: E {rate_exc:.2} Hz, I {rate_inh:.2} Hz, CV ISI E {cv_e:.3} I {cv_i:.3}, mean E->E weight {w_start:.4} -> {w_end:.4}, {} synaptic events\nwall time: {sim_seconds:.2} s for the simulation ({:.4} s per simulated second, one thread), {build_seconds:.2} s to build the network",
        cfg.name,
        net.events,
        sim_seconds / secs
    ))
}
