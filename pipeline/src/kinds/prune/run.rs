//! The run of `prune`: the three pruning rules at the same expected count, the spectra, the
//! metrics and artifacts.

use super::config::{CovarianceMethod, PruneConfig, PruneMode};
use super::network::*;
use crate::error::RunError;
use crate::io::Matrix;
use crate::io::{csv_bytes, npy_bytes};
use crate::metrics::{json_number, median};
use crate::plot::{line_chart, Series};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use serde_json::{json, Value};
use synplast_kernels::prune::{
    keep_probabilities, reset_diagonal, rho_for_expected_count, rho_theory, sample_directed,
    sample_symmetric, score,
};

/// What a pruning rule did to the network.
#[derive(Debug, Clone)]
pub struct RuleResult {
    /// Rule name.
    pub name: &'static str,
    /// The rate used.
    pub rho: f64,
    /// Expected fraction of synapses kept.
    pub expected_fraction: f64,
    /// Fraction actually kept.
    pub fraction_kept: f64,
    /// The pruned matrix (diagonal reset).
    pub pruned: Vec<f64>,
    /// Its eigenvalues, in the order of [`eigenvalues`].
    pub eig: Vec<(f64, f64)>,
    /// Largest relative eigenvalue error.
    pub eig_rel_err_max: f64,
    /// Median relative eigenvalue error.
    pub eig_rel_err_median: f64,
    /// Smallest and largest `v^T A~ v / v^T A v` over random vectors.
    pub quad_ratio: (f64, f64),
    /// `|x~ - x| / |x|` of the steady response `x = -A^-1 b` to a held-out input `b`.
    pub response_rel_err: f64,
}

/// Candidate synapses: the upper triangle in symmetric mode (one per pair), every off-diagonal
/// entry in directed mode; those with a non-zero weight.
fn candidates(a: &[f64], n: usize, mode: PruneMode) -> Vec<usize> {
    (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .filter(|&(i, j)| match mode {
            PruneMode::Symmetric => j > i,
            PruneMode::Directed => j != i,
        })
        .map(|(i, j)| i * n + j)
        .filter(|&k| a[k] != 0.0)
        .collect()
}

/// The rate giving `target` expected synapses for these scores (infinite when the target is
/// every candidate with a positive score).
fn rho_for(scores: &[f64], cand: &[usize], target: f64) -> Result<f64, RunError> {
    let s: Vec<f64> = cand.iter().map(|&k| scores[k]).collect();
    let positive = s.iter().filter(|v| **v > 0.0).count() as f64;
    if target >= positive - 1e-9 {
        return Ok(f64::INFINITY);
    }
    rho_for_expected_count(&s, target).map_err(|e| RunError::new(format!("solving for rho: {e}")))
}

fn expected_count(scores: &[f64], cand: &[usize], rho: f64) -> f64 {
    cand.iter()
        .map(|&k| {
            if scores[k] > 0.0 {
                (rho * scores[k]).min(1.0)
            } else {
                0.0
            }
        })
        .sum()
}

/// Everything the metrics need of the original network.
pub struct Reference<'a> {
    /// The matrix.
    pub a: &'a [f64],
    /// Its size.
    pub n: usize,
    /// Symmetric sampling.
    pub mode: PruneMode,
    /// Its eigenvalues.
    pub eig: Vec<(f64, f64)>,
    /// Random vectors for quadratic forms (`k x n`).
    pub vectors: Vec<Vec<f64>>,
    /// Held-out input.
    pub b: Vec<f64>,
    /// Steady response `-A^-1 b`.
    pub response: Vec<f64>,
}

fn quad(a: &[f64], n: usize, v: &[f64]) -> f64 {
    (0..n)
        .map(|i| v[i] * (0..n).map(|j| a[i * n + j] * v[j]).sum::<f64>())
        .sum()
}

fn steady_response(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let m = dmat(a, n);
    let rhs = nalgebra::DVector::from_column_slice(b);
    m.lu().solve(&rhs).map(|x| x.iter().map(|v| -v).collect())
}

/// Samples one rule's pruned matrix and measures it.
fn apply_rule(
    name: &'static str,
    r: &Reference<'_>,
    scores: &[f64],
    rho: f64,
    cand: &[usize],
    rng: &mut Rng,
) -> Result<RuleResult, RunError> {
    let n = r.n;
    let kerr = |e: synplast_kernels::KernelError| RunError::new(format!("{name}: {e}"));
    let mut p = vec![0.0; n * n];
    keep_probabilities(scores, rho, &mut p).map_err(kerr)?;
    let mut out = vec![0.0; n * n];
    let kept = match r.mode {
        PruneMode::Symmetric => sample_symmetric(r.a, &p, n, rng, &mut out),
        PruneMode::Directed => sample_directed(r.a, &p, n, rng, &mut out),
    }
    .map_err(kerr)?;
    reset_diagonal(r.a, &mut out, n).map_err(kerr)?;
    let eig = eigenvalues(&out, n, r.mode == PruneMode::Symmetric);
    let errs: Vec<f64> = r
        .eig
        .iter()
        .zip(&eig)
        .map(|(o, q)| ((q.0 - o.0).hypot(q.1 - o.1)) / o.0.hypot(o.1).max(1e-300))
        .collect();
    let max = errs.iter().fold(0.0f64, |m, v| m.max(*v));
    let med = median(&errs);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in &r.vectors {
        let ratio = quad(&out, n, v) / quad(r.a, n, v);
        lo = lo.min(ratio);
        hi = hi.max(ratio);
    }
    let response_rel_err = match steady_response(&out, n, &r.b) {
        Some(x) => {
            let num: f64 = x
                .iter()
                .zip(&r.response)
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            let den: f64 = r.response.iter().map(|b| b * b).sum();
            (num / den.max(1e-300)).sqrt()
        }
        None => f64::INFINITY,
    };
    Ok(RuleResult {
        name,
        rho,
        expected_fraction: expected_count(scores, cand, rho) / cand.len().max(1) as f64,
        fraction_kept: kept as f64 / cand.len().max(1) as f64,
        pruned: out,
        eig,
        eig_rel_err_max: max,
        eig_rel_err_median: med,
        quad_ratio: (lo, hi),
        response_rel_err,
    })
}

fn rule_json(r: &RuleResult) -> Value {
    json!({
        "rho": json_number(r.rho),
        "expected_fraction": json_number(r.expected_fraction),
        "fraction_kept": json_number(r.fraction_kept),
        "eig_rel_err_max": json_number(r.eig_rel_err_max),
        "eig_rel_err_median": json_number(r.eig_rel_err_median),
        "quad_ratio_min": json_number(r.quad_ratio.0),
        "quad_ratio_max": json_number(r.quad_ratio.1),
        "response_rel_err": json_number(r.response_rel_err),
    })
}

/// A pruning rule of the `prune` kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneRule {
    /// Keep with `min(1, rho s_ij)`, `s_ij = |w_ij| Var(x_i - sign(w_ij) x_j)` from the exact
    /// covariance.
    Noise,
    /// Keep with probability proportional to `|w_ij|` (control).
    Weight,
    /// Keep every synapse with the same probability (control).
    Uniform,
    /// [`PruneRule::Noise`] with the covariance estimated from a simulation of the noisy
    /// dynamics (`covariance.method: estimated`).
    NoiseOnline,
}

impl PruneRule {
    /// Every rule, in the order a run reports them.
    pub const ALL: [PruneRule; 4] = [
        PruneRule::Noise,
        PruneRule::Weight,
        PruneRule::Uniform,
        PruneRule::NoiseOnline,
    ];
    /// The rule's name in `metrics.json` and file names.
    pub fn name(self) -> &'static str {
        match self {
            PruneRule::Noise => "noise",
            PruneRule::Weight => "weight",
            PruneRule::Uniform => "uniform",
            PruneRule::NoiseOnline => "noise_online",
        }
    }
    /// The rule named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
    /// The rules a run of `cfg` applies: the three, and `noise_online` when the covariance is
    /// estimated.
    pub fn of_run(cfg: &PruneConfig) -> Vec<PruneRule> {
        let estimated = cfg.covariance.method == CovarianceMethod::Estimated;
        Self::ALL
            .into_iter()
            .filter(|r| *r != PruneRule::NoiseOnline || estimated)
            .collect()
    }
}

/// A network pruned by some rules, with what `metrics.json` reports of it.
#[derive(Debug, Clone)]
pub struct Pruned {
    /// Neurons.
    pub n: usize,
    /// Candidate synapses (pairs in symmetric mode).
    pub synapses: usize,
    /// The expected number of synapses every rule keeps.
    pub target: f64,
    /// Eigenvalues of the original network, in the order of [`eigenvalues`].
    pub original_eig: Vec<(f64, f64)>,
    /// One result per rule asked for, in that order.
    pub results: Vec<RuleResult>,
    /// Relative Frobenius error of the estimated covariance (when `noise_online` ran).
    pub covariance_rel_err_online: Option<f64>,
}

impl Pruned {
    /// The result of the rule named `name`, if it ran.
    pub fn rule(&self, name: &str) -> Option<&RuleResult> {
        self.results.iter().find(|r| r.name == name)
    }
}

/// Prunes the network `m` (checked with [`check_matrix`]) by `rules` as a run of `cfg` does,
/// writing nothing: the same seeds (every rule its own substream of `cfg.seed`), so a rule's
/// matrix and numbers do not depend on which other rules ran. `progress` counts 101 units with
/// the online covariance (a percent of its steps each, then 1 when done), 1 otherwise; the simulation asks `stop` as it goes (then the
/// result is [`RunError::interrupted`]).
pub fn prune_matrix(
    cfg: &PruneConfig,
    m: &Matrix,
    rules: &[PruneRule],
    progress: &Progress,
    stop: &dyn Fn() -> bool,
) -> Result<Pruned, RunError> {
    let seed = cfg.seed.unwrap_or(0);
    let master = Rng::new(seed);
    check_matrix(m, cfg).map_err(RunError::new)?;
    let n = m.rows;
    let a = &m.data;
    let sigma = cfg.sigma.0;
    let symmetric = cfg.prune.mode == PruneMode::Symmetric;
    let c = exact_covariance(a, n, sigma, symmetric).map_err(RunError::new)?;
    let eig = eigenvalues(a, n, symmetric);
    let mut qrng = master.substream(6);
    let vectors: Vec<Vec<f64>> = (0..cfg.quad_vectors.get())
        .map(|_| (0..n).map(|_| qrng.normal()).collect())
        .collect();
    let mut brng = master.substream(7);
    let b: Vec<f64> = (0..n).map(|_| brng.normal()).collect();
    let response = steady_response(a, n, &b).ok_or_else(|| RunError::new("A is singular"))?;
    let reference = Reference {
        a,
        n,
        mode: cfg.prune.mode,
        eig,
        vectors,
        b,
        response,
    };
    let cand = candidates(a, n, cfg.prune.mode);
    if cand.is_empty() {
        return Err(RunError::new(
            "the network has no off-diagonal synapses to prune",
        ));
    }
    let kerr = |e: synplast_kernels::KernelError| RunError::new(format!("scores: {e}"));
    let mut s_noise = vec![0.0; n * n];
    score(a, &c, n, &mut vec![0.0; n], &mut s_noise).map_err(kerr)?;
    let (rho_noise, target) = match (cfg.prune.eps, cfg.prune.target_fraction) {
        (Some(eps), _) => {
            let rho = rho_theory(n, eps.0, sigma).map_err(kerr)?;
            (rho, expected_count(&s_noise, &cand, rho))
        }
        (None, Some(f)) => {
            let t = f.0 * cand.len() as f64;
            (rho_for(&s_noise, &cand, t)?, t)
        }
        (None, None) => return Err(RunError::new("prune: give eps or target_fraction")),
    };
    let s_weight: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(k, v)| if k / n == k % n { 0.0 } else { v.abs() })
        .collect();
    let s_uniform: Vec<f64> = s_weight
        .iter()
        .map(|v| f64::from(u8::from(*v > 0.0)))
        .collect();
    let mut results = Vec::with_capacity(rules.len());
    let mut cov_err = None;
    for &rule in rules {
        let name = rule.name();
        results.push(match rule {
            PruneRule::Noise => apply_rule(
                name,
                &reference,
                &s_noise,
                rho_noise,
                &cand,
                &mut master.substream(2),
            )?,
            PruneRule::Weight => apply_rule(
                name,
                &reference,
                &s_weight,
                rho_for(&s_weight, &cand, target)?,
                &cand,
                &mut master.substream(3),
            )?,
            PruneRule::Uniform => apply_rule(
                name,
                &reference,
                &s_uniform,
                rho_for(&s_uniform, &cand, target)?,
                &cand,
                &mut master.substream(4),
            )?,
            PruneRule::NoiseOnline => {
                if cfg.covariance.method != CovarianceMethod::Estimated {
                    return Err(RunError::new(
                        "the noise_online rule needs covariance.method: estimated",
                    ));
                }
                let dt = cfg.covariance.dt.map(|v| v.0).unwrap_or(0.002);
                let max_abs = reference
                    .eig
                    .iter()
                    .fold(0.0f64, |m, l| m.max(l.0.hypot(l.1)));
                if dt * max_abs >= 1.9 {
                    return Err(RunError::new(format!(
                        "covariance.dt = {dt} is unstable for this network (largest |eigenvalue| {max_abs:.4}); use dt below {:.3e}",
                        1.9 / max_abs
                    )));
                }
                let steps = cfg.covariance.steps.map(|s| s.get()).unwrap_or(200_000);
                let c_est = estimate_covariance(
                    a,
                    n,
                    sigma,
                    dt,
                    steps,
                    cfg.covariance.burn_in as usize,
                    &mut master.substream(1),
                    progress,
                    stop,
                )?;
                let diff: f64 = c_est.iter().zip(&c).map(|(x, y)| (x - y).powi(2)).sum();
                let norm: f64 = c.iter().map(|y| y * y).sum();
                cov_err = Some((diff / norm).sqrt());
                let mut s_online = vec![0.0; n * n];
                score(a, &c_est, n, &mut vec![0.0; n], &mut s_online).map_err(kerr)?;
                let rho = rho_for(&s_online, &cand, target)?;
                apply_rule(
                    name,
                    &reference,
                    &s_online,
                    rho,
                    &cand,
                    &mut master.substream(5),
                )?
            }
        });
    }
    progress.tick(1, None);
    Ok(Pruned {
        n,
        synapses: cand.len(),
        target,
        original_eig: reference.eig,
        results,
        covariance_rel_err_online: cov_err,
    })
}

/// `metrics.json` of a run that pruned by `p` (all of [`PruneRule::of_run`]), but for
/// `config_hash`.
pub fn metrics(cfg: &PruneConfig, p: &Pruned) -> Value {
    let symmetric = cfg.prune.mode == PruneMode::Symmetric;
    let ratio = |other: &str| match (p.rule("noise"), p.rule(other)) {
        (Some(a), Some(b)) => json_number(a.eig_rel_err_max / b.eig_rel_err_max),
        _ => Value::Null,
    };
    let mut metrics = json!({
        "experiment": cfg.name,
        "kind": "prune",
        "seed": cfg.seed.unwrap_or(0),
        "n": p.n,
        "synapses": p.synapses,
        "mode": if symmetric { "symmetric" } else { "directed" },
        "sigma": cfg.sigma.0,
        "target_expected_synapses": json_number(p.target),
        "covariance_rel_err_online": p.covariance_rel_err_online.map(json_number).unwrap_or(Value::Null),
        "noise_max_err_over_weight": ratio("weight"),
        "noise_max_err_over_uniform": ratio("uniform"),
    });
    if let Some(eps) = cfg.prune.eps {
        metrics["eps"] = json!(eps.0);
        if let Some(r) = p.rule("noise") {
            metrics["noise_within_eps"] = within_eps(r, eps.0);
        }
    }
    for r in &p.results {
        metrics[r.name] = rule_json(r);
    }
    metrics
}

/// Whether a rule kept every eigenvalue and the quadratic form within `1 +- eps`.
pub fn within_eps(r: &RuleResult, eps: f64) -> Value {
    json!({
        "eigenvalues": r.eig_rel_err_max <= eps,
        "quadratic_form": r.quad_ratio.0 >= 1.0 - eps && r.quad_ratio.1 <= 1.0 + eps,
    })
}

/// Runs a `prune` experiment into `dir`; returns the summary printed at the end.
pub fn run(cfg: &PruneConfig, dir: &RunDir) -> Result<String, RunError> {
    let master = Rng::new(cfg.seed.unwrap_or(0));
    let m = build_network(cfg, &mut master.substream(0)).map_err(RunError::new)?;
    let symmetric = cfg.prune.mode == PruneMode::Symmetric;
    let estimated = cfg.covariance.method == CovarianceMethod::Estimated;
    let progress = Progress::new(if estimated { 101 } else { 1 }, "steps", dir.quiet());
    let pruned = prune_matrix(
        cfg,
        &m,
        &PruneRule::of_run(cfg),
        &progress,
        &crate::interrupt::requested,
    );
    progress.finish();
    let pruned = pruned?;
    let (n, a, results) = (m.rows, &m.data, &pruned.results);
    let cand_len = pruned.synapses;
    let target = pruned.target;
    let cov_err = pruned.covariance_rel_err_online;
    let reference_eig = &pruned.original_eig;

    // Artifacts.
    dir.put("network.npy", &npy_bytes(&[n, n], a))?;
    for r in results {
        dir.put(
            &format!("pruned_{}.npy", r.name),
            &npy_bytes(&[n, n], &r.pruned),
        )?;
    }
    let mut header = vec!["index".to_string()];
    let mut cols: Vec<&Vec<(f64, f64)>> = vec![reference_eig];
    let names: Vec<&str> = std::iter::once("original")
        .chain(results.iter().map(|r| r.name))
        .collect();
    cols.extend(results.iter().map(|r| &r.eig));
    for nm in &names {
        if symmetric {
            header.push(nm.to_string());
        } else {
            header.push(format!("{nm}_re"));
            header.push(format!("{nm}_im"));
        }
    }
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|k| {
            let mut row = vec![k as f64];
            for c in &cols {
                row.push(c[k].0);
                if !symmetric {
                    row.push(c[k].1);
                }
            }
            row
        })
        .collect();
    let header_ref: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    dir.put("eigenvalues.csv", &csv_bytes(&header_ref, &rows))?;
    const COLORS: [&str; 5] = ["#000000", "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"];
    let series: Vec<Series> = names
        .iter()
        .zip(&cols)
        .enumerate()
        .map(|(i, (nm, c))| Series {
            name: nm.to_string(),
            points: c.iter().enumerate().map(|(k, l)| (k as f64, l.0)).collect(),
            color: COLORS[i % COLORS.len()].into(),
            width: if i == 0 { 3.0 } else { 1.5 },
        })
        .collect();
    dir.put(
        "spectrum.svg",
        line_chart(
            "Eigenvalues: original and pruned (sorted)",
            "index",
            if symmetric { "eigenvalue" } else { "real part" },
            &series,
            false,
        )
        .as_bytes(),
    )?;

    let mut metrics = metrics(cfg, &pruned);
    metrics["config_hash"] = json!(dir.config_hash());
    let mut summary = format!(
        "{}: N = {n}, {} synapses ({}), expected kept {:.1} ({:.1}%)",
        cfg.name,
        cand_len,
        if symmetric { "pairs" } else { "directed" },
        target,
        100.0 * target / cand_len as f64
    );
    for r in results {
        summary.push_str(&format!(
            "\n  {:<12} kept {:6.2}%  eig rel err max {:.4} median {:.4}  quad ratio [{:.4}, {:.4}]  response err {:.4}",
            r.name,
            100.0 * r.fraction_kept,
            r.eig_rel_err_max,
            r.eig_rel_err_median,
            r.quad_ratio.0,
            r.quad_ratio.1,
            r.response_rel_err
        ));
    }
    if let Some(e) = cov_err {
        summary.push_str(&format!(
            "\n  online covariance relative error (Frobenius): {e:.4}"
        ));
    }
    dir.put_json("metrics.json", &metrics)?;
    Ok(summary)
}
