//! The report of one trial-level fly comparison (one variant): the per-fly table (real fly and
//! its surrogate), the tests across flies (Wilcoxon signed-rank and sign tests of the held-out
//! improvement from the added terms, for real flies and for surrogates, and of real against
//! surrogate), the sign of the reported coefficient with its intervals, a conclusion computed
//! from those numbers, and the plots.

use super::flies_trial::{Subject, TrialFly};
use super::run::fly_masks;
use super::score::percent_deviance;
use crate::config::terms::reward_term_label;
use crate::error::RunError;
use crate::io::{format_float, npy_bytes};
use crate::metrics::{json_number, median};
use crate::plot::intervals::{interval_chart, IntervalSeries};
use crate::rundir::RunDir;
use crate::stats::{sign_test_p, wilcoxon_signed_rank, Wilcoxon};
use serde_json::{json, Value};
use synplast_kernels::reward::REWARD_TERMS;

/// Tests are read at this level.
pub const ALPHA: f64 = 0.05;
/// The words a table cell gets for a coefficient without a meaningful interval.
pub const NOT_MEANINGFUL: &str = "not meaningful";

/// A coefficient: the estimate, its standard error and 95% interval (`None` when not
/// meaningful).
type Coefficient = (f64, Option<f64>, Option<(f64, f64)>);

/// The reported coefficient of a subject's fit with the added terms.
fn coefficient(s: &Subject, k: Option<usize>) -> Option<Coefficient> {
    let (w, k) = (s.with.as_ref()?, k?);
    let u = &w.uncertainty;
    Some((w.theta[k], u.se[k], u.interval(k, w.theta[k])))
}

/// Held-out `-log P` without minus with the added terms (positive: the added terms help).
fn improvement(s: &Subject) -> Option<f64> {
    s.with.as_ref().map(|w| s.without.nll.1 - w.nll.1)
}

fn subject_json(s: &Subject, k: Option<usize>) -> Value {
    let mut o = json!({
        "held_in_nll_without": json_number(s.without.nll.0),
        "held_out_nll_without": json_number(s.without.nll.1),
        "held_in_nll_theta_zero": json_number(s.null.0),
        "held_out_nll_theta_zero": json_number(s.null.1),
        "held_in_nll_bias_only": json_number(s.bias.0),
        "held_out_nll_bias_only": json_number(s.bias.1),
        "held_out_percent_deviance_without": json_number(percent_deviance(s.without.nll.1, s.null.1)),
        "held_out_percent_deviance_without_vs_bias_only": json_number(percent_deviance(s.without.nll.1, s.bias.1)),
        "theta_without": s.without.theta,
        "se_without": s.without.uncertainty.se,
    });
    if let Some(w) = &s.with {
        o["held_in_nll_with"] = json_number(w.nll.0);
        o["held_out_nll_with"] = json_number(w.nll.1);
        o["held_out_percent_deviance_with"] = json_number(percent_deviance(w.nll.1, s.null.1));
        o["held_out_improvement_with"] = json_number(s.without.nll.1 - w.nll.1);
        o["theta_with"] = json!(w.theta);
        o["se_with"] = json!(w.uncertainty.se);
    }
    if let Some((c, se, ci)) = coefficient(s, k) {
        o["weight_coefficient"] = json_number(c);
        o["weight_coefficient_se"] = se.map(json_number).unwrap_or(Value::Null);
        o["weight_coefficient_ci95"] = ci.map(|(a, b)| json!([a, b])).unwrap_or(Value::Null);
    }
    o
}

/// The across-fly numbers of one group (real flies, or surrogates).
#[derive(Debug, Clone)]
struct Group {
    n: usize,
    improved: usize,
    worse: usize,
    wilcoxon: Wilcoxon,
    sign_p: f64,
    median_improvement: f64,
    negative: usize,
    positive: usize,
    sign_p_coefficient: f64,
    below_zero: usize,
    above_zero: usize,
    not_meaningful: usize,
    median_coefficient: f64,
}

impl Group {
    fn of(subjects: &[&Subject], k: Option<usize>) -> Group {
        let diffs: Vec<f64> = subjects.iter().filter_map(|s| improvement(s)).collect();
        let coefs: Vec<_> = subjects.iter().filter_map(|s| coefficient(s, k)).collect();
        let improved = diffs.iter().filter(|d| **d > 0.0).count();
        let worse = diffs.iter().filter(|d| **d < 0.0).count();
        let negative = coefs.iter().filter(|c| c.0 < 0.0).count();
        let positive = coefs.iter().filter(|c| c.0 > 0.0).count();
        Group {
            n: subjects.len(),
            improved,
            worse,
            wilcoxon: wilcoxon_signed_rank(&diffs),
            sign_p: sign_test_p(improved, improved + worse),
            median_improvement: median(&diffs),
            negative,
            positive,
            sign_p_coefficient: sign_test_p(negative, negative + positive),
            below_zero: coefs
                .iter()
                .filter(|c| c.2.is_some_and(|i| i.1 < 0.0))
                .count(),
            above_zero: coefs
                .iter()
                .filter(|c| c.2.is_some_and(|i| i.0 > 0.0))
                .count(),
            not_meaningful: coefs.iter().filter(|c| c.2.is_none()).count(),
            median_coefficient: median(&coefs.iter().map(|c| c.0).collect::<Vec<_>>()),
        }
    }
    /// Whether the added terms reliably improve held-out fits (Wilcoxon p < [`ALPHA`], median
    /// improvement positive).
    fn improves(&self) -> bool {
        self.wilcoxon.p_two_sided < ALPHA && self.median_improvement > 0.0
    }
    /// `negative`, `positive` or `not reliably signed` (two-sided sign test at [`ALPHA`]).
    fn sign(&self) -> &'static str {
        if self.sign_p_coefficient >= ALPHA {
            "not reliably signed"
        } else if self.negative > self.positive {
            "reliably negative"
        } else {
            "reliably positive"
        }
    }
    fn json(&self) -> Value {
        json!({
            "flies": self.n,
            "held_out_improved_with_added_terms": self.improved,
            "held_out_worse_with_added_terms": self.worse,
            "wilcoxon": self.wilcoxon,
            "sign_test_p_two_sided": self.sign_p,
            "median_held_out_improvement": json_number(self.median_improvement),
            "negative_coefficient": self.negative,
            "positive_coefficient": self.positive,
            "coefficient_sign_test_p_two_sided": self.sign_p_coefficient,
            "coefficient_interval_below_zero": self.below_zero,
            "coefficient_interval_above_zero": self.above_zero,
            "coefficient_interval_not_meaningful": self.not_meaningful,
            "median_coefficient": json_number(self.median_coefficient),
            "coefficient_sign": self.sign(),
        })
    }
}

/// The verdict and its sentence, from the numbers: do the added terms improve held-out fits
/// of the real flies, more than of their surrogates, and is the coefficient reliably signed?
fn conclusion(
    term: &str,
    real: &Group,
    sur: &Group,
    paired: &Wilcoxon,
    paired_median: f64,
) -> (String, &'static str, bool) {
    let n = real.n;
    let real_text = format!(
        "{} of {n} real flies (Wilcoxon p = {:.3})",
        real.improved, real.wilcoxon.p_two_sided
    );
    let sur_text = format!(
        "{} of {n} surrogates (p = {:.3})",
        sur.improved, sur.wilcoxon.p_two_sided
    );
    let beyond = paired.p_two_sided < ALPHA && paired_median > 0.0;
    let worse = real.wilcoxon.p_two_sided < ALPHA && real.median_improvement < 0.0;
    let (verdict, first) = if worse {
        (
            "worse",
            format!("adding {term} makes held-out fits of the real flies worse: it helps only {real_text}, and {sur_text}"),
        )
    } else if !real.improves() {
        (
            "no_improvement",
            format!("adding {term} does not reliably improve held-out fits of the real flies: it helps {real_text}, and {sur_text}"),
        )
    } else if sur.improves() || !beyond {
        (
            "not_distinguishable_from_surrogate",
            format!("adding {term} improves held-out fits of {real_text}, but about as well for flies that do not learn, {sur_text}; real vs surrogate paired p = {:.3}: a better fit with {term} is not evidence of forgetting", paired.p_two_sided),
        )
    } else {
        (
            "improvement_beyond_surrogate",
            format!("adding {term} improves held-out fits of {real_text} and more than of {sur_text} (real vs surrogate paired p = {:.3})", paired.p_two_sided),
        )
    };
    let sign = format!(
        "the {term} coefficient is {} in the real flies ({} of {n} negative, sign test p = {:.3}; 95% interval below 0 for {}, above 0 for {}, not meaningful for {})",
        real.sign(),
        real.negative,
        real.sign_p_coefficient,
        real.below_zero,
        real.above_zero,
        real.not_meaningful
    );
    let forgetting =
        verdict == "improvement_beyond_surrogate" && real.sign() == "reliably negative";
    let last = if forgetting {
        "evidence of active forgetting".to_string()
    } else {
        "no evidence of active forgetting".to_string()
    };
    (format!("{first}; {sign}: {last}."), verdict, forgetting)
}

fn cell(v: Option<f64>) -> String {
    v.map(format_float).unwrap_or_default()
}

/// The table columns of one subject, and their cells.
fn subject_cells(s: &Subject, k: Option<usize>) -> Vec<String> {
    let w = s.with.as_ref();
    let c = coefficient(s, k);
    let nm = |x: Option<String>| {
        x.unwrap_or_else(|| {
            if c.is_some() {
                NOT_MEANINGFUL.into()
            } else {
                String::new()
            }
        })
    };
    vec![
        format_float(s.without.nll.0),
        format_float(s.without.nll.1),
        cell(w.map(|w| w.nll.0)),
        cell(w.map(|w| w.nll.1)),
        format_float(s.null.0),
        format_float(s.null.1),
        format_float(s.bias.0),
        format_float(s.bias.1),
        cell(improvement(s)),
        cell(c.map(|c| c.0)),
        nm(c.and_then(|c| c.1).map(format_float)),
        nm(c.and_then(|c| c.2).map(|i| format_float(i.0))),
        nm(c.and_then(|c| c.2).map(|i| format_float(i.1))),
    ]
}

const SUBJECT_COLUMNS: [&str; 13] = [
    "held_in_nll_without",
    "held_out_nll_without",
    "held_in_nll_with",
    "held_out_nll_with",
    "held_in_nll_theta_zero",
    "held_out_nll_theta_zero",
    "held_in_nll_bias_only",
    "held_out_nll_bias_only",
    "held_out_improvement",
    "coefficient",
    "coefficient_se",
    "coefficient_ci95_low",
    "coefficient_ci95_high",
];

/// Writes the tables and plots of one variant (`name`; `None`: the only comparison, file names
/// without a suffix) and returns its metrics and summary lines.
pub fn report_variant(
    cfg: &crate::kinds::fit_behavior::FitBehaviorConfig,
    name: Option<&str>,
    results: &[TrialFly],
    dir: &RunDir,
) -> Result<(Value, String), RunError> {
    let masks = fly_masks(cfg);
    let k = masks.added.first().copied();
    let term = k.map(reward_term_label).unwrap_or_default();
    let suffix = name.map(|n| format!("_{n}")).unwrap_or_default();
    let n = results.len();
    let mut header = vec!["fly".to_string(), "trials".into(), "fitted_trials".into()];
    for who in ["", "surrogate_"] {
        header.extend(SUBJECT_COLUMNS.iter().map(|c| format!("{who}{c}")));
    }
    let mut csv = header.join(",") + "\n";
    let mut flies_json = Vec::new();
    for r in results {
        let mut cells = vec![r.id.to_string(), r.trials.to_string(), r.fitted.to_string()];
        cells.extend(subject_cells(&r.real, k));
        cells.extend(subject_cells(&r.surrogate, k));
        csv.push_str(&(cells.join(",") + "\n"));
        let mut o = json!({"fly": r.id, "trials": r.trials, "fitted_trials": r.fitted, "block_b_fraction": r.block_b_fraction});
        if let (Some(a), Value::Object(b)) = (o.as_object_mut(), subject_json(&r.real, k)) {
            a.extend(b);
        }
        o["surrogate"] = subject_json(&r.surrogate, k);
        flies_json.push(o);
    }
    dir.put(&format!("flies{suffix}.csv"), csv.as_bytes())?;
    let pd =
        |f: fn(&Subject) -> f64| median(&results.iter().map(|r| f(&r.real)).collect::<Vec<_>>());
    let pd_null = pd(|s| percent_deviance(s.without.nll.1, s.null.1));
    let pd_bias = pd(|s| percent_deviance(s.without.nll.1, s.bias.1));
    let mut metrics = json!({
        "trainable_without": (0..REWARD_TERMS).filter(|&j| masks.base[j]).map(reward_term_label).collect::<Vec<_>>(),
        "terms": (0..REWARD_TERMS).map(reward_term_label).collect::<Vec<_>>(),
        "flies": flies_json,
        "median_held_out_percent_deviance_without": json_number(pd_null),
        "median_held_out_percent_deviance_without_vs_bias_only": json_number(pd_bias),
    });
    let mut summary = format!(
        "{}: {n} flies at the trial level, median held-out percent deviance {pd_null:.2} against theta = 0 and {pd_bias:.2} against each fly's constant preference",
        cfg.name
    );
    let tw: Vec<f64> = results
        .iter()
        .flat_map(|r| r.real.without.theta.clone())
        .collect();
    dir.put(
        &format!("theta_without{suffix}.npy"),
        &npy_bytes(&[n, REWARD_TERMS], &tw),
    )?;
    if masks.with.is_none() {
        return Ok((metrics, summary));
    }
    let real: Vec<&Subject> = results.iter().map(|r| &r.real).collect();
    let sur: Vec<&Subject> = results.iter().map(|r| &r.surrogate).collect();
    let (g_real, g_sur) = (Group::of(&real, k), Group::of(&sur, k));
    let paired_diffs: Vec<f64> = results
        .iter()
        .filter_map(|r| Some(improvement(&r.real)? - improvement(&r.surrogate)?))
        .collect();
    let paired = wilcoxon_signed_rank(&paired_diffs);
    let paired_median = median(&paired_diffs);
    let (text, verdict, forgetting) = conclusion(&term, &g_real, &g_sur, &paired, paired_median);
    metrics["added_terms"] = json!(masks
        .added
        .iter()
        .map(|&j| reward_term_label(j))
        .collect::<Vec<_>>());
    metrics["reported_coefficient"] = json!(term);
    metrics["summary"] = g_real.json();
    metrics["summary"]["median_held_out_percent_deviance_with"] = json_number(pd(|s| {
        s.with
            .as_ref()
            .map(|w| percent_deviance(w.nll.1, s.null.1))
            .unwrap_or(f64::NAN)
    }));
    metrics["surrogate_summary"] = g_sur.json();
    metrics["real_vs_surrogate"] = json!({
        "paired_wilcoxon_of_improvement_difference": paired,
        "median_improvement_difference": json_number(paired_median),
        "real_improves_more": paired_diffs.iter().filter(|d| **d > 0.0).count(),
        "surrogate_improves_more": paired_diffs.iter().filter(|d| **d < 0.0).count(),
    });
    metrics["verdict"] = json!(verdict);
    metrics["evidence_of_forgetting"] = json!(forgetting);
    metrics["conclusion"] = json!(text);
    summary.push_str(&format!(
        "\nwith {}: held-out -log P(choice) lower for {} of {n} flies ({} higher; Wilcoxon p = {:.4}, sign test p = {:.4}; median improvement {:.4}) and for {} of {n} surrogates ({} higher; Wilcoxon p = {:.4}, sign test p = {:.4}; median {:.4}); real minus surrogate improvement: Wilcoxon p = {:.4}\nthe {term} coefficient is negative for {} of {n} flies (median {:.4}; 95% interval below 0 for {}, above 0 for {}, not meaningful for {}) and for {} of {n} surrogates (median {:.4})\nconclusion: {text}",
        metrics["added_terms"],
        g_real.improved, g_real.worse, g_real.wilcoxon.p_two_sided, g_real.sign_p, g_real.median_improvement,
        g_sur.improved, g_sur.worse, g_sur.wilcoxon.p_two_sided, g_sur.sign_p, g_sur.median_improvement,
        paired.p_two_sided,
        g_real.negative, g_real.median_coefficient, g_real.below_zero, g_real.above_zero, g_real.not_meaningful,
        g_sur.negative, g_sur.median_coefficient,
    ));
    let tw: Vec<f64> = results
        .iter()
        .flat_map(|r| {
            r.real
                .with
                .as_ref()
                .map(|w| w.theta.clone())
                .unwrap_or_default()
        })
        .collect();
    dir.put(
        &format!("theta_with{suffix}.npy"),
        &npy_bytes(&[n, REWARD_TERMS], &tw),
    )?;
    let bars: Vec<(String, Vec<(f64, f64)>)> = results
        .iter()
        .filter_map(|r| {
            let s = &r.real;
            let w = s.with.as_ref()?;
            Some((
                r.id.to_string(),
                vec![(
                    percent_deviance(w.nll.1, s.null.1),
                    percent_deviance(s.without.nll.1, s.null.1),
                )],
            ))
        })
        .collect();
    dir.put(
        &format!("flies_deviance{suffix}.svg"),
        crate::plot::paired_bars(
            "Held-out percent deviance explained per fly (trial level)",
            ["with the added terms", "without"],
            &bars,
        )
        .as_bytes(),
    )?;
    let series =
        |who: &str, color: &str, offset: f64, pick: fn(&TrialFly) -> &Subject| IntervalSeries {
            name: who.into(),
            color: color.into(),
            offset,
            points: results
                .iter()
                .map(|r| match coefficient(pick(r), k) {
                    Some((c, _, ci)) => (c, ci),
                    None => (f64::NAN, None),
                })
                .collect(),
        };
    let title = match name {
        Some(v) => format!("Fitted {term} coefficient per fly, 95% intervals ({v})"),
        None => format!("Fitted {term} coefficient per fly, 95% intervals"),
    };
    dir.put(
        &format!("flies_coefficient{suffix}.svg"),
        interval_chart(
            &title,
            "fly",
            &format!("{term} coefficient"),
            &results.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
            &[
                series("real fly", "#1f77b4", -0.17, |r| &r.real),
                series("no-learning surrogate", "#ff7f0e", 0.17, |r| &r.surrogate),
            ],
        )
        .as_bytes(),
    )?;
    Ok((metrics, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(improved: usize, p: f64, median_improvement: f64, negative: usize) -> Group {
        let n = 18;
        Group {
            n,
            improved,
            worse: n - improved,
            wilcoxon: Wilcoxon {
                n,
                w_plus: 0.0,
                w_minus: 0.0,
                p_two_sided: p,
                exact: true,
            },
            sign_p: sign_test_p(improved, n),
            median_improvement,
            negative,
            positive: n - negative,
            sign_p_coefficient: sign_test_p(negative, n),
            below_zero: 0,
            above_zero: 0,
            not_meaningful: 0,
            median_coefficient: -0.1,
        }
    }

    fn paired(p: f64) -> Wilcoxon {
        Wilcoxon {
            n: 18,
            w_plus: 0.0,
            w_minus: 0.0,
            p_two_sided: p,
            exact: true,
        }
    }

    /// The verdict follows the numbers: a term that wins as often on the surrogates is not
    /// evidence of forgetting, however good it looks on the real flies.
    #[test]
    fn the_conclusion_is_computed_from_real_and_surrogate_numbers() {
        let real = group(16, 0.001, 0.02, 16);
        let (text, verdict, forgetting) =
            conclusion("w", &real, &group(15, 0.002, 0.02, 9), &paired(0.6), 0.0);
        assert_eq!(verdict, "not_distinguishable_from_surrogate");
        assert!(!forgetting);
        assert!(text.contains("not evidence of forgetting"), "{text}");
        assert!(text.contains("reliably negative"), "{text}");
        let (text, verdict, forgetting) =
            conclusion("w", &real, &group(8, 0.7, -0.001, 9), &paired(0.003), 0.02);
        assert_eq!(verdict, "improvement_beyond_surrogate");
        assert!(forgetting, "{text}");
        // Beyond the surrogates but with w positive: better fits, no forgetting.
        let pos = group(16, 0.001, 0.02, 2);
        let (text, _, forgetting) =
            conclusion("w", &pos, &group(8, 0.7, -0.001, 9), &paired(0.003), 0.02);
        assert!(!forgetting && text.contains("reliably positive"), "{text}");
        let (_, verdict, _) = conclusion("w", &group(9, 0.5, 0.0, 9), &real, &paired(0.5), 0.0);
        assert_eq!(verdict, "no_improvement");
        let (text, verdict, _) =
            conclusion("w", &group(5, 0.01, -0.02, 9), &real, &paired(0.01), -0.03);
        assert_eq!(verdict, "worse");
        assert!(text.contains("worse"), "{text}");
    }
}
