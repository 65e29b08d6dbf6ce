//! End-to-end tests of experiment kind `fit_behavior`: a small simulated fit that recovers the
//! rule and repeats to the byte, the fly comparison on two real flies (skipped without the shared
//! folder) and on two small in-repo ones, and bad fly data (in-repo fixtures).

mod common;

use common::{bin, tmp};
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// In-repo fly CSV fixtures, `tests/data/flies/<which>` (see `tests/data/README.md`).
fn fixtures(which: &str) -> PathBuf {
    common::data_dir().join("flies").join(which)
}

fn metrics(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap()
}

/// Two blocks of 40 trials, 8 training and 3 evaluation sessions, 40 epochs at lr 0.02.
const SMALL: &str = "\
name: small_behavior
kind: fit_behavior
seed: 5
data:
  simulated:
    teacher: {x*r: 1.0}
    trajectories: 8
    blocks:
      - {trials: 40, reward_probability: [0.2, 0.8]}
      - {trials: 40, reward_probability: [0.9, 0.1]}
rule:
  kind: taylor
  trainable: [x*r, r, x, w, x*w, y*r]
fit:
  epochs: 40
  lr: 0.02
evaluation:
  trajectories: 3
";

#[test]
fn simulated_taylor_fit_recovers_x_r_and_repeats_to_the_byte() {
    let d = tmp("sim");
    let cfg = d.join("small.yaml");
    std::fs::write(&cfg, SMALL).unwrap();
    let run = |out: &str, extra: &[&str]| {
        let o = bin()
            .args(["run", cfg.to_str().unwrap(), "--quiet", "--out"])
            .arg(d.join(out))
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        metrics(&d.join(out))
    };
    let m = run("a", &[]);
    let terms: Vec<String> = serde_json::from_value(m["terms"].clone()).unwrap();
    let theta: Vec<f64> = serde_json::from_value(m["params"].clone()).unwrap();
    let xr = theta[terms.iter().position(|t| t == "x*r").unwrap()];
    assert!(xr > 0.6, "x*r = {xr}");
    for (t, v) in terms.iter().zip(&theta) {
        if t != "x*r" {
            assert!(v.abs() < 0.35, "{t} = {v}");
        }
    }
    assert!(m["r2_weights"].as_f64().unwrap() > 0.8, "{m}");
    assert!(m["percent_deviance"].as_f64().unwrap() > 0.0, "{m}");
    assert!(m["identifiability"]["condition_number"].is_number());
    for f in [
        "config.yaml",
        "meta.json",
        "params.npy",
        "params.csv",
        "loss.csv",
        "loss.svg",
        "theta.svg",
        "evaluation.csv",
    ] {
        assert!(d.join("a").join(f).exists(), "{f}");
    }
    // Same config and seed: the same bytes.
    run("b", &[]);
    let a = std::fs::read(d.join("a/metrics.json")).unwrap();
    let b = std::fs::read(d.join("b/metrics.json")).unwrap();
    assert!(a == b, "metrics.json differs between identical runs");
    // The forward-sensitivity pass fits the same rule up to rounding.
    let f = run("f", &["fit.gradient=forward"]);
    let tf: Vec<f64> = serde_json::from_value(f["params"].clone()).unwrap();
    for (x, y) in theta.iter().zip(&tf) {
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }
    // The MLP rule runs too, and finds a rule that explains choices.
    let m = run("mlp", &["rule.kind=mlp", "rule.trainable=", "fit.lr=0.01"]);
    assert_eq!(m["params"].as_array().unwrap().len(), 61);
    assert!(m["percent_deviance"].as_f64().unwrap() > 0.0, "{m}");
}

/// Needs the real flies (the shared folder's `data/drosophila`); skipped with a reason without.
#[test]
fn flies_with_and_without_weight_terms() {
    let Some(dir) = common::fly_data_or_skip("flies_with_and_without_weight_terms") else {
        return;
    };
    let d = tmp("flies");
    let cfg = d.join("flies.yaml");
    std::fs::write(
        &cfg,
        format!(
            "name: two_flies\nkind: fit_behavior\nseed: 3\ndata:\n  flies:\n    dir: {}\n    ids: [1, 12]\nrule:\n  kind: taylor\n  trainable: [1, x, x*r]\n  added_terms: [w, x*w]\nfit:\n  epochs: 30\n  lr: 0.01\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = d.join("run");
    let o = bin()
        .args(["run", cfg.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let m = metrics(&out);
    assert_eq!(m["flies"].as_array().unwrap().len(), 2);
    assert_eq!(m["summary"]["flies"], 2);
    assert!(m["summary"]["sign_test_p_two_sided"].is_number());
    assert_eq!(m["reported_coefficient"], "w");
    let csv = std::fs::read_to_string(out.join("flies.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("fly,presentations,percent_deviance_without,percent_deviance_with"));
    assert!(out.join("flies_deviance.svg").exists());
    // Fly 1 has 286 presentations (its CSV's rows).
    assert_eq!(m["flies"][0]["presentations"], 286);

    // Resuming: a fly whose record is on disk is read back, a missing one fitted again, and the
    // result is the same bytes.
    let copy = |to: &Path| {
        std::fs::create_dir_all(to.join("flies")).unwrap();
        for f in ["config.yaml", "meta.json"] {
            std::fs::copy(out.join(f), to.join(f)).unwrap();
        }
        std::fs::copy(out.join("flies/fly-01.json"), to.join("flies/fly-01.json")).unwrap();
        let meta = std::fs::read_to_string(to.join("meta.json"))
            .unwrap()
            .replace("\"ok\"", "\"interrupted\"");
        std::fs::write(to.join("meta.json"), meta).unwrap();
    };
    let resume = |dir: &Path| {
        let o = bin()
            .args(["run", "--resume"])
            .arg(dir)
            .arg("--quiet")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    let r = d.join("resumed");
    copy(&r);
    resume(&r);
    assert_eq!(
        std::fs::read(out.join("metrics.json")).unwrap(),
        std::fs::read(r.join("metrics.json")).unwrap()
    );
    let t = d.join("tampered");
    copy(&t);
    let p = t.join("flies/fly-01.json");
    let mut rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    rec["value"]["presentations"] = serde_json::json!(999);
    std::fs::write(&p, serde_json::to_vec(&rec).unwrap()).unwrap();
    resume(&t);
    assert_eq!(
        metrics(&t)["flies"][0]["presentations"],
        999,
        "fly 1 was read back, not refitted"
    );
    for f in m["flies"].as_array().unwrap() {
        let (a, b) = (
            f["percent_deviance_without"].as_f64().unwrap(),
            f["percent_deviance_with"].as_f64().unwrap(),
        );
        assert!(a > 0.0 && b > 0.0, "{f}");
    }
}

/// The two small in-repo flies (`tests/data/flies/good`: the first presentations of flies 1
/// and 2) pass `check` and fit end to end, with no shared folder.
#[test]
fn small_fly_fixtures_check_and_fit() {
    let d = tmp("smallflies");
    let cfg = d.join("small_flies.yaml");
    std::fs::write(
        &cfg,
        format!(
            "name: small_flies\nkind: fit_behavior\nseed: 3\ndata:\n  flies:\n    dir: {}\n    ids: [1, 2]\nrule:\n  kind: taylor\n  trainable: [1, x, x*r]\n  added_terms: [w, x*w]\nfit:\n  epochs: 5\n  lr: 0.01\n",
            fixtures("good").display()
        ),
    )
    .unwrap();
    let o = bin()
        .args(["check", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = d.join("run");
    let o = bin()
        .args(["run", cfg.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let m = metrics(&out);
    assert_eq!(m["summary"]["flies"], 2);
    // One presentation per data row: 23 and 20.
    assert_eq!(m["flies"][0]["presentations"], 23);
    assert_eq!(m["flies"][1]["presentations"], 20);
    assert!(out.join("flies.csv").exists());
}

/// `tests/data/flies/bad`: one broken file per way a fly CSV can be wrong (no `fly02.csv`).
#[test]
fn bad_or_missing_fly_data_is_exit_2_naming_file_and_line() {
    let d = tmp("badfly");
    let data = fixtures("bad");
    let cfg = d.join("bad.yaml");
    let write = |ids: &str| {
        std::fs::write(
            &cfg,
            format!(
                "name: bad\nkind: fit_behavior\ndata:\n  flies:\n    dir: {}\n    ids: {ids}\nrule:\n  kind: taylor\nfit:\n  epochs: 2\n",
                data.display()
            ),
        )
        .unwrap();
    };
    for (ids, want) in [
        ("[1]", "fly01.csv:3: odor"),
        ("[2]", "fly02.csv: cannot read"),
        ("[3]", "fly03.csv:1: expected the header"),
        ("[4]", "fly04.csv:3: reward"),
        ("[5]", "fly05.csv:4: trial"),
        ("[6]", "fly06.csv: no presentations"),
    ] {
        write(ids);
        let out = d.join("out");
        for cmd in ["check", "run"] {
            let mut c = bin();
            c.args([cmd, cfg.to_str().unwrap()]);
            if cmd == "run" {
                c.arg("--out").arg(&out);
            }
            let o = c.output().unwrap();
            assert_eq!(o.status.code(), Some(2), "{cmd} {ids}: {}", text(&o));
            assert!(text(&o).contains(want), "{cmd} {ids}: {}", text(&o));
            assert!(
                !out.exists(),
                "a bad data file must not create the run directory"
            );
        }
    }
}

/// The flies at the trial level (`likelihood: trial`, the paper's linear network, a held-out
/// cutoff) on the two in-repo flies: one trial per accepted presentation, scores against both
/// nulls, the Wilcoxon and sign tests of the added term, the same bytes twice.
#[test]
fn small_fly_fixtures_fit_at_the_trial_level() {
    let d = tmp("trialflies");
    let cfg = d.join("trial_flies.yaml");
    std::fs::write(
        &cfg,
        format!(
            "name: trial_flies\nkind: fit_behavior\nseed: 3\nnetwork:\n  hidden: 0\ndata:\n  flies:\n    dir: {}\n    ids: [1, 2]\n    likelihood: trial\nrule:\n  kind: taylor\n  trainable: ['1', r, x, x*r]\n  added_terms: [w]\nfit:\n  epochs: 20\n  lr: 0.01\n  l1: 0.001\nevaluation:\n  cutoff: 0.7\n",
            fixtures("good").display()
        ),
    )
    .unwrap();
    let m = common::run_twice_same_bytes(&cfg, &d);
    assert_eq!(m["likelihood"], "trial");
    assert_eq!(m["summary"]["flies"], 2);
    let fly = &m["flies"][0];
    let trials = fly["trials"].as_u64().unwrap();
    let accepted = std::fs::read_to_string(fixtures("good").join("fly01.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(3) == Some("1"))
        .count() as u64;
    assert_eq!(trials, accepted);
    assert!(fly["held_out_nll_bias_only"].as_f64().unwrap().is_finite());
    assert!(m["summary"]["wilcoxon"]["p_two_sided"].as_f64().unwrap() <= 1.0);
    // The no-learning surrogate: as many trials, fitted the same way, summarised the same way;
    // the conclusion is computed and names the surrogates.
    let sur = &fly["surrogate"];
    assert!(sur["held_out_nll_with"].as_f64().unwrap().is_finite());
    assert!(sur["held_out_nll_bias_only"].as_f64().unwrap().is_finite());
    assert_ne!(sur["theta_with"], fly["theta_with"]);
    assert_eq!(m["surrogate_summary"]["flies"], 2);
    assert!(m["conclusion"].as_str().unwrap().contains("surrogates"));
    assert!(m["verdict"].is_string() && m["evidence_of_forgetting"].is_boolean());
    // The w coefficient's interval is two numbers or null ("not meaningful" in the table).
    let ci = &fly["weight_coefficient_ci95"];
    assert!(
        ci.is_null() || ci.as_array().is_some_and(|a| a.len() == 2),
        "{ci}"
    );
    let csv = std::fs::read_to_string(d.join("a/flies.csv")).unwrap();
    assert!(csv.starts_with("fly,trials,fitted_trials,held_in_nll_without,"));
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .contains("surrogate_coefficient_ci95_high"));
    assert_eq!(csv.lines().count(), 3);
    assert!(d.join("a/flies_coefficient.svg").exists());
    // Presentation-level fly fits keep refusing an evaluation section; trial-level ones need one.
    let bad = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("evaluation:\n  cutoff: 0.7\n", "");
    std::fs::write(&cfg, bad).unwrap();
    let o = bin()
        .args(["check", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("evaluation.cutoff"), "{}", text(&o));
}

/// `experiments/flies_forgetting.yaml` (two variants in one run: the paper's linear network and
/// ours with a hidden layer) on the two in-repo flies, with few epochs: one table, plot and
/// summary per variant, each with its surrogate control and conclusion, the same bytes twice.
#[test]
fn the_forgetting_experiment_runs_both_variants_on_the_fixtures() {
    let d = tmp("forgetting_variants");
    let cfg = d.join("forgetting.yaml");
    let text = include_str!("../../experiments/flies_forgetting.yaml")
        .replace(
            "dir: ../shared/data/drosophila",
            &format!("dir: {}\n    ids: [1, 2]", fixtures("good").display()),
        )
        .replace("epochs: 3000", "epochs: 30")
        .replace("epochs: 300", "epochs: 30");
    std::fs::write(&cfg, text).unwrap();
    let m = common::run_twice_same_bytes(&cfg, &d);
    let variants = m["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["name"], "paper");
    assert_eq!(variants[0]["hidden"], 0);
    assert_eq!(variants[1]["name"], "ours");
    assert_eq!(variants[1]["hidden"], 10);
    assert_eq!(variants[1]["added_terms"].as_array().unwrap().len(), 9);
    for v in variants {
        let name = v["name"].as_str().unwrap();
        assert_eq!(v["flies"].as_array().unwrap().len(), 2);
        assert_eq!(v["surrogate_summary"]["flies"], 2);
        assert!(v["conclusion"].as_str().unwrap().contains("surrogates"));
        for f in [
            format!("flies_{name}.csv"),
            format!("flies_coefficient_{name}.svg"),
            format!("flies_deviance_{name}.svg"),
            format!("theta_with_{name}.npy"),
            format!("flies/{name}-fly-01.json"),
        ] {
            assert!(d.join("a").join(&f).exists(), "{f}");
        }
    }
    assert_eq!(m["conclusions"].as_array().unwrap().len(), 2);
    // The two variants fit differently: the paper's network has 1 x 2 weights, ours 10 x 2.
    assert_ne!(
        variants[0]["flies"][0]["theta_with"],
        variants[1]["flies"][0]["theta_with"]
    );
}
