//! The inner loop of `meta_function` (data sets, the linear network, the task loss and its
//! exact gradient) and the outer loop (CMA-ES or gradient steps, with thresholding).

use super::config::{GradientStep, MetaFunctionConfig, MetaLoss, MetaMethod, MetaTaskConfig};
use crate::cmaes::CmaEs;
use crate::error::RunError;
use crate::fit::{l1_subgradient, Adam};
use crate::linalg::symmetric_eigen;
use crate::parallel;
use crate::rng::Rng;
use synplast_kernels::linear::{
    batch_epoch, batch_epoch_sensitivity, sensitivity_scratch_len, LinearShape, NoPlasticity,
};
use synplast_kernels::rule::DifferentiableRule;
use synplast_kernels::taylor::TAYLOR_TERMS;
use synplast_kernels::{KernelError, TaylorRule};

/// One data set of the inner loop.
#[derive(Debug, Clone)]
pub struct MetaDataset {
    /// Samples, `n_samples x n_in`.
    pub x: Vec<f64>,
    /// Initial feedforward weights, `n_out x n_in`.
    pub w0: Vec<f64>,
    /// The top `n_out` principal components, `n_out x n_in`, unit length.
    pub pcs: Vec<f64>,
}

/// The inner-loop problem: shapes, schedule and data sets.
#[derive(Debug, Clone)]
pub struct MetaTask {
    /// Network and batch dimensions.
    pub shape: LinearShape,
    /// Epochs per inner loop.
    pub epochs: usize,
    /// Plasticity rate.
    pub eta: f64,
    /// Task loss.
    pub loss: MetaLoss,
    /// Data sets.
    pub datasets: Vec<MetaDataset>,
}

impl MetaTask {
    /// Number of meta-learned coefficients: 27 (feedforward) or 54 (feedforward, lateral).
    pub fn n_params(&self) -> usize {
        match self.loss {
            MetaLoss::Pc1 => TAYLOR_TERMS,
            MetaLoss::Subspace => 2 * TAYLOR_TERMS,
        }
    }

    /// Weights beyond this magnitude count as a blow-up.
    pub fn blow_up_limit(&self) -> f64 {
        1e5 / self.shape.n_samples as f64
    }
}

/// A random rotation (orthonormal rows), by Gram-Schmidt on Gaussian rows.
pub fn random_rotation(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut q = vec![0.0; n * n];
    let mut i = 0;
    while i < n {
        let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        for k in 0..i {
            let d: f64 = (0..n).map(|c| v[c] * q[k * n + c]).sum();
            for c in 0..n {
                v[c] -= d * q[k * n + c];
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            for c in 0..n {
                q[i * n + c] = v[c] / norm;
            }
            i += 1;
        }
    }
    q
}

/// Draws `count` data sets for the task.
pub fn make_datasets(t: &MetaTaskConfig, count: usize, rng: &mut Rng) -> Vec<MetaDataset> {
    let (n_in, n_out, n) = (t.n_in.get(), t.n_out.get(), t.samples.get());
    let sd: Vec<f64> = t.variances.iter().map(|v| v.0.sqrt()).collect();
    (0..count)
        .map(|_| {
            let q = random_rotation(n_in, rng);
            let mut x = vec![0.0; n * n_in];
            for s in 0..n {
                for i in 0..n_in {
                    let z = sd[i] * rng.normal();
                    for c in 0..n_in {
                        x[s * n_in + c] += z * q[i * n_in + c];
                    }
                }
            }
            let mut w0 = vec![0.0; n_out * n_in];
            rng.fill_normal(t.w0_std.0, &mut w0);
            let mut cov = vec![0.0; n_in * n_in];
            for xs in x.chunks_exact(n_in) {
                for a in 0..n_in {
                    for b in 0..n_in {
                        cov[a * n_in + b] += xs[a] * xs[b] / n as f64;
                    }
                }
            }
            let (_, vectors) = symmetric_eigen(&cov, n_in);
            let pcs = vectors.iter().take(n_out).flatten().copied().collect();
            MetaDataset { x, w0, pcs }
        })
        .collect()
}

/// The task loss of final weights and, if asked, its gradient with respect to `W`.
pub fn pc_loss(w: &[f64], pcs: &[f64], n_in: usize, mut grad: Option<&mut [f64]>) -> f64 {
    let n_out = pcs.len() / n_in;
    let mut total = 0.0;
    for i in 0..n_out {
        let wi = &w[i * n_in..(i + 1) * n_in];
        let pi = &pcs[i * n_in..(i + 1) * n_in];
        let minus: f64 = wi
            .iter()
            .zip(pi)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        let plus: f64 = wi
            .iter()
            .zip(pi)
            .map(|(a, b)| (a + b) * (a + b))
            .sum::<f64>()
            .sqrt();
        let (dist, sign) = if minus <= plus {
            (minus, -1.0)
        } else {
            (plus, 1.0)
        };
        total += dist / n_out as f64;
        if let Some(g) = grad.as_deref_mut() {
            for c in 0..n_in {
                g[i * n_in + c] = if dist > 0.0 {
                    (wi[c] + sign * pi[c]) / dist / n_out as f64
                } else {
                    0.0
                };
            }
        }
    }
    total
}

/// `|cos|` between each output's weight vector and its principal component.
pub fn pc_alignment(w: &[f64], pcs: &[f64], n_in: usize) -> Vec<f64> {
    (0..pcs.len() / n_in)
        .map(|i| {
            let wi = &w[i * n_in..(i + 1) * n_in];
            let pi = &pcs[i * n_in..(i + 1) * n_in];
            let dot: f64 = wi.iter().zip(pi).map(|(a, b)| a * b).sum();
            let nw = wi.iter().map(|a| a * a).sum::<f64>().sqrt();
            let np = pi.iter().map(|a| a * a).sum::<f64>().sqrt();
            if nw > 0.0 && np > 0.0 {
                (dot / (nw * np)).abs()
            } else {
                0.0
            }
        })
        .collect()
}

/// One inner loop's outcome.
#[derive(Debug, Clone)]
pub struct Inner {
    /// Task loss, or the blow-up score.
    pub loss: f64,
    /// The epoch at which the weights blew up, if they did.
    pub blown_at: Option<usize>,
    /// Final feedforward weights.
    pub w: Vec<f64>,
}

/// The blow-up score `(epochs - e) / epochs + 1` (in `(1, 2]`).
pub fn blow_up_score(e: usize, epochs: usize) -> f64 {
    (epochs - e.min(epochs)) as f64 / epochs as f64 + 1.0
}

fn feedforward(theta: &[f64]) -> TaylorRule<f64> {
    let mut t = [0.0; TAYLOR_TERMS];
    t.copy_from_slice(&theta[..TAYLOR_TERMS]);
    TaylorRule::new(t)
}

fn lateral(theta: &[f64]) -> TaylorRule<f64> {
    let mut t = [0.0; TAYLOR_TERMS];
    t.copy_from_slice(&theta[TAYLOR_TERMS..2 * TAYLOR_TERMS]);
    TaylorRule::new(t)
}

fn too_big(v: &[f64], limit: f64) -> bool {
    v.iter().any(|x| x.is_nan() || x.abs() > limit)
}

/// The outcome when epoch `e`'s update failed (`failed`) or left a weight beyond the blow-up
/// limit, else `None`.
fn blow_up(task: &MetaTask, e: usize, failed: bool, w: &[f64], l: &[f64]) -> Option<Inner> {
    let limit = task.blow_up_limit();
    (failed || too_big(w, limit) || too_big(l, limit)).then(|| Inner {
        loss: blow_up_score(e, task.epochs),
        blown_at: Some(e),
        w: w.to_vec(),
    })
}

/// Runs the inner loop on one data set (no gradient).
pub fn inner(task: &MetaTask, ds: &MetaDataset, theta: &[f64]) -> Inner {
    match task.loss {
        MetaLoss::Pc1 => inner_with(task, ds, &feedforward(theta), &NoPlasticity),
        MetaLoss::Subspace => inner_with(task, ds, &feedforward(theta), &lateral(theta)),
    }
}

fn inner_with<Rg: DifferentiableRule<f64>>(
    task: &MetaTask,
    ds: &MetaDataset,
    ff: &TaylorRule<f64>,
    lat: &Rg,
) -> Inner {
    let s = task.shape;
    let mut w = ds.w0.clone();
    let mut l = vec![0.0; s.n_out * s.n_out];
    let mut y = vec![0.0; s.n_samples * s.n_out];
    for e in 0..task.epochs {
        let r = batch_epoch(ff, lat, task.eta, s, &ds.x, &mut w, &mut l, &mut y);
        if let Some(blown) = blow_up(task, e, r.is_err(), &w, &l) {
            return blown;
        }
    }
    Inner {
        loss: pc_loss(&w, &ds.pcs, s.n_in, None),
        blown_at: None,
        w,
    }
}

/// Runs the inner loop on one data set with forward sensitivities; returns the outcome and
/// `d loss / d theta` (zero after a blow-up, where the score is flat).
pub fn inner_with_gradient(
    task: &MetaTask,
    ds: &MetaDataset,
    theta: &[f64],
) -> Result<(Inner, Vec<f64>), KernelError> {
    match task.loss {
        MetaLoss::Pc1 => inner_grad_with(task, ds, &feedforward(theta), &NoPlasticity),
        MetaLoss::Subspace => inner_grad_with(task, ds, &feedforward(theta), &lateral(theta)),
    }
}

fn inner_grad_with<Rg: DifferentiableRule<f64>>(
    task: &MetaTask,
    ds: &MetaDataset,
    ff: &TaylorRule<f64>,
    lat: &Rg,
) -> Result<(Inner, Vec<f64>), KernelError> {
    let s = task.shape;
    let p = TAYLOR_TERMS + lat.n_params();
    let mut w = ds.w0.clone();
    let mut l = vec![0.0; s.n_out * s.n_out];
    let mut sw = vec![0.0; w.len() * p];
    let mut sl = vec![0.0; l.len() * p];
    let mut scratch = vec![0.0; sensitivity_scratch_len(s, p)?];
    for e in 0..task.epochs {
        let r = batch_epoch_sensitivity(
            ff,
            lat,
            task.eta,
            s,
            &ds.x,
            &mut w,
            &mut l,
            &mut sw,
            &mut sl,
            &mut scratch,
        );
        if let Some(blown) = blow_up(task, e, r.is_err(), &w, &l) {
            return Ok((blown, vec![0.0; p]));
        }
    }
    let mut dl_dw = vec![0.0; w.len()];
    let loss = pc_loss(&w, &ds.pcs, s.n_in, Some(&mut dl_dw));
    let mut grad = vec![0.0; p];
    for (k, g) in dl_dw.iter().enumerate() {
        for (gp, sv) in grad.iter_mut().zip(&sw[k * p..(k + 1) * p]) {
            *gp += g * sv;
        }
    }
    Ok((
        Inner {
            loss,
            blown_at: None,
            w,
        },
        grad,
    ))
}

/// Mean task loss over the data sets (sequential; callers parallelise over candidates).
pub fn task_loss(task: &MetaTask, theta: &[f64]) -> f64 {
    let total: f64 = task
        .datasets
        .iter()
        .map(|d| inner(task, d, theta).loss)
        .sum();
    total / task.datasets.len() as f64
}

/// Mean task loss, its gradient and the number of data sets that blew up; data sets in
/// parallel, summed in a fixed order.
pub fn task_loss_and_gradient(
    task: &MetaTask,
    theta: &[f64],
) -> Result<(f64, Vec<f64>, usize), RunError> {
    let per = parallel::map(&task.datasets, |d| inner_with_gradient(task, d, theta));
    let n = task.datasets.len() as f64;
    let mut loss = 0.0;
    let mut blown = 0;
    let mut grad = vec![0.0; task.n_params()];
    for r in per {
        let (inner, g) = r.map_err(|e| RunError::new(format!("inner-loop sensitivities: {e}")))?;
        loss += inner.loss / n;
        blown += usize::from(inner.blown_at.is_some());
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b / n;
        }
    }
    Ok((loss, grad, blown))
}

/// `l1 * sum |theta|`.
pub fn l1_penalty(theta: &[f64], l1: f64) -> f64 {
    l1 * theta.iter().map(|t| t.abs()).sum::<f64>()
}

/// The outer loop's record: one row per estimate (the initial one, then one per iteration).
#[derive(Debug, Clone, Default)]
pub struct MetaHistory {
    /// Coefficient estimates.
    pub theta: Vec<Vec<f64>>,
    /// Objective (task loss + L1) of each estimate.
    pub objective: Vec<f64>,
    /// Task loss of each estimate.
    pub task_loss: Vec<f64>,
    /// Inner simulations (one per data set run, with or without sensitivities) so far.
    pub simulations: Vec<u64>,
    /// Sequential thresholdings: the iteration and the coefficients it set to zero.
    pub thresholdings: Vec<(usize, Vec<usize>)>,
}

impl MetaHistory {
    fn push(&mut self, theta: &[f64], task_loss: f64, l1: f64, sims: u64) {
        self.theta.push(theta.to_vec());
        self.task_loss.push(task_loss);
        self.objective.push(task_loss + l1_penalty(theta, l1));
        self.simulations.push(sims);
    }
}

/// Builds the training task of a config.
pub fn training_task(cfg: &MetaFunctionConfig, master: &Rng) -> MetaTask {
    task_from(
        cfg,
        make_datasets(&cfg.task, cfg.task.datasets.get(), &mut master.substream(0)),
    )
}

/// Builds the held-out task of a config.
pub fn heldout_task(cfg: &MetaFunctionConfig, master: &Rng) -> MetaTask {
    task_from(
        cfg,
        make_datasets(
            &cfg.task,
            cfg.evaluation.datasets.get(),
            &mut master.substream(3),
        ),
    )
}

fn task_from(cfg: &MetaFunctionConfig, datasets: Vec<MetaDataset>) -> MetaTask {
    let t = &cfg.task;
    MetaTask {
        shape: LinearShape {
            n_in: t.n_in.get(),
            n_out: t.n_out.get(),
            n_samples: t.samples.get(),
        },
        epochs: t.epochs.get(),
        eta: t.eta.0,
        loss: t.loss,
        datasets,
    }
}

/// The gradient method's update: Adam, or heavy-ball momentum with the L1 subgradient.
enum Step {
    Adam(Adam),
    Momentum {
        lr: f64,
        l1: f64,
        velocity: Vec<f64>,
    },
}

impl Step {
    fn new(kind: GradientStep, p: usize, lr: f64, l1: f64) -> Self {
        match kind {
            GradientStep::Adam => Step::Adam(Adam::new(p, lr, l1)),
            GradientStep::Momentum => Step::Momentum {
                lr,
                l1,
                velocity: vec![0.0; p],
            },
        }
    }

    /// Forgets the moments (Adam) or the velocity (momentum), keeping the current rate.
    fn restart(&mut self) {
        match self {
            Step::Adam(a) => a.reset(),
            Step::Momentum { velocity, .. } => velocity.iter_mut().for_each(|v| *v = 0.0),
        }
    }

    fn halve_rate(&mut self) {
        match self {
            Step::Adam(a) => a.lr *= 0.5,
            Step::Momentum { lr, velocity, .. } => {
                *lr *= 0.5;
                velocity.iter_mut().for_each(|v| *v = 0.0);
            }
        }
    }

    fn apply(&mut self, theta: &mut [f64], grad: &[f64], mask: &[bool]) {
        match self {
            Step::Adam(a) => a.step(theta, grad, mask),
            Step::Momentum { lr, l1, velocity } => {
                for k in 0..theta.len() {
                    if mask[k] {
                        velocity[k] = 0.9 * velocity[k] + grad[k] + l1_subgradient(theta[k], *l1);
                        theta[k] -= *lr * velocity[k];
                    }
                }
            }
        }
    }
}

/// Sets every nonzero coefficient smaller than `tau` in magnitude to zero; returns their
/// indices. The step of sequential thresholding (as in SINDy's sequentially thresholded least
/// squares, Brunton et al. 2016): L1 alone lets small coefficients linger where they fit the
/// training sets' sampling noise, and they hold the estimate in a poorer local optimum.
pub fn sparsify(theta: &mut [f64], tau: f64) -> Vec<usize> {
    let mut zeroed = Vec::new();
    for (k, t) in theta.iter_mut().enumerate() {
        if *t != 0.0 && t.abs() < tau {
            *t = 0.0;
            zeroed.push(k);
        }
    }
    zeroed
}

/// Runs the outer loop; `on_iteration(k, objective)` after each iteration.
pub fn optimise(
    cfg: &MetaFunctionConfig,
    task: &MetaTask,
    master: &Rng,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<MetaHistory, RunError> {
    let p = task.n_params();
    let l1 = cfg.l1.0;
    let o = &cfg.optimizer;
    let mut init_rng = master.substream(1);
    let random: Vec<f64> = (0..p).map(|_| o.theta0_std.0 * init_rng.normal()).collect();
    let theta0: Vec<f64> = match &o.theta0 {
        Some(t) => t.iter().map(|v| v.0).collect(),
        None => random,
    };
    let per_eval = task.datasets.len() as u64;
    let stop = o.stop_task_loss.map(|v| v.0);
    let mut h = MetaHistory::default();
    let mut sims = 0u64;
    match o.method {
        MetaMethod::Cmaes => {
            let lambda = o.population.map(|v| v.get()).unwrap_or(50);
            let sigma0 = o.sigma0.map(|v| v.0).unwrap_or(0.1);
            let mut es = CmaEs::new(theta0.clone(), sigma0, lambda, master.substream(2));
            sims += per_eval;
            h.push(&theta0, task_loss(task, &theta0), l1, sims);
            for k in 0..o.iterations.get() {
                if stop.is_some_and(|s| h.task_loss.last().is_some_and(|t| *t <= s)) {
                    break;
                }
                let candidates = es.ask();
                let fitness =
                    parallel::map(&candidates, |c| task_loss(task, c) + l1_penalty(c, l1));
                sims += per_eval * candidates.len() as u64;
                es.tell(&fitness);
                let mean = es.mean().to_vec();
                sims += per_eval;
                h.push(&mean, task_loss(task, &mean), l1, sims);
                on_iteration(k, *h.objective.last().unwrap_or(&f64::NAN));
                if crate::interrupt::requested() {
                    return Err(RunError::interrupted());
                }
            }
        }
        MetaMethod::Gradient => {
            let lr = o.lr.map(|v| v.0).unwrap_or(0.01);
            let mut step = Step::new(o.step.unwrap_or(GradientStep::Adam), p, lr, l1);
            let mask = vec![true; p];
            let mut theta = theta0;
            // The last accepted estimate: (theta, loss, gradient, blown-up data sets).
            let mut accepted: Option<(Vec<f64>, f64, Vec<f64>, usize)> = None;
            let thresholding = o
                .threshold
                .map(|t| t.0)
                .zip(o.threshold_every.map(|n| n.get()));
            for k in 0..o.iterations.get() {
                if let Some((tau, every)) = thresholding {
                    if k > 0 && k % every == 0 {
                        let zeroed = sparsify(&mut theta, tau);
                        if !zeroed.is_empty() {
                            // The thresholded estimate is the new reference for the blow-up
                            // guard, and the moments of the old one would push it back.
                            step.restart();
                            accepted = None;
                        }
                        h.thresholdings.push((k, zeroed));
                    }
                }
                let (loss, grad, blown) = task_loss_and_gradient(task, &theta)?;
                sims += per_eval;
                // A step into a region where more data sets blow up is undone and the rate
                // halved: a blown-up data set has a flat score and no gradient to return by.
                let (loss, grad) = match &accepted {
                    Some((prev, prev_loss, prev_grad, prev_blown)) if blown > *prev_blown => {
                        theta.clone_from(prev);
                        step.halve_rate();
                        (*prev_loss, prev_grad.clone())
                    }
                    _ => {
                        accepted = Some((theta.clone(), loss, grad.clone(), blown));
                        (loss, grad)
                    }
                };
                h.push(&theta, loss, l1, sims);
                if stop.is_some_and(|s| loss <= s) {
                    return Ok(h);
                }
                step.apply(&mut theta, &grad, &mask);
                on_iteration(k, *h.objective.last().unwrap_or(&f64::NAN));
                if crate::interrupt::requested() {
                    return Err(RunError::interrupted());
                }
            }
            sims += per_eval;
            h.push(&theta, task_loss(task, &theta), l1, sims);
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_is_orthonormal() {
        let q = random_rotation(5, &mut Rng::new(3));
        for a in 0..5 {
            for b in 0..5 {
                let d: f64 = (0..5).map(|c| q[a * 5 + c] * q[b * 5 + c]).sum();
                assert!((d - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn sparsify_zeroes_exactly_the_small_nonzero_terms() {
        let mut t = [0.05, -0.2, 0.0, -0.0999, 0.1, 3.0];
        assert_eq!(sparsify(&mut t, 0.1), vec![0, 3]);
        assert_eq!(t, [0.0, -0.2, 0.0, 0.0, 0.1, 3.0]);
        assert!(sparsify(&mut t, 0.1).is_empty());
    }

    #[test]
    fn pc_loss_gradient_matches_differences_and_sign_is_ignored() {
        let pcs = [0.6, 0.8, 0.0, 0.0, 0.0, 1.0];
        let w = [0.5, 0.7, 0.1, 0.2, -0.1, -0.9];
        let mut g = [0.0; 6];
        let l = pc_loss(&w, &pcs, 3, Some(&mut g));
        for k in 0..6 {
            let mut p = w;
            p[k] += 1e-7;
            let mut m = w;
            m[k] -= 1e-7;
            let fd = (pc_loss(&p, &pcs, 3, None) - pc_loss(&m, &pcs, 3, None)) / 2e-7;
            assert!((fd - g[k]).abs() < 1e-7, "{k}: {fd} {}", g[k]);
        }
        let flipped = [-0.5, -0.7, -0.1, 0.2, -0.1, -0.9];
        assert!((pc_loss(&flipped, &pcs, 3, None) - l).abs() < 1e-15);
        assert!(pc_alignment(&[0.0, 0.0, 2.0], &[0.0, 0.0, 1.0], 3)[0] > 0.999_999);
    }
}
