//! Helpers the end-to-end test files share (each file uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `synplast` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synplast"))
}

/// A fresh, empty directory for one test (per process, so test binaries do not collide).
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("synplast-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `cfg` into `out` (`--quiet`), checks it succeeded and returns its `metrics.json` parsed.
pub fn run_ok(cfg: &Path, out: &Path) -> serde_json::Value {
    let o = bin()
        .args(["run", cfg.to_str().unwrap(), "--quiet", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap()
}

/// Runs `cfg` into `d/a` and `d/b` (`--quiet`), checks the two `metrics.json` are the same
/// bytes and returns them parsed.
pub fn run_twice_same_bytes(cfg: &Path, d: &Path) -> serde_json::Value {
    for out in ["a", "b"] {
        let o = bin()
            .args(["run", cfg.to_str().unwrap(), "--quiet", "--out"])
            .arg(d.join(out))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let a = std::fs::read(d.join("a/metrics.json")).unwrap();
    assert_eq!(a, std::fs::read(d.join("b/metrics.json")).unwrap());
    serde_json::from_slice(&a).unwrap()
}

/// The in-repo test data, `pipeline/tests/data` (see its README for where each file came from).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The project's shared folder: `SYNPLAST_SHARED` if set, else `shared/` beside the checkout
/// (`CARGO_MANIFEST_DIR/../../shared`). It may not exist: tests must not assume it does.
pub fn shared() -> PathBuf {
    std::env::var_os("SYNPLAST_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// The directory of the 18 real fly CSVs, `<shared>/data/drosophila`, if all of `fly01.csv` ...
/// `fly18.csv` are there. Otherwise prints `skipped: <test>: no fly data (...)` to stderr and
/// returns `None`: the caller returns early (and passes).
pub fn fly_data_or_skip(test: &str) -> Option<PathBuf> {
    let dir = shared().join("data/drosophila");
    let missing = (1..=18)
        .map(|id| format!("fly{id:02}.csv"))
        .find(|f| !dir.join(f).is_file());
    match missing {
        None => Some(dir),
        Some(f) => {
            skip(
                test,
                &format!(
                    "no fly data (set SYNPLAST_SHARED or put shared/ beside the checkout; {} is missing)",
                    dir.join(f).display()
                ),
            );
            None
        }
    }
}

/// Prints `skipped: <test>: <why>` to stderr, past the test harness's output capture (so a plain
/// `cargo test` shows it); the caller then returns early.
pub fn skip(test: &str, why: &str) {
    let line = format!("skipped: {test}: {why}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// `experiments/rule_filter_small.yaml` on a tiny network (64 E + 16 I neurons, 1000 inputs,
/// 0.5 s + 0.5 s), its `rules: 64` line replaced by `rules` (e.g. `rules: 6` or a `rounds:`
/// list).
pub fn tiny_rule_filter(rules: &str) -> String {
    include_str!("../../../experiments/rule_filter_small.yaml")
        .replace("rules: 64\n", &format!("{rules}\n"))
        .replace("n_exc: 512", "n_exc: 64")
        .replace("n_inh: 128", "n_inh: 16")
        .replace("inputs: 5000", "inputs: 1000")
        .replace("input_p: 0.05", "input_p: 0.25")
        .replace("learn_s: 10", "learn_s: 0.5")
        .replace("score_s: 5", "score_s: 0.5")
}
