//! A rule filter spread over processes: shards (`--shard I/N`) that share one run directory,
//! each appending to its own record log, and `synplast merge DIR`, whose outputs must be the
//! bytes of a single-process run; a shard stopped by SIGTERM (as `scancel` sends) continues
//! when run again.

mod common;

use common::{bin, tiny_rule_filter, tmp};
use std::path::Path;

/// Two rounds on a tiny network: 6 rules from the box prior, then 4 from the prior restricted
/// by the classifier (or the box prior when there is nothing to learn).
fn config() -> String {
    tiny_rule_filter("rounds: [{rules: 6, require: [rate]}, {rules: 4, require: [rate, rate_i]}]")
}

const OUTPUTS: [&str; 9] = [
    "metrics.json",
    "rules.csv",
    "accepted.csv",
    "params.npy",
    "metrics.npy",
    "accepted_params.npy",
    "rounds.svg",
    "marginals.svg",
    "drift.csv",
];

fn run(args: &[&str]) -> std::process::Output {
    bin().args(args).output().unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn same_outputs(a: &Path, b: &Path) {
    for f in OUTPUTS {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn two_shards_and_a_merge_give_the_bytes_of_one_process() {
    let d = tmp("shards");
    let cfg = d.join("rf.yaml");
    std::fs::write(&cfg, config()).unwrap();
    let c = cfg.to_str().unwrap();
    let single = d.join("single");
    ok(&run(&[
        "run",
        c,
        "--quiet",
        "--out",
        single.to_str().unwrap(),
    ]));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(single.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["rounds"].as_array().unwrap().len(), 2);
    assert_eq!(m["rules"], 10);

    let sh = d.join("sharded");
    let s = sh.to_str().unwrap();
    let shard = |i: &str| {
        run(&[
            "run",
            c,
            "--quiet",
            "--out",
            s,
            "--shard",
            i,
            "--threads",
            "1",
        ])
    };
    // Shard 0 does its 3 rules of round 0 and waits for the others.
    let out = ok(&shard("0/2"));
    assert!(out.contains("still missing"), "{out}");
    // Merging now is refused: round 0 is incomplete.
    let o = run(&["merge", s, "--quiet"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("round 0: 3 of its 6 rules are not recorded yet"));
    // Shard 1 completes round 0, plans round 1 and does its share of it; shard 0, run again,
    // does its share of round 1 and then every round is complete.
    let out = ok(&shard("1/2"));
    assert!(out.contains("round 1"), "{out}");
    let out = ok(&shard("0/2"));
    assert!(out.contains("every round is complete"), "{out}");
    for i in 0..2 {
        let log =
            std::fs::read_to_string(sh.join(format!("records/shard-{i}-of-2.jsonl"))).unwrap();
        assert_eq!(log.lines().count(), 5, "shard {i}: 3 + 2 rules");
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(sh.join(format!("shards/shard-{i}-of-2.meta.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["status"], "ok");
    }
    ok(&run(&["merge", s, "--quiet"]));
    same_outputs(&single, &sh);
    assert_eq!(
        std::fs::read(single.join("config.yaml")).unwrap(),
        std::fs::read(sh.join("config.yaml")).unwrap()
    );
    // A shard with other options is refused: the shards of one directory share a config.
    let o = run(&["run", c, "--quiet", "--out", s, "--shard", "0/2", "seed=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds another config"));
    // Bad shard arguments are usage errors.
    for bad in ["2/2", "x/2", "1", "auto"] {
        let o = bin()
            .env_remove("SLURM_ARRAY_TASK_ID")
            .args(["run", c, "--out", s, "--shard", bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    // `--shard auto` reads the Slurm array variables.
    let auto = d.join("auto");
    let a = auto.to_str().unwrap();
    for id in ["0", "1"] {
        let o = bin()
            .env("SLURM_ARRAY_TASK_ID", id)
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .args(["run", c, "--quiet", "--out", a, "--shard", "auto"])
            .output()
            .unwrap();
        ok(&o);
    }
    let o = bin()
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .args(["run", c, "--quiet", "--out", a, "--shard", "auto"])
        .output()
        .unwrap();
    assert!(ok(&o).contains("every round is complete"));
    ok(&run(&["merge", a, "--quiet"]));
    same_outputs(&single, &auto);
}

#[test]
fn a_shard_stopped_by_sigterm_continues_when_run_again() {
    let d = tmp("shard-term");
    let cfg = d.join("rf.yaml");
    // One round of 40 rules, each a little longer, so SIGTERM lands mid-way.
    let text = config()
        .replace(
            "rounds: [{rules: 6, require: [rate]}, {rules: 4, require: [rate, rate_i]}]",
            "rules: 40",
        )
        .replace("learn_s: 0.5", "learn_s: 4");
    std::fs::write(&cfg, text).unwrap();
    let c = cfg.to_str().unwrap();
    let single = d.join("single");
    ok(&run(&[
        "run",
        c,
        "--quiet",
        "--out",
        single.to_str().unwrap(),
    ]));
    let sh = d.join("sharded");
    let s = sh.to_str().unwrap();
    let child = bin()
        .args([
            "run",
            c,
            "--quiet",
            "--out",
            s,
            "--shard",
            "0/1",
            "--threads",
            "1",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first records, then stop it as scancel does.
    let log = sh.join("records/shard-0-of-1.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 2 {
        assert!(t0.elapsed().as_secs() < 120, "no records after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let k = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sh.join("shards/shard-0-of-1.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["status"], "interrupted");
    let kept = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!((2..40).contains(&kept), "{kept} records kept");
    ok(&run(&["run", c, "--quiet", "--out", s, "--shard", "0/1"]));
    ok(&run(&["merge", s, "--quiet"]));
    same_outputs(&single, &sh);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 40);
}
