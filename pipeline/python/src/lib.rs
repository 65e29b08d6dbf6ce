//! # synplast-py
//!
//! The Rust half of the Python package `synplast` (DESIGN §7): the extension module
//! `synplast._synplast`, thin bindings over the pipeline crate. The Python half
//! (`synplast/__init__.py`) turns dicts and keyword options into config text and overrides and
//! wraps the results; every check and every number comes from the pipeline crate, so a bad
//! config or array gives the message the command line prints.
//!
//! Errors: a problem in a config, an override or the data is `synplast.ConfigError` (a
//! `ValueError`); a failure while fitting is `synplast.RunError` (a `RuntimeError`). The
//! GIL is released while the pipeline works.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use synplast::io::npy::shape_text;
use synplast::io::npy::NdArray;
use synplast::kind::Experiment;
use synplast::kinds::fit_rate::config::RateData;
use synplast::kinds::fit_rate::recorded::check as check_recordings;
use synplast::kinds::fit_rate::recorded_run::fit_arrays;
use synplast::kinds::fit_rate::FitRateConfig;
use synplast::kinds::KINDS;
use synplast::rundir::{self, RunOptions};
use synplast_kernels::rate::simulate;
use synplast_kernels::taylor::{TaylorRule, TAYLOR_TERMS, TERM_LABELS};

pyo3::create_exception!(
    _synplast,
    ConfigError,
    PyValueError,
    "A problem in an experiment config, an override or the data it names (the command line's exit 2)."
);
pyo3::create_exception!(
    _synplast,
    RunError,
    PyRuntimeError,
    "A failure while fitting or running (the command line's exit 1)."
);

fn config_error(msg: impl ToString) -> PyErr {
    ConfigError::new_err(msg.to_string())
}

/// Parses experiment text (`text` given) or reads the file `path`, then applies overrides, as
/// `synplast check` and `synplast run` do.
fn load(
    path: Option<&str>,
    text: Option<&str>,
    name: &str,
    overrides: &[String],
) -> PyResult<Experiment> {
    let exp = match (path, text) {
        (Some(p), _) => synplast::kinds::load(std::path::Path::new(p)),
        (None, Some(t)) => synplast::kinds::parse_str(t, name),
        (None, None) => return Err(config_error("give a config path or text")),
    };
    exp.and_then(|e| e.apply_overrides(overrides))
        .map_err(config_error)
}

/// The registered experiment kinds: a list of `(name, about)`.
#[pyfunction]
fn kinds() -> Vec<(&'static str, &'static str)> {
    KINDS.iter().map(|k| (k.name(), k.about())).collect()
}

/// Parses and validates a config and checks the data it names, as `synplast check`.
/// Returns `(kind, name)`; raises `ConfigError` with the command line's message.
#[pyfunction]
#[pyo3(signature = (path=None, text=None, name="<dict>", overrides=Vec::new()))]
fn check(
    py: Python<'_>,
    path: Option<String>,
    text: Option<String>,
    name: &str,
    overrides: Vec<String>,
) -> PyResult<(String, String)> {
    py.detach(|| {
        let exp = load(path.as_deref(), text.as_deref(), name, &overrides)?;
        exp.check_data().map_err(config_error)?;
        Ok((exp.kind().to_string(), exp.name().to_string()))
    })
}

/// Runs an experiment into its run directory through the command line's code path. Returns
/// `(exit code, run directory, error)`; raises `ConfigError` for a bad config or data (exit 2
/// before anything is written).
#[pyfunction]
#[pyo3(signature = (path=None, text=None, name="<dict>", out=None, overrides=Vec::new(), quiet=true, force=false))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    path: Option<String>,
    text: Option<String>,
    name: &str,
    out: Option<PathBuf>,
    overrides: Vec<String>,
    quiet: bool,
    force: bool,
) -> PyResult<(i32, Option<PathBuf>, Option<String>)> {
    py.detach(|| {
        let mut exp = load(path.as_deref(), text.as_deref(), name, &overrides)?;
        exp.check_data().map_err(config_error)?;
        exp.resolve();
        let config_file = path.clone().unwrap_or_else(|| name.to_string());
        let opts = RunOptions {
            out,
            force,
            quiet,
            command: ["python", "synplast.run", &config_file]
                .iter()
                .map(|s| s.to_string())
                .chain(overrides.iter().cloned())
                .collect(),
            config_file,
            resume: false,
            keep_signal_handlers: true,
        };
        let o = rundir::run_outcome(&exp, &opts);
        Ok((o.code, o.dir, o.error))
    })
}

/// Reads a numpy array of float32 or float64, C-contiguous, into an [`NdArray`].
fn nd_array(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<NdArray> {
    let a = obj.cast::<PyUntypedArray>().map_err(|_| {
        PyValueError::new_err(format!(
            "{name}: expected a numpy array, got {}",
            obj.get_type()
                .name()
                .map_or("?".to_string(), |n| n.to_string())
        ))
    })?;
    let shape = a.shape().to_vec();
    let descr = a.dtype().getattr("str")?.extract::<String>()?;
    let data: Vec<f64> = if let Ok(a) = a.cast::<numpy::PyArrayDyn<f64>>() {
        let r = a
            .try_readonly()
            .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?;
        let s = r.as_slice().map_err(|_| not_contiguous(name))?;
        s.to_vec()
    } else if let Ok(a) = a.cast::<numpy::PyArrayDyn<f32>>() {
        let r = a
            .try_readonly()
            .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?;
        let s = r.as_slice().map_err(|_| not_contiguous(name))?;
        s.iter().map(|&v| f64::from(v)).collect()
    } else {
        return Err(ConfigError::new_err(format!(
            "{name}: unsupported dtype {descr}; write float64 or float32"
        )));
    };
    Ok(NdArray { shape, data })
}

fn not_contiguous(name: &str) -> PyErr {
    ConfigError::new_err(format!(
        "{name}: the array is not C-contiguous; pass numpy.ascontiguousarray({name})"
    ))
}

/// Fits a Taylor rule to recorded arrays (the recorded-activity contract, DESIGN §6):
/// `x` [sessions, T, n_in], `y` [sessions, T, n_out] (NaN: not observed), `w0`
/// [sessions, n_out, n_in] or None (then fitted). `config` is the text of a recorded
/// `fit_rate` config whose options apply (its data paths are not read); `overrides` as on the
/// command line. Returns a dict with `theta`, `terms`, `stderr`, `identifiability` (JSON
/// text), `loss_history`, `residual_variance`, `rejected_steps`.
#[pyfunction]
#[pyo3(signature = (x, y, w0, config, overrides=Vec::new()))]
fn fit_rate<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    w0: Option<&Bound<'py, PyAny>>,
    config: &str,
    overrides: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, y) = (nd_array("x", x)?, nd_array("y", y)?);
    let w0 = w0.map(|w| nd_array("w0", w)).transpose()?;
    let fitted = py.detach(|| -> PyResult<_> {
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
        fit_arrays(&cfg, &data, &|_| {}, &|| false).map_err(|e| RunError::new_err(e.message))
    })?;
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
fn simulate_rate<'py>(
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

/// The extension module `synplast._synplast`.
#[pymodule]
fn _synplast(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("RunError", m.py().get_type::<RunError>())?;
    m.add_function(wrap_pyfunction!(kinds, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(fit_rate, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_rate, m)?)?;
    Ok(())
}
