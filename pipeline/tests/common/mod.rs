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
