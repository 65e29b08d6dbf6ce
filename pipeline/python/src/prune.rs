//! `prune`: one pruning rule of the `prune` kind applied to a given matrix, through the kind's
//! own code, writing nothing.

use crate::common::{config_error, load, nd_array};
use crate::control::controlled;
use crate::RunError;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use synplast::io::matrix_from_array;
use synplast::kinds::prune::network::check_matrix;
use synplast::kinds::prune::run::{metrics, prune_matrix, PruneRule};
use synplast::kinds::prune::{CovarianceMethod, Prune};
use synplast::progress::Progress;

/// Prunes the square matrix `a` (float64 or float32, C-contiguous; checked as the `prune`
/// kind checks a `network.file` matrix, messages naming it `A`) by the rule `rule` (`noise`,
/// `weight`, `uniform` or `noise_online`) with the options of `config` (the text of a `prune`
/// config whose `network` is not read; `overrides` as on the command line). Returns a dict:
/// `matrix` (float64 [n, n]), `eigenvalues` and `original_eigenvalues` ([n, 2]: real and
/// imaginary parts, in the kind's order), `metrics` (the JSON text of what a run's
/// `metrics.json` says of this rule and the network, but `config_hash`).
/// `progress(done, total, "steps")`; Ctrl-C stops the online covariance's simulation.
#[pyfunction]
#[pyo3(signature = (a, config, overrides=Vec::new(), rule="noise", progress=None))]
pub fn prune<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    config: &str,
    overrides: Vec<String>,
    rule: &str,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let m = matrix_from_array(nd_array("A", a)?).map_err(|e| config_error(format!("A: {e}")))?;
    let mut exp = load(None, Some(config), "<prune options>", &overrides)?;
    exp.resolve();
    let cfg = exp
        .config::<Prune>()
        .ok_or_else(|| config_error("internal: not a prune config"))?
        .clone();
    let rule = PruneRule::from_name(rule).ok_or_else(|| {
        config_error(format!(
            "rule: unknown `{rule}`; expected noise, weight, uniform or noise_online"
        ))
    })?;
    check_matrix(&m, &cfg).map_err(|e| config_error(format!("A: {e}")))?;
    let estimated = cfg.covariance.method == CovarianceMethod::Estimated;
    let n = m.rows;
    let p = controlled(
        py,
        progress.as_ref(),
        || {},
        |ctl| {
            let bar = Progress::observed(
                if estimated { 101 } else { 1 },
                "steps",
                ctl.progress.clone(),
            );
            prune_matrix(&cfg, &m, &[rule], &bar, &|| ctl.stopped())
        },
    )?
    .map_err(|e| RunError::new_err(e.message))?;
    let r = &p.results[0];
    let d = PyDict::new(py);
    let pair = |v: &[(f64, f64)]| v.iter().flat_map(|&(re, im)| [re, im]).collect::<Vec<_>>();
    d.set_item(
        "matrix",
        PyArray1::from_vec(py, r.pruned.clone()).reshape(vec![n, n])?,
    )?;
    d.set_item(
        "eigenvalues",
        PyArray1::from_vec(py, pair(&r.eig)).reshape(vec![n, 2])?,
    )?;
    d.set_item(
        "original_eigenvalues",
        PyArray1::from_vec(py, pair(&p.original_eig)).reshape(vec![n, 2])?,
    )?;
    let metrics =
        serde_json::to_string(&metrics(&cfg, &p)).map_err(|e| RunError::new_err(e.to_string()))?;
    d.set_item("metrics", metrics)?;
    Ok(d)
}
