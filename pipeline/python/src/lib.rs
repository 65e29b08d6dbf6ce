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
//! GIL is released while the pipeline works; long calls stop on Ctrl-C and report progress
//! to a callback (`control`).

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

mod choices;
mod common;
mod control;
mod fsbi;
mod prune;
mod rate;
mod runs;

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

/// The extension module `synplast._synplast`.
#[pymodule]
fn _synplast(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("RunError", m.py().get_type::<RunError>())?;
    m.add("TERMS", synplast_kernels::taylor::TERM_LABELS.to_vec())?;
    m.add_function(wrap_pyfunction!(runs::kinds, m)?)?;
    m.add_function(wrap_pyfunction!(runs::check, m)?)?;
    m.add_function(wrap_pyfunction!(runs::run, m)?)?;
    m.add_function(wrap_pyfunction!(rate::fit_rate, m)?)?;
    m.add_function(wrap_pyfunction!(rate::simulate_rate, m)?)?;
    m.add_function(wrap_pyfunction!(choices::fit_choices, m)?)?;
    m.add_function(wrap_pyfunction!(prune::prune, m)?)?;
    m.add_function(wrap_pyfunction!(fsbi::fsbi_simulate, m)?)?;
    m.add_function(wrap_pyfunction!(fsbi::fsbi_metric_names, m)?)?;
    m.add_function(wrap_pyfunction!(fsbi::fsbi_param_names, m)?)?;
    Ok(())
}
