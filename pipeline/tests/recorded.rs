//! Recorded activity end to end (`fit_rate`, `data: {recorded}`): the shipped numpy-written
//! recordings (`scripts/make_recordings.py`, Oja's rule) recover the rule with the initial
//! weights given, unknown, and behind a fitted per-neuron affine readout; the same bytes twice
//! and for any thread count; separate `.npy` files read as the archive; every file of the bad
//! data corpus (`tests/bad_data/`) is exit 2 naming the file and the problem, nothing written.

mod common;

use common::{bin, run_ok, run_twice_same_bytes, tmp};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A shipped experiment with its example path made absolute, bootstrap off unless asked.
fn experiment(name: &str, extra: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(root().join("experiments").join(name)).unwrap();
    let mut s = text.replace(
        "file: examples/",
        &format!("file: {}/examples/", root().display()),
    );
    s = s.replace("bootstrap: 20", "bootstrap: 0");
    for (a, b) in extra {
        assert!(s.contains(a), "{a} not in {name}");
        s = s.replace(a, b);
    }
    s
}

fn max_error(m: &serde_json::Value) -> f64 {
    m["theta_max_abs_error"].as_f64().unwrap()
}

#[test]
fn oja_is_recovered_from_the_numpy_recording_with_w0_given() {
    let d = tmp("recorded_w0");
    let cfg = d.join("c.yaml");
    std::fs::write(&cfg, experiment("oja_from_recordings.yaml", &[])).unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    assert!(max_error(&m) < 0.05, "{}", max_error(&m));
    assert_eq!(m["data"]["w0"], "given");
    assert!(m["scores"]["r2_held_out"].as_f64().unwrap() > 0.99, "{m}");
    // The static network (no plasticity) cannot follow the recording.
    let static_mse = m["null_static"]["mse_held_out"].as_f64().unwrap();
    assert!(
        static_mse > 100.0 * m["scores"]["mse_held_out"].as_f64().unwrap(),
        "{m}"
    );
    // Standard errors: numbers for every coefficient here, and the truth inside 4 of them.
    let reference: Vec<f64> = serde_json::from_value(m["reference"].clone()).unwrap();
    for c in m["coefficients"].as_array().unwrap() {
        let k = c["index"].as_u64().unwrap() as usize;
        let se = c["stderr"].as_f64().expect("a standard error");
        let t = c["theta"].as_f64().unwrap();
        assert!((t - reference[k]).abs() < 4.0 * se + 1e-3, "{c}");
    }
}

#[test]
fn oja_is_recovered_with_unknown_initial_weights_for_any_thread_count() {
    let d = tmp("recorded_unknown_w0");
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment(
            "oja_from_recordings.yaml",
            &[("reference: {", "ignore_w0: true\n    reference: {")],
        ),
    )
    .unwrap();
    let m = run_twice_same_bytes(&cfg, &d);
    assert!(max_error(&m) < 0.1, "{}", max_error(&m));
    assert_eq!(m["data"]["w0"], "ignored, fitted");
    let o = bin()
        .args([
            "run",
            cfg.to_str().unwrap(),
            "--quiet",
            "--threads",
            "1",
            "--out",
        ])
        .arg(d.join("one"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(d.join("a/metrics.json")).unwrap(),
        std::fs::read(d.join("one/metrics.json")).unwrap(),
        "one thread and the default give the same bytes"
    );
    // Oja's rule at eta = 1 forgets W_0 within about ten steps, so the recording determines
    // the initial weights only through its first steps (docs/fit_rate.md): the fitted ones are
    // not compared with the truth, but they must reproduce the activity.
    assert!(m["scores"]["r2_fit"].as_f64().unwrap() > 0.99, "{m}");
    let fitted = npy_f64(&std::fs::read(d.join("a/w0_fitted.npy")).unwrap());
    assert_eq!(fitted.len(), 8 * 8 * 10);
}

#[test]
fn oja_is_recovered_behind_a_fitted_affine_readout() {
    let d = tmp("recorded_dff");
    let cfg = d.join("c.yaml");
    std::fs::write(&cfg, experiment("oja_from_recordings_dff.yaml", &[])).unwrap();
    let m = run_ok(&cfg, &d.join("a"));
    assert!(max_error(&m) < 0.1, "{}", max_error(&m));
    let truth = npy_f64(&npz_member(
        &root().join("examples/recordings_oja_dff.npz"),
        "gain",
    ));
    let gain: Vec<f64> = serde_json::from_value(m["readout"]["gain"].clone()).unwrap();
    for (g, t) in gain.iter().zip(&truth) {
        assert!((g - t).abs() < 0.05 * t, "gain {g} vs {t}");
    }
}

/// Held-out sessions: the last two are left out of the fit; with unknown initial weights they
/// get theirs from the steps before the cutoff (rule and readout fixed) and are scored after it.
/// Holding out every session, or held-out sessions without `w0` and without a cutoff, is exit 2.
#[test]
fn held_out_sessions_are_scored_with_the_fitted_rule() {
    let d = tmp("recorded_held_out");
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        experiment(
            "oja_from_recordings.yaml",
            &[
                ("reference: {", "ignore_w0: true\n    reference: {"),
                ("cutoff: 0.7", "cutoff: 0.7\n  held_out_sessions: 2"),
            ],
        ),
    )
    .unwrap();
    let m = run_ok(&cfg, &d.join("a"));
    assert_eq!(m["data"]["sessions_fitted"], 6);
    assert_eq!(
        m["held_out_sessions"]["sessions"],
        serde_json::json!([6, 7])
    );
    assert!(m["held_out_sessions"]["r2"].as_f64().unwrap() > 0.99, "{m}");
    assert!(max_error(&m) < 0.1);
    for (over, want) in [
        (
            "evaluation.held_out_sessions=8",
            "at least one must be fitted",
        ),
        ("evaluation.cutoff=1", "need evaluation.cutoff < 1"),
    ] {
        let o = bin()
            .args(["run", cfg.to_str().unwrap(), over, "--out"])
            .arg(d.join("bad"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("recordings_oja.npz") && err.contains(want),
            "{err}"
        );
        assert!(!d.join("bad").exists());
    }
}

#[test]
fn separate_npy_files_read_as_the_archive() {
    let d = tmp("recorded_npy");
    let npz = root().join("examples/recordings_oja.npz");
    for k in ["x", "y", "w0"] {
        std::fs::write(d.join(format!("{k}.npy")), npz_member(&npz, k)).unwrap();
    }
    let fields = format!(
        "x: {}\n    y: {}\n    w0: {}",
        d.join("x.npy").display(),
        d.join("y.npy").display(),
        d.join("w0.npy").display()
    );
    let a = experiment(
        "oja_from_recordings.yaml",
        &[("refine_iterations: 100", "refine_iterations: 3")],
    );
    let b = a.replace(
        &format!("file: {}/examples/recordings_oja.npz", root().display()),
        &fields,
    );
    let mut thetas = Vec::new();
    for (name, text) in [("a", a), ("b", b)] {
        let cfg = d.join(format!("{name}.yaml"));
        std::fs::write(&cfg, text).unwrap();
        thetas.push(run_ok(&cfg, &d.join(name))["theta"].clone());
    }
    assert_eq!(thetas[0], thetas[1]);
}

#[test]
fn every_bad_data_file_exits_2_naming_file_and_problem() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_data");
    let table = std::fs::read_to_string(dir.join("EXPECTED.tsv")).unwrap();
    let expected: BTreeMap<&str, &str> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once('\t').expect("file<TAB>expected"))
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".npz") || n.ends_with(".npy") || n.ends_with(".csv"))
        .collect();
    files.sort();
    assert_eq!(
        files.iter().map(String::as_str).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>(),
        "every file has an expectation and every expectation a file"
    );
    let d = tmp("bad_data");
    let choices =
        std::fs::read_to_string(root().join("experiments/choices_xr_numpy.yaml")).unwrap();
    for name in &files {
        let f = dir.join(name);
        let cfg = d.join(format!("{name}.yaml"));
        let text = if name.ends_with(".csv") {
            choices.replace(
                "file: examples/choices_xr.csv",
                &format!("file: {}", f.display()),
            )
        } else {
            format!(
                "name: bad\nkind: fit_rate\nstudent: {{}}\ndata:\n  recorded:\n    file: {}\nfit: {{epochs: 1}}\nevaluation: {{cutoff: 0.7}}\n",
                f.display()
            )
        };
        std::fs::write(&cfg, text).unwrap();
        let out = d.join(format!("{name}.out"));
        for args in [
            vec!["check", cfg.to_str().unwrap()],
            vec!["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()],
        ] {
            let o = bin().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name} ({}): {err}", args[0]);
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert!(
                err.starts_with(&format!("{}:", f.display())),
                "{name}: {err}"
            );
            let want = expected[name.as_str()];
            assert!(err.contains(want), "{name}: wanted `{want}` in: {err}");
        }
        assert!(!out.exists(), "{name}: nothing may be written");
    }
}

/// A float64 `.npy` file.
fn write_npy(path: &Path, shape: &[usize], data: &[f64]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut head = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + head.len() + 1) % 64 != 0 {
        head.push(' ');
    }
    head.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((head.len() as u16).to_le_bytes());
    b.extend(head.as_bytes());
    for v in data {
        b.extend(v.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// The first `sessions` sessions of the shipped archive as `.npy` files in `d`, with `edit`
/// applied to `y` (`[sessions, T, n_out]`, flat).
fn npy_subset(d: &Path, sessions: usize, edit: impl Fn(usize, usize, usize, &mut f64)) {
    let npz = root().join("examples/recordings_oja.npz");
    let (t, n_in, n_out) = (200, 10, 8);
    let x = npy_f64(&npz_member(&npz, "x"));
    let mut y = npy_f64(&npz_member(&npz, "y"));
    let w0 = npy_f64(&npz_member(&npz, "w0"));
    for s in 0..sessions {
        for step in 0..t {
            for i in 0..n_out {
                edit(s, step, i, &mut y[(s * t + step) * n_out + i]);
            }
        }
    }
    write_npy(
        &d.join("x.npy"),
        &[sessions, t, n_in],
        &x[..sessions * t * n_in],
    );
    write_npy(
        &d.join("y.npy"),
        &[sessions, t, n_out],
        &y[..sessions * t * n_out],
    );
    write_npy(
        &d.join("w0.npy"),
        &[sessions, n_out, n_in],
        &w0[..sessions * n_out * n_in],
    );
}

fn npy_config(d: &Path, extra: &str) -> PathBuf {
    let cfg = d.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "name: n\nkind: fit_rate\nseed: 1\nstudent: {{init_std: 0.0}}\ndata:\n  recorded:\n    x: {}\n    y: {}\n    w0: {}\n{extra}fit: {{epochs: 100, lr: 0.01, refine_iterations: 20}}\nevaluation: {{cutoff: 0.5}}\n",
            d.join("x.npy").display(),
            d.join("y.npy").display(),
            d.join("w0.npy").display()
        ),
    )
    .unwrap();
    cfg
}

/// `ignore_w0` applies to `.npy` input too; a neuron never observed gets no readout and its
/// parameters do not count as determined; fitted steps with nothing observed are exit 2.
#[test]
fn edge_cases_of_recorded_data() {
    let d = tmp("recorded_edges");
    // Neuron 3 never observed, in any session.
    npy_subset(&d, 3, |_, _, i, v| {
        if i == 3 {
            *v = f64::NAN
        }
    });
    let cfg = npy_config(&d, "    ignore_w0: true\nobservation: {offset: fit}\n");
    let m = run_ok(&cfg, &d.join("a"));
    assert_eq!(m["data"]["w0"], "ignored, fitted", "{m}");
    assert!(d.join("a/w0_fitted.npy").exists());
    assert_eq!(m["readout"]["unobserved_neurons"], serde_json::json!([3]));
    assert!(m["readout"]["offset"][3].is_null(), "{m}");
    let (fitted, determined) = (
        m["parameters_fitted"].as_u64().unwrap(),
        m["parameters_determined"].as_u64().unwrap(),
    );
    // 3 sessions x 10 weights + 1 offset of neuron 3 determine nothing.
    assert!(
        determined + 31 <= fitted,
        "{fitted} fitted, {determined} determined"
    );
    // Nothing observed before the cutoff (steps 0 to 99 of 200).
    npy_subset(&d, 2, |_, step, _, v| {
        if step < 100 {
            *v = f64::NAN
        }
    });
    let cfg = npy_config(&d, "");
    let o = bin()
        .args(["run", cfg.to_str().unwrap(), "--out"])
        .arg(d.join("b"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no observed sample (all NaN) in the fitted steps"),
        "{err}"
    );
    assert!(!d.join("b").exists());
}

/// The bytes of member `name.npy` of an `.npz` archive.
fn npz_member(path: &Path, name: &str) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut m = z.by_name(&format!("{name}.npy")).unwrap();
    let mut buf = Vec::new();
    m.read_to_end(&mut buf).unwrap();
    buf
}

/// The values of a little-endian float64 `.npy` file.
fn npy_f64(bytes: &[u8]) -> Vec<f64> {
    let f = npyz::NpyFile::new(bytes).unwrap();
    f.into_vec::<f64>().unwrap()
}
