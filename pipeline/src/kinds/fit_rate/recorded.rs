//! Recorded activity (`data: {recorded: ...}`, DESIGN §6, `docs/data_contracts.md`): the arrays
//! and their checks, the parameters of a fit (the rule, the affine readout, unknown initial
//! weights), full-batch Adam on the checkpointed adjoint gradient, held-out scores.
//!
//! The loss is the mean squared error over the observed samples of the fitted steps (the first
//! `evaluation.cutoff` of every session), plus `fit.l1 * |theta|_1`. Every session's gradient
//! comes from [`recorded_gradient`]; sessions are summed in their order, so a fit has the same
//! bits whatever the thread count.

use super::config::{FitRateConfig, RecordedConfig};
use crate::config::{MAX_DATA_VALUES, MAX_NEURONS, MAX_SYNAPSES};
use crate::error::{kernel_error as kernel_err, RunError};
use crate::fit::adam::l1_subgradient;
use crate::fit::GuardedAdam;
use crate::io::npy::{parse_npy, parse_npz, shape_text, NdArray};
use crate::metrics::MaskedR2;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synplast_kernels::gradient::Shape;
use synplast_kernels::recorded::{
    recorded_error, recorded_gradient, recorded_predict, recorded_scratch_len, Readout,
    RecordedGradient, Recording,
};
use synplast_kernels::taylor::{TaylorRule, TAYLOR_TERMS};
use synplast_kernels::KernelError;

/// The arrays of a recording, checked against the contract.
#[derive(Debug, Clone)]
pub struct Recordings {
    /// Where they came from (for messages).
    pub source: String,
    /// Number of sessions.
    pub sessions: usize,
    /// Steps per session.
    pub steps: usize,
    /// Inputs.
    pub n_in: usize,
    /// Recorded neurons.
    pub n_out: usize,
    /// Inputs, `sessions * steps * n_in`.
    pub x: Vec<f64>,
    /// Recorded activity, `sessions * steps * n_out`, NaN where not observed.
    pub y: Vec<f64>,
    /// Initial weights, `sessions * n_out * n_in`, when known.
    pub w0: Option<Vec<f64>>,
}

impl Recordings {
    /// `n_in * n_out`.
    pub fn n_syn(&self) -> usize {
        self.n_in * self.n_out
    }
    /// Session `s`'s inputs over its first `steps` steps.
    pub fn x_of(&self, s: usize, steps: usize) -> &[f64] {
        let a = s * self.steps * self.n_in;
        &self.x[a..a + steps * self.n_in]
    }
    /// Session `s`'s recording over its first `steps` steps.
    pub fn y_of(&self, s: usize, steps: usize) -> &[f64] {
        let a = s * self.steps * self.n_out;
        &self.y[a..a + steps * self.n_out]
    }
}

fn read(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: cannot read the {what}: {e}"))
}

/// Reads and checks the recording a config names. Errors name the file and the problem.
pub fn load(r: &RecordedConfig) -> Result<Recordings, String> {
    let (source, x, y, w0) = match (&r.file, &r.x, &r.y) {
        (Some(f), _, _) => {
            let mut arrays = parse_npz(&read(f, "recording")?).map_err(|e| format!("{f}: {e}"))?;
            let names: Vec<String> = arrays.keys().cloned().collect();
            let mut take = |k: &str| arrays.remove(k);
            let (Some(x), Some(y)) = (take("x"), take("y")) else {
                return Err(format!(
                    "{f}: the archive must hold arrays `x` and `y` (and optionally `w0`); it holds {}",
                    names.join(", ")
                ));
            };
            let w0 = take("w0").filter(|_| !r.ignore_w0);
            (f.clone(), x, y, w0)
        }
        (None, Some(xf), Some(yf)) => {
            let one = |p: &str| -> Result<NdArray, String> {
                parse_npy(&read(p, "recording")?).map_err(|e| format!("{p}: {e}"))
            };
            let w0 = match &r.w0 {
                Some(p) if !r.ignore_w0 => Some(one(p).map_err(|e| format!("w0: {e}"))?),
                _ => None,
            };
            (format!("{xf} and {yf}"), one(xf)?, one(yf)?, w0)
        }
        _ => return Err("data.recorded: give `file`, or `x` and `y`".into()),
    };
    check(source, x, y, w0)
}

/// Checks the shapes and values of the arrays against the contract.
pub fn check(
    source: String,
    x: NdArray,
    y: NdArray,
    w0: Option<NdArray>,
) -> Result<Recordings, String> {
    let fail = |m: String| Err(format!("{source}: {m}"));
    for (name, a, dims) in [
        ("x", &x, "[sessions, T, n_in]"),
        ("y", &y, "[sessions, T, n_out]"),
    ] {
        if a.shape.len() != 3 {
            return fail(format!(
                "`{name}` must have 3 dimensions {dims}, got shape {}",
                shape_text(&a.shape)
            ));
        }
    }
    let (sessions, steps, n_in) = (x.shape[0], x.shape[1], x.shape[2]);
    let n_out = y.shape[2];
    if y.shape[0] != sessions {
        return fail(format!(
            "`x` holds {sessions} sessions but `y` holds {} (shapes {} and {})",
            y.shape[0],
            shape_text(&x.shape),
            shape_text(&y.shape)
        ));
    }
    if y.shape[1] != steps {
        return fail(format!(
            "`x` has {steps} steps per session but `y` has {} (shapes {} and {})",
            y.shape[1],
            shape_text(&x.shape),
            shape_text(&y.shape)
        ));
    }
    if sessions == 0 || steps < 2 || n_in == 0 || n_out == 0 {
        return fail(format!(
            "empty recording: shapes {} and {} (need at least 1 session, 2 steps, 1 input, 1 neuron)",
            shape_text(&x.shape),
            shape_text(&y.shape)
        ));
    }
    if n_in > MAX_NEURONS as usize || n_out > MAX_NEURONS as usize {
        return fail(format!(
            "at most {MAX_NEURONS} inputs and neurons are supported"
        ));
    }
    if (n_in * n_out) as u64 > MAX_SYNAPSES {
        return fail(format!(
            "{n_in} x {n_out} synapses; at most {MAX_SYNAPSES} are supported"
        ));
    }
    // x, y, and the initial weights (given, or fitted: then Adam keeps three copies).
    let w0_values = 4 * (sessions * n_in * n_out) as u64;
    if (x.data.len() + y.data.len()) as u64 + w0_values > MAX_DATA_VALUES {
        return fail(format!(
            "x, y and the initial weights of {sessions} sessions would hold more than {MAX_DATA_VALUES} values"
        ));
    }
    if let Some(k) = x.data.iter().position(|v| !v.is_finite()) {
        let (s, t, j) = (k / (steps * n_in), (k / n_in) % steps, k % n_in);
        return fail(format!(
            "`x` must be finite: x[{s}, {t}, {j}] = {} (a missing input cannot be skipped; drop or fill the step)",
            x.data[k]
        ));
    }
    if let Some(k) = y.data.iter().position(|v| v.is_infinite()) {
        let (s, t, i) = (k / (steps * n_out), (k / n_out) % steps, k % n_out);
        return fail(format!(
            "`y` must be finite or NaN (not observed): y[{s}, {t}, {i}] = {}",
            y.data[k]
        ));
    }
    for s in 0..sessions {
        let ys = &y.data[s * steps * n_out..(s + 1) * steps * n_out];
        if ys.iter().all(|v| v.is_nan()) {
            return fail(format!(
                "session {s} of `y` has no observed sample (all NaN): remove it"
            ));
        }
    }
    let w0 = match w0 {
        None => None,
        Some(w) => {
            if w.shape != [sessions, n_out, n_in] {
                return fail(format!(
                    "`w0` must have shape [sessions, n_out, n_in] = {}, got {}",
                    shape_text(&[sessions, n_out, n_in]),
                    shape_text(&w.shape)
                ));
            }
            if let Some(k) = w.data.iter().position(|v| !v.is_finite()) {
                return fail(format!("`w0` must be finite: value {k} is {}", w.data[k]));
            }
            Some(w.data)
        }
    };
    Ok(Recordings {
        source,
        sessions,
        steps,
        n_in,
        n_out,
        x: x.data,
        y: y.data,
        w0,
    })
}

/// Where each parameter of a fit sits in one flat vector:
/// `[theta (27) | gain (n_out) | offset (n_out) | W_0 (sessions * n_syn, when unknown)]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// Recorded neurons.
    pub n_out: usize,
    /// Synapses per session.
    pub n_syn: usize,
    /// Sessions in the fit.
    pub sessions: usize,
    /// Whether the initial weights are fitted (unknown).
    pub w0_fitted: bool,
    /// Whether the gain is fitted.
    pub gain_fitted: bool,
    /// Whether the offset is fitted.
    pub offset_fitted: bool,
}

impl Layout {
    /// Start of the gains.
    pub const GAIN: usize = TAYLOR_TERMS;
    /// Start of the offsets.
    pub fn offset(&self) -> usize {
        TAYLOR_TERMS + self.n_out
    }
    /// Start of session `s`'s initial weights.
    pub fn w0(&self, s: usize) -> usize {
        TAYLOR_TERMS + 2 * self.n_out + s * self.n_syn
    }
    /// Length of the vector.
    pub fn len(&self) -> usize {
        self.w0(if self.w0_fitted { self.sessions } else { 0 })
    }
    /// Never empty (27 coefficients at least).
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Fitted parameters: the trainable coefficients and the fitted readout and weights.
    pub fn mask(&self, trainable: &[bool; TAYLOR_TERMS]) -> Vec<bool> {
        let mut m = vec![false; self.len()];
        m[..TAYLOR_TERMS].copy_from_slice(trainable);
        m[Self::GAIN..self.offset()]
            .iter_mut()
            .for_each(|v| *v = self.gain_fitted);
        m[self.offset()..self.w0(0)]
            .iter_mut()
            .for_each(|v| *v = self.offset_fitted);
        m[self.w0(0)..].iter_mut().for_each(|v| *v = true);
        m
    }
}

/// A fit problem: the data, the sessions fitted (indices into the data, repeats allowed: a
/// bootstrap), the steps fitted, the layout.
pub struct Problem<'a> {
    /// The recording.
    pub data: &'a Recordings,
    /// Sessions of the fit, in order.
    pub sessions: Vec<usize>,
    /// Steps fitted per session (the first ones).
    pub fit_steps: usize,
    /// Plasticity rate.
    pub eta: f64,
    /// Parameter layout.
    pub layout: Layout,
    /// Trainable coefficients.
    pub trainable: [bool; TAYLOR_TERMS],
    /// Checkpoint segment length (0: automatic).
    pub segment: usize,
}

impl Problem<'_> {
    /// The shape over `steps` steps.
    pub fn shape(&self, steps: usize) -> Shape {
        Shape {
            n_in: self.data.n_in,
            n_out: self.data.n_out,
            steps,
        }
    }
    /// The rule of a parameter vector.
    pub fn rule(&self, p: &[f64]) -> TaylorRule<f64> {
        let mut theta = [0.0; TAYLOR_TERMS];
        theta.copy_from_slice(&p[..TAYLOR_TERMS]);
        TaylorRule {
            theta,
            mask: self.trainable,
        }
    }
    /// The readout of a parameter vector.
    pub fn readout<'p>(&self, p: &'p [f64]) -> Readout<'p, f64> {
        let l = &self.layout;
        Readout {
            gain: &p[Layout::GAIN..l.offset()],
            offset: &p[l.offset()..l.w0(0)],
        }
    }
    /// The initial weights of the fit's `k`-th session.
    pub fn w0<'p>(&'p self, p: &'p [f64], k: usize) -> &'p [f64] {
        let n = self.layout.n_syn;
        match &self.data.w0 {
            Some(w) if !self.layout.w0_fitted => {
                let s = self.sessions[k];
                &w[s * n..(s + 1) * n]
            }
            _ => &p[self.layout.w0(k)..self.layout.w0(k) + n],
        }
    }

    /// Sum of squared errors, observed samples and the gradient of the SSE (`len()` long)
    /// over the fitted steps of every session.
    pub fn gradient(&self, p: &[f64]) -> Result<(f64, usize, Vec<f64>), KernelError> {
        let l = &self.layout;
        let shape = self.shape(self.fit_steps);
        let len = recorded_scratch_len(shape, self.segment)?;
        let idx: Vec<usize> = (0..self.sessions.len()).collect();
        let rule = self.rule(p);
        let readout = self.readout(p);
        let parts = crate::parallel::map(&idx, |&k| {
            let s = self.sessions[k];
            let mut scratch = vec![0.0; len];
            let mut theta = vec![0.0; TAYLOR_TERMS];
            let mut w0 = vec![0.0; l.n_syn];
            let mut gain = vec![0.0; l.n_out];
            let mut offset = vec![0.0; l.n_out];
            let rec = Recording {
                x: self.data.x_of(s, self.fit_steps),
                y_obs: self.data.y_of(s, self.fit_steps),
            };
            let (e, n) = recorded_gradient(
                &rule,
                self.eta,
                shape,
                self.w0(p, k),
                &rec,
                &readout,
                self.segment,
                &mut scratch,
                RecordedGradient {
                    theta: &mut theta,
                    w0: &mut w0,
                    gain: &mut gain,
                    offset: &mut offset,
                },
            )
            .map_err(|e| (k, e))?;
            Ok((e, n, theta, w0, gain, offset))
        });
        let mut g = vec![0.0; l.len()];
        let (mut sse, mut n_obs) = (0.0, 0usize);
        for (k, part) in parts.into_iter().enumerate() {
            let (e, n, theta, w0, gain, offset) = part.map_err(|(_, e)| e)?;
            sse += e;
            n_obs += n;
            g[..TAYLOR_TERMS]
                .iter_mut()
                .zip(&theta)
                .for_each(|(a, b)| *a += b);
            g[Layout::GAIN..l.offset()]
                .iter_mut()
                .zip(&gain)
                .for_each(|(a, b)| *a += b);
            g[l.offset()..l.w0(0)]
                .iter_mut()
                .zip(&offset)
                .for_each(|(a, b)| *a += b);
            if l.w0_fitted {
                g[l.w0(k)..l.w0(k) + l.n_syn].copy_from_slice(&w0);
            }
        }
        Ok((sse, n_obs, g))
    }

    /// The readout `yhat` of the fit's `k`-th session over its first `steps` steps.
    pub fn predict(&self, p: &[f64], k: usize, steps: usize) -> Result<Vec<f64>, RunError> {
        let s = self.sessions[k];
        let mut w = vec![0.0; self.layout.n_syn];
        let mut yhat = vec![0.0; steps * self.data.n_out];
        recorded_predict(
            &self.rule(p),
            self.eta,
            self.shape(steps),
            self.w0(p, k),
            self.data.x_of(s, steps),
            &self.readout(p),
            &mut w,
            &mut yhat,
        )
        .map_err(|e| kernel_err(&format!("fitted rule on session {s}"), e))?;
        Ok(yhat)
    }

    /// Mean squared error over the fitted steps (one forward pass per session).
    pub fn mean_error(&self, p: &[f64]) -> Result<f64, KernelError> {
        let (sse, n) = self.sse(p)?;
        Ok(sse / n.max(1) as f64)
    }

    /// Sum of squared errors and observed samples over the fitted steps (one forward pass
    /// per session, sessions and steps in order).
    pub fn sse(&self, p: &[f64]) -> Result<(f64, usize), KernelError> {
        let shape = self.shape(self.fit_steps);
        let mut scratch = vec![0.0; self.layout.n_syn + self.data.n_out];
        let (mut sse, mut n) = (0.0, 0usize);
        for k in 0..self.sessions.len() {
            let s = self.sessions[k];
            let rec = Recording {
                x: self.data.x_of(s, self.fit_steps),
                y_obs: self.data.y_of(s, self.fit_steps),
            };
            let (e, m) = recorded_error(
                &self.rule(p),
                self.eta,
                shape,
                self.w0(p, k),
                &rec,
                &self.readout(p),
                &mut scratch,
            )?;
            sse += e;
            n += m;
        }
        Ok((sse, n))
    }
}

/// The start of a fit: the coefficients drawn as for simulated data (stream 3), gain 1, the
/// offset at each neuron's mean recorded value minus half its gain (the layer starts near
/// `y = 0.5`), unknown initial weights at 0.
pub fn initial_params(cfg: &FitRateConfig, pb: &Problem<'_>, seed: u64) -> Vec<f64> {
    let l = &pb.layout;
    let mut p = vec![0.0; l.len()];
    let mut rng = Rng::new(seed).substream(3);
    for k in 0..TAYLOR_TERMS {
        let z = rng.normal();
        if pb.trainable[k] {
            p[k] = cfg.student.init_std.0 * z;
        }
    }
    let obs = cfg.observation.as_ref();
    let n_out = pb.data.n_out;
    for i in 0..n_out {
        let gain = obs.map_or(1.0, |o| o.gain.start(1.0));
        let (mut sum, mut n) = (0.0, 0usize);
        for &s in &pb.sessions {
            for t in 0..pb.fit_steps {
                let v = pb.data.y_of(s, pb.fit_steps)[t * n_out + i];
                if !v.is_nan() {
                    sum += v;
                    n += 1;
                }
            }
        }
        let mean = if n > 0 { sum / n as f64 } else { 0.5 * gain };
        p[Layout::GAIN + i] = gain;
        p[l.offset() + i] = obs.map_or(0.0, |o| o.offset.start(mean - 0.5 * gain));
    }
    p
}

/// The whole state of a recorded-data fit between epochs (enough to continue to the same
/// bits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedState {
    /// Epochs done.
    pub epochs_done: usize,
    /// Current parameters.
    pub params: Vec<f64>,
    /// Adam with its undo state.
    pub opt: GuardedAdam,
    /// Coefficients at the start and after every epoch.
    pub theta_history: Vec<Vec<f64>>,
    /// Mean training error (MSE, no L1) at the start of every epoch (NaN for an epoch whose
    /// step was undone; written as `null`), then after every accepted Levenberg-Marquardt
    /// iteration.
    #[serde(deserialize_with = "nan_from_null")]
    pub loss_history: Vec<f64>,
    /// Levenberg-Marquardt iterations done.
    #[serde(default)]
    pub lm_done: usize,
    /// Whether the refinement has stopped (converged, or no step lowered the error).
    #[serde(default)]
    pub lm_finished: bool,
    /// Levenberg-Marquardt damping.
    #[serde(default = "first_mu")]
    pub lm_mu: f64,
}

fn first_mu() -> f64 {
    1e-3
}

/// Reads a list of numbers in which JSON's `null` stands for NaN (serde_json writes NaN as
/// `null`), so a checkpoint with an undone epoch reads back.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = serde::Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

/// Progress, checkpoints and interruption of a fit.
pub struct Control<'a> {
    /// Called after every epoch with its mean error.
    pub on_epoch: &'a dyn Fn(f64),
    /// Offered the state after every epoch; `true` when it must be written now.
    pub save: &'a mut dyn FnMut(&RecordedState, bool) -> Result<(), RunError>,
    /// Whether to stop at the next epoch boundary.
    pub stop: &'a dyn Fn() -> bool,
}

/// Full-batch Adam over `fit.epochs` epochs from `start` (or a saved state): one step per
/// epoch on the mean squared error of every fitted sample plus the L1 penalty on theta. A step
/// after which a session's weights blow up is undone and the rate halved.
pub fn fit(
    cfg: &FitRateConfig,
    pb: &Problem<'_>,
    start: Vec<f64>,
    resume: Option<RecordedState>,
    ctl: &mut Control<'_>,
) -> Result<RecordedState, RunError> {
    let mask = pb.layout.mask(&pb.trainable);
    let epochs = cfg.fit.epochs.get();
    let mut st = resume.unwrap_or_else(|| RecordedState {
        epochs_done: 0,
        theta_history: vec![start[..TAYLOR_TERMS].to_vec()],
        params: start,
        opt: GuardedAdam::new(pb.layout.len(), cfg.fit.lr.0, 0.0).keeping_moments(),
        loss_history: Vec::new(),
        lm_done: 0,
        lm_finished: false,
        lm_mu: first_mu(),
    });
    let decay = match cfg.fit.lr_final {
        Some(f) if epochs > 1 => (f.0 / cfg.fit.lr.0).powf(1.0 / (epochs - 1) as f64),
        _ => 1.0,
    };
    let l1 = cfg.fit.l1.0;
    while st.epochs_done < epochs {
        let epoch = st.epochs_done;
        match pb.gradient(&st.params) {
            Ok((sse, n, mut g)) => {
                let inv = 1.0 / n.max(1) as f64;
                g.iter_mut().for_each(|v| *v *= inv);
                for k in 0..TAYLOR_TERMS {
                    g[k] += l1_subgradient(st.params[k], l1);
                }
                st.loss_history.push(sse * inv);
                let lr = cfg.fit.lr.0 * decay.powi(epoch as i32);
                st.opt.step(&mut st.params, &g, &mask, lr);
            }
            Err(e @ KernelError::NonFinite { .. }) => {
                if let Err(undone) = st.opt.undo(&mut st.params) {
                    return Err(kernel_err(
                        &format!("fit diverged in epoch {epoch} after {undone} undone steps (try a smaller fit.lr)"),
                        e,
                    ));
                }
                st.loss_history.push(f64::NAN);
            }
            Err(e) => return Err(kernel_err("gradient", e)),
        }
        st.theta_history.push(st.params[..TAYLOR_TERMS].to_vec());
        st.epochs_done += 1;
        (ctl.on_epoch)(st.loss_history.last().copied().unwrap_or(f64::NAN));
        let stopping = (ctl.stop)();
        (ctl.save)(&st, stopping)?;
        if stopping {
            return Err(RunError::interrupted());
        }
    }
    // The last step may have blown up: fall back to the parameters before it.
    if st.lm_done == 0 && pb.mean_error(&st.params).is_err() {
        let _ = st.opt.undo(&mut st.params);
    }
    let refine = cfg.fit.refine_iterations as usize;
    if refine > 0 && !st.lm_finished && st.lm_done < refine {
        refine_lm(pb, refine, &mut st, ctl)?;
    }
    Ok(st)
}

/// [`fit`] from `start` with nothing saved: the refits of a run (the static null, held-out
/// sessions' initial weights, the bootstrap) and fits without a run directory.
pub fn fit_unsaved(
    cfg: &FitRateConfig,
    pb: &Problem<'_>,
    start: Vec<f64>,
    on_epoch: &dyn Fn(f64),
    stop: &dyn Fn() -> bool,
) -> Result<RecordedState, RunError> {
    let mut no_save = |_: &RecordedState, _: bool| Ok(());
    let mut ctl = Control {
        on_epoch,
        save: &mut no_save,
        stop,
    };
    fit(cfg, pb, start, None, &mut ctl)
}

/// Levenberg-Marquardt over every fitted parameter on the structured Gauss-Newton matrix
/// ([`super::uncertainty::reduce`]): a step is accepted when the error falls (then `mu /= 3`),
/// else `mu *= 4` and retried. Stops after `iterations`, or when no step lowers the error, or
/// when it falls by less than a relative 1e-9.
fn refine_lm(
    pb: &Problem<'_>,
    iterations: usize,
    st: &mut RecordedState,
    ctl: &mut Control<'_>,
) -> Result<(), RunError> {
    use super::uncertainty::{lm_step, reduce, row_matrices};
    let at = |p: &[f64]| {
        pb.gradient(p)
            .map_err(|e| kernel_err("gradient at an accepted step", e))
    };
    let (_, n_obs, mut g) = at(&st.params)?;
    let mut rm = row_matrices(pb, &st.params)?;
    let n = n_obs.max(1) as f64;
    // Candidates are compared on the forward pass's sum, the same arithmetic for each.
    let mut sse = pb
        .sse(&st.params)
        .map_err(|e| kernel_err("error at the start of the refinement", e))?
        .0;
    while st.lm_done < iterations {
        let mut accepted = None;
        for _ in 0..30 {
            let red = reduce(pb, &rm, Some(&g), st.lm_mu)?;
            if let Some(d) = lm_step(pb, &red, st.lm_mu) {
                let cand: Vec<f64> = st.params.iter().zip(&d).map(|(a, b)| a + b).collect();
                // A candidate that blows up counts as a worse error.
                if let Ok((e, _)) = pb.sse(&cand) {
                    if e < sse {
                        accepted = Some((cand, e));
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
        let previous = sse;
        (st.params, sse) = next;
        (_, _, g) = at(&st.params)?;
        rm = row_matrices(pb, &st.params)?;
        st.theta_history.push(st.params[..TAYLOR_TERMS].to_vec());
        st.loss_history.push(sse / n);
        st.lm_done += 1;
        st.lm_finished = previous - sse <= 1e-9 * previous;
        (ctl.on_epoch)(sse / n);
        let stopping = (ctl.stop)();
        (ctl.save)(st, stopping)?;
        if stopping {
            return Err(RunError::interrupted());
        }
        if st.lm_finished {
            break;
        }
    }
    Ok(())
}

/// Held-in and held-out scores of a fit.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    /// MSE over the fitted steps.
    pub mse_fit: f64,
    /// R^2 of activity over the fitted steps.
    pub r2_fit: f64,
    /// MSE over the held-out steps (NaN without a cutoff).
    pub mse_held_out: f64,
    /// R^2 of activity over the held-out steps (NaN without a cutoff).
    pub r2_held_out: f64,
    /// Observed samples fitted.
    pub samples_fit: usize,
    /// Observed samples held out.
    pub samples_held_out: usize,
}

/// Scores the fit on its own sessions: the fitted steps, then the rest of every session (the
/// fitted rule continues each trajectory past the cutoff).
pub fn score(pb: &Problem<'_>, p: &[f64]) -> Result<(Scores, Vec<Vec<f64>>), RunError> {
    let (n_out, steps) = (pb.data.n_out, pb.data.steps);
    let (mut fit_r2, mut out_r2) = (MaskedR2::new(n_out), MaskedR2::new(n_out));
    let (mut e_fit, mut e_out, mut n_fit, mut n_out_s) = (0.0, 0.0, 0usize, 0usize);
    let mut traces = Vec::new();
    for k in 0..pb.sessions.len() {
        let yhat = pb.predict(p, k, steps)?;
        let obs = pb.data.y_of(pb.sessions[k], steps);
        for t in 0..steps {
            let (o, h) = (
                &obs[t * n_out..(t + 1) * n_out],
                &yhat[t * n_out..(t + 1) * n_out],
            );
            let held_in = t < pb.fit_steps;
            for (a, b) in o.iter().zip(h) {
                if !a.is_nan() {
                    let r2 = (a - b) * (a - b);
                    if held_in {
                        e_fit += r2;
                        n_fit += 1;
                    } else {
                        e_out += r2;
                        n_out_s += 1;
                    }
                }
            }
            if held_in {
                fit_r2.push(o, h);
            } else {
                out_r2.push(o, h);
            }
        }
        traces.push(yhat);
    }
    let held_out = pb.fit_steps < steps;
    let nan_unless = |ok: bool, v: f64| if ok { v } else { f64::NAN };
    Ok((
        Scores {
            mse_fit: e_fit / n_fit.max(1) as f64,
            r2_fit: fit_r2.score(),
            mse_held_out: nan_unless(held_out, e_out / n_out_s.max(1) as f64),
            r2_held_out: nan_unless(held_out, out_r2.score()),
            samples_fit: n_fit,
            samples_held_out: n_out_s,
        },
        traces,
    ))
}

/// Steps fitted per session for a cutoff fraction: at least 1, at most all.
pub fn fit_steps(steps: usize, cutoff: f64) -> usize {
    ((cutoff * steps as f64).round() as usize).clamp(1, steps)
}

/// The config's reference rule, when it names one.
pub fn reference_theta(r: &RecordedConfig) -> Option<[f64; TAYLOR_TERMS]> {
    r.reference.as_ref().map(|t: &BTreeMap<_, _>| {
        crate::config::terms::theta_from(
            t.iter().map(|(k, v)| (k, v.0)),
            crate::config::terms::term_key,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An undone epoch's NaN loss is written as `null` and must read back (a resume after
    /// such an epoch failed with "unreadable checkpoint").
    #[test]
    fn a_state_with_an_undone_epoch_reads_back() {
        let st = RecordedState {
            epochs_done: 2,
            theta_history: vec![vec![0.0; TAYLOR_TERMS]; 3],
            params: vec![0.5; TAYLOR_TERMS + 2],
            opt: GuardedAdam::new(TAYLOR_TERMS + 2, 0.01, 0.0).keeping_moments(),
            loss_history: vec![0.25, f64::NAN],
            lm_done: 0,
            lm_finished: false,
            lm_mu: first_mu(),
        };
        let text = serde_json::to_string(&st).unwrap();
        assert!(text.contains("\"loss_history\":[0.25,null]"));
        let back: RecordedState = serde_json::from_str(&text).unwrap();
        assert_eq!(back.loss_history[0], 0.25);
        assert!(back.loss_history[1].is_nan());
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
}
