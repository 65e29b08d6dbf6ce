//! The mean-field drift check of a `rule_filter` run (DESIGN §3.6): `drift.csv`, and a
//! `drift` object in each round's summary in `metrics.json`.
//!
//! Under independent Poisson trains of rates `nu_pre` and `nu_post` (Hz), the doublet rule
//! `[tau_pre, tau_post, alpha, beta, gamma, kappa]` (tau in s) with learning rate `eta` moves a
//! weight on average by ([`mean_drift_per_s`], per second)
//!
//! ```text
//! <dw/dt> = eta [alpha nu_pre + beta nu_post + nu_pre nu_post (gamma tau_pre + kappa tau_post)]
//! ```
//!
//! For each plastic type of a rule the rate checker did not stop, with the population rates the
//! rule produced (`rate_exc`, `rate_inh`; `ee` is E->E, `ei` E->I, `ie` I->E, `ii` I->I) and the
//! network's `eta`, that drift times the scoring window (`score_s`) over the type's final mean
//! weight (`mean_w`) is the relative change of the type's mean weight that mean-field theory
//! predicts over the window; its largest magnitude over the types compares with the measured
//! `creep`. The theory ignores spike correlations (the pre/post timing an STDP-like rule feeds
//! on), the clip at 0 and `w_max`, and the spread of rates across neurons (the mean of products
//! is not the product of means): a rule that is stable because of them is mispredicted, and how
//! often that happens among the accepted rules is what the check reports. A type whose final
//! mean weight is not positive has no relative change; a rule with such a type is not checked.
//!
//! Metrics are read by name from the records as stored (`rate_exc`, `rate_inh`, `mean_w`,
//! `creep`, `aborted`), and "accepted" is each record's own verdict.

use super::config::RuleFilterConfig;
use super::run::RuleRecord;
use crate::io::format_float;
use crate::metrics::{json_number, median, percentile};
use crate::sim::fsbi::ConnType;
use crate::stats::spearman;
use serde_json::{json, Value};
use std::fmt::Write;

/// The mean drift of a doublet rule's weight per second, `eta [alpha nu_pre + beta nu_post +
/// nu_pre nu_post (gamma tau_pre + kappa tau_post)]`, for independent Poisson trains of rates
/// `nu_pre` and `nu_post` (Hz); `rule` is `[tau_pre s, tau_post s, alpha, beta, gamma, kappa]`.
/// Ignores the clip to `[0, w_max]`.
pub fn mean_drift_per_s(rule: &[f64; 6], eta: f64, nu_pre: f64, nu_post: f64) -> f64 {
    let [tau_pre, tau_post, alpha, beta, gamma, kappa] = *rule;
    eta * (alpha * nu_pre
        + beta * nu_post
        + nu_pre * nu_post * (gamma * tau_pre + kappa * tau_post))
}

/// Whether the presynaptic and the postsynaptic population of a connection type are
/// excitatory (`ei` is E->I: the network's projections `ee, ei, ie, ii` run from (E, E),
/// (E, I), (I, E), (I, I) as (pre, post)).
pub fn excitatory_pre_post(t: ConnType) -> (bool, bool) {
    match t {
        ConnType::Ee => (true, true),
        ConnType::Ei => (true, false),
        ConnType::Ie => (false, true),
        ConnType::Ii => (false, false),
    }
}

/// The drift check of one plastic type of one rule: a row of `drift.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRow {
    /// Rule index.
    pub rule: u32,
    /// Its round.
    pub round: u32,
    /// Accepted under its round's constraints.
    pub accepted: bool,
    /// The connection type.
    pub conn: ConnType,
    /// Presynaptic population rate (Hz).
    pub nu_pre: f64,
    /// Postsynaptic population rate (Hz).
    pub nu_post: f64,
    /// [`mean_drift_per_s`].
    pub dw_per_s: f64,
    /// `dw_per_s * score_s / mean_w` (NaN when `mean_w` is not positive).
    pub relative_change: f64,
    /// The rule's measured `creep` (over all its plastic types).
    pub measured_creep: f64,
}

/// The drift check of one rule: a row per plastic type and the largest predicted
/// `|relative change|` over them (NaN when one is undefined, or for an aborted rule).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDrift {
    /// Per plastic type (none for a rule the rate checker stopped).
    pub rows: Vec<DriftRow>,
    /// The largest `|relative_change|` of `rows`.
    pub largest: f64,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn aborted(rec: &RuleRecord) -> bool {
    rec.metrics["aborted"].as_bool() == Some(true)
}

/// The drift check of `rec` (its plastic types in the order ee, ei, ie, ii).
pub fn rule_drift(cfg: &RuleFilterConfig, rec: &RuleRecord) -> RuleDrift {
    if aborted(rec) {
        return RuleDrift {
            rows: Vec::new(),
            largest: f64::NAN,
        };
    }
    let m = &rec.metrics;
    let (exc, inh) = (num(&m["rate_exc"]), num(&m["rate_inh"]));
    let rate = |e: bool| if e { exc } else { inh };
    let (eta, window) = (cfg.network.eta.0, cfg.network.score_s.0);
    let rows: Vec<DriftRow> = ConnType::ALL
        .into_iter()
        .filter(|t| cfg.types.contains(t))
        .map(|t| {
            let k = t.index();
            let mut rule = [f64::NAN; 6];
            for (j, v) in rule.iter_mut().enumerate() {
                *v = rec.params.get(6 * k + j).copied().unwrap_or(f64::NAN);
            }
            let (pre, post) = excitatory_pre_post(t);
            let (nu_pre, nu_post) = (rate(pre), rate(post));
            let dw = mean_drift_per_s(&rule, eta, nu_pre, nu_post);
            let w = num(&m["mean_w"][k]);
            DriftRow {
                rule: rec.index,
                round: rec.round,
                accepted: rec.accepted,
                conn: t,
                nu_pre,
                nu_post,
                dw_per_s: dw,
                relative_change: if w > 0.0 && w.is_finite() {
                    dw * window / w
                } else {
                    f64::NAN
                },
                measured_creep: num(&m["creep"]),
            }
        })
        .collect();
    let largest = if rows.is_empty() {
        f64::NAN
    } else {
        rows.iter().fold(0.0, |a: f64, r| {
            let v = r.relative_change.abs();
            if a.is_nan() || v.is_nan() {
                f64::NAN
            } else {
                a.max(v)
            }
        })
    };
    RuleDrift { rows, largest }
}

/// The drift check of a group of rules: how many, how many checked (a finite prediction), the
/// median and 90th percentile of the largest predicted `|relative change|`, the median
/// measured creep, the Spearman correlation of predicted and measured across the checked
/// rules, and the fraction of them predicted within `bound` (the creep constraint).
fn group_summary(rules: &[&RuleDrift], bound: f64) -> Value {
    let (pred, creep): (Vec<f64>, Vec<f64>) = rules
        .iter()
        .filter(|d| d.largest.is_finite())
        .map(|d| (d.largest, d.rows[0].measured_creep))
        .unzip();
    let within = pred.iter().filter(|p| **p <= bound).count();
    json!({
        "rules": rules.len(),
        "checked": pred.len(),
        "median_predicted": json_number(median(&pred)),
        "p90_predicted": json_number(percentile(&pred, 0.9)),
        "median_measured": json_number(median(&creep)),
        "spearman": json_number(spearman(&pred, &creep)),
        "within_creep_bound": if pred.is_empty() {
            Value::Null
        } else {
            json_number(within as f64 / pred.len() as f64)
        },
    })
}

/// The drift check of round `r` (`checks[i]` is that of `all[i]`): its accepted rules (under
/// its own constraints) and, for comparison, all its rules the rate checker did not stop.
pub fn round_drift(
    cfg: &RuleFilterConfig,
    all: &[RuleRecord],
    checks: &[RuleDrift],
    r: u32,
) -> Value {
    // The creep bound of the deciding definition: the paper's `w_creep`, or synplast's.
    let network = cfg.effective_network();
    let bound = match (cfg.definition(), &network.plausibility) {
        (crate::sim::fsbi::Definition::Paper, Some(pc)) => pc.paper.w_creep[1].0,
        _ => network.constraints.creep_max.0,
    };
    let pick = |keep: &dyn Fn(&RuleRecord) -> bool| -> Vec<&RuleDrift> {
        all.iter()
            .zip(checks)
            .filter(|(x, _)| x.round == r && keep(x))
            .map(|(_, d)| d)
            .collect()
    };
    json!({
        "window_s": cfg.network.score_s.0,
        "creep_bound": bound,
        "accepted": group_summary(&pick(&|x| x.accepted), bound),
        "not_aborted": group_summary(&pick(&|x| !aborted(x)), bound),
    })
}

/// Adds `drift` ([`round_drift`]) to each round's summary (`summaries[r]` of round `r`).
pub fn add_to_summaries(
    cfg: &RuleFilterConfig,
    all: &[RuleRecord],
    checks: &[RuleDrift],
    summaries: &mut [Value],
) {
    for (r, s) in summaries.iter_mut().enumerate() {
        if let Some(o) = s.as_object_mut() {
            o.insert("drift".into(), round_drift(cfg, all, checks, r as u32));
        }
    }
}

/// `drift.csv`: one row per plastic type of every rule the rate checker did not stop, in rule
/// order.
pub fn drift_csv(checks: &[RuleDrift]) -> String {
    let mut s = String::from("rule,round,type,nu_pre,nu_post,predicted_dw_per_s,predicted_relative_change,measured_creep,accepted\n");
    for r in checks.iter().flat_map(|c| &c.rows) {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            r.rule,
            r.round,
            r.conn.name(),
            format_float(r.nu_pre),
            format_float(r.nu_post),
            format_float(r.dw_per_s),
            format_float(r.relative_change),
            format_float(r.measured_creep),
            u8::from(r.accepted)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use synplast_kernels::spiking::{traces_update, DoubletRule};

    #[test]
    fn mean_drift_by_hand_and_against_the_kernel_rule() {
        // 0.01 [1 x 10 - 0.5 x 4 + 10 x 4 (2 x 0.02 - 1 x 0.05)] = 0.01 (10 - 2 - 0.4) = 0.076.
        let rule = [0.02, 0.05, 1.0, -0.5, 2.0, -1.0];
        let d = mean_drift_per_s(&rule, 0.01, 10.0, 4.0);
        assert!((d - 0.076).abs() < 1e-15, "{d}");
        // Only the pairing term: 0.01 x 20 x 30 x (1 x 0.04 + 1 x 0.06) = 0.6.
        let d = mean_drift_per_s(&[0.04, 0.06, 0.0, 0.0, 1.0, 1.0], 0.01, 20.0, 30.0);
        assert!((d - 0.6).abs() < 1e-12, "{d}");

        // The kernel's rule, as the network builds it (tau in ms, 0.1 ms steps, traces read
        // before this step's spikes, then +1 and decay), on independent Bernoulli trains.
        let (dt, nu_pre, nu_post) = (0.1, 10.0, 4.0);
        let k = DoubletRule {
            tau_pre: rule[0] * 1000.0,
            tau_post: rule[1] * 1000.0,
            alpha: rule[2],
            beta: rule[3],
            gamma: rule[4],
            kappa: rule[5],
            eta: 0.01,
            w_max: f64::INFINITY,
        };
        let (dpre, dpost) = ((-dt / k.tau_pre).exp(), (-dt / k.tau_post).exp());
        let mut rng = Rng::new(7);
        let (mut xpre, mut xpost) = ([0.0f64], [0.0f64]);
        let (blocks, steps) = (10, 200_000); // 20 s a block
        let mut drifts = Vec::new();
        for _ in 0..blocks {
            let w0 = 1e6; // far from the clip at 0
            let mut w = w0;
            for _ in 0..steps {
                let pre = rng.uniform() < nu_pre * dt * 1e-3;
                let post = rng.uniform() < nu_post * dt * 1e-3;
                if pre {
                    w = k.on_pre(w, xpost[0]);
                }
                if post {
                    w = k.on_post(w, xpre[0]);
                }
                traces_update(&mut xpre, if pre { &[0] } else { &[] }, 0, dpre).unwrap();
                traces_update(&mut xpost, if post { &[0] } else { &[] }, 0, dpost).unwrap();
            }
            drifts.push((w - w0) / (steps as f64 * dt * 1e-3));
        }
        let mean = drifts.iter().sum::<f64>() / blocks as f64;
        let var = drifts.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (blocks - 1) as f64;
        let se = (var / blocks as f64).sqrt();
        let want = mean_drift_per_s(&rule, 0.01, nu_pre, nu_post);
        assert!(
            (mean - want).abs() <= 4.0 * se + 0.01 * want.abs(),
            "simulated {mean} (se {se}) vs {want}"
        );
    }

    fn config() -> RuleFilterConfig {
        let text = "name: t\nkind: rule_filter\nseed: 5\ntypes: [ee, ei, ie, ii]\nrules: 4\nnetwork: {n_exc: 8, n_inh: 2, p: 0.1, w: [0.1, 0.1, 1, 1], w_max: 20, inputs: 10, input_p: 0.1, input_w: 0.1, input_rate: [5, 15], delay_ms: 0.8, eta: 0.01, rules: {}, learn_s: 0, score_s: 5}\n";
        // Parsed with serde and validated here: a kind does not use the registry.
        let c: RuleFilterConfig = serde_saphyr::from_str(text).unwrap();
        super::super::config::validate(&c).unwrap();
        c
    }

    /// A record with every type's rule `rule`, the given rates, mean weights and creep.
    fn record(index: u32, round: u32, accepted: bool, m: Value, rule: [f64; 6]) -> RuleRecord {
        RuleRecord {
            index,
            round,
            params: rule.repeat(4),
            metrics: m,
            accepted,
        }
    }

    fn metrics(rate_exc: f64, rate_inh: f64, mean_w: [f64; 4], creep: f64) -> Value {
        json!({"aborted": false, "rate_exc": rate_exc, "rate_inh": rate_inh,
               "mean_w": mean_w, "creep": creep, "pass": []})
    }

    #[test]
    fn rows_use_each_types_populations_the_window_and_the_final_weight() {
        let cfg = config();
        let rule = [0.02, 0.05, 1.0, -0.5, 2.0, -1.0];
        let rec = record(
            3,
            1,
            true,
            metrics(10.0, 4.0, [0.2, 0.1, 1.0, 2.0], 0.03),
            rule,
        );
        let d = rule_drift(&cfg, &rec);
        let pairs: Vec<(&str, f64, f64)> = d
            .rows
            .iter()
            .map(|r| (r.conn.name(), r.nu_pre, r.nu_post))
            .collect();
        assert_eq!(
            pairs,
            [
                ("ee", 10.0, 10.0),
                ("ei", 10.0, 4.0),
                ("ie", 4.0, 10.0),
                ("ii", 4.0, 4.0)
            ]
        );
        // ei: 0.076 per s (the hand case above) over 5 s, relative to its final 0.1.
        let ei = &d.rows[1];
        assert!((ei.dw_per_s - 0.076).abs() < 1e-15);
        assert!((ei.relative_change - 0.076 * 5.0 / 0.1).abs() < 1e-12);
        assert_eq!(
            (ei.rule, ei.round, ei.accepted, ei.measured_creep),
            (3, 1, true, 0.03)
        );
        let largest = d
            .rows
            .iter()
            .map(|r| r.relative_change.abs())
            .fold(0.0, f64::max);
        assert_eq!(d.largest, largest);
        // A type at zero weight has no relative change: the rule is not checked.
        let zero = record(
            4,
            1,
            true,
            metrics(10.0, 4.0, [0.0, 0.1, 1.0, 2.0], 0.03),
            rule,
        );
        let dz = rule_drift(&cfg, &zero);
        assert!(dz.rows[0].relative_change.is_nan() && dz.largest.is_nan());
        // A rule the rate checker stopped has no rows; only plastic types get one.
        let mut stopped = rec.clone();
        stopped.metrics["aborted"] = json!(true);
        assert!(rule_drift(&cfg, &stopped).rows.is_empty());
        let mut two = cfg.clone();
        two.types = vec![ConnType::Ii, ConnType::Ee];
        let names: Vec<&str> = rule_drift(&two, &rec)
            .rows
            .iter()
            .map(|r| r.conn.name())
            .collect();
        assert_eq!(names, ["ee", "ii"]);
        let csv = drift_csv(&[d]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "rule,round,type,nu_pre,nu_post,predicted_dw_per_s,predicted_relative_change,measured_creep,accepted");
        assert!(
            lines[2].starts_with("3,1,ei,10.0,4.0,0.076"),
            "{}",
            lines[2]
        );
        assert!(lines[2].ends_with(",0.03,1"), "{}", lines[2]);
    }

    #[test]
    fn round_summaries_count_checked_rules_and_compare_with_creep() {
        let cfg = config();
        // Only ee's alpha moves weights (tau and the other coefficients 0): ee's drift is
        // 0.01 alpha nu_pre, relative to ee's 0.1 over 5 s: 0.5 alpha nu_pre; the other types
        // stay at 0.
        let only_alpha = |a: f64| [0.01, 0.01, a, 0.0, 0.0, 0.0];
        let ee_only = |a: f64| {
            let mut p = only_alpha(a).repeat(4);
            for v in &mut p[6..] {
                *v = 0.0;
            }
            p
        };
        let rec = |i: u32, round: u32, acc: bool, a: f64, creep: f64| RuleRecord {
            index: i,
            round,
            params: ee_only(a),
            metrics: metrics(2.0, 3.0, [0.1, 0.1, 1.0, 1.0], creep),
            accepted: acc,
        };
        let mut stopped = rec(5, 1, false, 1.0, 0.0);
        stopped.metrics["aborted"] = json!(true);
        let all = vec![
            // Round 0: predicted 0.5 a 2 = a: 0.01, 0.02, 0.2; creep in the same order.
            rec(0, 0, true, 0.01, 0.001),
            rec(1, 0, true, -0.02, 0.002),
            rec(2, 0, false, 0.2, 0.3),
            // Round 1: one accepted with a zero weight (not checked), one stopped.
            RuleRecord {
                metrics: metrics(2.0, 3.0, [0.0, 0.1, 1.0, 1.0], 0.01),
                ..rec(3, 1, true, 0.01, 0.01)
            },
            rec(4, 1, false, 0.03, 0.04),
            stopped,
        ];
        let checks: Vec<RuleDrift> = all.iter().map(|r| rule_drift(&cfg, r)).collect();
        assert!((checks[2].largest - 0.2).abs() < 1e-12);
        let mut summaries = vec![json!({"round": 0}), json!({"round": 1})];
        add_to_summaries(&cfg, &all, &checks, &mut summaries);
        let d0 = &summaries[0]["drift"];
        assert_eq!(
            (d0["window_s"].as_f64(), d0["creep_bound"].as_f64()),
            (Some(5.0), Some(0.05))
        );
        let a0 = &d0["accepted"];
        assert_eq!(
            (a0["rules"].as_u64(), a0["checked"].as_u64()),
            (Some(2), Some(2))
        );
        assert!((a0["median_predicted"].as_f64().unwrap() - 0.015).abs() < 1e-12);
        // 90th percentile of [0.01, 0.02] by interpolation: 0.019.
        assert!((a0["p90_predicted"].as_f64().unwrap() - 0.019).abs() < 1e-12);
        assert_eq!(a0["within_creep_bound"].as_f64(), Some(1.0));
        // Two rules are too few for a correlation; three in the same order give 1.
        assert!(a0["spearman"].is_null());
        let n0 = &d0["not_aborted"];
        assert_eq!(n0["checked"].as_u64(), Some(3));
        assert_eq!(n0["spearman"].as_f64(), Some(1.0));
        assert!((n0["within_creep_bound"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((n0["median_measured"].as_f64().unwrap() - 0.002).abs() < 1e-15);
        let d1 = &summaries[1]["drift"];
        assert_eq!(d1["accepted"]["rules"].as_u64(), Some(1));
        assert_eq!(d1["accepted"]["checked"].as_u64(), Some(0));
        assert!(d1["accepted"]["median_predicted"].is_null());
        assert!(d1["accepted"]["within_creep_bound"].is_null());
        // The stopped rule is left out of "not aborted" and has no rows in drift.csv.
        assert_eq!(d1["not_aborted"]["rules"].as_u64(), Some(2));
        assert_eq!(drift_csv(&checks).lines().count(), 1 + 5 * 4);
    }
}
