//! The run of `fit_behavior` on trial-level choice data: fit on the first part of each session,
//! score the held-out rest against the two nulls (and a reference rule when given), AIC/BIC,
//! per-session table, metrics and artifacts.

use super::choices::*;
use super::config::{ChoicesConfig, FitBehaviorConfig};
use super::fit::{BehaviorFit, Stop};
use super::model::{network, null_rule};
use super::run::history_artifacts;
use super::score::percent_deviance;
use super::uncertainty::{bootstrap_sessions, fisher_errors, Bootstrap, Uncertainty};
use crate::error::RunError;
use crate::io::csv_bytes;
use crate::metrics::json_number;
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use serde_json::{json, Value};

/// Substream of the bootstrap's resamplings (resampling `b`: its substream `b`).
pub const BOOTSTRAP_STREAM: u32 = 9000;
use synplast_kernels::reward::RewardRule;

/// Mean of `v[range]` (NaN when empty).
fn mean_of(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Held-in and held-out mean `-log P(choice)` of one model over every session.
#[derive(Debug, Clone, Copy)]
struct Split {
    held_in: f64,
    held_out: f64,
}

fn split(per_session: &[Vec<f64>], data: &[TrialData]) -> Split {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (v, d) in per_session.iter().zip(data) {
        a.extend_from_slice(&v[..d.n_fit]);
        b.extend_from_slice(&v[d.n_fit..]);
    }
    Split {
        held_in: mean_of(&a),
        held_out: mean_of(&b),
    }
}

/// The number of held-out sessions (`evaluation.held_out_sessions`), checked against the table:
/// at least one session must be fitted.
pub fn held_out_sessions(
    cfg: &FitBehaviorConfig,
    sessions: usize,
    file: &str,
) -> Result<usize, String> {
    let k = cfg
        .evaluation
        .as_ref()
        .and_then(|e| e.held_out_sessions)
        .unwrap_or(0) as usize;
    if k >= sessions {
        return Err(format!(
            "{file}: evaluation.held_out_sessions is {k} but the table has {sessions} sessions: at least one must be fitted"
        ));
    }
    Ok(k)
}

/// Mean `-log P(choice)` over every trial of the held-out sessions `test`: the fit, the theta
/// = 0 network, the bias-only null of the fitted sessions (`train`), the reference rule.
/// `Null` without held-out sessions.
fn score_sessions(
    cfg: &FitBehaviorConfig,
    rule: &super::model::FitRule,
    reference: Option<&synplast_kernels::reward::RewardTaylorRule<f64>>,
    train: &[TrialData],
    test: &[TrialData],
    recs: &[RecordedChoices],
) -> Result<Value, RunError> {
    if test.is_empty() {
        return Ok(Value::Null);
    }
    let net = network(cfg);
    let (act, hidden) = (cfg.network.activation(), cfg.network.units());
    let all = |f: &dyn Fn(&TrialData) -> Result<Vec<f64>, RunError>| -> Result<f64, RunError> {
        let mut v = Vec::new();
        for d in test {
            v.extend(f(d)?);
        }
        Ok(mean_of(&v))
    };
    let fitted = all(&|d| trial_nlls(rule, &net, act, hidden, d))?;
    let null = all(&|d| trial_nlls(&null_rule(), &net, act, hidden, d))?;
    let (p_a, _) = bias_only(train);
    let bias = all(&|d| {
        Ok(d.chose_b
            .iter()
            .map(|&b| -(if b { 1.0 - p_a } else { p_a }).ln())
            .collect())
    })?;
    let refd = match reference {
        Some(r) => Some(all(&|d| trial_nlls(r, &net, act, hidden, d))?),
        None => None,
    };
    let first = recs.len() - test.len();
    Ok(json!({
        "sessions": recs[first..].iter().map(|r| r.session.clone()).collect::<Vec<_>>(),
        "trials": test.iter().map(TrialData::len).sum::<usize>(),
        "nll": json_number(fitted),
        "null_theta_zero_nll": json_number(null),
        "null_bias_only_nll": json_number(bias),
        "reference_nll": refd.map(json_number),
        "percent_deviance_vs_theta_zero": json_number(percent_deviance(fitted, null)),
        "percent_deviance_vs_bias_only": json_number(percent_deviance(fitted, bias)),
    }))
}

/// A choice table fitted and scored: everything [`run_choices`] writes, without files.
#[derive(Debug, Clone)]
pub struct TableFit {
    /// The fit: the rule, loss and parameter histories, undone steps and epochs.
    pub fit: BehaviorFit,
    /// The label of every parameter of the rule.
    pub labels: Vec<String>,
    /// Every parameter of the fitted rule (the untrained ones at their initial values).
    pub params: Vec<f64>,
    /// Fisher standard errors and eigenvalues.
    pub fisher: Uncertainty,
    /// The bootstrap over sessions (`evaluation.bootstrap > 0`).
    pub bootstrap: Option<Bootstrap>,
    /// `-log P(choice)` of every trial of every fitted session under the fit; its first
    /// `n_fit[s]` trials of session `s` are the fitted ones.
    pub fitted: Vec<Vec<f64>>,
    /// The same under theta = 0.
    pub null: Vec<Vec<f64>>,
    /// The same under the bias-only null.
    pub bias: Vec<Vec<f64>>,
    /// The same under the reference rule, when the config names one.
    pub reference: Option<Vec<Vec<f64>>>,
    /// Trials fitted in each fitted session.
    pub n_fit: Vec<usize>,
    /// `sessions.csv`: its header and rows.
    pub sessions_table: (Vec<&'static str>, Vec<Vec<f64>>),
    /// `metrics.json` but for `config_hash`.
    pub metrics: Value,
    /// The summary the command line prints.
    pub summary: String,
}

/// Runs `fit_behavior` on a choice table into `dir`.
pub fn run_choices(
    cfg: &FitBehaviorConfig,
    ch: &ChoicesConfig,
    dir: &RunDir,
) -> Result<String, RunError> {
    let recs = load_choices(ch).map_err(RunError::new)?;
    let progress = Progress::new(progress_total(cfg), "epochs", dir.quiet());
    let store = dir.store();
    let t = fit_table(
        cfg,
        ch,
        &recs,
        Some(&progress),
        Some(&store),
        &crate::interrupt::requested,
    );
    progress.finish();
    let t = t?;
    history_artifacts(dir, &t.fit, &t.labels)?;
    dir.put(
        "sessions.csv",
        &csv_bytes(&t.sessions_table.0, &t.sessions_table.1),
    )?;
    let mut metrics = t.metrics;
    metrics["config_hash"] = json!(dir.config_hash());
    dir.put_json("metrics.json", &metrics)?;
    store.remove_state(super::fit::FIT_STATE);
    Ok(t.summary)
}

/// The epochs [`fit_table`] counts into its progress bar: the fit's, and as many per bootstrap
/// refit.
pub fn progress_total(cfg: &FitBehaviorConfig) -> usize {
    let n_boot = cfg
        .evaluation
        .as_ref()
        .and_then(|e| e.bootstrap)
        .unwrap_or(0) as usize;
    cfg.fit.epochs.get() * (1 + n_boot)
}

/// Fits the rule of `cfg` to the parsed table `recs` (the data of `ch`, whose `file` names it
/// in messages and whose `reference` is scored beside the fit) and scores it, as
/// [`run_choices`] does, writing nothing: the first `evaluation.cutoff` of each session's
/// trials fitted, the rest and the last `evaluation.held_out_sessions` sessions scored, the
/// nulls, Fisher errors and the bootstrap. `progress` counts [`progress_total`] epochs;
/// `store` keeps the fit's checkpoints; `stop` is asked before every epoch (then the result
/// is [`RunError::interrupted`]).
pub fn fit_table(
    cfg: &FitBehaviorConfig,
    ch: &ChoicesConfig,
    recs: &[RecordedChoices],
    progress: Option<&Progress>,
    store: Option<&crate::rundir::Store>,
    stop: &Stop<'_>,
) -> Result<TableFit, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let cutoff = cutoff_of(cfg);
    let all: Vec<TrialData> = recs
        .iter()
        .enumerate()
        .map(|(k, r)| trial_data(cfg, r, cutoff, &mut master.substream(k as u32 + 1)))
        .collect();
    let held = held_out_sessions(cfg, recs.len(), &ch.file).map_err(RunError::new)?;
    // The fit, its nulls, intervals and table use the first sessions; the held-out ones are
    // scored apart, on every trial.
    let (data, test) = all.split_at(all.len() - held);
    let fit = fit_trials(cfg, start_rule(cfg, &master), data, progress, store, stop)?;
    let labels = fit.rule.labels();

    let net = network(cfg);
    let hidden = cfg.network.units();
    let act = cfg.network.activation();
    let nll_of = |rule: &dyn Fn(&TrialData) -> Result<Vec<f64>, RunError>| {
        data.iter().map(rule).collect::<Result<Vec<_>, _>>()
    };
    let fitted = nll_of(&|d| trial_nlls(&fit.rule, &net, act, hidden, d))?;
    let held_out = score_sessions(
        cfg,
        &fit.rule,
        reference_rule(ch).as_ref(),
        data,
        test,
        recs,
    )?;
    let null = nll_of(&|d| trial_nlls(&null_rule(), &net, act, hidden, d))?;
    let reference = reference_rule(ch);
    let refd = match &reference {
        Some(r) => Some(nll_of(&|d| trial_nlls(r, &net, act, hidden, d))?),
        None => None,
    };
    let (p_bias, bias) = bias_only(data);
    let n_fit: usize = data.iter().map(|d| d.n_fit).sum();
    let (sf, sn, sb) = (split(&fitted, data), split(&null, data), split(&bias, data));
    let sr = refd.as_ref().map(|r| split(r, data));
    let k = fit.rule.mask().iter().filter(|m| **m).count() as f64;
    let nll_total_in = sf.held_in * n_fit as f64;
    let aic = 2.0 * k + 2.0 * nll_total_in;
    let bic = k * (n_fit as f64).ln() + 2.0 * nll_total_in;
    let pd_null = percent_deviance(sf.held_out, sn.held_out);
    let pd_bias = percent_deviance(sf.held_out, sb.held_out);
    let dw_corr = reference.as_ref().map(|r| {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for d in data {
            for z in visited_inputs(&fit.rule, &net, act, hidden, d) {
                a.push(fit.rule.dw(z[0], z[1], z[2], z[3]));
                b.push(r.dw(z[0], z[1], z[2], z[3]));
            }
        }
        correlation(&a, &b)
    });

    let mut rows = Vec::new();
    for (s, d) in data.iter().enumerate() {
        let m = |v: &[Vec<f64>]| (mean_of(&v[s][..d.n_fit]), mean_of(&v[s][d.n_fit..]));
        let (fi, fo) = m(&fitted);
        let (ni, no) = m(&null);
        let (bi, bo) = m(&bias);
        let mut row = vec![
            s as f64,
            d.len() as f64,
            d.n_fit as f64,
            fi,
            fo,
            ni,
            no,
            bi,
            bo,
        ];
        if let Some(r) = &refd {
            let (ri, ro) = m(r);
            row.extend([ri, ro]);
        }
        rows.push(row);
    }
    let mut header = vec![
        "session",
        "trials",
        "fitted_trials",
        "nll_in",
        "nll_out",
        "null_nll_in",
        "null_nll_out",
        "bias_nll_in",
        "bias_nll_out",
    ];
    if refd.is_some() {
        header.extend(["reference_nll_in", "reference_nll_out"]);
    }
    let mut params = vec![0.0; fit.rule.n_params()];
    fit.rule.read_params(&mut params);
    let fisher = fisher_errors(cfg, &fit.rule, data);
    let n_boot = cfg
        .evaluation
        .as_ref()
        .and_then(|e| e.bootstrap)
        .unwrap_or(0) as usize;
    let boot = if n_boot > 0 {
        let epochs = cfg.fit.epochs.get();
        Some(bootstrap_sessions(
            cfg,
            &start_rule(cfg, &master),
            data,
            n_boot,
            &master.substream(BOOTSTRAP_STREAM),
            stop,
            &|| {
                if let Some(p) = progress {
                    p.tick(epochs, None);
                }
            },
        )?)
    } else {
        None
    };
    let coefficients: Vec<Value> = (0..params.len())
        .filter(|&k| fit.rule.is_trainable(k))
        .map(|k| {
            let ci = fisher.interval(k, params[k]);
            let mut o = json!({
                "term": labels[k],
                "estimate": params[k],
                "se": fisher.se[k].map(json_number),
                "ci95": ci.map(|(a, b)| json!([a, b])),
                "meaningful": fisher.se[k].is_some(),
            });
            if let Some(b) = &boot {
                o["bootstrap_ci95"] = match (b.low[k], b.high[k]) {
                    (Some(a), Some(c)) => json!([a, c]),
                    _ => Value::Null,
                };
                o["bootstrap_std"] = b.std[k].map(json_number).unwrap_or(Value::Null);
            }
            o
        })
        .collect();
    let model = |s: Split| json!({"held_in_nll": json_number(s.held_in), "held_out_nll": json_number(s.held_out)});
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_behavior",
        "seed": seed,
        "data": "choices",
        "likelihood": "trial",
        "sessions": data.len(),
        "trials": data.iter().map(TrialData::len).sum::<usize>(),
        "fitted_trials": n_fit,
        "cutoff": cutoff,
        "terms": labels,
        "params": params,
        "fitted": model(sf),
        "null_theta_zero": model(sn),
        "null_bias_only": model(sb),
        "bias_only_p_a": p_bias,
        "reference": sr.map(model),
        "held_out_percent_deviance_vs_theta_zero": json_number(pd_null),
        "held_out_percent_deviance_vs_bias_only": json_number(pd_bias),
        "aic": json_number(aic),
        "bic": json_number(bic),
        "trainable_params": k,
        "dw_correlation_with_reference": dw_corr.map(json_number),
        "skipped_steps": fit.skipped_steps,
        "reverted_epochs": fit.reverted_epochs,
        "coefficients": coefficients,
        "fisher_eigenvalues": fisher.eigenvalues,
        "bootstrap": boot.as_ref().map(|b| json!({"replicates": b.replicates, "failed": b.failed})),
        "held_out_sessions": held_out,
    });
    let mut s = format!(
        "{}: {} sessions, {} trials ({} fitted): held-out -log P(choice) {:.4} (theta = 0: {:.4}, bias only: {:.4}); held-out percent deviance {:.2} vs theta = 0, {:.2} vs bias only; AIC {:.1}, BIC {:.1}",
        cfg.name,
        data.len(),
        data.iter().map(TrialData::len).sum::<usize>(),
        n_fit,
        sf.held_out,
        sn.held_out,
        sb.held_out,
        pd_null,
        pd_bias,
        aic,
        bic
    );
    s.push_str("\ncoefficients, 95% intervals (Fisher");
    if boot.is_some() {
        s.push_str(&format!("; bootstrap over sessions, {n_boot} resamplings"));
    }
    s.push_str("):");
    for c in &coefficients {
        let pair = |v: &Value| match (v[0].as_f64(), v[1].as_f64()) {
            (Some(a), Some(b)) => format!("[{a:.4}, {b:.4}]"),
            _ => "not meaningful".into(),
        };
        s.push_str(&format!(
            "\n  {} = {:.4} {}",
            c["term"].as_str().unwrap_or(""),
            c["estimate"].as_f64().unwrap_or(f64::NAN),
            pair(&c["ci95"])
        ));
        if boot.is_some() {
            s.push_str(&format!(" bootstrap {}", pair(&c["bootstrap_ci95"])));
        }
    }
    if let (Some(r), Some(c)) = (sr, dw_corr) {
        s.push_str(&format!(
            "\nreference rule: held-out -log P(choice) {:.4}; correlation of the fitted dw with the reference's over the visited inputs {c:.3}",
            r.held_out
        ));
    }
    if let Some(nll) = held_out["nll"].as_f64() {
        s.push_str(&format!(
            "\nheld-out sessions {} ({} trials, none fitted): -log P(choice) {nll:.4} (theta = 0: {:.4}, bias only: {:.4})",
            held_out["sessions"],
            held_out["trials"],
            held_out["null_theta_zero_nll"].as_f64().unwrap_or(f64::NAN),
            held_out["null_bias_only_nll"].as_f64().unwrap_or(f64::NAN),
        ));
        if let Some(r) = held_out["reference_nll"].as_f64() {
            s.push_str(&format!(", reference rule {r:.4}"));
        }
    }
    Ok(TableFit {
        labels,
        params,
        fisher,
        bootstrap: boot,
        fitted,
        null,
        bias,
        reference: refd,
        n_fit: data.iter().map(|d| d.n_fit).collect(),
        sessions_table: (header, rows),
        metrics,
        summary: s,
        fit,
    })
}
