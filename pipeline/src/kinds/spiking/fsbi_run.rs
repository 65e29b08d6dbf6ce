//! The `spiking` run with model `fsbi`: one simulation of the Confavreux et al. 2023 network,
//! its plausibility report, raster, rates and weights.

use super::config::SpikingConfig;
use crate::error::RunError;
use crate::rundir::RunDir;
use crate::sim::fsbi::simulate;

/// Runs a `spiking` experiment with model `fsbi` into `dir`; returns the summary.
pub fn run(cfg: &SpikingConfig, dir: &RunDir) -> Result<String, RunError> {
    use crate::io::{csv_bytes, npy_bytes};
    use crate::plot::{line_chart, Series};
    use serde_json::json;
    let f = cfg
        .fsbi
        .as_ref()
        .ok_or_else(|| RunError::new("model fsbi needs an fsbi section"))?;
    let seed = cfg.seed.unwrap_or(0);
    let progress = crate::progress::Progress::new(100, "% simulated", dir.quiet());
    let clock = std::time::Instant::now();
    let outcome = simulate(f, seed, |_| {
        progress.tick(1, None);
        !crate::interrupt::requested()
    })
    .map_err(|e| RunError::new(format!("simulation: {e}")))?;
    progress.finish();
    let wall = clock.elapsed().as_secs_f64();
    let Some(o) = outcome else {
        return Err(RunError::interrupted());
    };
    let m = &o.metrics;
    let ne = f.n_exc.get();
    let spikes: Vec<f64> = o
        .times
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.iter().flat_map(move |s| [*s as f64 * 0.1, i as f64]))
        .collect();
    dir.put(
        "spikes_window.npy",
        &npy_bytes(&[spikes.len() / 2, 2], &spikes),
    )?;
    let wflat: Vec<f64> = o.weights.iter().flatten().copied().collect();
    dir.put("weights.npy", &npy_bytes(&[o.weights.len(), 5], &wflat))?;
    dir.put(
        "weights.csv",
        &csv_bytes(&["time_s", "ee", "ei", "ie", "ii"], &o.weights),
    )?;
    let series = |k: usize, name: &str, color: &str| Series {
        name: name.into(),
        points: o
            .rates
            .iter()
            .enumerate()
            .map(|(i, r)| (i as f64 * 0.1, r[k]))
            .collect(),
        color: color.into(),
        width: 1.2,
    };
    dir.put(
        "rate.svg",
        line_chart(
            "Population rates (100 ms bins)",
            "time (s)",
            "rate (Hz)",
            &[series(0, "E", "#1f77b4"), series(1, "I", "#d62728")],
            false,
        )
        .as_bytes(),
    )?;
    let window_steps = (f.score_s.0 * 1e4).round() as usize;
    dir.put(
        "raster.svg",
        crate::sim::raster::raster_svg(&o.times, ne, window_steps, 0.1).as_bytes(),
    )?;
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "spiking",
        "model": "fsbi",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "synaptic_events": o.events,
        "plausibility": m,
    });
    dir.put_json("metrics.json", &metrics)?;
    let timing = json!({
        "simulation_seconds": wall,
        "wall_seconds_per_simulated_second": wall / m.simulated_s.max(1e-12),
        "threads": 1,
    });
    dir.put_json("timing.json", &timing)?;
    let ((deciding, lines), other) = crate::sim::fsbi::report::verdict_lines(m, f);
    let table: Vec<String> = lines
        .iter()
        .map(|l| format!("  {}", crate::sim::fsbi::report::line_text(l)))
        .collect();
    let other = other
        .map(|(name, ls)| {
            let failed: Vec<String> = ls
                .iter()
                .filter(|l| !l.pass)
                .map(crate::sim::fsbi::report::line_text)
                .collect();
            if failed.is_empty() {
                format!("\n{name}'s definitions: all {} pass", ls.len())
            } else {
                format!(
                    "\n{name}'s definitions: {} of {} pass; failing: {}",
                    ls.len() - failed.len(),
                    ls.len(),
                    failed.join("; ")
                )
            }
        })
        .unwrap_or_default();
    Ok(format!(
        "{}: {} s simulated{}; E {:.2} Hz, I {:.2} Hz, mean w [ee {:.4}, ei {:.4}, ie {:.4}, ii {:.4}]\nplausibility ({deciding}'s definitions decide):\n{}\nplausible: {}{other}\nwall time: {wall:.1} s ({:.3} s per simulated second, one thread)",
        cfg.name,
        m.simulated_s,
        if m.aborted { " (stopped by the rate checker)" } else { "" },
        m.rate_exc,
        m.rate_inh,
        m.mean_w[0],
        m.mean_w[1],
        m.mean_w[2],
        m.mean_w[3],
        table.join("\n"),
        if m.plausible { "yes" } else { "no" },
        wall / m.simulated_s.max(1e-12)
    ))
}
