//! Planning a round: where its candidates come from (the box prior, the box prior restricted by
//! a classifier trained on every earlier rule, or a file) and which parameters they have.
//! Everything is a function of the config, the seed and the earlier rounds' records, so a
//! resumed run, or every shard of a cluster run, plans the same round to the same bits.

use super::candidate::full_params;
use super::classifier::{self, ClassifierReport};
use super::config::{RoundConfig, RuleFilterConfig};
use super::run::RuleRecord;
use crate::io::npy::{parse_npy, shape_text};
use crate::rng::Rng;

/// A round's candidates and how they were chosen.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The candidates' 24 parameters each.
    pub params: Vec<Vec<f64>>,
    /// `prior`, `restricted prior` or `file <path>`.
    pub source: String,
    /// The classifier of a restricted round.
    pub classifier: Option<ClassifierReport>,
    /// Why a later round drawn from the prior was not restricted.
    pub unrestricted_because: Option<String>,
}

/// Draws one candidate from the box prior with `rng` (every type of `types`; 0 for the
/// others).
pub fn draw_box(cfg: &RuleFilterConfig, mut rng: Rng) -> Vec<f64> {
    let mut p = vec![0.0; 24];
    for t in crate::sim::fsbi::ConnType::ALL {
        if cfg.types.contains(&t) {
            for j in 0..6 {
                let (lo, hi) = if j < 2 {
                    (cfg.prior_tau[0].0, cfg.prior_tau[1].0)
                } else {
                    (cfg.prior_coef[0].0, cfg.prior_coef[1].0)
                };
                p[t.index() * 6 + j] = lo + (hi - lo) * rng.uniform();
            }
        }
    }
    p
}

/// The classifier's features of a candidate: the plastic types' parameters, scaled to the
/// prior box (0 to 1 inside it).
pub fn features(cfg: &RuleFilterConfig, p: &[f64]) -> Vec<f64> {
    let mut f = Vec::with_capacity(6 * cfg.types.len());
    for t in &cfg.types {
        for j in 0..6 {
            let (lo, hi) = if j < 2 {
                (cfg.prior_tau[0].0, cfg.prior_tau[1].0)
            } else {
                (cfg.prior_coef[0].0, cfg.prior_coef[1].0)
            };
            let w = hi - lo;
            f.push(if w > 0.0 {
                (p[t.index() * 6 + j] - lo) / w
            } else {
                0.0
            });
        }
    }
    f
}

/// Reads and checks a candidates file: `[n, 24]` or `[n, 6 k]`, finite, time constants > 0.
pub fn read_candidates(cfg: &RuleFilterConfig, path: &str) -> Result<Vec<Vec<f64>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: cannot read: {e}"))?;
    let a = parse_npy(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let width = 6 * cfg.types.len();
    if a.shape.len() != 2 || (a.shape[1] != 24 && a.shape[1] != width) || a.shape[0] == 0 {
        return Err(format!(
            "{path}: expected candidates of shape (n, 24) or (n, {width}) with n >= 1, got {}",
            shape_text(&a.shape)
        ));
    }
    let cols = a.shape[1];
    a.data
        .chunks(cols)
        .enumerate()
        .map(|(i, row)| full_params(&cfg.types, row, &format!("{path}: row {i}")))
        .collect()
}

/// Plans round `r` (`round`) after the records of every earlier round (`earlier`).
pub fn plan(
    cfg: &RuleFilterConfig,
    rounds: &[RoundConfig],
    r: usize,
    earlier: &[RuleRecord],
) -> Result<Plan, String> {
    let round = &rounds[r];
    let seed = cfg.seed.unwrap_or(0);
    if let Some(c) = &round.candidates {
        let mut params = read_candidates(cfg, &c.file)?;
        if let Some(n) = round.rules {
            params.truncate(n.0 as usize);
        }
        return Ok(Plan {
            params,
            source: format!("file {}", c.file),
            classifier: None,
            unrestricted_because: None,
        });
    }
    let n = round.rules.map_or(0, |c| c.0 as usize);
    let offset = earlier.len() as u32;
    let from_prior = |because: Option<String>| Plan {
        // Round 0 draws candidate k from substream k of the seed (as a one-round filter always
        // has); later unrestricted rounds continue the numbering.
        params: Rng::new(seed)
            .substreams(offset)
            .take(n)
            .map(|rng| draw_box(cfg, rng))
            .collect(),
        source: "prior".into(),
        classifier: None,
        unrestricted_because: because,
    };
    if r == 0 {
        return Ok(from_prior(None));
    }
    let label = |req: Option<&[String]>| -> Vec<bool> {
        earlier
            .iter()
            .map(|rec| super::candidate::meets(&rec.metrics, req))
            .collect()
    };
    // The classifier learns this round's constraints; when no earlier rule meets them, or
    // the region it learns accepts less than `classifier.min_acceptance` of the box prior
    // (a handful of positives learned too tightly), those of the latest earlier round that
    // leave a usable region (constraints only grow, so that region contains this round's).
    let mut why = String::from("no earlier rule meets this round's constraints, nor an earlier round's: nothing to learn from");
    for target in (0..=r).rev() {
        let labels = label(rounds[target].require.as_deref());
        let positives = labels.iter().filter(|v| **v).count();
        if positives == 0 {
            continue;
        }
        if positives == labels.len() {
            why = format!(
                "every earlier rule meets the constraints of round {target}: nothing to exclude"
            );
            break;
        }
        match restricted(cfg, r, target, &labels, earlier, n)? {
            Ok(plan) => return Ok(plan),
            Err(rate) => {
                why = format!(
                    "the classifier for the constraints of round {target} (and of every later round) accepted {rate:.2e} of the box prior, below classifier.min_acceptance"
                );
            }
        }
    }
    Ok(from_prior(Some(why)))
}

/// The plan of round `r` from the box prior restricted by trees learning `labels` (the
/// constraints of round `target`), or `Err(acceptance)` when a pilot of 4096 box-prior draws
/// finds the restricted prior accepting less than `classifier.min_acceptance`.
fn restricted(
    cfg: &RuleFilterConfig,
    r: usize,
    target: usize,
    labels: &[bool],
    earlier: &[RuleRecord],
    n: usize,
) -> Result<Result<Plan, f64>, String> {
    let seed = cfg.seed.unwrap_or(0);
    let positives = labels.iter().filter(|v| **v).count();
    let k = cfg.classifier();
    let x: Vec<Vec<f64>> = earlier
        .iter()
        .map(|rec| features(cfg, &rec.params))
        .collect();
    // A fixed fifth of the earlier rules (by a hash of their index) is held out for the
    // report; the trees learn from the rest.
    let held: Vec<bool> = earlier
        .iter()
        .map(|rec| {
            crate::config::fnv1a(format!("{seed}/held-out/{}", rec.index).as_bytes()) % 5 == 0
        })
        .collect();
    let pick = |keep: bool| -> (Vec<Vec<f64>>, Vec<bool>) {
        let idx: Vec<usize> = (0..x.len()).filter(|&i| held[i] == keep).collect();
        (
            idx.iter().map(|&i| x[i].clone()).collect(),
            idx.iter().map(|&i| labels[i]).collect(),
        )
    };
    let (train_x, train_y) = pick(false);
    let (test_x, test_y) = pick(true);
    // The restriction: trees trained on every earlier rule, and the threshold that keeps at
    // least 1 - false_negatives of the earlier rules that met the constraints, on their
    // out-of-bag scores (each by the trees that did not see it, as a new rule is scored), as
    // sbi's restriction estimator sets it. The report: the same training on four fifths of
    // the earlier rules, scored on the fifth held out, with its own out-of-bag threshold (an
    // estimate of how many good rules the restriction loses).
    let trees = k.trees.0 as usize;
    let depth = k.max_depth.0.min(u32::from(u16::MAX)) as u16;
    let stream = |what: &str| {
        Rng::new(crate::config::fnv1a(
            format!("{seed}/{what}/{r}").as_bytes(),
        ))
    };
    let fit_threshold = |xs: &[Vec<f64>],
                         ys: &[bool],
                         what: &str|
     -> Result<Option<(classifier::Forest, f64, f64)>, String> {
        let Some(forest) = classifier::train(xs, ys, trees, depth, &stream(what))? else {
            return Ok(None);
        };
        let pos: Vec<f64> = forest
            .oob_scores(xs)?
            .into_iter()
            .zip(ys)
            .filter(|(_, y)| **y)
            .filter_map(|(s, _)| s)
            .collect();
        let tau = classifier::threshold(&pos, k.false_negatives.0);
        let kept = pos.iter().filter(|s| **s >= tau).count() as f64 / pos.len().max(1) as f64;
        Ok(Some((forest, tau, kept)))
    };
    // Both classes are present (the caller checked), so the trees always train.
    let Some((forest, tau, kept)) = fit_threshold(&x, labels, "classifier")? else {
        return Ok(Err(0.0));
    };
    let (held_out_accuracy, held_out_false_negative_rate) =
        match fit_threshold(&train_x, &train_y, "classifier-check")? {
            Some((check, check_tau, _)) if !test_y.is_empty() => {
                let sc = check.score(&test_x)?;
                let correct = sc
                    .iter()
                    .zip(&test_y)
                    .filter(|(s, y)| (**s >= check_tau) == **y)
                    .count();
                let pos = test_y.iter().filter(|y| **y).count();
                let missed = sc
                    .iter()
                    .zip(&test_y)
                    .filter(|(s, y)| **y && **s < check_tau)
                    .count();
                (
                    Some(correct as f64 / test_y.len() as f64),
                    (pos > 0).then(|| missed as f64 / pos as f64),
                )
            }
            _ => (None, None),
        };
    // Rejection from the box prior: draw j from its own substream of this round's stream, keep
    // those the classifier accepts, in order, until the round is full.
    let mut draws =
        Rng::new(crate::config::fnv1a(format!("{seed}/draws/{r}").as_bytes())).substreams(0);
    let mut params = Vec::with_capacity(n);
    let mut tried: u64 = 0;
    let batch = 4096usize;
    let mut pilot = true;
    while params.len() < n {
        if tried >= u64::from(k.max_draws.0) {
            return Err(format!(
                "round {r}: the restricted prior accepted {} of {tried} draws from the box prior, fewer than the {n} rules asked for; raise classifier.max_draws or ask for fewer rules",
                params.len()
            ));
        }
        let cand: Vec<Vec<f64>> = draws
            .by_ref()
            .take(batch)
            .map(|rng| draw_box(cfg, rng))
            .collect();
        let f: Vec<Vec<f64>> = cand.iter().map(|p| features(cfg, p)).collect();
        let s = forest.score(&f)?;
        if pilot {
            pilot = false;
            let rate = s.iter().filter(|v| **v >= tau).count() as f64 / s.len().max(1) as f64;
            if rate < k.min_acceptance.0 {
                return Ok(Err(rate));
            }
        }
        for (p, sc) in cand.into_iter().zip(s) {
            tried += 1;
            if sc >= tau {
                params.push(p);
                if params.len() == n {
                    break;
                }
            }
        }
    }
    Ok(Ok(Plan {
        params,
        source: "restricted prior".into(),
        classifier: Some(ClassifierReport {
            constraints_of_round: target,
            trained_on: train_x.len(),
            held_out: test_x.len(),
            positives,
            threshold: tau,
            kept_positives: kept,
            held_out_accuracy,
            held_out_false_negative_rate,
            acceptance_rate: n as f64 / tried.max(1) as f64,
        }),
        // A threshold of 0 accepts every draw: some earlier positive got no out-of-bag vote,
        // so keeping 99% of them keeps the whole box.
        unrestricted_because: (tau <= 0.0).then(|| {
            format!(
                "the threshold that keeps {:.0}% of the {positives} earlier rules meeting the constraints of round {target} is 0 on out-of-bag scores (the trees cannot tell some of them from the others out of sample): every draw is accepted, the prior is not restricted",
                100.0 * (1.0 - k.false_negatives.0)
            )
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rounds: &str) -> RuleFilterConfig {
        let text = format!(
            "name: t\nkind: rule_filter\nseed: 5\ntypes: [ee, ie]\nrounds: {rounds}\nnetwork: {{n_exc: 8, n_inh: 2, p: 0.1, w: [0.1, 0.1, 1, 1], w_max: 20, inputs: 10, input_p: 0.1, input_w: 0.1, input_rate: [5, 15], delay_ms: 0.8, eta: 0.01, rules: {{}}, learn_s: 0, score_s: 1}}\n"
        );
        // Parsed with serde and validated here: a kind does not use the registry.
        let c: RuleFilterConfig = serde_saphyr::from_str(&text).unwrap();
        super::super::config::validate(&c).unwrap();
        c
    }

    /// A fake record whose rates pass exactly when the E->E alpha is negative (the paper's
    /// verdicts, as `rule_filter` decides by default).
    fn record(index: u32, params: Vec<f64>) -> RuleRecord {
        let ok = params[2] < 0.0;
        let pass: Vec<serde_json::Value> = config("[{rules: 1}]")
            .verdict_names()
            .iter()
            .map(|c| serde_json::json!([c, ok || !c.starts_with("rate")]))
            .collect();
        RuleRecord {
            index,
            round: 0,
            params,
            metrics: serde_json::json!({ "pass": pass }),
            accepted: true,
        }
    }

    #[test]
    fn a_later_round_draws_from_the_prior_restricted_to_where_earlier_rules_passed() {
        let cfg = config("[{rules: 300, require: [rate]}, {rules: 200, require: [rate, rate_i]}]");
        let rounds = cfg.round_list();
        let first = plan(&cfg, &rounds, 0, &[]).unwrap();
        assert_eq!(first.source, "prior");
        assert_eq!(first.params.len(), 300);
        // Round 0's candidate k is rule k of a one-round filter.
        assert_eq!(first.params[7], super::super::run::draw(&cfg, 7));
        assert!(first
            .params
            .iter()
            .all(|p| p[6..12].iter().all(|v| *v == 0.0)));
        let earlier: Vec<RuleRecord> = first
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| record(i as u32, p.clone()))
            .collect();
        let second = plan(&cfg, &rounds, 1, &earlier).unwrap();
        assert_eq!(second.source, "restricted prior");
        let k = second.classifier.clone().unwrap();
        assert!(k.kept_positives >= 0.99, "{k:?}");
        assert!(k.held_out_accuracy.unwrap() > 0.8, "{k:?}");
        assert!(k.acceptance_rate > 0.3 && k.acceptance_rate < 0.8, "{k:?}");
        let good = second.params.iter().filter(|p| p[2] < 0.0).count();
        // Half the box passes; the restricted prior should be mostly inside that half.
        assert!(good as f64 / 200.0 > 0.85, "{good} of 200");
        // The same plan again, to the bit.
        let again = plan(&cfg, &rounds, 1, &earlier).unwrap();
        assert_eq!(again.params, second.params);
        assert_eq!(again.classifier, second.classifier);

        // Nothing to learn: every earlier rule fails, so the round draws from the box prior.
        let failing: Vec<RuleRecord> = earlier
            .iter()
            .map(|r| {
                let mut p = r.params.clone();
                p[2] = p[2].abs() + 1e-3;
                record(r.index, p)
            })
            .collect();
        let blind = plan(&cfg, &rounds, 1, &failing).unwrap();
        assert_eq!(blind.source, "prior");
        assert!(blind
            .unrestricted_because
            .unwrap()
            .contains("no earlier rule"));
        // ... continuing the numbering of round 0.
        assert_eq!(blind.params[0], super::super::run::draw(&cfg, 300));

        // No earlier rule meets round 1's constraints (creep never holds here) but some meet
        // round 0's: the classifier learns round 0's, a region that contains round 1's.
        let cfg3 = config("[{rules: 300, require: [rate]}, {rules: 50, require: [rate, w_creep]}]");
        let r3 = cfg3.round_list();
        let no_creep: Vec<RuleRecord> = earlier
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for p in r.metrics["pass"].as_array_mut().unwrap() {
                    if p[0] == "w_creep" {
                        p[1] = serde_json::Value::Bool(false);
                    }
                }
                r
            })
            .collect();
        let fallback = plan(&cfg3, &r3, 1, &no_creep).unwrap();
        assert_eq!(fallback.source, "restricted prior");
        assert_eq!(fallback.classifier.unwrap().constraints_of_round, 0);
        let good = fallback.params.iter().filter(|p| p[2] < 0.0).count();
        assert!(good as f64 / 50.0 > 0.8, "{good} of 50");
    }

    #[test]
    fn constraints_only_grow_and_rounds_need_candidates() {
        let bad = |rounds: &str| {
            let text = format!(
                "name: t\nkind: rule_filter\ntypes: [ee]\nrounds: {rounds}\nnetwork: {{n_exc: 8, n_inh: 2, p: 0.1, w: [0.1, 0.1, 1, 1], w_max: 20, inputs: 10, input_p: 0.1, input_w: 0.1, input_rate: [5, 15], delay_ms: 0.8, eta: 0.01, rules: {{}}, learn_s: 0, score_s: 1}}\n"
            );
            let c: RuleFilterConfig = serde_saphyr::from_str(&text).unwrap();
            let (field, problem) = super::super::config::validate(&c).unwrap_err();
            format!("{field}: {problem}")
        };
        let e = bad("[{rules: 4, require: [rate, w_creep]}, {rules: 4, require: [rate]}]");
        assert!(
            e.contains("rounds[1].require") && e.contains("`w_creep` of round 0"),
            "{e}"
        );
        let e = bad("[{rules: 4}, {require: [rate]}]");
        assert!(e.contains("rounds[1]") && e.contains("candidates"), "{e}");
        let e = bad("[]");
        assert!(e.contains("1 to 100 rounds"), "{e}");
        // Names are the deciding definition's: the paper's by default, synplast's on request.
        let e = bad("[{rules: 4, require: [rate, rate_exc]}]");
        assert!(
            e.starts_with("rounds[0].require[1]")
                && e.contains("unknown constraint `rate_exc`")
                && e.contains("definition: synplast")
                && e.contains("rate, cv_isi, spatial_Fano"),
            "{e}"
        );
        // The weight bound of a static type is not a constraint (only ee learns here).
        let e = bad("[{rules: 4, require: [wief]}]");
        assert!(
            e.contains("unknown constraint `wief`") && e.contains("weef"),
            "{e}"
        );
    }
}
