//! Trial-level two-choice data end to end: the shipped numpy-written table (an agent with the
//! rule `x*r`, `scripts/make_choices.py`) fitted with the `x*r` term alone recovers its
//! coefficient; the shipped experiment reports held-out scores against both nulls and the
//! reference rule, the same bytes twice, with the tanh network and the linear fly network; bad
//! tables are exit 2 naming the file and line, with nothing written.

mod common;

use common::{bin, run_ok, run_twice_same_bytes, tmp};
use std::path::Path;

fn experiment() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    include_str!("../../experiments/choices_xr_numpy.yaml").replace(
        "file: examples/choices_xr.csv",
        &format!("file: {}", root.join("examples/choices_xr.csv").display()),
    )
}

#[test]
fn the_numpy_agents_rule_is_recovered_at_the_trial_level() {
    let d = tmp("choices");
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment()
            .replace("trainable: ['1', r, x, x*r]", "trainable: [x*r]")
            .replace("epochs: 400", "epochs: 150"),
    )
    .unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    let terms: Vec<String> = serde_json::from_value(m["terms"].clone()).unwrap();
    let k = terms.iter().position(|t| t == "x*r").unwrap();
    let theta = m["params"][k].as_f64().unwrap();
    assert!((theta - 1.0).abs() < 0.1, "x*r = {theta}");
    let fitted = m["fitted"]["held_out_nll"].as_f64().unwrap();
    let null = m["null_theta_zero"]["held_out_nll"].as_f64().unwrap();
    let bias = m["null_bias_only"]["held_out_nll"].as_f64().unwrap();
    let reference = m["reference"]["held_out_nll"].as_f64().unwrap();
    assert!(fitted < null && fitted < bias, "{m}");
    assert!((fitted - reference).abs() < 0.01, "{fitted} vs {reference}");
    assert!(m["dw_correlation_with_reference"].as_f64().unwrap() > 0.999);
    assert_eq!(m["trials"], 4320);
    let csv = std::fs::read_to_string(d.join("a/sessions.csv")).unwrap();
    assert_eq!(csv.lines().count(), 19, "a header and 18 sessions");
}

#[test]
fn the_shipped_choice_experiment_scores_against_both_nulls() {
    let d = tmp("choices_shipped");
    let cfg = d.join("c.yaml");
    std::fs::write(&cfg, experiment().replace("epochs: 400", "epochs: 100")).unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    for key in [
        "held_out_percent_deviance_vs_theta_zero",
        "held_out_percent_deviance_vs_bias_only",
        "aic",
        "bic",
        "dw_correlation_with_reference",
    ] {
        assert!(m[key].as_f64().is_some_and(f64::is_finite), "{key}: {m}");
    }
    assert!(
        m["held_out_percent_deviance_vs_theta_zero"]
            .as_f64()
            .unwrap()
            > 10.0
    );
}

/// The paper's linear fly network (`network.hidden: 0`: `z = W x`, no tanh, readout 1) fits the
/// same table through the same trial-level likelihood.
#[test]
fn the_linear_fly_network_fits_choice_tables() {
    let d = tmp("choices_linear");
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment()
            .replace("hidden: 10", "hidden: 0")
            .replace("epochs: 400", "epochs: 100"),
    )
    .unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    let fitted = m["fitted"]["held_out_nll"].as_f64().unwrap();
    assert!(
        fitted < m["null_bias_only"]["held_out_nll"].as_f64().unwrap(),
        "{m}"
    );
    assert!(
        m["dw_correlation_with_reference"].as_f64().unwrap() > 0.9,
        "{m}"
    );
    let resolved = std::fs::read_to_string(d.join("a/config.yaml")).unwrap();
    assert!(resolved.contains("readout: 1"), "{resolved}");
}

/// Uncertainty of a choice-table fit: the Fisher standard error and 95% interval of every
/// coefficient, and with `evaluation.bootstrap` the percentiles of refits on sessions resampled
/// with replacement (seeded: the same bytes twice), whose spread is of the Fisher error's size.
#[test]
fn choice_fits_report_fisher_and_bootstrap_intervals() {
    let d = tmp("choices_bootstrap");
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment()
            .replace("hidden: 10", "hidden: 0")
            .replace("trainable: ['1', r, x, x*r]", "trainable: [x*r]")
            .replace("epochs: 400", "epochs: 100")
            .replace("  cutoff: 0.7", "  cutoff: 0.7\n  bootstrap: 6"),
    )
    .unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    assert_eq!(m["bootstrap"]["replicates"], 6);
    assert_eq!(m["bootstrap"]["failed"], 0);
    let c = &m["coefficients"][0];
    assert_eq!(c["term"], "x*r");
    let (est, se) = (c["estimate"].as_f64().unwrap(), c["se"].as_f64().unwrap());
    let ci = [
        c["ci95"][0].as_f64().unwrap(),
        c["ci95"][1].as_f64().unwrap(),
    ];
    assert!((ci[0] - (est - 1.96 * se)).abs() < 1e-12 && (ci[1] - (est + 1.96 * se)).abs() < 1e-12);
    let b = [
        c["bootstrap_ci95"][0].as_f64().unwrap(),
        c["bootstrap_ci95"][1].as_f64().unwrap(),
    ];
    assert!(b[0] < b[1], "{c}");
    let spread = c["bootstrap_std"].as_f64().unwrap();
    assert!(
        spread > se / 3.0 && spread < 3.0 * se,
        "bootstrap std {spread} vs Fisher se {se}"
    );
    // Without `bootstrap` there is none, and the Fisher interval is still there.
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("  bootstrap: 6\n", ""),
    )
    .unwrap();
    let m = run_twice_same_bytes(&cfg, &d.join("plain"));
    assert!(m["bootstrap"].is_null());
    assert!(m["coefficients"][0]["bootstrap_ci95"].is_null());
    assert!(m["coefficients"][0]["se"].as_f64().is_some());
}

#[test]
fn bad_choice_tables_exit_2_naming_file_and_line() {
    let d = tmp("choices_bad");
    for (name, body, want) in [
        (
            "label.csv",
            "session,trial,choice,reward\ns,1,A,1\ns,2,left,0\n",
            "label.csv:3: choice: unknown label `left`",
        ),
        ("header.csv", "session,trial,odor,reward\n", "label"),
        ("empty.csv", "session,trial,choice,reward\n", "no trials"),
        (
            "order.csv",
            "session,trial,choice,reward\ns,2,A,1\ns,1,B,0\n",
            "order.csv:3: trial",
        ),
        (
            "nan.csv",
            "session,trial,choice,reward\ns,1,A,nan\n",
            "nan.csv:2: reward",
        ),
    ] {
        let f = d.join(name);
        std::fs::write(&f, body).unwrap();
        let cfg = d.join("c.yaml");
        std::fs::write(
            &cfg,
            experiment().replace(
                &format!(
                    "file: {}",
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../examples/choices_xr.csv")
                        .display()
                ),
                &format!("file: {}", f.display()),
            ),
        )
        .unwrap();
        let out = d.join("out");
        for args in [vec!["check"], vec!["run", "--out", out.to_str().unwrap()]] {
            let mut a = args.clone();
            a.insert(1, cfg.to_str().unwrap());
            let o = bin().args(&a).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name}: {err}");
            let want = if name == "header.csv" {
                "expected the header"
            } else {
                want
            };
            assert!(err.contains(want), "{name}: wanted {want} in {err}");
        }
        assert!(!out.exists(), "{name}: nothing may be written");
    }
}

/// `evaluation.held_out_sessions`: the last sessions are left out of the fit and scored on every
/// trial; the fit beats both nulls there and comes close to the generating rule; holding out
/// every session is exit 2 naming the file.
#[test]
fn held_out_sessions_are_scored_on_every_trial() {
    let d = tmp("choices_held_out");
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment()
            .replace("epochs: 400", "epochs: 100")
            .replace("cutoff: 0.7", "cutoff: 0.7\n  held_out_sessions: 4"),
    )
    .unwrap();
    let m = run_ok(&cfg, &d.join("a"));
    let h = &m["held_out_sessions"];
    assert_eq!(m["sessions"], 14);
    assert_eq!(h["trials"], 960, "{h}");
    assert_eq!(h["sessions"][0], "s15");
    let nll = h["nll"].as_f64().unwrap();
    assert!(nll < h["null_theta_zero_nll"].as_f64().unwrap(), "{h}");
    assert!(nll < h["null_bias_only_nll"].as_f64().unwrap(), "{h}");
    assert!(
        (nll - h["reference_nll"].as_f64().unwrap()).abs() < 0.05,
        "{h}"
    );
    let o = bin()
        .args([
            "check",
            cfg.to_str().unwrap(),
            "evaluation.held_out_sessions=18",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("choices_xr.csv: evaluation.held_out_sessions is 18"),
        "{err}"
    );
}

/// `fit_table` (what the Python package's `fit_choices` calls) is the run without files: the
/// same `metrics.json` (but `config_hash`) and summary, per-trial scores that average to the
/// metrics' means, and a stop request ends it as interrupted.
#[test]
fn fit_table_is_the_run_without_files() {
    use synplast::kinds::fit_behavior::choices::parse_choices_csv;
    use synplast::kinds::fit_behavior::choices_run::fit_table;
    use synplast::kinds::fit_behavior::{BehaviorData, FitBehavior};
    let d = tmp("choices_table");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let full = std::fs::read_to_string(root.join("examples/choices_xr.csv")).unwrap();
    let small: String = full
        .lines()
        .filter(|l| {
            ["session", "s01,", "s02,", "s03,"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let f = d.join("small.csv");
    std::fs::write(&f, &small).unwrap();
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment()
            .replace(
                &format!("file: {}", root.join("examples/choices_xr.csv").display()),
                &format!("file: {}", f.display()),
            )
            .replace("epochs: 400", "epochs: 12")
            .replace(
                "cutoff: 0.7",
                "cutoff: 0.7\n  held_out_sessions: 1\n  bootstrap: 2",
            ),
    )
    .unwrap();
    let o = bin()
        .args(["run", cfg.to_str().unwrap(), "--quiet", "--out"])
        .arg(d.join("a"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("a/metrics.json")).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("config_hash");

    let mut exp = synplast::kinds::load(&cfg).unwrap();
    exp.resolve();
    let c = exp.config::<FitBehavior>().unwrap();
    let BehaviorData::Choices(ch) = &c.data else {
        panic!("not a choices config")
    };
    let recs = parse_choices_csv(&small, &ch.file).unwrap();
    let t = fit_table(c, ch, &recs, None, None, &|| false).unwrap();
    assert_eq!(t.metrics, m);
    assert!(
        stdout.starts_with(&t.summary),
        "{stdout}\nvs\n{}",
        t.summary
    );
    assert_eq!(t.fitted.len(), 2, "one of three sessions held out");
    assert_eq!(t.n_fit, vec![168, 168]);
    let held_in: Vec<f64> = t
        .fitted
        .iter()
        .zip(&t.n_fit)
        .flat_map(|(v, &n)| v[..n].to_vec())
        .collect();
    let mean = held_in.iter().sum::<f64>() / held_in.len() as f64;
    assert_eq!(mean, m["fitted"]["held_in_nll"].as_f64().unwrap());
    assert_eq!(t.fit.loss_history.len(), 12);

    let e = fit_table(c, ch, &recs, None, None, &|| true).unwrap_err();
    assert!(e.interrupted, "{}", e.message);
}
