//! The `synplast` command line (`docs/pipeline.md`): thin commands over the registry
//! ([`crate::kinds`]) and the run directory ([`crate::rundir`]); it names no kind.
//!
//! ```text
//! synplast run EXPERIMENT.yaml [--out DIR] [--force] [--quiet] [--threads N] [--progress-every S] [key.path=value ...]
//! synplast run --resume DIR [--quiet] [--threads N] [--progress-every S]
//! synplast run EXPERIMENT.yaml --out DIR --shard I/N|auto [--quiet] [--threads N] [--progress-every S] [key.path=value ...]
//! synplast merge DIR [--quiet]
//! synplast show DIR
//! synplast check EXPERIMENT.yaml [key.path=value ...]
//! synplast list
//! ```
//! Exit 0 on success; 2 on a bad command line, config or data (nothing written), or a run
//! directory in use by another process (its lock); 1 on a failure while running (the run
//! directory keeps what was written and `meta.json` says why); 130 when stopped by Ctrl-C,
//! SIGTERM or SIGHUP (`meta.json` says `interrupted`; `--resume` continues).

use crate::config::ConfigError;
use crate::kind::Experiment;
use crate::kinds::{self, KINDS};
use crate::rundir::{self, Resume, RunOptions};
use std::path::PathBuf;

const USAGE: &str = "usage:
  synplast run EXPERIMENT.yaml [--out DIR] [--force] [--quiet] [--threads N] [--progress-every S] [key.path=value ...]
  synplast run --resume DIR [--quiet] [--threads N] [--progress-every S]
  synplast run EXPERIMENT.yaml --out DIR --shard I/N|auto [--quiet] [--threads N] [--progress-every S] [key.path=value ...]
  synplast merge DIR [--quiet]
  synplast show DIR
  synplast check EXPERIMENT.yaml [key.path=value ...]
  synplast list
  synplast --version";

/// Runs the command line; returns the process exit code.
pub fn main_with_args(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("check") => cmd_check(&args[1..]),
        Some("merge") => cmd_merge(&args[1..]),
        Some("show") => cmd_show(&args[1..]),
        Some("list") if args.len() == 1 => cmd_list(),
        Some("--version" | "-V") => {
            println!("synplast {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            0
        }
        _ => usage_error("expected a command"),
    }
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("synplast: {msg}\n{USAGE}");
    2
}

struct Parsed {
    file: PathBuf,
    out: Option<PathBuf>,
    force: bool,
    quiet: bool,
    resume: bool,
    threads: Option<usize>,
    progress_every: Option<f64>,
    shard: Option<rundir::Shard>,
    overrides: Vec<String>,
}

fn parse(args: &[String], allow_run_flags: bool) -> Result<Parsed, String> {
    let mut p = Parsed {
        file: PathBuf::new(),
        out: None,
        force: false,
        quiet: false,
        resume: false,
        threads: None,
        progress_every: None,
        shard: None,
        overrides: Vec::new(),
    };
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" if allow_run_flags => {
                let d = it.next().ok_or("--out needs a directory")?;
                p.out = Some(PathBuf::from(d));
            }
            "--force" if allow_run_flags => p.force = true,
            "--resume" if allow_run_flags => {
                let d = it.next().ok_or("--resume needs a run directory")?;
                p.resume = true;
                p.out = Some(PathBuf::from(d));
                file = Some(PathBuf::from(d).join("config.yaml"));
            }
            "--quiet" | "-q" if allow_run_flags => p.quiet = true,
            "--shard" if allow_run_flags => {
                let s = it.next().ok_or("--shard needs I/N (e.g. 0/4) or auto")?;
                p.shard = Some(rundir::Shard::parse(s)?);
            }
            "--progress-every" if allow_run_flags => {
                let v = it
                    .next()
                    .ok_or("--progress-every needs seconds between progress lines")?;
                let secs = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && (0.0..=86_400.0).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "--progress-every: expected 0 (no lines) to 86400 seconds, got `{v}`"
                        )
                    })?;
                p.progress_every = Some(secs);
            }
            "--threads" if allow_run_flags => {
                let n = it.next().ok_or("--threads needs a number of threads")?;
                p.threads = Some(
                    n.parse::<usize>()
                        .ok()
                        .filter(|&n| (1..=4096).contains(&n))
                        .ok_or_else(|| format!("--threads: expected 1 to 4096, got `{n}`"))?,
                );
            }
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
            s if s.contains('=') && file.is_some() => p.overrides.push(s.to_string()),
            s if file.is_none() => file = Some(PathBuf::from(s)),
            s => {
                return Err(format!(
                    "unexpected argument `{s}` (overrides look like key.path=value)"
                ))
            }
        }
    }
    p.file = file.ok_or("missing EXPERIMENT.yaml")?;
    if p.resume && (p.force || !p.overrides.is_empty()) {
        return Err("--resume continues a run as it was: no --force, no overrides".into());
    }
    if p.shard.is_some() && (p.resume || p.force || p.out.is_none()) {
        return Err(
            "--shard needs --out DIR (the directory all shards share), and no --resume or --force (running a shard again continues it)".into(),
        );
    }
    Ok(p)
}

fn load(p: &Parsed) -> Result<Experiment, ConfigError> {
    kinds::load(&p.file)?.apply_overrides(&p.overrides)
}

fn cmd_check(args: &[String]) -> i32 {
    let p = match parse(args, false) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
    };
    match load(&p) {
        Ok(exp) => {
            if let Err(e) = exp.check_data() {
                eprintln!("{e}");
                return 2;
            }
            println!("{}: ok ({} `{}`)", p.file.display(), exp.kind(), exp.name());
            0
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

/// `synplast show DIR`: what a run directory holds, from its files: the experiment, how the run
/// ended and when, its summary (a finished run) or how far it got and how to continue.
fn cmd_show(args: &[String]) -> i32 {
    let [dir] = args else {
        return usage_error("show needs one run directory");
    };
    match show(std::path::Path::new(dir)) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("synplast show: {e}");
            2
        }
    }
}

fn show(dir: &std::path::Path) -> Result<String, String> {
    use std::fmt::Write;
    let meta_path = dir.join("meta.json");
    let bytes = std::fs::read(&meta_path).map_err(|e| {
        format!(
            "{}: {e} (not a run directory? `synplast run` writes meta.json there)",
            meta_path.display()
        )
    })?;
    let meta: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not valid JSON: {e}", meta_path.display()))?;
    let text = |k: &str| meta[k].as_str().unwrap_or("?").to_string();
    let mut out = String::new();
    let what = match kinds::load(&dir.join("config.yaml")) {
        Ok(exp) => format!("{} `{}`", exp.kind(), exp.name()),
        Err(_) => "an experiment whose config.yaml does not load".to_string(),
    };
    let took = meta["timings"]["total_seconds"]
        .as_f64()
        .map(|s| format!(", {}", crate::progress::human_time(s)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}: {what}, config {}\nstatus {} (started {}, ended {}{took}; synplast {}, commit {})",
        dir.display(),
        text("config_hash"),
        text("status"),
        text("started_utc"),
        meta["ended_utc"].as_str().unwrap_or("-"),
        text("synplast_version"),
        meta["git_commit"].as_str().unwrap_or("unknown"),
    );
    let _ = writeln!(out, "command: {}", shell_words(&meta["command"]));
    match meta["status"].as_str() {
        Some("ok") => match meta["summary"].as_str() {
            Some(sm) => {
                let _ = writeln!(out, "{sm}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "(this run's summary was not recorded: it was made before `show` existed; its numbers are in metrics.json)"
                );
            }
        },
        Some(st) => {
            if let Some(e) = meta["error"].as_str() {
                let _ = writeln!(out, "error: {e}");
            }
            let done = saved_work(dir);
            if !done.is_empty() {
                let _ = writeln!(out, "kept: {done}");
            }
            if st != "running" {
                let _ = writeln!(
                    out,
                    "continue it with: synplast run --resume {}",
                    dir.display()
                );
            }
        }
        None => {}
    }
    if let Ok(rd) = std::fs::read_dir(dir.join("shards")) {
        let mut metas: Vec<std::path::PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".meta.json"))
            .collect();
        metas.sort();
        for p in metas {
            let m: serde_json::Value = std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let name = p
                .file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .trim_end_matches(".meta.json")
                        .to_string()
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {name}: {}",
                m["status"].as_str().unwrap_or("unknown")
            );
        }
    }
    Ok(out)
}

/// What an unfinished run has kept: records (lines of `records/*.jsonl`) and checkpoints
/// (files under `checkpoints/`).
fn saved_work(dir: &std::path::Path) -> String {
    let mut parts = Vec::new();
    let files = |sub: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir.join(sub))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    };
    let lines: usize = files("records")
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .sum();
    if lines > 0 {
        parts.push(format!("{lines} records in records/"));
    }
    let ck = files("checkpoints").len();
    if ck > 0 {
        parts.push(format!("{ck} checkpoints in checkpoints/"));
    }
    parts.join(", ")
}

/// A recorded command line as one string (arguments with spaces quoted).
fn shell_words(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .map(|x| {
                    if x.is_empty() || x.contains(char::is_whitespace) {
                        format!("'{x}'")
                    } else {
                        x.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn cmd_list() -> i32 {
    println!("experiment kinds:");
    for k in KINDS {
        let resume = match k.resume() {
            Resume::Checkpoints => "resumes from checkpoints",
            Resume::Rerun => "--resume runs it again from the start",
        };
        println!("  {:<13} {} [{resume}]", k.name(), k.about());
    }
    println!("rules:");
    println!(
        "  taylor     27-term Taylor rule dw = sum theta[a][b][c] x^a y^b w^c (flat index 9a+3b+c)"
    );
    println!(
        "             terms: {}",
        synplast_kernels::taylor::TERM_LABELS.join(", ")
    );
    println!("  oja        Oja's rule x*y - y^2*w (taylor terms x*y = 1, y^2*w = -1)");
    println!(
        "  reward     81-term reward Taylor rule dw = sum theta[a][b][c][d] x^a y^b w^c r^d (flat index 27a+9b+3c+d), r = R - E[R]; terms like x*r, y*w, r^2"
    );
    println!(
        "  mlp        reward MLP rule [x, y, w, r] -> 10 leaky-ReLU -> 1 -> tanh (61 parameters)"
    );
    0
}

fn cmd_run(args: &[String]) -> i32 {
    let p = match parse(args, true) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
    };
    let mut exp = match load(&p) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if let Err(e) = exp.check_data() {
        eprintln!("{e}");
        return 2;
    }
    if let Some(n) = p.threads {
        crate::parallel::set_threads(n);
    }
    if let Some(secs) = p.progress_every {
        crate::progress::set_log_interval(std::time::Duration::from_secs_f64(secs));
    }
    exp.resolve();
    let opts = RunOptions {
        out: p.out,
        force: p.force,
        quiet: p.quiet,
        config_file: p.file.display().to_string(),
        command: std::iter::once("synplast".to_string())
            .chain(std::iter::once("run".to_string()))
            .chain(args.iter().cloned())
            .collect(),
        resume: p.resume,
        shard: p.shard,
        merge: false,
        embedded: false,
    };
    rundir::run(&exp, &opts)
}

fn cmd_merge(args: &[String]) -> i32 {
    let mut quiet = false;
    let mut dir = None;
    for a in args {
        match a.as_str() {
            "--quiet" | "-q" => quiet = true,
            s if s.starts_with('-') => return usage_error(&format!("unknown option `{s}`")),
            s if dir.is_none() => dir = Some(PathBuf::from(s)),
            s => return usage_error(&format!("unexpected argument `{s}`")),
        }
    }
    let Some(dir) = dir else {
        return usage_error("merge needs the run directory the shards share");
    };
    let file = dir.join("config.yaml");
    let mut exp = match kinds::load(&file) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    exp.resolve();
    let opts = RunOptions {
        out: Some(dir),
        force: false,
        quiet,
        config_file: file.display().to_string(),
        command: std::iter::once("synplast".to_string())
            .chain(std::iter::once("merge".to_string()))
            .chain(args.iter().cloned())
            .collect(),
        resume: false,
        shard: None,
        merge: true,
        embedded: false,
    };
    rundir::run(&exp, &opts)
}
