//! The figures of a `rule_filter` run, written with its other outputs for every run (one
//! round or many), and the call that writes them with the drift check ([`super::drift`]):
//! - `rounds.svg`: per round, the rules simulated, accepted (under the round's own
//!   constraints), plausible (under all of them, so rounds compare on one scale) and unique
//!   plausible; the accepted and plausible fractions; and a table of where the candidates came
//!   from, how many constraints the round asks for, the classifier's held-out accuracy and
//!   false-negative rate, and the drift check;
//! - `marginals.svg`: small multiples, a row per plastic type and a column per parameter, each
//!   a density histogram over the prior box of every simulated rule (light), of the rules
//!   accepted under the last round's constraints (dark outline) and the box prior (dashed).
//!
//! Everything is read by name from the round summaries and the records as stored, so new
//! metrics or constraints leave it working.

use super::config::RuleFilterConfig;
use super::drift::{add_to_summaries, drift_csv, rule_drift, RuleDrift};
use super::run::RuleRecord;
use crate::error::RunError;
use crate::plot::panels::{
    esc, grid, line, polyline, rect, short_label, svg_open, text, ticks_within, y_axis, Bands,
    Frame, Histogram, Pad,
};
use crate::plot::{nice_ticks, tick_labels};
use crate::rundir::RunDir;
use crate::sim::fsbi::ConnType;
use serde_json::Value;
use std::fmt::Write;

/// Writes `drift.csv`, `rounds.svg` and `marginals.svg`, and adds the drift check to each
/// round's summary (`summaries[r]` of round `r`, as `run.rs` makes them). `accepted` are the
/// rules meeting the last round's constraints.
pub fn write(
    cfg: &RuleFilterConfig,
    dir: &RunDir,
    all: &[RuleRecord],
    accepted: &[&RuleRecord],
    summaries: &mut [Value],
) -> Result<(), RunError> {
    let checks: Vec<RuleDrift> = all.iter().map(|rec| rule_drift(cfg, rec)).collect();
    dir.put("drift.csv", drift_csv(&checks).as_bytes())?;
    add_to_summaries(cfg, all, &checks, summaries);
    dir.put("rounds.svg", rounds_svg(&cfg.name, summaries).as_bytes())?;
    dir.put(
        "marginals.svg",
        marginals_svg(cfg, all, accepted).as_bytes(),
    )?;
    Ok(())
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// One round as `rounds.svg` shows it, read by name from its summary.
struct RoundView {
    rules: f64,
    accepted: f64,
    plausible: f64,
    unique: f64,
    accepted_fraction: f64,
    plausible_fraction: f64,
    source: String,
    constraints: usize,
    /// `(learned round, held-out accuracy, held-out false-negative rate)`.
    classifier: Option<(Option<u64>, f64, f64)>,
    drift_median: f64,
    drift_checked: u64,
    drift_rho: f64,
    drift_rho_n: u64,
}

impl RoundView {
    fn of(s: &Value) -> Self {
        let c = &s["classifier"];
        let source = s["source"].as_str().unwrap_or("");
        let source = if source == "prior" {
            if s["unrestricted_because"].is_string() {
                "box prior (unrestricted)".to_string()
            } else {
                "box prior".to_string()
            }
        } else if let Some(f) = source.strip_prefix("file ") {
            let name = f.rsplit('/').next().unwrap_or(f);
            let cut: String = name.chars().take(16).collect();
            format!(
                "file {cut}{}",
                if cut.len() < name.len() { "…" } else { "" }
            )
        } else if source == "restricted prior" {
            // How much of the box the restriction let through.
            let rate = num(&c["acceptance_rate"]);
            if s["unrestricted_because"].is_string() {
                "prior, not restricted".to_string()
            } else if rate.is_finite() {
                format!("restricted ({}%)", fixed(100.0 * rate, 0))
            } else {
                source.to_string()
            }
        } else {
            source.to_string()
        };
        let d = &s["drift"];
        RoundView {
            rules: num(&s["rules"]),
            accepted: num(&s["accepted"]),
            plausible: num(&s["plausible"]),
            unique: num(&s["unique_plausible"]),
            accepted_fraction: num(&s["accepted_fraction"]),
            plausible_fraction: num(&s["plausible_fraction"]),
            source,
            constraints: s["require"].as_array().map_or(0, |a| a.len()),
            classifier: c.is_object().then(|| {
                (
                    c["constraints_of_round"].as_u64(),
                    num(&c["held_out_accuracy"]),
                    num(&c["held_out_false_negative_rate"]),
                )
            }),
            drift_median: num(&d["accepted"]["median_predicted"]),
            drift_checked: d["accepted"]["checked"].as_u64().unwrap_or(0),
            drift_rho: num(&d["not_aborted"]["spearman"]),
            drift_rho_n: d["not_aborted"]["checked"].as_u64().unwrap_or(0),
        }
    }
}

fn fixed(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "n/a".into()
    }
}

/// Legend entries right of a frame: a swatch (`style` of a 10 x 10 rect) and a label each.
fn legend(s: &mut String, f: &Frame, entries: &[(&str, String)]) {
    for (i, (style, label)) in entries.iter().enumerate() {
        let y = f.y + 6.0 + 17.0 * i as f64;
        rect(s, (f.right() + 12.0, y), (10.0, 10.0), style);
        text(s, (f.right() + 27.0, y + 9.0), "start", 11.0, "", label);
    }
}

/// Bars of `values[g][b]` in the bands of `f` over an axis from 0 to the last tick, each
/// labelled above with `label(value)`; the round names under the frame.
fn bar_panel(
    s: &mut String,
    f: &Frame,
    values: &[Vec<f64>],
    styles: &[&str],
    label: &dyn Fn(f64) -> String,
) {
    let top = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Headroom for the value labels above the tallest bar.
    let ticks = nice_ticks(0.0, if top > 0.0 { top * 1.15 } else { 1.0 }, 5);
    y_axis(s, f, &ticks, &tick_labels(&ticks), 11.0);
    let hi = ticks[ticks.len() - 1];
    let b = Bands::new(f.x, f.w, values.len(), styles.len(), 0.8);
    for (g, vs) in values.iter().enumerate() {
        for (k, (&v, style)) in vs.iter().zip(styles).enumerate() {
            let x = b.bar_x(g, k);
            let v0 = if v.is_finite() { v.max(0.0) } else { 0.0 };
            let y = f.y_of(v0, 0.0, hi);
            rect(s, (x, y), (b.bar_width(), f.bottom() - y), style);
            text(
                s,
                (x + b.bar_width() / 2.0, y - 3.0),
                "middle",
                10.0,
                "",
                &label(v),
            );
        }
        text(
            s,
            (b.center(g), f.bottom() + 15.0),
            "middle",
            12.0,
            "",
            &format!("round {g}"),
        );
    }
}

/// `rounds.svg`: per round, counts (simulated, accepted, plausible, unique plausible), the
/// accepted and plausible fractions, and a table of the source, the constraints, the
/// classifier's held-out scores and the drift check.
pub fn rounds_svg(name: &str, summaries: &[Value]) -> String {
    let rounds: Vec<RoundView> = summaries.iter().map(RoundView::of).collect();
    let n = rounds.len().max(1);
    let (left, band, right) = (190.0, 150.0, 210.0);
    let plot_w = (band * n as f64).max(300.0);
    let w = left + plot_w + right;
    let counts = Frame {
        x: left,
        y: 62.0,
        w: plot_w,
        h: 190.0,
    };
    let fractions = Frame {
        y: counts.bottom() + 62.0,
        h: 120.0,
        ..counts
    };
    let table_top = fractions.bottom() + 44.0;
    let rows = 7;
    let notes_top = table_top + 18.0 * rows as f64 + 8.0;
    let h = notes_top + 42.0;
    let mut s = svg_open(w, h);
    text(
        &mut s,
        (w / 2.0, 24.0),
        "middle",
        15.0,
        "",
        &format!("{name}: rules per round"),
    );
    let styles = [
        r##"fill="#bdbdbd""##,
        r##"fill="#3182bd""##,
        r##"fill="#31a354""##,
        r##"fill="#a1d99b""##,
    ];
    text(
        &mut s,
        (counts.x, counts.y - 8.0),
        "start",
        12.0,
        "",
        "rules (count)",
    );
    let v: Vec<Vec<f64>> = rounds
        .iter()
        .map(|r| vec![r.rules, r.accepted, r.plausible, r.unique])
        .collect();
    bar_panel(&mut s, &counts, &v, &styles, &|x| fixed(x, 0));
    legend(
        &mut s,
        &counts,
        &[
            (styles[0], "simulated".into()),
            (styles[1], "accepted (round's constraints)".into()),
            (styles[2], "plausible (all constraints)".into()),
            (styles[3], "unique plausible".into()),
        ],
    );
    text(
        &mut s,
        (fractions.x, fractions.y - 8.0),
        "start",
        12.0,
        "",
        "fraction of the round's rules",
    );
    let v: Vec<Vec<f64>> = rounds
        .iter()
        .map(|r| vec![r.accepted_fraction, r.plausible_fraction])
        .collect();
    bar_panel(&mut s, &fractions, &v, &styles[1..3], &|x| fixed(x, 3));
    legend(
        &mut s,
        &fractions,
        &[
            (styles[1], "accepted fraction".into()),
            (styles[2], "plausible fraction".into()),
        ],
    );
    let b = Bands::new(counts.x, counts.w, n, 1, 1.0);
    let labels = [
        "source",
        "constraints",
        "classifier learned",
        "held-out accuracy",
        "held-out false negatives",
        "drift: median |pred.| (acc.)",
        "drift: Spearman (not aborted)",
    ];
    for (i, lab) in labels.iter().enumerate() {
        let y = table_top + 18.0 * i as f64;
        if i % 2 == 0 {
            rect(
                &mut s,
                (8.0, y - 13.0),
                (left + plot_w - 8.0, 18.0),
                r##"fill="#f4f4f4""##,
            );
        }
        text(&mut s, (12.0, y), "start", 11.0, "", lab);
    }
    for (g, r) in rounds.iter().enumerate() {
        let none = match r.source.as_str() {
            s if s.starts_with("file") => "— (file)",
            "box prior (unrestricted)" => "— (unrestricted)",
            _ => "— (box prior)",
        };
        let (learned, acc, fnr) = match r.classifier {
            Some((k, a, f)) => (
                k.map_or("n/a".into(), |k| {
                    if k as usize == g {
                        "this round's".to_string()
                    } else {
                        format!("round {k}'s")
                    }
                }),
                fixed(a, 3),
                fixed(f, 3),
            ),
            None => (none.into(), "—".into(), "—".into()),
        };
        let cells = [
            r.source.clone(),
            r.constraints.to_string(),
            learned,
            acc,
            fnr,
            format!("{} (n={})", fixed(r.drift_median, 3), r.drift_checked),
            format!("{} (n={})", fixed(r.drift_rho, 2), r.drift_rho_n),
        ];
        for (i, c) in cells.iter().enumerate() {
            text(
                &mut s,
                (b.center(g), table_top + 18.0 * i as f64),
                "middle",
                11.0,
                "",
                c,
            );
        }
    }
    for (i, note) in [
        "drift: the mean-field prediction of the largest relative change of a type's mean weight",
        "over the scoring window (per rule in drift.csv), median over the round's accepted rules;",
        "Spearman: predicted against measured creep, over the round's rules not stopped by the rate checker",
    ]
    .iter()
    .enumerate()
    {
        text(
            &mut s,
            (12.0, notes_top + 13.0 * i as f64),
            "start",
            10.0,
            r##"fill="#555""##,
            note,
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Histogram bins per panel of `marginals.svg` for `n` rules: about `sqrt(n)`, 5 to 20.
fn marginal_bins(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).clamp(5, 20)
}

/// `marginals.svg`: one panel per plastic type (rows) and parameter (columns), each a density
/// histogram over the prior box of every simulated rule (light) and of `accepted` (dark
/// outline), with the box prior's flat density (dashed).
pub fn marginals_svg(
    cfg: &RuleFilterConfig,
    all: &[RuleRecord],
    accepted: &[&RuleRecord],
) -> String {
    let types: Vec<ConnType> = ConnType::ALL
        .into_iter()
        .filter(|t| cfg.types.contains(t))
        .collect();
    let (cell_w, cell_h, left, top) = (160.0, 132.0, 28.0, 84.0);
    let pad = Pad {
        left: 40.0,
        right: 10.0,
        top: 20.0,
        bottom: 24.0,
    };
    let frames = grid(types.len(), 6, (left, top), (cell_w, cell_h), pad);
    let w = left + 6.0 * cell_w + 8.0;
    let h = top + cell_h * types.len() as f64 + 22.0;
    let bins = marginal_bins(all.len());
    let mut s = svg_open(w, h);
    text(
        &mut s,
        (w / 2.0, 24.0),
        "middle",
        15.0,
        "",
        &format!(
            "{}: marginals of the accepted rules against all simulated and the box prior",
            cfg.name
        ),
    );
    let light = r##"fill="#c6dbef""##;
    let dark = r##"stroke="#08306b" stroke-width="1.6""##;
    let prior = r##"stroke="#e6550d" stroke-width="1.2" stroke-dasharray="5,3""##;
    let ly = 46.0;
    rect(&mut s, (left + 40.0, ly - 9.0), (14.0, 10.0), light);
    text(
        &mut s,
        (left + 60.0, ly),
        "start",
        12.0,
        "",
        &format!("all {} simulated rules", all.len()),
    );
    line(
        &mut s,
        (left + 260.0, ly - 4.0),
        (left + 280.0, ly - 4.0),
        dark,
    );
    text(
        &mut s,
        (left + 286.0, ly),
        "start",
        12.0,
        "",
        &format!("{} accepted (the last round's constraints)", accepted.len()),
    );
    line(
        &mut s,
        (left + 600.0, ly - 4.0),
        (left + 620.0, ly - 4.0),
        prior,
    );
    text(&mut s, (left + 626.0, ly), "start", 12.0, "", "box prior");
    let note = if accepted.is_empty() {
        "no accepted rules: only the reference histograms are drawn".to_string()
    } else {
        format!("densities over the box (a histogram's area is the fraction of its rules inside it); {bins} bins per panel")
    };
    let fill = if accepted.is_empty() {
        r##"fill="#b22222""##
    } else {
        r##"fill="#555""##
    };
    text(&mut s, (left + 40.0, ly + 18.0), "start", 11.0, fill, &note);
    for (row, t) in types.iter().enumerate() {
        for (col, p) in super::candidate::RULE_PARAMS.iter().enumerate() {
            let (lo, hi) = if col < 2 {
                (cfg.prior_tau[0].0, cfg.prior_tau[1].0)
            } else {
                (cfg.prior_coef[0].0, cfg.prior_coef[1].0)
            };
            let k = t.index() * 6 + col;
            let value = |r: &RuleRecord| r.params.get(k).copied().unwrap_or(f64::NAN);
            let h_all = Histogram::new(all.iter().map(value), lo, hi, bins);
            let h_acc = Histogram::new(accepted.iter().map(|r| value(r)), lo, hi, bins);
            let f = &frames[row][col];
            marginal_panel(&mut s, f, (lo, hi), &h_all, &h_acc, (light, dark, prior));
            let outside = h_all.below + h_all.above;
            let title = if outside > 0 {
                format!("{} {p} ({outside} outside)", t.name())
            } else {
                format!("{} {p}", t.name())
            };
            text(&mut s, (f.x, f.y - 6.0), "start", 11.0, "", &title);
        }
    }
    let mid = top + cell_h * types.len() as f64 / 2.0;
    let _ = writeln!(
        s,
        r#"<text x="14" y="{mid:.1}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {mid:.1})">{}</text>"#,
        esc("density")
    );
    text(
        &mut s,
        (w / 2.0, h - 6.0),
        "middle",
        12.0,
        "",
        "parameter value (time constants in s)",
    );
    s.push_str("</svg>\n");
    s
}

/// One panel of `marginals.svg`.
fn marginal_panel(
    s: &mut String,
    f: &Frame,
    (lo, hi): (f64, f64),
    all: &Histogram,
    acc: &Histogram,
    (light, dark, prior): (&str, &str, &str),
) {
    let (d_all, d_acc) = (all.density(lo, hi), acc.density(lo, hi));
    let flat = if hi > lo { 1.0 / (hi - lo) } else { 0.0 };
    let top = d_all.iter().chain(&d_acc).fold(flat, |a, b| a.max(*b));
    let ticks = nice_ticks(0.0, top.max(1e-9) * 1.05, 4);
    y_axis(s, f, &ticks, &tick_labels(&ticks), 10.0);
    let y_hi = ticks[ticks.len() - 1];
    let nb = d_all.len();
    let edge = |i: usize| f.x_of(lo + (hi - lo) * i as f64 / nb as f64, lo, hi);
    for (i, d) in d_all.iter().enumerate() {
        let y = f.y_of(*d, 0.0, y_hi);
        rect(
            s,
            (edge(i), y),
            (edge(i + 1) - edge(i), f.bottom() - y),
            light,
        );
    }
    if acc.total() > 0 {
        let mut pts = vec![(edge(0), f.bottom())];
        for (i, d) in d_acc.iter().enumerate() {
            let y = f.y_of(*d, 0.0, y_hi);
            pts.push((edge(i), y));
            pts.push((edge(i + 1), y));
        }
        pts.push((edge(nb), f.bottom()));
        polyline(s, &pts, dark);
    }
    let y = f.y_of(flat, 0.0, y_hi);
    line(s, (f.x, y), (f.right(), y), prior);
    for t in ticks_within(lo, hi, 3) {
        let x = f.x_of(t, lo, hi);
        line(
            s,
            (x, f.bottom()),
            (x, f.bottom() + 3.0),
            r##"stroke="#444""##,
        );
        text(
            s,
            (x, f.bottom() + 14.0),
            "middle",
            10.0,
            "",
            &short_label(t),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(types: &str) -> RuleFilterConfig {
        let text = format!("name: t\nkind: rule_filter\nseed: 5\ntypes: {types}\nrules: 4\nnetwork: {{n_exc: 8, n_inh: 2, p: 0.1, w: [0.1, 0.1, 1, 1], w_max: 20, inputs: 10, input_p: 0.1, input_w: 0.1, input_rate: [5, 15], delay_ms: 0.8, eta: 0.01, rules: {{}}, learn_s: 0, score_s: 5}}\n");
        // Parsed with serde and validated here: a kind does not use the registry.
        let c: RuleFilterConfig = serde_saphyr::from_str(&text).unwrap();
        super::super::config::validate(&c).unwrap();
        c
    }

    /// Rule `i` with every parameter at a fraction `u` of its prior range.
    fn record(i: u32, round: u32, accepted: bool, u: f64) -> RuleRecord {
        let one = [
            0.01 + 0.09 * u,
            0.1 - 0.09 * u,
            -2.0 + 4.0 * u,
            2.0 - 4.0 * u,
            u,
            -u,
        ];
        RuleRecord {
            index: i,
            round,
            params: one.repeat(4),
            metrics: json!({"aborted": false, "rate_exc": 3.0, "rate_inh": 5.0,
                            "mean_w": [0.1, 0.1, 1.0, 1.0], "creep": 0.02 * u, "pass": []}),
            accepted,
        }
    }

    /// Every element opened is closed (the figures use no nesting but `<svg>`).
    fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn rounds_figure_shows_every_round_its_source_and_classifier() {
        let summaries = vec![
            json!({"round": 0, "source": "prior", "require": ["rate_exc", "rate_inh"],
                   "rules": 60, "accepted": 15, "accepted_fraction": 0.25, "plausible": 0,
                   "plausible_fraction": 0.0, "unique_plausible": 0, "classifier": null,
                   "unrestricted_because": null,
                   "drift": {"accepted": {"median_predicted": 0.5, "checked": 15},
                             "not_aborted": {"spearman": 0.41, "checked": 30}}}),
            json!({"round": 1, "source": "restricted prior", "require": ["rate_exc"],
                   "rules": 40, "accepted": 30, "accepted_fraction": 0.75, "plausible": 2,
                   "plausible_fraction": 0.05, "unique_plausible": 2,
                   "classifier": {"constraints_of_round": 0, "held_out_accuracy": 0.912,
                                  "held_out_false_negative_rate": null,
                                  "acceptance_rate": 0.4}}),
            json!({"round": 2, "source": "prior", "require": [], "rules": 40,
                   "unrestricted_because": "nothing to learn"}),
            json!({"round": 3, "source": "file /some/where/posterior_samples_long_name.npy",
                   "rules": 10, "classifier": null}),
        ];
        let svg = rounds_svg("rf", &summaries);
        well_formed(&svg);
        assert_eq!(svg, rounds_svg("rf", &summaries));
        for want in [
            "rf: rules per round",
            "round 3",
            ">box prior<",
            "— (box prior)",
            "restricted (40%)",
            "round 0's",
            "0.912",
            "box prior (unrestricted)",
            "file posterior_sample…",
            "— (file)",
            "0.500 (n=15)",
            "0.41 (n=30)",
            ">60<",
            ">0.250<",
            "unique plausible",
        ] {
            assert!(svg.contains(want), "{want}");
        }
        // Missing numbers print as n/a, not NaN.
        assert!(svg.contains(">n/a<"));
        // Four bands of 150 px, legends right of the frames: the figure widens with rounds.
        assert!(svg.contains("width=\"1000\""), "{}", &svg[..120]);
        assert!(rounds_svg("rf", &summaries[..1]).contains("width=\"700\""));
    }

    #[test]
    fn marginals_have_a_panel_per_type_and_parameter_and_say_when_none_is_accepted() {
        let cfg = config("[ie, ee]");
        let all: Vec<RuleRecord> = (0..30)
            .map(|i| record(i, i / 20, i % 3 == 0, f64::from(i) / 29.0))
            .collect();
        let acc: Vec<&RuleRecord> = all.iter().filter(|r| r.accepted).collect();
        let svg = marginals_svg(&cfg, &all, &acc);
        well_formed(&svg);
        assert_eq!(svg, marginals_svg(&cfg, &all, &acc));
        // Rows in the order ee, ie; a panel per parameter, each with an accepted outline.
        let titles: Vec<&str> = ["ee", "ie"]
            .iter()
            .flat_map(|t| super::super::candidate::RULE_PARAMS.map(move |p| (t, p)))
            .map(|(t, p)| {
                let at = svg
                    .find(&format!(">{t} {p}<"))
                    .unwrap_or_else(|| panic!("{t} {p}"));
                &svg[at..at + 3]
            })
            .collect();
        assert_eq!(titles.len(), 12);
        assert!(svg.find(">ee kappa<").unwrap() < svg.find(">ie tau_pre<").unwrap());
        assert!(!svg.contains(">ei "));
        assert_eq!(svg.matches("<polyline").count(), 12);
        assert!(svg.contains("all 30 simulated rules") && svg.contains("10 accepted"));
        // The box ends are labelled: tau 0.01 to 0.1, the coefficients -2 to 2.
        for lab in [">0.01<", ">0.05<", ">0.1<", ">-2<", ">0<", ">2<"] {
            assert!(svg.contains(lab), "{lab}");
        }
        let none = marginals_svg(&cfg, &all, &[]);
        well_formed(&none);
        assert!(none.contains("no accepted rules"));
        assert_eq!(none.matches("<polyline").count(), 0);
        // A value outside the box (a candidates file) is counted in its panel's title.
        let mut out = all.clone();
        out[0].params[2] = 3.0;
        assert!(marginals_svg(&cfg, &out, &acc).contains(">ee alpha (1 outside)<"));
        assert_eq!(marginal_bins(30), 5);
        assert_eq!(marginal_bins(180), 13);
        assert_eq!(marginal_bins(100_000), 20);
    }
}
