//! Experiment kind `fit_rate`: infer a Taylor rule from the activity of a plastic rate layer
//! (Mehta et al. 2024, fig. 2; DESIGN §3.2).
//!
//! A teacher rule generates trajectories `y_t = sigmoid(W_t x_t)`, `W_{t+1} = W_t + eta dW`
//! from random `W_0` and Gaussian inputs; Gaussian noise is added to the observed activity and
//! only a fraction of output neurons is observed. A student rule's coefficients are fitted by
//! Adam, one step per trajectory, on the exact gradient of the trajectory MSE (plus L1). The
//! fitted rule is evaluated on fresh trajectories (R^2 of weights and of activity), and the
//! Gauss-Newton matrix at the fit tells which coefficient directions the data determine.
//!
//! Random streams (substreams of the seed): 0 training data, 1 observation noise, 2 observed
//! neurons, 3 initial theta, 4 evaluation data. A grid shares them, so its cells differ only
//! by noise scale and observed fraction.

use crate::adam::Adam;
use crate::config::{teacher_theta, trainable_mask, FitRateConfig, GradientMethod};
use crate::linalg::{solve_spd, symmetric_eigen};
use crate::metrics::R2;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use synplast_kernels::gradient::{
    adjoint_scratch_len, forward_scratch_len, loss_gradient_adjoint, loss_gradient_forward,
    loss_scratch_len, trajectory_loss, Observation, Shape,
};
use synplast_kernels::rate::simulate;
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};
use synplast_kernels::{KernelError, TaylorRule};

/// A failure while running (exit code 1).
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    /// What happened.
    pub message: String,
    /// True when the run stopped because it was asked to (Ctrl-C), not because it failed.
    pub interrupted: bool,
}

impl RunError {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            interrupted: false,
        }
    }

    /// A requested stop.
    pub fn interrupted() -> Self {
        Self {
            message: "interrupted".into(),
            interrupted: true,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

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
    /// From a validated config.
    pub fn new(cfg: &FitRateConfig) -> Self {
        let (n_in, n_out) = (cfg.network.n_in.get(), cfg.network.n_out.get());
        Self {
            shape: Shape {
                n_in,
                n_out,
                steps: cfg.data.steps.get(),
            },
            eta: cfg.network.eta.0,
            n_syn: n_in * n_out,
            w0_std: cfg
                .network
                .w0_std
                .map(|v| v.0)
                .unwrap_or(1.0 / (n_in + n_out) as f64),
            input_std: cfg.input.std.0,
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

fn kernel_err(context: &str, e: KernelError) -> RunError {
    RunError::new(format!("{context}: {e}"))
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

    fn parts<'a>(
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
/// same bits (the data are regenerated from the seed). Written as `checkpoint-<cell>.json`.
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
    /// Coefficients before the last Adam step.
    pub before_step: [f64; TAYLOR_TERMS],
    /// Learning-rate factor from undone steps.
    pub rate_scale: f64,
    /// Undone Adam steps so far.
    pub rejected_steps: usize,
    /// Undone Adam steps in a row.
    pub consecutive: usize,
    /// Adam's moments and step count.
    pub adam: Adam,
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
            before_step: theta,
            rate_scale: 1.0,
            rejected_steps: 0,
            consecutive: 0,
            adam: Adam::new(TAYLOR_TERMS, cfg.fit.lr.0, cfg.fit.l1.0),
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
        rejected_steps: st.rejected_steps,
    })
}

/// Adam: `epochs` passes, one step per trajectory in order, optional geometric learning-rate
/// decay and L1 penalty. A step after which a trajectory's weights blow up is undone and the
/// rate halved; the fit fails after [`MAX_CONSECUTIVE_REJECTIONS`] such steps in a row.
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
                    st.consecutive = 0;
                    total += loss;
                    counted += 1;
                    st.before_step = st.theta;
                    let step = (epoch * data.n + k) as i32;
                    st.adam.lr = cfg.fit.lr.0 * decay.powi(step) * st.rate_scale;
                    st.adam.step(&mut st.theta, &bufs.grad, &trainable);
                }
                Err(e @ KernelError::NonFinite { .. }) => {
                    // The last step made this trajectory's weights blow up: undo it, halve
                    // the rate, go on with the next trajectory.
                    st.rejected_steps += 1;
                    st.consecutive += 1;
                    if st.consecutive > MAX_CONSECUTIVE_REJECTIONS || st.theta == st.before_step {
                        return Err(kernel_err(
                            &format!(
                                "fit diverged in epoch {epoch}, trajectory {k}, after {} undone steps (try a smaller fit.lr)",
                                st.rejected_steps
                            ),
                            e,
                        ));
                    }
                    st.theta = st.before_step;
                    st.rate_scale *= 0.5;
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

/// Undone Adam steps in a row after which the fit gives up.
pub const MAX_CONSECUTIVE_REJECTIONS: usize = 30;

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

/// R^2 of the student's weight and activity trajectories against the teacher's.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Evaluation {
    /// R^2 of `W_1 ..= W_T` (columns: synapses; rows: steps of all trajectories).
    pub r2_weights: f64,
    /// R^2 of `y_0 .. y_{T-1}` of every output neuron.
    pub r2_activity: f64,
}

/// Simulates teacher and student from the same `W_0` and inputs and scores the student.
pub fn evaluate(
    p: &Problem,
    teacher: &TaylorRule<f64>,
    student: &TaylorRule<f64>,
    data: &Dataset,
) -> Result<Evaluation, RunError> {
    let Shape { n_in, n_out, steps } = p.shape;
    let mut rw = R2::new(p.n_syn);
    let mut ry = R2::new(n_out);
    let mut w = vec![0.0; p.n_syn];
    let mut wt = vec![0.0; (steps + 1) * p.n_syn];
    let mut ws = vec![0.0; (steps + 1) * p.n_syn];
    let mut ys = vec![0.0; steps * n_out];
    for k in 0..data.n {
        let (w0, x, yt) = data.parts(p, k, &data.y);
        simulate(teacher, p.eta, n_in, w0, x, &mut w, &mut ys, Some(&mut wt))
            .map_err(|e| kernel_err("teacher on evaluation data", e))?;
        simulate(student, p.eta, n_in, w0, x, &mut w, &mut ys, Some(&mut ws))
            .map_err(|e| kernel_err(&format!("fitted rule on evaluation trajectory {k}"), e))?;
        for t in 1..=steps {
            let r = t * p.n_syn..(t + 1) * p.n_syn;
            rw.push(&wt[r.clone()], &ws[r]);
        }
        for t in 0..steps {
            let r = t * n_out..(t + 1) * n_out;
            ry.push(&yt[r.clone()], &ys[r]);
        }
    }
    Ok(Evaluation {
        r2_weights: rw.score(),
        r2_activity: ry.score(),
    })
}

/// One poorly determined direction in coefficient space.
#[derive(Debug, Clone, Serialize)]
pub struct Direction {
    /// Eigenvalue of the normalised Gauss-Newton matrix along it.
    pub singular_value: f64,
    /// The largest loadings, `(term, loading)`, by magnitude.
    pub loadings: Vec<(String, f64)>,
}

/// How well the data determine the coefficients (DESIGN §3.2).
#[derive(Debug, Clone, Serialize)]
pub struct Identifiability {
    /// The trainable terms, in the order of the matrix.
    pub terms: Vec<String>,
    /// Singular values (= eigenvalues) of `J^T J / N` (`N` observed values), descending.
    pub singular_values: Vec<f64>,
    /// Largest over smallest singular value (`null` when the smallest is not positive).
    pub condition_number: Option<f64>,
    /// The three least determined directions.
    pub least_determined: Vec<Direction>,
    /// Plain-language reading of the condition number.
    pub verdict: String,
}

/// Condition number above which we say individual coefficients are not determined.
pub const ILL_CONDITIONED: f64 = 1e8;

/// Analyses the spectrum of `scale * M` restricted to the terms `idx` of the `n x n` matrix `M`
/// (a Gauss-Newton or Fisher matrix): singular values, condition number, the three least
/// determined directions and a verdict. `data` names what the matrix is of, for the verdict.
pub fn spectrum_report(
    matrix: &[f64],
    n: usize,
    idx: &[usize],
    labels: &[String],
    scale: f64,
    data: &str,
) -> Identifiability {
    let m = idx.len();
    let mut sub = vec![0.0; m * m];
    for (a, &i) in idx.iter().enumerate() {
        for (b, &j) in idx.iter().enumerate() {
            sub[a * m + b] = matrix[i * n + j] * scale;
        }
    }
    let (values, vectors) = symmetric_eigen(&sub, m);
    let smallest = values.last().copied().unwrap_or(0.0);
    let largest = values.first().copied().unwrap_or(0.0);
    let condition_number = (smallest > 0.0).then(|| largest / smallest);
    let least_determined = (0..m.min(3))
        .map(|r| {
            let k = m - 1 - r;
            let mut l: Vec<(String, f64)> = idx
                .iter()
                .zip(&vectors[k])
                .map(|(&i, &v)| (labels[i].clone(), v))
                .collect();
            l.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            l.truncate(4);
            Direction {
                singular_value: values[k],
                loadings: l,
            }
        })
        .collect();
    let verdict = match condition_number {
        Some(c) if c < ILL_CONDITIONED => format!(
            "condition number {c:.3e} < {ILL_CONDITIONED:.0e}: the data determine every trainable coefficient"
        ),
        Some(c) => format!(
            "condition number {c:.3e} >= {ILL_CONDITIONED:.0e}: the data do NOT determine the coefficients individually; only combinations orthogonal to the least determined directions are identified"
        ),
        None => format!("the matrix is singular: some coefficient directions have no effect on the {data}"),
    };
    Identifiability {
        terms: idx.iter().map(|&i| labels[i].clone()).collect(),
        singular_values: values,
        condition_number,
        least_determined,
        verdict,
    }
}

/// Accumulates `J^T J` over the data set with the forward-sensitivity pass at `rule`, and
/// analyses its spectrum over the trainable terms. The same pass gives the mean trajectory
/// loss at `rule` (what [`mean_loss`] computes), returned alongside.
pub fn identifiability(
    p: &Problem,
    rule: &TaylorRule<f64>,
    data: &Dataset,
    y_obs: &[f64],
    mask: &[f64],
) -> Result<(Identifiability, f64), RunError> {
    let n = TAYLOR_TERMS;
    let mut scratch = vec![
        0.0;
        forward_scratch_len(p.shape, n)
            .map_err(|e| kernel_err("sensitivity buffers", e))?
    ];
    let mut grad = vec![0.0; n];
    let mut jtj = vec![0.0; n * n];
    let mut total_loss = 0.0;
    for k in 0..data.n {
        let (w0, x, yo) = data.parts(p, k, y_obs);
        let obs = Observation { x, y_obs: yo, mask };
        total_loss += loss_gradient_forward(
            rule,
            p.eta,
            p.shape,
            w0,
            &obs,
            &mut scratch,
            &mut grad,
            Some(&mut jtj),
        )
        .map_err(|e| kernel_err(&format!("fitted rule on trajectory {k}"), e))?;
    }
    let observed = mask.iter().sum::<f64>() * (data.n * p.shape.steps) as f64;
    let idx: Vec<usize> = (0..n).filter(|&k| rule.mask[k]).collect();
    let labels: Vec<String> = TERM_LABELS.iter().map(|s| s.to_string()).collect();
    let report = spectrum_report(&jtj, n, &idx, &labels, 1.0 / observed, "observed activity");
    Ok((report, total_loss / data.n as f64))
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
pub fn prepare(cfg: &FitRateConfig, seed: u64) -> Result<Prepared, RunError> {
    let problem = Problem::new(cfg);
    let teacher = TaylorRule::new(teacher_theta(&cfg.teacher));
    let master = Rng::new(seed);
    let train = Dataset::generate(
        &problem,
        &teacher,
        cfg.data.trajectories.get(),
        &mut master.substream(0),
        Some(&mut master.substream(1)),
    )?;
    let mut init = TaylorRule::zero();
    init.mask = trainable_mask(&cfg.student);
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
        cfg.evaluation.trajectories.get(),
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
