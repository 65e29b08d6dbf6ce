//! `fit_choices`: a reward rule fitted to a two-choice table (`session,trial,choice,reward`)
//! through the `fit_behavior` choice run's own code, writing nothing.

use crate::common::{config_error, load};
use crate::control::controlled;
use crate::RunError;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use synplast::kinds::fit_behavior::choices::{load_choices, parse_choices_csv};
use synplast::kinds::fit_behavior::choices_run::{fit_table, held_out_sessions, progress_total};
use synplast::kinds::fit_behavior::{BehaviorData, FitBehavior};
use synplast::progress::Progress;

/// Fits the rule of `config` (the text of a `fit_behavior` config with `data: {choices:
/// ...}`; `overrides` as on the command line) to a choice table: the file `path` (read as the
/// command line reads `data.choices.file`), or the CSV `text` whose messages name `name`.
/// Returns a dict: `metrics` (the JSON text of the run's `metrics.json` but `config_hash`),
/// `summary`, `loss_history`, `trial_nll`, `null_trial_nll`, `bias_trial_nll`,
/// `reference_trial_nll` (per fitted session, per trial; None without a reference),
/// `fitted_trials`, `param_labels`, `params`. `progress(done, total, "epochs")` as epochs end;
/// Ctrl-C stops the fit between epochs and raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (config, overrides=Vec::new(), path=None, text=None, name="<table>", progress=None))]
pub fn fit_choices<'py>(
    py: Python<'py>,
    config: &str,
    overrides: Vec<String>,
    path: Option<String>,
    text: Option<String>,
    name: &str,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let t = controlled(
        py,
        progress.as_ref(),
        || {},
        |ctl| -> PyResult<_> {
            let mut exp = load(None, Some(config), "<fit_choices options>", &overrides)?;
            exp.resolve();
            let cfg = exp
                .config::<FitBehavior>()
                .ok_or_else(|| config_error("internal: not a fit_behavior config"))?
                .clone();
            let BehaviorData::Choices(mut ch) = cfg.data.clone() else {
                return Err(config_error("internal: not a choices config"));
            };
            let recs = match (&path, &text) {
                (Some(p), _) => {
                    ch.file = p.clone();
                    load_choices(&ch)
                }
                (None, Some(t)) => {
                    ch.file = name.to_string();
                    parse_choices_csv(t, name)
                }
                (None, None) => return Err(config_error("give a table path or text")),
            }
            .map_err(config_error)?;
            held_out_sessions(&cfg, recs.len(), &ch.file).map_err(config_error)?;
            let bar = Progress::observed(progress_total(&cfg), "epochs", ctl.progress.clone());
            fit_table(&cfg, &ch, &recs, Some(&bar), None, &|| ctl.stopped())
                .map_err(|e| RunError::new_err(e.message))
        },
    )??;
    let d = PyDict::new(py);
    let metrics =
        serde_json::to_string(&t.metrics).map_err(|e| RunError::new_err(e.to_string()))?;
    d.set_item("metrics", metrics)?;
    d.set_item("summary", t.summary)?;
    d.set_item("loss_history", PyArray1::from_vec(py, t.fit.loss_history))?;
    let arrays = |v: Vec<Vec<f64>>| -> Vec<Bound<'py, PyArray1<f64>>> {
        v.into_iter().map(|s| PyArray1::from_vec(py, s)).collect()
    };
    d.set_item("trial_nll", arrays(t.fitted))?;
    d.set_item("null_trial_nll", arrays(t.null))?;
    d.set_item("bias_trial_nll", arrays(t.bias))?;
    d.set_item("reference_trial_nll", t.reference.map(arrays))?;
    d.set_item("fitted_trials", t.n_fit)?;
    d.set_item("param_labels", t.labels)?;
    d.set_item("params", PyArray1::from_vec(py, t.params))?;
    Ok(d)
}
