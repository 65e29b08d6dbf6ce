//! Interruption: a run killed mid-way (SIGKILL, so nothing is cleaned up) and resumed from its
//! last checkpoint ends with the same `metrics.json` bytes as an uninterrupted run; Ctrl-C
//! (SIGINT) leaves a valid run directory with `status: interrupted` and exit code 130.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LONG: &str = "\
name: resume_test
kind: fit_rate
seed: 11
network:
  n_in: 30
  n_out: 30
input:
  std: 0.5
teacher:
  terms:
    x*y: 1.0
    y^2*w: -1.0
student:
  init_std: 0.01
data:
  trajectories: 30
  steps: 40
  noise_scale: 0.1
fit:
  epochs: 300
  lr: 0.01
  refine_iterations: 5
evaluation:
  trajectories: 3
";

/// Checkpoints after every epoch, so the test can stop the run at a known point.
fn bin() -> Command {
    let mut c = common::bin();
    c.env("SYNPLAST_CHECKPOINT_SECONDS", "0");
    c
}

/// A fresh directory for one test, holding the experiment `yaml` as `run.yaml`.
fn setup(name: &str, yaml: &str) -> (PathBuf, PathBuf) {
    let d = std::env::temp_dir().join(format!("synplast-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let cfg = d.join("run.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    (d, cfg)
}

/// Waits until the state file `file` in `dir` records `value.key >= at_least`.
fn wait_for_checkpoint(dir: &Path, file: &str, key: &str, at_least: u64) {
    let start = Instant::now();
    loop {
        let done = std::fs::read(dir.join(file))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["value"][key].as_u64());
        if done.is_some_and(|e| e >= at_least) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts `synplast run CFG --out OUT --quiet` in the background.
fn spawn_run(cfg: &Path, out: &Path, stderr: Stdio) -> std::process::Child {
    bin()
        .args([
            "run",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Starts the long run into `out` and waits until it has checkpointed 20 Adam epochs.
fn start_and_wait(cfg: &Path, out: &Path, stderr: Stdio) -> std::process::Child {
    let child = spawn_run(cfg, out, stderr);
    wait_for_checkpoint(out, "cell-0.state.json", "adam_epochs_done", 20);
    child
}

/// `synplast run --resume DIR --quiet`.
fn resume(dir: &Path) -> std::process::Output {
    bin()
        .args(["run", "--resume", dir.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap()
}

/// Sends `signal` (`-INT`, `-TERM`) to a run, which must stop with exit code 130; returns
/// its stderr.
fn signal_and_wait(child: std::process::Child, signal: &str) -> String {
    let k = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(130), "{err}");
    err
}

fn status(dir: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    v["status"].as_str().unwrap().to_string()
}

fn uninterrupted(d: &Path, cfg: &Path) -> Vec<u8> {
    let full = d.join("full");
    let o = bin()
        .args([
            "run",
            cfg.to_str().unwrap(),
            "--out",
            full.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(full.join("metrics.json")).unwrap()
}

#[test]
fn killed_run_resumes_to_the_same_bytes() {
    let (d, cfg) = setup("kill", LONG);
    let reference = uninterrupted(&d, &cfg);
    let out = d.join("killed");
    let mut child = start_and_wait(&cfg, &out, Stdio::null());
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        status(&out),
        "running",
        "the run finished before it could be killed"
    );
    assert!(!out.join("metrics.json").exists());
    assert!(
        out.join(".synplast.lock").exists(),
        "a killed run leaves its lock"
    );
    let o = resume(&out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // It continued from the checkpoint rather than starting over.
    let done: u64 = err
        .split("resumes after ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume message: {err}"));
    assert!(done >= 20, "{err}");
    assert_eq!(status(&out), "ok");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), reference);
    assert!(
        !out.join("cell-0.state.json").exists(),
        "checkpoints are removed at the end"
    );
    // A finished run is not resumed again.
    let o = resume(&out);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn ctrl_c_leaves_an_interrupted_run_that_resumes() {
    let (d, cfg) = setup("sigint", LONG);
    let reference = uninterrupted(&d, &cfg);
    let out = d.join("interrupted");
    let child = start_and_wait(&cfg, &out, Stdio::piped());
    let err = signal_and_wait(child, "-INT");
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(status(&out), "interrupted");
    for f in ["config.yaml", "meta.json", "cell-0.state.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The checkpoint is what the resumed run continues from: a copy with its learning-rate
    // factor halved ends elsewhere.
    let tampered = d.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    for f in ["config.yaml", "meta.json", "cell-0.state.json"] {
        std::fs::copy(out.join(f), tampered.join(f)).unwrap();
    }
    let ck = tampered.join("cell-0.state.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&ck).unwrap()).unwrap();
    v["value"]["opt"]["rate_scale"] = serde_json::json!(0.5);
    std::fs::write(&ck, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = resume(&tampered);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_ne!(
        std::fs::read(tampered.join("metrics.json")).unwrap(),
        reference
    );
    // Edited config: refused.
    let cfg_path = out.join("config.yaml");
    let original = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(&cfg_path, original.replace("epochs: 300", "epochs: 301")).unwrap();
    let o = resume(&out);
    assert_eq!(o.status.code(), Some(2));
    std::fs::write(&cfg_path, original).unwrap();
    let o = resume(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), reference);
}

/// A simulated `fit_behavior` run killed mid-way resumes from `fit.state.json` to the same
/// `metrics.json` bytes.
#[test]
fn killed_behavior_fit_resumes_to_the_same_bytes() {
    let (d, cfg) = setup(
        "beh",
        "name: beh\nkind: fit_behavior\nseed: 4\ndata:\n  simulated:\n    teacher: {x*r: 1.0}\n    trajectories: 6\n    blocks: [{trials: 60, reward_probability: [0.3, 0.7]}]\nrule:\n  kind: taylor\nfit:\n  epochs: 400\n  lr: 0.01\n  l1: 0.01\nevaluation:\n  trajectories: 2\n",
    );
    let reference = uninterrupted(&d, &cfg);
    assert!(
        !d.join("full").join("fit.state.json").exists(),
        "checkpoint removed at the end"
    );
    let out = d.join("killed");
    let mut child = spawn_run(&cfg, &out, Stdio::null());
    wait_for_checkpoint(&out, "fit.state.json", "epochs_done", 30);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(!out.join("metrics.json").exists(), "killed before the end");
    // A copy whose checkpoint is marked: resuming it must continue from the checkpoint (the
    // mark shows up in loss.csv), not start again.
    let marked = d.join("marked");
    std::fs::create_dir_all(&marked).unwrap();
    for f in ["config.yaml", "meta.json", "fit.state.json"] {
        std::fs::copy(out.join(f), marked.join(f)).unwrap();
    }
    let mut ck: serde_json::Value =
        serde_json::from_slice(&std::fs::read(marked.join("fit.state.json")).unwrap()).unwrap();
    ck["value"]["loss_history"][0] = serde_json::json!(123.0);
    std::fs::write(
        marked.join("fit.state.json"),
        serde_json::to_vec(&ck).unwrap(),
    )
    .unwrap();
    let o = resume(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(reference, std::fs::read(out.join("metrics.json")).unwrap());
    let o = resume(&marked);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let loss = std::fs::read_to_string(marked.join("loss.csv")).unwrap();
    assert!(
        loss.lines().nth(1).unwrap().ends_with(",123.0"),
        "{}",
        &loss[..200.min(loss.len())]
    );
}

/// A recorded-activity `fit_rate` run (unknown initial weights, Adam then Levenberg-Marquardt,
/// two bootstrap refits) killed mid-way resumes from `fit.state.json` to the same bytes.
#[test]
fn killed_recorded_fit_resumes_to_the_same_bytes() {
    let npz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/recordings_oja.npz");
    let yaml = format!(
        "name: rec\nkind: fit_rate\nseed: 3\nstudent: {{init_std: 0.0}}\ndata:\n  recorded:\n    file: {}\n    ignore_w0: true\nfit: {{epochs: 400, lr: 0.002, refine_iterations: 5}}\nevaluation: {{cutoff: 0.7, bootstrap: 2}}\n",
        npz.display()
    );
    let (d, cfg) = setup("recorded", &yaml);
    let reference = uninterrupted(&d, &cfg);
    let out = d.join("killed");
    let mut child = spawn_run(&cfg, &out, Stdio::null());
    wait_for_checkpoint(&out, "fit.state.json", "epochs_done", 50);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(!out.join("metrics.json").exists(), "killed before the end");
    let o = resume(&out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("the fit resumes after"), "{err}");
    assert_eq!(reference, std::fs::read(out.join("metrics.json")).unwrap());
    assert!(
        !out.join("fit.state.json").exists(),
        "checkpoint removed at the end"
    );
}

/// The long run as a small robustness grid (two cells fitted in parallel).
fn grid_config() -> String {
    LONG.replace("epochs: 300", "epochs: 150")
        .replace("refine_iterations: 5", "refine_iterations: 2")
        + "grid:\n  noise_scale: [0.1, 0.2]\n  observed_fraction: [1.0]\n"
}

/// SIGTERM (what `scancel` and a shutdown send) acts as the first Ctrl-C: the grid stops at
/// its next safe point, `meta.json` says `interrupted`, and `--resume` ends with the bytes of
/// an uninterrupted run. Then two `--resume` at once: one is refused at once (exit 2, naming
/// the lock and its holder), the other finishes; `--force` on the running run is refused too.
#[test]
fn sigterm_interrupts_and_a_directory_in_use_is_refused() {
    let (d, cfg) = setup("sigterm", &grid_config());
    let reference = uninterrupted(&d, &cfg);
    let out = d.join("terminated");
    let child = spawn_run(&cfg, &out, Stdio::piped());
    wait_for_checkpoint(&out, "cell-0.state.json", "adam_epochs_done", 10);
    signal_and_wait(child, "-TERM");
    assert_eq!(status(&out), "interrupted");
    assert!(!out.join(".synplast.lock").exists(), "the lock is released");

    let spawn_resume = || {
        bin()
            .args(["run", "--resume", out.to_str().unwrap(), "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let mut a = spawn_resume();
    let mut b = spawn_resume();
    // Whichever gets the lock runs; the other must be refused within a second.
    let (refused, runner) = loop {
        if let Some(s) = a.try_wait().unwrap() {
            break ((a, s), b);
        }
        if let Some(s) = b.try_wait().unwrap() {
            break ((b, s), a);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "neither resume was refused"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let refused_after = started.elapsed();
    let (child, code) = refused;
    let text = String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).to_string();
    assert_eq!(code.code(), Some(2), "{text}");
    assert!(
        text.contains(".synplast.lock") && text.contains("in use by process"),
        "{text}"
    );
    assert!(refused_after < Duration::from_secs(1), "{refused_after:?}");
    // `--force` on the running run is refused the same way, and removes nothing.
    let o = bin()
        .args(["run", cfg.to_str().unwrap(), "--force", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let runner_done = runner.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains(".synplast.lock"));
    assert!(
        runner_done.status.success(),
        "{}",
        String::from_utf8_lossy(&runner_done.stderr)
    );
    assert_eq!(status(&out), "ok");
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), reference);
}

/// A kind that keeps no checkpoints (`prune`) is resumed by running it again from the start
/// in the same directory, to the same bytes; a lock left by a killed process is taken over.
#[test]
fn a_rerun_kind_resumes_from_the_start_to_the_same_bytes() {
    let yaml = "name: rerun\nkind: prune\nseed: 5\nnetwork:\n  random_sdd:\n    n: 60\n    density: 0.5\nsigma: 1.0\nprune:\n  target_fraction: 0.3\n";
    let (d, cfg) = setup("rerun", yaml);
    let reference = uninterrupted(&d, &cfg);
    let out = d.join("again");
    std::fs::create_dir_all(&out).unwrap();
    for f in ["config.yaml", "meta.json"] {
        std::fs::copy(d.join("full").join(f), out.join(f)).unwrap();
    }
    let meta = std::fs::read_to_string(out.join("meta.json"))
        .unwrap()
        .replace("\"ok\"", "\"running\"");
    std::fs::write(out.join("meta.json"), meta).unwrap();
    // The lock of a process that no longer runs (a pid above the kernel's maximum).
    std::fs::write(
        out.join(".synplast.lock"),
        "pid=4194305\nhost=".to_string()
            + std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
            + "\nstart=1\nsince=2026-01-01T00:00:00Z\n",
    )
    .unwrap();
    let o = resume(&out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("stale lock") && err.contains("from the start"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), reference);
    assert!(!out.join(".synplast.lock").exists());
}
