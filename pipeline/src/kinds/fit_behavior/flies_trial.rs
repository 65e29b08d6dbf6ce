//! The flies at the trial level (`data.flies.likelihood: trial`): each fly's reliable part,
//! the odor chosen on every trial and its reward, fitted by the trial-level likelihood, without
//! and with the added terms (`rule.added_terms`), on the first `evaluation.cutoff` of its trials;
//! scored on the rest against the theta = 0 network and the fly's own constant preference.
//! Across flies: the held-out improvement from the added terms (Wilcoxon signed-rank and sign
//! tests) and the sign of the reported coefficient.

use super::choices::{
    bias_only, cutoff_of, fit_trials, trial_data, trial_nlls, RecordedChoices, TrialData,
};
use super::config::{FitBehaviorConfig, FliesConfig};
use super::flies::{load_flies, FlyChoices};
use super::model::{initial_rule, network, null_rule};
use super::run::{fly_masks, per_fly, FlyMasks};
use super::score::percent_deviance;
use crate::config::terms::reward_term_label;
use crate::error::RunError;
use crate::io::{csv_bytes, npy_bytes};
use crate::metrics::{json_number, median};
use crate::rng::Rng;
use crate::rundir::RunDir;
use crate::stats::{sign_test_p, wilcoxon_signed_rank};
use serde_json::json;
use synplast_kernels::reward::{RewardRule, REWARD_TERMS};

/// A fly's trials: the odor of each accepted presentation and its reward.
pub fn fly_trials(id: u32, c: &FlyChoices) -> RecordedChoices {
    let mut out = RecordedChoices {
        session: format!("fly{id:02}"),
        chose_b: Vec::new(),
        reward: Vec::new(),
    };
    for ((&odor, &acc), &rew) in c.odor.iter().zip(&c.accept).zip(&c.reward) {
        if acc {
            out.chose_b.push(odor == 1);
            out.reward.push(rew);
        }
    }
    out
}

/// Mean of a slice (NaN when empty).
fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// One fly's finished fits, as written to `flies/fly-<id>.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct TrialFly {
    id: u32,
    trials: usize,
    fitted: usize,
    /// Held-in and held-out mean -log P(choice): theta = 0, bias only, without, with.
    null: (f64, f64),
    bias: (f64, f64),
    without: (f64, f64),
    with: Option<(f64, f64)>,
    theta_without: Vec<f64>,
    theta_with: Option<Vec<f64>>,
}

fn split(v: &[f64], d: &TrialData) -> (f64, f64) {
    (mean(&v[..d.n_fit]), mean(&v[d.n_fit..]))
}

/// Runs the trial-level fly fits into `dir`.
pub fn run_flies_trials(
    cfg: &FitBehaviorConfig,
    flies: &FliesConfig,
    dir: &RunDir,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let data = load_flies(flies).map_err(RunError::new)?;
    let cutoff = cutoff_of(cfg);
    let FlyMasks {
        base,
        added,
        with: with_mask,
    } = fly_masks(cfg);
    let fits = 1 + usize::from(with_mask.is_some());
    let net = network(cfg);
    let (act, hidden) = (cfg.network.activation(), cfg.network.units());
    let results: Vec<TrialFly> = per_fly(cfg, &data, fits, dir, |id, c, progress| {
        let rec = fly_trials(id, c);
        if rec.chose_b.len() < 2 {
            return Err(RunError::new(format!("fly {id}: fewer than 2 trials")));
        }
        let d = trial_data(cfg, &rec, cutoff, &mut master.substream(id));
        let one = std::slice::from_ref(&d);
        let fit_one = |mask: [bool; REWARD_TERMS]| -> Result<(Vec<f64>, (f64, f64)), RunError> {
            let r0 = initial_rule(cfg, mask, &mut master.substream(1000 + id));
            let f = fit_trials(cfg, r0, one, Some(progress), None)?;
            let nll = trial_nlls(&f.rule, &net, act, hidden, &d)?;
            let mut p = vec![0.0; f.rule.n_params()];
            f.rule.read_params(&mut p);
            Ok((p, split(&nll, &d)))
        };
        let (theta_without, without) = fit_one(base)?;
        let with = with_mask.map(fit_one).transpose()?;
        let null = split(&trial_nlls(&null_rule(), &net, act, hidden, &d)?, &d);
        let (_, mut bias) = bias_only(one);
        let bias = bias.remove(0);
        Ok(TrialFly {
            id,
            trials: d.len(),
            fitted: d.n_fit,
            null,
            bias: split(&bias, &d),
            without,
            with: with.as_ref().map(|w| w.1),
            theta_without,
            theta_with: with.map(|w| w.0),
        })
    })?;
    let report = added.first().copied();
    let mut rows = Vec::new();
    let mut flies_json = Vec::new();
    let mut diffs = Vec::new();
    let mut coefs = Vec::new();
    let mut bars = Vec::new();
    for r in &results {
        let pd = |m: (f64, f64)| {
            (
                percent_deviance(m.1, r.null.1),
                percent_deviance(m.1, r.bias.1),
            )
        };
        let (pd0, pdb) = pd(r.without);
        let mut row = vec![
            r.id as f64,
            r.trials as f64,
            r.fitted as f64,
            r.without.0,
            r.without.1,
            r.null.1,
            r.bias.1,
            pd0,
            pdb,
        ];
        let mut obj = json!({
            "fly": r.id,
            "trials": r.trials,
            "fitted_trials": r.fitted,
            "held_in_nll_without": json_number(r.without.0),
            "held_out_nll_without": json_number(r.without.1),
            "held_out_nll_theta_zero": json_number(r.null.1),
            "held_out_nll_bias_only": json_number(r.bias.1),
            "held_out_percent_deviance_without": json_number(pd0),
            "held_out_percent_deviance_without_vs_bias_only": json_number(pdb),
            "theta_without": r.theta_without,
        });
        if let (Some(w), Some(t)) = (r.with, &r.theta_with) {
            let (pw0, _) = pd(w);
            let coef = report.map(|k| t[k]).unwrap_or(f64::NAN);
            diffs.push(r.without.1 - w.1);
            coefs.push(coef);
            row.extend([w.0, w.1, pw0, coef]);
            obj["held_in_nll_with"] = json_number(w.0);
            obj["held_out_nll_with"] = json_number(w.1);
            obj["held_out_percent_deviance_with"] = json_number(pw0);
            obj["weight_coefficient"] = json_number(coef);
            obj["theta_with"] = json!(t);
            bars.push((format!("{}", r.id), vec![(pw0, pd0)]));
        }
        rows.push(row);
        flies_json.push(obj);
    }
    let n = results.len();
    let labels: Vec<String> = (0..REWARD_TERMS).map(reward_term_label).collect();
    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_behavior",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "likelihood": "trial",
        "cutoff": cutoff,
        "terms": labels,
        "trainable_without": (0..REWARD_TERMS).filter(|&k| base[k]).map(reward_term_label).collect::<Vec<_>>(),
        "flies": flies_json,
        "median_held_out_percent_deviance_without": json_number(median(&rows.iter().map(|r| r[7]).collect::<Vec<_>>())),
        "median_held_out_percent_deviance_without_vs_bias_only": json_number(median(&rows.iter().map(|r| r[8]).collect::<Vec<_>>())),
    });
    let mut header = vec![
        "fly",
        "trials",
        "fitted_trials",
        "held_in_nll_without",
        "held_out_nll_without",
        "held_out_nll_theta_zero",
        "held_out_nll_bias_only",
        "held_out_percent_deviance_without",
        "held_out_percent_deviance_without_vs_bias_only",
    ];
    let mut summary = format!(
        "{}: {n} flies at the trial level, median held-out percent deviance {:.2} against theta = 0 and {:.2} against each fly's constant preference",
        cfg.name,
        median(&rows.iter().map(|r| r[7]).collect::<Vec<_>>()),
        median(&rows.iter().map(|r| r[8]).collect::<Vec<_>>()),
    );
    if with_mask.is_some() {
        header.extend([
            "held_in_nll_with",
            "held_out_nll_with",
            "held_out_percent_deviance_with",
            "weight_coefficient",
        ]);
        let improved = diffs.iter().filter(|d| **d > 0.0).count();
        let worse = diffs.iter().filter(|d| **d < 0.0).count();
        let negative = coefs.iter().filter(|c| **c < 0.0).count();
        let wil = wilcoxon_signed_rank(&diffs);
        let sign = sign_test_p(improved, improved + worse);
        let term = report.map(reward_term_label).unwrap_or_default();
        metrics["added_terms"] = json!(added
            .iter()
            .map(|&k| reward_term_label(k))
            .collect::<Vec<_>>());
        metrics["reported_coefficient"] = json!(term);
        metrics["summary"] = json!({
            "flies": n,
            "held_out_improved_with_added_terms": improved,
            "held_out_worse_with_added_terms": worse,
            "wilcoxon": wil,
            "sign_test_p_two_sided": sign,
            "negative_coefficient": negative,
            "median_coefficient": json_number(median(&coefs)),
            "median_held_out_percent_deviance_with": json_number(median(&rows.iter().filter_map(|r| r.get(11).copied()).collect::<Vec<_>>())),
        });
        summary.push_str(&format!(
            "\nwith {}: held-out -log P(choice) lower for {improved} of {n} flies ({worse} higher; Wilcoxon p = {:.4}, sign test p = {sign:.4}); the {term} coefficient is negative for {negative} of {n} (median {:.4})",
            metrics["added_terms"],
            wil.p_two_sided,
            median(&coefs)
        ));
        dir.put(
            "flies_deviance.svg",
            crate::plot::paired_bars(
                "Held-out percent deviance explained per fly (trial level)",
                ["with the added terms", "without"],
                &bars,
            )
            .as_bytes(),
        )?;
        let tw: Vec<f64> = results
            .iter()
            .flat_map(|r| r.theta_with.clone().unwrap_or_default())
            .collect();
        dir.put("theta_with.npy", &npy_bytes(&[n, REWARD_TERMS], &tw))?;
    }
    let tw: Vec<f64> = results
        .iter()
        .flat_map(|r| r.theta_without.clone())
        .collect();
    dir.put("theta_without.npy", &npy_bytes(&[n, REWARD_TERMS], &tw))?;
    dir.put("flies.csv", &csv_bytes(&header, &rows))?;
    dir.put_json("metrics.json", &metrics)?;
    Ok(summary)
}
