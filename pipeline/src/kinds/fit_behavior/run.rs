//! The runs of `fit_behavior`: simulated sessions (fit, then score on fresh sessions) and
//! flies (each fly fitted with and without the added terms, one record per fly).

use super::config::{
    BehaviorData, BehaviorRuleKind, FitBehaviorConfig, FliesConfig, Likelihood,
    SimulatedBehaviorConfig,
};
use super::fit::*;
use super::flies::*;
use super::model::*;
use super::score::*;
use crate::config::terms::{reward_term_key, reward_term_label};
use crate::error::{kernel_error as kernel_err, RunError};
use crate::history::coefficient_svg;
use crate::io::{csv_bytes, npy_bytes};
use crate::metrics::{json_number, mean, median};
use crate::parallel;
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use serde_json::{json, Value};
use synplast_kernels::reward::REWARD_TERMS;

/// Runs a `fit_behavior` experiment into `dir`; returns the summary printed at the end.
pub fn run(cfg: &FitBehaviorConfig, dir: &RunDir) -> Result<String, RunError> {
    match &cfg.data {
        BehaviorData::Simulated(sim) => run_simulated(cfg, sim, dir),
        BehaviorData::Flies(f) if f.likelihood == Likelihood::Trial => {
            super::flies_trial::run_flies_trials(cfg, f, dir)
        }
        BehaviorData::Flies(f) => run_flies(cfg, f, dir),
        BehaviorData::Choices(c) => super::choices_run::run_choices(cfg, c, dir),
    }
}

pub(super) fn history_artifacts(
    dir: &RunDir,
    fit: &BehaviorFit,
    labels: &[String],
) -> Result<(), RunError> {
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    crate::history::put_history(dir, "params", "epoch", &label_refs, &fit.param_history)?;
    crate::history::put_loss(
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
    dir: &RunDir,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let teacher = teacher_rule(sim);
    let n_train = sim.trajectories.get();
    let n_eval = cfg
        .evaluation
        .as_ref()
        .and_then(|e| e.trajectories.map(crate::config::Count::get))
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
    let progress = Progress::new(cfg.fit.epochs.get(), "epochs", dir.quiet());
    let store = dir.store();
    let fit = fit_with_checkpoints(cfg, rule0, train, Some(&progress), Some(&store));
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
    dir.put(
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
        "config_hash": dir.config_hash(),
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
        dir.put(
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
    dir.put_json("metrics.json", &metrics)?;
    store.remove_state(FIT_STATE);
    Ok(summary)
}

/// One fly's finished fits, as written to `flies/fly-<id>.json` (exact floats), so a resumed
/// run does not fit that fly again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FlyResult {
    id: u32,
    presentations: usize,
    null_nll: f64,
    without: Vec<f64>,
    without_nll: f64,
    with: Option<(Vec<f64>, f64)>,
}

/// The folder of the per-fly records.
pub const FLY_RECORDS: &str = "flies";

/// The term masks of a fly comparison: the fitted terms, the added ones, and both together.
pub(super) struct FlyMasks {
    pub base: [bool; REWARD_TERMS],
    pub added: Vec<usize>,
    pub with: Option<[bool; REWARD_TERMS]>,
}

/// `rule.trainable` and `rule.added_terms` as masks.
pub(super) fn fly_masks(cfg: &FitBehaviorConfig) -> FlyMasks {
    let base = term_mask(cfg.rule.trainable.as_deref());
    let added: Vec<usize> = cfg
        .rule
        .added_terms
        .iter()
        .flatten()
        .filter_map(|k| reward_term_key(k))
        .collect();
    let with = (!added.is_empty()).then(|| {
        let mut m = base;
        added.iter().for_each(|&k| m[k] = true);
        m
    });
    FlyMasks { base, added, with }
}

/// Runs `fit_fly` for every fly in parallel, one record per fly in
/// `flies/<prefix>fly-<id>.json`: a fly
/// whose record is there (a resumed run) is read back, not fitted again; a stop request
/// between flies ends the run as interrupted. `fits` fits per fly size the progress bar.
pub(super) fn per_fly<T, F>(
    cfg: &FitBehaviorConfig,
    data: &[(u32, FlyChoices)],
    fits: usize,
    prefix: &str,
    dir: &RunDir,
    fit_fly: F,
) -> Result<Vec<T>, RunError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send,
    F: Fn(u32, &FlyChoices, &Progress) -> Result<T, RunError> + Sync,
{
    let progress = Progress::new(
        cfg.fit.epochs.get() * data.len() * fits,
        "epochs",
        dir.quiet(),
    );
    let store = dir.store();
    store.record_folder(FLY_RECORDS)?;
    let results: Vec<Result<T, RunError>> = parallel::map(data, |(id, c)| {
        let key = format!("{prefix}fly-{id:02}");
        if let Some(r) = store.record::<T>(FLY_RECORDS, &key)? {
            progress.tick(cfg.fit.epochs.get() * fits, None);
            return Ok(r);
        }
        if crate::interrupt::requested() {
            return Err(RunError::interrupted());
        }
        let r = fit_fly(*id, c, &progress)?;
        store.save_record(FLY_RECORDS, &key, &r)?;
        Ok(r)
    });
    progress.finish();
    results.into_iter().collect()
}

fn run_flies(
    cfg: &FitBehaviorConfig,
    flies: &FliesConfig,
    dir: &RunDir,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let data = load_flies(flies).map_err(RunError::new)?;
    let FlyMasks {
        base,
        added,
        with: with_mask,
    } = fly_masks(cfg);
    let fits = 1 + usize::from(with_mask.is_some());
    let results: Vec<FlyResult> = per_fly(cfg, &data, fits, "", dir, |id, c, progress| {
        let mut rng = master.substream(id);
        let d = fly_session(cfg, c, &mut rng);
        let sessions = std::slice::from_ref(&d);
        let null_nll =
            session_nll(&null_rule(), cfg, &d).map_err(|e| kernel_err("null model", e))?;
        let fit_one = |mask: [bool; REWARD_TERMS]| -> Result<(Vec<f64>, f64), RunError> {
            let r0 = initial_rule(cfg, mask, &mut master.substream(1000 + id));
            let f = fit(cfg, r0, sessions, Some(progress))?;
            let nll = session_nll(&f.rule, cfg, &d)
                .map_err(|e| kernel_err(&format!("fly {id}: fitted rule"), e))?;
            Ok((f.rule.params(), nll))
        };
        let (without, without_nll) = fit_one(base)?;
        let with = with_mask.map(fit_one).transpose()?;
        Ok(FlyResult {
            id,
            presentations: d.len(),
            null_nll,
            without,
            without_nll,
            with,
        })
    })?;
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
    dir.put(
        "theta_without.npy",
        &npy_bytes(&[n, REWARD_TERMS], &theta_without),
    )?;
    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_behavior",
        "seed": seed,
        "config_hash": dir.config_hash(),
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
        dir.put(
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
        dir.put(
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
        dir.put(
            "flies_deviance.svg",
            crate::plot::paired_bars(
                "Held-in percent deviance explained per fly",
                ["with weight terms", "without"],
                &bars,
            )
            .as_bytes(),
        )?;
    } else {
        dir.put(
            "flies.csv",
            &csv_bytes(&["fly", "presentations", "percent_deviance"], &rows),
        )?;
    }
    dir.put_json("metrics.json", &metrics)?;
    Ok(summary)
}
