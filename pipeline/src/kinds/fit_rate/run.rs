//! The run of `fit_rate`: the cells (the base setting and the grid), their checkpoints, and the
//! metrics and artifacts of the run directory.

use super::config::FitRateConfig;
use super::fit::{prepare, run_cell, CellResult, FitCheckpoint, FitControl, Prepared};
use crate::error::RunError;
use crate::history::{coefficient_svg, put_history, put_loss};
use crate::io::csv_bytes;
use crate::plot::heat_map;
use crate::progress::Progress;
use crate::rundir::{RunDir, Store, Throttle};
use serde_json::{json, Value};
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

fn state_name(cell: usize) -> String {
    format!("cell-{cell}")
}

fn cell_json(c: &CellResult) -> Value {
    json!({
        "noise_scale": c.noise_scale,
        "observed_fraction": c.observed_fraction,
        "theta": c.fit.theta.to_vec(),
        "theta_max_abs_error": c.theta_max_abs_error,
        "r2_weights": c.evaluation.r2_weights,
        "r2_activity": c.evaluation.r2_activity,
        "final_loss": c.final_loss,
        "condition_number": c.identifiability.condition_number,
    })
}

/// Runs a `fit_rate` experiment into `dir`.
pub fn run(cfg: &FitRateConfig, dir: &RunDir) -> Result<String, RunError> {
    let Some(sim) = cfg.simulated() else {
        return super::recorded_run::run(cfg, dir);
    };
    let seed = cfg.seed.unwrap_or(0);
    let prep = prepare(cfg, &sim, seed)?;
    let base = (sim.data.noise_scale.0, sim.data.observed_fraction.0);
    let mut cells = vec![base];
    if let Some(g) = &cfg.grid {
        for n in &g.noise_scale {
            for f in &g.observed_fraction {
                if !cells.contains(&(n.0, f.0)) {
                    cells.push((n.0, f.0));
                }
            }
        }
    }
    let epochs = cfg.fit.epochs.get() + cfg.fit.refine_iterations as usize;
    let progress = Progress::new(epochs * cells.len(), "epochs", dir.quiet());
    let store = dir.store();
    let results = run_cells(cfg, &prep, &cells, &progress, &store);
    progress.finish();
    let mut results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    for i in 0..cells.len() {
        store.remove_state(&state_name(i));
    }
    let main = results.remove(0);
    let target = prep.teacher.theta;

    // Artifacts of the main fit.
    let x_label = if cfg.fit.refine_iterations > 0 {
        "Adam epoch, then Levenberg-Marquardt iteration"
    } else {
        "Adam epoch"
    };
    let history: Vec<Vec<f64>> = main.fit.theta_history.iter().map(|t| t.to_vec()).collect();
    put_history(dir, "theta", "epoch", &TERM_LABELS, &history)?;
    put_loss(
        dir,
        "train_loss",
        &main.fit.loss_history,
        "Training loss (MSE on observed activity)",
        x_label,
    )?;
    let labels: Vec<String> = TERM_LABELS.iter().map(|s| s.to_string()).collect();
    let highlight: Vec<(usize, Option<f64>)> = (0..TAYLOR_TERMS)
        .filter(|&k| target[k] != 0.0)
        .map(|k| (k, Some(target[k])))
        .collect();
    dir.put(
        "theta.svg",
        coefficient_svg(
            "Coefficients during the fit",
            x_label,
            &history,
            &labels,
            &highlight,
        )
        .as_bytes(),
    )?;

    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_rate",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "terms": TERM_LABELS.to_vec(),
        "theta_target": target.to_vec(),
        "noise_scale": main.noise_scale,
        "observed_fraction": main.observed_fraction,
        "theta": main.fit.theta.to_vec(),
        "theta_max_abs_error": main.theta_max_abs_error,
        "r2_weights": main.evaluation.r2_weights,
        "r2_activity": main.evaluation.r2_activity,
        "final_loss": main.final_loss,
        "rejected_steps": main.fit.rejected_steps,
        "identifiability": serde_json::to_value(&main.identifiability).unwrap_or(Value::Null),
    });
    if let Some(g) = &cfg.grid {
        let mut all = vec![&main];
        all.extend(results.iter());
        let find = |n: f64, f: f64| {
            all.iter()
                .find(|c| c.noise_scale == n && c.observed_fraction == f)
        };
        let mut grid = Vec::new();
        let mut rows = Vec::new();
        let (mut r2m, mut errm) = (Vec::new(), Vec::new());
        for n in &g.noise_scale {
            let (mut r2r, mut errr) = (Vec::new(), Vec::new());
            for f in &g.observed_fraction {
                if let Some(c) = find(n.0, f.0) {
                    grid.push(cell_json(c));
                    rows.push(vec![
                        c.noise_scale,
                        c.observed_fraction,
                        c.evaluation.r2_weights,
                        c.evaluation.r2_activity,
                        c.theta_max_abs_error,
                        c.final_loss,
                    ]);
                    r2r.push(c.evaluation.r2_weights);
                    errr.push(c.theta_max_abs_error);
                }
            }
            r2m.push(r2r);
            errm.push(errr);
        }
        metrics["grid"] = Value::Array(grid);
        dir.put(
            "grid.csv",
            &csv_bytes(
                &[
                    "noise_scale",
                    "observed_fraction",
                    "r2_weights",
                    "r2_activity",
                    "theta_max_abs_error",
                    "final_loss",
                ],
                &rows,
            ),
        )?;
        let rl: Vec<String> = g
            .noise_scale
            .iter()
            .map(|v| format!("noise {}", v.0))
            .collect();
        let cl: Vec<String> = g
            .observed_fraction
            .iter()
            .map(|v| format!("{}", v.0))
            .collect();
        dir.put(
            "grid_r2_weights.svg",
            heat_map(
                "R^2 of weight trajectories",
                "observation noise scale",
                "fraction of neurons observed",
                &rl,
                &cl,
                &r2m,
            )
            .as_bytes(),
        )?;
        dir.put(
            "grid_theta_error.svg",
            heat_map(
                "max |theta - target|",
                "observation noise scale",
                "fraction of neurons observed",
                &rl,
                &cl,
                &errm,
            )
            .as_bytes(),
        )?;
    }
    dir.put_json("metrics.json", &metrics)?;
    Ok(summary(&main, &target))
}

fn summary(c: &CellResult, target: &[f64; TAYLOR_TERMS]) -> String {
    let mut s = String::new();
    let mut big: Vec<usize> = (0..TAYLOR_TERMS)
        .filter(|&k| target[k] != 0.0 || c.fit.theta[k].abs() > 0.05)
        .collect();
    big.sort();
    for k in big {
        s.push_str(&format!(
            "theta[{}] ({:>7}) = {:+.4}   target {:+.4}\n",
            k, TERM_LABELS[k], c.fit.theta[k], target[k]
        ));
    }
    s.push_str(&format!(
        "max |theta - target| = {:.4}   r2_weights = {:.5}   r2_activity = {:.5}   final_loss = {:.3e}\n",
        c.theta_max_abs_error, c.evaluation.r2_weights, c.evaluation.r2_activity, c.final_loss
    ));
    let id = &c.identifiability;
    s.push_str(&format!("identifiability: {}\n", id.verdict));
    let sv = &id.singular_values;
    if let (Some(a), Some(b)) = (sv.first(), sv.last()) {
        s.push_str(&format!(
            "  singular values of J^T J/N: largest {a:.3e}, smallest {b:.3e}\n"
        ));
    }
    for d in &id.least_determined {
        let dir: Vec<String> = d
            .loadings
            .iter()
            .map(|(t, v)| format!("{v:+.2} {t}"))
            .collect();
        s.push_str(&format!(
            "  least determined ({:.2e}): {}\n",
            d.singular_value,
            dir.join(" ")
        ));
    }
    s
}

/// Fits the cells, in parallel over the worker threads; results in the order of `cells`.
/// Cell `i` offers its state to the store as `cell-<i>` after every epoch and iteration (written
/// at most every `SYNPLAST_CHECKPOINT_SECONDS`, and always when the run stops), and a resumed
/// run starts from it when it exists.
fn run_cells(
    cfg: &FitRateConfig,
    prep: &Prepared,
    cells: &[(f64, f64)],
    progress: &Progress,
    store: &Store,
) -> Vec<Result<CellResult, RunError>> {
    let indexed: Vec<(usize, (f64, f64))> = cells.iter().copied().enumerate().collect();
    crate::parallel::map(&indexed, |&(i, (n, f))| {
        let name = state_name(i);
        let saved: Option<FitCheckpoint> = store.state(&name)?;
        if let Some(c) = &saved {
            eprintln!(
                "synplast: cell {i} resumes after {} Adam epochs and {} refinement iterations",
                c.adam_epochs_done, c.lm_iterations_done
            );
            progress.tick(c.loss_history.len(), c.loss_history.last().copied());
        }
        let mut on_epoch = |_: usize, l: f64| progress.tick(1, Some(l));
        let mut throttle = Throttle::default();
        let mut save = |c: &FitCheckpoint, now: bool| {
            if throttle.due(now) {
                store.save_state(&name, c)?;
            }
            Ok(())
        };
        let stop = crate::interrupt::requested;
        let mut ctl = FitControl {
            on_epoch: &mut on_epoch,
            save: &mut save,
            stop: &stop,
            resume: saved,
        };
        run_cell(cfg, prep, n, f, &mut ctl)
    })
}
