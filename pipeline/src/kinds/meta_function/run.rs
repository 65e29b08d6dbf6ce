//! The run of `meta_function`: the outer loop, the held-out evaluation, metrics and
//! artifacts.

use super::config::{MetaFunctionConfig, MetaLoss};
use super::task;
use crate::error::RunError;
use crate::history::{coefficient_svg, put_history};
use crate::io::csv_bytes;
use crate::plot::{line_chart, Series};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use serde_json::json;
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

/// Labels of the meta-learned coefficients: feedforward terms, then `lateral:` terms.
fn meta_labels(p: usize) -> Vec<String> {
    (0..p)
        .map(|k| {
            if k < TAYLOR_TERMS {
                TERM_LABELS[k].to_string()
            } else {
                format!("lateral {}", TERM_LABELS[k - TAYLOR_TERMS])
            }
        })
        .collect()
}

/// Runs a `meta_function` experiment into `dir`.
pub fn run(cfg: &MetaFunctionConfig, dir: &RunDir) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let task = task::training_task(cfg, &master);
    let progress = Progress::new(cfg.optimizer.iterations.get(), "iterations", dir.quiet());
    let h = task::optimise(cfg, &task, &master, &mut |_, obj| {
        progress.tick(1, Some(obj))
    })?;
    progress.finish();
    let p = task.n_params();
    let theta = h.theta.last().cloned().unwrap_or_else(|| vec![0.0; p]);
    let labels = meta_labels(p);

    // Held-out evaluation.
    let heldout = task::heldout_task(cfg, &master);
    let inners = crate::parallel::map(&heldout.datasets, |d| task::inner(&heldout, d, &theta));
    let n_in = task.shape.n_in;
    let n_out = task.shape.n_out;
    let heldout_loss = inners.iter().map(|i| i.loss).sum::<f64>() / inners.len() as f64;
    let blown = inners.iter().filter(|i| i.blown_at.is_some()).count();
    let mut min_cos = vec![f64::INFINITY; n_out];
    let mut mean_cos = vec![0.0; n_out];
    for (inner, ds) in inners.iter().zip(&heldout.datasets) {
        for (i, c) in task::pc_alignment(&inner.w, &ds.pcs, n_in)
            .into_iter()
            .enumerate()
        {
            min_cos[i] = min_cos[i].min(c);
            mean_cos[i] += c / inners.len() as f64;
        }
    }

    // Artifacts.
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    put_history(dir, "theta", "iteration", &label_refs, &h.theta)?;
    let loss_rows: Vec<Vec<f64>> = (0..h.theta.len())
        .map(|k| {
            vec![
                k as f64,
                h.objective[k],
                h.task_loss[k],
                h.simulations[k] as f64,
            ]
        })
        .collect();
    dir.put(
        "loss.csv",
        &csv_bytes(
            &["iteration", "objective", "task_loss", "inner_simulations"],
            &loss_rows,
        ),
    )?;
    let curves = [
        Series {
            name: "objective (task + L1)".into(),
            points: loss_rows.iter().map(|r| (r[0], r[1])).collect(),
            color: "#1f77b4".into(),
            width: 2.0,
        },
        Series {
            name: "task loss".into(),
            points: loss_rows.iter().map(|r| (r[0], r[2])).collect(),
            color: "#d62728".into(),
            width: 2.0,
        },
    ];
    dir.put(
        "loss.svg",
        line_chart(
            "Meta-learning objective",
            "outer iteration",
            "loss (log scale)",
            &curves,
            true,
        )
        .as_bytes(),
    )?;
    let mut top: Vec<usize> = (0..p).collect();
    top.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
    let highlight: Vec<(usize, Option<f64>)> = top.iter().take(4).map(|&k| (k, None)).collect();
    dir.put(
        "theta.svg",
        coefficient_svg(
            "Meta-learned coefficients",
            "outer iteration",
            &h.theta,
            &labels,
            &highlight,
        )
        .as_bytes(),
    )?;
    let groups: Vec<(String, Vec<(f64, f64)>)> = inners
        .iter()
        .zip(&heldout.datasets)
        .take(3)
        .enumerate()
        .flat_map(|(d, (inner, ds))| {
            (0..n_out).map(move |i| {
                let wi = &inner.w[i * n_in..(i + 1) * n_in];
                let pi = &ds.pcs[i * n_in..(i + 1) * n_in];
                let dot: f64 = wi.iter().zip(pi).map(|(a, b)| a * b).sum();
                let sign = if dot < 0.0 { -1.0 } else { 1.0 };
                (
                    format!("set {d}, w{i} vs pc{}", i + 1),
                    wi.iter().zip(pi).map(|(a, b)| (sign * a, *b)).collect(),
                )
            })
        })
        .collect();
    dir.put(
        "weights.svg",
        crate::plot::paired_bars(
            "Learned weight vectors and principal components (held-out sets)",
            ["learned", "principal component"],
            &groups,
        )
        .as_bytes(),
    )?;

    let task_loss = *h.task_loss.last().unwrap_or(&f64::NAN);
    let objective = *h.objective.last().unwrap_or(&f64::NAN);
    let sims = *h.simulations.last().unwrap_or(&0);
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "meta_function",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "method": cfg.optimizer.method,
        "terms": TERM_LABELS.to_vec(),
        "theta": theta[..TAYLOR_TERMS].to_vec(),
        "theta_lateral": (p > TAYLOR_TERMS).then(|| theta[TAYLOR_TERMS..].to_vec()),
        "task_loss": task_loss,
        "objective": objective,
        "l1_penalty": objective - task_loss,
        "iterations": h.theta.len() - 1,
        "inner_simulations": sims,
        "thresholdings": h.thresholdings.iter().map(|(k, zeroed)| json!({
            "iteration": k,
            "zeroed": zeroed.iter().map(|&z| labels[z].clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "heldout": {
            "datasets": inners.len(),
            "task_loss": heldout_loss,
            "blown_up": blown,
            "pc_abs_cos_min": min_cos,
            "pc_abs_cos_mean": mean_cos,
        },
    });
    dir.put_json("metrics.json", &metrics)?;

    let mut s = String::new();
    for &k in top.iter().filter(|&&k| theta[k].abs() > 0.05) {
        s.push_str(&format!("{:>22} = {:+.4}\n", labels[k], theta[k]));
    }
    if cfg.task.loss == MetaLoss::Pc1 {
        s.push_str(&format!(
            "ratio (y^2*w)/(x*y) = {:.4}\n",
            theta[7] / theta[12]
        ));
    }
    s.push_str(&format!(
        "task loss {task_loss:.4} (objective {objective:.4}) after {} iterations, {sims} inner simulations\n",
        h.theta.len() - 1
    ));
    s.push_str(&format!(
        "held-out: task loss {heldout_loss:.4}, {blown} of {} blew up, min |cos(w_i, pc_i)| per output {:?}\n",
        inners.len(),
        min_cos.iter().map(|c| (c * 1e4).round() / 1e4).collect::<Vec<_>>()
    ));
    Ok(s)
}
