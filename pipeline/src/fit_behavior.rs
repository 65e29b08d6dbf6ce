//! Experiment kind `fit_behavior`: infer a reward-modulated plasticity rule from choices
//! (Mehta et al. 2024, fig. 3 and the flies; DESIGN §3.3).
//!
//! Sessions come from a simulated baited two-odor task run by a ground-truth rule, or from the
//! per-fly CSVs of Rajagopalan et al. 2023. The fitted rule (81-term Taylor or MLP) drives the
//! behaving network of [`synplast_kernels::behavior`] through each session with the recorded
//! inputs, choices and rewards (teacher forcing); Adam minimises the mean choice cross-entropy,
//! one step per session, with the hand-derived session gradient.
//!
//! Departures from the paper's code, on purpose: the fit sees the very inputs that generated
//! a simulated session (the public code refits on independently resampled input noise), and a
//! trial that reaches `max_presentations` without an accept ends with no reward and no update
//! (the public code pads trials to a fixed length).

use crate::adam::{l1_subgradient, Adam};
use crate::config::{
    reward_term_key, reward_term_label, BehaviorRuleKind, FitBehaviorConfig, FliesConfig,
    GradientMethod, SimulatedBehaviorConfig,
};
use crate::fit_rate::{spectrum_report, Identifiability, RunError};
use crate::io::{csv_bytes, npy_bytes};
use crate::metrics::{json_number, mean, median, R2};
use crate::parallel;
use crate::progress::Progress;
use crate::rng::Rng;
use crate::run::{coefficient_svg, pretty, put, RunOptions};
use serde_json::{json, Value};
use std::path::Path;
use synplast_kernels::behavior::{
    accept_probability, adjoint_scratch_len, apply_rule, forward_scratch_len, hidden,
    session_gradient_adjoint, session_gradient_forward, session_loss, BehaviorNet, Session, Trace,
};
use synplast_kernels::reward::{
    MlpRule, RewardAverage, RewardPartials, RewardRule, RewardTaylorRule, REWARD_TERMS,
};
use synplast_kernels::KernelError;

/// Hidden units of the MLP rule.
pub const MLP_HIDDEN: usize = 10;
/// Window of the expected reward `E[R]`.
pub const REWARD_WINDOW: usize = 10;
/// Inputs of the behaving network (two odors).
pub const N_IN: usize = 2;

/// The fitted rule: one type for both families, so the fit code is written once.
// A handful of these exist per fit; keeping the coefficients inline avoids an indirection in
// the per-synapse hot loop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum FitRule {
    /// 81-term reward Taylor rule.
    Taylor(RewardTaylorRule<f64>),
    /// MLP rule with [`MLP_HIDDEN`] hidden units.
    Mlp(MlpRule<f64, MLP_HIDDEN>),
}

macro_rules! each_rule {
    ($r:expr, $x:ident => $body:expr) => {
        match $r {
            FitRule::Taylor($x) => $body,
            FitRule::Mlp($x) => $body,
        }
    };
}

impl RewardRule<f64> for FitRule {
    fn n_params(&self) -> usize {
        each_rule!(self, r => r.n_params())
    }
    fn read_params(&self, out: &mut [f64]) {
        each_rule!(self, r => r.read_params(out))
    }
    fn write_params(&mut self, p: &[f64]) {
        each_rule!(self, r => r.write_params(p))
    }
    fn is_trainable(&self, k: usize) -> bool {
        each_rule!(self, r => r.is_trainable(k))
    }
    fn dw(&self, x: f64, y: f64, w: f64, r: f64) -> f64 {
        each_rule!(self, q => q.dw(x, y, w, r))
    }
    fn partials(&self, x: f64, y: f64, w: f64, r: f64) -> RewardPartials<f64> {
        each_rule!(self, q => q.partials(x, y, w, r))
    }
    fn accumulate_param_gradient(&self, x: f64, y: f64, w: f64, r: f64, s: f64, acc: &mut [f64]) {
        each_rule!(self, q => q.accumulate_param_gradient(x, y, w, r, s, acc))
    }
}

impl FitRule {
    /// The parameters as a vector.
    pub fn params(&self) -> Vec<f64> {
        let mut p = vec![0.0; self.n_params()];
        self.read_params(&mut p);
        p
    }
    /// Labels of the parameters (`x*r`, or `U[k][x]`, `b[k]`, `v[k]`, `c` for the MLP).
    pub fn labels(&self) -> Vec<String> {
        match self {
            FitRule::Taylor(_) => (0..REWARD_TERMS).map(reward_term_label).collect(),
            FitRule::Mlp(_) => {
                let mut l = Vec::new();
                for k in 0..MLP_HIDDEN {
                    for v in ["x", "y", "w", "r"] {
                        l.push(format!("U[{k}][{v}]"));
                    }
                }
                l.extend((0..MLP_HIDDEN).map(|k| format!("b[{k}]")));
                l.extend((0..MLP_HIDDEN).map(|k| format!("v[{k}]")));
                l.push("c".into());
                l
            }
        }
    }
    /// The trainable mask.
    pub fn mask(&self) -> Vec<bool> {
        (0..self.n_params()).map(|k| self.is_trainable(k)).collect()
    }
}

/// The same rule family with every parameter zero (the null model of percent deviance: the
/// weights never change).
fn null_rule() -> RewardTaylorRule<f64> {
    let mut r = RewardTaylorRule::zeros();
    r.mask = [false; REWARD_TERMS];
    r
}

/// The teacher's 81 coefficients from its terms.
pub fn teacher_rule(sim: &SimulatedBehaviorConfig) -> RewardTaylorRule<f64> {
    let mut r = RewardTaylorRule::zeros();
    for (k, v) in &sim.teacher {
        if let Some(i) = reward_term_key(k) {
            r.theta[i] += v.0;
        }
    }
    r
}

/// A Taylor mask from term keys (all 81 when `None`).
pub fn term_mask(terms: Option<&[String]>) -> [bool; REWARD_TERMS] {
    match terms {
        None => [true; REWARD_TERMS],
        Some(list) => {
            let mut m = [false; REWARD_TERMS];
            for k in list {
                if let Some(i) = reward_term_key(k) {
                    m[i] = true;
                }
            }
            m
        }
    }
}

/// The initial rule of a fit: zeros, or `N(0, init_std^2)` on the trainable parameters.
pub fn initial_rule(cfg: &FitBehaviorConfig, mask: [bool; REWARD_TERMS], rng: &mut Rng) -> FitRule {
    let std = cfg.rule.init_std.map(|v| v.0).unwrap_or(0.0);
    let mut rule = match cfg.rule.kind {
        BehaviorRuleKind::Taylor => FitRule::Taylor(RewardTaylorRule {
            theta: [0.0; REWARD_TERMS],
            mask,
        }),
        BehaviorRuleKind::Mlp => FitRule::Mlp(MlpRule::zeros()),
    };
    let mask = rule.mask();
    let p: Vec<f64> = mask
        .iter()
        .map(|&m| if m { std * rng.normal() } else { 0.0 })
        .collect();
    rule.write_params(&p);
    rule
}

/// One session: inputs, choices, rewards and the initial weights.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionData {
    /// Inputs, `T x 2`.
    pub x: Vec<f64>,
    /// Which odor was presented (0 = A, 1 = B).
    pub odor: Vec<u8>,
    /// Choices.
    pub accept: Vec<bool>,
    /// Reward `R` of each presentation (0 on rejected ones).
    pub reward: Vec<f64>,
    /// Reward signal `r = R - E[R]` (0 on rejected ones).
    pub r: Vec<f64>,
    /// Initial weights, `H x 2`.
    pub w0: Vec<f64>,
}

impl SessionData {
    /// The kernel's view of the session.
    pub fn session(&self) -> Session<'_, f64> {
        Session {
            x: &self.x,
            accept: &self.accept,
            r: &self.r,
        }
    }
    /// Number of presentations.
    pub fn len(&self) -> usize {
        self.accept.len()
    }
    /// Whether there are no presentations.
    pub fn is_empty(&self) -> bool {
        self.accept.is_empty()
    }
}

/// `r_t = R_t - E[R]` on accepted presentations, `E[R]` the mean of the previous
/// [`REWARD_WINDOW`] rewards (zeros before that many); 0 on rejected ones.
pub fn reward_signals(accept: &[bool], reward: &[f64]) -> Vec<f64> {
    let mut avg = RewardAverage::<f64, REWARD_WINDOW>::new();
    accept
        .iter()
        .zip(reward)
        .map(|(&a, &rew)| if a { avg.signal(rew) } else { 0.0 })
        .collect()
}

/// The network's fixed parameters from the (filled) config.
pub fn network(cfg: &FitBehaviorConfig) -> BehaviorNet<f64> {
    let h = cfg.network.hidden.0 as f64;
    BehaviorNet {
        eta: cfg.network.eta.map(|v| v.0).unwrap_or(0.5),
        readout: cfg.network.readout.map(|v| v.0).unwrap_or(5.0 / h),
        w_clip: cfg.network.w_clip.0,
    }
}

fn kernel_err(what: &str, e: KernelError) -> RunError {
    RunError::new(format!("{what}: {e}"))
}

fn odor_input(cfg: &FitBehaviorConfig, odor: u8, rng: &mut Rng, out: &mut [f64; 2]) {
    let s = cfg.input.noise_std.0;
    for (j, v) in out.iter_mut().enumerate() {
        let base = if j == odor as usize {
            cfg.input.odor_scale.0
        } else {
            0.0
        };
        *v = base + s * rng.normal();
    }
}

fn initial_weights(cfg: &FitBehaviorConfig, rng: &mut Rng) -> Vec<f64> {
    let mut w = vec![0.0; cfg.network.hidden.get() * N_IN];
    rng.fill_normal(cfg.network.w0_std.0, &mut w);
    w
}

/// Simulates one session of the baited task with the teacher rule: at each trial's start every
/// odor without a waiting reward gets one with its block's probability; odors are presented
/// (each A or B with probability 1/2) until the network accepts, which collects that odor's
/// reward (if any) and applies the rule once.
pub fn simulate_session(
    cfg: &FitBehaviorConfig,
    sim: &SimulatedBehaviorConfig,
    teacher: &RewardTaylorRule<f64>,
    rng: &mut Rng,
) -> Result<SessionData, RunError> {
    let n_h = cfg.network.hidden.get();
    let net = network(cfg);
    let w0 = initial_weights(cfg, rng);
    let mut w = w0.clone();
    let mut h = vec![0.0; n_h];
    let mut avg = RewardAverage::<f64, REWARD_WINDOW>::new();
    let mut d = SessionData {
        x: Vec::new(),
        odor: Vec::new(),
        accept: Vec::new(),
        reward: Vec::new(),
        r: Vec::new(),
        w0,
    };
    let mut bait = [false; 2];
    let mut x = [0.0; 2];
    for block in &sim.blocks {
        for _ in 0..block.trials.get() {
            for (b, p) in bait.iter_mut().zip(&block.reward_probability) {
                if !*b {
                    *b = rng.uniform() < p.0;
                }
            }
            for _ in 0..sim.max_presentations.get() {
                let odor = u8::from(rng.uniform() < 0.5);
                odor_input(cfg, odor, rng, &mut x);
                hidden(&w, &x, &mut h).map_err(|e| kernel_err("teacher network", e))?;
                let p = accept_probability(net.readout, &h);
                let accept = rng.uniform() < p;
                d.x.extend_from_slice(&x);
                d.odor.push(odor);
                d.accept.push(accept);
                if accept {
                    let reward = if bait[odor as usize] { 1.0 } else { 0.0 };
                    bait[odor as usize] = false;
                    let r = avg.signal(reward);
                    d.reward.push(reward);
                    d.r.push(r);
                    apply_rule(teacher, &net, &mut w, &x, &h, r).map_err(|_| {
                        RunError::new(
                            "the teacher rule made the weights blow up; choose a smaller rule",
                        )
                    })?;
                    break;
                }
                d.reward.push(0.0);
                d.r.push(0.0);
            }
        }
    }
    Ok(d)
}

/// One fly's recorded presentations.
#[derive(Debug, Clone, PartialEq)]
pub struct FlyChoices {
    /// Odor of each presentation (0 = A, 1 = B).
    pub odor: Vec<u8>,
    /// Accepted or not.
    pub accept: Vec<bool>,
    /// Reward on accepted presentations (0 or 1), 0 on rejected ones.
    pub reward: Vec<f64>,
    /// Number of trials.
    pub trials: usize,
}

/// Parses one fly's CSV (`step,trial,odor,accept,reward`; see the data README). `name` is used
/// in errors, which read `name:line: problem`. Never panics, whatever the text.
pub fn parse_fly_csv(text: &str, name: &str) -> Result<FlyChoices, String> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim_end_matches('\r').trim())
        .unwrap_or("");
    if header != "step,trial,odor,accept,reward" {
        return Err(format!(
            "{name}:1: expected the header `step,trial,odor,accept,reward`, got `{}`",
            header.chars().take(80).collect::<String>()
        ));
    }
    let mut out = FlyChoices {
        odor: Vec::new(),
        accept: Vec::new(),
        reward: Vec::new(),
        trials: 0,
    };
    let mut trial_open = false;
    for (i, raw) in lines {
        let ln = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 5 {
            return Err(format!(
                "{name}:{ln}: expected 5 comma-separated fields, got {}",
                f.len()
            ));
        }
        let step: usize = f[0]
            .trim()
            .parse()
            .map_err(|_| format!("{name}:{ln}: step: expected a whole number, got `{}`", f[0]))?;
        if step != out.odor.len() {
            return Err(format!(
                "{name}:{ln}: step: expected {} (steps count up from 0), got {step}",
                out.odor.len()
            ));
        }
        let trial: usize = f[1].trim().parse().map_err(|_| {
            format!(
                "{name}:{ln}: trial: expected a whole number, got `{}`",
                f[1]
            )
        })?;
        let expected_trial = out.trials - usize::from(trial_open);
        if trial != expected_trial {
            return Err(format!(
                "{name}:{ln}: trial: expected {expected_trial} (a trial ends at its accepted presentation), got {trial}"
            ));
        }
        let odor = match f[2].trim() {
            "A" => 0,
            "B" => 1,
            o => return Err(format!("{name}:{ln}: odor: expected A or B, got `{o}`")),
        };
        let accept = match f[3].trim() {
            "1" => true,
            "0" => false,
            a => return Err(format!("{name}:{ln}: accept: expected 0 or 1, got `{a}`")),
        };
        let reward = match (accept, f[4].trim()) {
            (true, "1") => 1.0,
            (true, "0") => 0.0,
            (false, "") => 0.0,
            (true, v) => {
                return Err(format!(
                    "{name}:{ln}: reward: expected 0 or 1 on an accepted row, got `{v}`"
                ))
            }
            (false, v) => {
                return Err(format!(
                    "{name}:{ln}: reward: expected an empty field on a rejected row, got `{v}`"
                ))
            }
        };
        if !trial_open {
            out.trials += 1;
        }
        trial_open = !accept;
        out.odor.push(odor);
        out.accept.push(accept);
        out.reward.push(reward);
        if out.odor.len() > 1_000_000 {
            return Err(format!("{name}:{ln}: more than 1000000 presentations"));
        }
    }
    if out.odor.is_empty() {
        return Err(format!("{name}: no presentations after the header"));
    }
    Ok(out)
}

/// The CSV path of fly `id` in `dir`.
pub fn fly_path(dir: &Path, id: u32) -> std::path::PathBuf {
    dir.join(format!("fly{id:02}.csv"))
}

/// Reads and parses every listed fly; the error names the file (and line).
pub fn load_flies(f: &FliesConfig) -> Result<Vec<(u32, FlyChoices)>, String> {
    let dir = Path::new(&f.dir);
    let ids: Vec<u32> = match &f.ids {
        Some(ids) => ids.iter().map(|c| c.0).collect(),
        None => (1..=18).collect(),
    };
    ids.iter()
        .map(|&id| {
            let p = fly_path(dir, id);
            let bytes = std::fs::read(&p).map_err(|e| {
                format!(
                    "{}: cannot read fly data: {e} (data.flies.dir names the directory of fly01.csv ... fly18.csv; see the README for where to get them)",
                    p.display()
                )
            })?;
            if bytes.len() > 64 << 20 {
                return Err(format!("{}: larger than 64 MiB", p.display()));
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| format!("{}: not UTF-8 text: {e}", p.display()))?;
            parse_fly_csv(text, &p.display().to_string()).map(|c| (id, c))
        })
        .collect()
}

/// Checks the data a config names, before a run directory exists (bad data: exit 2).
pub fn check_data(cfg: &FitBehaviorConfig) -> Result<(), String> {
    match &cfg.data.flies {
        Some(f) => load_flies(f).map(|_| ()),
        None => Ok(()),
    }
}

/// A fly's session: inputs synthesised from odor identity with seeded noise, and seeded
/// initial weights.
pub fn fly_session(cfg: &FitBehaviorConfig, c: &FlyChoices, rng: &mut Rng) -> SessionData {
    let w0 = initial_weights(cfg, rng);
    let mut x = Vec::with_capacity(c.odor.len() * 2);
    let mut buf = [0.0; 2];
    for &o in &c.odor {
        odor_input(cfg, o, rng, &mut buf);
        x.extend_from_slice(&buf);
    }
    SessionData {
        x,
        odor: c.odor.clone(),
        accept: c.accept.clone(),
        reward: c.reward.clone(),
        r: reward_signals(&c.accept, &c.reward),
        w0,
    }
}

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
    /// Epochs whose mean loss exceeded [`REVERT_FACTOR`] times the best epoch's, after which
    /// the fit went back to the best epoch's parameters with half the rate.
    pub reverted_epochs: usize,
}

/// An epoch whose mean loss exceeds this factor times the best so far is reverted.
pub const REVERT_FACTOR: f64 = 1.5;

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

/// Undone Adam steps in a row after which a fit gives up.
pub const MAX_UNDONE: usize = 30;

/// Fits `rule` to `sessions` with Adam, one step per session per epoch, in session order. When
/// a session's weights blow up under the current rule, the last step is undone and the rate
/// halved (as in `fit_rate`); [`MAX_UNDONE`] in a row end the fit with an error. An epoch that
/// makes the mean loss much worse is reverted (see [`BehaviorFit::reverted_epochs`]). Checks
/// for Ctrl-C between epochs.
pub fn fit(
    cfg: &FitBehaviorConfig,
    rule: FitRule,
    sessions: &[SessionData],
    progress: Option<&Progress>,
) -> Result<BehaviorFit, RunError> {
    fit_with_checkpoints(cfg, rule, sessions, progress, None)
}

/// Everything a fit needs to continue bit for bit: parameters, Adam and its undo and revert
/// states, histories and counters (serialised with exact floats).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BehaviorCheckpoint {
    /// Hash of the config it belongs to.
    pub config_hash: String,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Current parameters.
    pub params: Vec<f64>,
    /// Adam state.
    pub adam: Adam,
    /// State before the last step (for undoing it).
    pub before: Option<(Vec<f64>, Adam)>,
    /// Best epoch so far: loss, parameters, Adam.
    pub best: Option<(f64, Vec<f64>, Adam)>,
    /// Undone steps in a row.
    pub consecutive: usize,
    /// Loss per epoch.
    pub loss_history: Vec<f64>,
    /// Parameters per epoch.
    pub param_history: Vec<Vec<f64>>,
    /// Undone steps.
    pub skipped_steps: usize,
    /// Reverted epochs.
    pub reverted_epochs: usize,
}

/// Where and how often a fit saves its state.
pub struct Checkpointing<'a> {
    /// The checkpoint file.
    pub path: &'a Path,
    /// Config hash written into (and required of) the checkpoint.
    pub config_hash: &'a str,
    /// Seconds between saves (0: after every epoch).
    pub every_seconds: f64,
}

impl Checkpointing<'_> {
    fn load(&self) -> Option<BehaviorCheckpoint> {
        let bytes = std::fs::read(self.path).ok()?;
        let c: BehaviorCheckpoint = serde_json::from_slice(&bytes).ok()?;
        (c.config_hash == self.config_hash).then_some(c)
    }
    fn save(&self, c: &BehaviorCheckpoint) -> Result<(), RunError> {
        let bytes = serde_json::to_vec(c).unwrap_or_default();
        crate::io::write_atomic(self.path, &bytes)
            .map_err(|e| RunError::new(format!("{}: cannot write: {e}", self.path.display())))
    }
}

/// [`fit`], saving its state to `ckpt` (after an epoch, at most every `every_seconds`, and when
/// interrupted) and continuing from a matching checkpoint found there.
pub fn fit_with_checkpoints(
    cfg: &FitBehaviorConfig,
    mut rule: FitRule,
    sessions: &[SessionData],
    progress: Option<&Progress>,
    ckpt: Option<&Checkpointing<'_>>,
) -> Result<BehaviorFit, RunError> {
    let net = network(cfg);
    let n_p = rule.n_params();
    let mask = rule.mask();
    let max_len = sessions.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut work = GradientWork::new(cfg.fit.gradient, cfg.network.hidden.get(), n_p, max_len);
    let start = rule.params();
    let mut st = match ckpt.and_then(|c| c.load()) {
        Some(c) if c.params.len() == n_p => c,
        _ => BehaviorCheckpoint {
            config_hash: ckpt.map(|c| c.config_hash.to_string()).unwrap_or_default(),
            epochs_done: 0,
            params: start.clone(),
            adam: Adam::new(n_p, cfg.fit.lr.0, cfg.fit.l1.0),
            before: None,
            best: None,
            consecutive: 0,
            loss_history: Vec::new(),
            param_history: vec![start],
            skipped_steps: 0,
            reverted_epochs: 0,
        },
    };
    rule.write_params(&st.params);
    if let Some(p) = progress {
        p.tick(st.epochs_done, None);
    }
    let mut last_save = std::time::Instant::now();
    while st.epochs_done < cfg.fit.epochs.get() {
        if crate::interrupt::requested() {
            if let Some(c) = ckpt {
                c.save(&st)?;
            }
            return Err(RunError::interrupted());
        }
        let mut total = 0.0;
        let mut counted = 0usize;
        for (k, d) in sessions.iter().enumerate() {
            match work.run(&rule, &net, d) {
                Ok(loss) => {
                    st.consecutive = 0;
                    total += loss;
                    counted += 1;
                    st.before = Some((st.params.clone(), st.adam.clone()));
                    st.adam.step(&mut st.params, &work.grad, &mask);
                    rule.write_params(&st.params);
                }
                Err(e @ KernelError::NonFinite { .. }) => {
                    // The last step made this session's weights blow up: undo it (parameters
                    // and Adam moments), halve the rate, go on with the next session.
                    st.skipped_steps += 1;
                    st.consecutive += 1;
                    let undo = st.before.take().filter(|_| st.consecutive <= MAX_UNDONE);
                    let Some((p, a)) = undo else {
                        return Err(kernel_err(
                            &format!(
                                "the fit diverged at session {k} after {} undone steps (try a smaller fit.lr)",
                                st.skipped_steps
                            ),
                            e,
                        ));
                    };
                    let lr = st.adam.lr * 0.5;
                    st.params = p;
                    st.adam = a;
                    st.adam.lr = lr;
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
        match &st.best {
            Some((b, p, a)) if loss > b * REVERT_FACTOR => {
                // The epoch made the fit much worse (typically a rule whose weights run into
                // the clip, where the loss is flat): go back to the best epoch's end, halve
                // the rate.
                let lr = st.adam.lr * 0.5;
                st.params = p.clone();
                st.adam = a.clone();
                st.adam.lr = lr;
                rule.write_params(&st.params);
                st.before = None;
                st.reverted_epochs += 1;
            }
            Some((b, _, _)) if loss >= *b => {}
            _ => st.best = Some((loss, st.params.clone(), st.adam.clone())),
        }
        st.param_history.push(st.params.clone());
        st.epochs_done += 1;
        if let Some(p) = progress {
            p.tick(1, Some(loss));
        }
        if let Some(c) = ckpt {
            if last_save.elapsed().as_secs_f64() >= c.every_seconds {
                c.save(&st)?;
                last_save = std::time::Instant::now();
            }
        }
    }
    Ok(BehaviorFit {
        rule,
        loss_history: st.loss_history,
        param_history: st.param_history,
        skipped_steps: st.skipped_steps,
        reverted_epochs: st.reverted_epochs,
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

/// Mean choice cross-entropy of a session under a rule.
pub fn session_nll<R: RewardRule<f64>>(
    rule: &R,
    cfg: &FitBehaviorConfig,
    d: &SessionData,
) -> Result<f64, KernelError> {
    let mut w = d.w0.clone();
    let mut h = vec![0.0; cfg.network.hidden.get()];
    session_loss(
        rule,
        &network(cfg),
        &mut w,
        &d.session(),
        &mut h,
        Trace::default(),
    )
}

/// `100 (D_null - D_model) / D_null` with `D = 2 L`.
pub fn percent_deviance(model: f64, null: f64) -> f64 {
    100.0 * (null - model) / null
}

/// Evaluation of one simulated session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionScore {
    /// R^2 of the weights before every presentation (columns: synapses).
    pub r2_weights: f64,
    /// R^2 of the hidden activity at every presentation (columns: hidden units).
    pub r2_activity: f64,
    /// Percent deviance explained against the null rule.
    pub percent_deviance: f64,
    /// The same for the ground-truth rule: the ceiling a perfect fit would reach.
    pub teacher_percent_deviance: f64,
}

/// Scores the fitted rule on a session generated by `teacher`.
pub fn score_session(
    cfg: &FitBehaviorConfig,
    teacher: &RewardTaylorRule<f64>,
    fitted: &FitRule,
    d: &SessionData,
) -> Result<SessionScore, RunError> {
    let n_h = cfg.network.hidden.get();
    let net = network(cfg);
    let t = d.len();
    let s = d.session();
    let replay = |r: &FitRule| -> Result<(f64, Vec<f64>, Vec<f64>), KernelError> {
        let mut hs = vec![0.0; t * n_h];
        let mut ws = vec![0.0; t * n_h * N_IN];
        let mut h = vec![0.0; n_h];
        let mut w = d.w0.clone();
        let tr = Trace {
            hidden: Some(&mut hs),
            weights: Some(&mut ws),
            p_accept: None,
        };
        let l = session_loss(r, &net, &mut w, &s, &mut h, tr)?;
        Ok((l, hs, ws))
    };
    let (lt, ht, wt) =
        replay(&FitRule::Taylor(*teacher)).map_err(|e| kernel_err("teacher replay", e))?;
    let ln = session_nll(&null_rule(), cfg, d).map_err(|e| kernel_err("null model", e))?;
    let (lm, hm, wm) = match replay(fitted) {
        Ok(v) => v,
        Err(_) => {
            return Ok(SessionScore {
                r2_weights: f64::NAN,
                r2_activity: f64::NAN,
                percent_deviance: f64::NAN,
                teacher_percent_deviance: percent_deviance(lt, ln),
            })
        }
    };
    let ln = session_nll(&null_rule(), cfg, d).map_err(|e| kernel_err("null model", e))?;
    let mut rw = R2::new(n_h * N_IN);
    let mut ra = R2::new(n_h);
    for k in 0..t {
        let sw = k * n_h * N_IN..(k + 1) * n_h * N_IN;
        rw.push(&wt[sw.clone()], &wm[sw]);
        let sh = k * n_h..(k + 1) * n_h;
        ra.push(&ht[sh.clone()], &hm[sh]);
    }
    Ok(SessionScore {
        r2_weights: rw.score(),
        r2_activity: ra.score(),
        percent_deviance: percent_deviance(lm, ln),
        teacher_percent_deviance: percent_deviance(lt, ln),
    })
}

/// The Fisher (Gauss-Newton) matrix of the choice log-likelihood over `sessions` at a Taylor
/// rule, per presentation, and its spectrum over the trainable terms.
pub fn identifiability(
    cfg: &FitBehaviorConfig,
    rule: &RewardTaylorRule<f64>,
    sessions: &[SessionData],
) -> Result<Identifiability, RunError> {
    let n = REWARD_TERMS;
    let n_h = cfg.network.hidden.get();
    let net = network(cfg);
    let mut scratch = vec![0.0; forward_scratch_len(N_IN, n_h, n)];
    let mut grad = vec![0.0; n];
    let mut fisher = vec![0.0; n * n];
    let mut count = 0usize;
    for (k, d) in sessions.iter().enumerate() {
        session_gradient_forward(
            rule,
            &net,
            n_h,
            &d.w0,
            &d.session(),
            &mut scratch,
            &mut grad,
            Some(&mut fisher),
        )
        .map_err(|e| kernel_err(&format!("fitted rule on session {k}"), e))?;
        count += d.len();
    }
    let idx: Vec<usize> = (0..n).filter(|&k| rule.mask[k]).collect();
    let labels: Vec<String> = (0..n).map(reward_term_label).collect();
    Ok(spectrum_report(
        &fisher,
        n,
        &idx,
        &labels,
        1.0 / count.max(1) as f64,
        "choices",
    ))
}

/// Exact two-sided sign test: the probability, under a fair coin, of a split of `n` as or more
/// extreme than `k` successes.
pub fn sign_test_p(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let lo = k.min(n - k);
    // P(X <= lo) for X ~ Binomial(n, 1/2), by exact log-binomial sums.
    let ln_choose =
        |n: usize, j: usize| -> f64 { (1..=j).map(|i| ((n - j + i) as f64 / i as f64).ln()).sum() };
    let tail: f64 = (0..=lo)
        .map(|j| (ln_choose(n, j) - n as f64 * std::f64::consts::LN_2).exp())
        .sum();
    (2.0 * tail).min(1.0)
}

/// Runs a `fit_behavior` experiment into `dir`; returns the summary printed at the end.
pub fn run(
    cfg: &FitBehaviorConfig,
    exp: &crate::config::Experiment,
    dir: &Path,
    opts: &RunOptions,
) -> Result<String, RunError> {
    match (&cfg.data.simulated, &cfg.data.flies) {
        (Some(sim), _) => run_simulated(cfg, sim, exp, dir, opts),
        (None, Some(f)) => run_flies(cfg, f, exp, dir, opts),
        (None, None) => Err(RunError::new("data: give simulated or flies")),
    }
}

fn history_artifacts(dir: &Path, fit: &BehaviorFit, labels: &[String]) -> Result<(), RunError> {
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    crate::run::put_history(dir, "params", "epoch", &label_refs, &fit.param_history)?;
    crate::run::put_loss(
        dir,
        "train_choice_nll",
        &fit.loss_history,
        "Training loss (choice cross-entropy)",
        "Adam epoch",
    )
}

fn run_simulated(
    cfg: &FitBehaviorConfig,
    sim: &SimulatedBehaviorConfig,
    exp: &crate::config::Experiment,
    dir: &Path,
    opts: &RunOptions,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let teacher = teacher_rule(sim);
    let n_train = sim.trajectories.get();
    let n_eval = cfg
        .evaluation
        .as_ref()
        .map(|e| e.trajectories.get())
        .unwrap_or(0);
    let ids: Vec<u32> = (0..(n_train + n_eval) as u32).collect();
    let sessions: Vec<SessionData> = parallel::map(&ids, |&k| {
        simulate_session(cfg, sim, &teacher, &mut master.substream(k + 1))
    })
    .into_iter()
    .collect::<Result<_, _>>()?;
    let (train, eval) = sessions.split_at(n_train);
    let mask = term_mask(cfg.rule.trainable.as_deref());
    let rule0 = initial_rule(cfg, mask, &mut master.substream(0));
    let progress = Progress::new(cfg.fit.epochs.get(), "epochs", opts.quiet);
    let ckpt_path = dir.join("checkpoint-fit.json");
    let hash = exp.hash();
    let ckpt = Checkpointing {
        path: &ckpt_path,
        config_hash: &hash,
        every_seconds: crate::run::checkpoint_seconds(),
    };
    let fit = fit_with_checkpoints(cfg, rule0, train, Some(&progress), Some(&ckpt));
    progress.finish();
    let fit = fit?;
    let labels = fit.rule.labels();
    history_artifacts(dir, &fit, &labels)?;

    let scores: Vec<SessionScore> =
        parallel::map(eval, |d| score_session(cfg, &teacher, &fit.rule, d))
            .into_iter()
            .collect::<Result<_, _>>()?;
    let col = |f: fn(&SessionScore) -> f64| scores.iter().map(f).collect::<Vec<f64>>();
    let (rw, ra, pd, pt) = (
        col(|s| s.r2_weights),
        col(|s| s.r2_activity),
        col(|s| s.percent_deviance),
        col(|s| s.teacher_percent_deviance),
    );
    let eval_rows: Vec<Vec<f64>> = scores
        .iter()
        .enumerate()
        .map(|(k, s)| {
            vec![
                k as f64,
                eval[k].len() as f64,
                s.r2_weights,
                s.r2_activity,
                s.percent_deviance,
                s.teacher_percent_deviance,
            ]
        })
        .collect();
    put(
        dir,
        "evaluation.csv",
        &csv_bytes(
            &[
                "session",
                "presentations",
                "r2_weights",
                "r2_activity",
                "percent_deviance",
                "teacher_percent_deviance",
            ],
            &eval_rows,
        ),
    )?;
    let params = fit.rule.params();
    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_behavior",
        "seed": seed,
        "config_hash": exp.hash(),
        "rule": match cfg.rule.kind { BehaviorRuleKind::Taylor => "taylor", BehaviorRuleKind::Mlp => "mlp" },
        "r2_weights": json_number(median(&rw)),
        "r2_activity": json_number(median(&ra)),
        "percent_deviance": json_number(median(&pd)),
        "teacher_percent_deviance": json_number(median(&pt)),
        "mean_over_sessions": {
            "r2_weights": json_number(mean(&rw)),
            "r2_activity": json_number(mean(&ra)),
            "percent_deviance": json_number(mean(&pd)),
        },
        "evaluation_sessions": n_eval,
        "train_presentations": train.iter().map(|d| d.len()).sum::<usize>(),
        "final_train_loss": fit.loss_history.last().copied().map(json_number),
        "skipped_steps": fit.skipped_steps,
        "reverted_epochs": fit.reverted_epochs,
        "params": params,
    });
    let mut summary = format!(
        "{}: {} rule, medians over {n_eval} evaluation sessions: r2_weights {:.4}, r2_activity {:.4}, percent deviance {:.2} (the ground-truth rule: {:.2})",
        cfg.name,
        metrics["rule"].as_str().unwrap_or(""),
        median(&rw),
        median(&ra),
        median(&pd),
        median(&pt)
    );
    if let FitRule::Taylor(t) = &fit.rule {
        metrics["terms"] = json!(labels);
        metrics["theta_target"] = json!(teacher.theta.to_vec());
        let report = identifiability(cfg, t, train)?;
        summary.push_str(&format!(
            "\ncondition number of the Fisher matrix: {}",
            report
                .condition_number
                .map(|c| format!("{c:.3e}"))
                .unwrap_or_else(|| "infinite".into())
        ));
        metrics["identifiability"] = serde_json::to_value(&report).unwrap_or(Value::Null);
        let mut big: Vec<(usize, f64)> = t.theta.iter().copied().enumerate().collect();
        big.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        summary.push_str("\nlargest coefficients:");
        for (k, v) in big.iter().take(5) {
            summary.push_str(&format!(" {}={v:.4}", labels[*k]));
        }
        let history: Vec<Vec<f64>> = fit.param_history.clone();
        let highlight: Vec<(usize, Option<f64>)> = (0..REWARD_TERMS)
            .filter(|&k| teacher.theta[k] != 0.0)
            .map(|k| (k, Some(teacher.theta[k])))
            .chain(big.iter().take(3).map(|(k, _)| (*k, None)))
            .fold(Vec::new(), |mut acc, h| {
                if !acc.iter().any(|a: &(usize, Option<f64>)| a.0 == h.0) {
                    acc.push(h);
                }
                acc
            });
        put(
            dir,
            "theta.svg",
            coefficient_svg(
                "Reward-rule coefficients during the fit",
                "Adam epoch",
                &history,
                &labels,
                &highlight,
            )
            .as_bytes(),
        )?;
    }
    put(dir, "metrics.json", &pretty(&metrics))?;
    let _ = std::fs::remove_file(&ckpt_path);
    Ok(summary)
}

/// One fly's finished fits, as written to `flies/fly-<id>.json` (exact floats), so a resumed
/// run does not fit that fly again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FlyResult {
    config_hash: String,
    id: u32,
    presentations: usize,
    null_nll: f64,
    without: Vec<f64>,
    without_nll: f64,
    with: Option<(Vec<f64>, f64)>,
}

fn run_flies(
    cfg: &FitBehaviorConfig,
    flies: &FliesConfig,
    exp: &crate::config::Experiment,
    dir: &Path,
    opts: &RunOptions,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let data = load_flies(flies).map_err(RunError::new)?;
    let base = term_mask(cfg.rule.trainable.as_deref());
    let added: Vec<usize> = cfg
        .rule
        .added_terms
        .iter()
        .flatten()
        .filter_map(|k| reward_term_key(k))
        .collect();
    let with_mask = (!added.is_empty()).then(|| {
        let mut m = base;
        added.iter().for_each(|&k| m[k] = true);
        m
    });
    let fits_per_fly = 1 + usize::from(with_mask.is_some());
    let progress = Progress::new(
        cfg.fit.epochs.get() * data.len() * fits_per_fly,
        "epochs",
        opts.quiet,
    );
    let hash = exp.hash();
    let fly_dir = dir.join("flies");
    std::fs::create_dir_all(&fly_dir)
        .map_err(|e| RunError::new(format!("{}: {e}", fly_dir.display())))?;
    let results: Vec<Result<FlyResult, RunError>> = parallel::map(&data, |(id, c)| {
        let path = fly_dir.join(format!("fly-{id:02}.json"));
        if let Some(r) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<FlyResult>(&b).ok())
            .filter(|r| r.config_hash == hash && r.id == *id)
        {
            progress.tick(cfg.fit.epochs.get() * fits_per_fly, None);
            return Ok(r);
        }
        if crate::interrupt::requested() {
            return Err(RunError::interrupted());
        }
        let mut rng = master.substream(*id);
        let d = fly_session(cfg, c, &mut rng);
        let sessions = std::slice::from_ref(&d);
        let null_nll =
            session_nll(&null_rule(), cfg, &d).map_err(|e| kernel_err("null model", e))?;
        let fit_one = |mask: [bool; REWARD_TERMS]| -> Result<(Vec<f64>, f64), RunError> {
            let r0 = initial_rule(cfg, mask, &mut master.substream(1000 + *id));
            let f = fit(cfg, r0, sessions, Some(&progress))?;
            let nll = session_nll(&f.rule, cfg, &d)
                .map_err(|e| kernel_err(&format!("fly {id}: fitted rule"), e))?;
            Ok((f.rule.params(), nll))
        };
        let (without, without_nll) = fit_one(base)?;
        let with = with_mask.map(fit_one).transpose()?;
        let r = FlyResult {
            config_hash: hash.clone(),
            id: *id,
            presentations: d.len(),
            null_nll,
            without,
            without_nll,
            with,
        };
        crate::io::write_atomic(&path, &serde_json::to_vec(&r).unwrap_or_default())
            .map_err(|e| RunError::new(format!("{}: cannot write: {e}", path.display())))?;
        Ok(r)
    });
    progress.finish();
    let results: Vec<FlyResult> = results.into_iter().collect::<Result<_, _>>()?;
    let labels: Vec<String> = (0..REWARD_TERMS).map(reward_term_label).collect();
    let report_term = added.first().copied();
    let mut rows = Vec::new();
    let mut fly_json = Vec::new();
    let mut improved = 0usize;
    let mut worse = 0usize;
    let mut negative = 0usize;
    let mut theta_without = Vec::new();
    let mut theta_with = Vec::new();
    let mut bars = Vec::new();
    for r in &results {
        let pd_without = percent_deviance(r.without_nll, r.null_nll);
        theta_without.extend(&r.without);
        let mut row = vec![r.id as f64, r.presentations as f64, pd_without];
        let mut obj = json!({
            "fly": r.id,
            "presentations": r.presentations,
            "percent_deviance_without": json_number(pd_without),
            "theta_without": r.without,
        });
        if let Some((p, nll)) = &r.with {
            let pd_with = percent_deviance(*nll, r.null_nll);
            let p = p.clone();
            let coef = report_term.map(|k| p[k]).unwrap_or(f64::NAN);
            if pd_with > pd_without {
                improved += 1;
            } else if pd_with < pd_without {
                worse += 1;
            }
            if coef < 0.0 {
                negative += 1;
            }
            row.extend([pd_with, pd_with - pd_without, coef]);
            obj["percent_deviance_with"] = json_number(pd_with);
            obj["weight_coefficient"] = json_number(coef);
            obj["theta_with"] = json!(p);
            theta_with.extend(p);
            bars.push((format!("{}", r.id), vec![(pd_with, pd_without)]));
        }
        rows.push(row);
        fly_json.push(obj);
    }
    let n = results.len();
    put(
        dir,
        "theta_without.npy",
        &npy_bytes(&[n, REWARD_TERMS], &theta_without),
    )?;
    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_behavior",
        "seed": seed,
        "config_hash": exp.hash(),
        "rule": "taylor",
        "terms": labels,
        "trainable_without": (0..REWARD_TERMS).filter(|&k| base[k]).map(reward_term_label).collect::<Vec<_>>(),
        "flies": fly_json,
        "percent_deviance": json_number(median(&rows.iter().map(|r| r[2]).collect::<Vec<_>>())),
    });
    let mut summary = format!(
        "{}: {n} flies, median held-in percent deviance {:.2} with terms {}",
        cfg.name,
        median(&rows.iter().map(|r| r[2]).collect::<Vec<_>>()),
        metrics["trainable_without"]
    );
    if with_mask.is_some() {
        put(
            dir,
            "theta_with.npy",
            &npy_bytes(&[n, REWARD_TERMS], &theta_with),
        )?;
        let p = sign_test_p(improved, improved + worse);
        let term = report_term.map(reward_term_label).unwrap_or_default();
        let pd_with: Vec<f64> = rows.iter().map(|r| r[3]).collect();
        metrics["added_terms"] = json!(added
            .iter()
            .map(|&k| reward_term_label(k))
            .collect::<Vec<_>>());
        metrics["reported_coefficient"] = json!(term);
        metrics["summary"] = json!({
            "flies": n,
            "improved_with_weight_terms": improved,
            "worse_with_weight_terms": worse,
            "sign_test_p_two_sided": p,
            "negative_weight_coefficient": negative,
            "median_percent_deviance_without": json_number(median(&rows.iter().map(|r| r[2]).collect::<Vec<_>>())),
            "median_percent_deviance_with": json_number(median(&pd_with)),
            "median_weight_coefficient": json_number(median(&rows.iter().map(|r| r[5]).collect::<Vec<_>>())),
        });
        summary.push_str(&format!(
            "\nwith the weight terms: {improved} of {n} flies improve held-in deviance ({worse} worse; two-sided sign test p = {p:.4}); the {term} coefficient is negative for {negative} of {n} (median {:.4}); median percent deviance {:.2} with vs {:.2} without",
            median(&rows.iter().map(|r| r[5]).collect::<Vec<_>>()),
            median(&pd_with),
            median(&rows.iter().map(|r| r[2]).collect::<Vec<_>>()),
        ));
        put(
            dir,
            "flies.csv",
            &csv_bytes(
                &[
                    "fly",
                    "presentations",
                    "percent_deviance_without",
                    "percent_deviance_with",
                    "difference",
                    "weight_coefficient",
                ],
                &rows,
            ),
        )?;
        put(
            dir,
            "flies_deviance.svg",
            crate::plot::paired_bars(
                "Held-in percent deviance explained per fly",
                ["with weight terms", "without"],
                &bars,
            )
            .as_bytes(),
        )?;
    } else {
        put(
            dir,
            "flies.csv",
            &csv_bytes(&["fly", "presentations", "percent_deviance"], &rows),
        )?;
    }
    put(dir, "metrics.json", &pretty(&metrics))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::reward_term_key;

    #[test]
    fn term_keys_and_labels_round_trip() {
        for k in 0..REWARD_TERMS {
            assert_eq!(reward_term_key(&reward_term_label(k)), Some(k));
        }
        assert_eq!(reward_term_key("x*r"), Some(28));
        assert_eq!(reward_term_key("r * x"), Some(28));
        assert_eq!(reward_term_key("1001"), Some(28));
        assert_eq!(reward_term_key("w"), Some(3));
        assert_eq!(reward_term_key("x*x*x"), None);
        assert_eq!(reward_term_key("x*z"), None);
        assert_eq!(reward_term_key(""), None);
        assert_eq!(reward_term_key("x^3"), None);
    }

    #[test]
    fn sign_test_matches_binomial_tails() {
        // 17 of 18: 2 * (1 + 18) / 2^18.
        assert!((sign_test_p(17, 18) - 2.0 * 19.0 / 262_144.0).abs() < 1e-15);
        assert_eq!(sign_test_p(9, 18), 1.0);
        assert!((sign_test_p(0, 5) - 2.0 / 32.0).abs() < 1e-15);
        assert_eq!(sign_test_p(0, 0), 1.0);
    }

    #[test]
    fn fly_csv_parses_and_names_bad_lines() {
        let good = "step,trial,odor,accept,reward\n0,0,A,0,\n1,0,B,1,0\n2,1,A,1,1\n";
        let c = parse_fly_csv(good, "f.csv").unwrap();
        assert_eq!(c.odor, vec![0, 1, 0]);
        assert_eq!(c.accept, vec![false, true, true]);
        assert_eq!(c.reward, vec![0.0, 0.0, 1.0]);
        assert_eq!(c.trials, 2);
        let crlf = good.replace('\n', "\r\n");
        assert_eq!(parse_fly_csv(&crlf, "f.csv").unwrap(), c);
        for (bad, want) in [
            ("", "f.csv:1: expected the header"),
            ("step,trial,odor,accept,reward\n", "no presentations"),
            ("step,trial,odor,accept,reward\n0,0,C,0,\n", "f.csv:2: odor"),
            (
                "step,trial,odor,accept,reward\n0,0,A,2,\n",
                "f.csv:2: accept",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1,\n",
                "f.csv:2: reward",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,0,1\n",
                "f.csv:2: reward",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1,1\n2,1,A,1,1\n",
                "f.csv:3: step",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1,1\n1,0,A,1,1\n",
                "f.csv:3: trial",
            ),
            (
                "step,trial,odor,accept,reward\n0,0,A,1\n",
                "f.csv:2: expected 5",
            ),
            (
                "step,trial,odor,accept,reward\nx,0,A,1,1\n",
                "f.csv:2: step",
            ),
        ] {
            let e = parse_fly_csv(bad, "f.csv").unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn reward_signal_uses_previous_rewards_only() {
        let accept = [false, true, true, false, true];
        let reward = [0.0, 1.0, 1.0, 0.0, 0.0];
        let r = reward_signals(&accept, &reward);
        assert_eq!(r, vec![0.0, 1.0, 0.9, 0.0, -0.2]);
    }
}
