//! The `synplast` command line (DESIGN §5):
//!
//! ```text
//! synplast run EXPERIMENT.yaml [--out DIR] [--force] [--quiet] [key.path=value ...]
//! synplast check EXPERIMENT.yaml [key.path=value ...]
//! synplast list
//! ```
//! Exit 0 on success; 2 on a bad command line, config or data (nothing written); 1 on a failure
//! while running (the run directory keeps what was written and `meta.json` says why).

use crate::config::{self, ConfigError, Experiment, KINDS};
use crate::run::{run_experiment, RunOptions};
use std::path::PathBuf;

const USAGE: &str = "usage:
  synplast run EXPERIMENT.yaml [--out DIR] [--force] [--quiet] [key.path=value ...]
  synplast run --resume DIR [--quiet]
  synplast check EXPERIMENT.yaml [key.path=value ...]
  synplast list
  synplast --version";

/// Runs the command line; returns the process exit code.
pub fn main_with_args(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("check") => cmd_check(&args[1..]),
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
    overrides: Vec<String>,
}

fn parse(args: &[String], allow_run_flags: bool) -> Result<Parsed, String> {
    let mut p = Parsed {
        file: PathBuf::new(),
        out: None,
        force: false,
        quiet: false,
        resume: false,
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
    Ok(p)
}

fn load(p: &Parsed) -> Result<Experiment, ConfigError> {
    let exp = config::load(&p.file)?;
    config::apply_overrides(exp, &p.overrides)
}

/// Checks the data files an experiment reads (fly CSVs), so bad data is an exit-2 error
/// before anything is written.
fn check_data(exp: &Experiment) -> Result<(), String> {
    match exp {
        Experiment::FitBehavior(c) => crate::fit_behavior::check_data(c),
        Experiment::Prune(c) => crate::prune::check_data(c),
        _ => Ok(()),
    }
}

fn cmd_check(args: &[String]) -> i32 {
    let p = match parse(args, false) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
    };
    match load(&p) {
        Ok(exp) => {
            if let Err(e) = check_data(&exp) {
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

fn cmd_list() -> i32 {
    println!("experiment kinds:");
    for (k, d) in KINDS {
        println!("  {k:<10} {d}");
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
    let exp = match load(&p) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if let Err(e) = check_data(&exp) {
        eprintln!("{e}");
        return 2;
    }
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
    };
    run_experiment(exp, &opts)
}
