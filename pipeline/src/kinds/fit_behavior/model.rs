//! The behaving network, the fitted rule (81-term Taylor or MLP) and simulated sessions of
//! the baited two-odor task.

use super::config::{BehaviorRuleKind, FitBehaviorConfig, SimulatedBehaviorConfig};
use crate::config::terms::{mask_from, reward_term_key, reward_term_label, theta_from};
use crate::error::{kernel_error as kernel_err, RunError};
use crate::rng::Rng;
use synplast_kernels::behavior::{accept_probability, apply_rule, hidden, BehaviorNet, Session};
use synplast_kernels::reward::{
    MlpRule, RewardAverage, RewardPartials, RewardRule, RewardTaylorRule, REWARD_TERMS,
};

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
pub fn null_rule() -> RewardTaylorRule<f64> {
    let mut r = RewardTaylorRule::zeros();
    r.mask = [false; REWARD_TERMS];
    r
}

/// The teacher's 81 coefficients from its terms.
pub fn teacher_rule(sim: &SimulatedBehaviorConfig) -> RewardTaylorRule<f64> {
    let mut r = RewardTaylorRule::zeros();
    r.theta = theta_from(sim.teacher.iter().map(|(k, v)| (k, v.0)), reward_term_key);
    r
}

/// A Taylor mask from term keys (all 81 when `None`).
pub fn term_mask(terms: Option<&[String]>) -> [bool; REWARD_TERMS] {
    mask_from(terms, reward_term_key)
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

/// The default readout: `5 / H`, or 1 for the linear network (`hidden: 0`).
pub fn default_readout(hidden: u32) -> f64 {
    if hidden == 0 {
        1.0
    } else {
        5.0 / hidden as f64
    }
}

/// The network's fixed parameters from the (filled) config.
pub fn network(cfg: &FitBehaviorConfig) -> BehaviorNet<f64> {
    BehaviorNet {
        eta: cfg.network.eta.map(|v| v.0).unwrap_or(0.5),
        readout: cfg
            .network
            .readout
            .map(|v| v.0)
            .unwrap_or(default_readout(cfg.network.hidden)),
        w_clip: cfg.network.w_clip.0,
    }
}

/// The input of one odor presentation: one-hot times `odor_scale`, plus Gaussian noise.
pub fn odor_input(cfg: &FitBehaviorConfig, odor: u8, rng: &mut Rng, out: &mut [f64; 2]) {
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

/// Initial plastic weights `~ N(0, w0_std^2)`.
pub fn initial_weights(cfg: &FitBehaviorConfig, rng: &mut Rng) -> Vec<f64> {
    let mut w = vec![0.0; cfg.network.units() * N_IN];
    rng.fill_normal(cfg.network.w0_std.0, &mut w);
    w
}

/// The baits of the two-odor task: a reward, once assigned to an odor, waits until that odor
/// is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Baits([bool; 2]);

impl Baits {
    /// At a trial's start: every odor without a waiting reward gets one with its probability
    /// (`p[0]` for A, `p[1]` for B; one uniform draw per unbaited odor, A first).
    pub fn assign(&mut self, p: [f64; 2], rng: &mut Rng) {
        for (b, p) in self.0.iter_mut().zip(p) {
            if !*b {
                *b = rng.uniform() < p;
            }
        }
    }
    /// The chosen odor's reward (1 if baited, else 0); its bait is collected.
    pub fn collect(&mut self, odor: u8) -> f64 {
        let k = usize::from(odor.min(1));
        let r = if self.0[k] { 1.0 } else { 0.0 };
        self.0[k] = false;
        r
    }
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
    let n_h = cfg.network.units();
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
    let mut bait = Baits::default();
    let mut x = [0.0; 2];
    for block in &sim.blocks {
        let probs = block.reward_probability.map(|p| p.0);
        for _ in 0..block.trials.get() {
            bait.assign(probs, rng);
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
                    let reward = bait.collect(odor);
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
