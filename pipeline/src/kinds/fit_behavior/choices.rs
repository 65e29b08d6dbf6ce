//! Two-choice data at the trial level (`data: {choices: {file: F.csv}}`): one row per trial,
//! `session,trial,choice,reward`, with `choice` `A`/`B` (or `0`/`1`) and `reward` a number.
//! The likelihood is the trial-level marginal `P(A) = p_A / (p_A + p_B)` of
//! [`synplast_kernels::choices`]; the rule is fitted to the first `evaluation.cutoff` of each
//! session's trials and scored on the rest (held-out deviance), against two nulls: the same
//! network with every coefficient 0 (the paper's), and a fitted constant preference (bias only:
//! `P(A)` the fraction of A choices in the fitted trials).
//!
//! Inputs are synthesised from option identity, as for the flies: option A is
//! `[odor_scale, 0] + noise`, option B `[0, odor_scale] + noise`, drawn per trial from the seed.
//! The reward signal is `r = R - E[R]` with `E[R]` the mean of the previous 10 trials' rewards.

use super::config::{ChoicesConfig, FitBehaviorConfig};
use super::fit::{fit_sessions, BehaviorFit, Stop};
use super::model::{initial_rule, initial_weights, network, odor_input, term_mask, FitRule, N_IN};
use crate::config::terms::reward_term_key;
use crate::config::terms::theta_from;
use crate::error::{kernel_error as kernel_err, RunError};
use crate::rng::Rng;
use synplast_kernels::behavior::BehaviorNet;
use synplast_kernels::choices::{
    adjoint_scratch_len, choice_gradient_adjoint, choice_loss, loss_scratch_len, Activation,
    ChoiceSession,
};
use synplast_kernels::reward::{RewardAverage, RewardRule, RewardTaylorRule};

/// One session's trials as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedChoices {
    /// The session's name in the file.
    pub session: String,
    /// Whether option B was chosen, per trial.
    pub chose_b: Vec<bool>,
    /// Reward of every trial.
    pub reward: Vec<f64>,
}

/// Largest choice file read.
pub const MAX_CHOICE_BYTES: usize = 64 << 20;

/// Parses a choice table; sessions in the order they first appear, trials in file order (their
/// numbers must increase within a session). Errors name the file and line.
pub fn parse_choices_csv(text: &str, name: &str) -> Result<Vec<RecordedChoices>, String> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| l.trim_end_matches('\r').trim())
        .unwrap_or("");
    if header.replace(' ', "") != "session,trial,choice,reward" {
        return Err(format!(
            "{name}:1: expected the header `session,trial,choice,reward`, got `{}`",
            header.chars().take(80).collect::<String>()
        ));
    }
    let mut out: Vec<RecordedChoices> = Vec::new();
    let mut last_trial: Vec<i64> = Vec::new();
    for (i, raw) in lines {
        let ln = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 4 {
            return Err(format!(
                "{name}:{ln}: expected 4 comma-separated fields, got {}",
                f.len()
            ));
        }
        if f[0].is_empty() {
            return Err(format!("{name}:{ln}: session: empty"));
        }
        let trial: i64 = f[1].parse().map_err(|_| {
            format!(
                "{name}:{ln}: trial: expected a whole number, got `{}`",
                f[1]
            )
        })?;
        let chose_b = match f[2] {
            "A" | "a" | "0" => false,
            "B" | "b" | "1" => true,
            other => {
                return Err(format!(
                    "{name}:{ln}: choice: unknown label `{other}`; expected A or B (or 0 or 1)"
                ))
            }
        };
        let reward: f64 = f[3]
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("{name}:{ln}: reward: expected a number, got `{}`", f[3]))?;
        let k = match out.iter().position(|s| s.session == f[0]) {
            Some(k) => k,
            None => {
                out.push(RecordedChoices {
                    session: f[0].to_string(),
                    chose_b: Vec::new(),
                    reward: Vec::new(),
                });
                last_trial.push(i64::MIN);
                out.len() - 1
            }
        };
        if trial <= last_trial[k] {
            return Err(format!(
                "{name}:{ln}: trial: {trial} does not follow trial {} of session `{}`; list each session's trials in order",
                last_trial[k], f[0]
            ));
        }
        last_trial[k] = trial;
        out[k].chose_b.push(chose_b);
        out[k].reward.push(reward);
    }
    if out.is_empty() {
        return Err(format!("{name}: no trials (only a header)"));
    }
    Ok(out)
}

/// Reads and parses the configured choice file.
pub fn load_choices(c: &ChoicesConfig) -> Result<Vec<RecordedChoices>, String> {
    let bytes =
        std::fs::read(&c.file).map_err(|e| format!("{}: cannot read choice data: {e}", c.file))?;
    if bytes.len() > MAX_CHOICE_BYTES {
        return Err(format!("{}: larger than 64 MiB", c.file));
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", c.file))?;
    parse_choices_csv(text, &c.file)
}

/// One session ready for the kernels: inputs of both options per trial, choices, reward
/// signals and initial weights.
#[derive(Debug, Clone)]
pub struct TrialData {
    /// `T x 2 x N_IN`.
    pub x: Vec<f64>,
    /// Whether B was chosen.
    pub chose_b: Vec<bool>,
    /// Reward signal `R - E[R]`.
    pub r: Vec<f64>,
    /// Initial weights.
    pub w0: Vec<f64>,
    /// Trials fitted (the first ones); the rest are held out.
    pub n_fit: usize,
}

impl TrialData {
    /// The first `n` trials as a kernel session.
    pub fn session(&self, n: usize) -> ChoiceSession<'_, f64> {
        ChoiceSession {
            x: &self.x[..n * 2 * N_IN],
            chose_b: &self.chose_b[..n],
            r: &self.r[..n],
        }
    }
    /// Number of trials.
    pub fn len(&self) -> usize {
        self.chose_b.len()
    }
    /// Whether there are no trials.
    pub fn is_empty(&self) -> bool {
        self.chose_b.is_empty()
    }
}

/// A recorded session's inputs (seeded), reward signals and initial weights.
pub fn trial_data(
    cfg: &FitBehaviorConfig,
    rec: &RecordedChoices,
    cutoff: f64,
    rng: &mut Rng,
) -> TrialData {
    let w0 = initial_weights(cfg, rng);
    let t = rec.chose_b.len();
    let mut x = Vec::with_capacity(t * 2 * N_IN);
    let mut buf = [0.0; 2];
    for _ in 0..t {
        for odor in [0u8, 1] {
            odor_input(cfg, odor, rng, &mut buf);
            x.extend_from_slice(&buf);
        }
    }
    let mut avg = RewardAverage::<f64, { super::model::REWARD_WINDOW }>::new();
    let r = rec.reward.iter().map(|&rew| avg.signal(rew)).collect();
    let n_fit = ((cutoff * t as f64).round() as usize).clamp(1, t);
    TrialData {
        x,
        chose_b: rec.chose_b.clone(),
        r,
        w0,
        n_fit,
    }
}

/// `-log P(choice)` of every trial of a session under `rule` (the whole session run through).
pub fn trial_nlls<R: RewardRule<f64>>(
    rule: &R,
    net: &BehaviorNet<f64>,
    act: Activation,
    hidden: usize,
    d: &TrialData,
) -> Result<Vec<f64>, RunError> {
    let mut w = d.w0.clone();
    let mut sc = vec![0.0; loss_scratch_len(hidden)];
    let mut p_a = vec![0.0; d.len()];
    let s = d.session(d.len());
    choice_loss(
        rule,
        net,
        act,
        hidden,
        &mut w,
        &s,
        &mut sc,
        Some(&mut p_a),
        None,
    )
    .map_err(|e| kernel_err("trial likelihood", e))?;
    Ok(p_a
        .iter()
        .zip(&d.chose_b)
        .map(|(&p, &b)| -(if b { 1.0 - p } else { p }).max(1e-300).ln())
        .collect())
}

/// Fits the rule to the fitted parts of `data` (Adam, undo-and-halve, one step per session),
/// asking `stop` before every epoch.
pub fn fit_trials(
    cfg: &FitBehaviorConfig,
    rule: FitRule,
    data: &[TrialData],
    progress: Option<&crate::progress::Progress>,
    store: Option<&crate::rundir::Store>,
    stop: &Stop<'_>,
) -> Result<BehaviorFit, RunError> {
    let net = network(cfg);
    let hidden = cfg.network.units();
    let act = cfg.network.activation();
    let max_len = data.iter().map(|d| d.n_fit).max().unwrap_or(0);
    let mut scratch = vec![0.0; adjoint_scratch_len(N_IN, hidden, max_len)];
    let mut gradient = |rule: &FitRule, k: usize, grad: &mut [f64]| {
        let d = &data[k];
        let s = d.session(d.n_fit);
        let n = adjoint_scratch_len(N_IN, hidden, d.n_fit);
        choice_gradient_adjoint(rule, &net, act, hidden, &d.w0, &s, &mut scratch[..n], grad)
    };
    fit_sessions(cfg, rule, data.len(), &mut gradient, progress, store, stop)
}

/// `evaluation.cutoff` (validated present for trial-level data).
pub fn cutoff_of(cfg: &FitBehaviorConfig) -> f64 {
    cfg.evaluation
        .as_ref()
        .and_then(|e| e.cutoff)
        .map(|c| c.0)
        .unwrap_or(0.7)
}

/// The bias-only null: a constant `P(A)`, the fraction of A choices among the fitted trials of
/// `data` (with one pseudo-choice of each, so it is never 0 or 1), and every trial's
/// `-log P(choice)` under it.
pub fn bias_only(data: &[TrialData]) -> (f64, Vec<Vec<f64>>) {
    let (n_a, n_fit) = data.iter().fold((0, 0), |(a, n), d| {
        (
            a + d.chose_b[..d.n_fit].iter().filter(|b| !**b).count(),
            n + d.n_fit,
        )
    });
    let p_a = (n_a as f64 + 0.5) / (n_fit as f64 + 1.0);
    let nll = data
        .iter()
        .map(|d| {
            d.chose_b
                .iter()
                .map(|&b| -(if b { 1.0 - p_a } else { p_a }).ln())
                .collect()
        })
        .collect();
    (p_a, nll)
}

/// The reference rule of a choices config, if any.
pub fn reference_rule(c: &ChoicesConfig) -> Option<RewardTaylorRule<f64>> {
    c.reference.as_ref().map(|terms| {
        let mut r = RewardTaylorRule::zeros();
        r.theta = theta_from(terms.iter().map(|(k, v)| (k, v.0)), reward_term_key);
        r
    })
}

/// The initial rule and mask of a choices fit.
pub fn start_rule(cfg: &FitBehaviorConfig, master: &Rng) -> FitRule {
    let mask = term_mask(cfg.rule.trainable.as_deref());
    initial_rule(cfg, mask, &mut master.substream(0))
}

/// Pearson correlation of two equal-length samples (NaN when either is constant).
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// The rule inputs `(x_j, h_i, w_ij, r)` the fitted network visits on `d` (every synapse at
/// every trial's update with the chosen option's input), for comparing two rules' `dw` where
/// it matters.
pub fn visited_inputs<R: RewardRule<f64>>(
    rule: &R,
    net: &BehaviorNet<f64>,
    act: Activation,
    hidden: usize,
    d: &TrialData,
) -> Vec<[f64; 4]> {
    let mut w = d.w0.clone();
    let mut h = vec![0.0; hidden];
    let mut out = Vec::with_capacity(d.len() * w.len());
    for t in 0..d.len() {
        let k = 2 * t + usize::from(d.chose_b[t]);
        let x = &d.x[k * N_IN..(k + 1) * N_IN];
        if synplast_kernels::choices::hidden_activity(act, &w, x, &mut h).is_err() {
            break;
        }
        for i in 0..hidden {
            for j in 0..N_IN {
                out.push([x[j], h[i], w[i * N_IN + j], d.r[t]]);
            }
        }
        if synplast_kernels::behavior::apply_rule(rule, net, &mut w, x, &h, d.r[t]).is_err() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_tables_parse_and_name_bad_lines() {
        let t = "session,trial,choice,reward\ns1,1,A,1\ns2,1,1,0\ns1,2,B,0.5\n\ns2,2,a,0\n";
        let s = parse_choices_csv(t, "c.csv").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].chose_b, vec![false, true]);
        assert_eq!(s[0].reward, vec![1.0, 0.5]);
        assert_eq!(s[1].chose_b, vec![true, false]);
        for (bad, want) in [
            ("session,trial,odor,reward\n", "expected the header"),
            (
                "session,trial,choice,reward\ns,1,C,1\n",
                "c.csv:2: choice: unknown label `C`",
            ),
            (
                "session,trial,choice,reward\ns,1,A\n",
                "c.csv:2: expected 4",
            ),
            ("session,trial,choice,reward\ns,1,A,x\n", "c.csv:2: reward"),
            (
                "session,trial,choice,reward\ns,1,A,NaN\n",
                "c.csv:2: reward",
            ),
            (
                "session,trial,choice,reward\ns,2,A,1\ns,1,A,1\n",
                "c.csv:3: trial",
            ),
            ("session,trial,choice,reward\n,1,A,1\n", "session: empty"),
            ("session,trial,choice,reward\n", "no trials"),
        ] {
            let e = parse_choices_csv(bad, "c.csv").unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn correlation_of_a_line_is_one() {
        let a = [1.0, 2.0, 3.0, 5.0];
        let b: Vec<f64> = a.iter().map(|v| 2.0 * v - 1.0).collect();
        assert!((correlation(&a, &b) - 1.0).abs() < 1e-12);
        let c: Vec<f64> = a.iter().map(|v| -v).collect();
        assert!((correlation(&a, &c) + 1.0).abs() < 1e-12);
    }
}
