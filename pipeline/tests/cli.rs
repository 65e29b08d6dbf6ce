//! End-to-end tests of the `synplast` binary: runs, reproducibility, and bad input.

mod common;

use common::{bin, tmp};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A small Oja recovery: 12 -> 12, 20 trajectories of 30 steps.
const SMALL: &str = "\
name: small_oja
kind: fit_rate
seed: 7
network:
  n_in: 12
  n_out: 12
input:
  std: 0.5
teacher:
  terms:
    x*y: 1.0
    y^2*w: -1.0
student:
  init_std: 0.01
data:
  trajectories: 20
  steps: 30
fit:
  epochs: 20
  lr: 0.01
  refine_iterations: 30
evaluation:
  trajectories: 4
";

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn metrics(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn small_oja_recovery_runs_end_to_end() {
    let d = tmp("small");
    let cfg = write(&d, "small.yaml", SMALL);
    let out = d.join("run");
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let m = metrics(&out);
    let theta: Vec<f64> = serde_json::from_value(m["theta"].clone()).unwrap();
    let target: Vec<f64> = serde_json::from_value(m["theta_target"].clone()).unwrap();
    assert_eq!(theta.len(), 27);
    for k in 0..27 {
        assert!(
            (theta[k] - target[k]).abs() < 0.05,
            "theta[{k}] = {} vs {}",
            theta[k],
            target[k]
        );
    }
    assert!(m["r2_weights"].as_f64().unwrap() >= 0.99);
    assert!(m["r2_activity"].as_f64().unwrap() >= 0.99);
    assert!(m["theta_max_abs_error"].as_f64().unwrap() < 0.05);
    assert!(m["final_loss"].as_f64().unwrap() < 1e-6);
    assert!(m["identifiability"]["condition_number"].as_f64().unwrap() > 1.0);
    for f in [
        "config.yaml",
        "meta.json",
        "theta.npy",
        "theta.csv",
        "loss.csv",
        "loss.svg",
        "theta.svg",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["status"], "ok");
    // metrics.json holds results only: no timings.
    let raw = std::fs::read_to_string(out.join("metrics.json")).unwrap();
    assert!(!raw.contains("seconds") && !raw.contains("utc"));
    // `show` prints the summary the run printed, from the run directory.
    let summary = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    let shown = run(&["show", out.to_str().unwrap()]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(shown.contains(&summary), "{shown}\nvs {summary}");
    assert!(
        shown.contains("fit_rate `small_oja`") && shown.contains("status ok"),
        "{shown}"
    );
    let bad = run(&["show", d.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("not a run directory"), "{}", text(&bad));
}

#[test]
fn same_config_and_seed_give_identical_metrics_bytes() {
    let d = tmp("repro");
    let cfg = write(&d, "r.yaml", SMALL);
    let a = d.join("a");
    let b = d.join("b");
    for out in [&a, &b] {
        let o = run(&[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "fit.refine_iterations=3",
            "fit.epochs=3",
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let ma = std::fs::read(a.join("metrics.json")).unwrap();
    assert_eq!(ma, std::fs::read(b.join("metrics.json")).unwrap());
    assert_eq!(
        std::fs::read(a.join("theta.npy")).unwrap(),
        std::fs::read(b.join("theta.npy")).unwrap()
    );
    // The resolved config reproduces the run too.
    let c = d.join("c");
    let o = run(&[
        "run",
        a.join("config.yaml").to_str().unwrap(),
        "--out",
        c.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(ma, std::fs::read(c.join("metrics.json")).unwrap());
    // A different seed gives different results.
    let e = d.join("e");
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        e.to_str().unwrap(),
        "--quiet",
        "fit.refine_iterations=3",
        "fit.epochs=3",
        "seed=8",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(ma, std::fs::read(e.join("metrics.json")).unwrap());
}

#[test]
fn missing_seed_is_drawn_and_written_back() {
    let d = tmp("seed");
    let cfg = write(&d, "s.yaml", &SMALL.replace("seed: 7\n", ""));
    let out = d.join("run");
    // A tiny learning rate: whatever seed is drawn, theta stays near its start and the run
    // cannot diverge.
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "fit.epochs=1",
        "fit.refine_iterations=0",
        "fit.lr=1e-6",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let resolved = std::fs::read_to_string(out.join("config.yaml")).unwrap();
    let seed_line = resolved
        .lines()
        .find(|l| l.starts_with("seed:"))
        .expect("seed written back");
    let seed: u64 = seed_line["seed:".len()..].trim().parse().unwrap();
    assert_eq!(metrics(&out)["seed"].as_u64(), Some(seed));
}

#[test]
fn existing_run_directory_is_not_overwritten_without_force() {
    let d = tmp("force");
    let cfg = write(&d, "f.yaml", SMALL);
    let out = d.join("run");
    let args = [
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "fit.epochs=1",
        "fit.refine_iterations=0",
    ];
    assert!(run(&args).status.success());
    let before = std::fs::read(out.join("metrics.json")).unwrap();
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("refusing to overwrite"));
    assert_eq!(before, std::fs::read(out.join("metrics.json")).unwrap());
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(run(&forced).status.success());
    // --force never empties a directory that is not a run directory.
    let other = d.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "precious").unwrap();
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(other.join("keep.txt")).unwrap(),
        "precious"
    );
}

/// Every bad input exits 2 with `file:line:col: field: problem`, writes nothing, and does not
/// panic.
#[test]
fn bad_configs_exit_2_with_position_and_field() {
    let d = tmp("bad");
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "typo",
            SMALL.replace("  epochs: 20", "  epocs: 20"),
            ":19:3: fit.epocs:",
            "unknown field",
        ),
        (
            "wrong_type",
            SMALL.replace("n_in: 12", "n_in: twelve"),
            ":5:9: network.n_in:",
            "twelve",
        ),
        (
            "negative",
            SMALL.replace("n_out: 12", "n_out: -3"),
            ":6:10: network.n_out:",
            "-3",
        ),
        (
            "zero",
            SMALL.replace("trajectories: 20", "trajectories: 0"),
            ":16:17: data.trajectories:",
            ">= 1",
        ),
        (
            "range",
            SMALL.replace("std: 0.5", "std: -0.5"),
            ":8:8: input.std:",
            "> 0",
        ),
        (
            "term",
            SMALL.replace("x*y: 1.0", "x*z: 1.0"),
            ":11:5: teacher.terms.x*z:",
            "unknown term",
        ),
        (
            "not_yaml",
            "name: [unclosed\n  kind: {\n".to_string(),
            ".yaml:",
            "",
        ),
        ("empty", String::new(), ":1:1:", "empty"),
        (
            "kind",
            SMALL.replace("kind: fit_rate", "kind: fit_spikes"),
            ":2:1: kind:",
            "unknown experiment kind",
        ),
        (
            "huge",
            SMALL
                .replace("n_in: 12", "n_in: 99999")
                .replace("n_out: 12", "n_out: 99999"),
            ": network:",
            "synapses",
        ),
    ];
    for (name, body, want_pos, want_msg) in cases {
        let cfg = write(&d, &format!("{name}.yaml"), &body);
        let out = d.join(format!("out_{name}"));
        let o = run(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        assert!(
            t.contains(&format!("{name}.yaml")) && t.contains(want_pos),
            "{name}: {t}"
        );
        assert!(t.contains(want_msg), "{name}: {t}");
        assert!(!t.contains("panicked"), "{name}: {t}");
        assert!(!out.exists(), "{name}: wrote {}", out.display());
        let c = run(&["check", cfg.to_str().unwrap()]);
        assert_eq!(c.status.code(), Some(2), "{name} check");
    }
    let missing = d.join("nope.yaml");
    let o = run(&[
        "run",
        missing.to_str().unwrap(),
        "--out",
        d.join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("nope.yaml:1:1:") && text(&o).contains("cannot read"));
    let bytes = d.join("latin1.yaml");
    std::fs::write(&bytes, b"name: caf\xe9\n").unwrap();
    let o = run(&["check", bytes.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("latin1.yaml:1:10:") && text(&o).contains("UTF-8"),
        "{}",
        text(&o)
    );
}

#[test]
fn overrides_are_checked_like_the_file() {
    let d = tmp("ovr");
    let cfg = write(&d, "o.yaml", SMALL);
    let p = cfg.to_str().unwrap();
    assert!(run(&["check", p, "fit.epochs=5", "data.noise_scale=0.25"])
        .status
        .success());
    for (ov, want) in [
        ("fit.epocs=5", "unknown key `epocs`"),
        ("fit.epochs=abc", "fit.epochs"),
        ("data.observed_fraction=2", "(0, 1]"),
        ("network=3", "network"),
        ("noequals", "key.path=value"),
    ] {
        let o = run(&["check", p, ov]);
        assert_eq!(o.status.code(), Some(2), "{ov}: {}", text(&o));
        assert!(text(&o).contains(want), "{ov}: {}", text(&o));
    }
}

#[test]
fn list_check_and_usage() {
    let o = run(&["list"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(t.contains("fit_rate") && t.contains("oja") && t.contains("x*y"));
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["run", "--bogus"]).status.code(), Some(2));
    let experiments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments");
    let mut n = 0;
    for e in std::fs::read_dir(experiments).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            // From the repository root, as the README runs them (data paths such as
            // `../shared/data/drosophila` are relative to it).
            let mut c = bin();
            c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
                .args(["check", p.to_str().unwrap()]);
            let flies = std::fs::read_to_string(&p)
                .unwrap()
                .contains("\n  flies:\n");
            let fly_dir = if flies {
                common::fly_data_or_skip(&format!(
                    "list_check_and_usage: the data of {} (its config is still checked)",
                    p.file_name().unwrap().to_string_lossy()
                ))
            } else {
                None
            };
            if let Some(dir) = &fly_dir {
                // Wherever the helper found them (`SYNPLAST_SHARED` may name another folder).
                c.arg(format!("data.flies.dir={}", dir.display()));
            }
            let o = c.output().expect("binary runs");
            if flies && fly_dir.is_none() {
                // Without the data the config itself must still be good: the one error allowed
                // is the missing first fly file.
                assert!(
                    o.status.success()
                        || (o.status.code() == Some(2)
                            && text(&o).contains("fly01.csv: cannot read fly data")),
                    "{}: {}",
                    p.display(),
                    text(&o)
                );
            } else {
                assert!(o.status.success(), "{}: {}", p.display(), text(&o));
            }
            n += 1;
        }
    }
    assert!(n >= 4);
}

/// A tiny meta-learning run of each method: completes, writes its artifacts, and repeats to
/// the byte.
#[test]
fn meta_function_runs_and_repeats() {
    let d = tmp("meta");
    let body = "\
name: tiny_meta
kind: meta_function
seed: 5
task:
  loss: subspace
  n_in: 3
  n_out: 2
  variances: [1.0, 0.5, 0.1]
  datasets: 3
  samples: 20
  epochs: 15
  eta: 0.1
optimizer:
  method: cmaes
  iterations: 3
  population: 6
evaluation:
  datasets: 2
";
    let cfg = write(&d, "m.yaml", body);
    let mut outs = Vec::new();
    for (name, extra) in [
        ("a", vec![]),
        ("b", vec![]),
        (
            "g",
            vec![
                "optimizer.method=gradient",
                "optimizer.population=null",
                "optimizer.sigma0=null",
            ],
        ),
    ] {
        let out = d.join(name);
        let mut args = vec![
            "run",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{name}: {}", text(&o));
        outs.push(out);
    }
    let a = std::fs::read(outs[0].join("metrics.json")).unwrap();
    assert_eq!(a, std::fs::read(outs[1].join("metrics.json")).unwrap());
    for out in &outs {
        let m = metrics(out);
        assert_eq!(m["theta"].as_array().unwrap().len(), 27);
        assert_eq!(m["theta_lateral"].as_array().unwrap().len(), 27);
        assert!(m["task_loss"].as_f64().unwrap().is_finite());
        assert!(m["inner_simulations"].as_u64().unwrap() > 0);
        for f in [
            "theta.npy",
            "theta.csv",
            "loss.csv",
            "loss.svg",
            "theta.svg",
            "weights.svg",
        ] {
            assert!(out.join(f).exists(), "{f}");
        }
    }
    // CMA-ES: (1 + 3 * (6 + 1)) evaluations of 3 data sets; gradient: 3 + 1 evaluations.
    assert_eq!(metrics(&outs[0])["inner_simulations"].as_u64(), Some(66));
    assert_eq!(metrics(&outs[2])["inner_simulations"].as_u64(), Some(12));
    let o = run(&["check", cfg.to_str().unwrap(), "optimizer.theta0=[1, 2]"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("must list 54"), "{}", text(&o));
    let bad = write(&d, "bad.yaml", &body.replace("n_out: 2", "n_out: 5"));
    let o = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("task.n_out"), "{}", text(&o));
}

/// With seed 63 the second epoch's Adam steps take the small problem's rule to where one
/// trajectory's weights blow up; the step is undone and the rate halved, and the run
/// completes (before the undo it failed with exit 1).
#[test]
fn a_step_into_blow_up_is_undone() {
    let d = tmp("undo");
    let cfg = write(&d, "u.yaml", &SMALL.replace("seed: 7", "seed: 63"));
    let out = d.join("run");
    let o = run(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "fit.epochs=2",
        "fit.refine_iterations=0",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let m = metrics(&out);
    assert_eq!(m["rejected_steps"].as_u64(), Some(1));
    let theta: Vec<f64> = serde_json::from_value(m["theta"].clone()).unwrap();
    assert!(theta.iter().all(|t| t.is_finite()));
}

/// An unwritable run directory is a clear error naming the path (exit 1), as is a full disk:
/// the latter on a 16 KiB tmpfs when this process may mount one (root on Linux), else skipped
/// with a message.
#[test]
fn unwritable_directory_and_full_disk_are_clear_errors() {
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/oja_recovery.yaml");
    let d = tmp("unwritable");
    let file = d.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = run(&[
        "run",
        good.to_str().unwrap(),
        "--quiet",
        "--out",
        file.join("run").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("cannot create run directory") && text(&o).contains("a-file"),
        "{}",
        text(&o)
    );

    let mnt = d.join("tiny");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("full-disk check skipped: cannot mount a tmpfs here");
        return;
    }
    let out = mnt.join("run");
    let o = run(&[
        "run",
        good.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let listing: Vec<String> = std::fs::read_dir(&out)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let _ = Command::new("umount").arg(&mnt).output();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("No space left on device"), "{}", text(&o));
    assert!(
        listing.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files left behind: {listing:?}"
    );
}
