//! The run of `fit_rate` on recorded activity: the fit (checkpointed between epochs), held-in
//! and held-out scores, the profiled Gauss-Newton report with standard errors, the bootstrap
//! over sessions, and the metrics and artifacts of the run directory.

use super::config::{FitRateConfig, RateData, RecordedConfig};
use super::recorded::{
    fit, fit_steps, fit_unsaved, initial_params, load, reference_theta, score, Control, Layout,
    Problem, RecordedState, Recordings,
};
use super::uncertainty::uncertainty;
use crate::error::RunError;
use crate::history::{coefficient_svg, put_history, put_loss};
use crate::io::{csv_bytes, npy_bytes};
use crate::metrics::{json_number, percentile};
use crate::plot::{line_chart, Series};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::rundir::{RunDir, Throttle};
use serde_json::{json, Value};
use synplast_kernels::taylor::{TAYLOR_TERMS, TERM_LABELS};

const STATE: &str = "fit";
/// Most values the Levenberg-Marquardt refinement may hold (2 GB).
const LM_MAX_VALUES: u64 = 250_000_000;
const BOOT: &str = "bootstrap";

/// The problem over the sessions `sessions` of the data.
fn problem<'a>(cfg: &FitRateConfig, data: &'a Recordings, sessions: Vec<usize>) -> Problem<'a> {
    let cutoff = cfg.evaluation.cutoff.map_or(1.0, |c| c.0);
    let obs = cfg.observation.as_ref();
    let layout = Layout {
        n_out: data.n_out,
        n_syn: data.n_syn(),
        sessions: sessions.len(),
        w0_fitted: data.w0.is_none(),
        gain_fitted: obs.is_some_and(|o| o.gain.fitted()),
        offset_fitted: obs.is_some_and(|o| o.offset.fitted()),
    };
    Problem {
        data,
        sessions,
        fit_steps: fit_steps(data.steps, cutoff),
        eta: cfg.network.eta.0,
        layout,
        trainable: cfg.trainable_mask(),
        segment: cfg.fit.segment.map_or(0, |s| s.get()),
    }
}

/// The number of held-out sessions, checked against the data: at least one session is fitted,
/// and held-out sessions with unknown initial weights need steps before the cutoff to fit them.
pub fn held_out_count(cfg: &FitRateConfig, data: &Recordings) -> Result<usize, String> {
    let k = cfg.evaluation.held_out_sessions as usize;
    if k >= data.sessions {
        return Err(format!(
            "{}: evaluation.held_out_sessions is {k} but the recording has {} sessions: at least one must be fitted",
            data.source, data.sessions
        ));
    }
    let cutoff = cfg.evaluation.cutoff.map_or(1.0, |c| c.0);
    let t_fit = fit_steps(data.steps, cutoff);
    if k > 0 && data.w0.is_none() && t_fit >= data.steps {
        return Err(format!(
            "{}: held-out sessions without w0 need evaluation.cutoff < 1: their initial weights are fitted on the steps before the cutoff, and scored after it",
            data.source
        ));
    }
    let observed = |s: usize| data.y_of(s, t_fit).iter().filter(|v| !v.is_nan()).count();
    let n_fit = data.sessions - k;
    if (0..n_fit).map(observed).sum::<usize>() == 0 {
        return Err(format!(
            "{}: no observed sample (all NaN) in the fitted steps (the first {t_fit} of each fitted session): nothing to fit; raise evaluation.cutoff",
            data.source
        ));
    }
    let lm = super::uncertainty::lm_matrix_values(data.n_out, n_fit, data.n_in);
    if cfg.fit.refine_iterations > 0 && lm > LM_MAX_VALUES {
        return Err(format!(
            "{}: Levenberg-Marquardt would hold {:.1} GB of Gauss-Newton blocks ({} neurons x {n_fit} sessions x ({} + 29)^2 values); at most {:.1} GB: set fit.refine_iterations: 0 (Adam only)",
            data.source,
            lm as f64 * 8e-9,
            data.n_out,
            data.n_in,
            LM_MAX_VALUES as f64 * 8e-9
        ));
    }
    if data.w0.is_none() {
        if let Some(s) = (n_fit..data.sessions).find(|&s| observed(s) == 0) {
            return Err(format!(
                "{}: held-out session {s} has no observed sample before the cutoff, so its unknown initial weights cannot be fitted",
                data.source
            ));
        }
    }
    Ok(k)
}

/// Scores the held-out sessions (the last ones, from `first`) with the fitted rule and
/// readout `p`: from their own `w0` over every step; without it, their initial weights are
/// fitted alone (rule and readout fixed) on the steps before the cutoff and the steps after it
/// are scored. `None` without held-out sessions.
fn score_held_out(
    cfg: &FitRateConfig,
    data: &Recordings,
    pb: &Problem<'_>,
    p: &[f64],
    first: usize,
    stop: &dyn Fn() -> bool,
) -> Result<Value, RunError> {
    if first >= data.sessions {
        return Ok(Value::Null);
    }
    let mut hp = problem(cfg, data, (first..data.sessions).collect());
    hp.trainable = [false; TAYLOR_TERMS];
    hp.layout.gain_fitted = false;
    hp.layout.offset_fitted = false;
    let mut start = vec![0.0; hp.layout.len()];
    start[..pb.layout.w0(0)].copy_from_slice(&p[..pb.layout.w0(0)]);
    let params = if hp.layout.w0_fitted {
        fit_unsaved(cfg, &hp, start, &|_| {}, stop)?.params
    } else {
        hp.fit_steps = data.steps;
        start
    };
    let (sc, _) = score(&hp, &params)?;
    let (mse, r2, scored) = if hp.layout.w0_fitted {
        (
            sc.mse_held_out,
            sc.r2_held_out,
            "after the cutoff (the steps before it fit the sessions' initial weights)",
        )
    } else {
        (sc.mse_fit, sc.r2_fit, "all (from the sessions' own w0)")
    };
    Ok(json!({
        "sessions": (first..data.sessions).collect::<Vec<_>>(),
        "steps_scored": scored,
        "mse": json_number(mse),
        "r2": json_number(r2),
    }))
}

/// The 2.5% and 97.5% percentiles of `v`.
fn interval(v: Vec<f64>) -> (f64, f64) {
    (percentile(&v, 0.025), percentile(&v, 0.975))
}

/// A fit of recorded arrays without a run directory (library use: the Python package).
#[derive(Debug, Clone)]
pub struct ArrayFit {
    /// The 27 coefficients (flat index 9a+3b+c).
    pub theta: Vec<f64>,
    /// Standard error of each coefficient (`None`: not trainable, or not meaningful).
    pub stderr: Vec<Option<f64>>,
    /// The identifiability report of the trainable coefficients.
    pub identifiability: crate::fit::identify::Identifiability,
    /// Mean training error at the start of every Adam epoch, then after every accepted
    /// Levenberg-Marquardt iteration.
    pub loss_history: Vec<f64>,
    /// Residual variance used for the standard errors (NaN when not meaningful).
    pub residual_variance: f64,
    /// Adam steps undone.
    pub rejected_steps: usize,
}

/// Fits the rule of a recorded-data config to `data` (arrays already checked by
/// [`super::recorded::check`]) as [`run`] does, without the held-out sessions, the static
/// null, the bootstrap or any file: the fit from the config's seed, then the standard errors
/// and the identifiability report at the fitted parameters. `stop` is polled between epochs.
pub fn fit_arrays(
    cfg: &FitRateConfig,
    data: &Recordings,
    on_epoch: &dyn Fn(f64),
    stop: &dyn Fn() -> bool,
) -> Result<ArrayFit, RunError> {
    let n_fit = data.sessions - held_out_count(cfg, data).map_err(RunError::new)?;
    let pb = problem(cfg, data, (0..n_fit).collect());
    let seed = cfg.seed.unwrap_or(0);
    let st = fit_unsaved(cfg, &pb, initial_params(cfg, &pb, seed), on_epoch, stop)?;
    let unc = uncertainty(&pb, &st.params)?;
    Ok(ArrayFit {
        theta: st.params[..TAYLOR_TERMS].to_vec(),
        stderr: unc.stderr,
        identifiability: unc.identifiability,
        loss_history: st.loss_history,
        residual_variance: unc.sigma2,
        rejected_steps: st.opt.undone,
    })
}

/// Runs a recorded-data `fit_rate` experiment into `dir`.
pub fn run(cfg: &FitRateConfig, dir: &RunDir) -> Result<String, RunError> {
    let RateData::Recorded(rc) = &cfg.data else {
        return Err(RunError::new("internal: not recorded data"));
    };
    let data = load(rc).map_err(RunError::new)?;
    let held_out_count =
        |c: &FitRateConfig, d: &Recordings| held_out_count(c, d).map_err(RunError::new);
    let seed = cfg.seed.unwrap_or(0);
    let n_fit = data.sessions - held_out_count(cfg, &data)?;
    let pb = problem(cfg, &data, (0..n_fit).collect());
    let boot = cfg.evaluation.bootstrap as usize;
    let epochs = cfg.fit.epochs.get();
    let per_fit = epochs + cfg.fit.refine_iterations as usize;
    let progress = Progress::new(per_fit * (1 + boot), "epochs", dir.quiet());
    let store = dir.store();
    let stop = crate::interrupt::requested;

    let saved: Option<RecordedState> = store.state(STATE)?;
    if let Some(s) = &saved {
        eprintln!("synplast: the fit resumes after {} epochs", s.epochs_done);
        progress.tick(s.epochs_done + s.lm_done, s.loss_history.last().copied());
    }
    let on_epoch = |l: f64| progress.tick(1, Some(l));
    let mut throttle = Throttle::default();
    let mut save = |s: &RecordedState, now: bool| {
        if throttle.due(now) {
            store.save_state(STATE, s)?;
        }
        Ok(())
    };
    let start = initial_params(cfg, &pb, seed);
    let st = fit(
        cfg,
        &pb,
        start,
        saved,
        &mut Control {
            on_epoch: &on_epoch,
            save: &mut save,
            stop: &stop,
        },
    )?;
    // The finished fit is kept (unthrottled) until the run ends, so a run stopped in the
    // bootstrap does not fit again.
    store.save_state(STATE, &st)?;
    let p = st.params.clone();
    let (scores, traces) = score(&pb, &p)?;
    // The static null: the same network without plasticity (theta = 0), its initial weights
    // and readout fitted the same way. Plasticity is in the data when the rule beats it on
    // the held-out steps.
    let mut static_pb = problem(cfg, &data, (0..n_fit).collect());
    static_pb.trainable = [false; TAYLOR_TERMS];
    let mut zero_start = initial_params(cfg, &static_pb, seed);
    zero_start[..TAYLOR_TERMS].iter_mut().for_each(|v| *v = 0.0);
    // With w0 given and the readout fixed there is nothing to fit.
    let static_fits = static_pb.layout.mask(&static_pb.trainable).contains(&true);
    let static_params = if static_fits {
        fit_unsaved(cfg, &static_pb, zero_start, &|_| {}, &stop)?.params
    } else {
        zero_start
    };
    let (static_scores, _) = score(&static_pb, &static_params)?;
    let held_out = score_held_out(cfg, &data, &pb, &p, n_fit, &stop)?;
    let mask = pb.layout.mask(&pb.trainable);
    let n_fitted = mask.iter().filter(|m| **m).count();
    let unc = uncertainty(&pb, &p)?;

    // Bootstrap: refits on sessions drawn with replacement, each a record (a resumed run
    // keeps the finished ones).
    let mut boot_theta: Vec<Vec<f64>> = Vec::new();
    let mut boot_failed = 0usize;
    if boot > 0 {
        store.record_folder(BOOT)?;
        let master = Rng::new(seed).substream(5);
        for b in 0..boot {
            let key = format!("replicate-{b}");
            // A record of `None` is a replicate whose refit diverged.
            if let Some(t) = store.record::<Option<Vec<f64>>>(BOOT, &key)? {
                progress.tick(per_fit, None);
                match t {
                    Some(t) => boot_theta.push(t),
                    None => boot_failed += 1,
                }
                continue;
            }
            let mut rng = master.substream(b as u32);
            let draw: Vec<usize> = (0..n_fit).map(|_| rng.below(n_fit)).collect();
            let bp = problem(cfg, &data, draw);
            let refit = fit_unsaved(cfg, &bp, initial_params(cfg, &bp, seed), &on_epoch, &stop);
            let t = match refit {
                Ok(st) => Some(st.params[..TAYLOR_TERMS].to_vec()),
                Err(e) if stop() => return Err(e),
                Err(e) => {
                    eprintln!("synplast: bootstrap replicate {b} left out: {e}");
                    None
                }
            };
            store.save_record(BOOT, &key, &t)?;
            match t {
                Some(t) => boot_theta.push(t),
                None => boot_failed += 1,
            }
        }
    }
    progress.finish();
    store.remove_state(STATE);

    let reference = reference_theta(rc);
    let theta: Vec<f64> = p[..TAYLOR_TERMS].to_vec();
    let mut rows = Vec::new();
    let mut coef_json = Vec::new();
    let mut boot_intervals = vec![None; TAYLOR_TERMS];
    for k in 0..TAYLOR_TERMS {
        if !pb.trainable[k] {
            continue;
        }
        let se = unc.stderr[k];
        if !boot_theta.is_empty() && se.is_some() {
            boot_intervals[k] = Some(interval(boot_theta.iter().map(|t| t[k]).collect()));
        }
        let bi = boot_intervals[k];
        let nan = f64::NAN;
        rows.push(vec![
            k as f64,
            theta[k],
            se.unwrap_or(nan),
            se.map_or(nan, |s| theta[k] - 1.96 * s),
            se.map_or(nan, |s| theta[k] + 1.96 * s),
            bi.map_or(nan, |b| b.0),
            bi.map_or(nan, |b| b.1),
            reference.map_or(nan, |r| r[k]),
        ]);
        coef_json.push(json!({
            "index": k,
            "term": TERM_LABELS[k],
            "theta": theta[k],
            "stderr": se.map_or(Value::String("not meaningful".into()), json_number),
            "interval_95": se.map_or(Value::String("not meaningful".into()), |s| json!([theta[k] - 1.96 * s, theta[k] + 1.96 * s])),
            "bootstrap_95": match (boot > 0, bi) {
                (false, _) => Value::Null,
                (true, None) => Value::String("not meaningful".into()),
                (true, Some(b)) => json!([b.0, b.1]),
            },
            "reference": reference.map_or(Value::Null, |r| json!(r[k])),
        }));
    }
    let err = reference.map(|r| {
        (0..TAYLOR_TERMS)
            .map(|k| (theta[k] - r[k]).abs())
            .fold(0.0, f64::max)
    });
    let l = &pb.layout;
    // A neuron never observed in the fitted steps has no fitted readout: NaN (null in JSON).
    let seen: Vec<bool> = (0..data.n_out)
        .map(|i| {
            pb.sessions.iter().any(|&s| {
                data.y_of(s, pb.fit_steps)
                    .iter()
                    .skip(i)
                    .step_by(data.n_out)
                    .any(|v| !v.is_nan())
            })
        })
        .collect();
    let shown = |v: &[f64], fitted: bool| -> Vec<f64> {
        v.iter()
            .zip(&seen)
            .map(|(&x, &ok)| if ok || !fitted { x } else { f64::NAN })
            .collect()
    };
    let gain = shown(&p[Layout::GAIN..l.offset()], l.gain_fitted);
    let offset = shown(&p[l.offset()..l.w0(0)], l.offset_fitted);
    let metrics = json!({
        "experiment": cfg.name,
        "kind": "fit_rate",
        "seed": seed,
        "config_hash": dir.config_hash(),
        "data": data_json(rc, &data, &pb),
        "terms": TERM_LABELS.to_vec(),
        "theta": theta,
        "coefficients": coef_json,
        "reference": reference.map(|r| r.to_vec()),
        "theta_max_abs_error": err.map_or(Value::Null, json_number),
        "scores": {
            "mse_fit": json_number(scores.mse_fit),
            "r2_fit": json_number(scores.r2_fit),
            "mse_held_out": json_number(scores.mse_held_out),
            "r2_held_out": json_number(scores.r2_held_out),
            "samples_fit": scores.samples_fit,
            "samples_held_out": scores.samples_held_out,
        },
        "null_static": {
            "mse_fit": json_number(static_scores.mse_fit),
            "r2_fit": json_number(static_scores.r2_fit),
            "mse_held_out": json_number(static_scores.mse_held_out),
            "r2_held_out": json_number(static_scores.r2_held_out),
        },
        "held_out_sessions": held_out,
        "readout": {
            "gain_fitted": l.gain_fitted,
            "offset_fitted": l.offset_fitted,
            "gain": gain.iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
            "offset": offset.iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
            "unobserved_neurons": (0..data.n_out).filter(|&i| !seen[i]).collect::<Vec<_>>(),
        },
        "residual_variance": json_number(unc.sigma2),
        "parameters_fitted": n_fitted,
        "parameters_determined": unc.determined,
        "rejected_steps": st.opt.undone,
        "bootstrap": {"replicates": boot, "failed": boot_failed},
        "identifiability": serde_json::to_value(&unc.identifiability).unwrap_or(Value::Null),
    });

    put_history(dir, "theta", "epoch", &TERM_LABELS, &st.theta_history)?;
    put_loss(
        dir,
        "train_loss",
        &st.loss_history,
        "Training loss (MSE on the recorded activity)",
        "Adam epoch (full batch)",
    )?;
    let labels: Vec<String> = TERM_LABELS.iter().map(|s| s.to_string()).collect();
    let highlight: Vec<(usize, Option<f64>)> = (0..TAYLOR_TERMS)
        .filter(|&k| {
            pb.trainable[k] && (theta[k].abs() > 0.05 || reference.is_some_and(|r| r[k] != 0.0))
        })
        .map(|k| (k, reference.map(|r| r[k])))
        .collect();
    dir.put(
        "theta.svg",
        coefficient_svg(
            "Coefficients during the fit",
            "Adam epoch",
            &st.theta_history,
            &labels,
            &highlight,
        )
        .as_bytes(),
    )?;
    dir.put(
        "coefficients.csv",
        &csv_bytes(
            &[
                "index",
                "theta",
                "stderr",
                "lo95",
                "hi95",
                "bootstrap_lo95",
                "bootstrap_hi95",
                "reference",
            ],
            &rows,
        ),
    )?;
    let readout_rows: Vec<Vec<f64>> = (0..data.n_out)
        .map(|i| vec![i as f64, gain[i], offset[i]])
        .collect();
    dir.put(
        "readout.csv",
        &csv_bytes(&["neuron", "gain", "offset"], &readout_rows),
    )?;
    if l.w0_fitted {
        dir.put(
            "w0_fitted.npy",
            &npy_bytes(&[n_fit, data.n_out, data.n_in], &p[l.w0(0)..l.w0(n_fit)]),
        )?;
    }
    dir.put(
        "activity.svg",
        activity_svg(&data, &traces[0], pb.fit_steps).as_bytes(),
    )?;
    dir.put_json("metrics.json", &metrics)?;
    let mut text = summary(
        &theta,
        &unc.stderr,
        &pb.trainable,
        reference,
        &scores,
        &unc,
        &boot_intervals,
    );
    text.push_str(&format!(
        "static network (theta = 0{}): held out MSE {:.3e}, R^2 {:.5}\n",
        if static_fits {
            "; W0 and readout fitted alike"
        } else {
            "; the given w0 and readout"
        },
        static_scores.mse_held_out,
        static_scores.r2_held_out
    ));
    if let (Some(r2), Some(steps)) = (held_out["r2"].as_f64(), held_out["steps_scored"].as_str()) {
        text.push_str(&format!(
            "held-out sessions {}: R^2 {r2:.5}, MSE {:.3e} (steps scored: {steps})\n",
            held_out["sessions"],
            held_out["mse"].as_f64().unwrap_or(f64::NAN)
        ));
    }
    Ok(text)
}

fn data_json(rc: &RecordedConfig, d: &Recordings, pb: &Problem<'_>) -> Value {
    json!({
        "source": d.source,
        "sessions": d.sessions,
        "steps": d.steps,
        "n_in": d.n_in,
        "n_out": d.n_out,
        "sessions_fitted": pb.sessions.len(),
        "steps_fitted": pb.fit_steps,
        "observed_fraction": d.y.iter().filter(|v| !v.is_nan()).count() as f64 / d.y.len() as f64,
        "w0": if d.w0.is_some() { "given" } else if rc.ignore_w0 { "ignored, fitted" } else { "unknown, fitted" },
    })
}

/// Recorded against fitted activity of session 0 for up to three neurons, stacked (each
/// shifted up by a multiple of the recorded range so the traces do not overlap), with the
/// cutoff between the fitted and the held-out steps.
fn activity_svg(d: &Recordings, yhat: &[f64], cutoff: usize) -> String {
    let colors = ["#1f77b4", "#d62728", "#2ca02c"];
    let obs = d.y_of(0, d.steps);
    let shown = d.n_out.min(3);
    let (lo, hi) = obs
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let shift = if hi > lo { 1.1 * (hi - lo) } else { 1.0 };
    let mut series = Vec::new();
    for (c, i) in (0..shown).enumerate() {
        let up = c as f64 * shift;
        series.push(Series {
            name: format!("neuron {i} recorded"),
            points: (0..d.steps)
                .map(|t| (t as f64, obs[t * d.n_out + i] + up))
                .filter(|p| !p.1.is_nan())
                .collect(),
            color: format!("{}70", colors[c]),
            width: 3.0,
        });
        series.push(Series {
            name: format!("neuron {i} fitted"),
            points: (0..d.steps)
                .map(|t| (t as f64, yhat[t * d.n_out + i] + up))
                .collect(),
            color: colors[c].to_string(),
            width: 1.0,
        });
    }
    if cutoff < d.steps {
        series.push(Series {
            name: "cutoff: fitted | held out".into(),
            points: vec![
                (cutoff as f64, lo),
                (cutoff as f64, hi + (shown.max(1) - 1) as f64 * shift),
            ],
            color: "#555555".into(),
            width: 1.0,
        });
    }
    line_chart(
        "Session 0: recorded (wide, light) and fitted (thin) activity",
        "step",
        &format!("activity; neuron k shifted up by k x {shift:.3}"),
        &series,
        false,
    )
}

#[allow(clippy::too_many_arguments)]
fn summary(
    theta: &[f64],
    stderr: &[Option<f64>],
    trainable: &[bool; TAYLOR_TERMS],
    reference: Option<[f64; TAYLOR_TERMS]>,
    scores: &super::recorded::Scores,
    unc: &super::uncertainty::Uncertainty,
    boot: &[Option<(f64, f64)>],
) -> String {
    let mut s = String::new();
    for k in 0..TAYLOR_TERMS {
        let shown =
            trainable[k] && (theta[k].abs() > 0.05 || reference.is_some_and(|r| r[k] != 0.0));
        if !shown {
            continue;
        }
        let se = match stderr[k] {
            Some(v) => format!("+- {:.4}", 1.96 * v),
            None => "(interval not meaningful: undetermined direction)".into(),
        };
        s.push_str(&format!(
            "theta[{k:>2}] ({:>7}) = {:+.4} {se}",
            TERM_LABELS[k], theta[k]
        ));
        if let Some((lo, hi)) = boot[k] {
            s.push_str(&format!("   bootstrap [{lo:+.4}, {hi:+.4}]"));
        }
        if let Some(r) = reference {
            s.push_str(&format!("   reference {:+.4}", r[k]));
        }
        s.push('\n');
    }
    if let Some(r) = reference {
        let e = (0..TAYLOR_TERMS)
            .map(|k| (theta[k] - r[k]).abs())
            .fold(0.0, f64::max);
        s.push_str(&format!("max |theta - reference| = {e:.4}\n"));
    }
    s.push_str(&format!(
        "fitted steps: MSE {:.3e}, R^2 {:.5}   held out: MSE {:.3e}, R^2 {:.5}\n",
        scores.mse_fit, scores.r2_fit, scores.mse_held_out, scores.r2_held_out
    ));
    s.push_str(&format!(
        "identifiability: {}\n",
        unc.identifiability.verdict
    ));
    s
}
