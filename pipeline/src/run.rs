//! A run: resolve the config, create the run directory, run, write results atomically.
//!
//! Run directory (DESIGN §5): `config.yaml` (resolved, seed included), `meta.json` (version,
//! git commit, config hash, times, status, timings), `metrics.json` (results only: identical
//! bytes for identical config and seed), plus `.npy`, `.csv` and `.svg` artifacts.

use crate::config::{Experiment, FitRateConfig, MetaFunctionConfig, MetaLoss};
use crate::fit_rate::{self, CellResult, FitCheckpoint, FitControl, RunError};
use crate::io::{csv_bytes, npy_bytes, write_atomic};
use crate::meta;
use crate::plot::{heat_map, line_chart, Series};
use crate::progress::Progress;
use crate::rng::Rng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

/// Options of `synplast run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run directory (default `runs/<name>/<UTC time>-<hash>`).
    pub out: Option<PathBuf>,
    /// Replace an earlier run directory.
    pub force: bool,
    /// No progress bar.
    pub quiet: bool,
    /// The experiment file, for `meta.json`.
    pub config_file: String,
    /// The command line, for `meta.json`.
    pub command: Vec<String>,
    /// Continue the interrupted run in `out` from its checkpoints.
    pub resume: bool,
}

/// UTC date-time of a Unix time, `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic
/// Gregorian).
pub fn utc_string(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh seed from the clock and process id (used only when the config has none; the seed is
/// then written into `config.yaml` so the run can be repeated).
pub fn draw_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut bytes = nanos.to_le_bytes().to_vec();
    bytes.extend_from_slice(&std::process::id().to_le_bytes());
    // Keep seeds within 2^53 so every JSON reader holds them exactly.
    crate::config::fnv1a(&bytes) >> 11
}

/// Where the run goes and whether it may be written.
fn prepare_dir(
    exp: &Experiment,
    opts: &RunOptions,
    started: u64,
) -> Result<PathBuf, (i32, String)> {
    let dir = match &opts.out {
        Some(d) => d.clone(),
        None => {
            let stamp = utc_string(started).replace(':', "");
            Path::new("runs")
                .join(exp.name())
                .join(format!("{stamp}-{}", &exp.hash()[..12]))
        }
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err((
                2,
                format!("{}: exists and is not a directory", dir.display()),
            ));
        }
        let non_empty = std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .map_err(|e| (1, format!("{}: cannot read directory: {e}", dir.display())))?;
        if non_empty {
            if !opts.force {
                return Err((
                    2,
                    format!(
                        "{}: directory exists and is not empty; refusing to overwrite (pass --force to replace an earlier run)",
                        dir.display()
                    ),
                ));
            }
            if !dir.join("meta.json").exists() {
                return Err((
                    2,
                    format!(
                        "{}: not a synplast run directory (no meta.json); --force only replaces earlier runs",
                        dir.display()
                    ),
                ));
            }
            for entry in
                std::fs::read_dir(&dir).map_err(|e| (1, format!("{}: {e}", dir.display())))?
            {
                let path = entry.map_err(|e| (1, e.to_string()))?.path();
                if path.is_file() {
                    std::fs::remove_file(&path)
                        .map_err(|e| (1, format!("{}: cannot remove: {e}", path.display())))?;
                } else if path.is_dir()
                    && path
                        .file_name()
                        .is_some_and(|n| n == "rules" || n == "flies")
                {
                    // Per-rule and per-fly results belong to the run being replaced.
                    std::fs::remove_dir_all(&path)
                        .map_err(|e| (1, format!("{}: cannot remove: {e}", path.display())))?;
                }
            }
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        (
            1,
            format!("{}: cannot create run directory: {e}", dir.display()),
        )
    })?;
    Ok(dir)
}

/// Writes a file of the run, with the path in the error.
pub(crate) fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RunError> {
    let p = dir.join(name);
    write_atomic(&p, bytes)
        .map_err(|e| RunError::new(format!("{}: cannot write: {e}", p.display())))
}

pub(crate) fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

/// Runs a validated experiment; returns the exit code.
pub fn run_experiment(mut exp: Experiment, opts: &RunOptions) -> i32 {
    if exp.seed().is_none() {
        exp.set_seed(draw_seed());
    }
    exp.fill_defaults();
    let started = now_secs();
    let clock = Instant::now();
    crate::interrupt::install();
    let (dir, mut meta) = if opts.resume {
        match resume_dir(&exp, opts) {
            Ok(v) => v,
            Err((code, msg)) => {
                eprintln!("synplast: {msg}");
                return code;
            }
        }
    } else {
        let dir = match prepare_dir(&exp, opts, started) {
            Ok(d) => d,
            Err((code, msg)) => {
                eprintln!("synplast: {msg}");
                return code;
            }
        };
        let meta = json!({
            "synplast_version": env!("CARGO_PKG_VERSION"),
            "git_commit": option_env!("SYNPLAST_GIT_COMMIT").filter(|s| !s.is_empty()),
            "config_file": opts.config_file,
            "config_hash": exp.hash(),
            "command": opts.command,
            "started_utc": utc_string(started),
            "status": "running",
        });
        (dir, meta)
    };
    if opts.resume {
        meta["status"] = json!("running");
        let mut resumed = meta["resumed_utc"].as_array().cloned().unwrap_or_default();
        resumed.push(json!(utc_string(started)));
        meta["resumed_utc"] = json!(resumed);
    }
    let first = if opts.resume {
        put(&dir, "meta.json", &pretty(&meta))
    } else {
        put(&dir, "config.yaml", exp.to_yaml().as_bytes())
            .and_then(|_| put(&dir, "meta.json", &pretty(&meta)))
    };
    let result = first.and_then(|_| match &exp {
        Experiment::FitRate(c) => run_fit_rate(c, &exp, &dir, opts),
        Experiment::MetaFunction(c) => run_meta(c, &exp, &dir, opts),
        Experiment::FitBehavior(c) => crate::fit_behavior::run(c, &exp, &dir, opts),
        Experiment::Prune(c) => crate::prune::run(c, &exp, &dir, opts),
        Experiment::Spiking(c) => crate::spiking::run(c, &exp, &dir, opts),
        Experiment::RuleFilter(c) => crate::rule_filter::run(c, &exp, &dir, opts),
    });
    meta["ended_utc"] = json!(utc_string(now_secs()));
    meta["timings"] = json!({ "total_seconds": clock.elapsed().as_secs_f64() });
    let code = match &result {
        Ok(summary) => {
            meta["status"] = json!("ok");
            meta.as_object_mut().map(|m| m.remove("error"));
            println!("{summary}");
            println!("run directory: {}", dir.display());
            0
        }
        Err(e) if e.interrupted => {
            meta["status"] = json!("interrupted");
            let resumable = matches!(
                exp,
                Experiment::FitRate(_) | Experiment::RuleFilter(_) | Experiment::FitBehavior(_)
            );
            eprintln!(
                "synplast: interrupted; the run directory is valid: {}",
                dir.display()
            );
            if resumable {
                eprintln!("continue with: synplast run --resume {}", dir.display());
            }
            130
        }
        Err(e) => {
            meta["status"] = json!("failed");
            meta["error"] = json!(e.message);
            eprintln!("synplast: run failed: {e}");
            eprintln!("run directory (partial): {}", dir.display());
            1
        }
    };
    if let Err(e) = put(&dir, "meta.json", &pretty(&meta)) {
        eprintln!("synplast: {e}");
        return 1;
    }
    code
}

/// Checks that `opts.out` holds an unfinished run of this very config; returns its directory
/// and `meta.json`.
fn resume_dir(exp: &Experiment, opts: &RunOptions) -> Result<(PathBuf, Value), (i32, String)> {
    let dir = opts
        .out
        .clone()
        .ok_or((2, "--resume needs the run directory".to_string()))?;
    let meta_path = dir.join("meta.json");
    let meta: Value = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or((
            2,
            format!(
                "{}: not a synplast run directory (no readable meta.json)",
                dir.display()
            ),
        ))?;
    if !matches!(
        exp,
        Experiment::FitRate(_) | Experiment::RuleFilter(_) | Experiment::FitBehavior(_)
    ) {
        return Err((
            2,
            format!(
                "{}: only fit_rate, fit_behavior and rule_filter runs can be resumed; run this experiment again",
                dir.display()
            ),
        ));
    }
    match meta["status"].as_str() {
        Some("ok") => return Err((2, format!("{}: this run already finished", dir.display()))),
        Some("interrupted" | "running" | "failed") => {}
        other => {
            return Err((
                2,
                format!("{}: unknown status {other:?} in meta.json", dir.display()),
            ))
        }
    }
    if meta["config_hash"].as_str() != Some(exp.hash().as_str()) {
        return Err((
            2,
            format!(
                "{}: config.yaml does not match the run's config hash; it was edited",
                dir.display()
            ),
        ));
    }
    Ok((dir, meta))
}

/// Seconds between checkpoint writes: `SYNPLAST_CHECKPOINT_SECONDS`, default 2.
pub fn checkpoint_seconds() -> f64 {
    std::env::var("SYNPLAST_CHECKPOINT_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(2.0)
}

fn checkpoint_name(cell: usize) -> String {
    format!("checkpoint-{cell}.json")
}

fn cell_json(c: &CellResult) -> Value {
    json!({
        "noise_scale": c.noise_scale,
        "observed_fraction": c.observed_fraction,
        "theta": c.fit.theta.to_vec(),
        "theta_max_abs_error": c.theta_max_abs_error,
        "r2_weights": c.evaluation.r2_weights,
        "r2_activity": c.evaluation.r2_activity,
        "final_loss": c.final_loss,
        "condition_number": c.identifiability.condition_number,
    })
}

fn run_fit_rate(
    cfg: &FitRateConfig,
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let prep = fit_rate::prepare(cfg, seed)?;
    let base = (cfg.data.noise_scale.0, cfg.data.observed_fraction.0);
    let mut cells = vec![base];
    if let Some(g) = &cfg.grid {
        for n in &g.noise_scale {
            for f in &g.observed_fraction {
                if !cells.contains(&(n.0, f.0)) {
                    cells.push((n.0, f.0));
                }
            }
        }
    }
    let epochs = cfg.fit.epochs.get() + cfg.fit.refine_iterations as usize;
    let progress = Progress::new(epochs * cells.len(), "epochs", opts.quiet);
    let results = run_cells(cfg, &prep, &cells, &progress, dir, opts.resume);
    progress.finish();
    let mut results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    for i in 0..cells.len() {
        let _ = std::fs::remove_file(dir.join(checkpoint_name(i)));
    }
    let main = results.remove(0);
    let target = prep.teacher.theta;

    // Artifacts of the main fit.
    let x_label = if cfg.fit.refine_iterations > 0 {
        "Adam epoch, then Levenberg-Marquardt iteration"
    } else {
        "Adam epoch"
    };
    let history: Vec<Vec<f64>> = main.fit.theta_history.iter().map(|t| t.to_vec()).collect();
    put_history(dir, "theta", "epoch", &TERM_LABELS, &history)?;
    put_loss(
        dir,
        "train_loss",
        &main.fit.loss_history,
        "Training loss (MSE on observed activity)",
        x_label,
    )?;
    let labels: Vec<String> = TERM_LABELS.iter().map(|s| s.to_string()).collect();
    let highlight: Vec<(usize, Option<f64>)> = (0..TAYLOR_TERMS)
        .filter(|&k| target[k] != 0.0)
        .map(|k| (k, Some(target[k])))
        .collect();
    put(
        dir,
        "theta.svg",
        coefficient_svg(
            "Coefficients during the fit",
            x_label,
            &history,
            &labels,
            &highlight,
        )
        .as_bytes(),
    )?;

    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_rate",
        "seed": seed,
        "config_hash": exp.hash(),
        "terms": TERM_LABELS.to_vec(),
        "theta_target": target.to_vec(),
        "noise_scale": main.noise_scale,
        "observed_fraction": main.observed_fraction,
        "theta": main.fit.theta.to_vec(),
        "theta_max_abs_error": main.theta_max_abs_error,
        "r2_weights": main.evaluation.r2_weights,
        "r2_activity": main.evaluation.r2_activity,
        "final_loss": main.final_loss,
        "rejected_steps": main.fit.rejected_steps,
        "identifiability": serde_json::to_value(&main.identifiability).unwrap_or(Value::Null),
    });
    if let Some(g) = &cfg.grid {
        let mut all = vec![&main];
        all.extend(results.iter());
        let find = |n: f64, f: f64| {
            all.iter()
                .find(|c| c.noise_scale == n && c.observed_fraction == f)
        };
        let mut grid = Vec::new();
        let mut rows = Vec::new();
        let (mut r2m, mut errm) = (Vec::new(), Vec::new());
        for n in &g.noise_scale {
            let (mut r2r, mut errr) = (Vec::new(), Vec::new());
            for f in &g.observed_fraction {
                if let Some(c) = find(n.0, f.0) {
                    grid.push(cell_json(c));
                    rows.push(vec![
                        c.noise_scale,
                        c.observed_fraction,
                        c.evaluation.r2_weights,
                        c.evaluation.r2_activity,
                        c.theta_max_abs_error,
                        c.final_loss,
                    ]);
                    r2r.push(c.evaluation.r2_weights);
                    errr.push(c.theta_max_abs_error);
                }
            }
            r2m.push(r2r);
            errm.push(errr);
        }
        metrics["grid"] = Value::Array(grid);
        put(
            dir,
            "grid.csv",
            &csv_bytes(
                &[
                    "noise_scale",
                    "observed_fraction",
                    "r2_weights",
                    "r2_activity",
                    "theta_max_abs_error",
                    "final_loss",
                ],
                &rows,
            ),
        )?;
        let rl: Vec<String> = g
            .noise_scale
            .iter()
            .map(|v| format!("noise {}", v.0))
            .collect();
        let cl: Vec<String> = g
            .observed_fraction
            .iter()
            .map(|v| format!("{}", v.0))
            .collect();
        put(
            dir,
            "grid_r2_weights.svg",
            heat_map(
                "R^2 of weight trajectories",
                "observation noise scale",
                "fraction of neurons observed",
                &rl,
                &cl,
                &r2m,
            )
            .as_bytes(),
        )?;
        put(
            dir,
            "grid_theta_error.svg",
            heat_map(
                "max |theta - target|",
                "observation noise scale",
                "fraction of neurons observed",
                &rl,
                &cl,
                &errm,
            )
            .as_bytes(),
        )?;
    }
    put(dir, "metrics.json", &pretty(&metrics))?;
    Ok(summary(&main, &target))
}

fn summary(c: &CellResult, target: &[f64; TAYLOR_TERMS]) -> String {
    let mut s = String::new();
    let mut big: Vec<usize> = (0..TAYLOR_TERMS)
        .filter(|&k| target[k] != 0.0 || c.fit.theta[k].abs() > 0.05)
        .collect();
    big.sort();
    for k in big {
        s.push_str(&format!(
            "theta[{}] ({:>7}) = {:+.4}   target {:+.4}\n",
            k, TERM_LABELS[k], c.fit.theta[k], target[k]
        ));
    }
    s.push_str(&format!(
        "max |theta - target| = {:.4}   r2_weights = {:.5}   r2_activity = {:.5}   final_loss = {:.3e}\n",
        c.theta_max_abs_error, c.evaluation.r2_weights, c.evaluation.r2_activity, c.final_loss
    ));
    let id = &c.identifiability;
    s.push_str(&format!("identifiability: {}\n", id.verdict));
    let sv = &id.singular_values;
    if let (Some(a), Some(b)) = (sv.first(), sv.last()) {
        s.push_str(&format!(
            "  singular values of J^T J/N: largest {a:.3e}, smallest {b:.3e}\n"
        ));
    }
    for d in &id.least_determined {
        let dir: Vec<String> = d
            .loadings
            .iter()
            .map(|(t, v)| format!("{v:+.2} {t}"))
            .collect();
        s.push_str(&format!(
            "  least determined ({:.2e}): {}\n",
            d.singular_value,
            dir.join(" ")
        ));
    }
    s
}

/// Fits the cells, in parallel over the machine's cores; results in the order of `cells`.
/// Cell `i` saves its state to `checkpoint-<i>.json` after every epoch and iteration, and with
/// `resume` starts from it when it exists.
fn run_cells(
    cfg: &FitRateConfig,
    prep: &fit_rate::Prepared,
    cells: &[(f64, f64)],
    progress: &Progress,
    dir: &Path,
    resume: bool,
) -> Vec<Result<CellResult, RunError>> {
    let indexed: Vec<(usize, (f64, f64))> = cells.iter().copied().enumerate().collect();
    crate::parallel::map(&indexed, |&(i, (n, f))| {
        let name = checkpoint_name(i);
        let saved = if resume {
            match std::fs::read(dir.join(&name)) {
                Ok(b) => Some(serde_json::from_slice::<FitCheckpoint>(&b).map_err(|e| {
                    RunError::new(format!(
                        "{}: unreadable checkpoint: {e}",
                        dir.join(&name).display()
                    ))
                })?),
                Err(_) => None,
            }
        } else {
            None
        };
        if let Some(c) = &saved {
            eprintln!(
                "synplast: cell {i} resumes after {} Adam epochs and {} refinement iterations",
                c.adam_epochs_done, c.lm_iterations_done
            );
            progress.tick(c.loss_history.len(), c.loss_history.last().copied());
        }
        let mut on_epoch = |_: usize, l: f64| progress.tick(1, Some(l));
        // Written at most every `checkpoint_seconds()` (the history grows with the run), and
        // always when the run is stopping.
        let mut last_write: Option<Instant> = None;
        let mut save = |c: &FitCheckpoint, now: bool| {
            if !now && last_write.is_some_and(|t| t.elapsed().as_secs_f64() < checkpoint_seconds())
            {
                return Ok(());
            }
            let bytes = serde_json::to_vec(c).map_err(|e| RunError::new(e.to_string()))?;
            put(dir, &name, &bytes)?;
            last_write = Some(Instant::now());
            Ok(())
        };
        let stop = crate::interrupt::requested;
        let mut ctl = FitControl {
            on_epoch: &mut on_epoch,
            save: &mut save,
            stop: &stop,
            resume: saved,
        };
        fit_rate::run_cell(cfg, prep, n, f, &mut ctl)
    })
}

/// The training-loss curve (log scale) of `(x, loss)` rows.
/// Writes a history (one row of `labels.len()` values per step) as `<stem>.npy`
/// (steps x values) and `<stem>.csv` (an `index` column counting from 0, then one per label).
pub(crate) fn put_history(
    dir: &Path,
    stem: &str,
    index: &str,
    labels: &[&str],
    history: &[Vec<f64>],
) -> Result<(), RunError> {
    let flat: Vec<f64> = history.iter().flatten().copied().collect();
    put(
        dir,
        &format!("{stem}.npy"),
        &npy_bytes(&[history.len(), labels.len()], &flat),
    )?;
    let mut header = vec![index];
    header.extend(labels);
    let rows: Vec<Vec<f64>> = history
        .iter()
        .enumerate()
        .map(|(k, t)| std::iter::once(k as f64).chain(t.iter().copied()).collect())
        .collect();
    put(dir, &format!("{stem}.csv"), &csv_bytes(&header, &rows))
}

/// Writes a training-loss history as `loss.csv` (`epoch` counting from 1, then `column`) and
/// its plot `loss.svg`.
pub(crate) fn put_loss(
    dir: &Path,
    column: &str,
    losses: &[f64],
    title: &str,
    x_label: &str,
) -> Result<(), RunError> {
    let rows: Vec<Vec<f64>> = losses
        .iter()
        .enumerate()
        .map(|(e, l)| vec![e as f64 + 1.0, *l])
        .collect();
    put(dir, "loss.csv", &csv_bytes(&["epoch", column], &rows))?;
    put(dir, "loss.svg", loss_svg(title, &rows, x_label).as_bytes())
}

pub(crate) fn loss_svg(title: &str, rows: &[Vec<f64>], x_label: &str) -> String {
    let s = Series {
        name: "train loss".into(),
        points: rows.iter().map(|r| (r[0], r[1])).collect(),
        color: "#1f77b4".into(),
        width: 2.0,
    };
    line_chart(title, x_label, "loss (log10)", &[s], true)
}

/// Coefficients over the fit: `highlight` terms drawn thick in colour (with a thin line at
/// their target when given), the others thin and grey.
pub(crate) fn coefficient_svg(
    title: &str,
    x_label: &str,
    history: &[Vec<f64>],
    labels: &[String],
    highlight: &[(usize, Option<f64>)],
) -> String {
    const COLORS: [&str; 6] = [
        "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let n = history.len();
    let mut series = Vec::new();
    let mut others = Vec::new();
    for k in 0..labels.len() {
        let points: Vec<(f64, f64)> = history
            .iter()
            .enumerate()
            .map(|(e, t)| (e as f64, t[k]))
            .collect();
        match highlight.iter().position(|h| h.0 == k) {
            Some(c) => {
                let color = COLORS[c % COLORS.len()].to_string();
                if let Some(target) = highlight[c].1 {
                    others.push(Series {
                        name: format!("target {}", labels[k]),
                        points: vec![(0.0, target), (n.saturating_sub(1) as f64, target)],
                        color: color.clone(),
                        width: 0.8,
                    });
                }
                series.push(Series {
                    name: labels[k].clone(),
                    points,
                    color,
                    width: 2.5,
                });
            }
            None => others.push(Series {
                name: if others.iter().any(|s: &Series| s.name == "other terms") {
                    String::new()
                } else {
                    "other terms".into()
                },
                points,
                color: "#999".into(),
                width: 0.8,
            }),
        }
    }
    series.extend(others);
    line_chart(title, x_label, "theta", &series, false)
}

/// Labels of the meta-learned coefficients: feedforward terms, then `lateral:` terms.
fn meta_labels(p: usize) -> Vec<String> {
    (0..p)
        .map(|k| {
            if k < TAYLOR_TERMS {
                TERM_LABELS[k].to_string()
            } else {
                format!("lateral {}", TERM_LABELS[k - TAYLOR_TERMS])
            }
        })
        .collect()
}

fn run_meta(
    cfg: &MetaFunctionConfig,
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
) -> Result<String, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    let task = meta::training_task(cfg, &master);
    let progress = Progress::new(cfg.optimizer.iterations.get(), "iterations", opts.quiet);
    let h = meta::optimise(cfg, &task, &master, &mut |_, obj| {
        progress.tick(1, Some(obj))
    })?;
    progress.finish();
    let p = task.n_params();
    let theta = h.theta.last().cloned().unwrap_or_else(|| vec![0.0; p]);
    let labels = meta_labels(p);

    // Held-out evaluation.
    let heldout = meta::heldout_task(cfg, &master);
    let inners = crate::parallel::map(&heldout.datasets, |d| meta::inner(&heldout, d, &theta));
    let n_in = task.shape.n_in;
    let n_out = task.shape.n_out;
    let heldout_loss = inners.iter().map(|i| i.loss).sum::<f64>() / inners.len() as f64;
    let blown = inners.iter().filter(|i| i.blown_at.is_some()).count();
    let mut min_cos = vec![f64::INFINITY; n_out];
    let mut mean_cos = vec![0.0; n_out];
    for (inner, ds) in inners.iter().zip(&heldout.datasets) {
        for (i, c) in meta::pc_alignment(&inner.w, &ds.pcs, n_in)
            .into_iter()
            .enumerate()
        {
            min_cos[i] = min_cos[i].min(c);
            mean_cos[i] += c / inners.len() as f64;
        }
    }

    // Artifacts.
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    put_history(dir, "theta", "iteration", &label_refs, &h.theta)?;
    let loss_rows: Vec<Vec<f64>> = (0..h.theta.len())
        .map(|k| {
            vec![
                k as f64,
                h.objective[k],
                h.task_loss[k],
                h.simulations[k] as f64,
            ]
        })
        .collect();
    put(
        dir,
        "loss.csv",
        &csv_bytes(
            &["iteration", "objective", "task_loss", "inner_simulations"],
            &loss_rows,
        ),
    )?;
    let curves = [
        Series {
            name: "objective (task + L1)".into(),
            points: loss_rows.iter().map(|r| (r[0], r[1])).collect(),
            color: "#1f77b4".into(),
            width: 2.0,
        },
        Series {
            name: "task loss".into(),
            points: loss_rows.iter().map(|r| (r[0], r[2])).collect(),
            color: "#d62728".into(),
            width: 2.0,
        },
    ];
    put(
        dir,
        "loss.svg",
        line_chart(
            "Meta-learning objective",
            "outer iteration",
            "loss (log10)",
            &curves,
            true,
        )
        .as_bytes(),
    )?;
    let mut top: Vec<usize> = (0..p).collect();
    top.sort_by(|&a, &b| theta[b].abs().total_cmp(&theta[a].abs()));
    let highlight: Vec<(usize, Option<f64>)> = top.iter().take(4).map(|&k| (k, None)).collect();
    put(
        dir,
        "theta.svg",
        coefficient_svg(
            "Meta-learned coefficients",
            "outer iteration",
            &h.theta,
            &labels,
            &highlight,
        )
        .as_bytes(),
    )?;
    let groups: Vec<(String, Vec<(f64, f64)>)> = inners
        .iter()
        .zip(&heldout.datasets)
        .take(3)
        .enumerate()
        .flat_map(|(d, (inner, ds))| {
            (0..n_out).map(move |i| {
                let wi = &inner.w[i * n_in..(i + 1) * n_in];
                let pi = &ds.pcs[i * n_in..(i + 1) * n_in];
                let dot: f64 = wi.iter().zip(pi).map(|(a, b)| a * b).sum();
                let sign = if dot < 0.0 { -1.0 } else { 1.0 };
                (
                    format!("set {d}, w{i} vs pc{}", i + 1),
                    wi.iter().zip(pi).map(|(a, b)| (sign * a, *b)).collect(),
                )
            })
        })
        .collect();
    put(
        dir,
        "weights.svg",
        crate::plot::paired_bars(
            "Learned weight vectors and principal components (held-out sets)",
            ["learned", "principal component"],
            &groups,
        )
        .as_bytes(),
    )?;

    let task_loss = *h.task_loss.last().unwrap_or(&f64::NAN);
    let objective = *h.objective.last().unwrap_or(&f64::NAN);
    let sims = *h.simulations.last().unwrap_or(&0);
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "meta_function",
        "seed": seed,
        "config_hash": exp.hash(),
        "method": cfg.optimizer.method,
        "terms": TERM_LABELS.to_vec(),
        "theta": theta[..TAYLOR_TERMS].to_vec(),
        "theta_lateral": (p > TAYLOR_TERMS).then(|| theta[TAYLOR_TERMS..].to_vec()),
        "task_loss": task_loss,
        "objective": objective,
        "l1_penalty": objective - task_loss,
        "iterations": h.theta.len() - 1,
        "inner_simulations": sims,
        "thresholdings": h.thresholdings.iter().map(|(k, zeroed)| json!({
            "iteration": k,
            "zeroed": zeroed.iter().map(|&z| labels[z].clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "heldout": {
            "datasets": inners.len(),
            "task_loss": heldout_loss,
            "blown_up": blown,
            "pc_abs_cos_min": min_cos,
            "pc_abs_cos_mean": mean_cos,
        },
    });
    put(dir, "metrics.json", &pretty(&metrics))?;

    let mut s = String::new();
    for &k in top.iter().filter(|&&k| theta[k].abs() > 0.05) {
        s.push_str(&format!("{:>22} = {:+.4}\n", labels[k], theta[k]));
    }
    if cfg.task.loss == MetaLoss::Pc1 {
        s.push_str(&format!(
            "ratio (y^2*w)/(x*y) = {:.4}\n",
            theta[7] / theta[12]
        ));
    }
    s.push_str(&format!(
        "task loss {task_loss:.4} (objective {objective:.4}) after {} iterations, {sims} inner simulations\n",
        h.theta.len() - 1
    ));
    s.push_str(&format!(
        "held-out: task loss {heldout_loss:.4}, {blown} of {} blew up, min |cos(w_i, pc_i)| per output {:?}\n",
        inners.len(),
        min_cos.iter().map(|c| (c * 1e4).round() / 1e4).collect::<Vec<_>>()
    ));
    Ok(s)
}
