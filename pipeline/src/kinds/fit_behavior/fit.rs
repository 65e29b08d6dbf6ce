//! The fit: Adam (one step per session, undo-and-halve, epoch reverts) on the hand-derived
//! session gradient, with checkpoints.

use super::config::FitBehaviorConfig;
use super::model::*;
use crate::error::{kernel_error as kernel_err, RunError};
use crate::fit::{l1_subgradient, GradientMethod, GuardedAdam};
use crate::progress::Progress;
use crate::rundir::{Store, Throttle};
use synplast_kernels::behavior::{
    adjoint_scratch_len, forward_scratch_len, session_gradient_adjoint, session_gradient_forward,
    BehaviorNet,
};
use synplast_kernels::reward::RewardRule;
use synplast_kernels::KernelError;

/// What a fit returns.
#[derive(Debug, Clone)]
pub struct BehaviorFit {
    /// The fitted rule.
    pub rule: FitRule,
    /// Mean training loss (choice cross-entropy, without L1) of each epoch.
    pub loss_history: Vec<f64>,
    /// Parameters after each epoch (the first row: the initial ones).
    pub param_history: Vec<Vec<f64>>,
    /// Adam steps undone because a session's weights then blew up (each halves the rate).
    pub skipped_steps: usize,
    /// Epochs whose mean loss exceeded [`crate::fit::REVERT_FACTOR`] times the best epoch's, after which
    /// the fit went back to the best epoch's parameters with half the rate.
    pub reverted_epochs: usize,
}

/// Gradient of one session at `rule`, by the configured pass; `None` when the weights blow up.
pub struct GradientWork {
    scratch: Vec<f64>,
    grad: Vec<f64>,
    method: GradientMethod,
    hidden: usize,
}

impl GradientWork {
    /// Buffers for sessions up to `max_len` presentations.
    pub fn new(method: GradientMethod, hidden: usize, n_params: usize, max_len: usize) -> Self {
        let len = match method {
            GradientMethod::Adjoint => adjoint_scratch_len(N_IN, hidden, max_len),
            GradientMethod::Forward => forward_scratch_len(N_IN, hidden, n_params),
        };
        Self {
            scratch: vec![0.0; len],
            grad: vec![0.0; n_params],
            method,
            hidden,
        }
    }

    /// Loss and gradient (held in `self.grad`) of `d` under `rule`.
    pub fn run(
        &mut self,
        rule: &FitRule,
        net: &BehaviorNet<f64>,
        d: &SessionData,
    ) -> Result<f64, KernelError> {
        let s = d.session();
        match self.method {
            GradientMethod::Adjoint => {
                let n = adjoint_scratch_len(N_IN, self.hidden, d.len());
                session_gradient_adjoint(
                    rule,
                    net,
                    self.hidden,
                    &d.w0,
                    &s,
                    &mut self.scratch[..n],
                    &mut self.grad,
                )
            }
            GradientMethod::Forward => session_gradient_forward(
                rule,
                net,
                self.hidden,
                &d.w0,
                &s,
                &mut self.scratch,
                &mut self.grad,
                None,
            ),
        }
    }
}

/// Fits `rule` to `sessions` with Adam, one step per session per epoch, in session order. When
/// a session's weights blow up under the current rule, the last step is undone and the rate
/// halved; a step that cannot be undone ends the fit with an error. An epoch that makes the
/// mean loss much worse is reverted (see [`GuardedAdam`]). Checks for a stop request between
/// epochs.
pub fn fit(
    cfg: &FitBehaviorConfig,
    rule: FitRule,
    sessions: &[SessionData],
    progress: Option<&Progress>,
) -> Result<BehaviorFit, RunError> {
    fit_with_checkpoints(cfg, rule, sessions, progress, None)
}

/// Whether the caller asks a fit to stop (checked between epochs): the command line's
/// [`crate::interrupt::requested`], or a caller's own flag (the Python package's).
pub type Stop<'a> = dyn Fn() -> bool + Sync + 'a;

/// Everything a fit needs to continue bit for bit: parameters, the optimiser with its undo and
/// revert states, and the histories (serialised with exact floats).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BehaviorCheckpoint {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Current parameters.
    pub params: Vec<f64>,
    /// Adam with its undo and revert state.
    pub opt: GuardedAdam,
    /// Loss per epoch.
    pub loss_history: Vec<f64>,
    /// Parameters per epoch.
    pub param_history: Vec<Vec<f64>>,
}

/// The name of a fit's state in the run's checkpoint store.
pub const FIT_STATE: &str = "fit";

/// [`fit`], offering its state to `store` after every epoch (written at most every
/// `SYNPLAST_CHECKPOINT_SECONDS`, and when stopping) and continuing from a saved state when
/// the run resumes.
pub fn fit_with_checkpoints(
    cfg: &FitBehaviorConfig,
    rule: FitRule,
    sessions: &[SessionData],
    progress: Option<&Progress>,
    store: Option<&Store>,
) -> Result<BehaviorFit, RunError> {
    let net = network(cfg);
    let max_len = sessions.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut work = GradientWork::new(
        cfg.fit.gradient,
        cfg.network.units(),
        rule.n_params(),
        max_len,
    );
    let mut gradient = |rule: &FitRule, k: usize, grad: &mut [f64]| {
        let loss = work.run(rule, &net, &sessions[k])?;
        grad.copy_from_slice(&work.grad);
        Ok(loss)
    };
    fit_sessions(
        cfg,
        rule,
        sessions.len(),
        &mut gradient,
        progress,
        store,
        &crate::interrupt::requested,
    )
}

/// A session's mean loss at a rule, with its gradient written into the slice.
pub type SessionGradient<'a> =
    dyn FnMut(&FitRule, usize, &mut [f64]) -> Result<f64, KernelError> + 'a;

/// The fit loop of [`fit_with_checkpoints`] over `n_sessions` sessions whose loss and gradient
/// `gradient` gives (presentation-level or trial-level likelihoods alike). Before every epoch
/// `stop` is asked; when it says so the state is saved (with a store) and the fit ends with
/// [`RunError::interrupted`].
pub fn fit_sessions(
    cfg: &FitBehaviorConfig,
    mut rule: FitRule,
    n_sessions: usize,
    gradient: &mut SessionGradient<'_>,
    progress: Option<&Progress>,
    store: Option<&Store>,
    stop: &Stop<'_>,
) -> Result<BehaviorFit, RunError> {
    let n_p = rule.n_params();
    let mask = rule.mask();
    let mut grad = vec![0.0; n_p];
    let start = rule.params();
    let saved = match store {
        Some(s) => s.state::<BehaviorCheckpoint>(FIT_STATE)?,
        None => None,
    };
    let mut st = match saved {
        Some(c) if c.params.len() == n_p => c,
        _ => BehaviorCheckpoint {
            epochs_done: 0,
            params: start.clone(),
            opt: GuardedAdam::new(n_p, cfg.fit.lr.0, cfg.fit.l1.0),
            loss_history: Vec::new(),
            param_history: vec![start],
        },
    };
    rule.write_params(&st.params);
    if let Some(p) = progress {
        p.tick(st.epochs_done, None);
    }
    let mut throttle = Throttle::default();
    throttle.due(false);
    while st.epochs_done < cfg.fit.epochs.get() {
        if stop() {
            if let Some(s) = store {
                s.save_state(FIT_STATE, &st)?;
            }
            return Err(RunError::interrupted());
        }
        let mut total = 0.0;
        let mut counted = 0usize;
        for k in 0..n_sessions {
            match gradient(&rule, k, &mut grad) {
                Ok(loss) => {
                    total += loss;
                    counted += 1;
                    st.opt.step(&mut st.params, &grad, &mask, cfg.fit.lr.0);
                    rule.write_params(&st.params);
                }
                Err(e @ KernelError::NonFinite { .. }) => {
                    // The last step made this session's weights blow up: undo it (parameters
                    // and Adam moments), halve the rate, go on with the next session.
                    if let Err(undone) = st.opt.undo(&mut st.params) {
                        return Err(kernel_err(
                            &format!(
                                "the fit diverged at session {k} after {undone} undone steps (try a smaller fit.lr)"
                            ),
                            e,
                        ));
                    }
                    rule.write_params(&st.params);
                }
                Err(e) => return Err(kernel_err("gradient", e)),
            }
        }
        if counted == 0 {
            return Err(RunError::new(
                "every session's weights blew up under the fitted rule; lower fit.lr",
            ));
        }
        let loss = total / counted as f64;
        st.loss_history.push(loss);
        // An epoch that made the fit much worse (typically a rule whose weights run into the
        // clip, where the loss is flat) goes back to the best epoch's end.
        if st.opt.end_epoch(loss, &mut st.params) {
            rule.write_params(&st.params);
        }
        st.param_history.push(st.params.clone());
        st.epochs_done += 1;
        if let Some(p) = progress {
            p.tick(1, Some(loss));
        }
        if let Some(s) = store {
            if throttle.due(false) {
                s.save_state(FIT_STATE, &st)?;
            }
        }
    }
    Ok(BehaviorFit {
        rule,
        loss_history: st.loss_history,
        param_history: st.param_history,
        skipped_steps: st.opt.undone,
        reverted_epochs: st.opt.reverted,
    })
}

/// The L1 penalty of a parameter vector (for the record).
pub fn l1_penalty(params: &[f64], mask: &[bool], l1: f64) -> f64 {
    params
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m)
        .map(|(p, _)| l1_subgradient(*p, l1) * p)
        .sum()
}
