//! Uncertainty of trial-level fits (`docs/fit_behavior.md#uncertainty`): standard errors from
//! the observed Fisher information, and a seeded bootstrap over sessions.
//!
//! Observed Fisher information: `H = d^2 NLL / dtheta^2` over the trainable parameters, with
//! `NLL = sum_t -log P(c_t)` the **total** (not mean) negative log-likelihood of the fitted
//! trials, at the fitted point. Column `k` of `H` is the central difference
//! `(g(theta + h_k e_k) - g(theta - h_k e_k)) / (2 h_k)` of the exact adjoint gradient `g` of
//! [`synplast_kernels::choices::choice_gradient_adjoint`] (times the number of fitted trials),
//! `h_k = 1e-5 (1 + |theta_k|)`; then `H <- (H + H^T) / 2`. With `H = sum_j l_j v_j v_j^T`
//! (eigenvalues descending), a direction with `l_j <= 1e-8 l_1` (or negative) is undetermined
//! by the data: every coefficient whose loading `|v_j[k]|` on it exceeds 0.01 is "not
//! meaningful" (no standard error). The others get `se_k = sqrt(sum_{j determined} v_j[k]^2 /
//! l_j)`, the diagonal of `H^-1` (the pseudo-inverse over the determined directions); the 95%
//! interval is `theta_k +- 1.96 se_k`.
//!
//! Caveat: the fit minimises the NLL **plus** an L1 penalty, so the fitted point is not a
//! stationary point of the likelihood where the penalty is active (a coefficient held at 0 by
//! L1 in particular); the intervals are then approximate (a local quadratic picture of the
//! likelihood around the penalised estimate), not exact Wald intervals.

use super::choices::{fit_trials, TrialData};
use super::config::FitBehaviorConfig;
use super::fit::Stop;
use super::model::{network, FitRule, N_IN};
use crate::error::RunError;
use crate::fit::identify::standard_errors;
use crate::linalg::symmetric_eigen;
use crate::metrics::percentile;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use synplast_kernels::choices::{adjoint_scratch_len, choice_gradient_adjoint};
use synplast_kernels::reward::RewardRule;
use synplast_kernels::KernelError;

/// Half-width of a 95% interval in standard errors.
pub const Z95: f64 = 1.96;
/// Relative step of the central differences.
const STEP: f64 = 1e-5;

/// Standard errors of a fit's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uncertainty {
    /// One entry per parameter of the rule: the standard error, or `None` where the parameter
    /// is not trained or not meaningful.
    pub se: Vec<Option<f64>>,
    /// Eigenvalues of `H` over the trainable parameters, descending (empty when `H` could not
    /// be computed).
    pub eigenvalues: Vec<f64>,
    /// Trainable parameters without a meaningful standard error.
    pub not_meaningful: Vec<usize>,
}

impl Uncertainty {
    /// The 95% interval of parameter `k` at the estimate `theta`.
    pub fn interval(&self, k: usize, theta: f64) -> Option<(f64, f64)> {
        let se = self.se.get(k).copied().flatten()?;
        Some((theta - Z95 * se, theta + Z95 * se))
    }
}

/// Total `-log P(choice)` over the fitted trials of `data` and its gradient (into `grad`).
fn total_gradient(
    cfg: &FitBehaviorConfig,
    rule: &FitRule,
    data: &[TrialData],
    scratch: &mut [f64],
    grad: &mut [f64],
) -> Result<f64, KernelError> {
    let net = network(cfg);
    let (act, hidden) = (cfg.network.activation(), cfg.network.units());
    let mut g = vec![0.0; grad.len()];
    grad.iter_mut().for_each(|v| *v = 0.0);
    let mut total = 0.0;
    for d in data {
        let n = d.n_fit;
        let len = adjoint_scratch_len(N_IN, hidden, n);
        let loss = choice_gradient_adjoint(
            rule,
            &net,
            act,
            hidden,
            &d.w0,
            &d.session(n),
            &mut scratch[..len],
            &mut g,
        )?;
        total += loss * n as f64;
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b * n as f64;
        }
    }
    Ok(total)
}

/// The observed Fisher information (module docs) over the trainable parameters of `rule` on
/// the fitted trials of `data`: their indices and the symmetric `m x m` matrix, row-major.
pub fn observed_fisher(
    cfg: &FitBehaviorConfig,
    rule: &FitRule,
    data: &[TrialData],
) -> Result<(Vec<usize>, Vec<f64>), KernelError> {
    let idx: Vec<usize> = (0..rule.n_params())
        .filter(|&k| rule.is_trainable(k))
        .collect();
    let m = idx.len();
    let max_len = data.iter().map(|d| d.n_fit).max().unwrap_or(0);
    let mut scratch = vec![0.0; adjoint_scratch_len(N_IN, cfg.network.units(), max_len)];
    let p0 = rule.params();
    let (mut gp, mut gm) = (vec![0.0; p0.len()], vec![0.0; p0.len()]);
    let mut h = vec![0.0; m * m];
    let mut r = rule.clone();
    for (c, &k) in idx.iter().enumerate() {
        let step = STEP * (1.0 + p0[k].abs());
        let mut p = p0.clone();
        p[k] = p0[k] + step;
        r.write_params(&p);
        total_gradient(cfg, &r, data, &mut scratch, &mut gp)?;
        p[k] = p0[k] - step;
        r.write_params(&p);
        total_gradient(cfg, &r, data, &mut scratch, &mut gm)?;
        for (row, &j) in idx.iter().enumerate() {
            h[row * m + c] = (gp[j] - gm[j]) / (2.0 * step);
        }
    }
    for a in 0..m {
        for b in 0..a {
            let s = 0.5 * (h[a * m + b] + h[b * m + a]);
            h[a * m + b] = s;
            h[b * m + a] = s;
        }
    }
    Ok((idx, h))
}

/// Standard errors from the observed Fisher matrix `h` (`m x m`) over the parameters `idx` of a
/// rule with `n_params` parameters ([`crate::fit::identify::standard_errors`]: undetermined
/// directions, loadings).
pub fn errors_from_fisher(h: &[f64], idx: &[usize], n_params: usize) -> Uncertainty {
    let m = idx.len();
    let mut se = vec![None; n_params];
    let (values, _) = symmetric_eigen(h, m);
    let mut not_meaningful = Vec::new();
    for (c, e) in standard_errors(h, m, 1.0).into_iter().enumerate() {
        match e {
            Some(v) => se[idx[c]] = Some(v),
            None => not_meaningful.push(idx[c]),
        }
    }
    Uncertainty {
        se,
        eigenvalues: values,
        not_meaningful,
    }
}

/// [`observed_fisher`] and [`errors_from_fisher`]; every trainable parameter is "not
/// meaningful" when the likelihood cannot be differentiated near the fit (weights blow up).
pub fn fisher_errors(cfg: &FitBehaviorConfig, rule: &FitRule, data: &[TrialData]) -> Uncertainty {
    match observed_fisher(cfg, rule, data) {
        Ok((idx, h)) => errors_from_fisher(&h, &idx, rule.n_params()),
        Err(_) => Uncertainty {
            se: vec![None; rule.n_params()],
            eigenvalues: Vec::new(),
            not_meaningful: (0..rule.n_params())
                .filter(|&k| rule.is_trainable(k))
                .collect(),
        },
    }
}

/// A bootstrap over sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bootstrap {
    /// Resamplings asked for.
    pub replicates: usize,
    /// Refits that failed (weights blew up); left out of the percentiles.
    pub failed: usize,
    /// 2.5 and 97.5 percentiles per parameter (`None` where not trained).
    pub low: Vec<Option<f64>>,
    /// See `low`.
    pub high: Vec<Option<f64>>,
    /// Standard deviation of each parameter over the refits.
    pub std: Vec<Option<f64>>,
}

/// Refits `start` on `replicates` resamplings of `data`'s sessions with replacement (each as
/// many sessions as `data`; resampling `b` from `rng.substream(b)`, so the same seed gives the
/// same intervals) and reports percentiles of every trainable parameter. `stop` is asked
/// before every epoch of every refit; `on_refit` is called as each refit ends.
pub fn bootstrap_sessions(
    cfg: &FitBehaviorConfig,
    start: &FitRule,
    data: &[TrialData],
    replicates: usize,
    rng: &Rng,
    stop: &Stop<'_>,
    on_refit: &(dyn Fn() + Sync),
) -> Result<Bootstrap, RunError> {
    let ids: Vec<u32> = (0..replicates as u32).collect();
    let fits: Vec<Option<Vec<f64>>> = crate::parallel::map(&ids, |&b| {
        let mut r = rng.substream(b);
        let sample: Vec<TrialData> = (0..data.len())
            .map(|_| data[r.below(data.len())].clone())
            .collect();
        let params = fit_trials(cfg, start.clone(), &sample, None, None, stop)
            .ok()
            .map(|f| f.rule.params());
        on_refit();
        params
    });
    if stop() {
        return Err(RunError::interrupted());
    }
    let ok: Vec<&Vec<f64>> = fits.iter().flatten().collect();
    let n_p = start.n_params();
    let column = |k: usize| ok.iter().map(|p| p[k]).collect::<Vec<f64>>();
    let per = |f: &dyn Fn(&[f64]) -> f64| -> Vec<Option<f64>> {
        (0..n_p)
            .map(|k| {
                let v = f(&column(k));
                (start.is_trainable(k) && v.is_finite()).then_some(v)
            })
            .collect()
    };
    Ok(Bootstrap {
        replicates,
        failed: fits.len() - ok.len(),
        low: per(&|v| percentile(v, 0.025)),
        high: per(&|v| percentile(v, 0.975)),
        std: per(&|v| {
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::super::choices::{trial_data, RecordedChoices};
    use super::super::config::{validate, FitBehaviorConfig};
    use super::super::model::{initial_rule, term_mask, Baits, REWARD_WINDOW};
    use super::*;
    use synplast_kernels::behavior::apply_rule;
    use synplast_kernels::choices::{hidden_activity, trial_nll};
    use synplast_kernels::reward::{RewardAverage, RewardTaylorRule};

    /// A trial-level fly config with the paper's linear network and the given terms.
    fn config(trainable: &str, odor_scale: f64, noise: f64, epochs: u32) -> FitBehaviorConfig {
        let text = format!(
            "name: t\nkind: fit_behavior\nseed: 1\nnetwork:\n  hidden: 0\ninput:\n  odor_scale: {odor_scale}\n  noise_std: {noise}\ndata:\n  flies:\n    likelihood: trial\nrule:\n  kind: taylor\n  trainable: {trainable}\nfit:\n  epochs: {epochs}\n  lr: 0.05\nevaluation:\n  cutoff: 0.5\n"
        );
        let mut c: FitBehaviorConfig =
            crate::config::parse_typed(&text, "t.yaml", validate).unwrap();
        super::super::config::fill_section_defaults(&mut c);
        c
    }

    /// A simulated agent on the baited task: the network of `cfg` run by `teacher`, choosing
    /// with the trial-level `P(A)`; every trial fitted.
    fn simulate(
        cfg: &FitBehaviorConfig,
        teacher: &RewardTaylorRule<f64>,
        rng: &mut Rng,
    ) -> TrialData {
        let t = 240;
        let placeholder = RecordedChoices {
            session: "sim".into(),
            chose_b: vec![false; t],
            reward: vec![0.0; t],
        };
        let mut d = trial_data(cfg, &placeholder, 1.0, rng);
        let net = network(cfg);
        let act = cfg.network.activation();
        let mut w = d.w0.clone();
        let (mut ha, mut hb) = (vec![0.0; 1], vec![0.0; 1]);
        let mut baits = Baits::default();
        let mut avg = RewardAverage::<f64, REWARD_WINDOW>::new();
        let probs = [[0.2, 0.8], [0.9, 0.1], [0.2, 0.8]];
        for k in 0..t {
            let (xa, xb) = (&d.x[4 * k..4 * k + 2], &d.x[4 * k + 2..4 * k + 4]);
            hidden_activity(act, &w, xa, &mut ha).unwrap();
            hidden_activity(act, &w, xb, &mut hb).unwrap();
            let (_, p_a) = trial_nll(net.readout * ha[0], net.readout * hb[0], false);
            baits.assign(probs[k / 80], rng);
            let b = rng.uniform() >= p_a;
            let r = avg.signal(baits.collect(u8::from(b)));
            d.chose_b[k] = b;
            d.r[k] = r;
            let (x, h) = if b { (xb, &hb) } else { (xa, &ha) };
            apply_rule(teacher, &net, &mut w, x, h, r).unwrap();
        }
        d
    }

    #[test]
    fn errors_from_a_known_matrix() {
        // H = diag(4, 1): se 1/2 and 1.
        let u = errors_from_fisher(&[4.0, 0.0, 0.0, 1.0], &[2, 5], 6);
        assert_eq!(u.se[2], Some(0.5));
        assert!((u.se[5].unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(u.se[0], None);
        assert!(u.not_meaningful.is_empty());
        assert_eq!(u.interval(2, 1.0), Some((1.0 - 0.98, 1.0 + 0.98)));
        // A correlated pair: the diagonal of the inverse, not 1 / H_kk.
        let u = errors_from_fisher(&[2.0, 1.0, 1.0, 2.0], &[0, 1], 2);
        assert!((u.se[0].unwrap() - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // Rank one, and a negative eigenvalue: the coefficients on them are not meaningful,
        // an independent one keeps its error.
        let h = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 9.0];
        let u = errors_from_fisher(&h, &[0, 1, 2], 3);
        assert_eq!(u.not_meaningful, vec![0, 1]);
        assert_eq!((u.se[0], u.se[1]), (None, None));
        assert!((u.se[2].unwrap() - 1.0 / 3.0).abs() < 1e-12);
        let u = errors_from_fisher(&[1.0, 0.0, 0.0, -1e-3], &[0, 1], 2);
        assert_eq!(u.not_meaningful, vec![1]);
        assert_eq!(u.se[0], Some(1.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 0.5), 2.5);
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 0.025), 1.075);
    }

    /// With noiseless inputs of 0 and 1, `x^2 = x`: the rule sees only `theta_x + theta_x^2`,
    /// so both are "not meaningful"; `x*r` is determined and keeps a standard error.
    #[test]
    fn two_identical_terms_are_not_meaningful() {
        let cfg = config("[x, x^2, x*r]", 1.0, 0.0, 300);
        let mut teacher = RewardTaylorRule::zeros();
        teacher.theta[super::super::model::term_mask(Some(&["x*r".into()]))
            .iter()
            .position(|m| *m)
            .unwrap()] = 1.0;
        let d = simulate(&cfg, &teacher, &mut Rng::new(5));
        // At the fitted point (away from it the observed information can be indefinite).
        let start = initial_rule(
            &cfg,
            term_mask(cfg.rule.trainable.as_deref()),
            &mut Rng::new(0),
        );
        let rule = fit_trials(&cfg, start, std::slice::from_ref(&d), None, None, &|| false)
            .unwrap()
            .rule;
        let keys: Vec<usize> = ["x", "x^2", "x*r"]
            .iter()
            .map(|k| crate::config::terms::reward_term_key(k).unwrap())
            .collect();
        let u = fisher_errors(&cfg, &rule, std::slice::from_ref(&d));
        let mut want = vec![keys[0], keys[1]];
        want.sort_unstable();
        assert_eq!(u.not_meaningful, want, "{u:?}");
        assert!(u.se[keys[2]].is_some_and(|s| s > 0.0 && s < 1.0), "{u:?}");
        // Without the duplicate, on the same session, both terms are determined.
        let cfg = config("[x, x*r]", 1.0, 0.0, 300);
        let start = initial_rule(
            &cfg,
            term_mask(cfg.rule.trainable.as_deref()),
            &mut Rng::new(0),
        );
        let rule = fit_trials(&cfg, start, std::slice::from_ref(&d), None, None, &|| false)
            .unwrap()
            .rule;
        let u = fisher_errors(&cfg, &rule, std::slice::from_ref(&d));
        assert!(u.not_meaningful.is_empty(), "{u:?}");
        assert!(u.se[keys[0]].is_some() && u.se[keys[2]].is_some());
    }

    /// On sessions simulated by a known rule, the Fisher standard error of the maximum
    /// likelihood estimate matches the spread of the estimates over independent sessions.
    #[test]
    fn fisher_errors_match_the_spread_over_simulated_sessions() {
        let cfg = config("[x*r]", 0.75, 0.05, 60);
        let k = crate::config::terms::reward_term_key("x*r").unwrap();
        let mut teacher = RewardTaylorRule::zeros();
        teacher.theta[k] = 2.0;
        let master = Rng::new(2026);
        let reps = 60;
        const SESSIONS: usize = 4;
        let mut estimates = Vec::new();
        let mut ses = Vec::new();
        for rep in 0..reps {
            // Four sessions a replicate (nearer the large-sample regime of the Fisher error).
            let mut rng = master.substream(rep);
            let sessions: Vec<TrialData> = (0..SESSIONS)
                .map(|_| simulate(&cfg, &teacher, &mut rng))
                .collect();
            let one = &sessions[..];
            let start = initial_rule(&cfg, term_mask(Some(&["x*r".into()])), &mut Rng::new(0));
            let mut rule = fit_trials(&cfg, start, one, None, None, &|| false)
                .unwrap()
                .rule;
            // Newton steps on the total NLL from Adam's estimate: the maximum likelihood point.
            let mut scratch = vec![0.0; adjoint_scratch_len(N_IN, 1, 240)];
            let mut g = vec![0.0; rule.n_params()];
            for _ in 0..8 {
                total_gradient(&cfg, &rule, one, &mut scratch, &mut g).unwrap();
                let (_, h) = observed_fisher(&cfg, &rule, one).unwrap();
                let mut p = rule.params();
                p[k] -= g[k] / h[0];
                rule.write_params(&p);
            }
            total_gradient(&cfg, &rule, one, &mut scratch, &mut g).unwrap();
            assert!(g[k].abs() < 1e-6, "not converged: {}", g[k]);
            estimates.push(rule.params()[k]);
            ses.push(fisher_errors(&cfg, &rule, one).se[k].unwrap());
        }
        let n = reps as f64;
        let mean = estimates.iter().sum::<f64>() / n;
        let spread = (estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let se = (ses.iter().map(|s| s * s).sum::<f64>() / n).sqrt();
        assert!(
            (se / spread - 1.0).abs() < 0.3,
            "Fisher se {se:.4} vs spread {spread:.4} (mean estimate {mean:.3})"
        );
        assert!(
            (mean - 2.0).abs() < 3.0 * spread / n.sqrt() + 0.1 * spread,
            "{mean}"
        );
    }
}
