//! The run of `rule_filter`: rules drawn, simulated in parallel, one record each, filtered;
//! the tables, arrays and metrics.

use super::candidate::{param_names, simulate_candidate};
use super::config::RuleFilterConfig;
use crate::error::RunError;
use crate::io::{csv_bytes, npy_bytes};
use crate::parallel;
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use crate::sim::fsbi::{Plausibility, CONSTRAINTS, TYPES};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One candidate's parameters (`[tau_pre s, tau_post s, alpha, beta, gamma, kappa]` per type in
/// `ee, ei, ie, ii` order; static types are all zero) and outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleRecord {
    /// Index of the rule.
    pub index: u32,
    /// 24 parameters.
    pub params: Vec<f64>,
    /// Metrics as a JSON object.
    pub metrics: serde_json::Value,
    /// Every required constraint holds.
    pub accepted: bool,
}

/// Draws rule `k`'s parameters from the box prior.
pub fn draw(cfg: &RuleFilterConfig, k: u32) -> Vec<f64> {
    let mut rng = Rng::new(cfg.seed.unwrap_or(0)).substream(k);
    let mut p = vec![0.0; 24];
    for (t, name) in TYPES.iter().enumerate() {
        if cfg.types.iter().any(|x| x.name() == *name) {
            for j in 0..6 {
                let (lo, hi) = if j < 2 {
                    (cfg.prior_tau[0].0, cfg.prior_tau[1].0)
                } else {
                    (cfg.prior_coef[0].0, cfg.prior_coef[1].0)
                };
                p[t * 6 + j] = lo + (hi - lo) * rng.uniform();
            }
        }
    }
    p
}

fn accepted(cfg: &RuleFilterConfig, m: &Plausibility) -> bool {
    m.pass.iter().all(|(k, ok)| {
        *ok || cfg
            .require
            .as_ref()
            .is_some_and(|r| !r.iter().any(|x| x.name() == k))
    })
}

/// The folder of the per-rule records.
pub const RULE_RECORDS: &str = "rules";

/// Runs a `rule_filter` experiment into `dir` (continuing from the rule files already there).
pub fn run(cfg: &RuleFilterConfig, dir: &RunDir) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let store = dir.store();
    store.record_folder(RULE_RECORDS)?;
    let k_all: Vec<u32> = (0..cfg.rules.0).collect();
    let progress = Progress::new(k_all.len(), "rules", dir.quiet());
    let results: Vec<Result<Option<RuleRecord>, RunError>> = parallel::map(&k_all, |&k| {
        let key = format!("rule-{k}");
        if let Some(r) = store.record::<RuleRecord>(RULE_RECORDS, &key)? {
            progress.tick(1, None);
            return Ok(Some(r));
        }
        if crate::interrupt::requested() {
            return Ok(None);
        }
        let params = draw(cfg, k);
        let o = simulate_candidate(
            &cfg.network,
            &cfg.types,
            &params,
            seed,
            u64::from(k),
            || !crate::interrupt::requested(),
        )
        .map_err(|e| RunError::new(format!("rule {k}: {e}")))?;
        let Some(m) = o else {
            return Ok(None);
        };
        let rec = RuleRecord {
            index: k,
            params,
            metrics: serde_json::to_value(&m).unwrap_or_default(),
            accepted: accepted(cfg, &m),
        };
        store.save_record(RULE_RECORDS, &key, &rec)?;
        progress.tick(1, None);
        Ok(Some(rec))
    });
    progress.finish();
    let mut records = Vec::new();
    for r in results {
        match r? {
            Some(rec) => records.push(rec),
            None => return Err(RunError::interrupted()),
        }
    }
    let mut header: Vec<String> = vec!["rule".into()];
    header.extend(param_names());
    // Every constrained metric is a number in the record, named as its constraint (the last
    // constraint, mean_weights_bounded, is a verdict over the four mean weights).
    let metric_keys: Vec<&str> = CONSTRAINTS
        .iter()
        .copied()
        .filter(|c| *c != "mean_weights_bounded")
        .collect();
    header.extend(metric_keys.iter().map(|s| s.to_string()));
    header.push("aborted".into());
    header.push("accepted".into());
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let rows: Vec<Vec<f64>> = records
        .iter()
        .map(|r| {
            let mut row = vec![r.index as f64];
            row.extend(&r.params);
            row.extend(metric_keys.iter().map(|k| num(&r.metrics[k])));
            row.push(f64::from(u8::from(
                r.metrics["aborted"].as_bool() == Some(true),
            )));
            row.push(f64::from(u8::from(r.accepted)));
            row
        })
        .collect();
    let header_ref: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    dir.put("rules.csv", &csv_bytes(&header_ref, &rows))?;
    let acc: Vec<&RuleRecord> = records.iter().filter(|r| r.accepted).collect();
    dir.put(
        "accepted.csv",
        &csv_bytes(
            &header_ref,
            &rows
                .iter()
                .filter(|r| r[r.len() - 1] == 1.0)
                .cloned()
                .collect::<Vec<_>>(),
        ),
    )?;
    let all: Vec<f64> = records.iter().flat_map(|r| r.params.clone()).collect();
    dir.put("params.npy", &npy_bytes(&[records.len(), 24], &all))?;
    let accp: Vec<f64> = acc.iter().flat_map(|r| r.params.clone()).collect();
    dir.put("accepted_params.npy", &npy_bytes(&[acc.len(), 24], &accp))?;
    let passes: serde_json::Map<String, serde_json::Value> = CONSTRAINTS
        .iter()
        .map(|c| {
            let n = records
                .iter()
                .filter(|r| {
                    r.metrics["pass"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|p| p[0] == *c && p[1] == true))
                })
                .count();
            (c.to_string(), json!(n))
        })
        .collect();
    let aborted = records
        .iter()
        .filter(|r| r.metrics["aborted"].as_bool() == Some(true))
        .count();
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "rule_filter",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "rules": records.len(),
        "accepted": acc.len(),
        "aborted_by_rate_checker": aborted,
        "passing_each_constraint": passes,
        "accepted_indices": acc.iter().map(|r| r.index).collect::<Vec<_>>(),
    });
    dir.put_json("metrics.json", &metrics)?;
    Ok(format!(
        "{}: {} rules simulated, {} accepted, {} stopped by the rate checker; constraints met: {}",
        cfg.name,
        records.len(),
        acc.len(),
        aborted,
        serde_json::Value::Object(passes)
    ))
}
