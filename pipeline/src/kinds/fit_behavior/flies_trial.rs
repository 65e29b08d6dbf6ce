//! The flies at the trial level (`data.flies.likelihood: trial`): each fly's reliable part,
//! the odor chosen on every trial and its reward, fitted by the trial-level likelihood, without
//! and with the added terms (`rule.added_terms`), on the first `evaluation.cutoff` of its trials;
//! scored on the rest against the theta = 0 network and the fly's own constant preference.
//! Every fly has a no-learning surrogate ([`super::surrogate`]) fitted in exactly the same way
//! (same inputs, initial weights, masks, cutoff and optimiser); every fit gets Fisher standard
//! errors ([`super::uncertainty`]). With `variants`, the whole comparison runs once per
//! variant. The tables, tests across flies and the conclusion are in
//! [`super::flies_report`].

use super::choices::{
    bias_only, cutoff_of, fit_trials, trial_data, trial_nlls, RecordedChoices, TrialData,
};
use super::config::{default_blocks, FitBehaviorConfig, FliesConfig};
use super::flies::{load_flies, FlyChoices};
use super::flies_report::report_variant;
use super::model::{initial_rule, network, null_rule};
use super::run::{fly_masks, per_fly, FlyMasks};
use super::surrogate::{block_b_fractions, block_surrogate};
use super::uncertainty::{fisher_errors, Uncertainty};
use crate::error::RunError;
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::RunDir;
use serde_json::{json, Value};
use synplast_kernels::reward::{RewardRule, REWARD_TERMS};

/// Substream offset of the surrogate's choices and rewards: fly `id` draws from
/// `substream(SURROGATE_STREAM + id)` of the seed (its inputs and initial weights are the real
/// fly's, `substream(id)`; its initial rule too, `substream(1000 + id)`).
pub const SURROGATE_STREAM: u32 = 2000;

/// A fly's trials: the odor of each accepted presentation and its reward.
pub fn fly_trials(id: u32, c: &FlyChoices) -> RecordedChoices {
    let mut out = RecordedChoices {
        session: format!("fly{id:02}"),
        chose_b: Vec::new(),
        reward: Vec::new(),
    };
    for ((&odor, &acc), &rew) in c.odor.iter().zip(&c.accept).zip(&c.reward) {
        if acc {
            out.chose_b.push(odor == 1);
            out.reward.push(rew);
        }
    }
    out
}

/// Mean of a slice (NaN when empty).
fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// One fit: coefficients, held-in and held-out mean `-log P(choice)`, standard errors.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FitRecord {
    /// All 81 coefficients.
    pub theta: Vec<f64>,
    /// Held-in, held-out mean `-log P(choice)`.
    pub nll: (f64, f64),
    /// Fisher standard errors on the fitted trials.
    pub uncertainty: Uncertainty,
}

/// The fits of one subject (a fly, or its surrogate).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    /// Held-in, held-out mean `-log P(choice)` at theta = 0.
    pub null: (f64, f64),
    /// The same for the bias-only null.
    pub bias: (f64, f64),
    /// Fitted with `rule.trainable`.
    pub without: FitRecord,
    /// Fitted with the added terms too.
    pub with: Option<FitRecord>,
}

/// One fly's finished fits, as written to `flies/<variant->fly-<id>.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrialFly {
    /// Fly number.
    pub id: u32,
    /// Trials, and the fitted (first) ones.
    pub trials: usize,
    /// See `trials`.
    pub fitted: usize,
    /// The fly's fraction of B choices in each block (`None`: no trials there).
    pub block_b_fraction: Vec<Option<f64>>,
    /// The real fly.
    pub real: Subject,
    /// Its no-learning surrogate.
    pub surrogate: Subject,
}

fn split(v: &[f64], d: &TrialData) -> (f64, f64) {
    (mean(&v[..d.n_fit]), mean(&v[d.n_fit..]))
}

/// Fits one subject's choices `rec` without and with the added terms; inputs and initial
/// weights from `substream(id)`, the initial rule from `substream(1000 + id)`.
fn fit_subject(
    cfg: &FitBehaviorConfig,
    master: &Rng,
    id: u32,
    rec: &RecordedChoices,
    masks: &FlyMasks,
    progress: &Progress,
) -> Result<(Subject, usize), RunError> {
    let net = network(cfg);
    let (act, hidden) = (cfg.network.activation(), cfg.network.units());
    let d = trial_data(cfg, rec, cutoff_of(cfg), &mut master.substream(id));
    let one = std::slice::from_ref(&d);
    let fit_one = |mask: [bool; REWARD_TERMS]| -> Result<FitRecord, RunError> {
        let r0 = initial_rule(cfg, mask, &mut master.substream(1000 + id));
        let f = fit_trials(
            cfg,
            r0,
            one,
            Some(progress),
            None,
            &crate::interrupt::requested,
        )?;
        let nll = trial_nlls(&f.rule, &net, act, hidden, &d)?;
        let mut theta = vec![0.0; f.rule.n_params()];
        f.rule.read_params(&mut theta);
        Ok(FitRecord {
            theta,
            nll: split(&nll, &d),
            uncertainty: fisher_errors(cfg, &f.rule, one),
        })
    };
    let without = fit_one(masks.base)?;
    let with = masks.with.map(fit_one).transpose()?;
    let null = split(&trial_nlls(&null_rule(), &net, act, hidden, &d)?, &d);
    let (_, mut bias) = bias_only(one);
    let bias = split(&bias.remove(0), &d);
    let subject = Subject {
        null,
        bias,
        without,
        with,
    };
    Ok((subject, d.n_fit))
}

/// Fits every fly of `data` and its surrogate under `cfg` (one variant); records keyed
/// `<prefix>fly-<id>`.
fn fit_flies(
    cfg: &FitBehaviorConfig,
    data: &[(u32, FlyChoices)],
    prefix: &str,
    dir: &RunDir,
) -> Result<Vec<TrialFly>, RunError> {
    let master = Rng::new(cfg.seed.unwrap_or(0));
    let masks = fly_masks(cfg);
    let fits = 2 * (1 + usize::from(masks.with.is_some()));
    let blocks = default_blocks();
    per_fly(cfg, data, fits, prefix, dir, |id, c, progress| {
        let rec = fly_trials(id, c);
        if rec.chose_b.len() < 2 {
            return Err(RunError::new(format!("fly {id}: fewer than 2 trials")));
        }
        let (real, fitted) = fit_subject(cfg, &master, id, &rec, &masks, progress)?;
        let sur = block_surrogate(&rec, &blocks, &mut master.substream(SURROGATE_STREAM + id));
        let (surrogate, _) = fit_subject(cfg, &master, id, &sur, &masks, progress)?;
        Ok(TrialFly {
            id,
            trials: rec.chose_b.len(),
            fitted,
            block_b_fraction: block_b_fractions(&rec, &blocks)
                .into_iter()
                .map(|f| f.is_finite().then_some(f))
                .collect(),
            real,
            surrogate,
        })
    })
}

/// Runs the trial-level fly fits into `dir`: one comparison, or one per variant.
pub fn run_flies_trials(
    cfg: &FitBehaviorConfig,
    flies: &FliesConfig,
    dir: &RunDir,
) -> Result<String, RunError> {
    let data = load_flies(flies).map_err(RunError::new)?;
    let base = json!({
        "experiment": cfg.name,
        "kind": "fit_behavior",
        "seed": cfg.seed.unwrap_or(0),
        "config_hash": dir.config_hash(),
        "likelihood": "trial",
        "cutoff": cutoff_of(cfg),
        "surrogate": "each fly's choices redrawn from its own block-wise choice frequencies (blocks of trials 0-79, 80-159, 160-); rewards from the baited task (A, B) = (0.2, 0.8), (0.9, 0.1), (0.2, 0.8)",
    });
    let Some(variants) = &cfg.variants else {
        let results = fit_flies(cfg, &data, "", dir)?;
        let (part, summary) = report_variant(cfg, None, &results, dir)?;
        let mut metrics = base;
        merge(&mut metrics, part);
        dir.put_json("metrics.json", &metrics)?;
        return Ok(summary);
    };
    let mut parts = Vec::new();
    let mut summary = format!("{}: {} variants", cfg.name, variants.len());
    for v in variants {
        let vc = cfg.variant(v);
        let results = fit_flies(&vc, &data, &format!("{}-", v.name), dir)?;
        let (mut part, s) = report_variant(&vc, Some(&v.name), &results, dir)?;
        part["name"] = json!(v.name);
        part["hidden"] = json!(vc.network.hidden);
        part["l1"] = json!(vc.fit.l1.0);
        part["epochs"] = json!(vc.fit.epochs.get());
        part["lr"] = json!(vc.fit.lr.0);
        summary.push_str(&format!("\n[{}] {s}", v.name));
        parts.push(part);
    }
    let mut metrics = base;
    metrics["conclusions"] = json!(parts
        .iter()
        .map(|p| json!({"variant": p["name"], "conclusion": p["conclusion"]}))
        .collect::<Vec<Value>>());
    metrics["variants"] = Value::Array(parts);
    dir.put_json("metrics.json", &metrics)?;
    Ok(summary)
}

/// Moves the fields of the object `from` into the object `into`.
fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}
