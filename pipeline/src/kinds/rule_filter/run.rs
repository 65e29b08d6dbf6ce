//! The run of `rule_filter`: round by round, the candidates planned ([`super::rounds`]),
//! simulated in parallel, one record each in the record log, filtered; then the tables, arrays
//! and metrics of every round.

use super::candidate::{meets, metric_values_json, param_names, simulate_candidate, METRIC_NAMES};
use super::config::{RoundConfig, RuleFilterConfig};
use super::rounds::{draw_box, plan, Plan};
use crate::error::RunError;
use crate::io::{csv_bytes, npy_bytes};
use crate::parallel;
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::store::RecordLog;
use crate::rundir::RunDir;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// One candidate's parameters (`[tau_pre s, tau_post s, alpha, beta, gamma, kappa]` per type in
/// `ee, ei, ie, ii` order; static types are all zero) and outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleRecord {
    /// Index of the rule (over all rounds).
    pub index: u32,
    /// Its round.
    #[serde(default)]
    pub round: u32,
    /// 24 parameters.
    pub params: Vec<f64>,
    /// Metrics as a JSON object.
    pub metrics: serde_json::Value,
    /// Every constraint of its round holds.
    pub accepted: bool,
}

/// Draws rule `k`'s parameters from the box prior (the first round's candidate `k`).
pub fn draw(cfg: &RuleFilterConfig, k: u32) -> Vec<f64> {
    draw_box(cfg, Rng::new(cfg.seed.unwrap_or(0)).substream(k))
}

/// The record log of a single-process run (a shard's is `records/shard-<i>-of-<n>`).
pub const RECORD_LOG: &str = "records/shard-0-of-1";

/// Simulates the rules `indices` of a round (the candidates `plan.params`, the first of which
/// is rule `offset`), skipping those already in `done`, appending each new record to `log`.
/// Returns `None` when a stop was requested.
#[allow(clippy::too_many_arguments)]
pub fn simulate_round(
    cfg: &RuleFilterConfig,
    r: usize,
    round: &RoundConfig,
    plan: &Plan,
    offset: u32,
    indices: &[u32],
    done: &BTreeMap<u32, RuleRecord>,
    log: &RecordLog,
    progress: &Progress,
) -> Result<Option<Vec<RuleRecord>>, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let network = cfg.effective_network();
    let results: Vec<Result<Option<RuleRecord>, RunError>> = parallel::map(indices, |&k| {
        if let Some(rec) = done.get(&k) {
            progress.skip(1);
            return Ok(Some(rec.clone()));
        }
        if crate::interrupt::requested() {
            return Ok(None);
        }
        let params = plan.params[(k - offset) as usize].clone();
        let o = simulate_candidate(&network, &cfg.types, &params, seed, u64::from(k), || {
            !crate::interrupt::requested()
        })
        .map_err(|e| RunError::new(format!("rule {k}: {e}")))?;
        let Some(m) = o else {
            return Ok(None);
        };
        let metrics = serde_json::to_value(&m).unwrap_or_default();
        let rec = RuleRecord {
            index: k,
            round: r as u32,
            params,
            accepted: meets(&metrics, round.require.as_deref()),
            metrics,
        };
        log.append(&format!("rule-{k}"), &rec)?;
        progress.tick(1, None);
        Ok(Some(rec))
    });
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r? {
            Some(rec) => out.push(rec),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The records already in a run directory's logs (every `records/*.jsonl`), by rule index; a
/// rule in two logs must have the same record in both.
pub fn read_records(dir: &RunDir) -> Result<BTreeMap<u32, RuleRecord>, RunError> {
    let folder = dir.path().join("records");
    let mut logs: Vec<std::path::PathBuf> = match std::fs::read_dir(&folder) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect(),
        Err(_) => Vec::new(),
    };
    logs.sort();
    let mut out = BTreeMap::new();
    for p in logs {
        for (key, rec) in crate::rundir::store::read_log::<RuleRecord>(&p, dir.config_hash())? {
            if key != format!("rule-{}", rec.index) {
                return Err(RunError::new(format!(
                    "{}: record {key} holds rule {}",
                    p.display(),
                    rec.index
                )));
            }
            if let Some(old) = out.insert(rec.index, rec.clone()) {
                if old != rec {
                    return Err(RunError::new(format!(
                        "{}: rule {} is recorded twice with different results",
                        p.display(),
                        rec.index
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// Runs a `rule_filter` experiment into `dir` (continuing from the records already there).
///
/// As a shard (`--shard I/N`) it simulates only its share of the first round that is not
/// complete (the rules at positions `I mod N` of the round), appends them to its own log
/// `records/shard-I-of-N.jsonl`, and goes on to the next round only when every shard's share
/// of this one is recorded (every shard plans the next round from the same records, so to the
/// same bits); the outputs are written by `synplast merge DIR` ([`RunDir::merging`]), which
/// simulates nothing and refuses while a round is incomplete.
pub fn run(cfg: &RuleFilterConfig, dir: &RunDir) -> Result<String, RunError> {
    let rounds = cfg.round_list();
    let store = dir.store();
    let shard = dir.shard();
    let log_name = shard.map_or(RECORD_LOG.to_string(), |s| format!("records/{}", s.name()));
    let log = store.log(&log_name)?;
    let mut done = read_records(dir)?;
    let mut all: Vec<RuleRecord> = Vec::new();
    let mut summaries = Vec::new();
    for (r, round) in rounds.iter().enumerate() {
        let p = plan(cfg, &rounds, r, &all).map_err(RunError::new)?;
        let offset = all.len() as u32;
        let n = p.params.len() as u32;
        let whole: Vec<u32> = (offset..offset + n).collect();
        let missing = |done: &BTreeMap<u32, RuleRecord>| -> Vec<u32> {
            whole
                .iter()
                .copied()
                .filter(|k| !done.contains_key(k))
                .collect()
        };
        if dir.merging() {
            let m = missing(&done);
            if !m.is_empty() {
                return Err(RunError::new(format!(
                    "round {r}: {} of its {n} rules are not recorded yet (the first: rule {}); let every shard of this round finish, then merge again",
                    m.len(),
                    m[0]
                )));
            }
        } else {
            let mine: Vec<u32> = match shard {
                Some(s) => whole
                    .iter()
                    .copied()
                    .filter(|k| s.owns(u64::from(k - offset)))
                    .collect(),
                None => whole.clone(),
            };
            let label = match (rounds.len(), shard) {
                (1, None) => "rules".to_string(),
                (_, None) => format!("rules (round {} of {})", r + 1, rounds.len()),
                (_, Some(s)) => format!(
                    "rules (round {} of {}, shard {}/{})",
                    r + 1,
                    rounds.len(),
                    s.index,
                    s.count
                ),
            };
            let progress = Progress::new(mine.len(), &label, dir.quiet());
            let recs = simulate_round(cfg, r, round, &p, offset, &mine, &done, &log, &progress)?;
            progress.finish();
            let Some(recs) = recs else {
                return Err(RunError::interrupted());
            };
            for rec in recs {
                done.insert(rec.index, rec);
            }
            if let Some(s) = shard {
                // The other shards may have finished meanwhile.
                done = read_records(dir)?;
                let m = missing(&done);
                if !m.is_empty() {
                    return Ok(format!(
                        "{}: shard {}/{}: its {} rules of round {r} are done; {} rules of the round are still missing (other shards). When every shard of round {r} has finished, start them again for round {} (or, after the last round, run `synplast merge {}`)",
                        cfg.name,
                        s.index,
                        s.count,
                        mine.len(),
                        m.len(),
                        r + 1,
                        dir.path().display()
                    ));
                }
            }
        }
        all.extend(whole.iter().filter_map(|k| done.get(k).cloned()));
        summaries.push(round_summary(cfg, r, round, &p, &all, offset as usize));
    }
    if let Some(s) = shard {
        return Ok(format!(
            "{}: shard {}/{}: every round is complete; run `synplast merge {}` to write the outputs",
            cfg.name,
            s.index,
            s.count,
            dir.path().display()
        ));
    }
    write_outputs(cfg, dir, &rounds, &all, summaries)
}

/// Distinct parameter vectors among `recs`.
fn unique(recs: &[&RuleRecord]) -> usize {
    let mut keys: Vec<Vec<u64>> = recs
        .iter()
        .map(|r| r.params.iter().map(|v| v.to_bits()).collect())
        .collect();
    keys.sort();
    keys.dedup();
    keys.len()
}

/// The constraints of a round: `require`, or every verdict of the deciding definition.
fn names(cfg: &RuleFilterConfig, require: Option<&[String]>) -> Vec<String> {
    match require {
        Some(r) => r.to_vec(),
        None => cfg.verdict_names().iter().map(|s| s.to_string()).collect(),
    }
}

/// The summary of round `r` once its records (from `offset` on in `all`) are in.
fn round_summary(
    cfg: &RuleFilterConfig,
    r: usize,
    round: &RoundConfig,
    p: &Plan,
    all: &[RuleRecord],
    offset: usize,
) -> serde_json::Value {
    let mine = &all[offset..];
    let n = mine.len();
    let plausible: Vec<&RuleRecord> = mine.iter().filter(|x| meets(&x.metrics, None)).collect();
    let accepted = mine.iter().filter(|x| x.accepted).count();
    let require = round.require.as_deref();
    let so_far = all.iter().filter(|x| meets(&x.metrics, require)).count();
    json!({
        "round": r,
        "source": p.source,
        "require": names(cfg, require),
        "rules": n,
        "accepted": accepted,
        "accepted_fraction": accepted as f64 / n.max(1) as f64,
        "accepted_so_far": so_far,
        "plausible": plausible.len(),
        "plausible_fraction": plausible.len() as f64 / n.max(1) as f64,
        "unique_plausible": unique(&plausible),
        "classifier": p.classifier,
        "unrestricted_because": p.unrestricted_because,
    })
}

fn write_outputs(
    cfg: &RuleFilterConfig,
    dir: &RunDir,
    rounds: &[RoundConfig],
    all: &[RuleRecord],
    mut summaries: Vec<serde_json::Value>,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let last_require = rounds.last().and_then(|r| r.require.clone());
    let final_ok = |x: &RuleRecord| meets(&x.metrics, last_require.as_deref());
    let mut header: Vec<String> = vec!["rule".into(), "round".into()];
    header.extend(param_names());
    // Both definitions' metrics by name: synplast's (the first 13 of METRIC_NAMES) and the
    // paper's (`paper_*`, empty where it was not computed).
    let metric_keys: Vec<&str> = METRIC_NAMES[..13]
        .iter()
        .chain(&METRIC_NAMES[17..34])
        .copied()
        .collect();
    let metric_cols: Vec<usize> = metric_keys
        .iter()
        .map(|k| METRIC_NAMES.iter().position(|n| n == k).unwrap_or(0))
        .collect();
    header.extend(metric_keys.iter().map(|s| s.to_string()));
    header.extend(["aborted", "accepted", "plausible"].map(String::from));
    let b = |v: bool| f64::from(u8::from(v));
    // Each rule's metrics as the numbers of METRIC_NAMES, read once.
    let values: Vec<Vec<f64>> = all.iter().map(|r| metric_values_json(&r.metrics)).collect();
    let rows: Vec<Vec<f64>> = all
        .iter()
        .zip(&values)
        .map(|(r, values)| {
            let mut row = vec![f64::from(r.index), f64::from(r.round)];
            row.extend(&r.params);
            row.extend(metric_cols.iter().map(|&c| values[c]));
            row.push(b(r.metrics["aborted"].as_bool() == Some(true)));
            row.push(b(r.accepted));
            row.push(b(meets(&r.metrics, None)));
            row
        })
        .collect();
    let header_ref: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    dir.put("rules.csv", &csv_bytes(&header_ref, &rows))?;
    let acc: Vec<&RuleRecord> = all.iter().filter(|r| final_ok(r)).collect();
    let acc_rows: Vec<Vec<f64>> = all
        .iter()
        .zip(&rows)
        .filter(|(r, _)| final_ok(r))
        .map(|(_, row)| row.clone())
        .collect();
    dir.put("accepted.csv", &csv_bytes(&header_ref, &acc_rows))?;
    let params: Vec<f64> = all.iter().flat_map(|r| r.params.clone()).collect();
    dir.put("params.npy", &npy_bytes(&[all.len(), 24], &params))?;
    let metrics_rows: Vec<f64> = values.iter().flatten().copied().collect();
    dir.put(
        "metrics.npy",
        &npy_bytes(&[all.len(), METRIC_NAMES.len()], &metrics_rows),
    )?;
    let accp: Vec<f64> = acc.iter().flat_map(|r| r.params.clone()).collect();
    dir.put("accepted_params.npy", &npy_bytes(&[acc.len(), 24], &accp))?;
    let verdicts = cfg.verdict_names();
    let table = FailureTable::new(&verdicts, all);
    let passes: serde_json::Map<String, serde_json::Value> = verdicts
        .iter()
        .zip(&table.met)
        .map(|(c, n)| (c.to_string(), json!(n)))
        .collect();
    // Rules whose 0/1 verdict column `name` of METRIC_NAMES is 1.
    let count = |name: &str| {
        let col = METRIC_NAMES.iter().position(|n| *n == name).unwrap_or(0);
        values.iter().filter(|v| v[col] == 1.0).count()
    };
    let aborted = all
        .iter()
        .filter(|r| r.metrics["aborted"].as_bool() == Some(true))
        .count();
    let plausible: Vec<&RuleRecord> = all.iter().filter(|r| meets(&r.metrics, None)).collect();
    // rounds.svg, marginals.svg, drift.csv; the drift check into each round's summary.
    super::report::write(cfg, dir, all, &acc, &mut summaries)?;
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "rule_filter",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "rules": all.len(),
        "accepted": acc.len(),
        "plausible": plausible.len(),
        "unique_plausible": unique(&plausible),
        "aborted_by_rate_checker": aborted,
        "definition": definition(cfg),
        "plausible_by_definition": {
            "paper": count("paper_plausible"),
            "synplast": count("synplast_plausible"),
        },
        "passing_each_constraint": passes,
        "accepted_indices": acc.iter().map(|r| r.index).collect::<Vec<_>>(),
        "param_names": param_names(),
        "metric_names": METRIC_NAMES.to_vec(),
        "rounds": summaries,
    });
    dir.put_json("metrics.json", &metrics)?;
    let per_round = if rounds.len() > 1 {
        let fr: Vec<String> = summaries_fraction(&metrics["rounds"]);
        format!("; plausible fraction per round: {}", fr.join(", "))
    } else {
        String::new()
    };
    Ok(format!(
        "{}: {} rules simulated, {} accepted, {} plausible, {} stopped by the rate checker{per_round}\nwhy rules failed ({}'s definitions; a rule the rate checker stopped fails every constraint):\n{}",
        cfg.name,
        all.len(),
        acc.len(),
        plausible.len(),
        aborted,
        definition(cfg),
        table.text(&verdicts)
    ))
}

/// Per constraint: the rules meeting it and the rules failing only it (the constraint that
/// alone kept them from being plausible), counted once from every rule's `pass` list.
struct FailureTable {
    rules: usize,
    met: Vec<usize>,
    only: Vec<usize>,
}

impl FailureTable {
    fn new(verdicts: &[&str], all: &[RuleRecord]) -> Self {
        let passes: Vec<std::collections::HashMap<&str, bool>> = all
            .iter()
            .map(|r| {
                r.metrics["pass"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| Some((p[0].as_str()?, p[1] == true)))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let count = |keep: &dyn Fn(&std::collections::HashMap<&str, bool>, &str) -> bool| {
            verdicts
                .iter()
                .map(|c| passes.iter().filter(|p| keep(p, c)).count())
                .collect()
        };
        Self {
            rules: all.len(),
            met: count(&|p, c| p.get(c) == Some(&true)),
            only: count(&|p, c| {
                p.get(c) == Some(&false) && p.values().filter(|v| !**v).count() == 1
            }),
        }
    }

    /// The table, aligned: constraint, met, failed, only failure.
    fn text(&self, verdicts: &[&str]) -> String {
        let width = verdicts.iter().map(|v| v.len()).max().unwrap_or(0).max(10);
        let mut out = vec![format!(
            "  {:<width$} {:>7} {:>7} {:>12}",
            "constraint", "met", "failed", "only failure"
        )];
        for ((c, met), only) in verdicts.iter().zip(&self.met).zip(&self.only) {
            out.push(format!(
                "  {c:<width$} {met:>7} {:>7} {only:>12}",
                self.rules - met
            ));
        }
        out.join("\n")
    }
}

/// The definition whose verdicts decide (`paper` or `synplast`).
fn definition(cfg: &RuleFilterConfig) -> &'static str {
    match cfg.definition() {
        crate::sim::fsbi::Definition::Paper => "paper",
        crate::sim::fsbi::Definition::Synplast => "synplast",
    }
}

fn summaries_fraction(rounds: &serde_json::Value) -> Vec<String> {
    rounds
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    format!(
                        "{}/{}",
                        r["plausible"].as_u64().unwrap_or(0),
                        r["rules"].as_u64().unwrap_or(0)
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
