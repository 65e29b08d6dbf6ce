//! Data, fit and checkpoints of `fit_rate`: teacher trajectories, Adam (one step per
//! trajectory, undo-and-halve on blow-up) and Levenberg-Marquardt on the exact Gauss-Newton
//! matrix, with the whole state saved between epochs so a fit resumes to the same bits.

use super::config::{FitRateConfig, Simulated};
use super::evaluate::{evaluate, identifiability, Evaluation};
use crate::error::{kernel_error as kernel_err, RunError};
use crate::fit::identify::Identifiability;
use crate::fit::{GradientMethod, GuardedAdam};
use crate::linalg::solve_spd;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use synplast_kernels::gradient::{
    adjoint_scratch_len, forward_scratch_len, loss_gradient_adjoint, loss_gradient_forward,
    loss_scratch_len, trajectory_loss, Observation, Shape,
};
use synplast_kernels::rate::simulate;
use synplast_kernels::taylor::TAYLOR_TERMS;
use synplast_kernels::{KernelError, TaylorRule};

/// The layer's fixed quantities.
#[derive(Debug, Clone, Copy)]
pub struct Problem {
    /// Dimensions.
    pub shape: Shape,
    /// Plasticity rate.
    pub eta: f64,
    /// `n_in * n_out`.
    pub n_syn: usize,
    /// Initial weight std.
    pub w0_std: f64,
    /// Input std.
    pub input_std: f64,
}

impl Problem {
    /// From a validated config's simulated-data view.
    pub fn new(cfg: &FitRateConfig, sim: &Simulated<'_>) -> Self {
        let (n_in, n_out) = (sim.n_in, sim.n_out);
        Self {
            shape: Shape {
                n_in,
                n_out,
                steps: sim.data.steps.get(),
            },
            eta: cfg.network.eta.0,
            n_syn: n_in * n_out,
            w0_std: cfg
                .network
                .w0_std
                .map(|v| v.0)
                .unwrap_or(1.0 / (n_in + n_out) as f64),
            input_std: sim.input.std.0,
        }
    }
}

/// Noise-free trajectories of the teacher, plus the standard-normal draws that become the
/// observation noise when scaled.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Number of trajectories.
    pub n: usize,
    /// Initial weights, `n * n_syn`.
    pub w0: Vec<f64>,
    /// Inputs, `n * steps * n_in`.
    pub x: Vec<f64>,
    /// Teacher activity, `n * steps * n_out`.
    pub y: Vec<f64>,
    /// Standard-normal draws, same shape as `y`.
    pub noise: Vec<f64>,
}

impl Dataset {
    /// Generates `n` teacher trajectories from `data_rng`, and noise draws from `noise_rng`.
    pub fn generate(
        p: &Problem,
        teacher: &TaylorRule<f64>,
        n: usize,
        data_rng: &mut Rng,
        noise_rng: Option<&mut Rng>,
    ) -> Result<Self, RunError> {
        let Shape { n_in, n_out, steps } = p.shape;
        let mut w0 = vec![0.0; n * p.n_syn];
        let mut x = vec![0.0; n * steps * n_in];
        let mut y = vec![0.0; n * steps * n_out];
        let mut w = vec![0.0; p.n_syn];
        for k in 0..n {
            let w0k = &mut w0[k * p.n_syn..(k + 1) * p.n_syn];
            data_rng.fill_normal(p.w0_std, w0k);
            let xk = &mut x[k * steps * n_in..(k + 1) * steps * n_in];
            data_rng.fill_normal(p.input_std, xk);
            let yk = &mut y[k * steps * n_out..(k + 1) * steps * n_out];
            simulate(teacher, p.eta, n_in, w0k, xk, &mut w, yk, None)
                .map_err(|e| kernel_err(&format!("teacher rule on trajectory {k}"), e))?;
        }
        let mut noise = vec![0.0; y.len()];
        if let Some(r) = noise_rng {
            r.fill_normal(1.0, &mut noise);
        }
        Ok(Self { n, w0, x, y, noise })
    }

    /// Observed activity `y + noise_scale * N(0, 1)`.
    pub fn observed(&self, noise_scale: f64) -> Vec<f64> {
        self.y
            .iter()
            .zip(&self.noise)
            .map(|(y, z)| y + noise_scale * z)
            .collect()
    }

    pub(super) fn parts<'a>(
        &'a self,
        p: &Problem,
        k: usize,
        y_obs: &'a [f64],
    ) -> (&'a [f64], &'a [f64], &'a [f64]) {
        let Shape { n_in, n_out, steps } = p.shape;
        (
            &self.w0[k * p.n_syn..(k + 1) * p.n_syn],
            &self.x[k * steps * n_in..(k + 1) * steps * n_in],
            &y_obs[k * steps * n_out..(k + 1) * steps * n_out],
        )
    }
}

/// Loss weights of the output neurons: `max(1, round(fraction * n_out))` of them, chosen at
/// random, are 1; the rest 0.
pub fn observation_mask(n_out: usize, fraction: f64, rng: &mut Rng) -> Vec<f64> {
    let k = ((fraction * n_out as f64).round() as usize).clamp(1, n_out);
    let mut m = vec![0.0; n_out];
    for i in rng.choose(n_out, k) {
        m[i] = 1.0;
    }
    m
}

/// What a fit produced.
#[derive(Debug, Clone)]
pub struct FitResult {
    /// Final coefficients.
    pub theta: [f64; TAYLOR_TERMS],
    /// Coefficients at the start and after every epoch, `(epochs + 1) x 27`.
    pub theta_history: Vec<[f64; TAYLOR_TERMS]>,
    /// Mean training loss (MSE, without L1) during each epoch.
    pub loss_history: Vec<f64>,
    /// Adam steps undone because a trajectory's weights then blew up (each halves the rate).
    pub rejected_steps: usize,
}

/// Gradient work buffers for one method.
struct GradientBuffers {
    method: GradientMethod,
    scratch: Vec<f64>,
    grad: Vec<f64>,
}

impl GradientBuffers {
    fn new(p: &Problem, method: GradientMethod) -> Result<Self, RunError> {
        let len = match method {
            GradientMethod::Adjoint => adjoint_scratch_len(p.shape),
            GradientMethod::Forward => forward_scratch_len(p.shape, TAYLOR_TERMS),
        }
        .map_err(|e| kernel_err("gradient buffers", e))?;
        Ok(Self {
            method,
            scratch: vec![0.0; len],
            grad: vec![0.0; TAYLOR_TERMS],
        })
    }

    fn compute(
        &mut self,
        p: &Problem,
        rule: &TaylorRule<f64>,
        w0: &[f64],
        obs: &Observation<'_, f64>,
    ) -> Result<f64, KernelError> {
        match self.method {
            GradientMethod::Adjoint => loss_gradient_adjoint(
                rule,
                p.eta,
                p.shape,
                w0,
                obs,
                &mut self.scratch,
                &mut self.grad,
            ),
            GradientMethod::Forward => loss_gradient_forward(
                rule,
                p.eta,
                p.shape,
                w0,
                obs,
                &mut self.scratch,
                &mut self.grad,
                None,
            ),
        }
    }
}

/// The whole state of a fit between two epochs or iterations: enough to continue it to the
/// same bits (the data are regenerated from the seed). Saved as the state `cell-<i>` of the run's checkpoint store (`cell-<i>.state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitCheckpoint {
    /// Adam epochs completed.
    pub adam_epochs_done: usize,
    /// Levenberg-Marquardt iterations completed.
    pub lm_iterations_done: usize,
    /// Whether the refinement has stopped (converged, or no step lowered the loss).
    pub lm_finished: bool,
    /// Current coefficients.
    pub theta: [f64; TAYLOR_TERMS],
    /// Adam with its undo state.
    pub opt: GuardedAdam,
    /// Levenberg-Marquardt damping.
    pub lm_mu: f64,
    /// Coefficients at the start and after every epoch and iteration.
    pub theta_history: Vec<[f64; TAYLOR_TERMS]>,
    /// Mean training loss of every epoch and iteration.
    pub loss_history: Vec<f64>,
}

impl FitCheckpoint {
    /// The state before the first epoch.
    pub fn start(cfg: &FitRateConfig, theta: [f64; TAYLOR_TERMS]) -> Self {
        Self {
            adam_epochs_done: 0,
            lm_iterations_done: 0,
            lm_finished: false,
            theta,
            opt: GuardedAdam::new(TAYLOR_TERMS, cfg.fit.lr.0, cfg.fit.l1.0).keeping_moments(),
            lm_mu: 1e-3,
            theta_history: vec![theta],
            loss_history: Vec::new(),
        }
    }
}

/// How a fit reports progress, saves its state, and where it starts.
pub struct FitControl<'a> {
    /// Called after each epoch and iteration with its index and mean loss.
    pub on_epoch: &'a mut dyn FnMut(usize, f64),
    /// Offered the state after each epoch and iteration (a checkpoint); the flag is true when
    /// it must be written now (the run is stopping), false when it may skip it.
    pub save: &'a mut dyn FnMut(&FitCheckpoint, bool) -> Result<(), RunError>,
    /// Whether to stop (after saving) at the next epoch or iteration boundary.
    pub stop: &'a dyn Fn() -> bool,
    /// A saved state to continue from.
    pub resume: Option<FitCheckpoint>,
}

impl FitControl<'_> {
    fn after_step(&mut self, st: &FitCheckpoint) -> Result<(), RunError> {
        let k = st.loss_history.len().saturating_sub(1);
        (self.on_epoch)(k, st.loss_history.last().copied().unwrap_or(f64::NAN));
        let stopping = (self.stop)();
        (self.save)(st, stopping)?;
        if stopping {
            return Err(RunError::interrupted());
        }
        Ok(())
    }
}

/// Fits the student's coefficients: Adam epochs, then the configured Levenberg-Marquardt
/// iterations, from the start or from `ctl.resume`. The histories hold one row per epoch,
/// then one per accepted iteration.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    cfg: &FitRateConfig,
    p: &Problem,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
    init: TaylorRule<f64>,
    ctl: &mut FitControl<'_>,
) -> Result<FitResult, RunError> {
    let mut st = ctl
        .resume
        .take()
        .unwrap_or_else(|| FitCheckpoint::start(cfg, init.theta));
    fit_adam(cfg, p, data, y_obs, mask, init.mask, &mut st, ctl)?;
    let refine = cfg.fit.refine_iterations as usize;
    if refine > 0 && !st.lm_finished {
        refine_gauss_newton(p, data, y_obs, mask, init.mask, refine, &mut st, ctl)?;
    }
    Ok(FitResult {
        theta: st.theta,
        theta_history: st.theta_history,
        loss_history: st.loss_history,
        rejected_steps: st.opt.undone,
    })
}

/// Adam: `epochs` passes, one step per trajectory in order, optional geometric learning-rate
/// decay and L1 penalty. A step after which a trajectory's weights blow up is undone and the
/// rate halved; the fit fails when a step cannot be undone (see [`GuardedAdam`]).
#[allow(clippy::too_many_arguments)]
fn fit_adam(
    cfg: &FitRateConfig,
    p: &Problem,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
    trainable: [bool; TAYLOR_TERMS],
    st: &mut FitCheckpoint,
    ctl: &mut FitControl<'_>,
) -> Result<(), RunError> {
    let mut bufs = GradientBuffers::new(p, cfg.fit.gradient)?;
    let epochs = cfg.fit.epochs.get();
    let total_steps = (epochs * data.n) as f64;
    let decay = match cfg.fit.lr_final {
        Some(f) if total_steps > 1.0 => (f.0 / cfg.fit.lr.0).powf(1.0 / (total_steps - 1.0)),
        _ => 1.0,
    };
    while st.adam_epochs_done < epochs {
        let epoch = st.adam_epochs_done;
        let (mut total, mut counted) = (0.0, 0usize);
        for k in 0..data.n {
            let (w0, x, yo) = data.parts(p, k, y_obs);
            let obs = Observation { x, y_obs: yo, mask };
            let rule = TaylorRule {
                theta: st.theta,
                mask: trainable,
            };
            match bufs.compute(p, &rule, w0, &obs) {
                Ok(loss) => {
                    total += loss;
                    counted += 1;
                    let step = (epoch * data.n + k) as i32;
                    let lr = cfg.fit.lr.0 * decay.powi(step);
                    st.opt.step(&mut st.theta, &bufs.grad, &trainable, lr);
                }
                Err(e @ KernelError::NonFinite { .. }) => {
                    // The last step made this trajectory's weights blow up: undo it, halve
                    // the rate, go on with the next trajectory.
                    if let Err(undone) = st.opt.undo(&mut st.theta) {
                        return Err(kernel_err(
                            &format!(
                                "fit diverged in epoch {epoch}, trajectory {k}, after {undone} undone steps (try a smaller fit.lr)"
                            ),
                            e,
                        ));
                    }
                }
                Err(e) => return Err(kernel_err("gradient", e)),
            }
        }
        st.loss_history.push(total / counted.max(1) as f64);
        st.theta_history.push(st.theta);
        st.adam_epochs_done += 1;
        ctl.after_step(st)?;
    }
    Ok(())
}

/// Mean loss, its gradient and the Gauss-Newton matrix of the mean loss
/// (`(2 / (T sum m)) * mean_k J_k^T M J_k`), all 27 coefficients.
fn gauss_newton_system(
    p: &Problem,
    rule: &TaylorRule<f64>,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
    scratch: &mut [f64],
) -> Result<(f64, Vec<f64>, Vec<f64>), KernelError> {
    let n = TAYLOR_TERMS;
    let mut grad = vec![0.0; n];
    let mut g = vec![0.0; n];
    let mut jtj = vec![0.0; n * n];
    let mut loss = 0.0;
    for k in 0..data.n {
        let (w0, x, yo) = data.parts(p, k, y_obs);
        let obs = Observation { x, y_obs: yo, mask };
        loss += loss_gradient_forward(
            rule,
            p.eta,
            p.shape,
            w0,
            &obs,
            scratch,
            &mut grad,
            Some(&mut jtj),
        )?;
        g.iter_mut().zip(&grad).for_each(|(a, b)| *a += b);
    }
    let inv = 1.0 / data.n as f64;
    let c = 2.0 / (p.shape.steps as f64 * mask.iter().sum::<f64>()) * inv;
    g.iter_mut().for_each(|v| *v *= inv);
    jtj.iter_mut().for_each(|v| *v *= c);
    Ok((loss * inv, g, jtj))
}

/// Levenberg-Marquardt: solve `(H + mu diag(H)) d = -g` over the trainable terms with the exact
/// Gauss-Newton matrix `H`; accept `d` if the loss falls (then `mu /= 3`), else `mu *= 4` and
/// retry. Stops after `iterations`, or early when no step lowers the loss or the loss falls
/// by less than a relative 1e-9.
#[allow(clippy::too_many_arguments)]
fn refine_gauss_newton(
    p: &Problem,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
    trainable: [bool; TAYLOR_TERMS],
    iterations: usize,
    st: &mut FitCheckpoint,
    ctl: &mut FitControl<'_>,
) -> Result<(), RunError> {
    let n = TAYLOR_TERMS;
    let idx: Vec<usize> = (0..n).filter(|&k| trainable[k]).collect();
    let m = idx.len();
    let rule_of = |theta: [f64; TAYLOR_TERMS]| TaylorRule {
        theta,
        mask: trainable,
    };
    let mut scratch = vec![
        0.0;
        forward_scratch_len(p.shape, n)
            .map_err(|e| kernel_err("sensitivity buffers", e))?
    ];
    let system = |rule: &TaylorRule<f64>, scratch: &mut [f64]| {
        gauss_newton_system(p, rule, data, y_obs, mask, scratch)
            .map_err(|e| kernel_err("Gauss-Newton system at the initial or an accepted theta", e))
    };
    let (mut loss, mut g, mut h) = system(&rule_of(st.theta), &mut scratch)?;
    let diag = |h: &[f64]| -> Vec<f64> { idx.iter().map(|&i| h[i * n + i].max(1e-300)).collect() };
    while st.lm_iterations_done < iterations {
        let d = diag(&h);
        let rhs: Vec<f64> = idx.iter().map(|&i| -g[i]).collect();
        let mut accepted = None;
        for _ in 0..30 {
            let mut a = vec![0.0; m * m];
            for (r, &i) in idx.iter().enumerate() {
                for (c, &j) in idx.iter().enumerate() {
                    a[r * m + c] = h[i * n + j];
                }
                a[r * m + r] += st.lm_mu * d[r];
            }
            if let Some(step) = solve_spd(&a, &rhs, m) {
                let mut cand = st.theta;
                for (r, &i) in idx.iter().enumerate() {
                    cand[i] += step[r];
                }
                // A candidate that blows up counts as a worse loss.
                if let Ok(l) = mean_loss(p, &rule_of(cand), data, y_obs, mask) {
                    if l < loss {
                        accepted = Some(cand);
                        st.lm_mu = (st.lm_mu / 3.0).max(1e-12);
                        break;
                    }
                }
            }
            st.lm_mu *= 4.0;
        }
        let Some(next) = accepted else {
            st.lm_finished = true;
            (ctl.save)(st, false)?;
            break;
        };
        st.theta = next;
        let previous = loss;
        (loss, g, h) = system(&rule_of(st.theta), &mut scratch)?;
        st.theta_history.push(st.theta);
        st.loss_history.push(loss);
        st.lm_iterations_done += 1;
        // Converged: the loss no longer falls beyond rounding.
        st.lm_finished = previous - loss <= 1e-9 * previous;
        ctl.after_step(st)?;
        if st.lm_finished {
            break;
        }
    }
    Ok(())
}

/// Mean trajectory loss (MSE, no L1) of `rule` on a data set.
pub fn mean_loss(
    p: &Problem,
    rule: &TaylorRule<f64>,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
) -> Result<f64, RunError> {
    let mut scratch =
        vec![0.0; loss_scratch_len(p.shape).map_err(|e| kernel_err("loss buffers", e))?];
    let mut total = 0.0;
    for k in 0..data.n {
        let (w0, x, yo) = data.parts(p, k, y_obs);
        let obs = Observation { x, y_obs: yo, mask };
        total += trajectory_loss(rule, p.eta, p.shape, w0, &obs, &mut scratch)
            .map_err(|e| kernel_err(&format!("fitted rule on trajectory {k}"), e))?;
    }
    Ok(total / data.n as f64)
}

/// Everything one fit reports.
#[derive(Debug, Clone)]
pub struct CellResult {
    /// Observation noise std.
    pub noise_scale: f64,
    /// Observed fraction.
    pub observed_fraction: f64,
    /// The fit.
    pub fit: FitResult,
    /// `max_k |theta_k - target_k|`.
    pub theta_max_abs_error: f64,
    /// Training loss at the final theta (MSE on the noisy observations, no L1).
    pub final_loss: f64,
    /// Scores on fresh trajectories.
    pub evaluation: Evaluation,
    /// Identifiability report at the fit.
    pub identifiability: Identifiability,
}

/// Shared inputs of every cell of one experiment.
pub struct Prepared {
    /// Layer.
    pub problem: Problem,
    /// Teacher rule.
    pub teacher: TaylorRule<f64>,
    /// Student's initial rule (coefficients and mask).
    pub init: TaylorRule<f64>,
    /// Training data.
    pub train: Dataset,
    /// Evaluation data.
    pub eval: Dataset,
    /// Stream for the observed-neuron mask.
    pub mask_rng: Rng,
}

/// Draws the data, initial coefficients and evaluation set of an experiment.
pub fn prepare(cfg: &FitRateConfig, sim: &Simulated<'_>, seed: u64) -> Result<Prepared, RunError> {
    let problem = Problem::new(cfg, sim);
    let teacher = TaylorRule::new(cfg.teacher_theta());
    let master = Rng::new(seed);
    let train = Dataset::generate(
        &problem,
        &teacher,
        sim.data.trajectories.get(),
        &mut master.substream(0),
        Some(&mut master.substream(1)),
    )?;
    let mut init = TaylorRule::zero();
    init.mask = cfg.trainable_mask();
    let mut init_rng = master.substream(3);
    for k in 0..TAYLOR_TERMS {
        let z = init_rng.normal();
        if init.mask[k] {
            init.theta[k] = cfg.student.init_std.0 * z;
        }
    }
    let eval = Dataset::generate(
        &problem,
        &teacher,
        sim.eval_trajectories,
        &mut master.substream(4),
        None,
    )?;
    Ok(Prepared {
        problem,
        teacher,
        init,
        train,
        eval,
        mask_rng: master.substream(2),
    })
}

/// Fits and scores one (noise scale, observed fraction) cell.
pub fn run_cell(
    cfg: &FitRateConfig,
    prep: &Prepared,
    noise_scale: f64,
    observed_fraction: f64,
    ctl: &mut FitControl<'_>,
) -> Result<CellResult, RunError> {
    let p = &prep.problem;
    let y_obs = prep.train.observed(noise_scale);
    let mask = observation_mask(p.shape.n_out, observed_fraction, &mut prep.mask_rng.clone());
    let fit = fit(cfg, p, &prep.train, &y_obs, &mask, prep.init, ctl)?;
    let student = TaylorRule {
        theta: fit.theta,
        mask: prep.init.mask,
    };
    let theta_max_abs_error = fit
        .theta
        .iter()
        .zip(&prep.teacher.theta)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    // One forward-sensitivity pass gives both the report and the final training loss.
    let (identifiability, final_loss) = identifiability(p, &student, &prep.train, &y_obs, &mask)?;
    let evaluation = evaluate(p, &prep.teacher, &student, &prep.eval)?;
    Ok(CellResult {
        noise_scale,
        observed_fraction,
        fit,
        theta_max_abs_error,
        final_loss,
        evaluation,
        identifiability,
    })
}
