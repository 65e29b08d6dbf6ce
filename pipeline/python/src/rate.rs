//! `fit_rate` and `simulate_rate`: the recorded-activity fit and the plastic rate layer on
//! numpy arrays.

use crate::common::{config_error, load, nd_array};
use crate::control::controlled;
use crate::RunError;
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use synplast::io::npy::shape_text;
use synplast::kinds::fit_rate::config::RateData;
use synplast::kinds::fit_rate::recorded::check as check_recordings;
use synplast::kinds::fit_rate::recorded_run::fit_arrays;
use synplast::kinds::fit_rate::FitRateConfig;
use synplast_kernels::rate::simulate;
use synplast_kernels::taylor::{TaylorRule, TAYLOR_TERMS, TERM_LABELS};

/// Fits a Taylor rule to recorded arrays (the recorded-activity contract, DESIGN §6):
/// `x` [sessions, T, n_in], `y` [sessions, T, n_out] (NaN: not observed), `w0`
/// [sessions, n_out, n_in] or None (then fitted). `config` is the text of a recorded
/// `fit_rate` config whose options apply (its data paths are not read); `overrides` as on the
/// command line. Returns a dict with `theta`, `terms`, `stderr`, `identifiability` (JSON
/// text), `loss_history`, `residual_variance`, `rejected_steps`. `progress(done, total,
/// unit)` is called as epochs finish; Ctrl-C stops the fit and raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (x, y, w0, config, overrides=Vec::new(), progress=None))]
pub fn fit_rate<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    w0: Option<&Bound<'py, PyAny>>,
    config: &str,
    overrides: Vec<String>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, y) = (nd_array("x", x)?, nd_array("y", y)?);
    let w0 = w0.map(|w| nd_array("w0", w)).transpose()?;
    let fitted = controlled(
        py,
        progress.as_ref(),
        || {},
        |ctl| -> PyResult<_> {
            let exp = load(None, Some(config), "<fit_rate options>", &overrides)?;
            let cfg = exp
                .config::<synplast::kinds::fit_rate::FitRate>()
                .ok_or_else(|| config_error("the options must be a fit_rate config"))?;
            let cfg: FitRateConfig = cfg.clone();
            if !matches!(cfg.data, RateData::Recorded(_)) {
                return Err(config_error(
                    "the options must be a recorded-data fit_rate config",
                ));
            }
            let data = check_recordings("x and y".into(), x, y, w0).map_err(config_error)?;
            let steps = cfg.fit.epochs.get() + cfg.fit.refine_iterations as usize;
            ctl.progress.start(steps, "epochs");
            fit_arrays(&cfg, &data, &|_| ctl.progress.advance(1), &|| ctl.stopped())
                .map_err(|e| RunError::new_err(e.message))
        },
    )??;
    let d = PyDict::new(py);
    d.set_item("theta", PyArray1::from_vec(py, fitted.theta))?;
    d.set_item("terms", TERM_LABELS.to_vec())?;
    let se: Vec<f64> = fitted
        .stderr
        .iter()
        .map(|s| s.unwrap_or(f64::NAN))
        .collect();
    d.set_item("stderr", PyArray1::from_vec(py, se))?;
    let ident = serde_json::to_string(&fitted.identifiability)
        .map_err(|e| RunError::new_err(e.to_string()))?;
    d.set_item("identifiability", ident)?;
    d.set_item("loss_history", PyArray1::from_vec(py, fitted.loss_history))?;
    d.set_item("residual_variance", fitted.residual_variance)?;
    d.set_item("rejected_steps", fitted.rejected_steps)?;
    Ok(d)
}

/// The activity and the weight trajectory of [`simulate_rate`].
type ActivityAndWeights<'py> = (Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<f64>>);

/// Simulates the plastic rate layer of `fit_rate` (`y_t = sigmoid(W_t x_t)`, then
/// `W_{t+1} = W_t + eta f(x_t, y_t, W_t; theta)`) from `w0` [sessions, n_out, n_in] with the
/// inputs `x` [sessions, T, n_in] and the 27 coefficients `theta`. Returns the activity
/// `y` [sessions, T, n_out] and the weights `W_0 ..= W_T` [sessions, T + 1, n_out, n_in], both
/// float64, or raises `ConfigError` (bad arrays) or `RunError` (the weights blew up).
#[pyfunction]
#[pyo3(signature = (theta, x, w0, eta=1.0))]
pub fn simulate_rate<'py>(
    py: Python<'py>,
    theta: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    w0: &Bound<'py, PyAny>,
    eta: f64,
) -> PyResult<ActivityAndWeights<'py>> {
    let (theta, x, w0) = (
        nd_array("theta", theta)?,
        nd_array("x", x)?,
        nd_array("w0", w0)?,
    );
    if theta.shape != [TAYLOR_TERMS] {
        return Err(config_error(format!(
            "theta: expected shape ({TAYLOR_TERMS},), got {}",
            shape_text(&theta.shape)
        )));
    }
    if x.shape.len() != 3 || w0.shape.len() != 3 {
        return Err(config_error(format!(
            "x must be [sessions, T, n_in] and w0 [sessions, n_out, n_in]; got shapes {} and {}",
            shape_text(&x.shape),
            shape_text(&w0.shape)
        )));
    }
    let (sessions, steps, n_in) = (x.shape[0], x.shape[1], x.shape[2]);
    let n_out = w0.shape[1];
    if w0.shape[0] != sessions || w0.shape[2] != n_in || n_in == 0 || n_out == 0 {
        return Err(config_error(format!(
            "w0 must be [sessions, n_out, n_in] = ({sessions}, n_out, {n_in}) for x of shape {}; got {}",
            shape_text(&x.shape),
            shape_text(&w0.shape)
        )));
    }
    if !eta.is_finite() {
        return Err(config_error("eta must be finite"));
    }
    for (name, a) in [("theta", &theta), ("x", &x), ("w0", &w0)] {
        if let Some(k) = a.data.iter().position(|v| !v.is_finite()) {
            return Err(config_error(format!(
                "{name} must be finite: value {k} is {}",
                a.data[k]
            )));
        }
    }
    let n_syn = n_in * n_out;
    let sizes = (sessions as u64)
        .checked_mul((steps as u64 + 1) * n_syn as u64 + (steps * n_out) as u64)
        .filter(|v| *v <= synplast::config::MAX_DATA_VALUES);
    if sizes.is_none() {
        return Err(config_error(format!(
            "the trajectory would hold more than {} values",
            synplast::config::MAX_DATA_VALUES
        )));
    }
    let mut th = [0.0; TAYLOR_TERMS];
    th.copy_from_slice(&theta.data);
    let rule = TaylorRule::new(th);
    let (y, w) = py.detach(|| -> PyResult<(Vec<f64>, Vec<f64>)> {
        let mut y = vec![0.0; sessions * steps * n_out];
        let mut w = vec![0.0; sessions * (steps + 1) * n_syn];
        let mut work = vec![0.0; n_syn];
        for s in 0..sessions {
            simulate(
                &rule,
                eta,
                n_in,
                &w0.data[s * n_syn..(s + 1) * n_syn],
                &x.data[s * steps * n_in..(s + 1) * steps * n_in],
                &mut work,
                &mut y[s * steps * n_out..(s + 1) * steps * n_out],
                Some(&mut w[s * (steps + 1) * n_syn..(s + 1) * (steps + 1) * n_syn]),
            )
            .map_err(|e| RunError::new_err(format!("session {s}: {e}")))?;
        }
        Ok((y, w))
    })?;
    let y = PyArray1::from_vec(py, y).reshape(vec![sessions, steps, n_out])?;
    let w = PyArray1::from_vec(py, w).reshape(vec![sessions, steps + 1, n_out, n_in])?;
    Ok((y, w))
}
